//! The webserver end to end, with real clients: the API's authentication
//! and shapes, `/metrics` checked by `promtool` and scraped by a real
//! Prometheus, the ACL changed by a PUT, the connection limit and ACL
//! closing connections unanswered, a Lua handler, and the dashboard
//! rendered by headless Chromium.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use domain::base::iana::Rtype;

/// What dnsdist 1.7.3's `hashPassword('secret')` printed.
const SECRET_HASH: &str =
    "$scrypt$ln=10,p=1,r=8$0te+VzxOvbcp+2wIhodaQQ==$QJzU1K/xLM9m/y1/blZwVuk4nrn5KkEDCjGLf3t/Ots=";
/// `whatever:secret`, and `whatever:wrong`.
const BASIC_OK: &str = "Basic d2hhdGV2ZXI6c2VjcmV0";
const BASIC_WRONG: &str = "Basic d2hhdGV2ZXI6d3Jvbmc=";

/// An HTTP answer.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on a connection of its own; `None` if the server closed
/// it without answering.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

fn get(addr: SocketAddr, path: &str, auth: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, auth, "")
        .unwrap_or_else(|| panic!("GET {path}: connection closed without an answer"))
}

/// rampart serving the example zone and forwarding `fwd.test.` to an
/// echo backend, with `web_lua` after `webserver(…)`.
struct Setup {
    server: Server,
    web: SocketAddr,
    dir: PathBuf,
    _backend: EchoBackend,
}

fn setup(web_lua: &str) -> Setup {
    let dir = scratch_with_example_zone("web");
    let port = free_port();
    let web_port = free_port();
    let backend = echo_backend();
    let conf = format!(
        r#"setLocal("127.0.0.1:{port}")
addZone("example.org", "zones/example.org.zone")
newServer{{address="127.0.0.1:{bport}", pool={{"", "mypool"}}}}
addAction("fwd.test.", PoolAction(""))
addAction("drop.test.", DropAction())
webserver("127.0.0.1:{web_port}")
{web_lua}
"#,
        bport = backend.port
    );
    let server = rampart_in(&dir, port, &conf, "example.org");
    let web = SocketAddr::from(([127, 0, 0, 1], web_port));
    // The webserver starts with the listeners; give it a moment.
    eventually(Duration::from_secs(10), || TcpStream::connect(web).is_ok());
    Setup {
        server,
        web,
        dir,
        _backend: backend,
    }
}

fn query(s: &Setup, name: &str, qtype: Rtype) -> Option<Vec<u8>> {
    exchange(s.server.addr, &QuerySpec::new(name, qtype))
}

fn statistic(stats: &serde_json::Value, name: &str) -> u64 {
    stats
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_u64())
        .unwrap_or_else(|| panic!("no statistic {name}"))
}

#[test]
fn api_authenticates_by_endpoint_and_answers_in_dnsdists_shapes() {
    let s = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}", apiKey="apisecret"}})"#
    ));
    let basic = [("Authorization", BASIC_OK)];
    let key = [("X-API-Key", "apisecret")];
    // The authentication matrix.
    for (path, by_basic, by_key) in [
        ("/", true, false),
        ("/jsonstat?command=stats", true, true),
        ("/metrics", true, true),
        ("/api/v1/servers/localhost", true, true),
        ("/api/v1/servers/localhost/statistics", false, true),
        ("/api/v1/servers/localhost/config", false, true),
    ] {
        assert_eq!(
            get(s.web, path, &basic).status == 200,
            by_basic,
            "{path} with the password"
        );
        assert_eq!(
            get(s.web, path, &key).status == 200,
            by_key,
            "{path} with the key"
        );
        let denied = get(
            s.web,
            path,
            &[("Authorization", BASIC_WRONG), ("X-API-Key", "nope")],
        );
        assert_eq!(denied.status, 401, "{path} with wrong credentials");
        assert_eq!(
            denied.header("WWW-Authenticate"),
            Some("basic realm=\"PowerDNS\"")
        );
    }
    let page = get(s.web, "/", &basic);
    assert_eq!(page.header("X-Frame-Options"), Some("deny"));
    assert_eq!(page.header("Connection"), Some("close"));
    assert_eq!(get(s.web, "/api/v1/servers/idonotexist", &key).status, 404);
    // Read-only by default.
    let put = request(
        s.web,
        "PUT",
        "/api/v1/servers/localhost/config/allow-from",
        &key,
        r#"{"value":["192.0.2.0/24"]}"#,
    )
    .expect("an answer");
    assert_eq!(put.status, 405);

    // Traffic shows in the counters: 4 answered here, 3 forwarded, 2
    // dropped by a rule.
    for _ in 0..4 {
        assert!(query(&s, "www.example.org", Rtype::A).is_some());
    }
    for _ in 0..3 {
        assert!(query(&s, "fwd.test", Rtype::A).is_some());
    }
    for _ in 0..2 {
        let spec = QuerySpec::new("drop.test", Rtype::A);
        let q = spec.to_wire(7);
        assert!(udp_exchange(s.server.addr, &q, Duration::from_millis(300)).is_none());
    }
    let stats = get(s.web, "/api/v1/servers/localhost/statistics", &key).json();
    assert!(statistic(&stats, "queries") >= 9);
    assert_eq!(statistic(&stats, "rule-drop"), 2);
    assert_eq!(statistic(&stats, "responses"), 3);
    assert_eq!(statistic(&stats, "latency-count"), 3);
    let flat = get(s.web, "/jsonstat?command=stats", &key).json();
    assert_eq!(flat["rule-drop"], 2);
    assert!(flat["real-memory-usage"].as_u64().unwrap() > 1 << 20);

    let lh = get(s.web, "/api/v1/servers/localhost", &key).json();
    assert_eq!(lh["daemon_type"], "dnsdist");
    let server = &lh["servers"][0];
    assert_eq!(server["queries"], 3);
    assert_eq!(server["responses"], 3);
    assert_eq!(server["pools"], serde_json::json!(["", "mypool"]));
    assert_eq!(lh["rules"][1]["rule"], "qname in drop.test.");
    assert_eq!(lh["rules"][1]["matches"], 2);
    let udp = lh["frontends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "UDP")
        .unwrap();
    assert!(udp["queries"].as_u64().unwrap() >= 9, "{udp}");
    let zone = &lh["zones"][0];
    assert_eq!(
        (zone["name"].as_str(), zone["role"].as_str()),
        (Some("example.org."), Some("primary"))
    );
    assert!(zone["serial"].as_u64().unwrap() > 0);
    let pool = get(s.web, "/api/v1/servers/localhost/pool?name=mypool", &key).json();
    assert_eq!(pool["servers"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(s.web, "/api/v1/servers/localhost/pool?name=nopool", &key).status,
        404
    );
}

#[test]
fn a_put_of_the_acl_applies_at_once_and_is_written_for_the_next_start() {
    let acl_dir = scratch_dir("web-acl");
    let s = setup(&format!(
        r#"setACL({{"127.0.0.1/32"}})
setWebserverConfig({{apiKey="apisecret"}})
setAPIWritable(true, "{}")"#,
        acl_dir.display()
    ));
    let key = [("X-API-Key", "apisecret")];
    let refused = |s: &Setup| {
        let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(3);
        udp_exchange(s.server.addr, &q, Duration::from_millis(300)).is_none()
    };
    let put = |body: &str| {
        request(
            s.web,
            "PUT",
            "/api/v1/servers/localhost/config/allow-from",
            &key,
            body,
        )
        .expect("an answer")
    };
    assert!(!refused(&s));
    let r = put(r#"{"value":["192.0.2.0/24"]}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    // In force for the next query, with no restart, and counted.
    assert!(refused(&s), "the new ACL did not take effect");
    let stats = get(s.web, "/api/v1/servers/localhost/statistics", &key).json();
    assert_eq!(statistic(&stats, "acl-drops"), 1);
    let r = put(
        r#"{"name":"allow-from","type":"ConfigSetting","value":["127.0.0.0/8","198.51.100.0/24"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["value"],
        serde_json::json!(["127.0.0.0/8", "198.51.100.0/24"])
    );
    assert!(!refused(&s), "the second ACL did not take effect");
    let now = get(s.web, "/api/v1/servers/localhost/config/allow-from", &key).json();
    assert_eq!(
        now["value"],
        serde_json::json!(["127.0.0.0/8", "198.51.100.0/24"])
    );
    assert_eq!(
        std::fs::read_to_string(acl_dir.join("acl.conf")).unwrap(),
        "-- Generated by the REST API, DO NOT EDIT\nsetACL({\"127.0.0.0/8\", \"198.51.100.0/24\"})\n"
    );
    // A bad netmask changes nothing.
    assert_eq!(put(r#"{"value":["10.0.0.0/99"]}"#).status, 400);
    assert!(!refused(&s));
}

#[test]
fn over_the_connection_limit_or_outside_the_acl_connections_close_unanswered() {
    let s = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}", maxConcurrentConnections=2}})"#
    ));
    let basic = [("Authorization", BASIC_OK)];
    // A slot is given back when the server sees its connection end:
    // let it see setup()'s probe go.
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(s.web).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    if let Some(r) = request(s.web, "GET", "/", &basic, "") {
        panic!(
            "a third connection was answered: {} {:?}",
            r.status, r.headers
        );
    }
    drop(held);
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(10), || {
            status = request(s.web, "GET", "/", &basic, "").map(|r| r.status);
            status.is_some()
        }),
        "slots were not given back"
    );
    assert_eq!(status, Some(200));

    let denied = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}", acl="192.0.2.1"}})"#
    ));
    assert!(request(denied.web, "GET", "/", &basic, "").is_none());
}

#[test]
fn lua_handlers_and_custom_headers() {
    let s = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}", customHeaders={{["X-Frame-Options"]="", ["X-Custom"]="custom"}}}})
registerWebHandler("/foo", function(req, resp)
  if req.getvars["param"] ~= "42" or req.headers["customheader"] ~= "foobar" then
    resp.status = 503
    return
  end
  resp.body = "It works! " .. req.method
  resp.headers = {{["Foo"] = "Bar"}}
end)"#
    ));
    let r = get(
        s.web,
        "/foo?param=42",
        &[("Authorization", BASIC_OK), ("customheader", "foobar")],
    );
    assert_eq!((r.status, r.body.as_str()), (200, "It works! GET"));
    assert_eq!(r.header("Foo"), Some("Bar"));
    assert_eq!(r.header("X-Custom"), Some("custom"));
    assert_eq!(r.header("X-Frame-Options"), None);
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(
        get(
            s.web,
            "/foo?param=41",
            &[("Authorization", BASIC_OK), ("customheader", "foobar")]
        )
        .status,
        503
    );
    assert_eq!(get(s.web, "/foo?param=42", &[]).status, 401);
}

/// The sample lines of a Prometheus exposition, by series.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_scrapes_them() {
    let s = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}"}})"#
    ));
    for _ in 0..5 {
        assert!(query(&s, "www.example.org", Rtype::A).is_some());
    }
    let text = get(s.web, "/metrics", &[("Authorization", BASIC_OK)]);
    assert_eq!(
        text.header("Content-Type"),
        Some("text/plain; version=0.0.4")
    );
    let all = samples(&text.body);
    let mut series: Vec<&String> = all.iter().map(|(k, _)| k).collect();
    let n = series.len();
    series.sort();
    series.dedup();
    assert_eq!(series.len(), n, "a series appears twice");
    let value = |k: &str| all.iter().find(|(s, _)| s == k).map(|(_, v)| *v);
    assert!(value("dnsdist_queries").unwrap() >= 5.0);
    assert_eq!(
        value("rampart_zone_loaded{zone=\"example.org.\"}"),
        Some(1.0)
    );
    assert!(value("dnsdist_latency_bucket{le=\"+Inf\"}").is_some());
    assert!(all
        .iter()
        .any(|(k, v)| k.starts_with("dnsdist_frontend_queries{") && *v >= 5.0));

    // Every metric the shipped Grafana dashboard reads is served.
    for name in grafana_metrics() {
        assert!(
            all.iter()
                .any(|(k, _)| k == &name || k.starts_with(&format!("{name}{{"))),
            "the Grafana dashboard reads {name}, which /metrics lacks"
        );
    }
    if have("promtool") {
        let mut p = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin
            .take()
            .unwrap()
            .write_all(text.body.as_bytes())
            .unwrap();
        let out = p.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        // dnsdist's counters have no _total suffix, and promtool says so:
        // that warning only, and only for dnsdist's names.
        for line in said.lines() {
            assert!(
                line.starts_with("dnsdist_") && line.ends_with("should have \"_total\" suffix"),
                "promtool: {line}"
            );
        }
        assert!(matches!(out.status.code(), Some(0 | 3)), "{said}");
    } else {
        eprintln!("promtool not installed: format checked by this test only");
    }
    if have("prometheus") {
        scraped_by_prometheus(&s);
    } else {
        eprintln!("prometheus not installed: no scrape test");
    }
}

fn scraped_by_prometheus(s: &Setup) {
    let dir = scratch_dir("prometheus");
    let port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rampart\n    basic_auth:\n      username: whatever\n      password: secret\n    static_configs:\n      - targets: ['{}']\n",
            s.web
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("log")).unwrap();
    let mut child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("prometheus starts");
    let prom = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last = String::new();
    let found = eventually(Duration::from_secs(40), || {
        let Some(r) = request(prom, "GET", "/api/v1/query?query=dnsdist_queries", &[], "") else {
            return false;
        };
        last = r.body.clone();
        if r.status != 200 {
            return false;
        }
        let v = r.json();
        let got = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|x| x.parse::<f64>().ok());
        got.is_some_and(|q| q >= 5.0)
    });
    // The dashboard's queries are valid PromQL to a real Prometheus.
    let mut bad = Vec::new();
    if found {
        for expr in grafana_queries() {
            let path = format!("/api/v1/query?query={}", url_encode(&expr));
            match request(prom, "GET", &path, &[], "") {
                Some(r) if r.status == 200 && r.json()["status"] == "success" => {}
                other => bad.push(format!("{expr}: {:?}", other.map(|r| r.body))),
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(bad.is_empty(), "Prometheus refused: {bad:#?}");
    assert!(
        found,
        "Prometheus never had dnsdist_queries ≥ 5; last answer: {last}\n{}",
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
}

/// The text of the element with `id` in a DOM dump (the first text
/// between its opening tag and the next `<`).
fn element_text<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let rest = &dom[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(&rest[start..start + end])
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|p| have(p))
}

#[test]
fn the_dashboard_shows_what_the_api_says_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("no Chromium installed: dashboard not rendered");
        return;
    };
    let s = setup(&format!(
        r#"setWebserverConfig({{password="{SECRET_HASH}", apiKey="apisecret"}})"#
    ));
    // Traffic: answers, and NXDOMAINs under one parent (a random
    // subdomain attack in miniature).
    for i in 0..6 {
        assert!(query(&s, &format!("rnd{i}.example.org"), Rtype::A).is_some());
    }
    for _ in 0..3 {
        assert!(query(&s, "www.example.org", Rtype::A).is_some());
    }
    let dom = render(browser, &s.dir, s.web);
    let api = get(
        s.web,
        "/api/v1/servers/localhost",
        &[("X-API-Key", "apisecret")],
    )
    .json();
    // The header's query count is the API's (no traffic since the page
    // loaded; the API read adds none).
    let shown: u64 = element_text(&dom, "queries")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no query count on the page:\n{dom}"));
    assert_eq!(shown, api["statistics"]["queries"].as_u64().unwrap());
    assert!(shown >= 9);
    // The NXDOMAIN parent, the zone with its serial, the backend.
    let nx = &dom[dom.find("id=\"top-nxdomain\"").unwrap()..];
    assert!(
        nx.contains("<td>example.org.</td><td class=\"n\">6</td>"),
        "{nx}"
    );
    let serial = api["zones"][0]["serial"].as_u64().unwrap();
    let zones = &dom[dom.find("id=\"zones\"").unwrap()..];
    assert!(
        zones.contains(&format!(
            "<td>example.org.</td><td>primary</td><td class=\"n\">{serial}</td>"
        )),
        "{zones}"
    );
    let backend = api["servers"][0]["address"].as_str().unwrap();
    assert!(
        dom.contains(&format!("<td>{backend}</td>")),
        "backend not shown"
    );
    assert!(
        element_text(&dom, "status").is_some_and(|t| t.starts_with("updated")),
        "{dom}"
    );
}

/// The page after its scripts ran, as headless Chromium sees it (the
/// password given in the URL, as an operator's browser would prompt).
fn render(browser: &str, dir: &Path, web: SocketAddr) -> String {
    let profile = dir.join("chromium-profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://whatever:secret@{web}/"))
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The PromQL of every panel of contrib/grafana/rampart.json.
fn grafana_queries() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("contrib/grafana/rampart.json"))
        .expect("the Grafana dashboard");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut out = Vec::new();
    for p in v["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            out.push(t["expr"].as_str().expect("an expr").to_string());
        }
    }
    out
}

/// The metric names those queries read (histogram series by family).
fn grafana_metrics() -> Vec<String> {
    let mut names = Vec::new();
    for q in grafana_queries() {
        for (i, _) in q.match_indices(['d', 'r']) {
            let rest = &q[i..];
            if !(rest.starts_with("dnsdist_") || rest.starts_with("rampart_"))
                || q[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    assert!(names.len() > 10, "{names:?}");
    names
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `rampart check stats`: WARNING while a dynamic block turns a flood
/// away, with the rates in the perfdata; CRITICAL with a wrong key.
#[test]
fn check_stats_reports_what_dynamic_blocks_turn_away() {
    let s = setup(
        r#"setWebserverConfig({apiKey="apisecret"})
function maintenance()
  addDynBlocks(exceedQRate(20, 1), "flood", 30)
end"#,
    );
    let flood = |n: usize| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let q = QuerySpec::new("www.example.org", Rtype::A).to_wire(9);
        for _ in 0..n {
            let _ = sock.send_to(&q, s.server.addr);
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    // Over the rate, then wait for the block.
    flood(100);
    assert!(
        eventually(Duration::from_secs(10), || get(
            s.web,
            "/jsonstat?command=dynblocklist",
            &[("X-API-Key", "apisecret")],
        )
        .body
        .len()
            >= 5),
        "no dynamic block was inserted"
    );
    let web = s.web.to_string();
    let check = |key: &str| {
        let web = web.clone();
        let key = key.to_string();
        std::thread::spawn(move || {
            Command::new(rampart_bin())
                .args([
                    "check", "stats", "-H", &web, "-k", &key, "-i", "1", "-w", "10", "-c", "100000",
                ])
                .output()
                .unwrap()
        })
    };
    let running = check("apisecret");
    flood(300);
    let out = running.join().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert!(line.starts_with("DNS STATS WARNING: "), "{line}");
    assert!(line.contains("1 dynamic blocks in force"), "{line}");
    assert!(line.contains("|turned_away="), "{line}");
    assert!(line.contains(" dyn_blocked="), "{line}");

    let out = check("wrong").join().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "{line}");
    assert!(line.contains("refused the credentials"), "{line}");
    let out = Command::new(rampart_bin())
        .args(["check", "stats", "-H", &web])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
