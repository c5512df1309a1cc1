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

use mlua::{
    AnyUserData, FromLuaMulti, Function, Lua, MetaMethod, Table, UserData, UserDataMethods, Value,
};
use shield::action::{Action, NegativeSoa, SpoofSettings};
use shield::qps::{ClientLimiter, GlobalLimiter};
use shield::querylog::QueryLog;
use shield::selector::{Compare, Kind};
use shield::suffix::NameSet;
use shield::{Netmask, NetmaskGroup, Rule, Selector};

use crate::lua_util::{self, strings, Env, Global};
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
    let env = Env::new(state, base);
    register_constants(lua)?;
    lua_util::register_names(lua)?;
    lua_util::register_table(lua, &env, SELECTORS)?;
    lua_util::register_table(lua, &env, ACTIONS)?;
    lua_util::register_table(lua, &env, RULES)?;
    lua_util::register_chain(
        lua,
        state,
        lua_util::Chain {
            what: "rule",
            names: CHAIN,
            objects: "newRuleAction(...) objects",
            rule_of: |ud| ud.borrow::<LuaRule>().ok().map(|r| r.0.clone()),
            chain: |c| c.shield.rules.rules_mut(),
        },
    )
}

/// The query rule chain's functions (see [`lua_util::Chain::names`]).
pub(crate) const CHAIN: [&str; 6] = [
    "setRules",
    "topRule",
    "showRules",
    "rmRule",
    "mvRule",
    "clearRules",
];

/// Rule management, the 1.x shortcuts (as the rules they always were),
/// the ACL and the name and netmask collections.
const RULES: &[Global] = &[
    ("addAction", |lua, env| {
        add_rule(lua, env, |lua, (sel, act, opts): RuleArgs| {
            make_rule_entry(lua, sel, act, opts)
        })
    }),
    ("newRuleAction", |lua, _| {
        lua.create_function(new_rule_action)
    }),
    ("addDelay", |lua, env| {
        add_rule(lua, env, |lua, (sel, ms): (Value, u32)| {
            Ok(plain_rule(selector_arg(lua, sel)?, Action::Delay(ms)))
        })
    }),
    ("addDomainBlock", |lua, env| {
        add_rule(lua, env, domain_block)
    }),
    ("addAnyTCRule", |lua, env| {
        add_rule(lua, env, |_, ()| {
            let sel = Selector::new(Kind::And(vec![
                Selector::new(Kind::QType(255)),
                Selector::new(Kind::Tcp(false)),
            ]));
            Ok(plain_rule(sel, Action::Truncate))
        })
    }),
    ("addQPSLimit", |lua, env| {
        add_rule(lua, env, |lua, (sel, qps): (Value, f64)| {
            let (qps, burst) = rate_arg(lua, "addQPSLimit", qps, None)?;
            let limiter = GlobalLimiter::new(qps, burst);
            Ok(plain_rule(selector_arg(lua, sel)?, Action::Qps(limiter)))
        })
    }),
    ("addNoRecurseRule", |lua, env| {
        add_rule(lua, env, |lua, sel: Value| {
            Ok(plain_rule(selector_arg(lua, sel)?, Action::NoRecurse))
        })
    }),
    ("addPoolRule", |lua, env| {
        add_rule(lua, env, |lua, (sel, pool): (Value, String)| {
            Ok(plain_rule(
                selector_arg(lua, sel)?,
                Action::Pool(pool.into()),
            ))
        })
    }),
    ("setACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, masks: Value| {
            let mut g = NetmaskGroup::new();
            for m in strings(lua, masks, "a netmask or a list of netmasks")? {
                g.add(Netmask::parse(&m).map_err(|e| fail(lua, e))?);
            }
            st.borrow_mut().shield.acl = g;
            Ok(())
        })
    }),
    ("addACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, mask: String| {
            let m = Netmask::parse(&mask).map_err(|e| fail(lua, e))?;
            st.borrow_mut().shield.acl.add(m);
            Ok(())
        })
    }),
    ("rmACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, mask: String| {
            let m = Netmask::parse(&mask).map_err(|e| fail(lua, e))?;
            st.borrow_mut().shield.acl.remove(&m);
            Ok(())
        })
    }),
    ("showACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, ()| {
            for m in st.borrow().shield.acl.masks() {
                crate::output::emit(&format!("{m}\n"));
            }
            Ok(())
        })
    }),
    ("newNMG", |lua, _| {
        lua.create_function(|_, ()| Ok(LuaNmg::default()))
    }),
    ("newSuffixMatchNode", |lua, _| {
        lua.create_function(|_, ()| Ok(LuaNames::default()))
    }),
    ("newDNSNameSet", |lua, _| {
        lua.create_function(|_, ()| Ok(LuaNames::default()))
    }),
];

/// A selector, an action and an optional `{name=, uuid=}`.
type RuleArgs = (Value, Value, Option<Table>);

/// Makes a function that adds the rule `make` builds from its arguments
/// to the query rules.
fn add_rule<A: FromLuaMulti + 'static>(
    lua: &Lua,
    env: &Env,
    make: fn(&Lua, A) -> mlua::Result<Rule>,
) -> mlua::Result<Function> {
    let st = env.state.clone();
    lua.create_function(move |lua, args: A| {
        let rule = make(lua, args)?;
        st.borrow_mut().shield.rules.push(rule);
        Ok(())
    })
}

/// `newRuleAction`: a rule for `setRules`, or, given a response action,
/// a response rule (for `setResponseRules`).
fn new_rule_action(lua: &Lua, (sel, act, opts): RuleArgs) -> mlua::Result<AnyUserData> {
    if let Value::UserData(ud) = &act {
        if ud.is::<crate::response_lua::LuaResponseAction>() {
            let r = crate::response_lua::response_rule(lua, sel, act, opts)?;
            return lua.create_userdata(crate::response_lua::LuaResponseRule(r));
        }
    }
    let r = make_rule_entry(lua, sel, act, opts)?;
    lua.create_userdata(LuaRule(r))
}

/// `addDomainBlock`: drops queries for the names and their subdomains.
fn domain_block(lua: &Lua, names: Value) -> mlua::Result<Rule> {
    let mut set = NameSet::new();
    for n in strings(lua, names, "a domain name")? {
        set.add(&n).map_err(|e| fail(lua, e))?;
    }
    Ok(plain_rule(
        Selector::new(Kind::QNameSuffix(set)),
        Action::Drop,
    ))
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
        ("BADSIG", 16),
        ("BADKEY", 17),
        ("BADTIME", 18),
        ("BADMODE", 19),
        ("BADNAME", 20),
        ("BADALG", 21),
        ("BADTRUNC", 22),
        ("BADCOOKIE", 23),
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
    classes.set("NONE", 254)?;
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

/// Makes a selector constructor from what builds its kind.
fn selector<A: FromLuaMulti + 'static>(
    lua: &Lua,
    kind: fn(&Lua, A) -> mlua::Result<Kind>,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: A| Ok(LuaSelector(Selector::new(kind(lua, args)?))))
}

/// The selectors (dnsdist's `*Rule` constructors).
const SELECTORS: &[Global] = &[
    ("AllRule", |lua, _| selector(lua, |_, ()| Ok(Kind::All))),
    ("QNameRule", |lua, _| {
        selector(lua, |lua, names: Value| {
            let mut set = NameSet::new();
            for n in strings(lua, names, "a name")? {
                set.add(&n).map_err(|e| fail(lua, e))?;
            }
            Ok(Kind::QName(set))
        })
    }),
    ("QNameSuffixRule", |lua, _| selector(lua, suffix_rule)),
    ("SuffixMatchNodeRule", |lua, _| selector(lua, suffix_rule)),
    ("QNameSetRule", |lua, _| {
        selector(lua, |lua, v: AnyUserData| {
            let set = v
                .borrow::<LuaNames>()
                .map_err(|_| fail(lua, "expected newDNSNameSet()"))?
                .0
                .borrow()
                .clone();
            Ok(Kind::QName(set))
        })
    }),
    ("makeRule", |lua, _| {
        lua.create_function(|lua, v: Value| Ok(LuaSelector(make_rule(lua, v)?)))
    }),
    ("NetmaskGroupRule", |lua, _| {
        selector(lua, netmask_group_rule)
    }),
    ("QTypeRule", |lua, _| {
        selector(lua, |lua, t: Value| Ok(Kind::QType(qtype_arg(lua, t)?)))
    }),
    ("QClassRule", |lua, _| {
        selector(lua, |_, c: u16| Ok(Kind::QClass(c)))
    }),
    ("OpcodeRule", |lua, _| {
        selector(lua, |lua, o: u8| {
            if o > 15 {
                return Err(fail(
                    lua,
                    format!("OpcodeRule: opcodes are 0 to 15, got {o}"),
                ));
            }
            Ok(Kind::Opcode(o))
        })
    }),
    ("TrailingDataRule", |lua, _| {
        selector(lua, |_, ()| Ok(Kind::TrailingData))
    }),
    ("RDRule", |lua, _| {
        selector(lua, |_, ()| Ok(Kind::RecursionDesired))
    }),
    ("DNSSECRule", |lua, _| {
        selector(lua, |_, ()| Ok(Kind::Dnssec))
    }),
    ("TCPRule", |lua, _| {
        selector(lua, |_, tcp: bool| Ok(Kind::Tcp(tcp)))
    }),
    ("QNameLabelsCountRule", |lua, _| {
        selector(lua, |lua, (min, max): (usize, usize)| {
            min_max(lua, "QNameLabelsCountRule", min, max)?;
            Ok(Kind::LabelsCount { min, max })
        })
    }),
    ("QNameWireLengthRule", |lua, _| {
        selector(lua, |lua, (min, max): (usize, usize)| {
            min_max(lua, "QNameWireLengthRule", min, max)?;
            Ok(Kind::WireLength { min, max })
        })
    }),
    ("PayloadSizeRule", |lua, _| {
        selector(lua, |lua, (cmp, size): (String, usize)| {
            let c = Compare::parse(&cmp).ok_or_else(|| {
                fail(lua, format!("unknown comparison '{cmp}': expected equal, greater, greaterOrEqual, smaller or smallerOrEqual"))
            })?;
            Ok(Kind::PayloadSize(c, size))
        })
    }),
    ("EDNSVersionRule", |lua, _| {
        selector(lua, |_, v: u8| Ok(Kind::EdnsVersion(v)))
    }),
    ("EDNSOptionRule", |lua, _| {
        selector(lua, |_, c: u16| Ok(Kind::EdnsOption(c)))
    }),
    ("DSTPortRule", |lua, _| {
        selector(lua, |_, p: u16| Ok(Kind::DstPort(p)))
    }),
    ("ProbaRule", |lua, _| {
        selector(lua, |lua, p: f64| {
            if !(0.0..=1.0).contains(&p) {
                return Err(fail(
                    lua,
                    format!("probability {p} out of range: expected 0 to 1"),
                ));
            }
            Ok(Kind::Probability(p))
        })
    }),
    ("MaxQPSIPRule", |lua, _| {
        selector(
            lua,
            |lua, (qps, v4, v6, burst): (f64, Option<u8>, Option<u8>, Option<u32>)| {
                let (qps, burst) = rate_arg(lua, "MaxQPSIPRule", qps, burst)?;
                let (v4, v6) = (v4.unwrap_or(32), v6.unwrap_or(64));
                if v4 > 32 || v6 > 128 {
                    return Err(fail(lua, "MaxQPSIPRule masks: IPv4 0 to 32, IPv6 0 to 128"));
                }
                Ok(Kind::MaxQpsIp(ClientLimiter::new(qps, burst, v4, v6)))
            },
        )
    }),
    ("MaxQPSRule", |lua, _| {
        selector(lua, |lua, (qps, burst): (f64, Option<u32>)| {
            let (qps, burst) = rate_arg(lua, "MaxQPSRule", qps, burst)?;
            Ok(Kind::MaxQps(GlobalLimiter::new(qps, burst)))
        })
    }),
    ("PoolAvailableRule", |lua, _| {
        selector(lua, |_, pool: String| Ok(Kind::PoolAvailable(pool)))
    }),
    ("RegexRule", |lua, _| {
        selector(lua, |lua, re: String| {
            let compiled = shield::name_regex::NameRegex::new(&re)
                .map_err(|e| fail(lua, format!("bad regular expression '{re}': {e}")))?;
            Ok(Kind::Regex(compiled))
        })
    }),
    ("AndRule", |lua, _| {
        selector(lua, |lua, t: Table| Ok(Kind::And(selectors_arg(lua, t)?)))
    }),
    ("OrRule", |lua, _| {
        selector(lua, |lua, t: Table| Ok(Kind::Or(selectors_arg(lua, t)?)))
    }),
    ("NotRule", |lua, _| {
        selector(lua, |lua, v: Value| Ok(Kind::Not(selector_arg(lua, v)?)))
    }),
];

/// `QNameSuffixRule` and `SuffixMatchNodeRule`: names, or a
/// `newSuffixMatchNode()`, matched with their subdomains (the second
/// argument, dnsdist's `quiet`, only changes its description there).
fn suffix_rule(lua: &Lua, (v, _quiet): (Value, Option<bool>)) -> mlua::Result<Kind> {
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
    Ok(Kind::QNameSuffix(set))
}

/// `NetmaskGroupRule(nmg or netmasks, src, quiet)`: only on the source
/// address.
fn netmask_group_rule(
    lua: &Lua,
    (v, src, _quiet): (Value, Option<bool>, Option<bool>),
) -> mlua::Result<Kind> {
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
    Ok(Kind::Netmask(nmg))
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

/// Makes an action constructor from what builds its action.
fn action<A: FromLuaMulti + 'static>(
    lua: &Lua,
    make: fn(&Lua, A) -> mlua::Result<Action>,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: A| Ok(LuaAction(Arc::new(make(lua, args)?))))
}

/// The actions (dnsdist's `*Action` constructors for queries).
const ACTIONS: &[Global] = &[
    ("AllowAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::Allow))
    }),
    ("DropAction", |lua, _| action(lua, |_, ()| Ok(Action::Drop))),
    ("NoneAction", |lua, _| action(lua, |_, ()| Ok(Action::None))),
    ("TCAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::Truncate))
    }),
    ("NoRecurseAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::NoRecurse))
    }),
    ("SetNoRecurseAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::NoRecurse))
    }),
    ("DisableValidationAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::DisableValidation))
    }),
    ("SetDisableValidationAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::DisableValidation))
    }),
    ("SetSkipCacheAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::SkipCache))
    }),
    ("SetDisableECSAction", |lua, _| {
        action(lua, |_, ()| Ok(Action::DisableEcs))
    }),
    ("DelayAction", |lua, _| {
        action(lua, |_, ms: u32| Ok(Action::Delay(ms)))
    }),
    ("RCodeAction", |lua, _| {
        action(lua, |lua, (rc, _opts): (u16, Option<Table>)| {
            if rc > 15 {
                return Err(fail(
                    lua,
                    format!("RCodeAction takes a 4-bit rcode, got {rc}: use ERCodeAction"),
                ));
            }
            Ok(Action::RCode(rc))
        })
    }),
    ("ERCodeAction", |lua, _| {
        action(lua, |lua, (rc, _opts): (u16, Option<Table>)| {
            if rc > 4095 {
                return Err(fail(
                    lua,
                    format!("extended rcode {rc} out of range: expected 0 to 4095"),
                ));
            }
            Ok(Action::RCode(rc))
        })
    }),
    ("PoolAction", |lua, _| {
        action(lua, |_, (pool, _stop): (String, Option<bool>)| {
            Ok(Action::Pool(pool.into()))
        })
    }),
    ("SetEDNSOptionAction", |lua, _| {
        action(lua, |lua, (code, data): (u16, mlua::LuaString)| {
            let data = data.as_bytes().to_vec();
            if data.len() > usize::from(u16::MAX) - 4 {
                return Err(fail(lua, "SetEDNSOptionAction: option data too long"));
            }
            Ok(Action::SetEdnsOption(code, data))
        })
    }),
    ("SetECSAction", |lua, _| {
        action(lua, |lua, (v4, v6): (String, Option<String>)| {
            let net = |text: &str| {
                shield::Netmask::parse(text).map_err(|e| fail(lua, format!("SetECSAction: {e}")))
            };
            Ok(Action::SetEcs(
                net(&v4)?,
                v6.as_deref().map(net).transpose()?,
            ))
        })
    }),
    ("SetECSPrefixLengthAction", |lua, _| {
        action(lua, |lua, (v4, v6): (u8, u8)| {
            if v4 > 32 || v6 > 128 {
                return Err(fail(
                    lua,
                    "SetECSPrefixLengthAction: at most 32 bits for IPv4, 128 for IPv6",
                ));
            }
            Ok(Action::SetEcsPrefix(v4, v6))
        })
    }),
    ("SetECSOverrideAction", |lua, _| {
        action(lua, |_, on: bool| Ok(Action::SetEcsOverride(on)))
    }),
    ("SetTempFailureCacheTTLAction", |lua, _| {
        action(lua, |_, ttl: u32| Ok(Action::TempFailureCacheTtl(ttl)))
    }),
    ("ContinueAction", |lua, _| {
        action(lua, |lua, inner: Value| {
            Ok(Action::Continue(action_arg(lua, inner)?))
        })
    }),
    ("QPSPoolAction", |lua, _| {
        action(lua, |lua, (qps, pool): (f64, String)| {
            let (qps, burst) = rate_arg(lua, "QPSPoolAction", qps, None)?;
            Ok(Action::QpsPool(GlobalLimiter::new(qps, burst), pool.into()))
        })
    }),
    ("NegativeAndSOAAction", |lua, _| {
        action(lua, |lua, args: NegativeSoaArgs| {
            Ok(Action::NegativeSoa(Box::new(negative_soa(lua, args)?)))
        })
    }),
    ("QPSAction", |lua, _| {
        action(lua, |lua, qps: f64| {
            let (qps, burst) = rate_arg(lua, "QPSAction", qps, None)?;
            Ok(Action::Qps(GlobalLimiter::new(qps, burst)))
        })
    }),
    ("SpoofAction", |lua, _| {
        action(lua, |lua, (addrs, opts): (Value, Option<Table>)| {
            let settings = spoof_settings(lua, "SpoofAction", opts)?;
            let mut list = Vec::new();
            for a in strings(lua, addrs, "an address or a list of addresses")? {
                list.push(
                    a.parse::<IpAddr>()
                        .map_err(|_| fail(lua, format!("bad address '{a}'")))?,
                );
            }
            Ok(Action::Spoof(list, settings))
        })
    }),
    ("SpoofCNAMEAction", |lua, _| {
        action(lua, |lua, (name, opts): (String, Option<Table>)| {
            let settings = spoof_settings(lua, "SpoofCNAMEAction", opts)?;
            let wire = shield::suffix::parse_name(&name).map_err(|e| fail(lua, e))?;
            Ok(Action::SpoofCname(wire, name, settings))
        })
    }),
    ("SpoofRawAction", |lua, _| action(lua, spoof_raw)),
    ("LogAction", |lua, env| {
        let b = env.base.clone();
        lua.create_function(move |lua, args: LogArgs| {
            Ok(LuaAction(Arc::new(log_action(lua, &b, args)?)))
        })
    }),
];

/// `SpoofRawAction(rdata or list, options)`.
fn spoof_raw(lua: &Lua, (raw, opts): (Value, Option<Table>)) -> mlua::Result<Action> {
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
    Ok(Action::SpoofRaw(list, settings))
}

/// `LogAction(file, ...)`: the file resolves beside the config.
fn log_action(
    lua: &Lua,
    base: &Path,
    (file, binary, append, buffered, verbose_only, timestamps): LogArgs,
) -> mlua::Result<Action> {
    let _ = verbose_only;
    let file = file.unwrap_or_default();
    if file.is_empty() {
        return Err(fail(lua, "LogAction without a file name (logging to the process log) is not supported by rampart yet"));
    }
    let path = resolve(base, &file);
    let log = open_log(
        lua,
        "LogAction",
        &path,
        binary.unwrap_or(true),
        append.unwrap_or(false),
        buffered.unwrap_or(true),
        timestamps.unwrap_or(false),
    )?;
    Ok(Action::Log(log))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lua_util::table_test::{
        check_built, check_chain, check_constants, constants, covers, load, rule_names,
        ChainUnderTest,
    };

    #[test]
    fn every_selector_keeps_its_arguments() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("AllRule", "AllRule()", &["All"]),
            ("QNameRule", "QNameRule('www.example.org')", &["qname==", "www.example.org"]),
            ("QNameSuffixRule", "QNameSuffixRule({'a.test', 'b.test'})", &["qname in", "a.test", "b.test"]),
            (
                "SuffixMatchNodeRule",
                "(function() local s = newSuffixMatchNode() s:add('c.test') return SuffixMatchNodeRule(s) end)()",
                &["qname in", "c.test"],
            ),
            (
                "QNameSetRule",
                "(function() local s = newDNSNameSet() s:add('d.test') return QNameSetRule(s) end)()",
                &["qname==", "d.test"],
            ),
            ("makeRule", "makeRule('10.0.0.0/8')", &["Src: 10.0.0.0/8"]),
            ("NetmaskGroupRule", "NetmaskGroupRule({'192.0.2.0/24'})", &["Src: 192.0.2.0/24"]),
            ("QTypeRule", "QTypeRule('AAAA')", &["qtype==AAAA"]),
            ("QClassRule", "QClassRule(3)", &["qclass==3"]),
            ("OpcodeRule", "OpcodeRule(5)", &["opcode==5"]),
            ("TrailingDataRule", "TrailingDataRule()", &["trailing data"]),
            ("RDRule", "RDRule()", &["rd==1"]),
            ("DNSSECRule", "DNSSECRule()", &["DNSSEC"]),
            ("TCPRule", "TCPRule(false)", &["UDP"]),
            ("QNameLabelsCountRule", "QNameLabelsCountRule(2, 5)", &["labels count < 2 || labels count > 5"]),
            ("QNameWireLengthRule", "QNameWireLengthRule(10, 200)", &["wire length < 10 || wire length > 200"]),
            ("PayloadSizeRule", "PayloadSizeRule('greater', 1232)", &["payload size is Greater to 1232"]),
            ("EDNSVersionRule", "EDNSVersionRule(1)", &["EDNS version > 1"]),
            ("EDNSOptionRule", "EDNSOptionRule(10)", &["EDNS option 10"]),
            ("DSTPortRule", "DSTPortRule(853)", &["dst port==853"]),
            ("ProbaRule", "ProbaRule(0.25)", &["match with prob. 0.25"]),
            ("MaxQPSIPRule", "MaxQPSIPRule(10, 24, 56, 20)", &["IP (/24, /56) match for QPS over 10 burst 20"]),
            ("MaxQPSRule", "MaxQPSRule(100, 150)", &["Max 100 qps", "150"]),
            ("PoolAvailableRule", "PoolAvailableRule('abuse')", &["pool 'abuse' is available"]),
            ("RegexRule", "RegexRule('^ads[.]')", &["Regex: ^ads[.]"]),
            ("AndRule", "AndRule({QTypeRule(1), TCPRule(true)})", &["(qtype==A && TCP)"]),
            ("OrRule", "OrRule({QTypeRule(1), TCPRule(true)})", &["(qtype==A || TCP)"]),
            ("NotRule", "NotRule(RDRule())", &["!(rd==1)"]),
        ];
        covers(
            SELECTORS.iter().map(|(n, _)| *n),
            cases.iter().map(|(n, e, _)| (*n, *e)),
        );
        check_built(cases);
    }

    #[test]
    fn every_action_keeps_its_arguments() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("AllowAction", "AllowAction()", &["allow"]),
            ("DropAction", "DropAction()", &["drop"]),
            ("NoneAction", "NoneAction()", &["no op"]),
            ("TCAction", "TCAction()", &["tc=1 answer"]),
            ("NoRecurseAction", "NoRecurseAction()", &["set rd=0"]),
            ("SetNoRecurseAction", "SetNoRecurseAction()", &["set rd=0"]),
            ("DisableValidationAction", "DisableValidationAction()", &["set cd=1"]),
            ("SetDisableValidationAction", "SetDisableValidationAction()", &["set cd=1"]),
            ("SetSkipCacheAction", "SetSkipCacheAction()", &["skip cache"]),
            ("SetDisableECSAction", "SetDisableECSAction()", &["disable ECS"]),
            ("DelayAction", "DelayAction(250)", &["delay by 250 ms"]),
            ("RCodeAction", "RCodeAction(5)", &["set rcode 5"]),
            ("ERCodeAction", "ERCodeAction(16)", &["set rcode 16"]),
            ("PoolAction", "PoolAction('abuse')", &["to pool abuse"]),
            ("SetEDNSOptionAction", "SetEDNSOptionAction(65001, 'hi')", &["add EDNS Option (code=65001)", "[104, 105]"]),
            (
                "SetECSAction",
                "SetECSAction('192.0.2.0/24', '2001:db8::/48')",
                &["set ECS to 192.0.2.0/24 / 2001:db8::/48"],
            ),
            ("SetECSPrefixLengthAction", "SetECSPrefixLengthAction(20, 48)", &["set ECS prefix length to 20/48"]),
            ("SetECSOverrideAction", "SetECSOverrideAction(true)", &["set ECS override to true"]),
            ("SetTempFailureCacheTTLAction", "SetTempFailureCacheTTLAction(7)", &["set tempfailure cache ttl to 7"]),
            ("ContinueAction", "ContinueAction(PoolAction('x'))", &["continue after: to pool x"]),
            ("QPSPoolAction", "QPSPoolAction(50, 'slow')", &["max 50 to pool slow"]),
            (
                "NegativeAndSOAAction",
                "NegativeAndSOAAction(true, 'example.org', 60, 'ns.example.org', 'h.example.org', 1, 2, 3, 4, 5, {soaInAuthoritySection=true})",
                &["NXD with SOA example.org", "ttl: 60", "in_authority: true"],
            ),
            ("QPSAction", "QPSAction(30)", &["qps limit to 30"]),
            (
                "SpoofAction",
                "SpoofAction({'192.0.2.1', '2001:db8::1'}, {ttl=77})",
                &["spoof in 192.0.2.1, 2001:db8::1", "ttl: 77"],
            ),
            (
                "SpoofCNAMEAction",
                "SpoofCNAMEAction('alias.example.org', {aa=true})",
                &["spoof in alias.example.org", "aa: Some(true)"],
            ),
            ("SpoofRawAction", "SpoofRawAction('\\192\\0\\2\\1', {ttl=9})", &["spoof in raw", "[192, 0, 2, 1]", "ttl: 9"]),
            ("LogAction", "LogAction('/dev/null', false)", &["log to /dev/null", "binary: false"]),
        ];
        covers(
            ACTIONS.iter().map(|(n, _)| *n),
            cases.iter().map(|(n, e, _)| (*n, *e)),
        );
        check_built(cases);
    }

    /// The query rules (name, selector, action), the ACL and what was
    /// printed, as one line to look for a case's effect in.
    fn summary(src: &str) -> String {
        let (c, printed) = crate::output::capture(|| load(src));
        let rules: Vec<String> = c
            .shield
            .rules
            .rules()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.name,
                    r.selector.describe(),
                    r.action.describe()
                )
            })
            .collect();
        let acl: Vec<String> = c.shield.acl.masks().iter().map(|m| m.to_string()).collect();
        format!(
            "rules: {}; acl: {}; printed: {printed}",
            rules.join(", "),
            acl.join(" ")
        )
    }

    #[test]
    fn every_rcode_has_dnsdists_value() {
        let rcodes: &[(&str, i64)] = &[
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
            ("BADSIG", 16),
            ("BADKEY", 17),
            ("BADTIME", 18),
            ("BADMODE", 19),
            ("BADNAME", 20),
            ("BADALG", 21),
            ("BADTRUNC", 22),
            ("BADCOOKIE", 23),
        ];
        check_constants("DNSRCode", rcodes, true);
        // dnsdist 1.x's `dnsdist.*` spellings.
        check_constants("dnsdist", rcodes, false);
    }

    #[test]
    fn every_qtype_has_dnsdists_value() {
        // DNSQType is every type rampart knows by name (too many to list
        // here in full): these are the ones dnsdist's examples use, and
        // the names come from the same list as the values.
        let qtypes: &[(&str, i64)] = &[
            ("A", 1),
            ("NS", 2),
            ("CNAME", 5),
            ("SOA", 6),
            ("PTR", 12),
            ("HINFO", 13),
            ("MX", 15),
            ("TXT", 16),
            ("AAAA", 28),
            ("SRV", 33),
            ("NAPTR", 35),
            ("DS", 43),
            ("RRSIG", 46),
            ("NSEC", 47),
            ("DNSKEY", 48),
            ("NSEC3", 50),
            ("TLSA", 52),
            ("SVCB", 64),
            ("HTTPS", 65),
            ("TKEY", 249),
            ("TSIG", 250),
            ("IXFR", 251),
            ("AXFR", 252),
            ("ANY", 255),
            ("CAA", 257),
        ];
        check_constants("DNSQType", qtypes, false);
        check_constants("dnsdist", qtypes, false);
        for (name, value) in constants("DNSQType") {
            assert_eq!(
                wire::types::rtype_name(value as u16),
                name,
                "DNSQType.{name}"
            );
        }
    }

    #[test]
    fn every_class_opcode_and_edns_option_has_dnsdists_value() {
        check_constants(
            "DNSClass",
            &[("IN", 1), ("CHAOS", 3), ("NONE", 254), ("ANY", 255)],
            true,
        );
        check_constants(
            "DNSOpcode",
            &[
                ("Query", 0),
                ("IQuery", 1),
                ("Status", 2),
                ("Notify", 4),
                ("Update", 5),
            ],
            true,
        );
        check_constants(
            "EDNSOptionCode",
            &[
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
            ],
            true,
        );
    }

    #[test]
    fn every_query_rule_chain_function_takes_effect() {
        check_chain(&ChainUnderTest {
            names: CHAIN,
            add: "addAction(QNameRule('NAME.test'), DropAction(), {name='NAME', uuid='uuid-NAME'})",
            new: "newRuleAction(QNameRule('NAME.test'), DropAction(), {name='NAME'})",
            rules: |c| rule_names(c.shield.rules.rules()),
        });
    }

    #[test]
    fn every_rule_and_acl_function_takes_effect() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "addAction",
                "addAction(QTypeRule('ANY'), DropAction(), {name='noany'})",
                "rules: noany qtype==ANY drop;",
            ),
            (
                "newRuleAction",
                "setRules({newRuleAction(QClassRule(3), DropAction(), {name='chaos'})})",
                "rules: chaos qclass==3 drop;",
            ),
            ("addDelay", "addDelay('10.0.0.0/8', 100)", "rules:  Src: 10.0.0.0/8 delay by 100 ms;"),
            ("addDomainBlock", "addDomainBlock('bad.test')", "bad.test"),
            ("addAnyTCRule", "addAnyTCRule()", "rules:  (qtype==ANY && UDP) tc=1 answer;"),
            ("addQPSLimit", "addQPSLimit('10.0.0.0/8', 50)", "rules:  Src: 10.0.0.0/8 qps limit to 50;"),
            ("addNoRecurseRule", "addNoRecurseRule('10.0.0.0/8')", "rules:  Src: 10.0.0.0/8 set rd=0;"),
            ("addPoolRule", "addPoolRule('10.0.0.0/8', 'abuse')", "rules:  Src: 10.0.0.0/8 to pool abuse;"),
            ("setACL", "setACL({'10.0.0.0/8', '192.0.2.0/24'})", "acl: 10.0.0.0/8 192.0.2.0/24;"),
            ("addACL", "setACL('10.0.0.0/8') addACL('198.51.100.0/24')", "acl: 10.0.0.0/8 198.51.100.0/24;"),
            ("rmACL", "setACL({'10.0.0.0/8', '192.0.2.0/24'}) rmACL('10.0.0.0/8')", "acl: 192.0.2.0/24;"),
            ("showACL", "setACL('203.0.113.0/24') showACL()", "printed: 203.0.113.0/24\n"),
            (
                "newNMG",
                "local n = newNMG() n:addMask('203.0.113.0/24') addAction(NetmaskGroupRule(n), DropAction())",
                "rules:  Src: 203.0.113.0/24 drop;",
            ),
            (
                "newSuffixMatchNode",
                "local s = newSuffixMatchNode() s:add('e.test') addAction(SuffixMatchNodeRule(s), DropAction())",
                "e.test",
            ),
            (
                "newDNSNameSet",
                "local s = newDNSNameSet() s:add('f.test') addAction(QNameSetRule(s), DropAction())",
                "f.test",
            ),
        ];
        covers(
            RULES.iter().map(|(n, _)| *n),
            cases.iter().map(|(n, s, _)| (*n, *s)),
        );
        for (_, src, want) in cases {
            let got = summary(src);
            assert!(got.contains(want), "{src}: want {want:?} in {got:?}");
        }
    }
}
