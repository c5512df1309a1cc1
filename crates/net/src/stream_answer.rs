//! Answering one query that came over a stream: TCP, DNS over TLS and
//! DNS over HTTPS share it. Zones and rules answer at once; a query for a
//! backend is asked over TCP and its answer goes through the response
//! rules and into the cache, as over UDP.

use std::net::SocketAddr;
use std::time::Duration;

use zone::Transport;

use crate::pipeline::{handle, Handled};
use crate::SharedSnapshot;

/// What became of a query.
pub enum Answered {
    /// The answer is the first `len` bytes of the output.
    Len(usize),
    /// A transfer, UPDATE or NOTIFY: the replication service answers it
    /// (several messages for a transfer).
    Replication,
    /// Nothing to send (a drop, or a backend that failed).
    Drop,
    /// An HTTP answer instead of DNS (`HTTPStatusAction`, DoH only): the
    /// output holds the content type (`type_len` bytes), then the body.
    Http {
        status: u16,
        type_len: usize,
        len: usize,
    },
}

/// How a query for a backend is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// Over TCP (DNS over TCP and TLS, as dnsdist).
    Tcp,
    /// Over UDP, then TCP if the answer is truncated (DNS over HTTPS,
    /// as dnsdist; a `tcpOnly` backend is still asked over TCP).
    Udp,
}

/// Answers `query` from `client` into `out` (64 KB: answers and rewritten
/// queries may be that large). The query may be rewritten in place when
/// the rules change it for its backend.
pub async fn answer(
    shared: &SharedSnapshot,
    query: &mut Vec<u8>,
    out: &mut [u8],
    (client, local): (SocketAddr, SocketAddr),
    upstream: Upstream,
    stream: Option<&shield::stream_info::StreamInfo<'_>>,
) -> Answered {
    let (answered, backend, timeout, allow_empty) = {
        let snap = shared.load();
        let (q, o) = (&query[..], &mut *out);
        // A bug must cost one answer, not the connection slot.
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(
                &snap,
                q,
                client,
                local,
                (Transport::Tcp, 0),
                None,
                stream,
                o,
            )
        }))
        .unwrap_or(Handled::Drop);
        let backend = match &answered {
            Handled::ForwardTcp { backend, .. } => {
                snap.upstream.pools.backends.get(*backend).cloned()
            }
            _ => None,
        };
        (
            answered,
            backend,
            snap.upstream.udp_timeout.max(Duration::from_secs(1)),
            snap.shield.response_rules.allow_empty_response,
        )
    };
    let len = match (answered, backend) {
        (Handled::Answer { len, .. }, _) => len,
        (Handled::Replication, _) => return Answered::Replication,
        (
            Handled::Http {
                status,
                type_len,
                len,
            },
            _,
        ) => {
            return Answered::Http {
                status,
                type_len,
                len,
            }
        }
        (
            Handled::ForwardTcp {
                rewritten,
                temp_failure_ttl,
                ecs,
                digests,
                cache,
                question,
                ..
            },
            Some(b),
        ) => {
            let started = std::time::Instant::now();
            // The backend gets the query as the rules changed it; the
            // client gets its own RD and CD back.
            let client_flags = query
                .get(2..4)
                .map_or(0, |w| u16::from_be_bytes([w[0], w[1]]));
            if let Some(changed) = rewritten.and_then(|n| out.get(..n)) {
                query.clear();
                query.extend_from_slice(changed);
            }
            // The answer is read straight into `out` after the length
            // prefix; `out` keeps its 64 KB so rules may grow it.
            let answer = &mut *out;
            // The question as handle() parsed it (the rules change flags
            // and options, never the question).
            let Some(qname) = question.qname(query) else {
                return Answered::Drop;
            };
            let expect = crate::forward::Expected {
                id: [query[0], query[1]],
                qname,
                qtype: question.qtype,
                allow_empty,
            };
            let mut scratch = Vec::new();
            let Some((sent, added)) = ecs.apply(query, &mut scratch) else {
                return Answered::Drop;
            };
            let by_udp = if upstream == Upstream::Udp && !b.tcp_only {
                match crate::udp_ask::ask(&b, sent, answer, timeout, expect).await {
                    Some(Ok(len)) => Some(len),
                    // Truncated: over TCP, as a UDP client would retry.
                    Some(Err(())) => None,
                    None => return Answered::Drop,
                }
            } else {
                None
            };
            // An answer that came over TCP is kept as TCP's, even for
            // DoH (it may be larger than a UDP client asked for).
            let question = crate::pipeline::TcpQuestion {
                tcp: question.tcp || by_udp.is_none(),
                ..question
            };
            let len = match by_udp {
                Some(len) => len,
                None => match crate::forward::tcp_exchange(
                    &b,
                    sent,
                    answer,
                    timeout,
                    (expect, crate::forward::Origin::of_stream(client, stream)),
                )
                .await
                {
                    Some(len) => len,
                    None => return Answered::Drop,
                },
            };
            // Kept in the cache under this digest (its ECS scope decides).
            let options = match digests {
                (_, Some(every)) if wire::ecs::scope(&answer[..len]) == Some(0) => every,
                (options, _) => options,
            };
            let mut len = wire::ecs::undo(answer, len, added);
            shield::edits::restore_flags(&mut answer[..len], client_flags);
            let mut lower = [0u8; wire::name::MAX_NAME_LEN];
            let lname = wire::name::to_lowercase(qname, &mut lower);
            let snap = shared.load();
            snap.shield
                .response_rules
                .fix_case(&mut answer[..len], qname);
            let latency = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            let send = crate::pipeline::backend_answer(
                &snap.shield.response_rules,
                &snap.runtime,
                client,
                true,
                lname,
                question.qtype,
                answer,
                &mut len,
                latency,
            );
            drop(snap);
            let crate::pipeline::Relay::Send { cache: keep, .. } = send else {
                return Answered::Drop;
            };
            if let Some(cache) = cache.filter(|_| keep) {
                cache.insert_with(
                    &question.key(lname, options),
                    &answer[..len],
                    temp_failure_ttl,
                );
            }
            len
        }
        _ => return Answered::Drop,
    };
    Answered::Len(len)
}
