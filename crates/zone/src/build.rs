//! From scanned records to a [`Zone`], refusing what must not be served.
//!
//! The checks are the ones that make answers wrong if skipped (Knot's
//! semantic checks, error level): data outside the zone, no SOA at the
//! apex (no NS is a warning, as in Knot), SOA elsewhere, CNAME beside other data, more than one CNAME
//! or DNAME at a name. Duplicate records are dropped and TTL mismatches
//! inside an RRset are reported as warnings (the last TTL wins, as the
//! test below shows; RFC 2181 §5.2 wants one TTL per RRset).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use wire::name::{is_subdomain, parent, to_text};
use wire::types::rtype;

use crate::denial::{
    hash_of_owner, type_covered, Denial, Nsec3Index, Nsec3Params, NsecIndex, ITERATIONS_MAX,
    ITERATIONS_WARN,
};
use crate::scan::{Rec, Scanned};
use crate::source::{Normalized, SourceError, SourceErrorKind};
use crate::tree::{push_set, Node, NodeTable, TooLarge, Zone};

/// Errors found while building, with the index of their file.
type Errors = Vec<(u16, SourceError)>;

/// Builds the zone with apex `apex` (lowercase wire) from `records`.
///
/// Returns the zone and warnings (each already prefixed `file:line:`).
/// `Err` holds every error: those `text` holds (from reading the file)
/// and every rule a record breaks, in file order (see [`SourceError`]).
/// With errors from reading, the records read are still checked, but
/// not whether the apex has its SOA (its line may be the bad one).
pub fn build(
    apex: &[u8],
    records: Scanned,
    text: &Normalized,
) -> Result<(Zone, Vec<String>), SourceError> {
    let mut errors = Errors::new();
    let fatal = match build_reading_on(apex, records, text, &mut errors) {
        Ok(Some(built)) if errors.is_empty() && text.errors.is_empty() => return Ok(built),
        Ok(_) => None,
        // Too large to build: nothing after is checked.
        Err(e) => Some((0, e)),
    };
    Err(text
        .errors_with(errors.into_iter().chain(fatal))
        .unwrap_or_else(|| {
            let file = text.files.first().cloned().unwrap_or_default();
            SourceError::new(file, None, SourceErrorKind::NotBuilt)
        }))
}

/// [`build`], with the rules broken in `errors`; `Ok(None)` if there
/// are any, `Err` if the zone is too large to build.
fn build_reading_on(
    apex: &[u8],
    mut records: Scanned,
    text: &Normalized,
    errors: &mut Errors,
) -> Result<Option<(Zone, Vec<String>)>, SourceError> {
    let apex_text = to_text(apex);

    let mut outside = false;
    for r in records.recs() {
        let owner = records.owner(r);
        if !is_subdomain(owner, apex) {
            outside = true;
            errors.push((
                r.file,
                text.error_at_source(
                    r.file,
                    r.line,
                    SourceErrorKind::OutsideZone {
                        name: owner.into(),
                        apex: apex.into(),
                    },
                ),
            ));
        }
    }
    if outside {
        // Reported: check the rest.
        let mut recs = std::mem::take(records.recs_mut());
        recs.retain(|r| is_subdomain(records.owner(r), apex));
        *records.recs_mut() = recs;
    }

    // NSEC3 records (and the RRSIGs over them) are no names of the zone:
    // they go to a table of their own.
    let (nsec3_recs, has_nsec) = take_nsec3(&mut records);

    // Zone files mostly keep an owner's records together: build from the
    // runs as they are, and sort by owner only if an owner comes back.
    // A failing zone is built sorted as well, so its error is the one
    // the whole owner's records give, split or not.
    let mut first_errors = Errors::new();
    let (mut nodes, total, mut warnings, shapes) =
        match build_nodes(apex, &records, text, &mut first_errors)? {
            Some(built) if first_errors.is_empty() => built,
            _ => {
                let mut recs = std::mem::take(records.recs_mut());
                // Stable: file order stays inside an RRset.
                recs.sort_by(|a, b| records.owner(a).cmp(records.owner(b)));
                *records.recs_mut() = recs;
                build_nodes(apex, &records, text, errors)?.ok_or_else(|| too_large(text, apex))?
            }
        };

    // The passes below walk the owners in the scanned arena, in order,
    // rather than the table, whose order would make every step a cache
    // miss.
    let owners = || records.recs().chunk_by(|a, b| same_owner(&records, a, b));
    let owners = || owners().map(|run| records.owner(&run[0]));
    let ents =
        add_empty_non_terminals(apex, owners(), &mut nodes).map_err(|_| too_large(text, apex))?;
    let all = || owners().chain(ents.iter().map(|e| &e[..]));
    for owner in all() {
        if let Some(p) = parent(owner).filter(|_| owner.len() > apex.len()) {
            nodes.add_child(p);
        }
    }
    let hidden = mark_cuts(apex, all(), &shapes, &mut nodes);
    let nsec3_count = nsec3_recs.len();
    let nsec3 = build_nsec3(
        apex,
        &records,
        nsec3_recs,
        nodes.get(apex).map(|(_, n)| n),
        text,
        &mut warnings,
        errors,
    )?;
    drop(records);
    let denial = match nsec3 {
        Some(index) => Some(Denial::Nsec3(index)),
        None if has_nsec => Some(Denial::Nsec(NsecIndex::build(&nodes))),
        None => None,
    };

    let apex_node = nodes.get(apex).map(|(_, n)| n);
    let Some((serial, negative_ttl, signed)) = apex_node.and_then(apex_facts) else {
        if errors.is_empty() && text.errors.is_empty() {
            let file = text.files.first().cloned().unwrap_or_default();
            errors.push((0, SourceError::new(file, None, no_soa(apex))));
        }
        return Ok(None);
    };
    if !errors.is_empty() || !text.errors.is_empty() {
        return Ok(None);
    }
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

    if signed && denial.is_none() {
        warnings.push(format!(
            "{}: zone {apex_text} is DNSSEC-signed but holds no NSEC or NSEC3 records; \
             negative answers to DO queries carry no proof and will not validate",
            text.files
                .first()
                .map(|f| f.display().to_string())
                .unwrap_or_default()
        ));
    }
    for (owner, shape) in &shapes {
        if owner.starts_with(b"\x01*") && shape.ns {
            warnings.push(format!(
                "wildcard NS at {} in zone {apex_text}: RFC 4592 §4.2 leaves it undefined; \
                 names it covers are answered, not referred",
                to_text(owner)
            ));
        }
    }
    for hidden in hidden {
        warnings.push(format!(
            "{} is below a DNAME in zone {apex_text}: its records are never served (RFC 6672 §2.4)",
            to_text(&hidden)
        ));
    }

    let mut zone = Zone::new(apex, nodes);
    zone.records = total + nsec3_count;
    zone.denial = denial.map(Arc::new);
    zone.set_apex_facts(serial, negative_ttl, signed);
    Ok(Some((zone, warnings)))
}

/// Takes the NSEC3 records and the RRSIGs over them out of `records`;
/// also says whether any NSEC record is there.
fn take_nsec3(records: &mut Scanned) -> (Vec<Rec>, bool) {
    let mut has_nsec = false;
    let mut has_nsec3 = false;
    for r in records.recs() {
        has_nsec |= r.rtype == rtype::NSEC;
        has_nsec3 |= r.rtype == rtype::NSEC3;
    }
    if !has_nsec3 {
        return (Vec::new(), has_nsec);
    }
    let recs = std::mem::take(records.recs_mut());
    let is_nsec3 = |r: &Rec| {
        r.rtype == rtype::NSEC3
            || (r.rtype == rtype::RRSIG && type_covered(records.rdata(r)) == Some(rtype::NSEC3))
    };
    let (nsec3, rest): (Vec<Rec>, Vec<Rec>) = recs.into_iter().partition(is_nsec3);
    *records.recs_mut() = rest;
    (nsec3, has_nsec)
}

/// The NSEC3 chain from the records [`take_nsec3`] took, hashed with the
/// apex NSEC3PARAM's parameters (else the first NSEC3's); `None` if there
/// are none or their hash is not SHA-1.
fn build_nsec3(
    apex: &[u8],
    records: &Scanned,
    mut recs: Vec<Rec>,
    apex_node: Option<Node<'_>>,
    text: &Normalized,
    warnings: &mut Vec<String>,
    errors: &mut Errors,
) -> Result<Option<Nsec3Index>, SourceError> {
    if recs.is_empty() {
        return Ok(None);
    }
    let apex_text = to_text(apex);
    let params = apex_node
        .and_then(|n| n.get(rtype::NSEC3PARAM))
        .and_then(|s| s.rdatas().find_map(Nsec3Params::from_rdata))
        .or_else(|| {
            recs.iter()
                .filter(|r| r.rtype == rtype::NSEC3)
                .find_map(|r| Nsec3Params::from_rdata(records.rdata(r)))
        });
    let Some(params) = params else {
        warnings.push(format!(
            "zone {apex_text}: its NSEC3 records use no hash algorithm this server knows \
             (only SHA-1 is defined); they are not served"
        ));
        return Ok(None);
    };
    if params.iterations > ITERATIONS_MAX {
        warnings.push(format!(
            "zone {apex_text}: NSEC3 with {} iterations (more than RFC 5155's {ITERATIONS_MAX}); \
             negative answers carry no NSEC3 proof",
            params.iterations
        ));
    } else if params.iterations > ITERATIONS_WARN {
        warnings.push(format!(
            "zone {apex_text}: NSEC3 with {} iterations costs every negative answer that many \
             SHA-1 rounds per name, and validators treat more than {ITERATIONS_WARN} as insecure \
             (RFC 9276 advises 0)",
            params.iterations
        ));
    }
    // Stable: file order stays inside an RRset.
    recs.sort_by(|a, b| records.owner(a).cmp(records.owner(b)));
    let bytes = recs
        .iter()
        .map(|r| records.owner(r).len() + SET_OVERHEAD + records.rdata(r).len())
        .sum();
    let mut nodes = NodeTable::with_capacity(recs.len() / 2, bytes);
    let mut data = Vec::new();
    let mut rdatas = Vec::new();
    for run in recs.chunk_by(|a, b| same_owner(records, a, b)) {
        let owner = records.owner(&run[0]);
        if parent(owner) != Some(apex) || hash_of_owner(owner).is_none() {
            warnings.push(format!(
                "{}: NSEC3 at {} in zone {apex_text}: expected a base32hex SHA-1 hash one label \
                 below the apex; not served",
                text.place(run[0].file, run[0].line),
                to_text(owner)
            ));
            continue;
        }
        let mut group = run.to_vec();
        group.sort_by_key(|r| r.rtype);
        data.clear();
        build_node_with(
            apex,
            records,
            &group,
            text,
            warnings,
            errors,
            &mut data,
            &mut rdatas,
        );
        nodes
            .insert(owner, &data)
            .map_err(|_| too_large(text, apex))?;
    }
    Ok(Some(Nsec3Index::new(params, nodes)))
}

fn same_owner(records: &Scanned, a: &Rec, b: &Rec) -> bool {
    records.owner(a) == records.owner(b)
}

/// What shapes the zone below an owner: NS (a cut, off the apex) or DNAME.
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    ns: bool,
    dname: bool,
}

/// What [`build_nodes`] makes: the nodes, the number of records, the
/// warnings, and the owners with NS or DNAME.
type Built = (NodeTable, usize, Vec<String>, FxHashMap<Box<[u8]>, Shape>);

/// Builds a node from each run of records with one owner, the rules
/// broken in `errors`; `Ok(None)` if an owner has two runs (the caller
/// sorts, then builds again).
fn build_nodes(
    apex: &[u8],
    records: &Scanned,
    text: &Normalized,
    errors: &mut Errors,
) -> Result<Option<Built>, SourceError> {
    let recs = records.recs();
    let same_owner = |a: &Rec, b: &Rec| same_owner(records, a, b);
    // Room for every owner and record at once: the arena never moves.
    let mut owners = 0;
    let mut bytes = 0;
    for (n, r) in recs.iter().enumerate() {
        if n == 0 || !same_owner(&recs[n - 1], r) {
            owners += 1;
            bytes += records.owner(r).len();
        }
        bytes += SET_OVERHEAD + records.rdata(r).len();
    }
    let mut nodes = NodeTable::with_capacity(owners, bytes);
    let mut warnings = Vec::new();
    let mut data = Vec::new();
    let mut group: Vec<Rec> = Vec::new();
    let mut rdatas = Vec::new();
    let mut shapes = FxHashMap::default();
    let mut total = 0usize;
    for run in recs.chunk_by(same_owner) {
        let owner = records.owner(&run[0]);
        let run = match run {
            [_] => run,
            _ => {
                group.clear();
                group.extend_from_slice(run);
                // By type, file order kept inside each.
                group.sort_by_key(|r| r.rtype);
                &group[..]
            }
        };
        data.clear();
        let count = build_node_with(
            apex,
            records,
            run,
            text,
            &mut warnings,
            errors,
            &mut data,
            &mut rdatas,
        );
        if !nodes
            .insert(owner, &data)
            .map_err(|_| too_large(text, apex))?
        {
            return Ok(None);
        }
        total += count;
        let shape = Shape {
            ns: owner != apex && run.iter().any(|r| r.rtype == rtype::NS),
            dname: run.iter().any(|r| r.rtype == rtype::DNAME),
        };
        if shape.ns || shape.dname {
            shapes.insert(owner.into(), shape);
        }
    }
    Ok(Some((nodes, total, warnings, shapes)))
}

fn too_large(text: &Normalized, apex: &[u8]) -> SourceError {
    SourceError::new(
        text.files.first().cloned().unwrap_or_default(),
        None,
        SourceErrorKind::ZoneTooLarge { apex: apex.into() },
    )
}

/// Arena bytes an RRset of one record costs beyond its RDATA (set head
/// and record head).
const SET_OVERHEAD: usize = 8 + 12;

/// Checks the records of one owner (sorted by type) and appends its
/// RRsets to `out`; returns how many records went in.
pub(crate) fn build_node(
    apex: &[u8],
    records: &Scanned,
    group: &[Rec],
    text: &Normalized,
    warnings: &mut Vec<String>,
    out: &mut Vec<u8>,
) -> Result<usize, SourceError> {
    let mut errors = Errors::new();
    let count = build_node_with(
        apex,
        records,
        group,
        text,
        warnings,
        &mut errors,
        out,
        &mut Vec::new(),
    );
    match text.errors_with(errors) {
        Some(e) => Err(e),
        None => Ok(count),
    }
}

/// [`build_node`] with the rules broken in `errors`, and a scratch list
/// that a caller building many nodes keeps, so a node costs no
/// allocation.
#[allow(clippy::too_many_arguments)]
fn build_node_with<'a>(
    apex: &[u8],
    records: &'a Scanned,
    group: &[Rec],
    text: &Normalized,
    warnings: &mut Vec<String>,
    errors: &mut Errors,
    out: &mut Vec<u8>,
    rdatas: &mut Vec<&'a [u8]>,
) -> usize {
    let mut error = |r: &Rec, kind: SourceErrorKind| {
        errors.push((r.file, text.error_at_source(r.file, r.line, kind)));
    };
    let owner = records.owner(&group[0]);
    let is_apex = owner == apex;
    let mut count = 0;
    let mut j = 0;
    while j < group.len() {
        let t = group[j].rtype;
        let end = group[j..]
            .iter()
            .position(|r| r.rtype != t)
            .map_or(group.len(), |p| j + p);
        let set = &group[j..end];
        rdatas.clear();
        // Duplicates are dropped (names in RDATA were lowercased by the
        // scan, so bytes compare as RFC 4034 §6.2 says); a hash set keeps
        // huge RRsets linear.
        let mut seen: FxHashSet<&[u8]> = FxHashSet::default();
        for r in set {
            let rdata = records.rdata(r);
            let duplicate = if set.len() <= 16 {
                rdatas.contains(&rdata)
            } else {
                !seen.insert(rdata)
            };
            if duplicate {
                continue;
            }
            let ttl = set[set.len() - 1].ttl;
            // RRSIGs over different types differ in TTL as those do (RFC
            // 4034 §3); answers give each the TTL of the set it covers.
            if r.ttl != ttl && t != rtype::RRSIG {
                // Records from a transfer or an update have no line:
                // name the source alone.
                let place = text.place(r.file, r.line);
                warnings.push(format!(
                    "{place}: TTL {} differs from the RRset's TTL {} for {} {}; using {}",
                    r.ttl,
                    ttl,
                    to_text(owner),
                    type_name(t),
                    ttl
                ));
            }
            rdatas.push(rdata);
        }
        match t {
            rtype::SOA if !is_apex => {
                error(
                    &set[0],
                    SourceErrorKind::SoaNotAtApex {
                        owner: owner.into(),
                        apex: apex.into(),
                    },
                );
            }
            // Generic RDATA (`\# 3 010203`) can hold anything: an SOA
            // must hold its two names and five numbers.
            rtype::SOA if rdatas.iter().any(|r| soa_fields(r).is_none()) => {
                error(
                    &set[0],
                    SourceErrorKind::MalformedSoa {
                        owner: owner.into(),
                    },
                );
            }
            rtype::SOA | rtype::CNAME | rtype::DNAME if rdatas.len() > 1 => {
                error(
                    &set[1],
                    SourceErrorKind::MoreThanOne {
                        rtype: t,
                        owner: owner.into(),
                    },
                );
            }
            _ => {}
        }
        count += rdatas.len();
        push_set(out, t, set[set.len() - 1].ttl, rdatas);
        j = end;
    }

    // CNAME may share its name only with DNSSEC data (RFC 2181 §10.1,
    // RFC 4035 §2.5), and not with DNAME (RFC 6672 §2.4).
    if let Some(cname) = group.iter().find(|r| r.rtype == rtype::CNAME) {
        if let Some(other) = group
            .iter()
            .find(|r| !matches!(r.rtype, rtype::CNAME | rtype::RRSIG | rtype::NSEC))
        {
            // The later of the two, in the file.
            let at = if other.seq > cname.seq { other } else { cname };
            error(
                at,
                SourceErrorKind::CnameAndOther {
                    other: other.rtype,
                    owner: owner.into(),
                },
            );
        }
        if is_apex {
            error(
                cname,
                SourceErrorKind::CnameAtApex {
                    owner: owner.into(),
                },
            );
        }
    }
    count
}

/// Adds an empty node for every missing ancestor of every owner, down
/// from the apex (RFC 4592 §2.2.2: empty non-terminals exist); returns
/// their names.
fn add_empty_non_terminals<'a>(
    apex: &[u8],
    owners: impl Iterator<Item = &'a [u8]>,
    nodes: &mut NodeTable,
) -> Result<Vec<Box<[u8]>>, TooLarge> {
    let mut missing: FxHashSet<Box<[u8]>> = FxHashSet::default();
    for owner in owners {
        let mut ancestor = owner;
        while ancestor.len() > apex.len() {
            let Some(p) = parent(ancestor) else { break };
            ancestor = p;
            // What is above a node or a name found before is covered by
            // that one's own walk.
            if ancestor.len() <= apex.len()
                || nodes.contains(ancestor)
                || missing.contains(ancestor)
            {
                break;
            }
            missing.insert(ancestor.into());
        }
    }
    nodes.reserve(missing.len(), missing.iter().map(|n| n.len()).sum());
    let mut ents = Vec::with_capacity(missing.len());
    for name in missing {
        nodes.insert(&name, &[])?;
        ents.push(name);
    }
    Ok(ents)
}

/// Flags zone cuts and the names below them (and below DNAMEs), given
/// every owner name and the owners with NS or DNAME; returns the names
/// with data that a DNAME hides.
fn mark_cuts<'a>(
    apex: &[u8],
    owners: impl Iterator<Item = &'a [u8]>,
    shapes: &FxHashMap<Box<[u8]>, Shape>,
    nodes: &mut NodeTable,
) -> Vec<Box<[u8]>> {
    let mut under_dname = Vec::new();
    if shapes.is_empty() {
        return under_dname;
    }
    let mut occluded = Vec::new();
    for owner in owners {
        // Walk the strict ancestors, the apex included (a DNAME there
        // hides everything; NS there is no cut).
        let mut ancestor = owner;
        while ancestor.len() > apex.len() {
            let Some(p) = parent(ancestor) else { break };
            ancestor = p;
            let Some(shape) = shapes.get(ancestor) else {
                continue;
            };
            let is_cut = ancestor.len() > apex.len() && shape.ns;
            if is_cut || shape.dname {
                occluded.push(Box::<[u8]>::from(owner));
                if !is_cut && nodes.get(owner).is_some_and(|(_, n)| !n.is_empty()) {
                    under_dname.push(owner.into());
                }
                break;
            }
        }
    }
    for (name, shape) in shapes {
        if shape.ns {
            nodes.mark_cut(name);
        }
    }
    for o in occluded {
        nodes.mark_occluded(&o);
    }
    under_dname.sort();
    under_dname
}

/// The error for a zone whose apex has no SOA.
pub(crate) fn no_soa(apex: &[u8]) -> SourceErrorKind {
    SourceErrorKind::NoSoa { apex: apex.into() }
}

/// Serial, negative TTL and whether signed, from the apex node.
pub(crate) fn apex_facts(apex_node: Node<'_>) -> Option<(u32, u32, bool)> {
    let soa = apex_node.get(rtype::SOA)?;
    let (serial, minimum) = soa_fields(soa.first())?;
    let signed = apex_node.get(rtype::DNSKEY).is_some() && apex_node.get(rtype::RRSIG).is_some();
    Some((serial, soa.ttl().min(minimum), signed))
}

/// SOA serial and MINIMUM from its RDATA.
pub fn soa_fields(rdata: &[u8]) -> Option<(u32, u32)> {
    wire::soa::parse(rdata).map(|s| (s.serial, s.minimum))
}

/// A type's mnemonic for messages.
pub fn type_name(t: u16) -> String {
    wire::types::rtype_name(t).into_owned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::load_zone_bytes;
    use crate::SourceErrorKind;

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
        assert!(e.kind.to_string().contains("malformed SOA record"), "{e}");
        assert!(
            matches!(&*e.kind, SourceErrorKind::MalformedSoa { owner }
                if **owner == *b"\x07example\x04test\x00"),
            "{e:?}"
        );
    }

    #[test]
    fn file_order_survives_both_readers_and_split_owners() {
        // 20's target is escaped, so the scanner reads it; 10 and 30 are
        // encoded while normalizing. `x` comes back after `y`, so the
        // owners are sorted, stably.
        let z = load(
            "x MX 10 a\nx MX 20 b\\.c\ny A 192.0.2.1\nx MX 30 d\n  TXT \"t\"\nx A 192.0.2.9\n",
        )
        .zone;
        let x = z.node(b"\x01x\x07example\x04test\x00").unwrap();
        let prefs: Vec<u8> = x.get(15).unwrap().rdatas().map(|r| r[1]).collect();
        assert_eq!(prefs, [10, 20, 30]);
        assert!(x.get(16).is_some(), "the TXT without an owner is x's");
        assert_eq!(x.get(1).unwrap().first(), [192, 0, 2, 9]);
        let types: Vec<u16> = x.rrsets().map(|s| s.rtype()).collect();
        assert_eq!(types, [1, 15, 16]);
        assert_eq!(z.records, 3 + 6);
    }

    #[test]
    fn errors_name_the_line_of_encoded_records() {
        let e = load_zone_bytes(
            "example.test",
            format!("{HEAD}c CNAME x\n\nc A 192.0.2.7\n").as_bytes(),
            Path::new("t.zone"),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(
            e.kind
                .to_string()
                .starts_with("CNAME and A at c.example.test."),
            "{e}"
        );
        assert!(
            matches!(
                *e.kind,
                SourceErrorKind::CnameAndOther {
                    other: wire::types::rtype::A,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn split_owners_report_the_error_of_all_their_records() {
        // Built run by run, `x`'s second run alone would say "CNAME and
        // TXT"; the whole owner says "CNAME and A", at the CNAME's line.
        let e = load_zone_bytes(
            "example.test",
            format!("{HEAD}x A 192.0.2.1\ny A 192.0.2.2\nx CNAME a\nx TXT \"t\"\n").as_bytes(),
            Path::new("t.zone"),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(
            e.kind
                .to_string()
                .starts_with("CNAME and A at x.example.test."),
            "{e}"
        );
    }

    #[test]
    fn later_means_later_in_the_zone_across_includes() {
        let dir = std::env::temp_dir().join(format!("zone-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc.zone"), "c CNAME x\n").unwrap();
        let main = dir.join("main.zone");
        std::fs::write(&main, format!("{HEAD}$INCLUDE inc.zone\nc A 192.0.2.7\n")).unwrap();
        let e = crate::load_zone("example.test", &main).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((e.file, e.line), (main, Some(6)));
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
