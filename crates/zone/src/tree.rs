//! The compiled, immutable form of one zone that queries are answered from.
//!
//! A zone is a hash map from lowercase wire owner name to [`Node`]. Every
//! ancestor of an owner up to the apex is present too (as an empty
//! non-terminal when it holds no data), so "does this name exist" is one
//! lookup and walking from the apex down to a query name finds delegations
//! and DNAMEs on the way. Each RRset keeps its RDATA back to back in one
//! allocation.
//!
//! The map compiled from a whole zone is shared (`Arc`) by the versions
//! that updates make from it: each keeps only the nodes changed since in
//! a small map of its own ([`crate::patch`]), so an update costs what it
//! changes, not the size of the zone. Lookups check that map first only
//! when it is not empty.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use wire::types::rtype;

/// One RRset: all records of one type at one owner.
///
/// The records are kept as they go on the wire when the owner is the
/// question name (the owner a pointer to offset 12, then type, class,
/// TTL, length, RDATA): an answer whose RDATA has no names to compress
/// is then one copy into the response ([`RRset::rendered`]).
#[derive(Clone, Debug)]
pub struct RRset {
    rtype: u16,
    /// Records, saturating (a set that large never fits a message).
    count: u16,
    ttl: u32,
    /// Each record as `[C0 0C][type][class IN][TTL][u16 length][RDATA]`.
    data: Box<[u8]>,
}

/// The bytes before each RDATA in [`RRset`]'s data.
const RECORD_HEAD: usize = 12;

impl RRset {
    /// Builds an RRset from RDATAs (each at most 65535 octets).
    pub fn new(rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> Self {
        let mut data = Vec::with_capacity(rdatas.iter().map(|r| r.len() + RECORD_HEAD).sum());
        for r in rdatas {
            data.extend_from_slice(&[0xc0, 0x0c]);
            data.extend_from_slice(&rtype.to_be_bytes());
            data.extend_from_slice(&wire::types::class::IN.to_be_bytes());
            data.extend_from_slice(&ttl.to_be_bytes());
            data.extend_from_slice(&(r.len() as u16).to_be_bytes());
            data.extend_from_slice(r);
        }
        RRset {
            rtype,
            ttl,
            count: rdatas.len().min(usize::from(u16::MAX)) as u16,
            data: data.into_boxed_slice(),
        }
    }

    /// The type of the records.
    #[inline]
    pub fn rtype(&self) -> u16 {
        self.rtype
    }

    /// The TTL of the set.
    #[inline]
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The records in wire form for an owner at the question (offset 12),
    /// and how many there are.
    #[inline]
    pub fn rendered(&self) -> (&[u8], u16) {
        (&self.data, self.count)
    }

    /// The RDATAs of the set, in zone-file order.
    pub fn rdatas(&self) -> RdataIter<'_> {
        RdataIter { data: &self.data }
    }

    /// The first RDATA (for singletons: SOA, CNAME, DNAME).
    pub fn first(&self) -> &[u8] {
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
        self.data.is_empty()
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

/// The data at one owner name.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub rrsets: Box<[RRset]>,
    /// Has NS and is not the apex: a zone cut.
    pub is_cut: bool,
    /// Below a zone cut: only glue, never answered from directly.
    pub occluded: bool,
    /// Nodes one label below this one: an empty non-terminal goes when
    /// its last child does.
    pub children: u32,
}

impl Node {
    /// The RRset of `rtype`, if any.
    pub fn get(&self, rr_type: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rr_type)
    }

    /// Whether no data is here (an empty non-terminal).
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// Nodes by lowercase wire owner name.
pub type NodeMap = FxHashMap<Box<[u8]>, Node>;

/// A loaded zone.
#[derive(Debug)]
pub struct Zone {
    /// Apex, lowercase wire form.
    pub apex: Box<[u8]>,
    /// The nodes as compiled from the whole zone.
    pub(crate) base: Arc<NodeMap>,
    /// Nodes changed since `base` was compiled; `None`: removed.
    pub(crate) patch: FxHashMap<Box<[u8]>, Option<Node>>,
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
}

impl Zone {
    /// A zone of compiled `nodes`.
    pub fn new(apex: &[u8], nodes: NodeMap) -> Zone {
        Zone {
            apex: apex.into(),
            base: Arc::new(nodes),
            patch: FxHashMap::default(),
            serial: 0,
            negative_ttl: 0,
            records: 0,
            signed: false,
            negative: None,
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
    #[inline]
    pub fn get_key_value(&self, name: &[u8]) -> Option<(&[u8], &Node)> {
        if !self.patch.is_empty() {
            if let Some((k, v)) = self.patch.get_key_value(name) {
                return v.as_ref().map(|n| (&**k, n));
            }
        }
        self.base.get_key_value(name).map(|(k, n)| (&**k, n))
    }

    /// The node at `name` (lowercase wire form).
    #[inline]
    pub fn node(&self, name: &[u8]) -> Option<&Node> {
        self.get_key_value(name).map(|(_, n)| n)
    }

    /// The apex node (always present in a built zone: it holds the SOA).
    pub fn apex_node(&self) -> Option<&Node> {
        self.node(&self.apex)
    }

    /// Every node with its owner, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> + '_ {
        let patch = &self.patch;
        self.base
            .iter()
            .filter(move |(k, _)| !patch.contains_key(&***k))
            .map(|(k, n)| (&**k, n))
            .chain(
                patch
                    .iter()
                    .filter_map(|(k, v)| v.as_ref().map(|n| (&**k, n))),
            )
    }

    /// Nodes changed since the zone was last compiled whole.
    pub fn patched(&self) -> usize {
        self.patch.len()
    }

    /// Nodes in the compiled map.
    pub fn base_len(&self) -> usize {
        self.base.len()
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> Option<&RRset> {
        self.apex_node()?.get(rtype::SOA)
    }
}
