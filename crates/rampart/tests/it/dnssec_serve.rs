//! DNSSEC-signed zones served to a validator: a zone signed by
//! `dnssec-signzone` (NSEC, NSEC3, NSEC3 with opt-out) is served by
//! rampart, and BIND's `delv`, trusting the zone's key, must find every
//! positive answer and every denial (NXDOMAIN, NODATA, an empty
//! non-terminal, wildcard NODATA, no DS at an unsigned delegation) fully
//! validated. A tampered trust anchor must not validate.
//!
//! Needs `dnssec-keygen`, `dnssec-signzone` (Debian `bind9-utils`) and
//! `delv` (`bind9-dnsutils`); `.ci/run` installs them. Without them the
//! test fails rather than pass vacuously. delv 9.18 exits 0 whether or
//! not an answer validates, so its output text is what is checked.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

const ZONE: &str = "\
$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
www AAAA 2001:db8::3
*.wild A 192.0.2.4
alias CNAME www
a.b.ent A 192.0.2.5
sub NS ns.sub
ns.sub A 192.0.2.6
dn DNAME example.net.
";

const POSITIVE: &[&str] = &[
    "example.test SOA",
    "example.test NS",
    "example.test DNSKEY",
    "www.example.test A",
    "www.example.test AAAA",
    "example.test MX",
    "alias.example.test A",
    "x.wild.example.test A",
];

const NEGATIVE: &[&str] = &[
    "nx.example.test A",
    "a.b.nx.example.test A",
    "www.example.test TXT",
    "b.ent.example.test A",
    "x.wild.example.test TXT",
    "sub.example.test DS",
];

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn signed_zones_validate_with_delv() {
    for tool in ["dnssec-keygen", "dnssec-signzone", "delv"] {
        assert!(
            have(tool),
            "{tool} is not installed (apt-get install bind9-utils bind9-dnsutils); \
             the DNSSEC test needs it"
        );
    }
    let dir = scratch_dir("dnssec");
    let key = run(
        &dir,
        "dnssec-keygen",
        &["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "example.test"],
    );
    let key = key.trim();
    let public = std::fs::read_to_string(dir.join(format!("{key}.key"))).expect("key file");
    let dnskey = public
        .lines()
        .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
        .expect("DNSKEY line");
    let b64: String = dnskey
        .split_whitespace()
        .skip_while(|w| *w != "DNSKEY")
        .skip(4)
        .collect();
    std::fs::write(dir.join("example.test.in"), format!("{ZONE}{dnskey}\n")).expect("zone");
    let anchor =
        |b64: &str| format!("trust-anchors {{ example.test. static-key 257 3 13 \"{b64}\"; }};\n");
    std::fs::write(dir.join("anchor.conf"), anchor(&b64)).expect("anchor");
    // One character of the key changed.
    let mut bad = b64.clone().into_bytes();
    bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).expect("base64");
    std::fs::write(dir.join("bad-anchor.conf"), anchor(&bad)).expect("anchor");

    let variants: [(&str, &[&str]); 3] = [
        ("nsec", &[]),
        ("nsec3", &["-3", "-", "-H", "0"]),
        ("optout", &["-3", "-", "-H", "0", "-A"]),
    ];
    let mut failures = Vec::new();
    for (name, extra) in variants {
        let file = format!("{name}.zone");
        // -z: the one key signs everything; -P: its verifier wants a
        // separate ZSK.
        let mut args = vec!["-P", "-z", "-K", ".", "-o", "example.test", "-f", &file];
        args.extend_from_slice(extra);
        args.push("example.test.in");
        run(&dir, "dnssec-signzone", &args);
        let conf = format!(
            "setLocal(\"{{ADDR}}\")\naddZone(\"example.test\", \"{}\")\n",
            dir.join(&file).display()
        );
        let (server, _) = start_rampart(&conf, "example.test");
        let check = |query: &str, want: &str, failures: &mut Vec<String>| {
            let (verdict, text) = delv(&dir, server.addr.port(), "anchor.conf", query);
            if verdict != want {
                failures.push(format!(
                    "{name}: '{query}': expected '{want}', got:\n{text}"
                ));
            }
        };
        for q in POSITIVE {
            // Under opt-out the NSEC3 that proves no closer name matched
            // spans possibly unsigned delegations: validators call a
            // wildcard answer insecure (RFC 5155 §9.2).
            let want = if name == "optout" && q.starts_with("x.wild") {
                "; unsigned answer"
            } else {
                "; fully validated"
            };
            check(q, want, &mut failures);
        }
        for q in NEGATIVE {
            check(q, "; negative response, fully validated", &mut failures);
        }
        let (verdict, text) = delv(
            &dir,
            server.addr.port(),
            "bad-anchor.conf",
            "www.example.test A",
        );
        if verdict.contains("fully validated") {
            failures.push(format!("{name}: a tampered anchor validated:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
