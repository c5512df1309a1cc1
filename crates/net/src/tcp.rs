//! DNS over TCP (RFC 7766): two-byte length framing, several queries per
//! connection answered in turn, an idle timeout, and limits on concurrent
//! connections per listener and per client address.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zone::Transport;

use crate::pipeline::{handle, Handled};

use crate::SharedSnapshot;

/// A listening TCP socket bound to `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Serves the listeners on a single-threaded runtime until the process
/// ends. `per_client` caps one address's concurrent connections (0: no cap).
pub fn serve(
    listeners: Vec<(std::net::TcpListener, usize)>,
    idle: Duration,
    per_client: usize,
    shared: SharedSnapshot,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart: TCP disabled: cannot start runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for (std_listener, max) in listeners {
            let listener = match TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("rampart: TCP listener unusable: {e}");
                    continue;
                }
            };
            let limits = Limits {
                max,
                per_client,
                active: Arc::new(AtomicUsize::new(0)),
                clients: Arc::new(Mutex::new(HashMap::new())),
            };
            tasks.push(tokio::spawn(accept_loop(
                listener,
                limits,
                idle,
                shared.clone(),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Connection limits of one listener.
#[derive(Clone)]
struct Limits {
    max: usize,
    per_client: usize,
    active: Arc<AtomicUsize>,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A connection slot, given back when the connection ends however it
/// ends (a panic included).
struct Slot {
    limits: Limits,
    client: IpAddr,
}

impl Limits {
    /// Takes a slot for `client`, or `None` when a limit is reached.
    fn take(&self, client: IpAddr) -> Option<Slot> {
        if self.active.load(Ordering::Relaxed) >= self.max {
            return None;
        }
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let n = clients.entry(client).or_insert(0);
        if self.per_client > 0 && *n >= self.per_client {
            return None;
        }
        *n += 1;
        self.active.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            limits: self.clone(),
            client,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.active.fetch_sub(1, Ordering::Relaxed);
        let mut clients = self
            .limits
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = clients.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    limits: Limits,
    idle: Duration,
    shared: SharedSnapshot,
) {
    loop {
        let local_port = listener.local_addr().map_or(0, |a| a.port());
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Out of descriptors and the like: back off, keep serving.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Over a limit: close at once rather than queue.
        let Some(slot) = limits.take(peer.ip()) else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = connection(stream, peer, local_port, idle, shared).await;
            drop(slot);
        });
    }
}

/// Answers queries on one connection until the client closes it, it
/// idles past `idle`, or it sends something that must not be answered.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    local_port: u16,
    idle: Duration,
    shared: SharedSnapshot,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    // Allocated on the first query, not at accept: a connection that
    // never sends one stays cheap. `out` is then 64 KB for the
    // connection's life (answers and rules may be that large).
    let mut query = Vec::new();
    let mut out = Vec::new();
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        if crate::drain::draining() {
            // Shutting down: no new queries on this connection.
            return Ok(());
        }
        crate::drain::TCP_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let who = Peer {
            addr: peer,
            local_port,
            idle,
            shared: &shared,
        };
        let result = exchange(
            &mut stream,
            &mut query,
            &mut out,
            usize::from(u16::from_be_bytes(len)),
            &who,
        )
        .await;
        crate::drain::TCP_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        if !result {
            return Ok(());
        }
    }
}

/// Sends what the replication service answers (a transfer's messages,
/// or one answer to an UPDATE or NOTIFY); false when the connection
/// should close. The answer is made on tokio's blocking pool: a large
/// zone or a journal fsync must not stall every other TCP client.
async fn replication(stream: &mut TcpStream, query: &[u8], peer: &Peer<'_>) -> bool {
    let service = peer.shared.load().xfr.clone();
    let packet = query.to_vec();
    let client = peer.addr;
    let made = tokio::task::spawn_blocking(move || service.answer_tcp(&packet, client)).await;
    let Ok(Some(messages)) = made else {
        return false;
    };
    for msg in messages {
        let mut framed = Vec::with_capacity(msg.len() + 2);
        framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        framed.extend_from_slice(&msg);
        let sent = tokio::time::timeout(
            peer.idle.max(Duration::from_secs(10)),
            stream.write_all(&framed),
        )
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            return false;
        }
    }
    true
}

/// Who a connection is with, for answering on it.
struct Peer<'a> {
    addr: SocketAddr,
    local_port: u16,
    idle: Duration,
    shared: &'a SharedSnapshot,
}

/// Reads one query of `len` bytes and answers it; false when the
/// connection should close.
async fn exchange(
    stream: &mut TcpStream,
    query: &mut Vec<u8>,
    out: &mut Vec<u8>,
    len: usize,
    peer: &Peer<'_>,
) -> bool {
    query.resize(len, 0);
    if !matches!(
        tokio::time::timeout(peer.idle, stream.read_exact(query)).await,
        Ok(Ok(_))
    ) {
        return false;
    }
    out.resize(2 + 65535, 0);
    let (answered, backend, timeout, ecs, allow_empty) = {
        let snap = peer.shared.load();
        let (q, o) = (&query[..], &mut out[2..]);
        // A bug must cost one answer, not the connection slot.
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(
                &snap,
                q,
                peer.addr,
                peer.local_port,
                Transport::Tcp,
                None,
                o,
            )
        }))
        .unwrap_or(Handled::Drop);
        let backend = match answered {
            Handled::ForwardTcp { backend, cache, .. } => {
                let up = &snap.upstream.pools;
                up.backends.get(backend).cloned().map(|b| {
                    let cache = cache.and_then(|c| up.caches.values().nth(c).cloned());
                    (b, cache)
                })
            }
            _ => None,
        };
        (
            answered,
            backend,
            snap.upstream.udp_timeout.max(Duration::from_secs(1)),
            snap.upstream.pools.ecs,
            snap.shield.response_rules.allow_empty_response,
        )
    };
    let resp_len = match (answered, backend) {
        (Handled::Answer { len, .. }, _) => len,
        (Handled::Replication, _) => return replication(stream, query, peer).await,
        (
            Handled::ForwardTcp {
                rewritten,
                temp_failure_ttl,
                ..
            },
            Some((b, cache)),
        ) => {
            let started = std::time::Instant::now();
            // The backend gets the query as the rules changed it; the
            // client gets its own RD and CD back.
            let client_flags = query
                .get(2..4)
                .map_or(0, |w| u16::from_be_bytes([w[0], w[1]]));
            if let Some(changed) = rewritten.and_then(|n| out.get(2..2 + n)) {
                query.clear();
                query.extend_from_slice(changed);
            }
            // The answer is read straight into `out` after the length
            // prefix; `out` keeps its 64 KB so rules may grow it.
            let answer = &mut out[2..];
            let mut scratch = Vec::new();
            let Some((sent, added)) =
                crate::forward::with_client_subnet(&b, &ecs, query, peer.addr, &mut scratch)
            else {
                return false;
            };
            let Some(len) =
                crate::forward::tcp_exchange(&b, sent, answer, timeout, allow_empty).await
            else {
                return false;
            };
            let mut len = wire::ecs::undo(answer, len, added);
            shield::edits::restore_flags(&mut answer[..len], client_flags);
            let Ok(q) = wire::Query::parse(query) else {
                return false;
            };
            let mut lower = [0u8; wire::name::MAX_NAME_LEN];
            let lname = wire::name::to_lowercase(q.qname, &mut lower);
            let snap = peer.shared.load();
            snap.shield
                .response_rules
                .fix_case(&mut answer[..len], q.qname);
            let latency = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            let send = crate::pipeline::backend_answer(
                &snap.shield.response_rules,
                &snap.runtime,
                peer.addr,
                true,
                lname,
                q.qtype,
                answer,
                &mut len,
                latency,
            );
            drop(snap);
            let crate::pipeline::Relay::Send { cache: keep, .. } = send else {
                return false;
            };
            if let Some(cache) = cache.filter(|_| keep) {
                let key = pool::CacheKey {
                    lname,
                    qtype: q.qtype,
                    qclass: q.qclass,
                    flags: q.flags,
                    edns: q.edns.is_some(),
                    dnssec_ok: q.edns.is_some_and(|e| e.dnssec_ok),
                    tcp: true,
                    options: cache.options_digest(q.edns.map(|e| (e.udp_payload, q.edns_options))),
                };
                cache.insert_with(&key, &answer[..len], temp_failure_ttl);
            }
            len
        }
        // Drop closes the connection, as dnsdist does.
        _ => return false,
    };
    out[..2].copy_from_slice(&(resp_len as u16).to_be_bytes());
    matches!(
        tokio::time::timeout(peer.idle, stream.write_all(&out[..resp_len + 2])).await,
        Ok(Ok(()))
    )
}
