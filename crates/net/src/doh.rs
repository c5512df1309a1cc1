//! DNS over HTTPS (RFC 8484) as dnsdist serves it: `GET ?dns=<base64url>`
//! and `POST` of `application/dns-message` on the configured paths, over
//! HTTP/2 (and HTTP/1.1) with TLS, or cleartext (h2c or HTTP/1.1) for a
//! listener given no certificate (behind a proxy that terminates TLS).
//! Every query goes through the same path as a TCP one: ACL, rules,
//! dynamic blocks, zones, backends, rings and counters.
//!
//! A TLS connection that chose HTTP/2 (ALPN `h2`, as browsers and DoH
//! clients do), or a cleartext one that opens with HTTP/2's preface, is
//! served with h2 directly, its requests run by the connection's own
//! workers; HTTP/1.1 goes through hyper.
//!
//! Status codes as dnsdist's: 200 for every DNS answer (SERVFAIL and
//! NXDOMAIN included), 400 for a bad request (method, missing or bad
//! `dns=`, a message too short to be DNS), 404 for another path, 415 for
//! a POST of another content type, 403 when the query is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::buffers::MAX_MESSAGE;
use crate::stream_answer::{answer, Answered, Upstream};
use crate::workers::{Handler, Workers};
use crate::SharedSnapshot;
use shield::stream_info::{HttpInfo, StreamInfo};

const DNS_MESSAGE: &str = "application/dns-message";

/// A DoH listener's settings (dnsdist's `addDOHLocal` options).
#[derive(Clone, Debug)]
pub struct DohSettings {
    /// Paths answered (`/dns-query` by default).
    pub paths: Vec<String>,
    /// Only those paths exactly, or anything below them too
    /// (`exactPathMatching`, true by default).
    pub exact_paths: bool,
    /// Extra headers on every answer (`customResponseHeaders`).
    pub headers: Vec<(String, String)>,
    /// `cache-control: max-age=<lowest TTL>` on answers
    /// (`sendCacheControlHeaders`, true by default).
    pub cache_control: bool,
    /// The `server` header (`serverTokens`).
    pub server_tokens: String,
    /// The client is the right-most `X-Forwarded-For` address, for the
    /// ACL, the rules and the rings (`trustForwardedForHeader`).
    pub trust_forwarded_for: bool,
    /// Fixed answers for paths (`setResponsesMap`), checked in order.
    pub responses: Vec<MappedResponse>,
}

/// A path pattern and the HTTP answer it gets.
#[derive(Clone, Debug)]
pub struct MappedResponse {
    pub path: regex_lite::Regex,
    pub status: u16,
    /// The body; for a redirect (3xx), the `Location`.
    pub content: String,
    pub headers: Vec<(String, String)>,
}

impl Default for DohSettings {
    fn default() -> Self {
        DohSettings {
            paths: vec!["/dns-query".into()],
            exact_paths: true,
            headers: Vec::new(),
            cache_control: true,
            server_tokens: "rampart".into(),
            trust_forwarded_for: false,
            responses: Vec::new(),
        }
    }
}

/// A DoH listener: its settings, and the headers its every answer
/// carries, made here once rather than parsed and allocated for each
/// answer (about 3% of an answer's instructions).
#[derive(Debug)]
pub struct Doh {
    settings: DohSettings,
    /// `server`, unless `serverTokens` is not a valid header value.
    server: Option<HeaderValue>,
    /// The `customResponseHeaders` that are valid HTTP, each with
    /// whether HTTP/2 forbids it (see [`forbidden_in_h2`]).
    custom: Vec<(HeaderName, HeaderValue, bool)>,
}

impl Doh {
    pub fn new(settings: DohSettings) -> Self {
        // The config checked these by HTTP's rules (its line says what
        // is wrong); the warnings are for a path that skipped the check.
        let server = HeaderValue::try_from(settings.server_tokens.as_str()).ok();
        if server.is_none() {
            log::warn!(
                "DoH: serverTokens {:?} is not a valid HTTP header value; no server header is sent",
                settings.server_tokens
            );
        }
        let mut custom = Vec::new();
        for (k, v) in &settings.headers {
            match (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                (Ok(name), Ok(value)) => custom.push((name, value, forbidden_in_h2(k, v))),
                _ => log::warn!(
                    "DoH: custom response header {k:?}: {v:?} is not valid HTTP; it is not sent"
                ),
            }
        }
        Doh {
            settings,
            server,
            custom,
        }
    }
}

/// Who is asking, for the query path, and the listener's counters.
#[derive(Clone)]
pub(crate) struct Client {
    pub addr: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
    pub counts: Arc<crate::FrontendCounts>,
    /// Over TLS (https), and the server name the client asked for.
    pub tls: bool,
    pub sni: Option<Arc<str>>,
}

/// The request's headers, for `HTTPHeaderRule`, read where hyper keeps
/// them.
#[derive(Debug)]
struct RequestHeaders<'a>(&'a hyper::HeaderMap);

impl shield::stream_info::Headers for RequestHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.to_str().ok()
    }

    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self.0 {
            if let Ok(v) = value.to_str() {
                f(name.as_str(), v);
            }
        }
    }
}

/// Serves one connection (already through TLS, if any) until it closes.
/// `h2` says the client speaks HTTP/2 (TLS chose it by ALPN, or a
/// cleartext client opened with its preface): h2 then serves it
/// directly; otherwise hyper finds out which HTTP the client speaks.
pub(crate) async fn serve<S>(
    stream: S,
    h2: bool,
    doh: Arc<Doh>,
    client: Client,
    shared: SharedSnapshot,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        return serve_h2(stream, doh, client, shared).await;
    }
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (doh, shared, client) = (doh.clone(), shared.clone(), client.clone());
        // Boxed: the answer's state is large (the query path's buffers
        // and rule state live across its awaits), and hyper moves each
        // stream's future into a task by value, several times. Unboxed,
        // those copies were 14% of a DoH query's CPU (perf).
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let r = respond(parts, RequestBody::Hyper(body), &doh, &client, &shared).await;
            Ok::<_, Infallible>(r.map(Full::new))
        })
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Whether a cleartext client opened with HTTP/2's preface (h2c with
/// prior knowledge, as a proxy in front speaks it), given `wait` for its
/// first bytes: it then gets the h2 path, as TLS's `h2` does. Anything
/// else, a preface cut short included, goes to hyper.
pub(crate) async fn sends_h2_preface(stream: &tokio::net::TcpStream, wait: Duration) -> bool {
    const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut first = [0u8; 24];
    let peeked = tokio::time::timeout(wait, stream.peek(&mut first)).await;
    matches!(peeked, Ok(Ok(24))) && first == *PREFACE
}

/// An HTTP/2 connection served with h2 itself, its requests run by
/// the connection's own workers (`crate::workers` says why). Written
/// for the per-query path: hyper's server on top of h2 adds a boxed
/// future, a task and its own body and service layers to every DoH
/// request. Settings as hyper's server (the ones the HTTP/1.1 path, and
/// an h2c preface that came in pieces, still get).
async fn serve_h2<S>(stream: S, doh: Arc<Doh>, client: Client, shared: SharedSnapshot)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = h2::server::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 20)
        .max_concurrent_streams(200)
        .max_header_list_size(16 << 10)
        .max_send_buffer_size(400 << 10)
        .max_local_error_reset_streams(Some(1024))
        .handshake::<_, Bytes>(stream);
    let Ok(mut conn) = handshake.await else {
        return;
    };
    let workers = Workers::new(H2Requests {
        doh,
        client,
        shared,
    });
    // accept() drives the connection, and ends only when it is closed
    // and no stream is left in hand (a client's GOAWAY lets the answers
    // being made go out first).
    while let Some(Ok(request)) = conn.accept().await {
        workers.push(request);
    }
}

/// What an HTTP/2 connection's workers need to answer its requests.
struct H2Requests {
    doh: Arc<Doh>,
    client: Client,
    shared: SharedSnapshot,
}

impl Handler for H2Requests {
    type Job = (Request<h2::RecvStream>, h2::server::SendResponse<Bytes>);

    async fn handle(&self, (req, mut tx): Self::Job) {
        let (parts, body) = req.into_parts();
        let answer = respond(
            parts,
            RequestBody::H2(body),
            &self.doh,
            &self.client,
            &self.shared,
        );
        let mut answer = std::pin::pin!(answer);
        // A stream the client resets is given up at once, as hyper does:
        // a client that opens and resets streams in a loop (the "rapid
        // reset" attack) must not pile up requests being answered past
        // the connection's stream limit.
        let made = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = answer.as_mut().poll(cx) {
                return Poll::Ready(Some(r));
            }
            match tx.poll_reset(cx) {
                Poll::Ready(_) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let Some(r) = made else {
            return;
        };
        let (mut head, body) = r.into_parts();
        head.headers.insert(DATE, http_date());
        // Not on statuses that have no content (RFC 9110 §8.6).
        let status = head.status;
        if !(status.is_informational() || status == StatusCode::NO_CONTENT) {
            head.headers
                .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let end = body.is_empty();
        // A stream the client reset is gone: nothing to tell it.
        if let Ok(mut s) = tx.send_response(Response::from_parts(head, ()), end) {
            if !end {
                let _ = s.send_data(body, true);
            }
        }
    }
}

/// The `date` header, as hyper adds it on the other paths: formatted
/// once a second per thread, not per answer.
fn http_date() -> HeaderValue {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static LAST: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    LAST.with_borrow_mut(|last| match last {
        Some((s, v)) if *s == second => v.clone(),
        _ => {
            let v = HeaderValue::try_from(httpdate::fmt_http_date(now))
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            *last = Some((second, v.clone()));
            v
        }
    })
}

/// A request's body, as hyper or h2 hands it over.
enum RequestBody {
    Hyper(Incoming),
    H2(h2::RecvStream),
}

impl RequestBody {
    /// The whole body, or None if it is over `limit` bytes or the stream
    /// failed.
    async fn read(self, limit: usize) -> Option<Vec<u8>> {
        match self {
            RequestBody::Hyper(b) => {
                let body = Limited::new(b, limit).collect().await.ok()?.to_bytes();
                // Room for the OPT that may be added.
                let mut out = Vec::with_capacity(body.len() + OPT.len());
                out.extend_from_slice(&body);
                Some(out)
            }
            RequestBody::H2(mut b) => {
                // Room for the OPT that may be added.
                let mut out = Vec::with_capacity(512 + OPT.len());
                while let Some(chunk) = b.data().await {
                    let chunk = chunk.ok()?;
                    // Read is read: the client may send more (its window).
                    let _ = b.flow_control().release_capacity(chunk.len());
                    if out.len() + chunk.len() > limit {
                        return None;
                    }
                    out.extend_from_slice(&chunk);
                }
                Some(out)
            }
        }
    }
}

async fn respond(
    parts: hyper::http::request::Parts,
    request_body: RequestBody,
    doh: &Doh,
    client: &Client,
    shared: &SharedSnapshot,
) -> Response<Bytes> {
    let settings = &doh.settings;
    let source = match settings.trust_forwarded_for {
        true => forwarded_for(&parts.headers).unwrap_or(client.addr),
        false => client.addr,
    };
    let mut extra = Vec::new();
    let mut mapped = false;
    let headers = RequestHeaders(&parts.headers);
    let info = StreamInfo {
        sni: client.sni.as_deref(),
        http: Some(HttpInfo {
            scheme: if client.tls { "https" } else { "http" },
            host: parts
                .uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| {
                    parts
                        .headers
                        .get(hyper::header::HOST)
                        .and_then(|h| h.to_str().ok())
                })
                .unwrap_or_default(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
        }),
        quic: false,
    };
    let (status, body, ttl) = match query_of(&parts, request_body, settings).await {
        // dnsdist's words for a path it does not serve (its sub-path
        // matcher says it shorter).
        Err(Refusal::Status(StatusCode::NOT_FOUND)) => (
            StatusCode::NOT_FOUND,
            Bytes::from_static(if settings.exact_paths {
                b"there is no endpoint configured for this path"
            } else {
                b"not found"
            }),
            None,
        ),
        Err(Refusal::Status(status)) => (status, Bytes::new(), None),
        Err(Refusal::Mapped(m)) => {
            // An early answer: the listener's own headers are not added.
            mapped = true;
            extra.clone_from(&m.headers);
            let (status, body) = http_answer(m.status, m.content.as_bytes(), b"", &mut extra);
            (status, body, None)
        }
        Ok((mut query, added_opt)) => {
            client.counts.tcp_queries.add(1);
            let mut out = crate::buffers::take();
            let who = (source, client.local);
            let answered = answer(
                shared,
                &mut query,
                &mut out[..MAX_MESSAGE],
                who,
                Upstream::Udp,
                Some(&info),
            )
            .await;
            let result = match answered {
                Answered::Len(mut len) => {
                    if added_opt {
                        len = strip_opt(&mut out, len);
                    }
                    let body = Bytes::copy_from_slice(&out[..len]);
                    let ttl = wire::edit::min_ttl(&body);
                    (StatusCode::OK, body, ttl)
                }
                // Transfers and updates are not for DoH: REFUSED.
                Answered::Replication => match refused(&query) {
                    Some(r) => (StatusCode::OK, Bytes::from(r), None),
                    None => (StatusCode::BAD_REQUEST, Bytes::new(), None),
                },
                // dnsdist's words when the ACL refused the client.
                Answered::Drop if !shared.load().shield.acl.contains(source.ip()) => (
                    StatusCode::FORBIDDEN,
                    Bytes::from_static(b"dns query not allowed because of ACL"),
                    None,
                ),
                Answered::Drop => (StatusCode::FORBIDDEN, Bytes::new(), None),
                Answered::Http {
                    status,
                    type_len,
                    len,
                } => {
                    let (ctype, content) = out[..len].split_at(type_len);
                    let (status, body) = http_answer(status, content, ctype, &mut extra);
                    (status, body, None)
                }
            };
            crate::buffers::give(out);
            result
        }
    };
    client.counts.doh.answered(
        parts.version == hyper::Version::HTTP_2,
        match parts.method {
            hyper::Method::POST => Some(true),
            hyper::Method::GET => Some(false),
            _ => None,
        },
        status.as_u16(),
    );
    let ok = status == StatusCode::OK;
    let mut r = Response::new(body);
    *r.status_mut() = status;
    // Not reserved ahead: the first insert makes room for six headers,
    // enough for a DNS answer's. Reserving eight made the map twice as
    // big, and cost 130 instructions an answer more.
    let h = r.headers_mut();
    if ok {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
        if let Some(v) = ttl.filter(|_| settings.cache_control).and_then(max_age) {
            h.insert(CACHE_CONTROL, v);
        }
    }
    if let Some(v) = &doh.server {
        h.insert(hyper::header::SERVER, v.clone());
    }
    let h2 = parts.version == hyper::Version::HTTP_2;
    // A response-map answer does not get the listener's own headers.
    if !mapped {
        for (k, v, forbidden) in &doh.custom {
            if !(h2 && *forbidden) {
                h.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in &extra {
        if h2 && forbidden_in_h2(k, v) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            h.insert(k, v);
        }
    }
    r
}

/// `max-age=<ttl>`, kept per thread for the TTLs last seen: answers
/// repeat a few TTLs, and formatting one costs an allocation and some
/// 500 instructions.
fn max_age(ttl: u32) -> Option<HeaderValue> {
    use std::cell::RefCell;
    const KEPT: usize = 16;
    thread_local! {
        static LAST: RefCell<[Option<(u32, HeaderValue)>; KEPT]> =
            const { RefCell::new([const { None }; KEPT]) };
    }
    LAST.with_borrow_mut(|last| {
        let slot = &mut last[ttl as usize % KEPT];
        match slot {
            Some((t, v)) if *t == ttl => Some(v.clone()),
            _ => {
                let v = HeaderValue::try_from(format!("max-age={ttl}")).ok()?;
                *slot = Some((ttl, v.clone()));
                Some(v)
            }
        }
    })
}

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2): h2 refuses a response with
/// one, so a `customResponseHeaders` entry naming one would cost every
/// answer. hyper drops them the same way.
fn forbidden_in_h2(name: &str, value: &str) -> bool {
    const CONNECTION: [&str; 5] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ];
    CONNECTION.iter().any(|c| name.eq_ignore_ascii_case(c))
        // h2 takes `te: trailers` only as written (lower case).
        || (name.eq_ignore_ascii_case("te") && value != "trailers")
}

/// An HTTP answer instead of DNS (a response-map entry or an
/// HTTPStatusAction): a redirection's content is its `Location`, with
/// dnsdist's "Moved" body; otherwise the content is the body.
fn http_answer(
    status: u16,
    content: &[u8],
    content_type: &[u8],
    headers: &mut Vec<(String, String)>,
) -> (StatusCode, Bytes) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if status.is_redirection() {
        headers.push(("location".into(), text(content)));
        return (
            status,
            Bytes::from_static(b"<html><body>Moved</body></html>"),
        );
    }
    if !content_type.is_empty() {
        headers.push(("content-type".into(), text(content_type)));
    }
    (status, Bytes::copy_from_slice(content))
}

/// Why a request gets no DNS answer.
enum Refusal<'s> {
    Status(StatusCode),
    /// A `setResponsesMap` entry answers it.
    Mapped(&'s MappedResponse),
}

impl From<StatusCode> for Refusal<'_> {
    fn from(s: StatusCode) -> Self {
        Refusal::Status(s)
    }
}

/// The right-most address of `X-Forwarded-For` (the one the proxy in
/// front of us added).
fn forwarded_for(headers: &hyper::HeaderMap) -> Option<SocketAddr> {
    let v = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = v.to_str().ok()?.rsplit(',').next()?.trim();
    // An address, or an address and port (`192.0.2.1:4200`, `[::1]:53`).
    if let Ok(a) = last.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip: std::net::IpAddr = last
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, 0))
}

/// The DNS query a request carries (with an OPT added if it had none:
/// the flag says so), or why there is none.
async fn query_of<'s>(
    req: &hyper::http::request::Parts,
    body: RequestBody,
    settings: &'s DohSettings,
) -> Result<(Vec<u8>, bool), Refusal<'s>> {
    let path = req.uri.path();
    let known = settings.paths.iter().any(|p| {
        path == p
            || (!settings.exact_paths
                && path.starts_with(p.as_str())
                && (p.ends_with('/') || path[p.len()..].starts_with('/')))
    });
    if !known {
        return Err(StatusCode::NOT_FOUND.into());
    }
    if let Some(m) = settings.responses.iter().find(|m| m.path.is_match(path)) {
        return Err(Refusal::Mapped(m));
    }
    let mut query = match req.method {
        Method::GET => {
            let dns = req
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("dns="))
                .ok_or(StatusCode::BAD_REQUEST)?;
            // base64url without padding (RFC 8484 §4.1); padding is
            // forgiven.
            let dns = dns.trim_end_matches('=');
            // Room for the OPT that may be added: no second allocation.
            let mut q = Vec::with_capacity(dns.len() * 3 / 4 + OPT.len());
            URL_SAFE_NO_PAD
                .decode_vec(dns, &mut q)
                .map_err(|_| StatusCode::BAD_REQUEST)?;
            q
        }
        Method::POST => {
            let typed = req
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == DNS_MESSAGE));
            // The body is read (up to a DNS message) before any refusal:
            // a client still sending when the answer comes may take the
            // stream's reset for a failure.
            let body = body
                .read(MAX_MESSAGE)
                .await
                .ok_or(StatusCode::PAYLOAD_TOO_LARGE)?;
            if !typed {
                return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE.into());
            }
            body
        }
        _ => return Err(StatusCode::BAD_REQUEST.into()),
    };
    if query.len() < 12 || query.len() > MAX_MESSAGE {
        return Err(StatusCode::BAD_REQUEST.into());
    }
    // Not DNS: refused here, not answered FORMERR (a query with no
    // question goes on, and is answered NOTIMP as over UDP).
    let no_question = query[4..6] == [0, 0];
    let plain = match wire::Query::parse(&query) {
        Ok(q) => without_opt(&q),
        Err(_) if no_question => false,
        Err(_) => return Err(StatusCode::BAD_REQUEST.into()),
    };
    // A query without EDNS goes on with it (UDP payload 4096), as
    // dnsdist sends DoH queries: HTTP has no 512-byte limit, so the
    // backend must not truncate for one. The client gets its answer
    // without the OPT it did not send.
    if plain {
        add_opt(&mut query);
    }
    Ok((query, plain))
}

/// A query with no OPT and nothing after its question, which an OPT
/// may be added to (one with other records at the end, TSIG say, is
/// left as it is).
fn without_opt(q: &wire::Query<'_>) -> bool {
    q.edns.is_none() && q.end == q.packet.len() && q.packet.get(6..12) == Some(&[0; 6][..])
}

/// The OPT record added to a query without one: UDP payload 4096, no
/// options.
const OPT: [u8; 11] = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];

/// Appends [`OPT`] to a query `without_opt`.
fn add_opt(query: &mut Vec<u8>) {
    query.extend_from_slice(&OPT);
    query[11] = 1;
}

/// Removes the OPT record from the end of an answer of `len` bytes; the
/// new length.
fn strip_opt(answer: &mut [u8], len: usize) -> usize {
    let Some(opt) = wire::edit::find(&answer[..len], wire::types::rtype::OPT) else {
        return len;
    };
    let arcount = u16::from_be_bytes([answer[10], answer[11]]);
    // Only the last record (where it always is in what we send); one in
    // the middle stays rather than rewriting the message.
    if opt.end != len || arcount == 0 {
        return len;
    }
    answer[10..12].copy_from_slice(&(arcount - 1).to_be_bytes());
    opt.start
}

/// REFUSED for `query`: its header and question, nothing else.
pub(crate) fn refused(query: &[u8]) -> Option<Vec<u8>> {
    let q = wire::Query::parse(query).ok()?;
    let mut r = query.get(..q.question_end)?.to_vec();
    r[2] |= 0x80;
    r[3] = (r[3] & 0xf0) | wire::types::rcode::REFUSED as u8;
    r[6..12].fill(0);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opt_is_added_to_a_plain_query_and_taken_from_its_answer() {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
        let plain = q.clone();
        assert!(without_opt(&wire::Query::parse(&q).unwrap()));
        add_opt(&mut q);
        let parsed = wire::Query::parse(&q).unwrap();
        assert_eq!(parsed.edns.map(|e| e.udp_payload), Some(4096));
        assert!(!without_opt(&parsed), "a second OPT");
        // The answer to it, with the OPT last: back to the plain form.
        let mut a = q.clone();
        a[2] |= 0x80;
        let len = a.len();
        let n = strip_opt(&mut a, len);
        assert_eq!(&a[12..n], &plain[12..]);
        assert_eq!(&a[10..12], &[0, 0]);
    }

    #[test]
    fn only_a_whole_http2_preface_takes_the_h2_path() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let at = listener.local_addr().unwrap();
            for (sent, h2) in [
                (&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04"[..], true),
                (b"GET /dns-query?dns=AAAB HTTP/1.1\r\n", false),
                (b"PRI * HTTP/2.0\r\n", false),
                (b"", false),
            ] {
                let mut client = std::net::TcpStream::connect(at).unwrap();
                std::io::Write::write_all(&mut client, sent).unwrap();
                let (server, _) = listener.accept().await.unwrap();
                let wait = Duration::from_millis(300);
                assert_eq!(sends_h2_preface(&server, wait).await, h2, "{sent:?}");
            }
        });
    }

    #[test]
    fn connection_headers_are_kept_out_of_http2_answers() {
        for (k, v) in [
            ("Connection", "close"),
            ("keep-alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-connection", "x"),
            ("te", "gzip"),
        ] {
            assert!(forbidden_in_h2(k, v), "{k}: {v}");
        }
        assert!(forbidden_in_h2("TE", "Trailers"), "h2 wants it lower case");
        for (k, v) in [
            ("te", "trailers"),
            ("x-served-by", "rampart"),
            ("server", "x"),
        ] {
            assert!(!forbidden_in_h2(k, v), "{k}: {v}");
        }
    }

    #[test]
    fn refused_keeps_the_question_only() {
        let mut q = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(b"\x07example\x00\x00\xfc\x00\x01");
        q.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
        let r = refused(&q).unwrap();
        assert_eq!(r.len(), 12 + 13);
        assert_eq!(&r[..4], &[0x12, 0x34, 0x80, 0x05]);
        assert_eq!(&r[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
    }
}
