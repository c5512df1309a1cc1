//! The query path allocates nothing: a counting global allocator watches
//! `respond` answer every kind of query (positive, CNAME chain, wildcard,
//! DNAME, referral, NXDOMAIN, truncation, FORMERR, BADVERS, CH).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use zone::{respond, Catalog, Snapshot, Transport, ZoneState};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ZONE: &str = include_str!("data/query-path.zone");

fn query(name: &str, qtype: u16, class: u16, edns_version: Option<u8>) -> Vec<u8> {
    let mut p = vec![
        0x12,
        0x34,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        u8::from(edns_version.is_some()),
    ];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&class.to_be_bytes());
    if let Some(v) = edns_version {
        p.extend_from_slice(&[0, 0, 41, 2, 0, 0, v, 0x80, 0, 0, 0]);
    }
    p
}

#[test]
fn respond_allocates_nothing() {
    let loaded = zone::load_zone_bytes(
        "example.test",
        ZONE.as_bytes(),
        std::path::Path::new("t.zone"),
    )
    .unwrap();
    let mut catalog = Catalog::new();
    catalog.insert(
        &loaded.zone.apex.clone(),
        ZoneState::Ready(Arc::new(loaded.zone)),
    );
    let snap = Snapshot {
        catalog,
        version: Some("v".into()),
        ..Snapshot::default()
    };
    let queries = [
        query("example.test", 15, 1, Some(0)),
        query("WWW.example.test", 1, 1, Some(0)),
        query("x.wild.example.test", 16, 1, None),
        query("x.dn.example.test", 1, 1, Some(0)),
        query("a.deleg.example.test", 1, 1, Some(0)),
        query("nope.example.test", 1, 1, None),
        query("big.example.test", 16, 1, None),
        query("example.test", 255, 1, Some(0)),
        query("www.example.test", 1, 1, Some(1)),
        query("version.bind", 16, 3, None),
        query("elsewhere.org", 1, 1, None),
        vec![0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0],
    ];
    let mut out = vec![0u8; 65535];
    let mut answered = 0;
    let before = ALLOCS.with(Cell::get);
    for q in &queries {
        for transport in [Transport::Udp, Transport::Tcp] {
            if respond(&snap, q, &mut out, transport).is_some() {
                answered += 1;
            }
        }
    }
    let allocations = ALLOCS.with(Cell::get) - before;
    assert_eq!(answered, 2 * queries.len());
    assert_eq!(
        allocations, 0,
        "the query path allocated {allocations} times"
    );
}

#[test]
fn signed_answers_to_do_queries_allocate_nothing() {
    let mut catalog = Catalog::new();
    for zone in [
        "nsec.signed.test",
        "nsec3.signed.test",
        "optout.signed.test",
    ] {
        let path = format!(
            "{}/../../tests/diff/zones/{zone}.zone",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read(&path).unwrap();
        let loaded = zone::load_zone_bytes(zone, &text, std::path::Path::new(&path)).unwrap();
        catalog.insert(
            &loaded.zone.apex.clone(),
            ZoneState::Ready(Arc::new(loaded.zone)),
        );
    }
    let snap = Snapshot {
        catalog,
        ..Snapshot::default()
    };
    let mut queries = Vec::new();
    for zone in [
        "nsec.signed.test",
        "nsec3.signed.test",
        "optout.signed.test",
    ] {
        for (name, qtype) in [
            ("", 48),
            ("www.", 1),
            ("www.", 16),
            ("a.b.nx.", 1),
            ("x.wild.", 1),
            ("x.wild.", 15),
            ("walias.", 1),
            ("b.ent.", 1),
            ("x.sub.", 1),
            ("sub.", 43),
            ("x.sec.", 1),
            ("x.dn.", 1),
            ("", 15),
        ] {
            queries.push(query(&format!("{name}{zone}"), qtype, 1, Some(0)));
        }
    }
    let mut out = vec![0u8; 65535];
    let before = ALLOCS.with(Cell::get);
    for q in &queries {
        for transport in [Transport::Udp, Transport::Tcp] {
            assert!(respond(&snap, q, &mut out, transport).is_some());
        }
    }
    let allocations = ALLOCS.with(Cell::get) - before;
    assert_eq!(
        allocations, 0,
        "the signed query path allocated {allocations} times"
    );
}
