//! DNSSEC signing of the zones a policy signs, where changes are made:
//! every version [`Service::commit`] makes is signed first (keeping what
//! still holds of the current one), signatures near expiry are refreshed
//! from the control loop, and the console asks for status, a full
//! re-sign, or keys read again.

use std::sync::Arc;
use std::time::Instant;

use wire::types::rtype;
use zone::records::RecordSet;

use crate::service::{lock, unix_now, CommitError, Entry, Role, Service, SharedEntry};

/// A zone's signing state.
#[derive(Debug)]
pub(crate) struct Signing {
    /// Opened at the zone's first change, and again when its policy or
    /// key directory changes or the console asks for the keys again.
    pub signer: Option<dnssec::Signer>,
    /// Why a zone with a policy is not being signed.
    pub error: Option<String>,
    /// When its earliest signature is due for refresh (Unix seconds).
    pub next_resign: u64,
    /// The last signing run: when, the serial, signatures made and kept.
    pub last: Option<(u64, u32, usize, usize)>,
    /// When the parental agents are asked for the DS next.
    pub ds_check_at: u64,
    /// Signatures made since the process started.
    pub made_total: u64,
    /// The next run makes every signature anew (the console's
    /// `dnssecSign`, Knot's `zone-sign`).
    pub resign_all: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Signing {
            signer: None,
            error: None,
            next_resign: u64::MAX,
            last: None,
            ds_check_at: 0,
            made_total: 0,
            resign_all: false,
        }
    }
}

impl Service {
    /// `next` signed, when the zone's policy signs it (else as it is),
    /// keeping every signature of the current version that still holds.
    /// A zone that was signed and whose keys are missing is refused: it
    /// keeps serving its last version.
    pub(crate) fn signed_version(
        &self,
        e: &mut Entry,
        next: RecordSet,
    ) -> Result<RecordSet, CommitError> {
        let Some(policy) = e.settings.dnssec.clone() else {
            return Ok(next);
        };
        if matches!(e.role, Role::Secondary(_)) {
            // Signing a transferred zone (a "bump in the wire") is not
            // done yet: its serials would have to be mapped.
            return Ok(next);
        }
        let now = unix_now();
        let was_signed = e
            .records
            .rrset_entries(&e.apex, rtype::DNSKEY)
            .next()
            .is_some();
        if e.signing
            .signer
            .as_ref()
            .is_none_or(|s| s.signing != policy)
        {
            match dnssec::Signer::open(&e.apex, policy, was_signed, now) {
                Ok(s) => {
                    e.signing.signer = Some(s);
                    e.signing.error = None;
                }
                Err(err) => {
                    e.signing.error = Some(err.to_string());
                    return Err(CommitError::NotSigned(err));
                }
            }
        }
        let Some(signer) = e.signing.signer.as_mut() else {
            return Ok(next);
        };
        let max_ttl = next.entries().map(|(_, _, _, ttl)| ttl).max().unwrap_or(0);
        match signer.roll(now, max_ttl) {
            Ok(lines) => lines.iter().for_each(|l| log::info!("{l}")),
            Err(err) => log::error!("zone {}: key rollover not started: {err}", e.name),
        }
        let previous = was_signed.then_some(&*e.records);
        let reuse = !e.signing.resign_all;
        let started = Instant::now();
        let out = signer
            .sign(&next, previous, reuse, now, e.settings.serial_policy)
            .map_err(CommitError::NotSigned)?;
        e.signing.resign_all = false;
        let key_event = signer.next_key_event(now).unwrap_or(u64::MAX);
        e.signing.next_resign = out.next_refresh.min(key_event);
        e.signing.last = Some((now, out.serial, out.made, out.reused));
        e.signing.made_total += out.made as u64;
        log::info!(
            "zone {}: signed serial {} in {:.3} s ({} signatures made, {} kept)",
            e.name,
            out.serial,
            started.elapsed().as_secs_f64(),
            out.made,
            out.reused
        );
        Ok(out.records)
    }

    /// Signs a zone just loaded from its file, before anything is served
    /// or journaled from it (nothing happens without a policy).
    pub(crate) fn sign_loaded(&self, e: &mut Entry, source: &str) {
        if e.settings.dnssec.is_none() {
            return;
        }
        match self.signed_version(e, (*e.records).clone()) {
            Ok(signed) => {
                match signed.to_zone(&e.apex, source) {
                    Ok((z, _)) => e.zone = Some(Arc::new(z)),
                    Err(err) => {
                        log::error!(
                            "zone {}: the signed version does not compile: {err}",
                            e.name
                        );
                        return;
                    }
                }
                e.serial = crate::service::signed_serial(&signed, &e.apex).unwrap_or(e.serial);
                e.records = Arc::new(signed);
            }
            Err(err) => log::error!("zone {}: {err}", e.name),
        }
    }

    /// Re-signs the zones whose signatures are due for refresh; the
    /// control loop calls it, never the query path.
    pub fn resign_due(&self) {
        let now = unix_now();
        for entry in self.entries() {
            self.check_parent_ds(&entry, now);
            let mut e = lock(&entry);
            if e.signing.signer.is_none() || e.signing.next_resign > now {
                continue;
            }
            self.resign(&mut e, "signature refresh", now);
        }
    }

    /// Asks the parental agents for the DS of a zone whose key-signing key
    /// rollover waits for it (every `parent-check-interval`, over TCP, the
    /// zone's lock let go meanwhile). When every agent has the new keys'
    /// DS and none of the old ones', the old keys retire, as
    /// `dnssecKSKSubmitted` would make them (Knot's rule: a stale old DS
    /// holds the rollover back).
    fn check_parent_ds(&self, entry: &SharedEntry, now: u64) {
        let (apex, name, agents, want, gone) = {
            let mut e = lock(entry);
            let Some(z) = e.settings.dnssec.as_ref() else {
                return;
            };
            if z.parental_agents.is_empty() || e.signing.ds_check_at > now {
                return;
            }
            let agents = z.parental_agents.clone();
            let interval = z.policy.parent_check_interval;
            let Some(waiting) = e
                .signing
                .signer
                .as_ref()
                .and_then(|s| s.waiting_for_ds(now))
            else {
                return;
            };
            e.signing.ds_check_at = now + interval;
            (e.apex.clone(), e.name.clone(), agents, waiting.0, waiting.1)
        };
        let has = |ds: &[Vec<u8>], (tag, alg): (u16, u8)| {
            ds.iter()
                .any(|d| d.get(..3) == Some(&[(tag >> 8) as u8, tag as u8, alg][..]))
        };
        for agent in &agents {
            match crate::secondary::ds_query(*agent, &apex) {
                Ok(ds)
                    if want.iter().all(|k| has(&ds, *k)) && !gone.iter().any(|k| has(&ds, *k)) => {}
                Ok(ds) => {
                    log::info!(
                        "zone {name}: DS check at {agent}: negative ({} DS records; waiting for \
                         the new key's DS and the old one's removal)",
                        ds.len()
                    );
                    return;
                }
                Err(err) => {
                    log::warn!("zone {name}: DS check at {agent} failed: {err}");
                    return;
                }
            }
        }
        log::info!("zone {name}: DS check positive at every parental agent");
        self.dnssec_ksk_submitted(&apex);
    }

    fn resign(&self, e: &mut Entry, why: &str, now: u64) -> String {
        let current = (*e.records).clone();
        match self.commit(e, current, why) {
            Ok(true) => format!("zone {}: signed, serial {}", e.name, e.serial),
            Ok(false) => format!("zone {}: nothing to sign anew", e.name),
            Err(err) => {
                log::error!("zone {}: {why} failed: {err}", e.name);
                // Try again in a while, not on every tick.
                e.signing.next_resign = now + 300;
                format!("zone {}: {why} failed: {err}", e.name)
            }
        }
    }

    /// The console's `dnssecSign(zone, all)`: signs the zone now, every
    /// signature anew with `all` (else only what is due), reading its key
    /// files again first (keys added or retimed with `dnssec-keygen` and
    /// `dnssec-settime` take effect).
    pub fn dnssec_sign(&self, apex: &[u8], all: bool) -> String {
        let name = wire::name::to_text(apex);
        let Some(entry) = self.entry(apex) else {
            return format!("zone {name} is not configured");
        };
        let mut e = lock(&entry);
        if e.settings.dnssec.is_none() {
            return format!("zone {name} has no DNSSEC policy");
        }
        e.signing.signer = None;
        e.signing.resign_all = all;
        self.resign(&mut e, "console", unix_now())
    }

    /// The console's `dnssecKSKSubmitted(zone)`: the parent holds the new
    /// key-signing key's DS; the old key retires once caches let it.
    pub fn dnssec_ksk_submitted(&self, apex: &[u8]) -> String {
        let name = wire::name::to_text(apex);
        let Some(entry) = self.entry(apex) else {
            return format!("zone {name} is not configured");
        };
        let mut e = lock(&entry);
        let now = unix_now();
        let Some(signer) = e.signing.signer.as_mut() else {
            return format!("zone {name} is not being signed here");
        };
        let lines = match signer.ksk_submitted(now) {
            Ok(lines) => lines,
            Err(err) => return format!("zone {name}: {err}"),
        };
        let key_event = signer.next_key_event(now).unwrap_or(u64::MAX);
        e.signing.next_resign = e.signing.next_resign.min(key_event);
        for l in &lines {
            log::info!("zone {name}: {l}");
        }
        format!("zone {name}: {}", lines.join("; "))
    }

    /// The console's `dnssecStatus(zone)`: policy, keys and their state,
    /// the last signing and the next refresh.
    pub fn dnssec_status(&self, apex: &[u8]) -> String {
        let name = wire::name::to_text(apex);
        let Some(entry) = self.entry(apex) else {
            return format!("zone {name} is not configured");
        };
        let e = lock(&entry);
        let Some(z) = &e.settings.dnssec else {
            return format!("zone {name}: not signed here (no DNSSEC policy)");
        };
        let now = unix_now();
        let denial = match &z.policy.denial {
            dnssec::Denial::Nsec => "NSEC".to_string(),
            dnssec::Denial::Nsec3 {
                iterations,
                salt,
                opt_out,
            } => format!(
                "NSEC3 iterations {iterations}, salt length {}{}",
                salt.len(),
                if *opt_out { ", opt-out" } else { "" }
            ),
        };
        let mut out = format!(
            "zone {name}: policy \"{}\", {denial}, keys in {}\n",
            z.policy.name,
            z.key_directory.display()
        );
        if let Some(err) = &e.signing.error {
            out.push_str(&format!("  NOT SIGNING: {err}\n"));
        }
        if let Some(s) = &e.signing.signer {
            for k in s.keys() {
                let role = if k.flags & 1 == 1 { "KSK/CSK" } else { "ZSK" };
                let state = match (k.timing.active(now), k.timing.published(now)) {
                    (true, _) => "active",
                    (false, true) => "published",
                    _ => "retired",
                };
                let when = |t: Option<u64>| t.map_or("-".into(), wire::time::format);
                out.push_str(&format!(
                    "  key {} {} {role} {state} (publish {}, activate {}, inactive {}, delete {})\n",
                    k.tag,
                    dnssec::policy::algorithm::name(k.algorithm),
                    when(k.timing.publish),
                    when(k.timing.activate),
                    when(k.timing.inactive),
                    when(k.timing.delete),
                ));
                if k.flags & 1 == 1 && k.timing.published(now) {
                    // What the parent should hold (RFC 4509 SHA-256).
                    let ds = dnssec::keys::ds_sha256(&e.apex, &k.dnskey);
                    let digest: String = ds[4..].iter().map(|b| format!("{b:02X}")).collect();
                    out.push_str(&format!(
                        "    DS for the parent: {name} IN DS {} {} 2 {digest}\n",
                        k.tag, k.algorithm
                    ));
                }
            }
        }
        if let Some((new, old)) = e
            .signing
            .signer
            .as_ref()
            .and_then(|s| s.waiting_for_ds(now))
        {
            let tags = |keys: Vec<(u16, u8)>| {
                keys.iter()
                    .map(|(t, _)| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "  KSK rollover: waiting for the parent's DS of key {} (and the removal of key {}'s); {}\n",
                tags(new),
                tags(old),
                if z.parental_agents.is_empty() {
                    "run dnssecKSKSubmitted when it is there"
                } else {
                    "the parental agents are asked"
                }
            ));
        }
        if let Some((at, serial, made, kept)) = e.signing.last {
            out.push_str(&format!(
                "  last signed {} UTC: serial {serial}, {made} signatures made, {kept} kept\n",
                wire::time::format(at)
            ));
        }
        if e.signing.next_resign != u64::MAX {
            out.push_str(&format!(
                "  next refresh {} UTC (in {} s)\n",
                wire::time::format(e.signing.next_resign),
                e.signing.next_resign.saturating_sub(now)
            ));
        }
        out.pop();
        out
    }
}
