//! `check tls -H HOST`: how long until a DoT or DoH listener's
//! certificate expires.
//!
//! Makes a TLS handshake with the server (port 853 by default; 443 for
//! DoH) and reads the notAfter of the certificate it presents. `-w`/`-c`
//! are the least time left, as durations (`30d`, `48h`, seconds) or full
//! ranges over the seconds left; defaults 30 and 14 days (a certbot
//! renewal runs 30 days ahead). The certificate is not checked against a
//! CA unless `--ca FILE` is given (`--ca system` for the system's): an
//! authoritative server's DoT certificate is often self-signed. A failed
//! handshake, or a failed check against the CA, is CRITICAL; so is a
//! certificate not yet valid or expired.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pool::tls_client::{ClientSettings, TlsClient};
use x509_cert::der::Decode;

use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::Range;
use super::rrsig::{least, timestamp};
use super::{dns, Report, Status};

const SERVICE: &str = "TLS";

const SPECS: &[Spec] = &[
    ("-H", "--hostname", true),
    ("-p", "--port", true),
    ("-S", "--sni", true),
    ("--ca", "--ca", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
];

struct Settings {
    server: SocketAddr,
    /// What the certificate is asked for (SNI): `-S`, else `-H` when it
    /// is a name.
    name: Option<String>,
    /// Check the chain against this PEM file (`None`: the system's).
    ca: Option<Option<std::path::PathBuf>>,
    warn: Range,
    crit: Range,
    timeout: Duration,
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    if let Some(extra) = o.positional.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let host = o.need("-H", "HOST (the DoT or DoH server)")?;
    // The name the certificate is asked for is HOST without a `:PORT`
    // (`dns.example:853` as the old usage wrote it), unless it is an
    // address.
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.parse::<u16>().is_ok() => h,
        _ => host,
    };
    let is_name = bare
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_err()
        && host.parse::<SocketAddr>().is_err();
    let default = |days: f64| Range {
        start: Some(days * 86400.0),
        end: None,
        inside: false,
    };
    Ok(Settings {
        server: dns::resolve(host, o.port(853)?, o.family()?)?,
        name: o
            .get("-S")
            .map(str::to_string)
            .or_else(|| is_name.then(|| bare.to_string())),
        ca: o.get("--ca").map(|f| match f {
            "system" => None,
            path => Some(path.into()),
        }),
        warn: o.range("-w", least)?.unwrap_or(default(30.0)),
        crit: o.range("-c", least)?.unwrap_or(default(14.0)),
        timeout: o.timeout()?,
    })
}

pub fn run(words: &[String]) -> Report {
    match settings(words) {
        Ok(s) => check(&s),
        Err(e) => Report::unknown(SERVICE, e),
    }
}

/// The certificate chain `s.server` presents, leaf first.
fn handshake(s: &Settings) -> Result<Vec<Vec<u8>>, String> {
    let client = TlsClient::new(
        ClientSettings {
            validate: s.ca.is_some(),
            ca_file: s.ca.clone().flatten(),
            server_name: s.name.clone(),
            tls13_only: false,
            alpn: Vec::new(),
        },
        s.server.ip(),
    )
    .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + s.timeout;
    let mut sock = TcpStream::connect_timeout(&s.server, s.timeout)
        .map_err(|e| format!("cannot connect to {}: {e}", s.server))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::clone(&client.config), client.server_name.clone())
            .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no TLS handshake with {} in time", s.server));
        }
        // Each read and write waits at most what is left of the timeout.
        let _ = sock.set_read_timeout(Some(left));
        let _ = sock.set_write_timeout(Some(left));
        conn.complete_io(&mut sock)
            .map_err(|e| format!("TLS handshake with {}: {e}", s.server))?;
    }
    // Say goodbye; the certificate is all that was wanted.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    let _ = sock.flush();
    Ok(conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_vec())
        .collect())
}

/// The leaf's subject and notBefore/notAfter (Unix seconds).
fn validity(der: &[u8]) -> Result<(String, i64, i64), String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let secs = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
    Ok((
        tbs.subject.to_string(),
        secs(&tbs.validity.not_before),
        secs(&tbs.validity.not_after),
    ))
}

fn check(s: &Settings) -> Report {
    let chain = match handshake(s) {
        Ok(c) => c,
        Err(e) => return Report::new(SERVICE, Status::Critical, e),
    };
    let Some(leaf) = chain.first() else {
        return Report::new(
            SERVICE,
            Status::Critical,
            format!("{} presented no certificate", s.server),
        );
    };
    let (subject, not_before, not_after) = match validity(leaf) {
        Ok(v) => v,
        Err(e) => return Report::new(SERVICE, Status::Critical, format!("{}: {e}", s.server)),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    if now < not_before {
        return Report::new(
            SERVICE,
            Status::Critical,
            format!(
                "{} certificate '{subject}' not valid until {}",
                s.server,
                timestamp(not_before)
            ),
        );
    }
    let left = not_after - now;
    let status = Status::of(left as f64, Some(&s.warn), Some(&s.crit));
    let when = if left >= 0 { "expires in" } else { "expired" };
    let checked = if s.ca.is_some() {
        "chain checked"
    } else {
        "chain not checked"
    };
    let mut r = Report::new(
        SERVICE,
        status,
        format!(
            "{} certificate '{subject}' {when} {:.1} days ({}; {} in the chain, {checked})",
            s.server,
            left.abs() as f64 / 86400.0,
            timestamp(not_after),
            chain.len()
        ),
    );
    r.perf.push(
        Perf::new("expiry", Some(left as f64), "s")
            .thresholds(Some(s.warn), Some(s.crit))
            .min(0.0),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = settings(&w(&["-H", "127.0.0.1", "-w", "20d"])).unwrap();
        assert_eq!(s.server.port(), 853);
        assert!(s.name.is_none() && s.ca.is_none());
        assert!(s.warn.alerts(19.0 * 86400.0) && !s.warn.alerts(21.0 * 86400.0));
        assert!(s.crit.alerts(13.0 * 86400.0));
        let s = settings(&w(&[
            "-H",
            "127.0.0.1",
            "-p",
            "443",
            "-S",
            "dns.example",
            "--ca",
            "system",
        ]))
        .unwrap();
        assert_eq!(s.server.port(), 443);
        assert_eq!(s.name.as_deref(), Some("dns.example"));
        assert_eq!(s.ca, Some(None));
        assert!(settings(&w(&["-p", "853"])).is_err());
        // HOST:PORT: the port is taken, the name is HOST alone.
        let s = settings(&w(&["-H", "localhost:8853"])).unwrap();
        assert_eq!(s.server.port(), 8853);
        assert_eq!(s.name.as_deref(), Some("localhost"));
        let s = settings(&w(&["-H", "127.0.0.1:8853"])).unwrap();
        assert!(s.name.is_none());
        assert!(settings(&w(&["-H", "127.0.0.1", "extra"])).is_err());
    }
}
