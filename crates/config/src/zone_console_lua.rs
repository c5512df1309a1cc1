//! The console's zone functions: `showZones()`, `flushZones()`,
//! `reloadZone(name)`, `dnssecStatus(zone)`, `dnssecSign(zone[, all])` and
//! `dnssecKSKSubmitted(zone)`, over the replication service. Registered
//! in the served config's Lua state once the service runs; how a zone is
//! read again (`reloadZone`) is the binary's, and given as a function.

use std::sync::Arc;

use mlua::Lua;

/// Registers the zone functions in `lua`; `reload` reads the zone named
/// (as the operator wrote it) again and says what happened.
pub(crate) fn register(
    lua: &Lua,
    service: &Arc<xfr::Service>,
    reload: impl Fn(&str) -> String + 'static,
) -> mlua::Result<()> {
    let g = lua.globals();
    let s = service.clone();
    g.set(
        "showZones",
        lua.create_function(move |_, ()| Ok(s.show_zones()))?,
    )?;
    let s = service.clone();
    g.set(
        "flushZones",
        lua.create_function(move |_, ()| Ok(s.flush(true).join("\n")))?,
    )?;
    g.set(
        "reloadZone",
        lua.create_function(move |_, name: String| Ok(reload(&name)))?,
    )?;
    // The DNSSEC functions take a zone name; a bad one is said, not raised.
    let by_zone = |f: fn(&xfr::Service, &[u8]) -> String| {
        let s = service.clone();
        lua.create_function(move |_, name: String| {
            Ok(match zone::parse_name(&name) {
                Ok(apex) => f(&s, &apex),
                Err(e) => format!("bad zone name '{name}': {e}"),
            })
        })
    };
    g.set("dnssecStatus", by_zone(xfr::Service::dnssec_status)?)?;
    g.set(
        "dnssecKSKSubmitted",
        by_zone(xfr::Service::dnssec_ksk_submitted)?,
    )?;
    let s = service.clone();
    g.set(
        "dnssecSign",
        lua.create_function(move |_, (name, all): (String, Option<bool>)| {
            Ok(match zone::parse_name(&name) {
                Ok(apex) => s.dnssec_sign(&apex, all.unwrap_or(false)),
                Err(e) => format!("bad zone name '{name}': {e}"),
            })
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[test]
    fn zone_functions_and_maintenance_reach_the_served_state() {
        let dir = std::env::temp_dir().join(format!("rampart-zone-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rampart.conf");
        std::fs::write(
            &path,
            "runs = 0\nfunction maintenance() runs = runs + 1 end\n",
        )
        .unwrap();
        let runtime = Arc::new(shield::Runtime::default());
        let (_, serving) = crate::load_for_serving(&path, &runtime, None).unwrap();
        serving
            .attach_zones(&xfr::Service::new(), |name| format!("reloaded {name}"))
            .unwrap();
        // reloadZone goes to the binary's function, with the name given.
        assert_eq!(
            serving.console("reloadZone('example.org')"),
            "reloaded example.org\n"
        );
        // A bad zone name is said, not raised.
        let bad = serving.console("dnssecStatus('a..b')");
        assert!(bad.starts_with("bad zone name 'a..b'"), "{bad}");
        let bad = serving.console("dnssecSign('a..b', true)");
        assert!(bad.starts_with("bad zone name 'a..b'"), "{bad}");
        // No zones: the service says so rather than failing.
        assert!(!serving.console("showZones()").contains("error"));
        assert!(!serving
            .console("dnssecKSKSubmitted('example.org')")
            .is_empty());
        serving.maintenance().unwrap();
        serving.maintenance().unwrap();
        assert_eq!(serving.console("runs"), "2\n");
        std::fs::remove_dir_all(&dir).ok();
    }
}
