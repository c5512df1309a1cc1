//! The console from the config's side: `controlSocket`, `setKey`,
//! `makeKey`, `setConsoleACL`/`addConsoleACL`/`showConsoleACL`; running a
//! console line the way dnsdist does (`return <line>`, then `<line>` if
//! that does not parse); and reading only the console settings from a
//! config for `rampart -c`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};
use shield::{Netmask, NetmaskGroup};

use crate::lua_util::{self, setter, Env, Global};
use crate::{fail, output, Config};

/// The console settings of a config.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    pub addr: Option<SocketAddr>,
    /// Base64 key as given to `setKey`.
    pub key: Option<String>,
    pub acl: NetmaskGroup,
    /// Concurrent console connections.
    pub max_connections: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        let mut acl = NetmaskGroup::new();
        for m in ["127.0.0.0/8", "::1/128"] {
            if let Ok(n) = Netmask::parse(m) {
                acl.add(n);
            }
        }
        ConsoleConfig {
            addr: None,
            key: None,
            acl,
            max_connections: control::server::MAX_CONNECTIONS,
        }
    }
}

/// The console's default port.
pub const CONSOLE_PORT: u16 = 5199;

/// A console address: port 5199 when it names none (`::1` included).
pub fn console_addr(s: &str) -> Result<SocketAddr, crate::ConfigError> {
    crate::address::parse_addr_with_port(s, CONSOLE_PORT)
}

/// Registers the console settings.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

/// The console's address, key, ACL and output.
const FUNCTIONS: &[Global] = &[
    ("controlSocket", |lua, env| {
        setter(lua, env, |lua, c, addr: String| {
            c.console.addr = Some(console_addr(&addr).map_err(|e| fail(lua, e))?);
            Ok(())
        })
    }),
    ("setKey", |lua, env| {
        setter(lua, env, |lua, c, key: String| {
            control::parse_key(&key).map_err(|e| fail(lua, e))?;
            c.console.key = Some(key);
            Ok(())
        })
    }),
    ("makeKey", |lua, _| {
        lua.create_function(|lua, ()| {
            let key =
                control::make_key().map_err(|e| fail(lua, format!("cannot make a key: {e}")))?;
            output::emit(&format!("setKey(\"{key}\")\n"));
            Ok(())
        })
    }),
    ("setConsoleMaximumConcurrentConnections", |lua, env| {
        setter(lua, env, |_, c, n: u32| {
            // 0 is dnsdist's "no limit".
            c.console.max_connections = if n == 0 { usize::MAX } else { n as usize };
            Ok(())
        })
    }),
    // Starts with "dnsdist " as dnsdist's does (scripts match on it),
    // and says what is really answering.
    ("showVersion", |lua, _| {
        lua.create_function(|_, ()| {
            output::emit(&format!(
                "dnsdist dialect 1.7, rampart {}\n",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(())
        })
    }),
    ("setConsoleACL", |lua, env| {
        setter(lua, env, |lua, c, masks: Value| {
            let list = crate::lua_util::strings(lua, masks, "netmasks")?;
            let mut acl = NetmaskGroup::new();
            for m in list {
                acl.add(Netmask::parse(&m).map_err(|e| fail(lua, e))?);
            }
            c.console.acl = acl;
            Ok(())
        })
    }),
    ("addConsoleACL", |lua, env| {
        setter(lua, env, |lua, c, mask: String| {
            c.console
                .acl
                .add(Netmask::parse(&mask).map_err(|e| fail(lua, e))?);
            Ok(())
        })
    }),
    ("showConsoleACL", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |_, ()| {
            for m in st.borrow().console.acl.masks() {
                output::emit(&format!("{m}\n"));
            }
            Ok(())
        })
    }),
    // Lua's own print goes where the other output goes.
    ("print", |lua, _| {
        lua.create_function(|_, args: MultiValue| {
            let parts: Vec<String> = args.iter().map(display).collect();
            output::emit(&format!("{}\n", parts.join("\t")));
            Ok(())
        })
    }),
];

/// How a Lua value shows on the console.
fn display(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.to_string_lossy(),
        other => other.to_string().unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// How long one console line may run (the server's signals wait for it).
const CONSOLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A console line as an expression (its value shown), else a statement.
fn run_source(lua: &Lua, line: &str) -> mlua::Result<MultiValue> {
    let as_expr = lua
        .load(format!("return {line}"))
        .set_name("console")
        .eval::<MultiValue>();
    match as_expr {
        Err(mlua::Error::SyntaxError { .. }) => {
            lua.load(line).set_name("console").eval::<MultiValue>()
        }
        other => other,
    }
}

/// Runs one console line in `lua` and returns what the console shows:
/// the returned value, else what the line printed, else nothing. Errors
/// come back as `Error: …`.
pub fn run_line(lua: &Lua, line: &str) -> String {
    let (result, printed) = output::capture(|| {
        crate::lua_util::with_deadline(lua, CONSOLE_LIMIT, || run_source(lua, line))
    });
    match result {
        Ok(values) => {
            let shown: Vec<String> = values.iter().filter(|v| !v.is_nil()).map(display).collect();
            let mut out = printed;
            if !shown.is_empty() {
                out.push_str(&shown.join("\t"));
                out.push('\n');
            }
            out
        }
        Err(e) => format!("{printed}Error: {}\n", crate::lua_message(&e)),
    }
}

/// The console settings of the config at `path`, read without acting on
/// anything else in it (dnsdist's client mode): every other function is
/// a no-op that returns an object accepting any further call.
pub fn client_settings(path: &std::path::Path) -> Result<ConsoleConfig, crate::ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| crate::ConfigError::Read {
        path: path.to_path_buf(),
        source: std::sync::Arc::new(e),
    })?;
    let lua = Lua::new();
    let state = Rc::new(RefCell::new(Config::new(path)));
    let setup = || -> mlua::Result<()> {
        lua.load(
            r#"
            local inert = setmetatable({}, {})
            getmetatable(inert).__index = function() return function() return inert end end
            getmetatable(inert).__call = function() return inert end
            -- Unknown globals (DNSQType, newServer…) are the inert value:
            -- callable and indexable, so DNSQType.ANY at top level works.
            setmetatable(_G, { __index = function() return inert end })
            "#,
        )
        .exec()?;
        let base = path.parent().unwrap_or(std::path::Path::new(""));
        register(&lua, &state, base)
    };
    setup().map_err(|e| crate::ConfigError::Setup {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    lua.load(&src)
        .set_name(format!("@{}", path.display()))
        .exec()
        .map_err(|e| crate::ConfigError::Lua {
            message: crate::lua_message(&e),
        })?;
    let settings = state.borrow().console.clone();
    Ok(settings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_console_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let console = |c: &crate::Config, printed: &str| format!("{:?} {printed}", c.console);
        let cases: &[Case] = &[
            (
                "controlSocket",
                "controlSocket('127.0.0.1')",
                console,
                &["addr: Some(127.0.0.1:5199)"],
            ),
            (
                "setKey",
                "setKey('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')",
                console,
                &["key: Some(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\")"],
            ),
            ("makeKey", "makeKey()", console, &["setKey(\""]),
            (
                "setConsoleMaximumConcurrentConnections",
                "setConsoleMaximumConcurrentConnections(3)",
                console,
                &["max_connections: 3 "],
            ),
            (
                "showVersion",
                "showVersion()",
                console,
                &["dnsdist dialect 1.7, rampart "],
            ),
            (
                "setConsoleACL",
                "setConsoleACL({'10.0.0.0/8', '192.0.2.0/24'}) showConsoleACL()",
                console,
                &["} 10.0.0.0/8\n192.0.2.0/24\n"],
            ),
            (
                "addConsoleACL",
                "addConsoleACL('10.0.0.0/8') showConsoleACL()",
                console,
                &["127.0.0.0/8\n::1/128\n10.0.0.0/8\n"],
            ),
            (
                "showConsoleACL",
                "showConsoleACL()",
                console,
                &["} 127.0.0.0/8\n::1/128\n"],
            ),
            (
                "print",
                "print('a', 1, nil, true)",
                console,
                &["a\t1\tnil\ttrue\n"],
            ),
        ];
        check_cases(super::FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    /// The client reads the console settings out of a whole dnsdist
    /// config, constants and method calls at top level included.
    #[test]
    fn client_settings_come_out_of_a_full_config() {
        let dir = std::env::temp_dir().join(format!("rampart-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dnsdist.conf");
        std::fs::write(
            &path,
            "addAction(QTypeRule(DNSQType.ANY), DropAction())\n\
             local dbr = dynBlockRulesGroup()\n\
             dbr:setRCodeRate(DNSRCode.NXDOMAIN, 10, 10, 'nx', 60)\n\
             controlSocket('127.0.0.1:5299')\n\
             setKey('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')\n",
        )
        .unwrap();
        let c = super::client_settings(&path).unwrap();
        assert_eq!(
            c.addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:5299")
        );
        assert!(c.key.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A console line that loops forever is stopped, and the state stays
    /// usable for the next line.
    #[test]
    fn an_endless_console_line_is_stopped() {
        let lua = mlua::Lua::new();
        let started = std::time::Instant::now();
        let out = super::run_line(&lua, "while true do end");
        assert!(out.contains("stopped: ran longer than"), "{out}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(super::run_line(&lua, "1 + 1"), "2\n");
    }
}
