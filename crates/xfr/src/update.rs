//! Dynamic updates (RFC 2136): prerequisites, the grant that allows each
//! change, and the change itself, journaled durably before the answer.
//!
//! The order of checks follows RFC 2136 §3: zone section, then the
//! signature (RFC 8945), then prerequisites (§3.2), then the update
//! section's prescan (§3.4.1) with the grants, then the changes (§3.4.2).
//! A request nobody may make is REFUSED, as BIND answers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use log::Level;
use wire::message::Rr;
use wire::types::{class, rcode, rtype};
use wire::Section;
use zone::records::{normalize, serial_gt, soa_serial, Record, RecordSet};

use crate::reply::{authenticate, Asked};
use crate::service::{lock as lock_entry, soa_first, unix_now, CommitError, Role, Service};
use crate::settings::UpdateGrant;
use crate::tsig::Signer;

/// Types that are never data in an update.
fn meta_type(t: u16) -> bool {
    matches!(
        t,
        rtype::ANY
            | rtype::AXFR
            | rtype::IXFR
            | rtype::MAILA
            | rtype::MAILB
            | rtype::OPT
            | rtype::TSIG
            | rtype::TKEY
    )
}

impl Service {
    /// Answers an UPDATE for a zone this service holds; `None` when it
    /// holds no such zone (the zones answer NOTAUTH).
    pub fn update(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        let msg = match wire::message::parse(packet) {
            Ok(m) => m,
            Err(_) => {
                let mut out = vec![0u8; 12];
                let len = zone::formerr(packet, &mut out);
                out.truncate(len);
                return (len > 0).then_some(out);
            }
        };
        let zone_q = msg.questions.first()?;
        // Label lengths (at most 63) are never letters: folding every byte
        // lowercases the name.
        let apex = zone_q.name.to_ascii_lowercase();
        let entry = self.entry(&apex)?;
        let now = unix_now();
        let asked = Asked {
            id: msg.header.id,
            flags: msg.header.flags,
            qname: &zone_q.name,
            qtype: zone_q.qtype,
            qclass: zone_q.qclass,
        };
        let answer = |code: u16, signer: Option<&mut Signer>| asked.reply(code, false, signer, now);
        if msg.questions.len() != 1 || zone_q.qtype != rtype::SOA || zone_q.qclass != class::IN {
            return Some(answer(rcode::FORMERR, None));
        }
        let settings = self.settings();
        let what = || format!("update of {} from {client}", wire::name::to_text(&apex));
        let (key, mut signer) = match authenticate(
            &asked,
            packet,
            &settings.keys,
            now,
            Some((&what, client.ip())),
        ) {
            Ok(checked) => checked,
            Err(refusal) => return Some(refusal),
        };
        let who = match &key {
            Some(k) => format!("key {} from {client}", k.name_text()),
            None => format!("{client}"),
        };
        let key_name = key.as_ref().map(|k| &*k.name);

        // Refused before the zone's lock is taken: a flood of updates
        // nobody may make must not queue behind a real one.
        let admitted = settings
            .zone(&apex)
            .update
            .iter()
            .any(|g| g.admits(client.ip(), key_name));
        if !admitted {
            netmask::logthrottle::log(Level::Warn, "refused update", Some(client.ip()), || {
                format!(
                    "update of {} by {who} refused: no update policy admits it",
                    wire::name::to_text(&apex)
                )
            });
            return Some(answer(rcode::REFUSED, signer.as_mut()));
        }
        let mut e = lock_entry(&entry);
        if matches!(e.role, Role::Secondary(_)) {
            // Forwarding updates to the primary is not done: say so.
            return Some(answer(rcode::NOTAUTH, signer.as_mut()));
        }
        let grants: Vec<&UpdateGrant> = e
            .settings
            .update
            .iter()
            .filter(|g| g.admits(client.ip(), key_name))
            .collect();
        if grants.is_empty() {
            netmask::logthrottle::log(Level::Warn, "refused update", Some(client.ip()), || {
                format!(
                    "update of {} by {who} refused: no update policy admits it",
                    e.name
                )
            });
            return Some(answer(rcode::REFUSED, signer.as_mut()));
        }
        if e.journal.is_none() {
            log::error!(
                "update of {} by {who} refused: the zone has no journal to make it durable",
                e.name
            );
            return Some(answer(rcode::SERVFAIL, signer.as_mut()));
        }
        let prereqs: Vec<&Rr> = msg
            .records
            .iter()
            .filter(|r| r.section == Section::Answer)
            .collect();
        let updates: Vec<&Rr> = msg
            .records
            .iter()
            .filter(|r| r.section == Section::Authority)
            .collect();
        if let Err(code) = check_prerequisites(&e.records, &apex, &prereqs) {
            // A failed prerequisite is an ordinary answer (nsupdate's
            // "prereq"), but the operator should see why nothing changed.
            netmask::logthrottle::log(Level::Info, "failed update", Some(client.ip()), || {
                format!(
                    "update of {} by {who}: prerequisite not met (rcode {code})",
                    e.name
                )
            });
            return Some(answer(code, signer.as_mut()));
        }
        if let Err((code, why)) = prescan(&apex, &updates, &grants) {
            netmask::logthrottle::log(Level::Warn, "failed update", Some(client.ip()), || {
                format!(
                    "update of {} by {who} refused (rcode {code}): {why}",
                    e.name
                )
            });
            return Some(answer(code, signer.as_mut()));
        }
        // The changes are worked out on the live set (no copy of the
        // zone), taken as a net difference, and the set put back; the
        // commit then makes exactly that difference.
        let cur_soa = e.soa();
        let policy = e.settings.serial_policy;
        let (removed, added) = {
            let mut t = Tracked::new(std::sync::Arc::make_mut(&mut e.records));
            apply(&mut t, &apex, &updates);
            if let (Some(cur), Some(mut soa)) = (cur_soa, t.set.soa(&apex)) {
                let cur_serial = soa_serial(&cur.rdata).unwrap_or(0);
                let new_serial = soa_serial(&soa.rdata).unwrap_or(0);
                if t.changed() && !serial_gt(new_serial, cur_serial) {
                    let serial = policy.next(cur_serial, now);
                    if let Some(r) = zone::records::with_serial(&soa.rdata, serial) {
                        t.remove(&soa);
                        soa.rdata = r;
                        t.insert(soa);
                    }
                }
            }
            t.net_and_undo(&apex)
        };
        let source = format!("update by {who}");
        match self.commit_delta(&mut e, removed, added, &source) {
            Ok(_) => Some(answer(rcode::NOERROR, signer.as_mut())),
            Err(err) => {
                log::error!("zone {}: {err}", e.name);
                // A change that breaks the zone's rules (two DNAMEs at a
                // name…) is refused; a journal failure is the server's,
                // SERVFAIL. A zone that cannot be signed keeps answering
                // REFUSED, as it always has.
                let code = match err {
                    CommitError::JournalWrite { .. } => rcode::SERVFAIL,
                    CommitError::Refused { .. } | CommitError::NotSigned(_) => rcode::REFUSED,
                };
                Some(answer(code, signer.as_mut()))
            }
        }
    }
}

/// The owner of `rr` lowercased.
fn owner(rr: &Rr) -> Vec<u8> {
    rr.owner.to_ascii_lowercase()
}

/// A record of the update, normalized as zone data is.
fn record(rr: &Rr) -> Record {
    let mut r = Record {
        owner: rr.owner.clone().into_boxed_slice(),
        rtype: rr.rtype,
        ttl: rr.ttl,
        rdata: rr.rdata.clone().into_boxed_slice(),
    };
    normalize(&mut r);
    r
}

/// The RDATAs of one RRset, compared as a set.
type RdataSet = BTreeSet<Box<[u8]>>;

/// RFC 2136 §3.2.
fn check_prerequisites(set: &RecordSet, apex: &[u8], prereqs: &[&Rr]) -> Result<(), u16> {
    // Value-dependent prerequisites, grouped by (name, type).
    let mut wanted: BTreeMap<(Vec<u8>, u16), RdataSet> = BTreeMap::new();
    for rr in prereqs {
        let name = owner(rr);
        if rr.ttl != 0 {
            return Err(rcode::FORMERR);
        }
        if !wire::name::is_subdomain(&name, apex) {
            return Err(rcode::NOTZONE);
        }
        match rr.class {
            class::ANY => {
                if !rr.rdata.is_empty() {
                    return Err(rcode::FORMERR);
                }
                if rr.rtype == rtype::ANY {
                    if !set.has_name(&name) {
                        return Err(rcode::NXDOMAIN);
                    }
                } else if set.rrset(&name, rr.rtype).is_empty() {
                    return Err(rcode::NXRRSET);
                }
            }
            class::NONE => {
                if !rr.rdata.is_empty() {
                    return Err(rcode::FORMERR);
                }
                if rr.rtype == rtype::ANY {
                    if set.has_name(&name) {
                        return Err(rcode::YXDOMAIN);
                    }
                } else if !set.rrset(&name, rr.rtype).is_empty() {
                    return Err(rcode::YXRRSET);
                }
            }
            class::IN => {
                let r = record(rr);
                wanted.entry((name, rr.rtype)).or_default().insert(r.rdata);
            }
            _ => return Err(rcode::FORMERR),
        }
    }
    for ((name, t), rdatas) in wanted {
        let have: BTreeSet<Box<[u8]>> = set.rrset(&name, t).into_iter().map(|r| r.rdata).collect();
        if have != rdatas {
            return Err(rcode::NXRRSET);
        }
    }
    Ok(())
}

/// RFC 2136 §3.4.1, with the grants: every change must be well formed,
/// in the zone, and allowed by one of `grants`.
fn prescan(apex: &[u8], updates: &[&Rr], grants: &[&UpdateGrant]) -> Result<(), (u16, String)> {
    for rr in updates {
        let name = owner(rr);
        if !wire::name::is_subdomain(&name, apex) {
            return Err((rcode::NOTZONE, "name outside the zone".into()));
        }
        let ok = match rr.class {
            class::IN => !meta_type(rr.rtype),
            class::ANY => {
                rr.ttl == 0
                    && rr.rdata.is_empty()
                    && (rr.rtype == rtype::ANY || !meta_type(rr.rtype))
            }
            class::NONE => rr.ttl == 0 && !meta_type(rr.rtype),
            _ => false,
        };
        if !ok {
            return Err((rcode::FORMERR, "malformed update record".into()));
        }
        // Deleting every RRset at a name needs a grant for every type.
        let allowed = grants.iter().any(|g| {
            if rr.rtype == rtype::ANY {
                g.types.is_empty() && g.covers(&name, rtype::A)
            } else {
                g.covers(&name, rr.rtype)
            }
        });
        if !allowed {
            return Err((
                rcode::REFUSED,
                format!(
                    "{} {} is outside what its grant allows",
                    wire::name::to_text(&name),
                    wire::types::rtype_name(rr.rtype)
                ),
            ));
        }
    }
    Ok(())
}

/// What makes a record itself: owner, type, RDATA (not the TTL).
type Identity = (Box<[u8]>, u16, Box<[u8]>);

/// Changes made to a record set, remembered so they can be reported as
/// a net difference and taken back.
struct Tracked<'a> {
    set: &'a mut RecordSet,
    /// Each record touched, with its TTL before the first touch.
    before: BTreeMap<Identity, Option<u32>>,
}

impl<'a> Tracked<'a> {
    fn new(set: &'a mut RecordSet) -> Self {
        Tracked {
            set,
            before: BTreeMap::new(),
        }
    }

    fn touch(&mut self, r: &Record) {
        let prev = self.set.ttl_of(r);
        self.before
            .entry((r.owner.clone(), r.rtype, r.rdata.clone()))
            .or_insert(prev);
    }

    fn insert(&mut self, r: Record) {
        self.touch(&r);
        self.set.insert(r);
    }

    fn remove(&mut self, r: &Record) {
        if self.set.contains(r) {
            self.touch(r);
            self.set.remove(r);
        }
    }

    fn rrset(&self, owner: &[u8], t: u16) -> Vec<Record> {
        self.set.rrset(owner, t)
    }

    fn soa(&self, apex: &[u8]) -> Option<Record> {
        self.set.soa(apex)
    }

    fn has_name(&self, owner: &[u8]) -> bool {
        self.set.has_name(owner)
    }

    fn remove_rrset(&mut self, owner: &[u8], t: u16) -> Vec<Record> {
        let gone = self.set.rrset(owner, t);
        for r in &gone {
            self.remove(r);
        }
        gone
    }

    fn remove_name(&mut self, owner: &[u8]) -> Vec<Record> {
        let gone = self.set.records_at(owner);
        for r in &gone {
            self.remove(r);
        }
        gone
    }

    /// Whether anything differs from before.
    fn changed(&self) -> bool {
        self.before.iter().any(|((o, t, d), prev)| {
            let r = Record {
                owner: o.clone(),
                rtype: *t,
                ttl: 0,
                rdata: d.clone(),
            };
            self.set.ttl_of(&r) != *prev
        })
    }

    /// The net difference (removed, added), SOA first, and the set as it
    /// was before.
    fn net_and_undo(self, apex: &[u8]) -> (Vec<Record>, Vec<Record>) {
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for ((owner, rtype, rdata), prev) in self.before {
            let mut r = Record {
                owner,
                rtype,
                ttl: 0,
                rdata,
            };
            let now = self.set.ttl_of(&r);
            if now == prev {
                continue;
            }
            if let Some(ttl) = now {
                added.push(Record { ttl, ..r.clone() });
            }
            self.set.remove(&r);
            if let Some(ttl) = prev {
                r.ttl = ttl;
                removed.push(r.clone());
                self.set.insert(r);
            }
        }
        (soa_first(removed, apex), soa_first(added, apex))
    }
}

/// RFC 2136 §3.4.2 on `set`.
fn apply(set: &mut Tracked, apex: &[u8], updates: &[&Rr]) {
    for rr in updates {
        let name = owner(rr);
        let at_apex = name == apex;
        match rr.class {
            class::IN => {
                let r = record(rr);
                if r.rtype == rtype::SOA {
                    // Only a newer serial replaces the SOA (§3.4.2.2).
                    if !at_apex {
                        continue;
                    }
                    let Some(cur) = set.soa(apex) else { continue };
                    let newer = match (soa_serial(&r.rdata), soa_serial(&cur.rdata)) {
                        (Some(n), Some(c)) => serial_gt(n, c),
                        _ => false,
                    };
                    if newer {
                        set.remove(&cur);
                        set.insert(r);
                    }
                    continue;
                }
                // CNAME and other data do not mix: the change is ignored.
                let has_cname = !set.rrset(&name, rtype::CNAME).is_empty();
                if r.rtype == rtype::CNAME {
                    let other = set.has_name(&name) && !has_cname;
                    if other {
                        continue;
                    }
                    // A CNAME replaces the CNAME there.
                    set.remove_rrset(&name, rtype::CNAME);
                } else if has_cname {
                    continue;
                }
                // The RRset takes the new record's TTL (one TTL per RRset).
                for mut old in set.remove_rrset(&name, r.rtype) {
                    old.ttl = r.ttl;
                    set.insert(old);
                }
                set.insert(r);
            }
            class::ANY if rr.rtype == rtype::ANY => {
                for old in set.remove_name(&name) {
                    // The apex keeps its SOA and NS (§3.4.2.3).
                    if at_apex && matches!(old.rtype, rtype::SOA | rtype::NS) {
                        set.insert(old);
                    }
                }
            }
            class::ANY => {
                if at_apex && matches!(rr.rtype, rtype::SOA | rtype::NS) {
                    continue;
                }
                set.remove_rrset(&name, rr.rtype);
            }
            class::NONE => {
                if rr.rtype == rtype::SOA {
                    continue;
                }
                let r = record(rr);
                if at_apex && r.rtype == rtype::NS && set.rrset(&name, rtype::NS).len() <= 1 {
                    // The last apex NS stays (§3.4.2.4).
                    continue;
                }
                set.remove(&r);
            }
            _ => {}
        }
    }
}
