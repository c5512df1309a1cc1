//! From a query packet to a response packet.
//!
//! [`respond`] is everything between the socket and the zone lookup: the
//! header checks (FORMERR, NOTIMP), EDNS(0) (BADVERS, the payload size, the
//! OPT in the response), classes (IN from the zones, CH for the
//! `version.bind`-style names when configured), and the size limit that
//! makes a UDP response truncate. It allocates nothing.

use wire::types::{class, flags, opcode, rcode, rtype, DEFAULT_UDP_PAYLOAD};
use wire::{ParseError, Query, Response, Section};

use crate::answer::{answer_in, Facts};
use crate::catalog::Catalog;

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Everything the query path reads: swapped whole on reload.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub catalog: Catalog,
    /// Answer for `version.bind` / `version.server` CH TXT, if set.
    pub version: Option<String>,
    /// Answer for `id.server` / `hostname.bind` CH TXT, if set.
    pub identity: Option<String>,
    /// The largest UDP response sent, whatever the client offers.
    pub max_udp_payload: u16,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            catalog: Catalog::new(),
            version: None,
            identity: None,
            max_udp_payload: DEFAULT_UDP_PAYLOAD,
        }
    }
}

/// Answers `packet` into `out`; returns the response length, or `None`
/// when nothing must be sent. `out` should hold 65535 bytes for TCP.
pub fn respond(
    snap: &Snapshot,
    packet: &[u8],
    out: &mut [u8],
    transport: Transport,
) -> Option<usize> {
    match Query::parse(packet) {
        Ok(query) => respond_query(snap, &query, out, transport),
        Err(ParseError::Drop) => None,
        Err(ParseError::FormErr) => Some(formerr(packet, out)),
    }
}

/// A header-only FORMERR for a packet that did not parse (echoing ID,
/// opcode and RD); 0 when the packet is too short to answer.
pub fn formerr(packet: &[u8], out: &mut [u8]) -> usize {
    header_only(packet, out, rcode::FORMERR)
}

/// Answers an already parsed query (the shield parsed it first).
pub fn respond_query(
    snap: &Snapshot,
    query: &Query,
    out: &mut [u8],
    transport: Transport,
) -> Option<usize> {
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    let limit = size_limit(snap, query, transport, out.len());
    respond_lowered(snap, query, lname, out, (transport, limit), 0).map(|(len, _)| len)
}

/// [`respond_query`] for a caller that has the query name in lowercase
/// already (`lname`) and the answer's size limit (`limit`, from
/// [`size_limit`]): the query path works both out once. `reserve` bytes
/// of the limit are kept free for EDNS options the caller adds to the
/// OPT afterwards (a DNS cookie), so truncation accounts for them.
pub fn respond_lowered(
    snap: &Snapshot,
    query: &Query,
    lname: &[u8],
    out: &mut [u8],
    (transport, limit): (Transport, usize),
    reserve: usize,
) -> Option<(usize, Facts)> {
    let query = *query;
    let limit = limit.min(out.len());
    let mut resp = Response::new(out, limit);
    // Opcode and RD are echoed (RFC 1035 §4.1.1). CD is not: RFC 4035
    // §3.1.6 asks an authoritative server to clear it, and Knot and NSD
    // leave it off every answer, refusals included. AD is never set.
    resp.set_header(query.id, query.flags & (0x7800 | flags::RD));
    if resp
        .push_question(query.qname, query.qtype, query.qclass)
        .is_err()
    {
        // Only a buffer under 271 bytes can refuse a question.
        return None;
    }

    let opt_space = if query.edns.is_some() {
        11 + reserve
    } else {
        0
    };
    resp.set_limit(limit.saturating_sub(opt_space).max(resp.len()));
    let mut ext_rcode = rcode::NOERROR;
    let mut facts = Facts::default();
    if query.edns.is_some_and(|e| e.version > 0) {
        // RFC 6891 §6.1.3: BADVERS, and nothing else answered.
        ext_rcode = rcode::BADVERS;
    } else if matches!(query.opcode, opcode::NOTIFY | opcode::UPDATE) {
        // The replication service answers these for the zones it holds;
        // any other zone does not take them (Knot's answer).
        resp.set_rcode(rcode::NOTAUTH);
    } else if query.opcode != opcode::QUERY {
        resp.set_rcode(rcode::NOTIMP);
    } else {
        match (query.qclass, query.qtype, transport) {
            // Both Knot and NSD: a zone transfer over UDP is not a thing.
            (_, rtype::AXFR, Transport::Udp) => resp.set_rcode(rcode::NOTIMP),
            // Transfers of zones the replication service holds never get
            // here: a zone of ours without transfer settings is REFUSED,
            // a name that is no apex of ours NOTAUTH (as Knot and NSD).
            (_, rtype::AXFR | rtype::IXFR, _) => {
                let ours = snap.catalog.get(lname).is_some();
                resp.set_rcode(if ours { rcode::REFUSED } else { rcode::NOTAUTH });
            }
            // Class ANY is looked up in IN, as Knot does.
            (class::IN | class::ANY, _, _) => {
                let dnssec_ok = query.edns.is_some_and(|e| e.dnssec_ok);
                facts = answer_in(&snap.catalog, lname, query.qtype, dnssec_ok, &mut resp);
            }
            (class::CH, _, _) => chaos(snap, &query, lname, &mut resp),
            _ => resp.set_rcode(rcode::REFUSED),
        }
    }

    if let Some(edns) = query.edns {
        resp.set_limit(limit.saturating_sub(reserve).max(resp.len() + 11));
        let payload = snap.max_udp_payload;
        if resp.push_opt(payload, ext_rcode, edns.dnssec_ok).is_err() {
            // Cannot happen: the space was kept free above.
            resp.set_flag(flags::TC, true);
        }
    }
    Some((resp.finish().len(), facts))
}

/// The largest answer to `query` the transport and the client allow,
/// in a buffer of `room` bytes: 512 without EDNS over UDP, else the
/// client's payload size capped by ours; 64 KB over TCP.
pub fn size_limit(snap: &Snapshot, query: &Query, transport: Transport, room: usize) -> usize {
    match (transport, query.edns) {
        (Transport::Tcp, _) => room.min(65535),
        (Transport::Udp, Some(edns)) => {
            usize::from(edns.udp_payload.min(snap.max_udp_payload.max(512)))
        }
        (Transport::Udp, None) => 512,
    }
}

/// A header-only response echoing ID, opcode and RD, with `code`.
fn header_only(packet: &[u8], out: &mut [u8], code: u16) -> usize {
    if out.len() < 12 || packet.len() < 4 {
        return 0;
    }
    out[..12].fill(0);
    out[0] = packet[0];
    out[1] = packet[1];
    out[2] = 0x80 | (packet[2] & 0x79); // QR, opcode, RD
    out[3] = code as u8;
    12
}

/// CH class: `version.bind`, `version.server`, `id.server`,
/// `hostname.bind`, answered only when the configuration gives them.
fn chaos(snap: &Snapshot, query: &Query, lname: &[u8], resp: &mut Response) {
    let text = match lname {
        b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => snap.version.as_deref(),
        b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => snap.identity.as_deref(),
        _ => None,
    };
    let Some(text) = text else {
        resp.set_rcode(rcode::REFUSED);
        return;
    };
    // Knot and NSD leave AA off these.
    if !matches!(query.qtype, rtype::TXT | rtype::ANY) {
        return;
    }
    let mut rdata = [0u8; 256];
    let bytes = &text.as_bytes()[..text.len().min(255)];
    rdata[0] = bytes.len() as u8;
    rdata[1..=bytes.len()].copy_from_slice(bytes);
    if resp
        .push_record(
            Section::Answer,
            query.qname,
            rtype::TXT,
            class::CH,
            0,
            &rdata[..=bytes.len()],
        )
        .is_err()
    {
        resp.set_flag(flags::TC, true);
    }
}
