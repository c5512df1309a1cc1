//! The console from the config's side: `controlSocket`, `setKey`,
//! `makeKey`, `setConsoleACL`/`addConsoleACL`/`showConsoleACL`; running a
//! console line the way dnsdist does (`return <line>`, then `<line>` if
//! that does not parse); and reading only the console settings from a
//! config for `rampart -c`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};
use shield::{Netmask, NetmaskGroup};

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
pub fn console_addr(s: &str) -> Result<SocketAddr, String> {
    crate::address::parse_addr_with_port(s, CONSOLE_PORT)
}

/// Registers the console settings.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>) -> mlua::Result<()> {
    let g = lua.globals();
    let st = state.clone();
    g.set(
        "controlSocket",
        lua.create_function(move |lua, addr: String| {
            st.borrow_mut().console.addr = Some(console_addr(&addr).map_err(|e| fail(lua, e))?);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "setKey",
        lua.create_function(move |lua, key: String| {
            control::parse_key(&key).map_err(|e| fail(lua, e))?;
            st.borrow_mut().console.key = Some(key);
            Ok(())
        })?,
    )?;
    g.set(
        "makeKey",
        lua.create_function(|lua, ()| {
            let key =
                control::make_key().map_err(|e| fail(lua, format!("cannot make a key: {e}")))?;
            output::emit(&format!("setKey(\"{key}\")\n"));
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "setConsoleMaximumConcurrentConnections",
        lua.create_function(move |_, n: u32| {
            // 0 is dnsdist's "no limit".
            st.borrow_mut().console.max_connections = if n == 0 { usize::MAX } else { n as usize };
            Ok(())
        })?,
    )?;
    // Starts with "dnsdist " as dnsdist's does (scripts match on it),
    // and says what is really answering.
    g.set(
        "showVersion",
        lua.create_function(|_, ()| {
            output::emit(&format!(
                "dnsdist dialect 1.7, rampart {}\n",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "setConsoleACL",
        lua.create_function(move |lua, masks: Value| {
            let list = crate::lua_util::strings(lua, masks, "netmasks")?;
            let mut acl = NetmaskGroup::new();
            for m in list {
                acl.add(Netmask::parse(&m).map_err(|e| fail(lua, e))?);
            }
            st.borrow_mut().console.acl = acl;
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "addConsoleACL",
        lua.create_function(move |lua, mask: String| {
            st.borrow_mut()
                .console
                .acl
                .add(Netmask::parse(&mask).map_err(|e| fail(lua, e))?);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        "showConsoleACL",
        lua.create_function(move |_, ()| {
            for m in st.borrow().console.acl.masks() {
                output::emit(&format!("{m}\n"));
            }
            Ok(())
        })?,
    )?;
    // Lua's own print goes where the other output goes.
    g.set(
        "print",
        lua.create_function(|_, args: MultiValue| {
            let parts: Vec<String> = args.iter().map(display).collect();
            output::emit(&format!("{}\n", parts.join("\t")));
            Ok(())
        })?,
    )?;
    Ok(())
}

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
    let src = std::fs::read_to_string(path)
        .map_err(|e| crate::ConfigError(format!("{}: cannot read config: {e}", path.display())))?;
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
        register(&lua, &state)
    };
    setup().map_err(|e| crate::ConfigError(format!("{}: {e}", path.display())))?;
    lua.load(&src)
        .set_name(format!("@{}", path.display()))
        .exec()
        .map_err(|e| crate::ConfigError(crate::lua_message(&e)))?;
    let settings = state.borrow().console.clone();
    Ok(settings)
}

#[cfg(test)]
mod tests {
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
