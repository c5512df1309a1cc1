//! The response ring as a tree of names (dnsdist's `statNodeRespRing`):
//! each name answered lately and each of its parents is a node counting
//! the answers for exactly that name, and the sums of its subtree.

use std::collections::BTreeMap;

use crate::rings::Ring;

/// Answers counted for a name (dnsdist's `StatNode::Stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStat {
    pub queries: u64,
    pub noerrors: u64,
    pub nxdomains: u64,
    pub servfails: u64,
    pub drops: u64,
    pub bytes: u64,
}

impl NodeStat {
    fn add(&mut self, other: &NodeStat) {
        self.queries += other.queries;
        self.noerrors += other.noerrors;
        self.nxdomains += other.nxdomains;
        self.servfails += other.servfails;
        self.drops += other.drops;
        self.bytes += other.bytes;
    }
}

/// One node as the visitor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    /// The name, text with the final dot; empty for the root.
    pub fullname: String,
    /// Its labels (0 for the root).
    pub labels: usize,
    /// Its own subtree's children count.
    pub children: usize,
    /// Answers for exactly this name.
    pub own: NodeStat,
    /// Answers for this name and every name below it.
    pub subtree: NodeStat,
}

#[derive(Default)]
struct Node {
    stat: NodeStat,
    /// By label, lowercase wire form (the ring keeps names lowercase).
    children: BTreeMap<Vec<u8>, Node>,
}

/// The nodes of the response ring's entries newer than `window_ns` (all
/// with 0), children before their parent, the root last, as dnsdist
/// visits them.
pub fn visits(ring: &Ring, window_ns: u64) -> Vec<Visit> {
    let mut root = Node::default();
    ring.for_each(window_ns, |e| {
        let name = e.name();
        let mut labels = Vec::new();
        let mut at = 0;
        while let Some(&n) = name.get(at) {
            if n == 0 {
                break;
            }
            let end = (at + 1 + usize::from(n)).min(name.len());
            labels.push(&name[at..end]);
            at = end;
        }
        if labels.is_empty() {
            return;
        }
        let mut node = &mut root;
        for label in labels.iter().rev() {
            node = node.children.entry(label.to_vec()).or_default();
        }
        let s = &mut node.stat;
        s.queries += 1;
        s.bytes += u64::from(e.size);
        match e.rcode {
            0 => s.noerrors += 1,
            2 => s.servfails += 1,
            3 => s.nxdomains += 1,
            _ => {}
        }
    });
    let mut out = Vec::new();
    walk(&root, &mut Vec::new(), &mut out);
    out
}

/// Visits `node` (named by `path`, its labels from the top) after its
/// children; returns its subtree's sums.
fn walk(node: &Node, path: &mut Vec<Vec<u8>>, out: &mut Vec<Visit>) -> NodeStat {
    let mut subtree = node.stat;
    for (label, child) in &node.children {
        path.push(label.clone());
        subtree.add(&walk(child, path, out));
        path.pop();
    }
    let mut wire: Vec<u8> = path.iter().rev().flatten().copied().collect();
    wire.push(0);
    out.push(Visit {
        fullname: if path.is_empty() {
            String::new()
        } else {
            wire::name::to_text(&wire)
        },
        labels: path.len(),
        children: node.children.len(),
        own: node.stat,
        subtree,
    });
    subtree
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rings::Record;

    fn answered(ring: &Ring, name: &str, rcode: u16, size: usize) {
        let lname = crate::suffix::parse_name(name).unwrap();
        ring.record(&Record {
            rcode,
            size,
            ..Record::query("192.0.2.1".parse().unwrap(), &lname, 1)
        });
    }

    #[test]
    fn children_come_before_their_parents_with_the_sums_of_below() {
        let ring = Ring::new(16, 1);
        answered(&ring, "www.example.com", 0, 100);
        answered(&ring, "www.example.com", 3, 50);
        answered(&ring, "example.com", 2, 10);
        answered(&ring, "a.org", 0, 1);
        let v = visits(&ring, 0);
        let names: Vec<&str> = v.iter().map(|n| n.fullname.as_str()).collect();
        assert_eq!(
            names,
            [
                "www.example.com.",
                "example.com.",
                "com.",
                "a.org.",
                "org.",
                ""
            ]
        );
        let example = &v[1];
        assert_eq!(example.labels, 2);
        assert_eq!(example.own.queries, 1);
        assert_eq!(example.own.servfails, 1);
        assert_eq!(example.subtree.queries, 3);
        assert_eq!(example.subtree.nxdomains, 1);
        assert_eq!(example.subtree.bytes, 160);
        assert_eq!(v[5].subtree.queries, 4);
        assert_eq!(v[5].children, 2);
    }
}
