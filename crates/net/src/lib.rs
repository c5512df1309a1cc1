//! Sockets: UDP workers and TCP listeners serving the current snapshot.
//!
//! UDP follows the design every fast authoritative server shares: one
//! worker thread per core, each with its own `SO_REUSEPORT` socket,
//! receiving and sending in batches with `recvmmsg`/`sendmmsg` ([`udp`]).
//! TCP runs on one small tokio runtime thread ([`tcp`]): RFC 7766 framing,
//! pipelined queries, an idle timeout and a connection limit.
//!
//! Both read the [`zone::Snapshot`] through an `ArcSwap`: a reload stores a
//! new one and the next batch or query sees it; no lock on the way.

pub mod delay;
pub mod drain;
pub mod pipeline;
pub mod tcp;
pub mod udp;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use zone::Snapshot;

/// Everything the query path reads, swapped whole on reload.
#[derive(Debug, Default)]
pub struct State {
    pub zones: Arc<Snapshot>,
    pub shield: shield::Shield,
    /// Rings and dynamic blocks: the same across reloads.
    pub runtime: Arc<shield::Runtime>,
}

/// The state every worker reads.
pub type SharedSnapshot = Arc<ArcSwap<State>>;

/// One address to serve.
#[derive(Clone, Debug)]
pub struct ListenSpec {
    pub addr: SocketAddr,
    pub tcp: bool,
    pub max_tcp_connections: usize,
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub udp_workers: usize,
    pub tcp_idle_timeout: Duration,
    /// Concurrent TCP connections one client address may hold (0: any).
    pub tcp_per_client: usize,
}

/// The running sockets' threads.
pub struct Server {
    pub threads: Vec<JoinHandle<()>>,
}

/// Binds every listener (failing before any thread starts if one cannot
/// be bound) and starts serving.
pub fn start(
    listeners: &[ListenSpec],
    opts: &ServeOptions,
    shared: SharedSnapshot,
) -> io::Result<Server> {
    let mut udp_sockets = Vec::new();
    for l in listeners {
        for _ in 0..opts.udp_workers.max(1) {
            udp_sockets.push(udp::bind(l.addr).map_err(|e| annotate(e, "UDP", l.addr))?);
        }
    }
    let mut tcp_listeners = Vec::new();
    for l in listeners.iter().filter(|l| l.tcp) {
        tcp_listeners.push((
            tcp::bind(l.addr).map_err(|e| annotate(e, "TCP", l.addr))?,
            l.max_tcp_connections,
        ));
    }
    let delayer = delay::Delayer::start()?;
    let mut threads = Vec::new();
    for (i, sock) in udp_sockets.into_iter().enumerate() {
        let shared = shared.clone();
        let delayer = delayer.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("udp-{i}"))
                .spawn(move || udp::serve(sock, shared, delayer))?,
        );
    }
    if !tcp_listeners.is_empty() {
        let shared = shared.clone();
        let idle = opts.tcp_idle_timeout;
        let per_client = opts.tcp_per_client;
        threads.push(
            std::thread::Builder::new()
                .name("tcp".into())
                .spawn(move || tcp::serve(tcp_listeners, idle, per_client, shared))?,
        );
    }
    Ok(Server { threads })
}

fn annotate(e: io::Error, proto: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {proto} {addr}: {e}"))
}
