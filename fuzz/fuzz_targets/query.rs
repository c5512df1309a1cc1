//! Any datagram through the whole query path: parse, look up in a real
//! zone set (wildcards, delegations, DNAME, CNAME chains), write the
//! response. Checks that it never panics and that what it writes is a
//! response to the same ID that fits the transport's limit.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use zone::{respond, Catalog, Snapshot, Transport, ZoneState};

const ZONE: &str = include_str!("../../crates/zone/tests/data/query-path.zone");

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let loaded = zone::load_zone_bytes("example.test", ZONE.as_bytes(), std::path::Path::new("fuzz.zone"))
            .expect("fuzz zone loads");
        let mut catalog = Catalog::new();
        catalog.insert(&loaded.zone.apex.clone(), ZoneState::Ready(Arc::new(loaded.zone)));
        catalog.insert(b"\x06broken\x04test\x00", ZoneState::Broken("fuzz".into()));
        Snapshot {
            catalog,
            version: Some("fuzz".into()),
            identity: None,
            max_udp_payload: 1232,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let snap = snapshot();
    let mut out = vec![0u8; 65535];
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Some(len) = respond(snap, data, &mut out, transport) {
            assert!(len >= 12 && len <= out.len());
            if transport == Transport::Udp {
                assert!(len <= 1232, "UDP response of {len} bytes");
            }
            assert_eq!(&out[..2], &data[..2], "response ID");
            assert!(out[2] & 0x80 != 0, "QR set");
        }
    }
});
