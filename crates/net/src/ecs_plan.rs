//! The ECS option (RFC 7871) a query to a pool carries, and what it means
//! for the packet cache (dnsdist's `useClientSubnet`, `setECS`,
//! `SetECSAction`, `parseECS`).
//!
//! A `useClientSubnet` backend tailors its answer to the client's
//! network, so the option it was sent is part of the cache key: a hit
//! needs the same network. An answer whose ECS scope is 0 fits every
//! client; with `parseECS`, and when the client sent no option of its
//! own, it is kept under the key without the option, which is looked up
//! first.

use std::net::IpAddr;

use pool::{Backend, PacketCache, Pools};
use shield::EcsEdits;

/// What a query gets on its way to a backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcsPlan {
    /// The network to put in an ECS option; `None`: no option.
    pub source: Option<(IpAddr, u8)>,
    /// Replace an option the client sent (else it is passed on).
    pub replace: bool,
}

impl EcsPlan {
    /// The plan for a query from `client` to `pool`, sent to `backend`
    /// (`None`: no server is up, and the pool's `setECS` decides).
    pub fn new(
        pools: &Pools,
        pool: &str,
        backend: Option<&Backend>,
        edits: &EcsEdits,
        client: IpAddr,
    ) -> EcsPlan {
        let wanted = match backend {
            Some(b) => b.use_client_subnet,
            None => pools.ecs_pools.contains(pool),
        };
        let source = (wanted && !edits.disabled).then(|| {
            edits.source.unwrap_or_else(|| {
                let ip = shield::netmask::unmap(client);
                let prefix = match (edits.prefix, ip) {
                    (Some((v4, _)), IpAddr::V4(_)) => v4,
                    (Some((_, v6)), IpAddr::V6(_)) => v6,
                    (None, _) => pools.ecs.prefix_for(ip),
                };
                (ip, prefix)
            })
        });
        EcsPlan {
            source,
            replace: edits.replace.unwrap_or(pools.ecs.replace),
        }
    }

    /// The option this plan adds to a query with EDNS `options` (the
    /// client's own is kept unless replaced), code and length included.
    fn added(&self, options: &[u8]) -> Option<Vec<u8>> {
        let (ip, prefix) = self.source?;
        if wire::ecs::in_options(options) && !self.replace {
            return None;
        }
        let mut out = Vec::with_capacity(24);
        wire::ecs::option(ip, prefix, &mut out);
        Some(out)
    }

    /// `query` as the backend gets it, written into `scratch` when an
    /// option goes in; `None` for a query too broken to edit.
    pub fn apply<'a>(
        &self,
        query: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Option<(&'a [u8], wire::ecs::Added)> {
        let Some((ip, prefix)) = self.source else {
            return Some((query, wire::ecs::Added::Nothing));
        };
        let added = wire::ecs::add(query, ip, prefix, self.replace, scratch)?;
        Some((&scratch[..], added))
    }
}

/// The options digests of a query's cache keys: the key its answer is
/// looked up and kept under, and, when a scope-zero answer may be kept
/// for every client, the key without the added option (looked up
/// first). `payload_options` is the query's EDNS (payload size, options).
pub fn cache_digests(
    cache: &PacketCache,
    payload_options: Option<(u16, &[u8])>,
    plan: &EcsPlan,
    backend: Option<&Backend>,
) -> (u64, Option<u64>) {
    let plain = cache.options_digest(payload_options);
    let options = payload_options.map_or(&[][..], |(_, o)| o);
    let Some(added) = plan.added(options) else {
        return (plain, None);
    };
    let zero_scope = cache.options.parse_ecs
        && !wire::ecs::in_options(options)
        && !backend.is_some_and(|b| b.disable_zero_scope);
    (
        PacketCache::with_ecs(plain, &added),
        zero_scope.then_some(plain),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(source: &str, prefix: u8) -> EcsPlan {
        EcsPlan {
            source: Some((source.parse().unwrap(), prefix)),
            replace: false,
        }
    }

    #[test]
    fn the_option_sent_is_part_of_the_key() {
        let cache = PacketCache::new(pool::CacheOptions {
            parse_ecs: true,
            ..Default::default()
        });
        let none = EcsPlan::default();
        let (plain, zero) = cache_digests(&cache, None, &none, None);
        assert_eq!(zero, None);
        // The same /24: the same key; another network: another key.
        let a = cache_digests(&cache, None, &plan("192.0.2.1", 24), None);
        let b = cache_digests(&cache, None, &plan("192.0.2.99", 24), None);
        let c = cache_digests(&cache, None, &plan("198.51.100.1", 24), None);
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        assert_ne!(a.0, plain);
        // Scope zero: the key without the option is offered.
        assert_eq!(a.1, Some(plain));
        // A client's own option is passed on as it is: its key is the
        // plain one (the option is in the digest already), no scope zero.
        let mut own = Vec::new();
        wire::ecs::option("203.0.113.1".parse().unwrap(), 24, &mut own);
        let with_own = Some((1232, &own[..]));
        let d = cache_digests(&cache, with_own, &plan("192.0.2.1", 24), None);
        assert_eq!(d, (cache.options_digest(with_own), None));
    }

    #[test]
    fn rules_and_pools_decide_the_network() {
        let mut pools = Pools::default();
        let client: IpAddr = "192.0.2.77".parse().unwrap();
        let edits = EcsEdits::default();
        // No backend, no setECS: nothing.
        assert_eq!(EcsPlan::new(&pools, "", None, &edits, client).source, None);
        pools.ecs_pools.insert(String::new());
        assert_eq!(
            EcsPlan::new(&pools, "", None, &edits, client).source,
            Some((client, 24))
        );
        let set = EcsEdits {
            source: Some(("198.51.100.1".parse().unwrap(), 32)),
            ..Default::default()
        };
        assert_eq!(
            EcsPlan::new(&pools, "", None, &set, client).source,
            set.source
        );
        let off = EcsEdits {
            disabled: true,
            ..Default::default()
        };
        assert_eq!(EcsPlan::new(&pools, "", None, &off, client).source, None);
    }
}
