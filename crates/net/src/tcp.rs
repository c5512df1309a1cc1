//! DNS over TCP (RFC 7766): two-byte length framing, several queries per
//! connection answered in turn, receive and send timeouts, limits on
//! concurrent connections per listener and per client address, on queries
//! per connection and on a connection's life. At a listener's limit the
//! connection idle the longest is closed to make room for a new one.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::stream_answer::Answered;
use crate::SharedSnapshot;

/// A listening TCP socket bound to `addr`, with a listen queue of
/// `backlog` connections (the kernel caps it at `somaxconn`).
pub fn bind(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.max(1))?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// How TCP connections are limited (dnsdist's knobs and defaults).
#[derive(Clone, Debug)]
pub struct TcpOptions {
    /// Longest wait for the next query, or for the rest of one
    /// (`setTCPRecvTimeout`).
    pub recv_timeout: Duration,
    /// Longest wait to send an answer (`setTCPSendTimeout`).
    pub send_timeout: Duration,
    /// Concurrent connections of one client address (0: any).
    pub per_client: usize,
    /// Queries answered on one connection before it is closed (0: any).
    pub queries_per_connection: usize,
    /// Longest life of one connection (`None`: no limit).
    pub max_duration: Option<Duration>,
    /// Read calls one query may take (its length and body normally take
    /// two); past it the connection is closed and its client banned for
    /// `read_ios_ban` (0: no limit). Slow-loris clients trickling a
    /// query byte by byte hit it.
    pub max_read_ios_per_query: usize,
    pub read_ios_ban: Duration,
    /// New connections a second one client may open (0: any); past it
    /// the client is banned for `rate_ban`.
    pub max_connection_rate: u32,
    /// TLS sessions a second one client may open with a full handshake,
    /// and resume (0: any); past either the client is banned for
    /// `rate_ban`, so its next connections are refused before any TLS
    /// work (dnsdist's `setMaxTLSNewSessionRatePerClient`).
    pub max_tls_new_session_rate: u32,
    pub max_tls_resumed_session_rate: u32,
    pub rate_ban: Duration,
}

impl Default for TcpOptions {
    /// dnsdist's defaults.
    fn default() -> Self {
        TcpOptions {
            recv_timeout: Duration::from_secs(2),
            send_timeout: Duration::from_secs(2),
            per_client: 0,
            queries_per_connection: 0,
            max_duration: None,
            max_read_ios_per_query: 50,
            read_ios_ban: Duration::from_secs(60),
            max_connection_rate: 0,
            max_tls_new_session_rate: 0,
            max_tls_resumed_session_rate: 0,
            rate_ban: Duration::from_secs(10),
        }
    }
}

/// Serves the listeners on a single-threaded runtime until the process
/// ends.
/// A bound listener, its connection limit, its counters and what it
/// speaks.
pub struct Listening {
    pub listener: std::net::TcpListener,
    pub max: usize,
    pub counts: Arc<crate::FrontendCounts>,
    pub service: Service,
}

/// What a stream listener speaks.
#[derive(Clone, Debug)]
pub enum Service {
    /// DNS over TCP.
    Dns,
    /// DNS over TLS (RFC 7858): TCP's framing inside TLS.
    Dot(Arc<crate::tls::TlsContext>),
    /// DNS over HTTPS (RFC 8484); cleartext HTTP without a TLS context.
    Doh(Option<Arc<crate::tls::TlsContext>>, Arc<crate::doh::Doh>),
    /// DNS over QUIC (RFC 9250): served by [`crate::doq`] on a UDP
    /// socket of its own, never by this module (its spec has no TCP).
    Doq(Arc<crate::tls::TlsContext>, crate::doq::DoqSettings),
}

pub fn serve(listeners: Vec<Listening>, opts: TcpOptions, shared: SharedSnapshot) {
    let Some(rt) = crate::thread_runtime("TCP") else {
        return;
    };
    let opts = Arc::new(opts);
    let _ = crate::tls_forward::STREAM_RUNTIME.set(rt.handle().clone());
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for Listening {
            listener: std_listener,
            max,
            counts,
            service,
        } in listeners
        {
            let listener = match TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    log::error!("TCP listener unusable: {e}");
                    continue;
                }
            };
            let limits = Limits {
                max,
                opts: opts.clone(),
                registry: Arc::new(Mutex::new(Registry::default())),
                runtime: shared.load().runtime.clone(),
            };
            tasks.push(tokio::spawn(accept_loop(
                listener,
                (counts, service),
                limits,
                opts.clone(),
                shared.clone(),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Connection limits of one listener.
#[derive(Clone)]
struct Limits {
    max: usize,
    opts: Arc<TcpOptions>,
    registry: Arc<Mutex<Registry>>,
    /// For the connection counters (the runtime outlives reloads).
    runtime: Arc<shield::Runtime>,
}

/// The open connections of one listener.
#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Keyed by our own counter: no need for SipHash's defence (a
    /// connection's busy and idle turns look it up twice per query).
    conns: rustc_hash::FxHashMap<u64, Conn>,
    /// The idle ones, longest idle first: at the limit the first makes
    /// room without a scan of every connection (a connection flood asks
    /// for room on every accept).
    idle: BTreeSet<(Instant, u64)>,
    per_client: HashMap<IpAddr, usize>,
    /// Clients refused until a time (connection rate, read IOs).
    bans: HashMap<IpAddr, Instant>,
    /// Each client's connections (or TLS sessions, by kind) in the
    /// current second, from its start.
    rates: HashMap<(IpAddr, Rated), (Instant, u32)>,
    /// When a full ban or rate table was last swept.
    last_sweep: Option<Instant>,
}

/// What a per-client rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Rated {
    Connections,
    /// TLS sessions made with a full handshake.
    NewTlsSessions,
    /// TLS sessions resumed (a ticket or a session ID).
    ResumedTlsSessions,
}

/// Clients the ban and rate tables hold at most: bounded however many
/// addresses a flood comes from.
const TABLE_MAX: usize = 100_000;

/// The key of bans and connection rates: the address, or its /64 for
/// IPv6 (one site's share; a host holds a whole /64).
fn ban_key(ip: IpAddr) -> IpAddr {
    shield::netmask::mask(ip, if ip.is_ipv4() { 32 } else { 64 })
}

impl Registry {
    /// Whether `client` is banned at `now` (forgetting an ended ban).
    fn banned(&mut self, client: IpAddr, now: Instant) -> bool {
        let key = ban_key(client);
        match self.bans.get(&key) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.bans.remove(&key);
                false
            }
            None => false,
        }
    }

    fn ban(&mut self, client: IpAddr, until: Instant) {
        let now = Instant::now();
        if self.bans.len() >= TABLE_MAX && self.sweep_due(now) {
            self.bans.retain(|_, u| *u > now);
            self.rates
                .retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
        }
        if self.bans.len() >= TABLE_MAX {
            // Still full: one ban makes room for the newest.
            if let Some(k) = self.bans.keys().next().copied() {
                self.bans.remove(&k);
            }
        }
        self.bans.insert(ban_key(client), until);
    }

    /// Whether a full table may be swept now: at most once a second, so
    /// a flood of new addresses costs no scan per connection.
    fn sweep_due(&mut self, now: Instant) -> bool {
        let due = self
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if due {
            self.last_sweep = Some(now);
        }
        due
    }

    /// Counts a new connection (or TLS session) of `client`; false when
    /// that is more than `rate` in its current second. With the table
    /// full of addresses seen this second, a new one is not counted (and
    /// so not limited).
    fn within_rate(&mut self, (client, what): (IpAddr, Rated), rate: u32, now: Instant) -> bool {
        let key = (ban_key(client), what);
        if self.rates.len() >= TABLE_MAX && !self.rates.contains_key(&key) {
            if self.sweep_due(now) {
                self.rates
                    .retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
            }
            if self.rates.len() >= TABLE_MAX {
                return true;
            }
        }
        let entry = self.rates.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(1) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= rate
    }
}

/// What the limits know of one connection.
struct Conn {
    client: IpAddr,
    fd: RawFd,
    /// When it last finished a query (or was accepted).
    last_active: Instant,
    /// A query is being answered: not to be closed for room.
    busy: bool,
}

impl Registry {
    /// Forgets connection `id`; false if it was already forgotten
    /// (closed to make room).
    fn remove(&mut self, id: u64) -> bool {
        let Some(conn) = self.conns.remove(&id) else {
            return false;
        };
        if !conn.busy {
            self.idle.remove(&(conn.last_active, id));
        }
        if let Some(n) = self.per_client.get_mut(&conn.client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&conn.client);
            }
        }
        true
    }
}

/// Why a connection was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    PerClient,
    Full,
    /// Banned for its connection rate or a query's read calls.
    Banned,
}

/// A connection slot, given back when the connection ends however it
/// ends (a panic included).
struct Slot {
    limits: Limits,
    id: u64,
}

impl Limits {
    /// The registry, locked (a panic elsewhere must not stop TCP).
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `client`'s connection on `fd`. At the listener's
    /// limit the connection idle the longest is closed to make room (RFC
    /// 7766 §6.2.3 lets a server close idle connections): idle and
    /// slow-reading clients cannot lock others out. A client at its own
    /// limit is refused. The second value is whether one was closed.
    fn take(&self, client: IpAddr, fd: RawFd) -> Result<(Slot, bool), Refusal> {
        let mut reg = self.registry();
        let now = Instant::now();
        if reg.banned(client, now) {
            return Err(Refusal::Banned);
        }
        let rate = self.opts.max_connection_rate;
        if rate > 0 && !reg.within_rate((client, Rated::Connections), rate, now) {
            reg.ban(client, now + self.opts.rate_ban);
            self.runtime.stats.tcp_banned.add(1);
            return Err(Refusal::Banned);
        }
        let mine = reg.per_client.get(&client).copied().unwrap_or(0);
        if self.opts.per_client > 0 && mine >= self.opts.per_client {
            return Err(Refusal::PerClient);
        }
        let mut evicted = false;
        if reg.conns.len() >= self.max {
            let victim = reg
                .idle
                .first()
                .and_then(|(_, id)| Some((*id, reg.conns.get(id)?.fd)));
            let Some((id, victim_fd)) = victim else {
                return Err(Refusal::Full);
            };
            // SAFETY: shutdown() on a descriptor only ends the connection;
            // the descriptor is still open: it is closed by its task,
            // which runs on this same thread and drops its slot (and so
            // its registry entry) right after the socket, with no await
            // in between, so a listed descriptor is never a reused one.
            unsafe { libc::shutdown(victim_fd, libc::SHUT_RDWR) };
            reg.remove(id);
            evicted = true;
        }
        let id = reg.next_id;
        reg.next_id += 1;
        reg.conns.insert(
            id,
            Conn {
                client,
                fd,
                last_active: now,
                busy: false,
            },
        );
        reg.idle.insert((now, id));
        *reg.per_client.entry(client).or_insert(0) += 1;
        self.runtime.stats.tcp_opened.add(1);
        Ok((
            Slot {
                limits: self.clone(),
                id,
            },
            evicted,
        ))
    }
}

impl Slot {
    /// Counts a TLS session the connection's client made (`resumed` or
    /// with a full handshake); false when it is over its rate for that
    /// kind: then it is banned for the rate ban, as for its connection
    /// rate, and the connection is to be closed.
    fn tls_session(&self, resumed: bool) -> bool {
        let opts = &self.limits.opts;
        let (what, rate) = if resumed {
            (Rated::ResumedTlsSessions, opts.max_tls_resumed_session_rate)
        } else {
            (Rated::NewTlsSessions, opts.max_tls_new_session_rate)
        };
        if rate == 0 {
            return true;
        }
        let mut reg = self.limits.registry();
        let Some(client) = reg.conns.get(&self.id).map(|c| c.client) else {
            return true;
        };
        let now = Instant::now();
        if reg.within_rate((client, what), rate, now) {
            return true;
        }
        reg.ban(client, now + opts.rate_ban);
        let stats = &self.limits.runtime.stats;
        stats.tcp_banned.add(1);
        stats.tls_session_rate_banned.add(1);
        false
    }

    /// Bans the connection's client from new connections for `d`.
    fn ban(&self, d: Duration) {
        let mut reg = self.limits.registry();
        if let Some(client) = reg.conns.get(&self.id).map(|c| c.client) {
            reg.ban(client, Instant::now() + d);
            self.limits.runtime.stats.tcp_banned.add(1);
        }
    }

    /// Marks the connection as answering a query, or done with it.
    fn busy(&self, busy: bool) {
        let mut reg = self.limits.registry();
        let reg = &mut *reg;
        let Some(c) = reg.conns.get_mut(&self.id) else {
            return;
        };
        if c.busy == busy {
            return;
        }
        // The idle set is keyed by the time a connection went idle.
        if busy {
            reg.idle.remove(&(c.last_active, self.id));
        } else {
            c.last_active = Instant::now();
            reg.idle.insert((c.last_active, self.id));
        }
        c.busy = busy;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut reg = self.limits.registry();
        reg.remove(self.id);
        self.limits.runtime.stats.tcp_closed.add(1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    (counts, service): (Arc<crate::FrontendCounts>, Service),
    limits: Limits,
    opts: Arc<TcpOptions>,
    shared: SharedSnapshot,
) {
    loop {
        let bound = listener
            .local_addr()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: say so (throttled),
                // back off, keep serving. UDP is not affected.
                shield::logthrottle::log(log::Level::Warn, "TCP accept error", None, || {
                    format!("TCP: cannot accept a connection: {e}")
                });
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let stats = &shared.load().runtime.stats;
        // Over a limit: close at once rather than queue.
        let slot = match limits.take(peer.ip(), stream.as_raw_fd()) {
            Ok((slot, evicted)) => {
                if evicted {
                    stats.tcp_evicted.add(1);
                }
                slot
            }
            Err(_) => {
                stats.tcp_refused.add(1);
                drop(stream);
                continue;
            }
        };
        counts.tcp_connections.add(1);
        let _ = stream.set_nodelay(true);
        let (shared, opts, counts) = (shared.clone(), opts.clone(), counts.clone());
        let service = service.clone();
        tokio::spawn(async move {
            // The address the client connected to (the listener's may be a
            // wildcard).
            let local = stream.local_addr().unwrap_or(bound);
            let who = (peer, local, &*counts);
            // A handshake that does not finish within the receive timeout
            // ends the connection.
            let wait = opts.recv_timeout.max(Duration::from_secs(1));
            match &service {
                Service::Dns => {
                    let _ = connection(stream, who, &opts, (&slot, None), shared).await;
                }
                Service::Dot(ctx) => {
                    if let Some(tls) = handshake(ctx, stream, wait, &counts, &slot).await {
                        let sni = tls.get_ref().1.server_name().map(str::to_ascii_lowercase);
                        let _ = connection(tls, who, &opts, (&slot, Some(sni)), shared).await;
                    }
                }
                Service::Doh(tls, doh) => {
                    // HTTP keeps its own connection: it stays evictable
                    // at the listener's limit, as an idle TCP one.
                    let mut client = crate::doh::Client {
                        addr: peer,
                        local,
                        counts: counts.clone(),
                        tls: false,
                        sni: None,
                    };
                    match tls {
                        None => {
                            let h2 = crate::doh::sends_h2_preface(&stream, wait).await;
                            crate::doh::serve(stream, h2, doh.clone(), client, shared).await
                        }
                        Some(ctx) => {
                            if let Some(tls) = handshake(ctx, stream, wait, &counts, &slot).await {
                                client.tls = true;
                                client.sni = tls
                                    .get_ref()
                                    .1
                                    .server_name()
                                    .map(|n| Arc::from(n.to_ascii_lowercase()));
                                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                                crate::doh::serve(tls, h2, doh.clone(), client, shared).await;
                            }
                        }
                    }
                }
                // Never given a TCP listener (see Service::Doq).
                Service::Doq(..) => {}
            }
            drop(slot);
        });
    }
}

/// The TLS handshake, given `wait` to finish; counted when it fails.
/// A session over its client's rate of new or resumed sessions ends here
/// (and bans the client: its next connections cost no TLS work).
async fn handshake(
    ctx: &crate::tls::TlsContext,
    stream: tokio::net::TcpStream,
    wait: Duration,
    counts: &crate::FrontendCounts,
    slot: &Slot,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let done = tokio::time::timeout(wait, ctx.acceptor().accept(stream)).await;
    let Some(stream) = done.ok().and_then(Result::ok) else {
        counts.tls_handshake_failures.add(1);
        return None;
    };
    let resumed = crate::tls::resumed(stream.get_ref().1);
    slot.tls_session(resumed).then_some(stream)
}

/// Answers queries on one connection until the client closes it, it
/// idles past the receive timeout, it reaches a limit, or it sends
/// something that must not be answered.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    (peer, local, counts): (SocketAddr, SocketAddr, &crate::FrontendCounts),
    opts: &TcpOptions,
    // Over TLS: the server name the client asked for, if any.
    (slot, tls): (&Slot, Option<Option<String>>),
    shared: SharedSnapshot,
) -> io::Result<()> {
    let deadline = opts.max_duration.map(|d| Instant::now() + d);
    // Taken per query, not at accept, and given back after it: an idle
    // connection holds no buffer. `out` is a 64 KB one of the thread's
    // (crate::buffers) while a query is answered.
    let mut query = Vec::new();
    let mut answered = 0usize;
    loop {
        // The receive timeout, cut short by the connection's lifetime.
        // dnsdist's timeouts: each read waits at most the receive
        // timeout, a query at most what is left of the connection's life,
        // and a query assembled from too many reads bans its client.
        let limits = ReadLimits {
            recv: opts.recv_timeout,
            deadline,
            max_ios: opts.max_read_ios_per_query,
        };
        let mut ios = 0;
        let mut len = [0u8; 2];
        let mut read = read_counted(&mut stream, &mut len, &mut ios, &limits).await;
        if read.is_ok() {
            query.resize(usize::from(u16::from_be_bytes(len)), 0);
            read = read_counted(&mut stream, &mut query, &mut ios, &limits).await;
        }
        match read {
            Ok(()) => {}
            Err(ReadEnd::TooManyReads) => {
                slot.ban(opts.read_ios_ban);
                return Ok(());
            }
            Err(ReadEnd::Closed) => return Ok(()),
        }
        if crate::drain::draining() {
            // Shutting down: no new queries on this connection.
            return Ok(());
        }
        counts.tcp_queries.add(1);
        crate::drain::TCP_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let who = Peer {
            addr: peer,
            local,
            send: opts.send_timeout,
            shared: &shared,
            slot,
            info: tls.as_ref().map(|sni| shield::stream_info::StreamInfo {
                sni: sni.as_deref(),
                http: None,
                quic: false,
            }),
        };
        let mut out = crate::buffers::take();
        let result = exchange(&mut stream, &mut query, &mut out, &who).await;
        crate::drain::TCP_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        // Nothing held while idle: ten thousand idle connections must not
        // pin 64 KB each.
        crate::buffers::give(out);
        if query.capacity() > 4096 {
            query = Vec::new();
        }
        slot.busy(false);
        answered += 1;
        if !result || (opts.queries_per_connection > 0 && answered >= opts.queries_per_connection) {
            return Ok(());
        }
    }
}

/// Sends what the replication service answers (a transfer's messages,
/// or one answer to an UPDATE or NOTIFY); false when the connection
/// should close. The answer is made on tokio's blocking pool: a large
/// zone or a journal fsync must not stall every other TCP client.
async fn replication<S: AsyncWrite + Unpin>(stream: &mut S, query: &[u8], peer: &Peer<'_>) -> bool {
    let service = peer.shared.load().xfr.clone();
    let packet = query.to_vec();
    let client = peer.addr;
    let made = tokio::task::spawn_blocking(move || service.answer_tcp(&packet, client)).await;
    let Ok(Some(messages)) = made else {
        return false;
    };
    for msg in messages {
        // Too long to frame: cut, it would put the stream out of step.
        let Ok(framed) = wire::client::frame(&msg) else {
            return false;
        };
        let sent = tokio::time::timeout(
            peer.send.max(Duration::from_secs(10)),
            stream.write_all(&framed),
        )
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            return false;
        }
    }
    true
}

/// Who a connection is with, for answering on it.
struct Peer<'a> {
    addr: SocketAddr,
    /// The address the client connected to.
    local: SocketAddr,
    /// Longest wait to send the answer.
    send: Duration,
    shared: &'a SharedSnapshot,
    slot: &'a Slot,
    /// The TLS server name, for DNS over TLS.
    info: Option<shield::stream_info::StreamInfo<'a>>,
}

/// What bounds the reads of one query.
struct ReadLimits {
    /// Longest wait for any one read.
    recv: Duration,
    /// The end of the connection's life, if it has one.
    deadline: Option<Instant>,
    /// Read calls one query may take (0: any).
    max_ios: usize,
}

/// Why a query was not read.
enum ReadEnd {
    /// Closed, timed out, past the connection's life: end it quietly.
    Closed,
    /// Over the read-call limit: end it and ban the client.
    TooManyReads,
}

/// Reads exactly `buf.len()` bytes, counting the read calls in `ios`.
async fn read_counted<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    ios: &mut usize,
    limits: &ReadLimits,
) -> Result<(), ReadEnd> {
    let mut filled = 0;
    while filled < buf.len() {
        let wait = match limits.deadline {
            Some(d) => d
                .checked_duration_since(Instant::now())
                .ok_or(ReadEnd::Closed)?
                .min(limits.recv),
            None => limits.recv,
        };
        let n = match tokio::time::timeout(wait, stream.read(&mut buf[filled..])).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Err(ReadEnd::Closed),
        };
        filled += n;
        *ios += 1;
        if limits.max_ios > 0 && *ios > limits.max_ios {
            return Err(ReadEnd::TooManyReads);
        }
    }
    Ok(())
}

/// Answers one query; false when the connection should close.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    query: &mut Vec<u8>,
    out: &mut Vec<u8>,
    peer: &Peer<'_>,
) -> bool {
    // A whole query: this connection is in use until it is answered.
    peer.slot.busy(true);
    // A pooled buffer is this long already; this only guards the slice below.
    out.resize(crate::buffers::LEN, 0);
    let answered = crate::stream_answer::answer(
        peer.shared,
        query,
        &mut out[2..],
        (peer.addr, peer.local),
        crate::stream_answer::Upstream::Tcp,
        peer.info.as_ref(),
    )
    .await;
    let resp_len = match answered {
        Answered::Len(len) => len,
        Answered::Replication => return replication(stream, query, peer).await,
        // Drop closes the connection, as dnsdist does; an HTTP answer
        // has no meaning here.
        Answered::Drop | Answered::Http { .. } => return false,
    };
    out[..2].copy_from_slice(&(resp_len as u16).to_be_bytes());
    matches!(
        tokio::time::timeout(peer.send, stream.write_all(&out[..resp_len + 2])).await,
        Ok(Ok(()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn limits(max: usize, per_client: usize) -> Limits {
        limits_with(
            TcpOptions {
                per_client,
                ..TcpOptions::default()
            },
            max,
        )
    }

    fn limits_with(opts: TcpOptions, max: usize) -> Limits {
        Limits {
            max,
            opts: Arc::new(opts),
            registry: Arc::new(Mutex::new(Registry::default())),
            runtime: Arc::new(shield::Runtime::default()),
        }
    }

    fn eof(peer: &mut UnixStream) -> bool {
        use std::io::Read;
        peer.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        matches!(peer.read(&mut b), Ok(0))
    }

    #[test]
    fn the_longest_idle_connection_makes_room_and_busy_ones_stay() {
        let l = limits(2, 0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, mut b_peer) = UnixStream::pair().unwrap();
        let (c, mut c_peer) = UnixStream::pair().unwrap();
        let (d, _d_peer) = UnixStream::pair().unwrap();
        let (sa, _) = l.take(ip, a.as_raw_fd()).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let (sb, _) = l.take(ip, b.as_raw_fd()).unwrap();
        // `a` answers a query: now `b` has been idle the longest.
        std::thread::sleep(Duration::from_millis(2));
        sa.busy(true);
        sa.busy(false);
        let (sc, evicted) = l.take(ip, c.as_raw_fd()).unwrap();
        assert!(evicted);
        assert!(eof(&mut b_peer), "b was closed");
        assert!(!eof(&mut a_peer) && !eof(&mut c_peer));
        // Every connection busy: no room.
        sa.busy(true);
        sc.busy(true);
        assert_eq!(l.take(ip, d.as_raw_fd()).err(), Some(Refusal::Full));
        // The evicted slot's end changes nothing; a closed one frees room.
        drop(sb);
        drop(sc);
        let (_sd, evicted) = l.take(ip, d.as_raw_fd()).unwrap();
        assert!(!evicted);
        let reg = l.registry.lock().unwrap();
        assert_eq!((reg.conns.len(), reg.idle.len()), (2, 1));
        assert!(!eof(&mut a_peer));
    }

    #[test]
    fn a_client_at_its_own_limit_is_refused_not_served_by_eviction() {
        let l = limits(10, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, _ap) = UnixStream::pair().unwrap();
        let (b, _bp) = UnixStream::pair().unwrap();
        let _sa = l.take(ip, a.as_raw_fd()).unwrap();
        assert_eq!(l.take(ip, b.as_raw_fd()).err(), Some(Refusal::PerClient));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.take(other, b.as_raw_fd()).is_ok());
    }

    #[test]
    fn over_the_connection_rate_a_client_is_banned() {
        let l = limits_with(
            TcpOptions {
                max_connection_rate: 3,
                ..TcpOptions::default()
            },
            10,
        );
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (a, _ap) = UnixStream::pair().unwrap();
        // Three a second pass (each slot is given back at once)…
        for _ in 0..3 {
            assert!(l.take(ip, a.as_raw_fd()).is_ok());
        }
        // …the fourth is refused and bans the client for rate_ban.
        assert_eq!(l.take(ip, a.as_raw_fd()).err(), Some(Refusal::Banned));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(l.take(ip, a.as_raw_fd()).err(), Some(Refusal::Banned));
        // Others are not affected.
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(l.take(other, a.as_raw_fd()).is_ok());
    }
}
