//! The dnsdist-dialect Lua configuration.
//!
//! A config file is a Lua program, as dnsdist's is. Running it calls the
//! functions registered here, which fill a [`Config`] (listeners, zones,
//! the `shield`, `pool` and `xfr` settings, the console and webserver).
//! When serving, the Lua state is kept in [`Serving`] for the control
//! thread (`maintenance()`, console lines, web handlers); nothing from Lua
//! reaches the packet path except the rules that ask for it (`LuaAction`,
//! `LuaRule`, `LuaResponseAction`: [`hook_lua`], one Lua state per worker
//! thread). Errors name the config file and line (Lua's own for syntax
//! errors, the calling line for a bad argument). Relative paths resolve
//! against the config file's directory.
//!
//! Registered here: `setLocal`/`addLocal` (listeners), `addZone`,
//! `loadNamedConf`, `setServerVersion`/`setServerIdentity`,
//! `setPayloadSizeOnSelfGeneratedAnswers`, `setUDPWorkers` and the TCP
//! limits (`setTCPRecvTimeout`, `setMaxTCPConnectionsPerClient`, …).
//! The rest, by module (dnsdist names where dnsdist has one):
//! - [`shield_lua`]: selectors, actions, rule management and the ACL, in
//!   the 1.x and the modern spellings;
//! - [`response_lua`]: response rules and tags;
//! - [`stream_rules_lua`]: `SNIRule`, the `HTTP*Rule`s, `HTTPStatusAction`;
//! - [`dynblock_lua`]: dynamic blocks (`exceed*`, `dynBlockRulesGroup`)
//!   and the once-a-second `maintenance()` call;
//! - [`inspect_lua`]: `topQueries`, `topClients`, `grepq`, `dumpStats`, …;
//! - [`guard_lua`]: RRL and DNS Cookies, from Lua and from named.conf;
//! - [`hook_lua`], [`dq_lua`], [`ffi_lua`]: Lua rules on the query path,
//!   the `dq`/`dr` they are given, and dnsdist's LuaJIT FFI API over it;
//! - [`pool_lua`]: `newServer`, pools, policies, packet caches;
//! - [`tls_lua`]: DoT and DoH listeners (`addTLSLocal`, `addDOHLocal`)
//!   and certificate reloads;
//! - [`xfr_lua`]: replication (TSIG keys, secondary zones, transfer and
//!   update ACLs, NOTIFY, serial policy, journals);
//! - [`dnssec_lua`]: `dnssec-policy`, key directories, from Lua and
//!   named.conf;
//! - [`console_lua`]: `controlSocket`, `setKey`, the console ACL, and
//!   running a console line;
//! - `zone_console_lua`: the console's zone functions (`showZones`,
//!   `flushZones`, `reloadZone`, the `dnssec…` commands), given to the
//!   served state by [`Serving::attach_zones`] (only this crate knows
//!   Lua; the binary supplies how a zone is reloaded);
//! - [`web_lua`], [`credential`]: `webserver`, `setWebserverConfig`,
//!   `registerWebHandler`, and hashed passwords and API keys;
//! - [`include_lua`]: `includeDirectory`, a directory of config files;
//! - [`compat_lua`]: dnsdist functions accepted as no-ops, or refused
//!   with a message naming the missing feature;
//! - [`lua_util`], [`output`], `address`: shared helpers, where Lua's
//!   output goes, and listen addresses as dnsdist writes them;
//! - [`error`]: why a config, a value in it or a named.conf statement
//!   was refused ([`ConfigError`]).

mod address;
mod binds_lua;
pub mod compat_lua;
pub mod console_lua;
pub mod credential;
pub mod dnssec_lua;
pub mod dq_lua;
pub mod dynblock_lua;
pub mod error;
pub mod ffi_lua;
pub mod guard_lua;
pub mod hook_lua;
pub mod include_lua;
pub mod inspect_lua;
pub mod lua_util;
pub mod ocsp_lua;
pub mod output;
pub mod pool_lua;
pub mod response_lua;
pub mod shield_lua;
pub mod stream_rules_lua;
pub mod tls_lua;
pub mod web_lua;
pub mod xfr_lua;
mod zone_console_lua;

use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, Table, Value};
use shield::querylog::OpenMode;

pub use address::parse_listen_addr;
pub use error::ConfigError;

use zone::named_conf::{self, ZoneKind};

/// A listening address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub addr: SocketAddr,
    pub tcp: bool,
    /// Concurrent TCP connections accepted on this listener.
    pub max_tcp_connections: usize,
}

impl Listener {
    pub fn new(addr: SocketAddr) -> Self {
        Listener {
            addr,
            tcp: true,
            max_tcp_connections: DEFAULT_MAX_TCP_CONNECTIONS,
        }
    }
}

/// Concurrent TCP connections per listener unless configured: enough
/// that a few thousand idle connections do not fill it (Knot allows half
/// its open-files limit), bounded so descriptors stay for the rest (the
/// open-files limit is raised at start, and a warning says when it is
/// still too low). At the limit the longest-idle connection makes room.
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 10_000;
/// Concurrent TCP connections per client address unless configured: one
/// address must not hold every slot of a listener.
pub const DEFAULT_TCP_PER_CLIENT: usize = 64;

/// A zone to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneDecl {
    pub name: String,
    pub kind: ZoneKind,
    pub file: Option<PathBuf>,
    /// Where it was declared (`file:line`), for messages.
    pub source: String,
}

/// The configuration a config file describes.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub listeners: Vec<Listener>,
    pub zones: Vec<ZoneDecl>,
    pub version: Option<String>,
    pub identity: Option<String>,
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub udp_workers: Option<usize>,
    /// Concurrent TCP connections per client address (0: no limit).
    pub tcp_per_client: usize,
    /// Queries answered on one TCP connection before closing it (0: any).
    pub tcp_queries_per_connection: usize,
    /// Longest life of a TCP connection (zero: no limit).
    pub tcp_max_duration: Duration,
    /// Longest wait to send a TCP answer.
    pub tcp_send_timeout: Duration,
    /// TCP listen queue length.
    pub tcp_backlog: u32,
    /// Read calls one TCP query may take before its client is banned
    /// (0: any), and for how long.
    pub tcp_max_read_ios: usize,
    pub tcp_read_ios_ban: Duration,
    /// New TCP connections a second per client before a ban (0: any),
    /// and for how long.
    pub tcp_connection_rate: u32,
    /// New and resumed TLS sessions a second per client (0: any).
    pub tls_new_session_rate: u32,
    pub tls_resumed_session_rate: u32,
    pub tcp_rate_ban: Duration,
    /// ACL and query rules.
    pub shield: shield::Shield,
    /// The console (`controlSocket`, `setKey`).
    pub console: console_lua::ConsoleConfig,
    /// The webserver (`webserver`, `setWebserverConfig`).
    pub web: web_lua::WebConfig,
    /// DNS over TLS and HTTPS listeners (`addTLSLocal`, `addDOHLocal`).
    pub encrypted: Vec<tls_lua::EncryptedListener>,
    /// Certificate reloads and ticket-key rotations asked for at runtime.
    pub tls_requests: tls_lua::TlsRequests,
    /// Backends and pools (`newServer`).
    pub pools: pool::Pools,
    /// `setKeyDirectory`: where zones signed from Lua keep their keys
    /// (unset: beside the config).
    pub key_directory: Option<PathBuf>,
    /// How long a forwarded UDP query waits for its answer.
    pub udp_timeout: Duration,
    /// `setMaxUDPOutstanding`: entries in each UDP backend's table of
    /// queries in flight (a power of two, 16 to 65,536).
    pub udp_outstanding: usize,
    /// Keys, transfers, updates, notifies, journals.
    pub replication: xfr::settings::Replication,
    /// Things skipped or worth knowing, for the log.
    pub notes: Vec<String>,
    /// `setVerbose`: debug lines in the log.
    pub verbose: bool,
    /// `setVerboseHealthChecks`: every health check's result in the log.
    pub verbose_health_checks: bool,
}

impl Config {
    pub(crate) fn new(path: &Path) -> Self {
        Config {
            path: path.to_path_buf(),
            listeners: vec![Listener::new(SocketAddr::from(([127, 0, 0, 1], 53)))],
            zones: Vec::new(),
            version: None,
            identity: None,
            max_udp_payload: wire_default_payload(),
            tcp_idle_timeout: Duration::from_secs(2),
            udp_workers: None,
            tcp_per_client: DEFAULT_TCP_PER_CLIENT,
            tcp_queries_per_connection: 0,
            tcp_max_duration: Duration::ZERO,
            tcp_send_timeout: Duration::from_secs(2),
            tcp_backlog: 1024,
            tcp_max_read_ios: 50,
            tcp_read_ios_ban: Duration::from_secs(60),
            tcp_connection_rate: 0,
            tls_new_session_rate: 0,
            tls_resumed_session_rate: 0,
            tcp_rate_ban: Duration::from_secs(10),
            shield: shield::Shield::default(),
            console: console_lua::ConsoleConfig::default(),
            web: web_lua::WebConfig::default(),
            encrypted: Vec::new(),
            tls_requests: tls_lua::TlsRequests::default(),
            pools: pool::Pools::default(),
            key_directory: None,
            udp_timeout: Duration::from_secs(2),
            udp_outstanding: 65536,
            replication: xfr::settings::Replication {
                flush_interval_secs: 60,
                ..Default::default()
            },
            notes: Vec::new(),
            verbose: false,
            verbose_health_checks: false,
        }
    }
}

fn wire_default_payload() -> u16 {
    1232
}

/// Runs the config file at `path` (for checking: with a fresh runtime,
/// and the Lua state dropped afterwards).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_acl(path, None)
}

/// As [`load`], with the ACL the config starts from (dnsdist's `-a`)
/// instead of the default one.
pub fn load_with_acl(
    path: &Path,
    initial_acl: Option<&shield::NetmaskGroup>,
) -> Result<Config, ConfigError> {
    let src = read_config(path)?;
    load_with_runtime(
        &src,
        path,
        &Arc::new(shield::Runtime::default()),
        initial_acl,
        OpenMode::Check,
    )
    .map(|(c, _, _)| c)
}

/// The config file's text.
fn read_config(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        source: Arc::new(e),
    })
}

/// Runs config text `src` as if read from `path`.
pub fn load_str(src: &str, path: &Path) -> Result<Config, ConfigError> {
    load_with_runtime(
        src,
        path,
        &Arc::new(shield::Runtime::default()),
        None,
        OpenMode::Check,
    )
    .map(|(c, _, _)| c)
}

/// Runs the config file at `path` for serving: dynamic-block functions
/// work on `runtime`, and the Lua state is kept so the control thread can
/// call `maintenance()` every second.
pub fn load_for_serving(
    path: &Path,
    runtime: &Arc<shield::Runtime>,
    initial_acl: Option<&shield::NetmaskGroup>,
) -> Result<(Config, Serving), ConfigError> {
    let src = read_config(path)?;
    let (config, lua, live) = load_with_runtime(&src, path, runtime, initial_acl, OpenMode::Serve)?;
    Ok((config, Serving { lua, live }))
}

/// A config being served: its Lua state (for `maintenance()` and, later,
/// the console) and the configuration those Lua functions keep changing.
pub struct Serving {
    lua: Lua,
    live: Rc<RefCell<Config>>,
}

impl Serving {
    /// Runs the config's `maintenance()`, if it defines one (the control
    /// loop calls this once a second).
    pub fn maintenance(&self) -> Result<(), ConfigError> {
        dynblock_lua::run_maintenance(&self.lua)
    }

    /// Gives the console the zone functions over `service` (`showZones`,
    /// `flushZones`, `reloadZone`, `dnssecStatus`, `dnssecSign`,
    /// `dnssecKSKSubmitted`); `reload` reads a named zone again.
    pub fn attach_zones(
        &self,
        service: &Arc<xfr::Service>,
        reload: impl Fn(&str) -> String + 'static,
    ) -> Result<(), ConfigError> {
        zone_console_lua::register(&self.lua, service, reload).map_err(|e| ConfigError::Lua {
            message: e.to_string(),
        })
    }

    /// The shield as Lua has left it (rules added at runtime included).
    pub fn shield(&self) -> shield::Shield {
        self.live.borrow().shield.clone()
    }

    /// The backends and pools as Lua has left them.
    pub fn pools(&self) -> pool::Pools {
        self.live.borrow().pools.clone()
    }

    /// Runs a console line; returns what the console shows.
    pub fn console(&self, line: &str) -> String {
        console_lua::run_line(&self.lua, line)
    }

    /// The whole configuration as Lua has left it.
    pub fn config(&self) -> Config {
        self.live.borrow().clone()
    }

    /// Answers a request with its `registerWebHandler` function, if the
    /// path has one.
    pub fn web_handler(
        &self,
        req: &web_lua::WebRequest,
    ) -> Option<Result<web_lua::WebResponse, ConfigError>> {
        web_lua::run_handler(&self.lua, req)
    }

    /// Sets the ACL (the API's PUT of `allow-from`): all the netmasks
    /// or, if one is bad, none.
    pub fn set_acl(&self, masks: &[String]) -> Result<(), ConfigError> {
        let mut g = shield::NetmaskGroup::new();
        for m in masks {
            g.add(shield::Netmask::parse(m)?);
        }
        self.live.borrow_mut().shield.acl = g;
        Ok(())
    }
}

/// A loaded config, its Lua state, and the config the Lua functions edit.
type Loaded = (Config, Lua, Rc<RefCell<Config>>);

fn load_with_runtime(
    src: &str,
    path: &Path,
    runtime: &Arc<shield::Runtime>,
    initial_acl: Option<&shield::NetmaskGroup>,
    mode: OpenMode,
) -> Result<Loaded, ConfigError> {
    let lua = Lua::new();
    // How LogAction opens files: checking a config must not empty a log.
    lua.set_app_data(mode);
    // What a worker thread runs to build its own state for Lua rules, and
    // the runtime every Lua function works on (named.conf's rate-limit
    // makes its table there).
    lua.set_app_data(Arc::new(hook_lua::Source {
        path: path.to_path_buf(),
        text: src.to_string(),
        runtime: runtime.clone(),
    }));
    let state = Rc::new(RefCell::new(Config::new(path)));
    if let Some(acl) = initial_acl {
        state.borrow_mut().shield.acl = acl.clone();
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let setup = || -> mlua::Result<()> {
        register(&lua, &state, &base)?;
        shield_lua::register(&lua, &state, &base)?;
        dynblock_lua::register(&lua, runtime)?;
        inspect_lua::register(&lua, runtime)?;
        binds_lua::register(&lua, runtime)?;
        response_lua::register(&lua, &state, &base)?;
        console_lua::register(&lua, &state, &base)?;
        web_lua::register(&lua, &state, &base)?;
        tls_lua::register(&lua, &state, &base)?;
        ocsp_lua::register(&lua, &state, &base)?;
        stream_rules_lua::register(&lua)?;
        pool_lua::register(&lua, &state, &base)?;
        guard_lua::register(&lua, &state, &base, runtime)?;
        dnssec_lua::register(&lua, &state, &base)?;
        xfr_lua::register(&lua, &state, &base)?;
        compat_lua::register(&lua, &state, &base)?;
        include_lua::register(&lua, &base)?;
        hook_lua::register(&lua)
    };
    setup().map_err(|e| ConfigError::Setup {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    lua.load(src)
        .set_name(format!("@{}", path.display()))
        .exec()
        .map_err(|e| ConfigError::Lua {
            message: lua_message(&e),
        })?;
    // Lua's registered functions hold the state too: take a copy.
    let config = state.borrow().clone();
    Ok((config, lua, state))
}

/// The useful line of a Lua error (no traceback).
pub(crate) fn lua_message(e: &mlua::Error) -> String {
    match e {
        // A bad argument refused before our function runs, or an error
        // from inside it that did not come through `fail` (which names
        // the place itself): take the calling line and the function's
        // name from the traceback.
        mlua::Error::CallbackError { traceback, cause }
            if !matches!(**cause, mlua::Error::RuntimeError(_)) =>
        {
            let function = traceback
                .lines()
                .find_map(|l| l.split("in function '").nth(1)?.split('\'').next())
                .unwrap_or("function");
            let place = traceback
                .lines()
                .map(str::trim)
                .find(|l| {
                    !l.starts_with("[C]")
                        && l.split(':')
                            .nth(1)
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .and_then(|l| l.rsplit_once(": in ").map(|(p, _)| p.to_string()));
            let what = match &**cause {
                mlua::Error::BadArgument { pos, cause, .. } => {
                    format!("{function}: argument #{pos}: {}", lua_message(cause))
                }
                other => format!("{function}: {}", lua_message(other)),
            };
            match place {
                Some(place) => format!("{place}: {what}"),
                None => what,
            }
        }
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        mlua::Error::FromLuaConversionError { from, to, message } => match message {
            Some(m) => format!("{m}, got {from}"),
            None => format!("expected {to}, got {from}"),
        },
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.lines().next().unwrap_or(m).to_string(),
        mlua::Error::ExternalError(e) => e.to_string(),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// `file:line` of the Lua code calling the running Rust function.
pub(crate) fn caller(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let src = d.source();
        let file = src.short_src.as_deref().unwrap_or("?").to_string();
        match d.current_line() {
            Some(line) => format!("{file}:{line}"),
            None => file,
        }
    })
    .unwrap_or_else(|| "?".into())
}

/// An error raised at the calling line.
pub(crate) fn fail(lua: &Lua, message: impl fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}: {message}", caller(lua)))
}

pub(crate) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// A file a dnsdist config names (a certificate, a key, a CA store): beside
/// the config as every rampart path, or, if it is only found relative to
/// the working directory (dnsdist's rule), from there.
pub(crate) fn resolve_existing(base: &Path, p: &str) -> PathBuf {
    let ours = resolve(base, p);
    if !ours.exists() && Path::new(p).exists() {
        PathBuf::from(p)
    } else {
        ours
    }
}

/// An integer setting: its name, what it counts (for the range error),
/// the values it takes, and how it is stored.
type IntSetting = (
    &'static str,
    &'static str,
    std::ops::RangeInclusive<i64>,
    fn(&mut Config, i64),
);

/// Registers each `name(n)` of `table`: an integer setting within its
/// range (outside it, an error naming the calling line and the range).
fn register_ints(lua: &Lua, state: &Rc<RefCell<Config>>, table: &[IntSetting]) -> mlua::Result<()> {
    for (name, what, range, apply) in table {
        let (st, name, what, range, apply) = (state.clone(), *name, *what, range.clone(), *apply);
        let f = lua.create_function(move |lua, n: i64| {
            if !range.contains(&n) {
                return Err(fail(
                    lua,
                    format!(
                        "{name}: {what} {n} out of range: expected {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
            apply(&mut st.borrow_mut(), n);
            Ok(())
        })?;
        lua.globals().set(name, f)?;
    }
    Ok(())
}

/// A string setting: its name and how it is stored.
type TextSetting = (&'static str, fn(&mut Config, String));

/// Registers each `name(text)` of `table`.
fn register_texts(
    lua: &Lua,
    state: &Rc<RefCell<Config>>,
    table: &[TextSetting],
) -> mlua::Result<()> {
    for &(name, apply) in table {
        let st = state.clone();
        let f = lua.create_function(move |_, text: String| {
            apply(&mut st.borrow_mut(), text);
            Ok(())
        })?;
        lua.globals().set(name, f)?;
    }
    Ok(())
}

/// A timeout setting: its name and how it is stored.
type SecondsSetting = (&'static str, fn(&mut Config, Duration));

/// Registers each `name(seconds)` of `table`: a timeout above 0 and at
/// most an hour.
fn register_seconds(
    lua: &Lua,
    state: &Rc<RefCell<Config>>,
    table: &[SecondsSetting],
) -> mlua::Result<()> {
    for &(name, set) in table {
        let st = state.clone();
        let f = lua.create_function(move |lua, secs: f64| {
            if !(secs > 0.0 && secs <= 3600.0) {
                return Err(fail(
                    lua,
                    format!("{name}: {secs} out of range: expected 0 to 3600 seconds"),
                ));
            }
            set(&mut st.borrow_mut(), Duration::from_secs_f64(secs));
            Ok(())
        })?;
        lua.globals().set(name, f)?;
    }
    Ok(())
}

fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua_util::register_table(lua, &lua_util::Env::new(state, base), FUNCTIONS)?;
    register_texts(lua, state, TEXTS)?;
    register_ints(lua, state, INTS)?;
    register_seconds(lua, state, SECONDS)
}

/// Listeners, zones and named.conf.
const FUNCTIONS: &[lua_util::Global] = &[
    ("setLocal", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, (addr, opts): (String, Option<Table>)| {
            listen(lua, &st, true, addr, opts)
        })
    }),
    ("addLocal", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, (addr, opts): (String, Option<Table>)| {
            listen(lua, &st, false, addr, opts)
        })
    }),
    ("addZone", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |lua, (name, file): (String, String)| {
            xfr_lua::zone_apex(lua, &name)?;
            let decl = ZoneDecl {
                name,
                kind: ZoneKind::Primary,
                file: Some(resolve(&b, &file)),
                source: caller(lua),
            };
            st.borrow_mut().zones.push(decl);
            Ok(())
        })
    }),
    ("loadNamedConf", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |lua, file: String| {
            load_named_conf(lua, &mut st.borrow_mut(), &resolve(&b, &file))
        })
    }),
];

/// `setLocal` (`replace`: the listeners become this one) and `addLocal`.
fn listen(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    replace: bool,
    addr: String,
    opts: Option<Table>,
) -> mlua::Result<()> {
    let sock = parse_listen_addr(&addr).map_err(|e| fail(lua, e))?;
    let mut l = Listener::new(sock);
    if let Some(opts) = opts {
        for pair in opts.pairs::<String, Value>() {
            let (k, v) = pair?;
            let func = if replace { "setLocal" } else { "addLocal" };
            match k.as_str() {
                "doTCP" => l.tcp = lua_util::option_bool(lua, func, &k, &v)?,
                "maxConcurrentTCPConnections" => {
                    let n = lua_util::option_u32(lua, func, &k, &v)?;
                    if n == 0 {
                        return Err(fail(lua, format!("{func}: {k} must be at least 1")));
                    }
                    l.max_tcp_connections = n as usize;
                }
                other => {
                    let note = format!("{}: listener option '{other}' ignored", caller(lua));
                    st.borrow_mut().notes.push(note);
                }
            }
        }
    }
    let mut c = st.borrow_mut();
    if replace {
        c.listeners.clear();
    }
    if let Some(existing) = c.listeners.iter_mut().find(|x| x.addr == l.addr) {
        *existing = l;
    } else {
        c.listeners.push(l);
    }
    Ok(())
}

/// `loadNamedConf(file)`: named.conf's zones, replication, DNSSEC and
/// rate-limit settings.
fn load_named_conf(lua: &Lua, c: &mut Config, path: &Path) -> mlua::Result<()> {
    let conf = named_conf::read(path).map_err(|e| fail(lua, e))?;
    xfr_lua::from_named_conf(&conf, c).map_err(|e| fail(lua, e))?;
    dnssec_lua::from_named_conf(&conf, c).map_err(|e| fail(lua, e))?;
    guard_lua::from_named_conf(lua, &conf.server_options, c).map_err(|e| fail(lua, e))?;
    c.notes.extend(conf.notes);
    for z in conf.zones {
        zone::parse_name(&z.name).map_err(|e| {
            fail(
                lua,
                format!("{}: bad zone name '{}': {e}", z.source, z.name),
            )
        })?;
        c.zones.push(ZoneDecl {
            name: z.name,
            kind: z.kind,
            file: z.file,
            source: z.source,
        });
    }
    Ok(())
}

/// The server's names.
const TEXTS: &[TextSetting] = &[
    ("setServerVersion", |c, t| c.version = Some(t)),
    ("setServerIdentity", |c, t| c.identity = Some(t)),
];

/// The integer settings, dnsdist's TCP knobs (1.7 to 2.0) among them.
const INTS: &[IntSetting] = &[
    // Larger than 4096 only invites fragmentation (and over 65507 cannot be
    // sent over IPv4 at all).
    (
        "setPayloadSizeOnSelfGeneratedAnswers",
        "payload size",
        512..=4096,
        |c, n| c.max_udp_payload = n as u16,
    ),
    (
        "setMaxTCPConnectionsPerClient",
        "connections per client",
        0..=1_000_000,
        |c, n| c.tcp_per_client = n as usize,
    ),
    ("setUDPWorkers", "UDP workers", 1..=256, |c, n| {
        c.udp_workers = Some(n as usize)
    }),
    (
        "setMaxTCPQueriesPerConnection",
        "queries per connection",
        0..=1_000_000_000,
        |c, n| c.tcp_queries_per_connection = n as usize,
    ),
    (
        "setMaxTCPConnectionDuration",
        "connection duration (seconds)",
        0..=86_400,
        |c, n| c.tcp_max_duration = Duration::from_secs(n as u64),
    ),
    // 0 is dnsdist's "unlimited": the kernel's own cap then applies.
    (
        "setMaxTCPQueuedConnections",
        "queued connections",
        0..=1_000_000,
        |c, n| c.tcp_backlog = if n == 0 { i32::MAX as u32 } else { n as u32 },
    ),
    (
        "setMaxTCPReadIOsPerQuery",
        "read calls per query",
        0..=1_000_000,
        |c, n| c.tcp_max_read_ios = n as usize,
    ),
    (
        "setBanDurationForExceedingMaxReadIOsPerQuery",
        "ban duration (seconds)",
        0..=86_400,
        |c, n| c.tcp_read_ios_ban = Duration::from_secs(n as u64),
    ),
    (
        "setMaxTCPConnectionRatePerClient",
        "connections per second",
        0..=1_000_000,
        |c, n| c.tcp_connection_rate = n as u32,
    ),
    (
        "setMaxTLSNewSessionRatePerClient",
        "new TLS sessions per second",
        0..=1_000_000,
        |c, n| c.tls_new_session_rate = n as u32,
    ),
    (
        "setMaxTLSResumedSessionRatePerClient",
        "resumed TLS sessions per second",
        0..=1_000_000,
        |c, n| c.tls_resumed_session_rate = n as u32,
    ),
    (
        "setBanDurationForExceedingTCPTLSRate",
        "ban duration (seconds)",
        0..=86_400,
        |c, n| c.tcp_rate_ban = Duration::from_secs(n as u64),
    ),
];

/// The TCP timeouts.
const SECONDS: &[SecondsSetting] = &[
    ("setTCPRecvTimeout", |c, d| c.tcp_idle_timeout = d),
    ("setTCPSendTimeout", |c, d| c.tcp_send_timeout = d),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(src: &str) -> Result<Config, ConfigError> {
        load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    #[test]
    fn every_listener_and_zone_function_takes_effect() {
        use lua_util::table_test::{check_cases, Case};
        let dir = std::env::temp_dir().join(format!("rampart-lib-tables-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let named = dir.join("named.conf");
        std::fs::write(
            &named,
            "zone \"example.net\" { type master; file \"example.net.zone\"; };\n",
        )
        .unwrap();
        let load_named = format!("loadNamedConf('{}')", named.display());
        let cases: &[Case] = &[
            (
                "setLocal",
                "addLocal('192.0.2.1:53') setLocal('127.0.0.1:5300', {maxConcurrentTCPConnections=5})",
                |c, _| format!("{} {:?}", c.listeners.len(), c.listeners),
                &["1 [Listener { addr: 127.0.0.1:5300", "max_tcp_connections: 5 }]"],
            ),
            (
                "addLocal",
                "addLocal('[::1]:5300', {doTCP=false})",
                |c, _| format!("{} {:?}", c.listeners.len(), c.listeners),
                &["2 [", "addr: [::1]:5300, tcp: false"],
            ),
            (
                "addZone",
                "addZone('example.org', 'zones/example.org.zone')",
                |c, _| format!("{:?}", c.zones),
                &["\"example.org\"", "/etc/rampart/zones/example.org.zone"],
            ),
            (
                "loadNamedConf",
                &load_named,
                |c, _| format!("{:?}", c.zones),
                &["\"example.net\"", "example.net.zone"],
            ),
        ];
        check_cases(FUNCTIONS.iter().map(|(n, _)| *n), cases);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_text_int_and_timeout_setting_takes_effect() {
        use lua_util::table_test::{check_cases, Case};
        let texts: &[Case] = &[
            (
                "setServerVersion",
                "setServerVersion('v1')",
                |c, _| format!("{:?}", c.version),
                &["Some(\"v1\")"],
            ),
            (
                "setServerIdentity",
                "setServerIdentity('ns1')",
                |c, _| format!("{:?}", c.identity),
                &["Some(\"ns1\")"],
            ),
        ];
        check_cases(TEXTS.iter().map(|(n, _)| *n), texts);
        let ints: &[Case] = &[
            (
                "setPayloadSizeOnSelfGeneratedAnswers",
                "setPayloadSizeOnSelfGeneratedAnswers(1400)",
                |c, _| c.max_udp_payload.to_string(),
                &["1400"],
            ),
            (
                "setMaxTCPConnectionsPerClient",
                "setMaxTCPConnectionsPerClient(7)",
                |c, _| c.tcp_per_client.to_string(),
                &["7"],
            ),
            (
                "setUDPWorkers",
                "setUDPWorkers(3)",
                |c, _| format!("{:?}", c.udp_workers),
                &["Some(3)"],
            ),
            (
                "setMaxTCPQueriesPerConnection",
                "setMaxTCPQueriesPerConnection(9)",
                |c, _| c.tcp_queries_per_connection.to_string(),
                &["9"],
            ),
            (
                "setMaxTCPConnectionDuration",
                "setMaxTCPConnectionDuration(30)",
                |c, _| format!("{:?}", c.tcp_max_duration),
                &["30s"],
            ),
            (
                "setMaxTCPQueuedConnections",
                "setMaxTCPQueuedConnections(0)",
                |c, _| c.tcp_backlog.to_string(),
                &["2147483647"],
            ),
            (
                "setMaxTCPReadIOsPerQuery",
                "setMaxTCPReadIOsPerQuery(11)",
                |c, _| c.tcp_max_read_ios.to_string(),
                &["11"],
            ),
            (
                "setBanDurationForExceedingMaxReadIOsPerQuery",
                "setBanDurationForExceedingMaxReadIOsPerQuery(70)",
                |c, _| format!("{:?}", c.tcp_read_ios_ban),
                &["70s"],
            ),
            (
                "setMaxTCPConnectionRatePerClient",
                "setMaxTCPConnectionRatePerClient(12)",
                |c, _| c.tcp_connection_rate.to_string(),
                &["12"],
            ),
            (
                "setMaxTLSNewSessionRatePerClient",
                "setMaxTLSNewSessionRatePerClient(13)",
                |c, _| c.tls_new_session_rate.to_string(),
                &["13"],
            ),
            (
                "setMaxTLSResumedSessionRatePerClient",
                "setMaxTLSResumedSessionRatePerClient(14)",
                |c, _| c.tls_resumed_session_rate.to_string(),
                &["14"],
            ),
            (
                "setBanDurationForExceedingTCPTLSRate",
                "setBanDurationForExceedingTCPTLSRate(15)",
                |c, _| format!("{:?}", c.tcp_rate_ban),
                &["15s"],
            ),
        ];
        check_cases(INTS.iter().map(|(n, ..)| *n), ints);
        let seconds: &[Case] = &[
            (
                "setTCPRecvTimeout",
                "setTCPRecvTimeout(2.5)",
                |c, _| format!("{:?}", c.tcp_idle_timeout),
                &["2.5s"],
            ),
            (
                "setTCPSendTimeout",
                "setTCPSendTimeout(4)",
                |c, _| format!("{:?}", c.tcp_send_timeout),
                &["4s"],
            ),
        ];
        check_cases(SECONDS.iter().map(|(n, _)| *n), seconds);
    }

    #[test]
    fn listeners_and_zones() {
        let c = cfg(r#"
            setLocal("127.0.0.1:5300")
            addLocal("[::1]:5300", {doTCP=false, reusePort=true})
            addLocal("::1")
            addZone("Example.ORG.", "zones/example.org.zone")
            setServerVersion("rampart")
        "#)
        .unwrap();
        assert_eq!(c.listeners.len(), 3);
        assert_eq!(c.listeners[0].addr, "127.0.0.1:5300".parse().unwrap());
        assert!(!c.listeners[1].tcp);
        assert_eq!(c.listeners[2].addr, "[::1]:53".parse().unwrap());
        assert_eq!(
            c.zones[0].file.as_deref(),
            Some(Path::new("/etc/rampart/zones/example.org.zone"))
        );
        assert_eq!(c.zones[0].source, "/etc/rampart/rampart.conf:5");
        assert_eq!(c.version.as_deref(), Some("rampart"));
        assert!(c.notes[0].contains("'reusePort' ignored"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = cfg("\n\nsetLocal(\"300.1.1.1:53\")\n").unwrap_err();
        assert!(
            e.to_string().starts_with("/etc/rampart/rampart.conf:3: "),
            "{e}"
        );
        let e = cfg("setLocal(\n").unwrap_err();
        assert!(e.to_string().contains("rampart.conf:"), "{e}");
        let e = cfg("\nnotAFunction(AllRule(), DropAction())\n").unwrap_err();
        assert!(e.to_string().contains("rampart.conf:2:"), "{e}");
        let e = cfg("\n\naddZone(\"x.test\")\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/rampart/rampart.conf:3: addZone: argument #2: expected string or number, got nil"
        );
        let e = cfg("addZone(\"bad..name\", \"x\")\n").unwrap_err();
        assert!(
            e.to_string().contains("rampart.conf:1: bad zone name"),
            "{e}"
        );
    }

    #[test]
    fn dynamic_block_rate_methods_take_dnsdist_arguments() {
        cfg(r#"
            local g = dynBlockRulesGroup()
            g:setQueryRate(100, 10, "q", 60)
            g:setResponseByteRate(10000, 10, "b", 60, DNSAction.Refused)
            g:setRCodeRate(DNSRCode.NXDOMAIN, 10, 1, "nx", 30, DNSAction.Drop, 5)
            g:setQTypeRate(DNSQType.ANY, 5, 1, "any", 30)
            g:setRCodeRatio(DNSRCode.SERVFAIL, 0.2, 10, "sf", 60, 20)
            local nmg = newNMG()
            nmg:addMask("10.0.0.0/8")
            g:excludeRange(nmg)
        "#)
        .unwrap();
    }

    #[test]
    fn out_of_range_numbers_are_errors_not_truncations() {
        for (line, want) in [
            (
                "newServer{address=\"127.0.0.1:53\", weight=4294967296}",
                "newServer: weight must be a whole number",
            ),
            (
                "newServer{address=\"127.0.0.1:53\", checkInterval=math.huge}",
                "newServer: checkInterval must be a whole number",
            ),
            (
                "newServer{address=\"127.0.0.1:53\", checkClass=65537}",
                "checkClass must be 0 to 65535",
            ),
            ("MaxQPSRule(0)", "MaxQPSRule needs a rate above 0"),
            ("QPSAction(0/0)", "QPSAction needs a rate above 0"),
            (
                "QNameLabelsCountRule(20, 1)",
                "min 20 is above max 1; it would match every query",
            ),
            ("OpcodeRule(16)", "opcodes are 0 to 15"),
            (
                "newServer{address=\"127.0.0.1:53\", tcpOnly=1}",
                "newServer: tcpOnly must be true or false",
            ),
            (
                "local g = dynBlockRulesGroup() g:setQueryRate(0/0, 1, \"x\", 5)",
                "needs a rate of 0 or more",
            ),
            (
                "setACL({\"10.0.0.0/8\", true})",
                "expected a netmask or a list of netmasks, got boolean",
            ),
            (
                "exceedQTypeRate(65537, 1, 1)",
                "exceedQTypeRate: argument #1",
            ),
            (
                "setLocal(\"127.0.0.1:53\", {maxConcurrentTCPConnections=1.5})",
                "setLocal: maxConcurrentTCPConnections must be a whole number",
            ),
            (
                "addLocal(\"127.0.0.1:53\", {doTCP=1})",
                "addLocal: doTCP must be true or false",
            ),
            ("exceedQRate(0/0, 1)", "exceed* needs a rate of 0 or more"),
            ("exceedNXDOMAINs(5, 1.5)", "exceedNXDOMAINs: argument #2"),
            (
                "local g = dynBlockRulesGroup() g:setSuffixGuard(0/0, 1, 2, \"x\", 5)",
                "setSuffixGuard(rate, seconds",
            ),
        ] {
            let e = cfg(&format!("\n{line}\n")).unwrap_err();
            assert!(
                e.to_string().contains("rampart.conf:2:") && e.to_string().contains(want),
                "{line}: {e}"
            );
        }
    }
}
