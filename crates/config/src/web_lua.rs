//! The webserver from the config's side, in dnsdist's words:
//! `webserver(addr [, password, apiKey, customHeaders, acl])`,
//! `setWebserverConfig{…}`, `hashPassword(pw [, workFactor])`,
//! `setAPIWritable(on [, dir])` and `registerWebHandler(path, f)`.
//! The HTTP side is the `web` crate; this holds what it serves with.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{Function, Lua, Table, Value};
use shield::{Netmask, NetmaskGroup};

use crate::credential::{self, Credential};
use crate::lua_util::{self, option_bool, option_u32, setter, Env, Global};
use crate::{fail, Config};

/// dnsdist's webserver port when an address names none.
pub const WEB_PORT: u16 = 8083;
/// Where the Lua functions of `registerWebHandler` are kept, by path.
const HANDLERS: &str = "rampart.web_handlers";

/// The webserver's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WebConfig {
    pub addr: Option<SocketAddr>,
    /// Basic authentication (any user name).
    pub password: Option<Credential>,
    /// The `X-API-Key` header.
    pub api_key: Option<Credential>,
    pub acl: NetmaskGroup,
    /// Header name → value; an empty value removes a default header.
    pub custom_headers: BTreeMap<String, String>,
    pub stats_require_auth: bool,
    pub dashboard_require_auth: bool,
    pub api_require_auth: bool,
    pub hash_plaintext: bool,
    pub max_connections: usize,
    /// PUT accepted on the config endpoints; where `acl.conf` is written.
    pub api_writable: bool,
    pub api_config_dir: Option<PathBuf>,
    /// Paths answered by `registerWebHandler` functions.
    pub handlers: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        let mut acl = NetmaskGroup::new();
        for m in ["127.0.0.1", "::1"] {
            if let Ok(n) = Netmask::parse(m) {
                acl.add(n);
            }
        }
        WebConfig {
            addr: None,
            password: None,
            api_key: None,
            acl,
            custom_headers: BTreeMap::new(),
            stats_require_auth: true,
            dashboard_require_auth: true,
            api_require_auth: true,
            hash_plaintext: false,
            max_connections: 100,
            api_writable: false,
            api_config_dir: None,
            handlers: Vec::new(),
        }
    }
}

/// A request handed to a `registerWebHandler` function.
#[derive(Clone, Debug, Default)]
pub struct WebRequest {
    pub path: String,
    pub method: String,
    /// 10 or 11, as dnsdist gives it.
    pub version: u32,
    pub query: Vec<(String, String)>,
    /// Names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the function answered.
#[derive(Clone, Debug, Default)]
pub struct WebResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Registers the webserver functions.
pub fn register(lua: &Lua, state: &Rc<RefCell<Config>>, base: &Path) -> mlua::Result<()> {
    lua.set_named_registry_value(HANDLERS, lua.create_table()?)?;
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

/// The webserver, its settings and its Lua handlers.
const FUNCTIONS: &[Global] = &[
    ("webserver", |lua, env| setter(lua, env, webserver)),
    ("setWebserverConfig", |lua, env| {
        let st = env.state.clone();
        lua.create_function(move |lua, opts: Table| set_config(lua, &st, opts))
    }),
    ("hashPassword", |lua, _| {
        lua.create_function(|lua, (pw, work): (String, Option<u64>)| {
            let c = credential::hash(&pw, work.unwrap_or(credential::DEFAULT_WORK_FACTOR))
                .map_err(|e| fail(lua, format!("hashPassword: {e}")))?;
            Ok(c.text())
        })
    }),
    ("setAPIWritable", |lua, env| {
        setter(lua, env, |_, c, (on, dir): (bool, Option<String>)| {
            c.web.api_writable = on;
            c.web.api_config_dir = dir.map(PathBuf::from);
            Ok(())
        })
    }),
    ("registerWebHandler", |lua, env| {
        setter(lua, env, |lua, c, (path, f): (String, Function)| {
            if !path.starts_with('/') {
                return Err(fail(
                    lua,
                    format!("registerWebHandler: path '{path}' must start with /"),
                ));
            }
            let handlers: Table = lua.named_registry_value(HANDLERS)?;
            handlers.set(path.as_str(), f)?;
            if !c.web.handlers.contains(&path) {
                c.web.handlers.push(path);
            }
            Ok(())
        })
    }),
];

/// `webserver(addr [, password, apiKey, customHeaders, acl])`'s arguments.
type WebserverArgs = (
    String,
    Option<String>,
    Option<String>,
    Option<Table>,
    Option<String>,
);

/// `webserver(…)`: the address, and the older positional form of
/// `setWebserverConfig`'s options.
fn webserver(
    lua: &Lua,
    c: &mut Config,
    (addr, password, api_key, headers, acl): WebserverArgs,
) -> mlua::Result<()> {
    let addr = crate::address::parse_addr_with_port(&addr, WEB_PORT)
        .map_err(|e| fail(lua, format!("webserver: {e}")))?;
    c.web.addr = Some(addr);
    let hash = c.web.hash_plaintext;
    if let Some(p) = password {
        c.web.password = credential(lua, "password", &p, hash)?;
    }
    if let Some(k) = api_key {
        c.web.api_key = credential(lua, "apiKey", &k, hash)?;
    }
    if let Some(h) = headers {
        c.web.custom_headers = custom_headers(lua, h)?;
    }
    if let Some(a) = acl {
        c.web.acl = acl_list(lua, &a)?;
    }
    Ok(())
}

fn set_config(lua: &Lua, st: &Rc<RefCell<Config>>, opts: Table) -> mlua::Result<()> {
    const F: &str = "setWebserverConfig";
    // hashPlaintextCredentials applies to the credentials of the same
    // call, whatever the order of the table.
    let hash = match opts.get::<Value>("hashPlaintextCredentials")? {
        Value::Nil => st.borrow().web.hash_plaintext,
        v => option_bool(lua, F, "hashPlaintextCredentials", &v)?,
    };
    let mut web = st.borrow().web.clone();
    web.hash_plaintext = hash;
    let mut unknown = Vec::new();
    for pair in opts.pairs::<String, Value>() {
        let (k, v) = pair?;
        match k.as_str() {
            "password" => web.password = credential(lua, "password", &string(lua, &k, v)?, hash)?,
            "apiKey" => web.api_key = credential(lua, "apiKey", &string(lua, &k, v)?, hash)?,
            "acl" => web.acl = acl_list(lua, &string(lua, &k, v)?)?,
            "customHeaders" => match v {
                Value::Table(t) => web.custom_headers = custom_headers(lua, t)?,
                _ => return Err(fail(lua, format!("{F}: customHeaders must be a table"))),
            },
            "statsRequireAuthentication" => web.stats_require_auth = option_bool(lua, F, &k, &v)?,
            "dashboardRequiresAuthentication" => {
                web.dashboard_require_auth = option_bool(lua, F, &k, &v)?
            }
            "apiRequiresAuthentication" => web.api_require_auth = option_bool(lua, F, &k, &v)?,
            "hashPlaintextCredentials" => {}
            "maxConcurrentConnections" => {
                web.max_connections = option_u32(lua, F, &k, &v)?.max(1) as usize
            }
            _ => unknown.push(k),
        }
    }
    let mut c = st.borrow_mut();
    c.web = web;
    for k in unknown {
        c.notes.push(format!(
            "{}: {F}: unknown option '{k}' ignored",
            crate::caller(lua)
        ));
    }
    Ok(())
}

fn string(lua: &Lua, key: &str, v: Value) -> mlua::Result<String> {
    match v {
        Value::String(s) => Ok(s.to_str()?.to_string()),
        other => Err(fail(
            lua,
            format!(
                "setWebserverConfig: {key} must be a string, got {}",
                other.type_name()
            ),
        )),
    }
}

/// An empty password or key turns that way of authenticating off.
fn credential(lua: &Lua, what: &str, s: &str, hash: bool) -> mlua::Result<Option<Credential>> {
    if s.is_empty() {
        return Ok(None);
    }
    Credential::parse(s, hash)
        .map(Some)
        .map_err(|e| fail(lua, format!("webserver {what}: {e}")))
}

/// dnsdist's webserver ACL: netmasks separated by commas.
fn acl_list(lua: &Lua, s: &str) -> mlua::Result<NetmaskGroup> {
    let mut g = NetmaskGroup::new();
    for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        g.add(Netmask::parse(m).map_err(|e| fail(lua, format!("webserver acl: {e}")))?);
    }
    Ok(g)
}

fn custom_headers(lua: &Lua, t: Table) -> mlua::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in t.pairs::<String, String>() {
        let (k, v) = pair?;
        crate::lua_util::check_header(lua, "webserver customHeaders", &k, &v)?;
        out.insert(k.to_ascii_lowercase(), v);
    }
    Ok(out)
}

/// Runs the `registerWebHandler` function for `req.path`, if any.
pub fn run_handler(lua: &Lua, req: &WebRequest) -> Option<Result<WebResponse, crate::ConfigError>> {
    let handlers: Table = lua.named_registry_value(HANDLERS).ok()?;
    let f: Function = handlers.get(req.path.as_str()).ok()?;
    Some(
        call_handler(lua, &f, req).map_err(|e| crate::ConfigError::Lua {
            message: crate::lua_message(&e),
        }),
    )
}

fn call_handler(lua: &Lua, f: &Function, req: &WebRequest) -> mlua::Result<WebResponse> {
    let pairs = |list: &[(String, String)]| -> mlua::Result<Table> {
        let t = lua.create_table()?;
        for (k, v) in list {
            t.set(k.as_str(), v.as_str())?;
        }
        Ok(t)
    };
    let r = lua.create_table()?;
    r.set("path", req.path.as_str())?;
    r.set("method", req.method.as_str())?;
    r.set("version", req.version)?;
    r.set("getvars", pairs(&req.query)?)?;
    r.set("headers", pairs(&req.headers)?)?;
    r.set("body", lua.create_string(&req.body)?)?;
    // postvars: the form fields of a urlencoded body.
    let post = if req
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/x-www-form-urlencoded"))
    {
        parse_form(&String::from_utf8_lossy(&req.body))
    } else {
        Vec::new()
    };
    r.set("postvars", pairs(&post)?)?;
    let resp = lua.create_table()?;
    resp.set("status", 200)?;
    resp.set("body", "")?;
    resp.set("headers", lua.create_table()?)?;
    crate::lua_util::with_deadline(lua, std::time::Duration::from_secs(1), || {
        f.call::<()>((r, resp.clone()))
    })?;
    let status: u16 = resp.get("status")?;
    let body: mlua::LuaString = resp.get("body")?;
    let mut headers = Vec::new();
    if let Value::Table(h) = resp.get::<Value>("headers")? {
        for pair in h.pairs::<String, String>() {
            let (k, v) = pair?;
            if v.bytes().any(|b| b == b'\r' || b == b'\n') || k.contains([':', '\r', '\n']) {
                return Err(mlua::Error::RuntimeError(format!(
                    "bad response header '{k}'"
                )));
            }
            headers.push((k, v));
        }
    }
    Ok(WebResponse {
        status,
        body: body.as_bytes().to_vec(),
        headers,
    })
}

/// `a=1&b=x%20y` as pairs, percent- and plus-decoded.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%')
            .then(|| Some(hex(*b.get(i + 1)?)? << 4 | hex(*b.get(i + 2)?)?))
            .flatten();
        match (b[i], escaped) {
            (_, Some(v)) => {
                out.push(v);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (c, None) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(src: &str) -> Result<Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    /// The webserver settings, whether the password and key are "pw"
    /// and "key", and what was printed.
    fn web(c: &Config, printed: &str) -> String {
        let is = |cred: &Option<Credential>, s: &str| cred.as_ref().map(|p| p.matches(s));
        format!(
            "{:?} password is pw: {:?} key is key: {:?} {printed}",
            c.web,
            is(&c.web.password, "pw"),
            is(&c.web.api_key, "key")
        )
    }

    #[test]
    fn every_web_function_takes_effect() {
        use crate::lua_util::table_test::{check_cases, Case};
        let cases: &[Case] = &[
            (
                "webserver",
                "webserver('192.0.2.1', 'pw', 'key', {['X-A']='b'}, '10.0.0.0/8')",
                web,
                &[
                    "addr: Some(192.0.2.1:8083)",
                    "password is pw: Some(true) key is key: Some(true)",
                    "custom_headers: {\"x-a\": \"b\"}",
                    "addr: 10.0.0.0, prefix: 8",
                ],
            ),
            (
                "setWebserverConfig",
                "setWebserverConfig({password='pw', statsRequireAuthentication=false, maxConcurrentConnections=7})",
                web,
                &[
                    "stats_require_auth: false",
                    "max_connections: 7",
                    "password is pw: Some(true)",
                ],
            ),
            (
                "hashPassword",
                "setWebserverConfig({password=hashPassword('pw', 16)}) print(hashPassword('pw', 16))",
                web,
                &["password is pw: Some(true)", "$scrypt$ln=4,p=1,r=8$"],
            ),
            (
                "setAPIWritable",
                "setAPIWritable(true, '/var/lib/rampart')",
                web,
                &["api_writable: true, api_config_dir: Some(\"/var/lib/rampart\")"],
            ),
            (
                "registerWebHandler",
                "registerWebHandler('/hello', function(req, resp) resp.body = 'hi' end)",
                web,
                &["handlers: [\"/hello\"]"],
            ),
        ];
        check_cases(FUNCTIONS.iter().map(|(n, _)| *n), cases);
    }

    #[test]
    fn webserver_and_its_options_take_effect() {
        let c = load(
            r#"
            webserver("127.0.0.1:8083")
            setWebserverConfig({password="secret", apiKey="$scrypt$ln=4,p=1,r=8$UvvQW19ZLC5rFxjRtAPKLA==$PGMUej0YiuyQ5Xey7NW7xIk8UHarTmIiTcK48qa/SyQ=",
              acl="192.0.2.0/24, 127.0.0.1", customHeaders={["X-Frame-Options"]="", ["X-Custom"]="custom"},
              statsRequireAuthentication=false, dashboardRequiresAuthentication=false,
              apiRequiresAuthentication=false, maxConcurrentConnections=2})
            setAPIWritable(true, "/tmp/api")
            registerWebHandler("/foo", function(req, resp) resp.body = req.getvars["x"] end)
        "#,
        )
        .unwrap();
        let w = &c.web;
        assert_eq!(w.addr, Some("127.0.0.1:8083".parse().unwrap()));
        assert!(w.password.as_ref().is_some_and(|p| p.matches("secret")));
        assert!(w.api_key.as_ref().is_some_and(|p| p.matches("secret")));
        assert!(w.acl.contains("192.0.2.9".parse().unwrap()));
        assert!(!w.acl.contains("::1".parse().unwrap()));
        assert_eq!(
            w.custom_headers.get("x-frame-options").map(String::as_str),
            Some("")
        );
        assert_eq!(
            w.custom_headers.get("x-custom").map(String::as_str),
            Some("custom")
        );
        assert!(!w.stats_require_auth && !w.dashboard_require_auth && !w.api_require_auth);
        assert_eq!(w.max_connections, 2);
        assert!(w.api_writable);
        assert_eq!(w.api_config_dir, Some(PathBuf::from("/tmp/api")));
        assert_eq!(w.handlers, vec!["/foo".to_string()]);
    }

    #[test]
    fn the_older_positional_form_and_plaintext_hashing() {
        let c = load(
            r#"
            setWebserverConfig({hashPlaintextCredentials=true})
            webserver("[::1]", "pw", "key", {["X-A"]="b"}, "::1/128")
        "#,
        )
        .unwrap();
        let w = &c.web;
        assert_eq!(w.addr, Some("[::1]:8083".parse().unwrap()));
        assert!(matches!(w.password, Some(Credential::Scrypt { .. })));
        assert!(w.password.as_ref().is_some_and(|p| p.matches("pw")));
        assert!(w.api_key.as_ref().is_some_and(|p| p.matches("key")));
        assert_eq!(w.custom_headers.get("x-a").map(String::as_str), Some("b"));
        assert!(w.acl.contains("::1".parse().unwrap()));
    }

    #[test]
    fn hash_password_prints_a_hash_setwebserverconfig_takes() {
        let c = load(
            r#"
            local h = hashPassword("pw", 16)
            assert(h:sub(1, 21) == "$scrypt$ln=4,p=1,r=8$", h)
            setWebserverConfig({password=h, apiKey=""})
        "#,
        )
        .unwrap();
        assert!(c.web.password.as_ref().is_some_and(|p| p.matches("pw")));
        assert!(c.web.api_key.is_none());
    }

    #[test]
    fn bad_values_name_the_line_and_option() {
        for (src, want) in [
            ("\nwebserver('nowhere:x')", "rampart.conf:2: webserver"),
            (
                "\n\nsetWebserverConfig({acl='10.0.0.0/99'})",
                "rampart.conf:3: webserver acl",
            ),
            (
                "\nsetWebserverConfig({password='$scrypt$ln=1'})",
                "rampart.conf:2: webserver password",
            ),
            (
                "\nsetWebserverConfig({maxConcurrentConnections='x'})",
                "maxConcurrentConnections",
            ),
            (
                "\nhashPassword('x', 1000)",
                "rampart.conf:2: hashPassword: work factor",
            ),
            (
                "\nsetWebserverConfig({customHeaders={['A\\r\\nB']='x'}})",
                "bad header",
            ),
            ("\nregisterWebHandler('foo', print)", "must start with /"),
        ] {
            let e = load(src).unwrap_err();
            assert!(e.to_string().contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn web_handlers_get_the_request_and_fill_the_response() {
        let src = r#"
            registerWebHandler('/foo', function(req, resp)
              if req.method ~= 'GET' or req.version ~= 11 or req.getvars['p'] ~= '4 2'
                 or req.headers['x-h'] ~= 'v' then
                resp.status = 500
                return
              end
              resp.body = 'It works!'
              resp.headers = { ['Foo'] = 'Bar' }
            end)
        "#;
        let path = Path::new("/etc/rampart/rampart.conf");
        let (_, lua, _) = crate::load_with_runtime(
            src,
            path,
            &std::sync::Arc::new(shield::Runtime::default()),
            None,
            shield::querylog::OpenMode::Check,
        )
        .unwrap();
        let req = WebRequest {
            path: "/foo".into(),
            method: "GET".into(),
            version: 11,
            query: parse_form("p=4+2"),
            headers: vec![("x-h".into(), "v".into())],
            body: Vec::new(),
        };
        let r = run_handler(&lua, &req).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"It works!"[..]));
        assert_eq!(r.headers, vec![("Foo".to_string(), "Bar".to_string())]);
        let other = WebRequest {
            method: "POST".into(),
            ..req.clone()
        };
        assert_eq!(run_handler(&lua, &other).unwrap().unwrap().status, 500);
        let none = WebRequest {
            path: "/bar".into(),
            ..req
        };
        assert!(run_handler(&lua, &none).is_none());
    }

    #[test]
    fn forms_decode() {
        assert_eq!(
            parse_form("a=1&b=x%20y+z&c&d=%zz"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz".into())
            ]
        );
    }
}
