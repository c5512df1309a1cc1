//! DNS over QUIC (RFC 9250, dnsdist's `addDOQLocal`): one query per
//! bidirectional stream, each message with TCP's two-byte length, the
//! message ID 0. The queries go through the same path as DoT's
//! ([`crate::stream_answer::answer`]); backends are asked over UDP, as
//! for DoH.
//!
//! What a flood can make it spend is bounded: a handshake from an
//! address QUIC has not validated gets a stateless Retry first (a spoofed
//! source never gets past it, nor takes a slot of the client it names:
//! the per-client count is of proven addresses), each client holds
//! at most `setMaxTCPConnectionsPerClient` connections, each connection
//! at most `maxInFlight` open streams, and an idle connection ends after
//! `idleTimeout` seconds. The rest is quinn's (amplification limits
//! before validation, flow control).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use quinn::VarInt;

use crate::buffers::MAX_MESSAGE;
use crate::stream_answer::{answer, Answered, Upstream};
use crate::tls::TlsContext;
use crate::workers::{Handler, Workers};
use crate::{FrontendCounts, SharedSnapshot};

/// RFC 9250 §8.4 error codes.
const DOQ_PROTOCOL_ERROR: u32 = 0x2;
const DOQ_REQUEST_CANCELLED: u32 = 0x3;

/// A DoQ listener's settings (dnsdist's option names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoqSettings {
    /// `idleTimeout` (5 s).
    pub idle_timeout: Duration,
    /// `maxInFlight`: streams a connection may have open at once.
    pub max_in_flight: u32,
    /// Connections one client address may hold
    /// (`setMaxTCPConnectionsPerClient`; 0 = any).
    pub per_client: usize,
    /// Connections the listener holds at most
    /// (`maxConcurrentTCPConnections`, as for its TCP peers).
    pub max_connections: usize,
    /// How long a stream may take to deliver its query
    /// (`setTCPRecvTimeout`, as for a TCP query).
    pub recv_timeout: Duration,
}

/// One DoQ listener to serve.
pub struct DoqListener {
    pub socket: std::net::UdpSocket,
    pub tls: Arc<TlsContext>,
    pub settings: DoqSettings,
    pub counts: Arc<FrontendCounts>,
}

/// Serves the listeners on a runtime of this thread until the process
/// ends.
pub fn serve(listeners: Vec<DoqListener>, shared: SharedSnapshot) {
    let Some(rt) = crate::thread_runtime("DNS over QUIC") else {
        return;
    };
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for l in listeners {
            let shared = shared.clone();
            tasks.push(tokio::spawn(listen(l, shared)));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Whether QUIC can use the listener's TLS config: checked at start, so
/// that a config it cannot use stops the start, naming the listener.
pub fn check(tls: &TlsContext) -> Result<(), crate::tls::TlsError> {
    QuicServerConfig::try_from(tls.server_config())?;
    Ok(())
}

/// quinn's server config from the listener's rustls config in force.
fn server_config(
    tls: &TlsContext,
    settings: &DoqSettings,
) -> Result<quinn::ServerConfig, crate::tls::TlsError> {
    let crypto = QuicServerConfig::try_from(tls.server_config())?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(settings.max_in_flight.max(1)))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .max_idle_timeout(quinn::IdleTimeout::try_from(settings.idle_timeout).ok())
        // What a client can make us buffer: one largest message per
        // stream, and 256 KiB per connection (quinn's own defaults let a
        // connection send without a connection-wide limit).
        .stream_receive_window(VarInt::from_u32(2 + MAX_MESSAGE as u32))
        .receive_window(VarInt::from_u32(256 * 1024));
    config.transport_config(Arc::new(transport));
    // Handshakes waiting to be accepted: beyond this, refused at once.
    config.max_incoming(1024);
    Ok(config)
}

async fn listen(l: DoqListener, shared: SharedSnapshot) {
    let local = l.socket.local_addr().ok();
    let config = match server_config(&l.tls, &l.settings) {
        Ok(c) => c,
        Err(e) => {
            log::error!("DNS over QUIC on {local:?}: {e}");
            return;
        }
    };
    let endpoint = match quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        l.socket,
        Arc::new(quinn::TokioRuntime),
    ) {
        Ok(e) => e,
        Err(e) => {
            log::error!("DNS over QUIC on {local:?}: {e}");
            return;
        }
    };
    let local = local.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    tokio::spawn(follow_reloads(
        endpoint.clone(),
        l.tls.clone(),
        l.settings.clone(),
    ));
    let ctx = Arc::new(Listening {
        shared,
        counts: l.counts,
        settings: l.settings,
        local,
        per_client: Mutex::new(HashMap::new()),
    });
    while let Some(incoming) = endpoint.accept().await {
        let ip = shield::netmask::unmap(incoming.remote_address().ip());
        // The ACL first: a denied client gets nothing, not even a
        // refusal (its source may be spoofed), as over UDP.
        if !ctx.shared.load().shield.acl.contains(ip) {
            ctx.shared.load().runtime.stats.acl_drops.add(1);
            incoming.ignore();
            continue;
        }
        if !incoming.remote_address_validated() {
            // Stateless: costs one packet and the client a round trip,
            // and proves the address before it counts against anyone's
            // connection limit (a forged source would lock its owner out).
            let _ = incoming.retry();
            continue;
        }
        if endpoint.open_connections() >= ctx.settings.max_connections {
            ctx.shared.load().runtime.stats.tcp_refused.add(1);
            incoming.refuse();
            continue;
        }
        let Some(slot) = ctx.clone().client_slot(ip) else {
            ctx.shared.load().runtime.stats.tcp_refused.add(1);
            incoming.refuse();
            continue;
        };
        tokio::spawn(connection(incoming, ctx.clone(), slot));
    }
}

/// A new certificate (a reload of the listener's TLS context) is used
/// for new connections; checked once a second, as the files are.
async fn follow_reloads(endpoint: quinn::Endpoint, tls: Arc<TlsContext>, settings: DoqSettings) {
    let mut current = tls.server_config();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = tls.server_config();
        if Arc::ptr_eq(&now, &current) {
            continue;
        }
        current = now;
        match server_config(&tls, &settings) {
            Ok(c) => endpoint.set_server_config(Some(c)),
            Err(e) => log::warn!("DNS over QUIC: the reloaded certificates: {e}"),
        }
    }
}

/// What every connection of a listener shares.
struct Listening {
    shared: SharedSnapshot,
    counts: Arc<FrontendCounts>,
    settings: DoqSettings,
    local: SocketAddr,
    /// Connections per client address.
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// A client's connection counted; uncounted when dropped.
struct ClientSlot {
    ctx: Arc<Listening>,
    ip: IpAddr,
}

impl Listening {
    fn client_slot(self: Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let limit = self.settings.per_client;
        {
            let mut m = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(ip).or_insert(0);
            if limit != 0 && *n >= limit {
                return None;
            }
            *n += 1;
        }
        Some(ClientSlot { ctx: self, ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut m = self
            .ctx
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

async fn connection(incoming: quinn::Incoming, ctx: Arc<Listening>, _slot: ClientSlot) {
    let handshake = async { incoming.accept().ok()?.await.ok() };
    let conn = handshake.await;
    let Some(conn) = conn else {
        ctx.counts.tls_handshake_failures.add(1);
        return;
    };
    ctx.counts.tcp_connections.add(1);
    let sni: Option<Arc<str>> = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.server_name)
        .map(|n| Arc::from(n.to_ascii_lowercase()));
    let client = conn.remote_address();
    let client = SocketAddr::new(shield::netmask::unmap(client.ip()), client.port());
    // Each stream's query is run by the connection's workers, not a
    // task of its own (`crate::workers` says why).
    let workers = Workers::new(Streams {
        ctx,
        conn: conn.clone(),
        client,
        sni,
    });
    while let Ok(stream) = conn.accept_bi().await {
        workers.push(stream);
    }
}

/// What a DoQ connection's workers need to answer its streams.
struct Streams {
    ctx: Arc<Listening>,
    conn: quinn::Connection,
    client: SocketAddr,
    sni: Option<Arc<str>>,
}

impl Handler for Streams {
    type Job = (quinn::SendStream, quinn::RecvStream);

    async fn handle(&self, (send, recv): Self::Job) {
        let sni = self.sni.as_deref();
        if let Err(code) = query(send, recv, &self.ctx, self.client, sni).await {
            self.conn.close(VarInt::from_u32(code), b"");
        }
    }
}

/// One stream's query and its answer. `Err` with an error code closes
/// the whole connection (a protocol error, RFC 9250 §4.3.3).
async fn query(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ctx: &Listening,
    client: SocketAddr,
    sni: Option<&str>,
) -> Result<(), u32> {
    // The client ends its side after the query: the whole stream is it,
    // within the receive timeout (a stream trickled byte by byte would
    // keep its connection from ever going idle).
    let read = tokio::time::timeout(ctx.settings.recv_timeout, recv.read_to_end(2 + MAX_MESSAGE));
    let Ok(Ok(framed)) = read.await else {
        let _ = recv.stop(VarInt::from_u32(DOQ_REQUEST_CANCELLED));
        let _ = send.reset(VarInt::from_u32(DOQ_REQUEST_CANCELLED));
        return Ok(());
    };
    let len = framed
        .get(..2)
        .map_or(usize::MAX, |l| u16::from_be_bytes([l[0], l[1]]) as usize);
    if framed.len() != len.saturating_add(2) || len < 12 {
        return Err(DOQ_PROTOCOL_ERROR);
    }
    // The query: the length prefix taken off (the message moves down two
    // bytes in its own buffer).
    let mut q = framed;
    q.drain(..2);
    // §4.2.1: the ID is 0; any other is a protocol error.
    if q[..2] != [0, 0] {
        return Err(DOQ_PROTOCOL_ERROR);
    }
    ctx.counts.tcp_queries.add(1);
    let info = shield::stream_info::StreamInfo {
        sni,
        http: None,
        quic: true,
    };
    // Answered after two bytes left for its length, as over TCP: framed
    // in place. Its ID is the query's, 0 (checked above), as every answer
    // path echoes it.
    let mut out = crate::buffers::take();
    let answered = answer(
        &ctx.shared,
        &mut q,
        &mut out[2..2 + MAX_MESSAGE],
        (client, ctx.local),
        Upstream::Udp,
        Some(&info),
    )
    .await;
    let refused;
    let framed = match answered {
        Answered::Len(len) => {
            out[..2].copy_from_slice(&(len as u16).to_be_bytes());
            out.get(..len + 2)
        }
        // Transfers over QUIC (RFC 9250 §4.4) are not served: REFUSED.
        Answered::Replication => {
            refused = crate::doh::refused(&q).and_then(|r| wire::client::frame(&r).ok());
            refused.as_deref()
        }
        Answered::Drop | Answered::Http { .. } => None,
    };
    let Some(framed) = framed else {
        crate::buffers::give(out);
        let _ = send.reset(VarInt::from_u32(DOQ_REQUEST_CANCELLED));
        return Ok(());
    };
    if send.write_all(framed).await.is_ok() {
        let _ = send.finish();
    }
    crate::buffers::give(out);
    Ok(())
}
