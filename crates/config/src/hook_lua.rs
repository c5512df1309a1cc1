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
//! once more per worker. The rules' `dq` ([`crate::dq_lua`]) carries a
//! copy of what the query path knows; what the function changes on it
//! (tags, trailing data, the header, a spoof, TTLs) is handed back to
//! the rules here.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Table};
use shield::action::{Action, SpoofSettings};
use shield::hook::{HookDecision, HookVerdict, QueryHook};
use shield::QueryInfo;

use crate::dq_lua::{DqResult, LuaAddr, LuaDq};
use crate::dynblock_lua::action;

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
fn build(source: &Source) -> Result<Lua, crate::ConfigError> {
    crate::load_with_runtime(
        &source.text,
        &source.path,
        &source.runtime,
        None,
        shield::querylog::OpenMode::Check,
    )
    .map(|(_, lua, _)| lua)
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
                    made.response = true;
                    if let Some(word) = answer.get(2..4) {
                        made.flags.set(u16::from_be_bytes([word[0], word[1]]));
                    }
                }
                let before = made.flags.get();
                let dq = lua.create_userdata(made)?;
                let out = f.call::<MultiValue>(dq.clone())?;
                // The dq is dropped right after: its result is moved out,
                // not copied (a spoofed answer or an HTTP body may be large).
                let mut dq = dq.borrow_mut::<LuaDq>()?;
                let mut result = std::mem::take(&mut dq.result);
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
            log::error!(
                "{} #{}: {what} (answered SERVFAIL, as dnsdist does; logged once)",
                self.kind,
                self.index
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
        let Some((out, mut result)) = self.call(q, answer) else {
            return servfail();
        };
        for (name, value) in &result.tags {
            q.tags.set(&name.as_str().into(), &value.as_str().into());
        }
        if let Some(data) = result.trailing {
            q.trailing.replace(data);
        }
        let mut values = out.into_iter();
        // What the function returned, as a DNSAction (a response hook's
        // DNSResponseAction numbers read as the DNSAction they mean; a
        // number that is none of them goes on, as dnsdist's switch does,
        // so `return DNSAction.None` from a response hook goes on too).
        let returned = values.next().and_then(|v| v.as_i64());
        let action = match (returned, answer) {
            (None, _) => action::NONE,
            (Some(n), None) => n,
            (Some(n), Some(_)) => crate::dynblock_lua::RESPONSE_ACTIONS
                .iter()
                .find(|(_, r, _)| *r == n)
                .map_or(action::NONE, |(_, _, a)| *a),
        };
        // The second result: text (Delay, Spoof) or raw bytes (SpoofRaw).
        let extra: Option<Vec<u8>> = values
            .next()
            .and_then(|v| v.as_string().map(|s| s.as_bytes().to_vec()))
            .filter(|e| !e.is_empty() || result.ffi_result.is_none())
            .or_else(|| result.ffi_result.take());
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
            // dq:setHTTPResponse(...) then HeaderModify: that HTTP answer.
            action::HEADER_MODIFY if result.http_response.is_some() => {
                let (status, body, content_type) = result.http_response.take().unwrap_or_default();
                answer = Some(Arc::new(Action::HttpStatus {
                    status,
                    body,
                    content_type,
                }));
                HookVerdict::Answer
            }
            // dq:spoof(...) then HeaderModify, or Spoof/SpoofRaw with the
            // data as the second result.
            action::HEADER_MODIFY | action::SPOOF | action::SPOOF_RAW
                if action != action::HEADER_MODIFY || result.spoof.is_some() =>
            {
                let made = match (action, result.spoof.take(), &text, &extra) {
                    (action::HEADER_MODIFY, Some((addrs, raws)), _, _) if raws.is_empty() => {
                        Ok(Action::Spoof(addrs, settings))
                    }
                    (action::HEADER_MODIFY, Some((_, raws)), _, _) => {
                        Ok(Action::SpoofRaw(raws, settings))
                    }
                    (action::SPOOF, _, Some(text), _) => spoof_from_text(text, settings),
                    (action::SPOOF_RAW, _, _, Some(raw)) => {
                        Ok(Action::SpoofRaw(vec![raw.clone()], settings))
                    }
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
            action::HEADER_MODIFY => HookVerdict::Continue,
            action::ALLOW => HookVerdict::Allow,
            action::DELAY => {
                HookVerdict::Delay(text.and_then(|e| e.trim().parse().ok()).unwrap_or(0))
            }
            action::DROP => HookVerdict::Drop,
            action::NONE | action::NO_OP => HookVerdict::Continue,
            action::SERVFAIL => HookVerdict::RCode(wire::types::rcode::SERVFAIL),
            action::NXDOMAIN => HookVerdict::RCode(wire::types::rcode::NXDOMAIN),
            action::REFUSED => HookVerdict::RCode(wire::types::rcode::REFUSED),
            action::TRUNCATE => HookVerdict::Truncate,
            action::NO_RECURSE => HookVerdict::NoRecurse,
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
    let actions = lua.create_table()?;
    for (name, value, _) in crate::dynblock_lua::RESPONSE_ACTIONS {
        actions.set(name, value)?;
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
            e.to_string().contains("rampart.conf:2:") && e.to_string().contains("LuaAction"),
            "{e}"
        );
    }
}
