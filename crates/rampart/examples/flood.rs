//! The traffic of `bench/flood`: an attack and, beside it, a legitimate
//! client whose answers are what the benchmark reports. Loopback only:
//! every address used is in 127.0.0.0/8 (all local on Linux, so sockets
//! bind to any of them); every loop ends after `--seconds`.
//!
//! Scenarios:
//! - `reflection`: queries for a large answer "from" a victim (sockets
//!   bound to 127.77.7.1–254, which receive what the server sends);
//!   amplification = bytes the victim receives ÷ bytes the attacker sent.
//! - `subdomain`: never-seen names under the zone from 1,000 /24s
//!   (127.100–103.x.1).
//! - `tcp-idle`: connections opened and held idle from 200 addresses
//!   (127.60.x.y), reopened when the server closes them.
//! - `overload`: one sender as fast as it can go (`--attack-rate 0`).
//!
//! The legitimate client asks ordinary names from its own /24
//! (127.9.9.1) over UDP (retrying over TCP on TC=1, as a resolver does),
//! or over fresh TCP connections in `tcp-idle`. One line of `key=value`
//! results is printed at the end.
//!
//! Usage: flood SCENARIO --server ADDR:PORT --zone ZONE [--seconds S]
//!        [--attack-rate QPS] [--legit-rate QPS] [--qname NAME --qtype N]
//!        [--idle-conns N]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    scenario: String,
    server: SocketAddr,
    zone: String,
    seconds: f64,
    attack_rate: u64,
    legit_rate: u64,
    qname: String,
    qtype: u16,
    idle_conns: usize,
    legit_names: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or("no scenario")?;
    let mut a = Args {
        scenario,
        server: "127.0.0.1:53".parse().map_err(|e| format!("{e}"))?,
        zone: "bench.test".into(),
        seconds: 10.0,
        attack_rate: 5000,
        legit_rate: 100,
        qname: String::new(),
        qtype: 16,
        idle_conns: 2000,
        legit_names: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--server" => a.server = v.parse().map_err(|e| format!("--server: {e}"))?,
            "--zone" => a.zone = v,
            "--seconds" => a.seconds = v.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--attack-rate" => a.attack_rate = num(&v)?,
            "--legit-rate" => a.legit_rate = num(&v)?,
            "--qname" => a.qname = v,
            "--qtype" => a.qtype = num(&v)? as u16,
            "--idle-conns" => a.idle_conns = num(&v)? as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(0.5..=120.0).contains(&a.seconds) {
        return Err("--seconds must be between 0.5 and 120".into());
    }
    if !a.server.ip().is_loopback() {
        return Err("--server must be a loopback address".into());
    }
    a.legit_names = ["ns1", "mail", "h1", "h2", "h3", "h7", "h10"]
        .iter()
        .map(|n| format!("{n}.{}", a.zone))
        .collect();
    Ok(a)
}

/// A query in wire form: EDNS with a 1232-byte payload.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    q
}

fn bind_udp(ip: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddrV4::new(ip, 0))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Sends at `rate` a second (0: as fast as possible) until `end`, calling
/// `send(i)` for the i-th packet; returns how many were sent.
fn paced(rate: u64, end: Instant, mut send: impl FnMut(u64)) -> u64 {
    let start = Instant::now();
    let mut i = 0u64;
    while Instant::now() < end {
        if rate > 0 {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            if i >= due {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
        }
        send(i);
        i += 1;
    }
    i
}

/// What arrived on a set of sockets: datagrams, bytes, truncated ones.
#[derive(Default)]
struct Received {
    packets: AtomicU64,
    bytes: AtomicU64,
    truncated: AtomicU64,
}

/// Reads every datagram that reaches `socks` until `stop`.
fn drain(socks: Arc<Vec<UdpSocket>>, got: Arc<Received>, stop: Arc<AtomicBool>) {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut buf = [0u8; 65535];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
        if n <= 0 {
            continue;
        }
        for (i, p) in fds.iter_mut().enumerate() {
            if p.revents & libc::POLLIN == 0 {
                continue;
            }
            p.revents = 0;
            while let Ok(len) = socks[i].recv(&mut buf) {
                got.packets.fetch_add(1, Ordering::Relaxed);
                got.bytes.fetch_add(len as u64, Ordering::Relaxed);
                if len > 2 && buf[2] & 0x02 != 0 {
                    got.truncated.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The legitimate client's results.
#[derive(Default)]
struct Legit {
    sent: u64,
    /// Answered (over UDP, or over TCP after TC=1) within one second.
    answered: u64,
    latencies_us: Vec<u64>,
    tcp_retries: u64,
}

/// One query over a fresh TCP connection from `from`; its latency.
fn tcp_ask(server: SocketAddr, from: Ipv4Addr, q: &[u8], timeout: Duration) -> Option<Duration> {
    let started = Instant::now();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())
        .ok()?;
    sock.connect_timeout(&server.into(), timeout).ok()?;
    let mut s: TcpStream = sock.into();
    let left = timeout.checked_sub(started.elapsed())?;
    s.set_read_timeout(Some(left)).ok()?;
    s.set_write_timeout(Some(left)).ok()?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut resp = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut resp).ok()?;
    (resp.get(..2) == q.get(..2)).then(|| started.elapsed())
}

/// The legitimate client over UDP: `rate` queries a second from
/// 127.9.9.1; an answer with TC=1 is asked again over TCP, as a resolver
/// would, and counts if that answer comes within the same second.
fn legit_udp(a: &Args, end: Instant) -> Legit {
    let from = Ipv4Addr::new(127, 9, 9, 1);
    let sock = bind_udp(from).expect("bind the legitimate client");
    let mut out = Legit::default();
    let mut sent_at: Vec<Option<Instant>> = vec![None; 65536];
    let mut buf = [0u8; 65535];
    let limit = Duration::from_secs(1);
    let mut collect = |out: &mut Legit, sent_at: &mut Vec<Option<Instant>>| {
        while let Ok(len) = sock.recv(&mut buf) {
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            let Some(at) = sent_at[usize::from(id)].take() else {
                continue;
            };
            let mut took = at.elapsed();
            if buf[2] & 0x02 != 0 {
                out.tcp_retries += 1;
                let left = limit.saturating_sub(took);
                let q = query(id, &a.legit_names[usize::from(id) % a.legit_names.len()], 1);
                match tcp_ask(a.server, from, &q, left) {
                    Some(t) => took += t,
                    None => continue,
                }
            }
            if took <= limit {
                out.answered += 1;
                out.latencies_us.push(took.as_micros() as u64);
            }
        }
    };
    // Sends when due; between sends, waits on the socket, so an answer
    // is timed when it arrives, not when the next query goes out.
    let start = Instant::now();
    let rate = a.legit_rate.max(1) as f64;
    let mut i = 0u64;
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    while Instant::now() < end {
        if i < (start.elapsed().as_secs_f64() * rate) as u64 {
            let id = i as u16;
            let q = query(id, &a.legit_names[usize::from(id) % a.legit_names.len()], 1);
            sent_at[usize::from(id)] = Some(Instant::now());
            let _ = sock.send_to(&q, a.server);
            i += 1;
            continue;
        }
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1) };
        collect(&mut out, &mut sent_at);
    }
    out.sent = i;
    // The last second's answers.
    let tail = Instant::now() + limit;
    while Instant::now() < tail {
        // SAFETY: as above.
        unsafe { libc::poll(&mut pfd, 1, 5) };
        collect(&mut out, &mut sent_at);
    }
    out
}

/// The legitimate client over TCP: `rate` fresh connections a second,
/// one query each, from 127.9.9.1.
fn legit_tcp(a: &Args, end: Instant) -> Legit {
    let from = Ipv4Addr::new(127, 9, 9, 1);
    let mut out = Legit::default();
    let mut answered = 0;
    let mut latencies = Vec::new();
    out.sent = paced(a.legit_rate, end, |i| {
        let q = query(
            i as u16,
            &a.legit_names[i as usize % a.legit_names.len()],
            1,
        );
        if let Some(t) = tcp_ask(a.server, from, &q, Duration::from_secs(1)) {
            answered += 1;
            latencies.push(t.as_micros() as u64);
        }
    });
    out.answered = answered;
    out.latencies_us = latencies;
    out
}

/// Random-ish numbers for names (xorshift; no dependency for a bench).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The attack of `a.scenario` until `end`; its results as key=value.
fn attack(a: &Args, end: Instant) -> Result<Vec<(String, String)>, String> {
    let mut res = Vec::new();
    match a.scenario.as_str() {
        "reflection" | "subdomain" | "overload" => {
            let addrs: Vec<Ipv4Addr> = match a.scenario.as_str() {
                "reflection" => (1..=254).map(|i| Ipv4Addr::new(127, 77, 7, i)).collect(),
                "subdomain" => (0..1000u32)
                    .map(|i| Ipv4Addr::new(127, 100 + (i / 256) as u8, (i % 256) as u8, 1))
                    .collect(),
                _ => vec![Ipv4Addr::new(127, 66, 6, 1)],
            };
            let socks = Arc::new(
                addrs
                    .iter()
                    .map(|ip| bind_udp(*ip))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("bind attack sockets: {e}"))?,
            );
            let got = Arc::new(Received::default());
            let stop = Arc::new(AtomicBool::new(false));
            let drainer = {
                let (s, g, st) = (socks.clone(), got.clone(), stop.clone());
                std::thread::spawn(move || drain(s, g, st))
            };
            let mut bytes = 0u64;
            let mut rng = 0x9e37_79b9_7f4a_7c15u64;
            let big = query(0, &a.qname, a.qtype);
            let plain = query(0, &format!("h1.{}", a.zone), 1);
            if a.scenario == "overload" && a.attack_rate == 0 {
                // As fast as one core goes: batches through sendmmsg.
                let (sent, b) = blast(&socks[0], &plain, a.server, end);
                bytes = b;
                return finish(a, socks, got, stop, drainer, sent, bytes);
            }
            let sent = paced(a.attack_rate, end, |i| {
                let sock = &socks[i as usize % socks.len()];
                let n = match a.scenario.as_str() {
                    "reflection" => sock.send_to(&big, a.server),
                    "subdomain" => {
                        let name = format!("x{:x}.{}", next(&mut rng), a.zone);
                        sock.send_to(&query(i as u16, &name, 1), a.server)
                    }
                    _ => sock.send_to(&plain, a.server),
                };
                match n {
                    Ok(n) => bytes += n as u64,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => {}
                }
            });
            return finish(a, socks, got, stop, drainer, sent, bytes);
        }
        "tcp-idle" => {
            let addrs: Vec<Ipv4Addr> = (0..200u32)
                .map(|i| Ipv4Addr::new(127, 60, (i / 250) as u8, (i % 250 + 1) as u8))
                .collect();
            let mut conns: Vec<Option<TcpStream>> = (0..a.idle_conns).map(|_| None).collect();
            let (mut opened, mut closed_by_server) = (0u64, 0u64);
            let mut peak_open = 0usize;
            while Instant::now() < end {
                for (i, slot) in conns.iter_mut().enumerate() {
                    if Instant::now() >= end {
                        break;
                    }
                    if let Some(s) = slot {
                        let mut b = [0u8; 1];
                        match s.read(&mut b) {
                            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                            _ => {
                                closed_by_server += 1;
                                *slot = None;
                            }
                        }
                    }
                    let from = addrs[i % addrs.len()];
                    let sock =
                        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                            .map_err(|e| format!("socket: {e}"))?;
                    if sock
                        .bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())
                        .is_err()
                        || sock
                            .connect_timeout(&a.server.into(), Duration::from_millis(100))
                            .is_err()
                    {
                        continue;
                    }
                    let s: TcpStream = sock.into();
                    let _ = s.set_nonblocking(true);
                    *slot = Some(s);
                    opened += 1;
                }
                peak_open = peak_open.max(conns.iter().filter(|c| c.is_some()).count());
                std::thread::sleep(Duration::from_millis(100));
            }
            res.push(("idle_opened".into(), opened.to_string()));
            res.push(("idle_closed_by_server".into(), closed_by_server.to_string()));
            res.push(("idle_peak_open".into(), peak_open.to_string()));
        }
        other => return Err(format!("unknown scenario {other}")),
    }
    Ok(res)
}

/// Stops the drainer and reports the attack's figures.
fn finish(
    a: &Args,
    _socks: Arc<Vec<UdpSocket>>,
    got: Arc<Received>,
    stop: Arc<AtomicBool>,
    drainer: std::thread::JoinHandle<()>,
    sent: u64,
    bytes: u64,
) -> Result<Vec<(String, String)>, String> {
    // Answers still on their way.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let _ = drainer.join();
    let received = got.bytes.load(Ordering::Relaxed);
    let mut res = Vec::new();
    res.push(("attack_sent".into(), sent.to_string()));
    res.push(("attack_bytes".into(), bytes.to_string()));
    res.push((
        "attack_rate_achieved".into(),
        format!("{:.0}", sent as f64 / a.seconds),
    ));
    res.push((
        "attack_answers".into(),
        got.packets.load(Ordering::Relaxed).to_string(),
    ));
    res.push(("attack_answer_bytes".into(), received.to_string()));
    res.push((
        "attack_truncated".into(),
        got.truncated.load(Ordering::Relaxed).to_string(),
    ));
    res.push((
        "amplification".into(),
        format!("{:.3}", received as f64 / bytes.max(1) as f64),
    ));
    Ok(res)
}

/// Sends `packet` to `server` in sendmmsg batches until `end`; the
/// datagrams and bytes sent.
fn blast(sock: &UdpSocket, packet: &[u8], server: SocketAddr, end: Instant) -> (u64, u64) {
    const BATCH: usize = 64;
    let SocketAddr::V4(v4) = server else {
        return (0, 0);
    };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut iov = libc::iovec {
        iov_base: packet.as_ptr() as *mut libc::c_void,
        iov_len: packet.len(),
    };
    // SAFETY: a zeroed mmsghdr is a valid empty header; every pointer set
    // below points at locals that outlive the loop (the kernel only reads
    // them: the same datagram to the same address, BATCH times).
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for m in &mut msgs {
        m.msg_hdr.msg_name = (&addr as *const libc::sockaddr_in) as *mut libc::c_void;
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        m.msg_hdr.msg_iov = &mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut sent = 0u64;
    while Instant::now() < end {
        // SAFETY: `msgs` holds BATCH valid headers (see above).
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                0,
            )
        };
        if n > 0 {
            sent += n as u64;
        } else {
            std::thread::yield_now();
        }
    }
    (sent, sent * packet.len() as u64)
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flood: {e}");
            std::process::exit(2);
        }
    };
    raise_nofile();
    let end = Instant::now() + Duration::from_secs_f64(a.seconds);
    let legit = std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            if a.scenario == "tcp-idle" {
                // Let the idle connections pile up first.
                std::thread::sleep(Duration::from_secs_f64((a.seconds / 4.0).min(3.0)));
                legit_tcp(&a, end)
            } else {
                legit_udp(&a, end)
            }
        });
        let results = attack(&a, end);
        (client.join(), results)
    });
    let (client, results) = legit;
    let mut legit = match client {
        Ok(l) => l,
        Err(_) => {
            eprintln!("flood: the legitimate client failed");
            std::process::exit(1);
        }
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flood: {e}");
            std::process::exit(1);
        }
    };
    legit.latencies_us.sort_unstable();
    let mut line = format!(
        "legit_sent={} legit_answered={} legit_share={:.4} legit_p50_ms={:.2} legit_p99_ms={:.2} legit_tcp_retries={}",
        legit.sent,
        legit.answered,
        legit.answered as f64 / legit.sent.max(1) as f64,
        percentile(&legit.latencies_us, 0.5),
        percentile(&legit.latencies_us, 0.99),
        legit.tcp_retries,
    );
    for (k, v) in results {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
}
