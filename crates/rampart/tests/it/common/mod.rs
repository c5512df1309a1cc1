//! Shared helpers for the integration tests: free loopback ports, server
//! processes that die with the test, a small DNS client and a normalized
//! view of a response that two servers' answers can be compared by.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::{Message, Name};
use domain::rdata::AllRecordData;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The rampart binary under test.
pub fn rampart_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rampart"))
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rampart-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A fresh scratch directory with the bundled example zone in
/// `zones/example.org.zone`.
pub fn scratch_with_example_zone(tag: &str) -> PathBuf {
    let dir = scratch_dir(tag);
    std::fs::create_dir_all(dir.join("zones")).expect("zones dir");
    std::fs::copy(
        repo_root().join("examples/zones/example.org.zone"),
        dir.join("zones/example.org.zone"),
    )
    .expect("copy the example zone");
    dir
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 20000) as u16;
    loop {
        let port = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed) * 7 % 20000);
        if port < 1024 {
            continue;
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if UdpSocket::bind(addr).is_ok() && std::net::TcpListener::bind(addr).is_ok() {
            return port;
        }
    }
}

/// Polls `check` every 100 ms until it holds or `limit` passes (then
/// tries once more); whether it held. Every deadline loop in these tests
/// is this one: the limits are generous, since a loaded CI machine is
/// slow, and a check that holds returns at once.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// The console key the tests' configs use with [`console_config`].
pub const CONSOLE_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Config lines for a console on a fresh loopback port, which
/// [`console`] and [`stat`] reach through the same config file.
pub fn console_config() -> String {
    format!(
        "controlSocket(\"127.0.0.1:{}\")\nsetKey(\"{CONSOLE_KEY}\")\n",
        free_port()
    )
}

/// Runs `line` on the console of the server configured by
/// `dir/rampart.conf` (with rampart's own client); what it printed.
pub fn console(dir: &Path, line: &str) -> String {
    let out = Command::new(rampart_bin())
        .arg("-C")
        .arg(dir.join("rampart.conf"))
        .args(["-e", line])
        .output()
        .expect("run the console client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The counters of dumpStats() (two name-value columns), by name; empty
/// if the console did not answer.
pub fn stats(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    let text = console(dir, "dumpStats()");
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .chunks(2)
        .filter_map(|w| Some((w.first()?.to_string(), w.get(1)?.parse().ok()?)))
        .collect()
}

/// Waits (up to 5 s: a counter is bumped before the packet is dropped,
/// but the server may not have read it yet) until counter `name` of the
/// server configured in `dir` reads `want`, and asserts that it does.
/// This says *why* a query went unanswered, which a timeout cannot.
pub fn assert_stat(dir: &Path, name: &str, want: u64) {
    let mut last = None;
    let ok = eventually(Duration::from_secs(5), || {
        last = stats(dir).get(name).copied();
        last == Some(want)
    });
    assert!(
        ok,
        "counter {name} is {last:?}, not {want}:\n{}",
        console(dir, "dumpStats()")
    );
}

/// Column `column` (as showServers() heads it: "Queries", "Drops", …)
/// of backend `server` (its name or address) in showServers() of the
/// server configured in `dir`. Drops counts queries a backend gave no
/// usable answer to in time.
pub fn backend_counter(dir: &Path, server: &str, column: &str) -> u64 {
    let table = console(dir, "showServers()");
    let mut lines = table.lines();
    let at = lines
        .next()
        .and_then(|head| head.split_whitespace().position(|w| w == column))
        .unwrap_or_else(|| panic!("no column {column} in:\n{table}"));
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.get(1) == Some(&server) || w.get(2) == Some(&server))
        .and_then(|w| w.get(at)?.parse().ok())
        .unwrap_or_else(|| panic!("no {column} of {server} in:\n{table}"))
}

/// A child process killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    pub name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `cmd` (stdout and stderr to `log`) and waits until it answers
    /// `probe` (a name) over UDP.
    pub fn start(
        name: &str,
        mut cmd: Command,
        addr: SocketAddr,
        log: PathBuf,
        probe: &str,
    ) -> Server {
        let f = std::fs::File::create(&log).expect("log file");
        let f2 = f.try_clone().expect("log file");
        cmd.stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut s = Server {
            child,
            addr,
            log,
            name: name.to_string(),
        };
        s.wait_ready(probe);
        s
    }

    fn wait_ready(&mut self, probe: &str) {
        let q = QuerySpec::new(probe, Rtype::SOA).to_wire(1);
        let ready = eventually(Duration::from_secs(20), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited early ({status}):\n{}",
                    self.name,
                    self.log_text()
                );
            }
            udp_exchange(self.addr, &q, Duration::from_millis(200)).is_some()
        });
        assert!(
            ready,
            "{} did not answer within 20 s:\n{}",
            self.name,
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{sig} failed");
    }
}

/// Starts rampart with `conf` written to `dir/rampart.conf`, once it
/// answers `probe` on 127.0.0.1:`port` (each start logs to a file of its
/// own in `dir`, so a restart keeps the earlier log).
pub fn rampart_in(dir: &Path, port: u16, conf: &str, probe: &str) -> Server {
    static STARTS: AtomicUsize = AtomicUsize::new(0);
    std::fs::write(dir.join("rampart.conf"), conf).expect("write config");
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C").arg(dir.join("rampart.conf"));
    let n = STARTS.fetch_add(1, Ordering::Relaxed);
    Server::start(
        "rampart",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join(format!("rampart-{n}.log")),
        probe,
    )
}

/// Starts Knot on `dir/knot.conf` (which listens on 127.0.0.1:`port`),
/// logging to `dir/log`, once it answers `probe`.
pub fn knot_on(dir: &Path, port: u16, probe: &str) -> Server {
    let mut cmd = Command::new("knotd");
    cmd.arg("-c").arg(dir.join("knot.conf"));
    Server::start(
        "knotd",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("log"),
        probe,
    )
}

/// Starts rampart on `dir/rampart.conf` (which listens on 127.0.0.1:
/// `port`), logging to `dir/log`, once it answers `probe`.
pub fn rampart_on(dir: &Path, port: u16, probe: &str) -> Server {
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C").arg(dir.join("rampart.conf"));
    Server::start(
        "rampart",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir.join("log"),
        probe,
    )
}

/// Starts rampart on `config` text (written to a scratch file), listening
/// on a fresh port given to the config as `{ADDR}`.
pub fn start_rampart(config: &str, probe: &str) -> (Server, PathBuf) {
    let dir = scratch_dir("rampart");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let text = config.replace("{ADDR}", &addr.to_string());
    let conf = dir.join("rampart.conf");
    std::fs::write(&conf, text).expect("write config");
    let mut cmd = Command::new(rampart_bin());
    cmd.arg("-C").arg(&conf).arg("--workers").arg("2");
    let server = Server::start("rampart", cmd, addr, dir.join("rampart.log"), probe);
    (server, dir)
}

/// A query to send.
#[derive(Clone, Debug)]
pub struct QuerySpec {
    pub name: String,
    pub qtype: Rtype,
    pub qclass: u16,
    pub rd: bool,
    /// EDNS: None for no OPT; Some((payload, version, do)).
    pub edns: Option<(u16, u8, bool)>,
    pub tcp: bool,
}

impl QuerySpec {
    pub fn new(name: &str, qtype: Rtype) -> Self {
        QuerySpec {
            name: name.to_string(),
            qtype,
            qclass: 1,
            rd: false,
            edns: Some((1232, 0, false)),
            tcp: false,
        }
    }

    /// Parses `name TYPE [tcp] [do] [noedns] [bufsize=N] [ednsver=N] [rd] [class=N]`.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let name = words.next().ok_or("empty line")?;
        let t = words.next().ok_or("no type")?;
        let qtype = Rtype::from_str(t).map_err(|_| format!("bad type {t}"))?;
        let mut q = QuerySpec::new(name, qtype);
        for w in words {
            match w {
                "tcp" => q.tcp = true,
                "rd" => q.rd = true,
                "noedns" => q.edns = None,
                "do" => {
                    q.edns = Some((
                        q.edns.map_or(1232, |e| e.0),
                        q.edns.map_or(0, |e| e.1),
                        true,
                    ))
                }
                _ if w.starts_with("bufsize=") => {
                    let n: u16 = w[8..].parse().map_err(|_| format!("bad {w}"))?;
                    let e = q.edns.unwrap_or((1232, 0, false));
                    q.edns = Some((n, e.1, e.2));
                }
                _ if w.starts_with("ednsver=") => {
                    let n: u8 = w[8..].parse().map_err(|_| format!("bad {w}"))?;
                    let e = q.edns.unwrap_or((1232, 0, false));
                    q.edns = Some((e.0, n, e.2));
                }
                _ if w.starts_with("class=") => {
                    q.qclass = w[6..].parse().map_err(|_| format!("bad {w}"))?
                }
                _ => return Err(format!("unknown option {w}")),
            }
        }
        Ok(q)
    }

    /// The query in wire form with message ID `id`.
    pub fn to_wire(&self, id: u16) -> Vec<u8> {
        let mut p = Vec::with_capacity(64);
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&(if self.rd { 0x0100u16 } else { 0 }).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(self.edns.is_some())]);
        let name = if self.name.ends_with('.') {
            self.name.clone()
        } else {
            format!("{}.", self.name)
        };
        let wire = Name::<Vec<u8>>::from_str(&name)
            .unwrap_or_else(|e| panic!("bad test name {name}: {e}"));
        p.extend_from_slice(wire.as_slice());
        p.extend_from_slice(&self.qtype.to_int().to_be_bytes());
        p.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some((size, version, dnssec_ok)) = self.edns {
            p.extend_from_slice(&[0, 0, 41]);
            p.extend_from_slice(&size.to_be_bytes());
            p.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        p
    }
}

/// Sends `query` over UDP; the response, or None on timeout.
pub fn udp_exchange(addr: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(timeout)).ok()?;
    sock.send_to(query, addr).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Sends `query` over a new TCP connection; the response, or None.
pub fn tcp_exchange(addr: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    tcp_send(&mut s, query)?;
    tcp_recv(&mut s)
}

pub fn tcp_send(s: &mut TcpStream, query: &[u8]) -> Option<()> {
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).ok()
}

pub fn tcp_recv(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Sends `q` by its transport; UDP is tried three times, as a resolver
/// would, so one datagram lost on a busy machine fails nothing.
pub fn exchange(addr: SocketAddr, q: &QuerySpec) -> Option<Vec<u8>> {
    let wire = q.to_wire(0x4242);
    if q.tcp {
        tcp_exchange(addr, &wire, Duration::from_secs(3))
    } else {
        (0..3).find_map(|_| udp_exchange(addr, &wire, Duration::from_secs(2)))
    }
}

/// A response reduced to what must agree between servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub rcode: String,
    /// Header flags: aa, tc, rd, ra, ad, cd.
    pub flags: String,
    pub edns: Option<String>,
    pub question: String,
    pub answer: Vec<String>,
    pub authority: Vec<String>,
    pub additional: Vec<String>,
}

impl std::fmt::Display for Normalized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "    rcode {} flags [{}] edns {:?} q {}",
            self.rcode, self.flags, self.edns, self.question
        )?;
        for (name, sec) in [
            ("AN", &self.answer),
            ("NS", &self.authority),
            ("AR", &self.additional),
        ] {
            for r in sec {
                writeln!(f, "    {name} {r}")?;
            }
        }
        Ok(())
    }
}

/// Parses and normalizes a response: sections sorted (order inside a
/// section carries no meaning), names lowercased.
pub fn normalize(resp: &[u8]) -> Result<Normalized, String> {
    let msg = Message::from_octets(Bytes::copy_from_slice(resp))
        .map_err(|e| format!("unparsable response: {e}"))?;
    let h = msg.header();
    let mut flags = Vec::new();
    for (on, name) in [
        (h.aa(), "aa"),
        (h.tc(), "tc"),
        (h.rd(), "rd"),
        (h.ra(), "ra"),
        (h.ad(), "ad"),
        (h.cd(), "cd"),
    ] {
        if on {
            flags.push(name);
        }
    }
    let opt = msg.opt();
    let rcode = msg.opt_rcode().to_string();
    let edns = opt.map(|o| format!("v{} do={}", o.version(), o.dnssec_ok()));
    let question = msg
        .first_question()
        .map(|q| format!("{} {} {}", q.qname(), q.qclass(), q.qtype()))
        .unwrap_or_default();
    let mut sections = Vec::new();
    let answer = msg.answer().map_err(|e| e.to_string())?;
    let authority = answer
        .next_section()
        .map_err(|e| e.to_string())?
        .ok_or("no authority section")?;
    let additional = authority
        .next_section()
        .map_err(|e| e.to_string())?
        .ok_or("no additional section")?;
    for section in [answer, authority, additional] {
        let mut out = Vec::new();
        for rr in section {
            let rr = rr.map_err(|e| e.to_string())?;
            if rr.rtype() == Rtype::OPT {
                continue;
            }
            let text = match rr.to_record::<AllRecordData<Bytes, ParsedName<Bytes>>>() {
                Ok(Some(r)) => format!(
                    "{}. {} {} {} {}",
                    r.owner(),
                    r.ttl().as_secs(),
                    r.class(),
                    r.rtype(),
                    r.data()
                ),
                Ok(None) => format!("{} {} ?", rr.owner(), rr.rtype()),
                Err(e) => format!("{} {} unparsable: {e}", rr.owner(), rr.rtype()),
            };
            out.push(text.to_ascii_lowercase());
        }
        out.sort();
        sections.push(out);
    }
    let additional = sections.pop().unwrap_or_default();
    let authority = sections.pop().unwrap_or_default();
    let answer = sections.pop().unwrap_or_default();
    Ok(Normalized {
        rcode,
        flags: flags.join(" "),
        edns,
        question,
        answer,
        authority,
        additional,
    })
}

/// Whether a program is installed.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A backend on UDP and TCP that echoes every query back as an empty
/// NOERROR answer, keeps TCP connections open for more queries, and
/// counts the TCP connections it accepted and keeps every query seen.
/// While `mute` is set it answers nothing over UDP.
pub struct EchoBackend {
    pub port: u16,
    pub mute: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

pub fn echo_backend() -> EchoBackend {
    // The same port for UDP and TCP: a port free for TCP may be taken
    // for UDP (by another test), so try a few.
    let (tcp, udp) = (0..50)
        .find_map(|_| {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            let port = tcp.local_addr().ok()?.port();
            let udp = UdpSocket::bind(("127.0.0.1", port)).ok()?;
            Some((tcp, udp))
        })
        .expect("a port free for both UDP and TCP");
    let port = udp.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let last = seen.clone();
    let mute = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let muted = mute.clone();
    // The test process ends these threads; each loop only blocks on I/O.
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            last.lock().unwrap().push(buf[..n].to_vec());
            if !muted.load(Ordering::SeqCst) {
                buf[2] |= 0x84; // QR, AA
                let _ = udp.send_to(&buf[..n], from);
            }
        }
    });
    let (count, last) = (accepted.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in tcp.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let last = last.clone();
            std::thread::spawn(move || loop {
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).is_err() {
                    return;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if conn.read_exact(&mut q).is_err() || q.len() < 12 {
                    return;
                }
                last.lock().unwrap().push(q.clone());
                q[2] |= 0x84;
                let _ = conn.write_all(&len);
                let _ = conn.write_all(&q);
            });
        }
    });
    EchoBackend {
        port,
        mute,
        accepted,
        seen,
    }
}

/// A self-signed ECDSA server certificate for ns1.example.org and
/// 127.0.0.1 (its own trust anchor in the CA file), written to `dir/{name}.pem` and `dir/{name}.key`.
pub fn self_signed_certificate(dir: &Path, name: &str) {
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", "/CN=ns1.example.org"])
        .args(["-addext", "subjectAltName=DNS:ns1.example.org,IP:127.0.0.1"])
        // A server certificate, not a CA's (openssl's default for a
        // self-signed one), which webpki refuses to see as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.pem")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl could not make a certificate");
}

/// delv's first verdict line ("; fully validated", "; negative response,
/// fully validated", …) for `query` (name and type) sent to 127.0.0.1:
/// `port`, with `anchor` (a trust-anchors file in `dir`) as the root of
/// trust for example.test; and the whole output, for messages. delv 9.18
/// exits 0 even when validation fails: its words are what tell.
#[allow(dead_code)]
pub fn delv(dir: &Path, port: u16, anchor: &str, query: &str) -> (String, String) {
    let port = port.to_string();
    let mut args = vec![
        "@127.0.0.1",
        "-p",
        &port,
        "-a",
        anchor,
        "+root=example.test",
    ];
    args.extend(query.split_whitespace());
    let out = Command::new("delv")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run delv (apt-get install bind9-dnsutils)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = text
        .lines()
        .find(|l| l.starts_with("; ") && !l.starts_with(";; "))
        .unwrap_or("")
        .to_string();
    (verdict, text)
}

/// Writes `dir/anchor.conf`: the DNSKEY of the BIND key file `key_file`
/// as delv's trust anchor for example.test.
#[allow(dead_code)]
pub fn write_anchor(dir: &Path, key_file: &Path) {
    let text = std::fs::read_to_string(key_file).expect("key file");
    let dnskey = text
        .lines()
        .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
        .expect("DNSKEY line");
    let rdata: Vec<&str> = dnskey
        .split_whitespace()
        .skip_while(|w| *w != "DNSKEY")
        .skip(1)
        .collect();
    let (flags, proto, alg) = (rdata[0], rdata[1], rdata[2]);
    let b64: String = rdata[3..].concat();
    std::fs::write(
        dir.join("anchor.conf"),
        format!("trust-anchors {{ example.test. static-key {flags} {proto} {alg} \"{b64}\"; }};\n"),
    )
    .expect("anchor file");
}

/// Queries of the signed example.test zones the DNSSEC tests serve that
/// delv must call "; fully validated": data, a CNAME, a wildcard answer.
#[allow(dead_code)]
pub const VALIDATED: &[&str] = &[
    "example.test SOA",
    "example.test DNSKEY",
    "www.example.test A",
    "www.example.test AAAA",
    "example.test MX",
    "alias.example.test A",
    "x.wild.example.test TXT",
];

/// …and "; negative response, fully validated": NXDOMAIN, NODATA, an
/// empty non-terminal, wildcard NODATA, an unsigned delegation's DS.
#[allow(dead_code)]
pub const DENIED: &[&str] = &[
    "nope.example.test A",
    "www.example.test TXT",
    "b.c.example.test A",
    "x.wild.example.test A",
    "sub.example.test DS",
];

/// The zone the signing tests sign (rampart's signer, and a secondary
/// that signs what it transfers): apex records, a delegation, a wildcard,
/// an empty non-terminal and a CNAME, for every kind of DNSSEC proof.
pub const SIGNING_ZONE: &str = "\
$TTL 3600
@       SOA  ns1 hostmaster 2026120601 7200 3600 1209600 300
@       NS   ns1
@       A    192.0.2.1
@       MX   10 mail
ns1     A    192.0.2.53
www     A    192.0.2.80
www     AAAA 2001:db8::80
mail    A    192.0.2.25
*.wild  TXT  \"wildcard\"
a.b.c   TXT  \"below an empty non-terminal\"
alias   CNAME www
sub     NS   ns.sub
ns.sub  A    192.0.2.99
";
