//! The real binary on loopback, asked by a real client: transports,
//! EDNS, truncation, errors, broken zones, reloads and the CH names.

use crate::common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

const ZONE: &str = "\
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 60
        IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.2
$GENERATE 1-40 txt$ IN TXT \"record number $ padded out to make a large response ${0,40}\"
$GENERATE 1-40 big IN TXT \"big-$ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"
";

const OTHER: &str = "\
other.test. 60 IN SOA ns.other.test. h.other.test. 5 60 60 60 60
other.test. 60 IN NS ns.other.test.
ns.other.test. 60 IN A 198.51.100.1
";

/// Writes `files` into a scratch dir; returns the dir.
fn zone_dir(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = scratch_dir("zones");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write zone");
    }
    dir
}

fn config_for(dir: &Path, zones: &[(&str, &str)], extra: &str) -> String {
    let mut c = String::from("setLocal(\"{ADDR}\")\n");
    for (name, file) in zones {
        c.push_str(&format!(
            "addZone(\"{name}\", \"{}\")\n",
            dir.join(file).display()
        ));
    }
    c.push_str(extra);
    c
}

fn ask(s: &Server, line: &str) -> Normalized {
    let q = QuerySpec::parse(line).expect("query");
    let raw = exchange(s.addr, &q).unwrap_or_else(|| panic!("no answer to {line}"));
    normalize(&raw).expect("parsable answer")
}

fn raw_udp(s: &Server, packet: &[u8]) -> Option<Vec<u8>> {
    udp_exchange(s.addr, packet, Duration::from_millis(500))
}

/// The server of the two zones above, and the directory of its config
/// (which has a console, for the counters).
fn std_server() -> (Server, std::path::PathBuf) {
    let dir = zone_dir(&[("example.test.zone", ZONE), ("other.test.zone", OTHER)]);
    let conf = config_for(
        &dir,
        &[
            ("Example.Test.", "example.test.zone"),
            ("other.test", "other.test.zone"),
        ],
        &console_config(),
    );
    start_rampart(&conf, "example.test")
}

#[test]
fn answers_over_udp_and_tcp_with_case_echoed() {
    let (s, _) = std_server();
    let r = ask(&s, "WwW.Example.TEST A");
    assert_eq!(r.rcode, "NOERROR");
    assert_eq!(r.flags, "aa");
    assert_eq!(r.answer, ["www.example.test. 300 in a 192.0.2.2"]);
    // The question comes back exactly as asked.
    let q = QuerySpec::parse("WwW.Example.TEST A").unwrap();
    let raw = exchange(s.addr, &q).unwrap();
    assert_eq!(&raw[12..30], b"\x03WwW\x07Example\x04TEST\x00");
    assert_eq!(
        &raw[34..36],
        &[0xc0, 12],
        "answer owner points at the question"
    );
    let r = ask(&s, "www.example.test A tcp");
    assert_eq!(r.answer, ["www.example.test. 300 in a 192.0.2.2"]);
    // Generated names are served.
    let r = ask(&s, "txt7.example.test TXT");
    assert_eq!(r.answer.len(), 1);
    assert!(r.answer[0].contains("record number 7 padded"), "{r}");
}

#[test]
fn negative_answers_refused_and_errors() {
    let (s, conf_dir) = std_server();
    let r = ask(&s, "nope.example.test A");
    assert_eq!(r.rcode, "NXDOMAIN");
    // Negative TTL is min(SOA TTL, MINIMUM) = min(300, 60).
    assert_eq!(r.authority, ["example.test. 60 in soa ns1.example.test. hostmaster.example.test. 1 3600 900 604800 60"]);
    let r = ask(&s, "www.example.test MX");
    assert_eq!(
        (r.rcode.as_str(), r.answer.len(), r.authority.len()),
        ("NOERROR", 0, 1)
    );
    let r = ask(&s, "www.example.net A");
    assert_eq!((r.rcode.as_str(), r.flags.as_str()), ("REFUSED", ""));

    // FORMERR: two questions; a compressed question name.
    let mut two = QuerySpec::parse("www.example.test A noedns")
        .unwrap()
        .to_wire(7);
    two[5] = 2;
    let resp = raw_udp(&s, &two).expect("FORMERR answer");
    assert_eq!((resp[3] & 0xf, &resp[..2]), (1, &[0u8, 7][..]));
    let mut ptr = vec![0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
    assert_eq!(raw_udp(&s, &ptr).expect("answer")[3] & 0xf, 1);
    // A response (QR set) or a runt gets nothing back: counted as
    // noncompliant, like the two FORMERR ones before them.
    assert_stat(&conf_dir, "noncompliant-queries", 2);
    ptr[2] = 0x80;
    assert!(raw_udp(&s, &ptr).is_none());
    assert_stat(&conf_dir, "noncompliant-queries", 3);
    assert!(raw_udp(&s, &[1, 2, 3]).is_none());
    assert_stat(&conf_dir, "noncompliant-queries", 4);
    // No other drop counted, and the server answers.
    for other in ["acl-drops", "rule-drop", "dyn-blocked", "empty-queries"] {
        assert_stat(&conf_dir, other, 0);
    }
    assert_eq!(ask(&s, "www.example.test A").rcode, "NOERROR");
    // Unknown opcode: NOTIMP with the question echoed.
    let mut status = QuerySpec::parse("www.example.test A noedns")
        .unwrap()
        .to_wire(9);
    status[2] = 2 << 3;
    let resp = raw_udp(&s, &status).expect("NOTIMP answer");
    assert_eq!((resp[2] >> 3 & 0xf, resp[3] & 0xf, resp[5]), (2, 4, 1));
    // NOTIFY is not accepted yet: NOTAUTH, never a crash.
    status[2] = 4 << 3;
    assert_eq!(raw_udp(&s, &status).expect("NOTIFY answer")[3] & 0xf, 9);
    // The server is still fine.
    assert_eq!(ask(&s, "www.example.test A").rcode, "NOERROR");
}

#[test]
fn edns_payload_truncation_and_badvers() {
    let (s, _) = std_server();
    // 40 TXT records of ~60 bytes: ~2.7 kB, more than any UDP limit here.
    let r = ask(&s, "big.example.test TXT bufsize=4096");
    assert_eq!(
        r.flags, "aa tc",
        "1232 is the cap whatever the client offers"
    );
    assert!(
        r.answer.is_empty(),
        "no partial RRset in a truncated answer: {r}"
    );
    assert_eq!(
        r.edns.as_deref(),
        Some("v0 do=false"),
        "OPT is kept when truncating"
    );
    let raw = exchange(
        s.addr,
        &QuerySpec::parse("big.example.test TXT bufsize=4096").unwrap(),
    )
    .unwrap();
    assert!(raw.len() <= 1232);
    let r = ask(&s, "big.example.test TXT noedns");
    assert_eq!((r.flags.as_str(), r.edns.is_none()), ("aa tc", true));
    let r = ask(&s, "big.example.test TXT tcp");
    assert_eq!((r.flags.as_str(), r.answer.len()), ("aa", 40));
    // Payload honoured: a 1232-byte limit fits txt1 (one record).
    let r = ask(&s, "txt1.example.test TXT bufsize=512");
    assert_eq!((r.flags.as_str(), r.answer.len()), ("aa", 1));
    // DO bit echoed; BADVERS for version 1 with nothing answered.
    assert_eq!(
        ask(&s, "www.example.test A do").edns.as_deref(),
        Some("v0 do=true")
    );
    let r = ask(&s, "www.example.test A ednsver=1");
    assert_eq!(
        (r.rcode.as_str(), r.answer.len(), r.flags.as_str()),
        ("BADVERS", 0, "")
    );
    // Unknown EDNS options are ignored.
    let mut q = QuerySpec::parse("www.example.test A").unwrap().to_wire(3);
    let rdlen_at = q.len() - 2;
    q[rdlen_at + 1] = 6;
    q.extend_from_slice(&[0xfd, 0xe9, 0, 2, 0xab, 0xcd]);
    let resp = normalize(&raw_udp(&s, &q).expect("answer")).unwrap();
    assert_eq!(resp.answer, ["www.example.test. 300 in a 192.0.2.2"]);
}

#[test]
fn tcp_pipelining_idle_timeout_and_connection_limit() {
    let dir = zone_dir(&[("example.test.zone", ZONE)]);
    let conf = config_for(
        &dir,
        &[("example.test", "example.test.zone")],
        &format!("setTCPRecvTimeout(1)\n{}", console_config()),
    )
    .replace(
        "setLocal(\"{ADDR}\")",
        "setLocal(\"{ADDR}\", {maxConcurrentTCPConnections=3})",
    );
    let (s, conf_dir) = start_rampart(&conf, "example.test");

    // Three queries written back to back on one connection, three answers.
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for (id, name) in [
        (1u16, "www.example.test"),
        (2, "ns1.example.test"),
        (3, "nope.example.test"),
    ] {
        tcp_send(&mut c, &QuerySpec::new(name, Rtype::A).to_wire(id)).unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = tcp_recv(&mut c).expect("pipelined answer");
        ids.push(u16::from_be_bytes([r[0], r[1]]));
    }
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);

    // Idle past the timeout (1 s): the server closes the connection. The
    // read waits longer than any loaded machine needs, and only an end of
    // file counts (a read timing out is an error, not a close).
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1];
    match c.read(&mut buf) {
        Ok(0) => {}
        Ok(_) => panic!("expected EOF, got data"),
        Err(e) => panic!(
            "not closed by the idle timeout after {:?}: {e}",
            started.elapsed()
        ),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed by the idle timeout (1 s), but only after {:?}",
        started.elapsed()
    );

    // Limit 3: hold three idle connections; a fourth gets in by closing
    // the one idle the longest (RFC 7766 §6.2.3), so the limit holds and
    // idle clients cannot lock a new one out.
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut h = TcpStream::connect(s.addr).unwrap();
            h.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            tcp_send(
                &mut h,
                &QuerySpec::new("www.example.test", Rtype::A).to_wire(5),
            )
            .unwrap();
            tcp_recv(&mut h).expect("answer on a held connection");
            std::thread::sleep(Duration::from_millis(20));
            h
        })
        .collect();
    let mut extra = TcpStream::connect(s.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    tcp_send(
        &mut extra,
        &QuerySpec::new("www.example.test", Rtype::A).to_wire(6),
    )
    .unwrap();
    assert!(
        tcp_recv(&mut extra).is_some(),
        "a new connection at the limit is answered:\n{}",
        s.log_text()
    );
    let mut b = [0u8; 1];
    assert_eq!(
        held[0].read(&mut b).unwrap_or(0),
        0,
        "the oldest idle connection was closed to make room"
    );
    assert_stat(&conf_dir, "tcp-evicted-idle", 1);
    drop(held);
    // Once they are gone (the server has closed all but `extra`, which
    // the idle timeout may have closed too), connections are accepted
    // again, with no idle one evicted.
    let open_now = || {
        let c = stats(&conf_dir);
        c.get("tcp-opened").copied().unwrap_or(0) - c.get("tcp-closed").copied().unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(10), || open_now() <= 1),
        "connections still open: {}",
        open_now()
    );
    let r = tcp_exchange(
        s.addr,
        &QuerySpec::new("www.example.test", Rtype::A).to_wire(7),
        Duration::from_secs(3),
    );
    assert!(r.is_some(), "accepting again below the limit");
    assert_stat(&conf_dir, "tcp-evicted-idle", 1);
    drop(extra);
}

#[test]
fn broken_zone_is_servfail_and_the_rest_is_served() {
    let bad = "$TTL 60\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 192.0.2.1\nwww IN CNAME ns\nwww IN A 192.0.2.9\n";
    let dir = zone_dir(&[("good.zone", OTHER), ("bad.zone", bad)]);
    let conf = config_for(
        &dir,
        &[("other.test", "good.zone"), ("bad.test", "bad.zone")],
        "",
    );
    let (s, _) = start_rampart(&conf, "other.test");
    assert_eq!(ask(&s, "www.bad.test A").rcode, "SERVFAIL");
    assert_eq!(ask(&s, "ns.other.test A").rcode, "NOERROR");
    let log = s.log_text();
    assert!(
        log.contains(
            "bad.zone:6: CNAME and A at www.bad.test.: expected no other data beside a CNAME"
        ),
        "{log}"
    );
}

#[test]
fn sighup_reloads_and_keeps_the_old_state_on_errors() {
    let dir = zone_dir(&[("example.test.zone", ZONE)]);
    let conf = config_for(&dir, &[("example.test", "example.test.zone")], "");
    let (s, conf_dir) = start_rampart(&conf, "example.test");
    let wait_for = |line: &str, want: &str| {
        let mut r = None;
        let seen = eventually(Duration::from_secs(10), || {
            let got = ask(&s, line);
            let ok = format!("{got}").contains(want);
            r = Some(got);
            ok
        });
        assert!(
            seen,
            "never saw {want} for {line}:\n{}\n{}",
            r.map(|r| r.to_string()).unwrap_or_default(),
            s.log_text()
        );
    };

    // A good edit is served after SIGHUP.
    let edited = ZONE
        .replace("192.0.2.2", "192.0.2.99")
        .replace(" 1 3600", " 2 3600");
    std::fs::write(dir.join("example.test.zone"), &edited).unwrap();
    s.signal("HUP");
    wait_for("www.example.test A", "192.0.2.99");

    // A broken edit: the previous version keeps being served.
    std::fs::write(dir.join("example.test.zone"), "$TTL 60\n@ IN SOA ns h (\n").unwrap();
    s.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || s
            .log_text()
            .contains("keeps its previous version")),
        "no reload error logged:\n{}",
        s.log_text()
    );
    wait_for("www.example.test A", "192.0.2.99");
    assert!(
        s.log_text().contains("example.test.zone:2: unbalanced '('"),
        "{}",
        s.log_text()
    );

    // A broken config: nothing changes.
    std::fs::write(
        dir.join("example.test.zone"),
        edited.replace("192.0.2.99", "192.0.2.100"),
    )
    .unwrap();
    std::fs::write(conf_dir.join("rampart.conf"), "setLocal(\n").unwrap();
    s.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || s
            .log_text()
            .contains("reload refused")),
        "no refusal logged:\n{}",
        s.log_text()
    );
    wait_for("www.example.test A", "192.0.2.99");
}

#[test]
fn chaos_names_only_when_configured() {
    let (s, _) = std_server();
    assert_eq!(ask(&s, "version.bind TXT class=3").rcode, "REFUSED");
    let dir = zone_dir(&[("other.test.zone", OTHER)]);
    let conf = config_for(
        &dir,
        &[("other.test", "other.test.zone")],
        "setServerVersion(\"rampart test\")\nsetServerIdentity(\"ns-test\")\n",
    );
    let (s, _) = start_rampart(&conf, "other.test");
    let r = ask(&s, "version.bind TXT class=3");
    assert_eq!(r.answer, ["version.bind. 0 ch txt \"rampart test\""]);
    let r = ask(&s, "id.server TXT class=3");
    assert_eq!(r.answer, ["id.server. 0 ch txt \"ns-test\""]);
}

#[test]
fn named_conf_zones_and_listen_override() {
    let dir = zone_dir(&[("other.test.zone", OTHER)]);
    std::fs::create_dir_all(dir.join("db")).unwrap();
    std::fs::rename(dir.join("other.test.zone"), dir.join("db/other.test.zone")).unwrap();
    std::fs::write(
        dir.join("named.conf"),
        "options { directory \"db\"; recursion no; };\nzone \"Other.Test.\" IN { type master; file \"other.test.zone\"; };\n\
         zone \"sec.test\" { type slave; masters { 127.0.0.1 port PRIMARY; }; file \"sec.test.zone\"; };\n"
            .replace("PRIMARY", &free_port().to_string()),
    )
    .unwrap();
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:1\")\nloadNamedConf(\"{}\")\n",
        dir.join("named.conf").display()
    );
    std::fs::write(dir.join("rampart.conf"), conf).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C")
        .arg(dir.join("rampart.conf"))
        .arg("-l")
        .arg(addr.to_string());
    let s = Server::start("rampart", cmd, addr, dir.join("log"), "other.test");
    assert_eq!(
        ask(&s, "ns.other.test A").answer,
        ["ns.other.test. 60 in a 198.51.100.1"]
    );
    // A secondary zone whose primary does not answer (nothing listens on
    // its port): SERVFAIL, and the log says why.
    assert_eq!(ask(&s, "sec.test SOA").rcode, "SERVFAIL");
    eventually(Duration::from_secs(10), || {
        s.log_text().contains("refresh failed")
    });
    let log = s.log_text();
    assert!(log.contains("option 'recursion' ignored"), "{log}");
    assert!(
        log.contains("secondary zone sec.test from 127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains("secondary zone sec.test.: refresh failed"),
        "{log}"
    );
}

#[test]
fn dig_queries_the_bundled_example() {
    assert!(
        have("dig"),
        "dig is not installed (apt-get install dnsutils)"
    );
    let root = repo_root();
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C")
        .arg(root.join("examples/rampart.conf"))
        .arg("-l")
        .arg(addr.to_string());
    let dir = scratch_dir("example");
    let _s = Server::start("rampart", cmd, addr, dir.join("log"), "example.org");
    let dig = |args: &[&str]| -> String {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "+short",
                "+time=2",
                "+tries=1",
            ])
            .args(args)
            .output()
            .expect("run dig");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(dig(&["www.example.org", "A"]), "example.org.\n192.0.2.10");
    assert_eq!(dig(&["example.org", "CAA"]).lines().count(), 2);
    assert_eq!(dig(&["-x", "2001:db8::1"]), "ns1.example.org.");
    assert_eq!(dig(&["-x", "192.0.2.25"]), "mail.example.org.");
    assert_eq!(dig(&["+tcp", "host-3.example.org", "A"]), "192.0.2.3");
    assert_eq!(
        dig(&["x.legacy.example.org", "A"]).lines().next(),
        Some("example.net.")
    );
}

#[test]
fn wildcard_listener_replies_from_the_address_asked() {
    let dir = zone_dir(&[("other.test.zone", OTHER)]);
    let port = free_port();
    let conf = format!(
        "setLocal(\"0.0.0.0:{port}\")\naddLocal(\"[::]:{port}\")\naddZone(\"other.test\", \"{}\")\n",
        dir.join("other.test.zone").display()
    );
    std::fs::write(dir.join("rampart.conf"), conf).unwrap();
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C").arg(dir.join("rampart.conf"));
    let probe = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let _s = Server::start("rampart", cmd, probe, dir.join("log"), "other.test");
    let query = QuerySpec::new("ns.other.test", Rtype::A).to_wire(77);
    // A connected socket drops datagrams from any other source, so an
    // answer proves it came from the address we asked.
    for (local, remote) in [
        ("127.0.0.1:0", format!("127.0.0.2:{port}")),
        ("[::1]:0", format!("[::1]:{port}")),
    ] {
        let sock = std::net::UdpSocket::bind(local).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        sock.connect(&remote).unwrap();
        sock.send(&query).unwrap();
        let mut buf = [0u8; 512];
        let n = sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no answer from {remote}: {e}"));
        assert_eq!(&buf[..2], &[0, 77]);
        assert!(n > 12);
    }
}

#[test]
fn no_query_is_lost_while_reloading() {
    // A zone big enough that each reload takes a while.
    let mut zone = String::from(ZONE);
    for i in 0..20_000 {
        zone.push_str(&format!("h{i} IN A 10.0.{}.{}\n", i / 256 % 256, i % 256));
    }
    let dir = zone_dir(&[("example.test.zone", &zone)]);
    let conf = config_for(&dir, &[("example.test", "example.test.zone")], "");
    let (s, _) = start_rampart(&conf, "example.test");
    let addr = s.addr;
    let asker = std::thread::spawn(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut lost = 0;
        let mut buf = [0u8; 512];
        for i in 0..3000u16 {
            let q = QuerySpec::new(&format!("h{}.example.test", i % 20_000), Rtype::A).to_wire(i);
            sock.send_to(&q, addr).unwrap();
            match sock.recv(&mut buf) {
                Ok(n) if n > 12 && buf[..2] == i.to_be_bytes() && buf[3] & 0xf == 0 => {}
                _ => lost += 1,
            }
        }
        lost
    });
    for n in 0..8 {
        let edited = zone.replace(" 1 3600 900", &format!(" {} 3600 900", n + 2));
        std::fs::write(dir.join("example.test.zone"), edited).unwrap();
        s.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    let lost = asker.join().unwrap();
    assert_eq!(lost, 0, "queries unanswered or failed during reloads");
    let reloads = s.log_text().matches("reload done").count();
    assert!(reloads >= 1, "no reload completed:\n{}", s.log_text());
}

#[test]
fn one_client_cannot_hold_every_tcp_slot() {
    let dir = zone_dir(&[("other.test.zone", OTHER)]);
    let conf = config_for(
        &dir,
        &[("other.test", "other.test.zone")],
        &format!("setMaxTCPConnectionsPerClient(2)\n{}", console_config()),
    );
    let (s, conf_dir) = start_rampart(&conf, "other.test");
    let query = QuerySpec::new("ns.other.test", Rtype::A).to_wire(1);
    let open = |from: &str| -> Option<TcpStream> {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        sock.bind(&from.parse::<std::net::SocketAddr>().ok()?.into())
            .ok()?;
        sock.connect(&s.addr.into()).ok()?;
        let mut c: TcpStream = sock.into();
        c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        tcp_send(&mut c, &query)?;
        tcp_recv(&mut c)?;
        Some(c)
    };
    let a = open("127.0.0.1:0").expect("first connection");
    let b = open("127.0.0.1:0").expect("second connection");
    assert!(
        open("127.0.0.1:0").is_none(),
        "a third from the same address is refused"
    );
    // Refused at the limit (closed at once), not lost.
    assert_stat(&conf_dir, "tcp-refused", 1);
    assert_stat(&conf_dir, "tcp-evicted-idle", 0);
    // Another address still gets in.
    assert!(open("127.0.0.3:0").is_some(), "another client is served");
    drop((a, b));
}
