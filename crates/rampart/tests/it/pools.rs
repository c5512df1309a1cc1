//! Backends and pools with Debian's Knot as the real backends on
//! loopback: forwarding over UDP and TCP beside a local zone, failover to
//! the standby and back, no query lost beyond the health-check window,
//! the console taking a server down, SERVFAIL when none is left.

use crate::common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

/// A knotd serving other.test from the differential zones.
fn knot(port: u16, dir: &std::path::Path) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let conf = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\ndatabase:\n    storage: {d}\ntemplate:\n  - id: default\n    storage: {z}\n    zonefile-sync: -1\n    journal-content: none\nzone:\n  - domain: other.test\n    file: other.test.zone\n",
        d = dir.display(),
        z = repo_root().join("tests/diff/zones").display()
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    knot_on(dir, port, "other.test")
}

fn queries_of(dir: &std::path::Path, name: &str) -> u64 {
    let table = console(dir, "showServers()");
    table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .and_then(|l| l.split_whitespace().nth(7))
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{table}"))
}

#[test]
fn failover_recovery_and_console_with_knot_backends() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("pools");
    let (p1, p2, port, cport) = (free_port(), free_port(), free_port(), free_port());
    let mut primary = knot(p1, &dir.join("k1"));
    let _standby = knot(p2, &dir.join("k2"));
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{p1}\", name=\"primary\", order=1, checkInterval=1, checkTimeout=300}}\n\
         newServer{{address=\"127.0.0.1:{p2}\", name=\"standby\", order=2, checkInterval=1, checkTimeout=300}}\n\
         setServerPolicy(firstAvailable)\n\
         controlSocket(\"127.0.0.1:{cport}\")\nsetKey(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\")\n\
         addZone(\"example.org\", \"{}\")\n",
        repo_root().join("examples/zones/example.org.zone").display()
    );
    let s = rampart_in(&dir, port, &conf, "example.org");

    // Forwarded over UDP and TCP; the local zone answered here.
    let fwd = |tcp: bool| {
        let mut q = QuerySpec::new("host.other.test", Rtype::A);
        q.tcp = tcp;
        normalize(&exchange(s.addr, &q).expect("forwarded answer")).unwrap()
    };
    assert_eq!(
        fwd(false).answer,
        ["host.other.test. 600 in a 198.51.100.10"]
    );
    assert_eq!(
        fwd(true).answer,
        ["host.other.test. 600 in a 198.51.100.10"]
    );
    let local =
        normalize(&exchange(s.addr, &QuerySpec::new("mail.example.org", Rtype::A)).unwrap())
            .unwrap();
    assert_eq!(local.answer, ["mail.example.org. 3600 in a 192.0.2.25"]);
    assert!(
        queries_of(&dir, "primary") >= 2 && queries_of(&dir, "standby") == 0,
        "{}",
        console(&dir, "showServers()")
    );

    // Queries every 50 ms: for a second; then the primary dies, until
    // the log says it is down; then it comes back, until the log says it
    // is up, and a second more. The phases end on what the server says,
    // not on a clock a loaded machine could outrun.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Long enough that a slow answer is not taken for a lost one.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let started = Instant::now();
    let mut lost_at = Vec::new();
    let (mut killed_at, mut down_seen_at, mut up_seen_at) = (None, None, None);
    let mut restarted_primary = None;
    let mut buf = [0u8; 512];
    let mut id = 0u16;
    loop {
        if killed_at.is_none() && started.elapsed() >= Duration::from_secs(1) {
            let _ = primary.child.kill();
            let _ = primary.child.wait();
            killed_at = Some(started.elapsed());
        }
        if killed_at.is_some() && down_seen_at.is_none() && s.log_text().contains("as 'down'") {
            down_seen_at = Some(started.elapsed());
            restarted_primary = Some(knot(p1, &dir.join("k1")));
        }
        if down_seen_at.is_some() && up_seen_at.is_none() && s.log_text().contains("as 'up'") {
            up_seen_at = Some(started.elapsed());
        }
        // When this query is sent.
        let t = started.elapsed();
        if up_seen_at.is_some_and(|up| t >= up + Duration::from_secs(1)) {
            break;
        }
        assert!(
            t < Duration::from_secs(60),
            "the primary was never marked down and up again (killed at {killed_at:?}, down seen at {down_seen_at:?}):\n{}",
            s.log_text()
        );
        id = id.wrapping_add(1);
        sock.send_to(
            &QuerySpec::new("host.other.test", Rtype::A).to_wire(id),
            s.addr,
        )
        .unwrap();
        let answered = loop {
            match sock.recv(&mut buf) {
                Ok(n) if n > 12 && buf[..2] == id.to_be_bytes() => break true,
                Ok(_) => continue,
                Err(_) => break false,
            }
        };
        if !answered {
            lost_at.push(t);
        }
        std::thread::sleep(Duration::from_millis(50).saturating_sub(started.elapsed() - t));
    }
    let (killed_at, down_seen_at) = (killed_at.unwrap(), down_seen_at.unwrap());
    println!(
        "killed at {killed_at:?}, down seen at {down_seen_at:?}, up seen at {up_seen_at:?}; lost at {lost_at:?}"
    );
    // Lost only between the kill and the health check noticing, never
    // before or after: a query sent once the log said 'down' went to the
    // standby (the state changes before the line is logged).
    assert!(
        lost_at.iter().all(|&t| killed_at <= t && t < down_seen_at),
        "lost outside the health-check window: {lost_at:?}"
    );
    // And the check noticed within its interval and timeout (1 s and
    // 300 ms), with room for a loaded machine.
    assert!(
        down_seen_at - killed_at < Duration::from_secs(5),
        "the dead primary was noticed only after {:?}",
        down_seen_at - killed_at
    );
    let log = s.log_text();
    assert!(
        log.contains("Marking downstream primary (127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains("as 'down'") && log.contains("as 'up'"),
        "{log}"
    );
    // The primary took the traffic back after it returned.
    let before = queries_of(&dir, "primary");
    for i in 0..5u16 {
        sock.send_to(
            &QuerySpec::new("host.other.test", Rtype::A).to_wire(9000 + i),
            s.addr,
        )
        .unwrap();
        let _ = sock.recv(&mut buf);
    }
    assert!(
        queries_of(&dir, "primary") >= before + 5,
        "{}",
        console(&dir, "showServers()")
    );

    // The console takes the primary down: the standby serves at once.
    console(&dir, "getServer(0):setDown()");
    let standby_before = queries_of(&dir, "standby");
    assert_eq!(fwd(false).answer.len(), 1);
    assert!(queries_of(&dir, "standby") > standby_before);
    assert!(console(&dir, "showServers()").contains("DOWN"));

    // With every server down: dropped, or SERVFAIL when asked for.
    assert_stat(&dir, "no-policy", 0);
    console(&dir, "getServer(1):setDown()");
    assert!(udp_exchange(
        s.addr,
        &QuerySpec::new("host.other.test", Rtype::A).to_wire(1),
        Duration::from_millis(300)
    )
    .is_none());
    // Dropped for want of a server, which the counter says.
    assert_stat(&dir, "no-policy", 1);
    // The local zone is still answered.
    assert_eq!(
        normalize(&exchange(s.addr, &QuerySpec::new("mail.example.org", Rtype::A)).unwrap())
            .unwrap()
            .answer,
        ["mail.example.org. 3600 in a 192.0.2.25"]
    );
    console(&dir, "setServFailWhenNoServer(true)");
    let r = normalize(&exchange(s.addr, &QuerySpec::new("host.other.test", Rtype::A)).unwrap())
        .unwrap();
    assert_eq!(r.rcode, "SERVFAIL");
    assert_stat(&dir, "no-policy", 2);
    drop(restarted_primary);
}

#[test]
fn suffix_guard_stops_a_random_subdomain_flood_but_not_known_names() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("guard");
    let (kp, port) = (free_port(), free_port());
    let _knot = knot(kp, &dir.join("k"));
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{kp}\", name=\"backend\", checkInterval=1}}\n\
         local dbr = dynBlockRulesGroup()\n\
         dbr:setSuffixGuard(20, 1, 2, \"random-subdomain flood\", 30, DNSAction.Drop)\n\
         function maintenance() dbr:apply() end\n\
         addZone(\"example.org\", \"{}\")\n",
        repo_root()
            .join("examples/zones/example.org.zone")
            .display()
    );
    let s = rampart_in(&dir, port, &conf, "example.org");

    let flooders: Vec<UdpSocket> = (1..=40)
        .map(|k| {
            let sock = UdpSocket::bind(format!("127.21.0.{k}:0")).unwrap();
            sock.set_nonblocking(true).unwrap();
            sock
        })
        .collect();
    let legit = UdpSocket::bind("127.0.31.1:0").unwrap();
    legit
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let legit_names = ["host.other.test", "www.example.org"];
    let mut buf = [0u8; 512];
    // The legitimate names get answered once before the flood: known.
    for (i, name) in legit_names.iter().enumerate() {
        legit
            .send_to(&QuerySpec::new(name, Rtype::A).to_wire(i as u16), s.addr)
            .unwrap();
        legit.recv(&mut buf).expect("answered before the flood");
    }

    let started = Instant::now();
    let mut answered_per_quarter = [0u32; 16];
    let (mut legit_asked, mut legit_answered) = (0, 0);
    let mut n: u32 = 0;
    for round in 0..160u32 {
        for (k, f) in flooders.iter().enumerate() {
            n += 1;
            let zone = if k % 2 == 0 {
                "other.test"
            } else {
                "example.org"
            };
            let name = format!("r{:x}{n}.{zone}", n.wrapping_mul(2_654_435_761));
            let _ = f.send_to(&QuerySpec::new(&name, Rtype::A).to_wire(n as u16), s.addr);
        }
        let quarter = (started.elapsed().as_millis() / 250).min(15) as usize;
        for f in &flooders {
            while f.recv(&mut buf).is_ok() {
                answered_per_quarter[quarter] += 1;
            }
        }
        if round % 4 == 0 {
            let name = legit_names[(round / 4) as usize % 2];
            legit_asked += 1;
            legit
                .send_to(
                    &QuerySpec::new(name, Rtype::A).to_wire(round as u16),
                    s.addr,
                )
                .unwrap();
            if legit.recv(&mut buf).is_ok() && buf[3] & 0xf == 0 {
                legit_answered += 1;
            }
        }
        let next = Duration::from_millis(25 * u64::from(round + 1));
        if let Some(wait) = next.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    println!("flood answers per quarter second: {answered_per_quarter:?}; legitimate {legit_answered}/{legit_asked}");
    let log = s.log_text();
    for zone in ["other.test.", "example.org."] {
        assert!(
            log.contains(&format!(
                "Inserting dynamic block for {zone} for 30 seconds: random-subdomain flood"
            )),
            "{log}"
        );
    }
    assert!(log.contains("known names keep flowing"), "{log}");
    let late: u32 = answered_per_quarter[9..].iter().sum();
    assert_eq!(
        late, 0,
        "flood still answered after 2.25 s: {answered_per_quarter:?}"
    );
    assert_eq!(
        legit_answered, legit_asked,
        "the legitimate client lost answers"
    );
}

#[test]
fn packet_cache_answers_repeats_and_survives_a_dead_backend() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("cache");
    let (kp, port, cport) = (free_port(), free_port(), free_port());
    let mut backend = knot(kp, &dir.join("k"));
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{kp}\", name=\"backend\", checkInterval=1, checkTimeout=300}}\n\
         pc = newPacketCache(1000, {{maxTTL=86400, minTTL=0}})\n\
         getPool(\"\"):setCache(pc)\n\
         controlSocket(\"127.0.0.1:{cport}\")\nsetKey(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\")\n"
    );
    let s = serve(&dir, port, &conf);
    let ask = |name: &str| {
        normalize(&exchange(s.addr, &QuerySpec::new(name, Rtype::A)).expect("answer")).unwrap()
    };
    assert_eq!(
        ask("host.other.test").answer,
        ["host.other.test. 600 in a 198.51.100.10"]
    );
    let sent = queries_of(&dir, "backend");
    // The repeat, in another case, comes from the cache: the backend sees
    // nothing, the client gets its own case back.
    let raw = exchange(s.addr, &QuerySpec::new("HOST.other.TEST", Rtype::A)).unwrap();
    assert_eq!(&raw[12..17], b"\x04HOST");
    assert_eq!(queries_of(&dir, "backend"), sent);
    // Over TCP the same: the first answer is kept, the repeat is the
    // cache's.
    let mut tcp_q = QuerySpec::new("host.other.test", Rtype::A);
    tcp_q.tcp = true;
    assert_eq!(
        normalize(&exchange(s.addr, &tcp_q).expect("answer over TCP"))
            .unwrap()
            .answer
            .len(),
        1
    );
    let sent = queries_of(&dir, "backend");
    assert!(exchange(s.addr, &tcp_q).is_some());
    assert_eq!(
        queries_of(&dir, "backend"),
        sent,
        "the TCP repeat was cached"
    );
    let stats = console(&dir, "pc:printStats()");
    assert!(
        stats.contains("Entries: ") && stats.contains("Hits: 2"),
        "{stats}"
    );
    // The backend dies: the cached answer is still given.
    let _ = backend.child.kill();
    let _ = backend.child.wait();
    assert!(
        eventually(Duration::from_secs(10), || console(&dir, "showServers()")
            .contains("down")),
        "{}",
        console(&dir, "showServers()")
    );
    assert_eq!(ask("host.other.test").answer.len(), 1);
    assert!(console(&dir, "dumpStats()").contains("cache-hits"));
}

#[test]
fn response_rules_apply_to_forwarded_answers() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("fwd-rules");
    let (kp, port) = (free_port(), free_port());
    let _backend = knot(kp, &dir.join("k"));
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{kp}\", name=\"backend\"}}\n\
         addResponseAction(QTypeRule(DNSQType.A), LimitTTLResponseAction(0, 7))\n\
         addResponseAction(RCodeRule(DNSRCode.NXDOMAIN), DropResponseAction())\n{}",
        console_config()
    );
    let s = serve(&dir, port, &conf);
    for (drops, tcp) in [(1, false), (2, true)] {
        let mut q = QuerySpec::new("host.other.test", Rtype::A);
        q.tcp = tcp;
        let r = normalize(&exchange(s.addr, &q).expect("answer")).unwrap();
        assert_eq!(
            r.answer,
            ["host.other.test. 7 in a 198.51.100.10"],
            "tcp={tcp}"
        );
        let mut nx = QuerySpec::new("nothing.other.test", Rtype::A);
        nx.tcp = tcp;
        let wire = nx.to_wire(5);
        let got = if tcp {
            tcp_exchange(s.addr, &wire, Duration::from_millis(500))
        } else {
            udp_exchange(s.addr, &wire, Duration::from_millis(500))
        };
        assert!(
            got.is_none(),
            "NXDOMAIN from the backend dropped (tcp={tcp})"
        );
        // By the response rule: the backend did answer.
        assert_stat(&dir, "rule-drop", drops);
        assert_eq!(backend_counter(&dir, "backend", "Drops"), 0);
    }
    let r = normalize(&exchange(s.addr, &QuerySpec::new("host.other.test", Rtype::A)).unwrap())
        .unwrap();
    assert_eq!(r.answer, ["host.other.test. 7 in a 198.51.100.10"]);
}

/// Starts rampart with `conf` in `dir`, listening on `port`; returns once
/// it answers (the probe is forwarded, so a backend must be up).
fn serve(dir: &std::path::Path, port: u16, conf: &str) -> Server {
    rampart_in(dir, port, conf, "other.test")
}

/// A backend that answers everything with an empty NOERROR, 60 ms late,
/// until `stop` is set.
fn slow_backend(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (u16, std::thread::JoinHandle<()>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            std::thread::sleep(Duration::from_millis(60));
            buf[2] |= 0x84; // QR, AA
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    (port, handle)
}

#[test]
fn a_slow_backend_is_flagged_and_kept_out_of_rotation() {
    assert!(
        have("knotd"),
        "knotd is not installed (apt-get install knot)"
    );
    let dir = scratch_dir("slow");
    let (kp, port, cport) = (free_port(), free_port(), free_port());
    let _fast = knot(kp, &dir.join("k"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (sp, slow_thread) = slow_backend(stop.clone());
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{kp}\", name=\"fast\"}}\n\
         newServer{{address=\"127.0.0.1:{sp}\", name=\"slow\"}}\n\
         setServerPolicy(roundrobin)\nsetSlowBackendPolicy(true)\n\
         controlSocket(\"127.0.0.1:{cport}\")\nsetKey(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\")\n"
    );
    let s = serve(&dir, port, &conf);
    for i in 0..20u16 {
        let _ = udp_exchange(
            s.addr,
            &QuerySpec::new("host.other.test", Rtype::A).to_wire(i),
            Duration::from_millis(500),
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || s
            .log_text()
            .contains("Backend slow (127.0.0.1:")),
        "never flagged:\n{}\n{}",
        s.log_text(),
        console(&dir, "showServers()")
    );
    assert!(
        s.log_text().contains("out of rotation until it recovers"),
        "{}",
        s.log_text()
    );
    assert!(
        console(&dir, "showServers()").contains("slow "),
        "{}",
        console(&dir, "showServers()")
    );
    let before = queries_of(&dir, "slow");
    for i in 0..10u16 {
        let r = udp_exchange(
            s.addr,
            &QuerySpec::new("host.other.test", Rtype::A).to_wire(100 + i),
            Duration::from_millis(500),
        );
        assert!(r.is_some(), "answered by the fast backend");
    }
    assert_eq!(
        queries_of(&dir, "slow"),
        before,
        "the slow backend still got queries"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = slow_thread.join();
}

#[test]
fn tcp_connections_to_a_backend_are_reused() {
    let dir = scratch_dir("tcp-reuse");
    let port = free_port();
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{}\"}}\n",
        backend.port
    );
    let s = serve(&dir, port, &conf);
    // Ten TCP clients one after the other, each on its own connection.
    for i in 0..10u16 {
        let q = QuerySpec::new(&format!("n{i}.other.test"), Rtype::A).to_wire(100 + i);
        let r = tcp_exchange(s.addr, &q, Duration::from_secs(2)).expect("answer over TCP");
        assert_eq!(r[..2], (100 + i).to_be_bytes(), "the client's own ID");
    }
    assert_eq!(
        backend.accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one backend connection served all ten"
    );
}

#[test]
fn use_client_subnet_tells_the_backend_but_not_the_client() {
    let dir = scratch_dir("ecs");
    let port = free_port();
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{}\", useClientSubnet=true}}\n\
         setECSSourcePrefixV4(16)\n",
        backend.port
    );
    let s = serve(&dir, port, &conf);
    // The option for 127.0.0.0/16: code 8, length 6, family 1, /16, scope 0.
    let ecs = [0u8, 8, 0, 6, 0, 1, 16, 0, 127, 0];
    for (i, (tcp, edns)) in [(false, false), (false, true), (true, false), (true, true)]
        .into_iter()
        .enumerate()
    {
        let label = format!("ecs{i}");
        let mut q = QuerySpec::new(&format!("{label}.other.test"), Rtype::A);
        q.edns = edns.then_some((1232, 0, false));
        let wire = q.to_wire(9);
        let answer = if tcp {
            tcp_exchange(s.addr, &wire, Duration::from_secs(2))
        } else {
            udp_exchange(s.addr, &wire, Duration::from_secs(2))
        }
        .unwrap_or_else(|| panic!("no answer (tcp={tcp}, edns={edns})"));
        // The echo backend answers with the query it got: once the option
        // is taken out, the client sees exactly its own question and OPT.
        assert_eq!(answer[4..], wire[4..], "tcp={tcp}, edns={edns}");
        let seen = backend.seen.lock().unwrap().clone();
        let got = seen
            .iter()
            .find(|q| q.windows(label.len()).any(|w| w == label.as_bytes()))
            .expect("the backend saw the query");
        assert!(
            got.windows(ecs.len()).any(|w| w == ecs),
            "no 127.0.0.0/16 ECS option in {got:?} (tcp={tcp}, edns={edns})"
        );
    }
}

#[test]
fn lazy_health_checks_start_on_failures_and_stop_on_recovery() {
    use std::sync::atomic::Ordering;
    let dir = scratch_dir("lazy");
    let (port, cport) = (free_port(), free_port());
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{}\", name=\"lazy\", healthCheckMode=\"lazy\", \
           checkInterval=1, checkTimeout=300, lazyHealthCheckFailedInterval=1, \
           lazyHealthCheckSampleSize=10, lazyHealthCheckMinSampleCount=3, lazyHealthCheckThreshold=20}}\n\
         setUDPTimeout(1)\n\
         controlSocket(\"127.0.0.1:{cport}\")\nsetKey(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\")\n",
        backend.port
    );
    let s = serve(&dir, port, &conf);
    let checks = || {
        let seen = backend.seen.lock().unwrap();
        seen.iter()
            .filter(|q| q.windows(13).any(|w| w == b"\x0croot-servers"))
            .count()
    };
    let ask = |i: u16| {
        udp_exchange(
            s.addr,
            &QuerySpec::new(&format!("q{i}.other.test"), Rtype::A).to_wire(i),
            Duration::from_millis(300),
        )
    };
    let wait_log = |what: &str| {
        assert!(
            eventually(Duration::from_secs(10), || s.log_text().contains(what)),
            "no {what:?} in the log:\n{}",
            s.log_text()
        );
    };
    for i in 0..5 {
        assert!(ask(i).is_some());
    }
    // An absence can only be watched for a while: more than two check
    // intervals (a loaded machine only makes checks later, never more).
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(checks(), 0, "no checks while every query is answered");
    // The backend stops answering: its queries time out, checks start,
    // and it is marked down.
    backend.mute.store(true, Ordering::SeqCst);
    for i in 10..15 {
        assert!(ask(i).is_none());
    }
    // Unanswered because the backend gave nothing: the five time out
    // as its drops (checks may add more), and no rule dropped them.
    assert!(
        eventually(Duration::from_secs(10), || backend_counter(
            &dir, "lazy", "Drops"
        ) >= 5),
        "{}",
        console(&dir, "showServers()")
    );
    assert_stat(&dir, "rule-drop", 0);
    wait_log("too many failed queries, health checks start");
    wait_log("Marking downstream lazy (127.0.0.1:");
    wait_log("as 'down'");
    assert!(console(&dir, "showServers()").contains("down"));
    assert!(checks() > 0);
    // It answers again: the checks bring it up and then stop. One check
    // may be under way when it comes up and one more already scheduled;
    // after those, none.
    backend.mute.store(false, Ordering::SeqCst);
    wait_log("as 'up'");
    let at_up = checks();
    let mut last = at_up;
    let settled = eventually(Duration::from_secs(10), || {
        std::thread::sleep(Duration::from_millis(1400));
        let now = checks();
        std::mem::replace(&mut last, now) == now
    });
    assert!(
        settled,
        "checks went on after recovery: {at_up} then {last}"
    );
    assert!(
        last <= at_up + 2,
        "checks went on after recovery: {at_up} then {last}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(checks(), last, "checks went on after recovery");
    assert!(ask(99).is_some());
}

#[test]
fn a_tcp_only_backend_sends_udp_clients_to_tcp() {
    let dir = scratch_dir("tcp-only");
    let port = free_port();
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{}\", tcpOnly=true}}\n",
        backend.port
    );
    // The probe goes over UDP: a truncated answer is an answer.
    let s = serve(&dir, port, &conf);
    let q = QuerySpec::new("t.other.test", Rtype::A).to_wire(3);
    let udp = udp_exchange(s.addr, &q, Duration::from_secs(2)).expect("an answer over UDP");
    assert_ne!(udp[2] & 0x02, 0, "TC set: retry over TCP");
    let tcp = tcp_exchange(s.addr, &q, Duration::from_secs(2)).expect("an answer over TCP");
    assert_eq!(tcp[2] & 0x02, 0);
    assert_eq!(
        backend.accepted.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn forwarded_answers_leave_from_the_address_asked_on_a_wildcard_listener() {
    let dir = scratch_dir("wildcard-fwd");
    let port = free_port();
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"0.0.0.0:{port}\")\nnewServer{{address=\"127.0.0.1:{}\"}}\n",
        backend.port
    );
    let _s = serve(&dir, port, &conf);
    // 127.0.0.2 is this host too; a connected socket only takes an answer
    // whose source is the address it sent to.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.2", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send(&QuerySpec::new("w.other.test", Rtype::A).to_wire(77))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("the forwarded answer, from 127.0.0.2");
    assert_eq!(buf[..2], 77u16.to_be_bytes());
    assert!(n > 12);
}
