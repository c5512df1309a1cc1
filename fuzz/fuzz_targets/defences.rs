//! Any datagram through the defences that read bytes from outside: the
//! COOKIE option (RFC 7873 lengths, RFC 9018 server cookies), the
//! response classification and accounting of Response Rate Limiting, and
//! the OPT option writer that adds cookies and EDEs to an answer. Checks
//! that nothing panics, that a cookie we mint validates, and that adding
//! options keeps the message inside its buffer.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use shield::cookie::{self, Presented};
use shield::rrl::{self, Rrl, Settings, Verdict};
use wire::Query;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = Query::parse(data) else {
        return;
    };
    let client: IpAddr = "192.0.2.1".parse().unwrap();
    let cookies = cookie::Settings::default();
    let now = 1_700_000_000;
    let presented = cookies.inspect(query.edns_options, client, now);
    if let Some(cc) = presented.client() {
        // What we mint for this client must be ours when it comes back.
        let option = cookies.option(cc, client, now);
        assert_eq!(cookies.inspect(&option, client, now + 10), Presented::Valid(*cc));
    }
    // The packet as if it were a response: classify and account it.
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    let (kind, name) = rrl::classify(data, lname, data.len() % 2 == 0, || Some(b"\0"));
    let limiter = Rrl::new(Settings {
        responses_per_second: 1,
        slip: 2,
        ..Settings::default()
    });
    let verdicts: Vec<Verdict> = (0..4)
        .map(|i| limiter.check(client, kind, name, query.qtype, i))
        .collect();
    assert_eq!(verdicts[0], Verdict::Send);
    // Options into a copy of the packet, with room for them or not.
    let mut buf = data.to_vec();
    buf.resize(data.len() + 34, 0);
    if let Some(len) = wire::response::append_opt_options(&mut buf, data.len(), &[0, 15, 0, 2, 0, 20]) {
        assert_eq!(len, data.len() + 6);
    }
    let _ = wire::response::append_opt_options(&mut buf[..data.len()], data.len(), &[0, 15, 0, 2, 0, 20]);
});
