//! The compiled, immutable form of one zone that queries are answered from.
//!
//! A zone is a hash map from lowercase wire owner name to [`Node`]. Every
//! ancestor of an owner up to the apex is present too (as an empty
//! non-terminal when it holds no data), so "does this name exist" is one
//! lookup and walking from the apex down to a query name finds delegations
//! and DNAMEs on the way. Each RRset keeps its RDATA back to back in one
//! allocation.

use rustc_hash::FxHashMap;
use wire::types::rtype;

/// One RRset: all records of one type at one owner.
#[derive(Clone, Debug)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    /// The RDATAs, each as `[u16 length][bytes]`.
    data: Box<[u8]>,
}

impl RRset {
    /// Builds an RRset from RDATAs (each at most 65535 octets).
    pub fn new(rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> Self {
        let mut data = Vec::with_capacity(rdatas.iter().map(|r| r.len() + 2).sum());
        for r in rdatas {
            data.extend_from_slice(&(r.len() as u16).to_be_bytes());
            data.extend_from_slice(r);
        }
        RRset {
            rtype,
            ttl,
            data: data.into_boxed_slice(),
        }
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
        self.rdatas().count()
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
        if self.data.len() < 2 {
            return None;
        }
        let len = u16::from_be_bytes([self.data[0], self.data[1]]) as usize;
        let (item, rest) = self.data[2..].split_at(len.min(self.data.len() - 2));
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

/// A loaded zone.
#[derive(Debug)]
pub struct Zone {
    /// Apex, lowercase wire form.
    pub apex: Box<[u8]>,
    pub nodes: FxHashMap<Box<[u8]>, Node>,
    /// SOA serial, for logs and (later) transfers.
    pub serial: u32,
    /// TTL for negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pub negative_ttl: u32,
    /// Number of records.
    pub records: usize,
    /// The apex holds DNSKEY and RRSIG: DNSSEC data (DS in referrals) is
    /// given to clients that set DO.
    pub signed: bool,
}

impl Zone {
    /// The node at `name` (lowercase wire form).
    pub fn node(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The apex node (always present in a built zone: it holds the SOA).
    pub fn apex_node(&self) -> Option<&Node> {
        self.nodes.get(&*self.apex)
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> Option<&RRset> {
        self.apex_node()?.get(rtype::SOA)
    }
}
