//! DNS over TLS and HTTPS end to end, with real clients: `kdig +tls`
//! and `openssl s_client` for DoT (TLS 1.1 refused, a renewed
//! certificate picked up by itself while an open connection goes on),
//! `curl` for DoH (HTTP/2 and HTTP/1.1, GET and POST, cleartext h2c,
//! dnsdist's status codes, cache-control), and the counters the API
//! shows for them.

use crate::common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use domain::base::iana::Rtype;

/// A self-signed ECDSA certificate for ns1.example.org and 127.0.0.1,
/// written to `dir/{name}.pem` and `dir/{name}.key`; its serial.
fn certificate(dir: &Path, name: &str) -> String {
    self_signed_certificate(dir, name);
    serial_of_file(&dir.join(format!("{name}.pem")))
}

fn serial_of_file(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pem)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The serial of the certificate a TLS server presents.
fn served_serial(addr: SocketAddr) -> String {
    let mut s = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let mut text = String::new();
    let _ = s.stdout.take().unwrap().read_to_string(&mut text);
    let _ = s.wait();
    let mut x = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    x.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = x.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Setup {
    server: Server,
    dir: std::path::PathBuf,
    dot: SocketAddr,
    doh: SocketAddr,
    h2c: SocketAddr,
    web: SocketAddr,
    serial: String,
}

fn setup(extra: &str) -> Setup {
    let dir = scratch_with_example_zone("encrypted");
    let serial = certificate(&dir, "cert");
    let port = free_port();
    let (dot, doh, h2c, web) = (free_port(), free_port(), free_port(), free_port());
    let conf = format!(
        r#"setLocal("127.0.0.1:{port}")
addZone("example.org", "zones/example.org.zone")
setTCPRecvTimeout(1)
addTLSLocal("127.0.0.1:{dot}", "cert.pem", "cert.key")
addDOHLocal("127.0.0.1:{doh}", "cert.pem", "cert.key", "/dns-query", {{customResponseHeaders={{["x-served-by"]="rampart"}}}})
addDOHLocal("127.0.0.1:{h2c}")
addAction("drop.example.org.", DropAction())
webserver("127.0.0.1:{web}")
setWebserverConfig({{apiKey="k"}})
{extra}
"#
    );
    let server = rampart_in(&dir, port, &conf, "example.org");
    let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
    Setup {
        server,
        dir,
        dot: at(dot),
        doh: at(doh),
        h2c: at(h2c),
        web: at(web),
        serial,
    }
}

fn kdig(args: &[&str]) -> (bool, String) {
    let out = Command::new("kdig").args(args).output().expect("kdig runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn tools() -> bool {
    let all = ["kdig", "openssl", "curl"].iter().all(|t| have(t));
    if !all {
        eprintln!("kdig, openssl or curl missing: encrypted DNS not tested");
    }
    all
}

/// A query for `name`, framed for a stream (two-byte length first).
fn framed_query(name: &str, id: u16) -> Vec<u8> {
    let q = QuerySpec::new(name, Rtype::A).to_wire(id);
    let mut f = (q.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(&q);
    f
}

/// Reads one framed answer from `r`.
fn read_framed(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).ok()?;
    let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut m).ok()?;
    Some(m)
}

#[test]
fn dns_over_tls_answers_refuses_old_tls_and_picks_up_a_renewed_certificate() {
    if !tools() {
        return;
    }
    let s = setup("");
    let dot = s.dot.to_string();
    let (ip, port) = dot.split_once(':').unwrap();
    let (ok, out) = kdig(&[
        "+tls",
        &format!("@{ip}"),
        "-p",
        port,
        "www.example.org",
        "A",
        "+short",
    ]);
    assert!(ok && out.contains("192.0.2.10"), "{out}");
    assert_eq!(served_serial(s.dot), s.serial);

    // TLS 1.1 is never offered.
    let old = Command::new("openssl")
        .args(["s_client", "-tls1_1", "-connect", &dot])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!old.success(), "a TLS 1.1 handshake succeeded");

    // A connection open before the renewal...
    let mut open = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &dot])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut to = open.stdin.take().unwrap();
    let mut from = open.stdout.take().unwrap();
    to.write_all(&framed_query("www.example.org", 1)).unwrap();
    let first = read_framed(&mut from).expect("an answer before the renewal");
    assert_eq!(&first[..2], &[0, 1]);

    // ...certbot renews: new files, no signal, no deploy hook.
    let renewed = certificate(&s.dir, "new");
    assert_ne!(renewed, s.serial);
    std::fs::rename(s.dir.join("new.key"), s.dir.join("cert.key")).unwrap();
    std::fs::rename(s.dir.join("new.pem"), s.dir.join("cert.pem")).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || served_serial(s.dot) == renewed),
        "the renewed certificate was not picked up:\n{}",
        s.server.log_text()
    );
    assert!(s.server.log_text().contains("TLS certificates loaded"));
    // The old connection still answers (setTCPRecvTimeout(1): ask soon).
    to.write_all(&framed_query("www.example.org", 2)).unwrap();
    let second = read_framed(&mut from).expect("the open connection survived the reload");
    assert_eq!(&second[..2], &[0, 2]);
    drop(to);
    let _ = open.kill();
    let _ = open.wait();
}

#[test]
fn a_bad_certificate_stops_the_start_naming_the_line_and_file() {
    let dir = scratch_with_example_zone("encrypted-bad");
    std::fs::write(dir.join("cert.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.join("cert.key"), "not a key\n").unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("rampart.conf"),
        format!("setLocal(\"127.0.0.1:{port}\")\n\naddTLSLocal(\"127.0.0.1:{}\", \"cert.pem\", \"cert.key\")\n", free_port()),
    )
    .unwrap();
    let out = Command::new(rampart_bin())
        .arg("-C")
        .arg(dir.join("rampart.conf"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("rampart.conf:3: "), "{text}");
    assert!(text.contains("cert.pem: no certificate in it"), "{text}");
}

/// `curl` with `args`; (HTTP status, headers and body as text).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sk", "-D", "-", "-o", "/dev/stderr", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl runs");
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head + &String::from_utf8_lossy(&out.stderr))
}

fn b64url(q: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for c in q.chunks(3) {
        let n = u32::from(c[0]) << 16
            | u32::from(*c.get(1).unwrap_or(&0)) << 8
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

#[test]
fn dns_over_https_as_dnsdist_answers_it() {
    if !tools() {
        return;
    }
    let s = setup(&console_config());
    let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(0);
    let url = |addr: SocketAddr, scheme: &str, rest: &str| format!("{scheme}://{addr}{rest}");
    let get = url(s.doh, "https", &format!("/dns-query?dns={}", b64url(&q)));

    let (status, text) = curl(&["--http2", &get]);
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(
        text.contains("content-type: application/dns-message"),
        "{text}"
    );
    // The lowest TTL of the answer (the example zone's 3600).
    assert!(text.contains("cache-control: max-age=3600"), "{text}");
    assert!(text.contains("x-served-by: rampart"), "{text}");
    let (status, text) = curl(&["--http1.1", &get]);
    assert_eq!(status, 200, "{text}");

    // POST of the wire query.
    let body = s.dir.join("q.bin");
    std::fs::write(&body, &q).unwrap();
    let post = url(s.doh, "https", "/dns-query");
    let (status, text) = curl(&[
        "--http2",
        "-H",
        "content-type: application/dns-message",
        "--data-binary",
        &format!("@{}", body.display()),
        &post,
    ]);
    assert_eq!(status, 200, "{text}");
    // dnsdist's refusals.
    let other = url(s.doh, "https", &format!("/other?dns={}", b64url(&q)));
    assert_eq!(curl(&[&other]).0, 404);
    assert_eq!(
        curl(&["-H", "content-type: text/plain", "--data", "x", &post]).0,
        415
    );
    assert_eq!(curl(&[&url(s.doh, "https", "/dns-query?dns=!!!")]).0, 400);
    assert_eq!(curl(&["-X", "PUT", &post]).0, 400);
    let dropped = QuerySpec::new("drop.example.org", Rtype::A).to_wire(0);
    let drop_url = url(
        s.doh,
        "https",
        &format!("/dns-query?dns={}", b64url(&dropped)),
    );
    assert_eq!(curl(&[&drop_url]).0, 403);

    // Cleartext, for a proxy in front: h2c and HTTP/1.1.
    let plain = url(s.h2c, "http", &format!("/dns-query?dns={}", b64url(&q)));
    let (status, text) = curl(&["--http2-prior-knowledge", &plain]);
    assert!(status == 200 && text.starts_with("HTTP/2 200"), "{text}");
    assert_eq!(curl(&[&plain]).0, 200);

    // kdig's DoH client agrees.
    let doh = s.doh.to_string();
    let (ip, port) = doh.split_once(':').unwrap();
    let (ok, out) = kdig(&[
        "+https",
        &format!("@{ip}"),
        "-p",
        port,
        "www.example.org",
        "+short",
    ]);
    assert!(ok && out.contains("192.0.2.10"), "{out}");

    // The API counts them per frontend, with the rule's drop.
    let v = api(s.web, "/api/v1/servers/localhost");
    let queries = |kind: &str, addr: SocketAddr| {
        v["frontends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == kind && f["address"] == addr.to_string())
            .and_then(|f| f["queries"].as_u64())
    };
    assert_eq!(queries("DoH", s.doh), Some(5), "{v}");
    assert_eq!(queries("DoH", s.h2c), Some(2), "{v}");
    assert!(v["rules"][0]["matches"].as_u64() >= Some(1));

    // The console shows the requests as dnsdist's does: by version,
    // method and kind of answer.
    let table = console(&s.dir, "showDOHFrontends()");
    let row = |n: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    let tls = row("0");
    assert_eq!(tls.get(1), Some(&s.doh.to_string()), "{table}");
    assert!(tls[2].parse::<u64>().unwrap() >= 9, "connections: {table}");
    // HTTP/1, HTTP/2, GET, POST, bad, errors (404, 415, two 400s, 403),
    // redirects, valid: the PUT is neither GET nor POST.
    assert_eq!(
        tls[3..],
        ["1", "8", "5", "3", "2", "5", "0", "4"],
        "{table}"
    );
    assert_eq!(row("1")[3..5], ["1", "1"], "{table}");
    let codes = console(&s.dir, "showDOHResponseCodes()");
    assert!(codes.contains("- HTTP/2:"), "{codes}");
    let binds = console(&s.dir, "showBinds()");
    // (Cut at 20 characters, as dnsdist's column is.)
    for kind in [
        "UDP",
        "TCP (DNS over TLS)",
        "TCP (DNS over HTTPS)",
        "TCP (DNS over plain ",
    ] {
        assert!(binds.contains(kind), "{binds}");
    }
    let provider = console(&s.dir, "getBind(2):getEffectiveTLSProvider()");
    assert_eq!(provider.trim(), "rustls", "{binds}");
    // And /metrics in dnsdist's families.
    let (_, metrics) = curl(&["-H", "X-API-Key: k", &format!("http://{}/metrics", s.web)]);
    let line = format!(
        "dnsdist_frontend_doh_http_version_queries{{version=\"1\",address=\"{}\"}} 1",
        s.doh
    );
    assert!(metrics.contains(&line), "{line}\n{metrics}");
}

#[test]
fn a_handshake_never_finished_is_dropped_and_counted() {
    if !tools() {
        return;
    }
    let s = setup("");
    let mut c = std::net::TcpStream::connect(s.dot).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    // Says nothing: closed after the receive timeout (1 s here).
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let v = api(s.web, "/api/v1/servers/localhost");
    let f = v["frontends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "DoT")
        .cloned()
        .unwrap();
    assert_eq!(f["tlsHandshakeFailures"], 1, "{f}");
    // Plain DNS over UDP still answers.
    assert!(exchange(s.server.addr, &QuerySpec::new("www.example.org", Rtype::A)).is_some());
}

#[test]
fn doh_response_map_and_a_trusted_forwarded_for() {
    if !tools() {
        return;
    }
    let (proxied, mapped) = (free_port(), free_port());
    let s = setup(&format!(
        r#"setACL({{"127.0.0.1/32", "192.0.2.0/24"}})
addDOHLocal("127.0.0.1:{proxied}", nil, nil, "/dns-query", {{trustForwardedForHeader=true}})
addDOHLocal("127.0.0.1:{mapped}", nil, nil, {{"/dns-query", "/coffee", "/old"}})
getDOHFrontend(3):setResponsesMap({{newDOHResponseMapEntry("^/coffee$", 418, "C0FFEE", {{["FoO"]="bar"}}),
  newDOHResponseMapEntry("^/old$", 307, "https://example.org/dns-query")}})"#
    ));
    let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let (status, text) = curl(&[&format!("http://{}/coffee", at(mapped))]);
    assert_eq!(status, 418, "{text}");
    assert!(
        text.contains("foo: bar") && text.contains("C0FFEE"),
        "{text}"
    );
    let (status, text) = curl(&[&format!("http://{}/old", at(mapped))]);
    assert_eq!(status, 307, "{text}");
    assert!(
        text.contains("location: https://example.org/dns-query"),
        "{text}"
    );

    // Behind a proxy: the ACL sees the address the proxy forwarded.
    let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(0);
    let url = format!("http://{}/dns-query?dns={}", at(proxied), b64url(&q));
    let allowed = curl(&["-H", "X-Forwarded-For: 198.51.100.7, 192.0.2.1", &url]);
    assert_eq!(allowed.0, 200, "{}", allowed.1);
    let denied = curl(&["-H", "X-Forwarded-For: 192.0.2.1, 198.51.100.7", &url]);
    assert_eq!(denied.0, 403, "{}", denied.1);
    // The rings show the client the proxy saw.
    let v = api(s.web, "/jsonstat?command=rampart");
    assert!(
        v["top_clients"].to_string().contains("\"192.0.2.1\""),
        "{}",
        v["top_clients"]
    );
}

#[test]
fn rules_on_the_tls_name_and_the_http_request() {
    if !tools() {
        return;
    }
    let s = setup(
        r#"addAction(SNIRule("sni.example"), SpoofAction("192.0.2.99"))
addAction(HTTPHeaderRule("X-PowerDNS", "^[a]{5}$"), SpoofAction("192.0.2.5"))
addAction(HTTPPathRegexRule("^/dns-query$"), SetTagAction("doh", "yes"))
addAction(AndRule{TagRule("doh", "yes"), QNameRule("teapot.example.org.")}, HTTPStatusAction(418, "short and stout", "text/plain"))
addAction("moved.example.org.", HTTPStatusAction(307, "https://elsewhere.example/dns-query"))"#,
    );
    // DoT: the name the client asks for in its handshake.
    let dot = s.dot.to_string();
    let (ip, port) = dot.split_once(':').unwrap();
    let at = format!("@{ip}");
    let (_, spoofed) = kdig(&[
        "+tls",
        "+tls-sni=sni.example",
        &at,
        "-p",
        port,
        "www.example.org",
        "+short",
    ]);
    assert_eq!(spoofed.trim(), "192.0.2.99");
    let (_, real) = kdig(&[
        "+tls",
        "+tls-sni=other.example",
        &at,
        "-p",
        port,
        "www.example.org",
        "+short",
    ]);
    assert!(real.contains("192.0.2.10"), "{real}");
    // DoH: a header, the path, and HTTP answers instead of DNS.
    let q = |name: &str| {
        let w = QuerySpec::new(name, Rtype::A).to_wire(0);
        format!("https://{}/dns-query?dns={}", s.doh, b64url(&w))
    };
    let (status, text) = curl(&["-H", "X-PowerDNS: aaaaa", &q("www.example.org")]);
    assert_eq!(status, 200);
    assert!(
        text.contains("content-type: application/dns-message"),
        "{text}"
    );
    let plain = curl(&[&q("www.example.org")]).1;
    assert_ne!(
        text.split("\r\n\r\n").nth(1),
        plain.split("\r\n\r\n").nth(1),
        "the header rule did not apply"
    );
    let (status, text) = curl(&[&q("teapot.example.org")]);
    assert_eq!(status, 418, "{text}");
    assert!(
        text.contains("content-type: text/plain") && text.ends_with("short and stout"),
        "{text}"
    );
    let (status, text) = curl(&[&q("moved.example.org")]);
    assert_eq!(status, 307, "{text}");
    assert!(
        text.contains("location: https://elsewhere.example/dns-query"),
        "{text}"
    );
    // Over UDP the HTTP action does nothing: the zone answers.
    assert!(exchange(
        s.server.addr,
        &QuerySpec::new("moved.example.org", Rtype::A)
    )
    .is_some());
}

/// "New" or "Reused": a TLS 1.3 handshake with `addr`, resuming the
/// session in `session` if it exists, saving the new one there.
fn handshake(addr: SocketAddr, session: &Path) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-tls1_3",
        "-connect",
        &addr.to_string(),
        "-sess_out",
    ])
    .arg(session);
    if session.exists() {
        cmd.arg("-sess_in").arg(session);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Keep stdin open a moment: the session ticket comes after the
    // handshake.
    std::thread::sleep(Duration::from_millis(400));
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // A failed handshake prints "New, (NONE), Cipher is (NONE)".
    text.lines()
        .filter(|l| !l.contains("(NONE)"))
        .find_map(|l| {
            l.split(',')
                .next()
                .filter(|w| *w == "New" || *w == "Reused")
        })
        .unwrap_or("none")
        .to_string()
}

#[test]
fn servers_sharing_a_ticket_key_file_resume_each_others_sessions() {
    if !tools() {
        return;
    }
    let dir = scratch_with_example_zone("stek");
    certificate(&dir, "cert");
    let keys: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(dir.join("stek.bin"), &keys).unwrap();
    std::fs::write(
        dir.join("other.bin"),
        keys.iter().map(|b| b ^ 0x5a).collect::<Vec<_>>(),
    )
    .unwrap();
    let start = |file: &str| {
        let (port, tls) = (free_port(), free_port());
        let conf = format!(
            r#"setLocal("127.0.0.1:{port}")
addZone("example.org", "zones/example.org.zone")
addTLSLocal("127.0.0.1:{tls}", "cert.pem", "cert.key", {{ticketKeyFile="{file}", numberOfTicketsKeys=5}})
controlSocket("127.0.0.1:{}")
setKey("MXNeLFWHUe4363BBKrY06cAsH8NWNb+Se2eXU5+Bb74=")
"#,
            free_port()
        );
        let server = rampart_in(&dir, port, &conf, "example.org");
        (server, SocketAddr::from(([127, 0, 0, 1], tls)))
    };
    let (_a, a) = start("stek.bin");
    let (_b, b) = start("stek.bin");
    let (_c, c) = start("other.bin");
    let session = dir.join("session");
    assert_eq!(handshake(a, &session), "New");
    assert_eq!(
        handshake(b, &session),
        "Reused",
        "the same key file on another server"
    );
    assert_eq!(handshake(c, &session), "New", "another key file");
    // rotateTicketsKey() from the console (the config written last is
    // server C's, so its console is the one asked): a new key in front,
    // and tickets made with it resume.
    let out = Command::new(rampart_bin())
        .arg("-C")
        .arg(dir.join("rampart.conf"))
        .args(["-c", "-e", "getTLSFrontend(0):rotateTicketsKey()"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = dir.join("session-c");
    assert_eq!(handshake(c, &fresh), "New");
    assert_eq!(
        handshake(c, &fresh),
        "Reused",
        "a rotated key resumes its own tickets"
    );
}

/// What the test's webserver (API key "k") answers at `path`, as JSON
/// (`Null` if it does not answer).
fn api(web: SocketAddr, path: &str) -> serde_json::Value {
    Command::new("curl")
        .args(["-s", "-H", "X-API-Key: k", &format!("http://{web}{path}")])
        .output()
        .ok()
        .and_then(|out| serde_json::from_slice(&out.stdout).ok())
        .unwrap_or_default()
}

/// Counter `name` of `/jsonstat?command=stats` on the test's webserver.
fn jsonstat(web: SocketAddr, name: &str) -> Option<u64> {
    api(web, "/jsonstat?command=stats")[name].as_u64()
}

#[test]
fn a_client_over_its_tls_session_rates_is_banned_before_any_handshake() {
    if !tools() {
        return;
    }
    // One full handshake a second per client, any number resumed.
    let s = setup("setMaxTLSNewSessionRatePerClient(1)\nsetBanDurationForExceedingTCPTLSRate(60)");
    assert_eq!(jsonstat(s.web, "tls-session-rate-banned"), Some(0));
    // Fresh sessions, one after another (each takes about half a second,
    // so at least two of them fall in one second): the second in a
    // second bans the client, and from then on no handshake is made.
    let mut seen = Vec::new();
    for i in 0..6 {
        seen.push(handshake(s.dot, &s.dir.join(format!("fresh-{i}"))));
        if jsonstat(s.web, "tls-session-rate-banned") == Some(1) {
            break;
        }
    }
    assert_eq!(
        jsonstat(s.web, "tls-session-rate-banned"),
        Some(1),
        "{seen:?}"
    );
    assert_eq!(seen[0], "New", "{seen:?}");
    let refused = jsonstat(s.web, "tcp-refused").unwrap_or(0);
    assert_eq!(
        handshake(s.dot, &s.dir.join("after-ban")),
        "none",
        "a banned client got a handshake"
    );
    assert_eq!(jsonstat(s.web, "tcp-refused"), Some(refused + 1));
    assert_eq!(jsonstat(s.web, "tcp-banned"), Some(1));
    // The ban is on TCP and TLS only: UDP still answers.
    assert!(exchange(s.server.addr, &QuerySpec::new("www.example.org", Rtype::A)).is_some());

    // Resumed sessions have their own rate: full handshakes unlimited,
    // one resumption a second.
    let s =
        setup("setMaxTLSResumedSessionRatePerClient(1)\nsetBanDurationForExceedingTCPTLSRate(60)");
    let session = s.dir.join("session");
    assert_eq!(handshake(s.dot, &session), "New");
    assert_eq!(handshake(s.dot, &s.dir.join("other")), "New");
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(handshake(s.dot, &session));
        if jsonstat(s.web, "tls-session-rate-banned") == Some(1) {
            break;
        }
    }
    assert_eq!(
        jsonstat(s.web, "tls-session-rate-banned"),
        Some(1),
        "{seen:?}"
    );
    assert_eq!(seen[0], "Reused", "{seen:?}");
}

/// Whether `openssl s_client` with `args` finishes a handshake with
/// `addr` (it prints the cipher it agreed on).
fn agrees(addr: SocketAddr, args: &[&str]) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .any(|l| l.contains("Cipher is") && !l.contains("(NONE)"))
}

#[test]
fn cipher_lists_limit_the_suites_and_the_key_log_gets_each_session() {
    if !tools() {
        return;
    }
    // The certificate is ECDSA: of Mozilla's intermediate TLS 1.2 list
    // (its DHE suite is not in rustls) only the ECDSA ones can be used.
    let dir = scratch_with_example_zone("ciphers");
    certificate(&dir, "cert");
    let (port, tls) = (free_port(), free_port());
    let conf = format!(
        r#"setLocal("127.0.0.1:{port}")
addZone("example.org", "zones/example.org.zone")
addTLSLocal("127.0.0.1:{tls}", "cert.pem", "cert.key", {{ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384", ciphersTLS13="TLS_CHACHA20_POLY1305_SHA256", keyLogFile="keys.log"}})
"#
    );
    let _server = rampart_in(&dir, port, &conf, "example.org");
    let addr = SocketAddr::from(([127, 0, 0, 1], tls));
    let tls12 = |c: &str| agrees(addr, &["-tls1_2", "-cipher", c]);
    let tls13 = |c: &str| agrees(addr, &["-tls1_3", "-ciphersuites", c]);
    assert!(tls12("ECDHE-ECDSA-AES256-GCM-SHA384"));
    assert!(!tls12("ECDHE-ECDSA-AES128-GCM-SHA256"), "a suite left out");
    assert!(tls13("TLS_CHACHA20_POLY1305_SHA256"));
    assert!(!tls13("TLS_AES_128_GCM_SHA256"), "a TLS 1.3 suite left out");
    // Two sessions made, one of each version: their secrets are logged.
    let keys = std::fs::read_to_string(dir.join("keys.log")).expect("the key log");
    assert_eq!(
        keys.lines()
            .filter(|l| l.starts_with("CLIENT_RANDOM "))
            .count(),
        1,
        "{keys}"
    );
    assert!(
        keys.lines()
            .any(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 ")),
        "{keys}"
    );

    // A list rustls has nothing of stops the start, naming the line.
    let bad = format!(
        r#"setLocal("127.0.0.1:{}")
addTLSLocal("127.0.0.1:{}", "cert.pem", "cert.key", {{ciphers="DHE-RSA-AES256-SHA256"}})
"#,
        free_port(),
        free_port()
    );
    std::fs::write(dir.join("bad.conf"), bad).unwrap();
    let out = Command::new(rampart_bin())
        .current_dir(&dir)
        .args(["-C", "bad.conf"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.conf:2") && err.contains("ciphers 'DHE-RSA-AES256-SHA256': none"),
        "{err}"
    );
}

#[test]
fn lua_rules_see_the_transport_and_answer_a_doh_query_over_http() {
    if !tools() {
        return;
    }
    let s = setup(
        r#"function over_http(dq)
  local h = dq:getHTTPHeaders()
  if dq:getProtocol() == "DNS over HTTPS" and dq:getHTTPScheme() == "https"
     and dq:getHTTPPath() == "/dns-query" and dq:getHTTPQueryString() == ""
     and h["content-type"] == "application/dns-message" then
    dq:setHTTPResponse(200, "It works!", "text/plain")
    return DNSAction.HeaderModify
  end
  return DNSAction.None
end
addAction("http-lua.example.org.", LuaAction(over_http))
function by_transport(dq)
  local spoofs = { ["DNS over TLS"] = "192.0.2.53", ["Do53 TCP"] = "192.0.2.54", ["Do53 UDP"] = "192.0.2.55" }
  return DNSAction.Spoof, spoofs[dq:getProtocol()]
end
addAction("proto.example.org.", LuaAction(by_transport))"#,
    );
    // A POST over DoH: the HTTP answer the rule made.
    let q = QuerySpec::new("http-lua.example.org", Rtype::A).to_wire(0);
    let body = s.dir.join("q.bin");
    std::fs::write(&body, &q).unwrap();
    let post = format!("https://{}/dns-query", s.doh);
    let (status, text) = curl(&[
        "--http2",
        "-H",
        "content-type: application/dns-message",
        "--data-binary",
        &format!("@{}", body.display()),
        &post,
    ]);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("content-type: text/plain"), "{text}");
    assert!(text.ends_with("It works!"), "{text}");
    // A GET has a query string: the rule lets it through to the zone.
    let get = format!("https://{}/dns-query?dns={}", s.doh, b64url(&q));
    let (status, text) = curl(&["--http2", &get]);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("application/dns-message"), "{text}");
    // Over UDP the rule sees no HTTP request.
    let udp = exchange(
        s.server.addr,
        &QuerySpec::new("http-lua.example.org", Rtype::A),
    )
    .expect("an answer over UDP");
    assert_eq!(udp[3] & 0xf, 3, "NXDOMAIN from the zone");

    // Each transport by its dnsdist name.
    let (ok, out) = kdig(&[
        "+tls",
        "+short",
        &format!("@{}", s.dot.ip()),
        "-p",
        &s.dot.port().to_string(),
        "proto.example.org",
    ]);
    assert!(ok && out.trim() == "192.0.2.53", "{out}");
    let port = s.server.addr.port().to_string();
    let (ok, out) = kdig(&[
        "+tcp",
        "+short",
        "@127.0.0.1",
        "-p",
        &port,
        "proto.example.org",
    ]);
    assert!(ok && out.trim() == "192.0.2.54", "{out}");
    let (ok, out) = kdig(&["+short", "@127.0.0.1", "-p", &port, "proto.example.org"]);
    assert!(ok && out.trim() == "192.0.2.55", "{out}");
}

#[test]
fn doh_and_udp_share_the_packet_cache() {
    if !tools() {
        return;
    }
    // A backend (another rampart, serving the example zone), and a front
    // with a packet cache and a DoH listener.
    let back_dir = scratch_with_example_zone("doh-cache-backend");
    let back_port = free_port();
    let _backend = rampart_in(
        &back_dir,
        back_port,
        &format!(
            "setLocal(\"127.0.0.1:{back_port}\")\naddZone(\"example.org\", \"zones/example.org.zone\")\n"
        ),
        "example.org",
    );
    let dir = scratch_dir("doh-cache");
    certificate(&dir, "cert");
    let (port, doh, web) = (free_port(), free_port(), free_port());
    let conf = format!(
        r#"setLocal("127.0.0.1:{port}")
newServer{{address="127.0.0.1:{back_port}"}}
pc = newPacketCache(100, {{maxTTL=86400, minTTL=1}})
getPool(""):setCache(pc)
addDOHLocal("127.0.0.1:{doh}", "cert.pem", "cert.key")
webserver("127.0.0.1:{web}")
setWebserverConfig({{apiKey="k"}})
"#
    );
    let s = rampart_in(&dir, port, &conf, "example.org");
    let web = SocketAddr::from(([127, 0, 0, 1], web));
    let post = |q: &[u8]| {
        let body = dir.join("q.bin");
        std::fs::write(&body, q).unwrap();
        curl(&[
            "--http2",
            "-H",
            "content-type: application/dns-message",
            "--data-binary",
            &format!("@{}", body.display()),
            &format!("https://127.0.0.1:{doh}/dns-query"),
        ])
    };
    let with_4096 = |name: &str| {
        let mut q = QuerySpec::new(name, Rtype::A);
        q.edns = Some((4096, 0, false));
        q
    };
    let hits = || jsonstat(web, "cache-hits").unwrap_or(u64::MAX);
    // rampart_in's probe may have filled the cache: count from here.
    let before = hits();
    // A UDP answer (EDNS, 4096) answers the same query over DoH.
    assert!(exchange(s.addr, &with_4096("www.example.org")).is_some());
    assert_eq!(hits(), before);
    let (status, text) = post(&with_4096("www.example.org").to_wire(0));
    assert_eq!(status, 200, "{text}");
    assert_eq!(hits(), before + 1, "the DoH query was not the cache's");
    // A DoH query without EDNS goes on with it (4096), and its answer
    // serves that UDP query.
    let mut plain = QuerySpec::new("mail.example.org", Rtype::A);
    plain.edns = None;
    let (status, text) = post(&plain.to_wire(0));
    assert_eq!(status, 200, "{text}");
    assert_eq!(hits(), before + 1);
    assert!(exchange(s.addr, &with_4096("mail.example.org")).is_some());
    assert_eq!(hits(), before + 2, "the UDP query was not the cache's");
}

/// Runs `openssl` with `args` in `dir`; panics with its output if it fails.
fn openssl_in(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a certificate it signed for ns1.example.org (`srv.pem`,
/// `srv.key`), and an OCSP response for it written by `openssl ocsp` as
/// a responder would (`resp.der`), saying `good` or, with `revoked`,
/// revoked.
fn ca_signed_certificate_with_ocsp(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=test ca"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl_in(dir, &ca);
    let mut csr = vec!["req", "-new", "-subj", "/CN=ns1.example.org"];
    csr.extend(ec);
    csr.extend(["-keyout", "srv.key", "-out", "srv.csr"]);
    openssl_in(dir, &csr);
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl_in(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "0x5eed",
            "-extfile",
            "ext",
            "-out",
            "srv.pem",
        ],
    );
    openssl_in(
        dir,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "srv.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
}

/// Answers `req.der` from an index that says the certificate is `status`
/// (`V` valid or `R` revoked), into `resp.der`.
fn ocsp_response(dir: &Path, status: char) {
    let revoked = if status == 'R' { "261201000000Z" } else { "" };
    std::fs::write(
        dir.join("index.txt"),
        format!("{status}\t301231000000Z\t{revoked}\t5EED\tunknown\t/CN=ns1.example.org\n"),
    )
    .unwrap();
    // Written aside and renamed in, as a cron job should.
    openssl_in(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            "ca.pem",
            "-rkey",
            "ca.key",
            "-CA",
            "ca.pem",
            "-reqin",
            "req.der",
            "-ndays",
            "1",
            "-respout",
            "resp.new",
        ],
    );
    std::fs::rename(dir.join("resp.new"), dir.join("resp.der")).unwrap();
}

/// What `openssl s_client -status` prints of the stapled response.
fn stapled(addr: SocketAddr, dir: &Path) -> String {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(["s_client", "-status", "-CAfile", "ca.pem", "-connect"])
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_ocsp_response_is_stapled_and_a_fresh_one_picked_up_by_itself() {
    if !tools() {
        return;
    }
    let dir = scratch_with_example_zone("ocsp");
    ca_signed_certificate_with_ocsp(&dir);
    ocsp_response(&dir, 'V');
    let (port, dot, doh) = (free_port(), free_port(), free_port());
    let conf = format!(
        r#"setLocal("127.0.0.1:{port}")
addZone("example.org", "zones/example.org.zone")
addTLSLocal("127.0.0.1:{dot}", "srv.pem", "srv.key", {{ocspResponses={{"resp.der"}}}})
addDOHLocal("127.0.0.1:{doh}", "srv.pem", "srv.key", "/dns-query", {{ocspResponses={{"resp.der"}}}})
"#
    );
    let server = rampart_in(&dir, port, &conf, "example.org");
    for addr in [dot, doh].map(|p| SocketAddr::from(([127, 0, 0, 1], p))) {
        let text = stapled(addr, &dir);
        assert!(
            text.contains("OCSP Response Status: successful (0x0)"),
            "{text}"
        );
        assert!(text.contains("Cert Status: good"), "{text}");
        assert!(text.contains("Serial Number: 5EED"), "{text}");
    }

    // The responder now says revoked: the new file is stapled to new
    // handshakes without a reload.
    let dot = SocketAddr::from(([127, 0, 0, 1], dot));
    ocsp_response(&dir, 'R');
    assert!(
        eventually(Duration::from_secs(5), || stapled(dot, &dir)
            .contains("Cert Status: revoked")),
        "the new OCSP response was not picked up:\n{}",
        server.log_text()
    );

    // A file that is no OCSP response keeps the one in force, and says why.
    std::fs::write(dir.join("resp.der"), b"not DER").unwrap();
    assert!(
        eventually(Duration::from_secs(5), || server
            .log_text()
            .contains("not a DER OCSP response")),
        "{}",
        server.log_text()
    );
    assert!(stapled(dot, &dir).contains("Cert Status: revoked"));
}

#[test]
fn a_doh_stream_the_client_resets_is_given_up_not_left_to_time_out() {
    let Some(python) = dnspython() else {
        return;
    };
    if !tools() {
        return;
    }
    // A backend that takes queries and never answers (kept up: no
    // health checks to mark it down or to mix with the queries).
    let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    hole.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let s = setup(&format!(
        "newServer{{address=\"{}\", healthCheckMode=\"up\"}}\nsetUDPTimeout(1)",
        hole.local_addr().unwrap()
    ));
    let asked = |what: &str| {
        let mut buf = [0u8; 512];
        let n = hole.recv(&mut buf).expect(what);
        assert!(
            buf[..n].windows(10).any(|w| w == b"\x09elsewhere"),
            "{what}: {:?}",
            &buf[..n]
        );
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/doh_reset.py");
    // The stream is reset half a second in; the connection stays open
    // for twice the backend's timeout after that.
    let out = Command::new(python)
        .arg(&script)
        .arg(s.doh.ip().to_string())
        .arg(s.doh.port().to_string())
        .arg("www.elsewhere.test")
        .arg("2.5")
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("reset"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The query did reach the backend...
    asked("the reset query reaches the backend");
    // ...and was given up with its stream: the backend's timeout (1 s)
    // passed long ago, and nobody was left waiting to count it.
    assert_eq!(jsonstat(s.web, "downstream-timeouts"), Some(0));
    // The same query, not reset, does time out there: the count is real.
    let q = QuerySpec::new("www.elsewhere.test", Rtype::A).to_wire(0);
    curl(&[
        "--http2",
        &format!("https://{}/dns-query?dns={}", s.doh, b64url(&q)),
    ]);
    asked("the query not reset reaches the backend");
    assert_eq!(jsonstat(s.web, "downstream-timeouts"), Some(1));
}

/// Debian's python3 with dnspython and httpx (with h2), if installed.
fn dnspython() -> Option<&'static str> {
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import dns.query, httpx, h2"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if python.is_none() {
        eprintln!("python3-dnspython, -httpx or -h2 missing: dnspython's clients not tested");
    }
    python
}

#[test]
fn dnspython_asks_over_pipelined_dot_and_http2_doh() {
    let Some(python) = dnspython() else {
        return;
    };
    if !tools() {
        return;
    }
    let s = setup(&console_config());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/dnspython_encrypted.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(s.dir.join("cert.pem"))
        .arg(s.dot.to_string())
        .arg(format!("https://{}/dns-query", s.doh))
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("all ok"),
        "{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.server.log_text()
    );
    assert_eq!(text.matches("DoT pipelined").count(), 3, "{text}");
    // Both DoH requests came over HTTP/2, one POST and one GET.
    let table = console(&s.dir, "showDOHFrontends()");
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("0 "))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(row.get(3..7), Some(&["0", "2", "1", "1"][..]), "{table}");
}

/// A DNS over QUIC client (quinn) that trusts `ca` and offers ALPN doq.
fn doq_endpoint(ca: &Path) -> quinn::Endpoint {
    doq_endpoint_from(ca, [127, 0, 0, 1])
}

/// The same, its socket on loopback address `from`.
fn doq_endpoint_from(ca: &Path, from: [u8; 4]) -> quinn::Endpoint {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)] // ring's provider, as the server's (net::tls)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"doq".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls)).unwrap();
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from((from, 0))).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    endpoint
}

/// One query on its own stream (RFC 9250: two-byte length, then the
/// message; the client ends its side): the answer, or how the stream or
/// connection ended.
async fn doq_ask(conn: &quinn::Connection, query: &[u8]) -> Result<Vec<u8>, String> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    send.write_all(&framed).await.map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    let data = recv.read_to_end(65537).await.map_err(|e| e.to_string())?;
    let len = u16::from_be_bytes([data[0], data[1]]) as usize;
    if data.len() != len + 2 {
        return Err(format!("{} bytes framed as {len}", data.len()));
    }
    Ok(data[2..].to_vec())
}

#[test]
fn dns_over_quic_answers_each_stream_and_closes_on_a_nonzero_id() {
    if !tools() {
        return;
    }
    let doq = free_port();
    let s = setup(&format!(
        r#"{}
addDOQLocal("127.0.0.1:{doq}", "cert.pem", "cert.key", {{maxInFlight=16}})
addAction("proto.example.org.", LuaAction(function(dq)
  if dq:getProtocol() == "DNS over QUIC" then return DNSAction.Spoof, "192.0.2.77" end
  return DNSAction.None
end))"#,
        console_config()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ca = s.dir.join("cert.pem");
    let addr = SocketAddr::from(([127, 0, 0, 1], doq));
    rt.block_on(async {
        let endpoint = doq_endpoint(&ca);
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            endpoint.connect(addr, "ns1.example.org").unwrap(),
        )
        .await
        .expect("the handshake finishes")
        .expect("the handshake succeeds");
        // Three queries at once, each on its stream; every answer has
        // ID 0, as the query.
        let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(0);
        let q2 = q.clone();
        let p = QuerySpec::new("proto.example.org", Rtype::A).to_wire(0);
        let ask = |query: Vec<u8>| {
            let conn = conn.clone();
            tokio::spawn(async move { doq_ask(&conn, &query).await })
        };
        let asked = [
            (ask(q.clone()), "192.0.2.10"),
            (ask(q), "192.0.2.10"),
            (ask(p), "192.0.2.77"),
        ];
        for (task, want) in asked {
            let answer = task.await.unwrap().expect("an answer");
            assert_eq!(&answer[..2], &[0, 0]);
            let n = normalize(&answer).unwrap();
            assert!(n.answer.iter().any(|r| r.contains(want)), "{n}");
        }
        // A query trickled and never finished: the stream is reset after
        // the receive timeout (setTCPRecvTimeout(1)); the connection
        // goes on.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[0]).await.unwrap();
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(5), recv.read_to_end(100))
            .await
            .expect("the stream ends")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reset by peer: error 3"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(doq_ask(&conn, &q2).await.is_ok(), "the connection goes on");
        // A dropped query: the stream is reset (DOQ_REQUEST_CANCELLED).
        let dropped = QuerySpec::new("drop.example.org", Rtype::A).to_wire(0);
        let err = doq_ask(&conn, &dropped).await.unwrap_err();
        assert!(err.contains("reset by peer: error 3"), "{err}");
        // An ID other than 0 is a protocol error: the connection closes
        // with DOQ_PROTOCOL_ERROR (2).
        let bad = QuerySpec::new("www.example.org", Rtype::A).to_wire(0x1234);
        let _ = doq_ask(&conn, &bad).await;
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed())
            .await
            .expect("the connection is closed");
        match closed {
            quinn::ConnectionError::ApplicationClosed(c) => {
                assert_eq!(c.error_code, quinn::VarInt::from_u32(2), "{c:?}")
            }
            other => panic!("closed by {other:?}"),
        }
        endpoint.close(quinn::VarInt::from_u32(0), b"");
    });
    // The console shows the listener with dnsdist's name, and its queries.
    let binds = console(&s.dir, "showBinds()");
    let line = binds
        .lines()
        .find(|l| l.contains("UDP (DNS over QUIC)"))
        .unwrap_or_else(|| panic!("{binds}"));
    assert!(line.contains(&addr.to_string()), "{binds}");
    // Five queries (the trickled one and the one with a bad ID were
    // refused before counting).
    assert!(line.trim_end().ends_with(" 5"), "{binds}");
}

/// A DoQ handshake with `addr` by a client trusting `ca`.
async fn doq_connect(ca: &Path, addr: SocketAddr) -> Result<quinn::Connection, String> {
    let endpoint = doq_endpoint(ca);
    let connecting = endpoint
        .connect(addr, "ns1.example.org")
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no handshake within 5 s".into()),
    }
}

#[test]
fn dns_over_quic_limits_each_client_and_follows_a_renewed_certificate() {
    if !tools() {
        return;
    }
    let doq = free_port();
    let s = setup(&format!(
        "setACL({{\"127.0.0.1/32\"}})\nsetMaxTCPConnectionsPerClient(1)\naddDOQLocal(\"127.0.0.1:{doq}\", \"cert.pem\", \"cert.key\")"
    ));
    let addr = SocketAddr::from(([127, 0, 0, 1], doq));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ca = s.dir.join("cert.pem");
    rt.block_on(async {
        let first = doq_connect(&ca, addr).await.expect("the first connection");
        // A second connection from the same address is refused before
        // any TLS work, and counted.
        let second = doq_connect(&ca, addr).await;
        assert!(second.is_err(), "a second connection was accepted");
        assert_eq!(jsonstat(s.web, "tcp-refused"), Some(1));
        // Once the first is closed, the client may connect again.
        first.close(quinn::VarInt::from_u32(0), b"");
        let mut again = Err(String::new());
        for _ in 0..30 {
            again = doq_connect(&ca, addr).await;
            if again.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let again = again.expect("a connection after the first closed");
        let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(0);
        assert!(doq_ask(&again, &q).await.is_ok());
        again.close(quinn::VarInt::from_u32(0), b"");

        // A client outside the ACL gets nothing back, not even a
        // refusal; the drop is counted.
        let outside = doq_endpoint_from(&ca, [127, 0, 0, 2]);
        let connecting = outside.connect(addr, "ns1.example.org").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), connecting).await;
        assert!(
            got.is_err(),
            "an answer to a client outside the ACL: {got:?}"
        );
        assert!(jsonstat(s.web, "acl-drops") >= Some(1));
    });

    // certbot renews: a client that trusts only the new certificate
    // gets through once the listener has picked it up (no reload asked).
    let renewed = certificate(&s.dir, "new");
    assert_ne!(renewed, s.serial);
    std::fs::rename(s.dir.join("new.key"), s.dir.join("cert.key")).unwrap();
    std::fs::rename(s.dir.join("new.pem"), s.dir.join("cert.pem")).unwrap();
    let picked_up = eventually(Duration::from_secs(8), || {
        rt.block_on(async {
            match doq_connect(&ca, addr).await {
                Ok(c) => {
                    c.close(quinn::VarInt::from_u32(0), b"");
                    true
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    false
                }
            }
        })
    });
    assert!(
        picked_up,
        "the renewed certificate:\n{}",
        s.server.log_text()
    );
    // A TLS 1.3 suite list without QUIC's AES-128-GCM stops the start,
    // naming the line.
    let bad = format!(
        "setLocal(\"127.0.0.1:{}\")\naddDOQLocal(\"127.0.0.1:{}\", \"cert.pem\", \"cert.key\", {{ciphersTLS13=\"TLS_AES_256_GCM_SHA384\"}})\n",
        free_port(),
        free_port()
    );
    std::fs::write(s.dir.join("bad.conf"), bad).unwrap();
    let out = Command::new(rampart_bin())
        .current_dir(&s.dir)
        .args(["-C", "bad.conf"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.conf:2: DNS over QUIC needs TLS 1.3's AES-128-GCM"),
        "{err}"
    );
}
