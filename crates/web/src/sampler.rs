//! Once a second, the counters' growth: queries per second for the
//! dashboard's charts (the last five minutes) and per backend (the API's
//! `qps`). Read from the workers' counters, so the query path pays
//! nothing for it.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Context;

/// Seconds of history kept.
const HISTORY: usize = 300;

/// One second of traffic.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Point {
    /// Unix time, seconds.
    pub time: u64,
    pub queries: u64,
    pub responses: u64,
    /// ACL, rule, dynamic-block and RRL drops.
    pub dropped: u64,
    pub servfail: u64,
    pub nxdomain: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Backend latency, average over the last 100 answers, µs.
    pub latency_us: f64,
}

#[derive(Default)]
struct Inner {
    history: VecDeque<Point>,
    last: Option<Totals>,
    /// Per backend: queries at the last sample, and the rate since.
    backends: HashMap<SocketAddr, (u64, f64)>,
}

#[derive(Clone, Copy)]
struct Totals {
    queries: u64,
    responses: u64,
    dropped: u64,
    servfail: u64,
    nxdomain: u64,
    cache_hits: u64,
    cache_misses: u64,
}

/// What the sampler has seen.
#[derive(Default)]
pub(crate) struct Samples {
    inner: Mutex<Inner>,
}

impl Samples {
    /// The last `HISTORY` seconds, oldest first.
    pub fn history(&self) -> Vec<Point> {
        self.lock().history.iter().copied().collect()
    }

    /// Queries a second over the last second.
    pub fn qps(&self) -> u64 {
        self.lock().history.back().map_or(0, |p| p.queries)
    }

    /// A backend's queries a second.
    pub fn backend_qps(&self, addr: SocketAddr) -> f64 {
        self.lock().backends.get(&addr).map_or(0.0, |b| b.1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, ctx: &Context) {
        let state = ctx.shared.load();
        let s = &state.runtime.stats;
        let now = Totals {
            queries: s.queries.get(),
            responses: s.responses.get(),
            dropped: s.acl_drops.get()
                + s.rule_drop.get()
                + s.dyn_blocked.get()
                + s.rrl_dropped.get(),
            servfail: s.frontend_servfail.get(),
            nxdomain: s.frontend_nxdomain.get(),
            cache_hits: s.cache_hits.get(),
            cache_misses: s.cache_misses.get(),
        };
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let latency_us = s.latency.averages()[0].1;
        let mut inner = self.lock();
        if let Some(last) = inner.last {
            let d = |a: u64, b: u64| a.saturating_sub(b);
            let point = Point {
                time,
                queries: d(now.queries, last.queries),
                responses: d(now.responses, last.responses),
                dropped: d(now.dropped, last.dropped),
                servfail: d(now.servfail, last.servfail),
                nxdomain: d(now.nxdomain, last.nxdomain),
                cache_hits: d(now.cache_hits, last.cache_hits),
                cache_misses: d(now.cache_misses, last.cache_misses),
                latency_us,
            };
            if inner.history.len() == HISTORY {
                inner.history.pop_front();
            }
            inner.history.push_back(point);
        }
        inner.last = Some(now);
        let mut seen = HashMap::new();
        for b in &state.upstream.pools.backends {
            let q = b.queries();
            let rate = inner
                .backends
                .get(&b.addr)
                .map_or(0.0, |(before, _)| q.saturating_sub(*before) as f64);
            seen.insert(b.addr, (q, rate));
        }
        inner.backends = seen;
    }
}

/// Samples every second until the process ends.
pub(crate) async fn run(ctx: Arc<Context>, samples: Arc<Samples>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        samples.take(&ctx);
    }
}
