//! The webserver, as dnsdist's: its REST API (`/api/v1/servers/localhost`
//! and below), `/jsonstat`, `/metrics` in the Prometheus text format, and
//! a dashboard at `/` that polls them.
//!
//! It runs on a thread of its own with a single-threaded tokio runtime,
//! away from the query path: everything it shows is read from the
//! counters the workers keep (sums of per-thread slots) and from the
//! state they serve, never by asking a worker. What needs the config's
//! Lua state (a `registerWebHandler` function, a PUT of the ACL) goes to
//! the control thread as a [`Call`] and waits for its answer.
//!
//! Modules: [`api`] (the JSON in dnsdist's shapes, plus zones and RRL),
//! [`metrics`] (`/metrics`, written by hand with dnsdist's names);
//! `server` (accept, ACL, routing, headers), `auth` (password and API
//! key per endpoint), `dashboard` (the page and script, compiled in),
//! `sampler` (queries per second, once a second), `top` (busiest clients
//! and names from the rings) and `system` (process and host figures).
//! It is a crate of its own, not part of `control` as DESIGN.md planned:
//! see `docs/decisions.md`.

pub mod api;
mod auth;
mod dashboard;
pub mod metrics;
mod sampler;
mod server;
mod system;
mod top;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use config::web_lua::{WebRequest, WebResponse};
use tokio::sync::oneshot;

/// Why the API refused a change, or could not make it.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A PUT body that is not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// A PUT to `allow-from` without its list of netmasks.
    #[error("expected {{\"value\": [netmask, …]}}")]
    NoValueList,
    /// An item of the list that is not a string.
    #[error("every netmask must be a string")]
    NotAString,
    /// An item of the list that is no netmask.
    #[error(transparent)]
    BadNetmask(#[from] shield::NetmaskError),
    /// `acl.conf` could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteAcl {
        path: std::path::PathBuf,
        source: io::Error,
    },
}

/// A request only the control thread can answer.
pub enum Call {
    /// Run the `registerWebHandler` function of the request's path
    /// (`None`: the path has none).
    Handler(
        WebRequest,
        oneshot::Sender<Option<Result<WebResponse, config::ConfigError>>>,
    ),
    /// Replace the ACL (a PUT of `config/allow-from`).
    SetAcl(
        Vec<String>,
        oneshot::Sender<Result<(), config::ConfigError>>,
    ),
}

/// What the webserver reads.
pub struct Context {
    /// The state the workers serve (shield, backends, zones, counters).
    pub shared: net::SharedSnapshot,
    /// The config as last loaded or changed from the console: the
    /// webserver's own settings, listeners, timeouts.
    pub config: Arc<ArcSwap<config::Config>>,
    /// The listeners' counters.
    pub frontends: Vec<Arc<net::FrontendCounts>>,
    /// Where [`Call`]s go.
    pub calls: std::sync::mpsc::Sender<Call>,
    pub started: Instant,
}

/// Binds `addr` (failing before any thread starts if it cannot) and
/// serves on a thread of its own.
pub fn start(addr: SocketAddr, ctx: Context) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        io::Error::new(e.kind(), format!("webserver: cannot listen on {addr}: {e}"))
    })?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let ctx = Arc::new(ctx);
    std::thread::Builder::new()
        .name("web".into())
        .spawn(move || server::run(listener, ctx))?;
    Ok(bound)
}
