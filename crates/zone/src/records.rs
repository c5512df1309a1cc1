//! Zones as plain record sets: what transfers, updates and the journal
//! work on (the compiled [`crate::Zone`] is for answering).

/// One resource record, class IN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    /// Owner, lowercase uncompressed wire form.
    pub owner: Box<[u8]>,
    pub rtype: u16,
    pub ttl: u32,
    /// RDATA in wire form, names uncompressed (lowercased for the types
    /// [`crate::scan::lowercase_names`] folds).
    pub rdata: Box<[u8]>,
}

use std::collections::BTreeMap;
use std::ops::Bound;

use wire::types::rtype;

use crate::scan::Scanned;
use crate::source::{Normalized, SourceError};

/// The identity of a record: owner, type, RDATA.
type Key = (Box<[u8]>, u16, Box<[u8]>);

/// The records of one zone, with set semantics: a record is its owner,
/// type and RDATA; the TTL is a property of it. Kept sorted by owner (wire
/// form), then type, then RDATA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordSet {
    map: BTreeMap<Key, u32>,
}

impl RecordSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds `r`, or sets the TTL of the record already there; true if it
    /// was new.
    pub fn insert(&mut self, r: Record) -> bool {
        self.map
            .insert((r.owner, r.rtype, r.rdata), r.ttl)
            .is_none()
    }

    /// Removes the record with `r`'s owner, type and RDATA (any TTL); true
    /// if it was there.
    pub fn remove(&mut self, r: &Record) -> bool {
        self.map.remove(&key(r)).is_some()
    }

    /// Applies a change: every record of `removed` taken out (matched by
    /// owner, type and RDATA), then every one of `added` put in (one
    /// already here takes the new TTL). `Err` names the first removed
    /// record that was not here (the rest of the change is applied all
    /// the same): callers replaying a history treat it as a broken one.
    pub fn apply<'r>(&mut self, removed: &'r [Record], added: &[Record]) -> Result<(), &'r Record> {
        let mut missing = None;
        for r in removed {
            if !self.remove(r) && missing.is_none() {
                missing = Some(r);
            }
        }
        for r in added {
            self.insert(r.clone());
        }
        missing.map_or(Ok(()), Err)
    }

    /// Whether a record with `r`'s owner, type and RDATA is here (any TTL).
    pub fn contains(&self, r: &Record) -> bool {
        self.map.contains_key(&key(r))
    }

    /// The TTL of the record with `r`'s owner, type and RDATA.
    pub fn ttl_of(&self, r: &Record) -> Option<u32> {
        self.map.get(&key(r)).copied()
    }

    /// Every record, sorted by owner, type and RDATA.
    pub fn iter(&self) -> impl Iterator<Item = Record> + '_ {
        self.map.iter().map(to_record)
    }

    /// The records at `owner` of type `rr_type`.
    pub fn rrset(&self, owner: &[u8], rr_type: u16) -> Vec<Record> {
        self.entries_from(owner, rr_type)
            .take_while(|((o, t, _), _)| **o == *owner && *t == rr_type)
            .map(to_record)
            .collect()
    }

    /// Every record borrowed, as (owner, type, RDATA, TTL), in the set's
    /// order: owner, type, then RDATA (so an RRset's RDATAs come in DNSSEC
    /// canonical order, RFC 4034 §6.3).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u16, &[u8], u32)> + '_ {
        self.map
            .iter()
            .map(|((o, t, r), ttl)| (&**o, *t, &**r, *ttl))
    }

    /// The RDATAs and TTLs of the RRset `owner`/`rr_type`, borrowed.
    pub fn rrset_entries<'s>(
        &'s self,
        owner: &'s [u8],
        rr_type: u16,
    ) -> impl Iterator<Item = (&'s [u8], u32)> + 's {
        self.entries_from(owner, rr_type)
            .take_while(move |((o, t, _), _)| **o == *owner && *t == rr_type)
            .map(|((_, _, r), ttl)| (&**r, *ttl))
    }

    /// Whether any record is owned by `owner`.
    pub fn has_name(&self, owner: &[u8]) -> bool {
        self.entries_from(owner, 0)
            .next()
            .is_some_and(|((o, _, _), _)| **o == *owner)
    }

    /// The types present at `owner`, ascending.
    pub fn types_at(&self, owner: &[u8]) -> Vec<u16> {
        let mut types: Vec<u16> = self
            .entries_from(owner, 0)
            .take_while(|((o, _, _), _)| **o == *owner)
            .map(|((_, t, _), _)| *t)
            .collect();
        types.dedup();
        types
    }

    /// Removes and returns the records at `owner` of type `rr_type`.
    pub fn remove_rrset(&mut self, owner: &[u8], rr_type: u16) -> Vec<Record> {
        let gone = self.rrset(owner, rr_type);
        for r in &gone {
            self.remove(r);
        }
        gone
    }

    /// Removes and returns every record at `owner`.
    pub fn remove_name(&mut self, owner: &[u8]) -> Vec<Record> {
        let gone: Vec<Record> = self
            .entries_from(owner, 0)
            .take_while(|((o, _, _), _)| **o == *owner)
            .map(to_record)
            .collect();
        for r in &gone {
            self.remove(r);
        }
        gone
    }

    /// The apex SOA record, given the apex.
    pub fn soa(&self, apex: &[u8]) -> Option<Record> {
        self.rrset(apex, rtype::SOA).into_iter().next()
    }

    /// Every record of a compiled zone (empty non-terminals have none).
    pub fn from_zone(zone: &crate::Zone) -> RecordSet {
        let mut set = RecordSet::new();
        let nsec3 = match zone.denial.as_deref() {
            Some(crate::denial::Denial::Nsec3(index)) => Some(index.nodes.iter()),
            _ => None,
        };
        for (owner, node) in zone.nodes().chain(nsec3.into_iter().flatten()) {
            for rrset in node.rrsets() {
                for rdata in rrset.rdatas() {
                    // An RRSIG keeps the TTL of the set it covers (a node's
                    // RRSIGs are stored as one set with one TTL).
                    let ttl = match rrset.rtype() {
                        rtype::RRSIG => crate::denial::type_covered(rdata)
                            .and_then(|t| node.get(t))
                            .map_or(rrset.ttl(), |s| s.ttl()),
                        _ => rrset.ttl(),
                    };
                    set.map
                        .insert((owner.into(), rrset.rtype(), rdata.into()), ttl);
                }
            }
        }
        set
    }

    /// Compiles the set into a zone with the checks a zone file gets
    /// ([`crate::build::build`]), so an update or a transfer can never
    /// install what a zone file could not. `what` names the source in
    /// errors and warnings (`"update"`, `"AXFR from 192.0.2.1"`). Returns
    /// the zone and its warnings.
    pub fn to_zone(
        &self,
        apex: &[u8],
        what: &str,
    ) -> Result<(crate::Zone, Vec<String>), SourceError> {
        // No lines: every error falls back to naming the source alone.
        let text = Normalized {
            files: vec![std::path::PathBuf::from(what)],
            ..Normalized::default()
        };
        let mut records = Scanned::default();
        for ((owner, t, rdata), ttl) in &self.map {
            records
                .push(owner, *t, *ttl, rdata, 0, 0)
                .map_err(|kind| text.error_at_source(0, 0, kind))?;
        }
        crate::build::build(apex, records, &text)
    }

    /// Every record at `owner`, by type.
    pub fn records_at(&self, owner: &[u8]) -> Vec<Record> {
        self.entries_from(owner, 0)
            .take_while(|((o, _, _), _)| **o == *owner)
            .map(to_record)
            .collect()
    }

    /// The entries from (owner, type, empty RDATA) on.
    fn entries_from(&self, owner: &[u8], rr_type: u16) -> impl Iterator<Item = (&Key, &u32)> + '_ {
        let start: Key = (owner.into(), rr_type, Box::default());
        self.map.range((Bound::Included(start), Bound::Unbounded))
    }
}

impl FromIterator<Record> for RecordSet {
    /// All at once: the standard library sorts the records and builds the
    /// tree bottom up, several times faster than inserting a million
    /// records one by one (an AXFR). A record given twice keeps the last
    /// TTL, as [`RecordSet::insert`] does.
    fn from_iter<I: IntoIterator<Item = Record>>(iter: I) -> Self {
        RecordSet {
            map: iter
                .into_iter()
                .map(|r| ((r.owner, r.rtype, r.rdata), r.ttl))
                .collect(),
        }
    }
}

fn key(r: &Record) -> Key {
    (r.owner.clone(), r.rtype, r.rdata.clone())
}

fn to_record(((owner, t, rdata), ttl): (&Key, &u32)) -> Record {
    Record {
        owner: owner.clone(),
        rtype: *t,
        ttl: *ttl,
        rdata: rdata.clone(),
    }
}

/// Lowercases a record from the network as a zone file's would be: the
/// owner, and the names in RDATA that [`crate::scan::lowercase_names`]
/// folds.
pub fn normalize(r: &mut Record) {
    r.owner.make_ascii_lowercase();
    crate::scan::lowercase_names(r.rtype, &mut r.rdata);
}

/// What changed from `old` to `new`: `(removed, added)`. A TTL change
/// counts as a removal and an addition. Each list is sorted with its SOA
/// records first (the order of an IXFR difference sequence).
pub fn diff(old: &RecordSet, new: &RecordSet) -> (Vec<Record>, Vec<Record>) {
    let changed = |from: &RecordSet, to: &RecordSet| -> Vec<Record> {
        let mut out: Vec<Record> = from
            .map
            .iter()
            .filter(|(k, ttl)| to.map.get(*k) != Some(*ttl))
            .map(to_record)
            .collect();
        // Stable: the rest stays sorted.
        out.sort_by_key(|r| r.rtype != rtype::SOA);
        out
    };
    (changed(old, new), changed(new, old))
}

/// RFC 1982 serial number arithmetic: whether `a` is newer than `b`.
/// Serials exactly 2^31 apart are incomparable (neither is newer).
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The serial of an SOA RDATA.
pub fn soa_serial(rdata: &[u8]) -> Option<u32> {
    crate::build::soa_fields(rdata).map(|(serial, _)| serial)
}

/// A copy of an SOA RDATA with the serial replaced.
pub fn with_serial(rdata: &[u8], serial: u32) -> Option<Box<[u8]>> {
    let soa = wire::soa::parse(rdata).filter(|s| s.exact)?;
    let at = soa.fixed_at;
    let mut out: Box<[u8]> = rdata.into();
    out[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    Some(out)
}

/// How the SOA serial moves when rampart changes a zone (an update).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SerialPolicy {
    /// One more than before.
    #[default]
    Increment,
    /// Left as it is (the update must change it itself).
    Keep,
    /// The Unix time, or one more than before if that is not newer.
    UnixTime,
    /// `YYYYMMDDnn` of today (UTC), or one more than before if that is not
    /// newer.
    DateSerial,
}

impl SerialPolicy {
    /// Reads `increment`, `keep`, `unixtime` or `dateserial` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "increment" => Some(Self::Increment),
            "keep" => Some(Self::Keep),
            "unixtime" => Some(Self::UnixTime),
            "dateserial" => Some(Self::DateSerial),
            _ => None,
        }
    }

    /// The name [`SerialPolicy::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Increment => "increment",
            Self::Keep => "keep",
            Self::UnixTime => "unixtime",
            Self::DateSerial => "dateserial",
        }
    }

    /// The serial after `old` at Unix time `now`. Newer than `old`
    /// (RFC 1982) under every policy but `Keep`, which returns `old`.
    pub fn next(self, old: u32, now: u64) -> u32 {
        let bumped = old.wrapping_add(1);
        let candidate = match self {
            Self::Keep => return old,
            Self::Increment => return bumped,
            Self::UnixTime => u32::try_from(now).ok(),
            Self::DateSerial => {
                let (y, m, d) = civil_date(now);
                u32::try_from(y * 1_000_000 + u64::from(m) * 10_000 + u64::from(d) * 100).ok()
            }
        };
        match candidate {
            Some(c) if serial_gt(c, old) => c,
            _ => bumped,
        }
    }
}

/// The UTC calendar date (year, month, day) of Unix time `secs`.
fn civil_date(secs: u64) -> (u64, u32, u32) {
    let ((y, m, d), _) = wire::time::civil(i64::try_from(secs).unwrap_or(i64::MAX));
    (u64::try_from(y).unwrap_or(0), m, d)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const ZONE: &str = "$TTL 300\n\
        @ SOA ns1 hostmaster 2024010101 3600 600 86400 60\n\
        @ NS ns1\n\
        @ NS ns2.example.net.\n\
        @ MX 10 mail\n\
        @ MX 20 Mail2.Example.NET.\n\
        ns1 A 192.0.2.1\n\
        mail 60 A 192.0.2.2\n\
        mail AAAA 2001:db8::2\n\
        www CNAME mail\n\
        *.wild TXT \"wildcard\"\n\
        a.b.c TXT \"deep\" \"two strings\"\n\
        sub NS ns.sub\n\
        sub NS ns.example.net.\n\
        ns.sub A 192.0.2.53\n\
        _sip._tcp SRV 0 5 5060 sip\n";

    fn loaded() -> crate::Zone {
        crate::load_zone_bytes("example.org", ZONE.as_bytes(), Path::new("t.zone"))
            .unwrap()
            .zone
    }

    use crate::test_util::{name, rec};

    #[test]
    fn collected_all_at_once_equals_inserted_one_by_one() {
        // Out of order, with a record given twice (the second TTL wins,
        // as with insert) and one given three times.
        let recs = [
            rec("b.example.org", 1, 60, &[192, 0, 2, 2]),
            rec("a.example.org", 1, 60, &[192, 0, 2, 1]),
            rec("b.example.org", 1, 90, &[192, 0, 2, 2]),
            rec("a.example.org", 28, 60, &[0; 16]),
            rec("a.example.org", 1, 30, &[192, 0, 2, 9]),
            rec("a.example.org", 1, 10, &[192, 0, 2, 1]),
            rec("a.example.org", 1, 20, &[192, 0, 2, 1]),
        ];
        let mut one_by_one = RecordSet::new();
        for r in recs.iter().cloned() {
            one_by_one.insert(r);
        }
        let at_once: RecordSet = recs.iter().cloned().collect();
        assert_eq!(at_once, one_by_one);
        assert_eq!(at_once.len(), 4);
        let b = at_once.records_at(&name("b.example.org"));
        assert_eq!(b[0].ttl, 90);
        let a = at_once.records_at(&name("a.example.org"));
        assert!(
            a.iter()
                .any(|r| r.rdata[..] == [192, 0, 2, 1] && r.ttl == 20),
            "{a:?}"
        );
    }

    #[test]
    fn zone_round_trip() {
        let zone = loaded();
        let set = RecordSet::from_zone(&zone);
        assert_eq!(set.len(), zone.records);
        assert_eq!(set.len(), 15);
        let apex = name("example.org");
        let soa = set.soa(&apex).unwrap();
        assert_eq!(soa_serial(&soa.rdata), Some(2024010101));
        assert!(set.has_name(&name("*.wild.example.org")));
        assert!(!set.has_name(&name("c.example.org")), "empty non-terminal");
        assert_eq!(set.rrset(&apex, rtype::MX).len(), 2);
        assert_eq!(set.rrset(&name("mail.example.org"), rtype::A)[0].ttl, 60);
        // Names in RDATA came out lowercase.
        assert!(set
            .rrset(&apex, rtype::MX)
            .iter()
            .any(|r| r.rdata[2..] == *name("mail2.example.net")));

        let (zone2, warnings) = set.to_zone(&apex, "update").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(zone2.serial, 2024010101);
        assert_eq!(zone2.records, zone.records);
        let sub = zone2.node(&name("sub.example.org")).unwrap();
        assert!(sub.is_cut);
        assert!(zone2.node(&name("ns.sub.example.org")).unwrap().occluded);
        assert!(zone2.node(&name("c.example.org")).unwrap().is_empty());
        assert_eq!(RecordSet::from_zone(&zone2), set);

        // Iteration is sorted: owner, then type, then RDATA.
        let all: Vec<Record> = set.iter().collect();
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| (&a.owner, a.rtype, &a.rdata).cmp(&(&b.owner, b.rtype, &b.rdata)));
        assert_eq!(all, sorted);
        assert_eq!(all.iter().cloned().collect::<RecordSet>(), set);
    }

    #[test]
    fn set_semantics() {
        let mut set = RecordSet::new();
        let a = rec("x.example.org", rtype::A, 60, &[192, 0, 2, 1]);
        assert!(set.insert(a.clone()));
        let mut a300 = a.clone();
        a300.ttl = 300;
        assert!(!set.insert(a300.clone()), "same record, new TTL");
        assert_eq!(set.len(), 1);
        assert_eq!(set.iter().next().unwrap().ttl, 300);
        assert!(set.contains(&a));
        assert_eq!(set.ttl_of(&a), Some(300));
        set.insert(rec("x.example.org", rtype::A, 60, &[192, 0, 2, 2]));
        set.insert(rec("x.example.org", rtype::TXT, 60, b"\x01t"));
        set.insert(rec("y.example.org", rtype::A, 60, &[192, 0, 2, 3]));
        // A name that sorts right after x (longer first label).
        set.insert(rec("xx.example.org", rtype::A, 60, &[192, 0, 2, 4]));
        assert_eq!(set.types_at(&name("x.example.org")), [rtype::A, rtype::TXT]);
        assert_eq!(set.remove_rrset(&name("x.example.org"), rtype::A).len(), 2);
        assert!(set.has_name(&name("x.example.org")));
        assert_eq!(set.remove_name(&name("x.example.org")).len(), 1);
        assert!(!set.has_name(&name("x.example.org")));
        assert!(set.has_name(&name("xx.example.org")));
        assert!(!set.remove(&a));
        assert_eq!(set.len(), 2);
        assert!(set.rrset(&name("y.example.org"), u16::MAX).is_empty());
    }

    #[test]
    fn diff_lists_changes_with_soa_first() {
        let old = RecordSet::from_zone(&loaded());
        let mut new = old.clone();
        let apex = name("example.org");
        let soa = new.remove_rrset(&apex, rtype::SOA).remove(0);
        let new_soa = Record {
            rdata: with_serial(&soa.rdata, 2024010102).unwrap(),
            ..soa.clone()
        };
        new.insert(new_soa.clone());
        // A TTL change, a removal and an addition.
        new.insert(rec("mail.example.org", rtype::A, 120, &[192, 0, 2, 2]));
        new.remove(&rec("ns1.example.org", rtype::A, 0, &[192, 0, 2, 1]));
        new.insert(rec("a.example.org", rtype::A, 60, &[192, 0, 2, 9]));
        let (removed, added) = diff(&old, &new);
        assert_eq!(removed.len(), 3);
        assert_eq!(added.len(), 3);
        assert_eq!(removed[0], soa);
        assert_eq!(added[0], new_soa);
        // Sorted by owner in wire form: the shorter first label first.
        assert_eq!(removed[1].owner, name("ns1.example.org"));
        assert_eq!(removed[2].owner, name("mail.example.org"));
        assert_eq!(removed[2].ttl, 60);
        assert_eq!(added[1].owner, name("a.example.org"));
        assert_eq!(added[2].ttl, 120);
        assert_eq!(diff(&new, &new), (vec![], vec![]));
    }

    #[test]
    fn to_zone_refuses_what_a_zone_file_could_not_hold() {
        let mut set = RecordSet::from_zone(&loaded());
        set.insert(rec("www.example.org", rtype::A, 60, &[192, 0, 2, 7]));
        let e = set
            .to_zone(&name("example.org"), "AXFR from 192.0.2.1")
            .unwrap_err();
        assert_eq!(e.file, Path::new("AXFR from 192.0.2.1"));
        assert_eq!(e.line, None);
        assert_eq!(
            e.to_string(),
            "AXFR from 192.0.2.1: CNAME and A at www.example.org.: expected no other \
             data beside a CNAME"
        );
        let mut set = RecordSet::from_zone(&loaded());
        set.remove_rrset(&name("example.org"), rtype::SOA);
        let e = set.to_zone(&name("example.org"), "update").unwrap_err();
        assert!(e.to_string().starts_with("update: no SOA record"), "{e}");
        // Mixed TTLs in an RRset warn, naming the source.
        let mut set = RecordSet::from_zone(&loaded());
        set.insert(rec("ns1.example.org", rtype::A, 5, &[192, 0, 2, 100]));
        let (_, w) = set.to_zone(&name("example.org"), "update").unwrap();
        assert!(w.iter().any(|w| w.starts_with("update: TTL")), "{w:?}");
    }

    #[test]
    fn normalize_lowercases_owner_and_rdata_names() {
        let mut r = Record {
            owner: b"\x03WWW\x07Example\x03ORG\x00"[..].into(),
            rtype: rtype::MX,
            ttl: 1,
            rdata: b"\x00\x0a\x02MX\x07Example\x03ORG\x00"[..].into(),
        };
        normalize(&mut r);
        assert_eq!(&*r.owner, b"\x03www\x07example\x03org\x00");
        assert_eq!(&*r.rdata, b"\x00\x0a\x02mx\x07example\x03org\x00");
        let mut t = rec("x.example.org", rtype::TXT, 1, b"\x02AB");
        normalize(&mut t);
        assert_eq!(&*t.rdata, b"\x02AB", "TXT keeps its case");
    }

    #[test]
    fn serial_arithmetic() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(!serial_gt(5, 5));
        assert!(serial_gt(0, u32::MAX), "wraps");
        assert!(serial_gt(5, u32::MAX - 5));
        assert!(!serial_gt(u32::MAX, 0));
        // Exactly 2^31 apart: neither is newer.
        assert!(!serial_gt(1 << 31, 0));
        assert!(!serial_gt(0, 1 << 31));
        assert!(serial_gt((1 << 31) - 1, 0));

        let soa = crate::parse_name("ns.example.org").unwrap();
        let mut rdata = soa.clone();
        rdata.extend_from_slice(&soa);
        rdata.extend_from_slice(&[0, 0, 0, 42, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
        assert_eq!(soa_serial(&rdata), Some(42));
        let changed = with_serial(&rdata, 43).unwrap();
        assert_eq!(soa_serial(&changed), Some(43));
        assert_eq!(changed.len(), rdata.len());
        assert_eq!(&changed[changed.len() - 16..], &rdata[rdata.len() - 16..]);
        assert_eq!(with_serial(&rdata[..rdata.len() - 1], 1), None);
        assert_eq!(soa_serial(b"\x00"), None);
    }

    #[test]
    fn serial_policies() {
        use SerialPolicy::*;
        // 2024-02-29 12:00:00 UTC.
        let leap_day = 1_709_208_000;
        assert_eq!(civil_date(leap_day), (2024, 2, 29));
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_735_689_599), (2024, 12, 31));
        assert_eq!(civil_date(1_735_689_600), (2025, 1, 1));

        assert_eq!(Increment.next(7, leap_day), 8);
        assert_eq!(Increment.next(u32::MAX, leap_day), 0);
        assert_eq!(Keep.next(7, leap_day), 7);
        assert_eq!(UnixTime.next(7, leap_day), 1_709_208_000);
        assert_eq!(UnixTime.next(2_000_000_000, leap_day), 2_000_000_001);
        // Serial arithmetic: the time is newer than u32::MAX (which is
        // just behind 0), but not newer than a serial just ahead of it.
        assert_eq!(UnixTime.next(u32::MAX, leap_day), 1_709_208_000);
        assert_eq!(UnixTime.next(1_709_208_005, leap_day), 1_709_208_006);
        assert_eq!(DateSerial.next(2024022800, leap_day), 2024022900);
        assert_eq!(DateSerial.next(2024022900, leap_day), 2024022901);
        assert_eq!(DateSerial.next(2024022907, leap_day), 2024022908);
        assert_eq!(DateSerial.next(2024030100, leap_day), 2024030101);
        assert_eq!(DateSerial.next(1, leap_day), 2024022900);
        // Far beyond what a date serial fits: one more instead.
        assert_eq!(DateSerial.next(5, u64::MAX / 2), 6);
        for policy in [Increment, UnixTime, DateSerial] {
            for old in [0, 1, 2024022900, 1 << 31, u32::MAX, u32::MAX - 1] {
                let new = policy.next(old, leap_day);
                assert!(serial_gt(new, old), "{policy:?} {old} -> {new}");
            }
        }
        for p in [Increment, Keep, UnixTime, DateSerial] {
            assert_eq!(SerialPolicy::parse(p.name()), Some(p));
        }
        assert_eq!(SerialPolicy::parse("DateSerial"), Some(DateSerial));
        assert_eq!(SerialPolicy::parse("date"), None);
    }
}
