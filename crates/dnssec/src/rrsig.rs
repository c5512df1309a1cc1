//! RRSIG records (RFC 4034 §3): what is signed, and the RDATA made from
//! a key's signature over it.

use crate::error::DnssecError;
use crate::keys::Key;

/// The validity of a signature, Unix seconds (RRSIGs carry them modulo
/// 2^32, RFC 4034 §3.1.5).
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    pub inception: u64,
    pub expiration: u64,
}

/// The RRSIG Labels field of `owner` (lowercase wire): its labels, not
/// counting the root or a leading `*` (RFC 4034 §3.1.3).
pub fn labels(owner: &[u8]) -> u8 {
    let n = wire::name::label_count(owner);
    let wild = owner.starts_with(b"\x01*");
    (n - usize::from(wild)).min(255) as u8
}

/// One RRset to sign, borrowed: its RDATAs each once, in canonical
/// order (RFC 4034 §6.3), names already lowercase.
#[derive(Clone, Debug)]
pub struct RRsetRef<'a> {
    pub owner: &'a [u8],
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Vec<&'a [u8]>,
}

/// The RRSIG RDATA of `key` over `set`, signed by the zone `apex`.
/// `scratch` is reused between calls.
pub fn sign_rrset(
    key: &Key,
    apex: &[u8],
    set: &RRsetRef<'_>,
    validity: Validity,
    scratch: &mut Vec<u8>,
) -> Result<Vec<u8>, DnssecError> {
    let RRsetRef {
        owner,
        rtype,
        ttl,
        ref rdatas,
    } = *set;
    let mut rdata = Vec::with_capacity(18 + apex.len() + 64);
    rdata.extend_from_slice(&rtype.to_be_bytes());
    rdata.push(key.algorithm);
    rdata.push(labels(owner));
    rdata.extend_from_slice(&ttl.to_be_bytes());
    rdata.extend_from_slice(&(validity.expiration as u32).to_be_bytes());
    rdata.extend_from_slice(&(validity.inception as u32).to_be_bytes());
    rdata.extend_from_slice(&key.tag.to_be_bytes());
    rdata.extend_from_slice(apex);
    scratch.clear();
    scratch.extend_from_slice(&rdata);
    for r in rdatas {
        scratch.extend_from_slice(owner);
        scratch.extend_from_slice(&rtype.to_be_bytes());
        scratch.extend_from_slice(&wire::types::class::IN.to_be_bytes());
        scratch.extend_from_slice(&ttl.to_be_bytes());
        scratch.extend_from_slice(&(r.len() as u16).to_be_bytes());
        scratch.extend_from_slice(r);
    }
    let signature = key.sign(scratch)?;
    rdata.extend_from_slice(&signature);
    Ok(rdata)
}

/// The fields of an RRSIG RDATA the signer decides reuse by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub covered: u16,
    pub algorithm: u8,
    pub original_ttl: u32,
    pub expiration: u32,
    pub inception: u32,
    pub tag: u16,
}

/// Reads the fixed fields of an RRSIG RDATA.
pub fn fields(rdata: &[u8]) -> Option<Fields> {
    let f = rdata.get(..18)?;
    let u32_at = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    Some(Fields {
        covered: u16::from_be_bytes([f[0], f[1]]),
        algorithm: f[2],
        original_ttl: u32_at(4),
        expiration: u32_at(8),
        inception: u32_at(12),
        tag: u16::from_be_bytes([f[16], f[17]]),
    })
}

/// The Unix time of a 32-bit RRSIG time, taken as the one nearest `now`
/// (RFC 4034 §3.1.5 serial arithmetic).
pub fn unwrap_time(t: u32, now: u64) -> u64 {
    let delta = t.wrapping_sub(now as u32) as i32;
    (now as i64 + i64::from(delta)).max(0) as u64
}
