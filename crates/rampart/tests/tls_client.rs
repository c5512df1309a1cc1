//! rampart as a TLS client: forwarding to DoT and DoH backends
//! (`newServer{tls=…}`; another rampart with `addTLSLocal` and
//! `addDOHLocal` is the backend), with certificates checked against a CA
//! file, a wrong subject name refused, and no checking when asked; and
//! zone transfers over TLS (XoT, RFC 9103) both ways with BIND 9.18.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use domain::base::iana::Rtype;

/// A self-signed ECDSA server certificate for ns1.example.org and
/// 127.0.0.1 (its own trust anchor in the CA file), written to `dir/{name}.pem` and `dir/{name}.key`.
fn certificate(dir: &Path, name: &str) {
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
        r#"newServer{{address="127.0.0.1:{doh}", name="doh", tls="openssl", subjectName="ns1.example.org", caStore="{ca}", dohPath="/dns-query", pool="doh"}}
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
    // Health checks (over TLS too) settle first.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(answered(ports[0]), "DoT, checked:\n{}", front.log_text());
    assert!(answered(ports[2]), "DoT, unchecked:\n{}", front.log_text());
    assert!(
        answered(ports[4]),
        "DoT, checked by address:\n{}",
        front.log_text()
    );
    assert!(answered(ports[5]), "DoH, checked:\n{}", front.log_text());
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

    // A UDP client is sent to TCP (TC): its retry goes over TLS.
    let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(7);
    let a = udp_exchange(front.addr, &q, Duration::from_secs(2)).expect("a UDP answer");
    assert!(a[2] & 0x02 != 0, "TC set for a TLS backend");

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
}
