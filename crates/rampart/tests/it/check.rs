//! `rampart check`, the monitoring plugin, run as NRPE runs it: exit code
//! and first line, against rampart, a rampart secondary and a Knot
//! secondary (soa-sync), a fake SNTP server (time), TSIG (time), and a
//! signing Knot (rrsig).
//!
//! Needs `knotd` and `knotc` (Debian package `knot`) and the stock
//! `check_dig` and `check_ntp_time` to compare with (Debian package
//! `monitoring-plugins-standard`); `.ci/run` installs them.

use crate::common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

/// Runs `rampart check ARGS`: exit code and stdout.
fn check<S: AsRef<str>>(args: &[S]) -> (i32, String) {
    let out = Command::new(rampart_bin())
        .arg("check")
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run rampart check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.len() <= 1024, "more than NRPE's 1 KiB:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// The status of a first line shaped `^[A-Z ]+ (OK|WARNING|CRITICAL|
/// UNKNOWN)[:-] .*` (with `|perfdata` when `perf`), else `None`.
fn status_of(line: &str, perf: bool) -> Option<&'static str> {
    for status in ["OK", "WARNING", "CRITICAL", "UNKNOWN"] {
        for sep in [": ", "- "] {
            let Some(at) = line.find(&format!(" {status}{sep}")) else {
                continue;
            };
            let service = &line[..at];
            if !service.is_empty()
                && service.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
                && (!perf || line[at..].contains('|'))
            {
                return Some(status);
            }
        }
    }
    None
}

/// Runs the check and asserts its exit code, the first line's shape and
/// status; returns the first line.
fn expect<S: AsRef<str>>(args: &[S], rc: i32, perf: bool) -> String {
    let (code, out) = check(args);
    let line = out.lines().next().unwrap_or("").to_string();
    eprintln!("rampart check {}\n  {line}", words(args).join(" "));
    let want = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][rc as usize];
    assert_eq!(
        (code, status_of(&line, perf)),
        (rc, Some(want)),
        "rampart check {}\n{out}",
        words(args).join(" ")
    );
    line
}

fn words<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    args.iter().map(|a| a.as_ref().to_string()).collect()
}

/// `head` then `extra`, as owned words.
fn with(head: &[&str], extra: &[&str]) -> Vec<String> {
    words(head).into_iter().chain(words(extra)).collect()
}

/// The perfdata item `label` of a status line (`label=value;…`).
fn perf<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let data = line.split_once('|')?.1;
    data.split(' ')
        .find_map(|item| item.strip_prefix(label)?.strip_prefix('='))
}

#[test]
fn unknown_checks_and_bad_arguments_are_unknown() {
    for args in [
        &["tls", "127.0.0.1:853"][..],
        &["tls", "-H", "127.0.0.1", "-w", "soon"],
        &["nosuch"],
        &["dig", "-l", "example.org"],
        &["dig", "-H", "127.0.0.1"],
        &["dig", "-H", "127.0.0.1", "-l", "x", "-w", "-10"],
        &["dig", "-H", "127.0.0.1", "-l", "x", "-c", "20:10"],
        &["dig", "-H", "127.0.0.1", "-l", "x", "-T", "NOSUCH"],
        &["dig", "-H", "127.0.0.1", "-l", "x", "--bogus"],
        &["soa-sync", "example.org", "-H", "127.0.0.1"],
        &["soa-sync", "-H", "127.0.0.1", "-S", "127.0.0.2"],
        &["soa-sync", "example.org", "-H", "127.0.0.1", "-S", "x:y"],
        &["time", "-H", "127.0.0.1", "-w", "~"],
        &["time", "-H", "127.0.0.1", "-y", "nope"],
        &["rrsig", "example.org", "-H", "127.0.0.1", "-w", "soon"],
    ] {
        let (code, out) = check(args);
        assert_eq!(code, 3, "{args:?}: {out}");
        assert_eq!(out.lines().count(), 1, "{args:?}: one line:\n{out}");
        assert!(status_of(&out, false) == Some("UNKNOWN"), "{args:?}: {out}");
    }
    // Help is UNKNOWN too (as the stock plugins), with the usage.
    let (code, out) = check(&["--help"]);
    assert_eq!(code, 3);
    assert!(out.contains("soa-sync ZONE"), "{out}");
}

#[test]
fn dig_answers_names_and_a_dead_server_is_critical() {
    let dir = scratch_with_example_zone("check-dig");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n"
    );
    let _server = rampart_in(&dir, port, &conf, "example.org");
    let p = port.to_string();
    let dig = |extra: &[&str]| with(&["dig", "-H", "127.0.0.1", "-p", &p], extra);
    let line = expect(
        &dig(&[
            "-l",
            "www.example.org",
            "-a",
            "192.0.2.10",
            "-w",
            "2",
            "-c",
            "5",
        ]),
        0,
        true,
    );
    // www is a CNAME to the apex: the A record is the apex's.
    assert!(
        line.contains("(example.org. 3600 IN A 192.0.2.10)"),
        "{line}"
    );
    let time = perf(&line, "time").expect("time perfdata");
    assert!(
        time.ends_with("s;2;5;0") && time.starts_with("0."),
        "{line}"
    );
    // Over TCP, another type.
    let line = expect(&dig(&["-l", "example.org", "-T", "MX", "--tcp"]), 0, true);
    assert!(line.contains("IN MX 10 mail.example.org."), "{line}");
    // The wrong address: WARNING, as check_dig.
    let line = expect(
        &dig(&["-l", "www.example.org", "-a", "192.0.2.99"]),
        1,
        true,
    );
    assert!(
        line.contains("expected '192.0.2.99' not in the answer"),
        "{line}"
    );
    // No answer record at all: CRITICAL, as check_dig.
    let line = expect(&dig(&["-l", "nosuch.example.org"]), 2, true);
    assert!(line.contains("NXDOMAIN"), "{line}");
    let line = expect(&dig(&["-l", "mail.example.org", "-T", "TXT"]), 2, true);
    assert!(
        line.contains("no TXT record for mail.example.org."),
        "{line}"
    );
    let line = expect(&dig(&["-l", "example.com"]), 2, true);
    assert!(line.contains("REFUSED"), "{line}");
    // The time thresholds: @0: alerts on any time at all.
    expect(&dig(&["-l", "www.example.org", "-w", "@0:"]), 1, true);
    expect(
        &dig(&["-l", "www.example.org", "-w", "@0:", "-c", "@0:"]),
        2,
        true,
    );
    // A server that answers nothing: CRITICAL (check_dig says WARNING).
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let (code, out) = check(&[
        "dig",
        "-H",
        "127.0.0.1",
        "-p",
        &silent_port,
        "-l",
        "example.org",
        "-t",
        "1",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("DNS CRITICAL: no answer from 127.0.0.1:"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The stock plugins (Debian's `monitoring-plugins-standard`).
const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Runs a stock plugin: exit code and first line.
fn stock(plugin: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(Path::new(PLUGINS).join(plugin))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{plugin}: {e} (apt-get install monitoring-plugins-standard)"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().next().unwrap_or("").to_string();
    (out.status.code().unwrap_or(-1), line)
}

#[test]
fn dig_agrees_with_the_stock_check_dig() {
    let dir = scratch_with_example_zone("check-stock");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n"
    );
    let _server = rampart_in(&dir, port, &conf, "example.org");
    let p = port.to_string();
    for extra in [
        &["-l", "www.example.org", "-a", "192.0.2.10"][..],
        &["-l", "www.example.org", "-a", "192.0.2.99"],
        &[
            "-l",
            "example.org",
            "-T",
            "MX",
            "-a",
            "10 mail.example.org.",
        ],
        &["-l", "nosuch.example.org"],
        &["-l", "example.com"],
        // No answer comes back within a microsecond.
        &["-l", "www.example.org", "-w", "0.000001"],
        &["-l", "www.example.org", "-w", "0.000001", "-c", "0.000001"],
        &["-l", "www.example.org", "-w", "5", "-c", "10"],
    ] {
        let args = with(&["-H", "127.0.0.1", "-p", &p], extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (theirs, their_line) = stock("check_dig", &args);
        let mut ours_args = vec!["dig"];
        ours_args.extend_from_slice(&args);
        let (ours, our_line) = check(&ours_args);
        assert_eq!(
            ours, theirs,
            "{extra:?}\n  check_dig: {their_line}\n  rampart:   {our_line}"
        );
    }
    // The one difference, on purpose: a dead server (nothing on the
    // port) is CRITICAL here, WARNING ("dig returned an error status")
    // there. (A silent one is CRITICAL in both, by check_dig's timeout.)
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sp = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let args = ["-H", "127.0.0.1", "-p", &sp, "-l", "example.org", "-t", "2"];
    assert_eq!(stock("check_dig", &args).0, 1);
    let mut ours_args = vec!["dig"];
    ours_args.extend_from_slice(&args);
    assert_eq!(check(&ours_args).0, 2);
}

/// A zone file for example.test at `serial`; REFRESH an hour, so a
/// secondary that is not notified stays behind for the whole test.
fn zone_text(serial: u32) -> String {
    format!(
        "$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 86400 300\n@ NS ns1\n\
         ns1 A 127.0.0.1\nwww A 192.0.2.{}\n",
        serial % 250
    )
}

fn start_knot_secondary(dir: &Path, port: u16, primary: u16) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    // No NOTIFY ACL: Knot refuses NOTIFY and only refreshes (hourly) or
    // when told by knotc.
    std::fs::write(
        dir.join("knot.conf"),
        format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
             remote:\n  - id: primary\n    address: 127.0.0.1@{primary}\n\
             zone:\n  - domain: example.test\n    storage: {d}\n    master: primary\n",
            d = dir.display()
        ),
    )
    .unwrap();
    knot_on(dir, port, "example.test")
}

#[test]
fn soa_sync_sees_a_secondary_fall_behind_and_catch_up() {
    for t in ["knotd", "knotc"] {
        assert!(have(t), "{t} is not installed (apt-get install knot)");
    }
    let dir = scratch_dir("check-soa");
    let (rp, sp, kp) = (free_port(), free_port(), free_port());
    let zone_file = dir.join("example.test.zone");
    std::fs::write(&zone_file, zone_text(1)).unwrap();
    // The primary notifies the rampart secondary only.
    let conf = format!(
        "setLocal(\"127.0.0.1:{rp}\")\naddZone(\"example.test\", \"example.test.zone\")\n\
         setZoneTransferACL(\"example.test\", {{\"127.0.0.0/8\"}})\n\
         setAlsoNotify(\"example.test\", {{\"127.0.0.1:{sp}\"}})\n"
    );
    let primary = rampart_in(&dir, rp, &conf, "example.test");
    let sdir = dir.join("secondary");
    std::fs::create_dir_all(&sdir).unwrap();
    let sconf = format!(
        "setLocal(\"127.0.0.1:{sp}\")\n\
         addSecondaryZone(\"example.test.\", {{primaries={{\"127.0.0.1:{rp}\"}}}})\n\
         setJournalDir(\"state\")\n"
    );
    let secondary = rampart_in(&sdir, sp, &sconf, "example.test");
    let kdir = dir.join("knot");
    let knot = start_knot_secondary(&kdir, kp, rp);

    let (h, s1, s2) = (
        format!("127.0.0.1:{rp}"),
        format!("127.0.0.1:{sp}"),
        format!("127.0.0.1:{kp}"),
    );
    let sync = || {
        check(&[
            "soa-sync",
            "example.test",
            "-H",
            &h,
            "-S",
            &s1,
            "-S",
            &s2,
            "-t",
            "2",
        ])
    };
    let in_step = eventually(Duration::from_secs(20), || sync().0 == 0);
    assert!(
        in_step,
        "the secondaries never caught up: {}\nknot:\n{}\nsecondary:\n{}",
        sync().1,
        knot.log_text(),
        secondary.log_text()
    );
    let args = [
        "soa-sync",
        "example.test",
        "-H",
        &h,
        "-S",
        &s1,
        "-S",
        &s2,
        "-w",
        "0",
        "-c",
        "1",
    ];
    let line = expect(&args, 0, true);
    assert!(line.contains("example.test. serial 1 on"), "{line}");
    assert_eq!(
        perf(&line, &format!("'lag_{s1}'")),
        Some("0;0;1;0"),
        "{line}"
    );
    assert_eq!(
        perf(&line, &format!("'lag_{s2}'")),
        Some("0;0;1;0"),
        "{line}"
    );

    // A new serial: the rampart secondary hears the NOTIFY, Knot does not.
    let bump = |serial: u32| {
        std::fs::write(&zone_file, zone_text(serial)).unwrap();
        primary.signal("HUP");
        assert!(
            eventually(Duration::from_secs(10), || {
                let (_, out) = check(&["soa-sync", "example.test", "-H", &h, "-S", &s1, "-t", "2"]);
                out.contains(&format!("serial {serial} on")) && out.starts_with("SOA SYNC OK")
            }),
            "the rampart secondary did not follow serial {serial}:\n{}\nprimary:\n{}",
            secondary.log_text(),
            primary.log_text()
        );
    };
    bump(2);
    let line = expect(&args, 1, true);
    assert!(
        line.contains(&format!("{s2} serial 1 (1 behind)")),
        "{line}"
    );
    assert_eq!(
        perf(&line, &format!("'lag_{s2}'")),
        Some("1;0;1;0"),
        "{line}"
    );
    assert_eq!(
        perf(&line, &format!("'lag_{s1}'")),
        Some("0;0;1;0"),
        "{line}"
    );
    bump(3);
    let line = expect(&args, 2, true);
    assert!(
        line.contains(&format!("{s2} serial 1 (2 behind)")),
        "{line}"
    );
    assert_eq!(
        perf(&line, &format!("'lag_{s2}'")),
        Some("2;0;1;0"),
        "{line}"
    );
    // The default thresholds: any lag warns, 3 is critical.
    expect(&args[..8], 1, true);

    // Knot told to refresh: in step again.
    let refreshed = Command::new("knotc")
        .arg("-c")
        .arg(kdir.join("knot.conf"))
        .args(["zone-refresh", "example.test"])
        .output()
        .expect("knotc");
    assert!(refreshed.status.success(), "{refreshed:?}");
    assert!(
        eventually(Duration::from_secs(10), || check(&args).0 == 0),
        "Knot did not catch up: {}\n{}",
        check(&args).1,
        knot.log_text()
    );
    expect(&args, 0, true);

    // A secondary that is gone: CRITICAL, its lag unknown.
    drop(knot);
    let line = expect(&args, 2, true);
    assert!(line.contains(&format!("{s2} no answer")), "{line}");
    assert_eq!(
        perf(&line, &format!("'lag_{s2}'")),
        Some("U;0;1;0"),
        "{line}"
    );
}

/// A fake SNTP server on loopback whose clock runs `offset_ms` ahead.
fn fake_ntp(offset_ms: Arc<AtomicI64>) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    // The test process ends this thread; it only blocks on receive.
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 48 {
                continue;
            }
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            let shifted =
                now.as_nanos() as i128 + i128::from(offset_ms.load(Ordering::SeqCst)) * 1_000_000;
            let secs = (shifted / 1_000_000_000) as u64 + 2_208_988_800;
            let frac = (((shifted % 1_000_000_000) as u64) << 32) / 1_000_000_000;
            let ts = ((secs << 32) | frac).to_be_bytes();
            let mut a = [0u8; 48];
            a[0] = 0x24; // LI 0, version 4, mode 4 (server)
            a[1] = 2; // stratum
            a[24..32].copy_from_slice(&buf[40..48]); // originate = their transmit
            a[32..40].copy_from_slice(&ts);
            a[40..48].copy_from_slice(&ts);
            let _ = sock.send_to(&a, from);
        }
    });
    port
}

#[test]
fn time_by_sntp_is_critical_two_seconds_off() {
    let offset = Arc::new(AtomicI64::new(2000));
    let port = fake_ntp(offset.clone()).to_string();
    let ntp = |extra: &[&str]| with(&["time", "-H", "127.0.0.1", "-p", &port, "-t", "2"], extra);
    let line = expect(&ntp(&["-w", "0.5", "-c", "1"]), 2, true);
    let value: f64 = perf(&line, "offset")
        .and_then(|p| p.strip_suffix("s;0.5;1"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("offset perfdata: {line}"));
    assert!((1.9..2.1).contains(&value), "{line}");
    assert!(line.contains("SNTP, stratum 2"), "{line}");
    // Behind is as bad as ahead.
    offset.store(-2000, Ordering::SeqCst);
    expect(&ntp(&["-w", "0.5", "-c", "1"]), 2, true);
    offset.store(700, Ordering::SeqCst);
    expect(&ntp(&["-w", "0.5", "-c", "1"]), 1, true);
    offset.store(0, Ordering::SeqCst);
    expect(&ntp(&["-w", "0.5", "-c", "1"]), 0, true);
    expect(&ntp(&[]), 0, true);

    // The stock check_ntp_time reads the same clock the same way.
    offset.store(2000, Ordering::SeqCst);
    let (rc, line) = stock(
        "check_ntp_time",
        &["-H", "127.0.0.1", "-p", &port, "-w", "0.5", "-c", "1"],
    );
    assert_eq!(rc, 2, "check_ntp_time: {line}");
    assert!(
        line.contains("Offset 2.0") || line.contains("Offset 1.9"),
        "{line}"
    );

    // The range forms, table-driven, at an offset of 15 s.
    offset.store(15_000, Ordering::SeqCst);
    for (range, rc) in [
        ("10", 2),
        ("10:", 0),
        ("~:10", 2),
        ("10:20", 0),
        ("@10:20", 2),
        ("@~:20", 2),
        ("~:", 0),
        ("-10", 3),
        ("20:10", 3),
        ("", 3),
    ] {
        let (code, out) = check(&ntp(&["-c", range]));
        assert_eq!(code, rc, "-c '{range}' at 15 s: {out}");
    }

    // Nobody there: CRITICAL.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let line = expect(
        &["time", "-H", "127.0.0.1", "-p", &silent_port, "-t", "1"],
        2,
        false,
    );
    assert!(line.contains("no SNTP answer from 127.0.0.1:"), "{line}");
    assert!(line.ends_with("within 1.0 s"), "{line}");
}

#[test]
fn time_by_tsig_reads_a_signed_answer() {
    let dir = scratch_with_example_zone("check-time");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n\
         newTSIGKey(\"monitor\", \"hmac-sha256\", \"{SECRET}\")\n"
    );
    let _server = rampart_in(&dir, port, &conf, "example.org");
    let p = port.to_string();
    let key = format!("hmac-sha256:monitor:{SECRET}");
    let line = expect(
        &[
            "time",
            "-H",
            "127.0.0.1",
            "-p",
            &p,
            "-y",
            &key,
            "-z",
            "example.org",
            "-w",
            "2",
            "-c",
            "3",
        ],
        0,
        true,
    );
    assert!(line.contains("TSIG time signed, key monitor."), "{line}");
    let value: f64 = perf(&line, "offset")
        .and_then(|v| v.strip_suffix("s;2;3"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(value.abs() <= 1.5, "{line}");
    // A key the server does not have: the answer cannot be read, UNKNOWN.
    let other = "hmac-sha256:monitor:b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI=";
    let line = expect(
        &["time", "-H", "127.0.0.1", "-p", &p, "-y", other],
        3,
        false,
    );
    assert!(line.contains("TSIG"), "{line}");
}

#[test]
fn rrsig_reads_expiry_from_a_signing_knot() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("check-rrsig");
    let kp = free_port();
    std::fs::write(
        dir.join("s.test.zone"),
        "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n",
    )
    .unwrap();
    // Knot signs with its default policy: RRSIGs valid for 14 days.
    std::fs::write(
        dir.join("knot.conf"),
        format!(
            "server:\n    listen: 127.0.0.1@{kp}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
             zone:\n  - domain: s.test\n    storage: {d}\n    file: s.test.zone\n    dnssec-signing: on\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let knot = knot_on(&dir, kp, "s.test");
    let h = format!("127.0.0.1:{kp}");
    let rrsig = |extra: &[&str]| with(&["rrsig", "s.test", "-H", &h], extra);
    let signed = eventually(Duration::from_secs(10), || check(&rrsig(&[])).0 == 0);
    assert!(signed, "{}\n{}", check(&rrsig(&[])).1, knot.log_text());
    let line = expect(&rrsig(&[]), 0, true);
    assert!(line.contains("s.test. signatures expire in 1"), "{line}");
    let expiry = perf(&line, "expiry").unwrap_or_default();
    assert!(expiry.ends_with("s;604800:;172800:;0"), "{line}");
    expect(&rrsig(&["-w", "30d"]), 1, true);
    expect(&rrsig(&["-w", "30d", "-c", "20d", "--tcp"]), 2, true);

    // An unsigned zone: CRITICAL.
    let udir = scratch_with_example_zone("check-rrsig-unsigned");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n"
    );
    let _rampart = rampart_in(&udir, port, &conf, "example.org");
    let line = expect(
        &["rrsig", "example.org", "-H", &format!("127.0.0.1:{port}")],
        2,
        false,
    );
    assert!(line.contains("no RRSIG"), "{line}");
}

#[test]
fn tls_reads_the_certificate_expiry_as_the_stock_check_http() {
    // A DoT listener whose certificate has ten days left.
    let dir = scratch_dir("check-tls");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=dot.example", "-days", "10"])
        .args(["-keyout", "k.pem", "-out", "c.pem"])
        .current_dir(&dir)
        .output()
        .expect("openssl runs")
        .status
        .success();
    assert!(ok, "openssl made no certificate");
    let (port, dot) = (free_port(), free_port());
    let _s = rampart_in(
        &dir,
        port,
        &format!(
            "setLocal(\"127.0.0.1:{port}\")\naddTLSLocal(\"127.0.0.1:{dot}\", \"c.pem\", \"k.pem\")\n"
        ),
        "example.org",
    );
    let p = dot.to_string();
    let ours = |extra: &[&str]| check(&with(&["tls", "-H", "127.0.0.1", "-p", &p], extra));
    let stock_http = |c: &str| stock("check_http", &["-H", "127.0.0.1", "-p", &p, "-S", "-C", c]);
    // Defaults 30 and 14 days: ten left is CRITICAL, as check_http -C 30,14.
    let (code, line) = ours(&[]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.contains("'CN=dot.example' expires in 10.0 days"),
        "{line}"
    );
    let secs: f64 = perf(&line, "expiry")
        .and_then(|v| v.split(';').next()?.trim_end_matches('s').parse().ok())
        .expect("expiry perfdata");
    assert!((9.9 * 86400.0..=10.0 * 86400.0).contains(&secs), "{line}");
    assert_eq!(stock_http("30,14").0, 2);
    // Thresholds below it: OK, as check_http -C 5,2; between: WARNING.
    assert_eq!(ours(&["-w", "5d", "-c", "2d"]).0, 0);
    assert_eq!(stock_http("5,2").0, 0);
    assert_eq!(ours(&["-w", "20d", "-c", "5d"]).0, 1);
    // Checked against a CA it was not issued by: CRITICAL, naming why.
    let (code, line) = ours(&["--ca", "system"]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("invalid peer certificate"), "{line}");
    // Nobody listening: CRITICAL.
    let (code, _) = check(&["tls", "-H", "127.0.0.1", "-p", &free_port().to_string()]);
    assert_eq!(code, 2);
}
