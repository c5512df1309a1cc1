//! Parsing an incoming query in place.
//!
//! [`Query::parse`] reads the header, the one question and the EDNS(0) OPT
//! record, borrowing from the received bytes. It decides between three
//! outcomes the server needs: answer it, answer FORMERR, or send nothing
//! (too short to even echo an ID, or not a query at all).

use crate::name::MAX_NAME_LEN;
use crate::types::{flags, rtype};

/// Why a packet could not be parsed as a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than a header, or a response (QR set): send nothing.
    Drop,
    /// Malformed in a way the client should hear about: answer FORMERR,
    /// echoing the ID and opcode.
    FormErr,
}

/// The EDNS(0) OPT record of a query (RFC 6891).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Requested UDP payload size, raised to 512 when smaller.
    pub udp_payload: u16,
    /// EDNS version; rampart speaks version 0 only.
    pub version: u8,
    /// The DNSSEC OK bit.
    pub dnssec_ok: bool,
    /// The upper 8 bits of a 12-bit rcode (an answer's; 0 in a query).
    pub ext_rcode: u8,
}

/// A parsed query, borrowing the received bytes.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The whole received message.
    pub packet: &'a [u8],
    pub id: u16,
    /// The header's flags word (opcode and rcode bits included).
    pub flags: u16,
    pub opcode: u8,
    /// The question name as received (case preserved, uncompressed).
    pub qname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    /// End of the question section in `packet`.
    pub question_end: usize,
    pub edns: Option<Edns>,
    /// The OPT record's options (`[code][len][data]…`), empty without one.
    pub edns_options: &'a [u8],
    /// Where the message's last record ends: bytes after it are trailing
    /// data (`TrailingDataRule`).
    pub end: usize,
}

/// Whether `message` carries the question (`lname`, `qtype`, and
/// `qclass` when given): exactly one question, its name equal ignoring
/// case. The question's name is the first in a message, so it is never
/// compressed and compares as bytes.
pub fn has_question(message: &[u8], lname: &[u8], qtype: u16, qclass: Option<u16>) -> bool {
    let end = 12 + lname.len();
    message.len() >= end + 4
        && message[4..6] == [0, 1]
        && message[12..end].eq_ignore_ascii_case(lname)
        && message[end..end + 2] == qtype.to_be_bytes()
        && qclass.is_none_or(|c| message[end + 2..end + 4] == c.to_be_bytes())
}

impl<'a> Query<'a> {
    /// Parses `packet` as a query.
    pub fn parse(packet: &'a [u8]) -> Result<Self, ParseError> {
        if packet.len() < 12 {
            return Err(ParseError::Drop);
        }
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        let flag_word = u16::from_be_bytes([packet[2], packet[3]]);
        if flag_word & flags::QR != 0 {
            return Err(ParseError::Drop);
        }
        let opcode = ((flag_word >> 11) & 0xf) as u8;
        let qdcount = read_u16(packet, 4);
        let ancount = read_u16(packet, 6);
        let nscount = read_u16(packet, 8);
        let arcount = read_u16(packet, 10);
        if qdcount != 1 {
            return Err(ParseError::FormErr);
        }
        let name_len = question_name_len(&packet[12..])?;
        let qname = &packet[12..12 + name_len];
        let mut pos = 12 + name_len;
        if packet.len() < pos + 4 {
            return Err(ParseError::FormErr);
        }
        let qtype = read_u16(packet, pos);
        let qclass = read_u16(packet, pos + 2);
        pos += 4;
        let question_end = pos;

        // Records in the answer and authority sections of a query are
        // unusual (UPDATE uses them); skip them so the OPT can be found.
        for _ in 0..(ancount as usize + nscount as usize) {
            pos = skip_record(packet, pos)?.1;
        }
        let mut edns = None;
        let mut edns_options: &[u8] = &[];
        for _ in 0..arcount {
            let (name_end, end) = skip_record(packet, pos)?;
            let rr_type = read_u16(packet, name_end);
            if rr_type == rtype::OPT {
                // One OPT only, owned by the root (RFC 6891 §6.1.1).
                if edns.is_some() || name_end != pos + 1 || packet[pos] != 0 {
                    return Err(ParseError::FormErr);
                }
                edns = Some(parse_opt(packet, name_end, end)?);
                edns_options = &packet[name_end + 10..end];
            }
            pos = end;
        }
        Ok(Query {
            packet,
            id,
            flags: flag_word,
            opcode,
            qname,
            qtype,
            qclass,
            question_end,
            edns,
            edns_options,
            end: pos,
        })
    }

    /// Whether the client asked for recursion (echoed in the response).
    pub fn recursion_desired(&self) -> bool {
        self.flags & flags::RD != 0
    }

    /// Whether the OPT record carries an option with `code`.
    pub fn has_edns_option(&self, code: u16) -> bool {
        let mut rest = self.edns_options;
        while rest.len() >= 4 {
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            if u16::from_be_bytes([rest[0], rest[1]]) == code {
                return true;
            }
            rest = rest.get(4 + len..).unwrap_or(&[]);
        }
        false
    }

    /// Whether the client set Checking Disabled (echoed in the response).
    pub fn checking_disabled(&self) -> bool {
        self.flags & flags::CD != 0
    }
}

/// Length of the uncompressed question name at the start of `data`.
///
/// Compression pointers, extended label types and names over 255 octets
/// are malformed in a question.
fn question_name_len(data: &[u8]) -> Result<usize, ParseError> {
    let mut pos = 0;
    loop {
        let len = *data.get(pos).ok_or(ParseError::FormErr)? as usize;
        if len == 0 {
            return Ok(pos + 1);
        }
        if len > 63 {
            return Err(ParseError::FormErr);
        }
        pos += 1 + len;
        if pos >= MAX_NAME_LEN {
            return Err(ParseError::FormErr);
        }
    }
}

/// Skips the (possibly compressed) owner name of a record at `pos`.
fn skip_name(packet: &[u8], pos: usize) -> Result<usize, ParseError> {
    crate::name::skip_compressed(packet, pos).ok_or(ParseError::FormErr)
}

/// Skips a whole record at `pos`: returns the end of its owner name and the
/// end of the record.
fn skip_record(packet: &[u8], pos: usize) -> Result<(usize, usize), ParseError> {
    let name_end = skip_name(packet, pos)?;
    if packet.len() < name_end + 10 {
        return Err(ParseError::FormErr);
    }
    let rdlen = read_u16(packet, name_end + 8) as usize;
    let end = name_end + 10 + rdlen;
    if end > packet.len() {
        return Err(ParseError::FormErr);
    }
    Ok((name_end, end))
}

/// Reads the OPT record whose fixed part starts at `fixed` and which ends
/// at `end`, checking that its options are well framed.
fn parse_opt(packet: &[u8], fixed: usize, end: usize) -> Result<Edns, ParseError> {
    let payload = read_u16(packet, fixed + 2).max(512);
    let ext_rcode = packet[fixed + 4];
    let version = packet[fixed + 5];
    let dnssec_ok = packet[fixed + 6] & 0x80 != 0;
    let mut pos = fixed + 10;
    while pos < end {
        if pos + 4 > end {
            return Err(ParseError::FormErr);
        }
        let len = read_u16(packet, pos + 2) as usize;
        pos += 4 + len;
        if pos > end {
            return Err(ParseError::FormErr);
        }
    }
    Ok(Edns {
        udp_payload: payload,
        version,
        dnssec_ok,
        ext_rcode,
    })
}

fn read_u16(data: &[u8], pos: usize) -> u16 {
    u16::from_be_bytes([data[pos], data[pos + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, opt: Option<&[u8]>) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        if let Some(opt) = opt {
            p[11] = 1;
            p.extend_from_slice(opt);
        }
        p
    }

    #[test]
    fn parses_plain_query() {
        let p = query(b"\x03www\x07example\x00", 1, None);
        let q = Query::parse(&p).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qname, b"\x03www\x07example\x00");
        assert_eq!((q.qtype, q.qclass), (1, 1));
        assert!(q.recursion_desired());
        assert!(q.edns.is_none());
    }

    #[test]
    fn parses_edns_with_options() {
        let opt = [
            0, 0, 41, 0x10, 0, 0, 1, 0x80, 0, 0, 8, 0, 10, 0, 4, 1, 2, 3, 4,
        ];
        let p = query(b"\x00", 2, Some(&opt));
        let q = Query::parse(&p).unwrap();
        assert!(q.has_edns_option(10));
        assert!(!q.has_edns_option(8));
        let e = q.edns.unwrap();
        assert_eq!(e.udp_payload, 4096);
        assert_eq!(e.version, 1);
        assert!(e.dnssec_ok);
        assert_eq!(e.ext_rcode, 0);
        assert_eq!(q.end, p.len(), "no trailing data");
        // BADVERS (16): 1 in the OPT's upper rcode bits.
        let mut badvers = opt;
        badvers[5] = 1;
        let q2 = query(b"\x00", 2, Some(&badvers));
        assert_eq!(Query::parse(&q2).unwrap().edns.unwrap().ext_rcode, 1);
        let mut trailing = p.clone();
        trailing.extend_from_slice(b"xyz");
        assert_eq!(Query::parse(&trailing).unwrap().end, p.len());
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Query::parse(&[0; 11]).unwrap_err(), ParseError::Drop);
        let mut p = query(b"\x00", 1, None);
        p[2] |= 0x80;
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::Drop);
        let mut p = query(b"\x00", 1, None);
        p[5] = 2;
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::FormErr);
        let p = query(b"\xc0\x0c", 1, None);
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::FormErr);
        let p = query(b"\x03ww", 1, None);
        assert_eq!(Query::parse(&p[..15]).unwrap_err(), ParseError::FormErr);
        // Two OPT records.
        let opt = [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0];
        let mut p = query(b"\x00", 1, Some(&opt));
        p.extend_from_slice(&opt);
        p[11] = 2;
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::FormErr);
        // Option running past the record.
        let opt = [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9];
        let p = query(b"\x00", 1, Some(&opt));
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::FormErr);
    }

    #[test]
    fn rejects_long_names() {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(63);
            name.extend_from_slice(&[b'a'; 63]);
        }
        name.push(0);
        let p = query(&name, 1, None);
        assert_eq!(Query::parse(&p).unwrap_err(), ParseError::FormErr);
    }
}
