//! Changing a compiled zone by the names an update or an IXFR touched,
//! instead of compiling the whole zone again.
//!
//! Each changed owner's node is rebuilt from the record set with the
//! checks a zone file gets ([`crate::build::build_node`]); empty
//! non-terminals come and go with their children. What would change the
//! zone's shape below a name — NS off the apex, DNAME — and an overlay
//! grown past an eighth of the zone fall back to a whole compile (the
//! caller's), which also starts a fresh shared map.

use std::collections::BTreeSet;
use std::path::PathBuf;

use wire::name::{is_subdomain, parent};
use wire::types::rtype;

use crate::build::{apex_facts, build_node, no_soa};
use crate::records::RecordSet;
use crate::scan::Scanned;
use crate::source::{Normalized, SourceError, SourceErrorKind};
use crate::tree::{NodeBuf, Zone};

/// Past this many changed nodes (or an eighth of the zone), a whole
/// compile is cheaper than carrying the overlay in every lookup.
const MAX_PATCH: usize = 4096;

/// `old` with the nodes at `owners` rebuilt from `records` (the zone's
/// complete new records). `Ok(None)`: compile the whole zone instead.
pub fn patch(
    old: &Zone,
    records: &RecordSet,
    owners: &BTreeSet<Box<[u8]>>,
    what: &str,
) -> Result<Option<(Zone, Vec<String>)>, SourceError> {
    let limit = MAX_PATCH.max(old.base.len() / 8);
    // The NSEC/NSEC3 index is compiled with the whole zone: changing a
    // signed zone compiles it again, so the index never goes stale.
    if old.denial.is_some() || old.patch.len() + owners.len() > limit {
        return Ok(None);
    }
    let apex = &*old.apex;
    let text = Normalized {
        files: vec![PathBuf::from(what)],
        ..Normalized::default()
    };
    let error = |kind: SourceErrorKind| SourceError::new(what, None, kind);
    let mut z = Zone {
        apex: old.apex.clone(),
        base: old.base.clone(),
        patch: old.patch.clone(),
        serial: old.serial,
        negative_ttl: old.negative_ttl,
        records: records.len(),
        signed: old.signed,
        negative: None,
        denial: None,
    };
    let mut warnings = Vec::new();
    for owner in owners {
        if !is_subdomain(owner, apex) {
            return Err(error(SourceErrorKind::OutsideZone {
                name: owner.clone(),
                apex: apex.into(),
            }));
        }
        let is_apex = **owner == *apex;
        let recs = records.records_at(owner);
        // NSEC and NSEC3 records arriving (a zone being signed) build the
        // denial index: a whole compile too.
        let shapes = |t: u16| {
            (t == rtype::NS && !is_apex)
                || matches!(
                    t,
                    rtype::DNAME | rtype::NSEC | rtype::NSEC3 | rtype::NSEC3PARAM
                )
        };
        let old_node = z.node(owner).map(NodeBuf::of);
        if recs.iter().any(|r| shapes(r.rtype))
            || old_node
                .as_ref()
                .is_some_and(|n| n.view().rrsets().any(|s| shapes(s.rtype())))
        {
            return Ok(None);
        }
        if recs.is_empty() {
            match old_node {
                None => {}
                Some(_) if is_apex => return Err(error(no_soa(apex))),
                Some(mut n) if n.children > 0 => {
                    n.data = Box::default();
                    set(&mut z, owner, n);
                }
                Some(_) => unlink(&mut z, owner),
            }
            continue;
        }
        let mut group = Scanned::default();
        for r in &recs {
            group
                .push(&r.owner, r.rtype, r.ttl, &r.rdata, 0, 0)
                .map_err(error)?;
        }
        let mut data = Vec::new();
        build_node(apex, &group, group.recs(), &text, &mut warnings, &mut data)?;
        match old_node {
            Some(mut n) => {
                n.data = data.into_boxed_slice();
                set(&mut z, owner, n);
            }
            None => {
                let node = NodeBuf {
                    data: data.into_boxed_slice(),
                    is_cut: false,
                    occluded: occluded(&z, owner),
                    children: 0,
                };
                set(&mut z, owner, node);
                link(&mut z, owner);
            }
        }
    }
    let facts = z
        .apex_node()
        .and_then(apex_facts)
        .ok_or_else(|| error(no_soa(apex)))?;
    z.set_apex_facts(facts.0, facts.1, facts.2);
    Ok(Some((z, warnings)))
}

/// Puts `node` at `name` in the overlay.
fn set(z: &mut Zone, name: &[u8], node: NodeBuf) {
    z.patch.insert(name, Some(node));
}

/// Takes the node at `name` away.
fn remove(z: &mut Zone, name: &[u8]) {
    if z.base.contains(name) {
        z.patch.insert(name, None);
    } else {
        z.patch.remove(name);
    }
}

/// Whether a new node at `name` sits below a zone cut or a DNAME (the
/// apex's DNAME included; the apex is never a cut).
fn occluded(z: &Zone, name: &[u8]) -> bool {
    let mut n = name;
    while n.len() > z.apex.len() {
        let Some(p) = parent(n) else { break };
        n = p;
        let is_apex = n.len() <= z.apex.len();
        if z.node(n)
            .is_some_and(|a| (a.is_cut && !is_apex) || a.get(rtype::DNAME).is_some())
        {
            return true;
        }
    }
    false
}

/// Counts a new node at `name` in its parent, creating the empty
/// non-terminals up to the first ancestor that exists.
fn link(z: &mut Zone, name: &[u8]) {
    let mut n = name;
    while n.len() > z.apex.len() {
        let Some(p) = parent(n) else { return };
        match z.node(p).map(NodeBuf::of) {
            Some(mut node) => {
                node.children += 1;
                set(z, p, node);
                return;
            }
            None => {
                let node = NodeBuf {
                    children: 1,
                    occluded: occluded(z, p),
                    ..NodeBuf::default()
                };
                set(z, p, node);
                n = p;
            }
        }
    }
}

/// Removes the node at `name` and the empty non-terminals above it that
/// it was the last child of.
fn unlink(z: &mut Zone, name: &[u8]) {
    remove(z, name);
    let mut n = name;
    while n.len() > z.apex.len() {
        let Some(p) = parent(n) else { return };
        let Some(mut node) = z.node(p).map(NodeBuf::of) else {
            return;
        };
        node.children = node.children.saturating_sub(1);
        if node.children == 0 && node.data.is_empty() && p.len() > z.apex.len() {
            remove(z, p);
            n = p;
        } else {
            set(z, p, node);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use crate::records::{Record, RecordSet};

    const ZONE: &str = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n\
                        sub NS ns.sub\nns.sub A 192.0.2.3\n";

    use crate::test_util::name;

    fn rec(owner: &str, rtype: u16, rdata: &[u8]) -> Record {
        crate::test_util::rec(owner, rtype, 60, rdata)
    }

    /// Patching must give what a whole compile of the same records gives.
    fn same_as_compiled(z: &crate::Zone, set: &RecordSet) {
        let (full, _) = set.to_zone(&z.apex, "test").unwrap();
        let mut a: Vec<_> = z
            .nodes()
            .map(|(k, n)| (k.to_vec(), format!("{:?}", n)))
            .collect();
        let mut b: Vec<_> = full
            .nodes()
            .map(|(k, n)| (k.to_vec(), format!("{:?}", n)))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!((z.serial, z.records), (full.serial, full.records));
    }

    #[test]
    fn adds_and_removes_names_with_their_empty_non_terminals() {
        let loaded = crate::load_zone_bytes("example.test", ZONE.as_bytes(), Path::new("t"))
            .unwrap()
            .zone;
        let mut set = RecordSet::from_zone(&loaded);
        let deep = rec("_acme-challenge.a.b.example.test", 16, b"\x03tok");
        set.insert(deep.clone());
        let owners: BTreeSet<_> = [deep.owner.clone()].into();
        let (z1, _) = super::patch(&loaded, &set, &owners, "update")
            .unwrap()
            .unwrap();
        assert!(z1
            .node(&name("b.example.test"))
            .is_some_and(|n| n.is_empty()));
        same_as_compiled(&z1, &set);

        // Glue below the cut stays occluded; removing the deep name takes
        // its empty non-terminals with it.
        let glue = rec("x.ns.sub.example.test", 1, &[192, 0, 2, 9]);
        set.insert(glue.clone());
        set.remove(&deep);
        let owners: BTreeSet<_> = [deep.owner.clone(), glue.owner.clone()].into();
        let (z2, _) = super::patch(&z1, &set, &owners, "update").unwrap().unwrap();
        assert!(z2.node(&name("b.example.test")).is_none());
        assert!(z2.node(&glue.owner).is_some_and(|n| n.occluded));
        same_as_compiled(&z2, &set);
        assert_eq!(
            loaded.node(&deep.owner).map(|_| ()),
            None,
            "old version untouched"
        );
    }

    #[test]
    fn a_dname_at_the_apex_hides_new_names_as_a_whole_compile_does() {
        let src = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns.other.\n@ DNAME other.\n";
        let loaded = crate::load_zone_bytes("example.test", src.as_bytes(), Path::new("t"))
            .unwrap()
            .zone;
        let mut set = RecordSet::from_zone(&loaded);
        let x = rec("x.example.test", 1, &[192, 0, 2, 1]);
        set.insert(x.clone());
        let owners: BTreeSet<_> = [x.owner.clone()].into();
        let (z, _) = super::patch(&loaded, &set, &owners, "update")
            .unwrap()
            .unwrap();
        assert!(z.node(&x.owner).is_some_and(|n| n.occluded));
        same_as_compiled(&z, &set);
    }

    #[test]
    fn refuses_what_a_zone_file_may_not_hold_and_defers_shape_changes() {
        let loaded = crate::load_zone_bytes("example.test", ZONE.as_bytes(), Path::new("t"))
            .unwrap()
            .zone;
        let mut set = RecordSet::from_zone(&loaded);
        let cname = rec("www.example.test", 5, b"\x02ns\x07example\x04test\x00");
        set.insert(cname.clone());
        let owners: BTreeSet<_> = [cname.owner.clone()].into();
        let e = super::patch(&loaded, &set, &owners, "update by key k").unwrap_err();
        assert!(
            e.to_string().contains("CNAME and A at www.example.test."),
            "{e}"
        );
        assert!(
            matches!(*e.kind, crate::SourceErrorKind::CnameAndOther { .. }),
            "{e:?}"
        );
        set.remove(&cname);
        let ns = rec("new.example.test", 2, b"\x02ns\x07example\x04test\x00");
        set.insert(ns.clone());
        let owners: BTreeSet<_> = [ns.owner.clone()].into();
        assert!(super::patch(&loaded, &set, &owners, "update")
            .unwrap()
            .is_none());
    }
}
