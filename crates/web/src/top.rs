//! The busiest clients and names of the last seconds, and where
//! NXDOMAIN answers go (a random-subdomain flood shows as one parent
//! name with many answers), counted from the rings on request.

use std::collections::HashMap;

use shield::rings::{Entry, Ring};

/// `(what, count)`, busiest first, at most `n`.
pub(crate) type Top = Vec<(String, u64)>;

/// The `n` keys `key` gives most often over the last `window_ns`.
fn top(
    ring: &Ring,
    window_ns: u64,
    n: usize,
    mut key: impl FnMut(&Entry) -> Option<String>,
) -> Top {
    let mut counts: HashMap<String, u64> = HashMap::new();
    ring.for_each(window_ns, |e| {
        if let Some(k) = key(e) {
            *counts.entry(k).or_default() += 1;
        }
    });
    let mut v: Top = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

pub(crate) fn clients(ring: &Ring, window_ns: u64, n: usize) -> Top {
    top(ring, window_ns, n, |e| Some(e.client.to_string()))
}

pub(crate) fn names(ring: &Ring, window_ns: u64, n: usize) -> Top {
    top(ring, window_ns, n, |e| Some(wire::name::to_text(e.name())))
}

/// NXDOMAIN answers by the parent of the name asked for.
pub(crate) fn nxdomain_parents(responses: &Ring, window_ns: u64, n: usize) -> Top {
    top(responses, window_ns, n, |e| {
        if e.rcode != 3 {
            return None;
        }
        let name = e.name();
        let first = usize::from(*name.first()?);
        let parent = name.get(1 + first..).filter(|p| !p.is_empty())?;
        Some(wire::name::to_text(parent))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shield::rings::Record;

    #[test]
    fn counts_and_orders() {
        let ring = Ring::new(100, 1);
        let a = "192.0.2.1".parse().unwrap();
        let b = "192.0.2.2".parse().unwrap();
        for (client, name, rcode) in [
            (a, &b"\x01x\x07example\x00"[..], 3),
            (a, b"\x01y\x07example\x00", 3),
            (b, b"\x01y\x07example\x00", 0),
            (a, b"\x07example\x00", 3),
        ] {
            ring.record(&Record {
                rcode,
                ..Record::query(client, name, 1)
            });
        }
        assert_eq!(
            clients(&ring, 0, 5),
            vec![("192.0.2.1".into(), 3), ("192.0.2.2".into(), 1)]
        );
        assert_eq!(names(&ring, 0, 1), vec![("y.example.".into(), 2)]);
        assert_eq!(
            nxdomain_parents(&ring, 0, 5),
            vec![("example.".into(), 2), (".".into(), 1)]
        );
    }
}
