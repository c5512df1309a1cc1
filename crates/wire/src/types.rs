//! Numeric DNS constants used on the fast path (IANA registries).

/// Record types rampart treats specially when answering.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const MD: u16 = 3;
    pub const MF: u16 = 4;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MB: u16 = 7;
    pub const MG: u16 = 8;
    pub const MR: u16 = 9;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MINFO: u16 = 14;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const RT: u16 = 21;
    pub const PX: u16 = 26;
    pub const AAAA: u16 = 28;
    pub const LOC: u16 = 29;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const DNSKEY: u16 = 48;
    pub const SPF: u16 = 99;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
    pub const URI: u16 = 256;
    pub const CERT: u16 = 37;
    pub const APL: u16 = 42;
    pub const SSHFP: u16 = 44;
    pub const IPSECKEY: u16 = 45;
    pub const DHCID: u16 = 49;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const TLSA: u16 = 52;
    pub const SMIMEA: u16 = 53;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
    pub const OPENPGPKEY: u16 = 61;
    pub const CSYNC: u16 = 62;
    pub const ZONEMD: u16 = 63;
    pub const NID: u16 = 104;
    pub const L32: u16 = 105;
    pub const L64: u16 = 106;
    pub const LP: u16 = 107;
    pub const EUI48: u16 = 108;
    pub const EUI64: u16 = 109;
    pub const CAA: u16 = 257;
}

/// Record type mnemonics, both ways (one table: a type known by number is
/// known by name too).
const RTYPE_NAMES: &[(u16, &str)] = &[
    (rtype::A, "A"),
    (rtype::NS, "NS"),
    (rtype::MD, "MD"),
    (rtype::MF, "MF"),
    (rtype::CNAME, "CNAME"),
    (rtype::SOA, "SOA"),
    (rtype::MB, "MB"),
    (rtype::MG, "MG"),
    (rtype::MR, "MR"),
    (rtype::PTR, "PTR"),
    (rtype::HINFO, "HINFO"),
    (rtype::MINFO, "MINFO"),
    (rtype::MX, "MX"),
    (rtype::TXT, "TXT"),
    (rtype::RP, "RP"),
    (rtype::AFSDB, "AFSDB"),
    (rtype::RT, "RT"),
    (rtype::PX, "PX"),
    (rtype::AAAA, "AAAA"),
    (rtype::LOC, "LOC"),
    (rtype::SRV, "SRV"),
    (rtype::NAPTR, "NAPTR"),
    (rtype::KX, "KX"),
    (rtype::CERT, "CERT"),
    (rtype::DNAME, "DNAME"),
    (rtype::OPT, "OPT"),
    (rtype::APL, "APL"),
    (rtype::DS, "DS"),
    (rtype::SSHFP, "SSHFP"),
    (rtype::IPSECKEY, "IPSECKEY"),
    (rtype::RRSIG, "RRSIG"),
    (rtype::NSEC, "NSEC"),
    (rtype::DNSKEY, "DNSKEY"),
    (rtype::DHCID, "DHCID"),
    (rtype::NSEC3, "NSEC3"),
    (rtype::NSEC3PARAM, "NSEC3PARAM"),
    (rtype::TLSA, "TLSA"),
    (rtype::SMIMEA, "SMIMEA"),
    (rtype::CDS, "CDS"),
    (rtype::CDNSKEY, "CDNSKEY"),
    (rtype::OPENPGPKEY, "OPENPGPKEY"),
    (rtype::CSYNC, "CSYNC"),
    (rtype::ZONEMD, "ZONEMD"),
    (rtype::SVCB, "SVCB"),
    (rtype::HTTPS, "HTTPS"),
    (rtype::SPF, "SPF"),
    (rtype::NID, "NID"),
    (rtype::L32, "L32"),
    (rtype::L64, "L64"),
    (rtype::LP, "LP"),
    (rtype::EUI48, "EUI48"),
    (rtype::EUI64, "EUI64"),
    (rtype::TKEY, "TKEY"),
    (rtype::TSIG, "TSIG"),
    (rtype::IXFR, "IXFR"),
    (rtype::AXFR, "AXFR"),
    (rtype::MAILB, "MAILB"),
    (rtype::MAILA, "MAILA"),
    (rtype::ANY, "ANY"),
    (rtype::URI, "URI"),
    (rtype::CAA, "CAA"),
];

/// The mnemonic of a record type, `TYPEnnn` for the rest (RFC 3597).
pub fn rtype_name(t: u16) -> std::borrow::Cow<'static, str> {
    match RTYPE_NAMES.iter().find(|(n, _)| *n == t) {
        Some((_, name)) => std::borrow::Cow::Borrowed(name),
        None => std::borrow::Cow::Owned(format!("TYPE{t}")),
    }
}

/// The number of a record type mnemonic (any case) or `TYPEnnn`.
pub fn rtype_from_name(s: &str) -> Option<u16> {
    if let Some(n) = s
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("TYPE"))
        .and_then(|_| s.get(4..))
    {
        return n.parse().ok();
    }
    RTYPE_NAMES
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(s))
        .map(|(n, _)| *n)
}

/// Classes.
pub mod class {
    pub const IN: u16 = 1;
    pub const CH: u16 = 3;
    /// RFC 2136 §2.4: "delete this record" in an update.
    pub const NONE: u16 = 254;
    pub const ANY: u16 = 255;
}

/// Response codes (the low four bits in the header; BADVERS needs OPT).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const YXDOMAIN: u16 = 6;
    /// RFC 2136 prerequisite failures.
    pub const YXRRSET: u16 = 7;
    pub const NXRRSET: u16 = 8;
    pub const NOTAUTH: u16 = 9;
    pub const NOTZONE: u16 = 10;
    /// Extended rcode 16, carried as 1 in the OPT TTL's high byte.
    pub const BADVERS: u16 = 16;
}

/// Opcodes.
pub mod opcode {
    pub const QUERY: u8 = 0;
    pub const NOTIFY: u8 = 4;
    pub const UPDATE: u8 = 5;
}

/// Header flag bits in the 16-bit flags word.
pub mod flags {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
}

/// The largest UDP payload rampart sends unless configured otherwise:
/// the DNS Flag Day 2020 figure, safe from IP fragmentation.
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;

#[cfg(test)]
mod tests {
    use super::{rtype_from_name, rtype_name, RTYPE_NAMES};

    #[test]
    fn names_and_numbers_go_both_ways() {
        for &(n, name) in RTYPE_NAMES {
            assert_eq!(rtype_name(n), name);
            assert_eq!(
                rtype_from_name(&name.to_ascii_lowercase()),
                Some(n),
                "{name}"
            );
        }
        assert_eq!(rtype_from_name("KX"), Some(36));
        assert_eq!(rtype_from_name("type65000"), Some(65000));
        assert_eq!(rtype_name(65000), "TYPE65000");
        assert_eq!(rtype_from_name("TYPE"), None);
        assert_eq!(rtype_from_name("NOSUCH"), None);
    }
}
