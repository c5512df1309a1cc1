//! The compiled zone on its own: RRsets and nodes as bytes, the node
//! table, the overlay of patched nodes, and the shape a zone file
//! compiles to (`tests/data/tree-shape.zone`).
//!
//! The table is a hash map: it keeps no order (canonical order and
//! predecessor lookups live in `denial.rs`; the closest encloser is found
//! by `answer::lookup`, tested there).

use std::collections::HashSet;
use std::path::Path;

use wire::types::rtype;

use super::{push_set, Node, NodeBuf, NodeTable, Zone};
use crate::test_util::name;

const SHAPE: &str = include_str!("../../tests/data/tree-shape.zone");

/// Node data holding A {192.0.2.1, 192.0.2.2} TTL 300 and MX 10 mx. TTL 60.
fn a_and_mx() -> Vec<u8> {
    let mut data = Vec::new();
    push_set(
        &mut data,
        rtype::A,
        300,
        &[&[192, 0, 2, 1], &[192, 0, 2, 2]],
    );
    push_set(&mut data, rtype::MX, 60, &[b"\x00\x0a\x02mx\x00"]);
    data
}

fn node(data: &[u8]) -> Node<'_> {
    Node {
        data,
        ..Node::default()
    }
}

#[test]
fn rrsets_read_back_as_pushed() {
    // Types in the order pushed, each with its TTL, records and RDATA in
    // the order given.
    let data = a_and_mx();
    let n = node(&data);
    assert!(!n.is_empty());
    let types: Vec<u16> = n.rrsets().map(|s| s.rtype()).collect();
    assert_eq!(types, [rtype::A, rtype::MX]);
    let a = n.get(rtype::A).unwrap();
    assert_eq!((a.rtype(), a.ttl(), a.len()), (rtype::A, 300, 2));
    assert!(!a.is_empty());
    let rdatas: Vec<&[u8]> = a.rdatas().collect();
    assert_eq!(rdatas, [&[192, 0, 2, 1][..], &[192, 0, 2, 2][..]]);
    assert_eq!(a.first(), [192, 0, 2, 1]);
    let mx = n.get(rtype::MX).unwrap();
    assert_eq!((mx.ttl(), mx.len()), (60, 1));
    assert_eq!(mx.first(), b"\x00\x0a\x02mx\x00");
    assert!(n.get(rtype::TXT).is_none());
}

#[test]
fn records_are_kept_in_wire_form_owned_by_the_question() {
    // RFC 1035 §4.1.3 record layout, owner a pointer to offset 12 (the
    // question name), so an answer at the question is one copy.
    let data = a_and_mx();
    let (records, count) = node(&data).get(rtype::A).unwrap().rendered();
    assert_eq!(count, 2);
    assert_eq!(
        records,
        [
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1, //
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 2,
        ]
    );
}

#[test]
fn an_empty_node_has_no_rrsets() {
    // An empty non-terminal: it exists, and holds nothing.
    let n = Node::default();
    assert!(n.is_empty());
    assert_eq!(n.rrsets().count(), 0);
    assert!(n.get(rtype::A).is_none());
}

#[test]
fn identity_tells_stored_sets_apart() {
    // The CNAME/DNAME loop checks compare where a set is stored.
    let data = a_and_mx();
    let n = node(&data);
    let a1 = n.get(rtype::A).unwrap();
    let a2 = n.rrsets().next().unwrap();
    let mx = n.get(rtype::MX).unwrap();
    assert_eq!(a1.identity(), a2.identity());
    assert_ne!(a1.identity(), mx.identity());
    let copy = data.clone();
    assert_ne!(node(&copy).get(rtype::A).unwrap().identity(), a1.identity());
}

#[test]
fn the_table_inserts_once_and_finds_by_exact_name() {
    let mut t = NodeTable::with_capacity(2, 64);
    assert!(t.is_empty());
    let www = name("www.example.test");
    let data = a_and_mx();
    assert!(t.insert(&www, &data).unwrap());
    assert!(t.insert(&name("example.test"), &[]).unwrap());
    // A second insert at a name changes nothing.
    assert!(!t.insert(&www, &[]).unwrap());
    assert_eq!(t.len(), 2);
    let (stored, n) = t.get(&www).unwrap();
    assert_eq!(stored, &*www);
    assert_eq!(n.get(rtype::A).unwrap().len(), 2, "the first data stays");
    assert!(t.contains(&www));
    // Keys are bytes: callers give lowercase names.
    assert!(t.get(b"\x03WWW\x07example\x04test\x00").is_none());
    assert!(t.get(&name("nx.example.test")).is_none());
    assert!(t.get(&name("example.test")).unwrap().1.is_empty());
    let names: HashSet<Vec<u8>> = t.iter().map(|(k, _)| k.to_vec()).collect();
    assert_eq!(
        names,
        HashSet::from([www.to_vec(), name("example.test").to_vec()])
    );
}

#[test]
fn the_table_refuses_names_longer_than_a_name_can_be() {
    // A wire name is at most 255 octets (RFC 1035 §3.1); the slot keeps
    // its length in a byte.
    let mut t = NodeTable::default();
    assert!(t.insert(&[1u8; 256], &[]).is_err());
    assert!(t.is_empty());
    t.reserve(1, 300);
    assert!(t.insert(&[0u8; 255], &[]).unwrap());
}

#[test]
fn flags_and_child_counts_are_set_by_name() {
    let mut t = NodeTable::default();
    let cut = name("deleg.example.test");
    let glue = name("ns.deleg.example.test");
    t.insert(&cut, &[]).unwrap();
    t.insert(&glue, &[]).unwrap();
    t.mark_cut(&cut);
    t.add_child(&cut);
    t.add_child(&cut);
    t.mark_occluded(&glue);
    let (_, c) = t.get(&cut).unwrap();
    assert!(c.is_cut && !c.occluded);
    assert_eq!(c.children, 2);
    let (_, g) = t.get(&glue).unwrap();
    assert!(g.occluded && !g.is_cut);
    assert_eq!(g.children, 0);
    // A name not in the table: nothing happens.
    t.mark_cut(&name("nx.example.test"));
    t.add_child(&name("nx.example.test"));
    assert_eq!(t.len(), 2);
}

#[test]
fn a_node_buf_is_a_faithful_copy() {
    let data = a_and_mx();
    let n = Node {
        data: &data,
        is_cut: true,
        occluded: false,
        children: 3,
    };
    let buf = NodeBuf::of(n);
    let v = buf.view();
    assert_eq!(
        (v.is_cut, v.occluded, v.children),
        (n.is_cut, n.occluded, n.children)
    );
    assert_eq!(v.data, n.data);
    assert_ne!(v.identity(), n.identity(), "a copy, stored elsewhere");
}

/// A zone with the apex and www in its compiled table.
fn small_zone() -> Zone {
    let mut t = NodeTable::default();
    let mut apex = Vec::new();
    push_set(&mut apex, rtype::NS, 300, &[b"\x02ns\x00"]);
    t.insert(&name("example.test"), &apex).unwrap();
    t.insert(&name("www.example.test"), &a_and_mx()).unwrap();
    t.add_child(&name("example.test"));
    Zone::new(&name("example.test"), t)
}

fn names(z: &Zone) -> Vec<String> {
    let mut v: Vec<String> = z.nodes().map(|(k, _)| wire::name::to_text(k)).collect();
    v.sort();
    v
}

#[test]
fn the_overlay_adds_replaces_removes_and_forgets() {
    // Versions made by an update see their own nodes first, the compiled
    // table for the rest.
    let mut z = small_zone();
    let www = name("www.example.test");
    let new = name("new.example.test");
    assert_eq!(z.patched(), 0);

    // Replace www, add new.
    let mut txt = Vec::new();
    push_set(&mut txt, rtype::TXT, 60, &[b"\x02hi"]);
    let patched = NodeBuf {
        data: txt.clone().into(),
        ..NodeBuf::default()
    };
    z.patch.insert(&www, Some(patched.clone()));
    z.patch.insert(&new, Some(patched));
    assert_eq!(z.patched(), 2);
    let n = z.node(&www).unwrap();
    assert!(n.get(rtype::TXT).is_some() && n.get(rtype::A).is_none());
    assert_eq!(z.get_key_value(&new).unwrap().0, &*new);
    assert!(
        z.base.get(&www).unwrap().1.get(rtype::A).is_some(),
        "the compiled table is shared and untouched"
    );
    assert_eq!(
        names(&z),
        ["example.test.", "new.example.test.", "www.example.test."]
    );

    // Remove www: gone from lookups and from the node list.
    z.patch.insert(&www, None);
    assert!(z.node(&www).is_none());
    assert_eq!(names(&z), ["example.test.", "new.example.test."]);

    // Forget the overlay's entry: the compiled node shows again.
    z.patch.remove(&www);
    assert!(z.node(&www).unwrap().get(rtype::A).is_some());
    assert_eq!(z.patched(), 1);
    assert_eq!(
        names(&z),
        ["example.test.", "new.example.test.", "www.example.test."]
    );
}

#[test]
fn a_zone_file_compiles_to_nodes_with_their_ancestors() {
    // RFC 4592 §2.2.2: every ancestor of an owner up to the apex exists,
    // as an empty non-terminal when it owns nothing; owners are kept
    // lowercase (RFC 4343).
    let z = crate::load_zone_bytes("example.test", SHAPE.as_bytes(), Path::new("t"))
        .unwrap()
        .zone;
    assert_eq!(
        names(&z),
        [
            "*.w.example.test.",
            "a.b.c.example.test.",
            "a.b.deleg.example.test.",
            "b.c.example.test.",
            "b.deleg.example.test.",
            "c.example.test.",
            "deleg.example.test.",
            "dn.example.test.",
            "example.test.",
            "ns.deleg.example.test.",
            "ns1.example.test.",
            "w.example.test.",
            "x.b.c.example.test.",
        ]
    );
    let at = |n: &str| z.node(&name(n)).unwrap();
    // Empty non-terminals and their children.
    for (ent, children) in [("c", 1), ("b.c", 2), ("w", 1), ("b.deleg", 1)] {
        let n = at(&format!("{ent}.example.test"));
        assert!(n.is_empty(), "{ent}");
        assert_eq!(n.children, children, "{ent}");
    }
    assert_eq!(at("example.test").children, 5);
    assert_eq!(at("deleg.example.test").children, 2);
    assert_eq!(at("a.b.c.example.test").children, 0);
    // The cut and what is below it; the apex's NS makes no cut; a DNAME's
    // owner is no cut.
    let deleg = at("deleg.example.test");
    assert!(deleg.is_cut && !deleg.occluded);
    for below in ["ns.deleg", "b.deleg", "a.b.deleg"] {
        let n = at(&format!("{below}.example.test"));
        assert!(n.occluded && !n.is_cut, "{below}");
    }
    assert!(!at("example.test").is_cut);
    assert!(!at("dn.example.test").is_cut && !at("dn.example.test").occluded);
    assert!(!at("ns1.example.test").occluded);
    // What the apex SOA says.
    assert_eq!(z.apex_node().unwrap().get(rtype::NS).unwrap().len(), 1);
    assert_eq!(z.soa().unwrap().ttl(), 300);
    assert_eq!(z.serial, 42);
    assert_eq!(z.negative_ttl, 120, "min(SOA TTL 300, MINIMUM 120)");
    assert_eq!(z.records, 10);
    assert!(!z.signed);
    let soa = z.negative_soa().unwrap();
    assert_eq!(&soa.bytes[6..10], 120u32.to_be_bytes(), "rendered with it");
}
