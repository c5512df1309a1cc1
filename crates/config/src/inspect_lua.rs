//! The inspection commands from Lua, printing as dnsdist prints:
//! `topQueries(n, labels)`, `topClients(n)`, `topResponses(n, rcode,
//! labels)`, `topSlow(n, ms, labels)`, `topBandwidth(n)`, `grepq(what,
//! n)`, `dumpStats()`, `statNodeRespRing(visitor, seconds)`. They
//! read the rings and counters the query path fills; the console (a later
//! issue) is where operators will call them during an attack.

use std::sync::Arc;

use mlua::{Lua, Value};
use shield::stats::{self, Grep};
use shield::{Netmask, Runtime};

use crate::fail;

/// Registers the inspection functions over `runtime`.
pub fn register(lua: &Lua, runtime: &Arc<Runtime>) -> mlua::Result<()> {
    let g = lua.globals();
    let rt = runtime.clone();
    g.set(
        "topQueries",
        lua.create_function(move |_, (n, labels): (Option<usize>, Option<usize>)| {
            crate::output::emit(&stats::top_queries(
                &rt.rings.load(),
                n.unwrap_or(10),
                labels,
            ));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "showTCPStats",
        lua.create_function(move |_, ()| {
            crate::output::emit(&rt.stats.show_tcp());
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "topClients",
        lua.create_function(move |_, n: Option<usize>| {
            crate::output::emit(&stats::top_clients(&rt.rings.load(), n.unwrap_or(10)));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "topResponses",
        lua.create_function(
            move |_, (n, rcode, labels): (Option<usize>, Option<u16>, Option<usize>)| {
                crate::output::emit(&stats::top_responses(
                    &rt.rings.load(),
                    n.unwrap_or(10),
                    rcode.unwrap_or(0),
                    labels,
                ));
                Ok(())
            },
        )?,
    )?;
    let rt = runtime.clone();
    g.set(
        "topSlow",
        lua.create_function(
            move |_, (n, ms, labels): (Option<usize>, Option<u32>, Option<usize>)| {
                crate::output::emit(&stats::top_slow(
                    &rt.rings.load(),
                    n.unwrap_or(10),
                    ms.unwrap_or(500),
                    labels,
                ));
                Ok(())
            },
        )?,
    )?;
    let rt = runtime.clone();
    g.set(
        "topBandwidth",
        lua.create_function(move |_, n: Option<usize>| {
            crate::output::emit(&stats::top_bandwidth(&rt.rings.load(), n.unwrap_or(10)));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "grepq",
        lua.create_function(move |lua, (what, n): (Value, Option<usize>)| {
            let items = crate::lua_util::strings(lua, what, "netmasks or names")?;
            let mut greps = Vec::new();
            for i in items {
                match Netmask::parse(&i) {
                    Ok(m) => greps.push(Grep::Net(m)),
                    Err(_) => greps.push(Grep::Name(
                        shield::suffix::parse_name(&i).map_err(|e| fail(lua, e))?,
                    )),
                }
            }
            crate::output::emit(&stats::grepq(&rt.rings.load(), &greps, n.unwrap_or(10)));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "setQueryCount",
        lua.create_function(move |_, on: bool| {
            rt.query_counts
                .enabled
                .store(on, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "getQueryCounters",
        lua.create_function(move |_, max: Option<usize>| {
            crate::output::emit(&rt.query_counts.show(max.unwrap_or(10)));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "clearQueryCounters",
        lua.create_function(move |_, ()| {
            rt.query_counts.clear();
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "dumpStats",
        lua.create_function(move |_, ()| {
            crate::output::emit(&rt.stats.dump());
            Ok(())
        })?,
    )?;
    // statNodeRespRing(visitor[, seconds]): visitor(node, self, children)
    // for each name of the response ring and its parents, children first.
    let rt = runtime.clone();
    g.set(
        "statNodeRespRing",
        lua.create_function(
            move |lua, (visitor, seconds): (mlua::Function, Option<u64>)| {
                let window = seconds.unwrap_or(0).saturating_mul(1_000_000_000);
                let stat = |s: &shield::statnode::NodeStat| -> mlua::Result<mlua::Table> {
                    let t = lua.create_table()?;
                    t.set("queries", s.queries)?;
                    t.set("noerrors", s.noerrors)?;
                    t.set("nxdomains", s.nxdomains)?;
                    t.set("servfails", s.servfails)?;
                    t.set("drops", s.drops)?;
                    t.set("bytes", s.bytes)?;
                    Ok(t)
                };
                for v in shield::statnode::visits(&rt.rings.load().responses, window) {
                    let node = lua.create_table()?;
                    node.set("fullname", v.fullname.as_str())?;
                    node.set("labelsCount", v.labels)?;
                    let children = v.children;
                    node.set(
                        "numChildren",
                        lua.create_function(move |_, _: mlua::Value| Ok(children))?,
                    )?;
                    visitor.call::<()>((node, stat(&v.own)?, stat(&v.subtree)?))?;
                }
                Ok(())
            },
        )?,
    )?;
    // The counters dumpStats shows, by name, for Lua to read.
    let rt = runtime.clone();
    g.set(
        "getStatisticsCounters",
        lua.create_function(move |lua, ()| {
            let t = lua.create_table()?;
            for (name, n) in rt.stats.all() {
                t.set(name, n)?;
            }
            Ok(t)
        })?,
    )?;
    Ok(())
}
