//! The denial-of-existence chains: NSEC (RFC 4034 §4) in canonical name
//! order and NSEC3 (RFC 5155) in hash order, with their type bitmaps.

use std::cmp::Ordering;

/// DNSSEC canonical order of two lowercase wire names (RFC 4034 §6.1):
/// label by label from the root, each compared as octets, a label that
/// is a prefix of the other first, and a name before its subdomains.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let mut la = [0u8; wire::name::MAX_LABELS];
    let mut lb = [0u8; wire::name::MAX_LABELS];
    let na = wire::name::label_offsets(a, &mut la);
    let nb = wire::name::label_offsets(b, &mut lb);
    fn label(name: &[u8], at: u8) -> &[u8] {
        let at = usize::from(at);
        let len = usize::from(name[at]);
        &name[at + 1..at + 1 + len]
    }
    for i in 1..=na.min(nb) {
        let x = label(a, la[na - i]);
        let y = label(b, lb[nb - i]);
        match x.cmp(y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    na.cmp(&nb)
}

/// A type bitmap (RFC 4034 §4.1.2) of `types`, ascending and unique.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = used.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    out
}

/// An NSEC RDATA: the next owner, then the types here.
pub fn nsec_rdata(next: &[u8], types: &[u16]) -> Vec<u8> {
    let mut out = next.to_vec();
    out.extend_from_slice(&type_bitmap(types));
    out
}

/// The NSEC3 hash of `name` (lowercase wire), RFC 5155 §5: SHA-1 over the
/// name and salt, then `iterations` more times over the digest and salt.
pub fn nsec3_hash(name: &[u8], salt: &[u8], iterations: u16) -> [u8; 20] {
    use sha1::Digest as _;
    let mut digest: [u8; 20] = sha1::Sha1::new()
        .chain_update(name)
        .chain_update(salt)
        .finalize()
        .into();
    for _ in 0..iterations {
        digest = sha1::Sha1::new()
            .chain_update(digest)
            .chain_update(salt)
            .finalize()
            .into();
    }
    digest
}

/// Base32 with the extended hex alphabet, lowercase, no padding (RFC 4648
/// §7), as NSEC3 owner labels are written.
pub fn base32hex(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The owner of the NSEC3 record of `hash`: its base32hex label over the
/// apex.
pub fn nsec3_owner(hash: &[u8], apex: &[u8]) -> Vec<u8> {
    let label = base32hex(hash);
    let mut out = Vec::with_capacity(1 + label.len() + apex.len());
    out.push(label.len() as u8);
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(apex);
    out
}

/// An NSEC3 RDATA (hash algorithm 1, SHA-1).
pub fn nsec3_rdata(
    opt_out: bool,
    iterations: u16,
    salt: &[u8],
    next_hash: &[u8],
    types: &[u16],
) -> Vec<u8> {
    let mut out = vec![1, u8::from(opt_out)];
    out.extend_from_slice(&iterations.to_be_bytes());
    out.push(salt.len() as u8);
    out.extend_from_slice(salt);
    out.push(next_hash.len() as u8);
    out.extend_from_slice(next_hash);
    out.extend_from_slice(&type_bitmap(types));
    out
}

/// An NSEC3PARAM RDATA (flags 0: RFC 5155 §4.1.2).
pub fn nsec3param_rdata(iterations: u16, salt: &[u8]) -> Vec<u8> {
    let mut out = vec![1, 0];
    out.extend_from_slice(&iterations.to_be_bytes());
    out.push(salt.len() as u8);
    out.extend_from_slice(salt);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Vec<u8> {
        zone::parse_name(text).unwrap()
    }

    #[test]
    fn canonical_order_is_rfc_4034s_example() {
        // RFC 4034 §6.1, in order (names lowercase as the zone holds them).
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "z.a.example.",
            "zabc.a.example.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let wire: Vec<Vec<u8>> = names.iter().map(|t| n(t)).collect();
        for pair in wire.windows(2) {
            assert_eq!(
                canonical_cmp(&pair[0], &pair[1]),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(canonical_cmp(&pair[1], &pair[0]), Ordering::Greater);
        }
        assert_eq!(canonical_cmp(&wire[3], &wire[3]), Ordering::Equal);
    }

    #[test]
    fn bitmap_matches_rfc_4034s_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let bm = type_bitmap(&[1, 15, 46, 47, 1234]);
        assert_eq!(
            bm,
            [
                0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20
            ]
        );
    }

    #[test]
    fn nsec3_hash_matches_rfc_5155_appendix_a() {
        // example, salt aabbccdd, 12 iterations → 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        assert_eq!(
            base32hex(&nsec3_hash(&n("example."), &salt, 12)),
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
        );
        assert_eq!(
            base32hex(&nsec3_hash(&n("a.example."), &salt, 12)),
            "35mthgpgcu1qg68fab165klnsnk3dpvl"
        );
    }
}
