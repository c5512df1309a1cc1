//! The shield issue's config, verbatim, and its modern-name twin: rate
//! limits per /24, ANY and domain blocks, the allow-list, the query log,
//! the shadowing warning, and DelayAction where it can fire.

use crate::common;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

/// The config from the issue, as an operator copied it from a blog.
const BLOG_CONFIG: &str = r#"setLocal("{ADDR}")
setACL({"0.0.0.0/0", "::/0"})
addAction(AllRule(), LogAction("query.log", false, true, false))
addAction(MaxQPSIPRule(5, 24, 64), DropAction())
addDelay(MaxQPSIPRule(5), 1000)
addAction(QTypeRule(dnsdist.ANY), DropAction())
addDomainBlock("madingyule.net.")
addAction(makeRule("example.org."), AllowAction())
addAction(AllRule(), DropAction())
addZone("example.org", "zones/example.org.zone")
"#;

/// The same with today's dnsdist names.
const MODERN_CONFIG: &str = r#"setLocal("{ADDR}")
setACL({"0.0.0.0/0", "::/0"})
addAction(AllRule(), LogAction("query.log", false, true, false), {name="log everything"})
addAction(MaxQPSIPRule(5, 24, 64), DropAction(), {name="per-/24 limit"})
addAction(MaxQPSIPRule(5), DelayAction(1000))
addAction(QTypeRule(DNSQType.ANY), DropAction())
addAction(QNameSuffixRule("madingyule.net."), DropAction())
addAction(QNameSuffixRule("example.org."), AllowAction())
addAction(AllRule(), DropAction(), {name="default drop", uuid="8b0f4a4e-1f36-4b1b-a9a6-3e3d1f8a2c11"})
addZone("example.org", "zones/example.org.zone")
"#;

/// Writes `config` (with a console after it, which reads the counters)
/// and the example zone into a scratch dir.
fn setup(config: &str) -> (std::path::PathBuf, u16) {
    let dir = scratch_with_example_zone("shield");
    let port = free_port();
    std::fs::write(
        dir.join("rampart.conf"),
        config.replace("{ADDR}", &format!("127.0.0.1:{port}")) + &console_config(),
    )
    .unwrap();
    (dir, port)
}

fn start(dir: &Path, port: u16) -> Server {
    rampart_on(dir, port, "example.org")
}

/// Asks once from `from`; the answer, or None when dropped.
fn ask_from(
    from: &str,
    server: SocketAddr,
    name: &str,
    qtype: Rtype,
    id: u16,
) -> Option<(Vec<u8>, u16)> {
    let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let q = QuerySpec::new(name, qtype).to_wire(id);
    sock.send_to(&q, server).unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some((buf[..n].to_vec(), port))
}

fn check_config(config: &str) {
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    let server = s.addr;

    // A burst of six from one /24: five answered, the sixth dropped.
    let answered: Vec<bool> = (0..6)
        .map(|i| ask_from("127.0.3.5", server, "www.example.org", Rtype::A, 100 + i).is_some())
        .collect();
    assert_eq!(
        answered,
        [true, true, true, true, true, false],
        "burst from 127.0.3.0/24"
    );
    // Each drop below is a rule's (the counter says why, not a timeout).
    assert_stat(&dir, "rule-drop", 1);
    // Another /24 is answered meanwhile.
    let (resp, port) = ask_from("127.0.4.5", server, "www.example.org", Rtype::A, 4242)
        .expect("other /24 answered");
    assert_eq!(resp[3] & 0xf, 0);
    // ANY is dropped, the blocked domain dropped, anything not example.org
    // dropped; example.org itself answered.
    assert!(
        ask_from("127.0.5.5", server, "example.org", Rtype::ANY, 1).is_none(),
        "ANY dropped"
    );
    assert_stat(&dir, "rule-drop", 2);
    assert!(
        ask_from("127.0.6.5", server, "www.madingyule.net", Rtype::A, 2).is_none(),
        "domain block"
    );
    assert_stat(&dir, "rule-drop", 3);
    assert!(
        ask_from("127.0.7.5", server, "example.com", Rtype::A, 3).is_none(),
        "default drop"
    );
    assert_stat(&dir, "rule-drop", 4);
    let (resp, _) = ask_from("127.0.8.5", server, "mail.example.org", Rtype::A, 4)
        .expect("example.org answered");
    assert_eq!(
        normalize(&resp).unwrap().answer,
        ["mail.example.org. 3600 in a 192.0.2.25"]
    );

    // Dropped over TCP: the connection is closed.
    let mut c = TcpStream::connect(server).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    tcp_send(&mut c, &QuerySpec::new("example.com", Rtype::A).to_wire(9)).unwrap();
    assert!(tcp_recv(&mut c).is_none(), "TCP drop closes the connection");
    assert_stat(&dir, "rule-drop", 5);
    // No other kind of drop, and the server still answers.
    for other in ["acl-drops", "dyn-blocked", "noncompliant-queries"] {
        assert_stat(&dir, other, 0);
    }
    assert!(ask_from("127.0.8.6", server, "www.example.org", Rtype::A, 5).is_some());

    // The query log, as dnsdist writes it: unbuffered, with the real id.
    let log = std::fs::read_to_string(dir.join("query.log")).unwrap();
    let line = format!("Packet from 127.0.4.5:{port} for www.example.org. A with id 4242\n");
    assert!(log.contains(&line), "missing {line:?} in:\n{log}");
    assert!(log.contains("for example.org. ANY with id 1\n"), "{log}");

    // --check-config names the delay rule the per-/24 drop shadows.
    let out = Command::new(rampart_bin())
        .args(["--check-config", "-C"])
        .arg(dir.join("rampart.conf"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: rule 2 (IP (/32, /64) match for QPS over 5 burst 5 → delay by 1000 ms) never fires: rule 1"),
        "{text}"
    );
}

#[test]
fn blog_config_works_verbatim() {
    check_config(BLOG_CONFIG);
}

#[test]
fn modern_names_behave_the_same() {
    check_config(MODERN_CONFIG);
}

#[test]
fn delay_holds_udp_answers_not_tcp() {
    let config = "setLocal(\"{ADDR}\")\nsetACL({\"0.0.0.0/0\", \"::/0\"})\naddDelay(MaxQPSIPRule(5), 1000)\naddZone(\"example.org\", \"zones/example.org.zone\")\n";
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    let sock = UdpSocket::bind("127.0.9.5:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    for i in 0..5u16 {
        sock.send_to(
            &QuerySpec::new("www.example.org", Rtype::A).to_wire(i),
            s.addr,
        )
        .unwrap();
        sock.recv(&mut buf).expect("within the burst");
    }
    let started = Instant::now();
    sock.send_to(
        &QuerySpec::new("www.example.org", Rtype::A).to_wire(6),
        s.addr,
    )
    .unwrap();
    let n = sock.recv(&mut buf).expect("the delayed answer still comes");
    let waited = started.elapsed();
    assert_eq!(&buf[..2], &[0, 6]);
    assert!(n > 12);
    // Held for the delay: the clock started before the query left, so no
    // load can make this shorter (50 ms for timer granularity).
    assert!(
        waited >= Duration::from_millis(950),
        "UDP answer came after {waited:?}"
    );
    // And then sent, not held for a multiple of it or a delay read in
    // the wrong unit; the slack is for a loaded machine.
    assert!(
        waited < Duration::from_millis(4000),
        "UDP answer came after {waited:?}"
    );

    // Over TCP the same client is answered at once.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.9.5:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.connect(&s.addr.into()).unwrap();
    let mut c: TcpStream = sock.into();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    tcp_send(
        &mut c,
        &QuerySpec::new("www.example.org", Rtype::A).to_wire(7),
    )
    .unwrap();
    tcp_recv(&mut c).expect("TCP answer");
    // Sooner than a delayed answer can come (950 ms, above): not held.
    assert!(
        started.elapsed() < Duration::from_millis(950),
        "TCP took {:?}",
        started.elapsed()
    );
}

#[test]
fn default_acl_is_dnsdists_and_set_acl_replaces_it() {
    // Loopback is in the default ACL; a config narrowing it to one /24
    // leaves the rest of loopback unanswered.
    let config = "setLocal(\"{ADDR}\")\nsetACL(\"127.0.0.0/24\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n";
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    assert!(ask_from("127.0.0.7", s.addr, "www.example.org", Rtype::A, 1).is_some());
    assert!(ask_from("127.0.10.7", s.addr, "www.example.org", Rtype::A, 2).is_none());
    // Dropped by the ACL, and the server is still up for the /24.
    assert_stat(&dir, "acl-drops", 1);
    assert!(ask_from("127.0.0.7", s.addr, "www.example.org", Rtype::A, 3).is_some());
}

#[test]
fn dynamic_block_stops_a_random_subdomain_flood_but_not_a_legitimate_client() {
    let config = r#"setLocal("{ADDR}")
setACL({"0.0.0.0/0", "::/0"})
local dbr = dynBlockRulesGroup()
dbr:setRCodeRate(DNSRCode.NXDOMAIN, 10, 1, "NXDOMAIN flood", 30, DNSAction.Drop)
function maintenance()
  dbr:apply()
end
addZone("example.org", "zones/example.org.zone")
"#;
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    let server = s.addr;

    // 40 flooding addresses, 50 random names a second each, for 4 s.
    let flooders: Vec<UdpSocket> = (1..=40)
        .map(|k| {
            let sock = UdpSocket::bind(format!("127.20.0.{k}:0")).unwrap();
            sock.set_nonblocking(true).unwrap();
            sock
        })
        .collect();
    let legit = UdpSocket::bind("127.0.30.1:0").unwrap();
    legit
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();

    let started = Instant::now();
    let mut answered_per_quarter = [0u32; 16];
    let mut legit_asked = 0;
    let mut legit_answered = 0;
    let mut buf = [0u8; 512];
    let mut n: u32 = 0;
    for round in 0..200u32 {
        for f in &flooders {
            n += 1;
            let name = format!("r{:x}{n}.example.org", n.wrapping_mul(2_654_435_761));
            let _ = f.send_to(&QuerySpec::new(&name, Rtype::A).to_wire(n as u16), server);
        }
        let quarter = (started.elapsed().as_millis() / 250).min(15) as usize;
        for f in &flooders {
            while f.recv(&mut buf).is_ok() {
                answered_per_quarter[quarter] += 1;
            }
        }
        if round % 5 == 0 {
            legit_asked += 1;
            legit
                .send_to(
                    &QuerySpec::new("www.example.org", Rtype::A).to_wire(round as u16),
                    server,
                )
                .unwrap();
            if legit.recv(&mut buf).is_ok() && buf[3] & 0xf == 0 {
                legit_answered += 1;
            }
        }
        // 20 ms a round: 2,000 queries a second in all.
        let next = Duration::from_millis(20 * u64::from(round + 1));
        if let Some(wait) = next.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let log = s.log_text();
    println!("flood answers per quarter second: {answered_per_quarter:?}; legitimate {legit_answered}/{legit_asked}");
    assert!(
        log.contains("Inserting dynamic block for 127.20.0."),
        "no block logged:\n{log}"
    );
    // Engaged within two seconds: nothing answered to the flood after
    // 2.25 s (a quarter-second of slack for in-flight answers).
    let late: u32 = answered_per_quarter[9..].iter().sum();
    assert_eq!(
        late, 0,
        "flood still answered late: {answered_per_quarter:?}"
    );
    assert!(
        answered_per_quarter[0] > 0,
        "the flood was answered at first: {answered_per_quarter:?}"
    );
    assert_eq!(
        legit_answered, legit_asked,
        "the legitimate client lost answers"
    );
    // The flood went unanswered because of the dynamic block, and only it.
    let counters = stats(&dir);
    assert!(
        counters.get("dyn-blocked").is_some_and(|&n| n > 0),
        "{counters:?}"
    );
    assert_eq!(counters.get("rule-drop"), Some(&0), "{counters:?}");
    assert_eq!(counters.get("acl-drops"), Some(&0), "{counters:?}");
}

#[test]
fn inspection_commands_read_the_live_rings() {
    // maintenance() prints once a second; the test reads the server log.
    let config = r#"setLocal("{ADDR}")
addDomainBlock("blocked.example.")
function maintenance()
  topQueries(3, 2)
  topClients(2)
  dumpStats()
end
addZone("example.org", "zones/example.org.zone")
"#;
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    for i in 0..8u16 {
        ask_from(
            "127.0.40.1",
            s.addr,
            &format!("h{i}.www.example.org"),
            Rtype::A,
            i,
        );
    }
    assert!(ask_from("127.0.40.1", s.addr, "x.blocked.example", Rtype::A, 99).is_none());
    assert_stat(&dir, "rule-drop", 1);
    let shown = eventually(Duration::from_secs(5), || {
        let log = s.log_text();
        log.contains("example.org.") && log.contains("127.0.40.1") && log.contains("rule-drop")
    });
    let log = s.log_text();
    assert!(shown, "inspection output never showed up:\n{log}");
    assert!(
        log.contains(&format!("   1  {:<40}    9 90.0%", "example.org.")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{:<35}{:<12}", "frontend-noerror", 1)),
        "{log}"
    );
    assert!(log.contains(&format!("{:<35}{}", "rule-drop", 1)), "{log}");
    // The block dropped one query; the server still answers the rest.
    assert!(ask_from("127.0.40.2", s.addr, "www.example.org", Rtype::A, 100).is_some());
}

#[test]
fn response_rules_and_tags() {
    let config = r#"setLocal("{ADDR}")
addAction(QNameSuffixRule("tagme.example.org."), SetTagAction("class", "special"))
addAction(TagRule("class", "special"), RCodeAction(DNSRCode.REFUSED))
addResponseAction(RCodeRule(DNSRCode.NXDOMAIN), DropResponseAction())
addResponseAction(QTypeRule(DNSQType.MX), LimitTTLResponseAction(0, 60))
addResponseAction(QTypeRule("TXT"), ClearRecordTypesResponseAction({DNSQType.TXT}))
addResponseAction(AllRule(), LogResponseAction("answers.log", true, false))
addZone("example.org", "zones/example.org.zone")
"#;
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    let ask = |name: &str, t: Rtype, id: u16| {
        ask_from("127.0.50.1", s.addr, name, t, id).map(|(r, p)| (normalize(&r).unwrap(), p))
    };
    assert!(
        ask("nope.example.org", Rtype::A, 1).is_none(),
        "NXDOMAIN answers dropped"
    );
    // By the response rule (DropResponseAction counts as a rule drop).
    assert_stat(&dir, "rule-drop", 1);
    let (mx, port) = ask("example.org", Rtype::MX, 2).expect("MX answered");
    assert_eq!(
        mx.answer,
        ["example.org. 60 in mx 10 mail.example.org."],
        "TTL limited to 60"
    );
    let (txt, _) = ask("example.org", Rtype::TXT, 3).expect("TXT answered");
    assert!(txt.answer.is_empty(), "TXT records cleared: {txt}");
    let (tagged, _) = ask("x.tagme.example.org", Rtype::A, 4).expect("tagged query answered");
    assert_eq!(tagged.rcode, "REFUSED");
    let log = std::fs::read_to_string(dir.join("answers.log")).unwrap();
    assert!(
        log.contains(&format!(
            "Answer to 127.0.50.1:{port} for example.org. MX (No Error) with id 2\n"
        )),
        "{log}"
    );
    assert!(
        !log.contains("with id 4"),
        "self-made answers skip response rules:\n{log}"
    );
    assert_stat(&dir, "rule-drop", 1);
}

#[test]
fn rules_added_at_runtime_take_effect() {
    let config = r#"setLocal("{ADDR}")
local added = false
function maintenance()
  if not added then
    addDomainBlock("mail.example.org.")
    added = true
  end
end
addZone("example.org", "zones/example.org.zone")
"#;
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    let mut id = 0u16;
    let blocked = eventually(Duration::from_secs(5), || {
        id += 1;
        ask_from("127.0.60.1", s.addr, "mail.example.org", Rtype::A, id).is_none()
    });
    assert!(
        blocked,
        "the runtime block never applied:\n{}",
        s.log_text()
    );
    // Dropped by the rule, not lost: one drop counted, and each query
    // after it dropped and counted too.
    assert_stat(&dir, "rule-drop", 1);
    assert!(ask_from("127.0.60.1", s.addr, "mail.example.org", Rtype::A, 999).is_none());
    assert_stat(&dir, "rule-drop", 2);
    assert!(ask_from("127.0.60.1", s.addr, "www.example.org", Rtype::A, 1).is_some());
    assert!(
        s.log_text()
            .contains("rules changed at runtime: 1 query rules"),
        "{}",
        s.log_text()
    );
}

#[test]
fn dnsdist_command_line_flags() {
    // -a starts the ACL (the config sets none); -u/-g drop root once the
    // sockets are bound; --supervised and --disable-syslog are accepted.
    let config = "setLocal(\"{ADDR}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n";
    let (dir, port) = setup(config);
    // The scratch dir must stay readable for reloads as nobody.
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C").arg(dir.join("rampart.conf")).args([
        "-a",
        "127.0.0.0/24",
        "--supervised",
        "--disable-syslog",
    ]);
    let root = running_as_root();
    if root {
        cmd.args(["-u", "nobody", "-g", "nogroup"]);
    }
    let s = Server::start(
        "rampart",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("log"),
        "example.org",
    );
    assert!(
        ask_from("127.0.0.9", s.addr, "www.example.org", Rtype::A, 1).is_some(),
        "inside -a"
    );
    assert!(
        ask_from("127.0.11.9", s.addr, "www.example.org", Rtype::A, 2).is_none(),
        "outside -a"
    );
    assert_stat(&dir, "acl-drops", 1);
    assert!(
        ask_from("127.0.0.9", s.addr, "www.example.org", Rtype::A, 3).is_some(),
        "still answering inside -a"
    );
    if root {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid_line.split_whitespace().nth(1) == Some("65534"),
            "still root: {uid_line}"
        );
    } else {
        println!("not root: -u/-g not exercised");
    }
}

/// Whether the tests run as root (CI does).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn sigterm_drains_delayed_answers_and_exits_zero() {
    let config = "setLocal(\"{ADDR}\")\naddDelay(QNameRule(\"www.example.org\"), 500)\naddZone(\"example.org\", \"zones/example.org.zone\")\n";
    let (dir, port) = setup(config);
    let mut s = start(&dir, port);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let queries = || stats(&dir).get("queries").copied();
    let mut before = None;
    assert!(
        eventually(Duration::from_secs(5), || {
            before = queries();
            before.is_some()
        }),
        "the console never answered"
    );
    sock.send_to(
        &QuerySpec::new("www.example.org", Rtype::A).to_wire(77),
        s.addr,
    )
    .unwrap();
    // TERM once the server has the query (and holds its answer 500 ms).
    assert!(
        eventually(Duration::from_secs(5), || queries() > before),
        "the query never arrived"
    );
    s.signal("TERM");
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("the delayed answer went out before exit");
    assert_eq!((&buf[..2], n > 12), (&[0u8, 77][..], true));
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", s.log_text());
    assert!(
        s.log_text().contains("drained, exiting"),
        "{}",
        s.log_text()
    );
}

#[test]
fn suffix_match_rule_query_counters_response_rules_and_pool_availability() {
    let config = r#"setLocal("{ADDR}")
setQueryCount(true)
addAction(PoolAvailableRule("nopool"), DropAction())
setResponseRules({newRuleAction(QTypeRule(DNSQType.MX), LimitTTLResponseAction(0, 5))})
local dbr = dynBlockRulesGroup()
dbr:setSuffixMatchRule(10, "PRSD", 60, DNSAction.Refused, function(node, self, children)
  if node.labelsCount == 2 and children.nxdomains > 30 then
    return true, "PRSD on " .. node.fullname
  end
  return false
end)
function maintenance()
  dbr:apply()
  getQueryCounters(2)
end
addZone("example.org", "zones/example.org.zone")
"#;
    let (dir, port) = setup(config);
    let s = start(&dir, port);
    // No pool "nopool": the drop rule does not fire; the MX TTL is capped.
    let (mx, _) = ask_from("127.0.70.1", s.addr, "example.org", Rtype::MX, 1).expect("answered");
    assert_eq!(
        normalize(&mx).unwrap().answer,
        ["example.org. 5 in mx 10 mail.example.org."]
    );
    for i in 0..60u16 {
        ask_from(
            "127.0.70.1",
            s.addr,
            &format!("qr{i}.example.org"),
            Rtype::A,
            100 + i,
        );
    }
    let refused = eventually(Duration::from_secs(10), || {
        ask_from("127.0.71.1", s.addr, "zzz.example.org", Rtype::A, 7)
            .is_some_and(|(r, _)| normalize(&r).unwrap().rcode == "REFUSED")
    });
    assert!(refused, "no suffix block:\n{}", s.log_text());
    let log = s.log_text();
    assert!(
        log.contains(
            "Inserting dynamic block for example.org. for 60 seconds: PRSD on example.org."
        ),
        "{log}"
    );
    assert!(
        log.contains("query counting is currently: enabled"),
        "{log}"
    );
}
