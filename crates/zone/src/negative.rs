//! The SOA of negative answers (RFC 2308), rendered once per zone
//! version: NXDOMAIN and NODATA are what a random-subdomain flood asks
//! for, and writing the SOA name by name (three names to compress) cost
//! more than the rest of such an answer.
//!
//! The owner is the apex, a suffix of every question in the zone; the
//! MNAME and RNAME under the apex end in a pointer to it. Where the apex
//! sits in a response depends on the question's length, so those
//! pointers are left as places to fill ([`NegativeSoa::patches`]).

use wire::name::is_subdomain;
use wire::types::{class, rtype};

/// An SOA record in wire form with its apex pointers to fill in.
#[derive(Clone, Debug)]
pub struct NegativeSoa {
    /// The record; each `patches` offset holds a 2-byte pointer to set.
    pub bytes: Box<[u8]>,
    pub patches: Box<[u16]>,
}

/// Renders the apex SOA `rdata` with TTL `ttl`; `None` if the RDATA is
/// not an SOA's.
pub fn render(apex: &[u8], rdata: &[u8], ttl: u32) -> Option<NegativeSoa> {
    let soa = wire::soa::parse(rdata)?;
    let fixed = &rdata[soa.fixed_at..soa.fixed_at + 20];
    let mut bytes = Vec::with_capacity(12 + rdata.len());
    let mut patches = vec![0u16];
    bytes.extend_from_slice(&[0xc0, 0x00]);
    bytes.extend_from_slice(&rtype::SOA.to_be_bytes());
    bytes.extend_from_slice(&class::IN.to_be_bytes());
    bytes.extend_from_slice(&ttl.to_be_bytes());
    let rdlen_at = bytes.len();
    bytes.extend_from_slice(&[0, 0]);
    for name in [soa.mname, soa.rname] {
        if is_subdomain(name, apex) {
            // The labels above the apex, then a pointer to it.
            let keep = name.len() - apex.len();
            bytes.extend_from_slice(&name[..keep]);
            patches.push(bytes.len() as u16);
            bytes.extend_from_slice(&[0xc0, 0x00]);
        } else {
            bytes.extend_from_slice(name);
        }
    }
    bytes.extend_from_slice(fixed);
    let rdlen = (bytes.len() - rdlen_at - 2) as u16;
    bytes[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    Some(NegativeSoa {
        bytes: bytes.into_boxed_slice(),
        patches: patches.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_under_the_apex_end_in_a_pointer_to_fill() {
        let apex = b"\x07example\x04test\x00";
        let mut rdata =
            b"\x03ns1\x07example\x04test\x00\x0ahostmaster\x07example\x03net\x00".to_vec();
        rdata.extend_from_slice(&[0; 20]);
        let soa = super::render(apex, &rdata, 300).unwrap();
        assert_eq!(&*soa.patches, &[0, 12 + 4]);
        assert_eq!(&soa.bytes[12..18], b"\x03ns1\xc0\x00");
        assert!(soa.bytes[18..].starts_with(b"\x0ahostmaster\x07example\x03net\x00"));
        let rdlen = u16::from_be_bytes([soa.bytes[10], soa.bytes[11]]) as usize;
        assert_eq!(rdlen, soa.bytes.len() - 12);
    }
}
