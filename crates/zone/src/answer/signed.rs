//! DNSSEC in answers to DO queries from signed zones (RFC 4035 §3.1,
//! RFC 5155 §7.2): the RRSIGs that go with each authoritative RRset, and
//! the NSEC or NSEC3 records that prove a name, a type or a closer match
//! absent.
//!
//! RRSIGs are written right after their set, in the same all-or-nothing
//! step. Denial records are collected while the answer is resolved (a
//! wildcard CNAME's proof must wait until the chain's answer records are
//! written) and go into the authority section at the end, each once.

use wire::name::{parent, MAX_NAME_LEN};
use wire::types::{class, rtype};
use wire::Section;

use super::Answer;
use crate::denial::{type_covered, Denial, Nsec3Index, NsecIndex};
use crate::tree::{Node, RRset, Zone};

/// The most denial RRsets in one answer: a closest-encloser proof is
/// three, a chain of wildcard CNAMEs adds one per hop.
pub(super) const MAX_PROOFS: usize = 12;

/// An NSEC or NSEC3 RRset for the authority section; its RRSIGs are at
/// the same node.
#[derive(Clone, Copy)]
pub(super) struct Proof<'z> {
    owner: &'z [u8],
    node: Node<'z>,
    rtype: u16,
}

/// `*.<encloser>`, on the stack.
struct WildName {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl WildName {
    fn of(encloser: &[u8]) -> Option<WildName> {
        if encloser.len() + 2 > MAX_NAME_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        buf[0] = 1;
        buf[1] = b'*';
        buf[2..2 + encloser.len()].copy_from_slice(encloser);
        Some(WildName {
            buf,
            len: 2 + encloser.len(),
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The suffix of `name` one label longer than its suffix of `encloser_len`
/// octets: RFC 5155's "next closer name".
fn next_closer(name: &[u8], encloser_len: usize) -> &[u8] {
    let mut n = name;
    while let Some(p) = parent(n) {
        if p.len() <= encloser_len {
            break;
        }
        n = p;
    }
    n
}

/// The longest strict ancestor of `name` (lowercase, in `zone`) that
/// exists, as a suffix of `name`.
fn closest_encloser<'n>(zone: &Zone, name: &'n [u8]) -> &'n [u8] {
    let mut n = name;
    while n.len() > zone.apex.len() {
        let Some(p) = parent(n) else { break };
        n = p;
        if zone.node(n).is_some() {
            return n;
        }
    }
    n
}

/// The NSEC at `name`, with its stored owner.
fn nsec_at<'z>(zone: &'z Zone, name: &[u8]) -> Option<(&'z [u8], Node<'z>)> {
    zone.get_key_value(name)
        .filter(|(_, n)| n.get(rtype::NSEC).is_some())
}

/// The NSEC that matches or covers `name`.
fn nsec_covering<'z>(
    zone: &'z Zone,
    index: &'z NsecIndex,
    name: &[u8],
) -> Option<(&'z [u8], Node<'z>)> {
    nsec_at(zone, index.predecessor(name)?)
}

/// How the zone denies: its NSEC index, or its NSEC3 chain when proofs
/// are computed for it.
enum Chain<'z> {
    Nsec(&'z NsecIndex),
    Nsec3(&'z Nsec3Index),
}

fn chain(zone: &Zone) -> Option<Chain<'_>> {
    match zone.denial.as_deref()? {
        Denial::Nsec(index) => Some(Chain::Nsec(index)),
        Denial::Nsec3(index) if index.usable() => Some(Chain::Nsec3(index)),
        Denial::Nsec3(_) => None,
    }
}

impl<'c> Answer<'c, '_, '_> {
    /// Whether answers from `zone` carry DNSSEC records.
    #[inline]
    pub(super) fn signing(&self, zone: &Zone) -> bool {
        self.dnssec_ok && zone.signed
    }

    /// The node whose RRSIGs go with a set from `node`, when signing.
    #[inline]
    pub(super) fn sigs(&self, zone: &Zone, node: Node<'c>) -> Option<Node<'c>> {
        self.signing(zone).then_some(node)
    }

    /// `set` at `owner` and the RRSIGs at `sigs` covering it, all or
    /// nothing (TC set when they do not fit).
    pub(super) fn put_signed(
        &mut self,
        section: Section,
        owner: &[u8],
        set: RRset<'_>,
        sigs: Option<Node<'_>>,
    ) -> bool {
        let Some(sigs) = sigs else {
            return self.put_set(section, owner, set);
        };
        let mark = self.resp.mark();
        if !self.put_set(section, owner, set) {
            return false;
        }
        if self.put_rrsigs(section, owner, set.rtype(), set.ttl(), sigs) {
            return true;
        }
        self.resp.rollback(mark);
        self.truncate();
        false
    }

    /// The RRSIGs at `sigs` whose type covered is `covered`, at `owner`
    /// with `ttl` (the covered set's, RFC 4034 §3); false when they do not
    /// fit (the caller rolls back).
    pub(super) fn put_rrsigs(
        &mut self,
        section: Section,
        owner: &[u8],
        covered: u16,
        ttl: u32,
        sigs: Node<'_>,
    ) -> bool {
        let Some(rrsig) = sigs.get(rtype::RRSIG) else {
            return true;
        };
        rrsig
            .rdatas()
            .filter(|r| type_covered(r) == Some(covered))
            .all(|r| {
                self.resp
                    .push_record(section, owner, rtype::RRSIG, class::IN, ttl, r)
                    .is_ok()
            })
    }

    /// Queues a denial RRset for the authority section, once.
    fn queue(&mut self, found: Option<(&'c [u8], Node<'c>)>, rtype: u16) {
        let Some((owner, node)) = found else { return };
        if self
            .proofs
            .as_slice()
            .iter()
            .any(|p| p.node.identity() == node.identity() && p.rtype == rtype)
        {
            return;
        }
        self.proofs.push(Proof { owner, node, rtype });
    }

    /// Writes the queued denial RRsets with their RRSIGs.
    pub(super) fn put_proofs(&mut self) {
        for i in 0..self.proofs.as_slice().len() {
            let p = self.proofs.as_slice()[i];
            let Some(set) = p.node.get(p.rtype) else {
                continue;
            };
            if !self.put_signed(Section::Authority, p.owner, set, Some(p.node)) {
                return;
            }
        }
    }

    /// RFC 5155 §7.2.1: the NSEC3 matching the closest provable encloser
    /// of `name` (at or above its suffix of `from` octets) and the one
    /// covering the next closer name; returns the encloser's length.
    fn nsec3_encloser(
        &mut self,
        zone: &'c Zone,
        index: &'c Nsec3Index,
        name: &[u8],
        from: usize,
    ) -> Option<usize> {
        let mut ce = &name[name.len() - from.min(name.len())..];
        let found = loop {
            if let Some(found) = index.matching(&zone.apex, ce) {
                break found;
            }
            if ce.len() <= zone.apex.len() {
                return None;
            }
            ce = parent(ce)?;
        };
        self.queue(Some(found), rtype::NSEC3);
        if ce.len() < name.len() {
            self.queue(
                index.covering(&zone.apex, next_closer(name, ce.len())),
                rtype::NSEC3,
            );
        }
        Some(ce.len())
    }

    /// NXDOMAIN for `name` (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2): no such
    /// name, and no wildcard at its closest encloser.
    pub(super) fn deny_name(&mut self, zone: &'c Zone, name: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        let ce = closest_encloser(zone, name);
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                self.queue(nsec_covering(zone, index, name), rtype::NSEC);
                if let Some(wild) = WildName::of(ce) {
                    self.queue(nsec_covering(zone, index, wild.as_slice()), rtype::NSEC);
                }
            }
            Some(Chain::Nsec3(index)) => {
                let Some(ce_len) = self.nsec3_encloser(zone, index, name, ce.len()) else {
                    return;
                };
                if let Some(wild) = WildName::of(&name[name.len() - ce_len..]) {
                    self.queue(index.covering(&zone.apex, wild.as_slice()), rtype::NSEC3);
                }
            }
            None => {}
        }
    }

    /// A positive answer from a wildcard (RFC 4035 §3.1.3.3, RFC 5155
    /// §7.2.6): no closer match for `name` exists.
    pub(super) fn prove_wildcard(&mut self, zone: &'c Zone, name: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                self.queue(nsec_covering(zone, index, name), rtype::NSEC);
            }
            Some(Chain::Nsec3(index)) => {
                let ce = closest_encloser(zone, name);
                self.queue(
                    index.covering(&zone.apex, next_closer(name, ce.len())),
                    rtype::NSEC3,
                );
            }
            None => {}
        }
    }

    /// NODATA for `name` (RFC 4035 §3.1.3.1 and .4, RFC 5155 §7.2.3–5 and
    /// .7); `wildcard`: the name matched a wildcard that lacks the type.
    pub(super) fn deny_type(&mut self, zone: &'c Zone, name: &[u8], wildcard: bool) {
        if !self.signing(zone) {
            return;
        }
        let ce = if wildcard {
            closest_encloser(zone, name)
        } else {
            name
        };
        let wild = if wildcard { WildName::of(ce) } else { None };
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                if let Some(wild) = &wild {
                    self.queue(nsec_covering(zone, index, name), rtype::NSEC);
                    self.queue(nsec_at(zone, wild.as_slice()), rtype::NSEC);
                } else {
                    // An empty non-terminal has no NSEC: the one covering it.
                    let found = nsec_at(zone, name).or_else(|| nsec_covering(zone, index, name));
                    self.queue(found, rtype::NSEC);
                }
            }
            Some(Chain::Nsec3(index)) => {
                if let Some(wild) = &wild {
                    self.nsec3_encloser(zone, index, name, ce.len());
                    self.queue(index.matching(&zone.apex, wild.as_slice()), rtype::NSEC3);
                } else {
                    self.deny_nsec3_at(zone, index, name);
                }
            }
            None => {}
        }
    }

    /// The NSEC3 matching `name`, or else (an insecure delegation or an
    /// empty non-terminal under opt-out) the closest provable encloser
    /// proof, whose next closer NSEC3 has opt-out set.
    fn deny_nsec3_at(&mut self, zone: &'c Zone, index: &'c Nsec3Index, name: &[u8]) {
        match index.matching(&zone.apex, name) {
            Some(found) => self.queue(Some(found), rtype::NSEC3),
            None => {
                let from = parent(name).map_or(0, <[u8]>::len);
                self.nsec3_encloser(zone, index, name, from);
            }
        }
    }

    /// A referral to a child without DS: proof that the cut has none.
    pub(super) fn deny_ds(&mut self, zone: &'c Zone, cut: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        match chain(zone) {
            Some(Chain::Nsec(_)) => self.queue(nsec_at(zone, cut), rtype::NSEC),
            Some(Chain::Nsec3(index)) => self.deny_nsec3_at(zone, index, cut),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::path::Path;
    use std::sync::Arc;

    use wire::message::{parse, Message};
    use wire::name::to_text;

    use super::*;
    use crate::denial::{canonical_cmp, Nsec3Params};
    use crate::test_util::name;
    use crate::{respond, Catalog, Snapshot, Transport, ZoneState};

    /// The signed fixtures of the differential test.
    fn fixture(zone: &str) -> Snapshot {
        let path = format!(
            "{}/../../tests/diff/zones/{zone}.zone",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read(&path).unwrap();
        let loaded = crate::load_zone_bytes(zone, &text, Path::new(&path)).unwrap();
        assert!(loaded.zone.signed && loaded.zone.denial.is_some());
        let mut catalog = Catalog::new();
        catalog.insert(&name(zone), ZoneState::Ready(Arc::new(loaded.zone)));
        Snapshot {
            catalog,
            ..Snapshot::default()
        }
    }

    fn ask_sized(snap: &Snapshot, qname: &str, qtype: u16, dnssec: bool, size: u16) -> Message {
        let mut q = vec![0x12, 0x34, 0x00, 0x10, 0, 1, 0, 0, 0, 0, 0, 1]; // CD set
        q.extend_from_slice(&name(qname));
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1, 0, 0, 41]);
        q.extend_from_slice(&size.to_be_bytes());
        q.extend_from_slice(&[0, 0, if dnssec { 0x80 } else { 0 }, 0, 0, 0]);
        let mut out = vec![0u8; 65535];
        let len = respond(snap, &q, &mut out, Transport::Udp).unwrap();
        let m = parse(&out[..len]).unwrap();
        assert_eq!(m.header.flags & wire::types::flags::CD, 0, "CD is cleared");
        assert_eq!(
            m.header.flags & wire::types::flags::AD,
            0,
            "AD is never set"
        );
        sigs_follow_their_sets(&m);
        m
    }

    fn ask(snap: &Snapshot, qname: &str, qtype: u16, dnssec: bool) -> Message {
        ask_sized(snap, qname, qtype, dnssec, 4096)
    }

    /// Every RRSIG follows the set it covers, at the same owner and in
    /// the same section, with that set's TTL.
    fn sigs_follow_their_sets(m: &Message) {
        for sig in m.records.iter().filter(|r| r.rtype == rtype::RRSIG) {
            let covered = type_covered(&sig.rdata).unwrap();
            assert!(
                m.records.iter().any(|r| r.rtype == covered
                    && r.section == sig.section
                    && wire::name::eq_ignore_case(&r.owner, &sig.owner)
                    && r.ttl == sig.ttl),
                "RRSIG({covered}) at {} without its set",
                to_text(&sig.owner)
            );
        }
    }

    /// (owner, type) of a section, RRSIGs as `RRSIG/<covered>`.
    fn shape(m: &Message, section: Section) -> Vec<String> {
        m.section(section)
            .filter(|r| r.rtype != 41)
            .map(|r| match r.rtype {
                rtype::RRSIG => format!(
                    "{} RRSIG/{}",
                    to_text(&r.owner),
                    type_covered(&r.rdata).unwrap()
                ),
                t => format!("{} {t}", to_text(&r.owner)),
            })
            .collect()
    }

    /// The NSEC records of the authority section: (owner, next).
    fn nsecs(m: &Message) -> Vec<(Vec<u8>, Vec<u8>)> {
        m.section(Section::Authority)
            .filter(|r| r.rtype == rtype::NSEC)
            .map(|r| {
                let n = wire::name::uncompressed_len(&r.rdata).unwrap();
                (r.owner.clone(), r.rdata[..n].to_vec())
            })
            .collect()
    }

    /// Whether the NSEC (owner, next) covers `n` (the last NSEC's next is
    /// the apex: it covers everything after its owner).
    fn covers((owner, next): &(Vec<u8>, Vec<u8>), n: &[u8]) -> bool {
        canonical_cmp(owner, n) == Ordering::Less
            && (canonical_cmp(n, next) == Ordering::Less
                || canonical_cmp(next, owner) != Ordering::Greater)
    }

    #[test]
    fn nsec_positive_answers_carry_their_rrsigs_only_with_do() {
        let snap = fixture("nsec.signed.test");
        let m = ask(&snap, "www.nsec.signed.test", rtype::A, true);
        assert_eq!(
            shape(&m, Section::Answer),
            ["www.nsec.signed.test. 1", "www.nsec.signed.test. RRSIG/1"]
        );
        let m = ask(&snap, "www.nsec.signed.test", rtype::A, false);
        assert_eq!(shape(&m, Section::Answer), ["www.nsec.signed.test. 1"]);
        let m = ask(&snap, "nx.nsec.signed.test", rtype::A, false);
        assert_eq!(shape(&m, Section::Authority), ["nsec.signed.test. 6"]);
        // MX: the target's address in additional, signed.
        let m = ask(&snap, "nsec.signed.test", rtype::MX, true);
        assert_eq!(
            shape(&m, Section::Additional),
            ["mail.nsec.signed.test. 1", "mail.nsec.signed.test. RRSIG/1"]
        );
    }

    #[test]
    fn nsec_nxdomain_covers_the_name_and_the_wildcard() {
        let snap = fixture("nsec.signed.test");
        let m = ask(&snap, "a.b.nx.nsec.signed.test", rtype::A, true);
        assert_eq!(m.header.rcode(), 3);
        let soa = m
            .section(Section::Authority)
            .find(|r| r.rtype == rtype::RRSIG);
        assert_eq!(soa.map(|r| r.ttl), Some(300), "the negative TTL");
        let n = nsecs(&m);
        assert!(!n.is_empty() && n.len() <= 2, "{n:?}");
        assert!(n
            .iter()
            .any(|x| covers(x, &name("a.b.nx.nsec.signed.test"))));
        assert!(n.iter().any(|x| covers(x, &name("*.nsec.signed.test"))));
    }

    #[test]
    fn nsec_nodata_shapes() {
        let snap = fixture("nsec.signed.test");
        // At a name: its own NSEC.
        let m = ask(&snap, "www.nsec.signed.test", rtype::TXT, true);
        assert_eq!(nsecs(&m)[0].0, &name("www.nsec.signed.test")[..]);
        // An empty non-terminal: the NSEC covering it.
        let m = ask(&snap, "b.ent.nsec.signed.test", rtype::A, true);
        assert_eq!(m.header.rcode(), 0);
        let n = nsecs(&m);
        assert_eq!(n.len(), 1);
        assert!(covers(&n[0], &name("b.ent.nsec.signed.test")));
        // Wildcard NODATA: no closer match, and the wildcard's own NSEC.
        let m = ask(&snap, "x.wild.nsec.signed.test", rtype::MX, true);
        let n = nsecs(&m);
        assert!(n
            .iter()
            .any(|x| covers(x, &name("x.wild.nsec.signed.test"))));
        assert!(n.iter().any(|x| *x.0 == *name("*.wild.nsec.signed.test")));
        // DS at an unsigned delegation: the cut's NSEC.
        let m = ask(&snap, "sub.nsec.signed.test", rtype::DS, true);
        assert_eq!(nsecs(&m)[0].0, &name("sub.nsec.signed.test")[..]);
    }

    #[test]
    fn nsec_wildcard_answer_is_signed_at_the_query_name() {
        let snap = fixture("nsec.signed.test");
        let m = ask(&snap, "x.wild.nsec.signed.test", rtype::A, true);
        let sig = m
            .section(Section::Answer)
            .find(|r| r.rtype == rtype::RRSIG)
            .unwrap();
        assert_eq!(sig.owner, &name("x.wild.nsec.signed.test")[..]);
        assert_eq!(sig.rdata[3], 4, "labels stay the wildcard's");
        let n = nsecs(&m);
        assert_eq!(n.len(), 1);
        assert!(covers(&n[0], &name("x.wild.nsec.signed.test")));
    }

    #[test]
    fn referrals_sign_ds_or_prove_it_absent_never_ns_or_glue() {
        let snap = fixture("nsec.signed.test");
        let m = ask(&snap, "x.sub.nsec.signed.test", rtype::A, true);
        assert_eq!(
            shape(&m, Section::Authority),
            [
                "sub.nsec.signed.test. 2",
                "sub.nsec.signed.test. 47",
                "sub.nsec.signed.test. RRSIG/47"
            ]
        );
        assert_eq!(
            shape(&m, Section::Additional),
            ["ns.sub.nsec.signed.test. 1"]
        );
        let m = ask(&snap, "x.sec.nsec.signed.test", rtype::A, true);
        assert_eq!(
            shape(&m, Section::Authority),
            [
                "sec.nsec.signed.test. 2",
                "sec.nsec.signed.test. 43",
                "sec.nsec.signed.test. RRSIG/43"
            ]
        );
    }

    #[test]
    fn dname_is_signed_and_its_cname_is_not() {
        let snap = fixture("nsec.signed.test");
        let m = ask(&snap, "x.dn.nsec.signed.test", rtype::A, true);
        assert_eq!(
            shape(&m, Section::Answer),
            [
                "dn.nsec.signed.test. 39",
                "dn.nsec.signed.test. RRSIG/39",
                "x.dn.nsec.signed.test. 5"
            ]
        );
    }

    #[test]
    fn truncation_keeps_sets_and_their_rrsigs_together() {
        let snap = fixture("nsec.signed.test");
        for size in [512, 600, 700, 800] {
            for (q, t) in [
                ("nx.nsec.signed.test", rtype::A),
                ("nsec.signed.test", rtype::DNSKEY),
                ("x.wild.nsec.signed.test", rtype::MX),
            ] {
                // The checks are in ask_sized.
                ask_sized(&snap, q, t, true, size);
            }
        }
    }

    /// The hash label of the NSEC3 owners in the authority section, and
    /// each one's next hash and opt-out flag.
    fn nsec3s(m: &Message) -> Vec<(String, String, bool)> {
        m.section(Section::Authority)
            .filter(|r| r.rtype == rtype::NSEC3)
            .map(|r| {
                let owner = String::from_utf8(r.owner[1..33].to_ascii_lowercase()).unwrap();
                let salt = usize::from(r.rdata[4]);
                let hlen = usize::from(r.rdata[5 + salt]);
                let next = &r.rdata[6 + salt..6 + salt + hlen];
                let next =
                    String::from_utf8(crate::denial::base32hex(next.try_into().unwrap()).to_vec())
                        .unwrap();
                (owner, next, r.rdata[1] & 1 == 1)
            })
            .collect()
    }

    fn hash(p: &Nsec3Params, n: &str) -> String {
        String::from_utf8(p.hash_label(&name(n)).to_vec()).unwrap()
    }

    fn params(snap: &Snapshot, zone: &str) -> Nsec3Params {
        match snap.catalog.find(&name(zone), false) {
            Some((_, ZoneState::Ready(z))) => match z.denial.as_deref() {
                Some(Denial::Nsec3(index)) => index.params.clone(),
                _ => panic!("no NSEC3"),
            },
            _ => panic!("no zone"),
        }
    }

    fn covers3((owner, next, _): &(String, String, bool), h: &str) -> bool {
        (owner.as_str() < h && h < next.as_str())
            || (next <= owner && (h > owner.as_str() || h < next.as_str()))
    }

    #[test]
    fn nsec3_closest_encloser_proof() {
        let snap = fixture("nsec3.signed.test");
        let p = params(&snap, "nsec3.signed.test");
        let m = ask(&snap, "a.nx.nsec3.signed.test", rtype::A, true);
        assert_eq!(m.header.rcode(), 3);
        let n = nsec3s(&m);
        assert!(
            n.iter().any(|x| x.0 == hash(&p, "nsec3.signed.test")),
            "closest encloser"
        );
        assert!(
            n.iter()
                .any(|x| covers3(x, &hash(&p, "nx.nsec3.signed.test"))),
            "next closer"
        );
        assert!(
            n.iter()
                .any(|x| covers3(x, &hash(&p, "*.nsec3.signed.test"))),
            "wildcard"
        );
        assert!(n.len() <= 3);
        // Hashed owners are no names of the zone.
        let owner = format!("{}.nsec3.signed.test", n[0].0);
        assert_eq!(ask(&snap, &owner, rtype::A, true).header.rcode(), 3);
        // An empty non-terminal has an NSEC3 of its own.
        let m = ask(&snap, "b.ent.nsec3.signed.test", rtype::A, true);
        let n = nsec3s(&m);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, hash(&p, "b.ent.nsec3.signed.test"));
        // Wildcard NODATA: encloser, next closer, and the wildcard's own.
        let m = ask(&snap, "x.wild.nsec3.signed.test", rtype::MX, true);
        let n = nsec3s(&m);
        assert!(n.iter().any(|x| x.0 == hash(&p, "wild.nsec3.signed.test")));
        assert!(n
            .iter()
            .any(|x| covers3(x, &hash(&p, "x.wild.nsec3.signed.test"))));
        assert!(n
            .iter()
            .any(|x| x.0 == hash(&p, "*.wild.nsec3.signed.test")));
    }

    #[test]
    fn nsec3_opt_out_proves_no_ds_at_an_insecure_delegation() {
        let snap = fixture("optout.signed.test");
        let p = params(&snap, "optout.signed.test");
        assert_eq!(p.iterations, 2);
        for q in ["sub.optout.signed.test", "deep.ins.optout.signed.test"] {
            let m = ask(&snap, q, rtype::DS, true);
            assert_eq!(m.header.rcode(), 0);
            let n = nsec3s(&m);
            assert_eq!(n.len(), 2, "{q}: {n:?}");
            assert!(
                n.iter().any(|x| x.0 == hash(&p, "optout.signed.test")),
                "{q}"
            );
            let next_closer = if q.starts_with("deep") {
                "ins.optout.signed.test"
            } else {
                q
            };
            assert!(
                n.iter().any(|x| x.2 && covers3(x, &hash(&p, next_closer))),
                "{q}: {n:?}"
            );
        }
    }

    #[test]
    fn next_closer_is_one_label_below_the_encloser() {
        let n = name("a.b.c.example");
        let ce = name("c.example");
        assert_eq!(next_closer(&n, ce.len()), &name("b.c.example")[..]);
        assert_eq!(next_closer(&n, name("b.c.example").len()), &n[..]);
    }
}
