//! `check time`: a server's clock against this host's, as the classic
//! NRPE time check (`check_ntp_time`) does. RRSIG validity windows and the
//! TSIG fudge (300 s by default) both fail when clocks drift.
//!
//! Two ways to read the server's clock:
//! - SNTP (RFC 4330 client; UDP port 123 or `-p`): the offset is
//!   ((T2 − T1) + (T3 − T4)) / 2 from the four timestamps, to the
//!   microsecond;
//! - with `-y ALG:NAME:SECRET`, a TSIG-signed SOA query over DNS (port 53
//!   or `-p`): the signed answer's time signed (or, when our clock is off
//!   by more than the fudge, the server's time in the BADTIME answer)
//!   against the middle of the round trip. TSIG times are whole seconds,
//!   so this reading is good to ±0.5 s — enough for the fudge.
//!
//! `-w`/`-c` apply to the offset's absolute value (default 60 and 120 s,
//! as `check_ntp_time`); the perfdata keeps the sign (positive: the
//! server is ahead).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wire::types::rtype;

use super::dns;
use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::Range;
use super::{Report, Status};

const SERVICE: &str = "TIME";

const SPECS: &[Spec] = &[
    ("-H", "--hostname", true),
    ("-p", "--port", true),
    ("-y", "--tsig", true),
    ("-z", "--zone", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
];

/// Seconds from 1900 (NTP's era 0) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

enum Source {
    Sntp,
    Tsig {
        key: Arc<xfr::tsig::Key>,
        zone: Vec<u8>,
    },
}

struct Settings {
    server: SocketAddr,
    source: Source,
    warn: Range,
    crit: Range,
    timeout: Duration,
}

/// `-y [ALG:]NAME:SECRET`, as `dig -y` (HMAC-SHA256 when no algorithm).
fn key(text: &str) -> Result<xfr::tsig::Key, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (alg, name, secret) = match parts.as_slice() {
        [alg, name, secret] => (*alg, *name, *secret),
        [name, secret] => ("hmac-sha256", *name, *secret),
        _ => return Err("-y: expected ALG:NAME:SECRET (secret in base64)".into()),
    };
    xfr::tsig::Key::new(name, alg, secret).map_err(|e| format!("-y: {e}"))
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    if let Some(extra) = o.positional.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let source = match o.get("-y") {
        Some(k) => Source::Tsig {
            key: Arc::new(key(k)?),
            zone: wire::name::parse(o.get("-z").unwrap_or(".")).map_err(|e| format!("-z: {e}"))?,
        },
        None if o.has("-z") => return Err("-z only goes with -y (TSIG)".into()),
        None => Source::Sntp,
    };
    let port = o.port(match source {
        Source::Sntp => 123,
        Source::Tsig { .. } => 53,
    })?;
    let host = o.need("-H", "HOST (the server whose clock to read)")?;
    let default = |end: f64| Range {
        start: Some(0.0),
        end: Some(end),
        inside: false,
    };
    Ok(Settings {
        server: dns::resolve(host, port, o.family()?)?,
        source,
        warn: o.range("-w", Range::parse)?.unwrap_or(default(60.0)),
        crit: o.range("-c", Range::parse)?.unwrap_or(default(120.0)),
        timeout: o.timeout()?,
    })
}

pub fn run(words: &[String]) -> Report {
    match settings(words) {
        Ok(s) => check(&s),
        Err(e) => Report::unknown(SERVICE, e),
    }
}

/// A reading: the offset in seconds and how it was taken.
struct Reading {
    offset: f64,
    how: String,
}

/// Why there is no reading: the server is silent (CRITICAL) or its answer
/// cannot be used (UNKNOWN: a wrong key, a server without TSIG).
enum Failure {
    Silent(String),
    Unusable(String),
}

fn check(s: &Settings) -> Report {
    let reading = match &s.source {
        Source::Sntp => sntp(s.server, s.timeout),
        Source::Tsig { key, zone } => tsig(s.server, key, zone, s.timeout),
    };
    match reading {
        Ok(r) => {
            let status = Status::of(r.offset.abs(), Some(&s.warn), Some(&s.crit));
            let mut report = Report::new(
                SERVICE,
                status,
                format!("offset {:+.6} s from {} ({})", r.offset, s.server, r.how),
            );
            report.perf.push(
                Perf::new("offset", Some(r.offset), "s").thresholds(Some(s.warn), Some(s.crit)),
            );
            report
        }
        Err(Failure::Silent(e)) => Report::new(SERVICE, Status::Critical, e),
        Err(Failure::Unusable(e)) => Report::unknown(SERVICE, e),
    }
}

/// Now as a 64-bit NTP timestamp (32.32 fixed point from 1900).
fn ntp_now() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = (d.as_secs() + NTP_UNIX_OFFSET) << 32;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    secs.wrapping_add(frac)
}

/// `a − b` in seconds, for NTP timestamps less than 68 years apart (so
/// the 2036 era rollover does not matter).
fn ntp_diff(a: u64, b: u64) -> f64 {
    a.wrapping_sub(b) as i64 as f64 / 4_294_967_296.0
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(w)
}

/// One SNTP exchange (RFC 4330 §5): our transmit time goes out as the
/// request's transmit timestamp and must come back as the originate one.
fn sntp(server: SocketAddr, timeout: Duration) -> Result<Reading, Failure> {
    let silent = |e: String| Failure::Silent(e);
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(local).map_err(|e| silent(format!("UDP socket: {e}")))?;
    sock.connect(server)
        .map_err(|e| silent(format!("cannot reach {server}: {e}")))?;
    let mut req = [0u8; 48];
    req[0] = 0x23; // LI 0, version 4, mode 3 (client)
    let t1 = ntp_now();
    req[40..48].copy_from_slice(&t1.to_be_bytes());
    sock.send(&req)
        .map_err(|e| silent(format!("cannot send to {server}: {e}")))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(silent(format!(
                "no SNTP answer from {server} within {:.1} s",
                timeout.as_secs_f64()
            )));
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| silent(format!("socket: {e}")))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(silent(format!(
                    "no SNTP answer from {server} within {:.1} s",
                    timeout.as_secs_f64()
                )))
            }
            Err(e) => return Err(silent(format!("no SNTP answer from {server}: {e}"))),
        };
        let t4 = ntp_now();
        let a = &buf[..n];
        // Not an answer to this request: keep waiting.
        if n < 48 || a[0] & 0x07 != 4 || be64(a, 24) != t1 {
            continue;
        }
        let (leap, stratum) = (a[0] >> 6, a[1]);
        if stratum == 0 {
            let code = String::from_utf8_lossy(&a[12..16]).into_owned();
            return Err(Failure::Unusable(format!(
                "{server} sent a kiss-o'-death ({})",
                code.trim_matches('\0')
            )));
        }
        if leap == 3 || stratum >= 16 {
            return Err(silent(format!(
                "{server} says its clock is not synchronized (leap {leap}, stratum {stratum})"
            )));
        }
        let (t2, t3) = (be64(a, 32), be64(a, 40));
        let offset = (ntp_diff(t2, t1) + ntp_diff(t3, t4)) / 2.0;
        let delay = ntp_diff(t4, t1) - ntp_diff(t3, t2);
        return Ok(Reading {
            offset,
            how: format!("SNTP, stratum {stratum}, delay {delay:.6} s"),
        });
    }
}

/// Unix seconds, fractional.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A TSIG-signed SOA query for `zone`; the server's signing time against
/// the middle of the round trip.
fn tsig(
    server: SocketAddr,
    key: &Arc<xfr::tsig::Key>,
    zone: &[u8],
    timeout: Duration,
) -> Result<Reading, Failure> {
    let mut tcp = false;
    loop {
        let mut msg = dns::query(dns::fresh_id(), &dns::Question::new(zone, rtype::SOA))
            .map_err(Failure::Unusable)?;
        let sent = unix_now();
        let mut verifier = xfr::tsig::sign_request(&mut msg, key, sent as u64)
            .map_err(|()| Failure::Unusable("cannot sign the query".into()))?;
        let (answer, _) = dns::exchange(server, &msg, tcp, timeout).map_err(Failure::Silent)?;
        let received = unix_now();
        if !tcp && answer.get(2).is_some_and(|b| b & 0x02 != 0) {
            tcp = true;
            continue;
        }
        let server_time = verifier
            .server_time(&answer)
            .map_err(|e| Failure::Unusable(format!("{server}: {e}")))?;
        // The server wrote the whole second it signed in: on average half
        // a second before its clock's reading.
        let offset = server_time as f64 + 0.5 - (sent + received) / 2.0;
        return Ok(Reading {
            offset,
            how: format!("TSIG time signed, key {}, ±0.5 s", key.name_text()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_differences_cross_the_era() {
        let t = (5u64 << 32) | (1 << 31); // 5.5 s into an era
        assert_eq!(ntp_diff(t, 3 << 32), 2.5);
        assert_eq!(ntp_diff(3 << 32, t), -2.5);
        // Just after the 2036 rollover against just before it.
        assert_eq!(ntp_diff(1 << 32, u64::MAX - (1 << 32) + 1), 2.0);
    }

    #[test]
    fn keys_as_dig_writes_them() {
        let k = key("hmac-sha256:xfr:c2VjcmV0").unwrap();
        assert_eq!(k.name_text(), "xfr.");
        assert!(key("xfr:c2VjcmV0").is_ok());
        assert!(key("nope").is_err());
        assert!(key("hmac-nope:xfr:c2VjcmV0").is_err());
    }
}
