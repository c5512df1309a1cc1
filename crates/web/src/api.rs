//! The JSON the API answers, in dnsdist's shapes (field names and
//! types as dnsdist 1.7's webserver writes them), plus rampart's own:
//! zones, RRL, and the dashboard's data.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::sampler::Samples;
use crate::{system, top, Context, WebError};

/// What an answer is made from.
pub(crate) struct View<'a> {
    pub ctx: &'a Context,
    pub state: &'a net::State,
    pub config: &'a config::Config,
    pub samples: &'a Samples,
}

/// Answers of no kind rampart has: dnsdist counts them for features
/// rampart does not have (DoH pipes, the PROXY protocol, cross-protocol
/// queues, security polling), so they stay 0.
const ABSENT_FEATURES: [&str; 9] = [
    "doh-query-pipe-full",
    "doh-response-pipe-full",
    "outgoing-doh-query-pipe-full",
    "proxy-protocol-invalid",
    "tcp-query-pipe-full",
    "tcp-cross-protocol-query-pipe-full",
    "tcp-cross-protocol-response-pipe-full",
    "security-status",
    "noncompliant-responses",
];

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// dnsdist's statistics, by its names: exactly its 1.7 set.
pub(crate) fn dnsdist_stats(view: &View) -> Vec<(&'static str, Value)> {
    let s = &view.state.runtime.stats;
    let backends = &view.state.upstream.pools.backends;
    let sum = |f: fn(&pool::Backend) -> u64| backends.iter().map(|b| f(b)).sum::<u64>();
    let mut v: Vec<(&'static str, Value)> = vec![
        // dnsdist's `responses` are the backends' answers.
        ("responses", sum(pool::Backend::responses).into()),
        ("servfail-responses", s.servfail_responses.get().into()),
        ("queries", s.queries.get().into()),
        ("acl-drops", s.acl_drops.get().into()),
        ("frontend-noerror", s.frontend_noerror.get().into()),
        ("frontend-nxdomain", s.frontend_nxdomain.get().into()),
        ("frontend-servfail", s.frontend_servfail.get().into()),
        ("rule-drop", s.rule_drop.get().into()),
        ("rule-nxdomain", s.rule_nxdomain.get().into()),
        ("rule-refused", s.rule_refused.get().into()),
        ("rule-servfail", s.rule_servfail.get().into()),
        ("rule-truncated", s.rule_truncated.get().into()),
        ("self-answered", s.self_answered.get().into()),
        ("downstream-timeouts", sum(pool::Backend::drops).into()),
        (
            "downstream-send-errors",
            sum(pool::Backend::send_errors).into(),
        ),
        // rampart's truncation cannot fail (answers are cut at RRset
        // boundaries into a buffer of the right size).
        ("trunc-failures", 0.into()),
        ("no-policy", s.no_policy.get().into()),
    ];
    for (name, n) in s.latency.buckets() {
        v.push((name, n.into()));
    }
    let (sum_ms, count) = s.latency.sum_and_count();
    v.push(("latency-sum", sum_ms.into()));
    v.push(("latency-count", count.into()));
    for (name, avg) in s.latency.averages() {
        v.push((name, num(avg)));
    }
    v.push(("uptime", view.ctx.started.elapsed().as_secs().into()));
    v.push(("noncompliant-queries", s.noncompliant_queries.get().into()));
    v.push(("rdqueries", s.rdqueries.get().into()));
    v.push(("empty-queries", s.empty_queries.get().into()));
    v.push(("cache-hits", s.cache_hits.get().into()));
    v.push(("cache-misses", s.cache_misses.get().into()));
    v.push(("dyn-blocked", s.dyn_blocked.get().into()));
    v.push((
        "dyn-block-nmg-size",
        dynblocks_by_address(view.state).into(),
    ));
    for (name, n) in system::figures() {
        v.push((name, n.into()));
    }
    for name in ABSENT_FEATURES {
        v.push((name, 0.into()));
    }
    v
}

fn dynblocks_by_address(state: &net::State) -> u64 {
    state
        .runtime
        .dynblocks
        .list()
        .iter()
        .filter(|b| matches!(b.target, shield::dynblock::Target::Net(..)))
        .count() as u64
}

/// rampart's own counters: those of `stats.all()` that `dnsdist`
/// (what [`dnsdist_stats`] gave) does not already hold.
fn rampart_stats(view: &View, dnsdist: &[(&'static str, Value)]) -> Vec<(&'static str, u64)> {
    view.state
        .runtime
        .stats
        .all()
        .into_iter()
        .filter(|(n, _)| !dnsdist.iter().any(|(d, _)| d == n))
        .collect()
}

/// `/jsonstat?command=stats`: one flat object, dnsdist's statistics
/// plus its packet-cache totals and rampart's own counters.
pub(crate) fn jsonstat(view: &View) -> Value {
    let mut m = Map::new();
    let dnsdist = dnsdist_stats(view);
    let own = rampart_stats(view, &dnsdist);
    for (k, v) in dnsdist {
        m.insert(k.into(), v);
    }
    let (hits, misses) = view
        .state
        .upstream
        .pools
        .caches
        .values()
        .map(|c| {
            let c = c.counters();
            (c[2].1, c[3].1)
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    m.insert("packetcache-hits".into(), hits.into());
    m.insert("packetcache-misses".into(), misses.into());
    // Queries are never queued in rampart, so none is dropped for it.
    m.insert("over-capacity-drops".into(), 0.into());
    m.insert("too-old-drops".into(), 0.into());
    for (k, v) in own {
        m.insert(k.into(), v.into());
    }
    Value::Object(m)
}

/// `…/statistics`: `[{"type":"StatisticItem","name","value"}]`.
pub(crate) fn statistics(view: &View) -> Value {
    Value::Array(
        dnsdist_stats(view)
            .into_iter()
            .map(|(name, value)| json!({"type": "StatisticItem", "name": name, "value": value}))
            .collect(),
    )
}

/// `/jsonstat?command=dynblocklist`.
pub(crate) fn dynblocklist(state: &net::State) -> Value {
    let mut m = Map::new();
    for b in state.runtime.dynblocks.list() {
        m.insert(
            b.target.to_string(),
            json!({
                "reason": b.reason,
                "seconds": b.seconds_left,
                "blocks": b.blocks,
                "action": b.action,
                "warning": b.warning,
                "ebpf": false,
            }),
        );
    }
    Value::Object(m)
}

pub(crate) fn server_summary() -> Value {
    json!({
        "type": "Server",
        "id": "localhost",
        "url": "/api/v1/servers/localhost",
        "daemon_type": "dnsdist",
        "version": version(),
    })
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

fn version() -> String {
    format!("rampart-{}", env!("CARGO_PKG_VERSION"))
}

fn backend(view: &View, id: usize, b: &pool::Backend) -> Value {
    let up = b.is_up();
    let latency = if up { num(b.latency_ms()) } else { Value::Null };
    let queries = b.queries();
    let drops = b.drops();
    json!({
        "id": id,
        "name": b.name,
        "address": b.addr.to_string(),
        "state": b.state_name(),
        "qps": view.samples.backend_qps(b.addr),
        "qpsLimit": 0,
        "queries": queries,
        "responses": b.responses(),
        "drops": drops,
        "reuseds": 0,
        "sendErrors": b.send_errors(),
        "dropRate": if queries == 0 { 0.0 } else { drops as f64 / queries as f64 },
        "latency": latency,
        "tcpLatency": Value::Null,
        "outstanding": b.outstanding(),
        "order": b.order,
        "weight": b.weight,
        "pools": b.pools,
        "protocol": match &b.tls {
            Some(t) if t.doh_path.is_some() => "DoH",
            Some(_) => "DoT",
            None if b.tcp_only => "Do53 TCP",
            None => "Do53",
        },
        "tcpNewConnections": count(&b.conns.new),
        "tcpReusedConnections": count(&b.conns.reused),
        "tlsResumptions": count(&b.conns.tls_resumptions),
        "healthCheckFailures": count(&b.conns.health_check_failures),
        // Not counted per backend yet: zero, as dnsdist shows a backend
        // that never had a stream connection.
        "tcpDiedSendingQuery": 0,
        "tcpDiedReadingResponse": 0,
        "tcpGaveUp": 0,
        "tcpReadTimeouts": 0,
        "tcpWriteTimeouts": 0,
        "tcpCurrentConnections": 0,
        "tcpMaxConcurrentConnections": 0,
        "tcpTooManyConcurrentConnections": 0,
        "tcpAvgQueriesPerConnection": 0.0,
        "tcpAvgConnectionDuration": 0.0,
    })
}

fn frontends(view: &View) -> Vec<Value> {
    let mut out = Vec::new();
    for f in &view.ctx.frontends {
        let mut one = |proto: &str, queries: u64| {
            // DoQ's streams come over UDP (QUIC).
            let (stream, quic) = (proto != "UDP", proto == "DoQ");
            out.push(json!({
                "id": out.len(),
                "address": f.addr.to_string(),
                "udp": !stream || quic,
                "tcp": stream && !quic,
                "type": proto,
                "queries": queries,
                "tcpConnections": if stream { f.tcp_connections.get() } else { 0 },
                "tlsHandshakeFailures": if stream { f.tls_handshake_failures.get() } else { 0 },
            }));
        };
        if f.udp {
            one("UDP", f.udp_queries.get());
        }
        if f.streams {
            one(f.stream_kind.name(), f.tcp_queries.get());
        }
    }
    out
}

fn pool_stats(view: &View, id: usize, name: &str) -> Value {
    let pools = &view.state.upstream.pools;
    let servers = pools.members(name).count();
    let mut v = json!({
        "id": id,
        "name": name,
        "serversCount": servers,
        "cacheSize": 0,
        "cacheEntries": 0,
        "cacheHits": 0,
        "cacheMisses": 0,
        "cacheDeferredInserts": 0,
        "cacheDeferredLookups": 0,
        "cacheLookupCollisions": 0,
        "cacheInsertCollisions": 0,
        "cacheTTLTooShorts": 0,
        "cacheCleanupCount": 0,
    });
    if let Some(c) = pools.caches.get(name) {
        for (k, n) in c.counters() {
            let key = match k {
                "entries" => "cacheEntries",
                "maxEntries" => "cacheSize",
                "hits" => "cacheHits",
                "misses" => "cacheMisses",
                "insertCollisions" => "cacheInsertCollisions",
                "ttlTooShorts" => "cacheTTLTooShorts",
                _ => continue,
            };
            v[key] = n.into();
        }
    }
    v
}

fn pool_names(view: &View) -> Vec<String> {
    let mut names: Vec<String> = view.state.upstream.pools.by_pool().into_keys().collect();
    for k in view.state.upstream.pools.caches.keys() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names.sort();
    names
}

/// `…/pool?name=`: the pool's cache and servers.
pub(crate) fn pool(view: &View, name: &str) -> Option<Value> {
    let names = pool_names(view);
    let id = names.iter().position(|n| n == name)?;
    let servers: Vec<Value> = view
        .state
        .upstream
        .pools
        .backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.pools.iter().any(|p| p == name))
        .map(|(i, b)| backend(view, i, b))
        .collect();
    Some(json!({"stats": pool_stats(view, id, name), "servers": servers}))
}

fn rules(list: impl Iterator<Item = (String, String, String, String, u64)>) -> Vec<Value> {
    list.enumerate()
        .map(|(i, (name, uuid, rule, action, matches))| {
            json!({
                "id": i,
                "creationOrder": i,
                "uuid": uuid,
                "name": name,
                "matches": matches,
                "rule": rule,
                "action": action,
            })
        })
        .collect()
}

fn response_rules(chain: &shield::response::ResponseChain) -> Vec<Value> {
    rules(chain.rules.iter().map(|r| {
        (
            r.name.clone(),
            r.uuid.clone(),
            r.selector.describe(),
            r.action.describe(),
            r.selector.matches(),
        )
    }))
}

/// `/api/v1/servers/localhost`.
pub(crate) fn localhost(view: &View) -> Value {
    let state = view.state;
    let servers: Vec<Value> = state
        .upstream
        .pools
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| backend(view, i, b))
        .collect();
    let pools: Vec<Value> = pool_names(view)
        .iter()
        .enumerate()
        .map(|(i, n)| pool_stats(view, i, n))
        .collect();
    let query_rules = rules(state.shield.rules.rules().iter().map(|r| {
        (
            r.name.clone(),
            r.uuid.clone(),
            r.selector.describe(),
            r.action.describe(),
            r.selector.matches(),
        )
    }));
    let acl: Vec<String> = acl_list(state);
    let local: Vec<String> = view
        .config
        .listeners
        .iter()
        .map(|l| l.addr.to_string())
        .collect();
    json!({
        "daemon_type": "dnsdist",
        "version": version(),
        "acl": acl.join(", "),
        "local": local.join(", "),
        "servers": servers,
        "frontends": frontends(view),
        "pools": pools,
        "dohFrontends": [],
        "rules": query_rules,
        "response-rules": response_rules(&state.shield.response_rules),
        "cache-hit-response-rules": [],
        "self-answered-response-rules": response_rules(&state.shield.self_answered_rules),
        "statistics": Value::Object(dnsdist_stats(view).into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        "zones": zones(view),
    })
}

fn acl_list(state: &net::State) -> Vec<String> {
    state
        .shield
        .acl
        .masks()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `…/config`: dnsdist's settings, `[{"type":"ConfigSetting",…}]`.
pub(crate) fn config_settings(view: &View) -> Value {
    let c = view.config;
    let pools = &view.state.upstream.pools;
    let rules = &view.state.shield.response_rules;
    let settings: Vec<(&str, Value)> = vec![
        ("acl", acl_list(view.state).join(", ").into()),
        (
            "control-socket",
            c.console
                .addr
                .map_or(String::new(), |a| a.to_string())
                .into(),
        ),
        ("ecs-override", pools.ecs.replace.into()),
        ("ecs-source-prefix-v4", pools.ecs.v4_prefix.into()),
        ("ecs-source-prefix-v6", pools.ecs.v6_prefix.into()),
        ("fixup-case", rules.fix_case.into()),
        // Slots per backend for queries in flight (the forwarder's table).
        ("max-outstanding", 65535.into()),
        ("server-policy", pools.policy.name().into()),
        ("stale-cache-entries-ttl", pools.stale_ttl.into()),
        ("tcp-recv-timeout", c.tcp_idle_timeout.as_secs().into()),
        ("tcp-send-timeout", c.tcp_send_timeout.as_secs().into()),
        ("truncate-tc", rules.truncate_tc.into()),
        ("verbose", false.into()),
        ("verbose-health-checks", false.into()),
        ("api-writable", c.web.api_writable.into()),
    ];
    Value::Array(
        settings
            .into_iter()
            .map(|(name, value)| json!({"type": "ConfigSetting", "name": name, "value": value}))
            .collect(),
    )
}

/// `…/config/allow-from`.
pub(crate) fn allow_from(state: &net::State) -> Value {
    json!({"name": "allow-from", "type": "ConfigSetting", "value": acl_list(state)})
}

/// The netmasks of a PUT to `allow-from`: `{"value": [...]}`.
pub(crate) fn parse_allow_from(body: &[u8]) -> Result<Vec<String>, WebError> {
    let v: Value = serde_json::from_slice(body).map_err(WebError::NotJson)?;
    let list = v
        .get("value")
        .and_then(Value::as_array)
        .ok_or(WebError::NoValueList)?;
    list.iter()
        .map(|m| {
            let m = m.as_str().ok_or(WebError::NotAString)?;
            shield::Netmask::parse(m)?;
            Ok(m.to_string())
        })
        .collect()
}

/// `<dir>/acl.conf`, as dnsdist writes it; replaced whole (written
/// aside, then renamed) so a crash leaves the old or the new file.
pub(crate) fn write_acl_file(dir: &Path, masks: &[String]) -> Result<(), WebError> {
    let quoted: Vec<String> = masks.iter().map(|m| format!("\"{m}\"")).collect();
    let text = format!(
        "-- Generated by the REST API, DO NOT EDIT\nsetACL({{{}}})\n",
        quoted.join(", ")
    );
    let path = dir.join("acl.conf");
    let tmp = dir.join(".acl.conf.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| WebError::WriteAcl { path, source })
}

/// Every zone: those the replication service keeps (secondaries, and
/// primaries that transfer, take updates or keep a journal) as it
/// reports them, and the others as the served snapshot has them.
pub(crate) fn zone_list(state: &net::State) -> Vec<xfr::service::ZoneStatus> {
    let mut list = state.xfr.zone_status();
    for (apex, zs) in state.zones.catalog.iter() {
        let name = wire::name::to_text(apex);
        if list.iter().any(|z| z.name.eq_ignore_ascii_case(&name)) {
            continue;
        }
        list.push(match zs {
            zone::catalog::ZoneState::Ready(z) => xfr::service::ZoneStatus {
                name,
                role: "primary",
                serial: z.serial,
                records: z.records,
                changes: 0,
                loaded: true,
                status: "loaded".into(),
                dnssec: None,
            },
            zone::catalog::ZoneState::Broken(why) => xfr::service::ZoneStatus {
                name,
                role: "primary",
                serial: 0,
                records: 0,
                changes: 0,
                loaded: false,
                status: why.to_string(),
                dnssec: None,
            },
        });
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

/// `…/zones` (rampart's): role, serial, records, journal, status.
pub(crate) fn zones(view: &View) -> Value {
    Value::Array(
        zone_list(view.state)
            .into_iter()
            .map(|z| {
                json!({
                    "name": z.name,
                    "role": z.role,
                    "serial": z.serial,
                    "records": z.records,
                    "journal_changes": z.changes,
                    "loaded": z.loaded,
                    "status": z.status,
                })
            })
            .collect(),
    )
}

/// `…/rrl` (rampart's): whether RRL is on, its counters and its table.
pub(crate) fn rrl(view: &View) -> Value {
    let s = &view.state.runtime.stats;
    let (dropped, slipped) = (s.rrl_dropped.get(), s.rrl_slipped.get());
    match &view.state.shield.rrl {
        Some(r) => json!({
            "enabled": true,
            "dropped": dropped,
            "slipped": slipped,
            "table": r.show(shield::qps::now_ns(), dropped, slipped),
        }),
        None => json!({"enabled": false, "dropped": dropped, "slipped": slipped}),
    }
}

/// `/jsonstat?command=rampart`: what the dashboard shows, in one poll.
pub(crate) fn dashboard_data(view: &View) -> Value {
    const WINDOW_NS: u64 = 60_000_000_000;
    const N: usize = 10;
    let rings = &view.state.rings;
    let pairs = |t: top::Top| -> Value {
        Value::Array(t.into_iter().map(|(k, n)| json!([k, n])).collect())
    };
    let history: Vec<Value> = view
        .samples
        .history()
        .into_iter()
        .map(|p| {
            json!([
                p.time,
                p.queries,
                p.responses,
                p.dropped,
                p.servfail,
                p.nxdomain,
                p.cache_hits,
                p.cache_misses,
                (p.latency_us * 10.0).round() / 10.0
            ])
        })
        .collect();
    let stats = &view.state.runtime.stats;
    json!({
        "version": version(),
        "uptime": view.ctx.started.elapsed().as_secs(),
        "qps": view.samples.qps(),
        "history_columns": ["time", "queries", "responses", "dropped", "servfail", "nxdomain",
                            "cache_hits", "cache_misses", "latency_us"],
        "history": history,
        "rcodes": {
            "noerror": stats.frontend_noerror.get(),
            "nxdomain": stats.frontend_nxdomain.get(),
            "servfail": stats.frontend_servfail.get(),
        },
        "top_clients": pairs(top::clients(&rings.queries, WINDOW_NS, N)),
        "top_names": pairs(top::names(&rings.queries, WINDOW_NS, N)),
        "top_nxdomain_parents": pairs(top::nxdomain_parents(&rings.responses, WINDOW_NS, N)),
        "dynblocks": dynblocklist(view.state),
        "rrl": rrl(view),
        "zones": zones(view),
        "servers": view.state.upstream.pools.backends.iter().enumerate()
            .map(|(i, b)| backend(view, i, b)).collect::<Vec<_>>(),
        "counters": Value::Object(rampart_stats(view, &dnsdist_stats(view)).into_iter().map(|(k, v)| (k.to_string(), v.into())).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_from_bodies_are_checked() {
        assert_eq!(
            parse_allow_from(br#"{"name":"allow-from","value":["192.0.2.0/24","::1"]}"#).unwrap(),
            vec!["192.0.2.0/24".to_string(), "::1".into()]
        );
        for bad in [
            &br#"{"value":"x"}"#[..],
            b"nope",
            br#"{"value":[1]}"#,
            br#"{"value":["10.0.0.0/40"]}"#,
        ] {
            assert!(parse_allow_from(bad).is_err());
        }
        let e = parse_allow_from(b"nope").unwrap_err();
        assert!(matches!(e, WebError::NotJson(_)), "{e:?}");
        assert!(e.to_string().starts_with("not JSON: "), "{e}");
        let e = parse_allow_from(br#"{"value":"x"}"#).unwrap_err();
        assert!(matches!(e, WebError::NoValueList), "{e:?}");
        assert_eq!(e.to_string(), "expected {\"value\": [netmask, …]}");
        let e = parse_allow_from(br#"{"value":[1]}"#).unwrap_err();
        assert!(matches!(e, WebError::NotAString), "{e:?}");
        let e = parse_allow_from(br#"{"value":["10.0.0.0/40"]}"#).unwrap_err();
        assert!(matches!(e, WebError::BadNetmask(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "bad netmask '10.0.0.0/40': prefix must be 0 to 32"
        );
    }

    #[test]
    fn the_acl_file_is_dnsdists() {
        let dir = std::env::temp_dir().join(format!("rampart-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_acl_file(&dir, &["192.0.2.0/24".into(), "::1/128".into()]).unwrap();
        let text = std::fs::read_to_string(dir.join("acl.conf")).unwrap();
        assert_eq!(
            text,
            "-- Generated by the REST API, DO NOT EDIT\nsetACL({\"192.0.2.0/24\", \"::1/128\"})\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
