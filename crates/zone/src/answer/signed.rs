//! DNSSEC in answers to DO queries from signed zones (RFC 4035 §3.1,
//! RFC 5155 §7.2): the RRSIGs that go with each authoritative RRset, and
//! the NSEC or NSEC3 records that prove a name, a type or a closer match
//! absent.
//!
//! RRSIGs are written right after their set, in the same all-or-nothing
//! step. Denial records are collected while the answer is resolved (a
//! wildcard CNAME's proof must wait until the chain's answer records are
//! written) and go into the authority section at the end, each once.

use wire::name::{parent, MAX_NAME_LEN};
use wire::types::{class, rtype};
use wire::Section;

use super::Answer;
use crate::denial::{type_covered, Denial, Nsec3Index, NsecIndex};
use crate::tree::{Node, RRset, Zone};

/// The most denial RRsets in one answer: a closest-encloser proof is
/// three, a chain of wildcard CNAMEs adds one per hop.
pub(super) const MAX_PROOFS: usize = 12;

/// An NSEC or NSEC3 RRset for the authority section; its RRSIGs are at
/// the same node.
#[derive(Clone, Copy)]
pub(super) struct Proof<'z> {
    owner: &'z [u8],
    node: Node<'z>,
    rtype: u16,
}

/// `*.<encloser>`, on the stack.
struct WildName {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl WildName {
    fn of(encloser: &[u8]) -> Option<WildName> {
        if encloser.len() + 2 > MAX_NAME_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        buf[0] = 1;
        buf[1] = b'*';
        buf[2..2 + encloser.len()].copy_from_slice(encloser);
        Some(WildName {
            buf,
            len: 2 + encloser.len(),
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The suffix of `name` one label longer than its suffix of `encloser_len`
/// octets: RFC 5155's "next closer name".
fn next_closer(name: &[u8], encloser_len: usize) -> &[u8] {
    let mut n = name;
    while let Some(p) = parent(n) {
        if p.len() <= encloser_len {
            break;
        }
        n = p;
    }
    n
}

/// The longest strict ancestor of `name` (lowercase, in `zone`) that
/// exists, as a suffix of `name`.
fn closest_encloser<'n>(zone: &Zone, name: &'n [u8]) -> &'n [u8] {
    let mut n = name;
    while n.len() > zone.apex.len() {
        let Some(p) = parent(n) else { break };
        n = p;
        if zone.node(n).is_some() {
            return n;
        }
    }
    n
}

/// The NSEC at `name`, with its stored owner.
fn nsec_at<'z>(zone: &'z Zone, name: &[u8]) -> Option<(&'z [u8], Node<'z>)> {
    zone.get_key_value(name)
        .filter(|(_, n)| n.get(rtype::NSEC).is_some())
}

/// The NSEC that matches or covers `name`.
fn nsec_covering<'z>(
    zone: &'z Zone,
    index: &'z NsecIndex,
    name: &[u8],
) -> Option<(&'z [u8], Node<'z>)> {
    nsec_at(zone, index.predecessor(name)?)
}

/// How the zone denies: its NSEC index, or its NSEC3 chain when proofs
/// are computed for it.
enum Chain<'z> {
    Nsec(&'z NsecIndex),
    Nsec3(&'z Nsec3Index),
}

fn chain(zone: &Zone) -> Option<Chain<'_>> {
    match zone.denial.as_deref()? {
        Denial::Nsec(index) => Some(Chain::Nsec(index)),
        Denial::Nsec3(index) if index.usable() => Some(Chain::Nsec3(index)),
        Denial::Nsec3(_) => None,
    }
}

impl<'c> Answer<'c, '_, '_> {
    /// Whether answers from `zone` carry DNSSEC records.
    #[inline]
    pub(super) fn signing(&self, zone: &Zone) -> bool {
        self.dnssec_ok && zone.signed
    }

    /// The node whose RRSIGs go with a set from `node`, when signing.
    #[inline]
    pub(super) fn sigs(&self, zone: &Zone, node: Node<'c>) -> Option<Node<'c>> {
        self.signing(zone).then_some(node)
    }

    /// `set` at `owner` and the RRSIGs at `sigs` covering it, all or
    /// nothing (TC set when they do not fit).
    pub(super) fn put_signed(
        &mut self,
        section: Section,
        owner: &[u8],
        set: RRset<'_>,
        sigs: Option<Node<'_>>,
    ) -> bool {
        let Some(sigs) = sigs else {
            return self.put_set(section, owner, set);
        };
        let mark = self.resp.mark();
        if !self.put_set(section, owner, set) {
            return false;
        }
        if self.put_rrsigs(section, owner, set.rtype(), set.ttl(), sigs) {
            return true;
        }
        self.resp.rollback(mark);
        self.truncate();
        false
    }

    /// The RRSIGs at `sigs` whose type covered is `covered`, at `owner`
    /// with `ttl` (the covered set's, RFC 4034 §3); false when they do not
    /// fit (the caller rolls back).
    pub(super) fn put_rrsigs(
        &mut self,
        section: Section,
        owner: &[u8],
        covered: u16,
        ttl: u32,
        sigs: Node<'_>,
    ) -> bool {
        let Some(rrsig) = sigs.get(rtype::RRSIG) else {
            return true;
        };
        rrsig
            .rdatas()
            .filter(|r| type_covered(r) == Some(covered))
            .all(|r| {
                self.resp
                    .push_record(section, owner, rtype::RRSIG, class::IN, ttl, r)
                    .is_ok()
            })
    }

    /// Queues a denial RRset for the authority section, once.
    fn queue(&mut self, found: Option<(&'c [u8], Node<'c>)>, rtype: u16) {
        let Some((owner, node)) = found else { return };
        if self
            .proofs
            .as_slice()
            .iter()
            .any(|p| p.node.identity() == node.identity() && p.rtype == rtype)
        {
            return;
        }
        self.proofs.push(Proof { owner, node, rtype });
    }

    /// Writes the queued denial RRsets with their RRSIGs.
    pub(super) fn put_proofs(&mut self) {
        for i in 0..self.proofs.as_slice().len() {
            let p = self.proofs.as_slice()[i];
            let Some(set) = p.node.get(p.rtype) else {
                continue;
            };
            if !self.put_signed(Section::Authority, p.owner, set, Some(p.node)) {
                return;
            }
        }
    }

    /// RFC 5155 §7.2.1: the NSEC3 matching the closest provable encloser
    /// of `name` (at or above its suffix of `from` octets) and the one
    /// covering the next closer name; returns the encloser's length.
    fn nsec3_encloser(
        &mut self,
        zone: &'c Zone,
        index: &'c Nsec3Index,
        name: &[u8],
        from: usize,
    ) -> Option<usize> {
        let mut ce = &name[name.len() - from.min(name.len())..];
        let found = loop {
            if let Some(found) = index.matching(&zone.apex, ce) {
                break found;
            }
            if ce.len() <= zone.apex.len() {
                return None;
            }
            ce = parent(ce)?;
        };
        self.queue(Some(found), rtype::NSEC3);
        if ce.len() < name.len() {
            self.queue(
                index.covering(&zone.apex, next_closer(name, ce.len())),
                rtype::NSEC3,
            );
        }
        Some(ce.len())
    }

    /// NXDOMAIN for `name` (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2): no such
    /// name, and no wildcard at its closest encloser.
    pub(super) fn deny_name(&mut self, zone: &'c Zone, name: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        let ce = closest_encloser(zone, name);
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                self.queue(nsec_covering(zone, index, name), rtype::NSEC);
                if let Some(wild) = WildName::of(ce) {
                    self.queue(nsec_covering(zone, index, wild.as_slice()), rtype::NSEC);
                }
            }
            Some(Chain::Nsec3(index)) => {
                let Some(ce_len) = self.nsec3_encloser(zone, index, name, ce.len()) else {
                    return;
                };
                if let Some(wild) = WildName::of(&name[name.len() - ce_len..]) {
                    self.queue(index.covering(&zone.apex, wild.as_slice()), rtype::NSEC3);
                }
            }
            None => {}
        }
    }

    /// A positive answer from a wildcard (RFC 4035 §3.1.3.3, RFC 5155
    /// §7.2.6): no closer match for `name` exists.
    pub(super) fn prove_wildcard(&mut self, zone: &'c Zone, name: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                self.queue(nsec_covering(zone, index, name), rtype::NSEC);
            }
            Some(Chain::Nsec3(index)) => {
                let ce = closest_encloser(zone, name);
                self.queue(
                    index.covering(&zone.apex, next_closer(name, ce.len())),
                    rtype::NSEC3,
                );
            }
            None => {}
        }
    }

    /// NODATA for `name` (RFC 4035 §3.1.3.1 and .4, RFC 5155 §7.2.3–5 and
    /// .7); `wildcard`: the name matched a wildcard that lacks the type.
    pub(super) fn deny_type(&mut self, zone: &'c Zone, name: &[u8], wildcard: bool) {
        if !self.signing(zone) {
            return;
        }
        let ce = if wildcard {
            closest_encloser(zone, name)
        } else {
            name
        };
        let wild = if wildcard { WildName::of(ce) } else { None };
        match chain(zone) {
            Some(Chain::Nsec(index)) => {
                if let Some(wild) = &wild {
                    self.queue(nsec_covering(zone, index, name), rtype::NSEC);
                    self.queue(nsec_at(zone, wild.as_slice()), rtype::NSEC);
                } else {
                    // An empty non-terminal has no NSEC: the one covering it.
                    let found = nsec_at(zone, name).or_else(|| nsec_covering(zone, index, name));
                    self.queue(found, rtype::NSEC);
                }
            }
            Some(Chain::Nsec3(index)) => {
                if let Some(wild) = &wild {
                    self.nsec3_encloser(zone, index, name, ce.len());
                    self.queue(index.matching(&zone.apex, wild.as_slice()), rtype::NSEC3);
                } else {
                    self.deny_nsec3_at(zone, index, name);
                }
            }
            None => {}
        }
    }

    /// The NSEC3 matching `name`, or else (an insecure delegation or an
    /// empty non-terminal under opt-out) the closest provable encloser
    /// proof, whose next closer NSEC3 has opt-out set.
    fn deny_nsec3_at(&mut self, zone: &'c Zone, index: &'c Nsec3Index, name: &[u8]) {
        match index.matching(&zone.apex, name) {
            Some(found) => self.queue(Some(found), rtype::NSEC3),
            None => {
                let from = parent(name).map_or(0, <[u8]>::len);
                self.nsec3_encloser(zone, index, name, from);
            }
        }
    }

    /// A referral to a child without DS: proof that the cut has none.
    pub(super) fn deny_ds(&mut self, zone: &'c Zone, cut: &[u8]) {
        if !self.signing(zone) {
            return;
        }
        match chain(zone) {
            Some(Chain::Nsec(_)) => self.queue(nsec_at(zone, cut), rtype::NSEC),
            Some(Chain::Nsec3(index)) => self.deny_nsec3_at(zone, index, cut),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::name;

    #[test]
    fn next_closer_is_one_label_below_the_encloser() {
        let n = name("a.b.c.example");
        let ce = name("c.example");
        assert_eq!(next_closer(&n, ce.len()), &name("b.c.example")[..]);
        assert_eq!(next_closer(&n, name("b.c.example").len()), &n[..]);
    }
}
