//! `/metrics`: the Prometheus text format (version 0.0.4), with
//! dnsdist's metric names, so its dashboards and alerts work unchanged.
//!
//! Written here rather than with a Prometheus crate: dnsdist's counters
//! carry no `_total` suffix, which the OpenMetrics-based
//! `prometheus-client` always adds, and every value is read at scrape
//! time from counters the query path already keeps, so there is no
//! registry to fill. The format is three kinds of line; `promtool check
//! metrics` checks the output in the tests.
//!
//! rampart's own families (`rampart_…`: zones, RRL, cookies, TCP
//! defences) appear when the config serves zones or limits responses: a
//! config that only balances, as dnsdist does, gets exactly dnsdist's
//! families.

use std::fmt::Write;

use crate::api::{self, View};

/// A family read from each `T`: name, help, type, value.
type Family<T> = (&'static str, &'static str, Kind, fn(&T) -> f64);

/// The text being written.
struct Out {
    text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Out {
    fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    /// A family with one unlabelled sample.
    fn one(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// What a dnsdist statistic is, for `# HELP` and `# TYPE`.
fn describe(stat: &str) -> (&'static str, Kind) {
    use Kind::{Counter as C, Gauge as G};
    match stat {
        "responses" => ("Number of responses received from backends", C),
        "servfail-responses" => ("Number of SERVFAIL answers received from backends", C),
        "queries" => ("Number of received queries", C),
        "acl-drops" => ("Number of packets dropped because of the ACL", C),
        "frontend-noerror" => ("Number of NoError answers sent to clients", C),
        "frontend-nxdomain" => ("Number of NXDomain answers sent to clients", C),
        "frontend-servfail" => ("Number of SERVFAIL answers sent to clients", C),
        "rule-drop" => ("Number of queries dropped because of a rule", C),
        "rule-nxdomain" => ("Number of NXDomain answers returned because of a rule", C),
        "rule-refused" => ("Number of Refused answers returned because of a rule", C),
        "rule-servfail" => ("Number of SERVFAIL answers returned because of a rule", C),
        "rule-truncated" => ("Number of truncated answers returned because of a rule", C),
        "self-answered" => ("Number of self-answered responses", C),
        "downstream-timeouts" => ("Number of queries not answered in time by a backend", C),
        "downstream-send-errors" => ("Number of errors when sending a query to a backend", C),
        "trunc-failures" => ("Number of errors encountered while truncating an answer", C),
        "no-policy" => ("Number of queries dropped because no server was available", C),
        "latency0-1" => ("Number of queries answered in less than 1ms", C),
        "latency1-10" => ("Number of queries answered in 1-10 ms", C),
        "latency10-50" => ("Number of queries answered in 10-50 ms", C),
        "latency50-100" => ("Number of queries answered in 50-100 ms", C),
        "latency100-1000" => ("Number of queries answered in 100-1000 ms", C),
        "latency-slow" => ("Number of queries answered in more than 1 second", C),
        "latency-avg100" => ("Average response latency in microseconds of the last 100 packets", G),
        "latency-avg1000" => ("Average response latency in microseconds of the last 1000 packets", G),
        "latency-avg10000" => ("Average response latency in microseconds of the last 10000 packets", G),
        "latency-avg1000000" => ("Average response latency in microseconds of the last 1000000 packets", G),
        "uptime" => ("Uptime of the process in seconds", G),
        "real-memory-usage" => ("Current memory usage in bytes", G),
        "noncompliant-queries" => ("Number of queries dropped as non-compliant", C),
        "noncompliant-responses" => ("Number of answers from a backend dropped as non-compliant", C),
        "rdqueries" => ("Number of queries with the recursion desired bit set", C),
        "empty-queries" => ("Number of empty queries received from clients", C),
        "cache-hits" => ("Number of times an answer was retrieved from cache", C),
        "cache-misses" => ("Number of times an answer not found in the cache", C),
        "cpu-iowait" => ("Time waiting for I/O to complete by the whole system, in units of USER_HZ", C),
        "cpu-steal" => ("Stolen time, which is the time spent by the whole system in other operating systems when running in a virtualized environment, in units of USER_HZ", C),
        "cpu-sys-msec" => ("Milliseconds spent by the process in system state", C),
        "cpu-user-msec" => ("Milliseconds spent by the process in user state", C),
        "fd-usage" => ("Number of currently used file descriptors", G),
        "dyn-blocked" => ("Number of queries dropped because of a dynamic block", C),
        "dyn-block-nmg-size" => ("Number of dynamic blocks entries", G),
        "security-status" => ("Security status of this software. 0=unknown, 1=OK, 2=upgrade recommended, 3=upgrade mandatory", G),
        "doh-query-pipe-full" => ("Number of DoH queries dropped because the internal pipe used to distribute queries was full", C),
        "doh-response-pipe-full" => ("Number of DoH responses dropped because the internal pipe used to distribute responses was full", C),
        "outgoing-doh-query-pipe-full" => ("Number of outgoing DoH queries dropped because the internal pipe used to distribute queries was full", C),
        "tcp-query-pipe-full" => ("Number of TCP queries dropped because the internal pipe used to distribute queries was full", C),
        "tcp-cross-protocol-query-pipe-full" => ("Number of TCP cross-protocol queries dropped because the internal pipe used to distribute queries was full", C),
        "tcp-cross-protocol-response-pipe-full" => ("Number of TCP cross-protocol responses dropped because the internal pipe used to distribute queries was full", C),
        "proxy-protocol-invalid" => ("Number of queries dropped because of an invalid Proxy Protocol header", C),
        "udp-in-errors" => ("From /proc/net/snmp InErrors", C),
        "udp-noport-errors" => ("From /proc/net/snmp NoPorts", C),
        "udp-recvbuf-errors" => ("From /proc/net/snmp RcvbufErrors", C),
        "udp-sndbuf-errors" => ("From /proc/net/snmp SndbufErrors", C),
        "udp-in-csum-errors" => ("From /proc/net/snmp InCsumErrors", C),
        "udp6-in-errors" => ("From /proc/net/snmp6 Udp6InErrors", C),
        "udp6-noport-errors" => ("From /proc/net/snmp6 Udp6NoPorts", C),
        "udp6-recvbuf-errors" => ("From /proc/net/snmp6 Udp6RcvbufErrors", C),
        "udp6-sndbuf-errors" => ("From /proc/net/snmp6 Udp6SndbufErrors", C),
        "udp6-in-csum-errors" => ("From /proc/net/snmp6 Udp6InCsumErrors", C),
        "tcp-listen-overflows" => ("From /proc/net/netstat ListenOverflows", C),
        _ => ("A dnsdist statistic", C),
    }
}

/// The whole exposition.
pub(crate) fn render(view: &View) -> String {
    let mut out = Out {
        text: String::with_capacity(16 * 1024),
    };
    globals(&mut out, view);
    latency_histogram(&mut out, view);
    servers(&mut out, view);
    frontends(&mut out, view);
    pools(&mut out, view);
    let serves_zones = !view.config.zones.is_empty() || !view.state.zones.catalog.is_empty();
    if serves_zones || view.state.shield.rrl.is_some() {
        rampart(&mut out, view);
    }
    out.text
}

fn globals(out: &mut Out, view: &View) {
    for (stat, value) in api::dnsdist_stats(view) {
        // In the histogram below, as dnsdist does.
        if stat == "latency-sum" || stat == "latency-count" {
            continue;
        }
        let (help, kind) = describe(stat);
        let name = format!("dnsdist_{}", stat.replace('-', "_"));
        out.one(&name, help, kind, value.as_f64().unwrap_or(0.0));
    }
}

fn latency_histogram(out: &mut Out, view: &View) {
    let latency = &view.state.runtime.stats.latency;
    let name = "dnsdist_latency";
    let _ = writeln!(
        out.text,
        "# HELP {name} Histogram of responses by latency (in milliseconds)"
    );
    let _ = writeln!(out.text, "# TYPE {name} histogram");
    let buckets = latency.buckets();
    let mut cumulative = 0;
    for (i, bound) in shield::stats::Latency::bounds_ms().iter().enumerate() {
        cumulative += buckets[i].1;
        out.sample(
            &format!("{name}_bucket"),
            &[("le", &bound.to_string())],
            cumulative as f64,
        );
    }
    cumulative += buckets[5].1;
    out.sample(
        &format!("{name}_bucket"),
        &[("le", "+Inf")],
        cumulative as f64,
    );
    let (sum, count) = latency.sum_and_count();
    out.sample(&format!("{name}_sum"), &[], sum as f64);
    out.sample(&format!("{name}_count"), &[], count as f64);
}

/// Per-backend families; labels as dnsdist's (`server` with dots as
/// underscores, `address`).
fn servers(out: &mut Out, view: &View) {
    let backends = &view.state.upstream.pools.backends;
    let families: [Family<pool::Backend>; 12] = [
        (
            "queries",
            "Amount of queries relayed to server",
            Kind::Counter,
            |b| b.queries() as f64,
        ),
        (
            "responses",
            "Amount of responses received from this server",
            Kind::Counter,
            |b| b.responses() as f64,
        ),
        (
            "drops",
            "Amount of queries not answered by server",
            Kind::Counter,
            |b| b.drops() as f64,
        ),
        (
            "latency",
            "Server's latency when answering questions in milliseconds",
            Kind::Gauge,
            |b| b.latency_ms(),
        ),
        (
            "senderrors",
            "Total number of OS send errors while relaying queries",
            Kind::Counter,
            |b| b.send_errors() as f64,
        ),
        (
            "outstanding",
            "Current number of queries that are waiting for a backend response",
            Kind::Gauge,
            |b| b.outstanding() as f64,
        ),
        (
            "order",
            "The order in which this server is picked",
            Kind::Gauge,
            |b| f64::from(b.order),
        ),
        (
            "weight",
            "The weight within the order in which this server is picked",
            Kind::Gauge,
            |b| f64::from(b.weight),
        ),
        (
            "tcpnewconnections",
            "Stream connections opened to this backend for queries",
            Kind::Counter,
            |b| counted(&b.conns.new),
        ),
        (
            "tcpreusedconnections",
            "Kept stream connections to this backend taken again for a query",
            Kind::Counter,
            |b| counted(&b.conns.reused),
        ),
        (
            "tlsresumptions",
            "TLS sessions to this backend that resumed an earlier one",
            Kind::Counter,
            |b| counted(&b.conns.tls_resumptions),
        ),
        (
            "healthcheckfailures",
            "Health checks of this backend that failed",
            Kind::Counter,
            |b| counted(&b.conns.health_check_failures),
        ),
    ];
    if backends.is_empty() {
        return;
    }
    for (suffix, help, kind, value) in families {
        let name = format!("dnsdist_server_{suffix}");
        out.family(&name, help, kind);
        for b in backends {
            let server = b.name.replace('.', "_");
            let address = b.addr.to_string();
            out.sample(
                &name,
                &[("server", &server), ("address", &address)],
                value(b),
            );
        }
    }
    let name = "dnsdist_server_status";
    out.family(
        name,
        "Whether this backend is up (1) or down (0)",
        Kind::Gauge,
    );
    for b in backends {
        let server = b.name.replace('.', "_");
        let address = b.addr.to_string();
        let up = if b.is_up() { 1.0 } else { 0.0 };
        out.sample(name, &[("server", &server), ("address", &address)], up);
    }
}

fn counted(c: &std::sync::atomic::AtomicU64) -> f64 {
    c.load(std::sync::atomic::Ordering::Relaxed) as f64
}

fn frontends(out: &mut Out, view: &View) {
    let fronts = &view.ctx.frontends;
    if fronts.is_empty() {
        return;
    }
    let name = "dnsdist_frontend_queries";
    out.family(
        name,
        "Amount of queries received by this frontend",
        Kind::Counter,
    );
    for f in fronts {
        let addr = f.addr.to_string();
        if f.udp {
            let v = f.udp_queries.get() as f64;
            out.sample(name, &[("frontend", &addr), ("proto", "UDP")], v);
        }
        if f.streams {
            let v = f.tcp_queries.get() as f64;
            out.sample(
                name,
                &[("frontend", &addr), ("proto", f.stream_kind.name())],
                v,
            );
        }
    }
    let name = "dnsdist_frontend_tcpconnections";
    out.family(
        name,
        "Amount of TCP connections accepted by this frontend",
        Kind::Counter,
    );
    for f in fronts.iter().filter(|f| f.streams) {
        let addr = f.addr.to_string();
        let v = f.tcp_connections.get() as f64;
        out.sample(
            name,
            &[("frontend", &addr), ("proto", f.stream_kind.name())],
            v,
        );
    }
    let encrypted: Vec<_> = fronts
        .iter()
        .filter(|f| f.stream_kind != net::StreamKind::Tcp)
        .collect();
    if encrypted.is_empty() {
        return;
    }
    let name = "dnsdist_frontend_tlshandshakefailures";
    out.family(
        name,
        "Amount of TLS handshakes that failed or did not finish",
        Kind::Counter,
    );
    for f in encrypted {
        let addr = f.addr.to_string();
        let v = f.tls_handshake_failures.get() as f64;
        out.sample(
            name,
            &[("frontend", &addr), ("proto", f.stream_kind.name())],
            v,
        );
    }
    doh_frontends(out, fronts);
}

/// The DoH listeners' requests and answers, in dnsdist's families.
fn doh_frontends(out: &mut Out, fronts: &[std::sync::Arc<net::FrontendCounts>]) {
    let doh: Vec<_> = fronts
        .iter()
        .filter(|f| f.stream_kind == net::StreamKind::Doh)
        .collect();
    if doh.is_empty() {
        return;
    }
    let name = "dnsdist_frontend_doh_http_method_queries";
    out.family(name, "DoH queries received, by HTTP method", Kind::Counter);
    for f in &doh {
        let addr = f.addr.to_string();
        for (method, c) in [("get", &f.doh.get), ("post", &f.doh.post)] {
            out.sample(
                name,
                &[("method", method), ("address", &addr)],
                c.get() as f64,
            );
        }
    }
    let name = "dnsdist_frontend_doh_http_version_queries";
    out.family(name, "DoH queries received, by HTTP version", Kind::Counter);
    for f in &doh {
        let addr = f.addr.to_string();
        for (version, v) in ["1", "2"].iter().zip(&f.doh.versions) {
            let n = v.queries.get() as f64;
            out.sample(name, &[("version", version), ("address", &addr)], n);
        }
    }
    let name = "dnsdist_frontend_doh_bad_requests";
    out.family(name, "DoH requests that held no DNS query", Kind::Counter);
    for f in &doh {
        let addr = f.addr.to_string();
        out.sample(name, &[("address", &addr)], f.doh.bad_requests.get() as f64);
    }
    let name = "dnsdist_frontend_doh_responses";
    out.family(name, "DoH answers sent, by kind", Kind::Counter);
    for f in &doh {
        let addr = f.addr.to_string();
        let d = &f.doh;
        for (kind, c) in [
            ("error", &d.errors),
            ("redirect", &d.redirects),
            ("valid", &d.valid),
        ] {
            out.sample(name, &[("type", kind), ("address", &addr)], c.get() as f64);
        }
    }
    let name = "dnsdist_frontend_doh_version_status_responses";
    out.family(
        name,
        "DoH answers sent, by HTTP version and status",
        Kind::Counter,
    );
    for f in &doh {
        let addr = f.addr.to_string();
        for (version, v) in ["1", "2"].iter().zip(&f.doh.versions) {
            for (status, c) in shield::frontend::STATUS_COLUMNS.iter().zip(&v.statuses) {
                let status = if *status == "Others" { "other" } else { status };
                let labels = [
                    ("httpversion", *version),
                    ("status", status),
                    ("address", &addr),
                ];
                out.sample(name, &labels, c.get() as f64);
            }
        }
    }
}

fn pools(out: &mut Out, view: &View) {
    let pools = &view.state.upstream.pools;
    let by_pool = pools.by_pool();
    if by_pool.is_empty() && pools.caches.is_empty() {
        return;
    }
    let mut names: Vec<&String> = by_pool.keys().collect();
    for k in pools.caches.keys() {
        if !names.contains(&k) {
            names.push(k);
        }
    }
    names.sort();
    let label = |n: &str| {
        if n.is_empty() {
            "_default_".to_string()
        } else {
            n.to_string()
        }
    };
    let name = "dnsdist_pool_servers";
    out.family(name, "Number of servers in that pool", Kind::Gauge);
    for n in &names {
        out.sample(
            name,
            &[("pool", &label(n))],
            by_pool.get(*n).map_or(0, Vec::len) as f64,
        );
    }
    let name = "dnsdist_pool_active_servers";
    out.family(
        name,
        "Number of available servers in that pool",
        Kind::Gauge,
    );
    for n in &names {
        let up = by_pool
            .get(*n)
            .map_or(0, |v| v.iter().filter(|b| b.is_up()).count());
        out.sample(name, &[("pool", &label(n))], up as f64);
    }
    let families = [
        (
            "cache_size",
            "maxEntries",
            "Maximum number of entries that the cache can hold",
            Kind::Gauge,
        ),
        (
            "cache_entries",
            "entries",
            "Number of entries currently present in the cache",
            Kind::Gauge,
        ),
        (
            "cache_hits",
            "hits",
            "Number of hits from the cache",
            Kind::Counter,
        ),
        (
            "cache_misses",
            "misses",
            "Number of misses from the cache",
            Kind::Counter,
        ),
        (
            "cache_insert_collisions",
            "insertCollisions",
            "Number of insertions refused because the cache was full",
            Kind::Counter,
        ),
        (
            "cache_ttl_too_shorts",
            "ttlTooShorts",
            "Number of insertions skipped because the TTL was too short",
            Kind::Counter,
        ),
    ];
    for (suffix, key, help, kind) in families {
        let name = format!("dnsdist_pool_{suffix}");
        out.family(&name, help, kind);
        for n in &names {
            let v = pools
                .caches
                .get(*n)
                .and_then(|c| c.counters().into_iter().find(|(k, _)| *k == key))
                .map_or(0, |(_, v)| v);
            out.sample(&name, &[("pool", &label(n))], v as f64);
        }
    }
}

/// rampart's own families: zones, RRL, cookies, TCP defences.
fn rampart(out: &mut Out, view: &View) {
    let zones = api::zone_list(view.state);
    if !zones.is_empty() {
        let per_zone: [Family<xfr::service::ZoneStatus>; 4] = [
            (
                "rampart_zone_serial",
                "SOA serial of the zone being served",
                Kind::Gauge,
                |z| f64::from(z.serial),
            ),
            (
                "rampart_zone_records",
                "Number of records in the zone",
                Kind::Gauge,
                |z| z.records as f64,
            ),
            (
                "rampart_zone_journal_changes",
                "Number of changes kept in the zone's journal for IXFR",
                Kind::Gauge,
                |z| z.changes as f64,
            ),
            (
                "rampart_zone_loaded",
                "Whether the zone is being served (1) or not (0)",
                Kind::Gauge,
                |z| if z.loaded { 1.0 } else { 0.0 },
            ),
        ];
        for (name, help, kind, value) in per_zone {
            out.family(name, help, kind);
            for z in &zones {
                out.sample(name, &[("zone", &z.name)], value(z));
            }
        }
        // Zones signed here: alert on signing that stopped or a refresh
        // that is overdue.
        let signed: Vec<(&str, xfr::service::SigningHealth)> = zones
            .iter()
            .filter_map(|z| Some((z.name.as_str(), z.dnssec?)))
            .collect();
        if !signed.is_empty() {
            let families: [Family<xfr::service::SigningHealth>; 3] = [
                (
                    "rampart_zone_dnssec_signing",
                    "Whether the zone's DNSSEC signing works (1) or has failed (0)",
                    Kind::Gauge,
                    |d| if d.working { 1.0 } else { 0.0 },
                ),
                (
                    "rampart_zone_dnssec_next_refresh_timestamp_seconds",
                    "When the zone is next signed again (signature refresh or key event), Unix time",
                    Kind::Gauge,
                    |d| match d.next_refresh {
                        u64::MAX => 0.0,
                        t => t as f64,
                    },
                ),
                (
                    "rampart_zone_dnssec_signatures_made_total",
                    "Signatures made for the zone since rampart started",
                    Kind::Counter,
                    |d| d.made as f64,
                ),
            ];
            for (name, help, kind, value) in families {
                out.family(name, help, kind);
                for (zone, d) in &signed {
                    out.sample(name, &[("zone", zone)], value(d));
                }
            }
        }
    }
    let s = &view.state.runtime.stats;
    let counters = [
        (
            "rampart_rrl_dropped_total",
            "Answers Response Rate Limiting dropped",
            s.rrl_dropped.get(),
        ),
        (
            "rampart_rrl_slipped_total",
            "Answers Response Rate Limiting sent truncated instead",
            s.rrl_slipped.get(),
        ),
        (
            "rampart_cookie_queries_total",
            "Queries that carried a DNS COOKIE option",
            s.cookie_in.get(),
        ),
        (
            "rampart_cookie_valid_total",
            "Queries with a valid server cookie",
            s.cookie_valid.get(),
        ),
        (
            "rampart_cookie_malformed_total",
            "Queries with a malformed COOKIE option (answered FORMERR)",
            s.cookie_malformed.get(),
        ),
        (
            "rampart_cookie_badcookie_total",
            "Queries answered BADCOOKIE",
            s.cookie_bad.get(),
        ),
        (
            "rampart_tcp_refused_total",
            "TCP connections refused at a connection limit",
            s.tcp_refused.get(),
        ),
        (
            "rampart_tcp_evicted_total",
            "Idle TCP connections closed to make room for a new one",
            s.tcp_evicted.get(),
        ),
        (
            "rampart_tcp_banned_total",
            "Clients banned from TCP for their connection rate or slow reads",
            s.tcp_banned.get(),
        ),
        (
            "rampart_tls_session_rate_banned_total",
            "Clients banned for their rate of new or resumed TLS sessions",
            s.tls_session_rate_banned.get(),
        ),
    ];
    for (name, help, v) in counters {
        out.one(name, help, Kind::Counter, v as f64);
    }
    let open = s.tcp_opened.get().saturating_sub(s.tcp_closed.get());
    out.one(
        "rampart_tcp_connections",
        "TCP connections open now",
        Kind::Gauge,
        open as f64,
    );
    let blocks = view.state.runtime.dynblocks.list().len();
    out.one(
        "rampart_dynblocks_active",
        "Dynamic blocks in force",
        Kind::Gauge,
        blocks as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_numbers_plain() {
        let mut o = Out {
            text: String::new(),
        };
        o.family("x_y", "Some help text", Kind::Gauge);
        o.sample("x_y", &[("a", "q\"\\\nz"), ("b", "")], 12.0);
        o.sample("x_y", &[], 0.25);
        assert_eq!(
            o.text,
            "# HELP x_y Some help text\n# TYPE x_y gauge\nx_y{a=\"q\\\"\\\\\\nz\",b=\"\"} 12\nx_y 0.25\n"
        );
        assert_eq!(number(f64::INFINITY), "+Inf");
    }

    #[test]
    fn every_dnsdist_statistic_has_a_description() {
        for name in [
            "responses",
            "queries",
            "acl-drops",
            "latency-avg100",
            "uptime",
            "fd-usage",
            "udp6-in-csum-errors",
            "tcp-listen-overflows",
            "security-status",
        ] {
            assert_ne!(describe(name).0, "A dnsdist statistic", "{name}");
        }
    }
}
