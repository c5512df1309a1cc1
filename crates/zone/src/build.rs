//! From scanned records to a [`Zone`], refusing what must not be served.
//!
//! The checks are the ones that make answers wrong if skipped (Knot's
//! semantic checks, error level): data outside the zone, no SOA at the
//! apex (no NS is a warning, as in Knot), SOA elsewhere, CNAME beside other data, more than one CNAME
//! or DNAME at a name. Duplicate records are dropped and TTL mismatches
//! inside an RRset are reported as warnings (the last TTL wins, as the
//! test below shows; RFC 2181 §5.2 wants one TTL per RRset).

use rustc_hash::FxHashMap;
use wire::name::{is_subdomain, to_text, uncompressed_len};
use wire::types::rtype;

use crate::scan::ScannedRecord;
use crate::source::{Normalized, SourceError};
use crate::tree::{Node, RRset, Zone};

/// Builds the zone with apex `apex` (lowercase wire) from `records`.
///
/// Returns the zone and warnings (each already prefixed `file:line:`).
pub fn build(
    apex: &[u8],
    mut records: Vec<ScannedRecord>,
    text: &Normalized,
) -> Result<(Zone, Vec<String>), SourceError> {
    let mut warnings = Vec::new();
    let apex_text = to_text(apex);

    for r in &records {
        if !is_subdomain(&r.owner, apex) {
            return Err(text.error_at(
                r.line as usize,
                format!(
                    "{} is outside the zone {apex_text}: expected names at or below the origin",
                    to_text(&r.owner)
                ),
            ));
        }
    }

    // Group by owner, then type; keep file order inside an RRset.
    records.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype)));

    let mut nodes: FxHashMap<Box<[u8]>, Node> = FxHashMap::default();
    nodes.reserve(records.len());
    let mut total = 0usize;
    let mut i = 0;
    while i < records.len() {
        let owner_end = records[i..]
            .iter()
            .position(|r| r.owner != records[i].owner)
            .map_or(records.len(), |p| i + p);
        let group = &records[i..owner_end];
        let (rrsets, count) = build_node(apex, group, text, &mut warnings)?;
        total += count;
        // The owner moves into the node and the scanned RDATA (now copied
        // into the RRsets) is freed at once: a million-record zone keeps
        // one copy of each at a time, not two.
        for r in &mut records[i + 1..owner_end] {
            r.owner = Box::default();
            r.rdata = Box::default();
        }
        let owner = std::mem::take(&mut records[i].owner);
        records[i].rdata = Box::default();
        nodes.insert(
            owner,
            Node {
                rrsets: rrsets.into_boxed_slice(),
                is_cut: false,
                occluded: false,
                children: 0,
            },
        );
        i = owner_end;
    }
    drop(records);

    let apex_node = nodes.get(apex);
    let (serial, negative_ttl, signed) =
        apex_node.and_then(apex_facts).ok_or_else(|| SourceError {
            file: text.files.first().cloned().unwrap_or_default(),
            line: None,
            message: format!("no SOA record at the zone apex {apex_text}: expected exactly one"),
        })?;
    if apex_node.and_then(|n| n.get(rtype::NS)).is_none() {
        // Knot warns and NSD says nothing; the zone is served either way.
        warnings.push(format!(
            "{}: no NS records at the zone apex {apex_text}; secondaries and resolvers expect some",
            text.files
                .first()
                .map(|f| f.display().to_string())
                .unwrap_or_default()
        ));
    }

    if signed {
        warnings.push(format!(
            "{}: zone {apex_text} is DNSSEC-signed; its records are served, but RRSIGs and \
             NSEC/NSEC3 proofs are not yet added to answers for DO queries",
            text.files
                .first()
                .map(|f| f.display().to_string())
                .unwrap_or_default()
        ));
    }
    for (owner, node) in &nodes {
        if owner.starts_with(b"\x01*") && node.get(rtype::NS).is_some() {
            warnings.push(format!(
                "wildcard NS at {} in zone {apex_text}: RFC 4592 §4.2 leaves it undefined; \
                 names it covers are answered, not referred",
                to_text(owner)
            ));
        }
    }

    add_empty_non_terminals(apex, &mut nodes);
    count_children(apex, &mut nodes);
    for hidden in mark_cuts(apex, &mut nodes) {
        warnings.push(format!(
            "{} is below a DNAME in zone {apex_text}: its records are never served (RFC 6672 §2.4)",
            to_text(&hidden)
        ));
    }

    let mut zone = Zone::new(apex, nodes);
    zone.records = total;
    zone.set_apex_facts(serial, negative_ttl, signed);
    Ok((zone, warnings))
}

/// Checks and builds the RRsets of one owner (records sorted by type).
pub(crate) fn build_node(
    apex: &[u8],
    group: &[ScannedRecord],
    text: &Normalized,
    warnings: &mut Vec<String>,
) -> Result<(Vec<RRset>, usize), SourceError> {
    let owner = &group[0].owner;
    let is_apex = &**owner == apex;
    let mut rrsets = Vec::new();
    let mut count = 0;
    let mut j = 0;
    while j < group.len() {
        let t = group[j].rtype;
        let end = group[j..]
            .iter()
            .position(|r| r.rtype != t)
            .map_or(group.len(), |p| j + p);
        let set = &group[j..end];
        let mut rdatas: Vec<&[u8]> = Vec::with_capacity(set.len());
        // Duplicates are dropped (names in RDATA were lowercased by the
        // scan, so bytes compare as RFC 4034 §6.2 says); a hash set keeps
        // huge RRsets linear.
        let mut seen: rustc_hash::FxHashSet<&[u8]> = rustc_hash::FxHashSet::default();
        for r in set {
            if !seen.insert(&r.rdata) {
                continue; // duplicate record
            }
            let ttl = set[set.len() - 1].ttl;
            if r.ttl != ttl {
                // Records from a transfer or an update have no line:
                // name the source alone.
                let place = match text.origin_of(r.line as usize) {
                    Some((file, line)) => format!("{}:{line}", file.display()),
                    None => text
                        .files
                        .first()
                        .map(|f| f.display().to_string())
                        .unwrap_or_default(),
                };
                warnings.push(format!(
                    "{place}: TTL {} differs from the RRset's TTL {} for {} {}; using {}",
                    r.ttl,
                    ttl,
                    to_text(owner),
                    type_name(t),
                    ttl
                ));
            }
            rdatas.push(&r.rdata);
        }
        match t {
            rtype::SOA if !is_apex => {
                return Err(text.error_at(
                    set[0].line as usize,
                    format!(
                        "SOA record at {}: expected SOA only at the zone apex {}",
                        to_text(owner),
                        to_text(apex)
                    ),
                ));
            }
            // Generic RDATA (`\# 3 010203`) can hold anything: an SOA
            // must hold its two names and five numbers.
            rtype::SOA if rdatas.iter().any(|r| soa_fields(r).is_none()) => {
                return Err(text.error_at(
                    set[0].line as usize,
                    format!(
                        "malformed SOA record at {}: expected MNAME RNAME SERIAL REFRESH RETRY \
                         EXPIRE MINIMUM",
                        to_text(owner)
                    ),
                ));
            }
            rtype::SOA | rtype::CNAME | rtype::DNAME if rdatas.len() > 1 => {
                return Err(text.error_at(
                    set[1].line as usize,
                    format!(
                        "more than one {} record at {}: expected exactly one",
                        type_name(t),
                        to_text(owner)
                    ),
                ));
            }
            _ => {}
        }
        count += rdatas.len();
        rrsets.push(RRset::new(t, set[set.len() - 1].ttl, &rdatas));
        j = end;
    }

    // CNAME may share its name only with DNSSEC data (RFC 2181 §10.1,
    // RFC 4035 §2.5), and not with DNAME (RFC 6672 §2.4).
    if let Some(cname) = group.iter().find(|r| r.rtype == rtype::CNAME) {
        if let Some(other) = group
            .iter()
            .find(|r| !matches!(r.rtype, rtype::CNAME | rtype::RRSIG | rtype::NSEC))
        {
            let line = cname.line.max(other.line);
            return Err(text.error_at(
                line as usize,
                format!(
                    "CNAME and {} at {}: expected no other data beside a CNAME",
                    type_name(other.rtype),
                    to_text(owner)
                ),
            ));
        }
        if is_apex {
            return Err(text.error_at(
                cname.line as usize,
                format!(
                    "CNAME at the zone apex {}: expected SOA and NS there",
                    to_text(owner)
                ),
            ));
        }
    }
    Ok((rrsets, count))
}

/// Adds an empty node for every missing ancestor of every owner, down
/// from the apex (RFC 4592 §2.2.2: empty non-terminals exist).
fn add_empty_non_terminals(apex: &[u8], nodes: &mut FxHashMap<Box<[u8]>, Node>) {
    let mut missing: Vec<Box<[u8]>> = Vec::new();
    for owner in nodes.keys() {
        let mut pos = 0;
        while owner.len() - pos > apex.len() {
            pos += 1 + owner[pos] as usize;
            let ancestor = &owner[pos..];
            if ancestor.len() <= apex.len() {
                break;
            }
            if !nodes.contains_key(ancestor) {
                missing.push(ancestor.into());
            }
        }
    }
    for name in missing {
        nodes.entry(name).or_default();
    }
}

/// Counts every node's children (one label below it).
fn count_children(apex: &[u8], nodes: &mut FxHashMap<Box<[u8]>, Node>) {
    let parents: Vec<Box<[u8]>> = nodes
        .keys()
        .filter(|owner| owner.len() > apex.len())
        .map(|owner| owner[1 + owner[0] as usize..].into())
        .collect();
    for p in parents {
        if let Some(n) = nodes.get_mut(&p) {
            n.children += 1;
        }
    }
}

/// Flags zone cuts and the names below them (and below DNAMEs); returns
/// the names with data that a DNAME hides.
fn mark_cuts(apex: &[u8], nodes: &mut FxHashMap<Box<[u8]>, Node>) -> Vec<Box<[u8]>> {
    let mut cuts = Vec::new();
    let mut occluded = Vec::new();
    let mut under_dname = Vec::new();
    for (owner, node) in nodes.iter() {
        if &**owner != apex && node.get(rtype::NS).is_some() {
            cuts.push(owner.clone());
        }
        // Walk the strict ancestors below the apex.
        let mut pos = 0;
        while owner.len() - pos > apex.len() {
            pos += 1 + owner[pos] as usize;
            let ancestor = &owner[pos..];
            let Some(a) = nodes.get(ancestor) else {
                continue;
            };
            let is_cut = ancestor.len() > apex.len() && a.get(rtype::NS).is_some();
            if is_cut || a.get(rtype::DNAME).is_some() {
                occluded.push(owner.clone());
                if !is_cut && !node.is_empty() {
                    under_dname.push(owner.clone());
                }
                break;
            }
        }
    }
    for c in cuts {
        if let Some(n) = nodes.get_mut(&c) {
            n.is_cut = true;
        }
    }
    for o in occluded {
        if let Some(n) = nodes.get_mut(&o) {
            n.occluded = true;
        }
    }
    under_dname.sort();
    under_dname
}

/// Serial, negative TTL and whether signed, from the apex node.
pub(crate) fn apex_facts(apex_node: &Node) -> Option<(u32, u32, bool)> {
    let soa = apex_node.get(rtype::SOA)?;
    let (serial, minimum) = soa_fields(soa.first())?;
    let signed = apex_node.get(rtype::DNSKEY).is_some() && apex_node.get(rtype::RRSIG).is_some();
    Some((serial, soa.ttl().min(minimum), signed))
}

/// SOA serial and MINIMUM from its RDATA.
pub fn soa_fields(rdata: &[u8]) -> Option<(u32, u32)> {
    let m = uncompressed_len(rdata)?;
    let r = uncompressed_len(&rdata[m..])?;
    let fixed = rdata.get(m + r..m + r + 20)?;
    let serial = u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
    let minimum = u32::from_be_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]);
    Some((serial, minimum))
}

/// A type's mnemonic for messages.
pub fn type_name(t: u16) -> String {
    domain::base::iana::Rtype::from_int(t).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::load_zone_bytes;

    const HEAD: &str = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";

    fn load(body: &str) -> crate::Loaded {
        load_zone_bytes(
            "example.test",
            format!("{HEAD}{body}").as_bytes(),
            Path::new("t.zone"),
        )
        .unwrap()
    }

    #[test]
    fn duplicates_compare_names_without_case() {
        let z = load("x NS ns.Example.test.\nx NS NS.example.TEST.\nx MX 1 A.b.\nx MX 1 a.B.\nx TXT \"A\"\nx TXT \"a\"\n").zone;
        let node = z.node(b"\x01x\x07example\x04test\x00").unwrap();
        assert_eq!(node.get(2).unwrap().len(), 1);
        assert_eq!(node.get(15).unwrap().len(), 1);
        assert_eq!(node.get(16).unwrap().len(), 2, "TXT data keeps its case");
    }

    #[test]
    fn warns_about_what_is_not_served_as_written() {
        let w = load("*.w NS ns\nd DNAME example.net.\nx.d A 192.0.2.9\n").warnings;
        assert!(
            w.iter()
                .any(|m| m.contains("wildcard NS at *.w.example.test.")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.contains("x.d.example.test. is below a DNAME")),
            "{w:?}"
        );
        let w = load("@ DNSKEY 257 3 13 AQID\n@ RRSIG SOA 13 2 60 20300101000000 20200101000000 1 example.test. AQID\n").warnings;
        assert!(w.iter().any(|m| m.contains("is DNSSEC-signed")), "{w:?}");
    }

    #[test]
    fn a_malformed_soa_is_an_error_with_its_line() {
        let e = load_zone_bytes(
            "example.test",
            b"$TTL 60\n@ NS ns\n@ SOA \\# 3 010203\nns A 192.0.2.1\n",
            Path::new("t.zone"),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("malformed SOA record"), "{e}");
    }

    #[test]
    fn mixed_ttls_take_the_last_and_warn() {
        let l = load("m 100 A 192.0.2.1\nm 200 A 192.0.2.2\n");
        let node = l.zone.node(b"\x01m\x07example\x04test\x00").unwrap();
        assert_eq!(node.get(1).unwrap().ttl(), 200);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.starts_with("t.zone:5: TTL 100 differs")),
            "{:?}",
            l.warnings
        );
    }
}
