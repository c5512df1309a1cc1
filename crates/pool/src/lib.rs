//! Backends and pools: what rampart forwards to when it fronts servers it
//! does not host (dnsdist's `newServer`, pools and server policies).
//!
//! A [`Backend`] holds its settings and its live state in atomics — admin
//! state (auto/up/down), health, outstanding queries, counters, latency —
//! so the config, the console, the forwarders and the health checks share
//! one object without locks. [`Pools`] groups them; [`Policy`] picks one.
//! The sockets (forwarding, health checks) are opened and used in `net`;
//! a backend only keeps the idle TCP and TLS connections `net` parks on it
//! for the next query. So `config` and `shield` name backends without
//! depending on `net`.
//!
//! Modules:
//! - [`backend`]: one backend server, its settings and live state;
//! - [`policy`]: the server selection policies (`setServerPolicy`);
//! - [`cache`]: the packet cache for forwarded answers
//!   (`newPacketCache`), sharded;
//! - [`lazy`]: lazy health checks, which probe only while real answers
//!   fail;
//! - [`tls_client`]: the rustls client config for DoT/DoH backends and
//!   for zone transfers over TLS (used by `net` and `xfr`).

pub mod backend;
pub mod cache;
pub mod lazy;
pub mod policy;
pub mod tls_client;

pub use backend::{Admin, Backend, BackendTls, ConnCounters, HealthCheck};
pub use cache::{CacheKey, CacheOptions, PacketCache};
pub use lazy::{LazyCheck, LazyFailures};
pub use policy::Policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Backends by pool name ("" is the default pool).
#[derive(Clone, Debug)]
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
    /// Keep slow backends out of rotation (`setSlowBackendPolicy`).
    pub avoid_slow: bool,
    /// How client subnets are passed to `useClientSubnet` backends.
    pub ecs: Ecs,
    /// Pools whose queries carry the client's subnet in the cache key
    /// even with no server up (`getPool(name):setECS(true)`), so their
    /// `useClientSubnet` answers can still be served from the cache.
    pub ecs_pools: std::collections::BTreeSet<String>,
    /// Expired cache entries are purged this often (seconds;
    /// `setCacheCleaningDelay`, dnsdist's default 60)...
    pub cache_cleaning_delay: u32,
    /// ...down to `100 - this` percent of each cache's size
    /// (`setCacheCleaningPercentage`, default 100: all expired ones).
    pub cache_cleaning_percent: u8,
    /// With every server of a pool down, the roundrobin policy picks
    /// none instead of going round all of them (dnsdist's
    /// `setRoundRobinFailOnNoServer`; off by default, as there).
    pub roundrobin_fail_on_no_server: bool,
}

impl Default for Pools {
    fn default() -> Self {
        Pools {
            backends: Vec::new(),
            policy: Policy::default(),
            servfail_when_no_server: false,
            caches: HashMap::new(),
            stale_ttl: 0,
            avoid_slow: false,
            ecs: Ecs::default(),
            ecs_pools: Default::default(),
            cache_cleaning_delay: 60,
            cache_cleaning_percent: 100,
            roundrobin_fail_on_no_server: false,
        }
    }
}

/// dnsdist's ECS settings: `setECSSourcePrefixV4/V6`, `setECSOverride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecs {
    pub v4_prefix: u8,
    pub v6_prefix: u8,
    /// Replace a client's own ECS option instead of passing it on.
    pub replace: bool,
}

impl Default for Ecs {
    fn default() -> Self {
        // dnsdist's defaults: enough for geography, not the host.
        Ecs {
            v4_prefix: 24,
            v6_prefix: 56,
            replace: false,
        }
    }
}

impl Ecs {
    pub fn prefix_for(&self, addr: std::net::IpAddr) -> u8 {
        match addr {
            std::net::IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => self.v6_prefix,
            _ => self.v4_prefix,
        }
    }
}

/// Slower than its peers by this factor: slow.
const SLOW_FACTOR: f64 = 10.0;
/// Back under this factor: no longer slow.
const RECOVERED_FACTOR: f64 = 5.0;
/// Latencies under this are never called slow (sub-millisecond noise).
const SLOW_FLOOR_MS: f64 = 5.0;

impl Pools {
    /// Purges the caches' expired entries (dnsdist's cache cleaning);
    /// how many it removed.
    pub fn clean_caches(&self) -> usize {
        let keep = 100 - usize::from(self.cache_cleaning_percent.min(100));
        self.caches
            .values()
            .map(|c| c.purge_expired(c.options.max_entries * keep / 100))
            .sum()
    }

    /// The backends of `pool`, in declaration order.
    pub fn members<'a>(&'a self, pool: &'a str) -> impl Iterator<Item = &'a Arc<Backend>> + 'a {
        self.backends
            .iter()
            .filter(move |b| b.pools.iter().any(|p| p == pool))
    }

    /// Picks a backend of `pool` that is up; `hash` feeds the hashed
    /// policies (the query name's hash).
    pub fn select(&self, pool: &str, hash: u64) -> Option<Arc<Backend>> {
        self.select_index(pool, hash)
            .map(|i| self.backends[i].clone())
    }

    /// `select`, as an index into `backends`. Runs per forwarded query:
    /// the candidates sit on the stack unless a pool has more than 32.
    pub fn select_index(&self, pool: &str, hash: u64) -> Option<usize> {
        let usable = |b: &&Arc<Backend>| b.is_up() && !(self.avoid_slow && b.is_slow());
        let first = self.backends.first()?;
        let mut stack = [first; 32];
        let mut n = 0;
        let mut spill = Vec::new();
        for b in self.members(pool).filter(usable) {
            if n < stack.len() {
                stack[n] = b;
                n += 1;
            } else {
                if spill.is_empty() {
                    spill.extend_from_slice(&stack);
                }
                spill.push(b);
            }
        }
        let up = if spill.is_empty() {
            &stack[..n]
        } else {
            &spill[..]
        };
        // dnsdist's roundrobin goes round the down servers too when none
        // is up, unless told to fail.
        let everyone: Vec<&Arc<Backend>>;
        let up = if up.is_empty()
            && matches!(self.policy, Policy::RoundRobin(_))
            && !self.roundrobin_fail_on_no_server
        {
            everyone = self.members(pool).collect();
            &everyone[..]
        } else {
            up
        };
        let chosen = self.policy.pick(up, hash)?;
        self.backends.iter().position(|b| Arc::ptr_eq(b, chosen))
    }

    /// Flags backends an order of magnitude slower than the median of the
    /// other servers up in their pools, and clears the flag when they
    /// recover, logging the changes.
    pub fn check_slow(&self) {
        for b in &self.backends {
            let mut peers: Vec<f64> = self
                .backends
                .iter()
                .filter(|o| {
                    !Arc::ptr_eq(o, b)
                        && o.is_up()
                        && o.latency_ms() > 0.0
                        && o.pools.iter().any(|p| b.pools.contains(p))
                })
                .map(|o| o.latency_ms())
                .collect();
            if peers.is_empty() || b.latency_ms() <= 0.0 {
                continue;
            }
            peers.sort_by(f64::total_cmp);
            let median = peers[peers.len() / 2];
            let mine = b.latency_ms();
            if !b.is_slow() && mine > SLOW_FLOOR_MS && mine > SLOW_FACTOR * median {
                b.set_slow(true);
                log::warn!(
                    "Backend {} ({}) is slow: {mine:.1} ms against {median:.1} ms for its peers{}",
                    b.name,
                    b.addr,
                    if self.avoid_slow {
                        "; out of rotation until it recovers"
                    } else {
                        ""
                    }
                );
            } else if b.is_slow() && (mine <= RECOVERED_FACTOR * median || mine <= SLOW_FLOOR_MS) {
                b.set_slow(false);
                log::warn!(
                    "Backend {} ({}) is no longer slow: {mine:.1} ms against {median:.1} ms",
                    b.name,
                    b.addr
                );
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn roundrobin_goes_round_down_servers_unless_told_to_fail() {
        let down = |port: u16| {
            let b = Backend::new(
                format!("s{port}"),
                SocketAddr::from(([127, 0, 0, 1], port)),
                vec![String::new()],
                1,
                1,
                HealthCheck::default(),
            );
            b.set_admin(Admin::Down);
            Arc::new(b)
        };
        let mut pools = Pools {
            backends: vec![down(1), down(2)],
            policy: Policy::by_name("roundrobin").unwrap_or_default(),
            ..Pools::default()
        };
        let picked: Vec<Option<usize>> = (0..2).map(|_| pools.select_index("", 0)).collect();
        assert_eq!(picked, [Some(0), Some(1)]);
        pools.roundrobin_fail_on_no_server = true;
        assert_eq!(pools.select_index("", 0), None);
        pools.policy = Policy::by_name("firstAvailable").unwrap_or_default();
        pools.roundrobin_fail_on_no_server = false;
        assert_eq!(pools.select_index("", 0), None, "only roundrobin does this");
    }

    #[test]
    fn forced_servers_are_not_health_checked() {
        let b = Backend::new(
            "s".into(),
            SocketAddr::from(([127, 0, 0, 1], 1)),
            vec![String::new()],
            1,
            1,
            HealthCheck::default(),
        );
        assert!(b.wants_check());
        for forced in [Admin::Up, Admin::Down] {
            b.set_admin(forced);
            assert!(!b.wants_check(), "{forced:?}");
        }
        b.set_admin(Admin::Auto);
        assert!(b.wants_check());
    }
}
