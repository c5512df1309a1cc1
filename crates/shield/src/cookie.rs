//! DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! A client sends an 8-byte client cookie; the server answers with it and
//! a 16-byte server cookie: version 1, three reserved bytes, a 32-bit
//! Unix timestamp and SipHash-2-4 over (client cookie | version |
//! reserved | timestamp | client address) under a 128-bit secret. When
//! the client returns that server cookie it has proven that it receives
//! what is sent to its address: such clients are never rate limited.
//! BIND, Knot and PowerDNS make the same cookie, so with one shared
//! secret every server of an anycast set recognises the others' cookies.
//!
//! Secrets: the first signs, the others are only checked (rollover: add
//! the new one first, keep the old one until an hour has passed).

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

use crate::ShieldError;

/// EDNS option code of COOKIE.
pub const OPTION_CODE: u16 = 10;
/// The extended rcode BADCOOKIE (header 7, OPT 1).
pub const BADCOOKIE: u16 = 23;
/// Bytes of a COOKIE option rampart sends: header, client and server
/// cookie.
pub const OPTION_LEN: usize = 4 + 8 + 16;
/// A server cookie older than this is not valid (RFC 9018 §4.3).
const MAX_AGE: u32 = 3600;
/// Nor one from further in the future than this.
const MAX_AHEAD: u32 = 300;

/// Cookie settings (BIND's `answer-cookie`, `cookie-secret`,
/// `require-server-cookie`).
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub answer: bool,
    /// The first signs; all verify. Never empty.
    pub secrets: Vec<[u8; 16]>,
    /// UDP queries with a cookie but no valid server cookie get
    /// BADCOOKIE instead of an answer.
    pub require_server_cookie: bool,
}

impl std::fmt::Debug for Settings {
    // Secrets stay out of logs and console output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("answer", &self.answer)
            .field("secrets", &self.secrets.len())
            .field("require_server_cookie", &self.require_server_cookie)
            .finish()
    }
}

impl Default for Settings {
    /// On, with a random secret (BIND's default), the same for the whole
    /// process: a reload must not invalidate the cookies handed out.
    fn default() -> Self {
        static SECRET: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
        Settings {
            answer: true,
            secrets: vec![*SECRET.get_or_init(random_secret)],
            require_server_cookie: false,
        }
    }
}

/// A secret from the kernel's random source; a time- and address-seeded
/// fallback if that fails (cookies then only resist off-path guessing
/// less well, they still work).
fn random_secret() -> [u8; 16] {
    let mut s = [0u8; 16];
    if wire::random::fill(&mut s).is_err() {
        use std::hash::BuildHasher;
        let h = std::collections::hash_map::RandomState::new();
        let a = h.hash_one(crate::qps::now_ns());
        s[..8].copy_from_slice(&a.to_le_bytes());
        s[8..].copy_from_slice(&h.hash_one(a).to_le_bytes());
    }
    s
}

/// Parses a secret written as 32 hex digits (BIND's siphash24 secret).
pub fn parse_secret(hex: &str) -> Result<[u8; 16], ShieldError> {
    let hex = hex.trim();
    let bad = || ShieldError::BadCookieSecret {
        found: hex.to_string(),
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        // Cannot fail: 32 ASCII hex digits were checked above.
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// What a query's COOKIE option was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// No COOKIE option.
    None,
    /// A bad length (RFC 7873 §5.2.2): FORMERR.
    Malformed,
    /// A client cookie alone, or with a server cookie that is not ours,
    /// stale or tampered with.
    ClientOnly([u8; 8]),
    /// A server cookie we made, for this client, recent enough.
    Valid([u8; 8]),
}

impl Presented {
    /// The client cookie, when there is one to answer.
    pub fn client(&self) -> Option<&[u8; 8]> {
        match self {
            Presented::ClientOnly(c) | Presented::Valid(c) => Some(c),
            _ => None,
        }
    }
}

impl Settings {
    /// Reads the COOKIE option among `options` (an OPT's RDATA) sent by
    /// `client` at Unix time `now`.
    pub fn inspect(&self, options: &[u8], client: IpAddr, now: u32) -> Presented {
        let Some(data) = find_option(options, OPTION_CODE) else {
            return Presented::None;
        };
        if !(data.len() == 8 || (16..=40).contains(&data.len())) {
            return Presented::Malformed;
        }
        let mut cc = [0u8; 8];
        cc.copy_from_slice(&data[..8]);
        let server = &data[8..];
        if server.len() != 16 || server[0] != 1 {
            return Presented::ClientOnly(cc);
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        let age = now.wrapping_sub(stamp);
        let fresh = age <= MAX_AGE || stamp.wrapping_sub(now) <= MAX_AHEAD;
        if fresh
            && self.secrets.iter().any(|secret| {
                let h = hash(secret, &cc, &server[..8], client);
                // Compared without an early exit.
                h.iter()
                    .zip(&server[8..])
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            })
        {
            Presented::Valid(cc)
        } else {
            Presented::ClientOnly(cc)
        }
    }

    /// The COOKIE option to send (header, client cookie, a fresh server
    /// cookie stamped `now`).
    pub fn option(&self, cc: &[u8; 8], client: IpAddr, now: u32) -> [u8; OPTION_LEN] {
        let mut out = [0u8; OPTION_LEN];
        out[..2].copy_from_slice(&OPTION_CODE.to_be_bytes());
        out[2..4].copy_from_slice(&24u16.to_be_bytes());
        out[4..12].copy_from_slice(cc);
        let head = &mut out[12..20];
        head[0] = 1;
        head[4..8].copy_from_slice(&now.to_be_bytes());
        let mut header = [0u8; 8];
        header.copy_from_slice(&out[12..20]);
        let secret = self.secrets.first().copied().unwrap_or_default();
        out[20..28].copy_from_slice(&hash(&secret, cc, &header, client));
        out
    }
}

/// RFC 9018 §4.4: SipHash-2-4 over client cookie, version, reserved,
/// timestamp and the client's address.
fn hash(secret: &[u8; 16], cc: &[u8; 8], header: &[u8], client: IpAddr) -> [u8; 8] {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(cc);
    h.write(header);
    match crate::netmask::unmap(client) {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    // The reference SipHash writes its 64-bit result little-endian.
    h.finish().to_le_bytes()
}

/// The data of the first option `code` in an OPT's RDATA.
fn find_option(mut options: &[u8], code: u16) -> Option<&[u8]> {
    while options.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([options[2], options[3]]));
        let data = options.get(4..4 + len)?;
        if u16::from_be_bytes([options[0], options[1]]) == code {
            return Some(data);
        }
        options = &options[4 + len..];
    }
    None
}

/// Unix time in seconds, as cookies carry it (wall clock: the cookie of
/// another server of the set must validate here).
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            answer: true,
            secrets: vec![parse_secret("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap()],
            require_server_cookie: false,
        }
    }

    fn opt(data: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 10];
        o.extend_from_slice(&(data.len() as u16).to_be_bytes());
        o.extend_from_slice(data);
        o
    }

    /// RFC 9018 Appendix A.1: the first exchange, IPv4 client 198.51.100.100.
    #[test]
    fn rfc9018_test_vector() {
        let s = settings();
        let client: IpAddr = "198.51.100.100".parse().unwrap();
        let cc = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
        let o = s.option(&cc, client, 1_559_731_985);
        assert_eq!(
            &o[12..],
            &[
                0x01, 0x00, 0x00, 0x00, 0x5c, 0xf7, 0x9f, 0x11, 0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2,
                0x94, 0x80
            ]
        );
        assert_eq!(
            s.inspect(&opt(&o[4..]), client, 1_559_731_985 + 10),
            Presented::Valid(cc)
        );
    }

    #[test]
    fn kinds_of_cookie() {
        let s = settings();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let cc = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(s.inspect(&[], client, 1000), Presented::None);
        assert_eq!(
            s.inspect(&opt(&cc), client, 1000),
            Presented::ClientOnly(cc)
        );
        for bad in [7usize, 9, 15, 41] {
            assert_eq!(
                s.inspect(&opt(&vec![0; bad]), client, 1000),
                Presented::Malformed
            );
        }
        let o = s.option(&cc, client, 100_000);
        let good = opt(&o[4..]);
        assert_eq!(s.inspect(&good, client, 100_000), Presented::Valid(cc));
        // Another address, a tampered hash, too old, too far ahead.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(s.inspect(&good, other, 100_000), Presented::ClientOnly(cc));
        let mut tampered = good.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            s.inspect(&tampered, client, 100_000),
            Presented::ClientOnly(cc)
        );
        assert_eq!(
            s.inspect(&good, client, 100_000 + 3601),
            Presented::ClientOnly(cc)
        );
        assert_eq!(
            s.inspect(&good, client, 100_000 - 301),
            Presented::ClientOnly(cc)
        );
        assert_eq!(
            s.inspect(&good, client, 100_000 - 299),
            Presented::Valid(cc)
        );
    }

    #[test]
    fn previous_secret_still_verifies() {
        let old = settings();
        let client: IpAddr = "2001:db8::1".parse().unwrap();
        let cc = [9; 8];
        let o = old.option(&cc, client, 5000);
        let mut rolled = settings();
        rolled
            .secrets
            .insert(0, parse_secret("00112233445566778899aabbccddeeff").unwrap());
        assert_eq!(
            rolled.inspect(&opt(&o[4..]), client, 5000),
            Presented::Valid(cc)
        );
        rolled.secrets.truncate(1);
        assert_eq!(
            rolled.inspect(&opt(&o[4..]), client, 5000),
            Presented::ClientOnly(cc)
        );
    }

    #[test]
    fn secrets_parse_as_32_hex_digits() {
        assert!(parse_secret("00112233445566778899aabbccddeeff").is_ok());
        let e = parse_secret("0011").unwrap_err();
        assert!(e.to_string().contains("32 hexadecimal digits"), "{e}");
        assert_eq!(
            e,
            ShieldError::BadCookieSecret {
                found: "0011".into()
            }
        );
        assert!(parse_secret("zz112233445566778899aabbccddeeff").is_err());
    }
}
