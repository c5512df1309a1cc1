//! rampart's signed zones at the secondaries operators run beside it: a
//! named.conf zone under a `dnssec-policy` is transferred by Knot (and by
//! BIND) with AXFR, then, after RFC 2136 updates to rampart, by IXFR
//! after rampart's NOTIFY; the answers the secondary serves validate with
//! rampart's key as the trust anchor, before and after each change.
//!
//! Needs knotd (knot), named and delv (bind9, bind9-dnsutils), kdig,
//! knsupdate (knot-dnsutils) and dig; `.ci/run` installs them.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn need(tools: &[&str]) {
    for t in tools {
        assert!(
            have(t),
            "{t} is not installed (apt-get install knot knot-dnsutils bind9 bind9-dnsutils)"
        );
    }
}

/// The SOA serial 127.0.0.1:`port` serves for example.test, if any.
fn serial(port: u16) -> Option<u32> {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string()])
        .args(["example.test", "SOA", "+short", "+time=1", "+tries=1"])
        .output()
        .expect("dig (apt-get install bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// A primary rampart for example.test under `policy` (a `dnssec-policy`
/// name, with `extra` statements defining it if it is not built in),
/// sending NOTIFY to 127.0.0.1:`notify`.
fn primary(dir: &Path, port: u16, notify: u16, extra: &str, policy: &str) -> Server {
    std::fs::write(dir.join("example.test.zone"), SIGNING_ZONE).unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \".\"; key-directory \"keys\"; }};\n{extra}\
             zone \"example.test\" {{ type primary; file \"example.test.zone\"; \
             dnssec-policy {policy}; inline-signing yes; \
             allow-transfer {{ 127.0.0.1; }}; allow-update {{ 127.0.0.1; }}; \
             also-notify {{ 127.0.0.1 port {notify}; }}; }};\n"
        ),
    )
    .unwrap();
    let conf = format!("setLocal(\"127.0.0.1:{port}\")\nloadNamedConf(\"named.conf\")\n");
    rampart_in(dir, port, &conf, "example.test")
}

/// `dir/anchor.conf`: rampart's one key (a CSK) as delv's trust anchor.
fn anchor_from_keys(dir: &Path) {
    let keys: Vec<_> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    write_anchor(dir, &keys[0]);
}

fn knsupdate(port: u16, commands: &str) {
    let script = format!("server 127.0.0.1 {port}\nzone example.test.\n{commands}send\n");
    let mut child = Command::new("knsupdate")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("knsupdate (apt-get install knot-dnsutils)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "knsupdate {commands:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the secondary under test is: how to start it, and whether its
/// log shows the transfer to `serial` as an incremental one.
struct Secondary {
    name: &'static str,
    start: fn(&Path, u16, u16) -> Server,
    /// Err(why) unless the secondary (its directory, its log) shows it
    /// took `serial` by IXFR.
    ixfr_to: fn(&Path, &str, u32) -> Result<(), String>,
}

/// The whole exchange, with `policy`: AXFR to the secondary, answers and
/// denials from it validating; an update (a name, a record in a signed
/// set, a delegation with glue) taken by IXFR, validating; an update
/// deleting a name, a set and the delegation taken by IXFR, the denials
/// and the glue become data validating.
fn signed_zone_at_secondary(sec: &Secondary, extra: &str, policy: &str) {
    need(&["dig", "delv", "knsupdate"]);
    let dir = scratch_dir(sec.name);
    let (rp, sp) = (free_port(), free_port());
    let rampart = primary(&dir, rp, sp, extra, policy);
    anchor_from_keys(&dir);
    let first = serial(rp).expect("rampart serves the zone");
    let sdir = dir.join(sec.name);
    std::fs::create_dir_all(&sdir).unwrap();
    let secondary = (sec.start)(&sdir, rp, sp);
    let logs = || {
        format!(
            "{}:\n{}\nrampart:\n{}",
            sec.name,
            secondary.log_text(),
            rampart.log_text()
        )
    };
    assert!(
        eventually(Duration::from_secs(20), || serial(sp) == Some(first)),
        "{} never served serial {first}\n{}",
        sec.name,
        logs()
    );
    // The log line may come a moment after the new serial is served.
    let check_ixfr = |serial: u32| {
        let mut why = String::new();
        let ok = eventually(Duration::from_secs(5), || {
            (sec.ixfr_to)(&sdir, &secondary.log_text(), serial)
                .map_err(|e| why = e)
                .is_ok()
        });
        assert!(ok, "{why}\n{}", logs());
    };
    let expect = |query: &str, want: &str| {
        let (verdict, text) = delv(&dir, sp, "anchor.conf", query);
        assert_eq!(
            verdict,
            want,
            "delv {query} at {}:\n{text}\n{}",
            sec.name,
            logs()
        );
        text
    };
    for q in VALIDATED {
        expect(q, "; fully validated");
    }
    for q in DENIED {
        expect(q, "; negative response, fully validated");
    }

    // An added name, a record added to a signed set and a delegation:
    // rampart re-signs what it touched, NOTIFYs, and the secondary takes
    // the signed difference by IXFR.
    knsupdate(
        rp,
        "update add new.example.test. 3600 A 192.0.2.7\n\
         update add www.example.test. 3600 A 192.0.2.81\n\
         update add dlg.example.test. 3600 NS ns.dlg.example.test.\n\
         update add ns.dlg.example.test. 3600 A 192.0.2.98\n",
    );
    let second = serial(rp).unwrap();
    assert_ne!(second, first);
    assert!(
        eventually(Duration::from_secs(20), || serial(sp) == Some(second)),
        "{} never served serial {second}\n{}",
        sec.name,
        logs()
    );
    check_ixfr(second);
    expect("new.example.test A", "; fully validated");
    let www = expect("www.example.test A", "; fully validated");
    assert!(www.contains("192.0.2.81"), "{www}");
    expect(
        "nope.example.test A",
        "; negative response, fully validated",
    );
    // A new unsigned delegation: its NS is not signed, its glue is not
    // in the chain, and the absence of its DS is proved.
    expect(
        "dlg.example.test DS",
        "; negative response, fully validated",
    );

    // A deleted name, a deleted record set and a deleted delegation:
    // their denials (the NSEC or NSEC3 chain rampart re-linked) validate
    // at the secondary, and the delegation's glue, now the zone's own
    // data, is signed and in the chain.
    knsupdate(
        rp,
        "update delete new.example.test.\nupdate delete www.example.test. AAAA\n\
         update delete dlg.example.test. NS\n",
    );
    let third = serial(rp).unwrap();
    assert_ne!(third, second);
    assert!(
        eventually(Duration::from_secs(20), || serial(sp) == Some(third)),
        "{} never served serial {third}\n{}",
        sec.name,
        logs()
    );
    check_ixfr(third);
    expect("new.example.test A", "; negative response, fully validated");
    expect(
        "www.example.test AAAA",
        "; negative response, fully validated",
    );
    expect(
        "dlg.example.test NS",
        "; negative response, fully validated",
    );
    expect("ns.dlg.example.test A", "; fully validated");
    expect("www.example.test A", "; fully validated");
    expect("example.test SOA", "; fully validated");
    drop(secondary);
}

fn start_knot(dir: &Path, primary: u16, port: u16) -> Server {
    need(&["knotd"]);
    std::fs::write(
        dir.join("knot.conf"),
        format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
             log:\n  - target: stderr\n    any: info\n\
             remote:\n  - id: primary\n    address: 127.0.0.1@{primary}\n\
             acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n\
             zone:\n  - domain: example.test\n    storage: {d}\n    master: primary\n    acl: notify\n\
             \x20   semantic-checks: on\n    dnssec-validation: on\n",
            d = dir.display()
        ),
    )
    .unwrap();
    knot_on(dir, port, "example.test")
}

/// Knot 3.2 logs "[zone] IXFR, incoming, remote …, started" (then
/// "finished") for an incremental transfer, "AXFR, incoming" for a full
/// one, "receiving AXFR-style IXFR" or "fallback to AXFR" when an IXFR
/// was not one, and then "refresh, …, zone updated, …, serial A -> B".
fn knot_ixfr_to(_: &Path, log: &str, serial: u32) -> Result<(), String> {
    let axfrs = log
        .lines()
        .filter(|l| l.contains("AXFR, incoming") && l.contains("started"))
        .count();
    if axfrs != 1 {
        return Err(format!("Knot made {axfrs} AXFRs, not the first one only"));
    }
    if !log.contains("DNSSEC, validation successful") {
        return Err("Knot did not validate the zone it took by AXFR".into());
    }
    for bad in [
        "AXFR-style IXFR",
        "fallback to AXFR",
        "failed to apply",
        "error",
    ] {
        if log.contains(bad) {
            return Err(format!("Knot's log says {bad:?}"));
        }
    }
    // With `dnssec-validation: on` Knot checks every signature and the
    // chain of the changed zone before it publishes an IXFR's result.
    let (mut last, mut validated) = ("", false);
    for l in log.lines() {
        if l.contains("XFR, incoming") && l.contains("finished") {
            last = if l.contains("IXFR") { "IXFR" } else { "AXFR" };
            validated = false;
        }
        validated |= l.contains("DNSSEC, incremental validation successful");
        if l.contains("zone updated") && l.contains(&format!("-> {serial},")) {
            return match (last, validated) {
                ("IXFR", true) => Ok(()),
                ("IXFR", false) => Err(format!("Knot did not validate serial {serial}")),
                (other, _) => Err(format!("serial {serial} came by {other:?}, not IXFR")),
            };
        }
    }
    Err(format!("Knot's log shows no update to serial {serial}"))
}

const KNOT: Secondary = Secondary {
    name: "knot",
    start: start_knot,
    ixfr_to: knot_ixfr_to,
};

/// BIND's default policy: one ECDSA P-256 CSK, NSEC.
#[test]
fn knot_secondary_serves_the_signed_zone_and_its_ixfrs_validated() {
    signed_zone_at_secondary(&KNOT, "", "default");
}

const NSEC3_POLICY: &str = "dnssec-policy \"n3\" { keys { csk lifetime unlimited algorithm \
     ecdsap256sha256; }; nsec3param iterations 0 optout no salt-length 0; };\n";

#[test]
fn knot_secondary_serves_the_signed_nsec3_zone_and_its_ixfrs_validated() {
    signed_zone_at_secondary(&KNOT, NSEC3_POLICY, "n3");
}

fn start_bind(dir: &Path, primary: u16, port: u16) -> Server {
    need(&["named"]);
    let d = dir.display();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n\
             pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\";\n\
             recursion no; dnssec-validation no; notify no; }};\n\
             controls {{ }};\n\
             zone \"example.test\" {{ type secondary; primaries port {primary} {{ 127.0.0.1; }}; \
             file \"example.test.sec\"; allow-notify {{ 127.0.0.1; }}; }};\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("named");
    cmd.arg("-g").arg("-c").arg(dir.join("named.conf"));
    Server::start(
        "named",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("log"),
        "example.test",
    )
}

/// BIND 9.18 logs a transfer the same way whether it was an AXFR or an
/// IXFR; but only an IXFR is written to its journal, which
/// named-journalprint shows as the difference's "del"/"add" lines.
fn bind_ixfr_to(dir: &Path, log: &str, serial: u32) -> Result<(), String> {
    let done = log
        .lines()
        .any(|l| l.contains("Transfer completed") && l.contains(&format!("(serial {serial})")));
    if !done {
        return Err(format!("BIND logged no transfer of serial {serial}"));
    }
    let out = Command::new("named-journalprint")
        .arg(dir.join("example.test.sec.jnl"))
        .output()
        .expect("named-journalprint (apt-get install bind9)");
    let text = String::from_utf8_lossy(&out.stdout);
    let soa_added = text.lines().any(|l| {
        l.starts_with("add example.test.")
            && l.contains("\tSOA\t")
            && l.contains(&format!(" {serial} "))
    });
    if !out.status.success() || !soa_added {
        return Err(format!(
            "BIND's journal has no IXFR to serial {serial}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

#[test]
fn bind_secondary_serves_the_signed_nsec3_zone_and_its_ixfrs_validated() {
    signed_zone_at_secondary(
        &Secondary {
            name: "bind",
            start: start_bind,
            ixfr_to: bind_ixfr_to,
        },
        NSEC3_POLICY,
        "n3",
    );
}
