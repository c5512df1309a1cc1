//! Replication settings in Lua: TSIG keys, secondary zones, who may
//! transfer and update, whom to notify, where journals live.
//!
//! - `newTSIGKey(name, algorithm, base64secret)`
//! - `addSecondaryZone(name, {primaries={"ip[:port]", …}, tsig="key", file="path", tls=…})`
//!   where `tls` (XoT, RFC 9103; primaries on port 853 by default) is
//!   `true` (checked against the system CAs, by address), `"ephemeral"`
//!   (not checked, as BIND's built-in) or `{caStore="ca.pem",
//!   subjectName="ns1.example.org", validateCertificates=true}`
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
use crate::lua_util::{self, setter, strings, Env, Global};
use crate::{caller, fail, resolve, Config, ConfigError, ZoneDecl};

pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

/// The replication functions.
const FUNCTIONS: &[Global] = &[
    ("newTSIGKey", |lua, env| {
        setter(
            lua,
            env,
            |lua, c, (name, alg, secret): (String, String, String)| {
                let key = xfr::tsig::Key::new(&name, &alg, &secret).map_err(|e| fail(lua, e))?;
                c.replication.keys.add(key);
                Ok(())
            },
        )
    }),
    ("addSecondaryZone", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |lua, (name, opts): (String, Table)| {
            secondary_zone(lua, &st, &b, name, opts)
        })
    }),
    ("setZoneTransferACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(
            move |lua, (name, nets, opts): (String, Value, Option<Table>)| {
                transfer_acl(lua, &st, name, nets, opts)
            },
        )
    }),
    ("setAlsoNotify", |lua, env| {
        setter(lua, env, |lua, c, (name, list): (String, Value)| {
            let apex = zone_apex(lua, &name)?;
            let mut targets = Vec::new();
            for a in strings(lua, list, "a list of addresses")? {
                targets.push(parse_addr_with_port(&a, 53).map_err(|e| fail(lua, e))?);
            }
            c.replication.zone_mut(&apex).also_notify = targets;
            Ok(())
        })
    }),
    ("setUpdatePolicy", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, (name, policy): (String, Table)| {
            update_policy(lua, &st, name, policy)
        })
    }),
    ("setSerialPolicy", |lua, env| {
        setter(lua, env, |lua, c, (name, policy): (String, String)| {
            let apex = zone_apex(lua, &name)?;
            let p = zone::records::SerialPolicy::parse(&policy).ok_or_else(|| {
                fail(
                    lua,
                    format!("bad serial policy '{policy}': expected increment, keep, unixtime or dateserial"),
                )
            })?;
            c.replication.zone_mut(&apex).serial_policy = p;
            Ok(())
        })
    }),
    ("setJournalDir", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |_, dir: String| {
            st.borrow_mut().replication.journal_dir = Some(resolve(&b, &dir));
            Ok(())
        })
    }),
    ("setZoneFlushInterval", |lua, env| {
        setter(lua, env, |lua, c, secs: i64| {
            if !(1..=86_400).contains(&secs) {
                return Err(fail(
                    lua,
                    format!("flush interval {secs}: expected 1 to 86400 seconds"),
                ));
            }
            c.replication.flush_interval_secs = secs as u64;
            Ok(())
        })
    }),
];

/// `addSecondaryZone(name, {primaries=, tsig=, tls=, file=})`.
fn secondary_zone(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    b: &Path,
    name: String,
    opts: Table,
) -> mlua::Result<()> {
    let apex = zone_apex(lua, &name)?;
    let mut file = None;
    let mut listed = Vec::new();
    let mut key = None;
    let mut tls = None;
    for pair in opts.pairs::<String, Value>() {
        let (k, v) = pair?;
        match k.as_str() {
            "primaries" | "masters" => {
                listed = strings(lua, v, "a list of primary addresses")?;
            }
            "tls" => tls = xot_client(lua, b, v)?,
            "tsig" => key = Some(key_name(lua, &st.borrow(), v)?),
            "file" => match v {
                Value::String(s) => file = Some(resolve(b, &s.to_str()?)),
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
                    format!("addSecondaryZone: unknown option '{other}': expected primaries, tsig, tls or file"),
                ))
            }
        }
    }
    // Over TLS, 853 unless said (RFC 7858).
    let port = if tls.is_some() { 853 } else { 53 };
    let mut primaries = Vec::new();
    for p in &listed {
        primaries.push(parse_addr_with_port(p, port).map_err(|e| fail(lua, e))?);
    }
    if primaries.is_empty() {
        return Err(fail(
            lua,
            format!("addSecondaryZone('{name}'): no primaries given"),
        ));
    }
    let mut c = st.borrow_mut();
    let z = c.replication.zone_mut(&apex);
    z.primary_tls = match tls {
        Some(t) => primaries.iter().map(|p| (*p, t.clone())).collect(),
        None => Vec::new(),
    };
    z.primaries = primaries;
    z.primary_key = key;
    c.zones.push(ZoneDecl {
        name,
        kind: ZoneKind::Secondary,
        file,
        source: caller(lua),
    });
    Ok(())
}

/// `setZoneTransferACL(zone, netmasks [, {tsig=}])`: both must match.
fn transfer_acl(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    name: String,
    nets: Value,
    opts: Option<Table>,
) -> mlua::Result<()> {
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
                        format!("setZoneTransferACL: unknown option '{other}': expected tsig"),
                    ))
                }
            }
        }
    }
    st.borrow_mut().replication.zone_mut(&apex).transfer = access;
    Ok(())
}

/// `setUpdatePolicy(zone, {key=, names=, types=, netmasks=})`: one more
/// grant; one open to anyone is refused.
fn update_policy(
    lua: &Lua,
    st: &Rc<RefCell<Config>>,
    name: String,
    policy: Table,
) -> mlua::Result<()> {
    let apex = zone_apex(lua, &name)?;
    let mut grant = UpdateGrant::default();
    for pair in policy.pairs::<String, Value>() {
        let (k, v) = pair?;
        match k.as_str() {
            "key" | "tsig" => grant.key = Some(key_name(lua, &st.borrow(), v)?),
            "names" => {
                for n in strings(lua, v, "a list of names")? {
                    grant
                        .names
                        .push(name_match(&n, &apex).map_err(|e| fail(lua, e))?);
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
    st.borrow_mut()
        .replication
        .zone_mut(&apex)
        .update
        .push(grant);
    Ok(())
}

/// The lowercase wire apex of a zone name given in Lua.
/// A zone name from Lua, in lowercase wire form.
pub(crate) fn zone_apex(lua: &Lua, name: &str) -> mlua::Result<Vec<u8>> {
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
pub fn name_match(text: &str, apex: &[u8]) -> Result<NameMatch, ConfigError> {
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
fn absolute(text: &str, apex: &[u8]) -> Result<Vec<u8>, ConfigError> {
    if text.ends_with('.') {
        return Ok(zone::parse_name(text)?);
    }
    let mut wire = zone::parse_name(text)?;
    wire.pop();
    wire.extend_from_slice(apex);
    if wire.len() > 255 {
        return Err(ConfigError::NameTooLong {
            name: text.to_string(),
        });
    }
    Ok(wire)
}

/// The client of a named.conf `tls NAME` (or BIND's built-in
/// `ephemeral`: encrypted, not checked).
fn named_tls(
    conf: &NamedConf,
    name: &str,
    source: &str,
) -> Result<pool::tls_client::TlsClient, ConfigError> {
    if name.eq_ignore_ascii_case("ephemeral") {
        return pool::tls_client::TlsClient::xot(false, None, None)
            .map_err(|e| ConfigError::from(e).at("tls ephemeral").at(source));
    }
    let t = conf.tls.iter().find(|t| t.name == name).ok_or_else(|| {
        ConfigError::UndefinedTls {
            name: name.to_string(),
        }
        .at(source)
    })?;
    // As BIND: checked against ca-file if given (by remote-hostname, else
    // the address), against the system store if only remote-hostname
    // is, not at all (opportunistic) when neither is.
    let validate = t.ca_file.is_some() || t.remote_hostname.is_some();
    pool::tls_client::TlsClient::xot(validate, t.ca_file.clone(), t.remote_hostname.clone())
        .map_err(|e| ConfigError::from(e).at(format!("tls {name}")).at(&t.source))
}

/// `addSecondaryZone`'s `tls=`: how primaries are reached over TLS.
fn xot_client(
    lua: &Lua,
    base: &Path,
    v: Value,
) -> mlua::Result<Option<pool::tls_client::TlsClient>> {
    let (validate, ca, name) = match v {
        Value::Nil | Value::Boolean(false) => return Ok(None),
        Value::Boolean(true) => (true, None, None),
        Value::String(s) if s.to_str()?.eq_ignore_ascii_case("ephemeral") => (false, None, None),
        Value::Table(t) => {
            let mut validate = true;
            let (mut ca, mut name) = (None, None);
            for pair in t.pairs::<String, Value>() {
                let (k, v) = pair?;
                match (k.as_str(), v) {
                    ("validateCertificates", Value::Boolean(b)) => validate = b,
                    ("caStore", Value::String(s)) => ca = Some(resolve(base, &s.to_str()?)),
                    ("subjectName", Value::String(s)) => name = Some(s.to_str()?.to_string()),
                    (other, _) => {
                        return Err(fail(
                            lua,
                            format!("addSecondaryZone: tls: unknown or mistyped option '{other}': expected caStore, subjectName, validateCertificates"),
                        ))
                    }
                }
            }
            (validate, ca, name)
        }
        other => {
            return Err(fail(
                lua,
                format!(
                    "addSecondaryZone: tls must be true, \"ephemeral\" or a table, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    pool::tls_client::TlsClient::xot(validate, ca, name)
        .map(Some)
        .map_err(|e| fail(lua, format!("addSecondaryZone: tls: {e}")))
}

/// The replication settings a named.conf gives (keys, `allow-transfer`,
/// `also-notify`, `update-policy`, `allow-update`, primaries and their key).
pub fn from_named_conf(conf: &NamedConf, c: &mut Config) -> Result<(), ConfigError> {
    for k in &conf.keys {
        let key = xfr::tsig::Key::new(&k.name, &k.algorithm, &k.secret)
            .map_err(|message| ConfigError::Tsig { message }.at(&k.source))?;
        c.replication.keys.add(key);
    }
    for z in &conf.zones {
        let apex = zone::parse_name(&z.name).map_err(|source| {
            ConfigError::BadZoneName {
                name: z.name.clone(),
                source,
            }
            .at(&z.source)
        })?;
        let key = |text: &str| -> Result<Box<[u8]>, ConfigError> {
            let wire = zone::parse_name(text).map_err(|source| {
                ConfigError::BadKeyName {
                    name: text.to_string(),
                    source,
                }
                .at(&z.source)
            })?;
            if c.replication.keys.get(&wire).is_none() {
                return Err(ConfigError::UndefinedKey {
                    name: text.to_string(),
                }
                .at(&z.source));
            }
            Ok(wire.into_boxed_slice())
        };
        let mut transfer = Access::default();
        for item in &z.allow_transfer {
            access_item(item, &mut transfer, &key)
                .map_err(|e| e.at("allow-transfer").at(&z.source))?;
        }
        let mut grants = Vec::new();
        if !z.allow_update.is_empty() {
            let mut a = Access::default();
            for item in &z.allow_update {
                access_item(item, &mut a, &key).map_err(|e| e.at("allow-update").at(&z.source))?;
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
                        .map_err(|e| e.at(&g.source))?
                        .into_boxed_slice(),
                )),
                "subdomain" => grant.names.push(NameMatch::Subdomain(
                    absolute(name, &apex)
                        .map_err(|e| e.at(&g.source))?
                        .into_boxed_slice(),
                )),
                "wildcard" => {
                    // `*.x.` covers names below x.
                    let base = name.strip_prefix("*.").unwrap_or(name);
                    grant.names.push(NameMatch::Subdomain(
                        absolute(base, &apex)
                            .map_err(|e| e.at(&g.source))?
                            .into_boxed_slice(),
                    ));
                }
                other => {
                    return Err(ConfigError::Unknown {
                        what: "update-policy rule",
                        name: other.to_string(),
                    }
                    .at(&g.source))
                }
            }
            for t in &g.types {
                if t.eq_ignore_ascii_case("ANY") {
                    continue;
                }
                let code =
                    wire::types::rtype_from_name(&t.to_ascii_uppercase()).ok_or_else(|| {
                        ConfigError::Unknown {
                            what: "record type",
                            name: t.clone(),
                        }
                        .at(&g.source)
                    })?;
                grant.types.push(code);
            }
            grants.push(grant);
        }
        let mut primaries = Vec::new();
        let mut primary_tls = Vec::new();
        for (i, p) in z.primaries.iter().enumerate() {
            let addr = parse_addr_with_port(p, 53).map_err(|e| e.at("primaries").at(&z.source))?;
            primaries.push(addr);
            if let Some(Some(name)) = z.primary_tls.get(i) {
                primary_tls.push((addr, named_tls(conf, name, &z.source)?));
            }
        }
        let mut also = Vec::new();
        for p in &z.also_notify {
            also.push(parse_addr_with_port(p, 53).map_err(|e| e.at("also-notify").at(&z.source))?);
        }
        let primary_key = z.primary_key.as_deref().map(key).transpose()?;
        let s = c.replication.zone_mut(&apex);
        if !transfer.is_empty() {
            s.transfer = transfer;
        }
        s.update.extend(grants);
        // Only what the named.conf gives replaces what Lua set before.
        if !primaries.is_empty() {
            s.primaries = primaries;
            s.primary_tls = primary_tls;
        }
        if primary_key.is_some() {
            s.primary_key = primary_key;
        }
        if !also.is_empty() {
            s.also_notify = also;
        }
    }
    Ok(())
}

/// Finds a defined key by name (lowercase wire name, or why not).
type KeyLookup<'a> = dyn Fn(&str) -> Result<Box<[u8]>, ConfigError> + 'a;

/// One item of a BIND address-match list into `access`.
fn access_item(item: &str, access: &mut Access, key: &KeyLookup<'_>) -> Result<(), ConfigError> {
    let item = item.trim();
    if let Some(k) = item.strip_prefix("key ") {
        access.keys.push(key(k.trim())?);
    } else if item.eq_ignore_ascii_case("any") {
        access.netmasks.push(shield::Netmask::parse("0.0.0.0/0")?);
        access.netmasks.push(shield::Netmask::parse("::/0")?);
    } else if item.eq_ignore_ascii_case("none") {
    } else if item.starts_with('!') {
        return Err(ConfigError::NegatedItem {
            item: item.to_string(),
        });
    } else if item.eq_ignore_ascii_case("localhost") {
        access.netmasks.push(shield::Netmask::parse("127.0.0.0/8")?);
        access.netmasks.push(shield::Netmask::parse("::1")?);
    } else {
        access.netmasks.push(shield::Netmask::parse(item)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::load_str;

    const KEY: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

    #[test]
    fn named_conf_errors_say_their_place_and_kind() {
        use crate::ConfigError;
        let conf = zone::named_conf::parse(
            "zone \"example.org\" { type primary; file \"z\"; allow-transfer { key nokey; }; };\n",
            Path::new("/etc/n.conf"),
        )
        .unwrap();
        let mut c = crate::Config::new(Path::new("/etc/r.conf"));
        let e = super::from_named_conf(&conf, &mut c).unwrap_err();
        assert!(
            matches!(e.innermost(), ConfigError::UndefinedKey { name } if name == "nokey"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "/etc/n.conf:1: allow-transfer: /etc/n.conf:1: key 'nokey' is not defined by a key \
             statement"
        );
        let conf = zone::named_conf::parse(
            "zone \"example.org\" { type secondary; primaries { 192.0.2.1 tls xot; }; };\n",
            Path::new("/etc/n.conf"),
        )
        .unwrap();
        let e = super::from_named_conf(&conf, &mut c).unwrap_err();
        assert!(
            matches!(e.innermost(), ConfigError::UndefinedTls { name } if name == "xot"),
            "{e:?}"
        );
        let apex = zone::parse_name("example.org").unwrap();
        let e = super::name_match("a..b", &apex).unwrap_err();
        assert!(matches!(e, ConfigError::BadName(_)), "{e:?}");
        let long = vec!["a".repeat(60); 4].join(".");
        let e = super::name_match(&long, &apex).unwrap_err();
        assert!(matches!(e, ConfigError::NameTooLong { .. }), "{e:?}");
    }

    /// example.org's replication settings and the zones declared.
    fn example_org(c: &crate::Config) -> String {
        let z = c.replication.zone(b"\x07example\x03org\x00");
        format!("{z:?} {:?}", c.zones)
    }

    #[test]
    fn every_replication_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let cases: &[Case] = &[
            (
                "newTSIGKey",
                "newTSIGKey('k1', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=')",
                |c, _| format!("{:?}", c.replication.keys.names()),
                &["k1"],
            ),
            (
                "addSecondaryZone",
                "addSecondaryZone('example.org', {primaries={'192.0.2.1'}, file='sec.zone'})",
                |c, _| example_org(c),
                &[
                    "primaries: [192.0.2.1:53]",
                    "/etc/rampart/sec.zone",
                    "Secondary",
                ],
            ),
            (
                "setZoneTransferACL",
                "newTSIGKey('k1', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=')
                 setZoneTransferACL('example.org', {'10.0.0.0/8'}, {tsig='k1'})",
                |c, _| example_org(c),
                &["addr: 10.0.0.0, prefix: 8", "keys: [[2, 107, 49, 0]]"],
            ),
            (
                "setAlsoNotify",
                "setAlsoNotify('example.org', {'192.0.2.7'})",
                |c, _| example_org(c),
                &["also_notify: [192.0.2.7:53]"],
            ),
            (
                "setUpdatePolicy",
                "setUpdatePolicy('example.org', {netmasks={'10.0.0.0/8'}, types={'AAAA'}})",
                |c, _| example_org(c),
                &[
                    "update: [UpdateGrant { key: None",
                    "addr: 10.0.0.0, prefix: 8 }], names: [], types: [28]",
                ],
            ),
            (
                "setSerialPolicy",
                "setSerialPolicy('example.org', 'unixtime')",
                |c, _| example_org(c),
                &["serial_policy: UnixTime"],
            ),
            (
                "setJournalDir",
                "setJournalDir('journals')",
                |c, _| format!("{:?}", c.replication.journal_dir),
                &["/etc/rampart/journals"],
            ),
            (
                "setZoneFlushInterval",
                "setZoneFlushInterval(5)",
                |c, _| c.replication.flush_interval_secs.to_string(),
                &["5"],
            ),
        ];
        check_cases(super::FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    #[test]
    fn lua_functions_fill_the_zone_settings() {
        let c = load_str(
            &format!(
                "newTSIGKey(\"xfr\", \"hmac-sha256\", \"{KEY}\")\n\
                 setZoneTransferACL(\"Example.ORG\", {{\"192.0.2.0/24\"}}, {{tsig=\"xfr\"}})\n\
                 setAlsoNotify(\"example.org.\", {{\"192.0.2.53\", \"[2001:db8::1]:5353\"}})\n\
                 setUpdatePolicy(\"example.org\", {{key=\"xfr\", names={{\"_acme-challenge\", \"www\"}}, types={{\"TXT\"}}}})\n\
                 setSerialPolicy(\"example.org\", \"unixtime\")\n\
                 addSecondaryZone(\"sec.test\", {{primaries={{\"127.0.0.1:5301\"}}, tsig=\"xfr\"}})\n"
            ),
            Path::new("/etc/r.conf"),
        )
        .unwrap();
        let z = c.replication.zone(b"\x07example\x03org\x00");
        assert!(z.transfer.require_both);
        assert_eq!(z.transfer.keys.len(), 1);
        assert_eq!(z.also_notify.len(), 2);
        assert_eq!(z.also_notify[1].to_string(), "[2001:db8::1]:5353");
        let g = &z.update[0];
        assert!(g.covers(b"\x0f_acme-challenge\x03www\x07example\x03org\x00", 16));
        assert!(g.covers(b"\x03www\x07example\x03org\x00", 16));
        assert!(!g.covers(b"\x03www\x07example\x03org\x00", 1));
        assert!(!g.covers(b"\x04mail\x07example\x03org\x00", 16));
        assert_eq!(z.serial_policy.name(), "unixtime");
        let s = c.replication.zone(b"\x03sec\x04test\x00");
        assert_eq!(s.primaries[0].to_string(), "127.0.0.1:5301");
        assert!(s.primary_key.is_some());
        assert_eq!(c.zones.last().map(|d| d.name.as_str()), Some("sec.test"));
    }

    #[test]
    fn mistakes_are_named_with_file_and_line() {
        let err = |src: &str| {
            load_str(src, Path::new("/etc/r.conf"))
                .unwrap_err()
                .to_string()
        };
        let e = err("\nnewTSIGKey(\"k\", \"hmac-sha999\", \"AAAA\")\n");
        assert!(
            e.starts_with("/etc/r.conf:2:") && e.contains("hmac-sha999"),
            "{e}"
        );
        let e = err("setZoneTransferACL(\"x.test\", {\"10.0.0.0/8\"}, {tsig=\"nokey\"})\n");
        assert!(
            e.starts_with("/etc/r.conf:1:") && e.contains("no TSIG key 'nokey'"),
            "{e}"
        );
        let e = err("setUpdatePolicy(\"x.test\", {names={\"www\"}})\n");
        assert!(e.contains("give a key (TSIG) or netmasks"), "{e}");
        let e = err("setSerialPolicy(\"x.test\", \"sometimes\")\n");
        assert!(
            e.contains("expected increment, keep, unixtime or dateserial"),
            "{e}"
        );
        let e = err("addSecondaryZone(\"x.test\", {primaries={}})\n");
        assert!(e.contains("no primaries given"), "{e}");
    }

    #[test]
    fn secondaries_over_tls() {
        let c = load_str(
            "addSecondaryZone(\"a.test\", {primaries={\"127.0.0.1\", \"127.0.0.2:8853\"}, tls=\"ephemeral\"})\n\
             addSecondaryZone(\"b.test\", {primaries={\"127.0.0.1\"}, tls={validateCertificates=false, subjectName=\"ns1.example.org\"}})\n\
             addSecondaryZone(\"c.test\", {primaries={\"127.0.0.1\"}})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap();
        let a = c.replication.zone(b"\x01a\x04test\x00");
        assert_eq!(a.primaries[0].to_string(), "127.0.0.1:853");
        assert_eq!(a.primaries[1].to_string(), "127.0.0.2:8853");
        let t = a.tls_for(a.primaries[1]).expect("over TLS");
        assert!(!t.settings.validate && t.settings.tls13_only);
        assert_eq!(t.settings.alpn, [b"dot".to_vec()]);
        let b = c.replication.zone(b"\x01b\x04test\x00");
        let t = b.tls_for(b.primaries[0]).expect("over TLS");
        assert_eq!(t.settings.server_name.as_deref(), Some("ns1.example.org"));
        let c2 = c.replication.zone(b"\x01c\x04test\x00");
        assert_eq!(c2.primaries[0].to_string(), "127.0.0.1:53");
        assert!(c2.tls_for(c2.primaries[0]).is_none());
        let e = load_str(
            "\naddSecondaryZone(\"a.test\", {primaries={\"127.0.0.1\"}, tls={caStore=\"/nonexistent.pem\"}})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("/etc/r.conf:2:") && e.contains("/nonexistent.pem"),
            "{e}"
        );
        let e = load_str(
            "addSecondaryZone(\"a.test\", {primaries={\"127.0.0.1\"}, tls=\"strict\"})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("tls must be true, \"ephemeral\" or a table"),
            "{e}"
        );
    }

    #[test]
    fn named_conf_tls_profiles_reach_the_primaries() {
        let dir = std::env::temp_dir().join(format!("rampart-xfr-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("named.conf"),
            "tls opportunistic { protocols { TLSv1.3; }; };\n\
             tls missing { ca-file \"nope.pem\"; remote-hostname \"ns1.example.org\"; };\n\
             zone \"s.test\" { type secondary; file \"s.zone\";\n\
               primaries { 127.0.0.1 port 8853 tls opportunistic; 127.0.0.2 tls ephemeral; 127.0.0.3; }; };\n",
        )
        .unwrap();
        let path = dir.join("rampart.conf");
        let c = load_str("loadNamedConf(\"named.conf\")\n", &path).unwrap();
        let z = c.replication.zone(b"\x01s\x04test\x00");
        assert_eq!(z.primaries.len(), 3);
        assert!(z
            .tls_for(z.primaries[0])
            .is_some_and(|t| !t.settings.validate));
        assert_eq!(z.primaries[1].to_string(), "127.0.0.2:853");
        assert!(z.tls_for(z.primaries[1]).is_some());
        assert!(z.tls_for(z.primaries[2]).is_none());
        let text = std::fs::read_to_string(dir.join("named.conf")).unwrap();
        std::fs::write(
            dir.join("named.conf"),
            text.replace("tls opportunistic;", "tls missing;"),
        )
        .unwrap();
        let e = load_str("loadNamedConf(\"named.conf\")\n", &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("named.conf:2") && e.contains("nope.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn named_conf_replication_statements_become_settings() {
        let dir = std::env::temp_dir().join(format!("rampart-xfr-lua-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("named.conf"),
            format!(
                "key \"certbot.\" {{ algorithm hmac-sha256; secret \"{KEY}\"; }};\n\
                 zone \"example.org\" {{ type master; file \"e.zone\";\n\
                   allow-transfer {{ 127.0.0.2; key certbot.; }};\n\
                   update-policy {{ grant certbot. name _acme-challenge.example.org. TXT; }};\n\
                   also-notify {{ 127.0.0.3 port 5300; }}; }};\n\
                 zone \"bad.org\" {{ type master; file \"b.zone\"; allow-transfer {{ key nokey; }}; }};\n"
            ),
        )
        .unwrap();
        let path = dir.join("rampart.conf");
        let e = load_str("loadNamedConf(\"named.conf\")\n", &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("key 'nokey' is not defined"), "{e}");
        let text = std::fs::read_to_string(dir.join("named.conf")).unwrap();
        let fixed = text.replace("key nokey;", "127.0.0.9;");
        std::fs::write(dir.join("named.conf"), fixed).unwrap();
        let c = load_str("loadNamedConf(\"named.conf\")\n", &path).unwrap();
        let z = c.replication.zone(b"\x07example\x03org\x00");
        assert!(!z.transfer.require_both);
        assert!(z.transfer.allows("127.0.0.2".parse().unwrap(), None));
        assert!(!z.transfer.allows("127.0.0.4".parse().unwrap(), None));
        let k = zone::parse_name("certbot.").unwrap();
        assert!(z.transfer.allows("127.0.0.4".parse().unwrap(), Some(&k)));
        assert_eq!(z.also_notify[0].to_string(), "127.0.0.3:5300");
        assert!(z.update[0].covers(b"\x0f_acme-challenge\x07example\x03org\x00", 16));
        assert!(!z.update[0].covers(b"\x03www\x07example\x03org\x00", 16));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
