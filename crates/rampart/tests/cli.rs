//! `rampart check-zone` and `rampart --check-config`: the same errors the
//! server logs, with exit codes scripts can use.

mod common;

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
