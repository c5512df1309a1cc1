//! DNSSEC signing settings: BIND's `dnssec-policy` blocks, zones'
//! `dnssec-policy`/`inline-signing`/`key-directory` from a named.conf,
//! and the same in Lua (`setDNSSECPolicy`, `setKeyDirectory`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use dnssec::policy::{algorithm, Denial, KeySpec, Policy, Role, ZoneSigning};
use mlua::{Lua, Table, Value};
use zone::named_conf::{NamedConf, ServerOption};

use crate::lua_util::{self, Env, Global};
use crate::{fail, resolve, Config, ConfigError};

/// A BIND duration: ISO 8601 (`P14D`, `PT1H`, `P1Y2M`), a TTL with units
/// (`1h`, `2w1d`), seconds, or `unlimited` (0).
pub fn duration(text: &str) -> Result<u64, ConfigError> {
    let t = text.trim().to_ascii_uppercase();
    let bad = || ConfigError::BadDuration {
        text: text.to_string(),
    };
    if t == "UNLIMITED" {
        return Ok(0);
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let (iso, body) = match t.strip_prefix('P') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut in_time = !iso;
    let mut any = false;
    for c in body.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        if iso && c == 'T' && num.is_empty() {
            in_time = true;
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match (c, in_time) {
            ('Y', false) => 365 * 86_400,
            ('M', false) => 30 * 86_400,
            ('W', _) => 7 * 86_400,
            ('D', _) => 86_400,
            ('H', true) => 3600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

fn algorithm_of(text: &str, source: &str) -> Result<u8, ConfigError> {
    algorithm::parse(text).ok_or_else(|| {
        ConfigError::Algorithm {
            text: text.to_string(),
        }
        .at(source)
    })
}

/// One `dnssec-policy "name" { … };` statement. Errors are placed at
/// the statement's `file:line` ([`ConfigError::At`]).
pub fn policy_from_named(s: &ServerOption) -> Result<Policy, ConfigError> {
    let name = s
        .values
        .first()
        .cloned()
        .ok_or_else(|| ConfigError::PolicyNeedsName.at(&s.source))?;
    let mut p = Policy {
        name: name.clone(),
        ..Policy::default()
    };
    let mut keys_given = false;
    for o in &s.block {
        let arg = || {
            o.values.first().map(String::as_str).ok_or_else(|| {
                ConfigError::NeedsValue {
                    what: o.name.clone(),
                }
                .at(&o.source)
            })
        };
        let dur = || duration(arg()?).map_err(|e| e.at(&o.name).at(&o.source));
        match o.name.as_str() {
            "keys" => {
                keys_given = true;
                p.keys.clear();
                for k in &o.block {
                    p.keys.push(key_spec(k)?);
                }
            }
            "nsec3param" => {
                let mut iterations = 0u16;
                let mut salt_len = 0usize;
                let mut opt_out = false;
                let mut it = o.values.iter();
                while let Some(w) = it.next() {
                    let v = it.next().ok_or_else(|| {
                        ConfigError::NeedsValue {
                            what: format!("nsec3param {w}"),
                        }
                        .at(&o.source)
                    })?;
                    let bad = |field| {
                        ConfigError::BadValue {
                            field,
                            value: v.clone(),
                        }
                        .at(&o.source)
                    };
                    match w.to_ascii_lowercase().as_str() {
                        "iterations" => iterations = v.parse().map_err(|_| bad("iterations"))?,
                        "salt-length" => salt_len = v.parse().map_err(|_| bad("salt-length"))?,
                        "optout" => {
                            opt_out =
                                matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1")
                        }
                        other => {
                            return Err(ConfigError::Unknown {
                                what: "nsec3param field",
                                name: other.to_string(),
                            }
                            .at(&o.source))
                        }
                    }
                }
                p.denial = Denial::Nsec3 {
                    iterations,
                    salt: random_salt(salt_len).map_err(|e| e.at(&o.source))?,
                    opt_out,
                };
            }
            "signatures-validity" => p.signatures_validity = dur()?,
            "signatures-validity-dnskey" => p.signatures_validity_dnskey = dur()?,
            "signatures-refresh" => p.signatures_refresh = dur()?,
            "signatures-jitter" => p.signatures_jitter = dur()?,
            "dnskey-ttl" => {
                p.dnskey_ttl = u32::try_from(dur()?)
                    .map_err(|_| ConfigError::DnskeyTtlTooLarge.at(&o.source))?
            }
            "cdnskey" | "cds-digest-types" => {
                if o.name == "cdnskey" {
                    p.cds = !matches!(arg()?.to_ascii_lowercase().as_str(), "no" | "false" | "0");
                }
            }
            "publish-safety" => p.publish_safety = dur()?,
            "retire-safety" => p.retire_safety = dur()?,
            "zone-propagation-delay" => p.zone_propagation_delay = dur()?,
            "parent-ds-ttl" => p.parent_ds_ttl = dur()?,
            "parent-propagation-delay" => p.parent_propagation_delay = dur()?,
            // Signing is always inline here; the rest is BIND's own
            // bookkeeping (purging key files, offline KSKs).
            "inline-signing" | "max-zone-ttl" | "purge-keys" | "manual-mode" | "offline-ksk" => {}
            other => {
                return Err(ConfigError::Unknown {
                    what: "dnssec-policy option",
                    name: other.to_string(),
                }
                .at(&o.source))
            }
        }
    }
    if !keys_given {
        p.keys = Policy::default().keys;
    }
    p.check().map_err(|e| ConfigError::from(e).at(&s.source))?;
    Ok(p)
}

/// `csk lifetime unlimited algorithm ecdsap256sha256;`
fn key_spec(k: &ServerOption) -> Result<KeySpec, ConfigError> {
    let role = match k.name.as_str() {
        "csk" => Role::Csk,
        "ksk" => Role::Ksk,
        "zsk" => Role::Zsk,
        other => {
            return Err(ConfigError::KeyRole {
                found: other.to_string(),
            }
            .at(&k.source))
        }
    };
    let needs = |what: &str| {
        ConfigError::NeedsValue {
            what: what.to_string(),
        }
        .at(&k.source)
    };
    let mut spec = KeySpec {
        role,
        algorithm: algorithm::ECDSAP256SHA256,
        lifetime: 0,
    };
    let mut it = k.values.iter();
    while let Some(w) = it.next() {
        match w.to_ascii_lowercase().as_str() {
            "lifetime" => {
                let v = it.next().ok_or_else(|| needs("lifetime"))?;
                spec.lifetime = duration(v).map_err(|e| e.at(&k.source))?;
            }
            "algorithm" => {
                let v = it.next().ok_or_else(|| needs("algorithm"))?;
                spec.algorithm = algorithm_of(v, &k.source)?;
                // An RSA key size may follow.
                if it.clone().next().is_some_and(|n| n.parse::<u32>().is_ok()) {
                    it.next();
                }
            }
            "key-directory" => {}
            "key-store" | "tag-range" => {
                it.next();
                if w.eq_ignore_ascii_case("tag-range") {
                    it.next();
                }
            }
            other => {
                return Err(ConfigError::Unknown {
                    what: "key option",
                    name: other.to_string(),
                }
                .at(&k.source))
            }
        }
    }
    Ok(spec)
}

fn random_salt(len: usize) -> Result<Vec<u8>, ConfigError> {
    if len > 255 {
        return Err(ConfigError::SaltLength { len });
    }
    let mut salt = vec![0u8; len];
    wire::random::fill(&mut salt).map_err(|e| ConfigError::SaltRandom {
        source: Arc::new(e),
    })?;
    Ok(salt)
}

/// The policies a named.conf defines, with BIND's built-ins; `None` for
/// `insecure` and `none` (the zone is served unsigned).
fn policies(conf: &NamedConf) -> Result<HashMap<String, Option<Policy>>, ConfigError> {
    let mut out: HashMap<String, Option<Policy>> = HashMap::new();
    out.insert("default".into(), Some(Policy::default()));
    out.insert("insecure".into(), None);
    out.insert("none".into(), None);
    for s in &conf.dnssec_policies {
        let p = policy_from_named(s)?;
        out.insert(p.name.clone(), Some(p));
    }
    Ok(out)
}

/// The zones of a named.conf that a `dnssec-policy` signs.
pub fn from_named_conf(conf: &NamedConf, c: &mut Config) -> Result<(), ConfigError> {
    let table = policies(conf)?;
    for z in &conf.zones {
        let Some((name, source)) = z
            .dnssec_policy
            .as_ref()
            .or(conf.default_dnssec_policy.as_ref())
        else {
            continue;
        };
        let policy = table
            .get(name)
            .ok_or_else(|| ConfigError::UndefinedPolicy { name: name.clone() }.at(source))?;
        let apex = zone::parse_name(&z.name).map_err(|e| {
            ConfigError::BadZoneName {
                name: z.name.clone(),
                source: e,
            }
            .at(&z.source)
        })?;
        if z.kind == zone::named_conf::ZoneKind::Secondary && policy.is_some() {
            c.notes.push(format!(
                "{source}: dnssec-policy on secondary zone {}: not signed here yet (served as \
                 transferred)",
                z.name
            ));
            continue;
        }
        let key_directory = z
            .key_directory
            .clone()
            .or_else(|| conf.key_directory.clone())
            .unwrap_or_else(|| PathBuf::from("."));
        let mut parental_agents = Vec::new();
        for a in &z.parental_agents {
            parental_agents.push(
                crate::address::parse_addr_with_port(a, 53)
                    .map_err(|e| e.at("parental-agents").at(&z.source))?,
            );
        }
        c.replication.zone_mut(&apex).dnssec = policy.clone().map(|policy| ZoneSigning {
            policy,
            key_directory,
            parental_agents,
        });
    }
    Ok(())
}

pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

/// The signing functions.
const FUNCTIONS: &[Global] = &[
    ("setKeyDirectory", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |_, dir: String| {
            st.borrow_mut().key_directory = Some(resolve(&b, &dir));
            Ok(())
        })
    }),
    ("setDNSSECPolicy", |lua, env| {
        let st = env.state.clone();
        let b = env.base.clone();
        lua.create_function(move |lua, (name, opts): (String, Option<Table>)| {
            let apex = crate::xfr_lua::zone_apex(lua, &name)?;
            let mut c = st.borrow_mut();
            let signing = lua_policy(lua, opts, &b, c.key_directory.clone())?;
            c.replication.zone_mut(&apex).dnssec = signing;
            Ok(())
        })
    }),
];

/// `setDNSSECPolicy`'s options: `policy` ("default", "insecure"),
/// `algorithm`, `keys` ({{role="ksk", algorithm=…, lifetime=…}, …}),
/// `nsec3` (bool), `nsec3Iterations`, `nsec3OptOut`, `nsec3SaltLength`,
/// `signaturesValidity`, `signaturesValidityDNSKEY`, `signaturesRefresh`,
/// `signaturesJitter`, `dnskeyTTL`, `publishSafety`, `retireSafety`,
/// `zonePropagationDelay`, `parentDSTTL`, `parentPropagationDelay`,
/// `parentCheckInterval` (seconds or durations), `cds`, `keyDirectory`,
/// `parentalAgents` (addresses asked for the DS in a KSK rollover).
fn lua_policy(
    lua: &Lua,
    opts: Option<Table>,
    base: &Path,
    dir: Option<PathBuf>,
) -> mlua::Result<Option<ZoneSigning>> {
    let mut p = Policy::default();
    let mut key_directory = dir.unwrap_or_else(|| base.to_path_buf());
    let Some(opts) = opts else {
        return Ok(Some(ZoneSigning {
            policy: p,
            key_directory,
            parental_agents: Vec::new(),
        }));
    };
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => s.to_str().ok().map(|s| s.to_string()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some((*n as i64).to_string()),
            _ => None,
        }
    };
    let dur = |key: &str, v: &Value| -> mlua::Result<u64> {
        let t =
            text(v).ok_or_else(|| fail(lua, format!("{key}: expected seconds or a duration")))?;
        duration(&t).map_err(|e| fail(lua, format!("{key}: {e}")))
    };
    let mut nsec3: Option<(u16, usize, bool)> = None;
    let mut parental_agents = Vec::new();
    for pair in opts.pairs::<String, Value>() {
        let (k, v) = pair?;
        match k.as_str() {
            "policy" => match text(&v).as_deref() {
                Some("default") => {}
                Some("insecure" | "none") => return Ok(None),
                other => {
                    return Err(fail(
                        lua,
                        format!("policy {other:?}: expected \"default\", \"insecure\" or \"none\""),
                    ))
                }
            },
            "algorithm" => {
                let a = text(&v).ok_or_else(|| fail(lua, "algorithm: expected a name"))?;
                let a = algorithm_of(&a, "setDNSSECPolicy").map_err(|e| fail(lua, e))?;
                for key in &mut p.keys {
                    key.algorithm = a;
                }
            }
            "keys" => {
                let Value::Table(list) = v else {
                    return Err(fail(lua, "keys: expected a list of {role=…, algorithm=…}"));
                };
                p.keys.clear();
                for item in list.sequence_values::<Table>() {
                    let shape = |_| {
                        fail(lua, "keys: each key is {role=\"csk\"|\"ksk\"|\"zsk\", algorithm=…, lifetime=…}")
                    };
                    let item = item.map_err(shape)?;
                    let role: String = item.get("role").map_err(shape)?;
                    let role = match role.to_ascii_lowercase().as_str() {
                        "csk" => Role::Csk,
                        "ksk" => Role::Ksk,
                        "zsk" => Role::Zsk,
                        other => {
                            return Err(fail(
                                lua,
                                format!("keys: role '{other}': expected csk, ksk or zsk"),
                            ))
                        }
                    };
                    let alg: Option<String> = item.get("algorithm").map_err(shape)?;
                    let algorithm = match alg {
                        Some(a) => algorithm_of(&a, "setDNSSECPolicy").map_err(|e| fail(lua, e))?,
                        None => algorithm::ECDSAP256SHA256,
                    };
                    let lifetime = match item.get::<Value>("lifetime")? {
                        Value::Nil => 0,
                        v => dur("lifetime", &v)?,
                    };
                    p.keys.push(KeySpec {
                        role,
                        algorithm,
                        lifetime,
                    });
                }
            }
            "nsec3" => {
                if v.as_boolean() == Some(true) {
                    nsec3.get_or_insert((0, 0, false));
                }
            }
            "nsec3Iterations" => {
                let n = v.as_integer().filter(|n| (0..=150).contains(n));
                let n = n.ok_or_else(|| {
                    fail(
                        lua,
                        "nsec3Iterations: expected 0 to 150 (RFC 9276 asks for 0)",
                    )
                })?;
                nsec3.get_or_insert((0, 0, false)).0 = n as u16;
            }
            "nsec3SaltLength" => {
                let n = v.as_integer().filter(|n| (0..=255).contains(n));
                let n = n.ok_or_else(|| fail(lua, "nsec3SaltLength: expected 0 to 255"))?;
                nsec3.get_or_insert((0, 0, false)).1 = n as usize;
            }
            "nsec3OptOut" => nsec3.get_or_insert((0, 0, false)).2 = v.as_boolean() == Some(true),
            "signaturesValidity" => p.signatures_validity = dur(&k, &v)?,
            "signaturesValidityDNSKEY" => p.signatures_validity_dnskey = dur(&k, &v)?,
            "signaturesRefresh" => p.signatures_refresh = dur(&k, &v)?,
            "signaturesJitter" => p.signatures_jitter = dur(&k, &v)?,
            "dnskeyTTL" => {
                p.dnskey_ttl =
                    u32::try_from(dur(&k, &v)?).map_err(|_| fail(lua, "dnskeyTTL too large"))?
            }
            "cds" => p.cds = v.as_boolean() != Some(false),
            "parentalAgents" => {
                let Value::Table(list) = v else {
                    return Err(fail(lua, "parentalAgents: expected a list of addresses"));
                };
                for a in list.sequence_values::<String>() {
                    let a =
                        a.map_err(|_| fail(lua, "parentalAgents: expected addresses as strings"))?;
                    let addr = crate::address::parse_addr_with_port(&a, 53)
                        .map_err(|e| fail(lua, format!("parentalAgents: {e}")))?;
                    parental_agents.push(addr);
                }
            }
            "parentCheckInterval" => p.parent_check_interval = dur(&k, &v)?.max(1),
            "publishSafety" => p.publish_safety = dur(&k, &v)?,
            "retireSafety" => p.retire_safety = dur(&k, &v)?,
            "zonePropagationDelay" => p.zone_propagation_delay = dur(&k, &v)?,
            "parentDSTTL" => p.parent_ds_ttl = dur(&k, &v)?,
            "parentPropagationDelay" => p.parent_propagation_delay = dur(&k, &v)?,
            "keyDirectory" => {
                let d = text(&v).ok_or_else(|| fail(lua, "keyDirectory: expected a path"))?;
                key_directory = resolve(base, &d);
            }
            other => {
                return Err(fail(
                    lua,
                    format!("setDNSSECPolicy: unknown option '{other}'"),
                ))
            }
        }
    }
    if let Some((iterations, salt_len, opt_out)) = nsec3 {
        p.denial = Denial::Nsec3 {
            iterations,
            salt: random_salt(salt_len).map_err(|e| fail(lua, e))?,
            opt_out,
        };
    }
    p.check().map_err(|e| fail(lua, e))?;
    Ok(Some(ZoneSigning {
        policy: p,
        key_directory,
        parental_agents,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    #[test]
    fn every_dnssec_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let cases: &[Case] = &[
            (
                "setKeyDirectory",
                "setKeyDirectory('keys')",
                |c, _| format!("{:?}", c.key_directory),
                &["Some(\"/etc/rampart/keys\")"],
            ),
            (
                "setDNSSECPolicy",
                "setDNSSECPolicy('example.org', {algorithm='ed25519', dnskeyTTL=600, keyDirectory='/k'})",
                |c, _| format!("{:?}", c.replication.zone(b"\x07example\x03org\x00").dnssec),
                &["algorithm: 15", "dnskey_ttl: 600", "key_directory: \"/k\""],
            ),
        ];
        check_cases(FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    #[test]
    fn durations_as_bind_writes_them() {
        assert_eq!(duration("P14D").unwrap(), 14 * 86_400);
        assert_eq!(duration("PT1H").unwrap(), 3600);
        assert_eq!(duration("p1w2dt3h").unwrap(), 9 * 86_400 + 3 * 3600);
        assert_eq!(duration("3600").unwrap(), 3600);
        assert_eq!(duration("1h30m").unwrap(), 5400);
        assert_eq!(duration("unlimited").unwrap(), 0);
        let e = duration("P1X").unwrap_err();
        assert!(
            matches!(&e, ConfigError::BadDuration { text } if text == "P1X"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "bad duration 'P1X': expected seconds, 1h/2d/1w style or ISO 8601 (P14D, PT1H)"
        );
        assert!(duration("P").is_err());
    }

    #[test]
    fn named_policy_errors_say_their_place_and_kind() {
        let opt = |name: &str, values: &[&str], block: Vec<ServerOption>, line: u32| ServerOption {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            block,
            source: format!("n.conf:{line}"),
        };
        let s = opt(
            "dnssec-policy",
            &["p"],
            vec![opt("signatures-refresh", &["P1X"], Vec::new(), 2)],
            1,
        );
        let e = policy_from_named(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n.conf:2: signatures-refresh: bad duration 'P1X': expected seconds, 1h/2d/1w style \
             or ISO 8601 (P14D, PT1H)"
        );
        assert!(
            matches!(e.innermost(), ConfigError::BadDuration { .. }),
            "{e:?}"
        );
        let keys = opt(
            "keys",
            &[],
            vec![opt("csk", &["algorithm", "rsasha1"], Vec::new(), 3)],
            3,
        );
        let e = policy_from_named(&opt("dnssec-policy", &["p"], vec![keys], 1)).unwrap_err();
        assert!(
            matches!(e.innermost(), ConfigError::Algorithm { text } if text == "rsasha1"),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("n.conf:3: algorithm 'rsasha1'"),
            "{e}"
        );
        let s = opt(
            "dnssec-policy",
            &["p"],
            vec![opt("signatures-refresh", &["P30D"], Vec::new(), 2)],
            1,
        );
        let e = policy_from_named(&s).unwrap_err();
        assert!(
            matches!(
                e.innermost(),
                ConfigError::Policy(dnssec::PolicyError::RefreshTooLong { .. })
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("n.conf:1: dnssec-policy \"p\": signatures-refresh"),
            "{e}"
        );
    }

    #[test]
    fn named_conf_policies_reach_the_zones() {
        let dir = std::env::temp_dir().join(format!("rampart-dnssec-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("named.conf"),
            "options { directory \"/var/lib/z\"; key-directory \"keys\"; };\n\
             dnssec-policy \"fast\" {\n  keys { ksk lifetime unlimited algorithm ecdsap256sha256; zsk lifetime P60D algorithm ed25519; };\n  nsec3param iterations 0 optout no salt-length 0;\n  signatures-validity P7D;\n  signatures-refresh P2D;\n  dnskey-ttl PT1H;\n};\n\
             zone \"a.test\" { type primary; file \"a.zone\"; dnssec-policy fast; inline-signing yes; };\n\
             zone \"b.test\" { type primary; file \"b.zone\"; dnssec-policy default; };\n\
             zone \"c.test\" { type primary; file \"c.zone\"; };\n\
             zone \"d.test\" { type primary; file \"d.zone\"; dnssec-policy insecure; };\n",
        )
        .unwrap();
        let c = load_str("loadNamedConf(\"named.conf\")\n", &dir.join("r.conf")).unwrap();
        let a = c.replication.zone(b"\x01a\x04test\x00").dnssec.unwrap();
        assert_eq!(a.key_directory, PathBuf::from("/var/lib/z/keys"));
        assert_eq!(a.policy.keys.len(), 2);
        assert_eq!(a.policy.keys[1].algorithm, algorithm::ED25519);
        assert_eq!(a.policy.signatures_validity, 7 * 86_400);
        assert!(matches!(
            a.policy.denial,
            Denial::Nsec3 { iterations: 0, .. }
        ));
        let b = c.replication.zone(b"\x01b\x04test\x00").dnssec.unwrap();
        assert_eq!(b.policy, Policy::default());
        assert!(c.replication.zone(b"\x01c\x04test\x00").dnssec.is_none());
        assert!(c.replication.zone(b"\x01d\x04test\x00").dnssec.is_none());

        std::fs::write(
            dir.join("named.conf"),
            "dnssec-policy \"old\" {\n  keys { csk lifetime unlimited algorithm rsasha1; };\n};\n",
        )
        .unwrap();
        let e = load_str("loadNamedConf(\"named.conf\")\n", &dir.join("r.conf")).unwrap_err();
        assert!(
            e.to_string().contains("named.conf:2") && e.to_string().contains("RSA-SHA1 is refused"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lua_policy_options_take_effect() {
        let c = load_str(
            "setKeyDirectory(\"/k\")\n\
             setDNSSECPolicy(\"example.org\", {algorithm=\"ed25519\", nsec3=true, nsec3OptOut=true, signaturesValidity=\"P10D\", signaturesRefresh=86400, dnskeyTTL=\"1h\"})\n\
             setDNSSECPolicy(\"plain.org\", {policy=\"insecure\"})\n\
             setDNSSECPolicy(\"other.org\")\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap();
        let z = c
            .replication
            .zone(b"\x07example\x03org\x00")
            .dnssec
            .unwrap();
        assert_eq!(z.key_directory, PathBuf::from("/k"));
        assert_eq!(z.policy.keys[0].algorithm, algorithm::ED25519);
        assert!(matches!(
            z.policy.denial,
            Denial::Nsec3 { opt_out: true, .. }
        ));
        assert_eq!(z.policy.signatures_validity, 10 * 86_400);
        assert_eq!(z.policy.signatures_refresh, 86_400);
        assert_eq!(z.policy.dnskey_ttl, 3600);
        assert!(c.replication.zone(b"\x05plain\x03org\x00").dnssec.is_none());
        assert_eq!(
            c.replication
                .zone(b"\x05other\x03org\x00")
                .dnssec
                .unwrap()
                .policy,
            Policy::default()
        );
        let e = load_str(
            "\nsetDNSSECPolicy(\"example.org\", {signaturesRefresh=\"P20D\"})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("r.conf:2") && e.to_string().contains("signatures-refresh"),
            "{e}"
        );
        let e = load_str(
            "setDNSSECPolicy(\"example.org\", {keys={{algorithm=\"ed25519\"}}})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("r.conf:1") && e.to_string().contains("each key is"),
            "{e}"
        );
        let e = load_str(
            "setDNSSECPolicy(\"example.org\", {parentalAgents={{}}})\n",
            Path::new("/etc/r.conf"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("r.conf:1") && e.to_string().contains("parentalAgents"),
            "{e}"
        );
    }
}
