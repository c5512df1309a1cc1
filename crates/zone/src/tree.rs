//! The compiled, immutable form of one zone that queries are answered from.
//!
//! A zone is a hash table from lowercase wire owner name to [`Node`]
//! ([`NodeTable`]: names and data in one arena). Every
//! ancestor of an owner up to the apex is present too (as an empty
//! non-terminal when it holds no data), so "does this name exist" is one
//! lookup and walking from the apex down to a query name finds delegations
//! and DNAMEs on the way. A node's RRsets are stored back to back after
//! its name.
//!
//! The map compiled from a whole zone is shared (`Arc`) by the versions
//! that updates make from it: each keeps only the nodes changed since in
//! a small map of its own ([`crate::patch`]), so an update costs what it
//! changes, not the size of the zone. Lookups check that map first only
//! when it is not empty.

use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::FxHasher;
use wire::types::rtype;

/// The bytes before each RDATA in an RRset's records.
const RECORD_HEAD: usize = 12;

/// The bytes before each RRset in a node's data: its type, its record
/// count, then the length of its records (the type here lets a lookup
/// skip sets without reading into their records).
const SET_HEAD: usize = 8;

/// One RRset: all records of one type at one owner, borrowed from the
/// node that holds it.
///
/// The records are kept as they go on the wire when the owner is the
/// question name (the owner a pointer to offset 12, then type, class,
/// TTL, length, RDATA): an answer whose RDATA has no names to compress
/// is then one copy into the response ([`RRset::rendered`]). The TTL is
/// read from the first record.
#[derive(Clone, Copy, Debug)]
pub struct RRset<'z> {
    /// Each record as `[C0 0C][type][class IN][TTL][u16 length][RDATA]`.
    records: &'z [u8],
    rtype: u16,
    /// Records, saturating (a set that large never fits a message).
    count: u16,
}

impl<'z> RRset<'z> {
    /// The type of the records.
    #[inline]
    pub fn rtype(&self) -> u16 {
        self.rtype
    }

    /// The TTL of the set.
    #[inline]
    pub fn ttl(&self) -> u32 {
        match self.records.get(6..10) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// The records in wire form for an owner at the question (offset 12),
    /// and how many there are.
    #[inline]
    pub fn rendered(&self) -> (&'z [u8], u16) {
        (self.records, self.count)
    }

    /// The RDATAs of the set, in zone-file order.
    pub fn rdatas(&self) -> RdataIter<'z> {
        RdataIter { data: self.records }
    }

    /// The first RDATA (for singletons: SOA, CNAME, DNAME).
    pub fn first(&self) -> &'z [u8] {
        self.rdatas().next().unwrap_or(&[])
    }

    /// Number of records in the set.
    pub fn len(&self) -> usize {
        match self.count {
            u16::MAX => self.rdatas().count(),
            n => usize::from(n),
        }
    }

    /// Whether the set is empty (never, for sets in a zone).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Where the set is stored: the same set found twice has the same
    /// identity (loop checks in CNAME and DNAME chains).
    #[inline]
    pub fn identity(&self) -> *const u8 {
        self.records.as_ptr()
    }
}

/// Appends an RRset of `rdatas` (each at most 65535 octets) to node data.
pub(crate) fn push_set(out: &mut Vec<u8>, rr_type: u16, ttl: u32, rdatas: &[&[u8]]) {
    let len: usize = rdatas.iter().map(|r| r.len() + RECORD_HEAD).sum();
    out.reserve(SET_HEAD + len);
    out.extend_from_slice(&rr_type.to_ne_bytes());
    let count = rdatas.len().min(usize::from(u16::MAX)) as u16;
    out.extend_from_slice(&count.to_ne_bytes());
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    for r in rdatas {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&rr_type.to_be_bytes());
        out.extend_from_slice(&wire::types::class::IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(r.len() as u16).to_be_bytes());
        out.extend_from_slice(r);
    }
}

/// Iterator over the RDATAs of an [`RRset`].
pub struct RdataIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for RdataIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.len() < RECORD_HEAD {
            return None;
        }
        let len = u16::from_be_bytes([self.data[10], self.data[11]]) as usize;
        let body = &self.data[RECORD_HEAD..];
        let (item, rest) = body.split_at(len.min(body.len()));
        self.data = rest;
        Some(item)
    }
}

/// Iterator over the RRsets of a [`Node`], in the order they were added
/// (by type, as the builder sorts them).
pub struct RRsetIter<'z> {
    data: &'z [u8],
}

impl<'z> Iterator for RRsetIter<'z> {
    type Item = RRset<'z>;

    #[inline]
    fn next(&mut self) -> Option<RRset<'z>> {
        let (head, rest) = self.data.split_first_chunk::<SET_HEAD>()?;
        let len = u32::from_ne_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let (records, after) = rest.split_at(len.min(rest.len()));
        self.data = after;
        Some(RRset {
            records,
            rtype: u16::from_ne_bytes([head[0], head[1]]),
            count: u16::from_ne_bytes([head[2], head[3]]),
        })
    }
}

/// The data at one owner name, borrowed from the zone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Node<'z> {
    /// The RRsets, each `[u16 type][u16 count][u32 length][records]`
    /// (in native byte order: the data never leaves the process).
    data: &'z [u8],
    /// Has NS and is not the apex: a zone cut.
    pub is_cut: bool,
    /// Below a zone cut: only glue, never answered from directly.
    pub occluded: bool,
    /// Nodes one label below this one: an empty non-terminal goes when
    /// its last child does.
    pub children: u32,
}

impl<'z> Node<'z> {
    /// The RRset of `rtype`, if any.
    #[inline]
    pub fn get(&self, rr_type: u16) -> Option<RRset<'z>> {
        self.rrsets().find(|s| s.rtype() == rr_type)
    }

    /// The RRsets, lowest type first.
    #[inline]
    pub fn rrsets(&self) -> RRsetIter<'z> {
        RRsetIter { data: self.data }
    }

    /// Whether no data is here (an empty non-terminal).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Where the node's data is stored, for loop checks; empty nodes
    /// (which answer nothing) may share one.
    #[inline]
    pub fn identity(&self) -> *const u8 {
        self.data.as_ptr()
    }
}

/// A node owned on its own: the patch overlay's.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeBuf {
    pub data: Box<[u8]>,
    pub is_cut: bool,
    pub occluded: bool,
    pub children: u32,
}

impl NodeBuf {
    /// A copy of `node`.
    pub fn of(node: Node<'_>) -> NodeBuf {
        NodeBuf {
            data: node.data.into(),
            is_cut: node.is_cut,
            occluded: node.occluded,
            children: node.children,
        }
    }

    /// The node, borrowed.
    #[inline]
    pub fn view(&self) -> Node<'_> {
        Node {
            data: &self.data,
            is_cut: self.is_cut,
            occluded: self.occluded,
            children: self.children,
        }
    }
}

/// Nodes changed since a [`NodeTable`] was compiled, by name; `None`:
/// removed. Each entry is shared by the versions that have it, so the copy
/// the next update starts from copies pointers, not nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overlay {
    entries: hashbrown::HashTable<Arc<Patched>>,
}

#[derive(Debug)]
pub(crate) struct Patched {
    name: Box<[u8]>,
    node: Option<NodeBuf>,
}

impl Overlay {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline(always)]
    fn find(&self, name: &[u8], hash: u64) -> Option<&Patched> {
        self.entries.find(hash, |p| *p.name == *name).map(|p| &**p)
    }

    fn contains(&self, name: &[u8]) -> bool {
        self.find(name, hash_name(name)).is_some()
    }

    /// Puts `node` at `name` (`None`: the name is removed).
    pub fn insert(&mut self, name: &[u8], node: Option<NodeBuf>) {
        let patched = Arc::new(Patched {
            name: name.into(),
            node,
        });
        let hash = hash_name(name);
        match self
            .entries
            .entry(hash, |p| *p.name == *name, |p| hash_name(&p.name))
        {
            hashbrown::hash_table::Entry::Occupied(mut o) => *o.get_mut() = patched,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(patched);
            }
        }
    }

    /// Forgets what was put at `name`.
    pub fn remove(&mut self, name: &[u8]) {
        if let Ok(o) = self
            .entries
            .find_entry(hash_name(name), |p| *p.name == *name)
        {
            o.remove();
        }
    }
}

/// Where one node lives in a [`NodeTable`]'s arena.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Offset of the owner name; the node's data follows it.
    at: u32,
    data_len: u32,
    children: u32,
    name_len: u8,
    flags: u8,
}

const CUT: u8 = 1;
const OCCLUDED: u8 = 2;

/// The zone is larger than a table's 32-bit offsets reach (4 GiB of
/// names and records).
#[derive(Debug)]
pub struct TooLarge;

/// Nodes by lowercase wire owner name, compiled from a whole zone.
///
/// Every owner name and its node's data sit back to back in one arena,
/// and the hash table holds 16-byte slots pointing into it: a lookup
/// touches the slot and then one place in the arena, and a million-name
/// zone costs its bytes plus ~40 bytes a name instead of four heap
/// allocations per name.
#[derive(Debug, Default)]
pub struct NodeTable {
    arena: Vec<u8>,
    slots: hashbrown::HashTable<Slot>,
}

#[inline]
fn hash_name(name: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(name);
    h.finish()
}

impl NodeTable {
    /// A table with room for `nodes` nodes and `bytes` of names and data.
    pub fn with_capacity(nodes: usize, bytes: usize) -> NodeTable {
        NodeTable {
            arena: Vec::with_capacity(bytes),
            slots: hashbrown::HashTable::with_capacity(nodes),
        }
    }

    /// Makes room for `nodes` more nodes and `bytes` more arena.
    pub fn reserve(&mut self, nodes: usize, bytes: usize) {
        self.arena.reserve(bytes);
        let arena = &self.arena;
        self.slots
            .reserve(nodes, |s| hash_name(Self::name_in(arena, s)));
    }

    #[inline(always)]
    fn name_in<'a>(arena: &'a [u8], s: &Slot) -> &'a [u8] {
        &arena[s.at as usize..s.at as usize + usize::from(s.name_len)]
    }

    #[inline(always)]
    fn view<'a>(arena: &'a [u8], s: &Slot) -> (&'a [u8], Node<'a>) {
        let start = s.at as usize;
        let name_len = usize::from(s.name_len);
        let all = &arena[start..start + name_len + s.data_len as usize];
        let (name, data) = all.split_at(name_len);
        let node = Node {
            data,
            is_cut: s.flags & CUT != 0,
            occluded: s.flags & OCCLUDED != 0,
            children: s.children,
        };
        (name, node)
    }

    /// The node at `name` (lowercase wire) and its stored name.
    #[inline(always)]
    pub fn get(&self, name: &[u8]) -> Option<(&[u8], Node<'_>)> {
        self.get_hashed(name, hash_name(name))
    }

    /// [`NodeTable::get`] with the name's hash already made.
    #[inline(always)]
    fn get_hashed(&self, name: &[u8], hash: u64) -> Option<(&[u8], Node<'_>)> {
        let arena = &self.arena;
        self.slots
            .find(hash, |s| {
                usize::from(s.name_len) == name.len()
                    && arena.get(s.at as usize..s.at as usize + name.len()) == Some(name)
            })
            .map(|s| Self::view(arena, s))
    }

    /// Whether a node is at `name`.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every node with its owner, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Node<'_>)> + '_ {
        self.slots.iter().map(|s| Self::view(&self.arena, s))
    }

    /// Adds a node at `name` holding `data` (RRsets as [`push_set`]
    /// writes them); `Ok(false)`, changing nothing, if `name` has one.
    pub fn insert(&mut self, name: &[u8], data: &[u8]) -> Result<bool, TooLarge> {
        let at = self.arena.len();
        if at + name.len() + data.len() > u32::MAX as usize || name.len() > usize::from(u8::MAX) {
            return Err(TooLarge);
        }
        let arena = &self.arena;
        let entry = self.slots.entry(
            hash_name(name),
            |s| Self::name_in(arena, s) == name,
            |s| hash_name(Self::name_in(arena, s)),
        );
        let hashbrown::hash_table::Entry::Vacant(vacant) = entry else {
            return Ok(false);
        };
        vacant.insert(Slot {
            at: at as u32,
            data_len: data.len() as u32,
            children: 0,
            name_len: name.len() as u8,
            flags: 0,
        });
        self.arena.extend_from_slice(name);
        self.arena.extend_from_slice(data);
        Ok(true)
    }

    /// Changes the flags and child count of the node at `name`, if any.
    fn update(&mut self, name: &[u8], f: impl FnOnce(&mut Slot)) {
        let arena = &self.arena;
        if let Some(s) = self
            .slots
            .find_mut(hash_name(name), |s| Self::name_in(arena, s) == name)
        {
            f(s);
        }
    }

    /// Marks the node at `name` as a zone cut.
    pub(crate) fn mark_cut(&mut self, name: &[u8]) {
        self.update(name, |s| s.flags |= CUT);
    }

    /// Counts one more child of the node at `name`, if there is one.
    pub(crate) fn add_child(&mut self, name: &[u8]) {
        self.update(name, |s| s.children += 1);
    }

    /// Marks the node at `name` as below a cut or DNAME.
    pub(crate) fn mark_occluded(&mut self, name: &[u8]) {
        self.update(name, |s| s.flags |= OCCLUDED);
    }
}

/// A loaded zone.
#[derive(Debug)]
pub struct Zone {
    /// Apex, lowercase wire form.
    pub apex: Box<[u8]>,
    /// The nodes as compiled from the whole zone.
    pub(crate) base: Arc<NodeTable>,
    /// Nodes changed since `base` was compiled; `None`: removed.
    pub(crate) patch: Overlay,
    /// SOA serial, for logs and transfers.
    pub serial: u32,
    /// TTL for negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pub negative_ttl: u32,
    /// Number of records.
    pub records: usize,
    /// The apex holds DNSKEY and RRSIG: DNSSEC data (DS in referrals) is
    /// given to clients that set DO.
    pub signed: bool,
    /// The SOA for negative answers, rendered ([`crate::negative`]).
    pub(crate) negative: Option<crate::negative::NegativeSoa>,
    /// The NSEC or NSEC3 records that prove names and types absent, if
    /// the zone has any; shared by the copies of a version.
    pub denial: Option<Arc<crate::denial::Denial>>,
}

impl Zone {
    /// A zone of compiled `nodes`.
    pub fn new(apex: &[u8], nodes: NodeTable) -> Zone {
        Zone {
            apex: apex.into(),
            base: Arc::new(nodes),
            patch: Overlay::default(),
            serial: 0,
            negative_ttl: 0,
            records: 0,
            signed: false,
            negative: None,
            denial: None,
        }
    }

    /// Sets what the apex SOA says (and renders the negative answers'
    /// SOA from it).
    pub(crate) fn set_apex_facts(&mut self, serial: u32, negative_ttl: u32, signed: bool) {
        self.serial = serial;
        self.negative_ttl = negative_ttl;
        self.signed = signed;
        let rdata = self.soa().map(|s| s.first().to_vec());
        self.negative = rdata.and_then(|r| crate::negative::render(&self.apex, &r, negative_ttl));
    }

    /// The SOA record of negative answers, rendered.
    pub fn negative_soa(&self) -> Option<&crate::negative::NegativeSoa> {
        self.negative.as_ref()
    }

    /// The node at `name` (lowercase wire form) and its stored name.
    // Always inlined: returned through memory, the 40-byte answer cost
    // a fifth of the lookup's own work.
    #[inline(always)]
    pub fn get_key_value(&self, name: &[u8]) -> Option<(&[u8], Node<'_>)> {
        // One hash for both tables.
        let hash = hash_name(name);
        if !self.patch.is_empty() {
            if let Some(p) = self.patch.find(name, hash) {
                return p.node.as_ref().map(|n| (&*p.name, n.view()));
            }
        }
        self.base.get_hashed(name, hash)
    }

    /// The node at `name` (lowercase wire form).
    #[inline]
    pub fn node(&self, name: &[u8]) -> Option<Node<'_>> {
        self.get_key_value(name).map(|(_, n)| n)
    }

    /// The apex node (always present in a built zone: it holds the SOA).
    pub fn apex_node(&self) -> Option<Node<'_>> {
        self.node(&self.apex)
    }

    /// Every node with its owner, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], Node<'_>)> + '_ {
        let patch = &self.patch;
        self.base
            .iter()
            .filter(move |(k, _)| !patch.contains(k))
            .chain(
                patch
                    .entries
                    .iter()
                    .filter_map(|p| p.node.as_ref().map(|n| (&*p.name, n.view()))),
            )
    }

    /// Nodes changed since the zone was last compiled whole.
    pub fn patched(&self) -> usize {
        self.patch.len()
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> Option<RRset<'_>> {
        self.apex_node()?.get(rtype::SOA)
    }
}

#[cfg(test)]
mod tests;
