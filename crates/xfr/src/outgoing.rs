//! Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995) from the
//! zone's current records and the journal's changes, each message signed
//! when the request was (RFC 8945 §5.3.1).

use std::net::SocketAddr;
use std::sync::Arc;

use log::Level;
use wire::types::{class, flags, rcode, rtype};
use wire::{Query, Response, Section};
use zone::records::{serial_gt, soa_serial, Record};

use crate::journal::Change;
use crate::reply::{authenticate, Asked};
use crate::service::{lock as lock_entry, soa_first, unix_now, Service};
use crate::tsig::Signer;

/// Messages of a TCP transfer stay under this size, as BIND's and
/// Knot's do (smaller messages start flowing sooner).
const TCP_MESSAGE: usize = 16_384;

/// What a transfer request gets.
pub struct Transfer {
    pub messages: Vec<Vec<u8>>,
}

impl Service {
    /// Answers an AXFR or IXFR for a zone this service holds; `None` when
    /// it holds no such zone (the zones answer NOTAUTH/REFUSED). Over UDP
    /// (`udp_limit` set) only IXFR is answered, in one message: the
    /// changes if they fit, else the current SOA (RFC 1995 §2), which
    /// sends the client to TCP.
    pub fn transfer(
        &self,
        packet: &[u8],
        client: SocketAddr,
        udp_limit: Option<usize>,
    ) -> Option<Transfer> {
        let query = Query::parse(packet).ok()?;
        let mut lower = [0u8; wire::name::MAX_NAME_LEN];
        let apex = wire::name::to_lowercase(query.qname, &mut lower).to_vec();
        let entry = self.entry(&apex)?;
        let settings = self.settings();
        let now = unix_now();
        let asked = Asked::of(&query);
        let reply = |code: u16, signer: Option<&mut Signer>| -> Transfer {
            Transfer {
                messages: vec![asked.reply(code, false, signer, now)],
            }
        };
        let what = || format!("transfer of {} from {client}", wire::name::to_text(&apex));
        let (key, mut signer) = match authenticate(
            &asked,
            packet,
            &settings.keys,
            now,
            Some((&what, client.ip())),
        ) {
            Ok(checked) => checked,
            Err(refusal) => {
                return Some(Transfer {
                    messages: vec![refusal],
                })
            }
        };
        let ixfr_from = if query.qtype == rtype::IXFR {
            Some(client_serial(packet))
        } else {
            None
        };
        if udp_limit.is_some() && ixfr_from.is_none() {
            return None;
        }
        let e = lock_entry(&entry);
        let name = e.name.clone();
        if !e
            .settings
            .transfer
            .allows(client.ip(), key.as_ref().map(|k| &*k.name))
        {
            drop(e);
            netmask::logthrottle::log(Level::Warn, "refused transfer", Some(client.ip()), || {
                format!(
                    "transfer of {name} refused for {client}{}: not in its transfer ACL",
                    key.as_ref()
                        .map(|k| format!(" (key {})", k.name_text()))
                        .unwrap_or_default()
                )
            });
            return Some(reply(rcode::REFUSED, signer.as_mut()));
        }
        let Some(soa) = e.soa().filter(|_| e.zone.is_some()) else {
            drop(e);
            return Some(reply(rcode::SERVFAIL, signer.as_mut()));
        };
        let serial = e.serial;
        let records = e.records.clone();
        // Only the chain this client needs, taken while the lock is held
        // (not the whole history, up to 10,000 changes, per request).
        let changes = match ixfr_from {
            Some(Some(theirs)) if serial_gt(serial, theirs) => {
                incremental(&e.history, theirs, serial)
            }
            _ => None,
        };
        drop(e);

        let (body, kind) = match ixfr_from {
            Some(Some(theirs)) if !serial_gt(serial, theirs) => {
                (vec![soa.clone()], "IXFR (up to date)")
            }
            Some(Some(_)) => match changes {
                Some(changes) => (ixfr_body(&soa, &changes), "IXFR"),
                // Over UDP the whole zone never fits: the SOA sends the
                // client to TCP without building it.
                None if udp_limit.is_some() => (vec![soa.clone()], "IXFR over UDP, SOA only"),
                None => (axfr_body(&soa, records.iter().collect()), "IXFR as AXFR"),
            },
            // RFC 1995 §3: an IXFR without the client's SOA is FORMERR.
            Some(None) => return Some(reply(rcode::FORMERR, signer.as_mut())),
            None => (axfr_body(&soa, records.iter().collect()), "AXFR"),
        };
        let limit = udp_limit.unwrap_or(TCP_MESSAGE);
        let udp = udp_limit.is_some();
        let messages = match write_messages(&query, &body, limit, udp, signer.as_mut(), now) {
            Ok(m) => m,
            // Does not fit one datagram: the SOA alone sends it to TCP.
            Err(Unsendable::DoesNotFit) => {
                write_messages(&query, &[soa], limit, true, signer.as_mut(), now)
                    .unwrap_or_default()
            }
            Err(Unsendable::TooBig(i)) => {
                let r = &body[i];
                log::error!(
                    "{kind} of {name} to {client} not sent: {} type {} does not fit a 64 KB message",
                    wire::name::to_text(&r.owner),
                    wire::types::rtype_name(r.rtype)
                );
                return Some(reply(rcode::SERVFAIL, signer.as_mut()));
            }
            Err(Unsendable::Unsigned) => {
                log::error!("{kind} of {name} to {client} not sent: a message could not be signed");
                return Some(reply(rcode::SERVFAIL, None));
            }
        };
        log::info!(
            "{kind} of {name} serial {serial} to {client}{}: {} records in {} messages",
            key.as_ref()
                .map(|k| format!(" (key {})", k.name_text()))
                .unwrap_or_default(),
            body.len(),
            messages.len()
        );
        Some(Transfer { messages })
    }
}

/// The serial of the SOA a client put in the authority section of its
/// IXFR request.
fn client_serial(packet: &[u8]) -> Option<u32> {
    let msg = wire::message::parse(packet).ok()?;
    msg.records
        .iter()
        .find(|r| r.section == Section::Authority && r.rtype == rtype::SOA)
        .and_then(|r| soa_serial(&r.rdata))
}

/// The changes leading from `from` to `to`, if the history holds an
/// unbroken chain of them, each with its SOAs (a change made under the
/// `keep` serial policy cannot be sent as a difference).
fn incremental(history: &[Arc<Change>], from: u32, to: u32) -> Option<Vec<Arc<Change>>> {
    let start = history.iter().position(|c| c.serial_before == from)?;
    let chain = &history[start..];
    let mut serial = from;
    for c in chain {
        let has_soas = c.removed.first().is_some_and(|r| r.rtype == rtype::SOA)
            && c.added.first().is_some_and(|r| r.rtype == rtype::SOA);
        if c.serial_before != serial || !has_soas || c.serial_before == c.serial_after {
            return None;
        }
        serial = c.serial_after;
    }
    (serial == to).then(|| chain.to_vec())
}

/// SOA, every other record, SOA.
fn axfr_body(soa: &Record, records: Vec<Record>) -> Vec<Record> {
    let mut body = Vec::with_capacity(records.len() + 2);
    body.push(soa.clone());
    body.extend(records.into_iter().filter(|r| r.rtype != rtype::SOA));
    body.push(soa.clone());
    body
}

/// SOA, then per change: old SOA, removed, new SOA, added; then SOA.
fn ixfr_body(soa: &Record, changes: &[Arc<Change>]) -> Vec<Record> {
    let mut body = vec![soa.clone()];
    for c in changes {
        body.extend(soa_first(c.removed.clone(), &soa.owner));
        body.extend(soa_first(c.added.clone(), &soa.owner));
    }
    body.push(soa.clone());
    body
}

/// Why records could not be put in messages.
enum Unsendable {
    /// Over UDP: they do not fit one datagram (nothing was signed).
    DoesNotFit,
    /// This record does not fit even a 64 KB message of its own.
    TooBig(usize),
    /// A message could not be signed (one we built: a bug, not the
    /// client's doing); sent unsigned, the client would only reject it.
    Unsigned,
}

/// Splits `records` into answer messages of at most `limit` bytes, the
/// question in the first; a record too large for that gets a message of
/// its own up to 64 KB. Over UDP (`udp`) everything must fit one message.
/// Messages are signed only once they are all made, so a refusal leaves
/// the signer untouched for another answer.
fn write_messages(
    query: &Query,
    records: &[Record],
    limit: usize,
    udp: bool,
    signer: Option<&mut Signer>,
    now: u64,
) -> Result<Vec<Vec<u8>>, Unsendable> {
    // The TSIG goes inside the limit: over UDP, the client's size.
    let room = signer.as_ref().map_or(0, |s| s.room());
    let limit = limit.saturating_sub(room);
    let push = |resp: &mut Response, r: &Record| {
        resp.push_record(
            Section::Answer,
            &r.owner,
            r.rtype,
            class::IN,
            r.ttl,
            &r.rdata,
        )
    };
    let mut buf = vec![0u8; 65_535];
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let mut resp = Response::new(&mut buf, limit);
        resp.set_header(query.id, flags::AA | (query.flags & 0x7800));
        if out.is_empty()
            && resp
                .push_question(query.qname, query.qtype, query.qclass)
                .is_err()
        {
            return Err(Unsendable::DoesNotFit);
        }
        let first = i;
        while records.get(i).is_some_and(|r| push(&mut resp, r).is_ok()) {
            i += 1;
        }
        if i < records.len() {
            if udp {
                return Err(Unsendable::DoesNotFit);
            }
            if i == first {
                resp.set_limit(65_535 - room);
                if push(&mut resp, &records[i]).is_err() {
                    return Err(Unsendable::TooBig(i));
                }
                i += 1;
            }
        }
        out.push(resp.finish().to_vec());
        if i >= records.len() {
            break;
        }
    }
    if let Some(s) = signer {
        for msg in &mut out {
            s.sign(msg, now).map_err(|()| Unsendable::Unsigned)?;
        }
    }
    Ok(out)
}

impl Service {
    /// A signed ordinary query (a secondary's SOA check, a `dig -y`):
    /// answered by `respond` and signed (RFC 8945 §5.3), or refused with
    /// the TSIG error. `None` when the message carries no TSIG (the usual
    /// path answers it) or no key is configured at all.
    pub fn signed_query(
        &self,
        packet: &[u8],
        respond: impl FnOnce(&mut [u8]) -> Option<usize>,
        limit: usize,
    ) -> Option<Vec<u8>> {
        let settings = self.settings();
        if settings.keys.is_empty() {
            return None;
        }
        let now = unix_now();
        let query = Query::parse(packet).ok()?;
        // Not logged: these are ordinary queries, as many as clients send.
        match authenticate(&Asked::of(&query), packet, &settings.keys, now, None) {
            Err(refusal) => Some(refusal),
            Ok((_, None)) => None,
            Ok((_, Some(mut ctx))) => {
                // Room for the TSIG record inside the client's limit.
                let mut buf = vec![0u8; limit.saturating_sub(ctx.room())];
                let len = respond(&mut buf)?;
                buf.truncate(len);
                ctx.sign(&mut buf, now).ok()?;
                Some(buf)
            }
        }
    }
}
