//! The path of one query between socket and answer: parse, ACL, rules,
//! then a self-made answer or the zones (DESIGN.md, "the path of a query").

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use shield::answer::self_answer;
use shield::dynblock::BlockAction;
use shield::rings::Record;
use shield::{Outcome, QueryInfo, Runtime};
use wire::{ParseError, Query};
use zone::Transport;

use crate::ecs_plan::EcsPlan;
use crate::State;

/// What to do with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Send the first `len` bytes of the output buffer, after `delay_ms`.
    Answer { len: usize, delay_ms: Option<u32> },
    /// Send nothing; on TCP close the connection (dnsdist's Drop).
    Drop,
    /// Sent on to a backend over UDP: its answer goes out by itself.
    Forwarded,
    /// For a TCP client: ask backend `pools.backends[backend]` over TCP,
    /// and keep the answer in the `cache`th of `pools.caches` (in the
    /// map's iteration order, which is fixed for one snapshot). When the
    /// rules changed the query, the query to send is the first
    /// `rewritten` bytes of the output buffer.
    ForwardTcp {
        backend: usize,
        cache: Option<usize>,
        rewritten: Option<usize>,
        /// A rule's cache TTL for a SERVFAIL/REFUSED answer.
        temp_failure_ttl: Option<u32>,
        /// The ECS option the backend gets.
        ecs: EcsPlan,
        /// The options digests of the answer's cache keys, as
        /// [`crate::forward::CacheSlot`]'s `options` and `zero_scope`.
        digests: (u64, Option<u64>),
    },
    /// Over TCP, for a zone the replication service holds: an AXFR/IXFR
    /// (several messages, unlike any other answer), an UPDATE or a
    /// NOTIFY, answered off the TCP thread (they may wait for a journal
    /// fsync or a zone being changed). Over UDP: an UPDATE handed to the
    /// update thread ([`crate::update_queue`]), which answers it.
    Replication,
    /// For DNS over HTTPS: answer with HTTP `status`; the output holds
    /// the content type (`type_len` bytes) and then the body, `len`
    /// bytes in all (`HTTPStatusAction`).
    Http {
        status: u16,
        type_len: usize,
        len: usize,
    },
}

/// Where to send an answer a backend gives later (UDP only).
/// The socket, and the source address the answer must leave from.
/// (By reference: a 72-byte control message copied into every call on
/// the query path cost more than the forwarder's use of it.)
pub type Frontend<'a> = Option<(&'a Arc<UdpSocket>, &'a crate::reply_from::ReplyFrom)>;

/// Handles `packet` from `client`, writing any answer into `out`.
/// `received_ns` is when it came ([`shield::qps::now_ns`]; a UDP worker
/// reads the clock once per batch), 0 to read the clock here.
#[allow(clippy::too_many_arguments)]
pub fn handle(
    state: &State,
    packet: &[u8],
    client: SocketAddr,
    local: SocketAddr,
    (transport, received_ns): (Transport, u64),
    frontend: Frontend,
    stream: Option<&shield::stream_info::StreamInfo<'_>>,
    out: &mut [u8],
) -> Handled {
    // One clock read when the query came (the rings, the rate rules and
    // the latency share it) and one when its answer is done.
    let clock = shield::qps::QueryClock::at(received_ns);
    let started = clock.now_ns();
    let stats = &state.runtime.stats;
    stats.queries.add(1);
    // The ACL comes first: a denied client gets nothing, not even FORMERR.
    // IPv4-mapped IPv6 as IPv4, once for the ACL, the rings and blocks.
    let ip = shield::netmask::unmap(client.ip());
    if !state.shield.acl.contains(ip) {
        stats.acl_drops.add(1);
        return Handled::Drop;
    }
    let query = match Query::parse(packet) {
        Ok(q) => q,
        Err(ParseError::Drop) => {
            stats.noncompliant_queries.add(1);
            return Handled::Drop;
        }
        // No question: dropped if the config says so, else NOTIMP, the
        // query sent back with QR set (dnsdist's answer).
        Err(ParseError::FormErr) if packet.get(4..6) == Some(&[0, 0]) => {
            stats.noncompliant_queries.add(1);
            stats.empty_queries.add(1);
            if state.shield.drop_empty_queries {
                return Handled::Drop;
            }
            let len = if packet.len() <= 512 {
                packet.len()
            } else {
                12
            };
            let Some(dst) = out.get_mut(..len) else {
                return Handled::Drop;
            };
            dst.copy_from_slice(&packet[..len]);
            dst[2] |= 0x80;
            dst[3] = (dst[3] & 0xf0) | wire::types::rcode::NOTIMP as u8;
            return Handled::Answer {
                len,
                delay_ms: None,
            };
        }
        Err(ParseError::FormErr) => {
            stats.noncompliant_queries.add(1);
            let len = zone::formerr(packet, out);
            return if len == 0 {
                Handled::Drop
            } else {
                Handled::Answer {
                    len,
                    delay_ms: None,
                }
            };
        }
    };
    let tcp = transport == Transport::Tcp;
    let runtime: &Runtime = &state.runtime;
    if query.flags & 0x0100 != 0 {
        stats.rdqueries.add(1);
    }
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    // Into the ring before blocks and rules, as dnsdist: dropped queries
    // still show in the statistics.
    runtime.query_counts.count(lname);
    let rings = &state.rings;
    rings.queries.record_at(
        &Record {
            size: packet.len(),
            tcp,
            port: client.port(),
            ..Record::query(ip, lname, query.qtype)
        },
        started,
    );

    let mut delay_ms = None;
    // An answer a Lua rule made for this query; outlives `outcome`,
    // which may point into it.
    let mut hook_answer = None;
    let mut echo_header = false;
    let mut outcome = Outcome::Continue;
    let mut edits = shield::QueryEdits::default();
    let mut edns_option = None;
    let tags = shield::Tags::default();
    let trailing = shield::Trailing::default();
    let mut blocked = false;
    // Dynamic blocks, client first, then the name's suffix.
    // Without a block in force, the table is not even loaded.
    if runtime.dynblocks.any() {
        let table = runtime.dynblocks.table();
        // A random-subdomain guard lets the names answered lately through.
        // Looked up only when no client block decided already.
        let by_name = || {
            table
                .for_name(lname, started)
                .filter(|b| !(b.unknown_only && runtime.known.contains(lname)))
        };
        if let Some(block) = table
            .for_client(ip, client.port(), started)
            .or_else(by_name)
        {
            let applied = match block.action {
                BlockAction::Drop => {
                    block.blocks.add(1);
                    stats.dyn_blocked.add(1);
                    return Handled::Drop;
                }
                BlockAction::Refused => Some(Outcome::RCode(wire::types::rcode::REFUSED)),
                BlockAction::Nxdomain => Some(Outcome::RCode(wire::types::rcode::NXDOMAIN)),
                BlockAction::Truncate if !tcp => Some(Outcome::Truncate),
                // dnsdist clears RD and sends the query on, past the rules.
                BlockAction::NoRecurse => {
                    edits.clear_rd = true;
                    Some(Outcome::Continue)
                }
                BlockAction::Truncate | BlockAction::NoOp => None,
            };
            if let Some(o) = applied {
                block.blocks.add(1);
                stats.dyn_blocked.add(1);
                outcome = o;
                blocked = true;
            }
        }
        drop(table);
    }
    // Cookies after the blocks (a blocked client gets the block's answer
    // or nothing) and before the rules (a proven address is known to
    // RRL). A cookie our zones cannot accept is refused where they would
    // answer; a query forwarded to a backend keeps its option as it is.
    let cookie = crate::guard::cookie_phase(state, &query, ip, tcp);
    let presented = cookie.presented();
    let reserve = crate::guard::cookie_reserve(&presented);
    // A socket bound to a wildcard address learnt the address asked.
    let local = match frontend {
        Some((_, from)) if local.ip().is_unspecified() => from
            .local_ip()
            .map_or(local, |ip| SocketAddr::new(ip, local.port())),
        _ => local,
    };
    if !blocked && !state.shield.rules.is_empty() {
        let info = QueryInfo {
            client,
            local,
            tcp: transport == Transport::Tcp,
            query: &query,
            lname,
            rcode: None,
            tags: &tags,
            trailing: &trailing,
            pools: Some(&state.upstream.pools),
            clock: &clock,
            stream,
        };
        let verdict = state.shield.rules.evaluate(&info);
        outcome = verdict.outcome;
        edits = verdict.edits;
        edns_option = verdict.edns_option;
        if transport == Transport::Udp {
            delay_ms = verdict.delay_ms;
        }
        hook_answer = verdict.hook_answer;
        echo_header = verdict.echo_header;
    }
    if let (Outcome::HookAnswer, Some(action)) = (outcome, hook_answer.as_deref()) {
        outcome = Outcome::Spoof(action);
    }
    // Rules that change the query (RD, CD, an EDNS option) change a
    // copy: from here on, the zones and the backends see it as changed.
    let client_flags = query.flags;
    let rewritten = edits.rewrites() || edns_option.is_some() || trailing.is_replaced();
    let edited;
    let (packet, query) = if rewritten {
        let mut copy = match trailing.replaced() {
            Some(data) => [&packet[..query.end.min(packet.len())], &data].concat(),
            None => packet.to_vec(),
        };
        edits.apply(&mut copy);
        if let Some((code, data)) = edns_option {
            match wire::edit::set_edns_option(&copy, code, data) {
                Some(with) => copy = with,
                None => return Handled::Drop,
            }
        }
        edited = copy;
        match Query::parse(&edited) {
            Ok(q) => (&edited[..], q),
            Err(_) => return Handled::Drop,
        }
    } else {
        (packet, query)
    };
    let limit = zone::respond::size_limit(&state.zones, &query, transport, out.len());
    // The zones answered from a wildcard (RRL keys those by the zone).
    let mut wildcard = false;
    // A pool a rule names; names in no zone we hold go to the default
    // pool, when there is one (otherwise the zones answer REFUSED).
    let pool = match outcome {
        Outcome::Pool(pool) => Some(pool),
        Outcome::Continue | Outcome::Allow
            if !state.upstream.pools.is_empty()
                && state.zones.catalog.find(lname, false).is_none() =>
        {
            Some("")
        }
        _ => None,
    };
    if let Some(pool) = pool {
        let asked = Asked {
            packet,
            query: &query,
            lname,
            client,
            client_flags,
            edits,
            rewritten,
            delay_ms,
            started,
        };
        return to_pool(state, pool, &asked, transport, frontend, out, limit);
    }
    let len = match outcome {
        Outcome::Drop => {
            stats.rule_drop.add(1);
            return Handled::Drop;
        }
        Outcome::Http(shield::Action::HttpStatus {
            status,
            body,
            content_type,
        }) => {
            let (t, b) = (content_type.as_bytes(), &body[..]);
            let Some(dst) = out.get_mut(..t.len() + b.len()) else {
                return Handled::Drop;
            };
            dst[..t.len()].copy_from_slice(t);
            dst[t.len()..].copy_from_slice(b);
            stats.self_answered.add(1);
            return Handled::Http {
                status: *status,
                type_len: t.len(),
                len: t.len() + b.len(),
            };
        }
        Outcome::Continue | Outcome::Allow => {
            // Our own zones answer: a cookie they cannot accept is refused
            // here (forwarded queries keep their COOKIE option for the
            // backend, as dnsdist passes it on).
            if cookie.refuses() {
                let refused = crate::guard::CookieRefusal {
                    check: &cookie,
                    lname,
                    ip,
                    tcp,
                    now_ns: started,
                };
                return match refused.answer(state, &query, limit, out) {
                    Some(len) => Handled::Answer {
                        len,
                        delay_ms: None,
                    },
                    None => Handled::Drop,
                };
            }
            if let Some(handled) =
                replication(state, &query, client, transport, frontend, out, limit)
            {
                return handled;
            }
            let answered = zone::respond::respond_lowered(
                &state.zones,
                &query,
                lname,
                out,
                transport,
                reserve,
            );
            wildcard = answered.is_some_and(|(_, f)| f.wildcard);
            answered.map(|(len, _)| len)
        }
        other => {
            if !blocked {
                match other {
                    Outcome::RCode(wire::types::rcode::NXDOMAIN) => stats.rule_nxdomain.add(1),
                    Outcome::RCode(wire::types::rcode::REFUSED) => stats.rule_refused.add(1),
                    Outcome::RCode(wire::types::rcode::SERVFAIL) => stats.rule_servfail.add(1),
                    Outcome::Truncate => stats.rule_truncated.add(1),
                    _ => {}
                }
            }
            stats.self_answered.add(1);
            let len = self_answer(
                &other,
                &query,
                out,
                limit - reserve,
                state.zones.max_udp_payload,
            );
            if (blocked || echo_header) && len.is_some() {
                header_turned_around(out, query.flags);
            }
            len
        }
    };
    let self_answered = !matches!(outcome, Outcome::Continue | Outcome::Allow);
    match len {
        Some(mut len) => {
            let rcode = u16::from(out[3] & 0xf);
            // Response rules see answers from the zones; the answers the
            // query rules made have rules of their own (dnsdist's
            // self-answered response rules).
            let chain = if self_answered {
                &state.shield.self_answered_rules
            } else {
                &state.shield.response_rules
            };
            if !chain.is_empty() {
                let info = QueryInfo {
                    client,
                    local,
                    tcp,
                    query: &query,
                    lname,
                    rcode: Some(rcode),
                    tags: &tags,
                    trailing: &trailing,
                    pools: Some(&state.upstream.pools),
                    clock: &clock,
                    stream,
                };
                let verdict = chain.apply(&info, out, &mut len, limit - reserve);
                if verdict.drop {
                    stats.rule_drop.add(1);
                    return Handled::Drop;
                }
                if !tcp && verdict.delay_ms.is_some() {
                    delay_ms = verdict.delay_ms;
                }
            }
            if !tcp {
                let limited = crate::guard::rrl_phase(
                    state, &query, lname, ip, &presented, wildcard, started, out, len, limit,
                );
                match limited {
                    Some(l) => len = l,
                    None => return Handled::Drop,
                }
            }
            // REFUSED from the zones: a name outside them (as Knot and NSD
            // say it). Rule answers stay as dnsdist makes them.
            let ede = (!self_answered
                && u16::from(out[3] & 0xf) == wire::types::rcode::REFUSED
                && matches!(
                    query.qclass,
                    wire::types::class::IN | wire::types::class::ANY
                )
                && query.opcode == wire::types::opcode::QUERY)
                .then_some(crate::guard::EDE_NOT_AUTHORITATIVE);
            len = crate::guard::add_options(state, &presented, ede, ip, out, len);
            let answers = u16::from_be_bytes([out[6], out[7]]);
            let done = shield::qps::now_ns();
            rings.responses.record_at(
                &Record {
                    client: ip,
                    port: client.port(),
                    lname,
                    qtype: query.qtype,
                    rcode,
                    size: len,
                    answers,
                    tcp,
                    latency_us: (done.saturating_sub(started) / 1000).min(u64::from(u32::MAX))
                        as u32,
                },
                done,
            );
            stats.answered(rcode);
            if rcode == 0 && answers > 0 {
                runtime.known.insert(lname);
            }
            Handled::Answer { len, delay_ms }
        }
        None => Handled::Drop,
    }
}

/// UPDATE, NOTIFY, and zone transfers for zones the replication service
/// holds; `None` for everything else (and for zones it does not hold:
/// the zones then answer NOTAUTH or REFUSED).
fn replication(
    state: &State,
    query: &Query,
    client: SocketAddr,
    transport: Transport,
    frontend: Frontend,
    out: &mut [u8],
    limit: usize,
) -> Option<Handled> {
    use wire::types::{opcode, rtype};
    let holds = || {
        let mut lower = [0u8; wire::name::MAX_NAME_LEN];
        state
            .xfr
            .holds(wire::name::to_lowercase(query.qname, &mut lower))
    };
    let message = match (query.opcode, query.qtype, transport) {
        (opcode::UPDATE | opcode::NOTIFY, _, Transport::Tcp)
        | (opcode::QUERY, rtype::AXFR | rtype::IXFR, Transport::Tcp) => {
            return holds().then_some(Handled::Replication);
        }
        // Off the worker: the journal's fsync must not hold up its batch.
        (opcode::UPDATE, _, _) if frontend.is_some() => {
            let (socket, from) = frontend?;
            if !holds() {
                return None;
            }
            // A full queue drops it, unlogged (a flood must not fill the
            // log); the client retries as for a lost datagram.
            crate::update_queue::submit(crate::update_queue::Job {
                xfr: state.xfr.clone(),
                runtime: state.runtime.clone(),
                packet: query.packet.to_vec(),
                client,
                socket: socket.clone(),
                from: *from,
            });
            return Some(Handled::Replication);
        }
        (opcode::UPDATE, _, _) => state.xfr.update(query.packet, client)?,
        (opcode::NOTIFY, _, _) => state.xfr.notify_in(query.packet, client)?,
        (opcode::QUERY, rtype::IXFR, Transport::Udp) => {
            let t = state.xfr.transfer(query.packet, client, Some(limit))?;
            t.messages.into_iter().next()?
        }
        // More additional records than an OPT: perhaps a TSIG, which
        // wants a signed answer (a secondary's signed SOA check).
        _ if query.packet.len() >= 12
            && u16::from_be_bytes([query.packet[10], query.packet[11]])
                > u16::from(query.edns.is_some()) =>
        {
            let respond = |buf: &mut [u8]| zone::respond_query(&state.zones, query, buf, transport);
            state.xfr.signed_query(query.packet, respond, limit)?
        }
        _ => return None,
    };
    if message.len() > out.len() {
        return Some(Handled::Drop);
    }
    out[..message.len()].copy_from_slice(&message);
    state.runtime.stats.answered(u16::from(out[3] & 0xf));
    Some(Handled::Answer {
        len: message.len(),
        delay_ms: None,
    })
}

/// dnsdist answers dynamic blocks and "no server" with the query's own
/// header turned around, so RA stays as the client sent it (where a rule's
/// answer gets RA = RD): the same for `out`, a self-made answer.
fn header_turned_around(out: &mut [u8], client_flags: u16) {
    if let Some(b) = out.get_mut(3) {
        *b = (*b & !0x80) | (client_flags as u8 & 0x80);
    }
}

/// A query on its way to a pool, as the rules left it.
struct Asked<'a> {
    /// The query as the rules changed it.
    packet: &'a [u8],
    query: &'a Query<'a>,
    lname: &'a [u8],
    client: SocketAddr,
    /// The flags the client sent, for its answer.
    client_flags: u16,
    edits: shield::QueryEdits,
    /// Whether `packet` is a changed copy of what the client sent.
    rewritten: bool,
    /// Hold the backend's answer this long (UDP; DelayAction).
    delay_ms: Option<u32>,
    /// When the query came in ([`shield::qps::now_ns`]).
    started: u64,
}

/// Sends the query to a backend of `pool`, or, with none up, drops it
/// (dnsdist's default) or answers SERVFAIL (`setServFailWhenNoServer`).
fn to_pool(
    state: &State,
    pool: &str,
    asked: &Asked,
    transport: Transport,
    frontend: Frontend,
    out: &mut [u8],
    limit: usize,
) -> Handled {
    let Asked {
        packet,
        query,
        lname,
        client,
        client_flags,
        edits,
        rewritten,
        delay_ms,
        started,
    } = *asked;
    let stats = &state.runtime.stats;
    let up = &state.upstream;
    let cache = up.pools.caches.get(pool).filter(|_| !edits.skip_cache);
    let hash = lname.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    // The ECS option a useClientSubnet backend gets is part of the cache
    // key, and the backend chosen decides it: for such a pool the server
    // is picked before the cache is asked (as dnsdist does); for the
    // others, only on a miss.
    let ecs_first = cache.is_some()
        && (up.pools.ecs_pools.contains(pool)
            || up.pools.members(pool).any(|b| b.use_client_subnet));
    let early = ecs_first.then(|| up.pools.select_index(pool, hash));
    let plan_for = |chosen: Option<usize>| {
        let backend = chosen.and_then(|i| up.pools.backends.get(i)).map(|b| &**b);
        let plan = EcsPlan::new(&up.pools, pool, backend, &edits.ecs, client.ip());
        (plan, backend)
    };
    let edns = query.edns.map(|e| (e.udp_payload, query.edns_options));
    let (digest, zero_scope) = match cache {
        Some(c) => {
            let (plan, backend) = plan_for(early.flatten());
            crate::ecs_plan::cache_digests(c, edns, &plan, backend)
        }
        None => (0, None),
    };
    let mut key = pool::CacheKey {
        lname,
        qtype: query.qtype,
        qclass: query.qclass,
        flags: query.flags,
        edns: query.edns.is_some(),
        dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
        tcp: transport == Transport::Tcp,
        options: digest,
    };
    if let Some(c) = cache {
        // A hit is what the backend would send again, whatever its size
        // (the key holds the EDNS payload size the backend was told, and
        // the transport), and goes out as a relayed answer does, uncut.
        // A scope-zero answer kept for every client is looked for first.
        let fits = out.len();
        for options in zero_scope.into_iter().chain([digest]) {
            key.options = options;
            if let Some(len) = c.get(&key, query.id, query.qname, &mut out[..fits], 0) {
                shield::edits::restore_flags(&mut out[..len], client_flags);
                stats.cache_hits.add(1);
                stats.answered(u16::from(out[3] & 0xf));
                return Handled::Answer {
                    len,
                    delay_ms: None,
                };
            }
        }
        stats.cache_misses.add(1);
    }
    let chosen = match early {
        Some(chosen) => chosen,
        None => up.pools.select_index(pool, hash),
    };
    let Some(i) = chosen else {
        // Every server down: a stale answer beats none, if allowed.
        if let Some(len) = cache.filter(|_| up.pools.stale_ttl > 0).and_then(|c| {
            let fits = out.len();
            c.get(
                &key,
                query.id,
                query.qname,
                &mut out[..fits],
                up.pools.stale_ttl,
            )
        }) {
            stats.cache_hits.add(1);
            stats.answered(u16::from(out[3] & 0xf));
            return Handled::Answer {
                len,
                delay_ms: None,
            };
        }
        stats.no_policy.add(1);
        if up.pools.servfail_when_no_server {
            let servfail = Outcome::RCode(wire::types::rcode::SERVFAIL);
            if let Some(len) =
                self_answer(&servfail, query, out, limit, state.zones.max_udp_payload)
            {
                header_turned_around(out, client_flags);
                stats.answered(wire::types::rcode::SERVFAIL);
                return Handled::Answer {
                    len,
                    delay_ms: None,
                };
            }
        }
        return Handled::Drop;
    };
    // The option the chosen server gets (the one the key was made with
    // when the server was picked first; otherwise no server of the pool
    // takes one, or there is no cache).
    let (ecs, _) = plan_for(Some(i));
    // What a UDP client's forwarded query leaves for its answer (over UDP
    // or over a TLS backend's stream).
    let question = crate::forward::Question {
        qname: query.qname,
        qtype: query.qtype,
        client_flags,
        delay_ms,
        started_ns: started,
    };
    let cache_slot = || {
        cache.map(|c| crate::forward::CacheSlot {
            cache: c.clone(),
            qclass: key.qclass,
            flags: key.flags,
            edns: key.edns,
            dnssec_ok: key.dnssec_ok,
            options: digest,
            zero_scope,
            temp_failure_ttl: edits.temp_failure_ttl,
        })
    };
    match (transport, frontend) {
        (Transport::Udp, Some((socket, from))) if !up.pools.backends[i].tcp_only => {
            if up.udp.get(i).is_some_and(|f| {
                f.forward(packet, client, (socket, from), question, cache_slot(), ecs)
            }) {
                Handled::Forwarded
            } else {
                Handled::Drop
            }
        }
        // A TLS backend (TCP-only, as in dnsdist): the UDP client's query
        // is asked over its TLS session and answered over UDP.
        (Transport::Udp, Some((socket, from)))
            if up.pools.backends[i].tls.is_some()
                && crate::forward::forward_over_stream(
                    &up.pools.backends[i],
                    &state.runtime,
                    packet,
                    client,
                    (socket, from),
                    question,
                    cache_slot(),
                    ecs,
                    (limit, up.udp_timeout.max(std::time::Duration::from_secs(1))),
                ) =>
        {
            Handled::Forwarded
        }
        // A tcpOnly backend for a UDP client: send the client to TCP with
        // a truncated answer; its retry is forwarded over TCP.
        (Transport::Udp, _) => {
            match self_answer(
                &Outcome::Truncate,
                query,
                out,
                limit,
                state.zones.max_udp_payload,
            ) {
                Some(len) => Handled::Answer {
                    len,
                    delay_ms: None,
                },
                None => Handled::Drop,
            }
        }
        _ if rewritten && out.len() < packet.len() => Handled::Drop,
        _ => Handled::ForwardTcp {
            // The TCP side sends the changed query from the output buffer.
            rewritten: rewritten.then(|| {
                out[..packet.len()].copy_from_slice(packet);
                packet.len()
            }),
            backend: i,
            temp_failure_ttl: edits.temp_failure_ttl,
            cache: up
                .pools
                .caches
                .keys()
                .position(|k| k == pool)
                .filter(|_| !edits.skip_cache),
            ecs,
            digests: (digest, zero_scope),
        },
    }
}

/// What becomes of a backend's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relay {
    /// Send it on, held back this long if set (UDP; DelayResponseAction),
    /// and keep it in the cache unless a rule said not to.
    Send { delay_ms: Option<u32>, cache: bool },
    /// A rule dropped it.
    Drop,
}

/// A backend's answer on its way to the client: response rules (which may
/// rewrite it, in `buf[..*len]`), counters, the response ring and the
/// known names.
#[allow(clippy::too_many_arguments)]
pub fn backend_answer(
    rules: &shield::response::ResponseChain,
    runtime: &Runtime,
    client: SocketAddr,
    tcp: bool,
    lname: &[u8],
    qtype: u16,
    buf: &mut [u8],
    len: &mut usize,
    latency_us: u32,
) -> Relay {
    let mut delay_ms = None;
    let mut cache = true;
    runtime.stats.latency.record(latency_us);
    if buf.get(3).is_some_and(|b| b & 0xf == 2) {
        runtime.stats.servfail_responses.add(1);
    }
    if !tcp && rules.truncate_tc && buf.get(2).is_some_and(|b| b & 0x02 != 0) {
        *len = wire::edit::truncate_to_question(buf, *len);
    }
    if !rules.is_empty() {
        // The answer read as a query (QR cleared in a copy) gives the
        // selectors their view; only when there are rules to run. The
        // copy goes in this thread's buffer, kept from answer to answer
        // (a Vec per answer was the forwarding path's one allocation).
        thread_local! {
            static VIEW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let mut view = VIEW.with(|v| v.take());
        view.clear();
        view.extend_from_slice(&buf[..*len]);
        view[2] &= 0x7f;
        let verdict = Query::parse(&view).ok().map(|query| {
            let tags = shield::Tags::default();
            let info = QueryInfo {
                client,
                local: SocketAddr::from(([0, 0, 0, 0], 0)),
                tcp,
                query: &query,
                lname,
                // The full rcode, its upper bits from the OPT (ERCodeRule).
                rcode: Some(
                    u16::from(query.edns.map_or(0, |e| e.ext_rcode)) << 4 | u16::from(buf[3] & 0xf),
                ),
                tags: &tags,
                trailing: &Default::default(),
                pools: None,
                clock: &Default::default(),
                stream: None,
            };
            // The backend's answer fit the client; a rewrite may not grow
            // past it over UDP.
            let limit = if tcp { buf.len() } else { (*len).max(512) };
            rules.apply(&info, buf, len, limit)
        });
        VIEW.with(|v| v.replace(view));
        if let Some(verdict) = verdict {
            if verdict.drop {
                runtime.stats.rule_drop.add(1);
                return Relay::Drop;
            }
            delay_ms = verdict.delay_ms.filter(|_| !tcp);
            cache = !verdict.skip_cache;
        }
    }
    let rcode = u16::from(buf[3] & 0xf);
    let answers = u16::from_be_bytes([buf[6], buf[7]]);
    runtime.stats.answered(rcode);
    if rcode == 0 && answers > 0 {
        runtime.known.insert(lname);
    }
    runtime.rings.load().responses.record(&Record {
        client: client.ip(),
        port: client.port(),
        lname,
        qtype,
        rcode,
        size: *len,
        answers,
        tcp,
        latency_us,
    });
    Relay::Send { delay_ms, cache }
}
