//! Names recently answered positively: what the random-subdomain guard
//! lets through while it limits the rest of a suffix.
//!
//! A fixed table of name hashes, written and read with atomics: bounded
//! memory, no lock, no allocation. A newer name can overwrite an older one
//! in the same slot; that costs a known name its free pass, never lets an
//! unknown one in (a hash must match in full).

use std::sync::atomic::{AtomicU64, Ordering};

/// Slots in the table (8 MiB).
const SLOTS: usize = 1 << 20;

/// The set of known names.
pub struct KnownNames {
    /// Made by [`KnownNames::enable`]: only a suffix guard reads the
    /// names, so without one there is no table (8 MiB) and nothing is
    /// recorded (one hash per answered query saved).
    slots: std::sync::OnceLock<Box<[AtomicU64]>>,
}

impl std::fmt::Debug for KnownNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KnownNames")
    }
}

impl Default for KnownNames {
    fn default() -> Self {
        KnownNames {
            slots: std::sync::OnceLock::new(),
        }
    }
}

fn hash(lname: &[u8]) -> u64 {
    // Never 0: 0 marks an empty slot.
    wire::hash::fnv1a(lname) | 1
}

impl KnownNames {
    /// Starts recording (a suffix guard was configured).
    pub fn enable(&self) {
        self.slots
            .get_or_init(|| (0..SLOTS).map(|_| AtomicU64::new(0)).collect());
    }

    /// Remembers `lname` (lowercase wire) as answered positively, when a
    /// suffix guard wants to know.
    #[inline]
    pub fn insert(&self, lname: &[u8]) {
        let Some(slots) = self.slots.get() else {
            return;
        };
        let h = hash(lname);
        slots[(h >> 32) as usize % SLOTS].store(h, Ordering::Relaxed);
    }

    /// Whether `lname` was answered positively lately.
    pub fn contains(&self, lname: &[u8]) -> bool {
        let Some(slots) = self.slots.get() else {
            return false;
        };
        let h = hash(lname);
        slots[(h >> 32) as usize % SLOTS].load(Ordering::Relaxed) == h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers() {
        let k = KnownNames::default();
        k.enable();
        assert!(!k.contains(b"\x03www\x07example\x00"));
        k.insert(b"\x03www\x07example\x00");
        assert!(k.contains(b"\x03www\x07example\x00"));
        assert!(!k.contains(b"\x03xyz\x07example\x00"));
    }
}
