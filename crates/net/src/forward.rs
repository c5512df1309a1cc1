//! Forwarding to backends (dnsdist's UDP path): one socket per backend,
//! query IDs rewritten into a table of in-flight queries, one responder
//! thread per backend that restores the ID and answers the client from the
//! socket the query came in on. A health-check thread per backend marks it
//! up and down. Both threads end when the backend is no longer in use
//! (their handle is the last one holding it).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pool::Backend;
use shield::Runtime;

/// An in-flight query.
struct Slot {
    client: SocketAddr,
    id: u16,
    frontend: Arc<UdpSocket>,
    /// The address the client sent its query to: the answer's source.
    from: crate::reply_from::ReplyFrom,
    sent: Instant,
    qtype: u16,
    name_len: u8,
    name: [u8; 255],
    /// Where to keep the answer, with the rest of its cache key.
    cache: Option<CacheSlot>,
    /// The ECS option added to the query, to take out of the answer.
    ecs: wire::ecs::Added,
}

/// The cache an answer goes into, and the key parts the slot lacks:
/// (cache, qclass, flags, edns, DO).
pub type CacheSlot = (Arc<pool::PacketCache>, u16, u16, bool, bool);

/// The UDP forwarder of one backend.
pub struct UdpForwarder {
    pub backend: Arc<Backend>,
    socket: UdpSocket,
    slots: Mutex<Vec<Option<Box<Slot>>>>,
    next: AtomicU16,
}

impl std::fmt::Debug for UdpForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpForwarder({})", self.backend.addr)
    }
}

/// How long a forwarded query waits for its answer (`setUDPTimeout`).
pub const DEFAULT_UDP_TIMEOUT: Duration = Duration::from_secs(2);

impl UdpForwarder {
    /// Opens the backend's socket and starts its responder and health
    /// check threads.
    pub fn start(
        backend: Arc<Backend>,
        runtime: Arc<Runtime>,
        timeout: Duration,
    ) -> io::Result<Arc<UdpForwarder>> {
        let local: SocketAddr = if backend.addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(io::Error::other)?;
        let socket = UdpSocket::bind(local)?;
        socket.connect(backend.addr)?;
        socket.set_read_timeout(Some(Duration::from_millis(250)))?;
        let fwd = Arc::new(UdpForwarder {
            backend: backend.clone(),
            socket,
            slots: Mutex::new((0..65536).map(|_| None).collect()),
            next: AtomicU16::new(pool::policy::random() as u16),
        });
        let f = fwd.clone();
        std::thread::Builder::new()
            .name(format!("fwd-{}", backend.addr))
            .spawn(move || f.respond_loop(&runtime, timeout))?;
        let b = backend.clone();
        std::thread::Builder::new()
            .name(format!("health-{}", backend.addr))
            .spawn(move || health_loop(&b))?;
        Ok(fwd)
    }

    /// Sends `query` from `client` to the backend; the answer will go out
    /// through `frontend`. False if it could not be sent.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        query: &[u8],
        client: SocketAddr,
        (frontend, from): (&Arc<UdpSocket>, crate::reply_from::ReplyFrom),
        lname: &[u8],
        qtype: u16,
        cache: Option<CacheSlot>,
        ecs: &pool::Ecs,
    ) -> bool {
        let mut with_ecs = Vec::new();
        let (query, ecs_added) =
            match with_client_subnet(&self.backend, ecs, query, client, &mut with_ecs) {
                Some(q) => q,
                None => return false,
            };
        if query.len() < 12 || query.len() > 4096 {
            return false;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut slot = Box::new(Slot {
            client,
            id: u16::from_be_bytes([query[0], query[1]]),
            frontend: frontend.clone(),
            from,
            sent: Instant::now(),
            qtype,
            name_len: lname.len().min(255) as u8,
            name: [0; 255],
            cache,
            ecs: ecs_added,
        });
        slot.name[..usize::from(slot.name_len)]
            .copy_from_slice(&lname[..usize::from(slot.name_len)]);
        let replaced = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots[usize::from(id)].replace(slot).is_some()
        };
        if replaced {
            // 65536 queries in flight: the oldest is given up.
            self.backend.timed_out();
        }
        self.backend.sent();
        // The backend's ID, then the query after the client's: no copy.
        let id = id.to_be_bytes();
        let parts = [
            std::io::IoSlice::new(&id),
            std::io::IoSlice::new(&query[2..]),
        ];
        socket2::SockRef::from(&self.socket)
            .send_vectored(&parts)
            .is_ok()
    }

    fn respond_loop(&self, runtime: &Runtime, timeout: Duration) {
        let mut buf = vec![0u8; 65535];
        let mut last_sweep = Instant::now();
        loop {
            // The forwarder and this thread are the only holders left: the
            // backend was removed; stop.
            if Arc::strong_count(&self.backend) <= 2 {
                return;
            }
            if let Ok(n) = self.socket.recv(&mut buf) {
                if n >= 12 {
                    // Backend bytes go through rules and the cache: a bug
                    // there must cost one answer, not this backend's
                    // responder (the health checks would keep it "up").
                    let relayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.relay(&mut buf, n, runtime)
                    }));
                    if relayed.is_err() {
                        eprintln!(
                            "rampart[error]: an answer from {} could not be relayed (internal error)",
                            self.backend.addr
                        );
                    }
                }
            }
            if last_sweep.elapsed() >= Duration::from_millis(500) {
                last_sweep = Instant::now();
                self.sweep(timeout);
            }
        }
    }

    /// Sends a backend answer back to its client.
    fn relay(&self, buf: &mut [u8], n: usize, runtime: &Runtime) {
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let entry = &mut slots[usize::from(id)];
            // IDs are sequential and slots are reused: an answer that comes
            // late, or a forged one, must carry this slot's question to be
            // relayed (and cached); otherwise the slot waits for its own.
            if !entry
                .as_ref()
                .is_some_and(|s| answers(&buf[..n], &s.name[..usize::from(s.name_len)], s.qtype))
            {
                return;
            }
            entry.take()
        };
        let Some(slot) = slot else { return };
        buf[..2].copy_from_slice(&slot.id.to_be_bytes());
        let latency = slot.sent.elapsed();
        self.backend
            .answered(latency.as_micros() as u64, buf[3] & 0xf);
        let lname = &slot.name[..usize::from(slot.name_len)];
        let mut len = wire::ecs::undo(buf, n, slot.ecs);
        let rules = runtime.response_rules.load();
        let latency_us = latency.as_micros().min(u128::from(u32::MAX)) as u32;
        if !crate::pipeline::backend_answer(
            &rules,
            runtime,
            slot.client,
            false,
            lname,
            slot.qtype,
            buf,
            &mut len,
            latency_us,
        ) {
            return;
        }
        if let Some((cache, qclass, flags, edns, dnssec_ok)) = &slot.cache {
            let key = pool::CacheKey {
                lname,
                qtype: slot.qtype,
                qclass: *qclass,
                flags: *flags,
                edns: *edns,
                dnssec_ok: *dnssec_ok,
                tcp: false,
            };
            cache.insert(&key, &buf[..len]);
        }
        let _ = slot.from.send(&slot.frontend, &buf[..len], slot.client);
    }

    /// Gives up on queries older than `timeout`.
    fn sweep(&self, timeout: Duration) {
        // One clock read for the whole table, and the backend told after
        // the lock is released: the workers forwarding queries wait on it.
        let now = Instant::now();
        let mut expired = 0;
        {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            for s in slots.iter_mut() {
                if s.as_ref()
                    .is_some_and(|s| now.saturating_duration_since(s.sent) > timeout)
                {
                    *s = None;
                    expired += 1;
                }
            }
        }
        for _ in 0..expired {
            self.backend.timed_out();
        }
    }
}

/// Health checks, as dnsdist does them: a query every interval, down
/// after `max_failures` misses in a row, up after `rise` answers. In lazy
/// mode only while real queries are failing, and every
/// `lazyHealthCheckFailedInterval` while down.
fn health_loop(b: &Arc<Backend>) {
    let mut failures = 0u32;
    let mut successes = 0u32;
    let interval = Duration::from_millis(b.check.interval_ms.max(50));
    loop {
        if Arc::strong_count(b) <= 2 {
            return;
        }
        if !b.wants_check() {
            failures = 0;
            successes = 0;
            std::thread::sleep(interval);
            continue;
        }
        let started = Instant::now();
        let ok = check_once(b);
        if ok {
            // Health checks keep the latency current for a server that
            // gets no traffic (one kept out of rotation for being slow).
            b.observe_latency(started.elapsed().as_micros() as u64);
        }
        if ok {
            successes += 1;
            failures = 0;
            if !b.healthy() && successes >= b.check.rise && b.set_healthy(true).is_some() {
                eprintln!(
                    "rampart[info]: Marking downstream {} ({}) as 'up'",
                    b.name, b.addr
                );
            }
            if b.healthy() && successes >= b.check.rise {
                b.lazy_recovered();
            }
        } else {
            failures += 1;
            successes = 0;
            if b.healthy() && failures >= b.check.max_failures && b.set_healthy(false).is_some() {
                eprintln!(
                    "rampart[warning]: Marking downstream {} ({}) as 'down'",
                    b.name, b.addr
                );
            }
        }
        let pause = match &b.check.lazy {
            Some(lazy) if !b.healthy() => {
                Duration::from_millis(lazy.down_interval_ms(failures).max(50))
            }
            _ => interval,
        };
        std::thread::sleep(pause);
    }
}

/// One health-check query; whether the backend answered acceptably.
pub fn check_once(b: &Backend) -> bool {
    let local = if b.addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let Ok(sock) = UdpSocket::bind(local) else {
        return false;
    };
    if sock.connect(b.addr).is_err()
        || sock
            .set_read_timeout(Some(Duration::from_millis(b.check.timeout_ms.max(1))))
            .is_err()
    {
        return false;
    }
    let id = pool::policy::random() as u16;
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&b.check.name);
    q.extend_from_slice(&b.check.qtype.to_be_bytes());
    q.extend_from_slice(&b.check.qclass.to_be_bytes());
    if sock.send(&q).is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(b.check.timeout_ms.max(1));
    while Instant::now() < deadline {
        let Ok(n) = sock.recv(&mut buf) else {
            return false;
        };
        if n < 12 || buf[..2] != id.to_be_bytes() || buf[2] & 0x80 == 0 {
            continue;
        }
        let rcode = buf[3] & 0xf;
        return !b.check.must_resolve || !matches!(rcode, 2 | 3 | 5);
    }
    false
}

/// A TCP exchange with a backend for a TCP client: send the framed query
/// on an idle connection to the backend if there is one, else on a new
/// one; read the framed answer into `out`. The answer's length.
pub async fn tcp_exchange(
    b: &Backend,
    query: &[u8],
    out: &mut [u8],
    timeout: Duration,
) -> Option<usize> {
    let started = Instant::now();
    b.sent();
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&u16::try_from(query.len()).ok()?.to_be_bytes());
    framed.extend_from_slice(query);
    let result = tokio::time::timeout(timeout, async {
        // A kept connection may have been closed by the backend since
        // (idle timeout): then it fails at once and a new one is tried.
        if let Some(idle) = b.take_idle_tcp() {
            if let Ok(mut s) = tokio::net::TcpStream::from_std(idle) {
                if let Some(len) = tcp_ask(&mut s, &framed, out).await {
                    keep(b, s);
                    return Some(len);
                }
            }
        }
        let mut s = tokio::net::TcpStream::connect(b.addr).await.ok()?;
        let _ = s.set_nodelay(true);
        let len = tcp_ask(&mut s, &framed, out).await?;
        keep(b, s);
        Some(len)
    })
    .await
    .ok()
    .flatten();
    match result {
        Some(len) => {
            b.answered(started.elapsed().as_micros() as u64, out[3] & 0xf);
            Some(len)
        }
        None => {
            b.timed_out();
            None
        }
    }
}

/// The query as it goes to `b`: with the client's network in an ECS
/// option if the backend asked for it (`useClientSubnet`), written into
/// `scratch`. None for a query too broken to edit.
pub fn with_client_subnet<'a>(
    b: &Backend,
    ecs: &pool::Ecs,
    query: &'a [u8],
    client: SocketAddr,
    scratch: &'a mut Vec<u8>,
) -> Option<(&'a [u8], wire::ecs::Added)> {
    if !b.use_client_subnet {
        return Some((query, wire::ecs::Added::Nothing));
    }
    let ip = client.ip();
    let added = wire::ecs::add(query, ip, ecs.prefix_for(ip), ecs.replace, scratch)?;
    Some((&scratch[..], added))
}

/// Whether the message `answer` carries the question (`lname`, `qtype`):
/// one question, its name equal ignoring case. The question's name is the
/// first in the message, so it is never compressed.
fn answers(answer: &[u8], lname: &[u8], qtype: u16) -> bool {
    let end = 12 + lname.len();
    answer.len() >= end + 4
        && answer[4..6] == [0, 1]
        && answer[12..end].eq_ignore_ascii_case(lname)
        && answer[end..end + 2] == qtype.to_be_bytes()
}

/// One framed query and its framed answer on a connection.
async fn tcp_ask(s: &mut tokio::net::TcpStream, framed: &[u8], out: &mut [u8]) -> Option<usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(framed).await.ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.ok()?;
    let len = usize::from(u16::from_be_bytes(len));
    s.read_exact(out.get_mut(..len)?).await.ok()?;
    // Not the answer to this query: the connection is out of step.
    let q = wire::Query::parse(&framed[2..]).ok()?;
    (out[..2] == framed[2..4] && answers(&out[..len], q.qname, q.qtype)).then_some(len)
}

/// Returns a connection that answered to its backend's idle list.
fn keep(b: &Backend, s: tokio::net::TcpStream) {
    if let Ok(s) = s.into_std() {
        b.keep_idle_tcp(s);
    }
}

#[cfg(test)]
mod tests {
    use super::answers;

    #[test]
    fn an_answer_must_carry_the_question_it_claims_to_answer() {
        let mut a = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        a.extend_from_slice(b"\x03WWW\x07example\x00\x00\x01\x00\x01");
        let name = b"\x03www\x07example\x00";
        assert!(answers(&a, name, 1), "case does not matter");
        assert!(!answers(&a, name, 28), "another type");
        assert!(!answers(&a, b"\x03ftp\x07example\x00", 1), "another name");
        assert!(!answers(&a[..20], name, 1), "cut short");
        a[5] = 0;
        assert!(!answers(&a, name, 1), "no question");
    }
}
