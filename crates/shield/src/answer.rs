//! Answers the shield makes itself: RCodeAction, TCAction, Spoof*,
//! NegativeAndSOAAction.
//! Flags as dnsdist sets them: QR, RD copied, RA = RD, AA and AD clear.

use wire::types::{class, flags, rcode, rtype};
use wire::{Query, Response, Section};

use crate::action::{Action, SpoofSettings};
use crate::rules::Outcome;

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
        Action::Spoof(addrs, settings) => {
            header(resp, query, settings);
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
                        .push_record(Section::Answer, owner, t, class::IN, settings.ttl, data)
                        .is_ok();
                }
            }
        }
        Action::SpoofCname(target, _, settings) => {
            header(resp, query, settings);
            fits = resp
                .push_record(
                    Section::Answer,
                    owner,
                    rtype::CNAME,
                    class::IN,
                    settings.ttl,
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
        Action::SpoofRaw(rdatas, settings) => {
            header(resp, query, settings);
            for r in rdatas {
                fits &= resp
                    .push_record(
                        Section::Answer,
                        owner,
                        query.qtype,
                        class::IN,
                        settings.ttl,
                        r,
                    )
                    .is_ok();
            }
        }
        _ => {}
    }
    if !fits {
        resp.set_flag(flags::TC, true);
    }
}

/// The header flags a Spoof* action's options ask for (dnsdist's
/// `setResponseHeadersFromConfig`): AA and AD as given or clear, RA as
/// given or as RD.
fn header(resp: &mut Response, query: &Query, settings: &SpoofSettings) {
    resp.set_flag(flags::AA, settings.aa.unwrap_or(false));
    resp.set_flag(flags::AD, settings.ad.unwrap_or(false));
    let rd = query.flags & flags::RD != 0;
    resp.set_flag(flags::RA, settings.ra.unwrap_or(rd));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for a.test/A, RD set, no EDNS.
    const QUERY: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x04test\x00\x00\x01\x00\x01";

    fn answer(settings: SpoofSettings) -> Vec<u8> {
        let q = Query::parse(QUERY).unwrap();
        let action = Action::Spoof(vec!["192.0.2.1".parse().unwrap()], settings);
        let mut out = [0u8; 512];
        let len = self_answer(&Outcome::Spoof(&action), &q, &mut out, 512, 1232).unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn spoof_options_set_the_header_and_ttl() {
        let plain = answer(SpoofSettings::default());
        let flags = u16::from_be_bytes([plain[2], plain[3]]);
        assert_eq!(flags & (flags::AA | flags::AD), 0);
        assert_ne!(flags & flags::RA, 0, "RA as RD");
        let ttl_at = QUERY.len() + 6;
        assert_eq!(plain[ttl_at..ttl_at + 4], 60u32.to_be_bytes());

        let set = answer(SpoofSettings {
            aa: Some(true),
            ad: Some(true),
            ra: Some(false),
            ttl: 1500,
        });
        let flags = u16::from_be_bytes([set[2], set[3]]);
        assert_ne!(flags & flags::AA, 0);
        assert_ne!(flags & flags::AD, 0);
        assert_eq!(flags & flags::RA, 0);
        assert_eq!(set[ttl_at..ttl_at + 4], 1500u32.to_be_bytes());
    }
}
