//! rampart as a TLS client: forwarding to DoT and DoH backends
//! (`newServer{tls=…}`; another rampart with `addTLSLocal` and
//! `addDOHLocal` is the backend), with certificates checked against a CA
//! file, a wrong subject name refused, and no checking when asked; and
//! zone transfers over TLS (XoT, RFC 9103) both ways with BIND 9.18.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use domain::base::iana::Rtype;

/// A self-signed certificate for ns1.example.org and 127.0.0.1.
fn certificate(dir: &Path, name: &str) {
    self_signed_certificate(dir, name);
}

fn api(web: SocketAddr) -> serde_json::Value {
    let out = Command::new("curl")
        .args([
            "-s",
            "-H",
            "X-API-Key: k",
            &format!("http://{web}/api/v1/servers/localhost"),
        ])
        .output()
        .expect("curl runs");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The A query for `name` over TCP to `port`; the answer's rcode and
/// answer count, None without an answer.
fn ask_tcp(port: u16, name: &str) -> Option<(u8, u16)> {
    let q = QuerySpec::new(name, Rtype::A).to_wire(0x1234);
    let a = tcp_exchange(
        SocketAddr::from(([127, 0, 0, 1], port)),
        &q,
        Duration::from_secs(4),
    )?;
    (a.len() >= 12 && a[..2] == [0x12, 0x34])
        .then(|| (a[3] & 0xf, u16::from_be_bytes([a[6], a[7]])))
}

#[test]
fn dot_and_doh_backends_with_checked_and_unchecked_certificates() {
    if !(have("openssl") && have("curl")) {
        eprintln!("openssl or curl missing: TLS backends not tested");
        return;
    }
    // The backend: a rampart serving example.org over DoT and DoH.
    let bdir = scratch_with_example_zone("tls-backend");
    certificate(&bdir, "cert");
    // An answer larger than a UDP client without EDNS takes.
    let mut zone = std::fs::read_to_string(bdir.join("zones/example.org.zone")).unwrap();
    for i in 0..8 {
        zone += &format!("big IN TXT \"{i}{}\"\n", "x".repeat(120));
    }
    std::fs::write(bdir.join("zones/example.org.zone"), zone).unwrap();
    let (bport, dot, doh, bweb) = (free_port(), free_port(), free_port(), free_port());
    let _backend = rampart_in(
        &bdir,
        bport,
        &format!(
            r#"setLocal("127.0.0.1:{bport}")
addZone("example.org", "zones/example.org.zone")
addTLSLocal("127.0.0.1:{dot}", "cert.pem", "cert.key")
addDOHLocal("127.0.0.1:{doh}", "cert.pem", "cert.key", "/dns-query")
webserver("127.0.0.1:{bweb}")
-- Answers with the address the balancer says it was asked for, by how.
function forwarded(dq)
  local h = dq:getHTTPHeaders()
  local by = {{ ["dns-over-udp"] = "192.0.2.91", ["dns-over-tcp"] = "192.0.2.92" }}
  if h["x-forwarded-for"] == "127.0.0.1" and tonumber(h["x-forwarded-port"]) then
    return DNSAction.Spoof, by[h["x-forwarded-proto"]] or "192.0.2.90"
  end
  return DNSAction.None
end
addAction("xff.example.org.", LuaAction(forwarded))
setWebserverConfig({{apiKey="k"}})
"#
        ),
        "example.org",
    );
    let ca = bdir.join("cert.pem");
    let ca = ca.display();

    // The balancer: one listener per backend, chosen by the port asked.
    let fdir = scratch_dir("tls-front");
    let ports: Vec<u16> = (0..7).map(|_| free_port()).collect();
    let fweb = free_port();
    let mut conf = format!(
        "setLocal(\"127.0.0.1:{}\")\nwebserver(\"127.0.0.1:{fweb}\")\nsetWebserverConfig({{apiKey=\"k\"}})\n",
        ports[0]
    );
    let pools = [
        // Checked against the CA file, by name: the default pool too.
        format!(
            r#"tls="openssl", subjectName="ns1.example.org", caStore="{ca}", pool={{"", "good"}}"#
        ),
        // The certificate is not for this name.
        format!(
            r#"tls="openssl", subjectName="other.example.net", caStore="{ca}", pool="wrongname""#
        ),
        // Not checked at all: the system store does not know this CA.
        r#"tls="gnutls", validateCertificates=false, pool="unchecked""#.to_string(),
        // Checked, against the system store: refused.
        r#"tls="openssl", subjectName="ns1.example.org", pool="untrusted""#.to_string(),
        // No name: the address is checked (the certificate has it).
        format!(r#"tls="openssl", caStore="{ca}", healthCheckMode="up", pool="byaddress""#),
    ];
    for (i, p) in pools.iter().enumerate() {
        conf += &format!("newServer{{address=\"127.0.0.1:{dot}\", name=\"dot{i}\", {p}}}\n");
        if i > 0 {
            conf += &format!("addLocal(\"127.0.0.1:{}\")\n", ports[i]);
            let pool = p.rsplit('"').nth(1).unwrap();
            conf += &format!(
                "addAction(DSTPortRule({}), PoolAction(\"{pool}\"))\n",
                ports[i]
            );
        }
    }
    // DoH: checked, and with the wrong name.
    conf += &format!(
        r#"newServer{{address="127.0.0.1:{doh}", name="doh", tls="openssl", subjectName="ns1.example.org", caStore="{ca}", dohPath="/dns-query", addXForwardedHeaders=true, pool="doh"}}
newServer{{address="127.0.0.1:{doh}", name="dohwrong", tls="openssl", subjectName="other.example.net", caStore="{ca}", dohPath="/dns-query", pool="dohwrong"}}
addLocal("127.0.0.1:{p5}")
addAction(DSTPortRule({p5}), PoolAction("doh"))
addLocal("127.0.0.1:{p6}")
addAction(DSTPortRule({p6}), PoolAction("dohwrong"))
"#,
        p5 = ports[5],
        p6 = ports[6]
    );
    let front = rampart_in(&fdir, ports[0], &conf, "example.org");

    let answered =
        |port| ask_tcp(port, "www.example.org").is_some_and(|(rc, an)| rc == 0 && an > 0);
    // Health checks (over TLS too) settle first: the checked backend is
    // answered once its check has passed.
    assert!(
        eventually(Duration::from_secs(10), || answered(ports[0])),
        "DoT, checked:\n{}",
        front.log_text()
    );
    assert!(answered(ports[2]), "DoT, unchecked:\n{}", front.log_text());
    assert!(
        eventually(Duration::from_secs(10), || answered(ports[4])),
        "DoT, checked by address:\n{}",
        front.log_text()
    );
    assert!(
        eventually(Duration::from_secs(10), || answered(ports[5])),
        "DoH, checked:\n{}",
        front.log_text()
    );
    for (port, what) in [
        (ports[1], "DoT, wrong name"),
        (ports[3], "DoT, CA not trusted"),
        (ports[6], "DoH, wrong name"),
    ] {
        let got = ask_tcp(port, "www.example.org");
        assert!(
            got.is_none() || got.is_some_and(|(rc, _)| rc == 2),
            "{what}: {got:?}"
        );
    }
    let log = front.log_text();
    assert!(log.contains("not valid for name"), "{log}");
    assert!(log.contains("UnknownIssuer"), "{log}");

    // A UDP client's query goes over TLS too, answered over UDP, to DoT
    // and DoH backends alike.
    for port in [ports[0], ports[5]] {
        let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(7);
        let to = SocketAddr::from(([127, 0, 0, 1], port));
        let a = udp_exchange(to, &q, Duration::from_secs(3)).expect("a UDP answer");
        let n = normalize(&a).unwrap();
        assert_eq!(&a[..2], &[0, 7]);
        assert!(!n.flags.contains("tc"), "{n}");
        assert!(n.answer.iter().any(|r| r.contains("192.0.2.10")), "{n}");
    }
    // Too large for the client's 512 bytes: TC, the question only.
    let mut big = QuerySpec::new("big.example.org", Rtype::TXT);
    big.edns = None;
    let a = udp_exchange(front.addr, &big.to_wire(9), Duration::from_secs(3)).expect("an answer");
    let n = normalize(&a).unwrap();
    assert!(
        n.flags.contains("tc") && n.answer.is_empty() && a.len() <= 512,
        "{n}"
    );
    big.edns = Some((4096, 0, false));
    let a = udp_exchange(front.addr, &big.to_wire(10), Duration::from_secs(3)).expect("an answer");
    let n = normalize(&a).unwrap();
    assert!(!n.flags.contains("tc") && n.answer.len() == 8, "{n}");
    let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(8);
    let to = SocketAddr::from(([127, 0, 0, 1], ports[1]));
    assert!(
        udp_exchange(to, &q, Duration::from_secs(2)).is_none_or(|a| a[3] & 0xf == 2),
        "a refused certificate answered over UDP"
    );

    // The API shows the protocols and the failures.
    let v = api(SocketAddr::from(([127, 0, 0, 1], fweb)));
    let server = |name: &str| {
        v["servers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name).cloned())
            .unwrap_or_default()
    };
    assert_eq!(server("dot0")["protocol"], "DoT", "{v}");
    assert_eq!(server("doh")["protocol"], "DoH", "{v}");
    assert!(server("dot0")["responses"].as_u64() >= Some(1), "{v}");
    assert_eq!(server("dot1")["state"], "down", "{v}");
    assert_eq!(server("dohwrong")["state"], "down", "{v}");

    // Sessions are kept: ten more queries to the unchecked-health
    // backend (no health checks opening sessions) take one connection.
    let before = api(SocketAddr::from(([127, 0, 0, 1], bweb)));
    let conns = |v: &serde_json::Value| {
        v["frontends"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["type"] == "DoT").cloned())
            .and_then(|f| f["tcpConnections"].as_u64())
            .unwrap_or(0)
    };
    let started = conns(&before);
    assert!(started > 0, "{before}");
    for _ in 0..10 {
        assert!(answered(ports[4]));
    }
    let after = api(SocketAddr::from(([127, 0, 0, 1], bweb)));
    // Health checks of the other DoT backends may connect meanwhile
    // (once a second each): well under one per query.
    assert!(conns(&after) - started < 8, "{before}\n{after}");

    // The balancer counts the same: the queries took kept sessions.
    let v = api(SocketAddr::from(([127, 0, 0, 1], fweb)));
    let counter = |name: &str, key: &str| {
        v["servers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .and_then(|s| s[key].as_u64())
            .unwrap_or(u64::MAX)
    };
    let (new, reused) = (
        counter("dot4", "tcpNewConnections"),
        counter("dot4", "tcpReusedConnections"),
    );
    assert!((1..=2).contains(&new) && reused >= 9, "{v}");
    // A kept session the backend closed meanwhile counts as reused, and
    // the new one after it as new (as dnsdist counts them).
    assert!(new + reused >= counter("dot4", "queries"), "{v}");
    // One HTTP/2 connection carries every DoH query.
    assert_eq!(counter("doh", "tcpNewConnections"), 1, "{v}");
    assert!(counter("doh", "tcpReusedConnections") >= 1, "{v}");
    // Health checks are not connections for queries; their failures
    // are counted apart.
    assert!(counter("dot1", "healthCheckFailures") >= 1, "{v}");
    assert_eq!(counter("dot1", "tcpNewConnections"), 0, "{v}");
    assert_eq!(counter("dot0", "healthCheckFailures"), 0, "{v}");

    // The DoH backend is told who asked and how (addXForwardedHeaders).
    let q = QuerySpec::new("xff.example.org", Rtype::A).to_wire(11);
    let to = SocketAddr::from(([127, 0, 0, 1], ports[5]));
    let a = udp_exchange(to, &q, Duration::from_secs(3)).expect("a UDP answer");
    let n = normalize(&a).unwrap();
    assert!(n.answer.iter().any(|r| r.contains("192.0.2.91")), "{n}");
    let a = tcp_exchange(to, &q, Duration::from_secs(3)).expect("a TCP answer");
    let n = normalize(&a).unwrap();
    assert!(n.answer.iter().any(|r| r.contains("192.0.2.92")), "{n}");
}

/// The SOA serial `addr` serves for `zone` over UDP, if any.
fn serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    let q = QuerySpec::new(zone, Rtype::SOA).to_wire(0x5151);
    let a = udp_exchange(addr, &q, Duration::from_millis(500))?;
    let n = normalize(&a).ok()?;
    if n.rcode != "NOERROR" {
        return None;
    }
    n.answer
        .iter()
        .find(|r| r.contains(" soa "))?
        .split_whitespace()
        .rev()
        .nth(4)?
        .parse()
        .ok()
}

fn zone_text(serial: u32, extra: &str) -> String {
    format!(
        "$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.10\n{extra}"
    )
}

#[test]
fn zone_transfers_over_tls_with_bind_both_ways() {
    if !(have("named") && have("openssl")) {
        eprintln!("named or openssl missing: XoT with BIND not tested");
        return;
    }
    let dir = scratch_dir("xot");
    certificate(&dir, "cert");
    let (rp, rdot, bp, btls) = (free_port(), free_port(), free_port(), free_port());
    let d = dir.display();
    std::fs::write(dir.join("p.zone"), zone_text(100, "")).unwrap();
    std::fs::write(dir.join("q.zone"), zone_text(200, "")).unwrap();
    std::fs::write(dir.join("b.zone"), zone_text(7, "mail A 192.0.2.20\n")).unwrap();
    std::fs::write(dir.join("w.zone"), zone_text(9, "")).unwrap();
    // rampart: primary of p.test (BIND may transfer it) and q.test (BIND
    // may not), served over DoT too; secondary of BIND's b.test over
    // TLS checked against the certificate, and of w.test by a name the
    // certificate does not carry.
    let conf = format!(
        r#"setLocal("127.0.0.1:{rp}")
addTLSLocal("127.0.0.1:{rdot}", "cert.pem", "cert.key")
addZone("p.test", "p.zone")
addZone("q.test", "q.zone")
setZoneTransferACL("p.test", {{"127.0.0.0/8"}})
setZoneTransferACL("q.test", {{"192.0.2.0/24"}})
addSecondaryZone("b.test", {{primaries={{"127.0.0.1:{btls}"}}, tls={{caStore="cert.pem", subjectName="ns1.example.org"}}}})
addSecondaryZone("w.test", {{primaries={{"127.0.0.1:{btls}"}}, tls={{caStore="cert.pem", subjectName="other.example.net"}}}})
loadNamedConf("rampart-named.conf")
"#
    );
    // The same in BIND's words: n.test from BIND's TLS port, checked
    // against the CA file by remote-hostname.
    std::fs::write(dir.join("n.zone"), zone_text(11, "named A 192.0.2.11\n")).unwrap();
    std::fs::write(
        dir.join("rampart-named.conf"),
        format!(
            "tls bind-tls {{ ca-file \"cert.pem\"; remote-hostname \"ns1.example.org\"; }};\n\
             zone \"n.test\" {{ type secondary; file \"n.sec\";\n\
               primaries {{ 127.0.0.1 port {btls} tls bind-tls; }}; }};\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "tls local {{ cert-file \"{d}/cert.pem\"; key-file \"{d}/cert.key\"; }};\n\
             options {{ directory \"{d}\"; listen-on port {bp} {{ 127.0.0.1; }};\n\
             listen-on port {btls} tls local {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n\
             pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\";\n\
             recursion no; dnssec-validation no; notify no; }};\n\
             controls {{ }};\n\
             zone \"b.test\" {{ type primary; file \"b.zone\"; allow-transfer port {btls} transport tls {{ any; }}; }};\n\
             zone \"w.test\" {{ type primary; file \"w.zone\"; allow-transfer {{ any; }}; }};\n\
             zone \"n.test\" {{ type primary; file \"n.zone\"; allow-transfer port {btls} transport tls {{ any; }}; }};\n\
             zone \"p.test\" {{ type secondary; primaries {{ 127.0.0.1 port {rdot} tls ephemeral; }}; file \"p.sec\"; }};\n\
             zone \"q.test\" {{ type secondary; primaries {{ 127.0.0.1 port {rdot} tls ephemeral; }}; file \"q.sec\"; }};\n"
        ),
    )
    .unwrap();
    let rampart = rampart_in(&dir, rp, &conf, "p.test");
    let mut cmd = Command::new("named");
    cmd.arg("-g").arg("-c").arg(dir.join("named.conf"));
    let bind = Server::start(
        "named",
        cmd,
        SocketAddr::from(([127, 0, 0, 1], bp)),
        dir.join("named.log"),
        "b.test",
    );

    // BIND primary -> rampart secondary, over TLS (BIND allows the
    // transfer on its TLS port only).
    assert!(
        eventually(Duration::from_secs(15), || serial(rampart.addr, "b.test")
            == Some(7)),
        "rampart did not transfer b.test from BIND over TLS:\n{}\n{}",
        rampart.log_text(),
        bind.log_text()
    );
    let q = QuerySpec::new("mail.b.test", Rtype::A).to_wire(3);
    let a = udp_exchange(rampart.addr, &q, Duration::from_secs(2)).expect("an answer");
    let n = normalize(&a).unwrap();
    assert!(n.answer.iter().any(|r| r.contains("192.0.2.20")), "{n}");
    assert!(
        eventually(Duration::from_secs(10), || serial(rampart.addr, "n.test")
            == Some(11)),
        "rampart did not transfer n.test (named.conf tls) from BIND:\n{}",
        rampart.log_text()
    );
    // The certificate is not for the name asked: nothing transferred.
    assert_eq!(serial(rampart.addr, "w.test"), None);
    assert!(
        rampart.log_text().contains("not valid for name"),
        "{}",
        rampart.log_text()
    );

    // rampart primary -> BIND secondary over rampart's DoT listener
    // (the only port BIND is given), the zone's transfer ACL applying.
    assert!(
        eventually(Duration::from_secs(15), || serial(bind.addr, "p.test")
            == Some(100)),
        "BIND did not transfer p.test from rampart over TLS:\n{}\n{}",
        bind.log_text(),
        rampart.log_text()
    );
    assert_eq!(serial(bind.addr, "q.test"), None);
    let log = bind.log_text();
    assert!(
        log.contains(&format!("transfer of 'p.test/IN' from 127.0.0.1#{rdot}")),
        "{log}"
    );
    assert!(
        eventually(Duration::from_secs(5), || bind.log_text().contains(
            &format!("'q.test/IN' from 127.0.0.1#{rdot}: Transfer status: REFUSED")
        )),
        "{}",
        bind.log_text()
    );
}
