//! Loading one zone file: normalize, scan, check and build.

use std::path::Path;

use crate::source::{normalize_file, SourceError};
use crate::tree::Zone;

/// A zone loaded from its file, with the warnings its checks raised.
#[derive(Debug)]
pub struct Loaded {
    pub zone: Zone,
    pub warnings: Vec<String>,
}

/// Loads the zone `name` (presentation form, trailing dot optional, any
/// case) from the master file at `path`.
pub fn load_zone(name: &str, path: &Path) -> Result<Loaded, SourceError> {
    let apex = crate::parse_name(name).map_err(|message| SourceError {
        file: path.to_path_buf(),
        line: None,
        message: format!("bad zone name '{name}': {message}"),
    })?;
    let mut text = normalize_file(path, &wire::name::to_text(&apex))?;
    let records = crate::scan::scan(&mut text)?;
    let (zone, warnings) = crate::build::build(&apex, records, &text)?;
    Ok(Loaded { zone, warnings })
}

/// Loads a zone from bytes already in memory (tests and fuzzing); `path`
/// names it in errors and anchors `$INCLUDE`.
pub fn load_zone_bytes(name: &str, src: &[u8], path: &Path) -> Result<Loaded, SourceError> {
    let apex = crate::parse_name(name).map_err(|message| SourceError {
        file: path.to_path_buf(),
        line: None,
        message: format!("bad zone name '{name}': {message}"),
    })?;
    let mut text = crate::source::normalize(src, path, &wire::name::to_text(&apex))?;
    let records = crate::scan::scan(&mut text)?;
    let (zone, warnings) = crate::build::build(&apex, records, &text)?;
    Ok(Loaded { zone, warnings })
}
