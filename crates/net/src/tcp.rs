//! DNS over TCP (RFC 7766): two-byte length framing, several queries per
//! connection answered in turn, an idle timeout, and a limit on
//! concurrent connections per listener.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zone::{respond, Transport};

use crate::SharedSnapshot;

/// A listening TCP socket bound to `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Serves the listeners on a single-threaded runtime until the process
/// ends.
pub fn serve(
    listeners: Vec<(std::net::TcpListener, usize)>,
    idle: Duration,
    shared: SharedSnapshot,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart: TCP disabled: cannot start runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for (std_listener, max) in listeners {
            let listener = match TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("rampart: TCP listener unusable: {e}");
                    continue;
                }
            };
            tasks.push(tokio::spawn(accept_loop(
                listener,
                max,
                idle,
                shared.clone(),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

async fn accept_loop(listener: TcpListener, max: usize, idle: Duration, shared: SharedSnapshot) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Out of descriptors and the like: back off, keep serving.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if active.load(Ordering::Relaxed) >= max {
            // Over the limit: close at once rather than queue.
            drop(stream);
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let active = active.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = connection(stream, idle, shared).await;
            active.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Answers queries on one connection until the client closes it, it
/// idles past `idle`, or it sends something that must not be answered.
async fn connection(
    mut stream: TcpStream,
    idle: Duration,
    shared: SharedSnapshot,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut query = vec![0u8; 65535];
    let mut out = vec![0u8; 65537];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        let len = u16::from_be_bytes(len) as usize;
        match tokio::time::timeout(idle, stream.read_exact(&mut query[..len])).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        let answered = {
            let snap = shared.load();
            respond(&snap, &query[..len], &mut out[2..], Transport::Tcp)
        };
        let Some(resp_len) = answered else {
            return Ok(());
        };
        out[..2].copy_from_slice(&(resp_len as u16).to_be_bytes());
        match tokio::time::timeout(idle, stream.write_all(&out[..resp_len + 2])).await {
            Ok(Ok(())) => {}
            _ => return Ok(()),
        }
    }
}
