//! Differential test: the zones in `tests/diff/zones` served by rampart,
//! Knot and NSD side by side on loopback, every query in
//! `tests/diff/queries.txt` sent to all three, and rcode, flags, EDNS and
//! every section compared.
//!
//! Knot and NSD do not always agree with each other (NSD puts the zone's
//! NS set in the authority section of positive answers, Knot does not;
//! Knot does not follow a CNAME into another zone, NSD does). So a part of
//! rampart's response (rcode and flags, answer, authority, additional)
//! passes when it equals that part from Knot or from NSD. Where Knot and
//! NSD agree on a part, rampart must agree with both; where they disagree
//! with each other and rampart with both, the query is printed as
//! tolerated, not failed (the rule, applied part by part).
//!
//! Needs `knotd` and `nsd` (Debian packages `knot` and `nsd`); `.ci/run`
//! installs them. Without them the test fails rather than pass vacuously.
//! Deliberate differences are listed, each with its reason, in
//! `tests/diff/known.txt`; they are printed, not failed.

use crate::common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The zones to serve, from `tests/diff/zones.txt`: (name, absolute file).
fn zones(root: &Path) -> Vec<(String, PathBuf)> {
    let list = std::fs::read_to_string(root.join("zones.txt")).expect("tests/diff/zones.txt");
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, file) = l
                .split_once(char::is_whitespace)
                .expect("zones.txt: 'name file' per line");
            (name.to_string(), root.join(file.trim()))
        })
        .collect()
}

fn start_knot(zones: &[(String, PathBuf)]) -> Server {
    let dir = scratch_dir("knot");
    let port = free_port();
    let mut conf = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\ndatabase:\n    storage: {d}/db\n\
         template:\n  - id: default\n    storage: {d}\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\nzone:\n",
        d = dir.display(),
    );
    for (name, file) in zones {
        let _ = writeln!(conf, "  - domain: {name}\n    file: {}", file.display());
    }
    std::fs::write(dir.join("knot.conf"), conf).expect("knot.conf");
    let mut cmd = Command::new("knotd");
    cmd.arg("-c").arg(dir.join("knot.conf"));
    Server::start(
        "knotd",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("knot.log"),
        "diff.test",
    )
}

fn start_nsd(zones: &[(String, PathBuf)]) -> Server {
    let dir = scratch_dir("nsd");
    let port = free_port();
    let mut conf = format!(
        "server:\n    ip-address: 127.0.0.1@{port}\n    username: \"\"\n    zonesdir: \"{z}\"\n    pidfile: {d}/nsd.pid\n\
         \x20   database: \"\"\n    xfrdfile: {d}/xfrd.state\n    zonelistfile: {d}/zone.list\n    server-count: 1\n\
         remote-control:\n    control-enable: no\n",
        d = dir.display(),
        // NSD reads $INCLUDE paths relative to zonesdir; the zone files'
        // own directory makes them mean what they mean to Knot and rampart.
        z = zones[0].1.parent().expect("zone dir").display(),
    );
    for (name, file) in zones {
        let _ = writeln!(
            conf,
            "zone:\n    name: {name}\n    zonefile: {}",
            file.display()
        );
    }
    std::fs::write(dir.join("nsd.conf"), conf).expect("nsd.conf");
    let mut cmd = Command::new("nsd");
    cmd.arg("-d").arg("-c").arg(dir.join("nsd.conf"));
    Server::start(
        "nsd",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("nsd.log"),
        "diff.test",
    )
}

fn start_rampart_on(zones: &[(String, PathBuf)]) -> Server {
    let mut conf = String::from("setLocal(\"{ADDR}\")\n");
    for (name, file) in zones {
        let _ = writeln!(conf, "addZone(\"{name}\", \"{}\")", file.display());
    }
    start_rampart(&conf, "diff.test").0
}

/// Which reference a part of rampart's answer matched.
#[derive(Default)]
struct Tally {
    both: usize,
    knot_only: usize,
    nsd_only: usize,
    mixed: usize,
    /// Parts where rampart matches neither, but Knot and NSD differ too.
    tolerated: usize,
    /// Listed in known.txt with the reason.
    known: usize,
}

#[test]
fn rampart_answers_like_knot_and_nsd() {
    for tool in ["knotd", "nsd"] {
        assert!(
            have(tool),
            "{tool} is not installed (apt-get install knot nsd); the differential test needs it"
        );
    }
    let root = repo_root().join("tests/diff");
    let zones = zones(&root);
    let knot = start_knot(&zones);
    let nsd = start_nsd(&zones);
    let rampart = start_rampart_on(&zones);

    // Every server must have loaded every zone, or the comparison means
    // nothing.
    for server in [&knot, &nsd, &rampart] {
        for (name, _) in &zones {
            let q = QuerySpec::parse(&format!("{name} SOA")).expect("SOA query");
            let r = exchange(server.addr, &q).and_then(|raw| normalize(&raw).ok());
            assert!(
                r.as_ref()
                    .is_some_and(|r| r.rcode == "NOERROR" && r.answer.len() == 1),
                "{} did not load {name}: {r:?}\n{}",
                server.name,
                server.log_text()
            );
        }
    }

    let known: Vec<String> = std::fs::read_to_string(root.join("known.txt"))
        .expect("known.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let list = std::fs::read_to_string(root.join("queries.txt")).expect("queries.txt");
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let q = QuerySpec::parse(line).unwrap_or_else(|e| panic!("queries.txt:{}: {e}", n + 1));
        count += 1;
        let get = |s: &Server| -> Normalized {
            let raw = exchange(s.addr, &q)
                .unwrap_or_else(|| panic!("{} gave no answer to '{line}'", s.name));
            normalize(&raw)
                .unwrap_or_else(|e| panic!("{} sent a bad answer to '{line}': {e}", s.name))
        };
        let (k, d, r) = (get(&knot), get(&nsd), get(&rampart));
        if r == k && r == d {
            tally.both += 1;
            continue;
        }
        if r == k {
            tally.knot_only += 1;
            continue;
        }
        if r == d {
            tally.nsd_only += 1;
            continue;
        }
        // Part by part: each must match Knot's or NSD's.
        let parts = |x: &Normalized| {
            [
                format!("{} [{}] {:?} {}", x.rcode, x.flags, x.edns, x.question),
                x.answer.join("\n"),
                x.authority.join("\n"),
                x.additional.join("\n"),
            ]
        };
        let (pk, pd, pr) = (parts(&k), parts(&d), parts(&r));
        let names = ["header", "answer", "authority", "additional"];
        let mut bad = Vec::new();
        let mut tolerated = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if pr[i] == pk[i] || pr[i] == pd[i] {
                continue;
            }
            if pk[i] == pd[i] {
                bad.push(*name);
            } else {
                tolerated.push(*name);
            }
        }
        if bad.is_empty() && tolerated.is_empty() {
            tally.mixed += 1;
        } else if bad.is_empty() {
            tally.tolerated += 1;
            println!(
                "tolerated (Knot and NSD disagree on {} too): queries.txt:{}: '{line}'\n  knot:\n{k}  nsd:\n{d}  rampart:\n{r}",
                tolerated.join(", "),
                n + 1
            );
        } else if known.iter().any(|k| k == line) {
            tally.known += 1;
            println!(
                "known difference (tests/diff/known.txt): queries.txt:{}: '{line}'",
                n + 1
            );
        } else {
            failures.push(format!(
                "queries.txt:{}: '{line}': {} differ\n  knot:\n{k}  nsd:\n{d}  rampart:\n{r}",
                n + 1,
                bad.join(", ")
            ));
        }
    }
    println!(
        "differential: {count} queries; rampart matched both Knot and NSD on {}, Knot alone on {}, NSD alone on {}, \
         part by part on {}; {} where Knot and NSD disagree with each other too; {} known differences; {} failed",
        tally.both,
        tally.knot_only,
        tally.nsd_only,
        tally.mixed,
        tally.tolerated,
        tally.known,
        failures.len()
    );
    assert!(
        count >= 200,
        "the query list should hold a few hundred queries, has {count}"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} queries disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
