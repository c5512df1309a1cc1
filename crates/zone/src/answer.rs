//! Authoritative answers for class IN (RFC 1034 §4.3.2).
//!
//! The work runs in phases, as in Knot's `internet.c`:
//! 1. **find the zone**: the closest enclosing zone we serve (REFUSED if
//!    none, SERVFAIL if its file was refused);
//! 2. **find the name** ([`lookup`]): walk from the apex down to the query
//!    name, stopping at a zone cut (referral) or a DNAME, else an exact
//!    match, a wildcard (RFC 4592) or nothing (NXDOMAIN);
//! 3. **answer**: the RRset asked for, or a CNAME to follow (inside the
//!    zones we serve, loops cut), or NODATA;
//! 4. **authority**: the SOA for negative answers (RFC 2308), the NS set
//!    for referrals;
//! 5. **additional**: A/AAAA for the targets of NS, MX and SRV records we
//!    hold, glue for referrals (RFC 9471).
//!
//! If the answer or authority section does not fit, the RRset that did not
//! fit is removed whole and TC is set (RFC 2181 §9); an additional record
//! that does not fit is left out, unless it is glue a referral needs.
//!
//! For DO queries to a signed zone, [`signed`] adds the RRSIGs and the
//! NSEC/NSEC3 proofs.

mod signed;

use wire::name::{is_subdomain, to_lowercase, uncompressed_len, MAX_NAME_LEN};
use wire::types::{class, flags, rcode, rtype};
use wire::{Response, Section};

use crate::catalog::{Catalog, ZoneState};
use crate::tree::{Node, RRset, Zone};
use signed::{Proof, MAX_PROOFS};

/// The most CNAMEs (real or synthesised from a DNAME) in one answer, as
/// Knot: the resolver asks again for the rest of a longer chain.
const MAX_CHAIN: usize = 5;
/// The most RRsets remembered to keep a chain from repeating itself.
const MAX_WRITTEN: usize = 2 * MAX_CHAIN + 2;
/// The most RRsets whose targets get additional-section records.
const MAX_ADDITIONAL_SOURCES: usize = 8;
/// The most distinct targets given addresses; further ones get none
/// rather than risk a duplicate RRset.
const MAX_TARGETS: usize = 32;

/// Where a name led inside one zone.
#[derive(Debug)]
pub enum Lookup<'z> {
    /// The name exists.
    Exact(Node<'z>),
    /// The name does not exist, but a wildcard at its closest encloser
    /// does: answer from it as if it were the name.
    Wildcard(Node<'z>),
    /// A zone cut at or above the name: refer to the child.
    Delegation { cut: &'z [u8], node: Node<'z> },
    /// A DNAME above the name redirects it.
    Dname { owner: &'z [u8], node: Node<'z> },
    /// Nothing at or below the closest encloser matches.
    NxDomain,
}

/// Finds `name` (lowercase wire, at or below the apex) in `zone`.
pub fn lookup<'z>(zone: &'z Zone, name: &[u8], qtype: u16) -> Lookup<'z> {
    let apex_len = zone.apex.len();
    // Most names asked for exist and sit under no cut or DNAME (that is
    // what `occluded` records): one lookup instead of one per label.
    if let Some((key, node)) = zone.get_key_value(name) {
        if !node.occluded {
            if key.len() != apex_len && node.is_cut && qtype != rtype::DS {
                return Lookup::Delegation { cut: key, node };
            }
            return Lookup::Exact(node);
        }
    }
    let mut offsets = [0u8; wire::name::MAX_LABELS];
    let labels = wire::name::label_offsets(name, &mut offsets);
    let apex_labels = wire::name::label_count(&zone.apex);

    // Depth d: the suffix of `name` with d labels, from the apex down.
    let mut encloser: &'z [u8] = &zone.apex;
    for d in apex_labels..=labels {
        let start = if d == 0 {
            name.len() - 1
        } else {
            offsets[labels - d] as usize
        };
        let suffix = &name[start..];
        let Some((key, node)) = zone.get_key_value(suffix) else {
            return wildcard(zone, encloser);
        };
        let is_apex = key.len() == apex_len;
        if d < labels {
            if !is_apex && node.is_cut {
                return Lookup::Delegation { cut: key, node };
            }
            if node.get(rtype::DNAME).is_some() {
                return Lookup::Dname { owner: key, node };
            }
        } else {
            // DS lives on the parent side of a cut: answer it here.
            if !is_apex && node.is_cut && qtype != rtype::DS {
                return Lookup::Delegation { cut: key, node };
            }
            return Lookup::Exact(node);
        }
        encloser = key;
    }
    Lookup::NxDomain
}

/// RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`.
fn wildcard<'z>(zone: &'z Zone, encloser: &[u8]) -> Lookup<'z> {
    let mut buf = [0u8; MAX_NAME_LEN + 2];
    if encloser.len() + 2 > MAX_NAME_LEN {
        return Lookup::NxDomain;
    }
    buf[0] = 1;
    buf[1] = b'*';
    buf[2..2 + encloser.len()].copy_from_slice(encloser);
    match zone.node(&buf[..2 + encloser.len()]) {
        Some(node) => Lookup::Wildcard(node),
        None => Lookup::NxDomain,
    }
}

/// A name on the stack.
#[derive(Clone, Copy)]
struct NameBuf {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl NameBuf {
    fn lowercase(name: &[u8]) -> Self {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = to_lowercase(name, &mut buf).len();
        NameBuf { buf, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A list of at most `N` items on the stack that costs nothing to create:
/// an answer's bookkeeping must not zero hundreds of bytes per query.
struct Stack<T: Copy, const N: usize> {
    len: usize,
    items: [std::mem::MaybeUninit<T>; N],
}

impl<T: Copy, const N: usize> Stack<T, N> {
    fn new() -> Self {
        Stack {
            len: 0,
            items: [const { std::mem::MaybeUninit::uninit() }; N],
        }
    }

    /// Adds `item`; a full list keeps what it has.
    fn push(&mut self, item: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            slot.write(item);
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[T] {
        // SAFETY: `push` wrote the first `len` items, and `len` only grows.
        unsafe { std::slice::from_raw_parts(self.items.as_ptr().cast::<T>(), self.len) }
    }
}

/// An RRset whose targets need additional-section addresses.
#[derive(Clone, Copy)]
struct AdditionalSource<'z> {
    zone: &'z Zone,
    set: RRset<'z>,
    /// Referral NS: glue below cuts may be used, and glue inside the
    /// delegated name must fit (or TC is set).
    referral: Option<&'z [u8]>,
}

/// What an answer was made from, for those who account for answers
/// (Response Rate Limiting keys wildcard answers by the wildcard).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The question's name was answered from a wildcard (RFC 4592).
    pub wildcard: bool,
}

/// Answers a class IN query into `resp` (whose question is written);
/// `lname` is the question name in lowercase.
pub fn answer_in(
    catalog: &Catalog,
    lname: &[u8],
    qtype: u16,
    dnssec_ok: bool,
    resp: &mut Response,
) -> Facts {
    let Some((_, state)) = catalog.find(lname, qtype == rtype::DS) else {
        resp.set_rcode(rcode::REFUSED);
        return Facts::default();
    };
    let ZoneState::Ready(zone) = state else {
        resp.set_rcode(rcode::SERVFAIL);
        return Facts::default();
    };
    resp.set_flag(flags::AA, true);
    let mut ctx = Answer {
        catalog,
        resp,
        qtype,
        dnssec_ok,
        truncated: false,
        sources: Stack::new(),
        written: Stack::new(),
        wildcards: Stack::new(),
        proofs: Stack::new(),
        cnames: 0,
        at_question: true,
        qname_len: lname.len(),
        from_wildcard: false,
    };
    ctx.resolve(zone, lname);
    if !ctx.truncated && !ctx.proofs.as_slice().is_empty() {
        ctx.put_proofs();
    }
    if !ctx.truncated {
        ctx.additional();
    }
    Facts {
        wildcard: ctx.from_wildcard,
    }
}

/// The state of one answer being built.
struct Answer<'c, 'r, 'b> {
    catalog: &'c Catalog,
    resp: &'r mut Response<'b>,
    qtype: u16,
    dnssec_ok: bool,
    truncated: bool,
    sources: Stack<AdditionalSource<'c>, MAX_ADDITIONAL_SOURCES>,
    /// CNAME/DNAME RRsets in the answer, with a hash of their owner.
    written: Stack<(*const u8, u32), MAX_WRITTEN>,
    /// Wildcard nodes a CNAME was synthesised from.
    wildcards: Stack<*const u8, MAX_CHAIN>,
    /// NSEC/NSEC3 RRsets for the authority section (DO, signed zones).
    proofs: Stack<Proof<'c>, MAX_PROOFS>,
    /// CNAMEs written so far, synthesised ones included.
    cnames: usize,
    /// The name being answered is the question's (the first hop).
    at_question: bool,
    qname_len: usize,
    /// The question's name matched a wildcard.
    from_wildcard: bool,
}

/// A case-folded hash of a name (FNV-1a), to tell owners apart.
fn owner_hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    })
}

impl<'c> Answer<'c, '_, '_> {
    /// Phases 2–4, following CNAME and DNAME links.
    ///
    /// Loops end the way Knot ends them: at most [`MAX_CHAIN`] CNAMEs; a
    /// CNAME RRset already in the answer ends the chain; a DNAME already
    /// in it is not written again (its CNAME still is); a wildcard CNAME
    /// whose node was used before is written once more, then ends it.
    fn resolve(&mut self, mut zone: &'c Zone, first: &[u8]) {
        // The question's name is used as it is; a CNAME's target is held
        // here (a name buffer copied per query was measurable).
        let mut held: Option<NameBuf> = None;
        // Every hop but the last writes a CNAME, so this bound is never
        // the one that stops a chain; it only makes termination obvious.
        for hop in 0..=2 * MAX_CHAIN + 1 {
            let name = held.as_ref().map_or(first, NameBuf::as_slice);
            let next = match lookup(zone, name, self.qtype) {
                Lookup::Exact(node) => self.at_node(zone, name, node, false),
                Lookup::Wildcard(node) => {
                    self.from_wildcard |= hop == 0;
                    self.at_node(zone, name, node, true)
                }
                Lookup::Delegation { cut, node } => {
                    if hop == 0 {
                        self.resp.set_flag(flags::AA, false);
                    }
                    self.referral(zone, cut, node);
                    None
                }
                Lookup::Dname { owner, node } => self.dname(zone, name, owner, node),
                Lookup::NxDomain => {
                    self.resp.set_rcode(rcode::NXDOMAIN);
                    self.negative(zone);
                    self.deny_name(zone, name);
                    None
                }
            };
            let Some(target) = next else { return };
            self.at_question = false;
            if self.truncated {
                return;
            }
            // Follow only into zones we serve and hold.
            match self
                .catalog
                .find(target.as_slice(), self.qtype == rtype::DS)
            {
                Some((_, ZoneState::Ready(z))) => zone = z,
                _ => return,
            }
            held = Some(target);
        }
    }

    /// Records that `set` went into the answer at `owner`; false if it
    /// was there already (a loop).
    fn first_time(&mut self, owner: &[u8], set: RRset<'c>) -> bool {
        let key = (set.identity(), owner_hash(owner));
        if self.written.as_slice().contains(&key) {
            return false;
        }
        self.written.push(key);
        true
    }

    /// Records a visit to a wildcard node; false if it was visited before.
    fn first_wildcard_visit(&mut self, node: Node<'c>) -> bool {
        let key = node.identity();
        if self.wildcards.as_slice().contains(&key) {
            return false;
        }
        self.wildcards.push(key);
        true
    }

    /// The name (or its wildcard) exists: answer, follow a CNAME, or NODATA.
    /// Returns the CNAME target to follow.
    fn at_node(
        &mut self,
        zone: &'c Zone,
        name: &[u8],
        node: Node<'c>,
        wildcard: bool,
    ) -> Option<NameBuf> {
        let owner = name;
        if self.qtype == rtype::ANY {
            // RFC 8482 §4.2: one RRset answers ANY, as Knot and NSD do
            // (over TCP too); the lowest type, as Knot picks.
            if let Some(set) = node.rrsets().next() {
                self.put_answer(zone, owner, node, set, wildcard);
                return None;
            }
        }
        if let Some(set) = node.get(self.qtype) {
            self.put_answer(zone, owner, node, set, wildcard);
            return None;
        }
        if let Some(cname) = node.get(rtype::CNAME) {
            if self.cnames >= MAX_CHAIN || (!wildcard && !self.first_time(owner, cname)) {
                return None;
            }
            self.cnames += 1;
            if !self.put_signed(Section::Answer, owner, cname, self.sigs(zone, node)) {
                return None;
            }
            if wildcard {
                self.prove_wildcard(zone, owner);
                if !self.first_wildcard_visit(node) {
                    return None;
                }
            }
            let target = cname.first();
            return uncompressed_len(target).map(|n| NameBuf::lowercase(&target[..n]));
        }
        self.negative(zone);
        self.deny_type(zone, name, wildcard);
        None
    }

    /// An RRset answering the question (with its RRSIGs, and for a
    /// wildcard the proof that no closer name exists).
    fn put_answer(
        &mut self,
        zone: &'c Zone,
        owner: &[u8],
        node: Node<'c>,
        set: RRset<'c>,
        wildcard: bool,
    ) {
        if self.put_signed(Section::Answer, owner, set, self.sigs(zone, node)) {
            self.note_additional(zone, set, None);
            if wildcard {
                self.prove_wildcard(zone, owner);
            }
        }
    }

    /// RFC 6672 §3.3: the DNAME, then a CNAME synthesised from it.
    fn dname(
        &mut self,
        zone: &'c Zone,
        name: &[u8],
        owner: &'c [u8],
        node: Node<'c>,
    ) -> Option<NameBuf> {
        let dname = node.get(rtype::DNAME)?;
        if self.cnames >= MAX_CHAIN {
            return None;
        }
        // The synthesised CNAME below is never signed (RFC 6672 §5.3.1).
        if self.first_time(owner, dname)
            && !self.put_signed(Section::Answer, owner, dname, self.sigs(zone, node))
        {
            return None;
        }
        let target = dname.first();
        let target = &target[..uncompressed_len(target)?];
        let prefix = &name[..name.len() - owner.len()];
        if prefix.len() + target.len() > MAX_NAME_LEN {
            // The substituted name would be too long (RFC 6672 §2.2).
            self.resp.set_rcode(rcode::YXDOMAIN);
            return None;
        }
        let mut synth = [0u8; MAX_NAME_LEN];
        synth[..prefix.len()].copy_from_slice(prefix);
        synth[prefix.len()..prefix.len() + target.len()].copy_from_slice(target);
        let synth = &synth[..prefix.len() + target.len()];
        let fits = self
            .resp
            .push_record(
                Section::Answer,
                name,
                rtype::CNAME,
                class::IN,
                dname.ttl(),
                synth,
            )
            .is_ok();
        if !fits {
            self.truncate();
            return None;
        }
        self.cnames += 1;
        if self.qtype == rtype::CNAME {
            return None;
        }
        Some(NameBuf::lowercase(synth))
    }

    /// A referral: NS of the cut in authority (and DS when asked for
    /// DNSSEC), glue noted for the additional section.
    fn referral(&mut self, zone: &'c Zone, cut: &'c [u8], node: Node<'c>) {
        let Some(ns) = node.get(rtype::NS) else {
            return;
        };
        if !self.put_set(Section::Authority, cut, ns) {
            return;
        }
        // NS at a cut and glue are the child's: never signed here.
        if self.signing(zone) {
            match node.get(rtype::DS) {
                Some(ds) => {
                    if !self.put_signed(Section::Authority, cut, ds, Some(node)) {
                        return;
                    }
                }
                None => self.deny_ds(zone, cut),
            }
        }
        self.note_additional(zone, ns, Some(cut));
    }

    /// NXDOMAIN or NODATA: the zone's SOA in authority with the negative
    /// TTL (RFC 2308 §3), and its RRSIGs with that TTL too (as Knot and
    /// NSD give them) when signing.
    fn negative(&mut self, zone: &'c Zone) {
        if !self.signing(zone) {
            self.negative_soa(zone);
            return;
        }
        let mark = self.resp.mark();
        if !self.negative_soa(zone) {
            return;
        }
        let Some(apex) = zone.apex_node() else { return };
        if !self.put_rrsigs(
            Section::Authority,
            &zone.apex,
            rtype::SOA,
            zone.negative_ttl,
            apex,
        ) {
            self.resp.rollback(mark);
            self.truncate();
        }
    }

    /// The SOA of [`Answer::negative`]; false if it did not fit.
    fn negative_soa(&mut self, zone: &'c Zone) -> bool {
        // At the question's own zone the apex is the question name's
        // suffix: the rendered SOA points there.
        if self.at_question {
            if let Some(soa) = zone.negative_soa() {
                let apex_at = 12 + self.qname_len - zone.apex.len();
                if self
                    .resp
                    .push_pointing(Section::Authority, &soa.bytes, &soa.patches, apex_at)
                    .is_ok()
                {
                    return true;
                }
            }
        }
        let Some(soa) = zone.soa() else { return true };
        let fits = self
            .resp
            .push_record(
                Section::Authority,
                &zone.apex,
                rtype::SOA,
                class::IN,
                zone.negative_ttl,
                soa.first(),
            )
            .is_ok();
        if !fits {
            self.truncate();
        }
        fits
    }

    /// Writes an RRset whole, or sets TC and writes none of it.
    fn put_set(&mut self, section: Section, owner: &[u8], set: RRset<'_>) -> bool {
        // At the question name (the first hop's answer, not a DNAME above
        // it), RDATA without names goes in as stored.
        if self.at_question
            && section == Section::Answer
            && owner.len() == self.qname_len
            && wire::Layout::of(set.rtype()) == wire::Layout::Opaque
        {
            let (records, count) = set.rendered();
            if self.resp.push_rendered(section, records, count).is_ok() {
                return true;
            }
        }
        let mark = self.resp.mark();
        for rdata in set.rdatas() {
            let ok = self
                .resp
                .push_record(section, owner, set.rtype(), class::IN, set.ttl(), rdata)
                .is_ok();
            if !ok {
                self.resp.rollback(mark);
                self.truncate();
                return false;
            }
        }
        true
    }

    fn truncate(&mut self) {
        self.truncated = true;
        self.resp.set_flag(flags::TC, true);
    }

    fn note_additional(&mut self, zone: &'c Zone, set: RRset<'c>, referral: Option<&'c [u8]>) {
        if !matches!(
            set.rtype(),
            rtype::NS | rtype::MX | rtype::SRV | rtype::SVCB | rtype::HTTPS
        ) {
            return;
        }
        self.sources.push(AdditionalSource {
            zone,
            set,
            referral,
        });
    }

    /// Phase 5: addresses of the NS, MX, SRV, SVCB and HTTPS targets we
    /// hold, synthesised from a wildcard where one covers the target.
    ///
    /// Glue a referral needs (targets inside the delegated name) goes in
    /// first, so optional addresses cannot crowd it out; if it does not
    /// fit, TC is set (RFC 9471 §3). Other addresses are left out when
    /// they do not fit.
    fn additional(&mut self) {
        // Most answers (A, AAAA, negative) have no targets: skip even
        // setting up the table below.
        if self.sources.as_slice().is_empty() {
            return;
        }
        // Targets point into the zone's RDATA rather than being copied:
        // 32 name buffers zeroed per query were 5% of its cost.
        let mut targets: [(usize, &'c [u8], bool); MAX_TARGETS] = [(0, &[], false); MAX_TARGETS];
        let mut count = 0;
        'sources: for (i, src) in self.sources.as_slice().iter().enumerate() {
            let offset = match src.set.rtype() {
                rtype::MX | rtype::SVCB | rtype::HTTPS => 2,
                rtype::SRV => 6,
                _ => 0,
            };
            for rdata in src.set.rdatas() {
                let Some(target) = rdata.get(offset..) else {
                    continue;
                };
                let Some(len) = uncompressed_len(target) else {
                    continue;
                };
                if len == 1 {
                    continue; // the root: no target
                }
                let target = &target[..len];
                if targets[..count]
                    .iter()
                    .any(|(_, t, _)| wire::name::eq_ignore_case(t, target))
                {
                    continue;
                }
                if count == MAX_TARGETS {
                    break 'sources;
                }
                // is_subdomain ignores case: no lowercased copy needed.
                let required = src.referral.is_some_and(|cut| is_subdomain(target, cut));
                targets[count] = (i, target, required);
                count += 1;
            }
        }
        for pass_required in [true, false] {
            for (i, target, required) in &targets[..count] {
                if *required == pass_required {
                    let src = self.sources.as_slice()[*i];
                    let target = NameBuf::lowercase(target);
                    self.add_addresses(&src, target.as_slice(), *required);
                }
            }
        }
    }

    /// A and AAAA of `t` from the source's zone, if we hold them.
    fn add_addresses(&mut self, src: &AdditionalSource<'c>, t: &[u8], required: bool) {
        if !is_subdomain(t, &src.zone.apex) {
            return;
        }
        let glue = src.referral.is_some();
        let node = match src.zone.node(t) {
            Some(node) if !(node.occluded || node.is_cut) => node,
            Some(node) if glue && !below_dname(src.zone, t) => node,
            Some(_) => return,
            None => match lookup(src.zone, t, rtype::A) {
                Lookup::Wildcard(node) => node,
                _ => return,
            },
        };
        // Glue (at or below a cut) is the child's and unsigned; the
        // zone's own addresses get their RRSIGs, as Knot and NSD give them.
        let authoritative = !(node.occluded || node.is_cut);
        let sigs = (authoritative && self.signing(src.zone)).then_some(node);
        for ty in [rtype::A, rtype::AAAA] {
            let Some(set) = node.get(ty) else { continue };
            let mark = self.resp.mark();
            let fits = set.rdatas().all(|rdata| {
                self.resp
                    .push_record(Section::Additional, t, ty, class::IN, set.ttl(), rdata)
                    .is_ok()
            }) && sigs
                .is_none_or(|sigs| self.put_rrsigs(Section::Additional, t, ty, set.ttl(), sigs));
            if !fits {
                self.resp.rollback(mark);
                if required {
                    self.resp.set_flag(flags::TC, true);
                }
            }
        }
    }
}

/// Whether `name`, an occluded name of `zone`, is hidden by a DNAME
/// rather than below a cut: the nearer of the two above it decides. Data
/// below a DNAME is never served (RFC 6672 §2.4), not even as glue;
/// data below a cut is the child's, and glue.
fn below_dname(zone: &Zone, name: &[u8]) -> bool {
    let mut above = name;
    while above.len() > zone.apex.len() {
        let Some(p) = wire::name::parent(above) else {
            return false;
        };
        above = p;
        let Some(node) = zone.node(above) else {
            continue;
        };
        // A DNAME at a cut is the child's: the cut decides.
        if node.is_cut {
            return false;
        }
        if node.get(rtype::DNAME).is_some() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests;
