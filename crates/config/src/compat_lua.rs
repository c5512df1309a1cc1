//! dnsdist functions rampart has no use for, or deliberately lacks.
//!
//! An operator's `dnsdist.conf` must load as it is. Two kinds of function
//! live here:
//! - settings whose absence changes nothing for the operator, accepted as
//!   explicit no-ops (each says why below);
//! - features rampart does not have (DNSCrypt, eBPF, SNMP, carbon):
//!   defined, so a config mentioning them is not a syntax-level surprise,
//!   but calling one is an error naming the function and the feature,
//!   never a silent success.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};

use crate::lua_util::{self, setter, Env, Global};
use crate::{caller, fail, Config};

/// Functions of features rampart does not have, by feature.
const UNSUPPORTED: &[(&str, &[&str])] = &[
    (
        "DNSCrypt",
        &[
            "addDNSCryptBind",
            "generateDNSCryptCertificate",
            "generateDNSCryptProviderKeys",
            "printDNSCryptProviderFingerprint",
            "showDNSCryptBinds",
            "getDNSCryptBind",
            "getDNSCryptBindCount",
        ],
    ),
    (
        "eBPF",
        &[
            "newBPFFilter",
            "newDynBPFFilter",
            "setDefaultBPFFilter",
            "registerDynBPFFilter",
            "unregisterDynBPFFilter",
            "addBPFFilterDynBlocks",
        ],
    ),
    (
        "SNMP",
        &[
            "snmpAgent",
            "sendCustomTrap",
            "SNMPTrapAction",
            "SNMPTrapResponseAction",
        ],
    ),
    ("carbon", &["carbonServer"]),
];

/// Registers the compatibility functions.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    let g = lua.globals();
    for (feature, names) in UNSUPPORTED {
        for name in *names {
            let message = format!("{name}: {feature} is not supported by rampart");
            g.set(
                *name,
                lua.create_function(move |lua, _: MultiValue| -> mlua::Result<()> {
                    Err(fail(lua, &message))
                })?,
            )?;
        }
    }
    let env = Env::new(state, base);
    lua_util::register_table(lua, &env, NO_OPS)?;
    lua_util::register_table(lua, &env, FUNCTIONS)
}

/// Settings accepted with their arguments checked, that change nothing.
const NO_OPS: &[Global] = &[
    // dnsdist's TCP worker thread count. rampart serves every TCP
    // connection as a task of one async runtime thread; there is no pool
    // of TCP threads to size, so the setting has nothing to change.
    ("setMaxTCPClientThreads", |lua, _| {
        lua.create_function(|_, _threads: u32| Ok(()))
    }),
];

/// Security polling and the log's levels.
const FUNCTIONS: &[Global] = &[
    // rampart never polls for security status. The empty suffix is how a
    // dnsdist operator turns polling off, so it changes nothing and stays
    // silent; any other suffix asks for something rampart does not do,
    // which the log says once.
    ("setSecurityPollSuffix", |lua, env| {
        setter(lua, env, |lua, c, suffix: Value| {
            let text = match &suffix {
                Value::String(s) => s.to_string_lossy(),
                Value::Nil => String::new(),
                other => {
                    return Err(fail(
                        lua,
                        format!(
                            "setSecurityPollSuffix: expected a domain suffix, got {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            if !text.is_empty() {
                c.notes.push(format!(
                    "{}: setSecurityPollSuffix('{text}') ignored: rampart does no security polling",
                    caller(lua)
                ));
            }
            Ok(())
        })
    }),
    // The log's levels: debug lines, and each health check's result.
    ("setVerbose", |lua, env| {
        setter(lua, env, |_, c, on: Option<bool>| {
            c.verbose = on.unwrap_or(true);
            Ok(())
        })
    }),
    ("setVerboseHealthChecks", |lua, env| {
        setter(lua, env, |_, c, on: Option<bool>| {
            c.verbose_health_checks = on.unwrap_or(true);
            Ok(())
        })
    }),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(src: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    #[test]
    fn every_compat_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let cases: &[Case] = &[
            (
                "setSecurityPollSuffix",
                "setSecurityPollSuffix('secpoll.example.')",
                |c, _| format!("{:?}", c.notes),
                &["setSecurityPollSuffix('secpoll.example.') ignored"],
            ),
            (
                "setVerbose",
                "setVerbose(true)",
                |c, _| c.verbose.to_string(),
                &["true"],
            ),
            (
                "setVerboseHealthChecks",
                "setVerboseHealthChecks()",
                |c, _| c.verbose_health_checks.to_string(),
                &["true"],
            ),
        ];
        check_cases(super::FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    /// A no-op leaves the config as an empty one, and still refuses an
    /// argument of the wrong kind at the calling line.
    #[test]
    fn every_no_op_changes_nothing_and_checks_its_argument() {
        use crate::lua_util::table_test::covers;
        let cases: &[(&str, &str, &str)] = &[(
            "setMaxTCPClientThreads",
            "setMaxTCPClientThreads(10)",
            "\nsetMaxTCPClientThreads('many')",
        )];
        covers(
            super::NO_OPS.iter().map(|(n, _)| *n),
            cases.iter().map(|(n, s, _)| (*n, *s)),
        );
        let empty = format!("{:?}", load("").unwrap());
        for (name, good, bad) in cases {
            assert_eq!(format!("{:?}", load(good).unwrap()), empty, "{good}");
            let e = load(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("/etc/rampart/rampart.conf:2:")
                    && e.to_string().contains(name),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn every_unsupported_function_fails_naming_itself_and_its_feature() {
        for (feature, names) in super::UNSUPPORTED {
            for name in *names {
                let e = load(&format!("\n{name}()\n")).unwrap_err();
                let want = format!("{name}: {feature} is not supported by rampart");
                assert!(
                    e.to_string().starts_with("/etc/rampart/rampart.conf:2: ")
                        && e.to_string().contains(&want),
                    "{name}: {e}"
                );
            }
        }
    }

    #[test]
    fn verbosity() {
        let c = load("").unwrap();
        assert!(!c.verbose && !c.verbose_health_checks);
        let c = load("setVerbose(true)\nsetVerboseHealthChecks(true)\n").unwrap();
        assert!(c.verbose && c.verbose_health_checks);
    }

    #[test]
    fn empty_security_poll_suffix_is_silent() {
        let c = load("setSecurityPollSuffix('')\n").unwrap();
        assert!(c.notes.is_empty(), "{:?}", c.notes);
    }

    #[test]
    fn a_real_security_poll_suffix_is_noted() {
        let c = load("\nsetSecurityPollSuffix('secpoll.example.')\n").unwrap();
        assert_eq!(c.notes.len(), 1);
        assert!(
            c.notes[0].starts_with("/etc/rampart/rampart.conf:2: setSecurityPollSuffix"),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn unsupported_features_fail_naming_the_function() {
        for (line, want) in [
            (
                "addDNSCryptBind('127.0.0.1:8443', 'name', 'cert', 'key')",
                "addDNSCryptBind: DNSCrypt is not supported by rampart",
            ),
            (
                "newBPFFilter(1024, 1024, 1024)",
                "newBPFFilter: eBPF is not supported by rampart",
            ),
            (
                "snmpAgent(true)",
                "snmpAgent: SNMP is not supported by rampart",
            ),
            (
                "carbonServer('192.0.2.1')",
                "carbonServer: carbon is not supported by rampart",
            ),
        ] {
            let e = load(&format!("\n{line}\n")).unwrap_err();
            assert!(
                e.to_string().starts_with("/etc/rampart/rampart.conf:2: ")
                    && e.to_string().contains(want),
                "{line}: {e}"
            );
        }
    }

    #[test]
    fn unsupported_functions_exist_before_they_are_called() {
        // A config may test for a function before using it.
        load("assert(type(carbonServer) == 'function')\n").unwrap();
    }
}
