//! The console: rampart's own client (-e, piped lines), Debian's
//! `dnsdist -c` as the client, a wrong key getting nothing, and a rule
//! added from the console taking effect under load within a second.

use crate::common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

struct Setup {
    server: Server,
    dir: std::path::PathBuf,
    key: String,
    console: SocketAddr,
}

fn setup() -> Setup {
    setup_with("")
}

/// As [`setup`], with `extra` config lines.
fn setup_with(extra: &str) -> Setup {
    let dir = scratch_dir("console");
    let key = {
        let out = Command::new("sh")
            .arg("-c")
            .arg("head -c32 /dev/urandom | base64")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let port = free_port();
    let console_port = free_port();
    let console = SocketAddr::from(([127, 0, 0, 1], console_port));
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\ncontrolSocket(\"{console}\")\nsetKey(\"{key}\")\n\
         addAction(MaxQPSIPRule(1000, 24, 64), DropAction(), {{name=\"per-24\"}})\n\
         addZone(\"example.org\", \"{}\")\n{extra}\n",
        repo_root()
            .join("examples/zones/example.org.zone")
            .display()
    );
    let server = rampart_in(&dir, port, &conf, "example.org");
    // The console starts right after the listeners.
    assert!(
        eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
            console
        )
        .is_ok()),
        "console never listened:\n{}",
        server.log_text()
    );
    Setup {
        server,
        dir,
        key,
        console,
    }
}

fn rampart_client(s: &Setup, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(rampart_bin())
        .arg("-C")
        .arg(s.dir.join("rampart.conf"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn rampart_client_runs_commands() {
    let s = setup();
    let (rc, out) = rampart_client(&s, &["-e", "showRules()"], "");
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("per-24") && out.contains("IP (/24, /64) match for QPS over 1000 burst 1000"),
        "{out}"
    );
    let (rc, out) = rampart_client(
        &s,
        &["-c"],
        "1+1\naddDomainBlock(\"bad.example.\")\nshowRules()\nnosuch()\n",
    );
    assert_eq!(rc, 0, "{out}");
    assert!(out.starts_with("2\n"), "{out}");
    assert!(out.contains("qname in bad.example."), "{out}");
    assert!(
        out.contains(
            "Error: [string \"console\"]:1: attempt to call a nil value (global 'nosuch')"
        ),
        "{out}"
    );
    // What changed and from where, in the log.
    let log = s.server.log_text();
    assert!(
        log.contains("console 127.0.0.1:") && log.contains("addDomainBlock(\"bad.example.\")"),
        "{log}"
    );
    assert!(
        log.contains("rules changed at runtime: 2 query rules"),
        "{log}"
    );
}

/// showVersion() starts as dnsdist's does; a console limited to one
/// connection turns a second away while the first is held, and takes it
/// once the first is gone.
#[test]
fn console_version_and_connection_limit() {
    let s = setup_with("setConsoleMaximumConcurrentConnections(1)");
    // Hold the one slot: a connection the console keeps open (one it
    // turned away, while setup's probe still held the slot, is closed at
    // once and read as end of file).
    let mut held = None;
    assert!(
        eventually(Duration::from_secs(10), || {
            let mut c = std::net::TcpStream::connect(s.console).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let kept = std::io::Read::read(&mut c, &mut [0u8; 1]).is_err();
            held = kept.then_some(c);
            kept
        }),
        "the console never kept a connection"
    );
    let (_, out) = rampart_client(&s, &["-e", "showVersion()"], "");
    assert!(!out.contains("rampart 0"), "answered past the limit: {out}");
    drop(held);
    let mut out = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (rc, text) = rampart_client(&s, &["-e", "showVersion()"], "");
            out = text;
            rc == 0 && out.starts_with("dnsdist dialect 1.7, rampart ")
        }),
        "slot never freed: {out}"
    );
}

#[test]
fn reload_zone_serves_a_plain_zone_edit() {
    // A zone with no replication settings: the service keeps nothing for
    // it, so reloadZone must publish what it loaded itself.
    let dir = scratch_dir("console-reload");
    let zone = dir.join("example.org.zone");
    let original = repo_root().join("examples/zones/example.org.zone");
    std::fs::copy(&original, &zone).unwrap();
    let port = free_port();
    let console = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let key = "cmVsb2FkLXRlc3Qta2V5LXJlbG9hZC10ZXN0LWtleSE=";
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\ncontrolSocket(\"{console}\")\nsetKey(\"{key}\")\n\
         addZone(\"example.org\", \"{}\")\n",
        zone.display()
    );
    let server = rampart_in(&dir, port, &conf, "example.org");
    let s = Setup {
        server,
        dir: dir.clone(),
        key: key.into(),
        console,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let q = QuerySpec::new("reloaded.example.org", Rtype::TXT);
    let before = normalize(&exchange(addr, &q).unwrap()).unwrap();
    assert_eq!(before.rcode, "NXDOMAIN", "{before}");
    let mut text = std::fs::read_to_string(&zone).unwrap();
    text.push_str("\nreloaded 60 IN TXT \"yes\"\n");
    std::fs::write(&zone, text).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
            console
        )
        .is_ok()),
        "{}",
        s.server.log_text()
    );
    let (rc, out) = rampart_client(&s, &["-e", "reloadZone(\"example.org\")"], "");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("zone example.org reloaded"), "{out}");
    let after = normalize(&exchange(addr, &q).unwrap()).unwrap();
    assert_eq!(after.rcode, "NOERROR", "{after}");
    assert!(after.answer.iter().any(|r| r.contains("yes")), "{after}");
}

#[test]
fn wrong_key_gets_nothing() {
    let s = setup();
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_ne!(other, s.key);
    let (rc, out) = rampart_client(&s, &["-k", other, "-e", "showRules()"], "");
    assert_ne!(rc, 0);
    assert!(!out.contains("per-24"), "{out}");
    assert!(out.contains("key does not match"), "{out}");
}

#[test]
fn dnsdist_client_talks_to_rampart() {
    assert!(
        have("dnsdist"),
        "dnsdist is not installed (apt-get install dnsdist); the console test needs it as a client"
    );
    let s = setup();
    let conf = s.dir.join("dnsdist-client.conf");
    std::fs::write(
        &conf,
        format!("controlSocket(\"{}\")\nsetKey(\"{}\")\n", s.console, s.key),
    )
    .unwrap();
    let out = Command::new("dnsdist")
        .arg("-C")
        .arg(&conf)
        .args(["-c", "-e", "showRules()"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("per-24"), "{text}");
    let out = Command::new("dnsdist")
        .arg("-C")
        .arg(&conf)
        .args(["-c", "-e", "topQueries(5)"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("example.org."),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_rule_added_from_the_console_applies_under_load_within_a_second() {
    let s = setup();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    let mut ask = |id: u16| -> bool {
        sock.send_to(
            &QuerySpec::new("mail.example.org", Rtype::A).to_wire(id),
            s.server.addr,
        )
        .unwrap();
        sock.recv(&mut buf).is_ok()
    };
    for i in 0..20 {
        assert!(ask(i), "answered before the change");
    }
    let (rc, out) = rampart_client(&s, &["-e", "addDomainBlock(\"mail.example.org.\")"], "");
    assert_eq!(rc, 0, "{out}");
    let changed = Instant::now();
    let mut id = 100;
    while ask(id) {
        id += 1;
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "still answered a second after the console change"
        );
    }
    println!("console change effective after {:?}", changed.elapsed());
    // The console answers once the rule is in force: the first query
    // after it is already the one dropped, and by the rule.
    assert_eq!(id, 100, "answered {} queries after the console", id - 100);
    assert_stat(&s.dir, "rule-drop", 1);
    assert!(
        rampart_client(&s, &["-e", "showRules()"], "")
            .1
            .contains("mail.example.org."),
        "the rule is listed"
    );
}

/// A pseudo-terminal pair: what `rampart -c` sees when run by a person.
fn open_pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds we then own; the name, termios and
    // window size arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are not owned elsewhere.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

#[test]
fn interactive_console_edits_lines_and_keeps_history() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let s = setup();
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (mut master, slave) = open_pty();
    let mut child = Command::new(rampart_bin())
        .arg("-C")
        .arg(s.dir.join("rampart.conf"))
        .arg("-c")
        .env("HOME", &home)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = master.try_clone().unwrap();
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child has gone and the slave is closed.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_for = |what: &str, count: usize| {
        assert!(
            eventually(Duration::from_secs(10), || screen
                .lock()
                .unwrap()
                .matches(what)
                .count()
                >= count),
            "waited for {count}× {what:?}; the screen shows {:?}",
            screen.lock().unwrap()
        );
    };
    wait_for("> ", 1);
    // Type the end of the line first, then Home and the start: the
    // line only evaluates to "abc" if the cursor moved.
    master.write_all(b"\"b\"..\"c\"\x01\"a\"..\r").unwrap();
    wait_for("\nabc\r", 1);
    // Up arrow recalls it; Enter runs it again.
    master.write_all(b"\x1b[A\r").unwrap();
    wait_for("\nabc\r", 2);
    // Left arrow, Backspace and a new character, mid-line.
    master.write_all(b"\"xyq\"\x1b[D\x1b[D\x08z\r").unwrap();
    wait_for("\nxzq\r", 1);
    // Ctrl-C drops a half-typed line; Ctrl-D on an empty line leaves.
    master.write_all(b"junk\x03").unwrap();
    wait_for("^C", 1);
    master.write_all(b"\x04").unwrap();
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "rampart -c did not exit on Ctrl-D"
    );
    let status = status.unwrap();
    assert!(status.success(), "{status}");
    // The history survives for the next session, once per repeated line,
    // without the abandoned one.
    let history = std::fs::read_to_string(home.join(".rampart_history")).unwrap();
    assert_eq!(history, "\"a\"..\"b\"..\"c\"\n\"xzq\"\n", "{history}");
}

/// statNodeRespRing calls the visitor for each name answered lately and
/// each of its parents, children first, with the counts for the name.
#[test]
fn stat_node_resp_ring_visits_answered_names_and_their_parents() {
    let s = setup();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(
        &QuerySpec::new("mail.example.org", Rtype::A).to_wire(1),
        s.server.addr,
    )
    .unwrap();
    let mut buf = [0u8; 512];
    sock.recv(&mut buf).expect("answered");
    let (rc, out) = rampart_client(
        &s,
        &["-c"],
        "seen = {}\n\
         statNodeRespRing(function(node, own, below) table.insert(seen, node.fullname .. '=' .. own.queries .. '/' .. below.queries) end, 60)\n\
         return table.concat(seen, ' ')\n",
    );
    assert_eq!(rc, 0, "{out}");
    assert!(
        // (the start-up probe asked example.org itself)
        out.contains("mail.example.org.=1/1 example.org.=1/2 org.=0/2 =0/2"),
        "{out}"
    );
}
