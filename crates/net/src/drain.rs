//! Draining on shutdown: stop taking new TCP queries, let the answers
//! already under way go out (delayed UDP answers, open TCP exchanges),
//! then let the process end.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set once shutdown begins.
pub static DRAINING: AtomicBool = AtomicBool::new(false);
/// TCP queries being answered right now.
pub static TCP_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// UDP answers waiting in the delay queue.
pub static DELAYED: AtomicUsize = AtomicUsize::new(0);

/// Whether shutdown has begun.
pub fn draining() -> bool {
    DRAINING.load(Ordering::Relaxed)
}

/// Begins draining and waits (at most `limit`) for what is under way.
/// Returns whether everything went out.
pub fn drain(limit: Duration) -> bool {
    DRAINING.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TCP_IN_FLIGHT.load(Ordering::Relaxed) == 0 && DELAYED.load(Ordering::Relaxed) == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
