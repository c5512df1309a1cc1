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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use wire::types::{class, rcode, rtype};
    use wire::Section;
    use zone::records::{with_serial, Record, RecordSet, SerialPolicy};

    use crate::journal::{self, Journal, JournalError, Problem};
    use crate::service::{lock, CommitError, Service, ZoneInfo};
    use crate::settings::{NameMatch, Replication, UpdateGrant};

    /// The zone every test starts from: serial 10, two apex NS, data at
    /// the apex beside them, an RRset of two, a CNAME and a DNAME.
    const ZONE: &str = "$TTL 300
@     3600 SOA ns1 hostmaster 10 7200 3600 1209600 300
@     3600 NS ns1
@     3600 NS ns2
@     TXT \"v=spf1 -all\"
ns1   A 192.0.2.1
ns2   A 192.0.2.2
www   A 192.0.2.10
www   A 192.0.2.11
www   TXT \"hello\"
alias CNAME www
old   DNAME elsewhere.test.
";

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("rampart-update-{}-{name}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A service holding `example.test.` as a primary loaded from
    /// [`ZONE`], journaled in a directory of its own, that 127.0.0.0/8
    /// may update (every name, every type but SOA) unless `grant` says
    /// otherwise.
    struct Fixture {
        service: Arc<Service>,
        apex: Box<[u8]>,
        _dir: TempDir,
    }

    fn grant_all() -> UpdateGrant {
        UpdateGrant {
            netmasks: vec![netmask::Netmask::parse("127.0.0.0/8").expect("netmask")],
            ..UpdateGrant::default()
        }
    }

    fn fixture(name: &str) -> Fixture {
        fixture_with(name, SerialPolicy::Increment, grant_all(), None)
    }

    fn fixture_with(
        name: &str,
        policy: SerialPolicy,
        grant: UpdateGrant,
        journal_dir: Option<PathBuf>,
    ) -> Fixture {
        let dir = TempDir::new(name);
        let apex = wire_name("example.test");
        let mut settings = Replication {
            journal_dir: Some(journal_dir.unwrap_or_else(|| dir.0.clone())),
            ..Replication::default()
        };
        let zone = settings.zone_mut(&apex);
        zone.update = vec![grant];
        zone.serial_policy = policy;
        let service = Service::new();
        service.configure(&settings);
        let loaded = zone::load_zone_bytes(
            "example.test",
            ZONE.as_bytes(),
            Path::new("example.test.zone"),
        )
        .expect("zone loads");
        let info = ZoneInfo {
            name: "example.test".into(),
            apex: apex.clone(),
            file: None,
        };
        service.primary_loaded(&info, loaded.zone).expect("primary");
        Fixture {
            service,
            apex,
            _dir: dir,
        }
    }

    fn wire_name(text: &str) -> Box<[u8]> {
        zone::parse_name(text).expect("name").into_boxed_slice()
    }

    fn client() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5353))
    }

    /// One record of an UPDATE: prerequisite (Answer) or update
    /// (Authority).
    struct Rr<'a> {
        section: Section,
        name: &'a str,
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: Vec<u8>,
    }

    fn prereq(name: &str, rtype: u16, class: u16, rdata: Vec<u8>) -> Rr<'_> {
        Rr {
            section: Section::Answer,
            name,
            rtype,
            class,
            ttl: 0,
            rdata,
        }
    }

    /// An addition (class IN, TTL 300 unless given).
    fn add(name: &str, rtype: u16, rdata: Vec<u8>) -> Rr<'_> {
        add_ttl(name, rtype, 300, rdata)
    }

    fn add_ttl(name: &str, rtype: u16, ttl: u32, rdata: Vec<u8>) -> Rr<'_> {
        Rr {
            section: Section::Authority,
            name,
            rtype,
            class: class::IN,
            ttl,
            rdata,
        }
    }

    /// A deletion: class ANY (an RRset, or all at a name with type ANY)
    /// or NONE (one record).
    fn delete(name: &str, rtype: u16, class: u16, rdata: Vec<u8>) -> Rr<'_> {
        Rr {
            section: Section::Authority,
            name,
            rtype,
            class,
            ttl: 0,
            rdata,
        }
    }

    fn a(last: u8) -> Vec<u8> {
        vec![192, 0, 2, last]
    }

    fn txt(text: &str) -> Vec<u8> {
        let mut out = vec![text.len() as u8];
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn name_rdata(text: &str) -> Vec<u8> {
        wire_name(text).into_vec()
    }

    fn soa_rdata(serial: u32) -> Vec<u8> {
        let mut out = name_rdata("ns1.example.test");
        out.extend_from_slice(&name_rdata("hostmaster.example.test"));
        for v in [serial, 7200, 3600, 1_209_600, 300] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    fn record(name: &str, rtype: u16, ttl: u32, rdata: Vec<u8>) -> Record {
        Record {
            owner: wire_name(name),
            rtype,
            ttl,
            rdata: rdata.into_boxed_slice(),
        }
    }

    /// The UPDATE message for example.test. holding `records` (each
    /// section's records in the order given).
    fn message(records: &[Rr]) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let mut msg = wire::Response::new(&mut buf, 4096);
        msg.set_header(0x1234, u16::from(wire::types::opcode::UPDATE) << 11);
        msg.push_question(&wire_name("example.test"), rtype::SOA, class::IN)
            .expect("question");
        for section in [Section::Answer, Section::Authority] {
            for r in records.iter().filter(|r| r.section == section) {
                msg.push_record(
                    section,
                    &wire_name(r.name),
                    r.rtype,
                    r.class,
                    r.ttl,
                    &r.rdata,
                )
                .expect("record");
            }
        }
        let mut out = msg.finish().to_vec();
        out[2] &= 0x7f; // a request, not a response
        out
    }

    /// Sends the UPDATE made of `records` from 127.0.0.1 and returns the
    /// answer's rcode.
    fn send(fx: &Fixture, records: &[Rr]) -> u16 {
        let answer = fx
            .service
            .update(&message(records), client())
            .expect("the service holds the zone");
        let parsed = wire::message::parse(&answer).expect("answer parses");
        assert_eq!(parsed.header.id, 0x1234);
        assert_eq!(parsed.header.opcode(), wire::types::opcode::UPDATE);
        u16::from(parsed.header.rcode())
    }

    /// The zone's records, after checking that the version served and
    /// the entry's serial agree with them.
    fn records(fx: &Fixture) -> RecordSet {
        let entry = fx.service.entry(&fx.apex).expect("entry");
        let e = lock(&entry);
        let soa = e.records.soa(&fx.apex).expect("SOA");
        let serial = zone::records::soa_serial(&soa.rdata).expect("serial");
        assert_eq!(e.serial, serial, "entry serial");
        let served = e.zone.as_ref().expect("served zone");
        assert_eq!(served.serial, serial, "served serial");
        (*e.records).clone()
    }

    /// Blocks in the zone's journal on disk (the chain checked).
    fn journal_blocks(fx: &Fixture) -> u64 {
        let path = fx
            .service
            .journal_path(&fx.apex, None)
            .expect("journal path");
        journal::verify(&path).expect("journal intact")
    }

    /// `set` with its SOA's serial made `serial`.
    fn with_soa_serial(mut set: RecordSet, serial: u32) -> RecordSet {
        let apex = wire_name("example.test");
        let mut soa = set.soa(&apex).expect("SOA");
        set.remove(&soa);
        soa.rdata = with_serial(&soa.rdata, serial).expect("SOA rdata");
        set.insert(soa);
        set
    }

    /// Sends `records`, expecting `code` and the zone unchanged: same
    /// records, same serial, nothing journaled.
    fn assert_unchanged(fx: &Fixture, records_sent: &[Rr], code: u16) {
        let before = records(fx);
        let blocks = journal_blocks(fx);
        assert_eq!(send(fx, records_sent), code);
        assert_eq!(records(fx), before);
        assert_eq!(journal_blocks(fx), blocks);
    }

    /// Sends `records`, expecting NOERROR and the zone to become
    /// `change` applied to it, with the serial bumped to 11 and one block
    /// journaled.
    fn assert_changed(fx: &Fixture, records_sent: &[Rr], change: impl FnOnce(&mut RecordSet)) {
        let mut expected = with_soa_serial(records(fx), 11);
        change(&mut expected);
        assert_eq!(journal_blocks(fx), 1, "genesis only");
        assert_eq!(send(fx, records_sent), rcode::NOERROR);
        assert_eq!(records(fx), expected);
        assert_eq!(journal_blocks(fx), 2);
    }

    // -- Prerequisites (RFC 2136 §3.2) --------------------------------

    /// §3.2.4 "name is in use": class ANY, type ANY.
    #[test]
    fn prerequisite_name_in_use() {
        let fx = fixture("yxdomain");
        assert_unchanged(
            &fx,
            &[
                prereq("nothere.example.test", rtype::ANY, class::ANY, vec![]),
                add("new.example.test", rtype::A, a(1)),
            ],
            rcode::NXDOMAIN,
        );
        assert_changed(
            &fx,
            &[
                prereq("www.example.test", rtype::ANY, class::ANY, vec![]),
                add("new.example.test", rtype::A, a(1)),
            ],
            |z| {
                z.insert(record("new.example.test", rtype::A, 300, a(1)));
            },
        );
    }

    /// §3.2.5 "name is not in use": class NONE, type ANY.
    #[test]
    fn prerequisite_name_not_in_use() {
        let fx = fixture("nxdomain");
        assert_unchanged(
            &fx,
            &[
                prereq("www.example.test", rtype::ANY, class::NONE, vec![]),
                add("new.example.test", rtype::A, a(1)),
            ],
            rcode::YXDOMAIN,
        );
        assert_changed(
            &fx,
            &[
                prereq("new.example.test", rtype::ANY, class::NONE, vec![]),
                add("new.example.test", rtype::A, a(1)),
            ],
            |z| {
                z.insert(record("new.example.test", rtype::A, 300, a(1)));
            },
        );
    }

    /// §3.2.1 "RRset exists (value independent)": class ANY, a type.
    #[test]
    fn prerequisite_rrset_exists_value_independent() {
        let fx = fixture("yxrrset");
        assert_unchanged(
            &fx,
            &[
                prereq("www.example.test", rtype::MX, class::ANY, vec![]),
                add("www.example.test", rtype::A, a(12)),
            ],
            rcode::NXRRSET,
        );
        assert_changed(
            &fx,
            &[
                prereq("www.example.test", rtype::TXT, class::ANY, vec![]),
                add("www.example.test", rtype::A, a(12)),
            ],
            |z| {
                z.insert(record("www.example.test", rtype::A, 300, a(12)));
            },
        );
    }

    /// §3.2.3 "RRset does not exist": class NONE, a type.
    #[test]
    fn prerequisite_rrset_does_not_exist() {
        let fx = fixture("nxrrset");
        assert_unchanged(
            &fx,
            &[
                prereq("www.example.test", rtype::A, class::NONE, vec![]),
                add("www.example.test", rtype::MX, vec![0, 10, 0]),
            ],
            rcode::YXRRSET,
        );
        let mut mx = vec![0, 10];
        mx.extend_from_slice(&name_rdata("mail.example.test"));
        assert_changed(
            &fx,
            &[
                prereq("www.example.test", rtype::MX, class::NONE, vec![]),
                add("www.example.test", rtype::MX, mx.clone()),
            ],
            |z| {
                z.insert(record("www.example.test", rtype::MX, 300, mx.clone()));
            },
        );
    }

    /// §3.2.2 "RRset exists (value dependent)": class IN, the whole
    /// RRset, compared as a set (order and TTL aside).
    #[test]
    fn prerequisite_rrset_exists_value_dependent() {
        let fx = fixture("value");
        let www_a = |last: u8| Rr {
            ttl: 0,
            ..prereq("www.example.test", rtype::A, class::IN, a(last))
        };
        // Part of the RRset is not the RRset.
        assert_unchanged(
            &fx,
            &[www_a(10), add("new.example.test", rtype::A, a(1))],
            rcode::NXRRSET,
        );
        // Nor is more than it.
        assert_unchanged(
            &fx,
            &[
                www_a(10),
                www_a(11),
                www_a(12),
                add("new.example.test", rtype::A, a(1)),
            ],
            rcode::NXRRSET,
        );
        // An RRset that is not there at all.
        assert_unchanged(
            &fx,
            &[
                prereq("nothere.example.test", rtype::A, class::IN, a(10)),
                add("new.example.test", rtype::A, a(1)),
            ],
            rcode::NXRRSET,
        );
        assert_changed(
            &fx,
            &[
                www_a(11),
                www_a(10),
                add("new.example.test", rtype::A, a(1)),
            ],
            |z| {
                z.insert(record("new.example.test", rtype::A, 300, a(1)));
            },
        );
    }

    /// A prerequisite outside the zone is NOTZONE; one with a TTL, or
    /// with data where none belongs, FORMERR (§3.2).
    #[test]
    fn prerequisite_outside_the_zone_or_malformed() {
        let fx = fixture("prereq-bad");
        let new = || add("new.example.test", rtype::A, a(1));
        assert_unchanged(
            &fx,
            &[
                prereq("www.example.org", rtype::ANY, class::ANY, vec![]),
                new(),
            ],
            rcode::NOTZONE,
        );
        let with_ttl = Rr {
            ttl: 300,
            ..prereq("www.example.test", rtype::A, class::ANY, vec![])
        };
        assert_unchanged(&fx, &[with_ttl, new()], rcode::FORMERR);
        assert_unchanged(
            &fx,
            &[
                prereq("www.example.test", rtype::A, class::ANY, a(10)),
                new(),
            ],
            rcode::FORMERR,
        );
    }

    // -- Updates (RFC 2136 §3.4) --------------------------------------

    /// An added record joins its RRset, which takes its TTL (one TTL per
    /// RRset); the serial goes from 10 to 11 and the change is
    /// journaled.
    #[test]
    fn add_records() {
        let fx = fixture("add");
        assert_changed(
            &fx,
            &[
                add("new.example.test", rtype::A, a(1)),
                add_ttl("www.example.test", rtype::A, 60, a(12)),
            ],
            |z| {
                z.insert(record("new.example.test", rtype::A, 300, a(1)));
                for last in [10, 11, 12] {
                    z.remove(&record("www.example.test", rtype::A, 300, a(last)));
                    z.insert(record("www.example.test", rtype::A, 60, a(last)));
                }
            },
        );
        // Adding what is there changes nothing: no new serial, no block.
        assert_unchanged(
            &fx,
            &[add("new.example.test", rtype::A, a(1))],
            rcode::NOERROR,
        );
    }

    /// Class ANY with a type deletes that RRset and nothing else at the
    /// name; deleting an RRset that is not there is no change.
    #[test]
    fn delete_an_rrset() {
        let fx = fixture("delete-rrset");
        assert_changed(
            &fx,
            &[delete("www.example.test", rtype::A, class::ANY, vec![])],
            |z| {
                z.remove_rrset(&wire_name("www.example.test"), rtype::A);
            },
        );
        let www = wire_name("www.example.test");
        let z = records(&fx);
        assert!(z.rrset(&www, rtype::A).is_empty());
        assert_eq!(z.rrset(&www, rtype::TXT).len(), 1);
        assert_unchanged(
            &fx,
            &[delete("www.example.test", rtype::MX, class::ANY, vec![])],
            rcode::NOERROR,
        );
    }

    /// Class ANY, type ANY deletes every RRset at the name.
    #[test]
    fn delete_all_at_a_name() {
        let fx = fixture("delete-name");
        assert_changed(
            &fx,
            &[delete("www.example.test", rtype::ANY, class::ANY, vec![])],
            |z| {
                z.remove_name(&wire_name("www.example.test"));
            },
        );
        assert!(!records(&fx).has_name(&wire_name("www.example.test")));
    }

    /// At the apex, deleting everything keeps the SOA and the NS
    /// (§3.4.2.3): only the apex's other data goes.
    #[test]
    fn delete_all_at_the_apex_keeps_soa_and_ns() {
        let fx = fixture("delete-apex");
        assert_changed(
            &fx,
            &[delete("example.test", rtype::ANY, class::ANY, vec![])],
            |z| {
                z.remove_rrset(&wire_name("example.test"), rtype::TXT);
            },
        );
        let z = records(&fx);
        let apex = wire_name("example.test");
        assert_eq!(z.rrset(&apex, rtype::NS).len(), 2);
        assert!(z.soa(&apex).is_some());
    }

    /// Class NONE deletes one record; the rest of its RRset stays.
    #[test]
    fn delete_one_record() {
        let fx = fixture("delete-one");
        assert_changed(
            &fx,
            &[delete("www.example.test", rtype::A, class::NONE, a(10))],
            |z| {
                z.remove(&record("www.example.test", rtype::A, 300, a(10)));
            },
        );
        assert_eq!(
            records(&fx).rrset(&wire_name("www.example.test"), rtype::A),
            vec![record("www.example.test", rtype::A, 300, a(11))]
        );
        // A record that is not there: no change.
        assert_unchanged(
            &fx,
            &[delete("www.example.test", rtype::A, class::NONE, a(99))],
            rcode::NOERROR,
        );
    }

    /// The apex SOA and NS RRset cannot be deleted (§3.4.2.3, §3.4.2.4):
    /// those deletions are ignored, the last apex NS stays, but one NS
    /// of two can go.
    #[test]
    fn the_apex_soa_and_last_ns_are_not_deleted() {
        let ns = |n: &str| name_rdata(&format!("{n}.example.test"));
        // A grant with no types leaves the SOA out: refused outright.
        let fx = fixture("apex-soa");
        assert_unchanged(
            &fx,
            &[delete("example.test", rtype::SOA, class::ANY, vec![])],
            rcode::REFUSED,
        );
        let grant = UpdateGrant {
            types: vec![rtype::SOA, rtype::NS],
            ..grant_all()
        };
        let fx = fixture_with("apex-keep", SerialPolicy::Increment, grant, None);
        assert_unchanged(
            &fx,
            &[
                delete("example.test", rtype::SOA, class::ANY, vec![]),
                delete("example.test", rtype::NS, class::ANY, vec![]),
                delete("example.test", rtype::SOA, class::NONE, soa_rdata(10)),
            ],
            rcode::NOERROR,
        );
        assert_changed(
            &fx,
            &[
                delete("example.test", rtype::NS, class::NONE, ns("ns1")),
                delete("example.test", rtype::NS, class::NONE, ns("ns2")),
            ],
            |z| {
                z.remove(&record("example.test", rtype::NS, 3600, ns("ns1")));
            },
        );
        assert_eq!(
            records(&fx).rrset(&wire_name("example.test"), rtype::NS),
            vec![record("example.test", rtype::NS, 3600, ns("ns2"))]
        );
    }

    /// An SOA in the update replaces the zone's only with a newer serial
    /// (§3.4.2.2), and the serial it brings is kept, not bumped again;
    /// an older one is ignored.
    #[test]
    fn soa_serial() {
        let grant = UpdateGrant {
            types: vec![rtype::SOA, rtype::A],
            ..grant_all()
        };
        let fx = fixture_with("soa", SerialPolicy::Increment, grant, None);
        let soa = |serial: u32| add_ttl("example.test", rtype::SOA, 3600, soa_rdata(serial));
        assert_unchanged(&fx, &[soa(9)], rcode::NOERROR);
        // Older, beside a change: the change bumps the serial to 11.
        assert_changed(
            &fx,
            &[soa(5), add("new.example.test", rtype::A, a(1))],
            |z| {
                z.insert(record("new.example.test", rtype::A, 300, a(1)));
            },
        );
        let mut expected = with_soa_serial(records(&fx), 20);
        expected.insert(record("two.example.test", rtype::A, 300, a(2)));
        assert_eq!(
            send(&fx, &[soa(20), add("two.example.test", rtype::A, a(2))]),
            rcode::NOERROR
        );
        assert_eq!(records(&fx), expected);
        assert_eq!(journal_blocks(&fx), 3);
        // An SOA anywhere but the apex is no change.
        assert_unchanged(
            &fx,
            &[add_ttl("www.example.test", rtype::SOA, 3600, soa_rdata(30))],
            rcode::NOERROR,
        );
    }

    /// A name outside the zone is NOTZONE, and nothing of the update is
    /// made (§3.4.1.3).
    #[test]
    fn a_name_outside_the_zone_is_notzone() {
        let fx = fixture("notzone");
        assert_unchanged(
            &fx,
            &[
                add("new.example.test", rtype::A, a(1)),
                add("www.example.org", rtype::A, a(1)),
            ],
            rcode::NOTZONE,
        );
    }

    /// Meta types are no data (§3.4.1.2): FORMERR.
    #[test]
    fn a_meta_type_is_formerr() {
        let fx = fixture("meta");
        assert_unchanged(
            &fx,
            &[add("new.example.test", rtype::ANY, a(1))],
            rcode::FORMERR,
        );
    }

    /// What the grant does not cover is REFUSED, all of the update with
    /// it.
    #[test]
    fn outside_the_grant_is_refused() {
        let grant = UpdateGrant {
            names: vec![NameMatch::FirstLabel(b"_acme-challenge".to_vec().into())],
            types: vec![rtype::TXT],
            ..grant_all()
        };
        let fx = fixture_with("grant", SerialPolicy::Increment, grant, None);
        assert_unchanged(
            &fx,
            &[
                add("_acme-challenge.www.example.test", rtype::TXT, txt("t")),
                add("www.example.test", rtype::TXT, txt("t")),
            ],
            rcode::REFUSED,
        );
        assert_changed(
            &fx,
            &[add(
                "_acme-challenge.www.example.test",
                rtype::TXT,
                txt("t"),
            )],
            |z| {
                z.insert(record(
                    "_acme-challenge.www.example.test",
                    rtype::TXT,
                    300,
                    txt("t"),
                ));
            },
        );
    }

    /// A CNAME beside other data, or data beside a CNAME, is ignored as
    /// RFC 2136 §3.4.2.2 says (NOERROR, no change): it never reaches the
    /// zone's checks.
    #[test]
    fn cname_beside_other_data_is_ignored() {
        let fx = fixture("cname");
        assert_unchanged(
            &fx,
            &[
                add(
                    "www.example.test",
                    rtype::CNAME,
                    name_rdata("ns1.example.test"),
                ),
                add("alias.example.test", rtype::A, a(1)),
            ],
            rcode::NOERROR,
        );
        // A CNAME replaces the CNAME.
        assert_changed(
            &fx,
            &[add(
                "alias.example.test",
                rtype::CNAME,
                name_rdata("ns1.example.test"),
            )],
            |z| {
                z.remove_rrset(&wire_name("alias.example.test"), rtype::CNAME);
                z.insert(record(
                    "alias.example.test",
                    rtype::CNAME,
                    300,
                    name_rdata("ns1.example.test"),
                ));
            },
        );
    }

    /// A change that breaks the zone's rules (a second DNAME at a name:
    /// a zone file with it does not load) is REFUSED, and the zone keeps
    /// its version.
    #[test]
    fn a_change_breaking_zone_rules_is_refused() {
        let fx = fixture("rules");
        assert_unchanged(
            &fx,
            &[add(
                "old.example.test",
                rtype::DNAME,
                name_rdata("other.test"),
            )],
            rcode::REFUSED,
        );
        // Nothing of it is left behind: the next update is made.
        assert_changed(&fx, &[add("new.example.test", rtype::A, a(1))], |z| {
            z.insert(record("new.example.test", rtype::A, 300, a(1)));
        });
    }

    /// A journal that cannot write (its file is /dev/full: every write
    /// fails with ENOSPC) makes the update SERVFAIL, not REFUSED: the
    /// change was fine, the server could not keep it. The zone keeps its
    /// version. The `keep` serial policy makes the change remove nothing
    /// (no SOA swapped), so the write is really tried on the empty
    /// journal, rather than refused as a genesis that removes records.
    #[test]
    fn a_journal_write_failure_is_servfail() {
        let fx = fixture_with("full", SerialPolicy::Keep, grant_all(), None);
        let entry = fx.service.entry(&fx.apex).expect("entry");
        let (full, _) = Journal::open(Path::new("/dev/full")).expect("open /dev/full");
        let before = {
            let mut e = lock(&entry);
            e.journal = Some(full);
            (*e.records).clone()
        };
        assert_eq!(
            send(&fx, &[add("new.example.test", rtype::A, a(1))]),
            rcode::SERVFAIL
        );
        assert_eq!(records(&fx), before);

        // What the update met: the journal's write error, typed. That
        // journal is now unusable (cutting the failed write off /dev/full
        // fails too): a fresh one.
        let mut e = lock(&entry);
        let (full, _) = Journal::open(Path::new("/dev/full")).expect("open /dev/full");
        e.journal = Some(full);
        let err = fx
            .service
            .commit_delta(
                &mut e,
                vec![],
                vec![record("new.example.test", rtype::A, 300, a(1))],
                "test",
            )
            .expect_err("journal on /dev/full");
        assert!(
            matches!(
                &err,
                CommitError::JournalWrite {
                    err: JournalError {
                        problem: Problem::Write(_) | Problem::WriteAndCut { .. },
                        ..
                    },
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(
                "journal write failed, change from test not made: /dev/full: block 0 (offset 0): "
            ),
            "{err}"
        );
        assert_eq!(*e.records, before);
    }

    /// A zone whose journal could not be opened (its directory cannot be
    /// made: a path through a file) is served, but updates are SERVFAIL:
    /// nothing could make them durable.
    #[test]
    fn no_journal_is_servfail() {
        let fx = fixture_with(
            "nojournal",
            SerialPolicy::Increment,
            grant_all(),
            Some(PathBuf::from("/dev/null/journals")),
        );
        let entry = fx.service.entry(&fx.apex).expect("entry");
        let before = {
            let e = lock(&entry);
            assert!(e.journal.is_none() && e.journal_error.is_some());
            (*e.records).clone()
        };
        assert_eq!(
            send(&fx, &[add("new.example.test", rtype::A, a(1))]),
            rcode::SERVFAIL
        );
        assert_eq!(records(&fx), before);
    }

    /// Nobody the policy admits: REFUSED before anything is looked at.
    #[test]
    fn a_client_no_grant_admits_is_refused() {
        let fx = fixture("stranger");
        let before = records(&fx);
        let answer = fx
            .service
            .update(
                &message(&[add("new.example.test", rtype::A, a(1))]),
                SocketAddr::from(([192, 0, 2, 99], 5353)),
            )
            .expect("answer");
        let parsed = wire::message::parse(&answer).expect("answer parses");
        assert_eq!(u16::from(parsed.header.rcode()), rcode::REFUSED);
        assert_eq!(records(&fx), before);
        assert_eq!(journal_blocks(&fx), 1);
    }
}
