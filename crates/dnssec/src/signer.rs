//! Signing a zone's records whole, the way Knot's signing steps go: the
//! records the signer owns (DNSKEY, CDS, CDNSKEY, RRSIG, NSEC, NSEC3,
//! NSEC3PARAM) are dropped and made again from the keys and the data,
//! and every RRSIG of the previous version that still covers the same
//! RRset with the same key and is not due for refresh is kept. So a
//! change re-signs only what it touched (its RRsets, the neighbouring
//! NSEC or NSEC3 records and the SOA), and the difference between the
//! two versions, which the journal keeps and IXFR sends, holds only
//! those signatures.

use std::collections::{HashMap, HashSet};

use wire::name::{is_subdomain, parent};
use wire::types::rtype;
use zone::records::{with_serial, Record, RecordSet, SerialPolicy};

use crate::chain;
use crate::error::DnssecError;
use crate::keys::{self, Key};
use crate::policy::{Denial, ZoneSigning};
use crate::rrsig::{self, Validity};

/// The types the signer makes; in a zone it signs, any of them that come
/// from the zone file, an update or a transfer are replaced.
pub const SIGNER_TYPES: [u16; 7] = [
    rtype::DNSKEY,
    rtype::RRSIG,
    rtype::NSEC,
    rtype::NSEC3,
    rtype::NSEC3PARAM,
    rtype::CDS,
    rtype::CDNSKEY,
];

/// Whether the signer makes records of type `t`.
pub fn signer_owned(t: u16) -> bool {
    SIGNER_TYPES.contains(&t)
}

/// `set` without the records the signer makes: the zone as its operator
/// wrote it.
pub fn unsigned_view(set: &RecordSet) -> RecordSet {
    set.iter().filter(|r| !signer_owned(r.rtype)).collect()
}

/// A zone's keys and policy.
pub struct Signer {
    apex: Box<[u8]>,
    pub signing: ZoneSigning,
    pub(crate) keys: Vec<Key>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("apex", &wire::name::to_text(&self.apex))
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// What signing a version gave.
#[derive(Debug)]
pub struct Outcome {
    pub records: RecordSet,
    /// Signatures made now, and kept from the previous version.
    pub made: usize,
    pub reused: usize,
    /// When the earliest signature is due for refresh (Unix seconds).
    pub next_refresh: u64,
    /// The SOA serial of the signed version.
    pub serial: u32,
}

use rrsig::RRsetRef as Job;

impl Signer {
    /// The signer of the zone `apex`: its keys read from the key
    /// directory, and the keys its policy asks for made when missing,
    /// unless the zone `was_signed` before (its keys lost): then nothing
    /// is made, and the error says why (the caller keeps serving the
    /// last signed version rather than re-key behind the operator's back,
    /// BIND's footgun).
    pub fn open(
        apex: &[u8],
        signing: ZoneSigning,
        was_signed: bool,
        now: u64,
    ) -> Result<Signer, DnssecError> {
        signing.policy.check()?;
        let dir = &signing.key_directory;
        let mut keys = keys::load_dir(apex, dir)?;
        for spec in &signing.policy.keys {
            let flags = spec.role.flags();
            let have = keys.iter().any(|k| {
                k.algorithm == spec.algorithm
                    && k.flags == flags
                    && k.timing.delete.is_none_or(|d| d > now)
            });
            if have {
                continue;
            }
            if was_signed {
                return Err(DnssecError::KeysLost {
                    role: if flags == 257 {
                        "key-signing"
                    } else {
                        "zone-signing"
                    },
                    algorithm: spec.algorithm,
                    dir: dir.clone(),
                });
            }
            let key = Key::generate(apex, spec.algorithm, flags, dir, now, None)?;
            log::info!(
                "zone {}: made {} key {} (algorithm {}) in {}",
                wire::name::to_text(apex),
                if flags == 257 {
                    "key-signing"
                } else {
                    "zone-signing"
                },
                key.tag,
                spec.algorithm,
                dir.display()
            );
            keys.push(key);
        }
        Ok(Signer {
            apex: apex.into(),
            signing,
            keys,
        })
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The zone's apex (lowercase wire).
    pub fn apex(&self) -> &[u8] {
        &self.apex
    }

    fn jitter(&mut self) -> u64 {
        let j = self.signing.policy.signatures_jitter;
        if j == 0 {
            return 0;
        }
        wire::random::fast() % j
    }

    /// Signs `unsigned` (signer-made records in it are ignored), keeping
    /// what can be kept from `previous` (the last signed version). When
    /// anything but the SOA changed and the serial did not, the serial is
    /// moved on as `serial_policy` says (by one if it says keep): every
    /// signed version has its own serial. Without `reuse` every
    /// signature is made anew (Knot's `zone-sign`).
    pub fn sign(
        &mut self,
        unsigned: &RecordSet,
        previous: Option<&RecordSet>,
        reuse: bool,
        now: u64,
        serial_policy: SerialPolicy,
    ) -> Result<Outcome, DnssecError> {
        let reuse_from = if reuse { previous } else { None };
        let apex = self.apex.clone();
        let zone_text = wire::name::to_text(&apex);
        let policy = self.signing.policy.clone();
        let mut out: RecordSet = unsigned
            .entries()
            .filter(|(o, t, _, _)| !signer_owned(*t) && is_subdomain(o, &apex))
            .map(|(o, t, r, ttl)| Record {
                owner: o.into(),
                rtype: t,
                ttl,
                rdata: r.into(),
            })
            .collect();
        let soa = out.soa(&apex).ok_or_else(|| DnssecError::NoSoa {
            zone: zone_text.clone(),
        })?;
        let minimum = zone::build::soa_fields(&soa.rdata).map_or(soa.ttl, |(_, m)| m);
        let denial_ttl = soa.ttl.min(minimum);

        // The apex's key records.
        let published: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].timing.published(now))
            .collect();
        if !published.iter().any(|&i| self.keys[i].timing.active(now)) {
            return Err(DnssecError::NoActiveKey {
                zone: zone_text.clone(),
            });
        }
        let apex_record = |t: u16, ttl: u32, rdata: Vec<u8>| Record {
            owner: apex.clone(),
            rtype: t,
            ttl,
            rdata: rdata.into(),
        };
        for &i in &published {
            let k = &self.keys[i];
            out.insert(apex_record(
                rtype::DNSKEY,
                policy.dnskey_ttl,
                k.dnskey.to_vec(),
            ));
            if policy.cds && k.flags & 1 == 1 && k.timing.active(now) {
                out.insert(apex_record(
                    rtype::CDS,
                    policy.dnskey_ttl,
                    keys::ds_sha256(&apex, &k.dnskey),
                ));
                out.insert(apex_record(
                    rtype::CDNSKEY,
                    policy.dnskey_ttl,
                    k.dnskey.to_vec(),
                ));
            }
        }
        if let Denial::Nsec3 {
            iterations, salt, ..
        } = &policy.denial
        {
            out.insert(apex_record(
                rtype::NSEC3PARAM,
                0,
                chain::nsec3param_rdata(*iterations, salt),
            ));
        }

        // Which names are authoritative, which are cuts.
        let mut types_at: Vec<(&[u8], Vec<u16>)> = Vec::new();
        for (o, t, _, _) in out.entries() {
            match types_at.last_mut() {
                Some((owner, types)) if *owner == o => {
                    if types.last() != Some(&t) {
                        types.push(t);
                    }
                }
                _ => types_at.push((o, vec![t])),
            }
        }
        let cuts: HashSet<&[u8]> = types_at
            .iter()
            .filter(|(o, t)| *o != &*apex && t.contains(&rtype::NS))
            .map(|(o, _)| *o)
            .collect();
        let dnames: HashSet<&[u8]> = types_at
            .iter()
            .filter(|(_, t)| t.contains(&rtype::DNAME))
            .map(|(o, _)| *o)
            .collect();
        let occluded = |owner: &[u8]| -> bool {
            let mut at = owner;
            while at.len() > apex.len() {
                let Some(up) = parent(at) else { return false };
                if cuts.contains(up) || dnames.contains(up) {
                    return true;
                }
                at = up;
            }
            false
        };
        // (owner, types, is a cut)
        let auth: Vec<(&[u8], &Vec<u16>, bool)> = types_at
            .iter()
            .filter(|(o, _)| !occluded(o))
            .map(|(o, t)| (*o, t, cuts.contains(o)))
            .collect();

        let chain_records = match &policy.denial {
            Denial::Nsec => nsec_chain(&apex, &auth, denial_ttl),
            Denial::Nsec3 {
                iterations,
                salt,
                opt_out,
            } => nsec3_chain(&apex, &auth, denial_ttl, *iterations, salt, *opt_out).ok_or_else(
                || DnssecError::Nsec3Collision {
                    zone: zone_text.clone(),
                },
            )?,
        };
        let cut_set: HashSet<Box<[u8]>> = cuts.iter().map(|c| Box::<[u8]>::from(*c)).collect();
        let occluded_set: HashSet<Box<[u8]>> = types_at
            .iter()
            .filter(|(o, _)| occluded(o))
            .map(|(o, _)| Box::<[u8]>::from(*o))
            .collect();
        drop(auth);
        drop(types_at);
        for r in chain_records {
            out.insert(r);
        }

        // The RRsets to sign: authoritative data, DS and NSEC at cuts.
        let mut jobs: Vec<Job<'_>> = Vec::new();
        for (o, t, r, ttl) in out.entries() {
            if let Some(j) = jobs.last_mut() {
                if j.owner == o && j.rtype == t {
                    j.rdatas.push(r);
                    continue;
                }
            }
            let signed_here = if occluded_set.contains(o) {
                false
            } else if cut_set.contains(o) {
                matches!(t, rtype::DS | rtype::NSEC)
            } else {
                true
            };
            if signed_here {
                jobs.push(Job {
                    owner: o,
                    rtype: t,
                    ttl,
                    rdatas: vec![r],
                });
            }
        }

        let mut stats = Stats {
            made: 0,
            reused: 0,
            next_refresh: u64::MAX,
        };
        let mut sigs: Vec<Record> = Vec::new();
        let mut soa_job = None;
        let mut scratch = Vec::new();
        for (n, job) in jobs.iter().enumerate() {
            if job.rtype == rtype::SOA && job.owner == &*apex {
                soa_job = Some(n);
                continue;
            }
            self.sign_job(job, reuse_from, now, &mut stats, &mut sigs, &mut scratch)?;
        }
        // Whether anything but the SOA changed decides the serial.
        let old_serial = previous
            .and_then(|p| p.soa(&apex))
            .and_then(|s| zone::records::soa_serial(&s.rdata));
        let new_serial = zone::records::soa_serial(&soa.rdata).unwrap_or(0);
        let mut serial = new_serial;
        let mut new_soa = None;
        if let (Some(prev), Some(old)) = (previous, old_serial) {
            if old == new_serial && !same_but_soa(prev, &out, &sigs, &apex) {
                serial = match serial_policy {
                    SerialPolicy::Keep => old.wrapping_add(1),
                    p => p.next(old, now),
                };
                new_soa = with_serial(&soa.rdata, serial);
            }
        }
        drop(jobs);
        if let Some(rdata) = new_soa {
            out.remove(&soa);
            out.insert(Record {
                rdata,
                ..soa.clone()
            });
        }
        if soa_job.is_some() {
            let soa_now = out.soa(&apex).ok_or_else(|| DnssecError::NoSoa {
                zone: zone_text.clone(),
            })?;
            let job = Job {
                owner: &apex,
                rtype: rtype::SOA,
                ttl: soa_now.ttl,
                rdatas: vec![&soa_now.rdata],
            };
            self.sign_job(&job, reuse_from, now, &mut stats, &mut sigs, &mut scratch)?;
        }
        for s in sigs {
            out.insert(s);
        }
        Ok(Outcome {
            records: out,
            made: stats.made,
            reused: stats.reused,
            next_refresh: stats.next_refresh,
            serial,
        })
    }

    /// The RRSIGs of one RRset: kept from `previous` where they still
    /// hold, made otherwise, one per active key that should sign it.
    fn sign_job(
        &mut self,
        job: &Job<'_>,
        previous: Option<&RecordSet>,
        now: u64,
        stats: &mut Stats,
        sigs: &mut Vec<Record>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), DnssecError> {
        let policy = &self.signing.policy;
        let key_set = matches!(job.rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY);
        let validity_len = if job.rtype == rtype::DNSKEY {
            policy.signatures_validity_dnskey
        } else {
            policy.signatures_validity
        };
        let refresh = policy.signatures_refresh;
        let unchanged = previous.is_some_and(|p| {
            let mut old = p.rrset_entries(job.owner, job.rtype);
            job.rdatas
                .iter()
                .all(|r| old.next().is_some_and(|(o, ttl)| o == *r && ttl == job.ttl))
                && old.next().is_none()
        });
        let signers = self.signers(job.rtype, key_set, now);
        for i in signers {
            let key = &self.keys[i];
            let kept = if unchanged {
                previous.and_then(|p| {
                    p.rrset_entries(job.owner, rtype::RRSIG).find_map(|(r, _)| {
                        let f = rrsig::fields(r)?;
                        let expires = rrsig::unwrap_time(f.expiration, now);
                        let ok = f.covered == job.rtype
                            && f.algorithm == key.algorithm
                            && f.tag == key.tag
                            && f.original_ttl == job.ttl
                            && r.get(18..18 + self.apex.len()) == Some(&self.apex[..])
                            && rrsig::unwrap_time(f.inception, now) <= now
                            && expires > now + refresh;
                        ok.then(|| (r.to_vec(), expires))
                    })
                })
            } else {
                None
            };
            let (rdata, expires) = match kept {
                Some(k) => {
                    stats.reused += 1;
                    k
                }
                None => {
                    let jitter = self.jitter();
                    let key = &self.keys[i];
                    let validity = Validity {
                        inception: now.saturating_sub(self.signing.policy.inception_offset),
                        expiration: now + validity_len - jitter.min(validity_len / 4),
                    };
                    let rdata = rrsig::sign_rrset(key, &self.apex, job, validity, scratch)?;
                    stats.made += 1;
                    (rdata, validity.expiration)
                }
            };
            stats.next_refresh = stats.next_refresh.min(expires.saturating_sub(refresh));
            sigs.push(Record {
                owner: job.owner.into(),
                rtype: rtype::RRSIG,
                ttl: job.ttl,
                rdata: rdata.into(),
            });
        }
        Ok(())
    }

    /// The keys that sign an RRset of `rtype` at `now`: the active keys
    /// that sign keys for the key sets; for the rest, per algorithm, the
    /// active zone-signing keys, or the key-signing ones where an
    /// algorithm has none (a CSK). Every algorithm in the DNSKEY set
    /// signs everything (RFC 6840 §5.11).
    fn signers(&self, _rtype: u16, key_set: bool, now: u64) -> Vec<usize> {
        let active: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].timing.active(now))
            .collect();
        if key_set {
            return active
                .into_iter()
                .filter(|&i| self.keys[i].flags & 1 == 1)
                .collect();
        }
        let mut out = Vec::new();
        let mut algorithms: Vec<u8> = active.iter().map(|&i| self.keys[i].algorithm).collect();
        algorithms.dedup();
        algorithms.sort_unstable();
        algorithms.dedup();
        for a in algorithms {
            let of_alg = active
                .iter()
                .copied()
                .filter(|&i| self.keys[i].algorithm == a);
            let zsks: Vec<usize> = of_alg
                .clone()
                .filter(|&i| self.keys[i].flags & 1 == 0)
                .collect();
            if zsks.is_empty() {
                out.extend(of_alg);
            } else {
                out.extend(zsks);
            }
        }
        out
    }
}

struct Stats {
    made: usize,
    reused: usize,
    next_refresh: u64,
}

/// Whether `signed` (with `sigs` still to add) equals `prev` apart from
/// the apex SOA and its signatures.
fn same_but_soa(prev: &RecordSet, signed: &RecordSet, sigs: &[Record], apex: &[u8]) -> bool {
    let is_soa_part = |o: &[u8], t: u16, r: &[u8]| {
        o == apex
            && (t == rtype::SOA
                || (t == rtype::RRSIG && r.get(..2) == Some(&rtype::SOA.to_be_bytes()[..])))
    };
    let prev_count = prev
        .entries()
        .filter(|(o, t, r, _)| !is_soa_part(o, *t, r))
        .count();
    let new_count = signed
        .entries()
        .filter(|(o, t, r, _)| !is_soa_part(o, *t, r))
        .count()
        + sigs.len();
    if prev_count != new_count {
        return false;
    }
    let data_same = signed
        .entries()
        .filter(|(o, t, r, _)| !is_soa_part(o, *t, r))
        .all(|(o, t, r, ttl)| {
            prev.rrset_entries(o, t)
                .any(|(pr, pttl)| pr == r && pttl == ttl)
        });
    data_same
        && sigs.iter().all(|s| {
            prev.rrset_entries(&s.owner, rtype::RRSIG)
                .any(|(pr, pttl)| *pr == *s.rdata && pttl == s.ttl)
        })
}

/// The NSEC chain over the authoritative names and cuts.
fn nsec_chain(apex: &[u8], auth: &[(&[u8], &Vec<u16>, bool)], ttl: u32) -> Vec<Record> {
    // Sorted by canonical keys made once (one arena), compared with
    // memcmp: comparing names label by label was a tenth of signing a
    // large zone's chain.
    let mut keys = Vec::with_capacity(auth.len() * 24);
    let mut at = Vec::with_capacity(auth.len() + 1);
    let mut key = [0u8; zone::denial::MAX_KEY];
    for (owner, _, _) in auth {
        at.push(keys.len());
        let len = zone::denial::canonical_key(owner, &mut key);
        keys.extend_from_slice(&key[..len]);
    }
    at.push(keys.len());
    let key_of = |i: usize| &keys[at[i]..at[i + 1]];
    let mut order: Vec<usize> = (0..auth.len()).collect();
    order.sort_unstable_by(|&a, &b| key_of(a).cmp(key_of(b)));
    let names: Vec<(&[u8], &Vec<u16>)> = order.iter().map(|&i| (auth[i].0, auth[i].1)).collect();
    let mut out = Vec::with_capacity(names.len());
    for (i, (owner, types)) in names.iter().enumerate() {
        let next = names.get(i + 1).map_or(apex, |n| n.0);
        let mut t: Vec<u16> = types
            .iter()
            .copied()
            .filter(|t| {
                !signer_owned(*t)
                    || matches!(
                        *t,
                        rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC3PARAM
                    )
            })
            .collect();
        t.push(rtype::RRSIG);
        t.push(rtype::NSEC);
        t.sort_unstable();
        t.dedup();
        out.push(Record {
            owner: (*owner).into(),
            rtype: rtype::NSEC,
            ttl,
            rdata: chain::nsec_rdata(next, &t).into(),
        });
    }
    out
}

/// The NSEC3 chain: every authoritative name, every cut (unless opt-out
/// and unsigned), and every empty non-terminal above them; `None` if two
/// names hash alike.
fn nsec3_chain(
    apex: &[u8],
    auth: &[(&[u8], &Vec<u16>, bool)],
    ttl: u32,
    iterations: u16,
    salt: &[u8],
    opt_out: bool,
) -> Option<Vec<Record>> {
    let mut types_of: HashMap<&[u8], Vec<u16>> = HashMap::with_capacity(auth.len());
    for (owner, types, is_cut) in auth {
        let has_ds = types.contains(&rtype::DS);
        if *is_cut && opt_out && !has_ds {
            continue;
        }
        let mut t: Vec<u16> = types
            .iter()
            .copied()
            .filter(|t| *t != rtype::RRSIG && *t != rtype::NSEC3 && *t != rtype::NSEC)
            .collect();
        if !*is_cut || has_ds {
            t.push(rtype::RRSIG);
        }
        t.sort_unstable();
        t.dedup();
        types_of.insert(owner, t);
    }
    let named: Vec<&[u8]> = types_of.keys().copied().collect();
    for owner in named {
        let mut at = owner;
        while at.len() > apex.len() {
            let Some(up) = parent(at) else { break };
            if types_of.contains_key(up) {
                break;
            }
            types_of.insert(up, Vec::new());
            at = up;
        }
    }
    let params = zone::denial::Nsec3Params {
        iterations,
        salt: salt.into(),
    };
    let mut hashed: Vec<(Vec<u8>, [u8; 20], Vec<u16>)> = types_of
        .into_iter()
        .map(|(o, t)| {
            let (owner, hash) = chain::nsec3_owner(&params, o, apex);
            (owner, hash, t)
        })
        .collect();
    hashed.sort_unstable_by_key(|h| h.1);
    if hashed.windows(2).any(|w| w[0].1 == w[1].1) {
        return None;
    }
    let mut out = Vec::with_capacity(hashed.len());
    for (i, (owner, _, types)) in hashed.iter().enumerate() {
        let next = &hashed[(i + 1) % hashed.len()].1;
        out.push(Record {
            owner: owner.clone().into(),
            rtype: rtype::NSEC3,
            ttl,
            rdata: chain::nsec3_rdata(opt_out, iterations, salt, next, types).into(),
        });
    }
    Some(out)
}
