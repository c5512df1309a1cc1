//! SOA RDATA (RFC 1035 §3.3.13): MNAME and RNAME, uncompressed, then
//! five 32-bit fields. Read here once for every place that needs a field.

/// The parts of an SOA RDATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Soa<'a> {
    pub mname: &'a [u8],
    pub rname: &'a [u8],
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    /// Where the five fields start in the RDATA.
    pub fixed_at: usize,
    /// Nothing follows the five fields.
    pub exact: bool,
}

/// Reads an SOA RDATA; `None` if its names or fields are cut off.
pub fn parse(rdata: &[u8]) -> Option<Soa<'_>> {
    let m = crate::name::uncompressed_len(rdata)?;
    let r = crate::name::uncompressed_len(rdata.get(m..)?)?;
    let at = m + r;
    let f = rdata.get(at..at + 20)?;
    let word = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    Some(Soa {
        mname: &rdata[..m],
        rname: &rdata[m..at],
        serial: word(0),
        refresh: word(4),
        retry: word(8),
        expire: word(12),
        minimum: word(16),
        fixed_at: at,
        exact: rdata.len() == at + 20,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_in_order_and_cut_off_is_none() {
        let mut rdata = b"\x02ns\x00\x01h\x00".to_vec();
        for v in [7u32, 3600, 600, 86400, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        let s = super::parse(&rdata).unwrap();
        assert_eq!((s.mname, s.rname), (&b"\x02ns\x00"[..], &b"\x01h\x00"[..]));
        assert_eq!(
            (s.serial, s.refresh, s.retry, s.expire, s.minimum),
            (7, 3600, 600, 86400, 300)
        );
        assert_eq!((s.fixed_at, s.exact), (7, true));
        assert!(super::parse(&rdata[..rdata.len() - 1]).is_none());
        rdata.push(0);
        assert!(!super::parse(&rdata).unwrap().exact);
    }
}
