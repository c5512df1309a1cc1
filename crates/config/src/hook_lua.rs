//! Lua in the query path: `LuaAction`, `LuaRule`, `LuaResponseAction`.
//!
//! A Lua state serves one thread at a time, and dnsdist's single global
//! lock around it is what rampart must not have. So each worker thread
//! that meets a Lua rule builds a state of its own, once, by running the
//! config again exactly as it was loaded: the n-th `LuaAction`/`LuaRule`/
//! `LuaResponseAction` call of that run makes the n-th hook, so a hook
//! finds its function by number. A rule chain without Lua rules never
//! gets here.
//!
//! What follows from one state per thread: the config's globals are per
//! thread (a value `maintenance()` sets in the control thread is not seen
//! by the rules), and top-level code with side effects (a `print`) runs
//! once more per worker. The rules' `dq` carries a copy of what the
//! query path knows; what the function changes on it (tags, trailing
//! data, a spoof) is handed back to the rules.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Table, UserData, UserDataFields, UserDataMethods};
use shield::action::{Action, SpoofSettings};
use shield::hook::{HookDecision, HookVerdict, QueryHook};
use shield::QueryInfo;

use crate::dynblock_lua::{NO_OP, NO_RECURSE};
use crate::lua_util::LuaDnsName;

/// The config a worker's Lua state is built from, and the runtime (rings,
/// counters, dynamic blocks) its functions see: the process's own.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    pub runtime: Arc<shield::Runtime>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({})", self.path.display())
    }
}

/// Where the hooks' functions are kept in a Lua state.
const REGISTRY: &str = "rampart.hooks";

/// Which Lua function a hook calls.
#[derive(Debug)]
struct LuaHook {
    /// Its number in the config's run (from 1).
    index: usize,
    /// `LuaAction`, `LuaRule` or `LuaResponseAction`, for messages.
    kind: &'static str,
    source: Arc<Source>,
    /// A failure is logged once per hook, not per query.
    failed: AtomicBool,
}

thread_local! {
    /// This thread's Lua state, and the config it was built from.
    static WORKER: RefCell<Option<(Arc<Source>, Lua)>> = const { RefCell::new(None) };
}

/// Runs the config again for a worker thread.
fn build(source: &Source) -> Result<Lua, String> {
    crate::load_with_runtime(
        &source.text,
        &source.path,
        &source.runtime,
        None,
        shield::querylog::OpenMode::Check,
    )
    .map(|(_, lua, _)| lua)
    .map_err(|e| e.0)
}

impl LuaHook {
    /// Calls the hook's function with a `dq` made from `q` (a `dr` with
    /// the `answer` a response hook is given); `None` (after logging
    /// once) when that fails.
    fn call(&self, q: &QueryInfo, answer: Option<&[u8]>) -> Option<(MultiValue, DqResult)> {
        WORKER.with(|w| {
            let mut w = w.borrow_mut();
            if !w
                .as_ref()
                .is_some_and(|(s, _)| Arc::ptr_eq(s, &self.source))
            {
                match build(&self.source) {
                    Ok(lua) => *w = Some((self.source.clone(), lua)),
                    Err(e) => {
                        self.fail(&format!("cannot build this thread's Lua state: {e}"));
                        return None;
                    }
                }
            }
            let (_, lua) = w.as_ref()?;
            let run = || -> mlua::Result<(MultiValue, DqResult)> {
                let hooks: Table = lua.named_registry_value(REGISTRY)?;
                let f: Function = hooks.get(self.index)?;
                let mut made = LuaDq::new(q);
                // A response's `dr` is the answer, its header included.
                if let Some(answer) = answer {
                    made.content = answer.to_vec();
                    made.end = answer.len();
                    if let Some(word) = answer.get(2..4) {
                        made.flags.set(u16::from_be_bytes([word[0], word[1]]));
                    }
                }
                let before = made.flags.get();
                let dq = lua.create_userdata(made)?;
                let out = f.call::<MultiValue>(dq.clone())?;
                let dq = dq.borrow::<LuaDq>()?;
                let mut result = dq.result.clone();
                let flags = dq.flags.get();
                if flags != before {
                    result.flags = Some(flags);
                }
                Ok((out, result))
            };
            crate::lua_util::with_deadline(lua, std::time::Duration::from_millis(100), run)
                .map_err(|e| self.fail(&crate::lua_message(&e)))
                .ok()
        })
    }

    fn fail(&self, what: &str) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            eprintln!(
                "rampart[error]: {} #{}: {what} (answered SERVFAIL, as dnsdist does; logged once)",
                self.kind, self.index
            );
        }
    }
}

impl QueryHook for LuaHook {
    fn decide(&self, q: &QueryInfo) -> HookDecision {
        self.run(q, None)
    }

    fn respond(&self, q: &QueryInfo, answer: &[u8]) -> HookDecision {
        self.run(q, Some(answer))
    }

    fn matches(&self, q: &QueryInfo) -> bool {
        self.call(q, None)
            .and_then(|(out, _)| out.into_iter().next())
            .is_some_and(|v| v.as_boolean() == Some(true))
    }

    fn describe(&self) -> String {
        format!("Lua script ({} #{})", self.kind, self.index)
    }
}

impl LuaHook {
    /// What the function decided for `q` (and `answer`, for a response).
    fn run(&self, q: &QueryInfo, answer: Option<&[u8]>) -> HookDecision {
        let servfail = || HookDecision {
            verdict: HookVerdict::RCode(wire::types::rcode::SERVFAIL),
            ..Default::default()
        };
        let Some((out, result)) = self.call(q, answer) else {
            return servfail();
        };
        for (name, value) in &result.tags {
            q.tags.set(&name.as_str().into(), &value.as_str().into());
        }
        if let Some(data) = result.trailing {
            q.trailing.replace(data);
        }
        let mut values = out.into_iter();
        let action = values.next().and_then(|v| v.as_i64()).unwrap_or(4);
        // The second result: text (Delay, Spoof) or raw bytes (SpoofRaw).
        let extra: Option<Vec<u8>> = values
            .next()
            .and_then(|v| v.as_string().map(|s| s.as_bytes().to_vec()))
            .filter(|e| !e.is_empty() || result.ffi_result.is_none())
            .or_else(|| result.ffi_result.clone());
        let text = extra.as_deref().map(String::from_utf8_lossy);
        let mut answer = None;
        // A header the function changed: AA and AD go into its spoofed
        // answer, the rest to the query path (HookDecision::flags).
        let settings = SpoofSettings {
            aa: result.flags.map(|f| f & wire::types::flags::AA != 0),
            ad: result.flags.map(|f| f & wire::types::flags::AD != 0),
            ..SpoofSettings::default()
        };
        let verdict = match action {
            // dq:spoof(...) then HeaderModify, or Spoof/SpoofRaw with the
            // data as the second result.
            3 | 9 | 10 if action != 3 || result.spoof.is_some() => {
                let made = match (action, result.spoof.clone(), &text, &extra) {
                    (3, Some((addrs, raws)), _, _) if raws.is_empty() => {
                        Ok(Action::Spoof(addrs, settings))
                    }
                    (3, Some((_, raws)), _, _) => Ok(Action::SpoofRaw(raws, settings)),
                    (9, _, Some(text), _) => spoof_from_text(text, settings),
                    (10, _, _, Some(raw)) => Ok(Action::SpoofRaw(vec![raw.clone()], settings)),
                    _ => Err("a spoof without anything to answer with".to_string()),
                };
                match made {
                    Ok(a) => answer = Some(Arc::new(a)),
                    Err(e) => {
                        self.fail(&e);
                        return servfail();
                    }
                }
                HookVerdict::Answer
            }
            // HeaderModify alone: the header change is the decision.
            3 => HookVerdict::Continue,
            0 => HookVerdict::Allow,
            1 => HookVerdict::Delay(text.and_then(|e| e.trim().parse().ok()).unwrap_or(0)),
            2 => HookVerdict::Drop,
            4 | NO_OP => HookVerdict::Continue,
            5 => HookVerdict::RCode(wire::types::rcode::SERVFAIL),
            6 => HookVerdict::RCode(wire::types::rcode::NXDOMAIN),
            8 => HookVerdict::RCode(wire::types::rcode::REFUSED),
            11 => HookVerdict::Truncate,
            NO_RECURSE => HookVerdict::NoRecurse,
            other => {
                let name = crate::dynblock_lua::ACTIONS
                    .iter()
                    .find(|(_, n)| *n == other)
                    .map_or("unknown", |(name, _)| name);
                self.fail(&format!(
                    "DNSAction.{name} from Lua is not supported by rampart yet"
                ));
                return servfail();
            }
        };
        HookDecision {
            verdict,
            answer,
            skip_cache: result.skip_cache,
            temp_failure_ttl: result.temp_failure_ttl,
            ttls: result.ttls,
            flags: result.flags,
        }
    }
}

/// `DNSAction.Spoof`'s text: addresses separated by commas, or a name
/// to answer a CNAME to.
fn spoof_from_text(text: &str, settings: SpoofSettings) -> Result<Action, String> {
    let addrs: Result<Vec<IpAddr>, _> = text.split(',').map(|a| a.trim().parse()).collect();
    match addrs {
        Ok(list) => Ok(Action::Spoof(list, settings)),
        Err(_) => {
            let wire = shield::suffix::parse_name(text)
                .map_err(|e| format!("cannot spoof '{text}': {e}"))?;
            Ok(Action::SpoofCname(wire, text.to_string(), settings))
        }
    }
}

/// What the Lua function changed on its `dq`.
#[derive(Clone, Debug, Default)]
pub(crate) struct DqResult {
    pub(crate) skip_cache: bool,
    temp_failure_ttl: Option<u32>,
    pub(crate) tags: Vec<(String, String)>,
    /// `dq:spoof(...)`: the addresses or raw records to answer with, for
    /// a HeaderModify result.
    pub(crate) spoof: Option<(Vec<IpAddr>, Vec<Vec<u8>>)>,
    /// `dq:setTrailingData(...)`: what now follows the message.
    trailing: Option<Vec<u8>>,
    /// `dr:editTTLs(...)`: new TTLs by the offset of their field.
    ttls: Vec<(usize, u32)>,
    /// `dnsdist_ffi_dnsquestion_set_result` (FFI): the text a
    /// `DNSAction.Spoof` (or Delay) result goes with.
    pub(crate) ffi_result: Option<Vec<u8>>,
    /// `dq.dh:set...(...)`: the header's new flags word.
    flags: Option<u16>,
}

/// `dq`/`dr`: a copy of what the query path knows about the query.
pub(crate) struct LuaDq {
    pub(crate) qname: Vec<u8>,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    /// The header's flags word; `dq.dh` shares it to change it.
    flags: Rc<Cell<u16>>,
    pub(crate) dnssec_ok: bool,
    pub(crate) tcp: bool,
    remote: SocketAddr,
    local: SocketAddr,
    pub(crate) content: Vec<u8>,
    rcode: Option<u16>,
    tags: Vec<(String, String)>,
    /// The OPT record's options, as `[code][len][data]…`.
    pub(crate) options: Vec<u8>,
    /// Where the message ends in `content` (trailing data follows).
    end: usize,
    pub(crate) result: DqResult,
}

impl LuaDq {
    fn new(q: &QueryInfo) -> LuaDq {
        let end = q.query.end.min(q.query.packet.len());
        let content = match q.trailing.replaced() {
            Some(data) => [&q.query.packet[..end], &data].concat(),
            None => q.query.packet.to_vec(),
        };
        LuaDq {
            qname: q.query.qname.to_vec(),
            qtype: q.query.qtype,
            qclass: q.query.qclass,
            flags: Rc::new(Cell::new(q.query.flags)),
            dnssec_ok: q.query.edns.is_some_and(|e| e.dnssec_ok),
            tcp: q.tcp,
            remote: q.client,
            local: q.local,
            content,
            options: q.query.edns_options.to_vec(),
            end,
            rcode: q.rcode,
            tags: q
                .tags
                .all()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            result: DqResult::default(),
        }
    }
}

impl UserData for LuaDq {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("qname", |_, dq| Ok(LuaDnsName::from_wire(&dq.qname)));
        fields.add_field_method_get("qtype", |_, dq| Ok(dq.qtype));
        fields.add_field_method_get("qclass", |_, dq| Ok(dq.qclass));
        fields.add_field_method_get("tcp", |_, dq| Ok(dq.tcp));
        fields.add_field_method_get("len", |_, dq| Ok(dq.content.len()));
        fields.add_field_method_get("opcode", |_, dq| Ok((dq.flags.get() >> 11) & 0xf));
        fields.add_field_method_get("rcode", |_, dq| Ok(dq.rcode.unwrap_or(0)));
        fields.add_field_method_get("remoteaddr", |_, dq| Ok(LuaAddr(dq.remote)));
        fields.add_field_method_get("localaddr", |_, dq| Ok(LuaAddr(dq.local)));
        fields.add_field_method_get("dh", |_, dq| Ok(LuaHeader(dq.flags.clone())));
        fields.add_field_method_get("skipCache", |_, dq| Ok(dq.result.skip_cache));
        fields.add_field_method_set("skipCache", |_, dq, on: bool| {
            dq.result.skip_cache = on;
            Ok(())
        });
        fields.add_field_method_get("tempFailureTTL", |_, dq| Ok(dq.result.temp_failure_ttl));
        fields.add_field_method_set("tempFailureTTL", |_, dq, ttl: Option<u32>| {
            dq.result.temp_failure_ttl = ttl;
            Ok(())
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("getDO", |_, dq, ()| Ok(dq.dnssec_ok));
        // {[code] = view with :count() and :getValues()}, as dnsdist's.
        methods.add_method("getEDNSOptions", |lua, dq, ()| {
            let by_code = lua.create_table()?;
            let mut rest = &dq.options[..];
            while let [c0, c1, l0, l1, tail @ ..] = rest {
                let code = u16::from_be_bytes([*c0, *c1]);
                let n = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
                let view = match by_code.get::<Option<mlua::AnyUserData>>(code)? {
                    Some(v) => v,
                    None => {
                        let v = lua.create_userdata(LuaOptionView(Vec::new()))?;
                        by_code.set(code, v.clone())?;
                        v
                    }
                };
                view.borrow_mut::<LuaOptionView>()?
                    .0
                    .push(tail[..n].to_vec());
                rest = &tail[n..];
            }
            Ok(by_code)
        });
        methods.add_method("getContent", |lua, dq, ()| lua.create_string(&dq.content));
        methods.add_method("getTrailingData", |lua, dq, ()| {
            lua.create_string(dq.content.get(dq.end..).unwrap_or_default())
        });
        // Replaces what follows the message; false (nothing changed) when
        // the query would outgrow its buffer (4096 bytes over UDP, 65535
        // over TCP, as dnsdist's).
        methods.add_method_mut("setTrailingData", |_, dq, data: mlua::LuaString| {
            let data = data.as_bytes().to_vec();
            let room = if dq.tcp { 65535 } else { 4096 };
            if dq.end + data.len() > room {
                return Ok(false);
            }
            dq.content.truncate(dq.end);
            dq.content.extend_from_slice(&data);
            dq.result.trailing = Some(data);
            Ok(true)
        });
        // dr:editTTLs(function(section, qclass, qtype, ttl) ... end): the
        // function's non-zero result replaces the record's TTL; records
        // from the OPT on are left alone (dnsdist's editDNSPacketTTL).
        methods.add_method_mut("editTTLs", |_, dq, f: Function| {
            let Some((_, mut records)) = wire::edit::records(&dq.content) else {
                return Ok(());
            };
            while let Some(r) = records.next(&dq.content) {
                if r.rtype == wire::types::rtype::OPT {
                    break;
                }
                let section = r.section as u8 + 1;
                let at = r.fixed + 4;
                let field = |p: &[u8], i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
                let class = field(&dq.content, r.fixed + 2);
                let ttl = u32::from_be_bytes([
                    dq.content[at],
                    dq.content[at + 1],
                    dq.content[at + 2],
                    dq.content[at + 3],
                ]);
                let new: Option<u32> = f.call((section, class, r.rtype, ttl))?;
                if let Some(new) = new.filter(|t| *t != 0) {
                    dq.content[at..at + 4].copy_from_slice(&new.to_be_bytes());
                    dq.result.ttls.push((at, new));
                }
            }
            Ok(())
        });
        methods.add_method("getProtocol", |_, dq, ()| {
            Ok(if dq.tcp { "Do53 TCP" } else { "Do53 UDP" })
        });
        methods.add_method("getTag", |_, dq, name: String| {
            Ok(dq
                .result
                .tags
                .iter()
                .rev()
                .chain(dq.tags.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone()))
        });
        // dq:spoof({newCA(...), ...}) or dq:spoof({raw, ...}).
        methods.add_method_mut("spoof", |lua, dq, list: Table| {
            let mut addrs = Vec::new();
            let mut raws = Vec::new();
            for v in list.sequence_values::<mlua::Value>() {
                match v? {
                    mlua::Value::UserData(ud) if ud.is::<LuaAddr>() => {
                        addrs.push(ud.borrow::<LuaAddr>()?.0.ip())
                    }
                    mlua::Value::String(s) => raws.push(s.as_bytes().to_vec()),
                    other => {
                        return Err(crate::fail(
                            lua,
                            format!(
                                "dq:spoof takes addresses (newCA) or raw records, got {}",
                                other.type_name()
                            ),
                        ))
                    }
                }
            }
            dq.result.spoof = Some((addrs, raws));
            Ok(())
        });
        methods.add_method_mut("setTag", |_, dq, (name, value): (String, String)| {
            dq.result.tags.push((name, value));
            Ok(())
        });
    }
}

/// The values of one EDNS option code in a query.
struct LuaOptionView(Vec<Vec<u8>>);

impl UserData for LuaOptionView {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("count", |_, v, ()| Ok(v.0.len()));
        methods.add_method("getValues", |lua, v, ()| {
            let t = lua.create_table()?;
            for (i, value) in v.0.iter().enumerate() {
                t.set(i + 1, lua.create_string(value)?)?;
            }
            Ok(t)
        });
    }
}

/// `dq.remoteaddr`, `dq.localaddr` (dnsdist's ComboAddress).
struct LuaAddr(SocketAddr);

impl UserData for LuaAddr {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("toString", |_, a, ()| Ok(a.0.ip().to_string()));
        methods.add_method("toStringWithPort", |_, a, ()| Ok(a.0.to_string()));
        methods.add_method("getPort", |_, a, ()| Ok(a.0.port()));
        methods.add_method("isIPv4", |_, a, ()| Ok(a.0.is_ipv4()));
        methods.add_method("isIPv6", |_, a, ()| Ok(a.0.is_ipv6()));
        methods.add_meta_method(mlua::MetaMethod::ToString, |_, a, ()| {
            Ok(a.0.ip().to_string())
        });
    }
}

/// `dq.dh`: the query's header flags, to read and change (what the
/// query path makes of a change: [`HookDecision::flags`]).
struct LuaHeader(Rc<Cell<u16>>);

impl UserData for LuaHeader {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        use wire::types::flags;
        for (name, bit) in [
            ("RD", flags::RD),
            ("CD", flags::CD),
            ("AA", flags::AA),
            ("AD", flags::AD),
            ("TC", flags::TC),
            ("RA", flags::RA),
            ("QR", flags::QR),
        ] {
            methods.add_method(format!("get{name}"), move |_, h, ()| {
                Ok(h.0.get() & bit != 0)
            });
            methods.add_method(format!("set{name}"), move |_, h, on: bool| {
                let f = h.0.get();
                h.0.set(if on { f | bit } else { f & !bit });
                Ok(())
            });
        }
        methods.add_method("getRCode", |_, h, ()| Ok(h.0.get() & 0xf));
        methods.add_method("setRCode", |_, h, rcode: u16| {
            h.0.set((h.0.get() & !0xf) | (rcode & 0xf));
            Ok(())
        });
    }
}

/// Registers `LuaAction`, `LuaRule`, `LuaResponseAction`, their FFI
/// spellings (the same hooks: rampart's `ffi` module works on the same
/// `dq`, see `ffi_lua`) and `DNSResponseAction`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    // The hook's function: given, or (the PerThread spellings) the value
    // of a chunk of code, which dnsdist runs in a Lua state per thread
    // as rampart runs every hook.
    fn function(lua: &Lua, kind: &str, v: mlua::Value) -> mlua::Result<Function> {
        match v {
            mlua::Value::Function(f) => Ok(f),
            mlua::Value::String(code) if kind.contains("PerThread") => lua
                .load(code.as_bytes().to_vec())
                .set_name(kind)
                .eval::<Function>()
                .map_err(|e| crate::fail(lua, format!("{kind}: {}", crate::lua_message(&e)))),
            other => Err(crate::fail(
                lua,
                format!("{kind} takes a function, got {}", other.type_name()),
            )),
        }
    }
    for kind in ["LuaAction", "LuaFFIAction", "LuaFFIPerThreadAction"] {
        g.set(
            kind,
            lua.create_function(move |lua, f: mlua::Value| {
                let hook = new_hook(lua, function(lua, kind, f)?, kind)?;
                Ok(crate::shield_lua::LuaAction(Arc::new(
                    shield::Action::Hook(hook),
                )))
            })?,
        )?;
    }
    for kind in ["LuaRule", "LuaFFIRule", "LuaFFIPerThreadRule"] {
        g.set(
            kind,
            lua.create_function(move |lua, f: mlua::Value| {
                let hook = new_hook(lua, function(lua, kind, f)?, kind)?;
                Ok(crate::shield_lua::LuaSelector(shield::Selector::new(
                    shield::selector::Kind::Hook(hook),
                )))
            })?,
        )?;
    }
    for kind in [
        "LuaResponseAction",
        "LuaFFIResponseAction",
        "LuaFFIPerThreadResponseAction",
    ] {
        g.set(
            kind,
            lua.create_function(move |lua, f: mlua::Value| {
                let hook = new_hook(lua, function(lua, kind, f)?, kind)?;
                Ok(crate::response_lua::LuaResponseAction(Arc::new(
                    shield::response::ResponseAction::Hook(hook),
                )))
            })?,
        )?;
    }
    crate::ffi_lua::register(lua)?;
    g.set(
        "newCA",
        lua.create_function(|lua, text: String| {
            let addr = text
                .parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
                .map_err(|_| crate::fail(lua, format!("newCA: bad address '{text}'")))?;
            Ok(LuaAddr(addr))
        })?,
    )?;
    // DNSResponseAction's numbers are DNSAction's first six, so one
    // reading of a result serves both.
    let actions = lua.create_table()?;
    for (name, value) in &crate::dynblock_lua::ACTIONS[..6] {
        actions.set(*name, *value)?;
    }
    g.set("DNSResponseAction", actions)
}

/// Keeps `f` as the next hook of this Lua state and makes its hook.
fn new_hook(lua: &Lua, f: Function, kind: &'static str) -> mlua::Result<Arc<LuaHook>> {
    let hooks: Table = match lua.named_registry_value::<Option<Table>>(REGISTRY)? {
        Some(t) => t,
        None => {
            let t = lua.create_table()?;
            lua.set_named_registry_value(REGISTRY, t.clone())?;
            t
        }
    };
    let index = hooks.raw_len() + 1;
    hooks.raw_set(index, f)?;
    let source = lua
        .app_data_ref::<Arc<Source>>()
        .map(|s| s.clone())
        .ok_or_else(|| crate::fail(lua, format!("{kind}: the config's text is not known")))?;
    Ok(Arc::new(LuaHook {
        index,
        kind,
        source,
        failed: AtomicBool::new(false),
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(src: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    #[test]
    fn hooks_are_numbered_in_the_order_made() {
        let c = load(
            "addAction(LuaRule(function(dq) return true end), DropAction())\n\
             addAction(AllRule(), LuaAction(function(dq) return DNSAction.None end))\n",
        )
        .unwrap();
        let rules = c.shield.rules.rules();
        assert_eq!(rules[0].selector.describe(), "Lua script (LuaRule #1)");
        assert_eq!(rules[1].action.describe(), "Lua script (LuaAction #2)");
    }

    #[test]
    fn a_hook_needs_a_function() {
        let e = load("\nLuaAction('refuse')\n").unwrap_err();
        assert!(
            e.0.contains("rampart.conf:2:") && e.0.contains("LuaAction"),
            "{e}"
        );
    }
}
