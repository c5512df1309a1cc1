//! The denial-of-existence chains: NSEC (RFC 4034 §4) in canonical name
//! order and NSEC3 (RFC 5155) in hash order, with their type bitmaps.

use zone::denial::Nsec3Params;

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

/// The owner of the NSEC3 record of `name` (lowercase wire) in the chain
/// with `params`: its hash's base32hex label over the apex, and the hash.
pub fn nsec3_owner(params: &Nsec3Params, name: &[u8], apex: &[u8]) -> (Vec<u8>, [u8; 20]) {
    let hash = params.hash(name);
    let label = zone::denial::base32hex(&hash);
    let mut out = Vec::with_capacity(1 + label.len() + apex.len());
    out.push(label.len() as u8);
    out.extend_from_slice(&label);
    out.extend_from_slice(apex);
    (out, hash)
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
}
