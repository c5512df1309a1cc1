//! Replies that leave from the address the query was sent to.
//!
//! A socket bound to a wildcard address learns each datagram's destination
//! from the kernel (IP_PKTINFO / IPV6_PKTINFO); the reply must carry it back
//! as its source, or a client of a host with several addresses hears from
//! the wrong one and drops the answer. Answers made at once go out in the
//! worker's sendmmsg batch; delayed and forwarded answers keep a
//! [`ReplyFrom`] with them and use [`ReplyFrom::send`].

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Room for one packet-info control message.
pub const CONTROL_LEN: usize = 64;

/// The control message that sets a reply's source; empty for sockets bound
/// to one address.
#[derive(Clone, Copy)]
pub struct ReplyFrom {
    ctrl: [u64; CONTROL_LEN / 8],
    len: usize,
}

impl ReplyFrom {
    pub const NONE: ReplyFrom = ReplyFrom {
        ctrl: [0; CONTROL_LEN / 8],
        len: 0,
    };

    /// The source for the reply to the datagram `received` describes.
    ///
    /// # Safety
    /// `received` must be a header filled by `recvmsg`/`recvmmsg` whose
    /// control buffer is still alive.
    #[inline]
    pub unsafe fn of(received: &libc::msghdr) -> ReplyFrom {
        // A socket bound to one address gets no control messages: the
        // common case, on every datagram.
        if received.msg_controllen == 0 {
            return ReplyFrom::NONE;
        }
        let mut r = ReplyFrom::NONE;
        // SAFETY: the caller's guarantee, passed on.
        r.len = unsafe { reply_source(received, &mut r.ctrl) };
        r
    }

    /// The control buffer and its length for a `msghdr`, if any (the
    /// kernel only reads it when sending).
    pub fn control(&self) -> Option<(*mut libc::c_void, usize)> {
        (self.len > 0).then_some((self.ctrl.as_ptr() as *mut libc::c_void, self.len))
    }

    /// The address the datagram was sent to, when the kernel said
    /// (a socket bound to a wildcard address).
    pub fn local_ip(&self) -> Option<IpAddr> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: `ctrl` holds one control message that `reply_source`
        // wrote whole (its length checked against the buffer there).
        unsafe {
            let hdr = self.ctrl.as_ptr().cast::<libc::cmsghdr>();
            let data = libc::CMSG_DATA(hdr);
            match (*hdr).cmsg_level {
                libc::IPPROTO_IP => {
                    let info: libc::in_pktinfo = std::ptr::read_unaligned(data.cast());
                    Some(IpAddr::from(
                        u32::from_be(info.ipi_spec_dst.s_addr).to_be_bytes(),
                    ))
                }
                libc::IPPROTO_IPV6 => {
                    let info: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                    Some(IpAddr::from(info.ipi6_addr.s6_addr))
                }
                _ => None,
            }
        }
    }

    /// Sends `bytes` to `to` through `socket`, from the recorded address.
    pub fn send(&self, socket: &UdpSocket, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        let Some((control, len)) = self.control() else {
            return socket.send_to(bytes, to);
        };
        let addr = socket2::SockAddr::from(to);
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        // SAFETY: all-zero is a valid msghdr; every pointer set below
        // points at a local that outlives the sendmsg call, which only
        // reads through them.
        let sent = unsafe {
            let mut h: libc::msghdr = std::mem::zeroed();
            h.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_namelen = addr.len();
            h.msg_iov = &mut iov;
            h.msg_iovlen = 1;
            h.msg_control = control;
            h.msg_controllen = len as _;
            libc::sendmsg(socket.as_raw_fd(), &h, 0)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

/// Writes into `out` a control message that sends the reply from the
/// address the query in `received` was sent to; returns its length, 0 when
/// the query carried no packet info (a socket bound to one address).
///
/// # Safety
/// `received` must be a header filled by `recvmsg`/`recvmmsg` whose control
/// buffer is still alive.
unsafe fn reply_source(received: &libc::msghdr, out: &mut [u64; CONTROL_LEN / 8]) -> usize {
    if received.msg_controllen == 0 || received.msg_control.is_null() {
        return 0;
    }
    // SAFETY: walking the kernel-written control messages with the libc
    // macros, within msg_controllen; the out buffer is 8-aligned and large
    // enough for one in6_pktinfo message (checked by CMSG_SPACE below).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(received);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let (level, kind, len) = (c.cmsg_level, c.cmsg_type, c.cmsg_len as usize);
            let space = match (level, kind) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => size_of::<libc::in_pktinfo>(),
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => size_of::<libc::in6_pktinfo>(),
                _ => {
                    cmsg = libc::CMSG_NXTHDR(received, cmsg);
                    continue;
                }
            };
            let total = libc::CMSG_SPACE(space as u32) as usize;
            if total > CONTROL_LEN || len < libc::CMSG_LEN(space as u32) as usize {
                return 0;
            }
            let dst = out.as_mut_ptr().cast::<u8>();
            std::ptr::write_bytes(dst, 0, total);
            let hdr = dst.cast::<libc::cmsghdr>();
            (*hdr).cmsg_level = level;
            (*hdr).cmsg_type = kind;
            (*hdr).cmsg_len = libc::CMSG_LEN(space as u32) as _;
            let data_out = libc::CMSG_DATA(hdr);
            let data_in = libc::CMSG_DATA(cmsg);
            if level == libc::IPPROTO_IP {
                let mut info: libc::in_pktinfo = std::ptr::read_unaligned(data_in.cast());
                // Source = the address asked; let routing pick the interface.
                info.ipi_spec_dst = info.ipi_addr;
                info.ipi_ifindex = 0;
                std::ptr::write_unaligned(data_out.cast(), info);
            } else {
                // Same address and interface (needed for link-local).
                let info: libc::in6_pktinfo = std::ptr::read_unaligned(data_in.cast());
                std::ptr::write_unaligned(data_out.cast(), info);
            }
            return total;
        }
    }
    0
}
