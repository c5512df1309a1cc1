//! One connection's requests handled by worker tasks that it keeps, so
//! that a request costs no task of its own (DNS over HTTPS on HTTP/2
//! and DNS over QUIC, where a connection carries many requests at
//! once).
//!
//! Why not a task per request: a DoH request's state (the query path,
//! its buffers and rule state, held across the wait for a backend) is
//! about 2 KB. Spawning that copies it into a new task several times
//! and allocates it from glibc's large bins, which consolidates its fast
//! bins on the way: 4,000 of a DoH answer's 40,000 user-space
//! instructions (callgrind). A worker allocates its state once and runs
//! request after request in it.
//!
//! A connection starts a worker when a request comes and none is idle,
//! so its requests still run side by side (one waiting for its backend
//! does not hold up the next). Idle workers are bounded, per connection
//! and in the whole process, as each keeps its 2 KB: one past either
//! bound ends instead of waiting.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// Idle workers one connection keeps.
const IDLE_PER_CONNECTION: usize = 16;
/// Idle workers kept by all connections together.
const IDLE_IN_ALL: usize = 1024;
/// Idle workers now, all connections together.
static IDLE: AtomicUsize = AtomicUsize::new(0);

/// What the workers do with a job.
pub(crate) trait Handler: Send + Sync + 'static {
    type Job: Send + 'static;
    fn handle(&self, job: Self::Job) -> impl Future<Output = ()> + Send + '_;
}

/// A connection's workers. Dropping it lets the jobs already given
/// finish, then ends the workers.
pub(crate) struct Workers<H: Handler> {
    shared: Arc<Shared<H::Job>>,
    handler: Arc<H>,
}

struct Shared<J> {
    state: Mutex<State<J>>,
}

struct State<J> {
    jobs: VecDeque<J>,
    /// Idle workers (by id) and how to wake each.
    sleepers: Vec<(u64, Waker)>,
    /// Workers alive, busy or idle.
    workers: usize,
    next_id: u64,
    closed: bool,
}

impl<J> Shared<J> {
    fn lock(&self) -> MutexGuard<'_, State<J>> {
        // A handler's panic never happens under this lock: the state is
        // whole whoever held it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<J> State<J> {
    /// Takes worker `id` off the idle list, if it is there.
    fn wake_up(&mut self, id: u64) {
        if let Some(i) = self.sleepers.iter().position(|(s, _)| *s == id) {
            self.sleepers.swap_remove(i);
            IDLE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<H: Handler> Workers<H> {
    pub(crate) fn new(handler: H) -> Self {
        Workers {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    sleepers: Vec::new(),
                    workers: 0,
                    next_id: 0,
                    closed: false,
                }),
            }),
            handler: Arc::new(handler),
        }
    }

    /// Gives `job` to an idle worker, or to a new one.
    pub(crate) fn push(&self, job: H::Job) {
        let mut st = self.shared.lock();
        st.jobs.push_back(job);
        if let Some((_, waker)) = st.sleepers.pop() {
            IDLE.fetch_sub(1, Ordering::Relaxed);
            drop(st);
            waker.wake();
            return;
        }
        st.workers += 1;
        let id = st.next_id;
        st.next_id += 1;
        drop(st);
        tokio::spawn(run(self.shared.clone(), self.handler.clone(), id));
    }

    /// Workers alive (busy or idle).
    #[cfg(test)]
    fn alive(&self) -> usize {
        self.shared.lock().workers
    }
}

impl<H: Handler> Drop for Workers<H> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        let sleepers = std::mem::take(&mut st.sleepers);
        IDLE.fetch_sub(sleepers.len(), Ordering::Relaxed);
        drop(st);
        for (_, waker) in sleepers {
            waker.wake();
        }
    }
}

/// Counts a worker out when its task ends, however it ends (its
/// runtime may drop it while it waits).
struct Alive<J> {
    shared: Arc<Shared<J>>,
    id: u64,
}

impl<J> Drop for Alive<J> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.wake_up(self.id);
        st.workers -= 1;
    }
}

async fn run<H: Handler>(shared: Arc<Shared<H::Job>>, handler: Arc<H>, id: u64) {
    let alive = Alive { shared, id };
    while let Some(job) = next(&alive.shared, id).await {
        handler.handle(job).await;
    }
}

/// The next job for worker `id`; None when it should end.
async fn next<J>(shared: &Shared<J>, id: u64) -> Option<J> {
    poll_fn(|cx| {
        let mut st = shared.lock();
        // Woken for a job or not, it looks for one now.
        st.wake_up(id);
        if let Some(job) = st.jobs.pop_front() {
            return Poll::Ready(Some(job));
        }
        if st.closed
            || st.sleepers.len() >= IDLE_PER_CONNECTION
            || IDLE.load(Ordering::Relaxed) >= IDLE_IN_ALL
        {
            return Poll::Ready(None);
        }
        st.sleepers.push((id, cx.waker().clone()));
        IDLE.fetch_add(1, Ordering::Relaxed);
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::oneshot;

    /// Jobs that wait for their go-ahead, and count how many started and
    /// finished.
    #[derive(Clone, Default)]
    struct Gate {
        started: Arc<AtomicUsize>,
        done: Arc<AtomicUsize>,
    }

    impl Gate {
        fn started(&self) -> usize {
            self.started.load(Ordering::Relaxed)
        }
        fn done(&self) -> usize {
            self.done.load(Ordering::Relaxed)
        }
    }

    impl Handler for Gate {
        type Job = oneshot::Receiver<()>;
        async fn handle(&self, go: Self::Job) {
            self.started.fetch_add(1, Ordering::Relaxed);
            let _ = go.await;
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Gives `w` `n` jobs that wait; their go-aheads.
    fn waiting_jobs(w: &Workers<Gate>, n: usize) -> Vec<oneshot::Sender<()>> {
        (0..n)
            .map(|_| {
                let (tx, rx) = oneshot::channel();
                w.push(rx);
                tx
            })
            .collect()
    }

    fn go(gates: Vec<oneshot::Sender<()>>) {
        for g in gates {
            let _ = g.send(());
        }
    }

    /// Runs `test` on a runtime of one thread, as the TCP listeners'.
    fn on_one_thread(test: impl Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(test);
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn waiting_jobs_run_side_by_side_and_idle_workers_are_reused() {
        on_one_thread(async {
            let gate = Gate::default();
            let w = Workers::new(gate.clone());
            // Five jobs that all wait: five workers, all started.
            let first = waiting_jobs(&w, 5);
            settle().await;
            assert_eq!(gate.started(), 5);
            assert_eq!(w.alive(), 5);
            go(first);
            settle().await;
            assert_eq!(gate.done(), 5);
            // Idle now; the next five jobs start no new worker.
            assert_eq!(w.alive(), 5);
            let second = waiting_jobs(&w, 5);
            settle().await;
            assert_eq!(gate.started(), 10);
            assert_eq!(w.alive(), 5);
            // Closed with jobs in hand: they finish, then every worker
            // ends.
            let shared = w.shared.clone();
            drop(w);
            settle().await;
            assert_eq!(gate.done(), 5);
            go(second);
            settle().await;
            assert_eq!(gate.done(), 10);
            assert_eq!(shared.lock().workers, 0);
        });
    }

    #[test]
    fn idle_workers_past_the_bound_end() {
        on_one_thread(async {
            let gate = Gate::default();
            let w = Workers::new(gate.clone());
            let n = IDLE_PER_CONNECTION + 10;
            let gates = waiting_jobs(&w, n);
            settle().await;
            assert_eq!(w.alive(), n);
            go(gates);
            settle().await;
            assert_eq!(gate.done(), n);
            assert_eq!(w.alive(), IDLE_PER_CONNECTION);
            let shared = w.shared.clone();
            drop(w);
            settle().await;
            assert_eq!(shared.lock().workers, 0);
            assert!(shared.lock().sleepers.is_empty());
        });
    }
}
