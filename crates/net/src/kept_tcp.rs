//! TCP connections to backends that answered, kept for the next query
//! (as dnsdist does: a connect per query costs the backend a handshake
//! and a slot in TIME_WAIT).
//!
//! Kept per thread, as tokio streams: a stream is registered with the
//! reactor of the runtime that made it, so it stays on that runtime's
//! thread (every thread that asks backends over TCP runs one runtime for
//! its whole life: the stream thread, DoQ's), and taking one costs no
//! epoll_ctl(2) pair (moving a socket out of tokio and back in cost two
//! system calls per query).

use std::cell::RefCell;
use std::net::SocketAddr;

use rustc_hash::FxHashMap;
use tokio::net::TcpStream;

/// Idle connections kept per backend address and thread.
const MAX_PER_BACKEND: usize = 8;

/// Backend addresses kept for per thread: reloads that keep changing
/// backends must not pile up connections to ones long gone (past it,
/// every kept connection of the thread is closed and kept anew).
const MAX_BACKENDS: usize = 256;

thread_local! {
    /// Keyed by backend addresses from the config, not by anything a
    /// client sends: no need for SipHash's defence (it was two hashes of
    /// some 200 instructions per DoT query, a take and a keep).
    static KEPT: RefCell<FxHashMap<SocketAddr, Vec<TcpStream>>> = RefCell::default();
}

/// An idle connection to `addr` made on this thread, most recently used
/// first (the least likely to have been closed by the backend since).
pub fn take(addr: SocketAddr) -> Option<TcpStream> {
    KEPT.with(|k| {
        // An emptied list stays: with one connection kept per backend
        // (the usual), removing it would free and rebuild it per query.
        k.borrow_mut().get_mut(&addr)?.pop()
    })
}

/// Keeps a connection that just answered for the next query.
pub fn keep(addr: SocketAddr, s: TcpStream) {
    KEPT.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= MAX_BACKENDS && !k.contains_key(&addr) {
            // Addresses with none kept go first; only if that is not
            // enough is every kept connection closed.
            k.retain(|_, list| !list.is_empty());
            if k.len() >= MAX_BACKENDS {
                k.clear();
            }
        }
        let list = k.entry(addr).or_default();
        if list.len() < MAX_PER_BACKEND {
            list.push(s);
        }
    });
}
