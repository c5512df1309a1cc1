//! `rampart check`: a monitoring plugin for Nagios, Icinga and NRPE,
//! after the Monitoring Plugins guidelines.
//!
//! Each check prints one status line, `SERVICE STATUS: text|perfdata`,
//! and exits 0, 1, 2 or 3 for OK, WARNING, CRITICAL or UNKNOWN; `-w` and
//! `-c` take the plugins' range syntax ([`range`]), critical is checked
//! before warning, and the output stays under NRPE's 1 KiB. Bad arguments
//! are UNKNOWN with a one-line reason.
//!
//! Checks: [`dig`] (a server answers a name in time), [`soa_sync`] (the
//! primary and every secondary serve the same SOA serial), [`time`] (a
//! server's clock against ours, by SNTP or a TSIG-signed answer),
//! [`rrsig`] (the soonest RRSIG expiry of a zone), [`stats`] (queries
//! turned away by dynamic blocks and RRL, from the webserver) and [`tls`]
//! (how long until a DoT or DoH listener's certificate expires).

mod dig;
mod dns;
mod opts;
pub mod perfdata;
pub mod range;
mod rrsig;
mod soa_sync;
mod stats;
mod time;
mod tls;

use std::fmt::Write as _;
use std::process::ExitCode;

use perfdata::Perf;
use range::Range;

/// NRPE (v2) cuts what a plugin prints at 1024 octets.
const MAX_OUTPUT: usize = 1024;

pub const USAGE: &str = "\
usage: rampart check dig -H HOST [-p PORT] -l NAME [-T TYPE] [-a EXPECTED] [--tcp|-A +tcp]
                         [-w SECS] [-c SECS] [-t TIMEOUT] [-4|-6]
       rampart check soa-sync ZONE -H PRIMARY[:PORT] -S SECONDARY[:PORT]...
                         [-w SERIALS] [-c SERIALS] [--tcp] [-t TIMEOUT] [-4|-6]
       rampart check time -H HOST [-p PORT] [-y ALG:NAME:SECRET [-z ZONE]]
                         [-w SECS] [-c SECS] [-t TIMEOUT] [-4|-6]
       rampart check rrsig ZONE -H HOST [-p PORT] [-w 7d] [-c 2d] [--tcp]
       rampart check stats -H ADDRESS:PORT (-k APIKEY|-P PASSWORD) [-i SECS]
                         [-w RATE] [-c RATE] [-t TIMEOUT]
       rampart check tls -H HOST [-p 853] [-S SNI] [--ca FILE|system] [-w 30d]

  -w and -c are ranges, [@][start:][end]: a missing start is 0, a missing
  end is infinity, ~ is minus infinity; the check alerts outside the range
  (inside with @). For rrsig and tls a bare duration (7d) is the least time left.
  Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
";

/// A plugin state, with its exit code as the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// CRITICAL when `value` alerts `crit`, else WARNING when it alerts
    /// `warn`, else OK.
    pub fn of(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> Status {
        if crit.is_some_and(|r| r.alerts(value)) {
            Status::Critical
        } else if warn.is_some_and(|r| r.alerts(value)) {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    /// The more serious of two: CRITICAL, then UNKNOWN, WARNING, OK.
    pub fn worst(self, other: Status) -> Status {
        let rank = |s: Status| match s {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// What a check found: the status line's parts.
#[derive(Debug)]
pub struct Report {
    /// `DNS`, `SOA SYNC`…: capitals and spaces.
    pub service: &'static str,
    pub status: Status,
    pub text: String,
    pub perf: Vec<Perf>,
}

impl Report {
    pub fn new(service: &'static str, status: Status, text: impl Into<String>) -> Report {
        Report {
            service,
            status,
            text: text.into(),
            perf: Vec::new(),
        }
    }

    /// UNKNOWN: the check could not run (bad arguments, say).
    pub fn unknown(service: &'static str, why: impl Into<String>) -> Report {
        Report::new(service, Status::Unknown, why)
    }

    /// `SERVICE STATUS: text|perfdata` and a line feed, at most 1 KiB:
    /// the text is cut first, then perfdata items from the end.
    pub fn render(&self) -> String {
        let text = one_line(&self.text);
        let mut perf = String::new();
        for p in &self.perf {
            let item = p.to_string();
            // Keep room for the head and a little text.
            if perf.len() + item.len() + 1 > MAX_OUTPUT - 200 {
                break;
            }
            if !perf.is_empty() {
                perf.push(' ');
            }
            perf.push_str(&item);
        }
        let head = format!("{} {}: ", self.service, self.status.name());
        let tail = if perf.is_empty() {
            String::new()
        } else {
            format!("|{perf}")
        };
        let room = MAX_OUTPUT - 1 - head.len() - tail.len();
        let mut line = head;
        if text.len() > room {
            let mut cut = room.saturating_sub(3);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let _ = write!(line, "{}...", &text[..cut]);
        } else {
            line.push_str(&text);
        }
        line.push_str(&tail);
        line.push('\n');
        line
    }
}

/// The text on one line, without `|` (it would start the perfdata).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            '|' => '/',
            c => c,
        })
        .collect()
}

/// Runs `rampart check WORDS…`: prints the status line, returns the
/// plugin exit code.
pub fn run(words: &[String]) -> ExitCode {
    let report = match words.first().map(String::as_str) {
        Some("dig") => dig::run(&words[1..]),
        Some("soa-sync") => soa_sync::run(&words[1..]),
        Some("time") => time::run(&words[1..]),
        Some("rrsig") => rrsig::run(&words[1..]),
        Some("stats") => stats::run(&words[1..]),
        Some("tls") => tls::run(&words[1..]),
        Some("-h" | "--help") | None => {
            print!("{USAGE}");
            return ExitCode::from(Status::Unknown as u8);
        }
        Some(other) => Report::unknown(
            "CHECK",
            format!(
                "unknown check '{other}': expected dig, soa-sync, time, rrsig, stats or tls \
                 (rampart check --help)"
            ),
        ),
    };
    print!("{}", report.render());
    ExitCode::from(report.status as u8)
}

/// Seconds to the text check_dig shows (`0.011`).
pub fn seconds_text(secs: f64) -> String {
    format!("{secs:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_before_warning_and_worst_of() {
        let w = Range::parse("1").unwrap();
        let c = Range::parse("2").unwrap();
        assert_eq!(Status::of(0.5, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(Status::of(1.5, Some(&w), Some(&c)), Status::Warning);
        assert_eq!(Status::of(3.0, Some(&w), Some(&c)), Status::Critical);
        assert_eq!(Status::of(3.0, None, None), Status::Ok);
        assert_eq!(Status::Ok.worst(Status::Warning), Status::Warning);
        assert_eq!(Status::Critical.worst(Status::Unknown), Status::Critical);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
    }

    #[test]
    fn status_line_shape_and_size() {
        let mut r = Report::new("DNS", Status::Ok, "fine | really\nyes");
        assert_eq!(r.render(), "DNS OK: fine / really yes\n");
        r.perf.push(Perf::new("time", Some(0.25), "s"));
        assert_eq!(r.render(), "DNS OK: fine / really yes|time=0.250000s\n");
        r.text = "é".repeat(2000);
        for i in 0..100 {
            r.perf
                .push(Perf::new(&format!("lag_server{i}"), Some(1.0), ""));
        }
        let out = r.render();
        assert!(out.len() <= MAX_OUTPUT, "{}", out.len());
        assert!(out.starts_with("DNS OK: é"));
        assert!(out.contains("...|time=0.250000s lag_server0=1 "), "{out}");
        assert!(out.ends_with('\n'));
    }
}
