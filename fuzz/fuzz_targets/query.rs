//! Any datagram through the whole query path: parse, look up in a real
//! zone set (wildcards, delegations, DNAME, CNAME chains), write the
//! response. Checks that it never panics and that what it writes is a
//! response to the same ID that fits the transport's limit.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use zone::{respond, Catalog, Snapshot, Transport, ZoneState};

const ZONE: &str = "\
$TTL 300
@ IN SOA ns1 host 1 2 3 4 60
@ IN NS ns1
@ IN MX 10 mail
ns1 IN A 192.0.2.1
mail IN A 192.0.2.2
www IN CNAME @
loop1 IN CNAME loop2
loop2 IN CNAME loop1
*.wild IN TXT \"wild\"
a.b.c IN AAAA 2001:db8::1
deleg IN NS ns.deleg
ns.deleg IN A 192.0.2.3
dn IN DNAME example.test.
long IN DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.
big IN TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"7123456789012345678901234567890123456789012345678901234567890123456789\"
";

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
