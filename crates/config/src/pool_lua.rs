//! Backends and pools from Lua: `newServer`, `getServer`, `rmServer`,
//! `showServers`, `getPool`, `showPools`, `setServerPolicy` with the
//! policy names as globals, `setServFailWhenNoServer`, `setUDPTimeout`,
//! `setMaxUDPOutstanding`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};
use pool::{Admin, Backend, HealthCheck, Policy};

use crate::lua_util::{self, setter, Env, Flag, Global};
use crate::{fail, output, Config};

/// A backend handed to Lua (`getServer(n)`, `newServer` results).
#[derive(Clone)]
pub struct LuaServer(pub Arc<Backend>);

impl UserData for LuaServer {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("setDown", |_, s, ()| {
            s.0.set_admin(Admin::Down);
            Ok(())
        });
        methods.add_method("setUp", |_, s, ()| {
            s.0.set_admin(Admin::Up);
            Ok(())
        });
        // setAuto(status): back to health checks, starting from `status`
        // when given (dnsdist's), else from the last known state.
        methods.add_method("setAuto", |_, s, status: Option<bool>| {
            if let Some(up) = status {
                s.0.set_healthy(up);
            }
            s.0.set_admin(Admin::Auto);
            Ok(())
        });
        methods.add_method("isUp", |_, s, ()| Ok(s.0.is_up()));
        methods.add_method("getName", |_, s, ()| Ok(s.0.name.clone()));
        methods.add_method("getNameWithAddr", |_, s, ()| {
            Ok(format!("{} ({})", s.0.name, s.0.addr))
        });
        methods.add_meta_method(MetaMethod::ToString, |_, s, ()| {
            Ok(format!("{} ({})", s.0.name, s.0.addr))
        });
    }
}

/// A server policy handed to Lua (the `firstAvailable` etc. globals).
#[derive(Clone)]
pub struct LuaPolicy(pub &'static str);

impl UserData for LuaPolicy {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |_, p, ()| Ok(p.0));
    }
}

/// `getPool(name)`.
#[derive(Clone)]
pub struct LuaPool {
    name: String,
    state: Rc<RefCell<Config>>,
}

impl UserData for LuaPool {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("getServers", |_, p, ()| {
            let c = p.state.borrow();
            Ok(c.pools
                .members(&p.name)
                .map(|b| LuaServer(b.clone()))
                .collect::<Vec<_>>())
        });
        methods.add_method("getName", |_, p, ()| Ok(p.name.clone()));
        methods.add_method("setCache", |lua, p, cache: mlua::AnyUserData| {
            let c = cache
                .borrow::<LuaCache>()
                .map_err(|_| fail(lua, "setCache takes newPacketCache(...)"))?;
            p.state
                .borrow_mut()
                .pools
                .caches
                .insert(p.name.clone(), c.0.clone());
            Ok(())
        });
        // With no server up, still key the cache by the client's subnet
        // (answers of useClientSubnet servers are cached that way).
        methods.add_method("setECS", |_, p, on: bool| {
            let mut c = p.state.borrow_mut();
            if on {
                c.pools.ecs_pools.insert(p.name.clone());
            } else {
                c.pools.ecs_pools.remove(&p.name);
            }
            Ok(())
        });
        methods.add_method("getECS", |_, p, ()| {
            Ok(p.state.borrow().pools.ecs_pools.contains(&p.name))
        });
        methods.add_method("unsetCache", |_, p, ()| {
            p.state.borrow_mut().pools.caches.remove(&p.name);
            Ok(())
        });
        methods.add_method("getCache", |_, p, ()| {
            Ok(p.state
                .borrow()
                .pools
                .caches
                .get(&p.name)
                .map(|c| LuaCache(c.clone())))
        });
    }
}

/// `newPacketCache(...)` handed to Lua.
#[derive(Clone)]
pub struct LuaCache(pub Arc<pool::PacketCache>);

impl UserData for LuaCache {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("printStats", |_, c, ()| {
            output::emit(&c.0.stats());
            Ok(())
        });
        methods.add_method("expunge", |_, c, keep: Option<usize>| {
            Ok(c.0.expunge(keep.unwrap_or(0)))
        });
        methods.add_method(
            "expungeByName",
            |lua, c, (name, qtype, suffix): (Value, Option<u16>, Option<bool>)| {
                let name = crate::lua_util::strings(lua, name, "a name")?;
                let [name] = name.as_slice() else {
                    return Err(fail(lua, "expungeByName takes one name"));
                };
                let mut lower = [0u8; wire::name::MAX_NAME_LEN];
                let wire = shield::suffix::parse_name(name).map_err(|e| fail(lua, e))?;
                let lname = wire::name::to_lowercase(&wire, &mut lower);
                // DNSQType.ANY, dnsdist's default, means every type.
                let qtype = qtype.filter(|&t| t != wire::types::rtype::ANY);
                Ok(c.0.expunge_name(lname, qtype, suffix.unwrap_or(false)))
            },
        );
        methods.add_method("getStats", |lua, c, ()| {
            let t = lua.create_table()?;
            for (name, n) in c.0.counters() {
                t.set(name, n)?;
            }
            Ok(t)
        });
        methods.add_method("getEntriesCount", |_, c, ()| Ok(c.0.len()));
        methods.add_meta_method(MetaMethod::ToString, |_, c, ()| {
            Ok(format!("packet cache ({} entries)", c.0.len()))
        });
    }
}

/// The header a `checkFunction` may change (`dh:setCD(true)`, ...).
#[derive(Clone)]
struct LuaCheckHeader(Rc<std::cell::Cell<u16>>);

impl UserData for LuaCheckHeader {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        for (name, bit) in [("RD", 0x0100u16), ("CD", 0x0010)] {
            methods.add_method(format!("set{name}"), move |_, h, on: bool| {
                let f = h.0.get();
                h.0.set(if on { f | bit } else { f & !bit });
                Ok(())
            });
            methods.add_method(format!("get{name}"), move |_, h, ()| {
                Ok(h.0.get() & bit != 0)
            });
        }
    }
}

/// Runs a `checkFunction` once, at load: rampart's health checks never
/// enter Lua, so the query the function makes from the configured name,
/// type and class (and the header flags it sets) is the check query from
/// then on. A function that returns something different each call (a
/// random name) gets its first answer used every time.
fn apply_check_function(
    lua: &Lua,
    f: &mlua::Function,
    check: &mut HealthCheck,
) -> mlua::Result<()> {
    let name = crate::lua_util::LuaDnsName::from_wire(&check.name);
    let header = LuaCheckHeader(Rc::new(std::cell::Cell::new(check.flags)));
    let (name, qtype, qclass): (Value, u16, u16) =
        f.call((name, check.qtype, check.qclass, header.clone()))?;
    let name = crate::lua_util::strings(lua, name, "a name from checkFunction")?;
    let [name] = name.as_slice() else {
        return Err(fail(lua, "newServer: checkFunction must return one name"));
    };
    check.name = shield::suffix::parse_name(name).map_err(|e| fail(lua, e))?;
    check.qtype = qtype;
    check.qclass = qclass;
    check.flags = header.0.get();
    Ok(())
}

/// A backend from `newServer`'s argument; options rampart does not know
/// are noted in `notes`.
fn backend_from(
    lua: &Lua,
    v: Value,
    base: &std::path::Path,
    notes: &mut Vec<String>,
) -> mlua::Result<Backend> {
    let (addr_text, opts) = match v {
        Value::String(s) => (s.to_str()?.to_string(), None),
        Value::Table(t) => {
            let a: Option<String> = t.get("address")?;
            (
                a.ok_or_else(|| fail(lua, "newServer{…} needs an address"))?,
                Some(t),
            )
        }
        other => {
            return Err(fail(
                lua,
                format!(
                    "newServer takes an address or a table, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    let addr = crate::parse_listen_addr(&addr_text).map_err(|e| fail(lua, e))?;
    let mut name = String::new();
    let mut pools = vec![String::new()];
    let (mut weight, mut order) = (1u32, 1u32);
    let mut check = HealthCheck::default();
    let mut tcp_only = false;
    let mut use_client_subnet = false;
    let mut disable_zero_scope = false;
    let mut mode = String::from("auto");
    let mut lazy = pool::LazyCheck::default();
    let mut check_function = None;
    // DoT/DoH: `tls=` names a library (rampart uses rustls whatever it
    // says); the rest only matter with it.
    let mut tls = false;
    let mut tls_settings = pool::tls_client::ClientSettings::default();
    let mut doh_path = None;
    let mut add_x_forwarded = false;
    if let Some(t) = opts {
        for pair in t.pairs::<String, Value>() {
            let (k, v) = pair?;
            let int = |v: &Value| -> mlua::Result<u64> {
                crate::lua_util::option_u32(lua, "newServer", &k, v).map(u64::from)
            };
            let flag = |v: &Value| crate::lua_util::option_bool(lua, "newServer", &k, v);
            let text = |v: &Value| {
                v.as_string()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_default()
            };
            match k.as_str() {
                "address" => {}
                "name" => {
                    name = String::from_utf8_lossy(
                        &v.as_string()
                            .map(|s| s.as_bytes().to_vec())
                            .unwrap_or_default(),
                    )
                    .into_owned()
                }
                "pool" => {
                    pools = crate::lua_util::strings(lua, v, "a pool name or a list of them")?
                }
                "weight" => weight = int(&v)? as u32,
                "order" => order = int(&v)? as u32,
                "checkName" => {
                    let n = v
                        .as_string()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default();
                    check.name = shield::suffix::parse_name(&n).map_err(|e| fail(lua, e))?;
                }
                "checkType" => {
                    let t = v
                        .as_string()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default();
                    check.qtype = wire::types::rtype_from_name(&t)
                        .ok_or_else(|| fail(lua, format!("unknown checkType '{t}'")))?;
                }
                "checkClass" => {
                    check.qclass = u16::try_from(int(&v)?)
                        .map_err(|_| fail(lua, "newServer: checkClass must be 0 to 65535"))?
                }
                "checkInterval" => check.interval_ms = int(&v)? * 1000,
                "checkTimeout" => check.timeout_ms = int(&v)?,
                "maxCheckFailures" => check.max_failures = int(&v)?.max(1) as u32,
                "rise" => check.rise = int(&v)?.max(1) as u32,
                "mustResolve" => check.must_resolve = flag(&v)?,
                "tcpOnly" => tcp_only = flag(&v)?,
                "useClientSubnet" => use_client_subnet = flag(&v)?,
                "tls" => tls = !text(&v).is_empty(),
                "subjectName" => tls_settings.server_name = Some(text(&v)),
                "subjectAddr" => tls_settings.server_name = Some(text(&v)),
                "validateCertificates" => tls_settings.validate = flag(&v)?,
                "caStore" => tls_settings.ca_file = Some(crate::resolve_existing(base, &text(&v))),
                "dohPath" => doh_path = Some(text(&v)).filter(|p| !p.is_empty()),
                // rustls has its own cipher choice and no ticket cache
                // to size; accepted as dnsdist's.
                "ciphers"
                | "ciphersTLS13"
                | "maxInFlight"
                | "releaseBuffers"
                | "enableRenegotiation"
                | "numberOfStoredSessions" => {}
                "disableZeroScope" => disable_zero_scope = flag(&v)?,
                "addXForwardedHeaders" => add_x_forwarded = flag(&v)?,
                "healthCheckMode" => {
                    mode = v
                        .as_string()
                        .map(|s| s.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_default();
                    if !matches!(mode.as_str(), "auto" | "lazy" | "up" | "down") {
                        return Err(fail(
                            lua,
                            format!("newServer: healthCheckMode '{mode}' is not one of auto, lazy, up, down"),
                        ));
                    }
                }
                "lazyHealthCheckSampleSize" => lazy.sample_size = int(&v)?.max(1) as usize,
                "lazyHealthCheckMinSampleCount" => lazy.min_samples = int(&v)? as usize,
                "lazyHealthCheckThreshold" => lazy.threshold_pct = int(&v)?.min(100) as usize,
                "lazyHealthCheckFailedInterval" => lazy.failed_interval_ms = int(&v)? * 1000,
                "lazyHealthCheckUseExponentialBackOff" => lazy.backoff = flag(&v)?,
                "lazyHealthCheckMaxBackOff" => lazy.max_backoff_ms = int(&v)? * 1000,
                "lazyHealthCheckMode" => {
                    let m = v
                        .as_string()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default();
                    lazy.failures = match m.as_str() {
                        "TimeoutOnly" => pool::LazyFailures::TimeoutOnly,
                        "TimeoutOrServFail" => pool::LazyFailures::TimeoutOrServFail,
                        _ => {
                            return Err(fail(
                                lua,
                                format!("newServer: lazyHealthCheckMode '{m}' is not TimeoutOnly or TimeoutOrServFail"),
                            ))
                        }
                    };
                }
                "checkFunction" => match v {
                    Value::Function(f) => check_function = Some(f),
                    other => {
                        return Err(fail(
                            lua,
                            format!(
                                "newServer: checkFunction must be a function, got {}",
                                other.type_name()
                            ),
                        ))
                    }
                },
                other => notes.push(format!(
                    "{}: newServer: option '{other}' is not supported by rampart yet; ignored",
                    crate::caller(lua)
                )),
            }
        }
    }
    if name.is_empty() {
        // dnsdist names unnamed servers by address.
        name = addr.to_string();
    }
    if let Some(f) = check_function {
        apply_check_function(lua, &f, &mut check)?;
    }
    if mode == "lazy" {
        check.lazy = Some(lazy);
    }
    let mut b = Backend::new(name, addr, pools, weight, order, check);
    b.tcp_only = tcp_only;
    if tls || doh_path.is_some() {
        if doh_path.is_some() {
            tls_settings.alpn = vec![b"h2".to_vec()];
        }
        let client = pool::tls_client::TlsClient::new(tls_settings, addr.ip())
            .map_err(|e| fail(lua, format!("newServer: {e}")))?;
        b.tls = Some(pool::BackendTls {
            client,
            doh_path,
            add_x_forwarded,
        });
        // As dnsdist: a TLS backend is TCP-only; UDP clients' queries
        // go over its TLS sessions too (net::forward::forward_over_stream).
        b.tcp_only = true;
    }
    b.use_client_subnet = use_client_subnet;
    b.disable_zero_scope = disable_zero_scope;
    match mode.as_str() {
        "up" => b.set_admin(pool::Admin::Up),
        "down" => b.set_admin(pool::Admin::Down),
        _ => {}
    }
    Ok(b)
}

/// Whether the config is being loaded to serve (not checked).
fn serving(lua: &Lua) -> bool {
    lua.app_data_ref::<shield::querylog::OpenMode>()
        .is_some_and(|m| *m == shield::querylog::OpenMode::Serve)
}

/// Registers the backend and pool functions.
pub fn register(
    lua: &Lua,
    state: &Rc<RefCell<Config>>,
    base: &std::path::Path,
) -> mlua::Result<()> {
    let g = lua.globals();
    for name in [
        "leastOutstanding",
        "firstAvailable",
        "roundrobin",
        "wrandom",
        "whashed",
        "chashed",
    ] {
        g.set(
            name,
            LuaPolicy(
                Policy::by_name(name)
                    .map(|p| p.name())
                    .unwrap_or("leastOutstanding"),
            ),
        )?;
    }
    let env = Env::new(state, base);
    lua_util::register_table(lua, &env, FUNCTIONS)?;
    lua_util::register_flags(lua, &env, FLAGS)
}

/// The true/false settings of backends and pools.
const FLAGS: &[Flag] = &[
    ("setSlowBackendPolicy", |c, on| c.pools.avoid_slow = on),
    ("setECSOverride", |c, on| c.pools.ecs.replace = on),
    ("setRoundRobinFailOnNoServer", |c, on| {
        c.pools.roundrobin_fail_on_no_server = on
    }),
    ("setServFailWhenNoServer", |c, on| {
        c.pools.servfail_when_no_server = on
    }),
];

/// The backend, pool and cache functions and settings.
const FUNCTIONS: &[Global] = &[
    ("newServer", |lua, env| {
        let st = env.state.clone();
        let base = env.base.clone();
        lua.create_function(move |lua, v: Value| {
            let mut notes = Vec::new();
            let b = Arc::new(backend_from(lua, v, &base, &mut notes)?);
            st.borrow_mut().notes.append(&mut notes);
            // As dnsdist: said when serving, not by --check-config.
            if serving(lua) {
                output::emit(&format!("Added downstream server {}\n", b.addr));
            }
            st.borrow_mut().pools.backends.push(b.clone());
            Ok(LuaServer(b))
        })
    }),
    ("getServer", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, n: usize| {
            let c = st.borrow();
            c.pools
                .backends
                .get(n)
                .map(|b| LuaServer(b.clone()))
                .ok_or_else(|| {
                    fail(
                        lua,
                        format!("no server {n}: there are {}", c.pools.backends.len()),
                    )
                })
        })
    }),
    ("getServers", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, ()| {
            Ok(st
                .borrow()
                .pools
                .backends
                .iter()
                .map(|b| LuaServer(b.clone()))
                .collect::<Vec<_>>())
        })
    }),
    ("rmServer", |lua, env| setter(lua, env, rm_server)),
    ("showServers", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, ()| {
            output::emit(&st.borrow().pools.show_servers());
            Ok(())
        })
    }),
    ("showPools", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, ()| {
            output::emit(&show_pools(&st.borrow()));
            Ok(())
        })
    }),
    ("getPool", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, name: String| {
            Ok(LuaPool {
                name,
                state: st.clone(),
            })
        })
    }),
    ("setServerPolicy", |lua, env| {
        setter(lua, env, |lua, c, v: Value| {
            let name = match v {
                Value::UserData(ud) => ud
                    .borrow::<LuaPolicy>()
                    .map(|p| p.0)
                    .map_err(|_| fail(lua, "expected a policy"))?,
                other => {
                    return Err(fail(
                        lua,
                        format!(
                            "expected a policy such as firstAvailable, got {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            c.pools.policy = Policy::by_name(name).unwrap_or_default();
            Ok(())
        })
    }),
    ("newPacketCache", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, (n, opts): (usize, Option<mlua::Table>)| {
            let mut notes = Vec::new();
            let cache = packet_cache(lua, n, opts, &mut notes);
            st.borrow_mut().notes.append(&mut notes);
            cache
        })
    }),
    ("setECSSourcePrefixV4", |lua, env| {
        setter(lua, env, |lua, c, bits: u8| {
            if bits > 32 {
                return Err(fail(lua, "setECSSourcePrefixV4: at most 32 bits"));
            }
            c.pools.ecs.v4_prefix = bits;
            Ok(())
        })
    }),
    ("setECSSourcePrefixV6", |lua, env| {
        setter(lua, env, |lua, c, bits: u8| {
            if bits > 128 {
                return Err(fail(lua, "setECSSourcePrefixV6: at most 128 bits"));
            }
            c.pools.ecs.v6_prefix = bits;
            Ok(())
        })
    }),
    ("setCacheCleaningDelay", |lua, env| {
        setter(lua, env, |_, c, secs: u32| {
            c.pools.cache_cleaning_delay = secs;
            Ok(())
        })
    }),
    ("setCacheCleaningPercentage", |lua, env| {
        setter(lua, env, |lua, c, pct: u8| {
            if pct > 100 {
                return Err(fail(lua, "setCacheCleaningPercentage: 0 to 100"));
            }
            c.pools.cache_cleaning_percent = pct;
            Ok(())
        })
    }),
    ("setStaleCacheEntriesTTL", |lua, env| {
        setter(lua, env, |_, c, ttl: u32| {
            c.pools.stale_ttl = ttl;
            Ok(())
        })
    }),
    ("setUDPTimeout", |lua, env| {
        setter(lua, env, |lua, c, secs: f64| {
            if !(secs > 0.0 && secs <= 60.0) {
                return Err(fail(
                    lua,
                    format!("UDP timeout {secs} out of range: expected 0 to 60 seconds"),
                ));
            }
            c.udp_timeout = Duration::from_secs_f64(secs);
            Ok(())
        })
    }),
    ("setMaxUDPOutstanding", |lua, env| {
        setter(lua, env, |lua, c, n: i64| {
            if !(1..=65535).contains(&n) {
                return Err(fail(
                    lua,
                    format!("setMaxUDPOutstanding({n}): expected 1 to 65535 queries"),
                ));
            }
            // Rounded up to a power of two, at least 16: the table's
            // entries are found by the low bits of the query ID.
            c.udp_outstanding = (n as usize).next_power_of_two().max(16);
            Ok(())
        })
    }),
];

/// `rmServer(n or server)`.
fn rm_server(lua: &Lua, c: &mut Config, v: Value) -> mlua::Result<()> {
    let pos = match v {
        Value::Integer(n) if n >= 0 && (n as usize) < c.pools.backends.len() => n as usize,
        Value::UserData(ud) => {
            let s = ud
                .borrow::<LuaServer>()
                .map_err(|_| fail(lua, "rmServer takes a number or a server"))?;
            c.pools
                .backends
                .iter()
                .position(|b| Arc::ptr_eq(b, &s.0))
                .ok_or_else(|| fail(lua, "that server is not configured"))?
        }
        _ => return Err(fail(lua, "rmServer takes a server number or object")),
    };
    c.pools.backends.remove(pos);
    Ok(())
}

/// `showPools()` output: each pool, its policy and its servers.
fn show_pools(c: &Config) -> String {
    let mut out = format!("{:<20} {:<20} {}\n", "Name", "Policy", "Servers");
    for (name, members) in c.pools.by_pool() {
        let list: Vec<String> = members.iter().map(|b| b.name.clone()).collect();
        out.push_str(&format!(
            "{:<20} {:<20} {}\n",
            name,
            c.pools.policy.name(),
            list.join(", ")
        ));
    }
    out
}

/// `newPacketCache(entries, options)`; unknown options are noted.
fn packet_cache(
    lua: &Lua,
    n: usize,
    opts: Option<mlua::Table>,
    notes: &mut Vec<String>,
) -> mlua::Result<LuaCache> {
    let mut o = pool::CacheOptions {
        max_entries: n.max(1),
        ..pool::CacheOptions::default()
    };
    if let Some(t) = opts {
        for pair in t.pairs::<String, Value>() {
            let (k, v) = pair?;
            let num = || -> mlua::Result<u64> {
                crate::lua_util::option_u32(lua, "newPacketCache", &k, &v).map(u64::from)
            };
            let flag = || crate::lua_util::option_bool(lua, "newPacketCache", &k, &v);
            match k.as_str() {
                "maxTTL" => o.max_ttl = num()? as u32,
                "minTTL" => o.min_ttl = num()? as u32,
                "temporaryFailureTTL" => o.temporary_failure_ttl = num()? as u32,
                "numberOfShards" => o.shards = (num()? as usize).clamp(1, 1024),
                "maxNegativeTTL" => o.max_negative_ttl = num()? as u32,
                "dontAge" => o.dont_age = flag()?,
                "cookieHashing" => o.cookie_hashing = flag()?,
                "keepStaleData" => o.keep_stale_data = flag()?,
                "skipOptions" => {
                    let Value::Table(codes) = &v else {
                        return Err(fail(
                            lua,
                            "newPacketCache: skipOptions takes a list of EDNS option codes",
                        ));
                    };
                    o.skip_options = codes
                        .sequence_values::<u16>()
                        .collect::<mlua::Result<_>>()
                        .map_err(|e| {
                            fail(
                                lua,
                                format!("newPacketCache: skipOptions: an EDNS option code is 0 to 65535: {e}"),
                            )
                        })?;
                }
                // How long stale answers may be served is global
                // (setStaleCacheEntriesTTL); this is their TTL.
                "staleTTL" => o.stale_ttl = num()? as u32,
                // How dnsdist takes its insert lock: rampart's
                // inserts take their shard's lock either way, and
                // the answers are the same.
                "deferrableInsertLock" => {}
                // dnsdist also keeps the ECS option to tell apart
                // two queries whose 32-bit hash collides; rampart's
                // key holds the options' 64-bit digest, so that
                // part has nothing to do. What it turns on here:
                // scope-zero answers kept for every client.
                "parseECS" => o.parse_ecs = flag()?,
                other => notes.push(format!(
                    "{}: newPacketCache: option '{other}' is unknown; ignored",
                    crate::caller(lua)
                )),
            }
        }
    }
    Ok(LuaCache(Arc::new(pool::PacketCache::new(o))))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::lua_util::table_test::{check_cases, lua, Case};

    /// Each policy global is the object setServerPolicy takes, and a
    /// config calling setServerPolicy with it ends with that policy (each
    /// from a config that first set another, so none passes by being
    /// the default).
    #[test]
    fn every_policy_global_is_its_policy() {
        let policies = [
            "leastOutstanding",
            "firstAvailable",
            "roundrobin",
            "wrandom",
            "whashed",
            "chashed",
        ];
        let state = lua("");
        for pair in state.globals().pairs::<String, mlua::Value>() {
            let (name, v) = pair.unwrap();
            if let mlua::Value::UserData(ud) = v {
                if ud.is::<super::LuaPolicy>() {
                    assert!(
                        policies.contains(&name.as_str()),
                        "{name}: a policy with no case"
                    );
                }
            }
        }
        for (i, name) in policies.iter().enumerate() {
            let other = policies[(i + 1) % policies.len()];
            let c = load(&format!("setServerPolicy({other}) setServerPolicy({name})"));
            assert_eq!(c.pools.policy.name(), *name);
            assert_eq!(
                state
                    .load(format!("return tostring({name})"))
                    .eval::<String>()
                    .unwrap(),
                *name
            );
        }
    }

    #[test]
    fn every_pool_function_takes_effect() {
        let cases: &[Case] = &[
            (
                "newServer",
                "newServer{address='192.0.2.1:5300', pool='abuse', name='b1'}",
                |c, _| format!("{:?}", c.pools.backends),
                &["name: \"b1\"", "192.0.2.1:5300", "pools: [\"abuse\"]"],
            ),
            (
                "getServer",
                "newServer{address='192.0.2.1'} getServer(0):setDown()",
                |c, _| format!("{:?}", c.pools.backends.iter().map(|b| b.admin()).collect::<Vec<_>>()),
                &["[Down]"],
            ),
            (
                "getServers",
                "newServer{address='192.0.2.1'} newServer{address='192.0.2.2'} getServers()[2]:setDown()",
                |c, _| format!("{:?}", c.pools.backends.iter().map(|b| b.admin()).collect::<Vec<_>>()),
                &["[Auto, Down]"],
            ),
            (
                "rmServer",
                "newServer{address='192.0.2.1'} newServer{address='192.0.2.2'} rmServer(0)",
                |c, _| format!("{:?}", c.pools.backends.iter().map(|b| b.addr).collect::<Vec<_>>()),
                &["[192.0.2.2:53]"],
            ),
            (
                "showServers",
                "newServer{address='192.0.2.1', name='b1'} showServers()",
                |_, out| out.to_string(),
                &["b1", "192.0.2.1:53"],
            ),
            (
                "showPools",
                "newServer{address='192.0.2.1', pool='abuse', name='b1'} showPools()",
                |_, out| out.to_string(),
                &["abuse", "b1"],
            ),
            (
                "getPool",
                "getPool('abuse'):setECS(true)",
                |c, _| format!("{:?}", c.pools.ecs_pools),
                &["\"abuse\""],
            ),
            (
                "setServerPolicy",
                "setServerPolicy(firstAvailable)",
                |c, _| c.pools.policy.name().to_string(),
                &["firstAvailable"],
            ),
            (
                "newPacketCache",
                "getPool(''):setCache(newPacketCache(500, {maxTTL=60, bogus=1}))",
                |c, _| format!("{:?} {:?}", c.pools.caches.get("").map(|p| &p.options), c.notes),
                &["max_entries: 500", "max_ttl: 60", "option 'bogus' is unknown"],
            ),
            (
                "setECSSourcePrefixV4",
                "setECSSourcePrefixV4(20)",
                |c, _| format!("{:?}", c.pools.ecs),
                &["v4_prefix: 20"],
            ),
            (
                "setECSSourcePrefixV6",
                "setECSSourcePrefixV6(40)",
                |c, _| format!("{:?}", c.pools.ecs),
                &["v6_prefix: 40"],
            ),
            (
                "setCacheCleaningDelay",
                "setCacheCleaningDelay(30)",
                |c, _| c.pools.cache_cleaning_delay.to_string(),
                &["30"],
            ),
            (
                "setCacheCleaningPercentage",
                "setCacheCleaningPercentage(40)",
                |c, _| c.pools.cache_cleaning_percent.to_string(),
                &["40"],
            ),
            (
                "setStaleCacheEntriesTTL",
                "setStaleCacheEntriesTTL(90)",
                |c, _| c.pools.stale_ttl.to_string(),
                &["90"],
            ),
            (
                "setUDPTimeout",
                "setUDPTimeout(1.5)",
                |c, _| format!("{:?}", c.udp_timeout),
                &["1.5s"],
            ),
            (
                "setMaxUDPOutstanding",
                "setMaxUDPOutstanding(1000)",
                |c, _| c.udp_outstanding.to_string(),
                &["1024"],
            ),
        ];
        check_cases(super::FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    #[test]
    fn every_pool_flag_takes_effect() {
        let cases: &[Case] = &[
            (
                "setSlowBackendPolicy",
                "setSlowBackendPolicy(true)",
                |c, _| c.pools.avoid_slow.to_string(),
                &["true"],
            ),
            (
                "setECSOverride",
                "setECSOverride(true)",
                |c, _| c.pools.ecs.replace.to_string(),
                &["true"],
            ),
            (
                "setRoundRobinFailOnNoServer",
                "setRoundRobinFailOnNoServer(true)",
                |c, _| c.pools.roundrobin_fail_on_no_server.to_string(),
                &["true"],
            ),
            (
                "setServFailWhenNoServer",
                "setServFailWhenNoServer(true)",
                |c, _| c.pools.servfail_when_no_server.to_string(),
                &["true"],
            ),
        ];
        check_cases(super::FLAGS.iter().map(|(n, _)| *n), cases);
    }

    fn load(src: &str) -> crate::Config {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf")).unwrap()
    }

    #[test]
    fn a_bad_skip_options_code_names_the_option_and_line() {
        let err = crate::load_str(
            "\nnewPacketCache(100, {skipOptions={8, 70000}})",
            Path::new("/x.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("/x.conf:2") && err.contains("newPacketCache: skipOptions"),
            "{err}"
        );
    }

    #[test]
    fn udp_timeout_and_outstanding_queries() {
        let c = load("setUDPTimeout(1.5)\nsetMaxUDPOutstanding(1000)\n");
        assert_eq!(c.udp_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(c.udp_outstanding, 1024);
        assert_eq!(load("").udp_outstanding, 65536);
        assert_eq!(load("setMaxUDPOutstanding(3)").udp_outstanding, 16);
        let err = crate::load_str("\nsetMaxUDPOutstanding(70000)", Path::new("/x.conf"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/x.conf:2") && err.contains("1 to 65535"),
            "{err}"
        );
    }

    #[test]
    fn packet_cache_options_and_cleaning_settings() {
        let c = load(
            r#"
            pc = newPacketCache(100, {maxNegativeTTL=30, cookieHashing=true, skipOptions={8, 65001},
                                      keepStaleData=true, deferrableInsertLock=true, parseECS=true,
                                      ecsParsing=false})
            getPool(""):setCache(pc)
            setCacheCleaningDelay(5)
            setCacheCleaningPercentage(50)
            local stats = pc:getStats()
            assert(stats.entries == 0 and stats.maxEntries == 100 and stats.hits == 0)
            assert(pc:expungeByName(newDNSName("a.test"), DNSQType.A, true) == 0)
        "#,
        );
        let o = &c.pools.caches[""].options;
        assert!(o.parse_ecs);
        assert_eq!(o.max_negative_ttl, 30);
        assert!(o.cookie_hashing && o.keep_stale_data);
        assert_eq!(o.skip_options, [8, 65001]);
        assert_eq!(
            (c.pools.cache_cleaning_delay, c.pools.cache_cleaning_percent),
            (5, 50)
        );
        // Not a dnsdist option: noted, not fatal.
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].contains("option 'ecsParsing' is unknown"));
    }

    #[test]
    fn pool_ecs_and_zero_scope_settings() {
        let c = load(
            r#"
            newServer{address="127.0.0.1:5300", useClientSubnet=true, disableZeroScope=true}
            assert(not getPool(""):getECS())
            getPool(""):setECS(true)
            assert(getPool(""):getECS())
            addAction(AllRule(), SetECSAction("192.0.2.77/24", "2001:db8::/48"))
        "#,
        );
        assert!(c.pools.ecs_pools.contains(""));
        assert!(c.pools.backends[0].use_client_subnet && c.pools.backends[0].disable_zero_scope);
        assert_eq!(
            c.shield.rules.rules()[0].action.describe(),
            "set ECS to 192.0.2.0/24 / 2001:db8::/48"
        );
    }

    #[test]
    fn check_function_makes_the_check_query_once() {
        let c = load(
            r#"
            calls = 0
            function check(qname, qtype, qclass, dh)
              calls = calls + 1
              assert(qname:toString() == "powerdns.org.")
              dh:setCD(true)
              dh:setRD(false)
              return newDNSName("powerdns.com."), DNSQType.AAAA, qclass
            end
            newServer{address="127.0.0.1:5300", checkName="powerdns.org.", checkFunction=check}
            assert(calls == 1)
        "#,
        );
        let check = &c.pools.backends[0].check;
        assert_eq!(check.name, b"\x08powerdns\x03com\x00");
        assert_eq!((check.qtype, check.qclass, check.flags), (28, 1, 0x0010));
    }

    #[test]
    fn unknown_server_options_are_notes_not_output() {
        let c = load("newServer{address=\"127.0.0.1:5300\", qps=10}\n");
        assert!(
            c.notes[0].contains("newServer: option 'qps'"),
            "{:?}",
            c.notes
        );
    }
}
