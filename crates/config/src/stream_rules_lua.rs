//! Rules on what the transport says besides the DNS message, in
//! dnsdist's words: `SNIRule(name)` for DNS over TLS and HTTPS, and for
//! DNS over HTTPS `HTTPHeaderRule(name, regex)`, `HTTPPathRule(path)`,
//! `HTTPPathRegexRule(regex)` and `HTTPStatusAction(status, body
//! [, contentType [, options]])`.

use std::sync::Arc;

use mlua::{Lua, Table};
use shield::selector::Kind;
use shield::{Action, Selector};

use crate::fail;
use crate::shield_lua::{LuaAction, LuaSelector};

fn regex(lua: &Lua, func: &str, re: &str) -> mlua::Result<regex_lite::Regex> {
    regex_lite::Regex::new(re)
        .map_err(|e| fail(lua, format!("{func}: bad regular expression '{re}': {e}")))
}

/// Registers the functions.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let sel = |k: Kind| Ok(LuaSelector(Selector::new(k)));
    g.set(
        "SNIRule",
        lua.create_function(move |_, name: String| {
            sel(Kind::Sni(name.trim_end_matches('.').to_ascii_lowercase()))
        })?,
    )?;
    g.set(
        "HTTPHeaderRule",
        lua.create_function(move |lua, (name, re): (String, String)| {
            sel(Kind::HttpHeader(
                name.to_ascii_lowercase(),
                regex(lua, "HTTPHeaderRule", &re)?,
            ))
        })?,
    )?;
    g.set(
        "HTTPPathRule",
        lua.create_function(move |_, path: String| sel(Kind::HttpPath(path)))?,
    )?;
    g.set(
        "HTTPPathRegexRule",
        lua.create_function(move |lua, re: String| {
            sel(Kind::HttpPathRegex(regex(lua, "HTTPPathRegexRule", &re)?))
        })?,
    )?;
    g.set(
        "HTTPStatusAction",
        lua.create_function(
            |lua, (status, body, content_type, _opts): (u16, String, Option<String>, Option<Table>)| {
                if !(100..=599).contains(&status) {
                    return Err(fail(lua, format!("HTTPStatusAction: status {status}")));
                }
                Ok(LuaAction(Arc::new(Action::HttpStatus {
                    status,
                    body: body.into_bytes(),
                    content_type: content_type.unwrap_or_default(),
                })))
            },
        )?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_rules_and_action_load_and_describe_themselves() {
        let c = crate::load_str(
            r#"
            addAction(SNIRule("Powerdns.com."), PoolAction("sni"))
            addAction(HTTPHeaderRule("X-PowerDNS", "^[a]{5}$"), SpoofAction("2.3.4.5"))
            addAction(HTTPPathRule("/PowerDNS"), SpoofAction("3.4.5.6"))
            addAction(HTTPPathRegexRule("^/PowerDNS-[0-9]"), SpoofAction("6.7.8.9"))
            addAction("a.test.", HTTPStatusAction(307, "https://doh.powerdns.org"))
        "#,
            Path::new("/etc/rampart/rampart.conf"),
        )
        .unwrap();
        let d: Vec<String> = c
            .shield
            .rules
            .rules()
            .iter()
            .map(|r| format!("{} / {}", r.selector.describe(), r.action.describe()))
            .collect();
        assert_eq!(d[0], "TLS SNI == powerdns.com / to pool sni");
        assert_eq!(
            d[1],
            "HTTP header x-powerdns matches ^[a]{5}$ / spoof in 2.3.4.5"
        );
        assert!(d[4].ends_with("return an HTTP status of 307"), "{}", d[4]);
        let e = crate::load_str("\nHTTPPathRegexRule('(')", Path::new("/r.conf")).unwrap_err();
        assert!(
            e.to_string()
                .contains("/r.conf:2: HTTPPathRegexRule: bad regular expression"),
            "{e}"
        );
    }
}
