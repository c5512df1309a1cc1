//! `check dig`: does a server answer a name, with what, how fast. Like
//! the stock `check_dig` (same options, same perfdata, same states: an
//! answer without the expected RDATA is WARNING, no answer record at all
//! — NXDOMAIN, NODATA, REFUSED, SERVFAIL — CRITICAL), except that a
//! server that does not answer is CRITICAL where `check_dig` says
//! WARNING ("dig returned an error status").

use std::net::SocketAddr;
use std::time::Duration;

use wire::types::rtype;
use wire::Section;
use zone::records::Record;

use super::dns::{self, Answer};
use super::opts::{Opts, Spec};
use super::perfdata::Perf;
use super::range::Range;
use super::{seconds_text, Report, Status};

const SERVICE: &str = "DNS";

/// check_dig's options, with its long names.
const SPECS: &[Spec] = &[
    ("-H", "--hostname", true),
    ("-p", "--port", true),
    ("-l", "--query_address", true),
    ("-T", "--record_type", true),
    ("-a", "--expected_address", true),
    ("--tcp", "--tcp", false),
    ("-A", "--dig-arguments", true),
    ("-w", "--warning", true),
    ("-c", "--critical", true),
];

struct Settings {
    server: SocketAddr,
    name: Vec<u8>,
    qtype: u16,
    expected: Option<String>,
    tcp: bool,
    warn: Option<Range>,
    crit: Option<Range>,
    timeout: Duration,
}

fn settings(words: &[String]) -> Result<Settings, String> {
    let o = Opts::parse(words, SPECS)?;
    if let Some(extra) = o.positional.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let host = o.need("-H", "HOST (the server to ask)")?;
    let name = o.need("-l", "NAME (the name to look up)")?;
    let qtype = match o.get("-T") {
        None => rtype::A,
        Some(t) => {
            wire::types::rtype_from_name(t).ok_or_else(|| format!("-T: unknown type '{t}'"))?
        }
    };
    Ok(Settings {
        server: dns::resolve(host, o.port(53)?, o.family()?)?,
        name: wire::name::parse(name).map_err(|e| format!("-l: {e}"))?,
        qtype,
        expected: o.get("-a").map(String::from),
        tcp: o.has("--tcp") || dig_arguments(o.get("-A").unwrap_or(""))?,
        warn: o.range("-w", Range::parse)?,
        crit: o.range("-c", Range::parse)?,
        timeout: o.timeout()?,
    })
}

pub fn run(words: &[String]) -> Report {
    match settings(words) {
        Ok(s) => check(&s),
        Err(e) => Report::unknown(SERVICE, e),
    }
}

fn check(s: &Settings) -> Report {
    let question = dns::Question {
        recursion: true,
        ..dns::Question::new(&s.name, s.qtype)
    };
    let answer = match dns::ask(s.server, &question, s.tcp, s.timeout) {
        Ok(a) => a,
        Err(e) => return Report::new(SERVICE, Status::Critical, e),
    };
    let secs = answer.elapsed.as_secs_f64();
    let time_status = Status::of(secs, s.warn.as_ref(), s.crit.as_ref());
    let (content_status, problem, shown) = judge(s, &answer);
    let mut text = format!("{} seconds response time", seconds_text(secs));
    if let Some(p) = problem {
        text.push_str(", ");
        text.push_str(&p);
    }
    if let Some(line) = shown {
        // A long TXT must not push the perfdata out.
        let line: String = line.chars().take(300).collect();
        text.push_str(&format!(" ({line})"));
    }
    let mut r = Report::new(SERVICE, content_status.worst(time_status), text);
    r.perf.push(
        Perf::new("time", Some(secs), "s")
            .thresholds(s.warn, s.crit)
            .min(0.0),
    );
    r
}

/// What the answer's content says: its status, the problem, and the
/// record to show (the expected one, else the first of the type).
fn judge(s: &Settings, answer: &Answer) -> (Status, Option<String>, Option<String>) {
    let rcode = dns::rcode_name(&answer.message);
    if rcode != "NOERROR" {
        return (
            Status::Critical,
            Some(format!("server answered {rcode}")),
            None,
        );
    }
    let lines: Vec<String> = answer
        .message
        .section(Section::Answer)
        .filter(|r| r.rtype == s.qtype)
        .map(|r| {
            zone::text::record_line(&Record {
                owner: r.owner.clone().into_boxed_slice(),
                rtype: r.rtype,
                ttl: r.ttl,
                rdata: r.rdata.clone().into_boxed_slice(),
            })
        })
        .collect();
    let type_name = wire::types::rtype_name(s.qtype);
    let Some(first) = lines.first() else {
        return (
            Status::Critical,
            Some(format!(
                "no {type_name} record for {} in the answer",
                wire::name::to_text(&s.name)
            )),
            None,
        );
    };
    let Some(expected) = &s.expected else {
        return (Status::Ok, None, Some(first.clone()));
    };
    match lines.iter().find(|l| rdata_matches(l, expected)) {
        Some(l) => (Status::Ok, None, Some(l.clone())),
        None => (
            Status::Warning,
            Some(format!("expected '{expected}' not in the answer")),
            Some(first.clone()),
        ),
    }
}

/// check_dig's `-A "dig options"`: of those, only `+tcp` (`+vc`) changes
/// what this check does; anything else is refused rather than ignored.
fn dig_arguments(text: &str) -> Result<bool, String> {
    let mut tcp = false;
    for word in text.split_whitespace() {
        match word {
            "+tcp" | "+vc" => tcp = true,
            "+notcp" | "+novc" => tcp = false,
            other => return Err(format!("-A: only +tcp is understood, not '{other}'")),
        }
    }
    Ok(tcp)
}

/// Whether the RDATA of a record line (`owner TTL IN TYPE rdata`) is
/// `expected`, ignoring case and a final dot on names.
fn rdata_matches(line: &str, expected: &str) -> bool {
    let rdata = line.splitn(5, ' ').nth(4).unwrap_or("");
    let norm = |t: &str| t.trim().trim_end_matches('.').to_ascii_lowercase();
    norm(rdata) == norm(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_rdata_compares_whole() {
        let line = "www.example.org. 300 IN A 192.0.2.10";
        assert!(rdata_matches(line, "192.0.2.10"));
        assert!(!rdata_matches(line, "192.0.2.1"));
        let line = "example.org. 300 IN MX 10 Mail.example.org.";
        assert!(rdata_matches(line, "10 mail.example.org"));
    }

    #[test]
    fn bad_arguments_say_why() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let e = |s: &str| settings(&w(s)).err().unwrap_or_default();
        assert!(e("-l x").contains("-H"));
        assert!(e("-H 127.0.0.1").contains("-l"));
        assert!(e("-H 127.0.0.1 -l x -T BOGUS").contains("unknown type"));
        assert!(e("-H 127.0.0.1 -l x -w 2:1").contains("bad range"));
        assert!(e("-H 127.0.0.1 -l x -p 0").contains("bad port"));
        assert!(e("-H 127.0.0.1 -l x -A +dnssec").contains("only +tcp"));
        assert!(settings(&w("-H 127.0.0.1 -l x -w 1 -c 2 --tcp")).is_ok());
        assert!(settings(&w("-H 127.0.0.1 -l x -A +tcp")).unwrap().tcp);
    }
}
