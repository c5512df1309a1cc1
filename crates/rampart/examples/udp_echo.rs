//! The kernel's ceiling for the benchmark (bench/run): a single-threaded
//! recvmmsg/sendmmsg loop that sends every datagram back with the QR bit
//! set, so dnsperf counts it as an answer. No DNS server can do less work
//! per query; the ratio to this is what rampart's own overhead costs.
//!
//! Usage: udp_echo ADDR:PORT

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

const BATCH: usize = 32;

fn main() {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: udp_echo ADDR:PORT");
        std::process::exit(2);
    };
    let socket = match UdpSocket::bind(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("udp_echo: cannot bind {addr}: {e}");
            std::process::exit(1);
        }
    };
    let fd = socket.as_raw_fd();
    let mut bufs = vec![[0u8; 4096]; BATCH];
    // SAFETY: zeroed sockaddr_storage/iovec/mmsghdr are valid "empty"
    // values; the pointers set below point into vectors that outlive the
    // loop and are not moved.
    let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut iovs: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];
    loop {
        for i in 0..BATCH {
            iovs[i] = libc::iovec {
                iov_base: bufs[i].as_mut_ptr().cast(),
                iov_len: bufs[i].len(),
            };
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
        }
        // SAFETY: msgs holds BATCH initialised headers as set up above.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            continue;
        }
        let n = n as usize;
        for i in 0..n {
            let len = msgs[i].msg_len as usize;
            if len >= 3 {
                bufs[i][2] |= 0x80;
            }
            iovs[i].iov_len = len;
        }
        // SAFETY: the first n headers carry the addresses recvmmsg wrote
        // and iovecs trimmed to the received lengths.
        unsafe {
            libc::sendmmsg(fd, msgs.as_mut_ptr(), n as u32, 0);
        }
    }
}
