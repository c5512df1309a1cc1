//! NOTIFY (RFC 1996): telling secondaries a zone changed, and hearing
//! from our primaries that theirs did.
//!
//! Out: after every change, to the `also-notify` addresses and the
//! addresses the zone itself gives for its NS names (glue in the zone),
//! except the primary named in the SOA; each target is tried up to five
//! times, one, two, four, eight seconds apart, until it answers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::Level;
use wire::types::{class, flags, opcode, rcode, rtype};
use wire::{Query, Response, Section};
use zone::records::Record;

use crate::reply::{authenticate, Asked};
use crate::service::{lock as lock_entry, unix_now, Entry, Role, Service};
use crate::tsig::{self, Key};

const ATTEMPTS: u32 = 5;

/// Where NOTIFY goes for `e`: also-notify, then the in-zone addresses of
/// the apex NS names other than the SOA's MNAME (port 53).
pub(crate) fn targets(e: &Entry) -> Vec<SocketAddr> {
    let mut out = e.settings.also_notify.clone();
    let soa = e.soa();
    let mname_len = soa
        .as_ref()
        .and_then(|s| wire::name::uncompressed_len(&s.rdata))
        .unwrap_or(0);
    let mname = soa
        .as_ref()
        .map(|s| s.rdata[..mname_len].to_ascii_lowercase());
    for ns in e.records.rrset(&e.apex, rtype::NS) {
        let host = ns.rdata.to_ascii_lowercase();
        if Some(&host) == mname.as_ref() {
            continue;
        }
        for t in [rtype::A, rtype::AAAA] {
            for r in e.records.rrset(&host, t) {
                let ip = match r.rdata.len() {
                    4 => std::net::IpAddr::from(
                        <[u8; 4]>::try_from(&r.rdata[..]).unwrap_or_default(),
                    ),
                    16 => std::net::IpAddr::from(
                        <[u8; 16]>::try_from(&r.rdata[..]).unwrap_or_default(),
                    ),
                    _ => continue,
                };
                let addr = SocketAddr::new(ip, 53);
                if !out.contains(&addr) {
                    out.push(addr);
                }
            }
        }
    }
    out
}

/// Sends NOTIFY for the current version of `e` in the background.
pub(crate) fn send(service: &Service, e: &Entry) {
    if !service.is_started() {
        return;
    }
    let targets = targets(e);
    let Some(soa) = e.soa() else { return };
    if targets.is_empty() {
        return;
    }
    // Signed with the zone's transfer key when it has one: a secondary
    // that transfers with a key usually wants NOTIFY signed by it too.
    let settings = service.settings();
    let key = e
        .settings
        .transfer
        .keys
        .first()
        .and_then(|k| settings.keys.get(k).cloned());
    let name = e.name.clone();
    let serial = e.serial;
    let round = e.notify_round.fetch_add(1, Ordering::Relaxed) + 1;
    for target in targets {
        let (soa, key, job_name) = (soa.clone(), key.clone(), name.clone());
        let current = e.notify_round.clone();
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                // A newer change sends its own NOTIFY: this one stops.
                let stale = || current.load(Ordering::Relaxed) != round;
                notify_one(target, &soa, key.as_ref(), &job_name, serial, &stale)
            });
        if let Err(err) = spawned {
            log::error!("NOTIFY for {name} to {target}: cannot start: {err}");
        }
    }
}

/// Sends one NOTIFY until answered or out of attempts.
fn notify_one(
    target: SocketAddr,
    soa: &Record,
    key: Option<&Arc<Key>>,
    name: &str,
    serial: u32,
    stale: &dyn Fn() -> bool,
) {
    let sock = match wire::client::udp_socket_for(target) {
        Ok(s) => s,
        Err(err) => {
            log::error!("NOTIFY for {name} to {target}: {err}");
            return;
        }
    };
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        if stale() {
            return;
        }
        let id = crate::random_id();
        let Some((msg, verifier)) = notify_message(id, soa, key) else {
            return;
        };
        // The answer: from the target, with this attempt's ID; whatever
        // else it says is logged below. A failed send, like silence,
        // means another attempt.
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + wait;
        let answered = wire::client::ask_udp(&sock, target, &msg, deadline, &mut buf, |_| true);
        if let Ok(n) = answered {
            let answer = &buf[..n];
            let code = answer.get(3).map_or(0, |b| u16::from(b & 0xf));
            let checked = match verifier {
                Some(mut v) => v.check(answer, unix_now()).and_then(|_| v.finish()),
                None => Ok(()),
            };
            match (code, checked) {
                (rcode::NOERROR, Ok(())) => {
                    log::info!("NOTIFY for {name} serial {serial} to {target}: acknowledged")
                }
                (rcode::NOERROR, Err(e)) => {
                    log::warn!("NOTIFY for {name} to {target}: answer's signature: {e}")
                }
                (code, _) => log::warn!(
                    "NOTIFY for {name} serial {serial} to {target}: answered with rcode {code}"
                ),
            }
            return;
        }
        if attempt < ATTEMPTS {
            wait *= 2;
        }
    }
    log::warn!(
        "NOTIFY for {name} serial {serial} to {target}: no answer after {ATTEMPTS} attempts"
    );
}

/// A NOTIFY message for the zone of `soa`, signed if `key` is given.
fn notify_message(
    id: u16,
    soa: &Record,
    key: Option<&Arc<Key>>,
) -> Option<(Vec<u8>, Option<tsig::Verifier>)> {
    let mut buf = vec![0u8; 1024];
    let mut resp = Response::new(&mut buf, 1024);
    resp.set_header(id, (u16::from(opcode::NOTIFY) << 11) | flags::AA);
    resp.push_question(&soa.owner, rtype::SOA, class::IN).ok()?;
    resp.push_record(
        Section::Answer,
        &soa.owner,
        rtype::SOA,
        class::IN,
        soa.ttl,
        &soa.rdata,
    )
    .ok()?;
    let mut msg = resp.finish().to_vec();
    // The writer makes responses; a NOTIFY is a request.
    msg[2] &= 0x7f;
    let verifier = match key {
        Some(k) => Some(tsig::sign_request(&mut msg, k, unix_now()).ok()?),
        None => None,
    };
    Some((msg, verifier))
}

impl Service {
    /// A NOTIFY received for a zone this service holds; `None` when it
    /// holds no such zone (the zones answer NOTAUTH). A secondary's
    /// primaries (and only they, signed with the zone's key when it has
    /// one) make it refresh at once.
    pub fn notify_in(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        let query = Query::parse(packet).ok()?;
        let mut lower = [0u8; wire::name::MAX_NAME_LEN];
        let apex = wire::name::to_lowercase(query.qname, &mut lower).to_vec();
        let entry = self.entry(&apex)?;
        let now = unix_now();
        let settings = self.settings();
        let asked = Asked::of(&query);
        let what = || format!("NOTIFY for {} from {client}", wire::name::to_text(&apex));
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
        let e = lock_entry(&entry);
        let from_primary = e.settings.primaries.iter().any(|p| p.ip() == client.ip());
        let key_ok = match &e.settings.primary_key {
            Some(want) => key
                .as_ref()
                .is_some_and(|k| wire::name::eq_ignore_case(&k.name, want)),
            None => true,
        };
        let handle = match &e.role {
            Role::Secondary(h) if from_primary && key_ok => Some(h.clone()),
            _ => None,
        };
        let name = e.name.clone();
        drop(e);
        let Some(handle) = handle else {
            netmask::logthrottle::log(Level::Warn, "refused NOTIFY", Some(client.ip()), || {
                format!(
                    "NOTIFY for {name} from {client} refused: not one of its primaries{}",
                    if key_ok {
                        ""
                    } else {
                        " (or not signed with its key)"
                    }
                )
            });
            return Some(asked.reply(rcode::REFUSED, false, signer.as_mut(), now));
        };
        // A primary's address is easy to spoof over UDP: throttled too
        // (the refreshes it causes log what they transfer).
        netmask::logthrottle::log(Level::Info, "NOTIFY", Some(client.ip()), || {
            format!("NOTIFY for {name} from {client}: refreshing")
        });
        handle.wake();
        Some(asked.reply(rcode::NOERROR, true, signer.as_mut(), now))
    }
}
