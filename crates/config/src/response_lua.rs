//! Response rules and tags from Lua: `addResponseAction`, the response
//! actions, `RCodeRule`/`ERCodeRule`, `showResponseRules`,
//! `rmResponseRule`, `mvResponseRule`, `clearResponseRules`, and
//! `SetTagAction`/`TagRule`.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};
use shield::action::Action;
use shield::response::{ResponseAction, ResponseRule};
use shield::selector::Kind;
use shield::Selector;

use crate::lua_util::{self, setter, Env, Flag, Global};
use crate::shield_lua::{selector_arg, LuaAction, LuaSelector};
use crate::{fail, resolve, Config};

/// A response rule made by `newRuleAction` with a response action.
#[derive(Clone)]
pub struct LuaResponseRule(pub ResponseRule);

impl UserData for LuaResponseRule {}

/// A response rule from a selector, a response action and `{name=, uuid=}`.
pub fn response_rule(
    lua: &Lua,
    sel: Value,
    act: Value,
    opts: Option<Table>,
) -> mlua::Result<ResponseRule> {
    let selector = selector_arg(lua, sel)?;
    let action = match act {
        Value::UserData(ud) => ud
            .borrow::<LuaResponseAction>()
            .map(|a| a.0.clone())
            .map_err(|_| fail(lua, "expected a response action (a *ResponseAction object)"))?,
        other => {
            return Err(fail(
                lua,
                format!("expected a response action, got {}", other.type_name()),
            ))
        }
    };
    let (mut name, mut uuid) = (String::new(), String::new());
    if let Some(o) = opts {
        name = o.get::<Option<String>>("name")?.unwrap_or_default();
        uuid = o.get::<Option<String>>("uuid")?.unwrap_or_default();
    }
    if uuid.is_empty() {
        uuid = crate::shield_lua::new_uuid();
    }
    Ok(ResponseRule {
        selector,
        action,
        name,
        uuid,
    })
}

/// A response action handed to Lua.
#[derive(Clone)]
pub struct LuaResponseAction(pub Arc<ResponseAction>);

impl UserData for LuaResponseAction {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.describe()));
    }
}

fn types_arg(lua: &Lua, v: Option<Value>) -> mlua::Result<Vec<u16>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let list: Vec<Value> = match v {
        Value::Table(t) => t.sequence_values::<Value>().collect::<mlua::Result<_>>()?,
        Value::Nil => Vec::new(),
        other => vec![other],
    };
    list.into_iter()
        .map(|v| match v {
            Value::Integer(n) => {
                u16::try_from(n).map_err(|_| fail(lua, format!("type {n} out of range")))
            }
            Value::String(s) => {
                let s = s.to_str()?.to_string();
                wire::types::rtype_from_name(&s)
                    .ok_or_else(|| fail(lua, format!("unknown type '{s}'")))
            }
            other => Err(fail(
                lua,
                format!("expected a record type, got {}", other.type_name()),
            )),
        })
        .collect()
}

/// LogResponseAction's arguments: file, append, buffered, verboseOnly,
/// includeTimestamp.
type LogResponseArgs = (
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
);

/// A constructor that takes no arguments.
type Maker = (&'static str, fn() -> ResponseAction);

/// Registers the response-rule and tag functions, and the settings for
/// backend answers (`truncateTC`, `setAllowEmptyResponse`) and empty
/// queries (`setDropEmptyQueries`).
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();
    for &(name, make) in PLAIN {
        g.set(name, lua.create_function(move |_, ()| ract(make()))?)?;
    }
    let env = Env::new(state, base);
    lua_util::register_flags(lua, &env, FLAGS)?;
    lua_util::register_table(lua, &env, ACTIONS)?;
    lua_util::register_table(lua, &env, TAGS)?;
    lua_util::register_table(lua, &env, RULES)?;
    lua_util::register_chain(
        lua,
        state,
        lua_util::Chain {
            what: "self-answered response rule",
            names: SELF_ANSWERED_CHAIN,
            objects: "newRuleAction(selector, response action) objects",
            rule_of: |ud| ud.borrow::<LuaResponseRule>().ok().map(|r| r.0.clone()),
            chain: |c| &mut c.shield.self_answered_rules.rules,
        },
    )?;
    lua_util::register_chain(
        lua,
        state,
        lua_util::Chain {
            what: "response rule",
            names: CHAIN,
            objects: "newRuleAction(selector, response action) objects",
            rule_of: |ud| ud.borrow::<LuaResponseRule>().ok().map(|r| r.0.clone()),
            chain: |c| &mut response_rules(c).rules,
        },
    )?;
    Ok(())
}

/// The response rule chain's functions (see [`lua_util::Chain::names`]).
pub(crate) const CHAIN: [&str; 6] = [
    "setResponseRules",
    "topResponseRule",
    "showResponseRules",
    "rmResponseRule",
    "mvResponseRule",
    "clearResponseRules",
];

/// The self-answered response rule chain's functions.
pub(crate) const SELF_ANSWERED_CHAIN: [&str; 6] = [
    "setSelfAnsweredResponseRules",
    "topSelfAnsweredResponseRule",
    "showSelfAnsweredResponseRules",
    "rmSelfAnsweredResponseRule",
    "mvSelfAnsweredResponseRule",
    "clearSelfAnsweredResponseRules",
];

/// A response action for Lua.
fn ract(a: ResponseAction) -> mlua::Result<LuaResponseAction> {
    Ok(LuaResponseAction(Arc::new(a)))
}

/// The response actions that take nothing.
const PLAIN: &[Maker] = &[
    ("SetSkipCacheResponseAction", || ResponseAction::SkipCache),
    ("AllowResponseAction", || ResponseAction::Allow),
    ("DropResponseAction", || ResponseAction::Drop),
    ("NoneResponseAction", || ResponseAction::None),
    ("TCResponseAction", || ResponseAction::Truncate),
];

/// The config's response rules, to change (the chain is shared with the
/// running server once installed: changed copy-on-write).
fn response_rules(c: &mut Config) -> &mut shield::response::ResponseChain {
    Arc::make_mut(&mut c.shield.response_rules)
}

/// Settings for backend answers and odd queries, as dnsdist's globals.
const FLAGS: &[Flag] = &[
    ("fixupCase", |c, on| response_rules(c).fix_case = on),
    ("truncateTC", |c, on| response_rules(c).truncate_tc = on),
    ("setAllowEmptyResponse", |c, on| {
        response_rules(c).allow_empty_response = on
    }),
    ("setDropEmptyQueries", |c, on| {
        c.shield.drop_empty_queries = on
    }),
];

/// The response actions that take arguments.
const ACTIONS: &[Global] = &[
    ("DelayResponseAction", |lua, _| {
        lua.create_function(|_, ms: u32| ract(ResponseAction::Delay(ms)))
    }),
    ("LimitTTLResponseAction", |lua, _| {
        lua.create_function(
            |lua, (min, max, types): (u32, Option<u32>, Option<Value>)| {
                let max = max.unwrap_or(u32::MAX);
                if min > max {
                    return Err(fail(
                        lua,
                        format!("LimitTTLResponseAction: min {min} is above max {max}"),
                    ));
                }
                ract(ResponseAction::LimitTtl {
                    min,
                    max,
                    types: types_arg(lua, types)?,
                })
            },
        )
    }),
    ("SetMaxTTLResponseAction", |lua, _| {
        lua.create_function(|_, max: u32| {
            ract(ResponseAction::LimitTtl {
                min: 0,
                max,
                types: Vec::new(),
            })
        })
    }),
    ("SetMinTTLResponseAction", |lua, _| {
        lua.create_function(|_, min: u32| {
            ract(ResponseAction::LimitTtl {
                min,
                max: u32::MAX,
                types: Vec::new(),
            })
        })
    }),
    ("ClearRecordTypesResponseAction", |lua, _| {
        lua.create_function(|lua, types: Value| {
            ract(ResponseAction::ClearRecordTypes(types_arg(
                lua,
                Some(types),
            )?))
        })
    }),
    ("LogResponseAction", |lua, env| {
        let b = env.base.clone();
        lua.create_function(
            move |lua, (file, append, buffered, _verbose, ts): LogResponseArgs| {
                let file = file.unwrap_or_default();
                if file.is_empty() {
                    return Err(fail(
                        lua,
                        "LogResponseAction without a file name is not supported by rampart yet",
                    ));
                }
                let path = resolve(&b, &file);
                let log = crate::shield_lua::open_log(
                    lua,
                    "LogResponseAction",
                    &path,
                    false,
                    append.unwrap_or(false),
                    buffered.unwrap_or(true),
                    ts.unwrap_or(false),
                )?;
                ract(ResponseAction::Log(log))
            },
        )
    }),
];

/// The response-code selectors, and tags: setting one on a query,
/// matching it.
const TAGS: &[Global] = &[
    ("RCodeRule", |lua, _| {
        lua.create_function(|_, rc: u16| Ok(LuaSelector(Selector::new(Kind::RCode(rc)))))
    }),
    ("ERCodeRule", |lua, _| {
        lua.create_function(|_, rc: u16| Ok(LuaSelector(Selector::new(Kind::ERCode(rc)))))
    }),
    ("TagRule", |lua, _| {
        lua.create_function(|_, (name, value): (String, Option<String>)| {
            Ok(LuaSelector(Selector::new(Kind::Tag(
                name.into(),
                value.map(Into::into),
            ))))
        })
    }),
    ("SetTagAction", |lua, _| {
        lua.create_function(|_, (name, value): (String, Option<String>)| {
            Ok(LuaAction(Arc::new(Action::SetTag(
                name.into(),
                value.unwrap_or_default().into(),
            ))))
        })
    }),
];

/// Adding response rules (the rest of each chain is [`register_chain`]'s).
///
/// [`register_chain`]: lua_util::register_chain
const RULES: &[Global] = &[
    ("addResponseAction", |lua, env| {
        setter(lua, env, |lua, c, (sel, act, opts): RuleArgs| {
            let rule = response_rule(lua, sel, act, opts)?;
            response_rules(c).rules.push(rule);
            Ok(())
        })
    }),
    ("addSelfAnsweredResponseAction", |lua, env| {
        setter(lua, env, |lua, c, (sel, act, opts): RuleArgs| {
            let rule = response_rule(lua, sel, act, opts)?;
            c.shield.self_answered_rules.rules.push(rule);
            Ok(())
        })
    }),
];

/// A rule's selector, action and `{name=, uuid=}`.
type RuleArgs = (Value, Value, Option<Table>);

#[cfg(test)]
mod tests {
    use crate::lua_util::table_test::{
        check_built, check_cases, check_chain, covers, rule_names, Case, ChainUnderTest,
    };

    #[test]
    fn every_response_rule_chain_function_takes_effect() {
        check_chain(&ChainUnderTest {
            names: super::CHAIN,
            add: "addResponseAction(QNameRule('NAME.test'), DropResponseAction(), {name='NAME', uuid='uuid-NAME'})",
            new: "newRuleAction(QNameRule('NAME.test'), DropResponseAction(), {name='NAME'})",
            rules: |c| rule_names(&c.shield.response_rules.rules),
        });
    }

    #[test]
    fn every_self_answered_rule_chain_function_takes_effect() {
        check_chain(&ChainUnderTest {
            names: super::SELF_ANSWERED_CHAIN,
            add: "addSelfAnsweredResponseAction(QNameRule('NAME.test'), DropResponseAction(), {name='NAME', uuid='uuid-NAME'})",
            new: "newRuleAction(QNameRule('NAME.test'), DropResponseAction(), {name='NAME'})",
            rules: |c| rule_names(&c.shield.self_answered_rules.rules),
        });
    }

    #[test]
    fn every_response_action_keeps_its_arguments() {
        let plain: &[(&str, &str, &[&str])] = &[
            (
                "SetSkipCacheResponseAction",
                "SetSkipCacheResponseAction()",
                &["skip cache SkipCache"],
            ),
            (
                "AllowResponseAction",
                "AllowResponseAction()",
                &["allow Allow"],
            ),
            ("DropResponseAction", "DropResponseAction()", &["drop Drop"]),
            (
                "NoneResponseAction",
                "NoneResponseAction()",
                &["no op None"],
            ),
            (
                "TCResponseAction",
                "TCResponseAction()",
                &["tc=1 answer Truncate"],
            ),
        ];
        covers(
            super::PLAIN.iter().map(|(n, _)| *n),
            plain.iter().map(|(n, e, _)| (*n, *e)),
        );
        check_built(plain);
        let actions: &[(&str, &str, &[&str])] = &[
            (
                "DelayResponseAction",
                "DelayResponseAction(25)",
                &["delay by 25 ms"],
            ),
            (
                "LimitTTLResponseAction",
                "LimitTTLResponseAction(5, 60, {'A', 28})",
                &["limit ttl (5 <= ttl <= 60)", "types: [1, 28]"],
            ),
            (
                "SetMaxTTLResponseAction",
                "SetMaxTTLResponseAction(300)",
                &["limit ttl (0 <= ttl <= 300)"],
            ),
            (
                "SetMinTTLResponseAction",
                "SetMinTTLResponseAction(30)",
                &["limit ttl (30 <= ttl <= 4294967295)"],
            ),
            (
                "ClearRecordTypesResponseAction",
                "ClearRecordTypesResponseAction({'AAAA', 16})",
                &["clear record types AAAA, TXT"],
            ),
            (
                "LogResponseAction",
                "LogResponseAction('/dev/null', true)",
                &["/dev/null"],
            ),
        ];
        covers(
            super::ACTIONS.iter().map(|(n, _)| *n),
            actions.iter().map(|(n, e, _)| (*n, *e)),
        );
        check_built(actions);
        let tags: &[(&str, &str, &[&str])] = &[
            ("RCodeRule", "RCodeRule(3)", &["RCode(3)"]),
            ("ERCodeRule", "ERCodeRule(16)", &["ERCode(16)"]),
            ("TagRule", "TagRule('k', 'v')", &["Tag(\"k\", Some(\"v\"))"]),
            (
                "SetTagAction",
                "SetTagAction('k', 'v')",
                &["SetTag(\"k\", \"v\")"],
            ),
        ];
        covers(
            super::TAGS.iter().map(|(n, _)| *n),
            tags.iter().map(|(n, e, _)| (*n, *e)),
        );
        check_built(tags);
    }

    /// A chain of response rules as (name, selector, action) lines.
    fn rules(list: &[shield::response::ResponseRule]) -> String {
        let lines: Vec<String> = list
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
        lines.join("; ")
    }

    #[test]
    fn every_response_rule_function_and_flag_takes_effect() {
        let cases: &[Case] = &[
            (
                "addResponseAction",
                "addResponseAction(RCodeRule(3), DelayResponseAction(9), {name='slow-nx'})",
                |c, _| rules(&c.shield.response_rules.rules),
                &["slow-nx", "delay by 9 ms"],
            ),
            (
                "addSelfAnsweredResponseAction",
                "addSelfAnsweredResponseAction(AllRule(), SetMaxTTLResponseAction(60), {name='cap'})",
                |c, _| rules(&c.shield.self_answered_rules.rules),
                &["cap", "limit ttl (0 <= ttl <= 60)"],
            ),
        ];
        check_cases(super::RULES.iter().map(|(n, _)| *n), cases);
        let flags: &[Case] = &[
            (
                "fixupCase",
                "fixupCase(true)",
                |c, _| c.shield.response_rules.fix_case.to_string(),
                &["true"],
            ),
            (
                "truncateTC",
                "truncateTC(true)",
                |c, _| c.shield.response_rules.truncate_tc.to_string(),
                &["true"],
            ),
            (
                "setAllowEmptyResponse",
                "setAllowEmptyResponse(true)",
                |c, _| c.shield.response_rules.allow_empty_response.to_string(),
                &["true"],
            ),
            (
                "setDropEmptyQueries",
                "setDropEmptyQueries(true)",
                |c, _| c.shield.drop_empty_queries.to_string(),
                &["true"],
            ),
        ];
        check_cases(super::FLAGS.iter().map(|(n, _)| *n), flags);
    }
}
