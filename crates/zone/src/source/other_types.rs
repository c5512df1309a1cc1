//! More record types Knot and NSD read that the `domain` scanner does not:
//! AFSDB, RT, KX, LP (preference + name), SMIMEA, EUI48, EUI64, NID, L32,
//! L64, DHCID, KEY, CERT, CSYNC and APL. Each is encoded here and handed
//! on in RFC 3597 form, like LOC and URI in `extra_types`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use domain::base::iana::Rtype;
use domain::base::Name;
use domain::rdata::dnssec::RtypeBitmap;

use super::SourceErrorKind;

/// A presentation field: its text and whether it was quoted.
pub type Field<'a> = (&'a [u8], bool);

/// The types encoded here: (mnemonic, code).
const TYPES: [(&str, u16); 15] = [
    ("AFSDB", 18),
    ("RT", 21),
    ("KX", 36),
    ("LP", 107),
    ("SMIMEA", 53),
    ("EUI48", 108),
    ("EUI64", 109),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("DHCID", 49),
    ("KEY", 25),
    ("CERT", 37),
    ("CSYNC", 62),
    ("APL", 42),
];

/// The mnemonic of a type encoded here.
pub fn name_of(code: u16) -> Option<&'static str> {
    TYPES.iter().find(|(_, c)| *c == code).map(|(n, _)| *n)
}

/// Encodes `rtype` (upper case) from its fields, if it is one of ours:
/// `Some((type code, RDATA))`, or `None` for types left to the scanner.
/// The helpers below say what is wrong as text; it becomes the detail of
/// a [`SourceErrorKind::BadRdata`] here.
pub fn encode(
    rtype: &[u8],
    fields: &[Field],
    origin: &str,
) -> Option<Result<(u16, Vec<u8>), SourceErrorKind>> {
    let &(name, code) = TYPES.iter().find(|(n, _)| n.as_bytes() == rtype)?;
    let text: Vec<String> = fields
        .iter()
        .map(|(t, _)| String::from_utf8_lossy(t).into_owned())
        .collect();
    let f: Vec<&str> = text.iter().map(String::as_str).collect();
    let rdata = match code {
        18 | 21 | 36 | 107 => pref_and_name(&f, origin),
        53 => smimea(&f),
        108 => eui(&f, 6),
        109 => eui(&f, 8),
        104 | 106 => pref_and(&f, locator64),
        105 => pref_and(&f, |s| {
            Ipv4Addr::from_str(s)
                .map(|a| a.octets().to_vec())
                .map_err(|_| bad("IPv4 address", s))
        }),
        49 => base64(&f),
        25 => key(&f),
        37 => cert(&f),
        62 => csync(&f),
        _ => apl(&f),
    };
    Some(
        rdata
            .map(|r| (code, r))
            .map_err(|detail| SourceErrorKind::BadRdata {
                rtype: name,
                detail,
            }),
    )
}

fn bad(what: &str, found: &str) -> String {
    format!("expected {what}, found '{found}'")
}

fn field<'a>(f: &[&'a str], i: usize, what: &str) -> Result<&'a str, String> {
    f.get(i)
        .copied()
        .ok_or_else(|| format!("expected {what}, found the end of the record"))
}

fn num<T: FromStr>(f: &[&str], i: usize, what: &str) -> Result<T, String> {
    let s = field(f, i, what)?;
    s.parse().map_err(|_| bad(what, s))
}

fn no_more(f: &[&str], n: usize) -> Result<(), String> {
    match f.get(n) {
        Some(extra) => Err(format!("unexpected '{extra}' after the record data")),
        None => Ok(()),
    }
}

/// A domain name field, relative to `origin`, in wire form (case kept).
fn name(s: &str, origin: &str) -> Result<Vec<u8>, String> {
    let abs = super::resolve_name(s, origin);
    Name::<Vec<u8>>::from_str(&abs)
        .map(|n| n.as_slice().to_vec())
        .map_err(|e| format!("bad name '{s}': {e}"))
}

fn pref_and_name(f: &[&str], origin: &str) -> Result<Vec<u8>, String> {
    let mut out = num::<u16>(f, 0, "a 16-bit number")?.to_be_bytes().to_vec();
    out.extend(name(field(f, 1, "a name")?, origin)?);
    no_more(f, 2)?;
    Ok(out)
}

fn pref_and(f: &[&str], rest: impl Fn(&str) -> Result<Vec<u8>, String>) -> Result<Vec<u8>, String> {
    let mut out = num::<u16>(f, 0, "a 16-bit preference")?
        .to_be_bytes()
        .to_vec();
    out.extend(rest(field(f, 1, "a locator")?)?);
    no_more(f, 2)?;
    Ok(out)
}

/// `xxxx:xxxx:xxxx:xxxx` (NID, L64).
fn locator64(s: &str) -> Result<Vec<u8>, String> {
    let groups: Vec<&str> = s.split(':').collect();
    if groups.len() != 4 || groups.iter().any(|g| g.len() != 4) {
        return Err(bad("a 64-bit locator xxxx:xxxx:xxxx:xxxx", s));
    }
    hex_bytes(&groups.concat()).ok_or_else(|| bad("hex digits", s))
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    hex_bytes(s).ok_or_else(|| bad("an even number of hex digits", s))
}

/// Hex digits to bytes: ASCII digits only (no sign, nothing multi-byte).
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    Some(
        b.chunks_exact(2)
            .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
            .collect(),
    )
}

fn smimea(f: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = vec![
        num::<u8>(f, 0, "a certificate usage")?,
        num::<u8>(f, 1, "a selector")?,
        num::<u8>(f, 2, "a matching type")?,
    ];
    let data: String = f.get(3..).unwrap_or(&[]).concat();
    if data.is_empty() {
        return Err("expected certificate association data".into());
    }
    out.extend(hex(&data)?);
    Ok(out)
}

/// `xx-xx-xx-xx-xx-xx` (6 or 8 groups).
fn eui(f: &[&str], len: usize) -> Result<Vec<u8>, String> {
    let s = field(f, 0, "an EUI address")?;
    no_more(f, 1)?;
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != len || parts.iter().any(|p| p.len() != 2) {
        return Err(bad(&format!("{len} hex pairs joined by '-'"), s));
    }
    hex_bytes(&parts.concat()).ok_or_else(|| bad("hex digits", s))
}

fn base64_of(parts: &[&str]) -> Result<Vec<u8>, String> {
    let text: String = parts.concat();
    if text.is_empty() {
        return Err("expected base64 data".into());
    }
    if !text.len().is_multiple_of(4) {
        // Knot refuses unpadded base64 too.
        return Err(bad(
            "padded base64 data (a multiple of 4 characters)",
            &text,
        ));
    }
    domain::utils::base64::decode::<Vec<u8>>(&text).map_err(|_| bad("base64 data", &text))
}

fn base64(f: &[&str]) -> Result<Vec<u8>, String> {
    base64_of(f)
}

fn key(f: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = num::<u16>(f, 0, "KEY flags")?.to_be_bytes().to_vec();
    out.push(num::<u8>(f, 1, "a protocol")?);
    out.push(algorithm(field(f, 2, "an algorithm")?)?);
    out.extend(base64_of(f.get(3..).unwrap_or(&[]))?);
    Ok(out)
}

/// A DNSSEC algorithm number or mnemonic.
pub fn algorithm(s: &str) -> Result<u8, String> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    let n = match s.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DH" => 2,
        "DSA" => 3,
        "RSASHA1" => 5,
        "DSA-NSEC3-SHA1" => 6,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECC-GOST" => 12,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        "INDIRECT" => 252,
        "PRIVATEDNS" => 253,
        "PRIVATEOID" => 254,
        _ => return Err(bad("an algorithm number or name", s)),
    };
    Ok(n)
}

fn cert(f: &[&str]) -> Result<Vec<u8>, String> {
    let t = field(f, 0, "a certificate type")?;
    let cert_type: u16 = match t.to_ascii_uppercase().as_str() {
        "PKIX" => 1,
        "SPKI" => 2,
        "PGP" => 3,
        "IPKIX" => 4,
        "ISPKI" => 5,
        "IPGP" => 6,
        "ACPKIX" => 7,
        "IACPKIX" => 8,
        "URI" => 253,
        "OID" => 254,
        other => other.parse().map_err(|_| bad("a certificate type", t))?,
    };
    let mut out = cert_type.to_be_bytes().to_vec();
    out.extend_from_slice(&num::<u16>(f, 1, "a key tag")?.to_be_bytes());
    out.push(algorithm(field(f, 2, "an algorithm")?)?);
    out.extend(base64_of(f.get(3..).unwrap_or(&[]))?);
    Ok(out)
}

fn csync(f: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = num::<u32>(f, 0, "an SOA serial")?.to_be_bytes().to_vec();
    out.extend_from_slice(&num::<u16>(f, 1, "CSYNC flags")?.to_be_bytes());
    let mut bitmap = RtypeBitmap::<Vec<u8>>::builder();
    for t in f.get(2..).unwrap_or(&[]) {
        let rtype = Rtype::from_str(t).map_err(|_| bad("a record type", t))?;
        bitmap
            .add(rtype)
            .map_err(|_| "type bitmap too long".to_string())?;
    }
    out.extend_from_slice(bitmap.finalize().as_slice());
    Ok(out)
}

/// `[!]afi:address/prefix` items (RFC 3123).
fn apl(f: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for item in f {
        let (negate, rest) = match item.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, *item),
        };
        let (family, rest) = rest
            .split_once(':')
            .ok_or_else(|| bad("[!]afi:address/prefix", item))?;
        let (addr, prefix) = rest
            .split_once('/')
            .ok_or_else(|| bad("[!]afi:address/prefix", item))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("a prefix length", prefix))?;
        let (family, mut bytes, max) = match family {
            "1" => (
                1u16,
                Ipv4Addr::from_str(addr)
                    .map_err(|_| bad("an IPv4 address", addr))?
                    .octets()
                    .to_vec(),
                32,
            ),
            "2" => (
                2u16,
                Ipv6Addr::from_str(addr)
                    .map_err(|_| bad("an IPv6 address", addr))?
                    .octets()
                    .to_vec(),
                128,
            ),
            _ => return Err(bad("address family 1 or 2", family)),
        };
        if prefix > max {
            return Err(bad("a prefix length within the address", item));
        }
        // Trailing zero octets are left out (RFC 3123 §4).
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        out.extend_from_slice(&family.to_be_bytes());
        out.push(prefix);
        out.push((u8::from(negate) << 7) | bytes.len() as u8);
        out.extend(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(t: &str, fields: &str) -> Result<(u16, Vec<u8>), SourceErrorKind> {
        let f: Vec<Field> = fields
            .split_whitespace()
            .map(|s| (s.as_bytes(), false))
            .collect();
        encode(t.as_bytes(), &f, "example.org.").expect("one of ours")
    }

    #[test]
    fn preference_and_name_types() {
        let (code, r) = enc("KX", "10 kx").unwrap();
        assert_eq!(code, 36);
        assert_eq!(r, b"\x00\x0a\x02kx\x07example\x03org\x00");
        assert_eq!(
            enc("AFSDB", "1 afs.example.net.").unwrap().1,
            b"\x00\x01\x03afs\x07example\x03net\x00"
        );
        let e = enc("RT", "x host").unwrap_err();
        assert!(
            matches!(e, SourceErrorKind::BadRdata { rtype: "RT", .. }),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "RT: expected a 16-bit number, found 'x'");
        assert!(enc("LP", "10").is_err());
    }

    #[test]
    fn address_like_types() {
        assert_eq!(
            enc("EUI48", "00-00-5e-00-53-2a").unwrap().1,
            [0, 0, 0x5e, 0, 0x53, 0x2a]
        );
        assert_eq!(enc("EUI64", "00-00-5e-ef-10-00-00-2a").unwrap().1.len(), 8);
        assert!(enc("EUI48", "00-00-5e-00-53").is_err());
        assert_eq!(
            enc("NID", "10 0014:4fff:ff20:ee64").unwrap().1,
            [0, 10, 0, 0x14, 0x4f, 0xff, 0xff, 0x20, 0xee, 0x64]
        );
        assert_eq!(enc("L32", "10 10.1.2.0").unwrap().1, [0, 10, 10, 1, 2, 0]);
        assert_eq!(
            enc("APL", "1:192.168.32.0/21 !1:192.168.38.0/28")
                .unwrap()
                .1,
            [0, 1, 21, 3, 192, 168, 32, 0, 1, 28, 0x83, 192, 168, 38]
        );
    }

    #[test]
    fn key_like_types() {
        assert_eq!(
            enc("DHCID", "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=")
                .unwrap()
                .1
                .len(),
            35
        );
        let (_, r) = enc("CERT", "PGP 0 0 AQID").unwrap();
        assert_eq!(r, [0, 3, 0, 0, 0, 1, 2, 3]);
        let (_, r) = enc("KEY", "256 3 ECDSAP256SHA256 AQID").unwrap();
        assert_eq!(r, [1, 0, 3, 13, 1, 2, 3]);
        assert_eq!(enc("SMIMEA", "3 1 1 0a0B").unwrap().1, [3, 1, 1, 10, 11]);
        let (_, r) = enc("CSYNC", "66 3 A NS AAAA").unwrap();
        assert_eq!(r, [0, 0, 0, 66, 0, 3, 0, 4, 0x60, 0, 0, 0x08]);
        let e = enc("CERT", "BOGUS 0 0 AQID").unwrap_err();
        assert!(matches!(e, SourceErrorKind::BadRdata { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "CERT: expected a certificate type, found 'BOGUS'"
        );
        assert!(enc("CERT", "PGP 0 0 AQIDB").is_err());
        // Found in review: non-ASCII must be an error, not a panic; no signs.
        assert!(enc("SMIMEA", "3 1 1 aé0").is_err());
        assert!(enc("SMIMEA", "3 1 1 +a+b").is_err());
        assert!(enc("EUI48", "+1-00-5e-00-53-2a").is_err());
        assert!(enc("CSYNC", "1 0 NOTATYPE").is_err());
    }

    #[test]
    fn others_left_to_the_scanner() {
        assert!(encode(b"A", &[], "x.").is_none());
    }
}
