//! Any bytes as a zone file: the loader must refuse or load, never panic,
//! and a loaded zone must answer a query for its apex.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use zone::{respond, Catalog, Snapshot, Transport, ZoneState};

fuzz_target!(|data: &[u8]| {
    let Ok(loaded) = zone::load_zone_bytes("example.test", data, std::path::Path::new("/nonexistent/fuzz.zone")) else {
        return;
    };
    let mut catalog = Catalog::new();
    let apex = loaded.zone.apex.clone();
    catalog.insert(&apex, ZoneState::Ready(Arc::new(loaded.zone)));
    let snap = Snapshot {
        catalog,
        ..Snapshot::default()
    };
    // A query for the apex SOA, then ANY at the apex.
    for qtype in [6u8, 255] {
        let mut q = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&apex);
        q.extend_from_slice(&[0, qtype, 0, 1]);
        let mut out = vec![0u8; 65535];
        let len = respond(&snap, &q, &mut out, Transport::Tcp).expect("answered");
        assert_eq!(out[3] & 0xf, 0, "apex query answered NOERROR");
        assert!(len > 12);
    }
});
