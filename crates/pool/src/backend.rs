//! One backend server: settings and live state.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Idle TLS sessions kept per backend: enough for the usual handful
/// of concurrent TCP clients, small enough not to hog the backend's slots.
const IDLE_TLS_MAX: usize = 8;

/// How a backend's availability is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admin {
    /// By the health checks.
    Auto,
    /// Forced up (`setUp()`).
    Up,
    /// Forced down (`setDown()`).
    Down,
}

/// dnsdist's health-check settings.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    /// Lowercase wire name asked for.
    pub name: Vec<u8>,
    pub qtype: u16,
    pub qclass: u16,
    /// The check query's header flags word (RD by default).
    pub flags: u16,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failures before down.
    pub max_failures: u32,
    /// Consecutive successes before up again.
    pub rise: u32,
    /// The answer must be NOERROR (not just any answer).
    pub must_resolve: bool,
    /// `healthCheckMode="lazy"`: check only after real queries failed.
    pub lazy: Option<crate::LazyCheck>,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            // dnsdist's default check: a.root-servers.net. A
            name: b"\x01a\x0croot-servers\x03net\x00".to_vec(),
            qtype: 1,
            qclass: 1,
            flags: 0x0100,
            interval_ms: 1000,
            timeout_ms: 1000,
            max_failures: 1,
            rise: 1,
            must_resolve: false,
            lazy: None,
        }
    }
}

/// How a TLS backend is reached.
#[derive(Clone, Debug)]
pub struct BackendTls {
    pub client: crate::tls_client::TlsClient,
    /// DNS over HTTPS to this path (`dohPath`); DoT without it.
    pub doh_path: Option<String>,
    /// Tell a DoH backend who asked, in X-Forwarded-For, -Port and
    /// -Proto headers (`addXForwardedHeaders`).
    pub add_x_forwarded: bool,
}

/// A backend.
#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub pools: Vec<String>,
    pub weight: u32,
    pub order: u32,
    pub tcp_only: bool,
    /// Pass the client's network on in an ECS option (`useClientSubnet`).
    pub use_client_subnet: bool,
    /// Never cache its scope-zero ECS answers for every client
    /// (`disableZeroScope`).
    pub disable_zero_scope: bool,
    pub check: HealthCheck,
    /// DNS over TLS to it (`tls=`), or over HTTPS with `doh_path`.
    pub tls: Option<BackendTls>,
    admin: AtomicU8,
    healthy: AtomicBool,
    queries: AtomicU64,
    responses: AtomicU64,
    send_errors: AtomicU64,
    drops: AtomicU64,
    outstanding: AtomicU64,
    /// Exponentially weighted latency, µs.
    latency_us: AtomicU64,
    /// An order of magnitude slower than its peers (see Pools::check_slow).
    slow: AtomicBool,
    /// TLS sessions that answered and may be reused for the next query,
    /// as dnsdist does (DoT streams, a DoH HTTP/2 connection), of the
    /// type the forwarder put there. (Plain TCP connections are kept by
    /// the forwarder, per thread.)
    idle_tls: Mutex<Vec<Box<dyn Any + Send>>>,
    /// Recent outcomes, for lazy health checks.
    lazy_window: Mutex<crate::lazy::LazyWindow>,
    /// How its connections were come by, as dnsdist counts them.
    pub conns: Arc<ConnCounters>,
}

/// A backend's stream connections, counted as dnsdist's per-server
/// `tcpNewConnections`, `tcpReusedConnections` and `tlsResumptions` are:
/// only connections that carry queries (health checks open their own and
/// are not counted here), a kept connection counted as reused when it is
/// taken again, even if the backend closed it meanwhile and a new one
/// follows.
#[derive(Debug, Default)]
pub struct ConnCounters {
    pub new: AtomicU64,
    pub reused: AtomicU64,
    /// Resumed TLS sessions, counted when the session ends (dnsdist learns
    /// of a resumption only then, and its tests read the figure so).
    pub tls_resumptions: AtomicU64,
    pub health_check_failures: AtomicU64,
}

impl Backend {
    pub fn new(
        name: String,
        addr: SocketAddr,
        pools: Vec<String>,
        weight: u32,
        order: u32,
        check: HealthCheck,
    ) -> Backend {
        Backend {
            name,
            addr,
            pools,
            weight: weight.max(1),
            order,
            tcp_only: false,
            use_client_subnet: false,
            disable_zero_scope: false,
            check,
            tls: None,
            admin: AtomicU8::new(0),
            // Up until a check says otherwise (dnsdist checks at start).
            healthy: AtomicBool::new(true),
            queries: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            slow: AtomicBool::new(false),
            idle_tls: Mutex::new(Vec::new()),
            lazy_window: Mutex::new(Default::default()),
            conns: Default::default(),
        }
    }

    /// An idle TLS session to reuse, most recently used first.
    pub fn take_idle_tls(&self) -> Option<Box<dyn Any + Send>> {
        self.idle_tls.lock().ok()?.pop()
    }

    /// Keeps a TLS session that just answered for the next query.
    pub fn keep_idle_tls(&self, s: Box<dyn Any + Send>) {
        if let Ok(mut idle) = self.idle_tls.lock() {
            if idle.len() < IDLE_TLS_MAX {
                idle.push(s);
            }
        }
    }

    pub fn admin(&self) -> Admin {
        match self.admin.load(Ordering::Relaxed) {
            1 => Admin::Up,
            2 => Admin::Down,
            _ => Admin::Auto,
        }
    }

    pub fn set_admin(&self, a: Admin) {
        let v = match a {
            Admin::Auto => 0,
            Admin::Up => 1,
            Admin::Down => 2,
        };
        self.admin.store(v, Ordering::Relaxed);
    }

    /// Whether queries may go to it.
    pub fn is_up(&self) -> bool {
        match self.admin() {
            Admin::Up => true,
            Admin::Down => false,
            Admin::Auto => self.healthy.load(Ordering::Relaxed),
        }
    }

    /// Records a health verdict; returns the change, if any.
    pub fn set_healthy(&self, healthy: bool) -> Option<bool> {
        let before = self.healthy.swap(healthy, Ordering::Relaxed);
        (before != healthy).then_some(healthy)
    }

    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Whether it was found an order of magnitude slower than its peers.
    pub fn is_slow(&self) -> bool {
        self.slow.load(Ordering::Relaxed)
    }

    /// Sets the slow flag; returns whether it changed.
    pub fn set_slow(&self, slow: bool) -> bool {
        self.slow.swap(slow, Ordering::Relaxed) != slow
    }

    /// `showServers` state column.
    pub fn state_name(&self) -> &'static str {
        match (self.admin(), self.is_up()) {
            (Admin::Auto, true) if self.is_slow() => "slow",
            (Admin::Auto, true) => "up",
            (Admin::Auto, false) => "down",
            (Admin::Up, _) => "UP",
            (Admin::Down, _) => "DOWN",
        }
    }

    pub fn sent(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_add(1, Ordering::Relaxed);
    }

    /// An answer with `rcode` came back after `us` microseconds.
    pub fn answered(&self, us: u64, rcode: u8) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
        self.observe_latency(us);
        if let Some(lazy) = &self.check.lazy {
            let servfail = rcode == 2 && lazy.failures == crate::LazyFailures::TimeoutOrServFail;
            self.lazy_record(servfail);
        }
    }

    /// Feeds the lazy health check's window.
    fn lazy_record(&self, failed: bool) {
        let Some(lazy) = &self.check.lazy else { return };
        let Ok(mut w) = self.lazy_window.lock() else {
            return;
        };
        if w.record(lazy, failed) {
            log::warn!(
                "Backend {} ({}): too many failed queries, health checks start",
                self.name,
                self.addr
            );
        }
    }

    /// Whether health checks should run now: never for a server forced
    /// up or down (dnsdist stops checking those), always in auto mode
    /// unless lazy checking waits for failures.
    pub fn wants_check(&self) -> bool {
        self.admin() == Admin::Auto
            && (self.check.lazy.is_none()
                || !self.healthy()
                || self.lazy_window.lock().map_or(true, |w| w.suspect))
    }

    /// Health checks found it well again: back to lazy watching.
    pub fn lazy_recovered(&self) {
        if let Ok(mut w) = self.lazy_window.lock() {
            w.clear();
        }
    }

    /// Folds one latency sample (an answer, or a health check) into the
    /// average: EWMA with weight 1/8, enough to spot an order of magnitude.
    pub fn observe_latency(&self, us: u64) {
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            us.max(1)
        } else {
            (old - old / 8 + us / 8).max(1)
        };
        self.latency_us.store(new, Ordering::Relaxed);
    }

    /// The socket refused to send a query.
    pub fn send_failed(&self) {
        self.send_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A query got no answer in time.
    pub fn timed_out(&self) {
        let _ = self
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
        self.drops.fetch_add(1, Ordering::Relaxed);
        self.lazy_record(true);
    }

    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub fn responses(&self) -> u64 {
        self.responses.load(Ordering::Relaxed)
    }

    pub fn send_errors(&self) -> u64 {
        self.send_errors.load(Ordering::Relaxed)
    }

    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    pub fn outstanding(&self) -> u64 {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub fn latency_ms(&self) -> f64 {
        self.latency_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}
