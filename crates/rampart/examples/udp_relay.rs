//! The kernel's ceiling for forwarding (bench/run): a single-threaded
//! relay in front of one backend that does nothing a forwarder could
//! skip. It reads client queries with `recvmmsg`, rewrites their IDs
//! into a table, sends them on with `sendmmsg`, reads the backend's
//! answers the same way and sends them back with the client's ID. Each
//! query is two datagrams in and two out, so no forwarder can spend less
//! per query on this machine; forwarders are measured against it.
//!
//! Usage: udp_relay LISTEN_ADDR:PORT BACKEND_ADDR:PORT

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

const BATCH: usize = 32;
const BUF: usize = 4096;

/// `recvmmsg`/`sendmmsg` buffers for one direction.
struct Batch {
    bufs: Vec<[u8; BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new() -> Batch {
        // SAFETY: zeroed sockaddr_storage/iovec/mmsghdr are valid empty
        // values; `reset` points them into the vectors before each use.
        Batch {
            bufs: vec![[0u8; BUF]; BATCH],
            addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            iovs: vec![unsafe { std::mem::zeroed() }; BATCH],
            msgs: vec![unsafe { std::mem::zeroed() }; BATCH],
        }
    }

    /// Points every header at its buffer and address, full length.
    fn reset(&mut self) {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: BUF,
            };
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
        }
    }

    /// Reads what is waiting on `fd` without blocking; the count.
    fn receive(&mut self, fd: i32) -> usize {
        self.reset();
        // SAFETY: the headers point into this batch's live vectors.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        n.max(0) as usize
    }

    /// Sends the first `n` messages, trimmed to `lens`, on `fd`.
    fn send(&mut self, fd: i32, n: usize) {
        let mut sent = 0;
        while sent < n {
            // SAFETY: as in `receive`; the iovecs were trimmed by the caller.
            let r =
                unsafe { libc::sendmmsg(fd, self.msgs[sent..].as_mut_ptr(), (n - sent) as u32, 0) };
            sent += r.max(1) as usize;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(backend)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: udp_relay LISTEN_ADDR:PORT BACKEND_ADDR:PORT");
        std::process::exit(2);
    };
    let backend: SocketAddr = match backend.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("udp_relay: bad backend address {backend}: {e}");
            std::process::exit(2);
        }
    };
    let open = |addr: &str| {
        UdpSocket::bind(addr).unwrap_or_else(|e| {
            eprintln!("udp_relay: cannot bind {addr}: {e}");
            std::process::exit(1);
        })
    };
    let front = open(listen);
    let back = open("127.0.0.1:0");
    if let Err(e) = back.connect(backend) {
        eprintln!("udp_relay: cannot reach {backend}: {e}");
        std::process::exit(1);
    }
    let (ffd, bfd) = (front.as_raw_fd(), back.as_raw_fd());
    // In flight, by the ID sent to the backend: the client and its ID.
    let mut table: Vec<(libc::sockaddr_storage, u32, u16)> =
        vec![(unsafe { std::mem::zeroed() }, 0, 0); 65536];
    let mut next: u16 = 0;
    let (mut queries, mut answers) = (Batch::new(), Batch::new());
    let mut fds = [
        libc::pollfd {
            fd: ffd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: bfd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        let n = queries.receive(ffd);
        for i in 0..n {
            let len = queries.msgs[i].msg_len as usize;
            let q = &mut queries.bufs[i];
            if len >= 12 {
                let id = u16::from_be_bytes([q[0], q[1]]);
                let namelen = queries.msgs[i].msg_hdr.msg_namelen;
                table[usize::from(next)] = (queries.addrs[i], namelen, id);
                q[..2].copy_from_slice(&next.to_be_bytes());
                next = next.wrapping_add(1);
            }
            queries.iovs[i].iov_len = len;
            // Connected socket: no address.
            queries.msgs[i].msg_hdr.msg_name = std::ptr::null_mut();
            queries.msgs[i].msg_hdr.msg_namelen = 0;
        }
        queries.send(bfd, n);
        let n = answers.receive(bfd);
        for i in 0..n {
            let len = answers.msgs[i].msg_len as usize;
            let a = &mut answers.bufs[i];
            let (client, namelen, id) = table[usize::from(u16::from_be_bytes([a[0], a[1]]))];
            a[..2].copy_from_slice(&id.to_be_bytes());
            answers.addrs[i] = client;
            answers.msgs[i].msg_hdr.msg_namelen = namelen;
            answers.iovs[i].iov_len = len.max(2);
        }
        answers.send(ffd, n);
    }
}
