//! Asking a backend over UDP from an async task (DNS over HTTPS), as
//! dnsdist does for DoH: a TCP connection per query (or a few kept idle)
//! costs the backend a handshake and a slot, and a UDP-first backend
//! like PowerDNS answers TCP far more slowly.
//!
//! One socket per backend and thread, shared by every DoH stream of
//! that thread's runtime: each query gets a free ID of that socket, a
//! task reads the answers and hands each to the stream waiting for its
//! ID. An answer must carry the question asked (a late or forged one is
//! ignored); a truncated one sends the caller to TCP.
//!
//! Queries are not sent by the streams themselves: each is queued, and a
//! task sends what has queued with one `sendmmsg`. That task is woken by
//! the first query queued, and tokio runs it after the tasks already
//! ready, so the streams that one read of a connection made ready have
//! all queued theirs by then: one system call (and one wake-up of the
//! backend) for them all, where a send each cost one each.
//!
//! Nor does each query keep a timer: the reading task fails the queries
//! whose time is up every [`SWEEP`]. A tokio timer per query took its
//! driver's lock twice and a slot in its wheel, some 760 instructions
//! (2% of a DoH answer); a timeout now fires up to [`SWEEP`] late, on
//! timeouts of a second or more, and an answer that comes in that time
//! is taken.
//!
//! Nothing waits on a dead asker: when its reading task ends (its
//! runtime gone, or a panic), the queries waiting are failed and the
//! asker is marked dead, and the next query makes a new one.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use pool::Backend;
use rustc_hash::FxHashMap;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Queries in flight per backend at most (the ID space).
const MAX_IN_FLIGHT: usize = 65536;

/// How often the queries whose time is up are failed.
const SWEEP: Duration = Duration::from_millis(100);

struct Asker {
    socket: UdpSocket,
    /// The queries waiting for answers, and those still to send: one
    /// lock for both, taken once per query.
    waiting: Mutex<Waiting>,
    /// Rung when a query is queued in an empty outbox.
    queued: tokio::sync::Notify,
    /// Cleared when the reading task ends: no answer comes any more.
    alive: AtomicBool,
}

#[derive(Default)]
struct Waiting {
    next: u16,
    /// Our own IDs as keys: no need for SipHash's defence.
    by_id: FxHashMap<u16, Pending>,
    /// Queries for the sending task.
    outbox: crate::forward::Outbox,
}

/// A query waiting for its answer.
struct Pending {
    /// When it times out.
    deadline: Instant,
    /// Dropped unsent when the socket did not take the query.
    tx: oneshot::Sender<Reply>,
}

enum Reply {
    Answer(Vec<u8>),
    TimedOut,
}

impl Asker {
    /// Tells the queries whose time is up that it is.
    fn fail_late(&self) {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if w.by_id.is_empty() {
            return;
        }
        let now = Instant::now();
        for (_, late) in w.by_id.extract_if(|_, p| p.deadline <= now) {
            let _ = late.tx.send(Reply::TimedOut);
        }
    }
}

/// Held by the reading task: when it ends, however, the queries waiting
/// are failed (their senders dropped) and the asker is marked dead.
struct Reading(Arc<Asker>);

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Relaxed);
        self.0
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .clear();
    }
}

thread_local! {
    /// This thread's askers, by backend address: made on first use, each
    /// with its tasks on this thread's runtime (a process-wide one would
    /// serve other runtimes from the one that made it, and die with it).
    /// No lock on the way to one.
    static ASKERS: RefCell<FxHashMap<SocketAddr, Arc<Asker>>> = Default::default();
}

/// This thread's asker for `addr`, made if there is none.
async fn asker(addr: SocketAddr) -> Option<Arc<Asker>> {
    let live = |k: &FxHashMap<SocketAddr, Arc<Asker>>| {
        k.get(&addr)
            .filter(|a| a.alive.load(Ordering::Relaxed))
            .cloned()
    };
    if let Some(a) = ASKERS.with_borrow(live) {
        return Some(a);
    }
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(addr).await.ok()?;
    // Another stream made one meanwhile: use that.
    if let Some(a) = ASKERS.with_borrow(live) {
        return Some(a);
    }
    let a = Arc::new(Asker {
        socket,
        waiting: Mutex::new(Waiting {
            next: wire::random::fast() as u16,
            ..Default::default()
        }),
        queued: tokio::sync::Notify::new(),
        alive: AtomicBool::new(true),
    });
    // In place of a dead one, if any.
    ASKERS.with_borrow_mut(|k| k.insert(addr, a.clone()));
    tokio::spawn(read_answers(a.clone()));
    tokio::spawn(send_queries(a.clone()));
    Some(a)
}

/// Sends the queued queries, all that queued since the last send at
/// once. The socket stays open as long as the asker.
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
/// Every [`SWEEP`], fails the queries whose time is up.
async fn read_answers(a: Arc<Asker>) {
    use std::os::fd::AsRawFd;
    let reading = Reading(a);
    let a = &reading.0;
    let fd = a.socket.as_raw_fd();
    let mut received = crate::datagrams::Received::new(crate::datagrams::ANSWER_BATCH);
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The sweep's turn is checked first: a socket that is always
        // readable must not hold it off.
        let readable = std::future::poll_fn(|cx| {
            if sweep.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(false));
            }
            a.socket
                .poll_recv_ready(cx)
                .map(|r| r.is_ok().then_some(true))
        })
        .await;
        // The IO driver is gone: so is this asker (see Reading).
        let Some(readable) = readable else {
            return;
        };
        if !readable {
            a.fail_late();
            continue;
        }
        let n = match a
            .socket
            .try_io(tokio::io::Interest::READABLE, || received.receive(fd, 0))
        {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            // ICMP-reported errors come back here: keep reading.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let mut waiting = a.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..n {
            let (buf, len) = received.get_mut(i);
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            if let Some(p) = waiting.by_id.remove(&id) {
                let _ = p.tx.send(Reply::Answer(buf[..len].to_vec()));
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
    let started = Instant::now();
    // A timeout too long for the clock is as good as none.
    let deadline = started
        .checked_add(timeout)
        .unwrap_or_else(|| started + Duration::from_secs(86_400 * 365));
    let (id, first) = {
        use std::os::fd::AsRawFd;
        let mut w = a.waiting.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock its reading task clears the map under
        // when it ends: no query is left waiting on a dead asker.
        if w.by_id.len() >= MAX_IN_FLIGHT || !a.alive.load(Ordering::Relaxed) {
            return None;
        }
        let mut id = w.next;
        while w.by_id.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        w.next = id.wrapping_add(1);
        w.by_id.insert(id, Pending { deadline, tx });
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
    b.sent();
    // Whoever ended the wait took the ID out: the reading task, or the
    // sending task on a failed send.
    let got = rx.await;
    waiter.id = None;
    let answer = match got {
        Ok(Reply::Answer(answer)) => answer,
        Ok(Reply::TimedOut) => {
            b.timed_out();
            return None;
        }
        // The sending task dropped the waiter: the socket did not take
        // the query.
        Err(_) => {
            b.send_failed();
            return None;
        }
    };
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
        let a = ASKERS.with_borrow(|k| k.get(&addr).cloned()).unwrap();
        let n = a.waiting.lock().unwrap().by_id.len();
        n
    }

    /// A backend that never answers, and a query of `example. A` to it.
    fn hole() -> (std::net::UdpSocket, Backend, Vec<u8>) {
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
        (hole, b, query)
    }

    fn expected(query: &[u8]) -> crate::forward::Expected<'_> {
        crate::forward::Expected {
            id: [0x12, 0x34],
            qname: &query[12..21],
            qtype: 1,
            allow_empty: false,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_query_dropped_while_it_waits_gives_its_id_back() {
        runtime().block_on(async {
            let (_hole, b, query) = hole();
            let mut out = vec![0u8; 512];
            // Boxed, so that dropping it drops the query.
            let expect = expected(&query);
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

    /// Asks the hole with a 300 ms timeout; bounded at 10 s, so that a
    /// wait nothing ends fails the test (Err) rather than hanging it.
    async fn ask_the_hole(
        b: &Backend,
        query: &[u8],
    ) -> Result<Option<Result<usize, ()>>, tokio::time::error::Elapsed> {
        let mut out = vec![0u8; 512];
        let asking = ask(
            b,
            query,
            &mut out,
            Duration::from_millis(300),
            expected(query),
        );
        tokio::time::timeout(Duration::from_secs(10), asking).await
    }

    #[test]
    fn an_unanswered_query_times_out_without_a_timer_of_its_own() {
        runtime().block_on(async {
            let (_hole, b, query) = hole();
            let got = ask_the_hole(&b, &query).await;
            assert_eq!(got, Ok(None), "no answer, and the wait ended");
            assert_eq!(b.drops(), 1, "counted as a timeout");
            assert_eq!(in_flight(b.addr), 0, "its ID given back");
        });
    }

    #[test]
    fn an_asker_ends_with_its_runtime_and_the_next_one_makes_another() {
        let (_hole, b, query) = hole();
        // The first runtime makes this thread's asker, and ends.
        runtime().block_on(async {
            assert_eq!(ask_the_hole(&b, &query).await, Ok(None));
        });
        // A second one on the same thread does not wait on the first's
        // dead asker (no sweep would ever end the wait).
        runtime().block_on(async {
            let got = ask_the_hole(&b, &query).await;
            assert_eq!(got, Ok(None), "no answer, and the wait ended");
        });
        assert_eq!(b.drops(), 2, "each counted as a timeout");
    }
}
