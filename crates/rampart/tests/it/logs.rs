//! The log and the service manager: floods of refused requests say a
//! handful of lines with the count held back, the structured formats
//! carry the fields, and systemd's notifications (READY, WATCHDOG,
//! RELOADING, STOPPING) arrive on a socket the test provides, in order.

use crate::common;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

/// The example zone served on `port`, transferred to a network the
/// test is not in (so the replication service holds it: transfers from
/// here are refused, and so are NOTIFYs, not being one of its primaries).
fn conf(port: u16) -> String {
    format!(
        "setLocal(\"127.0.0.1:{port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n\
         setZoneTransferACL(\"example.org\", {{\"192.0.2.0/24\"}})\n"
    )
}

/// Starts rampart on `dir`'s config with extra arguments and environment,
/// without waiting for it to answer.
fn spawn(dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Server {
    let log = dir.join("rampart.log");
    let f = std::fs::File::create(&log).expect("log file");
    let f2 = f.try_clone().expect("log file");
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C")
        .arg(dir.join("rampart.conf"))
        .arg("--disable-syslog")
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .envs(env.iter().copied())
        .stdout(Stdio::from(f))
        .stderr(Stdio::from(f2))
        .stdin(Stdio::null());
    Server {
        child: cmd.spawn().expect("start rampart"),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        name: "rampart".into(),
    }
}

/// Waits until the server answers a SOA query for example.org.
fn wait_answering(s: &mut Server) {
    let q = QuerySpec::new("example.org", Rtype::SOA).to_wire(1);
    let answering = eventually(Duration::from_secs(20), || {
        if let Ok(Some(st)) = s.child.try_wait() {
            panic!("rampart exited ({st}):\n{}", s.log_text());
        }
        udp_exchange(s.addr, &q, Duration::from_millis(200)).is_some()
    });
    assert!(answering, "rampart did not answer:\n{}", s.log_text());
}

/// A NOTIFY for example.org (opcode 4), without EDNS.
fn notify(id: u16) -> Vec<u8> {
    let mut q = QuerySpec::new("example.org", Rtype::SOA);
    q.edns = None;
    let mut wire = q.to_wire(id);
    wire[2] = 4 << 3 | 0x04; // opcode NOTIFY, AA
    wire
}

fn rcode(msg: &[u8]) -> u8 {
    msg.get(3).map_or(255, |b| b & 0x0f)
}

/// Sends `count` NOTIFYs from one socket, in batches, reading the
/// answers; how many answers were REFUSED.
fn flood_notify(addr: SocketAddr, count: u16) -> usize {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut refused = 0;
    let mut buf = [0u8; 512];
    for batch in 0..count.div_ceil(50) {
        let n = 50.min(count - batch * 50);
        for i in 0..n {
            let _ = sock.send_to(&notify(batch * 50 + i), addr);
        }
        for _ in 0..n {
            match sock.recv(&mut buf) {
                Ok(len) if rcode(&buf[..len]) == 5 => refused += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    refused
}

/// Asks for `per_connection` AXFRs on each of `connections` TCP
/// connections, one after the other; how many were REFUSED.
fn flood_axfr(addr: SocketAddr, connections: usize, per_connection: u16) -> usize {
    let mut q = QuerySpec::new("example.org", Rtype::AXFR);
    q.edns = None;
    let mut refused = 0;
    for _ in 0..connections {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        for id in 0..per_connection {
            if tcp_send(&mut s, &q.to_wire(id)).is_none() {
                break;
            }
            match tcp_recv(&mut s) {
                Some(r) if rcode(&r) == 5 => refused += 1,
                Some(_) => {}
                None => break,
            }
        }
    }
    refused
}

/// Polls the log until `check` holds or `limit` passes.
fn wait_log(s: &Server, limit: Duration, check: impl Fn(&str) -> bool) -> String {
    let mut log = String::new();
    eventually(limit, || {
        log = s.log_text();
        check(&log)
    });
    log
}

/// The numbers N in "(N more suppressed)" and "N more suppressed" on
/// the lines containing `what`.
fn suppressed_counts(log: &str, what: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| {
            let before = l.split(" more suppressed").next()?;
            let n = before.rsplit([' ', '(']).next()?;
            n.parse().ok()
        })
        .collect()
}

/// An AXFR signed with a key the server does not know (BADKEY).
fn axfr_with_unknown_key(id: u16) -> Vec<u8> {
    let mut q = QuerySpec::new("example.org", Rtype::AXFR);
    q.edns = None;
    let mut w = q.to_wire(id);
    w[11] = 1; // ARCOUNT
    w.extend_from_slice(b"\x05nokey\x00");
    w.extend_from_slice(&250u16.to_be_bytes()); // TSIG
    w.extend_from_slice(&255u16.to_be_bytes()); // ANY
    w.extend_from_slice(&0u32.to_be_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut rd = b"\x0bhmac-sha256\x00".to_vec();
    rd.extend_from_slice(&now.to_be_bytes()[2..]);
    rd.extend_from_slice(&300u16.to_be_bytes());
    rd.extend_from_slice(&32u16.to_be_bytes());
    rd.extend_from_slice(&[0u8; 32]);
    rd.extend_from_slice(&id.to_be_bytes());
    rd.extend_from_slice(&[0, 0, 0, 0]);
    w.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    w.extend_from_slice(&rd);
    w
}

/// Sends `count` AXFRs with an unknown TSIG key on one TCP connection;
/// how many were answered NOTAUTH.
fn flood_bad_tsig(addr: SocketAddr, count: u16) -> usize {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut notauth = 0;
    for id in 0..count {
        if tcp_send(&mut s, &axfr_with_unknown_key(id)).is_none() {
            break;
        }
        match tcp_recv(&mut s) {
            Some(r) if rcode(&r) == 9 => notauth += 1,
            Some(_) => {}
            None => break,
        }
    }
    notauth
}

/// In `log`: the lines containing `line` (each one refusal, perhaps
/// with "(N more suppressed)"), the summary lines containing `summary`,
/// and the sum of the counts held back both say.
fn tally(log: &str, line: &str, summary: &str) -> (usize, usize, u64) {
    let lines = log.lines().filter(|l| l.contains(line)).count();
    let summaries = log.lines().filter(|l| l.contains(summary)).count();
    let held = suppressed_counts(log, line).iter().sum::<u64>()
        + suppressed_counts(log, summary).iter().sum::<u64>();
    (lines, summaries, held)
}

#[test]
fn a_flood_of_refused_requests_logs_a_handful_of_lines_with_the_count() {
    let dir = scratch_with_example_zone("logflood");
    let port = free_port();
    std::fs::write(dir.join("rampart.conf"), conf(port)).expect("config");
    let mut s = spawn(&dir, port, &[], &[]);
    wait_answering(&mut s);

    let started = Instant::now();
    // NOTIFY for a zone this server is primary of, from a stranger; AXFR
    // from a client not in the transfer ACL; AXFR signed with a key
    // nobody knows.
    let notify_refused = flood_notify(s.addr, 2000);
    let axfr_refused = flood_axfr(s.addr, 20, 25);
    let bad_tsig = flood_bad_tsig(s.addr, 300);
    let flood_time = started.elapsed();
    assert!(
        notify_refused >= 1000,
        "only {notify_refused} of 2000 NOTIFYs answered REFUSED"
    );
    assert_eq!(axfr_refused, 500, "every AXFR is refused");
    assert_eq!(bad_tsig, 300, "every AXFR with a bad key is NOTAUTH");
    assert!(
        flood_time < Duration::from_secs(60),
        "the flood took {flood_time:?}"
    );

    // The counts held back come in a line of their own once the 10 s
    // interval of the pair ends.
    let summaries = [
        "refused NOTIFY from 127.0.0.0/24:",
        "refused transfer from 127.0.0.0/24:",
        "bad TSIG from 127.0.0.0/24:",
    ];
    let log = wait_log(&s, Duration::from_secs(20), |log| {
        summaries.iter().all(|w| log.contains(w))
    });
    let first = log
        .lines()
        .find(|l| l.contains("NOTIFY for example.org."))
        .unwrap_or_default();
    assert!(
        first.starts_with("rampart[warning]: NOTIFY for example.org. from 127.0.0.1:")
            && first.ends_with("refused: not one of its primaries"),
        "{log}"
    );
    assert!(
        log.contains("rampart[warning]: transfer of example.org. from 127.0.0.1:")
            && log.contains("refused: TSIG error BADKEY"),
        "{log}"
    );
    // A handful of lines per kind; every refusal is a line or counted.
    for (line, summary, sent, exact) in [
        (
            "refused: not one of its primaries",
            summaries[0],
            notify_refused,
            false,
        ),
        ("not in its transfer ACL", summaries[1], axfr_refused, true),
        ("refused: TSIG error BADKEY", summaries[2], bad_tsig, true),
    ] {
        let (lines, sums, held) = tally(&log, line, summary);
        assert!(
            (1..=3).contains(&lines) && sums >= 1 && lines + sums <= 6,
            "{lines} lines and {sums} summaries for '{line}':\n{log}"
        );
        let logged = lines as u64 + held;
        // Over UDP some NOTIFYs may be refused but their answers lost.
        assert!(
            if exact {
                logged == sent as u64
            } else {
                logged >= sent as u64
            },
            "'{line}': {lines} lines, {held} held back, {sent} refused:\n{log}"
        );
    }
    assert!(log.lines().count() < 30, "{log}");
}

#[test]
fn structured_log_lines_carry_the_fields() {
    for format in ["json", "logfmt"] {
        let dir = scratch_with_example_zone("logformat");
        let port = free_port();
        std::fs::write(dir.join("rampart.conf"), conf(port)).expect("config");
        let mut s = spawn(&dir, port, &["--log-format", format], &[]);
        wait_answering(&mut s);
        flood_notify(s.addr, 10);
        let log = wait_log(&s, Duration::from_secs(5), |l| l.contains("NOTIFY"));
        for line in log.lines() {
            match format {
                "json" => {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                    assert!(
                        v["time"].as_str().is_some_and(|t| t.ends_with('Z')),
                        "{line}"
                    );
                    assert!(v["level"].is_string() && v["msg"].is_string(), "{line}");
                }
                _ => assert!(
                    line.starts_with("time=") && line.contains(" level=") && line.contains(" msg="),
                    "{line}"
                ),
            }
        }
        let refused = log
            .lines()
            .find(|l| l.contains("NOTIFY for example.org."))
            .unwrap_or_else(|| panic!("no NOTIFY line:\n{log}"));
        match format {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(refused).expect("JSON");
                assert_eq!(v["level"], "warning", "{refused}");
                assert_eq!(v["kind"], "refused NOTIFY", "{refused}");
                assert_eq!(v["client"], "127.0.0.1", "{refused}");
            }
            _ => assert!(
                refused.contains(" level=warning msg=\"NOTIFY for example.org. from 127.0.0.1:")
                    && refused.contains(" kind=\"refused NOTIFY\" client=127.0.0.1"),
                "{refused}"
            ),
        }
    }
}

/// The notifications that arrive within `limit`, `WATCHDOG=1` left out
/// unless `keep_watchdog`; stops after `until` arrives.
fn receive_until(
    sock: &UnixDatagram,
    until: &str,
    limit: Duration,
    keep_watchdog: bool,
) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok(n) = sock.recv(&mut buf) else {
            continue;
        };
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        let done = msg.lines().any(|l| l == until);
        if keep_watchdog || msg != "WATCHDOG=1" {
            got.push(msg);
        }
        if done {
            break;
        }
    }
    got
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    let dir = scratch_with_example_zone("sdnotify");
    let port = free_port();
    std::fs::write(dir.join("rampart.conf"), conf(port)).expect("config");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let path_text = path.to_str().expect("utf-8 path").to_string();
    let s = spawn(
        &dir,
        port,
        &["-v", "--supervised"],
        &[("NOTIFY_SOCKET", &path_text), ("WATCHDOG_USEC", "200000")],
    );
    // The first notification is READY=1, and the server answers by then.
    let got = receive_until(&sock, "READY=1", Duration::from_secs(20), true);
    assert!(
        got.len() == 1 && got[0].starts_with("READY=1\n"),
        "{got:?}\n{}",
        s.log_text()
    );
    assert!(
        got[0].contains(&format!("MAINPID={}", s.child.id())),
        "{got:?}"
    );
    let q = QuerySpec::new("example.org", Rtype::SOA).to_wire(7);
    assert!(
        udp_exchange(s.addr, &q, Duration::from_secs(2)).is_some(),
        "READY=1 came before the server answers"
    );
    // The watchdog: a ping every 100 ms.
    let started = Instant::now();
    let pings = receive_until(&sock, "never", Duration::from_millis(1000), true);
    let pings = pings.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(
        (4..=15).contains(&pings),
        "{pings} watchdog pings in {:?}",
        started.elapsed()
    );
    // A reload: RELOADING=1, then READY=1 again.
    s.signal("HUP");
    let got = receive_until(&sock, "READY=1", Duration::from_secs(10), false);
    assert!(
        got.len() == 2
            && got[0].starts_with("RELOADING=1\nMONOTONIC_USEC=")
            && got[1].starts_with("READY=1"),
        "{got:?}"
    );
    // Stopping.
    s.signal("TERM");
    let got = receive_until(&sock, "STOPPING=1", Duration::from_secs(10), false);
    assert_eq!(got, vec!["STOPPING=1".to_string()]);
    // -v: the debug lines are in the log.
    let log = wait_log(&s, Duration::from_secs(5), |l| l.contains("exiting"));
    assert!(log.contains("rampart[debug]: sd_notify: READY=1"), "{log}");
}

#[test]
fn an_abstract_notify_socket_works_and_no_socket_means_no_notifications() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("rampart-test-notify-{}", std::process::id());
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let dir = scratch_with_example_zone("sdnotify-abstract");
    let port = free_port();
    std::fs::write(dir.join("rampart.conf"), conf(port)).expect("config");
    let s = spawn(&dir, port, &[], &[("NOTIFY_SOCKET", &format!("@{name}"))]);
    let got = receive_until(&sock, "READY=1", Duration::from_secs(20), true);
    assert!(
        got.len() == 1 && got[0].starts_with("READY=1"),
        "{got:?}\n{}",
        s.log_text()
    );
    // No WATCHDOG_USEC: no pings.
    let more = receive_until(&sock, "never", Duration::from_millis(500), true);
    assert!(more.is_empty(), "{more:?}");
    drop(s);

    // Without NOTIFY_SOCKET the server just serves (and says nothing
    // about systemd).
    let dir = scratch_with_example_zone("sdnotify-none");
    let port = free_port();
    std::fs::write(dir.join("rampart.conf"), conf(port)).expect("config");
    let mut s = spawn(&dir, port, &[], &[]);
    wait_answering(&mut s);
    assert!(!s.log_text().contains("sd_notify"), "{}", s.log_text());
}

#[test]
fn set_verbose_health_checks_logs_each_check_and_set_verbose_the_debug_lines() {
    let dir = scratch_with_example_zone("verbosehc");
    let port = free_port();
    let dead = free_port();
    let base = conf(port);
    // Health checks on, other debug lines off.
    let text = format!(
        "{base}newServer{{address=\"127.0.0.1:{dead}\", name=\"dead\", checkInterval=1, checkTimeout=100}}\n\
         setVerboseHealthChecks(true)\n"
    );
    std::fs::write(dir.join("rampart.conf"), &text).expect("config");
    let path = dir.join("notify.sock");
    let _sock = UnixDatagram::bind(&path).expect("bind");
    let path_text = path.to_str().expect("utf-8 path").to_string();
    let mut s = spawn(&dir, port, &[], &[("NOTIFY_SOCKET", &path_text)]);
    wait_answering(&mut s);
    let want =
        format!("rampart[debug]: Health check of downstream dead (127.0.0.1:{dead}): failed");
    let log = wait_log(&s, Duration::from_secs(10), |l| l.contains(&want));
    assert!(log.contains(&want), "{log}");
    assert!(
        !log.contains("sd_notify"),
        "only the health checks' debug lines:\n{log}"
    );

    // setVerbose(true) on reload: every debug line.
    std::fs::write(
        dir.join("rampart.conf"),
        format!("{text}setVerbose(true)\n"),
    )
    .expect("config");
    s.signal("HUP");
    let log = wait_log(&s, Duration::from_secs(10), |l| {
        l.contains("rampart[debug]: sd_notify: READY=1")
    });
    assert!(log.contains("rampart[debug]: sd_notify: READY=1"), "{log}");
}
