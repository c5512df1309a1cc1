//! The common record types encoded straight from their tokens.
//!
//! Most of a big zone is A, AAAA, NS, CNAME, PTR, MX and TXT records
//! written plainly. Encoding those here, while normalizing, spares them a second
//! pass through the `domain` scanner (and their text a second copy).
//! Anything not plainly written — escapes, quotes, a class other than IN,
//! an address Rust's parser refuses, a label too long — goes the general
//! way instead, which gives the same records and explains the errors.

use std::net::Ipv6Addr;

use wire::types::rtype;

use super::parse_ttl;
use super::tokens::Entry;

/// A plain name token (letters, digits, `-`, `_`, `*` and dots), or `@`,
/// relative to `origin` (lowercase wire form) unless it ends in a dot,
/// written to `out` in lowercase wire form. False for anything else.
pub(super) fn name(token: &[u8], origin: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if token == b"@" {
        out.extend_from_slice(origin);
        return true;
    }
    let (body, absolute) = match token.strip_suffix(b".") {
        Some(body) => (body, true),
        None => (token, false),
    };
    if body.is_empty() {
        return false;
    }
    for label in body.split(|&b| b == b'.') {
        let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*');
        if label.is_empty() || label.len() > 63 || !label.iter().all(plain) {
            return false;
        }
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    if absolute {
        out.push(0);
    } else {
        out.extend_from_slice(origin);
    }
    out.len() <= wire::name::MAX_NAME_LEN
}

/// Appends one TXT character-string written without escapes: printable
/// ASCII or tabs, at most 255 of them (quoted or not, as the scanner reads
/// them). `None` for anything else.
fn character_string(token: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let plain = |b: &u8| (0x20..0x7f).contains(b) && *b != b'\\' || *b == b'\t';
    if token.len() > 255 || !token.iter().all(plain) {
        return None;
    }
    out.push(token.len() as u8);
    out.extend_from_slice(token);
    Some(())
}

/// A dotted-quad IPv4 address: four decimal octets, no leading zeros
/// (what `Ipv4Addr`'s parser takes, at a tenth of its cost: it is most of
/// a big zone's records).
fn ipv4(token: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = token.split(|&b| b == b'.');
    for octet in &mut out {
        let p = parts.next()?;
        let plain = !p.is_empty() && p.len() <= 3 && p.iter().all(u8::is_ascii_digit);
        if !plain || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        let v = p.iter().fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// What [`encode`] reads records with.
pub(super) struct Context<'a> {
    /// The origin, lowercase wire form.
    pub origin: &'a [u8],
    /// The owner of the record before, for an entry without one.
    pub last_owner: Option<&'a [u8]>,
    /// The `$TTL` in force.
    pub default_ttl: u32,
}

/// Encodes the record `entry` of `src` when it is one of the common
/// types plainly written: its owner goes to `owner`, its RDATA to
/// `rdata`, and its type and TTL are returned. `None`: leave it to the
/// general path.
pub(super) fn encode(
    src: &[u8],
    entry: &Entry,
    cx: &Context<'_>,
    owner: &mut Vec<u8>,
    rdata: &mut Vec<u8>,
) -> Option<(u16, u32)> {
    let toks = &entry.tokens;
    if toks.iter().any(|t| t.glued) {
        return None;
    }
    let text = |i: usize| toks.get(i).map(|t| &src[t.start..t.end]);
    let mut i = 0;
    if entry.indented {
        owner.clear();
        owner.extend_from_slice(cx.last_owner?);
    } else {
        if toks.first()?.quoted || !name(text(0)?, cx.origin, owner) {
            return None;
        }
        i = 1;
    }
    let mut ttl = None;
    let mut class = false;
    for _ in 0..2 {
        if toks.get(i)?.quoted {
            return None;
        }
        let t = text(i)?;
        if let Some(v) = parse_ttl(t).filter(|_| ttl.is_none()) {
            ttl = Some(v);
        } else if t.eq_ignore_ascii_case(b"IN") && !class {
            class = true;
        } else {
            break;
        }
        i += 1;
    }
    let type_token = text(i)?;
    let is = |name: &[u8]| type_token.eq_ignore_ascii_case(name);
    if toks[i].quoted {
        return None;
    }
    rdata.clear();
    if is(b"TXT") {
        let strings = &toks[i + 1..];
        if strings.is_empty() {
            return None;
        }
        for t in strings {
            character_string(&src[t.start..t.end], rdata)?;
        }
        return Some((rtype::TXT, ttl.unwrap_or(cx.default_ttl)));
    }
    // Quotes belong to text; anywhere else the scanner says what is wrong.
    if toks[i + 1..].iter().any(|t| t.quoted) {
        return None;
    }
    let data: Vec<&[u8]> = (i + 1..toks.len()).filter_map(text).collect();
    let rr_type = if is(b"A") {
        let [a] = data[..] else { return None };
        rdata.extend_from_slice(&ipv4(a)?);
        rtype::A
    } else if is(b"AAAA") {
        let [a] = data[..] else { return None };
        let addr: Ipv6Addr = std::str::from_utf8(a).ok()?.parse().ok()?;
        rdata.extend_from_slice(&addr.octets());
        rtype::AAAA
    } else if is(b"MX") {
        let [pref, target] = data[..] else {
            return None;
        };
        if pref.is_empty() || pref.len() > 5 || !pref.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let pref: u16 = std::str::from_utf8(pref).ok()?.parse().ok()?;
        let mut target_wire = Vec::new();
        if !name(target, cx.origin, &mut target_wire) {
            return None;
        }
        rdata.extend_from_slice(&pref.to_be_bytes());
        rdata.extend_from_slice(&target_wire);
        rtype::MX
    } else {
        let t = [
            (b"NS" as &[u8], rtype::NS),
            (b"CNAME", rtype::CNAME),
            (b"PTR", rtype::PTR),
        ]
        .into_iter()
        .find(|(n, _)| is(n))?
        .1;
        let [target] = data[..] else { return None };
        let mut target_wire = Vec::new();
        if !name(target, cx.origin, &mut target_wire) {
            return None;
        }
        rdata.extend_from_slice(&target_wire);
        t
    };
    Some((rr_type, ttl.unwrap_or(cx.default_ttl)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &[u8] = b"\x07example\x03org\x00";

    fn wire(token: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        name(token.as_bytes(), ORIGIN, &mut out).then_some(out)
    }

    #[test]
    fn addresses_as_the_standard_parser_reads_them() {
        for good in ["192.0.2.1", "0.0.0.0", "255.255.255.255", "10.0.100.9"] {
            let std: std::net::Ipv4Addr = good.parse().unwrap();
            assert_eq!(ipv4(good.as_bytes()), Some(std.octets()), "{good}");
        }
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.4 ",
            "a.b.c.d",
            "",
        ] {
            assert_eq!(ipv4(bad.as_bytes()), None, "{bad}");
            assert!(bad.parse::<std::net::Ipv4Addr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_names_only() {
        assert_eq!(wire("WWW").unwrap(), b"\x03www\x07example\x03org\x00");
        assert_eq!(wire("a.B.").unwrap(), b"\x01a\x01b\x00");
        assert_eq!(wire("@").unwrap(), ORIGIN);
        assert_eq!(wire("*.x").unwrap(), b"\x01*\x01x\x07example\x03org\x00");
        for odd in ["a..b", ".", ".a", "a\\.b", "a\\065", "a b", "x(y"] {
            assert!(wire(odd).is_none(), "{odd}");
        }
        assert!(wire(&"a".repeat(64)).is_none());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(
            wire(&long).is_none(),
            "longer than 255 octets with the origin"
        );
    }
}
