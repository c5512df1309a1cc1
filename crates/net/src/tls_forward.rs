//! Forwarding to TLS backends (`newServer{tls=…}`): DNS over TLS (TCP's
//! framing inside TLS) and DNS over HTTPS (`dohPath`, a POST of the
//! query over HTTP/2). The rustls config is built once, at load, by
//! `pool::tls_client`. Sessions that answered are kept on the backend for
//! the next query, as its plain TCP connections are: a DoT stream is
//! used by one query at a time, a DoH HTTP/2 connection by many at once.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use pool::{Backend, BackendTls, ConnCounters};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::buffers::MAX_MESSAGE;

type DotStream = TlsStream<TcpStream>;

/// A DoT session kept on its backend. One that resumed is counted in the
/// backend's `tlsResumptions` as it ends ([`pool::ConnCounters`]).
struct DotSession {
    stream: DotStream,
    resumed: Option<Arc<ConnCounters>>,
}

impl Drop for DotSession {
    fn drop(&mut self) {
        if let Some(c) = &self.resumed {
            c.tls_resumptions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A DoH connection kept on its backend.
type DohSender = SendRequest<Full<Bytes>>;

/// The runtime serving streams (TCP, DoT, DoH listeners): UDP clients'
/// queries for TLS backends are asked from it too, on the same kept
/// sessions (set once when it starts).
pub static STREAM_RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

/// Opens a TLS session to `b`; None (logged at debug, the failure is
/// counted by the caller) when the connection or the handshake fails,
/// a certificate that does not verify included.
async fn connect(b: &Backend, tls: &BackendTls) -> Option<DotStream> {
    let tcp = match TcpStream::connect(b.addr).await {
        Ok(s) => s,
        Err(e) => {
            log::debug!("TLS backend {} ({}): connect: {e}", b.name, b.addr);
            return None;
        }
    };
    let _ = tcp.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(tls.client.config.clone());
    match connector.connect(tls.client.server_name.clone(), tcp).await {
        Ok(s) => {
            handshake_failed(b, None);
            Some(s)
        }
        Err(e) => {
            handshake_failed(b, Some(e.to_string()));
            None
        }
    }
}

/// Logs a failed handshake as a warning when its reason is new for the
/// backend (health checks retry every second: the same certificate
/// error is not repeated at warning level), at debug otherwise; `None`
/// (a handshake that worked) forgets the last reason.
fn handshake_failed(b: &Backend, error: Option<String>) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static LAST: Mutex<Option<HashMap<std::net::SocketAddr, String>>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let last = last.get_or_insert_with(HashMap::new);
    let Some(error) = error else {
        if !last.is_empty() {
            last.remove(&b.addr);
        }
        return;
    };
    if last.get(&b.addr) == Some(&error) {
        log::debug!("TLS backend {} ({}): handshake: {error}", b.name, b.addr);
        return;
    }
    log::warn!("TLS backend {} ({}): handshake: {error}", b.name, b.addr);
    // Bounded by the backends configured over time.
    if last.len() < 4096 {
        last.insert(b.addr, error);
    }
}

/// One query to a TLS backend, the answer into `out`: its length. No
/// counters here (the caller's).
pub async fn exchange(
    b: &Backend,
    tls: &BackendTls,
    framed: &[u8],
    out: &mut [u8],
    (expect, origin): (crate::forward::Expected<'_>, crate::forward::Origin),
) -> Option<usize> {
    match &tls.doh_path {
        Some(path) => doh_exchange(b, tls, (path, &framed[2..]), out, (expect, origin)).await,
        None => dot_exchange(b, tls, framed, out, expect).await,
    }
}

async fn dot_exchange(
    b: &Backend,
    tls: &BackendTls,
    framed: &[u8],
    out: &mut [u8],
    expect: crate::forward::Expected<'_>,
) -> Option<usize> {
    // A kept session may have been closed by the backend since: then it
    // fails at once and a new one is opened.
    while let Some(idle) = b.take_idle_tls() {
        let Ok(mut s) = idle.downcast::<DotSession>() else {
            continue;
        };
        b.conns.reused.fetch_add(1, Ordering::Relaxed);
        if let Some(len) = crate::forward::stream_ask(&mut s.stream, framed, out, expect).await {
            b.keep_idle_tls(s);
            return Some(len);
        }
        break;
    }
    let stream = connect(b, tls).await?;
    b.conns.new.fetch_add(1, Ordering::Relaxed);
    let resumed = crate::tls::resumed(stream.get_ref().1).then(|| b.conns.clone());
    let mut s = DotSession { stream, resumed };
    let len = crate::forward::stream_ask(&mut s.stream, framed, out, expect).await?;
    b.keep_idle_tls(Box::new(s));
    Some(len)
}

/// An HTTP/2 connection ready for another request: a kept one, else a
/// new one (kept too).
async fn doh_sender(b: &Backend, tls: &BackendTls) -> Option<DohSender> {
    while let Some(idle) = b.take_idle_tls() {
        let Ok(mut sender) = idle.downcast::<DohSender>() else {
            continue;
        };
        if sender.is_closed() {
            continue;
        }
        // Shared by every query: put back at once.
        let mine = (*sender).clone();
        if sender.ready().await.is_ok() {
            b.keep_idle_tls(sender);
            b.conns.reused.fetch_add(1, Ordering::Relaxed);
            return Some(mine);
        }
    }
    let stream = connect(b, tls).await?;
    b.conns.new.fetch_add(1, Ordering::Relaxed);
    let resumed = crate::tls::resumed(stream.get_ref().1).then(|| b.conns.clone());
    let (sender, conn) =
        match hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                log::warn!("DoH backend {} ({}): HTTP/2: {e}", b.name, b.addr);
                return None;
            }
        };
    tokio::spawn(async move {
        let _ = conn.await;
        if let Some(c) = resumed {
            c.tls_resumptions.fetch_add(1, Ordering::Relaxed);
        }
    });
    b.keep_idle_tls(Box::new(sender.clone()));
    Some(sender)
}

/// The authority a DoH request names: the subject name, or the address.
fn authority(b: &Backend, tls: &BackendTls) -> String {
    match &tls.client.settings.server_name {
        Some(n) if !n.is_empty() => format!("{n}:{}", b.addr.port()),
        _ => b.addr.to_string(),
    }
}

async fn doh_exchange(
    b: &Backend,
    tls: &BackendTls,
    (path, query): (&str, &[u8]),
    out: &mut [u8],
    (expect, origin): (crate::forward::Expected<'_>, crate::forward::Origin),
) -> Option<usize> {
    let mut sender = doh_sender(b, tls).await?;
    let uri = format!("https://{}{path}", authority(b, tls));
    let mut request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/dns-message")
        .header(hyper::header::ACCEPT, "application/dns-message");
    if tls.add_x_forwarded {
        // As dnsdist: the address alone, its port apart.
        request = request
            .header("x-forwarded-for", origin.client.ip().to_string())
            .header("x-forwarded-port", origin.client.port().to_string())
            .header("x-forwarded-proto", origin.proto);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(query)))
        .ok()?;
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(e) => {
            log::debug!("DoH backend {} ({}): {e}", b.name, b.addr);
            return None;
        }
    };
    if response.status() != hyper::StatusCode::OK {
        log::debug!(
            "DoH backend {} ({}): HTTP status {}",
            b.name,
            b.addr,
            response.status()
        );
        return None;
    }
    let body = Limited::new(response.into_body(), MAX_MESSAGE)
        .collect()
        .await
        .ok()?
        .to_bytes();
    let len = body.len();
    out.get_mut(..len)?.copy_from_slice(&body);
    expect.answered_by(&out[..len]).then_some(len)
}

/// A health check over TLS: the check query asked as a real one is, on
/// a session of its own (kept sessions are for queries).
pub fn check(b: &Backend, tls: &BackendTls, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .ok()?;
    let framed = wire::client::frame(query).ok()?;
    let mut out = vec![0u8; MAX_MESSAGE];
    rt.block_on(async {
        tokio::time::timeout(timeout, async {
            let len = match &tls.doh_path {
                Some(path) => {
                    // A connection of its own, dropped after.
                    let stream = connect(b, tls).await?;
                    let (mut sender, conn) = hyper::client::conn::http2::handshake(
                        TokioExecutor::new(),
                        TokioIo::new(stream),
                    )
                    .await
                    .ok()?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    let uri = format!("https://{}{path}", authority(b, tls));
                    let request = hyper::Request::post(uri)
                        .header(hyper::header::CONTENT_TYPE, "application/dns-message")
                        .body(Full::new(Bytes::copy_from_slice(query)))
                        .ok()?;
                    let response = sender.send_request(request).await.ok()?;
                    if response.status() != hyper::StatusCode::OK {
                        return None;
                    }
                    let body = Limited::new(response.into_body(), MAX_MESSAGE)
                        .collect()
                        .await
                        .ok()?
                        .to_bytes();
                    out.get_mut(..body.len())?.copy_from_slice(&body);
                    body.len()
                }
                None => {
                    let mut s = connect(b, tls).await?;
                    let expect = crate::forward::Expected::of(query, true)?;
                    crate::forward::stream_ask(&mut s, &framed, &mut out, expect).await?
                }
            };
            out.truncate(len);
            Some(out)
        })
        .await
        .ok()
        .flatten()
    })
}
