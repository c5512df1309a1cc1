//! The path of one query between socket and answer: parse, ACL, rules,
//! then a self-made answer or the zones (DESIGN.md, "the path of a query").

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use shield::answer::self_answer;
use shield::dynblock::BlockAction;
use shield::qps::QueryClock;
use shield::rings::Record;
use shield::{Outcome, QueryInfo, Runtime};
use wire::{ParseError, Query};
use zone::Transport;

use crate::ecs_plan::EcsPlan;
use crate::State;

/// What to do with a query.
#[derive(Debug)]
pub enum Handled {
    /// Send the first `len` bytes of the output buffer, after `delay_ms`.
    Answer { len: usize, delay_ms: Option<u32> },
    /// Send nothing; on TCP close the connection (dnsdist's Drop).
    Drop,
    /// Sent on to a backend over UDP: its answer goes out by itself.
    Forwarded,
    /// For a TCP client: ask backend `pools.backends[backend]` over TCP,
    /// and keep the answer in `cache`. When the rules changed the query,
    /// the query to send is the first `rewritten` bytes of the output
    /// buffer.
    ForwardTcp {
        backend: usize,
        cache: Option<Arc<pool::PacketCache>>,
        /// The query's question and cache-key facts, as parsed here: the
        /// TCP side does not parse it again.
        question: TcpQuestion,
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

/// What the TCP side needs of a query it sends on: the question its
/// answer must carry and the facts of its cache key. The name is the
/// query's first `qname_len` bytes after the header, where it always is.
#[derive(Clone, Copy, Debug)]
pub struct TcpQuestion {
    pub qname_len: usize,
    /// The cache key's transport: TCP, but for DNS over HTTPS, whose
    /// queries go to backends over UDP and share UDP's answers (dnsdist).
    pub tcp: bool,
    pub qtype: u16,
    pub qclass: u16,
    pub flags: u16,
    pub edns: bool,
    pub dnssec_ok: bool,
}

impl TcpQuestion {
    /// The query name of `query`, the query this was made from.
    pub fn qname<'q>(&self, query: &'q [u8]) -> Option<&'q [u8]> {
        query.get(12..12 + self.qname_len)
    }

    /// The cache key of the query named `lname` (lowercase), with the
    /// EDNS options' digest `options`.
    pub fn key<'a>(&self, lname: &'a [u8], options: u64) -> pool::CacheKey<'a> {
        pool::CacheKey {
            lname,
            qtype: self.qtype,
            qclass: self.qclass,
            flags: self.flags,
            edns: self.edns,
            dnssec_ok: self.dnssec_ok,
            tcp: self.tcp,
            options,
        }
    }
}

/// Where to send an answer a backend gives later (UDP only).
/// The socket, and the source address the answer must leave from.
/// (By reference: a 72-byte control message copied into every call on
/// the query path cost more than the forwarder's use of it.)
pub type Frontend<'a> = Option<(&'a Arc<UdpSocket>, &'a crate::reply_from::ReplyFrom)>;

/// One query on its way through the phases: who asked, how, and when.
/// Made once by [`handle`] and lent to each phase, so a phase added later
/// (a new defence, a new answer source) takes what it needs from here.
struct Asking<'a> {
    state: &'a State,
    client: SocketAddr,
    /// The client's address, an IPv4-mapped IPv6 one as IPv4 (the ACL,
    /// the rings, the blocks and RRL all key on this one).
    ip: IpAddr,
    /// The address the query came to (for a socket bound to a wildcard
    /// address, the one the client asked, when the packet said it).
    local: SocketAddr,
    transport: Transport,
    tcp: bool,
    /// When the query came; the rings, the rate rules and the latency
    /// share this one clock read.
    clock: QueryClock,
    started: u64,
    frontend: Frontend<'a>,
    stream: Option<&'a shield::stream_info::StreamInfo<'a>>,
    /// What the query rules wrote on the query for later rules. (Held
    /// by reference: owned here, their drop was an out-of-line call per
    /// query, 30 instructions, where as locals it is inlined and cheap.)
    tags: &'a shield::Tags,
    trailing: &'a shield::Trailing,
}

impl Asking<'_> {
    /// What the selectors see of `query` (`rcode` for response rules).
    fn info<'q>(
        &'q self,
        query: &'q Query<'q>,
        lname: &'q [u8],
        rcode: Option<u16>,
    ) -> QueryInfo<'q> {
        QueryInfo {
            client: self.client,
            local: self.local,
            tcp: self.tcp,
            query,
            lname,
            rcode,
            tags: self.tags,
            trailing: self.trailing,
            pools: Some(&self.state.upstream.pools),
            clock: &self.clock,
            stream: self.stream,
        }
    }
}

/// What the dynamic blocks or the query rules decided for a query.
struct Decision<'r> {
    outcome: Outcome<'r>,
    /// Changes to the query before it is answered or sent on.
    edits: shield::QueryEdits,
    /// An EDNS option to set in the query.
    edns_option: Option<(u16, &'r [u8])>,
    /// Hold the UDP answer back this long (DelayAction).
    delay_ms: Option<u32>,
    /// Send the query's header back as the client sent it (a dynamic
    /// block's answer, a hook's rcode answer).
    echo_header: bool,
    /// A dynamic block decided; the rules did not run.
    blocked: bool,
}

impl Decision<'_> {
    fn answer_normally() -> Self {
        Decision {
            outcome: Outcome::Continue,
            edits: shield::QueryEdits::default(),
            edns_option: None,
            delay_ms: None,
            echo_header: false,
            blocked: false,
        }
    }

    /// Whether the query rules made the answer (not the zones, the
    /// replication service or a backend).
    fn self_answered(&self) -> bool {
        !matches!(self.outcome, Outcome::Continue | Outcome::Allow)
    }
}

/// Handles `packet` from `client`, writing any answer into `out`.
/// `received_ns` is when it came ([`shield::qps::now_ns`]; a UDP worker
/// reads the clock once per batch), 0 to read the clock here.
///
/// The phases, in order (DESIGN.md, "the path of a query"): ACL → parse
/// → rings → dynamic blocks → cookies → query rules → rewrite → dispatch
/// (a pool, the replication service, the zones, or the rules' own
/// answer) → response rules → RRL → EDNS options → accounting.
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
    let clock = QueryClock::at(received_ns);
    let started = clock.now_ns();
    let stats = &state.runtime.stats;
    stats.queries.add(1);
    // The ACL comes first: a denied client gets nothing, not even FORMERR.
    let ip = shield::netmask::unmap(client.ip());
    if !state.shield.acl.contains(ip) {
        stats.acl_drops.add(1);
        return Handled::Drop;
    }
    let query = match parse(state, packet, out) {
        Ok(query) => query,
        Err(handled) => return handled,
    };
    if query.flags & 0x0100 != 0 {
        stats.rdqueries.add(1);
    }
    // The one lowercase copy of the name every later phase reads.
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    let (tags, trailing) = (shield::Tags::default(), shield::Trailing::default());
    let ask = Asking {
        state,
        client,
        ip,
        local: match frontend {
            Some((_, from)) if local.ip().is_unspecified() => from
                .local_ip()
                .map_or(local, |ip| SocketAddr::new(ip, local.port())),
            _ => local,
        },
        transport,
        tcp: transport == Transport::Tcp,
        clock,
        started,
        frontend,
        stream,
        tags: &tags,
        trailing: &trailing,
    };
    record_query(&ask, &query, lname, packet.len());

    // An answer a Lua rule made for this query; outlives the decision,
    // whose outcome may point into it.
    let mut hook_answer = None;
    let mut decision = match dynamic_block(&ask, lname) {
        Err(handled) => return handled,
        Ok(Some(decision)) => decision,
        Ok(None) if state.shield.rules.is_empty() => Decision::answer_normally(),
        Ok(None) => {
            let verdict = state.shield.rules.evaluate(&ask.info(&query, lname, None));
            hook_answer = verdict.hook_answer;
            Decision {
                outcome: verdict.outcome,
                edits: verdict.edits,
                edns_option: verdict.edns_option,
                delay_ms: verdict.delay_ms.filter(|_| transport == Transport::Udp),
                echo_header: verdict.echo_header,
                blocked: false,
            }
        }
    };
    if let (Outcome::HookAnswer, Some(action)) = (decision.outcome, hook_answer.as_deref()) {
        decision.outcome = match action {
            // dq:setHTTPResponse(): an HTTP answer (DoH only).
            shield::Action::HttpStatus { .. } => Outcome::Http(action),
            _ => Outcome::Spoof(action),
        };
    }
    // Cookies after the blocks (a blocked client gets the block's answer
    // or nothing) and before the answer (a proven address is known to
    // RRL). A cookie our zones cannot accept is refused where they would
    // answer; a query forwarded to a backend keeps its option as it is.
    let cookie = crate::guard::cookie_phase(state, &query, ip, ask.tcp);

    // Rules that change the query (RD, CD, an EDNS option) change a
    // copy: from here on, the zones and the backends see it as changed.
    let client_flags = query.flags;
    // (By reference: moving the parsed query into a new binding cost a
    // copy of it per query.)
    let (edited, reparsed);
    let (packet, query, rewritten) = match rewrite(packet, &query, &decision, &trailing) {
        Err(handled) => return handled,
        Ok(None) => (packet, &query, false),
        Ok(Some(copy)) => {
            edited = copy;
            reparsed = match Query::parse(&edited) {
                Ok(q) => q,
                Err(_) => return Handled::Drop,
            };
            (&edited[..], &reparsed, true)
        }
    };
    let limit = zone::respond::size_limit(&state.zones, query, transport, out.len());

    // Dispatch: a pool, or an answer made here.
    if let Some(pool) = pool_for(state, decision.outcome, lname) {
        let asked = Asked {
            packet,
            query,
            lname,
            client,
            client_flags,
            edits: decision.edits,
            rewritten,
            delay_ms: decision.delay_ms,
            started,
            doh: stream.is_some_and(|s| s.http.is_some()),
        };
        return to_pool(state, pool, &asked, transport, frontend, out, limit);
    }
    let presented = cookie.presented();
    let reserve = crate::guard::cookie_reserve(&presented);
    let made = match decision.outcome {
        Outcome::Drop => {
            stats.rule_drop.add(1);
            return Handled::Drop;
        }
        Outcome::Http(action) => return http_answer(state, action, out),
        Outcome::Continue | Outcome::Allow => {
            match from_zones(&ask, query, lname, &cookie, limit, out) {
                Ok(made) => made,
                Err(handled) => return handled,
            }
        }
        rule => Made {
            len: self_made(&ask, rule, &decision, query, limit - reserve, out),
            wildcard: false,
        },
    };
    let Some(len) = made.len else {
        return Handled::Drop;
    };
    let answer = Answer {
        len,
        limit,
        reserve,
        wildcard: made.wildcard,
        delay_ms: decision.delay_ms,
        self_answered: decision.self_answered(),
    };
    respond(&ask, query, lname, &presented, answer, out)
}

/// Parses the query; a message that is not one is dropped or answered
/// here (FORMERR, or NOTIMP for no question, as dnsdist).
#[inline(always)]
fn parse<'p>(state: &State, packet: &'p [u8], out: &mut [u8]) -> Result<Query<'p>, Handled> {
    let stats = &state.runtime.stats;
    match Query::parse(packet) {
        Ok(q) => Ok(q),
        Err(ParseError::Drop) => {
            stats.noncompliant_queries.add(1);
            Err(Handled::Drop)
        }
        // No question: dropped if the config says so, else NOTIMP, the
        // query sent back with QR set (dnsdist's answer).
        Err(ParseError::FormErr) if packet.get(4..6) == Some(&[0, 0]) => {
            stats.noncompliant_queries.add(1);
            stats.empty_queries.add(1);
            if state.shield.drop_empty_queries {
                return Err(Handled::Drop);
            }
            let len = if packet.len() <= 512 {
                packet.len()
            } else {
                12
            };
            let Some(dst) = out.get_mut(..len) else {
                return Err(Handled::Drop);
            };
            dst.copy_from_slice(&packet[..len]);
            dst[2] |= 0x80;
            dst[3] = (dst[3] & 0xf0) | wire::types::rcode::NOTIMP as u8;
            Err(Handled::Answer {
                len,
                delay_ms: None,
            })
        }
        Err(ParseError::FormErr) => {
            stats.noncompliant_queries.add(1);
            let len = zone::formerr(packet, out);
            Err(if len == 0 {
                Handled::Drop
            } else {
                Handled::Answer {
                    len,
                    delay_ms: None,
                }
            })
        }
    }
}

/// Into the query ring and the name counts before blocks and rules, as
/// dnsdist: dropped queries still show in the statistics.
#[inline(always)]
fn record_query(ask: &Asking, query: &Query, lname: &[u8], size: usize) {
    ask.state.runtime.query_counts.count(lname);
    ask.state.rings.queries.record_at(
        &Record {
            size,
            tcp: ask.tcp,
            port: ask.client.port(),
            ..Record::query(ask.ip, lname, query.qtype)
        },
        ask.started,
    );
}

/// The dynamic block in force for the client, else for the name's
/// suffix: `Err` when it drops the query, `Ok(None)` when none applies
/// (the query rules decide).
fn dynamic_block<'r>(ask: &Asking<'r>, lname: &[u8]) -> Result<Option<Decision<'r>>, Handled> {
    let runtime = &ask.state.runtime;
    // Without a block in force, the table is not even loaded.
    if !runtime.dynblocks.any() {
        return Ok(None);
    }
    let table = runtime.dynblocks.table();
    // A random-subdomain guard lets the names answered lately through.
    // Looked up only when no client block decided already.
    let by_name = || {
        table
            .for_name(lname, ask.started)
            .filter(|b| !(b.unknown_only && runtime.known.contains(lname)))
    };
    let Some(block) = table
        .for_client(ask.ip, ask.client.port(), ask.started)
        .or_else(by_name)
    else {
        return Ok(None);
    };
    let mut decision = Decision {
        blocked: true,
        ..Decision::answer_normally()
    };
    decision.outcome = match block.action {
        BlockAction::Drop => {
            block.blocks.add(1);
            runtime.stats.dyn_blocked.add(1);
            return Err(Handled::Drop);
        }
        BlockAction::Refused => Outcome::RCode(wire::types::rcode::REFUSED),
        BlockAction::Nxdomain => Outcome::RCode(wire::types::rcode::NXDOMAIN),
        BlockAction::Truncate if !ask.tcp => Outcome::Truncate,
        // dnsdist clears RD and sends the query on, past the rules.
        BlockAction::NoRecurse => {
            decision.edits.clear_rd = true;
            Outcome::Continue
        }
        // Truncate over TCP, NoOp: counted nowhere, the rules decide.
        BlockAction::Truncate | BlockAction::NoOp => return Ok(None),
    };
    block.blocks.add(1);
    runtime.stats.dyn_blocked.add(1);
    Ok(Some(decision))
}

/// The query as the rules changed it (flags, an EDNS option, trailing
/// data), or `None` when they left it as it came.
fn rewrite(
    packet: &[u8],
    query: &Query,
    decision: &Decision,
    trailing: &shield::Trailing,
) -> Result<Option<Vec<u8>>, Handled> {
    if !(decision.edits.rewrites() || decision.edns_option.is_some() || trailing.is_replaced()) {
        return Ok(None);
    }
    let mut copy = match trailing.replaced() {
        Some(data) => [&packet[..query.end.min(packet.len())], &data].concat(),
        None => packet.to_vec(),
    };
    decision.edits.apply(&mut copy);
    if let Some((code, data)) = decision.edns_option {
        copy = wire::edit::set_edns_option(&copy, code, data).ok_or(Handled::Drop)?;
    }
    Ok(Some(copy))
}

/// The pool a query goes to: the one a rule names, else, for a name in
/// no zone we hold, the default pool when there is one (otherwise the
/// zones answer REFUSED).
fn pool_for<'r>(state: &State, outcome: Outcome<'r>, lname: &[u8]) -> Option<&'r str> {
    match outcome {
        Outcome::Pool(pool) => Some(pool),
        Outcome::Continue | Outcome::Allow
            if !state.upstream.pools.is_empty()
                && state.zones.catalog.find(lname, false).is_none() =>
        {
            Some("")
        }
        _ => None,
    }
}

/// A DNS over HTTPS answer with an HTTP status (`HTTPStatusAction`).
fn http_answer(state: &State, action: &shield::Action, out: &mut [u8]) -> Handled {
    let shield::Action::HttpStatus {
        status,
        body,
        content_type,
    } = action
    else {
        return Handled::Drop;
    };
    let (t, b) = (content_type.as_bytes(), &body[..]);
    let Some(dst) = out.get_mut(..t.len() + b.len()) else {
        return Handled::Drop;
    };
    dst[..t.len()].copy_from_slice(t);
    dst[t.len()..].copy_from_slice(b);
    state.runtime.stats.self_answered.add(1);
    Handled::Http {
        status: *status,
        type_len: t.len(),
        len: t.len() + b.len(),
    }
}

/// An answer made in `out`, before the response phases.
struct Made {
    /// Its length; `None` when none could be made (dropped).
    len: Option<usize>,
    /// The zones answered from a wildcard (RRL keys those by the zone).
    wildcard: bool,
}

/// Our own zones' answer, or the replication service's (which is
/// finished: `Err`). A cookie they cannot accept is refused here
/// (forwarded queries keep their COOKIE option for the backend, as
/// dnsdist passes it on).
#[inline(always)]
fn from_zones(
    ask: &Asking,
    query: &Query,
    lname: &[u8],
    cookie: &crate::guard::CookieCheck,
    limit: usize,
    out: &mut [u8],
) -> Result<Made, Handled> {
    let state = ask.state;
    if cookie.refuses() {
        let refused = crate::guard::CookieRefusal {
            check: cookie,
            lname,
            ip: ask.ip,
            tcp: ask.tcp,
            now_ns: ask.started,
        };
        return Err(match refused.answer(state, query, limit, out) {
            Some(len) => Handled::Answer {
                len,
                delay_ms: None,
            },
            None => Handled::Drop,
        });
    }
    if maybe_replication(query) {
        if let Some(handled) = replication(ask, query, lname, out, limit) {
            return Err(handled);
        }
    }
    let reserve = crate::guard::cookie_reserve(&cookie.presented());
    let answered = zone::respond::respond_lowered(
        &state.zones,
        query,
        lname,
        out,
        (ask.transport, limit),
        reserve,
    );
    Ok(Made {
        len: answered.map(|(len, _)| len),
        wildcard: answered.is_some_and(|(_, f)| f.wildcard),
    })
}

/// The answer a rule or a dynamic block asked for (an rcode, TC, a
/// spoofed record), in `room` bytes of `out`.
fn self_made(
    ask: &Asking,
    outcome: Outcome,
    decision: &Decision,
    query: &Query,
    room: usize,
    out: &mut [u8],
) -> Option<usize> {
    let stats = &ask.state.runtime.stats;
    if !decision.blocked {
        match outcome {
            Outcome::RCode(wire::types::rcode::NXDOMAIN) => stats.rule_nxdomain.add(1),
            Outcome::RCode(wire::types::rcode::REFUSED) => stats.rule_refused.add(1),
            Outcome::RCode(wire::types::rcode::SERVFAIL) => stats.rule_servfail.add(1),
            Outcome::Truncate => stats.rule_truncated.add(1),
            _ => {}
        }
    }
    stats.self_answered.add(1);
    let len = self_answer(&outcome, query, out, room, ask.state.zones.max_udp_payload);
    if (decision.blocked || decision.echo_header) && len.is_some() {
        header_turned_around(out, query.flags);
    }
    len
}

/// An answer made here, on its way through the response phases.
struct Answer {
    len: usize,
    /// The size the answer may have, and the part of it kept for a
    /// COOKIE option.
    limit: usize,
    reserve: usize,
    wildcard: bool,
    delay_ms: Option<u32>,
    /// Made by the query rules (their own response rules apply).
    self_answered: bool,
}

/// The response phases of an answer made here: response rules, RRL,
/// the EDNS options (COOKIE, EDE), then the response ring, the counters
/// and the names known to be answered.
#[inline(always)]
fn respond(
    ask: &Asking,
    query: &Query,
    lname: &[u8],
    presented: &shield::cookie::Presented,
    answer: Answer,
    out: &mut [u8],
) -> Handled {
    let state = ask.state;
    let stats = &state.runtime.stats;
    let Answer {
        mut len,
        limit,
        reserve,
        wildcard,
        mut delay_ms,
        self_answered,
    } = answer;
    let rcode = u16::from(out[3] & 0xf);
    // Response rules see answers from the zones; the answers the query
    // rules made have rules of their own (dnsdist's self-answered
    // response rules).
    let chain = if self_answered {
        &state.shield.self_answered_rules
    } else {
        &*state.shield.response_rules
    };
    if !chain.is_empty() {
        let info = ask.info(query, lname, Some(rcode));
        let verdict = chain.apply(&info, out, &mut len, limit - reserve);
        if verdict.drop {
            stats.rule_drop.add(1);
            return Handled::Drop;
        }
        if !ask.tcp && verdict.delay_ms.is_some() {
            delay_ms = verdict.delay_ms;
        }
    }
    if !ask.tcp {
        let limited = crate::guard::rrl_phase(
            state,
            query,
            lname,
            ask.ip,
            presented,
            wildcard,
            ask.started,
            out,
            len,
            limit,
        );
        match limited {
            Some(l) => len = l,
            None => return Handled::Drop,
        }
    }
    // REFUSED from the zones: a name outside them (as Knot and NSD say
    // it). Rule answers stay as dnsdist makes them.
    let ede = (!self_answered
        && u16::from(out[3] & 0xf) == wire::types::rcode::REFUSED
        && matches!(
            query.qclass,
            wire::types::class::IN | wire::types::class::ANY
        )
        && query.opcode == wire::types::opcode::QUERY)
        .then_some(crate::guard::EDE_NOT_AUTHORITATIVE);
    len = crate::guard::add_options(state, presented, ede, ask.ip, out, len);
    let answers = u16::from_be_bytes([out[6], out[7]]);
    let done = shield::qps::now_ns();
    state.rings.responses.record_at(
        &Record {
            client: ask.ip,
            port: ask.client.port(),
            lname,
            qtype: query.qtype,
            rcode,
            size: len,
            answers,
            tcp: ask.tcp,
            latency_us: (done.saturating_sub(ask.started) / 1000).min(u64::from(u32::MAX)) as u32,
        },
        done,
    );
    stats.answered(rcode);
    if rcode == 0 && answers > 0 {
        state.runtime.known.insert(lname);
    }
    Handled::Answer { len, delay_ms }
}

/// UPDATE, NOTIFY, and zone transfers for zones the replication service
/// holds; `None` for everything else (and for zones it does not hold:
/// the zones then answer NOTAUTH or REFUSED).
/// Whether [`replication`] may take the query: a transfer, NOTIFY,
/// UPDATE, or a query with more additional records than its OPT (a TSIG).
/// Checked inline first, because almost no query is one.
#[inline]
fn maybe_replication(query: &Query) -> bool {
    use wire::types::{opcode, rtype};
    query.opcode != opcode::QUERY
        || matches!(query.qtype, rtype::AXFR | rtype::IXFR)
        || maybe_signed(query)
}

/// More additional records than an OPT: perhaps a TSIG, which wants a
/// signed answer (a secondary's signed SOA check).
#[inline]
fn maybe_signed(query: &Query) -> bool {
    let additional = query
        .packet
        .get(10..12)
        .map_or(0, |a| u16::from_be_bytes([a[0], a[1]]));
    additional > u16::from(query.edns.is_some())
}

fn replication(
    ask: &Asking,
    query: &Query,
    lname: &[u8],
    out: &mut [u8],
    limit: usize,
) -> Option<Handled> {
    use wire::types::{opcode, rtype};
    let (state, client, transport) = (ask.state, ask.client, ask.transport);
    let holds = || state.xfr.holds(lname);
    let message = match (query.opcode, query.qtype, transport) {
        (opcode::UPDATE | opcode::NOTIFY, _, Transport::Tcp)
        | (opcode::QUERY, rtype::AXFR | rtype::IXFR, Transport::Tcp) => {
            return holds().then_some(Handled::Replication);
        }
        // Off the worker: the journal's fsync must not hold up its batch.
        (opcode::UPDATE, _, _) if ask.frontend.is_some() => {
            let (socket, from) = ask.frontend?;
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
        _ if maybe_signed(query) => {
            let respond = |buf: &mut [u8]| {
                let limit = zone::respond::size_limit(&state.zones, query, transport, buf.len());
                zone::respond::respond_lowered(
                    &state.zones,
                    query,
                    lname,
                    buf,
                    (transport, limit),
                    0,
                )
                .map(|(len, _)| len)
            };
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
    /// A DNS over HTTPS query: asked over UDP, cached as UDP's.
    doh: bool,
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
        doh,
    } = *asked;
    let stats = &state.runtime.stats;
    let up = &state.upstream;
    let cache = up.pools.caches.get(pool).filter(|_| !edits.skip_cache);
    let hash = wire::hash::fnv1a(lname);
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
    let key = pool::CacheKey {
        lname,
        qtype: query.qtype,
        qclass: query.qclass,
        flags: query.flags,
        edns: query.edns.is_some(),
        dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
        tcp: transport == Transport::Tcp && !doh,
        options: digest,
    };
    if let Some(c) = cache {
        // A hit is what the backend would send again, whatever its size
        // (the key holds the EDNS payload size the backend was told, and
        // the transport), and goes out as a relayed answer does, uncut.
        // A scope-zero answer kept for every client is looked for first.
        // A DoH query also takes an answer kept as TCP's: its UDP answer
        // was truncated, and asked again over TCP (as dnsdist looks).
        let fits = out.len();
        for tcp in std::iter::once(key.tcp).chain(doh.then_some(true)) {
            for options in zero_scope.into_iter().chain([digest]) {
                let looked = pool::CacheKey {
                    tcp,
                    options,
                    ..key
                };
                if let Some(len) = c.get(&looked, query.id, query.qname, &mut out[..fits], 0) {
                    shield::edits::restore_flags(&mut out[..len], client_flags);
                    stats.cache_hits.add(1);
                    stats.answered(u16::from(out[3] & 0xf));
                    return Handled::Answer {
                        len,
                        delay_ms: None,
                    };
                }
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
            cache: cache.cloned(),
            question: TcpQuestion {
                qname_len: query.qname.len(),
                tcp: key.tcp,
                qtype: key.qtype,
                qclass: key.qclass,
                flags: key.flags,
                edns: key.edns,
                dnssec_ok: key.dnssec_ok,
            },
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
