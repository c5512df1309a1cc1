//! Answers the shield makes itself: RCodeAction, TCAction, Spoof*,
//! NegativeAndSOAAction.
//! Flags as dnsdist sets them: QR, RD copied, RA = RD, AA and AD clear.

use wire::types::{class, flags, rcode, rtype};
use wire::{Query, Response, Section};

use crate::action::Action;
use crate::rules::Outcome;

/// TTL of spoofed records (dnsdist's default).
const SPOOF_TTL: u32 = 60;

/// Writes the answer for `outcome` into `out`; `None` for outcomes that
/// are not answered here. `limit` is the size the transport allows.
pub fn self_answer(
    outcome: &Outcome,
    query: &Query,
    out: &mut [u8],
    limit: usize,
    max_payload: u16,
) -> Option<usize> {
    let rd = query.flags & flags::RD;
    let mut resp = Response::new(out, limit);
    let ra = if rd != 0 { flags::RA } else { 0 };
    resp.set_header(query.id, (query.flags & 0x7800) | rd | ra);
    resp.push_question(query.qname, query.qtype, query.qclass)
        .ok()?;
    let opt_space = if query.edns.is_some() { 11 } else { 0 };
    resp.set_limit(limit.saturating_sub(opt_space));
    let mut ext = rcode::NOERROR;
    match outcome {
        Outcome::RCode(rc) => {
            resp.set_rcode(*rc & 0xf);
            ext = *rc;
        }
        Outcome::Truncate => resp.set_flag(flags::TC, true),
        Outcome::Spoof(action) => spoof(action, query, &mut resp),
        _ => return None,
    }
    if let Some(edns) = query.edns {
        resp.set_limit(limit);
        if resp.push_opt(max_payload, ext, edns.dnssec_ok).is_err() {
            resp.set_flag(flags::TC, true);
        }
    }
    Some(resp.finish().len())
}

fn spoof(action: &Action, query: &Query, resp: &mut Response) {
    let owner = query.qname;
    let mut fits = true;
    match action {
        Action::Spoof(addrs) => {
            for a in addrs {
                let (v4, v6);
                let (t, data): (u16, &[u8]) = match a {
                    std::net::IpAddr::V4(a) => {
                        v4 = a.octets();
                        (rtype::A, &v4)
                    }
                    std::net::IpAddr::V6(a) => {
                        v6 = a.octets();
                        (rtype::AAAA, &v6)
                    }
                };
                if query.qtype == t || query.qtype == rtype::ANY {
                    fits &= resp
                        .push_record(Section::Answer, owner, t, class::IN, SPOOF_TTL, data)
                        .is_ok();
                }
            }
        }
        Action::SpoofCname(target, _) => {
            fits = resp
                .push_record(
                    Section::Answer,
                    owner,
                    rtype::CNAME,
                    class::IN,
                    SPOOF_TTL,
                    target,
                )
                .is_ok();
        }
        Action::NegativeSoa(n) => {
            resp.set_rcode(if n.nxdomain {
                rcode::NXDOMAIN
            } else {
                rcode::NOERROR
            });
            let section = if n.in_authority {
                Section::Authority
            } else {
                Section::Additional
            };
            fits = resp
                .push_record(section, &n.zone, rtype::SOA, class::IN, n.ttl, &n.rdata)
                .is_ok();
        }
        Action::SpoofRaw(rdatas) => {
            for r in rdatas {
                fits &= resp
                    .push_record(Section::Answer, owner, query.qtype, class::IN, SPOOF_TTL, r)
                    .is_ok();
            }
        }
        _ => {}
    }
    if !fits {
        resp.set_flag(flags::TC, true);
    }
}
