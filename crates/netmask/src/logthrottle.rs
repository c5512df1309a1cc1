//! Log lines anyone can cause by sending packets (a refused transfer, a
//! bad TSIG, a refused update, a NOTIFY from a stranger, an accept
//! error under a connection flood), throttled: one line per source
//! network and kind per [`INTERVAL`]; the next line of the pair says how
//! many were held back ("… (37 more suppressed)"), and a pair that falls
//! silent has its count written by [`flush`] (the control loop calls it
//! every second).
//!
//! A source is its /24 (IPv4) or /64 (IPv6): one host can change its
//! address inside those. The table is bounded ([`SOURCES`] pairs, those
//! of the last interval): when it is full, new sources share one entry
//! per kind, so a flood from many addresses still says one line per kind
//! per interval.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use log::Level;

/// One line per source and kind per this long.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Source and kind pairs remembered at most.
pub const SOURCES: usize = 1024;

/// A source network (None: the sources that did not fit the table).
type Key = (&'static str, Option<IpAddr>);

struct Entry {
    since: Instant,
    suppressed: u64,
    level: Level,
}

/// The table of one throttle; [`log`] and [`flush`] use the process's.
pub struct Throttle {
    entries: HashMap<Key, Entry>,
    capacity: usize,
    interval: Duration,
    last_sweep: Option<Instant>,
}

/// What [`Throttle::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write the line, saying how many of its pair were held back.
    Write {
        suppressed: u64,
    },
    Suppress,
}

/// A count of suppressed lines to write: the pair's network and kind.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub kind: &'static str,
    pub network: Option<IpAddr>,
    pub suppressed: u64,
    pub level: Level,
}

impl Throttle {
    pub fn new(capacity: usize, interval: Duration) -> Self {
        Throttle {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            interval,
            last_sweep: None,
        }
    }

    /// Whether a line of `kind` caused by `source` is written at `now`.
    pub fn admit(
        &mut self,
        kind: &'static str,
        source: Option<IpAddr>,
        level: Level,
        now: Instant,
    ) -> Verdict {
        let mut key = (kind, source.map(network));
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            // Full: make room from pairs whose interval ended without
            // anything held back (at most once a second: a flood of new
            // sources must not make every packet walk the table), or
            // count this one with the other sources of its kind.
            if self
                .last_sweep
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
            {
                self.last_sweep = Some(now);
                let interval = self.interval;
                self.entries.retain(|_, e| {
                    e.suppressed > 0 || now.saturating_duration_since(e.since) < interval
                });
            }
            if self.entries.len() >= self.capacity {
                key = (kind, None);
            }
        }
        match self.entries.get_mut(&key) {
            Some(e) if now.saturating_duration_since(e.since) < self.interval => {
                e.suppressed += 1;
                Verdict::Suppress
            }
            Some(e) => {
                let suppressed = std::mem::take(&mut e.suppressed);
                e.since = now;
                e.level = level;
                Verdict::Write { suppressed }
            }
            None => {
                // The shared entry may go past the capacity: one per kind.
                self.entries.insert(
                    key,
                    Entry {
                        since: now,
                        suppressed: 0,
                        level,
                    },
                );
                Verdict::Write { suppressed: 0 }
            }
        }
    }

    /// The counts of pairs whose interval ended with lines held back;
    /// those pairs, and the ones that ended quietly, are forgotten.
    pub fn expire(&mut self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        let interval = self.interval;
        self.entries.retain(|(kind, network), e| {
            if now.saturating_duration_since(e.since) < interval {
                return true;
            }
            if e.suppressed > 0 {
                out.push(Summary {
                    kind,
                    network: *network,
                    suppressed: e.suppressed,
                    level: e.level,
                });
            }
            false
        });
        out.sort_by_key(|s| (s.kind, s.network));
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The network a source is counted by: its /24 or /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & 0xffff_ff00)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(a) & !0u128 << 64)),
        },
    }
}

fn network_text(network: Option<IpAddr>) -> String {
    match network {
        Some(IpAddr::V4(a)) => format!("{a}/24"),
        Some(IpAddr::V6(a)) => format!("{a}/64"),
        None => "other sources".into(),
    }
}

static TABLE: LazyLock<Mutex<Throttle>> =
    LazyLock::new(|| Mutex::new(Throttle::new(SOURCES, INTERVAL)));

fn table() -> std::sync::MutexGuard<'static, Throttle> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the line `msg` makes (made only when written) at `level`,
/// unless a line of the same `kind` from the network of `client` was
/// written less than [`INTERVAL`] ago. The structured log formats get
/// the kind, the client and the count held back as fields.
pub fn log(level: Level, kind: &'static str, client: Option<IpAddr>, msg: impl FnOnce() -> String) {
    if !log::log_enabled!(level) {
        return;
    }
    let verdict = table().admit(kind, client, level, Instant::now());
    let Verdict::Write { suppressed } = verdict else {
        return;
    };
    let text = msg();
    let client = client.map(|c| c.to_string()).unwrap_or_default();
    if suppressed > 0 {
        log::log!(level, kind, client, suppressed; "{text} ({suppressed} more suppressed)");
    } else {
        log::log!(level, kind, client; "{text}");
    }
}

/// Writes the counts held back by pairs that fell silent (their next line
/// would have said them). Once a second from the control loop.
pub fn flush() {
    let summaries = table().expire(Instant::now());
    for s in summaries {
        let (kind, suppressed) = (s.kind, s.suppressed);
        let secs = INTERVAL.as_secs();
        log::log!(
            s.level,
            kind,
            suppressed;
            "{kind} from {}: {suppressed} more suppressed (one line per {secs} s)",
            network_text(s.network)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn one_line_per_network_and_kind_per_interval() {
        let mut t = Throttle::new(16, INTERVAL);
        let t0 = Instant::now();
        let w = Level::Warn;
        assert_eq!(
            t.admit("x", ip("192.0.2.1"), w, t0),
            Verdict::Write { suppressed: 0 }
        );
        // Same /24, same kind: held back; another kind or network: written.
        for i in 0..37 {
            let a = format!("192.0.2.{}", i % 250);
            assert_eq!(t.admit("x", ip(&a), w, t0), Verdict::Suppress);
        }
        assert_eq!(
            t.admit("y", ip("192.0.2.1"), w, t0),
            Verdict::Write { suppressed: 0 }
        );
        assert_eq!(
            t.admit("x", ip("192.0.3.1"), w, t0),
            Verdict::Write { suppressed: 0 }
        );
        // IPv6 by /64.
        assert_eq!(
            t.admit("x", ip("2001:db8::1"), w, t0),
            Verdict::Write { suppressed: 0 }
        );
        assert_eq!(
            t.admit("x", ip("2001:db8::ffff:1"), w, t0),
            Verdict::Suppress
        );
        assert_eq!(
            t.admit("x", ip("2001:db8:0:1::1"), w, t0),
            Verdict::Write { suppressed: 0 }
        );
        // The next interval's first line carries the count.
        let t1 = t0 + INTERVAL;
        assert_eq!(
            t.admit("x", ip("192.0.2.200"), w, t1),
            Verdict::Write { suppressed: 37 }
        );
        assert_eq!(t.admit("x", ip("192.0.2.7"), w, t1), Verdict::Suppress);
    }

    #[test]
    fn silent_pairs_have_their_count_flushed_and_are_forgotten() {
        let mut t = Throttle::new(16, INTERVAL);
        let t0 = Instant::now();
        for _ in 0..5 {
            t.admit("x", ip("10.0.0.1"), Level::Info, t0);
        }
        t.admit("y", ip("10.0.0.1"), Level::Warn, t0);
        assert!(t.expire(t0 + Duration::from_secs(1)).is_empty());
        let out = t.expire(t0 + INTERVAL);
        assert_eq!(
            out,
            vec![Summary {
                kind: "x",
                network: ip("10.0.0.0"),
                suppressed: 4,
                level: Level::Info
            }]
        );
        assert!(t.is_empty());
        assert_eq!(
            t.admit("x", ip("10.0.0.1"), Level::Info, t0 + INTERVAL),
            Verdict::Write { suppressed: 0 }
        );
    }

    #[test]
    fn a_full_table_shares_one_entry_per_kind() {
        let mut t = Throttle::new(4, INTERVAL);
        let t0 = Instant::now();
        let mut written = 0;
        for i in 0..10_000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i << 8)));
            if let Verdict::Write { .. } = t.admit("x", Some(a), Level::Warn, t0) {
                written += 1;
            }
        }
        // Four networks, then one line for all the others.
        assert_eq!(written, 5);
        assert_eq!(t.len(), 5);
        let out = t.expire(t0 + INTERVAL);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].network, out[0].suppressed), (None, 10_000 - 5));
        // Room again once the interval passed.
        let a = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(
            t.admit("x", Some(a), Level::Warn, t0 + INTERVAL),
            Verdict::Write { suppressed: 0 }
        );
    }

    #[test]
    fn networks() {
        assert_eq!(
            network("192.0.2.77".parse().unwrap()),
            ip("192.0.2.0").unwrap()
        );
        assert_eq!(
            network("::ffff:192.0.2.77".parse().unwrap()),
            ip("192.0.2.0").unwrap()
        );
        assert_eq!(
            network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            ip("2001:db8:1:2::").unwrap()
        );
        assert_eq!(network_text(None), "other sources");
    }
}
