//! Counters and the inspection commands that read the rings, in the
//! formats dnsdist prints (`topQueries`, `topClients`, `topResponses`,
//! `topBandwidth`, `grepq`, `dumpStats`).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::counter::Counter;
use crate::netmask::Netmask;
use crate::qps::now_ns;
#[cfg(test)]
use crate::rings::Record;
use crate::rings::{Entry, Rings};

/// The counters, under dnsdist's names.
#[derive(Debug, Default)]
pub struct Stats {
    pub queries: Counter,
    pub responses: Counter,
    pub acl_drops: Counter,
    pub rule_drop: Counter,
    pub rule_nxdomain: Counter,
    pub rule_refused: Counter,
    pub rule_servfail: Counter,
    pub rule_truncated: Counter,
    pub dyn_blocked: Counter,
    pub self_answered: Counter,
    pub noncompliant_queries: Counter,
    pub frontend_noerror: Counter,
    pub frontend_nxdomain: Counter,
    pub frontend_servfail: Counter,
    pub no_policy: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    /// Responses Response Rate Limiting dropped, and sent truncated.
    pub rrl_dropped: Counter,
    pub rrl_slipped: Counter,
    /// Queries with a COOKIE option; with a valid server cookie; with a
    /// malformed one (FORMERR); answered BADCOOKIE.
    pub cookie_in: Counter,
    pub cookie_valid: Counter,
    pub cookie_malformed: Counter,
    pub cookie_bad: Counter,
    /// TCP connections refused at a limit, and idle ones closed to make
    /// room for a new client.
    pub tcp_refused: Counter,
    pub tcp_evicted: Counter,
    /// Clients banned from TCP (connection rate, read calls per query).
    pub tcp_banned: Counter,
    /// Of those, banned for their rate of new or resumed TLS sessions
    /// (`setMaxTLSNewSessionRatePerClient`, `…ResumedSessionRate…`).
    pub tls_session_rate_banned: Counter,
    /// TCP connections taken and ended (the difference is open now).
    pub tcp_opened: Counter,
    pub tcp_closed: Counter,
    /// Queries with RD set; queries with no question.
    pub rdqueries: Counter,
    pub empty_queries: Counter,
    /// Backend answers with SERVFAIL.
    pub servfail_responses: Counter,
    /// How long backends took to answer.
    pub latency: Latency,
}

/// The latency of answers relayed from backends, as dnsdist counts it:
/// a histogram in milliseconds, a sum and a count, and running averages
/// over the last 100 to 1,000,000 answers.
#[derive(Debug, Default)]
pub struct Latency {
    buckets: [Counter; 6],
    sum_ms: Counter,
    count: Counter,
    /// f64 bits, µs. Updated with a plain load and store, not a
    /// compare-and-swap: two answers at the same instant may lose one
    /// sample from an average of a hundred or more, which no reader can
    /// tell, and no thread ever waits.
    averages: [std::sync::atomic::AtomicU64; 4],
}

/// dnsdist's histogram bounds, ms, and the names of its counters.
const LATENCY_BUCKETS: [(u32, &str); 6] = [
    (1, "latency0-1"),
    (10, "latency1-10"),
    (50, "latency10-50"),
    (100, "latency50-100"),
    (1000, "latency100-1000"),
    (u32::MAX, "latency-slow"),
];
const LATENCY_AVERAGES: [(f64, &str); 4] = [
    (100.0, "latency-avg100"),
    (1000.0, "latency-avg1000"),
    (10000.0, "latency-avg10000"),
    (1000000.0, "latency-avg1000000"),
];

impl Latency {
    /// One answer that took `us` microseconds.
    pub fn record(&self, us: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let ms = us / 1000;
        let i = LATENCY_BUCKETS
            .iter()
            .position(|(bound, _)| ms < *bound)
            .unwrap_or(LATENCY_BUCKETS.len() - 1);
        self.buckets[i].add(1);
        self.sum_ms.add(u64::from(ms));
        self.count.add(1);
        for (avg, (n, _)) in self.averages.iter().zip(LATENCY_AVERAGES) {
            let old = f64::from_bits(avg.load(Relaxed));
            let new = old + (f64::from(us) - old) / n;
            avg.store(new.to_bits(), Relaxed);
        }
    }

    /// The histogram's counts by dnsdist's names (`latency0-1`, …,
    /// `latency-slow`).
    pub fn buckets(&self) -> [(&'static str, u64); 6] {
        std::array::from_fn(|i| (LATENCY_BUCKETS[i].1, self.buckets[i].get()))
    }

    /// Upper bounds of the buckets in ms (the last is unbounded).
    pub fn bounds_ms() -> [u32; 5] {
        std::array::from_fn(|i| LATENCY_BUCKETS[i].0)
    }

    /// `latency-sum` (ms) and `latency-count`.
    pub fn sum_and_count(&self) -> (u64, u64) {
        (self.sum_ms.get(), self.count.get())
    }

    /// The running averages, µs, by dnsdist's names.
    pub fn averages(&self) -> [(&'static str, f64); 4] {
        std::array::from_fn(|i| {
            let v = self.averages[i].load(std::sync::atomic::Ordering::Relaxed);
            (LATENCY_AVERAGES[i].1, f64::from_bits(v))
        })
    }
}

impl Stats {
    /// Counts an answer sent with `rcode`.
    pub fn answered(&self, rcode: u16) {
        self.responses.add(1);
        match rcode {
            0 => self.frontend_noerror.add(1),
            2 => self.frontend_servfail.add(1),
            3 => self.frontend_nxdomain.add(1),
            _ => {}
        }
    }

    /// Every counter, by name, sorted.
    pub fn all(&self) -> Vec<(&'static str, u64)> {
        let mut v = vec![
            ("acl-drops", self.acl_drops.get()),
            ("cache-hits", self.cache_hits.get()),
            ("cache-misses", self.cache_misses.get()),
            ("cookie-badcookie", self.cookie_bad.get()),
            ("cookie-in", self.cookie_in.get()),
            ("cookie-malformed", self.cookie_malformed.get()),
            ("cookie-valid", self.cookie_valid.get()),
            ("rrl-dropped", self.rrl_dropped.get()),
            ("rrl-slipped", self.rrl_slipped.get()),
            ("tcp-banned", self.tcp_banned.get()),
            ("tcp-closed", self.tcp_closed.get()),
            ("tcp-evicted-idle", self.tcp_evicted.get()),
            ("tcp-opened", self.tcp_opened.get()),
            ("tcp-refused", self.tcp_refused.get()),
            (
                "tls-session-rate-banned",
                self.tls_session_rate_banned.get(),
            ),
            ("dyn-blocked", self.dyn_blocked.get()),
            ("frontend-noerror", self.frontend_noerror.get()),
            ("frontend-nxdomain", self.frontend_nxdomain.get()),
            ("frontend-servfail", self.frontend_servfail.get()),
            ("no-policy", self.no_policy.get()),
            ("noncompliant-queries", self.noncompliant_queries.get()),
            ("queries", self.queries.get()),
            ("responses", self.responses.get()),
            ("rule-drop", self.rule_drop.get()),
            ("rule-nxdomain", self.rule_nxdomain.get()),
            ("rule-refused", self.rule_refused.get()),
            ("rule-servfail", self.rule_servfail.get()),
            ("rule-truncated", self.rule_truncated.get()),
            ("self-answered", self.self_answered.get()),
            ("rdqueries", self.rdqueries.get()),
            ("empty-queries", self.empty_queries.get()),
            ("servfail-responses", self.servfail_responses.get()),
        ];
        v.sort_by_key(|(n, _)| *n);
        v
    }

    /// `showTCPStats()`: connections open, taken, ended, refused at a
    /// limit, and closed idle to make room.
    pub fn show_tcp(&self) -> String {
        let (opened, closed) = (self.tcp_opened.get(), self.tcp_closed.get());
        format!(
            "{:<10}{:<10}{:<10}{:<10}{:<12}{}\n{:<10}{:<10}{:<10}{:<10}{:<12}{}\n",
            "Current",
            "Opened",
            "Closed",
            "Refused",
            "EvictedIdle",
            "Banned",
            opened.saturating_sub(closed),
            opened,
            closed,
            self.tcp_refused.get(),
            self.tcp_evicted.get(),
            self.tcp_banned.get()
        )
    }

    /// `dumpStats()`: the counters in two columns.
    pub fn dump(&self) -> String {
        let all = self.all();
        let half = all.len().div_ceil(2);
        let mut out = String::new();
        for i in 0..half {
            let (a, av) = all[i];
            out.push_str(&format!("{a:<35}{av:<12}"));
            if let Some((b, bv)) = all.get(i + half) {
                out.push_str(&format!("{b:<35}{bv}"));
            }
            out.push('\n');
        }
        out
    }
}

/// Per-name query counts (`setQueryCount(true)`, `getQueryCounters`),
/// off unless asked for: counting takes a shard lock per query.
#[derive(Debug, Default)]
pub struct QueryCounts {
    pub enabled: std::sync::atomic::AtomicBool,
    shards: [std::sync::Mutex<HashMap<Box<[u8]>, u64>>; 16],
}

/// Names counted at most (a flood of random names must not grow it).
const MAX_COUNTED: usize = 100_000;

impl QueryCounts {
    /// Counts `lname` if counting is on.
    pub fn count(&self, lname: &[u8]) {
        if !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let h = lname
            .iter()
            .fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let mut shard = self.shards[h as usize % 16]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = shard.get_mut(lname) {
            *c += 1;
        } else if shard.len() < MAX_COUNTED / 16 {
            shard.insert(lname.into(), 1);
        }
    }

    /// `getQueryCounters(max)`: `name: count` lines, busiest first.
    pub fn show(&self, max: usize) -> String {
        let mut all: Vec<(String, u64)> = Vec::new();
        for shard in &self.shards {
            let s = shard.lock().unwrap_or_else(|p| p.into_inner());
            all.extend(s.iter().map(|(n, c)| (wire::name::to_text(n), *c)));
        }
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut out = format!(
            "query counting is currently: {}\n",
            if self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
                "enabled"
            } else {
                "disabled"
            }
        );
        out.push_str(&format!("query count map entries: {}\n", all.len()));
        for (name, count) in all.into_iter().take(max) {
            out.push_str(&format!("{name}: {count}\n"));
        }
        out
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

/// The rightmost `labels` labels of a lowercase wire name, as text. Cut
/// on the wire form: a label with an escaped dot stays one label.
fn name_key(name: &[u8], labels: Option<usize>) -> String {
    let kept = labels
        .and_then(|n| wire::name::last_labels(name, n))
        .unwrap_or(name);
    wire::name::to_text(kept)
}

/// The top-N table dnsdist prints: rank, key, count, share, then `Rest`.
pub fn top_table(counts: HashMap<String, u64>, n: usize) -> String {
    let total: u64 = counts.values().sum();
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let pct = |c: u64| {
        if total == 0 {
            0.0
        } else {
            100.0 * c as f64 / total as f64
        }
    };
    let mut out = String::new();
    let mut shown = 0;
    for (i, (key, count)) in rows.iter().take(n).enumerate() {
        out.push_str(&format!(
            "{:4}  {:<40} {:4} {:4.1}%\n",
            i + 1,
            key,
            count,
            pct(*count)
        ));
        shown += count;
    }
    let rest = total - shown;
    out.push_str(&format!(
        "{:4}  {:<40} {:4} {:4.1}%\n",
        rows.len().min(n) + 1,
        "Rest",
        rest,
        pct(rest)
    ));
    out
}

/// `topQueries(n, labels)`: the most asked names in the query ring.
pub fn top_queries(rings: &Rings, n: usize, labels: Option<usize>) -> String {
    let mut counts = HashMap::new();
    rings.queries.for_each(0, |e| {
        *counts.entry(name_key(e.name(), labels)).or_insert(0) += 1
    });
    top_table(counts, n)
}

/// `topClients(n)`: the busiest client addresses in the query ring.
pub fn top_clients(rings: &Rings, n: usize) -> String {
    let mut counts = HashMap::new();
    rings
        .queries
        .for_each(0, |e| *counts.entry(e.client.to_string()).or_insert(0) += 1);
    top_table(counts, n)
}

/// `topResponses(n, rcode, labels)`: the names most answered with `rcode`.
pub fn top_responses(rings: &Rings, n: usize, rcode: u16, labels: Option<usize>) -> String {
    let mut counts = HashMap::new();
    rings.responses.for_each(0, |e| {
        if e.rcode == rcode {
            *counts.entry(name_key(e.name(), labels)).or_insert(0) += 1;
        }
    });
    top_table(counts, n)
}

/// `topSlow(n, ms, labels)`: the names answered no faster than `ms`.
pub fn top_slow(rings: &Rings, n: usize, ms: u32, labels: Option<usize>) -> String {
    let mut counts = HashMap::new();
    let floor = u64::from(ms) * 1000;
    rings.responses.for_each(0, |e| {
        if u64::from(e.latency_us) >= floor {
            *counts.entry(name_key(e.name(), labels)).or_insert(0) += 1;
        }
    });
    top_table(counts, n)
}

/// `topBandwidth(n)`: clients by response bytes.
pub fn top_bandwidth(rings: &Rings, n: usize) -> String {
    let mut counts: HashMap<String, u64> = HashMap::new();
    rings.responses.for_each(0, |e| {
        *counts.entry(e.client.to_string()).or_insert(0) += u64::from(e.size)
    });
    top_table(counts, n)
}

/// What `grepq` looks for.
pub enum Grep {
    Net(Netmask),
    /// Lowercase wire name, matched as a suffix.
    Name(Vec<u8>),
}

/// `grepq(what, n)`: the last `n` queries and responses that match.
pub fn grepq(rings: &Rings, what: &[Grep], n: usize) -> String {
    let matches = |e: &Entry| {
        what.iter().any(|g| match g {
            Grep::Net(m) => m.contains(e.client),
            Grep::Name(n) => wire::name::is_subdomain(e.name(), n),
        })
    };
    let mut rows: Vec<(u64, String)> = Vec::new();
    let now = now_ns();
    let mut push = |e: &Entry, response: bool| {
        if !matches(e) {
            return;
        }
        let ago = (now.saturating_sub(e.time)) as f64 / 1e9;
        let client: IpAddr = e.client;
        let proto = if e.tcp { "TCP" } else { "UDP" };
        let rcode = if response {
            rcode_name(e.rcode)
        } else {
            "Question".into()
        };
        let answers = if response {
            format!("{}", e.answers)
        } else {
            String::new()
        };
        rows.push((
            e.time,
            format!(
                "{:<8.1} {:<40} {:<4} {:<30} {:<6} {:<7} {:<9} {}",
                -ago,
                client,
                proto,
                wire::name::to_text(e.name()),
                wire::types::rtype_name(e.qtype),
                answers,
                rcode,
                ""
            ),
        ));
    };
    rings.queries.for_each(0, |e| push(e, false));
    rings.responses.for_each(0, |e| push(e, true));
    rows.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let mut out = format!(
        "{:<8} {:<40} {:<4} {:<30} {:<6} {:<7} {:<9}\n",
        "Time", "Client", "Prot", "Name", "Type", "Answers", "Rcode"
    );
    for (_, line) in rows.into_iter().take(n).rev() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// dnsdist's name of a response code (borrowed for the common ones: a
/// response log line per answer must not allocate for it).
pub fn rcode_name(rc: u16) -> std::borrow::Cow<'static, str> {
    match rc {
        0 => "No Error".into(),
        1 => "Form Error".into(),
        2 => "Server Failure".into(),
        3 => "Non-Existent domain".into(),
        4 => "Not Implemented".into(),
        5 => "Query Refused".into(),
        other => format!("Rcode {other}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_by_labels_cuts_the_wire_name() {
        // "a\.b.c.": two labels, the first with a dot in it.
        let name = b"\x03a.b\x01c\x00";
        assert_eq!(name_key(name, Some(2)), "a\\.b.c.");
        assert_eq!(name_key(name, Some(1)), "c.");
        assert_eq!(name_key(name, Some(5)), "a\\.b.c.");
        assert_eq!(name_key(b"\x00", Some(1)), ".");
    }

    #[test]
    fn top_queries_as_dnsdist_prints() {
        let rings = Rings::new(100, 1);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..18 {
            rings
                .queries
                .record(&Record::query(ip, b"\x03www\x08balaskas\x02gr\x00", 1));
        }
        for _ in 0..2 {
            rings
                .queries
                .record(&Record::query(ip, b"\x07example\x03com\x00", 1));
        }
        assert_eq!(
            top_queries(&rings, 10, Some(2)),
            "   1  balaskas.gr.                               18 90.0%\n   2  example.com.                                2 10.0%\n   3  Rest                                        0  0.0%\n"
        );
        assert!(top_clients(&rings, 1)
            .starts_with("   1  127.0.0.1                                  20 100.0%\n"));
        assert!(
            grepq(
                &rings,
                &[Grep::Name(b"\x07example\x03com\x00".to_vec())],
                10
            )
            .lines()
            .count()
                == 3
        );
    }

    #[test]
    fn dump_stats_lists_every_counter() {
        let s = Stats::default();
        s.queries.add(3);
        let d = s.dump();
        assert!(d.contains("queries                            3"), "{d}");
        assert_eq!(d.lines().count(), s.all().len().div_ceil(2));
        assert!(d.contains("rrl-dropped"), "{d}");
    }
}
