//! The authoritative defences from Lua and from named.conf: Response Rate
//! Limiting (`setRRL{…}`, `showRRL()`, BIND's `rate-limit { … }`) and DNS
//! Cookies (`setCookieSecret`, `setAnswerCookie`,
//! `setRequireServerCookie`; BIND's `answer-cookie`, `cookie-secret`,
//! `require-server-cookie`).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, Value};
use shield::{cookie, rrl, Runtime};
use zone::named_conf::ServerOption;

use crate::lua_util::{self, setter, Env, Flag, Global};
use crate::{fail, Config, ConfigError};

/// Registers the functions; `runtime` holds the rate-limit table.
pub fn register(
    lua: &Lua,
    state: &Rc<RefCell<Config>>,
    base: &Path,
    runtime: &Arc<Runtime>,
) -> mlua::Result<()> {
    let env = Guard {
        env: Env::new(state, base),
        runtime: runtime.clone(),
    };
    lua_util::register_table(lua, &env, FUNCTIONS)?;
    lua_util::register_flags(lua, &env.env, SWITCHES)
}

/// What the functions close over: the config, and the runtime whose
/// rate-limit table `setRRL` replaces and `showRRL` shows.
struct Guard {
    env: Env,
    runtime: Arc<Runtime>,
}

/// Response Rate Limiting and the cookie secrets.
const FUNCTIONS: &[Global<Guard>] = &[
    ("setRRL", |lua, g| {
        let (st, rt) = (g.env.state.clone(), g.runtime.clone());
        lua.create_function(move |lua, options: Option<mlua::Table>| {
            let mut settings = rrl::Settings::default();
            for pair in options.iter().flat_map(|t| t.pairs::<String, Value>()) {
                let (key, value) = pair?;
                let name = kebab(&key);
                let text = lua_value_text(lua, &name, value)?;
                settings
                    .set(&name, &text)
                    .map_err(|e| fail(lua, format!("setRRL: {e}")))?;
            }
            st.borrow_mut().shield.rrl = table_for(&rt, settings);
            Ok(())
        })
    }),
    ("showRRL", |lua, g| {
        let (st, rt) = (g.env.state.clone(), g.runtime.clone());
        lua.create_function(move |_, ()| {
            let text = match &st.borrow().shield.rrl {
                Some(r) => r.show(
                    shield::qps::now_ns(),
                    rt.stats.rrl_dropped.get(),
                    rt.stats.rrl_slipped.get(),
                ),
                None => "Response Rate Limiting is off (setRRL{responsesPerSecond=…})\n".into(),
            };
            crate::output::emit(&text);
            Ok(())
        })
    }),
    ("setCookieSecret", |lua, g| {
        setter(lua, &g.env, |lua, c, secrets: mlua::Variadic<String>| {
            if secrets.is_empty() {
                return Err(fail(lua, "setCookieSecret: expected at least one secret"));
            }
            let parsed = secrets
                .iter()
                .map(|s| cookie::parse_secret(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(lua, format!("setCookieSecret: {e}")))?;
            edit(c, |c| c.secrets = parsed);
            Ok(())
        })
    }),
];

/// The cookie switches: the named.conf option each stands for is in its
/// name.
const SWITCHES: &[Flag] = &[
    ("setAnswerCookie", |c, on| edit(c, |c| c.answer = on)),
    ("setRequireServerCookie", |c, on| {
        edit(c, |c| c.require_server_cookie = on)
    }),
];

/// The table for `settings`, or none when they limit nothing.
fn table_for(runtime: &Runtime, settings: rrl::Settings) -> Option<Arc<rrl::Rrl>> {
    settings
        .limits_anything()
        .then(|| runtime.rrl_table(settings))
}

/// `responsesPerSecond` → `responses-per-second`; names already in
/// BIND's spelling pass as they are.
fn kebab(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A Lua option value as the text BIND would have: numbers, booleans
/// (yes/no), strings, and lists of netmasks joined by spaces.
fn lua_value_text(lua: &Lua, name: &str, value: Value) -> mlua::Result<String> {
    Ok(match value {
        Value::Integer(i) => i.to_string(),
        Value::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
        Value::Boolean(b) => if b { "yes" } else { "no" }.into(),
        Value::String(s) => s.to_str()?.to_string(),
        Value::Table(t) => {
            let items: mlua::Result<Vec<String>> = t.sequence_values::<String>().collect();
            items?.join(" ")
        }
        other => {
            return Err(fail(
                lua,
                format!(
                    "setRRL: {name}: expected a number, a boolean or a list, found {}",
                    other.type_name()
                ),
            ))
        }
    })
}

/// BIND's `rate-limit { … };` and cookie options from a named.conf's
/// `options`, into `config`. Errors name the file and line.
pub fn from_named_conf(
    lua: &Lua,
    options: &[ServerOption],
    config: &mut Config,
) -> Result<(), ConfigError> {
    let mut secrets = Vec::new();
    for o in options {
        let one_value = || match o.values.as_slice() {
            [v] => Ok(v.as_str()),
            _ => Err(ConfigError::OneValue.at(&o.name).at(&o.source)),
        };
        let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(true),
            "no" | "false" => Ok(false),
            _ => Err(ConfigError::YesNo {
                found: v.to_string(),
            }
            .at(&o.name)
            .at(&o.source)),
        };
        match o.name.as_str() {
            "rate-limit" => {
                let settings = rate_limit(o)?;
                let runtime = lua
                    .app_data_ref::<Arc<crate::hook_lua::Source>>()
                    .ok_or_else(|| ConfigError::NoRuntime.at("rate-limit").at(&o.source))?
                    .runtime
                    .clone();
                config.shield.rrl = table_for(&runtime, settings);
            }
            "answer-cookie" => {
                let on = yes_no(one_value()?)?;
                edit(config, |c| c.answer = on);
            }
            "require-server-cookie" => {
                let on = yes_no(one_value()?)?;
                edit(config, |c| c.require_server_cookie = on);
            }
            "cookie-secret" => secrets.push(
                cookie::parse_secret(one_value()?)
                    .map_err(|e| ConfigError::from(e).at(&o.source))?,
            ),
            "cookie-algorithm" => {
                let v = one_value()?;
                if !v.eq_ignore_ascii_case("siphash24") {
                    return Err(ConfigError::CookieAlgorithm {
                        found: v.to_string(),
                    }
                    .at(&o.source));
                }
            }
            _ => {}
        }
    }
    if !secrets.is_empty() {
        // BIND: the first listed makes cookies, every one is accepted.
        edit(config, |c| c.secrets = secrets);
    }
    Ok(())
}

fn edit(config: &mut Config, f: impl FnOnce(&mut cookie::Settings)) {
    let mut settings = (*config.shield.cookies).clone();
    f(&mut settings);
    config.shield.cookies = Arc::new(settings);
}

/// The statements of a `rate-limit { … }` block.
fn rate_limit(o: &ServerOption) -> Result<rrl::Settings, ConfigError> {
    let mut settings = rrl::Settings::default();
    for item in &o.block {
        let value = match (item.values.as_slice(), item.block.is_empty()) {
            // `exempt-clients { 10.0.0.0/8; ::1; };`
            ([], false) => item
                .block
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            // `log-only;` alone means yes.
            ([], true) => "yes".to_string(),
            ([v], true) => v.clone(),
            _ => {
                return Err(ConfigError::OneValue
                    .at(&item.name)
                    .at("rate-limit")
                    .at(&item.source))
            }
        };
        settings
            .set(&item.name, &value)
            .map_err(|e| ConfigError::from(e).at("rate-limit").at(&item.source))?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use crate::load_str;
    use std::path::Path;

    #[test]
    fn named_conf_options_errors_say_their_place_and_kind() {
        use crate::ConfigError;
        use shield::ShieldError;
        let from = |text: &str| {
            let conf = zone::named_conf::parse(text, Path::new("n.conf")).unwrap();
            let mut c = crate::Config::new(Path::new("r.conf"));
            super::from_named_conf(&mlua::Lua::new(), &conf.server_options, &mut c).unwrap_err()
        };
        let e = from("options { cookie-secret \"0011\"; };");
        assert!(
            matches!(
                e.innermost(),
                ConfigError::Shield(ShieldError::BadCookieSecret { .. })
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "n.conf:1: cookie secret: expected 32 hexadecimal digits (128 bits), found '0011'"
        );
        let e = from("options {\n rate-limit { slip 11; };\n};");
        assert!(
            matches!(
                e.innermost(),
                ConfigError::Shield(ShieldError::OutOfRange { max: 10, .. })
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "n.conf:2: rate-limit: slip: expected a number from 0 to 10, found '11'"
        );
        // Read without a runtime (no config around it).
        let e = from("options { rate-limit { slip 2; }; };");
        assert!(matches!(e.innermost(), ConfigError::NoRuntime), "{e:?}");
        assert_eq!(
            e.to_string(),
            "n.conf:1: rate-limit: no runtime to limit in"
        );
        let e = from("options { answer-cookie maybe; };");
        assert!(matches!(e.innermost(), ConfigError::YesNo { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "n.conf:1: answer-cookie: expected yes or no, found 'maybe'"
        );
    }

    #[test]
    fn every_guard_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let rrl = |c: &crate::Config, printed: &str| {
            format!(
                "{:?} {printed}",
                c.shield.rrl.as_ref().map(|r| r.settings())
            )
        };
        let cookies = |c: &crate::Config, _: &str| {
            format!("{:?} {:02x?}", c.shield.cookies, c.shield.cookies.secrets)
        };
        let cases: &[Case] = &[
            (
                "setRRL",
                "setRRL{responsesPerSecond=7, slip=3, window=9}",
                rrl,
                &["responses_per_second: 7", "slip: 3", "window: 9"],
            ),
            (
                "showRRL",
                "setRRL{responsesPerSecond=7, nxdomainsPerSecond=2} showRRL()",
                rrl,
                &["responses-per-second 7 referrals 7 nodata 7 nxdomains 2"],
            ),
            (
                "setCookieSecret",
                "setCookieSecret('00112233445566778899aabbccddeeff', 'ffeeddccbbaa99887766554433221100')",
                cookies,
                &["secrets: 2", "[[00, 11, 22, 33", "[ff, ee, dd, cc"],
            ),
        ];
        check_cases(super::FUNCTIONS.iter().map(|(n, _)| *n), cases);
        let switches: &[Case] = &[
            (
                "setAnswerCookie",
                "setAnswerCookie(false)",
                cookies,
                &["answer: false"],
            ),
            (
                "setRequireServerCookie",
                "setRequireServerCookie(true)",
                cookies,
                &["require_server_cookie: true"],
            ),
        ];
        check_cases(super::SWITCHES.iter().map(|(n, _)| *n), switches);
    }

    #[test]
    fn set_rrl_in_camel_case() {
        let c = load_str(
            "setRRL{responsesPerSecond=5, slip=3, exemptClients={\"10.0.0.0/8\"}, logOnly=true}\n",
            Path::new("r.conf"),
        )
        .unwrap();
        let s = c.shield.rrl.unwrap().settings().clone();
        assert_eq!((s.responses_per_second, s.slip, s.log_only), (5, 3, true));
        assert!(s.exempt_clients.contains("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn set_rrl_errors_name_the_line_and_option() {
        let e = load_str("\nsetRRL{slip=11}\n", Path::new("r.conf")).unwrap_err();
        assert!(e.to_string().contains("r.conf:2"), "{e}");
        assert!(
            e.to_string()
                .contains("slip: expected a number from 0 to 10"),
            "{e}"
        );
        let e = load_str("setRRL{burst=1}\n", Path::new("r.conf")).unwrap_err();
        assert!(
            e.to_string().contains("unknown rate-limit option 'burst'"),
            "{e}"
        );
    }

    #[test]
    fn zero_rates_mean_off() {
        let c = load_str("setRRL{window=5}\n", Path::new("r.conf")).unwrap();
        assert!(c.shield.rrl.is_none());
    }

    #[test]
    fn cookie_settings_from_lua() {
        let c = load_str(
            "setCookieSecret(\"00112233445566778899aabbccddeeff\", \"ffeeddccbbaa99887766554433221100\")\nsetRequireServerCookie(true)\n",
            Path::new("r.conf"),
        )
        .unwrap();
        assert_eq!(c.shield.cookies.secrets.len(), 2);
        assert!(c.shield.cookies.require_server_cookie);
        let e = load_str("setCookieSecret(\"abc\")\n", Path::new("r.conf")).unwrap_err();
        assert!(
            e.to_string().contains("r.conf:1") && e.to_string().contains("32 hexadecimal"),
            "{e}"
        );
    }

    #[test]
    fn named_conf_rate_limit_and_cookies() {
        let dir = std::env::temp_dir().join(format!("rampart-rrl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("named.conf"),
            "options {\n  rate-limit {\n    responses-per-second 10;\n    nxdomains-per-second 4;\n    window 5;\n    exempt-clients { 192.0.2.0/24; };\n    log-only yes;\n  };\n  cookie-secret \"00112233445566778899aabbccddeeff\";\n  answer-cookie yes;\n};\n",
        )
        .unwrap();
        let c = load_str("loadNamedConf(\"named.conf\")\n", &dir.join("r.conf")).unwrap();
        let s = c.shield.rrl.unwrap().settings().clone();
        assert_eq!((s.responses_per_second, s.window), (10, 5));
        assert_eq!(s.rate(shield::rrl::Kind::Nxdomain), 4);
        assert!(s.log_only);
        assert!(s.exempt_clients.contains("192.0.2.9".parse().unwrap()));
        assert_eq!(
            c.shield.cookies.secrets[0],
            shield::cookie::parse_secret("00112233445566778899aabbccddeeff").unwrap()
        );

        std::fs::write(
            dir.join("named.conf"),
            "options {\n  rate-limit {\n    slip 12;\n  };\n};\n",
        )
        .unwrap();
        let e = load_str("loadNamedConf(\"named.conf\")\n", &dir.join("r.conf")).unwrap_err();
        assert!(
            e.to_string().contains("named.conf:3: rate-limit: slip"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
