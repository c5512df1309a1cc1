//! The shield's Lua functions: dnsdist's selectors, actions, rule
//! management and ACL, in both the 1.x spellings old blog configs use
//! (`addDelay`, `addDomainBlock`, `addAnyTCRule`, `addQPSLimit`,
//! `addNoRecurseRule`, `addPoolRule`, `dnsdist.ANY`) and the modern ones
//! (`DelayAction`, `QNameSuffixRule`, `DNSQType.ANY`, `DNSRCode.*`, rule
//! option tables with `name`/`uuid`). Each builds a `shield` object; Lua
//! keeps nothing the query path needs.

use std::cell::RefCell;
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{AnyUserData, Lua, MetaMethod, Table, UserData, UserDataMethods, Value};
use shield::action::{Action, NegativeSoa, SpoofSettings};
use shield::qps::{ClientLimiter, GlobalLimiter};
use shield::querylog::QueryLog;
use shield::selector::{Compare, Kind};
use shield::suffix::NameSet;
use shield::{Netmask, NetmaskGroup, Rule, Selector};

use crate::lua_util::{self, strings};
use crate::{fail, resolve, Config};

/// A selector handed to Lua.
#[derive(Clone)]
pub struct LuaSelector(pub Arc<Selector>);

impl UserData for LuaSelector {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("getMatches", |_, this, ()| Ok(this.0.matches()));
        methods.add_method("toString", |_, this, ()| Ok(this.0.describe()));
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.describe()));
    }
}

/// An action handed to Lua.
#[derive(Clone)]
pub struct LuaAction(pub Arc<Action>);

impl UserData for LuaAction {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.describe()));
    }
}

/// `newNMG()`: a netmask group being filled.
#[derive(Clone, Default)]
pub struct LuaNmg(pub Rc<RefCell<NetmaskGroup>>);

impl UserData for LuaNmg {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("addMask", |lua, this, mask: String| {
            let m = Netmask::parse(&mask).map_err(|e| fail(lua, e))?;
            this.0.borrow_mut().add(m);
            Ok(())
        });
        methods.add_method("addMasks", |lua, this, masks: Table| {
            for m in masks.sequence_values::<String>() {
                let m = Netmask::parse(&m?).map_err(|e| fail(lua, e))?;
                this.0.borrow_mut().add(m);
            }
            Ok(())
        });
        methods.add_method("size", |_, this, ()| Ok(this.0.borrow().masks().len()));
        methods.add_method("match", |lua, this, addr: String| {
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| fail(lua, format!("bad address '{addr}'")))?;
            Ok(this.0.borrow().contains(ip))
        });
    }
}

/// `newSuffixMatchNode()` / `newDNSNameSet()`: names being collected.
#[derive(Clone, Default)]
pub struct LuaNames(pub Rc<RefCell<NameSet>>);

impl UserData for LuaNames {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("add", |lua, this, names: Value| {
            for n in strings(lua, names, "a name or a list of names")? {
                this.0.borrow_mut().add(&n).map_err(|e| fail(lua, e))?;
            }
            Ok(())
        });
        methods.add_method("size", |_, this, ()| Ok(this.0.borrow().len()));
    }
}

/// A selector argument: a selector object, or strings (`makeRule`).
pub(crate) fn selector_arg(lua: &Lua, v: Value) -> mlua::Result<Arc<Selector>> {
    match v {
        Value::UserData(ud) if !ud.is::<lua_util::LuaDnsName>() => ud
            .borrow::<LuaSelector>()
            .map(|s| s.0.clone())
            .map_err(|_| {
                fail(
                    lua,
                    "expected a selector (a *Rule object, a name or a netmask)",
                )
            }),
        other => make_rule(lua, other),
    }
}

fn action_arg(lua: &Lua, v: Value) -> mlua::Result<Arc<Action>> {
    match v {
        Value::UserData(ud) => ud
            .borrow::<LuaAction>()
            .map(|a| a.0.clone())
            .map_err(|_| fail(lua, "expected an action (a *Action object)")),
        other => Err(fail(
            lua,
            format!(
                "expected an action (a *Action object), got {}",
                other.type_name()
            ),
        )),
    }
}

/// dnsdist's `makeRule`: netmasks make a source-address rule, otherwise
/// the strings are names matched by suffix.
fn make_rule(lua: &Lua, v: Value) -> mlua::Result<Arc<Selector>> {
    let items = strings(lua, v, "a selector, a name, a netmask or a list of them")?;
    let mut nmg = NetmaskGroup::new();
    let mut names = NameSet::new();
    for item in &items {
        match Netmask::parse(item) {
            Ok(m) => nmg.add(m),
            Err(_) => names.add(item).map_err(|e| fail(lua, e))?,
        }
    }
    if !nmg.is_empty() {
        Ok(Selector::new(Kind::Netmask(nmg)))
    } else {
        Ok(Selector::new(Kind::QNameSuffix(names)))
    }
}

/// A query type given as a number or a mnemonic.
fn qtype_arg(lua: &Lua, v: Value) -> mlua::Result<u16> {
    match v {
        Value::Integer(n) => {
            u16::try_from(n).map_err(|_| fail(lua, format!("query type {n} out of range")))
        }
        Value::Number(n) if (0.0..=65535.0).contains(&n) && n.fract() == 0.0 => Ok(n as u16),
        Value::String(s) => {
            let s = s.to_str()?.to_string();
            wire::types::rtype_from_name(&s)
                .ok_or_else(|| fail(lua, format!("unknown query type '{s}'")))
        }
        other => Err(fail(
            lua,
            format!("expected a query type, got {}", other.type_name()),
        )),
    }
}

fn selectors_arg(lua: &Lua, t: Table) -> mlua::Result<Vec<Arc<Selector>>> {
    t.sequence_values::<Value>()
        .map(|v| selector_arg(lua, v?))
        .collect()
}

/// Random-looking UUID (v4 layout) for rules given none.
pub(crate) fn new_uuid() -> String {
    let a = shield::qps::now_ns();
    let b =
        (a ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ std::process::id() as u64;
    let c = b.rotate_left(29).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (b >> 32) as u32,
        (b >> 16) as u16,
        b as u16 & 0xfff,
        (c >> 48) as u16 & 0x3fff | 0x8000,
        c & 0xffff_ffff_ffff
    )
}

/// A rule from a selector, an action and an optional `{name=, uuid=}`.
fn make_rule_entry(lua: &Lua, sel: Value, act: Value, opts: Option<Table>) -> mlua::Result<Rule> {
    let selector = selector_arg(lua, sel)?;
    let action = action_arg(lua, act)?;
    let (mut name, mut uuid) = (String::new(), String::new());
    if let Some(o) = opts {
        name = o.get::<Option<String>>("name")?.unwrap_or_default();
        uuid = o.get::<Option<String>>("uuid")?.unwrap_or_default();
    }
    if uuid.is_empty() {
        uuid = new_uuid();
    }
    Ok(Rule {
        selector,
        action,
        name,
        uuid,
    })
}

/// Registers every shield function.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();
    register_constants(lua)?;
    lua_util::register_names(lua)?;
    register_selectors(lua)?;
    register_actions(lua, base)?;

    // Rules.
    let add = |st: Rc<RefCell<Config>>, rule: Rule| st.borrow_mut().shield.rules.push(rule);
    let st = state.clone();
    g.set(
        "addAction",
        lua.create_function(
            move |lua, (sel, act, opts): (Value, Value, Option<Table>)| {
                let rule = make_rule_entry(lua, sel, act, opts)?;
                add(st.clone(), rule);
                Ok(())
            },
        )?,
    )?;
    g.set(
        "newRuleAction",
        lua.create_function(|lua, (sel, act, opts): (Value, Value, Option<Table>)| {
            // A response action makes a response rule (for setResponseRules).
            if let Value::UserData(ud) = &act {
                if ud.is::<crate::response_lua::LuaResponseAction>() {
                    let r = crate::response_lua::response_rule(lua, sel, act, opts)?;
                    return lua.create_userdata(crate::response_lua::LuaResponseRule(r));
                }
            }
            let r = make_rule_entry(lua, sel, act, opts)?;
            lua.create_userdata(LuaRule(r))
        })?,
    )?;
    lua_util::register_chain(
        lua,
        state,
        lua_util::Chain {
            what: "rule",
            names: [
                "setRules",
                "topRule",
                "showRules",
                "rmRule",
                "mvRule",
                "clearRules",
            ],
            objects: "newRuleAction(...) objects",
            rule_of: |ud| ud.borrow::<LuaRule>().ok().map(|r| r.0.clone()),
            chain: |c| c.shield.rules.rules_mut(),
        },
    )?;

    // The 1.x shortcuts, as the rules they always were.
    let st = state.clone();
    g.set(
        "addDelay",
        lua.create_function(move |lua, (sel, ms): (Value, u32)| {
            let rule = plain_rule(selector_arg(lua, sel)?, Action::Delay(ms));
            add(st.clone(), rule);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addDomainBlock",
        lua.create_function(move |lua, names: Value| {
            let mut set = NameSet::new();
            for n in strings(lua, names, "a domain name")? {
                set.add(&n).map_err(|e| fail(lua, e))?;
            }
            add(
                st.clone(),
                plain_rule(Selector::new(Kind::QNameSuffix(set)), Action::Drop),
            );
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addAnyTCRule",
        lua.create_function(move |_, ()| {
            let sel = Selector::new(Kind::And(vec![
                Selector::new(Kind::QType(255)),
                Selector::new(Kind::Tcp(false)),
            ]));
            add(st.clone(), plain_rule(sel, Action::Truncate));
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addQPSLimit",
        lua.create_function(move |lua, (sel, qps): (Value, f64)| {
            let (qps, burst) = rate_arg(lua, "addQPSLimit", qps, None)?;
            let limiter = GlobalLimiter::new(qps, burst);
            add(
                st.clone(),
                plain_rule(selector_arg(lua, sel)?, Action::Qps(limiter)),
            );
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addNoRecurseRule",
        lua.create_function(move |lua, sel: Value| {
            add(
                st.clone(),
                plain_rule(selector_arg(lua, sel)?, Action::NoRecurse),
            );
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addPoolRule",
        lua.create_function(move |lua, (sel, pool): (Value, String)| {
            add(
                st.clone(),
                plain_rule(selector_arg(lua, sel)?, Action::Pool(pool.into())),
            );
            Ok(())
        })?,
    )?;

    // ACL.
    let st = state.clone();
    g.set(
        "setACL",
        lua.create_function(move |lua, masks: Value| {
            let mut g = NetmaskGroup::new();
            for m in strings(lua, masks, "a netmask or a list of netmasks")? {
                g.add(Netmask::parse(&m).map_err(|e| fail(lua, e))?);
            }
            st.borrow_mut().shield.acl = g;
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addACL",
        lua.create_function(move |lua, mask: String| {
            let m = Netmask::parse(&mask).map_err(|e| fail(lua, e))?;
            st.borrow_mut().shield.acl.add(m);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "rmACL",
        lua.create_function(move |lua, mask: String| {
            let m = Netmask::parse(&mask).map_err(|e| fail(lua, e))?;
            st.borrow_mut().shield.acl.remove(&m);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "showACL",
        lua.create_function(move |_, ()| {
            for m in st.borrow().shield.acl.masks() {
                crate::output::emit(&format!("{m}\n"));
            }
            Ok(())
        })?,
    )?;
    g.set(
        "newNMG",
        lua.create_function(|_, ()| Ok(LuaNmg::default()))?,
    )?;
    g.set(
        "newSuffixMatchNode",
        lua.create_function(|_, ()| Ok(LuaNames::default()))?,
    )?;
    g.set(
        "newDNSNameSet",
        lua.create_function(|_, ()| Ok(LuaNames::default()))?,
    )?;
    Ok(())
}

/// A rule built by `newRuleAction`, for `setRules`.
#[derive(Clone)]
pub struct LuaRule(pub Rule);

impl UserData for LuaRule {}

fn plain_rule(selector: Arc<Selector>, action: Action) -> Rule {
    Rule {
        selector,
        action: Arc::new(action),
        name: String::new(),
        uuid: new_uuid(),
    }
}

fn register_constants(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let qtypes = lua.create_table()?;
    for t in (0u16..=300).chain([32768, 32769]) {
        let name = wire::types::rtype_name(t);
        if !name.starts_with("TYPE") {
            qtypes.set(name.as_ref(), t)?;
        }
    }
    let rcodes = lua.create_table()?;
    for (name, code) in [
        ("NOERROR", 0),
        ("FORMERR", 1),
        ("SERVFAIL", 2),
        ("NXDOMAIN", 3),
        ("NOTIMP", 4),
        ("REFUSED", 5),
        ("YXDOMAIN", 6),
        ("YXRRSET", 7),
        ("NXRRSET", 8),
        ("NOTAUTH", 9),
        ("NOTZONE", 10),
        ("BADVERS", 16),
    ] {
        rcodes.set(name, code)?;
    }
    g.set("DNSQType", qtypes.clone())?;
    g.set("DNSRCode", rcodes.clone())?;
    // dnsdist 1.x put both in one `dnsdist` table (dnsdist.ANY, ...).
    let legacy = lua.create_table()?;
    for pair in qtypes.pairs::<String, u16>() {
        let (k, v) = pair?;
        legacy.set(k, v)?;
    }
    for pair in rcodes.pairs::<String, u16>() {
        let (k, v) = pair?;
        legacy.set(k, v)?;
    }
    g.set("dnsdist", legacy)?;
    let classes = lua.create_table()?;
    classes.set("IN", 1)?;
    classes.set("CHAOS", 3)?;
    classes.set("ANY", 255)?;
    g.set("DNSClass", classes)?;
    let opcodes = lua.create_table()?;
    for (name, code) in [
        ("Query", 0),
        ("IQuery", 1),
        ("Status", 2),
        ("Notify", 4),
        ("Update", 5),
    ] {
        opcodes.set(name, code)?;
    }
    g.set("DNSOpcode", opcodes)?;
    let options = lua.create_table()?;
    for (name, code) in [
        ("NSID", 3),
        ("DAU", 5),
        ("DHU", 6),
        ("N3U", 7),
        ("ECS", 8),
        ("EXPIRE", 9),
        ("COOKIE", 10),
        ("TCPKEEPALIVE", 11),
        ("PADDING", 12),
        ("CHAIN", 13),
        ("KEYTAG", 14),
    ] {
        options.set(name, code)?;
    }
    g.set("EDNSOptionCode", options)?;
    Ok(())
}

fn register_selectors(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let sel = |k: Kind| Ok(LuaSelector(Selector::new(k)));
    g.set("AllRule", lua.create_function(move |_, ()| sel(Kind::All))?)?;
    g.set(
        "QNameRule",
        lua.create_function(|lua, names: Value| {
            let mut set = NameSet::new();
            for n in strings(lua, names, "a name")? {
                set.add(&n).map_err(|e| fail(lua, e))?;
            }
            Ok(LuaSelector(Selector::new(Kind::QName(set))))
        })?,
    )?;
    let suffix = |lua: &Lua, v: Value| -> mlua::Result<LuaSelector> {
        let set = match v {
            Value::UserData(ud) => ud
                .borrow::<LuaNames>()
                .map(|n| n.0.borrow().clone())
                .map_err(|_| fail(lua, "expected names or newSuffixMatchNode()"))?,
            other => {
                let mut set = NameSet::new();
                for n in strings(lua, other, "a name or a list of names")? {
                    set.add(&n).map_err(|e| fail(lua, e))?;
                }
                set
            }
        };
        Ok(LuaSelector(Selector::new(Kind::QNameSuffix(set))))
    };
    g.set(
        "QNameSuffixRule",
        lua.create_function(move |lua, (v, _quiet): (Value, Option<bool>)| suffix(lua, v))?,
    )?;
    g.set(
        "SuffixMatchNodeRule",
        lua.create_function(move |lua, (v, _quiet): (Value, Option<bool>)| suffix(lua, v))?,
    )?;
    g.set(
        "QNameSetRule",
        lua.create_function(|lua, v: AnyUserData| {
            let set = v
                .borrow::<LuaNames>()
                .map_err(|_| fail(lua, "expected newDNSNameSet()"))?
                .0
                .borrow()
                .clone();
            Ok(LuaSelector(Selector::new(Kind::QName(set))))
        })?,
    )?;
    g.set(
        "makeRule",
        lua.create_function(|lua, v: Value| Ok(LuaSelector(make_rule(lua, v)?)))?,
    )?;
    g.set(
        "NetmaskGroupRule",
        lua.create_function(
            |lua, (v, src, _quiet): (Value, Option<bool>, Option<bool>)| {
                if src == Some(false) {
                    return Err(fail(
                        lua,
                        "NetmaskGroupRule on the destination address is not supported by rampart",
                    ));
                }
                let nmg = match v {
                    Value::UserData(ud) => ud
                        .borrow::<LuaNmg>()
                        .map(|n| n.0.borrow().clone())
                        .map_err(|_| fail(lua, "expected newNMG()"))?,
                    other => {
                        let mut g = NetmaskGroup::new();
                        for m in strings(lua, other, "netmasks")? {
                            g.add(Netmask::parse(&m).map_err(|e| fail(lua, e))?);
                        }
                        g
                    }
                };
                Ok(LuaSelector(Selector::new(Kind::Netmask(nmg))))
            },
        )?,
    )?;
    g.set(
        "QTypeRule",
        lua.create_function(|lua, t: Value| {
            Ok(LuaSelector(Selector::new(Kind::QType(qtype_arg(lua, t)?))))
        })?,
    )?;
    g.set(
        "QClassRule",
        lua.create_function(|_, c: u16| Ok(LuaSelector(Selector::new(Kind::QClass(c)))))?,
    )?;
    g.set(
        "OpcodeRule",
        lua.create_function(|lua, o: u8| {
            if o > 15 {
                return Err(fail(
                    lua,
                    format!("OpcodeRule: opcodes are 0 to 15, got {o}"),
                ));
            }
            Ok(LuaSelector(Selector::new(Kind::Opcode(o))))
        })?,
    )?;
    g.set(
        "TrailingDataRule",
        lua.create_function(|_, ()| Ok(LuaSelector(Selector::new(Kind::TrailingData))))?,
    )?;
    g.set(
        "RDRule",
        lua.create_function(|_, ()| Ok(LuaSelector(Selector::new(Kind::RecursionDesired))))?,
    )?;
    g.set(
        "DNSSECRule",
        lua.create_function(|_, ()| Ok(LuaSelector(Selector::new(Kind::Dnssec))))?,
    )?;
    g.set(
        "TCPRule",
        lua.create_function(|_, tcp: bool| Ok(LuaSelector(Selector::new(Kind::Tcp(tcp)))))?,
    )?;
    g.set(
        "QNameLabelsCountRule",
        lua.create_function(|lua, (min, max): (usize, usize)| {
            min_max(lua, "QNameLabelsCountRule", min, max)?;
            Ok(LuaSelector(Selector::new(Kind::LabelsCount { min, max })))
        })?,
    )?;
    g.set(
        "QNameWireLengthRule",
        lua.create_function(|lua, (min, max): (usize, usize)| {
            min_max(lua, "QNameWireLengthRule", min, max)?;
            Ok(LuaSelector(Selector::new(Kind::WireLength { min, max })))
        })?,
    )?;
    g.set(
        "PayloadSizeRule",
        lua.create_function(|lua, (cmp, size): (String, usize)| {
            let c = Compare::parse(&cmp).ok_or_else(|| {
                fail(lua, format!("unknown comparison '{cmp}': expected equal, greater, greaterOrEqual, smaller or smallerOrEqual"))
            })?;
            Ok(LuaSelector(Selector::new(Kind::PayloadSize(c, size))))
        })?,
    )?;
    g.set(
        "EDNSVersionRule",
        lua.create_function(|_, v: u8| Ok(LuaSelector(Selector::new(Kind::EdnsVersion(v)))))?,
    )?;
    g.set(
        "EDNSOptionRule",
        lua.create_function(|_, c: u16| Ok(LuaSelector(Selector::new(Kind::EdnsOption(c)))))?,
    )?;
    g.set(
        "DSTPortRule",
        lua.create_function(|_, p: u16| Ok(LuaSelector(Selector::new(Kind::DstPort(p)))))?,
    )?;
    g.set(
        "ProbaRule",
        lua.create_function(|lua, p: f64| {
            if !(0.0..=1.0).contains(&p) {
                return Err(fail(
                    lua,
                    format!("probability {p} out of range: expected 0 to 1"),
                ));
            }
            Ok(LuaSelector(Selector::new(Kind::Probability(p))))
        })?,
    )?;
    g.set(
        "MaxQPSIPRule",
        lua.create_function(
            |lua, (qps, v4, v6, burst): (f64, Option<u8>, Option<u8>, Option<u32>)| {
                let (qps, burst) = rate_arg(lua, "MaxQPSIPRule", qps, burst)?;
                let (v4, v6) = (v4.unwrap_or(32), v6.unwrap_or(64));
                if v4 > 32 || v6 > 128 {
                    return Err(fail(lua, "MaxQPSIPRule masks: IPv4 0 to 32, IPv6 0 to 128"));
                }
                Ok(LuaSelector(Selector::new(Kind::MaxQpsIp(
                    ClientLimiter::new(qps, burst, v4, v6),
                ))))
            },
        )?,
    )?;
    g.set(
        "MaxQPSRule",
        lua.create_function(|lua, (qps, burst): (f64, Option<u32>)| {
            let (qps, burst) = rate_arg(lua, "MaxQPSRule", qps, burst)?;
            Ok(LuaSelector(Selector::new(Kind::MaxQps(
                GlobalLimiter::new(qps, burst),
            ))))
        })?,
    )?;
    g.set(
        "PoolAvailableRule",
        lua.create_function(|_, pool: String| {
            Ok(LuaSelector(Selector::new(Kind::PoolAvailable(pool))))
        })?,
    )?;
    g.set(
        "RegexRule",
        lua.create_function(|lua, re: String| {
            let compiled = shield::name_regex::NameRegex::new(&re)
                .map_err(|e| fail(lua, format!("bad regular expression '{re}': {e}")))?;
            Ok(LuaSelector(Selector::new(Kind::Regex(compiled))))
        })?,
    )?;
    g.set(
        "AndRule",
        lua.create_function(|lua, t: Table| {
            Ok(LuaSelector(Selector::new(Kind::And(selectors_arg(
                lua, t,
            )?))))
        })?,
    )?;
    g.set(
        "OrRule",
        lua.create_function(|lua, t: Table| {
            Ok(LuaSelector(Selector::new(Kind::Or(selectors_arg(lua, t)?))))
        })?,
    )?;
    g.set(
        "NotRule",
        lua.create_function(|lua, v: Value| {
            Ok(LuaSelector(Selector::new(Kind::Not(selector_arg(lua, v)?))))
        })?,
    )?;
    Ok(())
}

/// LogAction's arguments: file, binary, append, buffered, verboseOnly,
/// includeTimestamp.
type LogArgs = (
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
);

/// A constructor that takes no arguments.
type Maker = (&'static str, fn() -> Action);

fn register_actions(lua: &Lua, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();
    let act = |a: Action| Ok(LuaAction(Arc::new(a)));
    // The constructors that take nothing.
    let plain: [Maker; 10] = [
        ("AllowAction", || Action::Allow),
        ("DropAction", || Action::Drop),
        ("NoneAction", || Action::None),
        ("TCAction", || Action::Truncate),
        ("NoRecurseAction", || Action::NoRecurse),
        ("SetNoRecurseAction", || Action::NoRecurse),
        ("DisableValidationAction", || Action::DisableValidation),
        ("SetDisableValidationAction", || Action::DisableValidation),
        ("SetSkipCacheAction", || Action::SkipCache),
        ("SetDisableECSAction", || Action::DisableEcs),
    ];
    for (name, make) in plain {
        g.set(name, lua.create_function(move |_, ()| act(make()))?)?;
    }
    g.set(
        "DelayAction",
        lua.create_function(move |_, ms: u32| act(Action::Delay(ms)))?,
    )?;
    g.set(
        "RCodeAction",
        lua.create_function(move |lua, (rc, _opts): (u16, Option<Table>)| {
            if rc > 15 {
                return Err(fail(
                    lua,
                    format!("RCodeAction takes a 4-bit rcode, got {rc}: use ERCodeAction"),
                ));
            }
            act(Action::RCode(rc))
        })?,
    )?;
    g.set(
        "ERCodeAction",
        lua.create_function(move |lua, (rc, _opts): (u16, Option<Table>)| {
            if rc > 4095 {
                return Err(fail(
                    lua,
                    format!("extended rcode {rc} out of range: expected 0 to 4095"),
                ));
            }
            act(Action::RCode(rc))
        })?,
    )?;
    g.set(
        "PoolAction",
        lua.create_function(move |_, (pool, _stop): (String, Option<bool>)| {
            act(Action::Pool(pool.into()))
        })?,
    )?;
    g.set(
        "SetEDNSOptionAction",
        lua.create_function(move |lua, (code, data): (u16, mlua::LuaString)| {
            let data = data.as_bytes().to_vec();
            if data.len() > usize::from(u16::MAX) - 4 {
                return Err(fail(lua, "SetEDNSOptionAction: option data too long"));
            }
            act(Action::SetEdnsOption(code, data))
        })?,
    )?;
    g.set(
        "SetECSAction",
        lua.create_function(move |lua, (v4, v6): (String, Option<String>)| {
            let net = |text: &str| {
                shield::Netmask::parse(text).map_err(|e| fail(lua, format!("SetECSAction: {e}")))
            };
            act(Action::SetEcs(
                net(&v4)?,
                v6.as_deref().map(net).transpose()?,
            ))
        })?,
    )?;
    g.set(
        "SetECSPrefixLengthAction",
        lua.create_function(move |lua, (v4, v6): (u8, u8)| {
            if v4 > 32 || v6 > 128 {
                return Err(fail(
                    lua,
                    "SetECSPrefixLengthAction: at most 32 bits for IPv4, 128 for IPv6",
                ));
            }
            act(Action::SetEcsPrefix(v4, v6))
        })?,
    )?;
    g.set(
        "SetECSOverrideAction",
        lua.create_function(move |_, on: bool| act(Action::SetEcsOverride(on)))?,
    )?;
    g.set(
        "SetTempFailureCacheTTLAction",
        lua.create_function(move |_, ttl: u32| act(Action::TempFailureCacheTtl(ttl)))?,
    )?;
    g.set(
        "ContinueAction",
        lua.create_function(move |lua, inner: Value| {
            act(Action::Continue(action_arg(lua, inner)?))
        })?,
    )?;
    g.set(
        "QPSPoolAction",
        lua.create_function(move |lua, (qps, pool): (f64, String)| {
            let (qps, burst) = rate_arg(lua, "QPSPoolAction", qps, None)?;
            act(Action::QpsPool(GlobalLimiter::new(qps, burst), pool.into()))
        })?,
    )?;
    g.set(
        "NegativeAndSOAAction",
        lua.create_function(move |lua, args: NegativeSoaArgs| {
            act(Action::NegativeSoa(Box::new(negative_soa(lua, args)?)))
        })?,
    )?;
    g.set(
        "QPSAction",
        lua.create_function(move |lua, qps: f64| {
            let (qps, burst) = rate_arg(lua, "QPSAction", qps, None)?;
            act(Action::Qps(GlobalLimiter::new(qps, burst)))
        })?,
    )?;
    g.set(
        "SpoofAction",
        lua.create_function(move |lua, (addrs, opts): (Value, Option<Table>)| {
            let settings = spoof_settings(lua, "SpoofAction", opts)?;
            let mut list = Vec::new();
            for a in strings(lua, addrs, "an address or a list of addresses")? {
                list.push(
                    a.parse::<IpAddr>()
                        .map_err(|_| fail(lua, format!("bad address '{a}'")))?,
                );
            }
            act(Action::Spoof(list, settings))
        })?,
    )?;
    g.set(
        "SpoofCNAMEAction",
        lua.create_function(move |lua, (name, opts): (String, Option<Table>)| {
            let settings = spoof_settings(lua, "SpoofCNAMEAction", opts)?;
            let wire = shield::suffix::parse_name(&name).map_err(|e| fail(lua, e))?;
            act(Action::SpoofCname(wire, name, settings))
        })?,
    )?;
    g.set(
        "SpoofRawAction",
        lua.create_function(move |lua, (raw, opts): (Value, Option<Table>)| {
            let settings = spoof_settings(lua, "SpoofRawAction", opts)?;
            let list: Vec<Vec<u8>> = match raw {
                Value::String(s) => vec![s.as_bytes().to_vec()],
                Value::Table(t) => t
                    .sequence_values::<mlua::LuaString>()
                    .map(|s| s.map(|s| s.as_bytes().to_vec()))
                    .collect::<mlua::Result<_>>()?,
                other => {
                    return Err(fail(
                        lua,
                        format!(
                            "expected raw RDATA or a list of them, got {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            act(Action::SpoofRaw(list, settings))
        })?,
    )?;
    let b = base.to_path_buf();
    g.set(
        "LogAction",
        lua.create_function(
            move |lua, (file, binary, append, buffered, verbose_only, timestamps): LogArgs| {
                let _ = verbose_only;
                let file = file.unwrap_or_default();
                if file.is_empty() {
                    return Err(fail(lua, "LogAction without a file name (logging to the process log) is not supported by rampart yet"));
                }
                let path = resolve(&b, &file);
                let log = open_log(
                    lua,
                    "LogAction",
                    &path,
                    binary.unwrap_or(true),
                    append.unwrap_or(false),
                    buffered.unwrap_or(true),
                    timestamps.unwrap_or(false),
                )?;
                act(Action::Log(log))
            },
        )?,
    )?;
    Ok(())
}

/// A Spoof* action's options: `aa`, `ad`, `ra` (true/false) and `ttl`.
fn spoof_settings(lua: &Lua, func: &str, opts: Option<Table>) -> mlua::Result<SpoofSettings> {
    let mut s = SpoofSettings::default();
    let Some(t) = opts else { return Ok(s) };
    for pair in t.pairs::<String, Value>() {
        let (k, v) = pair?;
        match k.as_str() {
            "aa" => s.aa = Some(lua_util::option_bool(lua, func, &k, &v)?),
            "ad" => s.ad = Some(lua_util::option_bool(lua, func, &k, &v)?),
            "ra" => s.ra = Some(lua_util::option_bool(lua, func, &k, &v)?),
            "ttl" => s.ttl = lua_util::option_u32(lua, func, &k, &v)?,
            other => {
                return Err(fail(
                    lua,
                    format!("{func}: option '{other}' is not supported by rampart"),
                ))
            }
        }
    }
    Ok(s)
}

/// NegativeAndSOAAction's arguments: nxd, zone, ttl, mname, rname,
/// serial, refresh, retry, expire, minimum, options.
type NegativeSoaArgs = (
    bool,
    String,
    u32,
    String,
    String,
    u32,
    u32,
    u32,
    u32,
    u32,
    Option<Table>,
);

/// The answer `NegativeAndSOAAction(...)` describes.
fn negative_soa(lua: &Lua, args: NegativeSoaArgs) -> mlua::Result<NegativeSoa> {
    let (nxdomain, zone_text, ttl, mname, rname, serial, refresh, retry, expire, minimum, opts) =
        args;
    let name = |text: &str| {
        shield::suffix::parse_name(text)
            .map_err(|e| fail(lua, format!("NegativeAndSOAAction: bad name '{text}': {e}")))
    };
    let zone = name(&zone_text)?;
    let mut rdata = name(&mname)?;
    rdata.extend(name(&rname)?);
    for n in [serial, refresh, retry, expire, minimum] {
        rdata.extend(n.to_be_bytes());
    }
    let mut in_authority = false;
    if let Some(t) = opts {
        for pair in t.pairs::<String, Value>() {
            let (k, v) = pair?;
            match k.as_str() {
                "soaInAuthoritySection" => {
                    in_authority = lua_util::option_bool(lua, "NegativeAndSOAAction", &k, &v)?
                }
                other => {
                    return Err(fail(
                        lua,
                        format!(
                            "NegativeAndSOAAction: option '{other}' is not supported by rampart"
                        ),
                    ))
                }
            }
        }
    }
    Ok(NegativeSoa {
        nxdomain,
        zone,
        zone_text,
        ttl,
        rdata,
        in_authority,
    })
}

/// Opens a query log for `func` (LogAction, LogResponseAction) as the
/// configuration's mode says ([`shield::querylog::open_shared`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_log(
    lua: &Lua,
    func: &str,
    path: &Path,
    binary: bool,
    append: bool,
    buffered: bool,
    timestamps: bool,
) -> mlua::Result<Arc<QueryLog>> {
    let mode = lua
        .app_data_ref::<shield::querylog::OpenMode>()
        .map_or(shield::querylog::OpenMode::Check, |m| *m);
    shield::querylog::open_shared(path, binary, append, buffered, timestamps, mode)
        .map_err(|e| fail(lua, format!("{func} cannot open {}: {e}", path.display())))
}

/// A rate and burst for the QPS rules and actions: the rate must be a
/// positive number (not 0, NaN or infinite); the burst defaults to the rate
/// rounded up, as dnsdist's does.
fn rate_arg(lua: &Lua, func: &str, qps: f64, burst: Option<u32>) -> mlua::Result<(f64, u32)> {
    if !(qps > 0.0 && qps.is_finite()) {
        return Err(fail(
            lua,
            format!("{func} needs a rate above 0 queries per second, got {qps}"),
        ));
    }
    let burst = burst
        .filter(|&b| b > 0)
        .unwrap_or(qps.ceil().min(f64::from(u32::MAX)) as u32);
    Ok((qps, burst))
}

/// The rules that match outside [min, max] would match every query with
/// the bounds swapped: refuse that rather than drop all traffic.
fn min_max(lua: &Lua, func: &str, min: usize, max: usize) -> mlua::Result<()> {
    if min > max {
        return Err(fail(
            lua,
            format!("{func}: min {min} is above max {max}; it would match every query"),
        ));
    }
    Ok(())
}
