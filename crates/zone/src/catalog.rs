//! The set of zones served: which zone a query name belongs to.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use wire::name::{label_count, MAX_LABELS};

use crate::tree::Zone;

/// A configured zone: loaded, or refused with the reason.
#[derive(Clone, Debug)]
pub enum ZoneState {
    Ready(Arc<Zone>),
    /// The zone file was refused; queries get SERVFAIL.
    Broken(Arc<str>),
}

/// All zones, keyed by lowercase wire apex.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    zones: FxHashMap<Box<[u8]>, ZoneState>,
    /// Most labels of any apex: longer suffixes need no lookup.
    max_labels: usize,
    /// The zone, when there is exactly one.
    only: Option<(Box<[u8]>, ZoneState)>,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the zone at `apex` (lowercase wire form).
    pub fn insert(&mut self, apex: &[u8], state: ZoneState) {
        self.max_labels = self.max_labels.max(label_count(apex));
        self.zones.insert(apex.into(), state);
        self.only = match self.zones.len() {
            1 => self
                .zones
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone())),
            _ => None,
        };
    }

    /// The zone at exactly `apex`.
    pub fn get(&self, apex: &[u8]) -> Option<&ZoneState> {
        self.zones.get(apex)
    }

    /// All zones.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &ZoneState)> {
        self.zones.iter().map(|(k, v)| (&**k, v))
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The closest enclosing zone of `name` (lowercase wire form).
    ///
    /// With `parent_side`, a zone whose apex is `name` itself is passed
    /// over for its parent when we serve that too: DS records live on the
    /// parent side of a cut (RFC 4035 §3.1.4.1).
    pub fn find(&self, name: &[u8], parent_side: bool) -> Option<(&[u8], &ZoneState)> {
        // One zone (the common case): a suffix compare, no hashing. Both
        // names are lowercase: bytes compare as they are.
        if let Some((apex, state)) = &self.only {
            let start = name.len().checked_sub(apex.len())?;
            if name[start..] != **apex || !wire::name::starts_label(name, start) {
                return None;
            }
            return Some((&**apex, state));
        }
        let mut offsets = [0u8; MAX_LABELS];
        let labels = wire::name::label_offsets(name, &mut offsets);
        let first = labels.saturating_sub(self.max_labels);
        let mut fallback = None;
        let starts = offsets[..labels]
            .iter()
            .map(|&o| o as usize)
            .chain([name.len() - 1]);
        for (i, start) in starts.enumerate().skip(first) {
            let suffix = &name[start..];
            if let Some((apex, state)) = self.zones.get_key_value(suffix) {
                if parent_side && i == 0 && labels > 0 {
                    fallback = Some((&**apex, state));
                    continue;
                }
                return Some((apex, state));
            }
        }
        fallback
    }
}
