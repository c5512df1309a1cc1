//! Sets of domain names matched by suffix (dnsdist's SuffixMatchNode,
//! `QNameSuffixRule`, `addDomainBlock`) or exactly (`QNameRule`).
//!
//! Names are kept in lowercase wire form in a hash set; a query name is
//! matched by looking up each of its suffixes on label boundaries, so a
//! million blocked domains cost one hash lookup per label of the query,
//! not a scan.

use rustc_hash::FxHashSet;
use wire::name::{label_offsets, MAX_LABELS};

use crate::ShieldError;

/// Names, matched at or below (suffix) or exactly.
#[derive(Clone, Debug, Default)]
pub struct NameSet {
    names: FxHashSet<Box<[u8]>>,
    /// Most labels of any member: longer suffixes need no lookup.
    max_labels: usize,
    /// Presentation forms, in insertion order, for display.
    shown: Vec<String>,
    /// The members while there are at most FEW: comparing the name's tail
    /// with each is cheaper than hashing every suffix, and one or two
    /// names per rule is what configs hold (25 such rules were a tenth of
    /// a query's cost).
    few: Vec<Box<[u8]>>,
}

/// Up to this many members, lookups compare tails instead of hashing.
const FEW: usize = 4;

impl NameSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every member of `other` (the rule chain merges sets).
    pub fn extend_from(&mut self, other: &NameSet) {
        for wire in &other.names {
            self.add_wire(wire.to_vec());
        }
    }

    /// Adds a name in presentation form (trailing dot optional).
    pub fn add(&mut self, text: &str) -> Result<(), ShieldError> {
        let wire = parse_name(text)?;
        if self.add_wire(wire) && self.shown.len() < 16 {
            let mut t = text.trim().to_ascii_lowercase();
            if !t.ends_with('.') {
                t.push('.');
            }
            self.shown.push(t);
        }
        Ok(())
    }

    /// Adds a lowercase wire name; whether it was new.
    fn add_wire(&mut self, wire: Vec<u8>) -> bool {
        self.max_labels = self.max_labels.max(wire::name::label_count(&wire));
        let added = self.names.insert(wire.clone().into_boxed_slice());
        if self.names.len() <= FEW {
            if added {
                self.few.push(wire.into_boxed_slice());
            }
        } else {
            self.few.clear();
        }
        added
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether both hold exactly the same names.
    pub fn same_names(&self, other: &NameSet) -> bool {
        self.names == other.names
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `lname` (lowercase wire form) is a member.
    pub fn contains_exact(&self, lname: &[u8]) -> bool {
        self.names.contains(lname)
    }

    /// Whether `lname` (lowercase wire form) is a member or below one.
    pub fn contains_suffix_of(&self, lname: &[u8]) -> bool {
        if self.names.is_empty() {
            return false;
        }
        if self.names.len() <= FEW {
            return self.few.iter().any(|m| {
                lname.len() >= m.len()
                    && lname[lname.len() - m.len()..] == m[..]
                    && at_label_start(lname, lname.len() - m.len())
            });
        }
        let mut offsets = [0u8; MAX_LABELS];
        let labels = label_offsets(lname, &mut offsets);
        let first = labels.saturating_sub(self.max_labels);
        offsets[first..labels]
            .iter()
            .map(|&o| o as usize)
            .chain([lname.len().saturating_sub(1)])
            .any(|start| self.names.contains(&lname[start..]))
    }

    /// Members for display (the first 16 added), comma-separated.
    pub fn describe(&self) -> String {
        let mut s = self.shown.join(", ");
        if self.names.len() > self.shown.len() {
            s.push_str(&format!(", ... ({} names)", self.names.len()));
        }
        s
    }
}

/// Whether a label of the wire name `name` starts at `pos`.
fn at_label_start(name: &[u8], pos: usize) -> bool {
    let mut p = 0;
    while p < pos {
        match name.get(p) {
            Some(&0) | None => return false,
            Some(&len) => p += 1 + usize::from(len),
        }
    }
    p == pos
}

/// A domain name in presentation form as lowercase wire form: one
/// parser for the whole project ([`wire::name::parse`]).
pub use wire::name::parse as parse_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matching_on_label_boundaries() {
        let mut s = NameSet::new();
        s.add("balaskas.gr.").unwrap();
        s.add("Example.ORG").unwrap();
        let m = |n: &str| s.contains_suffix_of(&parse_name(n).unwrap());
        assert!(m("balaskas.gr"));
        assert!(m("www.balaskas.gr."));
        assert!(m("a.b.BALASKAS.gr"));
        assert!(m("x.example.org"));
        assert!(!m("xbalaskas.gr"));
        assert!(!m("balaskas.gr.evil"));
        assert!(!m("gr"));
        assert!(s.contains_exact(&parse_name("example.org").unwrap()));
        assert!(!s.contains_exact(&parse_name("www.example.org").unwrap()));
        assert_eq!(s.describe(), "balaskas.gr., example.org.");
    }

    #[test]
    fn small_and_large_sets_agree() {
        let members = ["balaskas.gr", "b.c", "x"];
        let mut few = NameSet::new();
        let mut many = NameSet::new();
        for m in members {
            few.add(m).unwrap();
            many.add(m).unwrap();
        }
        for i in 0..FEW {
            many.add(&format!("filler{i}.invalid")).unwrap();
        }
        assert!(few.few.len() == members.len() && many.few.is_empty());
        for n in [
            "balaskas.gr",
            "www.balaskas.gr",
            "xbalaskas.gr",
            "gr",
            "a\\.balaskas.gr",
            "b.c",
            "ab.c",
            "a.b.c",
            "x",
            "y.x",
            "xx",
            "c",
            "a\\.x",
        ] {
            let w = parse_name(n).unwrap();
            assert_eq!(
                few.contains_suffix_of(&w),
                many.contains_suffix_of(&w),
                "{n}"
            );
        }
    }

    #[test]
    fn root_matches_everything() {
        let mut s = NameSet::new();
        s.add(".").unwrap();
        assert!(s.contains_suffix_of(&parse_name("anything.test").unwrap()));
    }

    #[test]
    fn bad_names() {
        assert!(parse_name("a..b").is_err());
        assert!(parse_name("").is_err());
        assert!(parse_name(&"a".repeat(64)).is_err());
        assert_eq!(parse_name("a\\.b.c").unwrap(), b"\x03a.b\x01c\x00");
    }
}
