//! `rampart check-zone`, `rampart sign-zone` and `rampart --check-config`:
//! the same errors the server logs, with exit codes scripts can use.

use crate::common;

use std::process::{Command, Output};

use common::*;

fn run(args: &[&str]) -> Output {
    Command::new(rampart_bin())
        .args(args)
        .output()
        .expect("run rampart")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Each broken zone and the error it must produce (after the file name).
const BROKEN: &[(&str, &str)] = &[
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 192.0.2.300\n", ":3: "),
    ("@ IN NS ns\nns IN A 192.0.2.1\n", ": no SOA record at the zone apex example.test.: expected exactly one"),
    (
        "@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nx IN CNAME ns\nx IN TXT \"other\"\n",
        ":4: CNAME and TXT at x.example.test.: expected no other data beside a CNAME",
    ),
    (
        "@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nwww.example.net. IN A 192.0.2.1\n",
        ":3: www.example.net. is outside the zone example.test.: expected names at or below the origin",
    ),
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n\n\nx IN BOGUS 1\n", ":5: expected a TTL, class or record type here"),
    ("@ IN SOA ns h ( 1 1 1 1 1\n@ IN NS ns\n", ":1: unbalanced '(': the file ends before its ')'"),
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nsub IN SOA ns h 1 1 1 1 1\n", ":3: SOA record at sub.example.test.: expected SOA only at the zone apex"),
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n$GENERATE 5-1 h$ A 192.0.2.$\n", ":3: expected a $GENERATE range"),
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n$INCLUDE missing.inc\n", ":3: cannot read $INCLUDE file"),
    ("@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nt IN TXT \"open\n", ":3: quoted string not closed"),
];

#[test]
fn check_zone_reports_file_and_line() {
    let dir = scratch_dir("cli");
    for (i, (zone, want)) in BROKEN.iter().enumerate() {
        let path = dir.join(format!("broken{i}.zone"));
        std::fs::write(&path, zone).unwrap();
        let out = run(&["check-zone", "example.test", path.to_str().unwrap()]);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(1), "case {i} should fail:\n{shown}");
        let expect = format!("{}{want}", path.display());
        assert!(
            shown.contains(&expect),
            "case {i}: expected '{expect}' in:\n{shown}"
        );
        assert!(
            shown.contains("zone example.test/IN: not loaded due to errors."),
            "{shown}"
        );
    }
    // No NS at the apex is served with a warning, as Knot does.
    let no_ns = dir.join("no-ns.zone");
    std::fs::write(&no_ns, "@ IN SOA ns h 1 1 1 1 1\n").unwrap();
    let out = run(&["check-zone", "example.test", no_ns.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("no NS records at the zone apex example.test."),
        "{}",
        text(&out)
    );

    let good = dir.join("good.zone");
    std::fs::write(
        &good,
        "$TTL 1h\n@ IN SOA ns h 2026 1h 1h 1w 1h\n@ IN NS ns\nns IN A 192.0.2.1\n",
    )
    .unwrap();
    let out = run(&["check-zone", "example.test.", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "zone example.test./IN: loaded serial 2026\nOK\n"
    );
}

#[test]
fn check_zone_lists_every_error() {
    // As `named-checkzone` does: every bad line, in file order, and no
    // zone.
    let dir = scratch_dir("cli-all");
    let path = dir.join("many.zone");
    std::fs::write(
        &path,
        "@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns A 192.0.2.300\nx BOGUS 1\nx..y A 192.0.2.1\n\
         c CNAME ns\nc TXT \"other\"\n",
    )
    .unwrap();
    let out = run(&["check-zone", "example.test", path.to_str().unwrap()]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let p = path.display();
    let want = [
        format!("{p}:3: "),
        format!("{p}:4: expected a TTL, class or record type here"),
        format!("{p}:5: empty label in 'x..y'"),
        format!("{p}:7: CNAME and TXT at c.example.test.: expected no other data beside a CNAME"),
    ];
    let errors = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), want.len(), "{shown}");
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "expected '{want}' in:\n{shown}"
        );
    }
    assert!(
        shown.contains("zone example.test/IN: not loaded due to errors."),
        "{shown}"
    );
}

#[test]
fn check_config_exit_codes() {
    let root = repo_root();
    let example = root.join("examples/rampart.conf");
    let out = run(&["--check-config", "-C", example.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&format!("Configuration '{}' OK!", example.display())));

    let dir = scratch_dir("cli-conf");
    let bad_zone = dir.join("bad.zone");
    std::fs::write(&bad_zone, "@ IN NS ns\n").unwrap();
    let conf = dir.join("rampart.conf");
    std::fs::write(
        &conf,
        format!(
            "setLocal(\"127.0.0.1:5300\")\naddZone(\"bad.test\", \"{}\")\n",
            bad_zone.display()
        ),
    )
    .unwrap();
    let out = run(&["--check-config", "-C", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no SOA record"), "{}", text(&out));

    std::fs::write(
        &conf,
        "setLocal(\"127.0.0.1:5300\")\n\naddZone(\"x.test\")\n",
    )
    .unwrap();
    let out = run(&["--check-config", "-C", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(&format!("{}:3:", conf.display())),
        "{}",
        text(&out)
    );

    let out = run(&["--check-config", "-C", "/nonexistent/rampart.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot read config"), "{}", text(&out));

    let out = run(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A clean dnsdist config checks as dnsdist 1.7.3's does, byte for byte
/// on stdout and stderr together (dnsdist's regression suite compares
/// them): no "Added downstream server" line, nothing for the harness's
/// `setSecurityPollSuffix('')`.
#[test]
fn check_config_of_a_clean_dnsdist_config_says_only_ok() {
    let dir = scratch_dir("cli-clean");
    let conf = dir.join("dnsdist.conf");
    std::fs::write(
        &conf,
        "-- Autogenerated\nnewServer{address=\"127.0.0.1:10652\"}\n\
         addAction(QTypeRule(DNSQType.ANY), TCAction())\n\
         addAction(makeRule(\"drop.test.\"), DropAction())\n\
         setSecurityPollSuffix('')",
    )
    .unwrap();
    let out = Command::new(rampart_bin())
        .args(["--check-config", "-C"])
        .arg(&conf)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        text(&out),
        format!("Configuration '{}' OK!\n", conf.display())
    );
}

/// A zone with what signing must get right: a delegation with glue (not
/// signed, but in the chain), a wildcard, an empty non-terminal, a CNAME.
const TO_SIGN: &str = "\
$TTL 3600
@       SOA  ns1 hostmaster 2026120601 7200 3600 1209600 300
@       NS   ns1
@       MX   10 mail
ns1     A    192.0.2.53
mail    A    192.0.2.25
www     A    192.0.2.80
www     AAAA 2001:db8::80
alias   CNAME www
*.wild  TXT  \"wildcard\"
a.b.c   TXT  \"below an empty non-terminal\"
sub     NS   ns.sub
ns.sub  A    192.0.2.99
";

/// BIND's verifier on a signed file; missing, it fails the test (the
/// package is bind9-utils).
fn dnssec_verify(file: &std::path::Path) {
    let out = Command::new("dnssec-verify")
        .args(["-z", "-o", "example.test."])
        .arg(file)
        .output()
        .expect("dnssec-verify (bind9-utils) must be installed");
    assert!(out.status.success(), "dnssec-verify: {}", text(&out));
}

/// `rampart sign-zone` makes a key where there is none, signs with NSEC,
/// NSEC3 and NSEC3 opt-out, writes FILE.signed or -o OUT, and
/// `dnssec-verify` accepts every result; a second run uses the same key.
#[test]
fn sign_zone_output_verifies() {
    let dir = scratch_dir("sign-zone");
    let zone = dir.join("example.test.zone");
    std::fs::write(&zone, TO_SIGN).unwrap();
    let keys = dir.join("keys");
    let keys_arg = keys.to_str().unwrap();

    let out = run(&[
        "sign-zone",
        "--key-directory",
        keys_arg,
        "example.test",
        zone.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    assert!(stdout.contains("12 records in"), "{stdout}");
    assert!(stdout.contains("signatures made"), "{stdout}");
    let signed = dir.join("example.test.zone.signed");
    let text_signed = std::fs::read_to_string(&signed).unwrap();
    assert!(text_signed.contains(" NSEC "), "{text_signed}");
    assert!(!text_signed.contains("NSEC3"), "{text_signed}");
    dnssec_verify(&signed);
    let key_files = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&keys)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let made = key_files();
    assert_eq!(made.len(), 2, "one key, .key and .private: {made:?}");

    for (flag, opt_out) in [("--nsec3", "1 0 0 -"), ("--nsec3-opt-out", "1 1 0 -")] {
        let to = dir.join(format!("out{flag}.zone"));
        let out = run(&[
            "sign-zone",
            flag,
            "-K",
            keys_arg,
            "-o",
            to.to_str().unwrap(),
            "example.test",
            zone.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", text(&out));
        let t = std::fs::read_to_string(&to).unwrap();
        assert!(t.contains("NSEC3PARAM 1 0 0 -"), "{flag}: {t}");
        assert!(t.contains(&format!("NSEC3 {opt_out}")), "{flag}: {t}");
        dnssec_verify(&to);
    }
    assert_eq!(key_files(), made, "the key was reused, not made again");
}

/// Errors name the file, with the line where the loader has one, and
/// nothing is written.
#[test]
fn sign_zone_errors_name_the_file() {
    let dir = scratch_dir("sign-zone-errors");
    let zone = dir.join("broken.zone");
    std::fs::write(
        &zone,
        "@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 192.0.2.300\n",
    )
    .unwrap();
    let keys = dir.join("keys");
    let out = run(&[
        "sign-zone",
        "-K",
        keys.to_str().unwrap(),
        "example.test",
        zone.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{}:3: ", zone.display())),
        "{}",
        text(&out)
    );
    assert!(!dir.join("broken.zone.signed").exists());
    assert!(!keys.exists(), "no key made for a zone that did not load");

    let missing = dir.join("missing.zone");
    let out = run(&["sign-zone", "example.test", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&missing.display().to_string()),
        "{}",
        text(&out)
    );

    let out = run(&["sign-zone", "example.test"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
