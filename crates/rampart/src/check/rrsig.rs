//! `check rrsig ZONE`: how long until a zone's signatures expire.
//!
//! Asks the server for the zone's SOA and DNSKEY with DO set and reads
//! the RRSIGs that come with them (RFC 4034 §3.1): the soonest expiration
//! is the time left. It checks any signing server: rampart signing a
//! zone itself, Knot, BIND, or a presigned zone. `-w`/`-c` are the least
//! time left, as durations (`7d`, `48h`, seconds), or full ranges over the
//! seconds left; defaults 7 and 2 days. No RRSIG at all, or one not yet
//! valid, is CRITICAL.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wire::types::rtype;
use wire::Section;

use super::dns;
use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::{self, Range};
use super::{Report, Status};

const SERVICE: &str = "RRSIG";

const SPECS: &[Spec] = &[
    ("-H", "--hostname", true),
    ("-p", "--port", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
    ("--tcp", "--tcp", false),
];

struct Settings {
    zone: Vec<u8>,
    server: SocketAddr,
    warn: Range,
    crit: Range,
    tcp: bool,
    timeout: Duration,
}

/// A bare duration is a minimum (`7d` = `7d:`); anything with `:` or `@`
/// is a range.
pub(super) fn least(text: &str) -> Result<Range, String> {
    if text.contains(':') || text.starts_with('@') {
        return Range::parse_duration(text);
    }
    let secs = range::duration(text).ok_or_else(|| format!("bad duration '{text}'"))?;
    Ok(Range {
        start: Some(secs),
        end: None,
        inside: false,
    })
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    let zone = match o.positional.as_slice() {
        [zone] => wire::name::parse(zone).map_err(|e| format!("zone: {e}"))?,
        [] => return Err("the zone to check is required: rrsig ZONE -H HOST".into()),
        [_, extra, ..] => return Err(format!("unexpected argument '{extra}'")),
    };
    let host = o.need("-H", "HOST (the server to ask)")?;
    let default = |days: f64| Range {
        start: Some(days * 86400.0),
        end: None,
        inside: false,
    };
    Ok(Settings {
        zone,
        server: dns::resolve(host, o.port(53)?, o.family()?)?,
        warn: o.range("-w", least)?.unwrap_or(default(7.0)),
        crit: o.range("-c", least)?.unwrap_or(default(2.0)),
        tcp: o.has("--tcp"),
        timeout: o.timeout()?,
    })
}

pub fn run(words: &[String]) -> Report {
    match settings(words) {
        Ok(s) => check(&s),
        Err(e) => Report::unknown(SERVICE, e),
    }
}

/// One signature's validity.
struct Sig {
    covered: u16,
    key_tag: u16,
    inception: u32,
    expiration: u32,
}

/// The RRSIGs at the apex over `covered`, from one answer.
fn signatures(s: &Settings, covered: u16) -> Result<Vec<Sig>, String> {
    let question = dns::Question {
        dnssec_ok: true,
        ..dns::Question::new(&s.zone, covered)
    };
    let a = dns::ask(s.server, &question, s.tcp, s.timeout)?;
    let rcode = dns::rcode_name(&a.message);
    if rcode != "NOERROR" {
        return Err(format!("{} answered {rcode}", s.server));
    }
    Ok(a.message
        .section(Section::Answer)
        .filter(|r| r.rtype == rtype::RRSIG && r.owner.eq_ignore_ascii_case(&s.zone))
        .filter_map(|r| {
            let d = r.rdata.get(..18)?;
            let word = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
            Some(Sig {
                covered: u16::from_be_bytes([d[0], d[1]]),
                key_tag: u16::from_be_bytes([d[16], d[17]]),
                expiration: word(8),
                inception: word(12),
            })
        })
        .filter(|sig| sig.covered == covered)
        .collect())
}

fn check(s: &Settings) -> Report {
    let zone = wire::name::to_text(&s.zone);
    let mut sigs = Vec::new();
    for covered in [rtype::SOA, rtype::DNSKEY] {
        match signatures(s, covered) {
            Ok(found) => sigs.extend(found),
            Err(e) => return Report::new(SERVICE, Status::Critical, format!("{zone}: {e}")),
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // RRSIG times are serial numbers of seconds (RFC 4034 §3.1.5).
    let now32 = now as u32;
    let since = |t: u32| i64::from(now32.wrapping_sub(t) as i32);
    if let Some(early) = sigs.iter().find(|sig| since(sig.inception) < 0) {
        return Report::new(
            SERVICE,
            Status::Critical,
            format!(
                "{zone}: {} RRSIG by key {} not valid until {}",
                wire::types::rtype_name(early.covered),
                early.key_tag,
                timestamp(now as i64 - since(early.inception))
            ),
        );
    }
    let Some(soonest) = sigs.iter().min_by_key(|sig| -since(sig.expiration)) else {
        return Report::new(
            SERVICE,
            Status::Critical,
            format!(
                "{zone}: no RRSIG over the SOA or DNSKEY at {} (zone not signed?)",
                s.server
            ),
        );
    };
    let left = -since(soonest.expiration);
    let status = Status::of(left as f64, Some(&s.warn), Some(&s.crit));
    let when = if left >= 0 { "expire in" } else { "expired" };
    let mut r = Report::new(
        SERVICE,
        status,
        format!(
            "{zone} signatures {when} {:.1} days ({} RRSIG by key {}, {}; {} checked)",
            left.abs() as f64 / 86400.0,
            wire::types::rtype_name(soonest.covered),
            soonest.key_tag,
            timestamp(now as i64 + left),
            sigs.len()
        ),
    );
    r.perf.push(
        Perf::new("expiry", Some(left as f64), "s")
            .thresholds(Some(s.warn), Some(s.crit))
            .min(0.0),
    );
    r
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub(super) fn timestamp(unix: i64) -> String {
    let ((year, month, day), secs) = wire::time::civil(unix);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_minimums() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(timestamp(1_796_601_599), "2026-12-06 23:59:59 UTC");
        let r = least("7d").unwrap();
        assert!(r.alerts(6.0 * 86400.0) && !r.alerts(8.0 * 86400.0));
        assert_eq!(least("@0:3600").unwrap().end, Some(3600.0));
        assert!(least("soon").is_err());
    }
}
