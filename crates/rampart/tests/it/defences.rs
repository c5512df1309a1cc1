//! The authoritative defences end to end: BIND's `rate-limit` from a
//! named.conf (one /24 limited while another is answered, slip 2, TCP
//! never limited), DNS cookies (a proven client is never limited), and
//! the TCP connection limits (an idle connection makes room for a new
//! client). Drops are asserted by the counters that say why.

use crate::common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

/// A scratch directory with the example zone, a named.conf holding
/// `options` and that zone, and a config that loads it; maintenance()
/// prints the counters and the RRL state every second.
fn setup(options: &str, extra_lua: &str) -> (PathBuf, u16) {
    let dir = scratch_with_example_zone("defences");
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{\n  directory \"zones\";\n{options}}};\nzone \"example.org\" {{ type master; file \"example.org.zone\"; }};\n"
        ),
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("rampart.conf"),
        format!(
            "setLocal(\"127.0.0.1:{port}\")\nloadNamedConf(\"named.conf\")\n{extra_lua}\nfunction maintenance()\n  dumpStats()\n  showTCPStats()\nend\n"
        ),
    )
    .unwrap();
    (dir, port)
}

fn start(dir: &Path, port: u16) -> Server {
    rampart_on(dir, port, "example.org")
}

/// The value of counter `name` in the last dumpStats() of the log.
fn stat(log: &str, name: &str) -> Option<u64> {
    let at = log.rfind(&format!("{name} "))?;
    log[at + name.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Waits (up to 5 s, the counters print every second) until counter
/// `name` reads `want`; its last value either way.
fn wait_stat(s: &Server, name: &str, want: u64) -> Option<u64> {
    let mut v = None;
    eventually(Duration::from_secs(5), || {
        v = stat(&s.log_text(), name);
        v == Some(want)
    });
    v
}

/// An A query for `name` with EDNS and, if given, a COOKIE option.
fn query(name: &str, id: u16, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut q = QuerySpec::new(name, Rtype::A).to_wire(id);
    if let Some(c) = cookie {
        let n = q.len();
        q[n - 2..].copy_from_slice(&(4 + c.len() as u16).to_be_bytes());
        q.extend_from_slice(&[0, 10]);
        q.extend_from_slice(&(c.len() as u16).to_be_bytes());
        q.extend_from_slice(c);
    }
    q
}

/// What came back for one query.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    /// Answer records, no TC.
    Full,
    /// TC=1 and no answer records (a slipped answer), with the rcode.
    Slipped(u16),
    /// BADCOOKIE (header rcode 7; the OPT says 23): a slipped answer to
    /// a client that sent a cookie.
    BadCookie,
    Nothing,
}

fn kind(resp: &[u8]) -> Got {
    let tc = resp[2] & 0x02 != 0;
    let answers = u16::from_be_bytes([resp[6], resp[7]]);
    match (tc, answers) {
        (false, n) if n > 0 => Got::Full,
        (true, 0) => Got::Slipped(u16::from(resp[3] & 0xf)),
        (false, 0) if resp[3] & 0xf == 7 => Got::BadCookie,
        _ => panic!("unexpected answer {resp:?}"),
    }
}

/// Sends `n` queries from `n` sockets on `from` at once, then collects
/// what came back within a second and a half.
fn burst(server: SocketAddr, from: &str, name: &str, n: u16, cookie: Option<&[u8]>) -> Vec<Got> {
    let socks: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind(format!("{from}:0")).unwrap())
        .collect();
    for (i, s) in socks.iter().enumerate() {
        s.send_to(&query(name, i as u16, cookie), server).unwrap();
    }
    // Long enough that a late answer on a loaded machine is not taken
    // for a drop (dropped ones never come, so this is the test's cost).
    let deadline = Instant::now() + Duration::from_millis(1500);
    socks
        .iter()
        .map(|s| {
            let left = deadline.saturating_duration_since(Instant::now());
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut buf = [0u8; 4096];
            match s.recv(&mut buf) {
                Ok(len) => kind(&buf[..len]),
                Err(_) => Got::Nothing,
            }
        })
        .collect()
}

fn count(got: &[Got], what: &Got) -> u64 {
    got.iter().filter(|g| *g == what).count() as u64
}

#[test]
fn named_conf_rate_limit_limits_one_prefix_and_spares_others_and_tcp() {
    let (dir, port) = setup(
        "  rate-limit {\n    responses-per-second 5;\n    slip 2;\n    window 2;\n  };\n",
        "function showLimits() showRRL() end",
    );
    let s = start(&dir, port);
    let got = burst(s.addr, "127.0.9.1", "www.example.org", 25, None);
    let full = count(&got, &Got::Full);
    let slipped = count(&got, &Got::Slipped(0));
    let dropped = count(&got, &Got::Nothing);
    // Five a second (ten if the burst straddled a second); the rest
    // alternate slip, drop, slip… so half of them, rounded up, slip.
    assert!((5..=10).contains(&full), "{got:?}");
    let limited = 25 - full;
    assert_eq!(slipped, limited.div_ceil(2), "{got:?}");
    assert_eq!(dropped, limited / 2, "{got:?}");
    assert_eq!(wait_stat(&s, "rrl-dropped", dropped), Some(dropped));
    assert_eq!(wait_stat(&s, "rrl-slipped", slipped), Some(slipped));

    // Another /24 is answered in full meanwhile…
    let other = burst(s.addr, "127.0.10.1", "www.example.org", 3, None);
    assert_eq!(other, [Got::Full, Got::Full, Got::Full]);
    // …and so is the limited /24 over TCP.
    for id in 0..10 {
        let sock = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        sock.bind(&SocketAddr::from(([127, 0, 9, 2], 0)).into())
            .unwrap();
        sock.connect(&s.addr.into()).unwrap();
        let mut t: TcpStream = sock.into();
        t.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        tcp_send(&mut t, &query("www.example.org", id, None)).unwrap();
        let resp = tcp_recv(&mut t).expect("a TCP answer");
        assert_eq!(kind(&resp), Got::Full);
    }
    let log = s.log_text();
    assert!(
        log.contains("rate-limit: limiting 127.0.9.0/24 responses for www.example.org."),
        "{log}"
    );
}

#[test]
fn random_names_under_a_wildcard_are_one_bucket() {
    let (dir, port) = setup(
        "  rate-limit {\n    responses-per-second 3;\n    slip 0;\n  };\n",
        "",
    );
    let mut zone = std::fs::read_to_string(dir.join("zones/example.org.zone")).unwrap();
    zone.push_str("*.wild IN A 192.0.2.99\n");
    std::fs::write(dir.join("zones/example.org.zone"), zone).unwrap();
    let s = start(&dir, port);
    let socks: Vec<UdpSocket> = (0..12)
        .map(|_| UdpSocket::bind("127.0.21.1:0").unwrap())
        .collect();
    for (i, sock) in socks.iter().enumerate() {
        let q = query(&format!("r{i}.wild.example.org"), i as u16, None);
        sock.send_to(&q, s.addr).unwrap();
    }
    let deadline = Instant::now() + Duration::from_millis(1500);
    let answered = socks
        .iter()
        .filter(|sock| {
            let left = deadline.saturating_duration_since(Instant::now());
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            sock.recv(&mut [0u8; 512]).is_ok()
        })
        .count() as u64;
    assert!((3..=6).contains(&answered), "answered {answered} of 12");
    assert_eq!(
        wait_stat(&s, "rrl-dropped", 12 - answered),
        Some(12 - answered)
    );
}

#[test]
fn nxdomain_flood_of_random_names_is_one_bucket() {
    let (dir, port) = setup(
        "  rate-limit {\n    responses-per-second 100;\n    nxdomains-per-second 3;\n    slip 0;\n  };\n",
        "",
    );
    let s = start(&dir, port);
    // Twenty never-seen names under the zone: three NXDOMAINs, then
    // nothing (slip 0 drops every limited answer).
    let socks: Vec<UdpSocket> = (0..20)
        .map(|_| UdpSocket::bind("127.0.12.1:0").unwrap())
        .collect();
    for (i, sock) in socks.iter().enumerate() {
        let q = query(&format!("r{i}x.example.org"), i as u16, None);
        sock.send_to(&q, s.addr).unwrap();
    }
    let mut answered = 0;
    let deadline = Instant::now() + Duration::from_millis(1500);
    for sock in &socks {
        let left = deadline.saturating_duration_since(Instant::now());
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = sock.recv(&mut buf) {
            assert_eq!(buf[3] & 0xf, 3, "NXDOMAIN expected");
            assert!(n > 12);
            answered += 1;
        }
    }
    assert!((3..=6).contains(&answered), "answered {answered}");
    assert_eq!(
        wait_stat(&s, "rrl-dropped", 20 - answered),
        Some(20 - answered)
    );
}

/// Skips the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> usize {
    loop {
        match msg[pos] {
            0 => return pos + 1,
            l if l & 0xc0 == 0xc0 => return pos + 2,
            l => pos += 1 + l as usize,
        }
    }
}

/// The OPT record's RDATA of a response.
fn opt_rdata(resp: &[u8]) -> Option<&[u8]> {
    let records: usize = [6, 8, 10]
        .iter()
        .map(|&i| u16::from_be_bytes([resp[i], resp[i + 1]]) as usize)
        .sum();
    let mut pos = skip_name(resp, 12) + 4;
    for _ in 0..records {
        let at = skip_name(resp, pos);
        let rtype = u16::from_be_bytes([resp[at], resp[at + 1]]);
        let len = u16::from_be_bytes([resp[at + 8], resp[at + 9]]) as usize;
        if rtype == 41 {
            return resp.get(at + 10..at + 10 + len);
        }
        pos = at + 10 + len;
    }
    None
}

/// The COOKIE option of an answer (client and server cookie).
fn answer_cookie(resp: &[u8]) -> Option<Vec<u8>> {
    let mut rest = opt_rdata(resp)?;
    while rest.len() >= 4 {
        let code = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        if code == 10 {
            return Some(rest[4..4 + len].to_vec());
        }
        rest = &rest[4 + len..];
    }
    None
}

#[test]
fn a_client_with_a_valid_cookie_is_never_limited() {
    let (dir, port) = setup(
        "  rate-limit {\n    responses-per-second 2;\n    window 5;\n  };\n  cookie-secret \"00112233445566778899aabbccddeeff\";\n",
        "",
    );
    let s = start(&dir, port);
    // Learn a server cookie.
    let sock = UdpSocket::bind("127.0.13.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let client_cookie = [1u8, 2, 3, 4, 5, 6, 7, 8];
    sock.send_to(&query("mail.example.org", 1, Some(&client_cookie)), s.addr)
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let cookie = answer_cookie(&buf[..n]).expect("a COOKIE option in the answer");
    assert_eq!(cookie.len(), 24);
    assert_eq!(&cookie[..8], &client_cookie);
    assert_eq!(cookie[8], 1, "RFC 9018 version 1");

    // Flood the name from the same /24 without cookies: limited.
    let flood = burst(s.addr, "127.0.13.2", "mail.example.org", 20, None);
    assert!(count(&flood, &Got::Nothing) > 0, "{flood:?}");
    // The client that proved its address keeps every answer.
    for id in 0..20 {
        sock.send_to(&query("mail.example.org", 100 + id, Some(&cookie)), s.addr)
            .unwrap();
        let n = sock.recv(&mut buf).expect("answer to a cookie client");
        assert_eq!(kind(&buf[..n]), Got::Full, "query {id}");
    }
    assert_eq!(wait_stat(&s, "cookie-valid", 20), Some(20));
    // A client cookie alone is slipped as BADCOOKIE (rcode 23 = 7 in the
    // header and 1 in the OPT), with a fresh cookie to retry with.
    let got = burst(s.addr, "127.0.13.3", "mail.example.org", 6, Some(&[9u8; 8]));
    assert!(got.contains(&Got::BadCookie), "{got:?}");
    // A bad cookie length is FORMERR.
    sock.send_to(&query("mail.example.org", 7, Some(&[1u8; 12])), s.addr)
        .unwrap();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(
        buf[3] & 0xf,
        1,
        "FORMERR for a 12-byte cookie: {:?}",
        &buf[..n]
    );
}

/// The Extended DNS Error codes of an answer.
fn answer_ede(resp: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    let mut rest = opt_rdata(resp).unwrap_or(&[]);
    while rest.len() >= 4 {
        let code = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        if code == 15 {
            codes.push(u16::from_be_bytes([rest[4], rest[5]]));
        }
        rest = &rest[4 + len..];
    }
    codes
}

#[test]
fn refused_outside_our_zones_says_not_authoritative() {
    let (dir, port) = setup("", "");
    let s = start(&dir, port);
    let sock = UdpSocket::bind("127.0.18.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    // With EDNS (and a cookie): REFUSED, EDE 20, and the cookie too.
    sock.send_to(&query("www.example.com", 1, Some(&[3u8; 8])), s.addr)
        .unwrap();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(buf[3] & 0xf, 5, "REFUSED");
    assert_eq!(answer_ede(&buf[..n]), [20]);
    assert!(answer_cookie(&buf[..n]).is_some());
    // Without EDNS: no OPT, so no EDE.
    let q = QuerySpec {
        edns: None,
        ..QuerySpec::new("www.example.com", Rtype::A)
    }
    .to_wire(2);
    sock.send_to(&q, s.addr).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!((buf[3] & 0xf, n), (5, q.len()));
    // Our own names: no EDE.
    sock.send_to(&query("nope.example.org", 3, None), s.addr)
        .unwrap();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(buf[3] & 0xf, 3);
    assert!(answer_ede(&buf[..n]).is_empty());
}

#[test]
fn bad_cookie_is_answered_badcookie_when_a_server_cookie_is_required() {
    let (dir, port) = setup("  require-server-cookie yes;\n", "");
    let s = start(&dir, port);
    let sock = UdpSocket::bind("127.0.14.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(&query("mail.example.org", 1, Some(&[5u8; 8])), s.addr)
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    // BADCOOKIE: 7 in the header, 1 in the OPT's extended rcode.
    assert_eq!(buf[3] & 0xf, 7, "{:?}", &buf[..n]);
    let ttl_at = n - opt_rdata(&buf[..n]).unwrap().len() - 6;
    assert_eq!(buf[ttl_at], 1, "extended rcode");
    let cookie = answer_cookie(&buf[..n]).expect("a fresh cookie");
    // With it, a full answer.
    sock.send_to(&query("mail.example.org", 2, Some(&cookie)), s.addr)
        .unwrap();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(kind(&buf[..n]), Got::Full);
    assert_eq!(wait_stat(&s, "cookie-badcookie", 1), Some(1));
}

#[test]
fn badcookie_answers_are_rate_limited_as_errors() {
    let (dir, port) = setup(
        "  require-server-cookie yes;\n  rate-limit {\n    responses-per-second 50;\n    errors-per-second 2;\n    slip 0;\n  };\n",
        "",
    );
    let s = start(&dir, port);
    // A spoofed flood carrying client cookies: BADCOOKIE answers are
    // small, but still reflected; they are limited like any error.
    let got = burst(
        s.addr,
        "127.0.22.1",
        "mail.example.org",
        12,
        Some(&[7u8; 8]),
    );
    let answered = count(&got, &Got::BadCookie);
    assert!((2..=4).contains(&answered), "{got:?}");
    assert_eq!(count(&got, &Got::Nothing), 12 - answered);
    assert_eq!(
        wait_stat(&s, "rrl-dropped", 12 - answered),
        Some(12 - answered)
    );
}

fn tcp_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .unwrap();
    sock.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    sock.connect(&server.into()).unwrap();
    let t: TcpStream = sock.into();
    t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    t
}

/// Whether the server closed `t` (EOF or reset within the timeout).
fn closed(t: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(t.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn at_the_connection_limit_the_oldest_idle_connection_makes_room() {
    let (dir, port) = setup(
        "",
        "setLocal(\"127.0.0.1:{PORT}\", {maxConcurrentTCPConnections=4})\nsetTCPRecvTimeout(30)\nsetMaxTCPConnectionsPerClient(3)\nsetMaxTCPQueriesPerConnection(2)",
    );
    // setup() wrote setLocal already; the second call replaces it with
    // the limit (dnsdist's setLocal).
    let conf = std::fs::read_to_string(dir.join("rampart.conf"))
        .unwrap()
        .replace("{PORT}", &port.to_string());
    std::fs::write(dir.join("rampart.conf"), conf).unwrap();
    let s = start(&dir, port);

    // Four idle connections from two attackers fill the listener.
    let mut idle: Vec<TcpStream> = Vec::new();
    for from in [
        [127, 0, 15, 1],
        [127, 0, 15, 1],
        [127, 0, 15, 2],
        [127, 0, 15, 2],
    ] {
        idle.push(tcp_from(from, s.addr));
        std::thread::sleep(Duration::from_millis(50));
    }
    // The server has taken all four (not a fixed 200 ms).
    assert_eq!(wait_stat(&s, "tcp-opened", 4), Some(4));
    // A new client gets in and is answered…
    let mut t = tcp_from([127, 0, 16, 1], s.addr);
    tcp_send(&mut t, &query("www.example.org", 1, None)).unwrap();
    assert_eq!(kind(&tcp_recv(&mut t).expect("answer")), Got::Full);
    // …because the oldest idle connection was closed.
    assert!(
        closed(&mut idle[0]),
        "the oldest idle connection is still open"
    );
    assert_eq!(wait_stat(&s, "tcp-evicted-idle", 1), Some(1));

    // Two queries a connection: the second answered, then closed.
    tcp_send(&mut t, &query("www.example.org", 2, None)).unwrap();
    assert_eq!(kind(&tcp_recv(&mut t).expect("answer")), Got::Full);
    assert!(
        closed(&mut t),
        "open after setMaxTCPQueriesPerConnection(2)"
    );

    // A client at its own limit (three) is refused, not served by
    // closing another's connection.
    let mine: Vec<TcpStream> = (0..3).map(|_| tcp_from([127, 0, 17, 1], s.addr)).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fourth = tcp_from([127, 0, 17, 1], s.addr);
    assert!(closed(&mut fourth));
    assert_eq!(wait_stat(&s, "tcp-refused", 1), Some(1));
    drop(mine);
    let log = s.log_text();
    assert!(
        log.contains("EvictedIdle"),
        "showTCPStats printed nothing:\n{log}"
    );
}

#[test]
fn a_query_trickled_byte_by_byte_bans_its_client() {
    use std::io::Write;
    let (dir, port) = setup(
        "",
        "setMaxTCPReadIOsPerQuery(4)\nsetBanDurationForExceedingMaxReadIOsPerQuery(60)",
    );
    let s = start(&dir, port);
    let mut t = tcp_from([127, 0, 19, 1], s.addr);
    t.set_nodelay(true).unwrap();
    let q = query("www.example.org", 1, None);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    for b in &framed {
        if t.write_all(&[*b]).is_err() {
            break;
        }
        // Far enough apart that each byte is a read call of its own.
        std::thread::sleep(Duration::from_millis(15));
    }
    assert!(closed(&mut t), "a trickled query was answered");
    assert_eq!(wait_stat(&s, "tcp-banned", 1), Some(1));
    // Banned: the next connection is closed unanswered…
    let mut again = tcp_from([127, 0, 19, 1], s.addr);
    let _ = tcp_send(&mut again, &q);
    assert!(tcp_recv(&mut again).is_none());
    assert_eq!(wait_stat(&s, "tcp-refused", 1), Some(1));
    // …while another client is served.
    let mut other = tcp_from([127, 0, 19, 2], s.addr);
    tcp_send(&mut other, &q).unwrap();
    assert_eq!(kind(&tcp_recv(&mut other).expect("answer")), Got::Full);
}

/// Asks `server` from `sock` with `cookie`; the rcode (extended rcode
/// included) and the cookie that came back.
fn ask_with_cookie(sock: &UdpSocket, server: SocketAddr, cookie: &[u8]) -> (u16, Option<Vec<u8>>) {
    sock.send_to(&query("www.example.org", 9, Some(cookie)), server)
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("an answer");
    let resp = &buf[..n];
    let opt = opt_rdata(resp).map(|r| r.len());
    // The OPT's TTL holds the upper rcode bits, 6 bytes before its RDATA.
    let upper = opt.map_or(0, |len| u16::from(resp[n - len - 6]));
    (upper << 4 | u16::from(resp[3] & 0xf), answer_cookie(resp))
}

#[test]
fn cookies_interoperate_with_bind_under_one_secret() {
    assert!(
        have("named"),
        "named is not installed (apt-get install bind9); the cookie interop test needs it"
    );
    let secret = "00112233445566778899aabbccddeeff";
    let options = format!("  cookie-secret \"{secret}\";\n  require-server-cookie yes;\n");
    let (dir, port) = setup(&options, "");
    // BIND on the same named.conf, on a port of its own.
    let bind_port = free_port();
    let named = std::fs::read_to_string(dir.join("named.conf"))
        .unwrap()
        .replace(
            "options {\n",
            &format!(
                "options {{\n  pid-file none;\n  listen-on port {bind_port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n"
            ),
        )
        .replace("directory \"zones\"", &format!("directory \"{}\"", dir.join("zones").display()));
    std::fs::write(dir.join("bind.conf"), named).unwrap();
    let mut cmd = std::process::Command::new("named");
    cmd.args(["-g", "-n", "1", "-c"]).arg(dir.join("bind.conf"));
    let bind = Server::start(
        "named",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], bind_port)),
        dir.join("bind.log"),
        "example.org",
    );
    let rampart = start(&dir, port);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    const BADCOOKIE: u16 = 23;
    let client = [1u8, 2, 3, 4, 5, 6, 7, 8];
    // A client cookie alone: both demand a server cookie, and give one.
    let (rc, from_bind) = ask_with_cookie(&sock, bind.addr, &client);
    assert_eq!(rc, BADCOOKIE);
    let (rc, from_rampart) = ask_with_cookie(&sock, rampart.addr, &client);
    assert_eq!(rc, BADCOOKIE);
    let (from_bind, from_rampart) = (from_bind.unwrap(), from_rampart.unwrap());
    // Each accepts the other's.
    assert_eq!(
        ask_with_cookie(&sock, rampart.addr, &from_bind).0,
        0,
        "BIND's cookie at rampart"
    );
    assert_eq!(
        ask_with_cookie(&sock, bind.addr, &from_rampart).0,
        0,
        "rampart's cookie at BIND"
    );
    // And neither takes a tampered one.
    let mut bad = from_bind.clone();
    *bad.last_mut().unwrap() ^= 0x55;
    assert_eq!(ask_with_cookie(&sock, rampart.addr, &bad).0, BADCOOKIE);
    assert_eq!(ask_with_cookie(&sock, bind.addr, &bad).0, BADCOOKIE);
}
