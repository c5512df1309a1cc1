//! Asking a backend over UDP from an async task (DNS over HTTPS), as
//! dnsdist does for DoH: a TCP connection per query (or a few kept idle)
//! costs the backend a handshake and a slot, and a UDP-first backend
//! like PowerDNS answers TCP far more slowly.
//!
//! One socket per backend, shared by every DoH stream of the runtime:
//! each query gets a free ID of that socket, a task reads the answers
//! and hands each to the stream waiting for its ID. An answer must carry
//! the question asked (a late or forged one is ignored); a truncated one
//! sends the caller to TCP.
//!
//! Queries are not sent by the streams themselves: each is queued, and a
//! task sends what has queued with one `sendmmsg`. That task is woken by
//! the first query queued, and tokio runs it after the tasks already
//! ready, so the streams that one read of a connection made ready have
//! all queued theirs by then: one system call (and one wake-up of the
//! backend) for them all, where a send each cost one each.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pool::Backend;
use rustc_hash::FxHashMap;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Queries in flight per backend at most (the ID space).
const MAX_IN_FLIGHT: usize = 65536;

struct Asker {
    socket: UdpSocket,
    /// The queries waiting for answers, and those still to send: one
    /// lock for both, taken once per query.
    waiting: Mutex<Waiting>,
    /// Rung when a query is queued in an empty outbox.
    queued: tokio::sync::Notify,
}

#[derive(Default)]
struct Waiting {
    next: u16,
    /// Our own IDs as keys: no need for SipHash's defence.
    by_id: FxHashMap<u16, oneshot::Sender<Vec<u8>>>,
    /// Queries for the sending task.
    outbox: crate::forward::Outbox,
}

/// The askers of this process, by backend address: made on first use,
/// each with its reading task on the runtime that made it.
fn askers() -> &'static Mutex<HashMap<SocketAddr, Arc<Asker>>> {
    static ASKERS: OnceLock<Mutex<HashMap<SocketAddr, Arc<Asker>>>> = OnceLock::new();
    ASKERS.get_or_init(Default::default)
}

thread_local! {
    /// The askers this thread has used: most queries find theirs here,
    /// without the process-wide lock. Askers live for good, so an entry
    /// never goes stale.
    static KNOWN: std::cell::RefCell<FxHashMap<SocketAddr, Arc<Asker>>> = Default::default();
}

async fn asker(addr: SocketAddr) -> Option<Arc<Asker>> {
    if let Some(a) = KNOWN.with_borrow(|k| k.get(&addr).cloned()) {
        return Some(a);
    }
    let a = shared_asker(addr).await?;
    KNOWN.with_borrow_mut(|k| k.insert(addr, a.clone()));
    Some(a)
}

/// The process's asker for `addr`, made if there is none.
async fn shared_asker(addr: SocketAddr) -> Option<Arc<Asker>> {
    if let Some(a) = askers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&addr)
    {
        return Some(a.clone());
    }
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(addr).await.ok()?;
    let a = Arc::new(Asker {
        socket,
        waiting: Mutex::new(Waiting {
            next: wire::random::fast() as u16,
            ..Default::default()
        }),
        queued: tokio::sync::Notify::new(),
    });
    let mut all = askers().lock().unwrap_or_else(|p| p.into_inner());
    // Another stream made one meanwhile: use that.
    if let Some(existing) = all.get(&addr) {
        return Some(existing.clone());
    }
    all.insert(addr, a.clone());
    drop(all);
    tokio::spawn(read_answers(a.clone()));
    tokio::spawn(send_queries(a.clone()));
    Some(a)
}

/// Sends the queued queries, all that queued since the last send at
/// once. The socket stays open as long as the asker: for good.
async fn send_queries(a: Arc<Asker>) {
    let mut sending = crate::forward::Outbox::default();
    loop {
        a.queued.notified().await;
        // Swapped out, so streams queue on while these are sent (each
        // box keeps its room).
        std::mem::swap(
            &mut a.waiting.lock().unwrap_or_else(|p| p.into_inner()).outbox,
            &mut sending,
        );
        // A query the kernel did not take (a full send buffer) is failed
        // at once: its stream is told by its waiter's end being dropped.
        sending.send(&mut |query| {
            if let Some(id) = query.get(..2) {
                let id = u16::from_be_bytes([id[0], id[1]]);
                a.waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .by_id
                    .remove(&id);
            }
        });
    }
}

/// Hands each answer to the query waiting for its ID: every answer
/// queued is read with one `recvmmsg` and handed on under one lock.
async fn read_answers(a: Arc<Asker>) {
    use std::os::fd::AsRawFd;
    let fd = a.socket.as_raw_fd();
    let mut received = crate::datagrams::Received::new(crate::datagrams::ANSWER_BATCH);
    loop {
        let got = a
            .socket
            .async_io(tokio::io::Interest::READABLE, || received.receive(fd, 0))
            .await;
        let Ok(n) = got else {
            // ICMP-reported errors come back here: keep reading.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let mut waiting = a.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..n {
            let (buf, len) = received.get_mut(i);
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            if let Some(w) = waiting.by_id.remove(&id) {
                let _ = w.send(buf[..len].to_vec());
            }
        }
    }
}

/// A query's place in its asker's waiting map, given back when dropped.
struct Waiter<'a> {
    a: &'a Asker,
    id: Option<u16>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.a
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .by_id
                .remove(&id);
        }
    }
}

/// Asks `b` over UDP; the answer (with the query's own ID) goes into
/// `out`. `None` when none came in time, or it does not answer the
/// question; `Some(Err(()))` when it is truncated (ask over TCP).
pub async fn ask(
    b: &Backend,
    query: &[u8],
    out: &mut [u8],
    timeout: Duration,
    expect: crate::forward::Expected<'_>,
) -> Option<Result<usize, ()>> {
    if query.len() < 12 {
        return None;
    }
    let a = asker(b.addr).await?;
    let (tx, rx) = oneshot::channel();
    let (id, first) = {
        use std::os::fd::AsRawFd;
        let mut w = a.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if w.by_id.len() >= MAX_IN_FLIGHT {
            return None;
        }
        let mut id = w.next;
        while w.by_id.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        w.next = id.wrapping_add(1);
        w.by_id.insert(id, tx);
        let first = w.outbox.is_empty();
        w.outbox
            .push(a.socket.as_raw_fd(), &id.to_be_bytes(), &query[2..]);
        (id, first)
    };
    if first {
        a.queued.notify_one();
    }
    // Dropped early (its stream reset, its connection gone), the query
    // gives its ID back: left in the map, it would be taken for good.
    let mut waiter = Waiter {
        a: &a,
        id: Some(id),
    };
    let started = Instant::now();
    b.sent();
    let got = match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(answer)) => Some(answer),
        // The sending task dropped the waiter: the socket did not take
        // the query.
        Ok(Err(_)) => {
            // It took the ID out too.
            waiter.id = None;
            b.send_failed();
            return None;
        }
        Err(_) => None,
    };
    let Some(answer) = got else {
        b.timed_out();
        return None;
    };
    // The reading task took the ID out when the answer came.
    waiter.id = None;
    // The ID is this asker's own (matched when the answer came).
    if !crate::forward::answers(&answer, expect.qname, expect.qtype, expect.allow_empty) {
        b.timed_out();
        return None;
    }
    b.answered(started.elapsed().as_micros() as u64, answer[3] & 0xf);
    if answer[2] & 0x02 != 0 {
        return Some(Err(()));
    }
    let dst = out.get_mut(..answer.len())?;
    dst.copy_from_slice(&answer);
    dst[..2].copy_from_slice(&query[..2]);
    Some(Ok(answer.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight(addr: SocketAddr) -> usize {
        let a = askers().lock().unwrap().get(&addr).cloned().unwrap();
        let n = a.waiting.lock().unwrap().by_id.len();
        n
    }

    #[test]
    fn a_query_dropped_while_it_waits_gives_its_id_back() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // A backend that never answers.
            let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = Backend::new(
                "hole".into(),
                hole.local_addr().unwrap(),
                vec![String::new()],
                1,
                0,
                pool::HealthCheck::default(),
            );
            let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            query.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
            let expect = crate::forward::Expected {
                id: [0x12, 0x34],
                qname: &query[12..21],
                qtype: 1,
                allow_empty: false,
            };
            let mut out = vec![0u8; 512];
            // Boxed, so that dropping it drops the query.
            let mut asking = Box::pin(ask(&b, &query, &mut out, Duration::from_secs(30), expect));
            let waited = tokio::time::timeout(Duration::from_millis(200), asking.as_mut()).await;
            assert!(waited.is_err(), "the hole answered");
            assert_eq!(in_flight(b.addr), 1);
            // Its stream is reset, say: the query is dropped unanswered.
            drop(asking);
            assert_eq!(in_flight(b.addr), 0);
            assert_eq!(b.drops(), 0, "not counted as a timeout");
        });
    }
}
