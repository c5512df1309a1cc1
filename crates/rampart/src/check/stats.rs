//! `check stats`: how much a rampart (or dnsdist) is turning away, from
//! its webserver. Reads `/jsonstat?command=stats` twice, `--interval`
//! seconds apart, and alerts on the rate of queries refused by dynamic
//! blocks and dropped by Response Rate Limiting (the signs of a flood
//! being fought); the perfdata carries the query rate, each kind of drop
//! and the dynamic blocks in force, for graphing.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::Range;
use super::{Report, Status};

const SERVICE: &str = "DNS STATS";

const SPECS: &[Spec] = &[
    ("-H", "--hostname", true),
    ("-k", "--api-key", true),
    ("-P", "--password", true),
    ("-i", "--interval", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
];

/// The counters read, with the perfdata label of each rate.
const COUNTERS: [(&str, &str); 6] = [
    ("queries", "qps"),
    ("dyn-blocked", "dyn_blocked"),
    ("rrl-dropped", "rrl_dropped"),
    ("rrl-slipped", "rrl_slipped"),
    ("acl-drops", "acl_drops"),
    ("rule-drop", "rule_drop"),
];

struct Settings {
    server: SocketAddr,
    auth: (&'static str, String),
    interval: Duration,
    warn: Option<Range>,
    crit: Option<Range>,
    timeout: Duration,
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    if let Some(extra) = o.positional.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let host = o.need("-H", "HOST:PORT (the webserver)")?;
    let server: SocketAddr = host
        .parse()
        .map_err(|_| format!("-H: '{host}' is not ADDRESS:PORT"))?;
    let auth = match (o.get("-k"), o.get("-P")) {
        (Some(k), None) => ("x-api-key", k.to_string()),
        (None, Some(p)) => (
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("nagios:{p}"))),
        ),
        _ => return Err("give the API key (-k) or the password (-P), one of them".into()),
    };
    let interval = match o.get("-i") {
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|v| (0.1..=60.0).contains(v))
            .map(Duration::from_secs_f64)
            .ok_or("-i: seconds between the two readings, 0.1 to 60")?,
        None => Duration::from_secs(1),
    };
    Ok(Settings {
        server,
        auth,
        interval,
        warn: o.range("-w", Range::parse)?,
        crit: o.range("-c", Range::parse)?,
        timeout: o.timeout()?,
    })
}

pub fn run(words: &[String]) -> Report {
    let s = match settings(words) {
        Ok(s) => s,
        Err(e) => return Report::unknown(SERVICE, e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Report::unknown(SERVICE, format!("cannot start: {e}")),
    };
    rt.block_on(check(&s))
}

async fn check(s: &Settings) -> Report {
    let first = match read(s, "/jsonstat?command=stats").await {
        Ok(v) => v,
        Err(e) => return Report::new(SERVICE, Status::Critical, e),
    };
    tokio::time::sleep(s.interval).await;
    let second = match read(s, "/jsonstat?command=stats").await {
        Ok(v) => v,
        Err(e) => return Report::new(SERVICE, Status::Critical, e),
    };
    let blocks = match read(s, "/jsonstat?command=dynblocklist").await {
        Ok(v) => v.as_object().map_or(0, |m| m.len()),
        Err(e) => return Report::new(SERVICE, Status::Critical, e),
    };
    let secs = s.interval.as_secs_f64();
    let rate = |name: &str| -> f64 {
        let a = first[name].as_f64().unwrap_or(0.0);
        let b = second[name].as_f64().unwrap_or(0.0);
        (b - a).max(0.0) / secs
    };
    let fought = rate("dyn-blocked") + rate("rrl-dropped");
    let status = Status::of(fought, s.warn.as_ref(), s.crit.as_ref());
    let mut report = Report::new(
        SERVICE,
        status,
        format!(
            "{:.1} queries/s turned away by dynamic blocks and RRL, {:.1} queries/s in all, \
             {blocks} dynamic blocks in force",
            fought,
            rate("queries")
        ),
    );
    report.perf.push(
        Perf::new("turned_away", Some(fought), "")
            .thresholds(s.warn, s.crit)
            .min(0.0),
    );
    for (name, label) in COUNTERS {
        report
            .perf
            .push(Perf::new(label, Some(rate(name)), "").min(0.0));
    }
    report
        .perf
        .push(Perf::new("dynblocks", Some(blocks as f64), "").min(0.0));
    report
}

/// GETs `path` from the webserver and reads its JSON.
async fn read(s: &Settings, path: &str) -> Result<serde_json::Value, String> {
    let fetch = async {
        let stream = tokio::net::TcpStream::connect(s.server)
            .await
            .map_err(|e| format!("no answer from the webserver at {}: {e}", s.server))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("{}: {e}", s.server))?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", s.server.to_string())
            .header(s.auth.0, &s.auth.1)
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{}: {e}", s.server))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{}: {e}", s.server))?
            .to_bytes();
        if status == hyper::StatusCode::UNAUTHORIZED {
            return Err(format!("{} refused the credentials (401)", s.server));
        }
        if !status.is_success() {
            return Err(format!("{}{path}: HTTP {status}", s.server));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{}{path}: not JSON: {e}", s.server))
    };
    tokio::time::timeout(s.timeout, fetch)
        .await
        .map_err(|_| format!("{}: no answer in {:?}", s.server, s.timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments_are_checked() {
        for bad in [
            "-k key",
            "-H 127.0.0.1:8083",
            "-H 127.0.0.1:8083 -k a -P b",
            "-H nowhere -k a",
            "-H 127.0.0.1:8083 -k a -i 0",
            "-H 127.0.0.1:8083 -k a -w x",
        ] {
            assert!(settings(&words(bad)).is_err(), "{bad}");
        }
        let s = settings(&words("-H 127.0.0.1:8083 -P pw -i 0.5 -w 10 -c 100")).unwrap();
        assert_eq!(s.auth.0, "authorization");
        assert_eq!(s.interval, Duration::from_millis(500));
    }
}
