//! Joining the replication service to the served state and the console:
//! changes it makes are published into the snapshot the workers read, and
//! the console's zone functions (registered by `config`) reach it; this
//! module supplies how `reloadZone(name)` reads a zone again.

use std::sync::Arc;

use config::{Config, ZoneDecl};
use zone::named_conf::ZoneKind;
use zone::ZoneState;

/// Puts a zone's new version into the served snapshot.
pub struct Publisher {
    pub shared: net::SharedSnapshot,
}

impl xfr::Publish for Publisher {
    fn publish(&self, apex: &[u8], state: ZoneState) {
        publish(&self.shared, &[(apex.into(), state)]);
    }
}

/// Replaces the given zones in the served snapshot, leaving everything
/// else as it is (compare-and-swap: a concurrent change is not lost).
fn publish(shared: &net::SharedSnapshot, zones: &[(Box<[u8]>, ZoneState)]) {
    shared.rcu(|cur| with_zones(cur, zones));
}

/// `cur` with `zones` put in its catalog.
fn with_zones(cur: &net::State, zones: &[(Box<[u8]>, ZoneState)]) -> net::State {
    let mut snap = (*cur.zones).clone();
    for (apex, state) in zones {
        snap.catalog.insert(apex, state.clone());
    }
    net::State {
        zones: Arc::new(snap),
        shield: cur.shield.clone(),
        runtime: cur.runtime.clone(),
        upstream: cur.upstream.clone(),
        rings: cur.rings.clone(),
        xfr: cur.xfr.clone(),
    }
}

/// After a reload: the service's versions win over what the reload read
/// (an update committed while it was building is served, not lost). The
/// versions are read inside the swap, so a commit racing with it is
/// either seen here or published after it.
pub fn republish(service: &xfr::Service, shared: &net::SharedSnapshot) {
    shared.rcu(|cur| with_zones(cur, &service.states()));
}

/// The apexes the configuration declares.
pub fn declared(c: &Config) -> Vec<Box<[u8]>> {
    c.zones
        .iter()
        .filter_map(|d| zone::parse_name(&d.name).ok())
        .map(Vec::into_boxed_slice)
        .collect()
}

/// Gives the console the zone functions (`config` registers them; the
/// binary supplies how `reloadZone` reads a zone again).
pub fn attach_console(serving: &config::Serving, service: &Arc<xfr::Service>, c: &Config) {
    let (s, decls) = (service.clone(), c.zones.clone());
    if let Err(e) = serving.attach_zones(service, move |name| reload_zone(&s, &decls, name)) {
        log::error!("console zone functions unavailable: {e}");
    }
}

/// `reloadZone(name)`: reads one primary zone's file again (the change
/// becomes a journal block and an IXFR); a secondary refreshes instead.
fn reload_zone(service: &Arc<xfr::Service>, decls: &[ZoneDecl], name: &str) -> String {
    let Ok(apex) = zone::parse_name(name) else {
        return format!("bad zone name '{name}'");
    };
    let Some(decl) = decls
        .iter()
        .rev()
        .find(|d| zone::parse_name(&d.name).is_ok_and(|a| a == apex))
    else {
        return format!("zone {name} is not configured");
    };
    let info = xfr::ZoneInfo {
        name: decl.name.clone(),
        apex: apex.clone().into_boxed_slice(),
        file: decl.file.clone(),
    };
    if decl.kind == ZoneKind::Secondary {
        return match service.refresh_now(&apex) {
            true => format!("zone {name}: refreshing from its primaries"),
            false => format!("zone {name}: not running as a secondary"),
        };
    }
    let mut report = crate::snapshot::Report::default();
    let loaded = crate::snapshot::load(decl, &info, &mut report);
    for w in &report.warnings {
        log::warn!("{w}");
    }
    let loaded = match loaded {
        Ok(zone) => zone,
        Err(e) => {
            let msg = format!("zone {name} not reloaded, still serving the previous version: {e}");
            log::error!("{msg}");
            return msg;
        }
    };
    match service.primary_loaded(&info, loaded) {
        Ok(z) => {
            // A zone the service keeps was published by its commit; a
            // plain one only now.
            service.publish(&apex, ZoneState::Ready(z.clone()));
            let msg = format!("zone {name} reloaded: serial {}", z.serial);
            log::info!("{msg}");
            msg
        }
        Err(e) => {
            log::error!("{e}");
            e
        }
    }
}
