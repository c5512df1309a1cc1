//! Backends and pools: what rampart forwards to when it fronts servers it
//! does not host (dnsdist's `newServer`, pools and server policies).
//!
//! A [`Backend`] holds its settings and its live state in atomics — admin
//! state (auto/up/down), health, outstanding queries, counters, latency —
//! so the config, the console, the forwarders and the health checks share
//! one object without locks. [`Pools`] groups them; [`Policy`] picks one.
//! The sockets (forwarding, health checks) live in `net`.

pub mod backend;
pub mod cache;
pub mod policy;

pub use backend::{Admin, Backend, HealthCheck};
pub use cache::{CacheKey, CacheOptions, PacketCache};
pub use policy::Policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Backends by pool name ("" is the default pool).
#[derive(Clone, Debug, Default)]
pub struct Pools {
    pub backends: Vec<Arc<Backend>>,
    pub policy: Policy,
    /// SERVFAIL instead of dropping when a pool has no server up.
    pub servfail_when_no_server: bool,
    /// Packet caches by pool (`getPool(name):setCache(pc)`).
    pub caches: HashMap<String, Arc<PacketCache>>,
    /// How long past expiry a cached answer may be served when no server
    /// is up (`setStaleCacheEntriesTTL`; 0: never).
    pub stale_ttl: u32,
}

impl Pools {
    /// The backends of `pool`, in declaration order.
    pub fn members<'a>(&'a self, pool: &'a str) -> impl Iterator<Item = &'a Arc<Backend>> + 'a {
        self.backends
            .iter()
            .filter(move |b| b.pools.iter().any(|p| p == pool))
    }

    /// Picks a backend of `pool` that is up; `hash` feeds the hashed
    /// policies (the query name's hash).
    pub fn select(&self, pool: &str, hash: u64) -> Option<Arc<Backend>> {
        let members: Vec<&Arc<Backend>> = self.members(pool).filter(|b| b.is_up()).collect();
        self.policy.pick(&members, hash).cloned()
    }

    /// Whether any backend is declared at all.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// Pool names with their members, for `showPools()`.
    pub fn by_pool(&self) -> BTreeMap<String, Vec<Arc<Backend>>> {
        let mut out: BTreeMap<String, Vec<Arc<Backend>>> = BTreeMap::new();
        for b in &self.backends {
            for p in &b.pools {
                out.entry(p.clone()).or_default().push(b.clone());
            }
        }
        out
    }

    /// `showServers()` in dnsdist's layout.
    pub fn show_servers(&self) -> String {
        let mut out = format!(
            "{:<3} {:<20} {:<39} {:<8} {:>9} {:>4} {:>3} {:>8} {:>9} {:>7} {:>7} {:>11} {}\n",
            "#",
            "Name",
            "Address",
            "State",
            "Qps",
            "Ord",
            "Wt",
            "Queries",
            "Drops",
            "Drate",
            "Lat",
            "Outstanding",
            "Pools"
        );
        for (i, b) in self.backends.iter().enumerate() {
            out.push_str(&format!(
                "{:<3} {:<20} {:<39} {:<8} {:>9.1} {:>4} {:>3} {:>8} {:>9} {:>7.1} {:>7.1} {:>11} {}\n",
                i,
                b.name,
                b.addr.to_string(),
                b.state_name(),
                0.0,
                b.order,
                b.weight,
                b.queries(),
                b.drops(),
                0.0,
                b.latency_ms(),
                b.outstanding(),
                b.pools.join(" ")
            ));
        }
        out
    }
}
