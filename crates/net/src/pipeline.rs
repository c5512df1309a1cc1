//! The path of one query between socket and answer: parse, ACL, rules,
//! then a self-made answer or the zones (DESIGN.md, "the path of a query").

use std::net::SocketAddr;

use shield::answer::self_answer;
use shield::dynblock::BlockAction;
use shield::rings::Record;
use shield::{Outcome, QueryInfo, Runtime};
use wire::{ParseError, Query};
use zone::Transport;

use crate::State;

/// What to do with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Send the first `len` bytes of the output buffer, after `delay_ms`.
    Answer { len: usize, delay_ms: Option<u32> },
    /// Send nothing; on TCP close the connection (dnsdist's Drop).
    Drop,
}

/// Handles `packet` from `client`, writing any answer into `out`.
pub fn handle(
    state: &State,
    packet: &[u8],
    client: SocketAddr,
    local_port: u16,
    transport: Transport,
    out: &mut [u8],
) -> Handled {
    let started = std::time::Instant::now();
    let stats = &state.runtime.stats;
    stats.queries.add(1);
    // The ACL comes first: a denied client gets nothing, not even FORMERR.
    if !state.shield.acl.contains(client.ip()) {
        stats.acl_drops.add(1);
        return Handled::Drop;
    }
    let query = match Query::parse(packet) {
        Ok(q) => q,
        Err(ParseError::Drop) => {
            stats.noncompliant_queries.add(1);
            return Handled::Drop;
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
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    // Into the ring before blocks and rules, as dnsdist: dropped queries
    // still show in the statistics.
    let rings = runtime.rings.load();
    rings.queries.record(&Record {
        size: packet.len(),
        tcp,
        ..Record::query(client.ip(), lname, query.qtype)
    });

    let mut delay_ms = None;
    let mut outcome = Outcome::Continue;
    let tags = shield::Tags::default();
    let mut blocked = false;
    // Dynamic blocks, client first, then the name's suffix.
    let table = runtime.dynblocks.table();
    if let Some(block) = table
        .for_client(client.ip())
        .or_else(|| table.for_name(lname))
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
            BlockAction::Truncate | BlockAction::NoOp | BlockAction::NoRecurse => None,
        };
        if let Some(o) = applied {
            block.blocks.add(1);
            stats.dyn_blocked.add(1);
            outcome = o;
            blocked = true;
        }
    }
    drop(table);
    if !blocked && !state.shield.rules.is_empty() {
        let info = QueryInfo {
            client,
            local_port,
            tcp: transport == Transport::Tcp,
            query: &query,
            lname,
            rcode: None,
            tags: &tags,
        };
        let verdict = state.shield.rules.evaluate(&info);
        outcome = verdict.outcome;
        if transport == Transport::Udp {
            delay_ms = verdict.delay_ms;
        }
    }
    let limit = match (transport, query.edns) {
        (Transport::Tcp, _) => out.len().min(65535),
        (Transport::Udp, Some(e)) => {
            usize::from(e.udp_payload.min(state.zones.max_udp_payload.max(512)))
        }
        (Transport::Udp, None) => 512,
    };
    let len = match outcome {
        Outcome::Drop => {
            stats.rule_drop.add(1);
            return Handled::Drop;
        }
        // Pools arrive with the backends issue; a pool with no server is
        // dnsdist's "no server available": dropped.
        Outcome::Pool(_) => {
            stats.no_policy.add(1);
            return Handled::Drop;
        }
        Outcome::Continue | Outcome::Allow => {
            zone::respond_query(&state.zones, &query, out, transport)
        }
        other => {
            if !blocked {
                match other {
                    Outcome::RCode(wire::types::rcode::NXDOMAIN) => stats.rule_nxdomain.add(1),
                    Outcome::RCode(wire::types::rcode::REFUSED) => stats.rule_refused.add(1),
                    Outcome::Truncate => stats.rule_truncated.add(1),
                    _ => {}
                }
            }
            stats.self_answered.add(1);
            self_answer(&other, &query, out, limit, state.zones.max_udp_payload)
        }
    };
    let self_answered = !matches!(outcome, Outcome::Continue | Outcome::Allow);
    match len {
        Some(mut len) => {
            let rcode = u16::from(out[3] & 0xf);
            // Response rules see answers from the zones, not the ones the
            // query rules made (dnsdist's self-answered path).
            if !self_answered && !state.shield.response_rules.is_empty() {
                let info = QueryInfo {
                    client,
                    local_port,
                    tcp,
                    query: &query,
                    lname,
                    rcode: Some(rcode),
                    tags: &tags,
                };
                let verdict = state.shield.response_rules.apply(&info, out, &mut len);
                if verdict.drop {
                    stats.rule_drop.add(1);
                    return Handled::Drop;
                }
                if !tcp && verdict.delay_ms.is_some() {
                    delay_ms = verdict.delay_ms;
                }
            }
            let answers = u16::from_be_bytes([out[6], out[7]]);
            rings.responses.record(&Record {
                client: client.ip(),
                lname,
                qtype: query.qtype,
                rcode,
                size: len,
                answers,
                tcp,
                latency_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
            });
            stats.answered(rcode);
            Handled::Answer { len, delay_ms }
        }
        None => Handled::Drop,
    }
}
