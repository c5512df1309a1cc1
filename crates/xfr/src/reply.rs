//! What every replication request goes through first, and the replies
//! that carry no data: the TSIG check (RFC 8945 §5.2), and a header with
//! the question and an rcode, signed when the request was.

use std::net::IpAddr;
use std::sync::Arc;

use log::Level;

use wire::types::rcode;
use wire::{Query, Response};

use crate::tsig::{self, Checked, Key, KeyRing, Signer};

/// The request a reply answers: its ID, opcode and question.
pub(crate) struct Asked<'a> {
    pub id: u16,
    /// The request's flags word; only its opcode is echoed.
    pub flags: u16,
    pub qname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
}

impl<'a> Asked<'a> {
    pub fn of(query: &Query<'a>) -> Asked<'a> {
        Asked {
            id: query.id,
            flags: query.flags,
            qname: query.qname,
            qtype: query.qtype,
            qclass: query.qclass,
        }
    }

    /// A reply with the question only and `code`; authoritative when
    /// `aa` (BIND and Knot set it on NOTIFY answers); signed if asked.
    pub fn reply(&self, code: u16, aa: bool, signer: Option<&mut Signer>, now: u64) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut resp = Response::new(&mut buf, 512);
        resp.set_header(self.id, self.flags & 0x7800);
        let _ = resp.push_question(self.qname, self.qtype, self.qclass);
        resp.set_rcode(code);
        let mut msg = resp.finish().to_vec();
        if aa {
            msg[2] |= 0x04;
        }
        if let Some(s) = signer {
            let _ = s.sign(&mut msg, now);
        }
        msg
    }
}

/// A request's TSIG, checked against `keys`: the key it was signed with
/// (`None` when unsigned) and the signer for the answer, or the reply
/// that refuses it — FORMERR for an unreadable TSIG, NOTAUTH carrying
/// the TSIG error for a bad one. A refusal is logged as `what` describes
/// ("transfer of example.org. from 192.0.2.1:53000"), when given,
/// throttled by the client's network.
#[allow(clippy::type_complexity)]
pub(crate) fn authenticate(
    asked: &Asked,
    packet: &[u8],
    keys: &KeyRing,
    now: u64,
    what: Option<(&dyn Fn() -> String, IpAddr)>,
) -> Result<(Option<Arc<Key>>, Option<Signer>), Vec<u8>> {
    match tsig::check_request(packet, keys, now) {
        Err(()) => Err(asked.reply(rcode::FORMERR, false, None, now)),
        Ok(Checked::Unsigned) => Ok((None, None)),
        Ok(Checked::Valid { key, ctx }) => Ok((Some(key), Some(ctx))),
        Ok(Checked::Refused { error, reply }) => {
            if let Some((what, client)) = what {
                netmask::logthrottle::log(Level::Warn, "bad TSIG", Some(client), || {
                    format!("{} refused: TSIG error {}", what(), tsig::error_name(error))
                });
            }
            let mut msg = asked.reply(rcode::NOTAUTH, false, None, now);
            let _ = reply.append(&mut msg, now);
            Err(msg)
        }
    }
}
