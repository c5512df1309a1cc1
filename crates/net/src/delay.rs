//! DelayAction for UDP: answers held back and sent later by one thread,
//! so a delayed answer never holds up a worker.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Answers waiting at most; past this, more delayed answers are dropped
/// (a flood must not turn into a memory leak).
const MAX_WAITING: usize = 65_536;

struct Delayed {
    due: Instant,
    socket: Arc<UdpSocket>,
    from: crate::reply_from::ReplyFrom,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// Hands answers to the delay thread.
#[derive(Clone)]
pub struct Delayer {
    /// Unbounded, so nothing is allocated up front (a bounded channel
    /// touches all its slots: 10 MB for 65,536); the `DELAYED` count of
    /// answers in flight is the bound.
    tx: Sender<Delayed>,
}

/// The process's delay thread, started on first use; `None` if the
/// thread could not be started (then nothing is delayed: the answers go
/// out at once).
pub fn shared() -> Option<&'static Delayer> {
    static SHARED: std::sync::OnceLock<Option<Delayer>> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| Delayer::start().ok()).as_ref()
}

impl Delayer {
    /// Starts the delay thread.
    pub fn start() -> std::io::Result<Delayer> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("udp-delay".into())
            .spawn(move || run(rx))?;
        Ok(Delayer { tx })
    }

    /// Sends `bytes` to `to` over `socket` after `ms` milliseconds; false
    /// if the queue is full and the answer was dropped.
    pub fn send_later(
        &self,
        socket: &Arc<UdpSocket>,
        from: crate::reply_from::ReplyFrom,
        to: SocketAddr,
        bytes: &[u8],
        ms: u32,
    ) -> bool {
        if crate::drain::DELAYED.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
            crate::drain::DELAYED.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let item = Delayed {
            due: Instant::now() + Duration::from_millis(u64::from(ms)),
            socket: socket.clone(),
            from,
            to,
            bytes: bytes.to_vec(),
        };
        let sent = self.tx.send(item).is_ok();
        if !sent {
            crate::drain::DELAYED.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }
}

/// Heap entry ordered by due time.
struct Entry(Delayed);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.due == other.0.due
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.due.cmp(&other.0.due)
    }
}

fn run(rx: Receiver<Delayed>) {
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(e)| e.0.due <= now) {
            if let Some(Reverse(Entry(d))) = heap.pop() {
                let _ = d.from.send(&d.socket, &d.bytes, d.to);
                crate::drain::DELAYED.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let wait = heap
            .peek()
            .map(|Reverse(e)| e.0.due.saturating_duration_since(now));
        let received = match wait {
            Some(w) => rx.recv_timeout(w),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(d) => heap.push(Reverse(Entry(d))),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if heap.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {}
        }
    }
}
