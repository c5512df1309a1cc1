//! Sockets and the query path: listeners (UDP, TCP, DNS over TLS and
//! HTTPS) that feed one [`pipeline::handle`], and forwarding to backends.
//!
//! UDP runs one worker thread per core per listener, each with its own
//! `SO_REUSEPORT` socket, receiving and sending in batches with
//! `recvmmsg`/`sendmmsg`. Stream listeners (TCP, DoT, DoH) share one
//! thread running a single-threaded tokio runtime. Every worker reads the
//! served [`State`] (zones, shield, backends, replication) through an
//! `ArcSwap`: a reload stores a new one and the next batch or query sees
//! it. [`start`] binds every listener before any thread starts.
//!
//! Modules:
//! - [`pipeline`]: one query from bytes to answer: ACL, parse, rings,
//!   dynamic blocks, cookies, rules, then the zones, a self-made answer,
//!   replication (`xfr`) or a pool.
//! - [`guard`]: the cookie and RRL phases of the pipeline.
//! - [`udp`]: UDP workers; [`reply_from`]: answers sent from the address
//!   a wildcard socket was asked on.
//! - [`tcp`]: RFC 7766 framing and the connection limits, idle closing
//!   and bans; it also serves DoT and DoH connections.
//! - [`tls`]: certificates, keys and ticket keys for DoT/DoH listeners,
//!   reloaded when the files change; [`tls_suites`]: the cipher suites
//!   they offer and their key log; [`doh`]: DNS over HTTPS (RFC 8484).
//! - [`stream_answer`]: answering one query that came over a stream.
//! - [`forward`]: UDP forwarding (a socket, a responder thread and a
//!   health-check thread per backend) and TCP exchanges with backends;
//!   [`inflight`]: the per-backend table of queries in flight.
//! - [`tls_forward`]: DoT and DoH backends; [`udp_ask`]: UDP questions to
//!   backends from the async DoH side.
//! - [`ecs_plan`]: the ECS option a forwarded query carries and its part
//!   in the packet-cache key.
//! - [`delay`]: the thread that sends `DelayAction`'s held-back UDP
//!   answers; [`update_queue`]: the thread that answers UDP UPDATEs off
//!   the workers; [`drain`]: letting answers under way finish at shutdown.

pub mod buffers;
mod datagrams;
pub mod delay;
pub mod doh;
pub mod doq;
pub mod drain;
pub mod ecs_plan;
pub mod forward;
pub mod guard;
pub mod inflight;
pub mod kept_tcp;
pub mod pipeline;
pub mod reply_from;
pub mod stream_answer;
pub mod tcp;
pub mod tls;
pub mod tls_forward;
pub mod tls_suites;
pub mod udp;
pub mod udp_ask;
pub mod update_queue;
mod workers;

pub use tls::TlsError;

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
    pub upstream: Upstream,
    /// The runtime's rings as of this state (the query path takes them
    /// from here, not through another atomic load per query).
    pub rings: Arc<shield::rings::Rings>,
    /// Transfers, updates and NOTIFY: the same across reloads.
    pub xfr: Arc<xfr::Service>,
}

impl State {
    /// A state serving `zones` with `shield`, the runtime's rings as they
    /// are now.
    pub fn new(
        zones: Arc<Snapshot>,
        shield: shield::Shield,
        runtime: Arc<shield::Runtime>,
        upstream: Upstream,
        xfr: Arc<xfr::Service>,
    ) -> State {
        State {
            zones,
            shield,
            rings: runtime.rings.load_full(),
            runtime,
            upstream,
            xfr,
        }
    }

    /// Readies this state to be put in force: the query rules' plan is
    /// made, and its response rules become the runtime's (the backend
    /// responders, which see only the runtime, read them there). The one
    /// place they are handed over: call it before storing the state.
    pub fn publish(&self) {
        self.shield.rules.prepare();
        self.runtime
            .response_rules
            .store(self.shield.response_rules.clone());
    }
}

/// The backends and their forwarders.
#[derive(Debug, Default, Clone)]
pub struct Upstream {
    pub pools: pool::Pools,
    /// `udp[i]` forwards to `pools.backends[i]`.
    pub udp: Vec<Arc<forward::UdpForwarder>>,
    pub udp_timeout: Duration,
    /// Entries in each UDP backend's table of queries in flight
    /// (`setMaxUDPOutstanding`).
    pub udp_outstanding: usize,
}

impl Upstream {
    /// Forwarders for `pools`, reusing those of `previous` for backends
    /// that are the same objects.
    pub fn new(
        pools: pool::Pools,
        previous: Option<&Upstream>,
        runtime: &Arc<shield::Runtime>,
        (udp_timeout, udp_outstanding): (Duration, usize),
    ) -> io::Result<Upstream> {
        let mut udp = Vec::with_capacity(pools.backends.len());
        for b in &pools.backends {
            let reused =
                previous.and_then(|p| p.udp.iter().find(|f| Arc::ptr_eq(&f.backend, b)).cloned());
            match reused {
                Some(f) => udp.push(f),
                None => udp.push(forward::UdpForwarder::start(
                    b.clone(),
                    runtime.clone(),
                    (udp_timeout, udp_outstanding),
                )?),
            }
        }
        Ok(Upstream {
            pools,
            udp,
            udp_timeout,
            udp_outstanding,
        })
    }

    /// Whether the backends are the same objects as `other`'s.
    pub fn same_backends(&self, pools: &pool::Pools) -> bool {
        self.pools.backends.len() == pools.backends.len()
            && self
                .pools
                .backends
                .iter()
                .zip(&pools.backends)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && self.pools.policy.name() == pools.policy.name()
            && self.pools.servfail_when_no_server == pools.servfail_when_no_server
            && self.pools.stale_ttl == pools.stale_ttl
            && self.pools.avoid_slow == pools.avoid_slow
            && self.pools.ecs == pools.ecs
            && self.pools.caches.len() == pools.caches.len()
            && self
                .pools
                .caches
                .iter()
                .all(|(k, c)| pools.caches.get(k).is_some_and(|d| Arc::ptr_eq(c, d)))
    }
}

/// The state every worker reads.
pub type SharedSnapshot = Arc<ArcSwap<State>>;

/// One address to serve.
#[derive(Clone, Debug)]
pub struct ListenSpec {
    pub addr: SocketAddr,
    /// DNS over UDP (not for DNS over TLS or HTTPS listeners).
    pub udp: bool,
    pub tcp: bool,
    pub max_tcp_connections: usize,
    /// What the stream side speaks: DNS over TCP, TLS or HTTPS.
    pub service: tcp::Service,
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub udp_workers: usize,
    pub tcp: tcp::TcpOptions,
    /// The TCP listen queue (`setMaxTCPQueuedConnections`).
    pub tcp_backlog: i32,
}

/// The running sockets' threads.
pub struct Server {
    pub threads: Vec<JoinHandle<()>>,
    /// What each listener received, in the order given.
    pub frontends: Vec<Arc<FrontendCounts>>,
}

pub use shield::frontend::{FrontendCounts, StreamKind};

/// Binds every listener (failing before any thread starts if one cannot
/// be bound) and starts serving.
pub fn start(
    listeners: &[ListenSpec],
    opts: &ServeOptions,
    shared: SharedSnapshot,
) -> io::Result<Server> {
    let frontends: Vec<Arc<FrontendCounts>> = listeners
        .iter()
        .map(|l| {
            // DoQ's streams come over its own UDP socket, not TCP.
            let quic = matches!(l.service, tcp::Service::Doq(..));
            let mut counts = FrontendCounts::new(
                l.addr,
                (l.udp, l.tcp || quic),
                match l.service {
                    tcp::Service::Dns => StreamKind::Tcp,
                    tcp::Service::Dot(_) => StreamKind::Dot,
                    tcp::Service::Doh(..) => StreamKind::Doh,
                    tcp::Service::Doq(..) => StreamKind::Doq,
                },
            );
            counts.cleartext_http = matches!(&l.service, tcp::Service::Doh(None, _));
            Arc::new(counts)
        })
        .collect();
    // The console reads them where it reads the other counters.
    shared
        .load()
        .runtime
        .frontends
        .store(Arc::new(frontends.clone()));
    let mut udp_sockets = Vec::new();
    for (l, counts) in listeners.iter().zip(&frontends).filter(|(l, _)| l.udp) {
        for _ in 0..opts.udp_workers.max(1) {
            udp_sockets.push((
                udp::bind(l.addr).map_err(|e| annotate(e, "UDP", l.addr))?,
                counts.clone(),
            ));
        }
    }
    let mut tcp_listeners = Vec::new();
    for (l, counts) in listeners.iter().zip(&frontends).filter(|(l, _)| l.tcp) {
        tcp_listeners.push(tcp::Listening {
            listener: tcp::bind(l.addr, opts.tcp_backlog)
                .map_err(|e| annotate(e, "TCP", l.addr))?,
            max: l.max_tcp_connections,
            counts: counts.clone(),
            service: l.service.clone(),
        });
    }
    let mut doq = Vec::new();
    for (l, counts) in listeners.iter().zip(&frontends) {
        if let tcp::Service::Doq(tls, settings) = &l.service {
            doq.push(doq::DoqListener {
                socket: std::net::UdpSocket::bind(l.addr)
                    .map_err(|e| annotate(e, "UDP (DNS over QUIC)", l.addr))?,
                tls: tls.clone(),
                settings: settings.clone(),
                counts: counts.clone(),
            });
        }
    }
    let delayer = delay::shared()
        .cloned()
        .ok_or_else(|| std::io::Error::other("cannot start the delay thread"))?;
    let mut threads = Vec::new();
    for (i, (sock, counts)) in udp_sockets.into_iter().enumerate() {
        let shared = shared.clone();
        let delayer = delayer.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("udp-{i}"))
                .spawn(move || udp::serve(sock, shared, delayer, counts))?,
        );
    }
    if !tcp_listeners.is_empty() {
        let shared = shared.clone();
        let tcp = opts.tcp.clone();
        threads.push(
            std::thread::Builder::new()
                .name("tcp".into())
                .spawn(move || tcp::serve(tcp_listeners, tcp, shared))?,
        );
    }
    if !doq.is_empty() {
        let shared = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("doq".into())
                .spawn(move || doq::serve(doq, shared))?,
        );
    }
    Ok(Server { threads, frontends })
}

/// The single-threaded tokio runtime a serving thread runs its sockets
/// on (streams, DoQ, the webserver); `None`, logged naming `what`, if it
/// cannot be made.
pub fn thread_runtime(what: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            log::error!("{what} disabled: cannot start its runtime: {e}");
            None
        }
    }
}

fn annotate(e: io::Error, proto: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {proto} {addr}: {e}"))
}
