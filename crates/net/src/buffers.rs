//! 64 KB answer buffers, kept per thread for the next query. A query
//! over a stream (TCP, DoT, DoH, DoQ) is answered into one: answers and
//! the rules' rewrites may be that large. Zeroing a fresh one per query
//! cost more than the rest of answering it (perf: 22% of a DoH query,
//! 8% of a DoT one), and keeping one per connection would pin 64 KB on
//! every idle connection.

use std::cell::RefCell;

/// The largest DNS message (a UDP payload's, a stream's length field):
/// the one definition every transport's buffers are sized by.
pub const MAX_MESSAGE: usize = 65535;

/// A buffer's length: a two-byte length prefix and the largest message.
pub const LEN: usize = 2 + MAX_MESSAGE;

/// Buffers kept per thread at most, 16 MB (the rest are freed): enough
/// for a few hundred queries in flight at once.
const KEPT: usize = 256;

thread_local! {
    static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of [`LEN`] bytes (what it holds is a former answer's).
pub fn take() -> Vec<u8> {
    BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_else(|| vec![0u8; LEN])
}

/// Gives a buffer back for the next query of this thread.
pub fn give(buf: Vec<u8>) {
    if buf.len() != LEN {
        return;
    }
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() < KEPT {
            b.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_buffer_given_back_is_taken_again_and_others_are_not_kept() {
        let mut a = super::take();
        assert_eq!(a.len(), super::LEN);
        a[0] = 7;
        super::give(a);
        assert_eq!(super::take()[0], 7, "the same buffer");
        super::give(vec![0u8; 10]);
        assert_eq!(super::take().len(), super::LEN, "a short one is not kept");
    }
}
