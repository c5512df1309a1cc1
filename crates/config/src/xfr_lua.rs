//! Replication settings in Lua: TSIG keys, secondary zones, who may
//! transfer and update, whom to notify, where journals live.
//!
//! - `newTSIGKey(name, algorithm, base64secret)`
//! - `addSecondaryZone(name, {primaries={"ip[:port]", …}, tsig="key", file="path"})`
//! - `setZoneTransferACL(zone, {netmasks…} [, {tsig="key"}])`
//! - `setAlsoNotify(zone, {"ip[:port]", …})`
//! - `setUpdatePolicy(zone, {key="k", names={…}, types={…}, netmasks={…}})`
//!   (each call adds a grant)
//! - `setSerialPolicy(zone, "increment"|"keep"|"unixtime"|"dateserial")`
//! - `setJournalDir(dir)`, `setZoneFlushInterval(seconds)`
//!
//! Zone names are taken with or without the trailing dot.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use mlua::{Lua, Table, Value};
use xfr::settings::{Access, NameMatch, UpdateGrant};
use zone::named_conf::{NamedConf, ZoneKind};

use crate::address::parse_addr_with_port;
use crate::lua_util::strings;
use crate::{caller, fail, resolve, Config, ZoneDecl};

pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();

    let st = state.clone();
    g.set(
        "newTSIGKey",
        lua.create_function(move |lua, (name, alg, secret): (String, String, String)| {
            let key = xfr::tsig::Key::new(&name, &alg, &secret).map_err(|e| fail(lua, e))?;
            st.borrow_mut().replication.keys.add(key);
            Ok(())
        })?,
    )?;

    let st = state.clone();
    let b = base.to_path_buf();
    g.set(
        "addSecondaryZone",
        lua.create_function(move |lua, (name, opts): (String, Table)| {
            let apex = zone_apex(lua, &name)?;
            let mut file = None;
            let mut primaries = Vec::new();
            let mut key = None;
            for pair in opts.pairs::<String, Value>() {
                let (k, v) = pair?;
                match k.as_str() {
                    "primaries" | "masters" => {
                        for p in strings(lua, v, "a list of primary addresses")? {
                            primaries.push(parse_addr_with_port(&p, 53).map_err(|e| fail(lua, e))?);
                        }
                    }
                    "tsig" => key = Some(key_name(lua, &st.borrow(), v)?),
                    "file" => match v {
                        Value::String(s) => file = Some(resolve(&b, &s.to_str()?)),
                        other => {
                            return Err(fail(
                                lua,
                                format!("file: expected a path, got {}", other.type_name()),
                            ))
                        }
                    },
                    other => {
                        return Err(fail(
                            lua,
                            format!("addSecondaryZone: unknown option '{other}': expected primaries, tsig or file"),
                        ))
                    }
                }
            }
            if primaries.is_empty() {
                return Err(fail(lua, format!("addSecondaryZone('{name}'): no primaries given")));
            }
            let mut c = st.borrow_mut();
            let z = c.replication.zone_mut(&apex);
            z.primaries = primaries;
            z.primary_key = key;
            c.zones.push(ZoneDecl {
                name,
                kind: ZoneKind::Secondary,
                file,
                source: caller(lua),
            });
            Ok(())
        })?,
    )?;

    let st = state.clone();
    g.set(
        "setZoneTransferACL",
        lua.create_function(
            move |lua, (name, nets, opts): (String, Value, Option<Table>)| {
                let apex = zone_apex(lua, &name)?;
                let mut access = Access {
                    netmasks: netmasks(lua, nets)?,
                    keys: Vec::new(),
                    require_both: true,
                };
                if let Some(opts) = opts {
                    for pair in opts.pairs::<String, Value>() {
                        let (k, v) = pair?;
                        match k.as_str() {
                            "tsig" => access.keys.push(key_name(lua, &st.borrow(), v)?),
                            other => {
                                return Err(fail(
                                    lua,
                                    format!(
                                    "setZoneTransferACL: unknown option '{other}': expected tsig"
                                ),
                                ))
                            }
                        }
                    }
                }
                st.borrow_mut().replication.zone_mut(&apex).transfer = access;
                Ok(())
            },
        )?,
    )?;

    let st = state.clone();
    g.set(
        "setAlsoNotify",
        lua.create_function(move |lua, (name, list): (String, Value)| {
            let apex = zone_apex(lua, &name)?;
            let mut targets = Vec::new();
            for a in strings(lua, list, "a list of addresses")? {
                targets.push(parse_addr_with_port(&a, 53).map_err(|e| fail(lua, e))?);
            }
            st.borrow_mut().replication.zone_mut(&apex).also_notify = targets;
            Ok(())
        })?,
    )?;

    let st = state.clone();
    g.set(
        "setUpdatePolicy",
        lua.create_function(move |lua, (name, policy): (String, Table)| {
            let apex = zone_apex(lua, &name)?;
            let mut grant = UpdateGrant::default();
            for pair in policy.pairs::<String, Value>() {
                let (k, v) = pair?;
                match k.as_str() {
                    "key" | "tsig" => grant.key = Some(key_name(lua, &st.borrow(), v)?),
                    "names" => {
                        for n in strings(lua, v, "a list of names")? {
                            grant.names.push(name_match(&n, &apex).map_err(|e| fail(lua, e))?);
                        }
                    }
                    "types" => {
                        for t in strings(lua, v, "a list of record types")? {
                            grant.types.push(rtype(lua, &t)?);
                        }
                    }
                    "netmasks" => grant.netmasks = netmasks(lua, v)?,
                    other => {
                        return Err(fail(
                            lua,
                            format!(
                                "setUpdatePolicy: unknown field '{other}': expected key, names, types or netmasks"
                            ),
                        ))
                    }
                }
            }
            if grant.key.is_none() && grant.netmasks.is_empty() {
                return Err(fail(
                    lua,
                    "setUpdatePolicy: give a key (TSIG) or netmasks: an update open to anyone is refused",
                ));
            }
            st.borrow_mut().replication.zone_mut(&apex).update.push(grant);
            Ok(())
        })?,
    )?;

    let st = state.clone();
    g.set(
        "setSerialPolicy",
        lua.create_function(move |lua, (name, policy): (String, String)| {
            let apex = zone_apex(lua, &name)?;
            let p = zone::records::SerialPolicy::parse(&policy).ok_or_else(|| {
                fail(
                    lua,
                    format!("bad serial policy '{policy}': expected increment, keep, unixtime or dateserial"),
                )
            })?;
            st.borrow_mut().replication.zone_mut(&apex).serial_policy = p;
            Ok(())
        })?,
    )?;

    let st = state.clone();
    let b = base.to_path_buf();
    g.set(
        "setJournalDir",
        lua.create_function(move |_, dir: String| {
            st.borrow_mut().replication.journal_dir = Some(resolve(&b, &dir));
            Ok(())
        })?,
    )?;

    let st = state.clone();
    g.set(
        "setZoneFlushInterval",
        lua.create_function(move |lua, secs: i64| {
            if !(1..=86_400).contains(&secs) {
                return Err(fail(
                    lua,
                    format!("flush interval {secs}: expected 1 to 86400 seconds"),
                ));
            }
            st.borrow_mut().replication.flush_interval_secs = secs as u64;
            Ok(())
        })?,
    )?;
    Ok(())
}

/// The lowercase wire apex of a zone name given in Lua.
fn zone_apex(lua: &Lua, name: &str) -> mlua::Result<Vec<u8>> {
    zone::parse_name(name).map_err(|e| fail(lua, format!("bad zone name '{name}': {e}")))
}

/// A key name that `newTSIGKey` defined before.
fn key_name(lua: &Lua, c: &Config, v: Value) -> mlua::Result<Box<[u8]>> {
    let Value::String(s) = v else {
        return Err(fail(
            lua,
            format!("tsig: expected a key name, got {}", v.type_name()),
        ));
    };
    let text = s.to_str()?.to_string();
    let wire =
        zone::parse_name(&text).map_err(|e| fail(lua, format!("bad key name '{text}': {e}")))?;
    if c.replication.keys.get(&wire).is_none() {
        return Err(fail(
            lua,
            format!(
                "no TSIG key '{text}': define it first with newTSIGKey(name, algorithm, secret)"
            ),
        ));
    }
    Ok(wire.into_boxed_slice())
}

fn netmasks(lua: &Lua, v: Value) -> mlua::Result<Vec<shield::Netmask>> {
    if matches!(v, Value::Nil) {
        return Ok(Vec::new());
    }
    strings(lua, v, "a list of netmasks")?
        .iter()
        .map(|m| shield::Netmask::parse(m).map_err(|e| fail(lua, e)))
        .collect()
}

fn rtype(lua: &Lua, t: &str) -> mlua::Result<u16> {
    wire::types::rtype_from_name(&t.to_ascii_uppercase())
        .ok_or_else(|| fail(lua, format!("unknown record type '{t}'")))
}

/// A name in an update policy: `_acme-challenge` (a first label, anywhere
/// in the zone), `www` (relative: that name in the zone), `name.` (that
/// exact name), `*.name.` (that name and below).
pub fn name_match(text: &str, apex: &[u8]) -> Result<NameMatch, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("*.") {
        let base = absolute(rest, apex)?;
        return Ok(NameMatch::Subdomain(base.into_boxed_slice()));
    }
    if !text.ends_with('.') && !text.contains('.') && text.starts_with('_') {
        let wire = zone::parse_name(text)?;
        let label = wire[1..=usize::from(wire[0])].to_vec();
        return Ok(NameMatch::FirstLabel(label.into_boxed_slice()));
    }
    Ok(NameMatch::Exact(absolute(text, apex)?.into_boxed_slice()))
}

/// `text` as an absolute lowercase wire name, relative ones under `apex`.
fn absolute(text: &str, apex: &[u8]) -> Result<Vec<u8>, String> {
    if text.ends_with('.') {
        return zone::parse_name(text);
    }
    let mut wire = zone::parse_name(text)?;
    wire.pop();
    wire.extend_from_slice(apex);
    if wire.len() > 255 {
        return Err(format!("name '{text}' is too long in this zone"));
    }
    Ok(wire)
}

/// The replication settings a named.conf gives (keys, `allow-transfer`,
/// `also-notify`, `update-policy`, `allow-update`, primaries and their key).
pub fn from_named_conf(conf: &NamedConf, c: &mut Config) -> Result<(), String> {
    for k in &conf.keys {
        let key = xfr::tsig::Key::new(&k.name, &k.algorithm, &k.secret)
            .map_err(|e| format!("{}: {e}", k.source))?;
        c.replication.keys.add(key);
    }
    for z in &conf.zones {
        let apex = zone::parse_name(&z.name)
            .map_err(|e| format!("{}: bad zone name '{}': {e}", z.source, z.name))?;
        let key = |text: &str| -> Result<Box<[u8]>, String> {
            let wire = zone::parse_name(text)
                .map_err(|e| format!("{}: bad key name '{text}': {e}", z.source))?;
            if c.replication.keys.get(&wire).is_none() {
                return Err(format!(
                    "{}: key '{text}' is not defined by a key statement",
                    z.source
                ));
            }
            Ok(wire.into_boxed_slice())
        };
        let mut transfer = Access::default();
        for item in &z.allow_transfer {
            access_item(item, &mut transfer, &key)
                .map_err(|e| format!("{}: allow-transfer: {e}", z.source))?;
        }
        let mut grants = Vec::new();
        if !z.allow_update.is_empty() {
            let mut a = Access::default();
            for item in &z.allow_update {
                access_item(item, &mut a, &key)
                    .map_err(|e| format!("{}: allow-update: {e}", z.source))?;
            }
            for k in a.keys {
                grants.push(UpdateGrant {
                    key: Some(k),
                    ..Default::default()
                });
            }
            if !a.netmasks.is_empty() {
                grants.push(UpdateGrant {
                    netmasks: a.netmasks,
                    ..Default::default()
                });
            }
        }
        for g in &z.update_policy {
            let mut grant = UpdateGrant {
                key: Some(key(&g.key)?),
                ..Default::default()
            };
            let name = g.name.as_deref().unwrap_or("");
            match g.rule.as_str() {
                "zonesub" => {}
                "name" => grant.names.push(NameMatch::Exact(
                    absolute(name, &apex)
                        .map_err(|e| format!("{}: {e}", g.source))?
                        .into_boxed_slice(),
                )),
                "subdomain" => grant.names.push(NameMatch::Subdomain(
                    absolute(name, &apex)
                        .map_err(|e| format!("{}: {e}", g.source))?
                        .into_boxed_slice(),
                )),
                _ => {
                    // wildcard: `*.x.` covers names below x.
                    let base = name.strip_prefix("*.").unwrap_or(name);
                    grant.names.push(NameMatch::Subdomain(
                        absolute(base, &apex)
                            .map_err(|e| format!("{}: {e}", g.source))?
                            .into_boxed_slice(),
                    ));
                }
            }
            for t in &g.types {
                if t.eq_ignore_ascii_case("ANY") {
                    continue;
                }
                let code = wire::types::rtype_from_name(&t.to_ascii_uppercase())
                    .ok_or_else(|| format!("{}: unknown record type '{t}'", g.source))?;
                grant.types.push(code);
            }
            grants.push(grant);
        }
        let mut primaries = Vec::new();
        for p in &z.primaries {
            primaries.push(
                parse_addr_with_port(p, 53).map_err(|e| format!("{}: primaries: {e}", z.source))?,
            );
        }
        let mut also = Vec::new();
        for p in &z.also_notify {
            also.push(
                parse_addr_with_port(p, 53)
                    .map_err(|e| format!("{}: also-notify: {e}", z.source))?,
            );
        }
        let primary_key = z.primary_key.as_deref().map(key).transpose()?;
        let s = c.replication.zone_mut(&apex);
        if !transfer.is_empty() {
            s.transfer = transfer;
        }
        s.update.extend(grants);
        s.primaries = primaries;
        s.primary_key = primary_key;
        s.also_notify = also;
    }
    Ok(())
}

/// Finds a defined key by name (lowercase wire name, or why not).
type KeyLookup<'a> = dyn Fn(&str) -> Result<Box<[u8]>, String> + 'a;

/// One item of a BIND address-match list into `access`.
fn access_item(item: &str, access: &mut Access, key: &KeyLookup<'_>) -> Result<(), String> {
    let item = item.trim();
    if let Some(k) = item.strip_prefix("key ") {
        access.keys.push(key(k.trim())?);
    } else if item.eq_ignore_ascii_case("any") {
        access.netmasks.push(shield::Netmask::parse("0.0.0.0/0")?);
        access.netmasks.push(shield::Netmask::parse("::/0")?);
    } else if item.eq_ignore_ascii_case("none") {
    } else if item.starts_with('!') {
        return Err(format!("negated item '{item}' is not supported"));
    } else if item.eq_ignore_ascii_case("localhost") {
        access.netmasks.push(shield::Netmask::parse("127.0.0.0/8")?);
        access.netmasks.push(shield::Netmask::parse("::1")?);
    } else {
        access.netmasks.push(shield::Netmask::parse(item)?);
    }
    Ok(())
}
