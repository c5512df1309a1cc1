//! Key rollovers as BIND's `dnssec-policy` and Knot's KASP do them, kept
//! in the keys' own timing metadata (so `dnssec-settime` and BIND read
//! the same schedule):
//!
//! - a zone-signing key near the end of its lifetime gets a successor
//!   published ahead of use (pre-publication, RFC 6781 §4.1.1.1); the old
//!   key stops signing when the new one starts and leaves the DNSKEY set
//!   once what it signed has expired from caches;
//! - a key-signing key (or CSK) gets a successor that signs beside it
//!   (double signature, RFC 6781 §4.1.2), its CDS and CDNSKEY published
//!   for the parent; the old key retires only when the operator says the
//!   new DS is at the parent (`dnssecKSKSubmitted`), as Knot's
//!   `zone-ksk-submitted`, once the old DS can have left caches.

use crate::error::DnssecError;
use crate::keys::{Key, Timing};

/// A key as a DS names it: its tag and algorithm.
pub type KeyId = (u16, u8);
use crate::signer::Signer;

impl Signer {
    /// Starts the rollovers the policy's key lifetimes call for at `now`;
    /// `max_ttl` is the zone's largest TTL (how long resolvers may keep
    /// what an old key signed). Returns what was done, for the log.
    pub fn roll(&mut self, now: u64, max_ttl: u32) -> Result<Vec<String>, DnssecError> {
        let policy = self.signing.policy.clone();
        let propagation = policy.zone_propagation_delay;
        let lead = u64::from(policy.dnskey_ttl) + policy.publish_safety + propagation;
        let mut done = Vec::new();
        for spec in policy.keys.iter().filter(|s| s.lifetime > 0) {
            let flags = spec.role.flags();
            let same = |k: &Key| k.algorithm == spec.algorithm && k.flags == flags;
            // The key in use: active, no end set yet.
            let Some(current) = self
                .keys
                .iter()
                .position(|k| same(k) && k.timing.active(now) && k.timing.inactive.is_none())
            else {
                continue;
            };
            let start = {
                let t = &self.keys[current].timing;
                t.activate.or(t.publish).or(t.created).unwrap_or(now)
            };
            let has_successor = self.keys.iter().any(|k| {
                same(k)
                    && k.timing.delete.is_none_or(|d| d > now)
                    && k.timing.activate.unwrap_or(0) > start
            });
            if has_successor || now + lead < start + spec.lifetime {
                continue;
            }
            let zone = wire::name::to_text(self.apex());
            let dir = self.signing.key_directory.clone();
            if flags & 1 == 0 {
                // Pre-publication: the successor in the DNSKEY set now,
                // used from when the old key's lifetime ends.
                let switch = (start + spec.lifetime).max(now + lead);
                let timing = Timing {
                    publish: Some(now),
                    activate: Some(switch),
                    ..Timing::default()
                };
                let new =
                    Key::generate(self.apex(), spec.algorithm, flags, &dir, now, Some(timing))?;
                let old = &mut self.keys[current];
                let retire = u64::from(max_ttl) + policy.retire_safety + propagation;
                old.set_timing(Timing {
                    inactive: Some(switch),
                    delete: Some(switch + retire),
                    ..old.timing
                })?;
                done.push(format!(
                    "zone {zone}: ZSK rollover: key {} published, signs from {} UTC; key {} retires then",
                    new.tag,
                    wire::time::format(switch),
                    old.tag
                ));
                self.keys.push(new);
            } else {
                // Double signature: the successor signs beside the old key
                // at once; its CDS/CDNSKEY go out for the parent.
                let new = Key::generate(self.apex(), spec.algorithm, flags, &dir, now, None)?;
                done.push(format!(
                    "zone {zone}: KSK rollover: key {} published and signing beside key {}; put its \
                     DS at the parent (CDS/CDNSKEY are published), then run \
                     dnssecKSKSubmitted(\"{zone}\")",
                    new.tag, self.keys[current].tag
                ));
                self.keys.push(new);
            }
        }
        Ok(done)
    }

    /// The parent now holds the DS of the newest key-signing keys: the
    /// older ones keep signing until the old DS can have left caches (the
    /// parent's DS TTL and propagation delay), then leave.
    pub fn ksk_submitted(&mut self, now: u64) -> Result<Vec<String>, DnssecError> {
        let policy = self.signing.policy.clone();
        let end = now + policy.parent_ds_ttl + policy.parent_propagation_delay;
        let mut done = Vec::new();
        let ksks: Vec<usize> = (0..self.keys.len())
            .filter(|&i| {
                let k = &self.keys[i];
                k.flags & 1 == 1 && k.timing.active(now) && k.timing.inactive.is_none()
            })
            .collect();
        for &i in &ksks {
            let (alg, started) = {
                let k = &self.keys[i];
                (k.algorithm, k.timing.activate.unwrap_or(0))
            };
            let newer = ksks.iter().any(|&j| {
                let k = &self.keys[j];
                k.algorithm == alg && k.timing.activate.unwrap_or(0) > started
            });
            if !newer {
                continue;
            }
            let old = &mut self.keys[i];
            old.set_timing(Timing {
                inactive: Some(end),
                delete: Some(end),
                ..old.timing
            })?;
            done.push(format!(
                "key {} retires at {} UTC, once the old DS has left caches",
                old.tag,
                wire::time::format(end)
            ));
        }
        if done.is_empty() {
            done.push("no key-signing key rollover is waiting for the parent".into());
        }
        Ok(done)
    }

    /// The first time after `now` that a key is published, starts or
    /// stops signing, or leaves, or a key's lifetime calls for a
    /// successor: the zone is signed again then.
    pub fn next_key_event(&self, now: u64) -> Option<u64> {
        let policy = &self.signing.policy;
        let lead =
            u64::from(policy.dnskey_ttl) + policy.publish_safety + policy.zone_propagation_delay;
        let rolls = policy
            .keys
            .iter()
            .filter(|s| s.lifetime > 0)
            .filter_map(|s| {
                self.keys
                    .iter()
                    .filter(|k| k.algorithm == s.algorithm && k.flags == s.role.flags())
                    .filter(|k| k.timing.inactive.is_none() && k.timing.delete.is_none())
                    .filter_map(|k| k.timing.activate.or(k.timing.publish))
                    .max()
                    .map(|start| (start + s.lifetime).saturating_sub(lead))
            });
        self.keys
            .iter()
            .flat_map(|k| {
                let t = k.timing;
                [t.publish, t.activate, t.inactive, t.delete]
            })
            .flatten()
            .chain(rolls)
            .filter(|&t| t > now)
            .min()
    }

    /// A key-signing key rollover waiting for the parent: the (tag,
    /// algorithm) of the keys whose DS the parent should end up with (the
    /// newest), and of those whose DS must be gone.
    pub fn waiting_for_ds(&self, now: u64) -> Option<(Vec<KeyId>, Vec<KeyId>)> {
        let ksks: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| k.flags & 1 == 1 && k.timing.active(now) && k.timing.inactive.is_none())
            .collect();
        let newest = |k: &Key| {
            !ksks.iter().any(|o| {
                o.algorithm == k.algorithm
                    && o.timing.activate.unwrap_or(0) > k.timing.activate.unwrap_or(0)
            })
        };
        let (new, old): (Vec<&Key>, Vec<&Key>) = ksks.iter().partition(|k| newest(k));
        if old.is_empty() {
            return None;
        }
        let ids = |keys: Vec<&Key>| keys.iter().map(|k| (k.tag, k.algorithm)).collect();
        Some((ids(new), ids(old)))
    }
}
