//! Building the served snapshot from a config.
//!
//! Each zone loads on its own: one refused file costs only that zone. On a
//! reload, a zone that fails keeps the version the previous snapshot held,
//! so a bad edit never takes down a zone that was being served; only a
//! zone that never loaded answers SERVFAIL.
//!
//! When serving, zones go through the replication service: a primary's
//! file becomes a change in its journal (with the serial bumped when the
//! operator forgot), and a secondary is served from what it transferred.

use std::sync::Arc;

use config::{Config, ZoneDecl};
use zone::named_conf::ZoneKind;
use zone::{Catalog, Snapshot, ZoneState};

/// What happened while building, for the log and for `--check-config`.
#[derive(Default)]
pub struct Report {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub loaded: Vec<String>,
}

/// Builds a snapshot for `config`, reusing zones of `previous` that fail;
/// with `service`, zones are journaled and secondaries followed.
pub fn build(
    config: &Config,
    previous: Option<&Snapshot>,
    service: Option<&Arc<xfr::Service>>,
) -> (Snapshot, Report) {
    let mut report = Report::default();
    let mut catalog = Catalog::new();
    let mut seen: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    for decl in &config.zones {
        let Ok(apex) = zone::parse_name(&decl.name) else {
            // The config layer validated names already.
            continue;
        };
        if !seen.insert(apex.clone()) {
            report.warnings.push(format!(
                "{}: zone {} declared again; the later declaration wins",
                decl.source, decl.name
            ));
        }
        let info = xfr::ZoneInfo {
            name: decl.name.clone(),
            apex: apex.clone().into_boxed_slice(),
            file: decl
                .file
                .clone()
                .or_else(|| secondary_file(config, decl, &apex)),
        };
        if let (Some(service), ZoneKind::Secondary) = (service, decl.kind) {
            let state = service.secondary(&info);
            report.loaded.push(format!(
                "secondary zone {} from {}",
                decl.name,
                config
                    .replication
                    .zone(&apex)
                    .primaries
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            catalog.insert(&apex, state);
            continue;
        }
        if decl.kind == ZoneKind::Secondary && !info.file.as_ref().is_some_and(|f| f.exists()) {
            // Checking a config: a secondary without a saved copy yet is
            // normal (it is transferred when serving), not an error.
            report.warnings.push(format!(
                "{}: secondary zone {} has no saved copy yet; it is transferred when serving",
                decl.source, decl.name
            ));
            catalog.insert(&apex, ZoneState::Broken("not transferred yet".into()));
            continue;
        }
        let loaded = load(decl, &info, &mut report).and_then(|zone| match service {
            Some(s) => s.primary_loaded(&info, zone).map(ZoneState::Ready),
            None => Ok(ZoneState::Ready(Arc::new(zone))),
        });
        let state = match loaded {
            Ok(state) => state,
            Err(reason) => {
                let old = previous
                    .and_then(|p| p.catalog.get(&apex))
                    .filter(|s| matches!(s, ZoneState::Ready(_)));
                match old {
                    Some(old) => {
                        report.errors.push(format!(
                            "{reason} (zone {} keeps its previous version)",
                            decl.name
                        ));
                        old.clone()
                    }
                    None => {
                        report
                            .errors
                            .push(format!("{reason} (zone {} answers SERVFAIL)", decl.name));
                        ZoneState::Broken(reason.into())
                    }
                }
            }
        };
        catalog.insert(&apex, state);
    }
    for apex in config.replication.zones.keys() {
        if !seen.contains(&apex[..]) {
            report.warnings.push(format!(
                "replication settings given for zone {}, which is not served (no addZone, \
                 addSecondaryZone or named.conf zone)",
                wire::name::to_text(apex)
            ));
        }
    }
    let snap = Snapshot {
        catalog,
        version: config.version.clone(),
        identity: config.identity.clone(),
        max_udp_payload: config.max_udp_payload,
    };
    (snap, report)
}

/// Where a secondary declared without a file keeps its copy: the
/// journal directory, else beside the config.
fn secondary_file(config: &Config, decl: &ZoneDecl, apex: &[u8]) -> Option<std::path::PathBuf> {
    if decl.kind != ZoneKind::Secondary {
        return None;
    }
    let dir = match &config.replication.journal_dir {
        Some(d) => d.clone(),
        None => config
            .path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
    };
    // Named as its journal is (escaped, `root` for the root zone).
    Some(xfr::journal::path_for(&dir, apex).with_extension("zone"))
}

/// Loads one zone's file, a loader bug contained (used by SIGHUP and by
/// the console's `reloadZone`).
pub fn load(
    decl: &ZoneDecl,
    info: &xfr::ZoneInfo,
    report: &mut Report,
) -> Result<zone::Zone, String> {
    let Some(file) = &info.file else {
        return Err(format!("{}: zone {} has no file", decl.source, decl.name));
    };
    // A bug in the loader must cost this zone, not the server (a reload
    // runs on the main thread).
    let loaded = std::panic::catch_unwind(|| zone::load_zone(&decl.name, file))
        .map_err(|_| {
            format!(
                "{}: loading zone {} from {} failed with an internal error (a bug: please report it)",
                decl.source,
                decl.name,
                file.display()
            )
        })?
        .map_err(|e| e.to_string())?;
    report.warnings.extend(loaded.warnings);
    report.loaded.push(format!(
        "zone {} loaded from {}: serial {}, {} records",
        decl.name,
        file.display(),
        loaded.zone.serial,
        loaded.zone.records
    ));
    Ok(loaded.zone)
}
