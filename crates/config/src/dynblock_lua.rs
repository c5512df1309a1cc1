//! Dynamic blocks from Lua: dnsdist's legacy `exceed*` + `addDynBlocks`
//! pair, `dynBlockRulesGroup()`, `showDynBlocks`, `clearDynBlocks`,
//! `setDynBlocksAction`, `setRingBuffersSize` and the `DNSAction` values.
//! They are meant for the operator's `maintenance()` function, which the
//! control thread calls once a second (see [`run_maintenance`]).

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use shield::dynblock::{
    exceeding, BlockAction, Measure, NewBlock, RateRule, RulesGroup, SuffixGuard, Target,
};
use shield::rings::Rings;
use shield::{Netmask, Runtime};

use crate::fail;
use crate::lua_util::{self, Global};

/// `DNSAction` values, as dnsdist 1.7 numbers them (its
/// `DNSAction::Action` enum, in order): a config or a script that uses
/// the numbers means what it means to dnsdist.
pub(crate) mod action {
    pub const DROP: i64 = 0;
    pub const NXDOMAIN: i64 = 1;
    pub const REFUSED: i64 = 2;
    pub const SPOOF: i64 = 3;
    pub const ALLOW: i64 = 4;
    pub const HEADER_MODIFY: i64 = 5;
    pub const POOL: i64 = 6;
    pub const DELAY: i64 = 7;
    pub const TRUNCATE: i64 = 8;
    pub const SERVFAIL: i64 = 9;
    pub const NONE: i64 = 10;
    pub const NO_OP: i64 = 11;
    pub const NO_RECURSE: i64 = 12;
    pub const SPOOF_RAW: i64 = 13;
}

/// The `DNSAction` table: each name and its number.
pub(crate) const ACTIONS: [(&str, i64); 14] = [
    ("Drop", action::DROP),
    ("Nxdomain", action::NXDOMAIN),
    ("Refused", action::REFUSED),
    ("Spoof", action::SPOOF),
    ("Allow", action::ALLOW),
    ("HeaderModify", action::HEADER_MODIFY),
    ("Pool", action::POOL),
    ("Delay", action::DELAY),
    ("Truncate", action::TRUNCATE),
    ("ServFail", action::SERVFAIL),
    ("None", action::NONE),
    ("NoOp", action::NO_OP),
    ("NoRecurse", action::NO_RECURSE),
    ("SpoofRaw", action::SPOOF_RAW),
];

/// `DNSResponseAction` (its own numbering in dnsdist: `Allow, Delay,
/// Drop, HeaderModify, ServFail, None`), each name with its number and
/// the `DNSAction` it means, so one reading of a result serves both.
pub(crate) const RESPONSE_ACTIONS: [(&str, i64, i64); 6] = [
    ("Allow", 0, action::ALLOW),
    ("Delay", 1, action::DELAY),
    ("Drop", 2, action::DROP),
    ("HeaderModify", 3, action::HEADER_MODIFY),
    ("ServFail", 4, action::SERVFAIL),
    ("None", 5, action::NONE),
];

fn block_action(lua: &Lua, v: Option<i64>, default: BlockAction) -> mlua::Result<BlockAction> {
    Ok(match v {
        None => default,
        Some(action::DROP) => BlockAction::Drop,
        Some(action::REFUSED) => BlockAction::Refused,
        Some(action::NXDOMAIN) => BlockAction::Nxdomain,
        Some(action::TRUNCATE) => BlockAction::Truncate,
        Some(action::NO_OP | action::NONE) => BlockAction::NoOp,
        Some(action::NO_RECURSE) => BlockAction::NoRecurse,
        Some(other) => {
            return Err(fail(
                lua,
                format!("DNSAction {other} cannot be a dynamic block action: use Drop, Refused, Nxdomain, Truncate, NoOp or NoRecurse"),
            ))
        }
    })
}

/// `dynBlockRulesGroup()` handed to Lua.
#[derive(Clone)]
struct LuaGroup {
    group: Rc<RefCell<RulesGroup>>,
    runtime: Arc<Runtime>,
    /// `setSuffixMatchRule` rules: their visitors are Lua functions.
    suffix_rules: Rc<RefCell<Vec<SuffixMatchRule>>>,
}

/// dnsdist's suffix-match rule: a Lua visitor decides which suffixes to
/// block from per-suffix statistics.
#[derive(Clone)]
struct SuffixMatchRule {
    seconds: u32,
    reason: String,
    block_seconds: u32,
    /// `None`: `setDynBlocksAction`'s when the rule fires.
    action: Option<BlockAction>,
    visitor: mlua::Function,
}

/// Runs the suffix-match rules' visitors; the blocks they ask for.
fn visit_suffixes(lua: &Lua, g: &LuaGroup) -> mlua::Result<Vec<NewBlock>> {
    let mut new = Vec::new();
    let rules = g.suffix_rules.borrow().clone();
    if rules.is_empty() {
        return Ok(new);
    }
    let rings = g.runtime.rings.load();
    for rule in rules {
        for node in shield::dynblock::suffix_stats(&rings, rule.seconds) {
            let stats = |s: &shield::dynblock::NodeStats| -> mlua::Result<mlua::Table> {
                let t = lua.create_table()?;
                t.set("queries", s.queries)?;
                t.set("noerrors", s.noerrors)?;
                t.set("nxdomains", s.nxdomains)?;
                t.set("servfails", s.servfails)?;
                t.set("drops", 0)?;
                t.set("bytes", s.bytes)?;
                t.set("hits", 0)?;
                Ok(t)
            };
            let n = lua.create_table()?;
            n.set("fullname", wire::name::to_text(&node.name))?;
            n.set("labelsCount", node.labels)?;
            n.set("numChildren", node.children)?;
            let (block, reason, action): (Option<bool>, Option<String>, Option<i64>) = rule
                .visitor
                .call((n, stats(&node.own)?, stats(&node.below)?))?;
            if block == Some(true) {
                let default = rule.action.unwrap_or_else(|| g.default_action());
                let action = block_action(lua, action, default)?;
                new.push(NewBlock::new(
                    Target::Suffix(node.name.into()),
                    rule.block_seconds,
                    action,
                    &reason.unwrap_or_else(|| rule.reason.clone()),
                ));
            }
        }
    }
    Ok(new)
}

impl LuaGroup {
    fn default_action(&self) -> BlockAction {
        *self
            .runtime
            .default_block_action
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// What the rate methods take after their own leading argument, in
/// dnsdist's order: rate, seconds, reason, block seconds, action, warning
/// rate.
type RateArgs = (f64, u32, String, u32, Option<i64>, Option<f64>);

/// A rate of 0 or more (not NaN, not infinite) over at least a second.
fn check_rate(lua: &Lua, what: &str, rate: f64, seconds: u32) -> mlua::Result<()> {
    // Written to refuse NaN too.
    if !(rate >= 0.0 && rate.is_finite()) || seconds == 0 {
        return Err(fail(
            lua,
            format!("{what} needs a rate of 0 or more over at least 1 second"),
        ));
    }
    Ok(())
}

fn rate_rule(lua: &Lua, g: &LuaGroup, measure: Measure, args: RateArgs) -> mlua::Result<()> {
    let (rate, seconds, reason, block_seconds, action, warning_rate) = args;
    check_rate(lua, "a dynamic block rule", rate, seconds)?;
    let action = action
        .map(|a| block_action(lua, Some(a), BlockAction::Drop))
        .transpose()?;
    g.group.borrow_mut().rules.push(RateRule {
        measure,
        rate,
        seconds,
        reason,
        block_seconds,
        action,
        warning_rate,
    });
    Ok(())
}

impl UserData for LuaGroup {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("setQueryRate", |lua, g, args: RateArgs| {
            rate_rule(lua, g, Measure::Queries, args)
        });
        methods.add_method("setResponseByteRate", |lua, g, args: RateArgs| {
            rate_rule(lua, g, Measure::ResponseBytes, args)
        });
        methods.add_method("setRCodeRate", |lua, g, (rc, args): (u16, RateArgs)| {
            rate_rule(lua, g, Measure::RCode(rc), args)
        });
        methods.add_method("setQTypeRate", |lua, g, (qtype, args): (u16, RateArgs)| {
            rate_rule(lua, g, Measure::QType(qtype), args)
        });
        // dnsdist puts the minimum response count before the action here.
        methods.add_method(
            "setRCodeRatio",
            |lua,
             g,
             (rc, ratio, secs, reason, block, min, action, warn): (
                u16,
                f64,
                u32,
                String,
                u32,
                u64,
                Option<i64>,
                Option<f64>,
            )| {
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(fail(
                        lua,
                        format!("ratio {ratio} out of range: expected 0 to 1"),
                    ));
                }
                let measure = Measure::RCodeRatio {
                    rcode: rc,
                    min_responses: min,
                };
                rate_rule(lua, g, measure, (ratio, secs, reason, block, action, warn))
            },
        );
        // rampart's own: the random-subdomain guard (see SuffixGuard).
        methods.add_method(
            "setSuffixGuard",
            |lua, g, (rate, secs, labels, reason, block, action): (f64, u32, usize, String, u32, Option<i64>)| {
                if !(rate >= 0.0 && rate.is_finite()) || secs == 0 || labels == 0 {
                    return Err(fail(
                        lua,
                        "setSuffixGuard(rate, seconds, labels, reason, blockSeconds[, action]): rate >= 0, seconds and labels >= 1",
                    ));
                }
                let action = action
                    .map(|a| block_action(lua, Some(a), BlockAction::Drop))
                    .transpose()?;
                g.runtime.known.enable();
                g.group.borrow_mut().suffix_guards.push(SuffixGuard {
                    rate,
                    seconds: secs,
                    labels,
                    reason,
                    block_seconds: block,
                    action,
                });
                Ok(())
            },
        );
        methods.add_method(
            "setMasks",
            |lua, g, (v4, v6, port): (u8, u8, Option<u8>)| {
                if v4 > 32 || v6 > 128 || port.is_some_and(|p| p > 16) {
                    return Err(fail(
                        lua,
                        "masks: IPv4 0 to 32, IPv6 0 to 128, port 0 to 16 (with an IPv4 mask of 32)",
                    ));
                }
                let mut group = g.group.borrow_mut();
                group.v4_mask = v4;
                group.v6_mask = v6;
                group.port_bits = port.unwrap_or(0);
                Ok(())
            },
        );
        let ranges = |lua: &Lua, v: Value| -> mlua::Result<Vec<Netmask>> {
            let list = match v {
                // A newNMG() group, as dnsdist takes too.
                Value::UserData(ud) if ud.is::<crate::shield_lua::LuaNmg>() => {
                    let nmg = ud.borrow::<crate::shield_lua::LuaNmg>()?;
                    let masks = nmg.0.borrow().masks().to_vec();
                    return Ok(masks);
                }
                Value::String(s) => vec![s.to_str()?.to_string()],
                Value::Table(t) => t.sequence_values::<String>().collect::<mlua::Result<_>>()?,
                other => {
                    return Err(fail(
                        lua,
                        format!("expected netmasks, got {}", other.type_name()),
                    ))
                }
            };
            list.iter()
                .map(|m| Netmask::parse(m).map_err(|e| fail(lua, e)))
                .collect()
        };
        methods.add_method("excludeRange", move |lua, g, v: Value| {
            for m in ranges(lua, v)? {
                g.group.borrow_mut().excluded.add(m);
            }
            Ok(())
        });
        methods.add_method("includeRange", move |lua, g, v: Value| {
            for m in ranges(lua, v)? {
                g.group.borrow_mut().included.add(m);
            }
            Ok(())
        });
        methods.add_method("excludeDomains", |lua, g, v: Value| {
            let names = crate::lua_util::strings(lua, v, "domain names")?;
            for n in names {
                g.group
                    .borrow_mut()
                    .excluded_domains
                    .add(&n)
                    .map_err(|e| fail(lua, e))?;
            }
            Ok(())
        });
        methods.add_method("apply", |lua, g, ()| {
            let rings = g.runtime.rings.load();
            g.group
                .borrow()
                .apply(&rings, &g.runtime.dynblocks, g.default_action());
            let blocks = visit_suffixes(lua, g)?;
            g.runtime.dynblocks.insert(&blocks);
            Ok(())
        });
        methods.add_method(
            "setSuffixMatchRule",
            |lua,
             g,
             (secs, reason, block, action, visitor): (
                u32,
                String,
                u32,
                Option<i64>,
                mlua::Function,
            )| {
                let action = action
                    .map(|a| block_action(lua, Some(a), BlockAction::Drop))
                    .transpose()?;
                g.suffix_rules.borrow_mut().push(SuffixMatchRule {
                    seconds: secs.max(1),
                    reason,
                    block_seconds: block,
                    action,
                    visitor,
                });
                Ok(())
            },
        );
        methods.add_method("toString", |_, g, ()| Ok(describe(&g.group.borrow())));
        methods.add_meta_method(mlua::MetaMethod::ToString, |_, g, ()| {
            Ok(describe(&g.group.borrow()))
        });
    }
}

fn describe(g: &RulesGroup) -> String {
    let mut s = String::new();
    for r in &g.rules {
        s.push_str(&format!(
            "{:?} over {} per second for {} s: {} for {} s ({})\n",
            r.measure,
            r.rate,
            r.seconds,
            r.action.map_or("the default action", |a| a.name()),
            r.block_seconds,
            r.reason
        ));
    }
    s
}

/// The result of an `exceed*` call: address → count.
fn exceed_table(lua: &Lua, list: Vec<(IpAddr, u64)>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (addr, count) in list {
        t.set(addr.to_string(), count)?;
    }
    Ok(t)
}

/// Registers the dynamic-block functions over `runtime`.
pub fn register(lua: &Lua, runtime: &Arc<Runtime>) -> mlua::Result<()> {
    let actions = lua.create_table()?;
    for (name, value) in ACTIONS {
        actions.set(name, value)?;
    }
    lua.globals().set("DNSAction", actions)?;
    lua_util::register_table(lua, runtime, FUNCTIONS)
}

/// The dynamic-block functions; they work on the runtime, not the config.
const FUNCTIONS: &[Global<Arc<Runtime>>] = &[
    ("dynBlockRulesGroup", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |_, ()| {
            Ok(LuaGroup {
                group: Rc::new(RefCell::new(RulesGroup::default())),
                runtime: rt.clone(),
                suffix_rules: Rc::new(RefCell::new(Vec::new())),
            })
        })
    }),
    // The arguments are typed: a type past 65535 or seconds that are not
    // a whole number are errors at the calling line, not wrapped values.
    ("exceedQRate", |lua, rt| exceed(lua, rt, Measure::Queries)),
    ("exceedNXDOMAINs", |lua, rt| {
        exceed(lua, rt, Measure::RCode(3))
    }),
    ("exceedServFails", |lua, rt| {
        exceed(lua, rt, Measure::RCode(2))
    }),
    ("exceedRespByterate", |lua, rt| {
        exceed(lua, rt, Measure::ResponseBytes)
    }),
    ("exceedQTypeRate", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |lua, (qtype, rate, secs): (u16, f64, u32)| {
            check_rate(lua, "exceedQTypeRate", rate, secs)?;
            exceed_table(
                lua,
                exceeding(&rt.rings.load(), &Measure::QType(qtype), rate, secs),
            )
        })
    }),
    ("addDynBlocks", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |lua, (set, reason, seconds, action): (Table, String, Option<u32>, Option<i64>)| {
            let default = *rt.default_block_action.lock().unwrap_or_else(|p| p.into_inner());
            let action = block_action(lua, action, default)?;
            let mut new = Vec::new();
            for pair in set.pairs::<String, Value>() {
                let (addr, _) = pair?;
                let ip: IpAddr = addr.parse().map_err(|_| fail(lua, format!("addDynBlocks: '{addr}' is not an address")))?;
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                new.push(NewBlock::new(Target::Net(ip, prefix), seconds.unwrap_or(10), action, &reason));
            }
            rt.dynblocks.insert(&new);
            Ok(())
        })
    }),
    ("addDynBlockSMT", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |lua, (names, reason, seconds, action): (Value, String, Option<u32>, Option<i64>)| {
            let list = crate::lua_util::strings(lua, names, "domain names")?;
            let default = *rt.default_block_action.lock().unwrap_or_else(|p| p.into_inner());
            let action = block_action(lua, action, default)?;
            let mut new = Vec::new();
            for n in list {
                let wire = shield::suffix::parse_name(&n).map_err(|e| fail(lua, e))?;
                new.push(NewBlock::new(Target::Suffix(wire.into()), seconds.unwrap_or(10), action, &reason));
            }
            rt.dynblocks.insert(&new);
            Ok(())
        })
    }),
    ("setDynBlocksAction", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |lua, action: i64| {
            let a = block_action(lua, Some(action), BlockAction::Drop)?;
            *rt.default_block_action
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = a;
            Ok(())
        })
    }),
    ("showDynBlocks", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |_, ()| {
            crate::output::emit(&rt.dynblocks.show());
            Ok(())
        })
    }),
    ("clearDynBlocks", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |_, ()| {
            rt.dynblocks.clear();
            Ok(())
        })
    }),
    ("setRingBuffersSize", |lua, rt| {
        let rt = rt.clone();
        lua.create_function(move |lua, (size, shards): (usize, Option<usize>)| {
            if size == 0 || size > 10_000_000 {
                return Err(fail(
                    lua,
                    format!("ring size {size} out of range: expected 1 to 10000000"),
                ));
            }
            rt.rings.store(Arc::new(Rings::new(
                size,
                shards.unwrap_or(10).clamp(1, 1024),
            )));
            Ok(())
        })
    }),
];

/// `name(rate, seconds)`: the clients over `rate` of `measure` in the
/// last `seconds`.
fn exceed(lua: &Lua, rt: &Arc<Runtime>, measure: Measure) -> mlua::Result<mlua::Function> {
    let rt = rt.clone();
    lua.create_function(move |lua, (rate, secs): (f64, u32)| {
        check_rate(lua, "exceed*", rate, secs)?;
        exceed_table(lua, exceeding(&rt.rings.load(), &measure, rate, secs))
    })
}

/// Calls the config's `maintenance()` if it defines one; the error, if
/// it failed.
pub fn run_maintenance(lua: &Lua) -> Result<(), crate::ConfigError> {
    match lua.globals().get::<Value>("maintenance") {
        Ok(Value::Function(f)) => {
            crate::lua_util::with_deadline(lua, std::time::Duration::from_secs(2), || {
                f.call::<()>(())
            })
            .map_err(|e| crate::ConfigError::Lua {
                message: crate::lua_message(&e),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crate::lua_util::table_test::{check_constants, constants};

    /// dnsdist 1.7's DNSAction names and numbers (its `DNSAction::Action`
    /// enum, in that order, as dnsdist-lua-vars.cc hands them to Lua).
    const DNSDIST_ACTIONS: &[(&str, i64)] = &[
        ("Drop", 0),
        ("Nxdomain", 1),
        ("Refused", 2),
        ("Spoof", 3),
        ("Allow", 4),
        ("HeaderModify", 5),
        ("Pool", 6),
        ("Delay", 7),
        ("Truncate", 8),
        ("ServFail", 9),
        ("None", 10),
        ("NoOp", 11),
        ("NoRecurse", 12),
        ("SpoofRaw", 13),
    ];

    /// dnsdist 1.7's DNSResponseAction (its `DNSResponseAction::Action`).
    const DNSDIST_RESPONSE_ACTIONS: &[(&str, i64)] = &[
        ("Allow", 0),
        ("Delay", 1),
        ("Drop", 2),
        ("HeaderModify", 3),
        ("ServFail", 4),
        ("None", 5),
    ];

    /// Every DNSAction and DNSResponseAction dnsdist has, and no other,
    /// each a different number.
    #[test]
    fn every_dns_action_is_there() {
        for (table, want) in [
            ("DNSAction", DNSDIST_ACTIONS),
            ("DNSResponseAction", DNSDIST_RESPONSE_ACTIONS),
        ] {
            let got = constants(table);
            let names: Vec<_> = got.keys().map(String::as_str).collect();
            let mut expected: Vec<_> = want.iter().map(|(n, _)| *n).collect();
            expected.sort();
            assert_eq!(names, expected, "{table}");
            let mut values: Vec<_> = got.values().collect();
            values.sort();
            values.dedup();
            assert_eq!(
                values.len(),
                got.len(),
                "{table}: two names, one number: {got:?}"
            );
        }
    }

    /// The numbers too are dnsdist's (Drop 0 … SpoofRaw 13, and
    /// DNSResponseAction's own order), so a script that returns, stores
    /// or prints a literal number means what it means to dnsdist.
    #[test]
    fn every_dns_action_has_dnsdists_value() {
        check_constants("DNSAction", DNSDIST_ACTIONS, true);
        check_constants("DNSResponseAction", DNSDIST_RESPONSE_ACTIONS, true);
    }
    use std::path::Path;
    use std::sync::Arc;

    use shield::rings::Record;
    use shield::Runtime;

    use crate::lua_util::table_test::{covers, PATH};

    /// A runtime whose rings hold 200 queries for AAAA from 192.0.2.66
    /// answered NXDOMAIN in 100 bytes, and 100 from 192.0.2.77 answered
    /// SERVFAIL in 10.
    fn busy_runtime() -> Arc<Runtime> {
        let rt = Arc::new(Runtime::default());
        let rings = rt.rings.load_full();
        for (client, n, rcode, size) in [("192.0.2.66", 200, 3, 100), ("192.0.2.77", 100, 2, 10)] {
            let ip: IpAddr = client.parse().unwrap();
            for _ in 0..n {
                rings
                    .queries
                    .record(&Record::query(ip, b"\x01x\x04test\x00", 28));
                rings.responses.record(&Record {
                    rcode,
                    size,
                    ..Record::query(ip, b"\x01x\x04test\x00", 28)
                });
            }
        }
        rt
    }

    /// The blocks, the default action, the rings and what was printed
    /// after running `src` over a busy runtime.
    fn after(src: &str) -> (Arc<Runtime>, String) {
        let rt = busy_runtime();
        let (loaded, printed) = crate::output::capture(|| {
            crate::load_with_runtime(
                src,
                Path::new(PATH),
                &rt,
                None,
                shield::querylog::OpenMode::Check,
            )
        });
        if let Err(e) = loaded {
            panic!("{src}: {e}");
        }
        let blocks = rt.dynblocks.list();
        let shown: Vec<String> = blocks
            .iter()
            .map(|b| format!("{} {} {}", b.target, b.action, b.reason))
            .collect();
        let rings = rt.rings.load();
        let summary = format!(
            "{} blocks: {}; default {:?}; {:?} holding {} queries; printed: {printed}",
            blocks.len(),
            shown.join(", "),
            rt.default_block_action.lock().unwrap(),
            rings.queries,
            rings.queries.len(),
        );
        (rt, summary)
    }

    #[test]
    fn every_dynblock_function_takes_effect() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "dynBlockRulesGroup",
                "local g = dynBlockRulesGroup() g:setQueryRate(15, 10, 'flood', 60, DNSAction.Refused) g:apply()",
                &["1 blocks: 192.0.2.66/32 Send Refused flood;"],
            ),
            (
                "exceedQRate",
                "for a in pairs(exceedQRate(5, 10)) do print('over', a) end",
                &["over\t192.0.2.66\n", "over\t192.0.2.77\n"],
            ),
            (
                "exceedNXDOMAINs",
                "for a in pairs(exceedNXDOMAINs(5, 10)) do print('over', a) end",
                &["printed: over\t192.0.2.66\n"],
            ),
            (
                "exceedServFails",
                "for a in pairs(exceedServFails(5, 10)) do print('over', a) end",
                &["printed: over\t192.0.2.77\n"],
            ),
            (
                "exceedRespByterate",
                "for a in pairs(exceedRespByterate(1000, 10)) do print('over', a) end",
                &["printed: over\t192.0.2.66\n"],
            ),
            (
                "exceedQTypeRate",
                "local n = 0 for a in pairs(exceedQTypeRate(28, 5, 10)) do n = n + 1 end
                 for a in pairs(exceedQTypeRate(1, 5, 10)) do n = n + 10 end print('over', n)",
                &["printed: over\t2\n"],
            ),
            (
                "addDynBlocks",
                "addDynBlocks({['192.0.2.5']=3}, 'manual', 30, DNSAction.Nxdomain)",
                &["1 blocks: 192.0.2.5/32 Send NXDomain manual;"],
            ),
            (
                "addDynBlockSMT",
                "addDynBlockSMT({'bad.test'}, 'names', 30, DNSAction.Truncate)",
                &["1 blocks: bad.test. Truncate names;"],
            ),
            (
                "setDynBlocksAction",
                "setDynBlocksAction(DNSAction.Refused) addDynBlocks({['192.0.2.5']=1}, 'manual')",
                &["192.0.2.5/32 Send Refused manual;", "default Refused"],
            ),
            (
                "showDynBlocks",
                "addDynBlocks({['192.0.2.5']=1}, 'manual') showDynBlocks()",
                &["printed: What", "192.0.2.5/32"],
            ),
            (
                "clearDynBlocks",
                "addDynBlocks({['192.0.2.5']=1, ['192.0.2.6']=1}, 'manual') clearDynBlocks()
                 addDynBlocks({['192.0.2.7']=1}, 'after')",
                &["1 blocks: 192.0.2.7/32 Drop after;"],
            ),
            (
                "setRingBuffersSize",
                "setRingBuffersSize(100, 2)",
                &["Ring(2 shards) holding 0 queries"],
            ),
        ];
        covers(
            super::FUNCTIONS.iter().map(|(n, _)| *n),
            cases.iter().map(|(n, s, _)| (*n, *s)),
        );
        let (_, before) = after("");
        for (name, src, want) in cases {
            let (_, got) = after(src);
            for w in *want {
                assert!(got.contains(w), "{src}: want {w:?} in {got:?}");
            }
            assert!(
                !want.iter().all(|w| before.contains(w)),
                "{name}: a runtime without the call already shows {want:?}: {before:?}"
            );
        }
        // The size too: 100 entries in all, over the two shards.
        let (rt, _) = after("setRingBuffersSize(100, 2)");
        let rings = rt.rings.load();
        for _ in 0..500 {
            rings
                .queries
                .record(&Record::query([192, 0, 2, 1].into(), b"\x00", 1));
        }
        assert!(rings.queries.len() <= 100, "{}", rings.queries.len());
    }
}
