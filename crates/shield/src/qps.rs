//! Rate limits: dnsdist's `MaxQPSIPRule` (per masked source address) and
//! `MaxQPSRule` (global), as GCRA buckets.
//!
//! GCRA keeps one number per bucket, the theoretical arrival time (TAT),
//! and behaves exactly like a token bucket of `burst` tokens refilled at
//! `qps` per second: a query is within the limit when the TAT, pushed
//! one emission interval on, stays within the burst tolerance of now.
//! The global limiter updates its TAT with a compare-and-swap; per-client
//! buckets live in shards, each behind its own mutex, so workers contend
//! only when they hit the same shard at the same moment.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::FxBuildHasher;

use crate::netmask::{mask, unmap};

/// Nanoseconds on a monotonic clock shared by all limiters, counted from
/// the first call. Read with `clock_gettime` directly: `Instant`'s
/// checked subtraction and u128 nanoseconds were most of a clock read's
/// cost, and the query path reads it twice per query.
pub fn now_ns() -> u64 {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let now = monotonic_ns();
    now.saturating_sub(*START.get_or_init(|| now.saturating_sub(1)))
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC
    // always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The time for one query, read from the clock once however many rate
/// rules ask (each read is a vDSO call; five MaxQPSIPRules made it 3% of
/// a query).
#[derive(Debug, Default)]
pub struct QueryClock(std::cell::Cell<u64>);

impl QueryClock {
    /// A clock that reads `ns` ([`now_ns`]), or the time of its first
    /// read if `ns` is 0.
    pub fn at(ns: u64) -> QueryClock {
        QueryClock(std::cell::Cell::new(ns))
    }

    pub fn now_ns(&self) -> u64 {
        match self.0.get() {
            0 => {
                let now = now_ns().max(1);
                self.0.set(now);
                now
            }
            now => now,
        }
    }
}

/// The arithmetic of one GCRA bucket.
#[derive(Clone, Copy, Debug)]
struct Gcra {
    /// Nanoseconds between two queries at the allowed rate.
    interval: u64,
    /// How far ahead of now the TAT may run: (burst - 1) intervals.
    tolerance: u64,
}

impl Gcra {
    fn new(qps: f64, burst: u32) -> Gcra {
        // Capped so that TAT arithmetic cannot overflow (now, tolerance
        // and interval each stay under 2^62): a rate of zero or below one
        // query in ~13 days is one query in ~13 days, and bursts of up to
        // 4096 stay exact at that rate.
        const MAX_INTERVAL: u64 = 1 << 50;
        let interval = if qps > 0.0 {
            ((1e9 / qps) as u64).min(MAX_INTERVAL)
        } else {
            MAX_INTERVAL
        };
        let burst = u64::from(burst.max(1));
        Gcra {
            interval,
            tolerance: interval.saturating_mul(burst - 1).min(1 << 62),
        }
    }

    /// The new TAT if a query at `now` is within the limit.
    fn admit(&self, tat: u64, now: u64) -> Option<u64> {
        let start = tat.max(now);
        if start - now > self.tolerance {
            None
        } else {
            Some(start.saturating_add(self.interval))
        }
    }
}

/// A global rate limit (`MaxQPSRule`, `QPSAction`).
#[derive(Debug)]
pub struct GlobalLimiter {
    gcra: Gcra,
    tat: AtomicU64,
    pub qps: f64,
    pub burst: u32,
}

impl GlobalLimiter {
    pub fn new(qps: f64, burst: u32) -> Self {
        GlobalLimiter {
            gcra: Gcra::new(qps, burst),
            tat: AtomicU64::new(0),
            qps,
            burst,
        }
    }

    /// Takes one token; false when over the limit.
    pub fn check(&self) -> bool {
        self.check_at(now_ns())
    }

    /// `check` at a time already read.
    pub fn check_at(&self, now: u64) -> bool {
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let Some(next) = self.gcra.admit(tat, now) else {
                return false;
            };
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
}

const SHARDS: usize = 16;
/// Buckets idle this long are forgotten (dnsdist's default expiration).
const EXPIRE_NS: u64 = 300 * 1_000_000_000;
/// How often a shard is swept for idle buckets.
const SWEEP_NS: u64 = 60 * 1_000_000_000;

struct Shard {
    buckets: HashMap<IpAddr, u64, FxBuildHasher>,
    last_sweep: u64,
}

/// Per-source rate limit (`MaxQPSIPRule`): one bucket per client address
/// truncated to /v4 or /v6.
pub struct ClientLimiter {
    gcra: Gcra,
    pub qps: f64,
    pub burst: u32,
    pub v4_mask: u8,
    pub v6_mask: u8,
    shards: Vec<Mutex<Shard>>,
}

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientLimiter({} qps /{} /{})",
            self.qps, self.v4_mask, self.v6_mask
        )
    }
}

impl ClientLimiter {
    pub fn new(qps: f64, burst: u32, v4_mask: u8, v6_mask: u8) -> Self {
        ClientLimiter {
            gcra: Gcra::new(qps, burst),
            qps,
            burst,
            v4_mask: v4_mask.min(32),
            v6_mask: v6_mask.min(128),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::default(),
                        last_sweep: 0,
                    })
                })
                .collect(),
        }
    }

    /// Takes one token from `client`'s bucket; false when it is over.
    pub fn check(&self, client: IpAddr) -> bool {
        self.check_at(client, now_ns())
    }

    /// `check` at a time already read.
    pub fn check_at(&self, client: IpAddr, now: u64) -> bool {
        let client = unmap(client);
        let key = match client {
            IpAddr::V4(_) => mask(client, self.v4_mask),
            IpAddr::V6(_) => mask(client, self.v6_mask),
        };
        let mut hasher_state = FxBuildHasher.build_hasher();
        key.hash(&mut hasher_state);
        let shard = (std::hash::Hasher::finish(&hasher_state) as usize) % SHARDS;
        let mut s = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        if now.saturating_sub(s.last_sweep) > SWEEP_NS {
            s.last_sweep = now;
            // A bucket whose TAT is long past is full again: forgetting it
            // changes nothing but memory.
            s.buckets
                .retain(|_, tat| tat.saturating_add(EXPIRE_NS) > now);
        }
        let tat = s.buckets.get(&key).copied().unwrap_or(0);
        match self.gcra.admit(tat, now) {
            Some(next) => {
                s.buckets.insert(key, next);
                true
            }
            None => false,
        }
    }

    /// Buckets currently held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.buckets.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limit_per_masked_client() {
        let l = ClientLimiter::new(5.0, 5, 24, 64);
        let a: IpAddr = "127.0.0.5".parse().unwrap();
        let same_24: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.1.5".parse().unwrap();
        let admitted = (0..5).filter(|_| l.check(a)).count();
        assert_eq!(admitted, 5, "the burst passes");
        assert!(!l.check(same_24), "the 6th from the same /24 is over");
        assert!(l.check(other), "another /24 has its own bucket");
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(l.check(a), "refilled at 5 qps after 200 ms");
    }

    #[test]
    fn global_limit() {
        let g = GlobalLimiter::new(10.0, 3);
        assert_eq!((0..10).filter(|_| g.check()).count(), 3);
    }

    #[test]
    fn zero_and_tiny_rates_admit_the_burst_then_nothing() {
        // These once overflowed the TAT arithmetic (a panic in debug, no
        // limit at all in release).
        for qps in [0.0, 1e-12, f64::MIN_POSITIVE] {
            let g = GlobalLimiter::new(qps, 5);
            assert_eq!((0..10).filter(|_| g.check()).count(), 5, "{qps}");
            let c = ClientLimiter::new(qps, 5, 32, 128);
            let ip = "192.0.2.1".parse().unwrap();
            assert_eq!((0..10).filter(|_| c.check(ip)).count(), 5, "{qps}");
        }
    }
}
