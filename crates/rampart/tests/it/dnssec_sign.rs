//! Zones signed by rampart, end to end: a named.conf `dnssec-policy` (and
//! Lua's `setDNSSECPolicy` with NSEC3) signs the zone at load; its AXFR
//! passes `dnssec-verify`, `ldns-verify-zone` and `kzonecheck`; an
//! RFC 2136 update re-signs only what it touched and IXFR carries the
//! signatures; a restart keeps the keys and the signatures; signatures
//! near expiry are refreshed with a new serial; a signed zone whose keys
//! vanished keeps serving its last signed version.
//!
//! Needs kdig/knsupdate (knot-dnsutils) and the verifiers (bind9-utils,
//! ldnsutils, knot-dnssecutils); `.ci/run` installs them.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (see .ci/run for the packages)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn kdig(port: u16, args: &[&str]) -> String {
    let (ok, text) = output(
        Command::new("kdig")
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .args(args),
    );
    assert!(ok, "kdig {args:?}: {text}");
    text
}

/// The zone by AXFR, as a zone file the verifiers read.
fn axfr(port: u16, dir: &Path, name: &str) -> PathBuf {
    let text = kdig(port, &["example.test", "AXFR", "+nocomments"]);
    let records: String = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(records.contains("RRSIG"), "AXFR is unsigned:\n{text}");
    let path = dir.join(name);
    std::fs::write(&path, records).unwrap();
    path
}

fn verify(file: &Path) {
    // -z: a CSK (flags 257) signs the whole zone.
    let (ok, text) = output(
        Command::new("dnssec-verify")
            .args(["-z", "-o", "example.test."])
            .arg(file),
    );
    assert!(ok, "dnssec-verify: {text}");
    let (ok, text) = output(
        Command::new("ldns-verify-zone")
            .args(["-e", "P3D"])
            .arg(file),
    );
    assert!(ok, "ldns-verify-zone: {text}");
    let (ok, text) = output(
        Command::new("kzonecheck")
            .args(["-o", "example.test.", "-d", "on"])
            .arg(file),
    );
    assert!(ok, "kzonecheck: {text}");
}

fn serial(port: u16) -> u32 {
    let text = kdig(port, &["example.test", "SOA", "+short"]);
    text.split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no serial in {text:?}"))
}

fn key_tags(dir: &Path) -> Vec<String> {
    let mut tags: Vec<String> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".key"))
        .collect();
    tags.sort();
    tags
}

fn named_conf_setup(policy: &str) -> (PathBuf, u16, String) {
    let dir = scratch_dir("dnssec-sign");
    std::fs::write(dir.join("example.test.zone"), SIGNING_ZONE).unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \".\"; key-directory \"keys\"; }};\n{policy}\
             zone \"example.test\" {{ type primary; file \"example.test.zone\"; \
             dnssec-policy rampart-test; inline-signing yes; \
             allow-transfer {{ 127.0.0.1; }}; allow-update {{ 127.0.0.1; }}; }};\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let conf = format!("setLocal(\"127.0.0.1:{port}\")\nloadNamedConf(\"named.conf\")\n");
    (dir, port, conf)
}

#[test]
fn named_conf_policy_signs_updates_restarts_and_keeps_its_keys() {
    let (dir, port, conf) = named_conf_setup(
        "dnssec-policy \"rampart-test\" { keys { csk lifetime unlimited algorithm ecdsap256sha256; }; };\n",
    );
    let server = rampart_in(&dir, port, &conf, "example.test");
    verify(&axfr(port, &dir, "axfr1.zone"));
    let tags = key_tags(&dir);
    assert_eq!(tags.len(), 1, "{tags:?}");
    let mode = {
        use std::os::unix::fs::PermissionsExt as _;
        let private = dir.join("keys").join(tags[0].replace(".key", ".private"));
        std::fs::metadata(private).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode, 0o600);
    // A validator holding the key as its trust anchor accepts rampart's
    // answers: data, CNAME, wildcard, and every kind of denial.
    write_anchor(&dir, &dir.join("keys").join(&tags[0]));
    let expect = |query: &str, want: &str| {
        let (verdict, text) = delv(&dir, port, "anchor.conf", query);
        assert_eq!(verdict, want, "delv {query}:\n{text}");
    };
    for q in VALIDATED {
        expect(q, "; fully validated");
    }
    for q in DENIED {
        expect(q, "; negative response, fully validated");
    }
    let before = serial(port);

    // An update: the new name, its NSEC, the predecessor's NSEC and the
    // SOA are signed anew; IXFR carries exactly those signatures.
    let (ok, text) = output(Command::new("sh").arg("-c").arg(format!(
        "printf 'server 127.0.0.1 {port}\\nzone example.test.\\nupdate add new.example.test. 3600 A 192.0.2.7\\nsend\\n' | knsupdate"
    )));
    assert!(ok, "knsupdate: {text}");
    let after = serial(port);
    assert_eq!(after, before.wrapping_add(1));
    let ixfr = kdig(
        port,
        &["example.test", &format!("IXFR={before}"), "+nocomments"],
    );
    let added_sigs = ixfr
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("RRSIG"))
        .count();
    // Removed: RRSIG SOA, RRSIG NSEC (predecessor); added: those two
    // again, RRSIG A and RRSIG NSEC of the new name.
    assert_eq!(added_sigs, 6, "IXFR:\n{ixfr}");
    expect("new.example.test A", "; fully validated");
    verify(&axfr(port, &dir, "axfr2.zone"));
    // A clean stop writes the zone file back: the operator's unsigned
    // records, the signatures staying in the journal.
    server.signal("TERM");
    let zone_file = dir.join("example.test.zone");
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(
            &zone_file
        )
        .unwrap()
        .contains("new.example.test.")),
        "zone file not written at stop"
    );
    let file = std::fs::read_to_string(&zone_file).unwrap();
    assert!(
        !file.contains("RRSIG") && !file.contains("DNSKEY"),
        "{file}"
    );
    drop(server);

    // A restart keeps the keys and every signature.
    let server = rampart_in(&dir, port, &conf, "example.test");
    assert_eq!(key_tags(&dir), tags);
    assert_eq!(serial(port), after);
    let log = server.log_text();
    assert!(
        log.contains("(0 signatures made"),
        "re-signed at restart:\n{log}"
    );
    drop(server);

    // Keys gone: not re-keyed, the last signed version still served.
    std::fs::rename(dir.join("keys"), dir.join("keys.gone")).unwrap();
    let server = rampart_in(&dir, port, &conf, "example.test");
    let log = server.log_text();
    assert!(log.contains("not making new keys"), "{log}");
    assert!(!dir.join("keys").join(&tags[0]).exists());
    verify(&axfr(port, &dir, "axfr3.zone"));
    drop(server);
}

#[test]
fn lua_nsec3_policy_signs_and_refreshes_before_expiry() {
    let dir = scratch_dir("dnssec-lua");
    std::fs::write(dir.join("example.test.zone"), SIGNING_ZONE).unwrap();
    let port = free_port();
    let console = free_port();
    let web = free_port();
    // Signatures valid 40 s, refreshed when less than 30 s are left: the
    // refresh comes about 10 s after signing.
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         addZone(\"example.test\", \"example.test.zone\")\n\
         setZoneTransferACL(\"example.test\", {{\"127.0.0.1\"}})\n\
         setKeyDirectory(\"keys\")\n\
         controlSocket(\"127.0.0.1:{console}\")\n\
         webserver(\"127.0.0.1:{web}\")\n\
         setWebserverConfig({{apiKey=\"metrics-key\"}})\n\
         setKey(\"cmVsb2FkLXRlc3Qta2V5LXJlbG9hZC10ZXN0LWtleSE=\")\n\
         setDNSSECPolicy(\"example.test\", {{nsec3=true, nsec3Iterations=0, \
         signaturesValidity=40, signaturesValidityDNSKEY=40, signaturesRefresh=30, signaturesJitter=0}})\n"
    );
    let server = rampart_in(&dir, port, &conf, "example.test");
    let file = axfr(port, &dir, "nsec3.zone");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("NSEC3PARAM\t1 0 0 -") || text.contains("NSEC3PARAM 1 0 0 -"),
        "{text}"
    );
    // ldns-verify-zone -e P3D would fail on 40 s signatures: the others.
    let (ok, out) = output(
        Command::new("dnssec-verify")
            .args(["-z", "-o", "example.test."])
            .arg(&file),
    );
    assert!(ok, "dnssec-verify: {out}");
    let (ok, out) = output(
        Command::new("kzonecheck")
            .args(["-o", "example.test.", "-d", "on"])
            .arg(&file),
    );
    assert!(ok, "kzonecheck: {out}");

    let first = serial(port);
    assert!(
        eventually(Duration::from_secs(30), || serial(port) != first),
        "no refresh within 30 s:\n{}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("signature refresh"),
        "{}",
        server.log_text()
    );
    // Still valid 20 s from now: the refreshed signatures are new.
    let file = axfr(port, &dir, "refreshed.zone");
    let (ok, out) = output(
        Command::new("ldns-verify-zone")
            .args(["-e", "PT20S"])
            .arg(&file),
    );
    assert!(ok, "ldns-verify-zone after refresh: {out}");

    // The console: status, then every signature made anew.
    let console = |cmd: &str| {
        let (_, text) = output(
            Command::new(rampart_bin())
                .arg("-C")
                .arg(dir.join("rampart.conf"))
                .args(["-c", "-e", cmd]),
        );
        text
    };
    let status = console("dnssecStatus(\"example.test\")");
    assert!(
        status.contains("NSEC3 iterations 0")
            && status.contains("ECDSAP256SHA256 KSK/CSK active")
            && status.contains("next refresh")
            && status.contains("DS for the parent: example.test. IN DS "),
        "{status}"
    );
    // /metrics: signing works, the next refresh is in the future, and
    // signatures were made.
    let (ok, metrics) = output(Command::new("curl").args([
        "-s",
        "-H",
        "X-API-Key: metrics-key",
        &format!("http://127.0.0.1:{web}/metrics"),
    ]));
    assert!(ok, "curl: {metrics}");
    let value = |name: &str| -> f64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{zone=\"example.test.\"}}")))
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("rampart_zone_dnssec_signing"), 1.0);
    assert!(value("rampart_zone_dnssec_signatures_made_total") > 0.0);
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(value("rampart_zone_dnssec_next_refresh_timestamp_seconds") > now_secs - 5.0);
    let before = serial(port);
    let signed = console("dnssecSign(\"example.test\", true)");
    assert!(signed.contains("signed, serial"), "{signed}");
    assert_eq!(serial(port), before.wrapping_add(1));
    let log = server.log_text();
    let last = log
        .lines()
        .rev()
        .find(|l| l.contains("signatures made"))
        .unwrap_or_default();
    assert!(
        last.contains(", 0 kept)"),
        "dnssecSign(…, true) kept signatures: {last}"
    );
}

/// The DNSKEY tags rampart serves for example.test.
fn dnskey_tags(port: u16) -> Vec<u16> {
    let text = kdig(port, &["example.test", "DNSKEY", "+short"]);
    let mut tags: Vec<u16> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let flags: u16 = w.next()?.parse().ok()?;
            let (_, alg) = (w.next()?, w.next()?.parse::<u8>().ok()?);
            let key: String = w.collect();
            use base64::Engine as _;
            let public = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
            let mut rdata = flags.to_be_bytes().to_vec();
            rdata.extend_from_slice(&[3, alg]);
            rdata.extend_from_slice(&public);
            Some(dnssec::keys::key_tag(&rdata))
        })
        .collect();
    tags.sort_unstable();
    tags
}

/// A parent zone `test.` delegating example.test with the DS of `key`.
fn parent_zone(dir: &Path, key_file: &Path) {
    let (ok, ds) = output(Command::new("dnssec-dsfromkey").arg("-2").arg(key_file));
    assert!(ok, "dnssec-dsfromkey: {ds}");
    std::fs::write(
        dir.join("parent.zone"),
        format!(
            "$TTL 60\n@ SOA ns hostmaster {} 60 60 600 60\n@ NS ns\nns A 127.0.0.1\n\
             example NS ns1.example\nns1.example A 192.0.2.53\n{ds}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                % 1_000_000_000
        ),
    )
    .unwrap();
}

#[test]
fn csk_rollover_moves_on_when_the_parent_has_the_new_ds() {
    let dir = scratch_dir("dnssec-roll");
    std::fs::write(dir.join("example.test.zone"), SIGNING_ZONE).unwrap();
    let port = free_port();
    let parent_port = free_port();
    // A CSK living 10 s: its successor comes 1 s (the DNSKEY TTL) early.
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         addZone(\"example.test\", \"example.test.zone\")\n\
         setZoneTransferACL(\"example.test\", {{\"127.0.0.1\"}})\n\
         setKeyDirectory(\"keys\")\n\
         setDNSSECPolicy(\"example.test\", {{keys={{{{role=\"csk\", lifetime=10}}}}, dnskeyTTL=1, \
         publishSafety=0, zonePropagationDelay=0, parentDSTTL=1, parentPropagationDelay=0, \
         parentCheckInterval=1, parentalAgents={{\"127.0.0.1:{parent_port}\"}}}})\n"
    );
    let child = rampart_in(&dir, port, &conf, "example.test");
    let first = dnskey_tags(port);
    assert_eq!(first.len(), 1);
    let key_file = |tag: u16| {
        dir.join("keys")
            .join(format!("Kexample.test.+013+{tag:05}.key"))
    };
    let parent_dir = dir.join("parent");
    std::fs::create_dir_all(&parent_dir).unwrap();
    parent_zone(&parent_dir, &key_file(first[0]));
    let parent = rampart_in(
        &parent_dir,
        parent_port,
        &format!("setLocal(\"127.0.0.1:{parent_port}\")\naddZone(\"test\", \"parent.zone\")\n"),
        "test",
    );

    // The successor is published and signs beside the old key.
    let mut both = Vec::new();
    assert!(
        eventually(Duration::from_secs(20), || {
            both = dnskey_tags(port);
            both.len() == 2
        }),
        "no rollover:\n{}",
        child.log_text()
    );
    let new = *both.iter().find(|t| **t != first[0]).unwrap();
    // The parent still has the old DS: the rollover waits.
    assert!(
        eventually(Duration::from_secs(10), || child
            .log_text()
            .contains("DS check at")),
        "no DS check:\n{}",
        child.log_text()
    );
    assert!(
        child.log_text().contains("negative"),
        "{}",
        child.log_text()
    );
    assert_eq!(dnskey_tags(port).len(), 2);

    // The parent gets the new DS: the old key leaves.
    parent_zone(&parent_dir, &key_file(new));
    parent.signal("HUP");
    assert!(
        eventually(Duration::from_secs(15), || dnskey_tags(port) == vec![new]),
        "old key still served ({:?}):\n{}",
        dnskey_tags(port),
        child.log_text()
    );
    assert!(
        child.log_text().contains("DS check positive"),
        "{}",
        child.log_text()
    );
    verify(&axfr(port, &dir, "rolled.zone"));
}
