//! Connections and routing: the ACL and the connection limit at accept,
//! one request per connection (dnsdist answers with `Connection: close`),
//! authentication by endpoint, and dnsdist's default headers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::auth::{self, Class};
use crate::sampler::Samples;
use crate::{api, dashboard, metrics, Call, Context};

/// A connection gets this long to send its request and read the answer:
/// one that connects and says nothing must not hold a slot for ever.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body read (a PUT of an ACL, a form to a Lua handler).
const MAX_BODY: usize = 1 << 20;

/// dnsdist's headers on every answer, unless `customHeaders` changes them.
const DEFAULT_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "deny"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "1; mode=block"),
    (
        "content-security-policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'",
    ),
];

pub(crate) fn run(listener: std::net::TcpListener, ctx: Arc<Context>) {
    let Some(rt) = net::thread_runtime("webserver") else {
        return;
    };
    rt.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                log::error!("webserver: listener unusable: {e}");
                return;
            }
        };
        let samples = Arc::new(Samples::default());
        tokio::spawn(crate::sampler::run(ctx.clone(), samples.clone()));
        let open = Arc::new(AtomicUsize::new(0));
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(_) => {
                    // Out of descriptors and the like: back off, go on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let config = ctx.config.load();
            // Denied, or over the limit: closed with no answer, as dnsdist.
            if !config.web.acl.contains(peer.ip())
                || open.load(Ordering::Relaxed) >= config.web.max_connections
            {
                drop(stream);
                continue;
            }
            let slot = Slot::take(&open);
            let (ctx, samples) = (ctx.clone(), samples.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (ctx, samples) = (ctx.clone(), samples.clone());
                    async move { Ok::<_, Infallible>(handle(req, &ctx, &samples).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
                drop(slot);
            });
        }
    });
}

/// One open connection, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::Relaxed);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer before the common headers are added.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(v: &serde_json::Value) -> Answer {
        Answer::with(StatusCode::OK, "application/json", v.to_string())
    }

    pub fn with(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
        Answer {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn status(status: StatusCode) -> Answer {
        Answer::with(status, "text/plain", Bytes::new())
    }
}

async fn handle(req: Request<Incoming>, ctx: &Context, samples: &Samples) -> Response<Full<Bytes>> {
    let config = ctx.config.load_full();
    let web = &config.web;
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = config::web_lua::parse_form(parts.uri.query().unwrap_or(""));
    let answer = if parts.method == Method::OPTIONS {
        // CORS preflight: no authentication, as dnsdist.
        Answer::status(StatusCode::OK)
    } else {
        let class = auth::class(&path, web);
        if !auth::allowed(class, web, &parts.headers) {
            let mut a = Answer::with(
                StatusCode::UNAUTHORIZED,
                "text/html",
                "<h1>Unauthorized</h1>",
            );
            a.headers
                .push(("www-authenticate".into(), "basic realm=\"PowerDNS\"".into()));
            a
        } else {
            let body = match Limited::new(body, MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return finish(Answer::status(StatusCode::PAYLOAD_TOO_LARGE), web),
            };
            route(&parts, &path, &query, body, class, ctx, &config, samples).await
        }
    };
    finish(answer, web)
}

#[allow(clippy::too_many_arguments)]
async fn route(
    parts: &hyper::http::request::Parts,
    path: &str,
    query: &[(String, String)],
    body: Bytes,
    class: Class,
    ctx: &Context,
    config: &config::Config,
    samples: &Samples,
) -> Answer {
    let arg = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let state = ctx.shared.load();
    let get = parts.method == Method::GET;
    let view = api::View {
        ctx,
        state: &state,
        config,
        samples,
    };
    match path {
        "/" | "/index.html" if get => dashboard::page(),
        "/dashboard.js" if get => dashboard::script(),
        "/metrics" if get => Answer::with(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics::render(&view),
        ),
        "/jsonstat" if get => match arg("command") {
            Some("stats") => Answer::json(&api::jsonstat(&view)),
            Some("dynblocklist") => Answer::json(&api::dynblocklist(&state)),
            // No eBPF in rampart: never anything blocked there.
            Some("ebpfblocklist") => Answer::json(&serde_json::json!({})),
            Some("rampart") => Answer::json(&api::dashboard_data(&view)),
            _ => Answer::status(StatusCode::NOT_FOUND),
        },
        "/api/v1/servers" if get => Answer::json(&serde_json::json!([api::server_summary()])),
        "/api/v1/servers/localhost" if get => Answer::json(&api::localhost(&view)),
        "/api/v1/servers/localhost/statistics" if get => Answer::json(&api::statistics(&view)),
        "/api/v1/servers/localhost/config" if get => Answer::json(&api::config_settings(&view)),
        "/api/v1/servers/localhost/config/allow-from" => {
            allow_from(parts, body, ctx, config, &view).await
        }
        "/api/v1/servers/localhost/pool" if get => {
            match api::pool(&view, arg("name").unwrap_or("")) {
                Some(v) => Answer::json(&v),
                None => Answer::status(StatusCode::NOT_FOUND),
            }
        }
        "/api/v1/servers/localhost/zones" if get => Answer::json(&api::zones(&view)),
        "/api/v1/servers/localhost/rrl" if get => Answer::json(&api::rrl(&view)),
        _ if class == Class::Handler => handler(parts, path, body, ctx).await,
        _ if path.starts_with("/api/") && !get && known_api(path) => {
            Answer::status(StatusCode::METHOD_NOT_ALLOWED)
        }
        _ => Answer::status(StatusCode::NOT_FOUND),
    }
}

fn known_api(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/servers"
            | "/api/v1/servers/localhost"
            | "/api/v1/servers/localhost/statistics"
            | "/api/v1/servers/localhost/config"
            | "/api/v1/servers/localhost/pool"
            | "/api/v1/servers/localhost/zones"
            | "/api/v1/servers/localhost/rrl"
    )
}

/// GET, or PUT when the API is writable: the ACL, applied at once and
/// written to `<dir>/acl.conf` for the next start (dnsdist's format).
async fn allow_from(
    parts: &hyper::http::request::Parts,
    body: Bytes,
    ctx: &Context,
    config: &config::Config,
    view: &api::View<'_>,
) -> Answer {
    match parts.method {
        Method::GET => Answer::json(&api::allow_from(view.state)),
        Method::PUT if config.web.api_writable => {
            let masks = match api::parse_allow_from(&body) {
                Ok(m) => m,
                Err(e) => return bad_request(&e.to_string()),
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            if ctx.calls.send(Call::SetAcl(masks.clone(), tx)).is_err() {
                return Answer::status(StatusCode::SERVICE_UNAVAILABLE);
            }
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return bad_request(&e.to_string()),
                Err(_) => return Answer::status(StatusCode::SERVICE_UNAVAILABLE),
            }
            if let Some(dir) = &config.web.api_config_dir {
                if let Err(e) = api::write_acl_file(dir, &masks) {
                    log::error!("webserver: {e}");
                    return Answer::with(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "application/json",
                        serde_json::json!({ "error": e.to_string() }).to_string(),
                    );
                }
            }
            Answer::json(&serde_json::json!({
                "name": "allow-from",
                "type": "ConfigSetting",
                "value": masks,
            }))
        }
        _ => Answer::status(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn bad_request(e: &str) -> Answer {
    Answer::with(
        StatusCode::BAD_REQUEST,
        "application/json",
        serde_json::json!({ "error": e }).to_string(),
    )
}

/// A path a `registerWebHandler` function answers.
async fn handler(
    parts: &hyper::http::request::Parts,
    path: &str,
    body: Bytes,
    ctx: &Context,
) -> Answer {
    let req = config::web_lua::WebRequest {
        path: path.to_string(),
        method: parts.method.to_string(),
        version: match parts.version {
            hyper::Version::HTTP_10 => 10,
            _ => 11,
        },
        query: config::web_lua::parse_form(parts.uri.query().unwrap_or("")),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: body.to_vec(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if ctx.calls.send(Call::Handler(req, tx)).is_err() {
        return Answer::status(StatusCode::SERVICE_UNAVAILABLE);
    }
    match rx.await {
        Ok(Some(Ok(r))) => {
            let status =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut a = Answer::with(status, "text/plain", r.body);
            a.headers = r.headers;
            a
        }
        Ok(Some(Err(e))) => {
            log::error!("web handler for {path}: {e}");
            Answer::status(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Ok(None) => Answer::status(StatusCode::NOT_FOUND),
        Err(_) => Answer::status(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// The answer with dnsdist's default headers, the configured custom
/// ones (an empty value removes a default) and `Connection: close`.
fn finish(a: Answer, web: &config::web_lua::WebConfig) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(a.body));
    *r.status_mut() = a.status;
    let h = r.headers_mut();
    let mut set = |k: &str, v: &str| {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            h.insert(k, v);
        }
    };
    set("content-type", a.content_type);
    set("server", "rampart");
    for (k, v) in DEFAULT_HEADERS {
        if !web.custom_headers.contains_key(k) {
            set(k, v);
        }
    }
    for (k, v) in web.custom_headers.iter().filter(|(_, v)| !v.is_empty()) {
        set(k, v);
    }
    for (k, v) in &a.headers {
        set(k, v);
    }
    set("connection", "close");
    r
}
