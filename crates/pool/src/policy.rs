//! Server selection policies (dnsdist's `setServerPolicy`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::Backend;

/// A policy.
#[derive(Debug, Default)]
pub enum Policy {
    /// Fewest outstanding queries, then lowest order, then latency (the
    /// default, as in dnsdist).
    #[default]
    LeastOutstanding,
    /// The first server (by order) that is up: primary and standby.
    FirstAvailable,
    RoundRobin(AtomicUsize),
    /// Random, by weight.
    WeightedRandom,
    /// By weight, from a hash of the query name.
    WeightedHashed,
    /// Consistent hashing on the query name.
    ConsistentHashed,
}

impl Clone for Policy {
    fn clone(&self) -> Self {
        match self {
            Policy::LeastOutstanding => Policy::LeastOutstanding,
            Policy::FirstAvailable => Policy::FirstAvailable,
            Policy::RoundRobin(_) => Policy::RoundRobin(AtomicUsize::new(0)),
            Policy::WeightedRandom => Policy::WeightedRandom,
            Policy::WeightedHashed => Policy::WeightedHashed,
            Policy::ConsistentHashed => Policy::ConsistentHashed,
        }
    }
}

impl Policy {
    /// By dnsdist's name.
    pub fn by_name(name: &str) -> Option<Policy> {
        Some(match name {
            "leastOutstanding" => Policy::LeastOutstanding,
            "firstAvailable" => Policy::FirstAvailable,
            "roundrobin" => Policy::RoundRobin(AtomicUsize::new(0)),
            "wrandom" => Policy::WeightedRandom,
            "whashed" => Policy::WeightedHashed,
            "chashed" => Policy::ConsistentHashed,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Policy::LeastOutstanding => "leastOutstanding",
            Policy::FirstAvailable => "firstAvailable",
            Policy::RoundRobin(_) => "roundrobin",
            Policy::WeightedRandom => "wrandom",
            Policy::WeightedHashed => "whashed",
            Policy::ConsistentHashed => "chashed",
        }
    }

    /// Picks among `up` (servers that are up, in declaration order).
    pub fn pick<'a>(&self, up: &[&'a Arc<Backend>], hash: u64) -> Option<&'a Arc<Backend>> {
        if up.is_empty() {
            return None;
        }
        match self {
            Policy::LeastOutstanding => up
                .iter()
                .min_by(|a, b| {
                    a.outstanding()
                        .cmp(&b.outstanding())
                        .then(a.order.cmp(&b.order))
                        .then(a.latency_ms().total_cmp(&b.latency_ms()))
                })
                .copied(),
            Policy::FirstAvailable => up.iter().min_by_key(|b| b.order).copied(),
            Policy::RoundRobin(next) => Some(up[next.fetch_add(1, Ordering::Relaxed) % up.len()]),
            Policy::WeightedRandom => weighted(up, random()),
            Policy::WeightedHashed => weighted(up, hash),
            Policy::ConsistentHashed => up
                .iter()
                .max_by_key(|b| {
                    mix(hash
                        ^ mix(b.addr.port() as u64 ^ (b.name.len() as u64) << 16 ^ addr_bits(b)))
                })
                .copied(),
        }
    }
}

fn addr_bits(b: &Backend) -> u64 {
    match b.addr.ip() {
        std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
        std::net::IpAddr::V6(a) => (u128::from(a) as u64) ^ ((u128::from(a) >> 64) as u64),
    }
}

fn weighted<'a>(up: &[&'a Arc<Backend>], n: u64) -> Option<&'a Arc<Backend>> {
    let total: u64 = up.iter().map(|b| u64::from(b.weight)).sum();
    let mut point = n % total.max(1);
    for b in up {
        if point < u64::from(b.weight) {
            return Some(b);
        }
        point -= u64::from(b.weight);
    }
    up.last().copied()
}

use wire::random::{fast as random, mix};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Admin, HealthCheck};

    fn backend(name: &str, port: u16, order: u32) -> Arc<Backend> {
        Arc::new(Backend::new(
            name.into(),
            format!("127.0.0.1:{port}").parse().unwrap(),
            vec![String::new()],
            1,
            order,
            HealthCheck::default(),
        ))
    }

    #[test]
    fn first_available_is_primary_then_standby() {
        let primary = backend("primary", 1, 1);
        let standby = backend("standby", 2, 2);
        let pools = crate::Pools {
            backends: vec![standby.clone(), primary.clone()],
            policy: Policy::FirstAvailable,
            ..crate::Pools::default()
        };
        assert_eq!(pools.select("", 0).unwrap().name, "primary");
        primary.set_healthy(false);
        assert_eq!(pools.select("", 0).unwrap().name, "standby");
        primary.set_healthy(true);
        assert_eq!(pools.select("", 0).unwrap().name, "primary");
        standby.set_admin(Admin::Down);
        primary.set_admin(Admin::Down);
        assert!(pools.select("", 0).is_none());
    }

    #[test]
    fn round_robin_and_hashing() {
        let a = backend("a", 1, 1);
        let b = backend("b", 2, 1);
        let up = [&a, &b];
        let rr = Policy::RoundRobin(AtomicUsize::new(0));
        let picks: Vec<&str> = (0..4)
            .map(|_| rr.pick(&up, 0).unwrap().name.as_str())
            .collect();
        assert_eq!(picks, ["a", "b", "a", "b"]);
        let ch = Policy::ConsistentHashed;
        assert_eq!(
            ch.pick(&up, 42).unwrap().name,
            ch.pick(&up, 42).unwrap().name
        );
        a.sent();
        assert_eq!(Policy::LeastOutstanding.pick(&up, 0).unwrap().name, "b");
    }
}
