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
use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};

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
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>) -> mlua::Result<()> {
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

    // dnsdist's TCP worker thread count. rampart serves every TCP
    // connection as a task of one async runtime thread; there is no pool
    // of TCP threads to size, so the setting has nothing to change.
    g.set(
        "setMaxTCPClientThreads",
        lua.create_function(|_, _threads: u32| Ok(()))?,
    )?;

    // rampart never polls for security status. The empty suffix is how a
    // dnsdist operator turns polling off, so it changes nothing and stays
    // silent; any other suffix asks for something rampart does not do,
    // which the log says once.
    let st = state.clone();
    g.set(
        "setSecurityPollSuffix",
        lua.create_function(move |lua, suffix: Value| {
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
                let note = format!(
                    "{}: setSecurityPollSuffix('{text}') ignored: rampart does no security polling",
                    caller(lua)
                );
                st.borrow_mut().notes.push(note);
            }
            Ok(())
        })?,
    )?;

    // The log's levels: debug lines, and each health check's result.
    let st = state.clone();
    g.set(
        "setVerbose",
        lua.create_function(move |_, on: Option<bool>| {
            st.borrow_mut().verbose = on.unwrap_or(true);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "setVerboseHealthChecks",
        lua.create_function(move |_, on: Option<bool>| {
            st.borrow_mut().verbose_health_checks = on.unwrap_or(true);
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(src: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
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
                e.0.starts_with("/etc/rampart/rampart.conf:2: ") && e.0.contains(want),
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
