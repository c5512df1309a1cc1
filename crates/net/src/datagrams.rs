//! Datagrams taken several at a time: one `recvmmsg(2)` reads every
//! datagram queued on a socket (up to a batch), where a `recv` each
//! costs a system call per datagram. Backend answers are read so, by the
//! UDP forwarders' responder threads and by the DoH/DoQ askers.

use std::io;
use std::os::fd::RawFd;

/// The largest datagram.
const MAX_DATAGRAM: usize = crate::buffers::MAX_MESSAGE;

/// Backend answers read per `recvmmsg`, by the forwarders and the
/// askers alike: enough to drain a busy socket in few calls, and each
/// batch's buffers are 64 KB a datagram (virtual until touched).
pub(crate) const ANSWER_BATCH: usize = 16;

/// Buffers for a batch of datagrams, and the headers `recvmmsg` fills.
pub(crate) struct Received {
    bufs: Vec<u8>,
    lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the headers' raw pointers point only into this struct's own
// heap buffers (which move with it, unshared) and are rewritten by
// `point` before every use; nothing ties them to a thread.
unsafe impl Send for Received {}

impl Received {
    /// Room for `batch` datagrams of the largest size (pages are only
    /// touched as datagrams fill them).
    pub(crate) fn new(batch: usize) -> Received {
        Received {
            bufs: vec![0; batch * MAX_DATAGRAM],
            lens: vec![0; batch],
            // SAFETY: all-zero is a valid value for these plain C structs;
            // they are pointed at the buffers before each call.
            iovs: (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect(),
            msgs: (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect(),
        }
    }

    /// Points header `i` at buffer `i`, `len` bytes of it.
    pub(crate) fn point(&mut self, i: usize, len: usize) {
        let base = self.bufs.as_mut_ptr();
        self.iovs[i] = libc::iovec {
            // SAFETY: slot i lies inside `bufs`.
            iov_base: unsafe { base.add(i * MAX_DATAGRAM) }.cast(),
            iov_len: len,
        };
        let h = &mut self.msgs[i].msg_hdr;
        h.msg_name = std::ptr::null_mut();
        h.msg_namelen = 0;
        h.msg_iov = &mut self.iovs[i];
        h.msg_iovlen = 1;
        h.msg_control = std::ptr::null_mut();
        h.msg_controllen = 0;
        h.msg_flags = 0;
        self.msgs[i].msg_len = 0;
    }

    /// Reads what is queued on `fd`, a whole batch at most, with
    /// `recvmmsg`'s `flags`; how many datagrams came. `WouldBlock` from
    /// a non-blocking socket with none queued.
    pub(crate) fn receive(&mut self, fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
        for i in 0..self.msgs.len() {
            self.point(i, MAX_DATAGRAM);
        }
        // SAFETY: every header points into `bufs`/`iovs`, which live (and
        // do not move) for the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                self.msgs.len() as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            self.lens[i] = (self.msgs[i].msg_len as usize).min(MAX_DATAGRAM);
        }
        Ok(n)
    }

    /// Datagram `i` of the last `receive`: its whole buffer (for editing
    /// in place) and its length.
    pub(crate) fn get_mut(&mut self, i: usize) -> (&mut [u8], usize) {
        let len = self.lens[i];
        (
            &mut self.bufs[i * MAX_DATAGRAM..(i + 1) * MAX_DATAGRAM],
            len,
        )
    }

    /// Header `i` as [`Received::point`] left it, to send buffer `i` with
    /// `sendmmsg` (it points into this batch: send before it changes).
    pub(crate) fn header(&self, i: usize) -> libc::mmsghdr {
        self.msgs[i]
    }
}
