//! Replication with the servers operators run beside rampart, on
//! loopback: rampart as primary to Knot and NSD secondaries (IXFR after an
//! edited zone file), rampart as secondary of Knot with TSIG (NOTIFY,
//! IXFR, persistence, expiry), RFC 2136 updates with nsupdate under a
//! certbot-style policy, and the journal across `kill -9`.
//!
//! Needs `knotd`, `nsd`, `named`, `dig` and `nsupdate` (Debian packages
//! `knot`, `nsd`, `bind9`, `dnsutils`); `.ci/run` installs them.

use crate::common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

fn need(tools: &[&str]) {
    for t in tools {
        assert!(
            have(t),
            "{t} is not installed (apt-get install knot nsd bind9 dnsutils)"
        );
    }
}

/// `dig +short` for `name` `qtype` at `addr` (UDP), trimmed lines.
fn dig(addr: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            &format!("@{}", addr.ip()),
            "-p",
            &addr.port().to_string(),
            name,
            qtype,
            "+short",
            "+time=1",
            "+tries=1",
        ])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect()
}

/// The rcode `dig` reports (`NOERROR`, `SERVFAIL`…).
fn dig_status(addr: SocketAddr, name: &str, qtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            &format!("@{}", addr.ip()),
            "-p",
            &addr.port().to_string(),
            name,
            qtype,
            "+time=1",
            "+tries=1",
        ])
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string()
}

/// The SOA serial `addr` serves for `zone`, if any.
fn serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    dig(addr, zone, "SOA")
        .first()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

fn zone_text(serial: u32, extra: &str, timers: &str) -> String {
    format!(
        "$TTL 300\n@ SOA ns1 hostmaster {serial} {timers}\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.10\n{extra}"
    )
}

fn journal_cli(dir: &Path, what: &str, zone: &str) -> std::process::Output {
    Command::new(rampart_bin())
        .args(["journal", what, zone, "--dir"])
        .arg(dir)
        .output()
        .expect("rampart journal")
}

#[test]
fn primary_feeds_knot_and_nsd_by_ixfr_after_a_zone_file_edit() {
    need(&["knotd", "nsd", "dig"]);
    let dir = scratch_dir("primary");
    let (rp, kp, np) = (free_port(), free_port(), free_port());
    let zone_file = dir.join("example.test.zone");
    std::fs::write(&zone_file, zone_text(2024010101, "", "3600 600 86400 300")).unwrap();
    let conf = format!(
        "setLocal(\"127.0.0.1:{rp}\")\naddZone(\"example.test\", \"example.test.zone\")\n\
         setZoneTransferACL(\"example.test\", {{\"127.0.0.0/8\"}})\n\
         setAlsoNotify(\"example.test\", {{\"127.0.0.1:{kp}\", \"127.0.0.1:{np}\"}})\n\
         setJournalDir(\"journal\")\n"
    );
    let primary = rampart_in(&dir, rp, &conf, "example.test");
    let raddr = primary.addr;

    let kdir = dir.join("knot");
    std::fs::create_dir_all(&kdir).unwrap();
    std::fs::write(
        kdir.join("knot.conf"),
        format!(
            "server:\n    listen: 127.0.0.1@{kp}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
             remote:\n  - id: primary\n    address: 127.0.0.1@{rp}\n\
             acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n\
             zone:\n  - domain: example.test\n    storage: {d}\n    master: primary\n    acl: notify\n",
            d = kdir.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("knotd");
    cmd.arg("-c").arg(kdir.join("knot.conf"));
    let knot = Server::start(
        "knotd",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], kp)),
        kdir.join("log"),
        "example.test",
    );

    let ndir = dir.join("nsd");
    std::fs::create_dir_all(&ndir).unwrap();
    std::fs::write(
        ndir.join("nsd.conf"),
        format!(
            "server:\n    ip-address: 127.0.0.1@{np}\n    username: \"\"\n    zonesdir: \"{d}\"\n    pidfile: {d}/nsd.pid\n\
             \x20   database: \"\"\n    xfrdfile: {d}/xfrd.state\n    zonelistfile: {d}/zone.list\n    server-count: 1\n\
             remote-control:\n    control-enable: no\n\
             zone:\n    name: example.test\n    zonefile: example.test.zone\n\
             \x20   request-xfr: 127.0.0.1@{rp} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
            d = ndir.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("nsd");
    cmd.arg("-d").arg("-c").arg(ndir.join("nsd.conf"));
    let nsd = Server::start(
        "nsd",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], np)),
        ndir.join("log"),
        "example.test",
    );

    for s in [&knot, &nsd] {
        assert!(
            eventually(Duration::from_secs(20), || serial(s.addr, "example.test")
                == Some(2024010101)),
            "{} never served serial 2024010101:\n{}\nrampart:\n{}",
            s.name,
            s.log_text(),
            primary.log_text()
        );
    }

    // The operator adds a name and forgets the serial: the reload bumps it
    // (increment policy), journals the change, and the secondaries pull
    // it by IXFR after the NOTIFY.
    std::fs::write(
        &zone_file,
        zone_text(2024010101, "new A 192.0.2.77\n", "3600 600 86400 300"),
    )
    .unwrap();
    let edited = Instant::now();
    primary.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || serial(raddr, "example.test")
            == Some(2024010102)),
        "rampart did not bump the serial:\n{}",
        primary.log_text()
    );
    for s in [&knot, &nsd] {
        assert!(
            eventually(Duration::from_secs(10), || dig(
                s.addr,
                "new.example.test",
                "A"
            ) == ["192.0.2.77"]),
            "{} did not get the edit:\n{}\nrampart:\n{}",
            s.name,
            s.log_text(),
            primary.log_text()
        );
        assert_eq!(serial(s.addr, "example.test"), Some(2024010102));
    }
    let took = edited.elapsed();
    let log = primary.log_text();
    let ixfrs = log
        .matches("IXFR of example.test. serial 2024010102 to")
        .count();
    assert!(ixfrs >= 2, "expected an IXFR to each secondary:\n{log}");
    assert!(
        log.contains("NOTIFY for example.test. serial 2024010102 to"),
        "{log}"
    );
    eprintln!("edit + SIGHUP to both secondaries serving it: {took:?} ({ixfrs} IXFRs)");

    let v = journal_cli(&dir.join("journal"), "verify", "example.test");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let show = journal_cli(&dir.join("journal"), "show", "example.test");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("block 1 serial 2024010101 -> 2024010102"),
        "{text}"
    );
    assert!(
        text.contains("+ new.example.test. 300 IN A 192.0.2.77"),
        "{text}"
    );
}

#[test]
fn secondary_of_knot_with_tsig_follows_notify_and_expires_without_it() {
    need(&["knotd", "knotc", "dig"]);
    let dir = scratch_dir("secondary");
    let (rp, kp) = (free_port(), free_port());
    let kdir = dir.join("knot");
    std::fs::create_dir_all(&kdir).unwrap();
    // REFRESH 2, RETRY 1, EXPIRE 6: the expiry shows within the test.
    let timers = "2 1 6 60";
    std::fs::write(kdir.join("sec.test.zone"), zone_text(1, "", timers)).unwrap();
    let knot_conf = format!(
        "server:\n    listen: 127.0.0.1@{kp}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
         key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
         remote:\n  - id: rampart\n    address: 127.0.0.1@{rp}\n    key: xfr\n\
         acl:\n  - id: xfr\n    key: xfr\n    action: transfer\n\
         zone:\n  - domain: sec.test\n    storage: {d}\n    file: sec.test.zone\n    notify: rampart\n    acl: xfr\n    zonefile-sync: -1\n",
        d = kdir.display()
    );
    std::fs::write(kdir.join("knot.conf"), &knot_conf).unwrap();
    let start_knot = || {
        let mut cmd = Command::new("knotd");
        cmd.arg("-c").arg(kdir.join("knot.conf"));
        Server::start(
            "knotd",
            cmd,
            SocketAddr::from(([127, 0, 0, 1], kp)),
            kdir.join("log"),
            "sec.test",
        )
    };
    let knot = start_knot();
    // Knot refuses a transfer without the key: the key is what lets us in.
    assert_eq!(dig_status(knot.addr, "sec.test", "AXFR"), "no answer");

    let conf = format!(
        "setLocal(\"127.0.0.1:{rp}\")\nnewTSIGKey(\"xfr\", \"hmac-sha256\", \"{SECRET}\")\n\
         addSecondaryZone(\"sec.test.\", {{primaries={{\"127.0.0.1:{kp}\"}}, tsig=\"xfr\"}})\n\
         setJournalDir(\"state\")\n"
    );
    let secondary = rampart_in(&dir, rp, &conf, "sec.test");
    let raddr = secondary.addr;
    assert!(
        eventually(Duration::from_secs(10), || serial(raddr, "sec.test")
            == Some(1)),
        "no transfer from Knot:\n{}\nknot:\n{}",
        secondary.log_text(),
        knot.log_text()
    );

    // A change on the primary arrives by NOTIFY (well before REFRESH
    // would matter, it is 2 s here, so check the log says NOTIFY).
    std::fs::write(
        kdir.join("sec.test.zone"),
        zone_text(2, "added A 192.0.2.55\n", timers),
    )
    .unwrap();
    let ok = Command::new("knotc")
        .arg("-c")
        .arg(kdir.join("knot.conf"))
        .args(["zone-reload", "sec.test"])
        .status()
        .expect("knotc");
    assert!(ok.success());
    assert!(
        eventually(Duration::from_secs(10), || dig(
            raddr,
            "added.sec.test",
            "A"
        ) == ["192.0.2.55"]),
        "change not transferred:\n{}",
        secondary.log_text()
    );
    assert_eq!(serial(raddr, "sec.test"), Some(2));
    let saved = std::fs::read_to_string(dir.join("state/sec.test.zone")).expect("saved copy");
    assert!(saved.contains("192.0.2.55"), "{saved}");

    // A restart serves the saved copy at once, before any transfer.
    drop(secondary);
    drop(knot);
    let restarted = rampart_in(&dir, rp, &conf, "sec.test");
    assert_eq!(dig(raddr, "added.sec.test", "A"), ["192.0.2.55"]);
    let log = restarted.log_text();
    assert!(log.contains("secondary zone sec.test."), "{log}");

    // With the primary gone the zone is served until EXPIRE (6 s after
    // the last confirmation), then SERVFAIL.
    let stopped = Instant::now();
    assert!(
        eventually(Duration::from_secs(15), || dig_status(
            raddr, "sec.test", "SOA"
        ) == "SERVFAIL"),
        "never expired:\n{}",
        restarted.log_text()
    );
    eprintln!("expired {:?} after the primary stopped", stopped.elapsed());
    assert!(restarted.log_text().contains("expired"));

    // The primary comes back with a newer version: the zone is served
    // again, and the journal goes on from where it was, so the changes
    // after that arrive too.
    std::fs::write(
        kdir.join("sec.test.zone"),
        zone_text(
            3,
            "added A 192.0.2.55
back A 192.0.2.56
",
            timers,
        ),
    )
    .unwrap();
    let knot = start_knot();
    assert!(
        eventually(Duration::from_secs(10), || serial(raddr, "sec.test")
            == Some(3)),
        "not back after the primary returned:\n{}",
        restarted.log_text()
    );
    std::fs::write(
        kdir.join("sec.test.zone"),
        zone_text(
            4,
            "added A 192.0.2.55
back A 192.0.2.57
",
            timers,
        ),
    )
    .unwrap();
    let ok = Command::new("knotc")
        .arg("-c")
        .arg(kdir.join("knot.conf"))
        .args(["zone-reload", "sec.test"])
        .status()
        .expect("knotc");
    assert!(ok.success());
    assert!(
        eventually(Duration::from_secs(10), || dig(raddr, "back.sec.test", "A")
            == ["192.0.2.57"]),
        "no change after the return:\n{}",
        restarted.log_text()
    );
    drop(knot);
    let v = journal_cli(&dir.join("state"), "verify", "sec.test");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// An UPDATE adding `name` A `ip`, signed with `key`.
fn update_message(id: u16, name: &str, ip: [u8; 4], key: &Arc<xfr::tsig::Key>) -> Vec<u8> {
    use wire::types::{class, rtype};
    let mut buf = vec![0u8; 512];
    let mut resp = wire::Response::new(&mut buf, 512);
    resp.set_header(id, 5 << 11);
    resp.push_question(b"\x07example\x04test\x00", rtype::SOA, class::IN)
        .unwrap();
    let owner = zone::parse_name(name).unwrap();
    resp.push_record(
        wire::Section::Authority,
        &owner,
        rtype::A,
        class::IN,
        60,
        &ip,
    )
    .unwrap();
    let mut msg = resp.finish().to_vec();
    msg[2] &= 0x7f; // a request, not a response
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    xfr::tsig::sign_request(&mut msg, key, now).unwrap();
    msg
}

const UPDATE_CONF: &str = "setLocal(\"127.0.0.1:{PORT}\")\naddZone(\"example.test\", \"example.test.zone\")\n\
newTSIGKey(\"certbot.\", \"hmac-sha256\", \"{SECRET}\")\nnewTSIGKey(\"admin\", \"hmac-sha256\", \"{SECRET2}\")\n\
setUpdatePolicy(\"example.test\", {key=\"certbot.\", names={\"_acme-challenge\"}, types={\"TXT\"}})\n\
setUpdatePolicy(\"example.test\", {key=\"admin\"})\nsetJournalDir(\"journal\")\n";
const SECRET2: &str = "YWRtaW4tYWRtaW4tYWRtaW4tYWRtaW4tYWRtaW4tYWQ=";

fn update_conf(port: u16) -> String {
    UPDATE_CONF
        .replace("{PORT}", &port.to_string())
        .replace("{SECRET}", SECRET)
        .replace("{SECRET2}", SECRET2)
}

fn nsupdate(key: &str, commands: &str) -> (bool, String) {
    let mut child = Command::new("nsupdate")
        .args(["-y", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn nsupdate_adds_and_deletes_within_its_policy_only() {
    need(&["nsupdate", "dig"]);
    let dir = scratch_dir("update");
    let port = free_port();
    let zone_file = dir.join("example.test.zone");
    std::fs::write(&zone_file, zone_text(7, "", "3600 600 86400 300")).unwrap();
    let server = rampart_in(&dir, port, &update_conf(port), "example.test");
    let addr = server.addr;
    let certbot = format!("hmac-sha256:certbot.:{SECRET}");
    let head = format!("server 127.0.0.1 {port}\nzone example.test\n");

    // certbot's DNS-01: a TXT under _acme-challenge, then its removal.
    let (ok, out) = nsupdate(
        &certbot,
        &format!("{head}update add _acme-challenge.www.example.test. 60 TXT \"tok-1\"\nsend\n"),
    );
    assert!(ok, "{out}\n{}", server.log_text());
    assert_eq!(
        dig(addr, "_acme-challenge.www.example.test", "TXT"),
        ["\"tok-1\""]
    );
    assert_eq!(serial(addr, "example.test"), Some(8));

    // Outside the grant (another name, another type): REFUSED, as BIND.
    let (ok, out) = nsupdate(
        &certbot,
        &format!("{head}update add www.example.test. 60 TXT \"x\"\nsend\n"),
    );
    assert!(!ok && out.contains("REFUSED"), "{out}");
    let (ok, out) = nsupdate(
        &certbot,
        &format!("{head}update add _acme-challenge.example.test. 60 CAA 0 issue \"x\"\nsend\n"),
    );
    assert!(!ok && out.contains("REFUSED"), "{out}");
    // A forged signature: NOTAUTH/BADSIG, nothing changed.
    let forged = "hmac-sha256:certbot.:Zm9yZ2VkLWZvcmdlZC1mb3JnZWQtZm9yZ2VkLWZvcmc=";
    let (ok, out) = nsupdate(
        forged,
        &format!("{head}update add _acme-challenge.x.example.test. 60 TXT \"f\"\nsend\n"),
    );
    assert!(!ok && out.contains("BADSIG"), "{out}");
    assert!(dig(addr, "_acme-challenge.x.example.test", "TXT").is_empty());

    // The admin key may touch anything, CAA for Let's Encrypt included;
    // a prerequisite that fails changes nothing.
    let admin = format!("hmac-sha256:admin:{SECRET2}");
    let (ok, out) = nsupdate(
        &admin,
        &format!(
            "{head}update add example.test. 300 CAA 0 issue \"letsencrypt.org\"\nupdate delete www.example.test. A\nsend\n"
        ),
    );
    assert!(ok, "{out}");
    assert_eq!(
        dig(addr, "example.test", "CAA"),
        ["0 issue \"letsencrypt.org\""]
    );
    assert!(dig(addr, "www.example.test", "A").is_empty());
    let (ok, out) = nsupdate(
        &admin,
        &format!("{head}prereq yxdomain nothere.example.test.\nupdate add y.example.test. 60 A 192.0.2.2\nsend\n"),
    );
    assert!(!ok && out.contains("NXDOMAIN"), "{out}");
    let (ok, out) = nsupdate(
        &certbot,
        &format!("{head}update delete _acme-challenge.www.example.test. TXT\nsend\n"),
    );
    assert!(ok, "{out}");
    assert!(dig(addr, "_acme-challenge.www.example.test", "TXT").is_empty());

    // The operator edits the (not yet rewritten) zone file meanwhile and
    // reloads: the edit lands on top of the updates, none is lost.
    std::fs::write(
        &zone_file,
        zone_text(7, "edited A 192.0.2.99\n", "3600 600 86400 300"),
    )
    .unwrap();
    server.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || dig(
            addr,
            "edited.example.test",
            "A"
        ) == ["192.0.2.99"]),
        "{}",
        server.log_text()
    );
    assert_eq!(
        dig(addr, "example.test", "CAA"),
        ["0 issue \"letsencrypt.org\""]
    );
    assert!(
        dig(addr, "www.example.test", "A").is_empty(),
        "the update's delete stands"
    );
    assert_eq!(serial(addr, "example.test"), Some(11));
    let v = journal_cli(&dir.join("journal"), "verify", "example.test");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn kill_9_during_updates_keeps_every_acknowledged_one() {
    need(&["dig"]);
    let dir = scratch_dir("kill9");
    let port = free_port();
    std::fs::write(
        dir.join("example.test.zone"),
        zone_text(1, "", "3600 600 86400 300"),
    )
    .unwrap();
    let conf = update_conf(port);
    let mut server = rampart_in(&dir, port, &conf, "example.test");
    let addr = server.addr;
    let key = Arc::new(xfr::tsig::Key::new("admin", "hmac-sha256", SECRET2).unwrap());

    // Updates one after another until the server stops answering; each
    // NOERROR is an acknowledgement the restart must honour.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (acked, stop, key) = (acked.clone(), stop.clone(), key.clone());
        std::thread::spawn(move || {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 1024];
            for i in 0..20_000u32 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let name = format!("u{i}.example.test");
                let ip = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
                let msg = update_message(i as u16, &name, ip, &key);
                if sock.send_to(&msg, addr).is_err() {
                    return;
                }
                match sock.recv_from(&mut buf) {
                    Ok((n, _)) if n >= 12 && buf[3] & 0xf == 0 => {
                        acked.lock().unwrap().push((name, ip))
                    }
                    Ok(_) => panic!("update {i} refused"),
                    Err(_) => return,
                }
            }
        })
    };
    // Killed once a good number of updates went through (not after a
    // fixed time, in which a loaded machine may get few done).
    let flowing = eventually(Duration::from_secs(20), || {
        acked.lock().unwrap().len() >= 50
    });
    assert!(flowing, "updates did not flow:\n{}", server.log_text());
    server.child.kill().unwrap(); // SIGKILL, mid-stream
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "too few updates acknowledged: {}",
        acked.len()
    );

    let jdir = dir.join("journal");
    let v = journal_cli(&jdir, "verify", "example.test");
    assert!(
        v.status.success(),
        "journal after kill -9: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let restarted = rampart_in(&dir, port, &conf, "example.test");
    let mut missing = Vec::new();
    for (name, ip) in &acked {
        let want = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
        let q = QuerySpec::new(name, domain::base::iana::Rtype::A);
        let got = udp_exchange(addr, &q.to_wire(9), Duration::from_secs(1))
            .map(|r| r.windows(4).any(|w| w == ip))
            .unwrap_or(false);
        if !got {
            missing.push(format!("{name} {want}"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged updates lost after kill -9: {:?}\n{}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)],
        restarted.log_text()
    );
    eprintln!(
        "{} acknowledged updates, all present after kill -9",
        acked.len()
    );
    drop(restarted);

    // A block edited on disk is named by `journal verify`.
    let path = jdir.join("example.test.journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let v = journal_cli(&jdir, "verify", "example.test");
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(!v.status.success(), "tampering not noticed");
    assert!(err.contains("block "), "{err}");
    eprintln!("tampered journal: {}", err.trim());
}

#[test]
fn bind_both_ways_with_tsig() {
    need(&["named", "dig"]);
    let dir = scratch_dir("bind");
    let (rp, bp) = (free_port(), free_port());
    let d = dir.display();
    std::fs::write(dir.join("p.zone"), zone_text(100, "", "3600 600 86400 300")).unwrap();
    std::fs::write(
        dir.join("b.zone"),
        zone_text(7, "mail A 192.0.2.20\n", "3600 600 86400 300"),
    )
    .unwrap();
    let conf = format!(
        "setLocal(\"127.0.0.1:{rp}\")\nnewTSIGKey(\"xfr\", \"hmac-sha256\", \"{SECRET}\")\n\
         addZone(\"p.test\", \"p.zone\")\n\
         setZoneTransferACL(\"p.test\", {{\"127.0.0.0/8\"}}, {{tsig=\"xfr\"}})\n\
         setAlsoNotify(\"p.test\", {{\"127.0.0.1:{bp}\"}})\n\
         addSecondaryZone(\"b.test\", {{primaries={{\"127.0.0.1:{bp}\"}}, tsig=\"xfr\"}})\n\
         setJournalDir(\"j\")\n"
    );
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \"{d}\"; listen-on port {bp} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n\
             pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\";\n\
             recursion no; dnssec-validation no; notify explicit; }};\n\
             controls {{ }};\n\
             key \"xfr\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
             server 127.0.0.1 {{ keys {{ xfr; }}; }};\n\
             zone \"p.test\" {{ type secondary; primaries port {rp} {{ 127.0.0.1 key xfr; }}; file \"p.sec\"; allow-notify {{ 127.0.0.1; }}; }};\n\
             zone \"b.test\" {{ type primary; file \"b.zone\"; allow-transfer {{ key xfr; }};\n\
               also-notify port {rp} {{ 127.0.0.1 key xfr; }}; }};\n"
        ),
    )
    .unwrap();
    // rampart first: BIND's first refresh of p.test then finds it up,
    // and BIND's startup NOTIFY for b.test starts rampart's transfer.
    let primary = rampart_in(&dir, rp, &conf, "p.test");
    let mut cmd = Command::new("named");
    cmd.arg("-g").arg("-c").arg(dir.join("named.conf"));
    let bind = Server::start(
        "named",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], bp)),
        dir.join("named.log"),
        "b.test",
    );
    let raddr = primary.addr;

    // BIND primary -> rampart secondary, and back.
    assert!(
        eventually(Duration::from_secs(10), || serial(raddr, "b.test")
            == Some(7)),
        "rampart did not transfer b.test from BIND:\n{}\n{}",
        primary.log_text(),
        bind.log_text()
    );
    assert!(
        eventually(Duration::from_secs(10), || serial(bind.addr, "p.test")
            == Some(100)),
        "BIND did not transfer p.test from rampart:\n{}\n{}",
        bind.log_text(),
        primary.log_text()
    );
    std::fs::write(
        dir.join("p.zone"),
        zone_text(100, "new A 192.0.2.77\n", "3600 600 86400 300"),
    )
    .unwrap();
    primary.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || dig(
            bind.addr,
            "new.p.test",
            "A"
        ) == ["192.0.2.77"]),
        "BIND did not get the edit:\n{}\n{}",
        bind.log_text(),
        primary.log_text()
    );
    assert!(bind
        .log_text()
        .contains("transferred serial 101: TSIG 'xfr'"));

    std::fs::write(
        dir.join("b.zone"),
        zone_text(
            8,
            "mail A 192.0.2.20\nadded A 192.0.2.21\n",
            "3600 600 86400 300",
        ),
    )
    .unwrap();
    bind.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || dig(raddr, "added.b.test", "A")
            == ["192.0.2.21"]),
        "rampart did not get BIND's edit:\n{}\n{}",
        primary.log_text(),
        bind.log_text()
    );
    assert!(primary
        .log_text()
        .contains("NOTIFY for b.test. from 127.0.0.1"));
}
