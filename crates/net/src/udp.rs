//! UDP workers: `recvmmsg` a batch, answer each, `sendmmsg` the answers.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use zone::{respond, Transport};

use crate::SharedSnapshot;

/// Datagrams per `recvmmsg`/`sendmmsg` call.
const BATCH: usize = 32;
/// Largest query read; longer datagrams are cut and answered FORMERR.
const MAX_QUERY: usize = 4096;
/// Largest response (the configured payload size is the real limit).
const MAX_RESPONSE: usize = 65535;

/// A `SO_REUSEPORT` UDP socket bound to `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_port(true)?;
    sock.set_reuse_address(true)?;
    // Bursts queue in the kernel while a batch is being answered.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// Serves `sock` until the process ends.
pub fn serve(sock: Socket, shared: SharedSnapshot) {
    let fd = sock.as_raw_fd();
    let mut inbufs = vec![[0u8; MAX_QUERY]; BATCH];
    let mut outbufs = vec![0u8; MAX_RESPONSE * BATCH];
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut addrs: Vec<libc::sockaddr_storage> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iov_in: Vec<libc::iovec> = inbufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: MAX_QUERY,
        })
        .collect();
    let mut msgs_in: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iov_out: Vec<libc::iovec> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut msgs_out: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();

    loop {
        for i in 0..BATCH {
            let h = &mut msgs_in[i].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iov_in[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            msgs_in[i].msg_len = 0;
        }
        // SAFETY: every header points at buffers that live for the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs_in.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Transient errors (e.g. ICMP-reported) must not end the worker.
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        let n = n as usize;
        let snap = shared.load();
        let mut out_count = 0;
        for i in 0..n {
            let len = msgs_in[i].msg_len as usize;
            let truncated_in = msgs_in[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            let query = &inbufs[i][..len.min(MAX_QUERY)];
            let out = &mut outbufs[out_count * MAX_RESPONSE..(out_count + 1) * MAX_RESPONSE];
            let answered = if truncated_in {
                // Oversized datagram: only the ID can be trusted.
                formerr(query, out)
            } else {
                respond(&snap, query, out, Transport::Udp)
            };
            let Some(resp_len) = answered else { continue };
            iov_out[out_count] = libc::iovec {
                iov_base: out.as_mut_ptr().cast(),
                iov_len: resp_len,
            };
            let h = &mut msgs_out[out_count].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = msgs_in[i].msg_hdr.msg_namelen;
            h.msg_iov = &mut iov_out[out_count];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            out_count += 1;
        }
        drop(snap);
        let mut sent = 0;
        while sent < out_count {
            // SAFETY: headers point at live buffers, as above.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs_out[sent..].as_mut_ptr(),
                    (out_count - sent) as libc::c_uint,
                    0,
                )
            };
            if r <= 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Skip the datagram that failed (unreachable client etc.).
                sent += 1;
                continue;
            }
            sent += r as usize;
        }
    }
}

/// A FORMERR header for a datagram too large to parse.
fn formerr(query: &[u8], out: &mut [u8]) -> Option<usize> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    out[..12].fill(0);
    out[..2].copy_from_slice(&query[..2]);
    out[2] = 0x80 | (query[2] & 0x79);
    out[3] = 1;
    Some(12)
}
