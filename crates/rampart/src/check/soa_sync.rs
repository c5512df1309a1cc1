//! `check soa-sync ZONE`: the primary and every secondary serve the same
//! SOA serial.
//!
//! Each secondary's lag is the primary's serial minus its own in RFC 1982
//! serial arithmetic (so 4294967295 → 1 is a lag of 2, not −4294967294);
//! a secondary ahead of the primary has a negative lag. `-w`/`-c` are
//! ranges over the lag, counted in serial steps; by default any lag warns
//! (`-w 0`: a secondary stuck one change behind is the usual failure, and
//! Nagios' retries absorb the seconds a NOTIFY takes) and 3 steps, a
//! negative lag, or a server that does not serve the zone (no answer,
//! SERVFAIL once the secondary's copy expired, REFUSED, not
//! authoritative) is CRITICAL. A stateless check cannot tell for how long
//! a secondary has been behind; the SOA's REFRESH and EXPIRE bound that
//! on the secondary's side, and an expired zone shows as CRITICAL here.

use std::net::SocketAddr;
use std::time::Duration;

use wire::types::{flags, rtype};
use wire::Section;

use super::dns::{self, Family};
use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::Range;
use super::{Report, Status};

const SERVICE: &str = "SOA SYNC";

const SPECS: &[Spec] = &[
    ("-H", "--primary", true),
    ("-S", "--secondary", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
    ("--tcp", "--tcp", false),
];

/// A server as named on the command line, and its address.
struct Server {
    label: String,
    addr: SocketAddr,
}

struct Settings {
    zone: Vec<u8>,
    primary: Server,
    secondaries: Vec<Server>,
    warn: Range,
    crit: Range,
    tcp: bool,
    timeout: Duration,
}

fn server(text: &str, family: Family) -> Result<Server, String> {
    Ok(Server {
        label: text.to_string(),
        addr: dns::resolve(text, 53, family)?,
    })
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    let zone = match o.positional.as_slice() {
        [zone] => wire::name::parse(zone).map_err(|e| format!("zone: {e}"))?,
        [] => {
            return Err(
                "the zone to check is required: soa-sync ZONE -H PRIMARY -S SECONDARY".into(),
            )
        }
        [_, extra, ..] => return Err(format!("unexpected argument '{extra}'")),
    };
    let family = o.family()?;
    let secondaries = o
        .all("-S")
        .into_iter()
        .map(|s| server(s, family))
        .collect::<Result<Vec<_>, _>>()?;
    if secondaries.is_empty() {
        return Err("at least one -S SECONDARY[:PORT] is required".into());
    }
    Ok(Settings {
        zone,
        primary: server(o.need("-H", "PRIMARY[:PORT]")?, family)?,
        secondaries,
        warn: o.range("-w", Range::parse)?.unwrap_or(Range {
            start: Some(0.0),
            end: Some(0.0),
            inside: false,
        }),
        crit: o.range("-c", Range::parse)?.unwrap_or(Range {
            start: Some(0.0),
            end: Some(3.0),
            inside: false,
        }),
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

/// The serial `addr` serves for `zone`, authoritatively.
fn serial(s: &Settings, addr: SocketAddr) -> Result<u32, String> {
    let a = dns::ask(
        addr,
        &dns::Question::new(&s.zone, rtype::SOA),
        s.tcp,
        s.timeout,
    )?;
    let rcode = dns::rcode_name(&a.message);
    if rcode != "NOERROR" {
        return Err(format!("answered {rcode}"));
    }
    if a.message.header.flags & flags::AA == 0 {
        return Err("not authoritative for the zone".into());
    }
    let serial = a
        .message
        .section(Section::Answer)
        .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(&s.zone))
        .and_then(|r| wire::soa::parse(&r.rdata))
        .map(|soa| soa.serial);
    serial.ok_or_else(|| "no SOA in the answer".to_string())
}

/// How far `secondary` is behind `primary` (RFC 1982 §3.2); `None` when
/// the two are exactly 2^31 apart, which the RFC leaves undefined.
pub fn lag(primary: u32, secondary: u32) -> Option<i64> {
    let d = primary.wrapping_sub(secondary) as i32;
    (d != i32::MIN).then_some(i64::from(d))
}

fn check(s: &Settings) -> Report {
    // Ask everyone at once, so dead servers cost one timeout, not one each.
    let (primary, secondaries) = std::thread::scope(|scope| {
        let others: Vec<_> = s
            .secondaries
            .iter()
            .map(|sec| scope.spawn(move || serial(s, sec.addr)))
            .collect();
        let primary = serial(s, s.primary.addr);
        let others: Vec<Result<u32, String>> = others
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("query failed".into())))
            .collect();
        (primary, others)
    });
    let zone = wire::name::to_text(&s.zone);
    let perf = |label: &str, value: Option<i64>| {
        Perf::new(&format!("lag_{label}"), value.map(|v| v as f64), "")
            .thresholds(Some(s.warn), Some(s.crit))
            .min(0.0)
    };
    let primary_serial = match primary {
        Ok(p) => p,
        Err(e) => {
            let mut r = Report::new(
                SERVICE,
                Status::Critical,
                format!("{zone} primary {}: {e}", s.primary.label),
            );
            r.perf = s
                .secondaries
                .iter()
                .map(|sec| perf(&sec.label, None))
                .collect();
            return r;
        }
    };
    let mut status = Status::Ok;
    let mut problems = Vec::new();
    let mut perfs = Vec::new();
    for (sec, found) in s.secondaries.iter().zip(secondaries) {
        let (st, lagged, problem) = match found {
            Err(e) => (Status::Critical, None, Some(e)),
            Ok(serial) => match lag(primary_serial, serial) {
                None => (
                    Status::Critical,
                    None,
                    Some(format!("serial {serial}, not comparable (2^31 apart)")),
                ),
                Some(l) => {
                    let st = Status::of(l as f64, Some(&s.warn), Some(&s.crit));
                    let problem = match l {
                        0 => None,
                        l if l > 0 => Some(format!("serial {serial} ({l} behind)")),
                        l => Some(format!("serial {serial} ({} ahead of the primary)", -l)),
                    };
                    (st, Some(l), problem)
                }
            },
        };
        status = status.worst(st);
        if let Some(p) = problem {
            problems.push(format!("{} {p}", sec.label));
        }
        perfs.push(perf(&sec.label, lagged));
    }
    let text = if problems.is_empty() {
        format!(
            "{zone} serial {primary_serial} on {} and {} secondar{}",
            s.primary.label,
            s.secondaries.len(),
            if s.secondaries.len() == 1 { "y" } else { "ies" }
        )
    } else {
        format!(
            "{zone} serial {primary_serial} on primary {}; {}",
            s.primary.label,
            problems.join("; ")
        )
    };
    let mut r = Report::new(SERVICE, status, text);
    r.perf = perfs;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_follows_serial_arithmetic() {
        assert_eq!(lag(5, 5), Some(0));
        assert_eq!(lag(7, 5), Some(2));
        assert_eq!(lag(5, 7), Some(-2));
        assert_eq!(lag(1, u32::MAX), Some(2), "wrapped past 2^32");
        assert_eq!(lag(u32::MAX, 1), Some(-2));
        assert_eq!(lag(1 << 31, 0), None);
    }

    #[test]
    fn bad_arguments_say_why() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let e = |s: &str| settings(&w(s)).err().unwrap_or_default();
        assert!(e("-H 127.0.0.1 -S 127.0.0.2").contains("zone"));
        assert!(e("z.test -H 127.0.0.1").contains("-S"));
        assert!(e("z.test -S 127.0.0.1").contains("-H"));
        assert!(e("z.test -H 127.0.0.1 -S 127.0.0.2 -c 5:1").contains("bad range"));
        assert!(e("z.test y.test -H 127.0.0.1 -S 127.0.0.2").contains("unexpected"));
        let s = settings(&w("z.test -H 127.0.0.1:5300 -S 127.0.0.2 -S [::1]:53")).unwrap();
        assert_eq!(s.secondaries.len(), 2);
        assert_eq!(s.primary.addr.port(), 5300);
    }
}
