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

use crate::lua_util;
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

/// A true/false setting: its name, and how it is stored.
type FlagSetting = (&'static str, fn(&mut Config, bool));

/// Registers the response-rule and tag functions, and the settings for
/// backend answers (`truncateTC`, `setAllowEmptyResponse`) and empty
/// queries (`setDropEmptyQueries`).
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();
    let ract = |a: ResponseAction| Ok(LuaResponseAction(Arc::new(a)));
    // The constructors that take nothing.
    let plain: [Maker; 5] = [
        ("SetSkipCacheResponseAction", || ResponseAction::SkipCache),
        ("AllowResponseAction", || ResponseAction::Allow),
        ("DropResponseAction", || ResponseAction::Drop),
        ("NoneResponseAction", || ResponseAction::None),
        ("TCResponseAction", || ResponseAction::Truncate),
    ];
    for (name, make) in plain {
        g.set(name, lua.create_function(move |_, ()| ract(make()))?)?;
    }
    // Settings for backend answers and odd queries, as dnsdist's globals.
    let flags: [FlagSetting; 4] = [
        ("fixupCase", |c, on| {
            std::sync::Arc::make_mut(&mut c.shield.response_rules).fix_case = on
        }),
        ("truncateTC", |c, on| {
            std::sync::Arc::make_mut(&mut c.shield.response_rules).truncate_tc = on
        }),
        ("setAllowEmptyResponse", |c, on| {
            std::sync::Arc::make_mut(&mut c.shield.response_rules).allow_empty_response = on
        }),
        ("setDropEmptyQueries", |c, on| {
            c.shield.drop_empty_queries = on
        }),
    ];
    for (name, set) in flags {
        let st = state.clone();
        g.set(
            name,
            lua.create_function(move |_, on: bool| {
                set(&mut st.borrow_mut(), on);
                Ok(())
            })?,
        )?;
    }
    g.set(
        "DelayResponseAction",
        lua.create_function(move |_, ms: u32| ract(ResponseAction::Delay(ms)))?,
    )?;
    g.set(
        "LimitTTLResponseAction",
        lua.create_function(
            move |lua, (min, max, types): (u32, Option<u32>, Option<Value>)| {
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
        )?,
    )?;
    g.set(
        "SetMaxTTLResponseAction",
        lua.create_function(move |_, max: u32| {
            ract(ResponseAction::LimitTtl {
                min: 0,
                max,
                types: Vec::new(),
            })
        })?,
    )?;
    g.set(
        "SetMinTTLResponseAction",
        lua.create_function(move |_, min: u32| {
            ract(ResponseAction::LimitTtl {
                min,
                max: u32::MAX,
                types: Vec::new(),
            })
        })?,
    )?;
    g.set(
        "ClearRecordTypesResponseAction",
        lua.create_function(move |lua, types: Value| {
            ract(ResponseAction::ClearRecordTypes(types_arg(
                lua,
                Some(types),
            )?))
        })?,
    )?;
    let b = base.to_path_buf();
    g.set(
        "LogResponseAction",
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
        )?,
    )?;

    g.set(
        "RCodeRule",
        lua.create_function(|_, rc: u16| Ok(LuaSelector(Selector::new(Kind::RCode(rc)))))?,
    )?;
    g.set(
        "ERCodeRule",
        lua.create_function(|_, rc: u16| Ok(LuaSelector(Selector::new(Kind::ERCode(rc)))))?,
    )?;
    g.set(
        "TagRule",
        lua.create_function(|_, (name, value): (String, Option<String>)| {
            Ok(LuaSelector(Selector::new(Kind::Tag(
                name.into(),
                value.map(Into::into),
            ))))
        })?,
    )?;
    g.set(
        "SetTagAction",
        lua.create_function(|_, (name, value): (String, Option<String>)| {
            Ok(LuaAction(Arc::new(Action::SetTag(
                name.into(),
                value.unwrap_or_default().into(),
            ))))
        })?,
    )?;

    let st = state.clone();
    g.set(
        "addResponseAction",
        lua.create_function(
            move |lua, (sel, act, opts): (Value, Value, Option<Table>)| {
                let rule = response_rule(lua, sel, act, opts)?;
                std::sync::Arc::make_mut(&mut st.borrow_mut().shield.response_rules)
                    .rules
                    .push(rule);
                Ok(())
            },
        )?,
    )?;
    let st = state.clone();
    g.set(
        "addSelfAnsweredResponseAction",
        lua.create_function(
            move |lua, (sel, act, opts): (Value, Value, Option<Table>)| {
                let rule = response_rule(lua, sel, act, opts)?;
                st.borrow_mut().shield.self_answered_rules.rules.push(rule);
                Ok(())
            },
        )?,
    )?;
    lua_util::register_chain(
        lua,
        state,
        lua_util::Chain {
            what: "self-answered response rule",
            names: [
                "setSelfAnsweredResponseRules",
                "topSelfAnsweredResponseRule",
                "showSelfAnsweredResponseRules",
                "rmSelfAnsweredResponseRule",
                "mvSelfAnsweredResponseRule",
                "clearSelfAnsweredResponseRules",
            ],
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
            names: [
                "setResponseRules",
                "topResponseRule",
                "showResponseRules",
                "rmResponseRule",
                "mvResponseRule",
                "clearResponseRules",
            ],
            objects: "newRuleAction(selector, response action) objects",
            rule_of: |ud| ud.borrow::<LuaResponseRule>().ok().map(|r| r.0.clone()),
            chain: |c| &mut std::sync::Arc::make_mut(&mut c.shield.response_rules).rules,
        },
    )?;
    Ok(())
}
