//! EDNS Client Subnet (RFC 7871) for forwarded queries: dnsdist's
//! `useClientSubnet`, which tells a backend doing geo answers where the
//! client is. The option is added on the way to the backend and taken out
//! of the answer again, so the client sees what it asked for.

use std::net::IpAddr;

use crate::edit::{find_additional, records};
use crate::types::rtype;

/// The option code (RFC 7871 §6).
pub const OPTION_CODE: u16 = 8;
/// The UDP size announced in an OPT rampart adds for a client that sent
/// none: such a client takes 512-byte answers only.
const ADDED_OPT_PAYLOAD: u16 = 512;

/// What adding the option changed, to undo it in the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// Nothing (the client's own option was kept).
    Nothing,
    /// An option in the client's OPT record.
    Option,
    /// A whole OPT record: the client sent no EDNS.
    Opt,
}

/// Appends the option (code, length, data) for `addr` cut to `prefix`
/// bits, address bytes beyond the prefix left out and the rest of the
/// last byte zeroed (RFC 7871 §6): what [`add`] puts in a query.
pub fn option(addr: IpAddr, prefix: u8, out: &mut Vec<u8>) {
    let (family, bytes, max): (u16, Vec<u8>, u8) = match addr {
        IpAddr::V4(a) => (1, a.octets().to_vec(), 32),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (1, v4.octets().to_vec(), 32),
            None => (2, a.octets().to_vec(), 128),
        },
    };
    let prefix = prefix.min(max);
    let keep = usize::from(prefix).div_ceil(8);
    let mut addr = bytes[..keep].to_vec();
    if prefix % 8 != 0 {
        if let Some(last) = addr.last_mut() {
            *last &= 0xffu8 << (8 - prefix % 8);
        }
    }
    out.extend_from_slice(&OPTION_CODE.to_be_bytes());
    out.extend_from_slice(&(4 + keep as u16).to_be_bytes());
    out.extend_from_slice(&family.to_be_bytes());
    out.push(prefix);
    out.push(0); // scope: set by the backend
    out.extend_from_slice(&addr);
}

/// The options in `rdata` other than ECS; whether there was an ECS one.
fn without_ecs(rdata: &[u8], out: &mut Vec<u8>) -> Option<bool> {
    let mut found = false;
    let mut rest = rdata;
    while !rest.is_empty() {
        let head = rest.get(..4)?;
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let whole = rest.get(..4 + len)?;
        if u16::from_be_bytes([head[0], head[1]]) == OPTION_CODE {
            found = true;
        } else {
            out.extend_from_slice(whole);
        }
        rest = &rest[4 + len..];
    }
    Some(found)
}

/// Writes `query` into `out` with an ECS option for `client` cut to
/// `prefix` bits. A client's own ECS option is kept unless `replace`.
/// None for a message too broken to edit.
pub fn add(
    query: &[u8],
    client: IpAddr,
    prefix: u8,
    replace: bool,
    out: &mut Vec<u8>,
) -> Option<Added> {
    records(query)?;
    out.clear();
    let Some(opt) = find_additional(query, rtype::OPT) else {
        out.extend_from_slice(query);
        let arcount = u16::from_be_bytes([query[10], query[11]]).checked_add(1)?;
        out[10..12].copy_from_slice(&arcount.to_be_bytes());
        out.push(0); // root owner
        out.extend_from_slice(&rtype::OPT.to_be_bytes());
        out.extend_from_slice(&ADDED_OPT_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]); // rcode, version, flags
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        option(client, prefix, out);
        let rdlen = u16::try_from(out.len() - len_at - 2).ok()?;
        out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        return Some(Added::Opt);
    };
    let rdata = &query[opt.fixed + 10..opt.end];
    let mut options = Vec::with_capacity(rdata.len() + 24);
    let had = without_ecs(rdata, &mut options)?;
    if had && !replace {
        out.extend_from_slice(query);
        return Some(Added::Nothing);
    }
    option(client, prefix, &mut options);
    out.extend_from_slice(&query[..opt.fixed + 8]);
    out.extend_from_slice(&u16::try_from(options.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&options);
    out.extend_from_slice(&query[opt.end..]);
    // A replaced client option stays in the answer: the client asked.
    Some(if had { Added::Nothing } else { Added::Option })
}

/// Whether EDNS `options` (`[code][len][data]…`) hold an ECS option.
pub fn in_options(options: &[u8]) -> bool {
    let mut rest = options;
    while let [c0, c1, l0, l1, tail @ ..] = rest {
        if u16::from_be_bytes([*c0, *c1]) == OPTION_CODE {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        rest = &tail[len..];
    }
    false
}

/// The scope prefix of the ECS option in `answer`'s OPT record, if it
/// has one (RFC 7871 §7.2.1: 0 means the answer fits every client).
pub fn scope(answer: &[u8]) -> Option<u8> {
    let opt = find_additional(answer, rtype::OPT)?;
    let mut rest = answer.get(opt.fixed + 10..opt.end)?;
    while let [c0, c1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        if u16::from_be_bytes([*c0, *c1]) == OPTION_CODE {
            return tail[..len].get(3).copied();
        }
        rest = &tail[len..];
    }
    None
}

/// Takes out of a backend's answer what [`add`] put in the query, in
/// place; the new length. An answer that cannot be edited is left as is.
pub fn undo(answer: &mut [u8], len: usize, added: Added) -> usize {
    if added == Added::Nothing {
        return len;
    }
    let Some(opt) = find_additional(&answer[..len], rtype::OPT) else {
        return len;
    };
    let (cut_from, cut_to) = match added {
        Added::Opt => {
            let arcount = u16::from_be_bytes([answer[10], answer[11]]).saturating_sub(1);
            answer[10..12].copy_from_slice(&arcount.to_be_bytes());
            (opt.start, opt.end)
        }
        _ => {
            let mut kept = Vec::new();
            if without_ecs(&answer[opt.fixed + 10..opt.end], &mut kept) != Some(true) {
                return len;
            }
            let rdata_at = opt.fixed + 10;
            let rdlen = kept.len() as u16;
            answer[opt.fixed + 8..rdata_at].copy_from_slice(&rdlen.to_be_bytes());
            answer[rdata_at..rdata_at + kept.len()].copy_from_slice(&kept);
            (rdata_at + kept.len(), opt.end)
        }
    };
    // The OPT is the last record in practice, but close the gap anyway.
    answer.copy_within(cut_to..len, cut_from);
    len - (cut_to - cut_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "a.example. A", optionally with an OPT record carrying `options`.
    fn query(options: Option<&[u8]>) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        if let Some(o) = options {
            q[11] = 1;
            q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0]);
            q.extend_from_slice(&(o.len() as u16).to_be_bytes());
            q.extend_from_slice(o);
        }
        q
    }

    fn ecs_of(packet: &[u8]) -> Option<Vec<u8>> {
        let opt = crate::edit::find(packet, rtype::OPT)?;
        let mut rest = &packet[opt.fixed + 10..opt.end];
        while rest.len() >= 4 {
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            if u16::from_be_bytes([rest[0], rest[1]]) == OPTION_CODE {
                return Some(rest[4..4 + len].to_vec());
            }
            rest = &rest[4 + len..];
        }
        None
    }

    #[test]
    fn adds_an_opt_with_the_clients_network_and_takes_it_out_again() {
        let q = query(None);
        let mut out = Vec::new();
        let added = add(&q, "192.0.2.77".parse().unwrap(), 24, false, &mut out).unwrap();
        assert_eq!(added, Added::Opt);
        assert_eq!(ecs_of(&out).unwrap(), [0, 1, 24, 0, 192, 0, 2]);
        // The backend's answer echoes the OPT; the client gets none.
        let mut answer = out.clone();
        answer[2] |= 0x80;
        let len = undo(&mut answer, out.len(), added);
        answer[2] &= 0x7f;
        assert_eq!(&answer[..len], &q[..], "back to the client's own form");
    }

    #[test]
    fn finds_the_option_and_the_answers_scope() {
        let mut opt = Vec::new();
        option("192.0.2.77".parse().unwrap(), 24, &mut opt);
        assert!(in_options(&opt));
        assert!(!in_options(&[0, 10, 0, 2, 1, 2]));
        let mut answer = query(Some(&opt));
        assert_eq!(scope(&answer), Some(0));
        // The scope byte of the option, as a backend sets it.
        let at = answer.len() - 4;
        answer[at] = 24;
        assert_eq!(scope(&answer), Some(24));
        assert_eq!(scope(&query(None)), None);
    }

    #[test]
    fn cuts_v6_to_the_prefix_and_masks_the_last_byte() {
        let mut out = Vec::new();
        add(
            &query(None),
            "2001:db8:abcd:12ff::1".parse().unwrap(),
            52,
            false,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            ecs_of(&out).unwrap(),
            [0, 2, 52, 0, 0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0x10]
        );
        add(
            &query(None),
            "::ffff:10.1.2.3".parse().unwrap(),
            24,
            false,
            &mut out,
        )
        .unwrap();
        assert_eq!(ecs_of(&out).unwrap(), [0, 1, 24, 0, 10, 1, 2]);
    }

    #[test]
    fn joins_the_clients_opt_and_keeps_its_other_options() {
        let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        let q = query(Some(&cookie));
        let mut out = Vec::new();
        let added = add(&q, "198.51.100.9".parse().unwrap(), 24, false, &mut out).unwrap();
        assert_eq!(added, Added::Option);
        assert_eq!(ecs_of(&out).unwrap(), [0, 1, 24, 0, 198, 51, 100]);
        let len = out.len();
        let len = undo(&mut out, len, added);
        assert_eq!(&out[..len], &q[..]);
    }

    #[test]
    fn a_clients_own_option_wins_unless_replaced() {
        let own = [0, 8, 0, 7, 0, 1, 24, 0, 203, 0, 113];
        let q = query(Some(&own));
        let mut out = Vec::new();
        let client = "192.0.2.1".parse().unwrap();
        assert_eq!(add(&q, client, 24, false, &mut out), Some(Added::Nothing));
        assert_eq!(out, q);
        assert_eq!(add(&q, client, 24, true, &mut out), Some(Added::Nothing));
        assert_eq!(ecs_of(&out).unwrap(), [0, 1, 24, 0, 192, 0, 2]);
    }

    /// Found by the `backend_answer` fuzz target: a backend's answer
    /// with an OPT record in its answer section (and bytes after it).
    /// Undoing an added OPT took that record out, counted it off the
    /// additional section's zero, and left a message that no longer
    /// walks. Only the additional section's OPT is ours.
    #[test]
    fn an_opt_outside_the_additional_section_is_not_ours() {
        let answer = b"\xff\xfe\x45\x4a\x00\x01\x00\x01\x00\x00\x00\x00\
            \x00\x00\x00\x00\x00\
            \x04r\x00x\x00\x04\xc0\x00\x02\x01\x00\x00\x29\x04\x65\xd0\x00\x00\x00\x00\x00\
            \x0b\x00\x08\x00\x07\x00\x01\x18\x00\xc0\x83\x03\x00\x02";
        let mut p = answer.to_vec();
        assert!(records(&p).is_some());
        assert_eq!(undo(&mut p, answer.len(), Added::Opt), answer.len());
        assert_eq!(p, answer);
        assert_eq!(undo(&mut p, answer.len(), Added::Option), answer.len());
        // Its ECS option gives no scope, and a query with one gets an
        // OPT of its own.
        let mut q = query(None);
        q[7] = 1;
        q.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 4, 0, 1, 0, 0]);
        assert_eq!(scope(&q), None);
        let mut out = Vec::new();
        let added = add(&q, "192.0.2.1".parse().unwrap(), 24, false, &mut out).unwrap();
        assert_eq!(added, Added::Opt);
        assert_eq!(out[10..12], [0, 1]);
        assert_eq!(
            &out[..q.len()],
            &{
                let mut q = q.clone();
                q[11] = 1;
                q
            }[..]
        );
    }

    #[test]
    fn broken_messages_are_refused_or_left_alone() {
        let mut q = query(Some(&[0, 8, 0, 9, 1]));
        let mut out = Vec::new();
        assert_eq!(
            add(&q, "192.0.2.1".parse().unwrap(), 24, false, &mut out),
            None
        );
        let len = q.len();
        assert_eq!(undo(&mut q, len, Added::Option), len);
    }
}
