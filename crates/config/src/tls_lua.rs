//! Encrypted DNS from the config's side, in dnsdist's words:
//! `addTLSLocal(addr, certFile(s), keyFile(s) [, opts])` (DNS over TLS,
//! port 853 by default), `addDOHLocal(addr [, certFile(s), keyFile(s)
//! [, urls [, opts]]])` (DNS over HTTPS, port 443; cleartext HTTP without
//! certificates), `reloadAllCertificates()`, and `getTLSContext(n)` /
//! `getTLSFrontend(n)` / `getDOHFrontend(n)` with `:reloadCertificates()`
//! and `:rotateTicketsKey()`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{Function, Lua, Table, UserData, UserDataMethods, Value};

use crate::lua_util::{self, option_bool, option_u32, setter, Env, Global};
use crate::{caller, fail, Config};

/// What an encrypted listener speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncryptedKind {
    Dot,
    Doh {
        paths: Vec<String>,
        exact_paths: bool,
        headers: Vec<(String, String)>,
        cache_control: bool,
        server_tokens: String,
        /// The client is the right-most `X-Forwarded-For` address
        /// (`trustForwardedForHeader`, for a proxy in front).
        trust_forwarded_for: bool,
        /// Answers for paths, before DNS (`setResponsesMap`).
        responses: Vec<ResponseMapEntry>,
    },
    /// DNS over QUIC (`addDOQLocal`).
    Doq {
        idle_timeout_secs: u32,
        max_in_flight: u32,
    },
}

/// `newDOHResponseMapEntry(regex, status, content [, headers])`: a
/// request whose path matches gets this answer (a 3xx's content is the
/// `Location`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseMapEntry {
    pub regex: String,
    pub status: u16,
    pub content: String,
    pub headers: Vec<(String, String)>,
}

impl UserData for ResponseMapEntry {}

/// A DNS over TLS or HTTPS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedListener {
    pub addr: SocketAddr,
    pub kind: EncryptedKind,
    /// Certificate chains and keys, pairwise; none for cleartext DoH.
    pub certs: Vec<PathBuf>,
    pub keys: Vec<PathBuf>,
    pub tls13_only: bool,
    pub session_tickets: bool,
    /// Session-ticket keys kept (`numberOfTicketsKeys`, 5 by default).
    pub ticket_keys: usize,
    /// dnsdist-format ticket key file (`ticketKeyFile`).
    pub ticket_key_file: Option<PathBuf>,
    /// The cipher lists (`ciphers`: TLS 1.2, OpenSSL's names;
    /// `ciphersTLS13`), checked against rustls's suites when the listener
    /// starts.
    pub ciphers: Option<String>,
    pub ciphers_tls13: Option<String>,
    /// `keyLogFile`: where each session's secrets are appended.
    pub key_log_file: Option<PathBuf>,
    /// `ocspResponses`: DER OCSP responses, one per certificate in order.
    pub ocsp_responses: Vec<PathBuf>,
    pub max_tcp_connections: usize,
    /// Where it was declared (`file:line`), for messages.
    pub source: String,
}

/// Runtime requests from the console: each bump asks the control loop
/// to act once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsRequests {
    /// Read every certificate and key again.
    pub reload: u64,
    /// New session-ticket keys.
    pub rotate_tickets: u64,
    /// Ticket keys to load from a file (`loadTicketsKeys`), by frontend
    /// address: the count of such requests and the last one.
    pub load_keys: u64,
    pub load_keys_from: Option<(SocketAddr, PathBuf)>,
}

/// Registers the functions.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

/// The encrypted listeners, their frontends and the certificate requests.
const FUNCTIONS: &[Global] = &[
    ("addTLSLocal", |lua, env| {
        let (st, b) = (env.state.clone(), env.base.clone());
        lua.create_function(
            move |lua, (addr, certs, keys, opts): (String, Value, Value, Option<Table>)| {
                let at = ("addTLSLocal", addr.as_str(), 853);
                let l = listener(lua, &st, &b, at, (certs, keys), None, opts)?;
                st.borrow_mut().encrypted.push(l);
                Ok(())
            },
        )
    }),
    ("addDOHLocal", |lua, env| {
        let (st, b) = (env.state.clone(), env.base.clone());
        lua.create_function(move |lua, args: DohArgs| add_doh_local(lua, &st, &b, args))
    }),
    ("addDOQLocal", |lua, env| {
        let (st, b) = (env.state.clone(), env.base.clone());
        lua.create_function(
            move |lua, (addr, certs, keys, opts): (String, Value, Value, Option<Table>)| {
                add_doq_local(lua, &st, &b, (addr, certs, keys, opts))
            },
        )
    }),
    ("newDOHResponseMapEntry", |lua, _| {
        lua.create_function(response_map_entry)
    }),
    ("reloadAllCertificates", |lua, env| {
        setter(lua, env, |_, c, ()| {
            c.tls_requests.reload += 1;
            Ok(())
        })
    }),
    ("getTLSContext", |lua, env| {
        frontend_getter(lua, env, "getTLSContext", false)
    }),
    ("getTLSFrontend", |lua, env| {
        frontend_getter(lua, env, "getTLSFrontend", false)
    }),
    ("getDOHFrontend", |lua, env| {
        frontend_getter(lua, env, "getDOHFrontend", true)
    }),
    ("getTLSFrontendCount", |lua, env| {
        frontend_count(lua, env, false)
    }),
    ("getDOHFrontendCount", |lua, env| {
        frontend_count(lua, env, true)
    }),
];

/// `addDOHLocal`'s arguments: address, certificate file(s), key file(s),
/// URL path(s), options.
type DohArgs = (
    String,
    Option<Value>,
    Option<Value>,
    Option<Value>,
    Option<Table>,
);

/// `addDOHLocal(addr [, certs, keys [, urls [, opts]]])`.
fn add_doh_local(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    b: &Path,
    (addr, certs, keys, urls, opts): DohArgs,
) -> mlua::Result<()> {
    let paths = match urls {
        None | Some(Value::Nil) => vec!["/dns-query".to_string()],
        Some(v) => crate::lua_util::strings(lua, v, "a URL path or a list of them")?,
    };
    if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
        return Err(fail(
            lua,
            format!("addDOHLocal: path '{p}' must start with /"),
        ));
    }
    let files = (certs.unwrap_or(Value::Nil), keys.unwrap_or(Value::Nil));
    let l = listener(
        lua,
        st,
        b,
        ("addDOHLocal", &addr, 443),
        files,
        Some(paths),
        opts,
    )?;
    st.borrow_mut().encrypted.push(l);
    Ok(())
}

/// `addDOQLocal(addr, certs, keys [, opts])` (dnsdist 1.9's): DNS over
/// QUIC on UDP port 853 by default, TLS 1.3 only (QUIC's), with the DoQ
/// options `idleTimeout` (5 s), `maxInFlight` (streams open at once per
/// connection; 128 here, where dnsdist's 65535 would let one connection
/// hold that many queries) and `congestionControlAlgo` (quinn's own is
/// used: noted).
fn add_doq_local(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    b: &Path,
    (addr, certs, keys, opts): (String, Value, Value, Option<Table>),
) -> mlua::Result<()> {
    let func = "addDOQLocal";
    let (mut idle_secs, mut max_in_flight) = (5u32, 128u32);
    let mut notes = Vec::new();
    // The DoQ options are taken out; the TLS ones go on to `listener`.
    let rest = lua.create_table()?;
    if let Some(t) = opts {
        for pair in t.pairs::<String, Value>() {
            let (k, v) = pair?;
            match k.as_str() {
                "idleTimeout" => idle_secs = option_u32(lua, func, &k, &v)?.clamp(1, 3600),
                "maxInFlight" => max_in_flight = option_u32(lua, func, &k, &v)?.clamp(1, 65535),
                "congestionControlAlgo" => notes.push(format!(
                    "{func}: congestionControlAlgo: quinn's congestion control (cubic) is used"
                )),
                _ => rest.set(k, v)?,
            }
        }
    }
    let files = (certs, keys);
    let mut l = listener(lua, st, b, (func, &addr, 853), files, None, Some(rest))?;
    l.tls13_only = true;
    l.kind = EncryptedKind::Doq {
        idle_timeout_secs: idle_secs,
        max_in_flight,
    };
    let place = caller(lua);
    let mut c = st.borrow_mut();
    for n in notes {
        c.notes.push(format!("{place}: {n}"));
    }
    c.encrypted.push(l);
    Ok(())
}

/// `newDOHResponseMapEntry(regex, status, content [, headers])`.
fn response_map_entry(
    lua: &Lua,
    (regex, status, content, headers): (String, u16, String, Option<Table>),
) -> mlua::Result<ResponseMapEntry> {
    regex_lite::Regex::new(&regex).map_err(|e| {
        fail(
            lua,
            format!("newDOHResponseMapEntry: bad regex '{regex}': {e}"),
        )
    })?;
    if !(100..=599).contains(&status) {
        return Err(fail(
            lua,
            format!("newDOHResponseMapEntry: status {status}"),
        ));
    }
    let mut list = Vec::new();
    if let Some(h) = headers {
        for pair in h.pairs::<String, String>() {
            let (k, v) = pair?;
            lua_util::check_header(lua, "newDOHResponseMapEntry", &k, &v)?;
            list.push((k.to_ascii_lowercase(), v));
        }
    }
    Ok(ResponseMapEntry {
        regex,
        status,
        content,
        headers: list,
    })
}

/// `getter(n)`: the `n`th DoT (or, `doh`, DoH) frontend, from 0.
fn frontend_getter(
    lua: &Lua,
    env: &Env,
    getter: &'static str,
    doh: bool,
) -> mlua::Result<Function> {
    let st = env.state.clone();
    lua.create_function(move |lua, n: usize| {
        let c = st.borrow();
        let found = c
            .encrypted
            .iter()
            .filter(|l| of_family(l, doh))
            .nth(n)
            .map(|l| l.addr);
        match found {
            Some(addr) => Ok(Frontend {
                addr,
                state: st.clone(),
            }),
            None => Err(fail(lua, format!("{getter}({n}): no such frontend"))),
        }
    })
}

/// How many DoT (or, `doh`, DoH) frontends there are.
fn frontend_count(lua: &Lua, env: &Env, doh: bool) -> mlua::Result<Function> {
    let st = env.state.clone();
    lua.create_function(move |_, ()| {
        Ok(st
            .borrow()
            .encrypted
            .iter()
            .filter(|l| of_family(l, doh))
            .count())
    })
}

/// Whether `l` is a DoH frontend (`doh`) or a DoT one (not): DoQ
/// listeners are neither (dnsdist has `getDOQFrontend` for them).
fn of_family(l: &EncryptedListener, doh: bool) -> bool {
    match l.kind {
        EncryptedKind::Doh { .. } => doh,
        EncryptedKind::Dot => !doh,
        EncryptedKind::Doq { .. } => false,
    }
}

/// A TLS or DoH frontend as Lua sees it.
struct Frontend {
    addr: SocketAddr,
    state: Rc<RefCell<Config>>,
}

impl UserData for Frontend {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // rampart reloads every listener's files together: they are
        // usually the same files.
        m.add_method("reloadCertificates", |_, f, ()| {
            f.state.borrow_mut().tls_requests.reload += 1;
            Ok(())
        });
        m.add_method("rotateTicketsKey", |_, f, ()| {
            f.state.borrow_mut().tls_requests.rotate_tickets += 1;
            Ok(())
        });
        m.add_method("loadTicketsKeys", |_, f, file: String| {
            let mut c = f.state.borrow_mut();
            let base = c.path.parent().map(Path::to_path_buf).unwrap_or_default();
            let path = crate::resolve_existing(&base, &file);
            c.tls_requests.load_keys += 1;
            c.tls_requests.load_keys_from = Some((f.addr, path));
            Ok(())
        });
        m.add_method("getAddressAndPort", |_, f, ()| Ok(f.addr.to_string()));
        m.add_method("setResponsesMap", |lua, f, entries: Table| {
            let mut list = Vec::new();
            for e in entries.sequence_values::<mlua::UserDataRef<ResponseMapEntry>>() {
                list.push(e?.clone());
            }
            let mut c = f.state.borrow_mut();
            let doh = c.encrypted.iter_mut().find(|l| l.addr == f.addr);
            match doh.map(|l| &mut l.kind) {
                Some(EncryptedKind::Doh { responses, .. }) => {
                    *responses = list;
                    Ok(())
                }
                _ => Err(fail(lua, "setResponsesMap: not a DoH frontend")),
            }
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn listener(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    base: &Path,
    (func, addr, port): (&str, &str, u16),
    (certs, keys): (Value, Value),
    doh_paths: Option<Vec<String>>,
    opts: Option<Table>,
) -> mlua::Result<EncryptedListener> {
    let addr = crate::address::parse_addr_with_port(addr, port)
        .map_err(|e| fail(lua, format!("{func}: {e}")))?;
    let files = |v: Value, what: &str| -> mlua::Result<Vec<PathBuf>> {
        match v {
            Value::Nil => Ok(Vec::new()),
            v => Ok(crate::lua_util::strings(lua, v, what)?
                .iter()
                .map(|p| crate::resolve_existing(base, p))
                .collect()),
        }
    };
    let certs = files(certs, "a certificate file or a list of them")?;
    let keys = files(keys, "a key file or a list of them")?;
    if certs.len() != keys.len() || (certs.is_empty() && doh_paths.is_none()) {
        return Err(fail(
            lua,
            format!(
                "{func}: {} certificate files and {} key files: give one key per certificate",
                certs.len(),
                keys.len()
            ),
        ));
    }
    let mut l = EncryptedListener {
        addr,
        kind: EncryptedKind::Dot,
        certs,
        keys,
        tls13_only: false,
        session_tickets: true,
        ticket_keys: 5,
        ticket_key_file: None,
        ciphers: None,
        ciphers_tls13: None,
        key_log_file: None,
        ocsp_responses: Vec::new(),
        max_tcp_connections: crate::DEFAULT_MAX_TCP_CONNECTIONS,
        source: caller(lua),
    };
    let (mut exact_paths, mut headers, mut cache_control, mut server_tokens) =
        (true, Vec::new(), true, "rampart".to_string());
    let mut trust_forwarded_for = false;
    let mut notes = Vec::new();
    if let Some(opts) = opts {
        for pair in opts.pairs::<String, Value>() {
            let (k, v) = pair?;
            match k.as_str() {
                "minTLSVersion" => {
                    let v = v
                        .as_string()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default();
                    match v.as_str() {
                        "tls1.3" => l.tls13_only = true,
                        "tls1.2" => {}
                        "tls1.0" | "tls1.1" => notes.push(format!(
                            "{func}: minTLSVersion '{v}': TLS 1.0 and 1.1 are never offered, the minimum is TLS 1.2"
                        )),
                        other => {
                            return Err(fail(
                                lua,
                                format!("{func}: minTLSVersion '{other}': expected tls1.0 to tls1.3"),
                            ))
                        }
                    }
                }
                "sessionTickets" => l.session_tickets = option_bool(lua, func, &k, &v)?,
                "numberOfTicketsKeys" => {
                    l.ticket_keys = (option_u32(lua, func, &k, &v)? as usize).clamp(1, 100)
                }
                "maxConcurrentTCPConnections" => {
                    let n = option_u32(lua, func, &k, &v)? as usize;
                    l.max_tcp_connections = if n == 0 { usize::MAX } else { n };
                }
                "exactPathMatching" if doh_paths.is_some() => {
                    exact_paths = option_bool(lua, func, &k, &v)?
                }
                "sendCacheControlHeaders" if doh_paths.is_some() => {
                    cache_control = option_bool(lua, func, &k, &v)?
                }
                "trustForwardedForHeader" if doh_paths.is_some() => {
                    trust_forwarded_for = option_bool(lua, func, &k, &v)?
                }
                "serverTokens" if doh_paths.is_some() => {
                    server_tokens = v
                        .as_string()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default();
                    lua_util::check_header(lua, func, "server", &server_tokens)?;
                }
                "customResponseHeaders" if doh_paths.is_some() => {
                    let Value::Table(t) = v else {
                        return Err(fail(
                            lua,
                            format!("{func}: customResponseHeaders must be a table"),
                        ));
                    };
                    for pair in t.pairs::<String, String>() {
                        let (name, value) = pair?;
                        lua_util::check_header(lua, func, &name, &value)?;
                        headers.push((name.to_ascii_lowercase(), value));
                    }
                }
                // The TLS library's choice or its tuning, with nothing to
                // change here: rustls keeps no server-side session cache,
                // rotates its ticket keys itself, never renegotiates and
                // holds no buffers for idle connections.
                "provider"
                | "library"
                | "ticketsKeysRotationDelay"
                | "numberOfStoredSessions"
                | "preferServerCiphers"
                | "releaseBuffers"
                | "enableRenegotiation"
                | "reusePort"
                | "tcpFastOpenQueueSize"
                | "interface"
                | "cpus"
                | "idleTimeout"
                | "internalPipeBufferSize"
                | "sessionTimeout" => {}
                "ticketKeyFile" => match v.as_string() {
                    Some(p) => {
                        l.ticket_key_file =
                            Some(crate::resolve_existing(base, &p.to_string_lossy()))
                    }
                    None => return Err(fail(lua, format!("{func}: ticketKeyFile must be a path"))),
                },
                "ocspResponses" => {
                    let files = match v {
                        Value::Table(t) => t
                            .sequence_values::<String>()
                            .collect::<mlua::Result<Vec<_>>>()
                            .map_err(|_| {
                                fail(lua, format!("{func}: ocspResponses must list file paths"))
                            })?,
                        Value::String(s) => vec![s.to_string_lossy()],
                        _ => {
                            return Err(fail(
                                lua,
                                format!("{func}: ocspResponses must list file paths"),
                            ))
                        }
                    };
                    l.ocsp_responses = files
                        .iter()
                        .map(|f| crate::resolve_existing(base, f))
                        .collect();
                }
                "ciphers" | "ciphersTLS13" | "keyLogFile" => {
                    let Some(text) = v.as_string().map(|s| s.to_string_lossy()) else {
                        return Err(fail(lua, format!("{func}: {k} must be a string")));
                    };
                    match k.as_str() {
                        "ciphers" => l.ciphers = Some(text),
                        "ciphersTLS13" => l.ciphers_tls13 = Some(text),
                        _ => l.key_log_file = Some(crate::resolve(base, &text)),
                    }
                }
                other => notes.push(format!(
                    "{func}: option '{other}' is not supported, ignored"
                )),
            }
        }
    }
    if let Some(paths) = doh_paths {
        l.kind = EncryptedKind::Doh {
            paths,
            exact_paths,
            headers,
            cache_control,
            server_tokens,
            trust_forwarded_for,
            responses: Vec::new(),
        };
        if l.certs.is_empty() {
            // dnsdist's words, which its --check-config prints too.
            crate::output::emit(&format!(
                "No certificate provided for DoH endpoint {}, running in DNS over HTTP mode instead of DNS over HTTPS\n",
                l.addr
            ));
        }
    }
    let place = caller(lua);
    let mut c = st.borrow_mut();
    for n in notes {
        c.notes.push(format!("{place}: {n}"));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    /// The encrypted listeners and the certificate requests.
    fn listeners(c: &Config, printed: &str) -> String {
        format!("{:?} {:?} {printed}", c.encrypted, c.tls_requests)
    }

    #[test]
    fn every_tls_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let cases: &[Case] = &[
            (
                "addTLSLocal",
                "addTLSLocal('127.0.0.1:8853', 'cert.pem', 'key.pem', {minTLSVersion='tls1.3', numberOfTicketsKeys=3})",
                listeners,
                &[
                    "addr: 127.0.0.1:8853, kind: Dot",
                    "certs: [\"/etc/rampart/cert.pem\"], keys: [\"/etc/rampart/key.pem\"]",
                    "tls13_only: true",
                    "ticket_keys: 3",
                ],
            ),
            (
                "addDOHLocal",
                "addDOHLocal('127.0.0.1:8443', 'c.pem', 'k.pem', {'/q'}, {serverTokens='x', trustForwardedForHeader=true})",
                listeners,
                &[
                    "addr: 127.0.0.1:8443, kind: Doh { paths: [\"/q\"]",
                    "server_tokens: \"x\", trust_forwarded_for: true",
                    "certs: [\"/etc/rampart/c.pem\"]",
                ],
            ),
            (
                "addDOQLocal",
                "addDOQLocal('127.0.0.1:8853', 'c.pem', 'k.pem', {idleTimeout=9, maxInFlight=20, minTLSVersion='tls1.2'})
                 addTLSLocal('127.0.0.1:853', 'c.pem', 'k.pem') print('tls ' .. getTLSFrontendCount())",
                listeners,
                &[
                    "addr: 127.0.0.1:8853, kind: Doq { idle_timeout_secs: 9, max_in_flight: 20 }",
                    "tls13_only: true",
                    "tls 1\n",
                ],
            ),
            (
                "newDOHResponseMapEntry",
                "addDOHLocal('127.0.0.1:8053')
                 getDOHFrontend(0):setResponsesMap({newDOHResponseMapEntry('^/x$', 302, 'https://e.test/', {['X-A']='b'})})",
                listeners,
                &["responses: [ResponseMapEntry { regex: \"^/x$\", status: 302, content: \"https://e.test/\", headers: [(\"x-a\", \"b\")] }]"],
            ),
            (
                "reloadAllCertificates",
                "reloadAllCertificates()",
                listeners,
                &["reload: 1,"],
            ),
            (
                "getTLSContext",
                "addDOHLocal('127.0.0.1:8053') addTLSLocal('127.0.0.1:8853', 'c.pem', 'k.pem')
                 addTLSLocal('127.0.0.2', 'c.pem', 'k.pem') getTLSContext(1):loadTicketsKeys('t.key')",
                listeners,
                &["load_keys: 1, load_keys_from: Some((127.0.0.2:853, \"/etc/rampart/t.key\"))"],
            ),
            (
                "getTLSFrontend",
                "addDOHLocal('127.0.0.1:8053') addTLSLocal('127.0.0.1:8853', 'c.pem', 'k.pem')
                 getTLSFrontend(0):rotateTicketsKey() print('frontend ' .. getTLSFrontend(0):getAddressAndPort())",
                listeners,
                &["rotate_tickets: 1", "frontend 127.0.0.1:8853\n"],
            ),
            (
                "getDOHFrontend",
                "addTLSLocal('127.0.0.1:8853', 'c.pem', 'k.pem') addDOHLocal('127.0.0.1:8053') addDOHLocal('127.0.0.1:8054')
                 print('frontend ' .. getDOHFrontend(1):getAddressAndPort())",
                listeners,
                &["frontend 127.0.0.1:8054\n"],
            ),
            (
                "getTLSFrontendCount",
                "addTLSLocal('127.0.0.1:8853', 'c.pem', 'k.pem') addTLSLocal('127.0.0.2', 'c.pem', 'k.pem')
                 addDOHLocal('127.0.0.1:8053') print('count ' .. getTLSFrontendCount())",
                listeners,
                &["count 2\n"],
            ),
            (
                "getDOHFrontendCount",
                "addTLSLocal('127.0.0.1:8853', 'c.pem', 'k.pem') addTLSLocal('127.0.0.2', 'c.pem', 'k.pem')
                 addDOHLocal('127.0.0.1:8053') print('count ' .. getDOHFrontendCount())",
                listeners,
                &["count 1\n"],
            ),
        ];
        check_cases(FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    #[test]
    fn listeners_take_their_files_and_options() {
        let c = load(
            r#"
            addTLSLocal("127.0.0.1", "cert.pem", "key.pem", {minTLSVersion="tls1.3", sessionTickets=false, provider="openssl"})
            addDOHLocal("[::1]:8443", {"/a/ec.pem", "rsa.pem"}, {"/a/ec.key", "rsa.key"}, {"/dns-query", "/q"},
              {customResponseHeaders={["X-Any"]="1"}, exactPathMatching=false, sendCacheControlHeaders=false})
            addDOHLocal("127.0.0.1:8053")
            assert(getTLSFrontendCount() == 1 and getDOHFrontendCount() == 2)
            assert(getDOHFrontend(0):getAddressAndPort() == "[::1]:8443")
            getTLSContext(0):rotateTicketsKey()
            reloadAllCertificates()
        "#,
        )
        .unwrap();
        let dot = &c.encrypted[0];
        assert_eq!(dot.addr, "127.0.0.1:853".parse().unwrap());
        assert_eq!(dot.certs, vec![PathBuf::from("/etc/rampart/cert.pem")]);
        assert!(dot.tls13_only && !dot.session_tickets);
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        let doh = &c.encrypted[1];
        assert_eq!(
            doh.keys,
            vec![
                PathBuf::from("/a/ec.key"),
                PathBuf::from("/etc/rampart/rsa.key")
            ]
        );
        assert_eq!(
            doh.kind,
            EncryptedKind::Doh {
                paths: vec!["/dns-query".into(), "/q".into()],
                exact_paths: false,
                headers: vec![("x-any".into(), "1".into())],
                cache_control: false,
                server_tokens: "rampart".into(),
                trust_forwarded_for: false,
                responses: Vec::new(),
            }
        );
        assert!(c.encrypted[2].certs.is_empty());
        assert_eq!(
            c.tls_requests,
            TlsRequests {
                reload: 1,
                rotate_tickets: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn bad_listeners_name_the_line() {
        for (src, want) in [
            (
                "\naddTLSLocal('127.0.0.1')",
                "rampart.conf:2: addTLSLocal: 0 certificate files",
            ),
            (
                "\naddTLSLocal('127.0.0.1', {'a','b'}, 'k')",
                "2 certificate files and 1 key files",
            ),
            (
                "\naddTLSLocal('127.0.0.1', 'c', 'k', {minTLSVersion='tls9'})",
                "minTLSVersion",
            ),
            (
                "\naddDOHLocal('127.0.0.1', nil, nil, 'dns-query')",
                "must start with /",
            ),
            (
                "\ngetTLSFrontend(0)",
                "rampart.conf:2: getTLSFrontend(0): no such frontend",
            ),
            // Headers HTTP would refuse at answer time, where nothing
            // could say so.
            (
                "\naddDOHLocal('127.0.0.1', nil, nil, '/q', {customResponseHeaders={['x(y)']='1'}})",
                "rampart.conf:2: addDOHLocal: bad header 'x(y)': the name is not an HTTP token",
            ),
            (
                "\naddDOHLocal('127.0.0.1', nil, nil, '/q', {serverTokens='a\\0b'})",
                "rampart.conf:2: addDOHLocal: bad header 'server': a control character",
            ),
            (
                "\nnewDOHResponseMapEntry('^/x$', 200, 'ok', {['x-a']='b\\rc'})",
                "rampart.conf:2: newDOHResponseMapEntry: bad header 'x-a': a control character",
            ),
        ] {
            let e = load(src).unwrap_err();
            assert!(e.to_string().contains(want), "{src}: {e}");
        }
    }
}
