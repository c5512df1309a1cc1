//! The authenticated denial data of a signed zone: which NSEC or NSEC3
//! record proves that a name or a type does not exist (RFC 4035 §3.1.3,
//! RFC 5155 §7.2).
//!
//! NSEC: the owners that hold an NSEC RRset, sorted in DNSSEC canonical
//! order (RFC 4034 §6.1), so the NSEC covering a name is the one at its
//! closest predecessor. The names sit back to back in one arena and the
//! sorted list holds offsets into it (no allocation per name).
//!
//! NSEC3: the records at hashed owners are not nodes of the zone's tree
//! (a query for `<hash>.zone` is NXDOMAIN, as Knot, BIND and NSD answer);
//! they live in a [`NodeTable`] of their own, and the owners' hashes (the
//! first label, lowercase base32hex, which sorts as the hash does) in one
//! sorted array for "closest predecessor" lookups. Query names are hashed
//! with the chain's parameters (RFC 5155 §5).

use std::cmp::Ordering;

use sha1::{Digest, Sha1};
use wire::name::{label_offsets, MAX_LABELS, MAX_NAME_LEN};
use wire::types::rtype;

use crate::tree::{Node, NodeTable};

/// SHA-1's digest, as base32hex text: the length of an NSEC3 owner's
/// first label.
pub const HASH_LABEL: usize = 32;

/// More iterations than this are a load warning (RFC 9276 §3.1: 0 is the
/// advice, validators may treat more than 150 as insecure).
pub const ITERATIONS_WARN: u16 = 150;

/// Past this (RFC 5155 §10.3's limit for the largest keys) no NSEC3 proof
/// is computed: each query name would cost thousands of SHA-1 rounds.
pub const ITERATIONS_MAX: u16 = 2500;

/// DNSSEC canonical order of two uncompressed wire names (RFC 4034 §6.1):
/// labels compared from the rightmost, each as an octet string with
/// ASCII letters folded to lowercase, a label that is a prefix of the
/// other sorting first; a name that is a suffix of the other sorts first.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let mut oa = [0u8; MAX_LABELS];
    let mut ob = [0u8; MAX_LABELS];
    let na = label_offsets(a, &mut oa);
    let nb = label_offsets(b, &mut ob);
    for i in 1..=na.min(nb) {
        let la = label_at(a, oa[na - i]);
        let lb = label_at(b, ob[nb - i]);
        let o = la
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(lb.iter().map(u8::to_ascii_lowercase));
        if o != Ordering::Equal {
            return o;
        }
    }
    na.cmp(&nb)
}

/// The label (without its length octet) starting at `at` in `name`.
fn label_at(name: &[u8], at: u8) -> &[u8] {
    let at = usize::from(at);
    let len = usize::from(name.get(at).copied().unwrap_or(0));
    name.get(at + 1..at + 1 + len).unwrap_or(&[])
}

/// The longest [`canonical_key`]: every octet escaped, plus a separator
/// per label.
pub const MAX_KEY: usize = 2 * MAX_NAME_LEN;

/// A name rewritten so that plain byte order is DNSSEC canonical order:
/// its labels from the rightmost, each lowercased, with octets 0 and 1
/// escaped (as 1,1 and 1,2) and a 0 after it. A label that is a prefix of
/// another ends in 0 where the other goes on with an octet above 0; a
/// name with fewer labels is a prefix of one below it. Written into
/// `out`; returns its length.
pub fn canonical_key(name: &[u8], out: &mut [u8; MAX_KEY]) -> usize {
    let mut offsets = [0u8; MAX_LABELS];
    let n = label_offsets(name, &mut offsets);
    let mut len = 0;
    for &at in offsets[..n].iter().rev() {
        for &b in label_at(name, at) {
            let b = b.to_ascii_lowercase();
            if b <= 1 {
                out[len] = 1;
                out[len + 1] = b + 1;
                len += 2;
            } else {
                out[len] = b;
                len += 1;
            }
        }
        out[len] = 0;
        len += 1;
    }
    len
}

/// The owners with NSEC, in canonical order.
///
/// A lookup compares the query name's [`canonical_key`] with the owners':
/// past the part every key shares (the apex), by the next eight bytes as
/// one integer, and only on a tie by `memcmp`. Comparing label by label
/// from the right at every step of the search was a tenth of a DO=1
/// answer's cost.
#[derive(Debug, Default)]
pub struct NsecIndex {
    /// Owner names, back to back.
    names: Vec<u8>,
    /// Their canonical keys, back to back, each after a u16 length.
    keys: Vec<u8>,
    /// Sorted by key.
    order: Vec<Entry>,
    /// The key prefix every owner shares.
    common: Box<[u8]>,
}

/// One owner in the sorted list.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The eight key bytes after the common prefix, big-endian, zero
    /// padded: where two differ, so do the keys, the same way (a key
    /// never holds two zero bytes in a row, so padding sorts as the end
    /// of a key does).
    head: u64,
    key: u32,
    name: u32,
}

/// Eight bytes of `key` from `at` on, big-endian, zero padded.
fn head_of(key: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    let rest = key.get(at..).unwrap_or(&[]);
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

impl NsecIndex {
    /// The index of every node in `nodes` that holds an NSEC RRset.
    pub fn build(nodes: &NodeTable) -> NsecIndex {
        let mut index = NsecIndex::default();
        let mut key = [0u8; MAX_KEY];
        for (name, node) in nodes.iter() {
            if node.get(rtype::NSEC).is_none() {
                continue;
            }
            let len = canonical_key(name, &mut key);
            if index.keys.len() + len + 2 > u32::MAX as usize {
                break;
            }
            index.order.push(Entry {
                head: 0,
                key: index.keys.len() as u32,
                name: index.names.len() as u32,
            });
            index.keys.extend_from_slice(&(len as u16).to_ne_bytes());
            index.keys.extend_from_slice(&key[..len]);
            index.names.extend_from_slice(name);
        }
        let keys = &index.keys;
        index
            .order
            .sort_unstable_by(|a, b| key_at(keys, a.key).cmp(key_at(keys, b.key)));
        // Sorted, the prefix all keys share is the one the first and the
        // last share.
        if let (Some(first), Some(last)) = (index.order.first(), index.order.last()) {
            let (a, b) = (key_at(keys, first.key), key_at(keys, last.key));
            let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            index.common = a[..n].into();
        }
        let skip = index.common.len();
        for e in &mut index.order {
            e.head = head_of(key_at(keys, e.key), skip);
        }
        index.names.shrink_to_fit();
        index.keys.shrink_to_fit();
        index.order.shrink_to_fit();
        index
    }

    /// Number of owners.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The last owner at or before `name` in canonical order: the NSEC
    /// that matches or covers it (the last one, which wraps around to the
    /// apex, when `name` sorts before every owner).
    pub fn predecessor(&self, name: &[u8]) -> Option<&[u8]> {
        let mut key = [0u8; MAX_KEY];
        let len = canonical_key(name, &mut key);
        let key = &key[..len];
        let skip = self.common.len();
        let after = match key.get(..skip).unwrap_or(key).cmp(&self.common) {
            // Before every owner, or after every one.
            Ordering::Less => 0,
            Ordering::Greater => self.order.len(),
            Ordering::Equal => {
                let head = head_of(key, skip);
                let rest = &key[skip..];
                self.order.partition_point(|e| match e.head.cmp(&head) {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    Ordering::Equal => key_at(&self.keys, e.key).get(skip..).unwrap_or(&[]) <= rest,
                })
            }
        };
        let i = after.checked_sub(1).or(self.order.len().checked_sub(1))?;
        Some(name_at(&self.names, self.order[i].name))
    }
}

/// The key stored at `at` in `arena` (after its u16 length).
fn key_at(arena: &[u8], at: u32) -> &[u8] {
    let at = at as usize;
    match arena.get(at..at + 2) {
        Some(&[a, b]) => {
            let len = usize::from(u16::from_ne_bytes([a, b]));
            arena.get(at + 2..at + 2 + len).unwrap_or(&[])
        }
        _ => &[],
    }
}

/// The wire name that starts at `at` in `arena`.
fn name_at(arena: &[u8], at: u32) -> &[u8] {
    let rest = arena.get(at as usize..).unwrap_or(&[]);
    let len = wire::name::uncompressed_len(rest).unwrap_or(rest.len());
    &rest[..len]
}

/// The hashing parameters of an NSEC3 chain (RFC 5155 §3.1, SHA-1 only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nsec3Params {
    pub iterations: u16,
    pub salt: Box<[u8]>,
}

impl Nsec3Params {
    /// The parameters of an NSEC3PARAM or NSEC3 RDATA, if its hash
    /// algorithm is SHA-1 (1), the only one defined.
    pub fn from_rdata(rdata: &[u8]) -> Option<Nsec3Params> {
        let (&alg, rest) = rdata.split_first()?;
        let iterations = u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]);
        let salt_len = usize::from(*rest.get(3)?);
        let salt = rest.get(4..4 + salt_len)?;
        (alg == 1).then(|| Nsec3Params {
            iterations,
            salt: salt.into(),
        })
    }

    /// RFC 5155 §5: IH(salt, x, k), of a lowercase wire name.
    pub fn hash(&self, name: &[u8]) -> [u8; 20] {
        let mut h = Sha1::new();
        h.update(name);
        h.update(&self.salt);
        let mut digest: [u8; 20] = h.finalize().into();
        for _ in 0..self.iterations {
            let mut h = Sha1::new();
            h.update(digest);
            h.update(&self.salt);
            digest = h.finalize().into();
        }
        digest
    }

    /// The hash of `name` as an NSEC3 owner's first label.
    pub fn hash_label(&self, name: &[u8]) -> [u8; HASH_LABEL] {
        base32hex(&self.hash(name))
    }
}

/// Lowercase base32hex without padding (RFC 4648 §7) of a SHA-1 digest.
pub fn base32hex(digest: &[u8; 20]) -> [u8; HASH_LABEL] {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = [0u8; HASH_LABEL];
    for (i, chunk) in digest.chunks_exact(5).enumerate() {
        let bits = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for j in 0..8 {
            out[i * 8 + j] = ALPHABET[((bits >> (35 - 5 * j)) & 31) as usize];
        }
    }
    out
}

/// An NSEC3 chain: its records by owner, and the owners' hashes sorted.
#[derive(Debug, Default)]
pub struct Nsec3Index {
    pub params: Nsec3Params,
    /// NSEC3 and the RRSIGs over them, by hashed owner.
    pub(crate) nodes: NodeTable,
    /// The hashed owners' first labels, sorted.
    hashes: Vec<[u8; HASH_LABEL]>,
}

impl Nsec3Index {
    /// An index of `nodes` (each at `<hash>.<apex>`) for the chain with
    /// `params`.
    pub fn new(params: Nsec3Params, nodes: NodeTable) -> Nsec3Index {
        let mut hashes: Vec<[u8; HASH_LABEL]> = nodes
            .iter()
            .filter_map(|(name, _)| hash_of_owner(name))
            .collect();
        hashes.sort_unstable();
        Nsec3Index {
            params,
            nodes,
            hashes,
        }
    }

    /// Number of hashed owners.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether proofs are computed for this chain (the iterations are
    /// within [`ITERATIONS_MAX`]).
    pub fn usable(&self) -> bool {
        self.params.iterations <= ITERATIONS_MAX && !self.hashes.is_empty()
    }

    /// The NSEC3 whose owner is the hash of `name`, with its owner.
    pub fn matching(&self, apex: &[u8], name: &[u8]) -> Option<(&[u8], Node<'_>)> {
        let hash = self.params.hash_label(name);
        self.hashes.binary_search(&hash).ok()?;
        self.node_of(apex, &hash)
    }

    /// The NSEC3 whose owner is the closest hash before that of `name`
    /// (wrapping to the last): the one covering it when `name` has none
    /// of its own.
    pub fn covering(&self, apex: &[u8], name: &[u8]) -> Option<(&[u8], Node<'_>)> {
        let hash = self.params.hash_label(name);
        let after = self.hashes.partition_point(|h| *h < hash);
        let i = after.checked_sub(1).or(self.hashes.len().checked_sub(1))?;
        self.node_of(apex, &self.hashes[i])
    }

    /// The node at `<hash>.<apex>`.
    fn node_of(&self, apex: &[u8], hash: &[u8; HASH_LABEL]) -> Option<(&[u8], Node<'_>)> {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = 1 + HASH_LABEL + apex.len();
        if len > MAX_NAME_LEN {
            return None;
        }
        buf[0] = HASH_LABEL as u8;
        buf[1..=HASH_LABEL].copy_from_slice(hash);
        buf[1 + HASH_LABEL..len].copy_from_slice(apex);
        self.nodes.get(&buf[..len])
    }
}

/// The first label of a hashed owner, if it looks like a SHA-1 hash in
/// base32hex.
pub fn hash_of_owner(name: &[u8]) -> Option<[u8; HASH_LABEL]> {
    if name.first() != Some(&(HASH_LABEL as u8)) {
        return None;
    }
    let label = name.get(1..=HASH_LABEL)?;
    let mut out = [0u8; HASH_LABEL];
    for (o, &c) in out.iter_mut().zip(label) {
        let c = c.to_ascii_lowercase();
        if !matches!(c, b'0'..=b'9' | b'a'..=b'v') {
            return None;
        }
        *o = c;
    }
    Some(out)
}

/// Which denial records a zone has.
#[derive(Debug)]
pub enum Denial {
    Nsec(NsecIndex),
    Nsec3(Nsec3Index),
}

/// The type covered by an RRSIG RDATA.
#[inline]
pub fn type_covered(rrsig: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*rrsig.first()?, *rrsig.get(1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::name;

    #[test]
    fn canonical_order_is_rfc_4034_example() {
        // RFC 4034 §6.1's example, in order.
        let sorted = [
            "example",
            "a.example",
            "yljkjljk.a.example",
            "Z.a.example",
            "zABC.a.EXAMPLE",
            "z.example",
            "\\001.z.example",
            "*.z.example",
            "\\200.z.example",
        ];
        let names: Vec<_> = sorted.iter().map(|s| name(s)).collect();
        for (i, a) in names.iter().enumerate() {
            for (j, b) in names.iter().enumerate() {
                assert_eq!(
                    canonical_cmp(a, b),
                    i.cmp(&j),
                    "{} vs {}",
                    sorted[i],
                    sorted[j]
                );
            }
        }
    }

    #[test]
    fn labels_with_any_byte_and_prefixes() {
        // A shorter label sorts before a longer one it is a prefix of,
        // even when the longer one continues with a zero octet.
        assert_eq!(
            canonical_cmp(&name("a.x"), &name("a\\000.x")),
            Ordering::Less
        );
        assert_eq!(
            canonical_cmp(&name("\\255.x"), &name("a.x")),
            Ordering::Greater
        );
        assert_eq!(
            canonical_cmp(&name("b.a.x"), &name("a.b.x")),
            Ordering::Less
        );
        assert_eq!(canonical_cmp(&name("A.x"), &name("a.X")), Ordering::Equal);
        // Only ASCII letters fold: 0xC1 is not 0xE1.
        assert_ne!(
            canonical_cmp(&name("\\193.x"), &name("\\225.x")),
            Ordering::Equal
        );
    }

    #[test]
    fn keys_sort_as_canonical_order() {
        let names = [
            "example",
            "a.example",
            "yljkjljk.a.example",
            "Z.a.example",
            "zABC.a.EXAMPLE",
            "z.example",
            "\\000.z.example",
            "\\001.z.example",
            "\\001\\000.z.example",
            "\\002.z.example",
            "*.z.example",
            "\\200.z.example",
            "a.x",
            "a\\000.x",
            "a\\001.x",
            "a\\001a.x",
            "\\255.x",
            "b.a.x",
            "a.b.x",
            "A.X",
        ];
        let key = |n: &[u8]| {
            let mut k = [0u8; MAX_KEY];
            let len = canonical_key(n, &mut k);
            k[..len].to_vec()
        };
        for a in &names {
            for b in &names {
                let (na, nb) = (name(a), name(b));
                assert_eq!(
                    key(&na).cmp(&key(&nb)),
                    canonical_cmp(&na, &nb),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn predecessor_agrees_with_a_plain_search_over_many_names() {
        // Names with shared prefixes, escaped octets and several depths
        // under one apex, then queries in and around them.
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let label = |r: u64| -> String {
            let alphabet = [
                "a",
                "b",
                "ab",
                "aa",
                "\\000",
                "\\001",
                "z",
                "*",
                "\\255",
                "abcdefghij",
            ];
            let n = 1 + (r % 3) as usize;
            (0..n)
                .map(|i| alphabet[((r >> (8 * i)) % 10) as usize])
                .collect()
        };
        let gen = |r: u64| -> Box<[u8]> {
            let depth = (r % 3) as usize;
            let mut text = String::new();
            for i in 0..depth {
                text.push_str(&label(r >> (16 + 12 * i)));
                text.push('.');
            }
            text.push_str("zone.test");
            name(&text)
        };
        let mut nodes = NodeTable::default();
        let mut data = Vec::new();
        crate::tree::push_set(&mut data, rtype::NSEC, 60, &[b"\x00"]);
        let mut owners: Vec<Box<[u8]>> = vec![name("zone.test")];
        nodes.insert(&owners[0], &data).unwrap();
        for _ in 0..300 {
            let n = gen(next());
            if nodes.insert(&n, &data).unwrap() {
                owners.push(n);
            }
        }
        owners.sort_by(|a, b| canonical_cmp(a, b));
        let index = NsecIndex::build(&nodes);
        for _ in 0..2000 {
            let q = gen(next());
            let want = owners
                .iter()
                .rev()
                .find(|o| canonical_cmp(o, &q) != Ordering::Greater)
                .or(owners.last())
                .unwrap();
            assert_eq!(
                index.predecessor(&q).unwrap(),
                &want[..],
                "{}",
                wire::name::to_text(&q)
            );
        }
        // Names outside the shared prefix: before all, after all.
        assert_eq!(
            index.predecessor(&name("test")).unwrap(),
            &owners.last().unwrap()[..]
        );
        assert_eq!(
            index.predecessor(&name("zzz.test")).unwrap(),
            &owners.last().unwrap()[..]
        );
    }

    #[test]
    fn predecessor_finds_matching_and_covering_owners() {
        let mut nodes = NodeTable::default();
        let mut data = Vec::new();
        crate::tree::push_set(&mut data, rtype::NSEC, 60, &[b"\x00"]);
        for n in ["x", "b.x", "d.x", "a.d.x"] {
            nodes.insert(&name(n), &data).unwrap();
        }
        nodes.insert(&name("c.x"), &[]).unwrap(); // no NSEC: not indexed
        let index = NsecIndex::build(&nodes);
        assert_eq!(index.len(), 4);
        let pred = |q: &str| wire::name::to_text(index.predecessor(&name(q)).unwrap());
        assert_eq!(pred("x"), "x.");
        assert_eq!(pred("a.x"), "x.");
        assert_eq!(pred("b.x"), "b.x.");
        assert_eq!(pred("c.x"), "b.x.");
        assert_eq!(pred("z.b.x"), "b.x.");
        assert_eq!(pred("d.x"), "d.x.");
        assert_eq!(pred("b.d.x"), "a.d.x.");
        assert_eq!(pred("z.x"), "a.d.x.");
    }

    #[test]
    fn nsec3_hash_is_rfc_5155_appendix_a() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let p = Nsec3Params {
            iterations: 12,
            salt: Box::new([0xaa, 0xbb, 0xcc, 0xdd]),
        };
        assert_eq!(
            &p.hash_label(&name("example")),
            b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
        );
        assert_eq!(
            &p.hash_label(&name("a.example")),
            b"35mthgpgcu1qg68fab165klnsnk3dpvl"
        );
        assert_eq!(
            &p.hash_label(&name("*.w.example")),
            b"r53bq7cc2uvmubfu5ocmm6pers9tk9en"
        );
        let rdata = [1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd];
        assert_eq!(Nsec3Params::from_rdata(&rdata), Some(p));
    }

    #[test]
    fn nsec3_matching_and_covering() {
        let apex = name("example");
        let p = Nsec3Params::default();
        let mut nodes = NodeTable::default();
        let mut data = Vec::new();
        crate::tree::push_set(&mut data, rtype::NSEC3, 60, &[b"\x01\x00\x00\x00\x00"]);
        let mut owners = Vec::new();
        for n in ["example", "a.example", "b.example"] {
            let h = p.hash_label(&name(n));
            let mut owner = vec![32];
            owner.extend_from_slice(&h);
            owner.extend_from_slice(&apex);
            nodes.insert(&owner, &data).unwrap();
            owners.push(owner);
        }
        let index = Nsec3Index::new(p.clone(), nodes);
        assert_eq!(index.len(), 3);
        for (n, owner) in ["example", "a.example", "b.example"].iter().zip(&owners) {
            assert_eq!(index.matching(&apex, &name(n)).unwrap().0, &owner[..]);
        }
        assert!(index.matching(&apex, &name("c.example")).is_none());
        let h = p.hash_label(&name("c.example"));
        let (cover, _) = index.covering(&apex, &name("c.example")).unwrap();
        let mut sorted: Vec<_> = owners.iter().map(|o| &o[1..33]).collect();
        sorted.sort();
        let expect = sorted
            .iter()
            .rev()
            .find(|o| **o < &h[..])
            .unwrap_or(sorted.last().unwrap());
        assert_eq!(&cover[1..33], *expect);
    }
}
