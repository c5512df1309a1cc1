//! UDP workers: `recvmmsg` a batch, answer each, `sendmmsg` the answers.
//!
//! A socket bound to a wildcard address (`0.0.0.0`, `::`) asks the kernel
//! for each datagram's destination address (`IP_PKTINFO`,
//! `IPV6_RECVPKTINFO`) and sends the answer from that address, so clients
//! of a host with several addresses hear back from the one they asked.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use zone::Transport;

use crate::delay::Delayer;
use crate::pipeline::{handle, Handled};
use crate::SharedSnapshot;

/// Datagrams per `recvmmsg`/`sendmmsg` call.
const BATCH: usize = 32;
/// Largest query read; longer datagrams are cut and answered FORMERR.
const MAX_QUERY: usize = 4096;
/// Largest response (the configured payload size is the real limit).
const MAX_RESPONSE: usize = crate::buffers::MAX_MESSAGE;

use crate::reply_from::{ReplyFrom, CONTROL_LEN};

/// A `SO_REUSEPORT` UDP socket bound to `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    if addr.ip().is_unspecified() {
        let (level, option) = if addr.is_ipv6() {
            (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
        } else {
            (libc::IPPROTO_IP, libc::IP_PKTINFO)
        };
        let on: libc::c_int = 1;
        // SAFETY: a plain setsockopt with an int option on our socket.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                level,
                option,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
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
pub fn serve(
    sock: Socket,
    shared: SharedSnapshot,
    delayer: Delayer,
    counts: Arc<crate::FrontendCounts>,
) {
    let fd = sock.as_raw_fd();
    let local = sock
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    // A second handle on the socket for answers the delay thread sends.
    let delayed_socket: Option<Arc<std::net::UdpSocket>> = sock
        .try_clone()
        .ok()
        .map(|s| Arc::new(std::net::UdpSocket::from(s)));
    // The datagram buffers are only ever reached through these two base
    // pointers (the kernel writes through the iovecs made from them), so
    // no Rust reference to the buffers outlives a system call.
    let mut inbufs = vec![0u8; MAX_QUERY * BATCH];
    let mut outbufs = vec![0u8; MAX_RESPONSE * BATCH];
    let in_base = inbufs.as_mut_ptr();
    let out_base = outbufs.as_mut_ptr();
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut addrs: Vec<libc::sockaddr_storage> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iov_in: Vec<libc::iovec> = (0..BATCH)
        .map(|i| libc::iovec {
            // SAFETY: slot i lies inside inbufs.
            iov_base: unsafe { in_base.add(i * MAX_QUERY) }.cast(),
            iov_len: MAX_QUERY,
        })
        .collect();
    let mut msgs_in: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iov_out: Vec<libc::iovec> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut msgs_out: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    // Control messages: what the kernel told us, and what we tell it back.
    let mut ctrl_in = vec![[0u64; CONTROL_LEN / 8]; BATCH];
    let mut ctrl_out = vec![ReplyFrom::NONE; BATCH];

    for i in 0..BATCH {
        let h = &mut msgs_in[i].msg_hdr;
        h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &mut iov_in[i];
        h.msg_iovlen = 1;
        h.msg_control = ctrl_in[i].as_mut_ptr().cast();
        h.msg_controllen = CONTROL_LEN as _;
        h.msg_flags = 0;
        msgs_in[i].msg_len = 0;
    }
    // Headers the last call filled, to reset before the next: under load
    // a call returns a few datagrams, and resetting all 32 every time
    // cost more than answering one of them.
    let mut used = 0;
    // Forwarded queries go to their backend together after each batch.
    crate::forward::queue_on_this_thread();
    loop {
        for m in &mut msgs_in[..used] {
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_controllen = CONTROL_LEN as _;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        used = 0;
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
        used = n;
        counts.udp_queries.add(n as u64);
        // Every datagram of the batch had come by now: one clock read for
        // all of them (their latency includes waiting behind the others).
        let received = shield::qps::now_ns();
        let snap = shared.load();
        let mut out_count = 0;
        for i in 0..n {
            let len = msgs_in[i].msg_len as usize;
            let truncated_in = msgs_in[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            // SAFETY: slots i and out_count lie inside their buffers, no
            // other reference to them exists, and the kernel is not using
            // them between the two system calls.
            let (query, out) = unsafe {
                (
                    std::slice::from_raw_parts(in_base.add(i * MAX_QUERY), len.min(MAX_QUERY)),
                    std::slice::from_raw_parts_mut(
                        out_base.add(out_count * MAX_RESPONSE),
                        MAX_RESPONSE,
                    ),
                )
            };
            let Some(client) = socket_addr(&addrs[i]) else {
                continue;
            };
            // SAFETY: the header was just filled by recvmmsg and its
            // control buffer (ctrl_in[i]) is alive.
            let from = unsafe { ReplyFrom::of(&msgs_in[i].msg_hdr) };
            let answered = if truncated_in {
                // Oversized datagram: only the ID can be trusted. The ACL
                // still comes first, and responses are never answered.
                let allowed = snap.shield.acl.contains(client.ip());
                (allowed && query.len() >= 12 && query[2] & 0x80 == 0)
                    .then(|| zone::formerr(query, out))
            } else {
                // A bug must cost one answer, not the worker.
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handle(
                        &snap,
                        query,
                        client,
                        local,
                        (Transport::Udp, received),
                        delayed_socket.as_ref().map(|s| (s, &from)),
                        None,
                        out,
                    )
                }))
                .unwrap_or(Handled::Drop);
                match handled {
                    Handled::Answer {
                        len,
                        delay_ms: None,
                    } => Some(len),
                    Handled::Answer {
                        len,
                        delay_ms: Some(ms),
                    } => {
                        if let Some(s) = &delayed_socket {
                            delayer.send_later(s, from, client, &out[..len], ms);
                        }
                        None
                    }
                    Handled::Drop
                    | Handled::Forwarded
                    | Handled::ForwardTcp { .. }
                    | Handled::Replication
                    | Handled::Http { .. } => None,
                }
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
            ctrl_out[out_count] = from;
            let h = &mut msgs_out[out_count].msg_hdr;
            if let Some((control, len)) = ctrl_out[out_count].control() {
                h.msg_control = control;
                h.msg_controllen = len as _;
            } else {
                h.msg_control = std::ptr::null_mut();
                h.msg_controllen = 0;
            }
            h.msg_flags = 0;
            out_count += 1;
        }
        // Before the snapshot goes: it keeps the backend sockets open.
        crate::forward::send_queued();
        drop(snap);
        // SAFETY: headers point at live buffers, as above.
        unsafe { send_all(fd, &mut msgs_out[..out_count], &mut |_| {}) };
    }
}

/// Sends every message in `msgs` on `fd` with as few `sendmmsg` calls as
/// the kernel takes: a datagram that fails (an unreachable client, a full
/// send buffer) is skipped and its index given to `failed`, a call a
/// signal interrupted is made again.
///
/// # Safety
/// Every header must point at an address, iovecs and control data that
/// stay alive and unmoved for the call.
pub(crate) unsafe fn send_all(
    fd: std::os::fd::RawFd,
    msgs: &mut [libc::mmsghdr],
    failed: &mut dyn FnMut(usize),
) {
    let mut sent = 0;
    while sent < msgs.len() {
        // SAFETY: the caller's guarantee, for the headers from `sent` on.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                msgs[sent..].as_mut_ptr(),
                (msgs.len() - sent) as libc::c_uint,
                0,
            )
        };
        let error = (r < 0).then(|| io::Error::last_os_error().kind());
        sent += match r {
            n if n > 0 => n as usize,
            _ if error == Some(io::ErrorKind::Interrupted) => 0,
            // A full send buffer (a non-blocking socket) takes none of
            // the rest either: all fail now, not one system call each.
            _ if error == Some(io::ErrorKind::WouldBlock) => {
                (sent..msgs.len()).for_each(&mut *failed);
                return;
            }
            // This message's own failure (its address, say): skip it.
            _ => {
                failed(sent);
                1
            }
        };
    }
}

/// The address in a `sockaddr_storage` the kernel filled.
fn socket_addr(sa: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    match i32::from(sa.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(sa as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(std::net::SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(sa as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(std::net::SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}
