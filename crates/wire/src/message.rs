//! Reading whole DNS messages: zone transfers, NOTIFY and UPDATE.
//!
//! Unlike [`crate::Query::parse`], which borrows one question and skips
//! the rest, [`parse`] reads every question and record into owned values,
//! with names decompressed, so the transfer and update code can work on
//! plain records. It refuses anything malformed and says what and where:
//! a compression pointer must point before the name piece it continues
//! (so pointers cannot loop), a name must fit in 255 octets, the header
//! counts must match the data, and no octets may follow the last record.

use crate::name::MAX_NAME_LEN;
use crate::response::Section;
use crate::types::{class, flags, rtype};

/// The fixed 12-octet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    /// The 16-bit word after the ID (QR, opcode, flags, rcode).
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// The opcode (bits 11–14 of the flags word).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// The header rcode (the low four bits; extended rcodes need the OPT).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    /// Whether QR is set.
    pub fn is_response(&self) -> bool {
        self.flags & flags::QR != 0
    }
}

/// One question (in UPDATE: the zone section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Uncompressed wire form, case as sent.
    pub name: Vec<u8>,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    /// Uncompressed wire form, case as sent.
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// RDATA with the names decompressed for the types whose names may be
    /// compressed (RFC 3597 §4); other types as received.
    pub rdata: Vec<u8>,
    /// Answer, authority or additional (in UPDATE: prerequisite, update
    /// and additional).
    pub section: Section,
    /// Byte range of the whole record in the message.
    pub start: usize,
    pub end: usize,
}

/// A parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    /// Every record, in message order (see [`Rr::section`]).
    pub records: Vec<Rr>,
}

impl Message {
    /// The records of one section.
    pub fn section(&self, section: Section) -> impl Iterator<Item = &Rr> + '_ {
        self.records.iter().filter(move |r| r.section == section)
    }
}

/// Why a message, its RDATA or a name in it could not be read: what is
/// wrong and at which offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Fewer than the 12 octets of a header.
    #[error("message of {len} octets is shorter than the 12-octet header")]
    ShortHeader { len: usize },
    /// The message ends before the header's count of questions or
    /// records in a section (`section`: "question", "answer"…).
    #[error(
        "message ends at offset {pos} after {read} of the {count} {section} records the \
         header counts"
    )]
    CountMismatch {
        pos: usize,
        section: &'static str,
        read: u16,
        count: u16,
    },
    /// Octets follow the last record the header counts.
    #[error(
        "{extra} octets after the last record at offset {pos}: the header counts fewer \
         records than the message holds"
    )]
    TrailingData { pos: usize, extra: usize },
    /// A question cut off inside its type and class.
    #[error("question ends inside its type and class at offset {pos}")]
    ShortQuestion { pos: usize },
    /// A record cut off inside its fixed fields.
    #[error("record at offset {pos} ends inside its type, class, TTL and length")]
    ShortRecord { pos: usize },
    /// A record's RDATA length runs past the end of the message.
    #[error(
        "record at offset {pos}: RDATA of {rdlen} octets at offset {rd_start} runs past \
         the end of the message ({len} octets)"
    )]
    RdataPastEnd {
        pos: usize,
        rdlen: usize,
        rd_start: usize,
        len: usize,
    },
    /// A record's RDATA does not have its type's layout (`err`: how).
    #[error("record at offset {pos} (type {rtype}): {err}")]
    Record {
        pos: usize,
        rtype: u16,
        err: Box<MessageError>,
    },
    /// The RDATA ends inside a fixed-size field of its type.
    #[error("RDATA ends at offset {end}, inside a fixed field")]
    RdataShortField { end: usize },
    /// The RDATA ends where its type has a name.
    #[error("RDATA ends at offset {end} before a name")]
    RdataNoName { end: usize },
    /// The RDATA ends where its type has a character-string.
    #[error("RDATA ends at offset {end} before a string")]
    RdataNoString { end: usize },
    /// A character-string runs past the end of its RDATA.
    #[error("string of {len} octets at offset {pos} runs past the RDATA end {end}")]
    StringPastEnd { len: usize, pos: usize, end: usize },
    /// Octets follow the last field of the type's layout.
    #[error("{left} octets left over in the RDATA at offset {pos}")]
    RdataLeftOver { left: usize, pos: usize },
    /// Decompressed, the RDATA would not fit its 16-bit length.
    #[error("RDATA longer than 65535 octets once names are decompressed")]
    RdataTooLong,
    /// A name runs past the end of its data (the message or its RDATA).
    #[error("name at offset {pos} runs past the end of its data")]
    NamePastEnd { pos: usize },
    /// A name (decompressed) is longer than 255 octets.
    #[error("name at offset {pos} is longer than 255 octets")]
    NameTooLong { pos: usize },
    /// A label of the name runs past the end of its data.
    #[error("label at offset {label} of the name at offset {pos} runs past the end of its data")]
    LabelPastEnd { label: usize, pos: usize },
    /// A compression pointer's second octet is missing.
    #[error("compression pointer at offset {at} is cut off by the end of its data")]
    PointerCut { at: usize },
    /// A compression pointer points into the header.
    #[error("compression pointer at offset {at} points into the header ({target})")]
    PointerIntoHeader { at: usize, target: usize },
    /// A compression pointer points forward, or back into its own name
    /// piece: reading would not end.
    #[error(
        "compression pointer at offset {at} points to {target}, not before the name piece at \
         {piece} (a forward pointer or a loop)"
    )]
    PointerNotBefore {
        at: usize,
        target: usize,
        piece: usize,
    },
    /// A label type octet (0x40 to 0xbf) that is neither a length nor a
    /// pointer.
    #[error("label type 0x{label_type:02x} at offset {at} is not a length or a pointer")]
    BadLabelType { label_type: u8, at: usize },
}

/// Parses a whole message. The error says what is wrong and at which
/// offset.
pub fn parse(msg: &[u8]) -> Result<Message, MessageError> {
    if msg.len() < 12 {
        return Err(MessageError::ShortHeader { len: msg.len() });
    }
    let header = Header {
        id: be16(msg, 0),
        flags: be16(msg, 2),
        qdcount: be16(msg, 4),
        ancount: be16(msg, 6),
        nscount: be16(msg, 8),
        arcount: be16(msg, 10),
    };
    let mut pos = 12;
    let mut questions = Vec::with_capacity(usize::from(header.qdcount).min(16));
    for n in 0..header.qdcount {
        if pos == msg.len() {
            return Err(count_mismatch(pos, "question", n, header.qdcount));
        }
        let mut name = Vec::new();
        pos = read_name(msg, pos, msg.len(), &mut name)?;
        let fixed = msg
            .get(pos..pos + 4)
            .ok_or(MessageError::ShortQuestion { pos })?;
        questions.push(Question {
            name,
            qtype: be16(fixed, 0),
            qclass: be16(fixed, 2),
        });
        pos += 4;
    }

    let sections = [
        (Section::Answer, header.ancount, "answer"),
        (Section::Authority, header.nscount, "authority"),
        (Section::Additional, header.arcount, "additional"),
    ];
    let total: usize = sections.iter().map(|s| usize::from(s.1)).sum();
    // Each record takes at least 11 octets; do not trust the counts for
    // the allocation.
    let mut records = Vec::with_capacity(total.min((msg.len() - pos) / 11));
    for (section, count, what) in sections {
        for n in 0..count {
            if pos == msg.len() {
                return Err(count_mismatch(pos, what, n, count));
            }
            let (rr, end) = read_record(msg, pos, section)?;
            records.push(rr);
            pos = end;
        }
    }
    if pos != msg.len() {
        return Err(MessageError::TrailingData {
            pos,
            extra: msg.len() - pos,
        });
    }
    Ok(Message {
        header,
        questions,
        records,
    })
}

fn count_mismatch(pos: usize, section: &'static str, read: u16, count: u16) -> MessageError {
    MessageError::CountMismatch {
        pos,
        section,
        read,
        count,
    }
}

/// Reads the record at `pos`; returns it and its end.
fn read_record(msg: &[u8], pos: usize, section: Section) -> Result<(Rr, usize), MessageError> {
    let mut owner = Vec::new();
    let name_end = read_name(msg, pos, msg.len(), &mut owner)?;
    let fixed = msg
        .get(name_end..name_end + 10)
        .ok_or(MessageError::ShortRecord { pos })?;
    let rr_type = be16(fixed, 0);
    let class = be16(fixed, 2);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(be16(fixed, 8));
    let rd_start = name_end + 10;
    let rd_end = rd_start + rdlen;
    if rd_end > msg.len() {
        return Err(MessageError::RdataPastEnd {
            pos,
            rdlen,
            rd_start,
            len: msg.len(),
        });
    }
    // RFC 2136 §2.4 and §2.5: a prerequisite or a deletion of class ANY
    // or NONE has no RDATA, whatever its type ("delete this NS set").
    let rdata = if rdlen == 0 && matches!(class, class::ANY | class::NONE) {
        Vec::new()
    } else {
        read_rdata(msg, rr_type, rd_start, rd_end).map_err(|e| MessageError::Record {
            pos,
            rtype: rr_type,
            err: Box::new(e),
        })?
    };
    Ok((
        Rr {
            owner,
            rtype: rr_type,
            class,
            ttl,
            rdata,
            section,
            start: pos,
            end: rd_end,
        },
        rd_end,
    ))
}

/// How the RDATA of a type that may carry compressed names is laid out.
enum Part {
    /// Octets copied as they are.
    Fixed(usize),
    /// A possibly compressed name.
    Name,
    /// One character-string.
    CharStr,
    /// Whatever is left, copied.
    Rest,
}

/// The layout of the types RFC 3597 §4 says may have compressed names
/// (RFC 1035 types, and RP AFSDB RT SIG PX NXT NAPTR SRV on receipt).
fn layout(rr_type: u16) -> Option<&'static [Part]> {
    use rtype::*;
    use Part::*;
    const SIG: u16 = 24;
    const NXT: u16 = 30;
    Some(match rr_type {
        NS | MD | MF | CNAME | MB | MG | MR | PTR => &[Name],
        SOA => &[Name, Name, Fixed(20)],
        MINFO | RP => &[Name, Name],
        MX | AFSDB | RT => &[Fixed(2), Name],
        PX => &[Fixed(2), Name, Name],
        SRV => &[Fixed(6), Name],
        SIG => &[Fixed(18), Name, Rest],
        NXT => &[Name, Rest],
        NAPTR => &[Fixed(4), CharStr, CharStr, CharStr, Name],
        _ => return None,
    })
}

/// Copies the RDATA at `start..end`, decompressing names where allowed.
pub fn read_rdata(
    msg: &[u8],
    rr_type: u16,
    start: usize,
    end: usize,
) -> Result<Vec<u8>, MessageError> {
    let Some(parts) = layout(rr_type) else {
        return Ok(msg[start..end].to_vec());
    };
    let mut out = Vec::with_capacity(end - start + 32);
    let mut pos = start;
    for part in parts {
        match part {
            Part::Fixed(n) => {
                let bytes = msg
                    .get(pos..pos + n)
                    .filter(|_| pos + n <= end)
                    .ok_or(MessageError::RdataShortField { end })?;
                out.extend_from_slice(bytes);
                pos += n;
            }
            Part::Name => {
                if pos >= end {
                    return Err(MessageError::RdataNoName { end });
                }
                pos = read_name(msg, pos, end, &mut out)?;
            }
            Part::CharStr => {
                let len = *msg
                    .get(pos)
                    .filter(|_| pos < end)
                    .ok_or(MessageError::RdataNoString { end })? as usize;
                if pos + 1 + len > end {
                    return Err(MessageError::StringPastEnd { len, pos, end });
                }
                out.extend_from_slice(&msg[pos..pos + 1 + len]);
                pos += 1 + len;
            }
            Part::Rest => {
                out.extend_from_slice(&msg[pos..end]);
                pos = end;
            }
        }
    }
    if pos != end {
        return Err(MessageError::RdataLeftOver {
            left: end - pos,
            pos,
        });
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(MessageError::RdataTooLong);
    }
    Ok(out)
}

/// Reads the possibly compressed name at `pos` into `out` (appended,
/// uncompressed, case kept). Its inline octets must end by `limit`.
/// Returns the position after the name where it was written (after the
/// first pointer, if any).
///
/// Each pointer must point before the start of the piece of name that
/// contains it, so the targets strictly decrease and reading ends.
pub fn read_name(
    msg: &[u8],
    pos: usize,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<usize, MessageError> {
    let start_len = out.len();
    let mut cur = pos;
    let mut piece_start = pos;
    let mut end_after: Option<usize> = None;
    let mut bound = limit;
    loop {
        let len = *msg
            .get(cur)
            .filter(|_| cur < bound)
            .ok_or(MessageError::NamePastEnd { pos })?;
        match len {
            0 => {
                out.push(0);
                if out.len() - start_len > MAX_NAME_LEN {
                    return Err(MessageError::NameTooLong { pos });
                }
                return Ok(end_after.unwrap_or(cur + 1));
            }
            1..=63 => {
                let label_end = cur + 1 + len as usize;
                if label_end > bound {
                    return Err(MessageError::LabelPastEnd { label: cur, pos });
                }
                out.extend_from_slice(&msg[cur..label_end]);
                // The root label still to come makes one more octet.
                if out.len() - start_len >= MAX_NAME_LEN {
                    return Err(MessageError::NameTooLong { pos });
                }
                cur = label_end;
            }
            0xc0..=0xff => {
                let low = *msg
                    .get(cur + 1)
                    .filter(|_| cur + 1 < bound)
                    .ok_or(MessageError::PointerCut { at: cur })?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target < 12 {
                    return Err(MessageError::PointerIntoHeader { at: cur, target });
                }
                if target >= piece_start {
                    return Err(MessageError::PointerNotBefore {
                        at: cur,
                        target,
                        piece: piece_start,
                    });
                }
                if end_after.is_none() {
                    end_after = Some(cur + 2);
                }
                // Pointed-to names lie wholly in the message before the
                // piece we came from.
                bound = piece_start;
                piece_start = target;
                cur = target;
            }
            _ => {
                return Err(MessageError::BadLabelType {
                    label_type: len,
                    at: cur,
                });
            }
        }
    }
}

fn be16(data: &[u8], pos: usize) -> u16 {
    u16::from_be_bytes([data[pos], data[pos + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with the given counts (QR set, opcode QUERY).
    fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0x84, 0x00];
        for c in [qd, an, ns, ar] {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m
    }

    fn rr(m: &mut Vec<u8>, owner: &[u8], t: u16, ttl: u32, rdata: &[u8]) {
        m.extend_from_slice(owner);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    const EXAMPLE: &[u8] = b"\x07Example\x03org\x00";

    /// An AXFR-like answer: question example.org, then SOA, MX, SRV and
    /// an A at a compressed owner.
    fn transfer() -> Vec<u8> {
        let mut m = header(1, 4, 0, 1);
        m.extend_from_slice(EXAMPLE); // at 12
        m.extend_from_slice(&[0, 252, 0, 1]);
        // SOA at the apex (owner pointer to 12); mname ns1.<ptr 12>,
        // rname host.<ptr 12>.
        let mut soa = b"\x03ns1\xc0\x0c\x04host\xc0\x0c".to_vec();
        soa.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
        rr(&mut m, b"\xc0\x0c", rtype::SOA, 3600, &soa);
        // The SOA's mname "ns1" is at 12+13+4+12 = 41.
        let ns1 = 41u8;
        rr(
            &mut m,
            b"\xc0\x0c",
            rtype::MX,
            60,
            b"\x00\x0a\x02mx\xc0\x0c",
        );
        rr(
            &mut m,
            b"\x04_sip\x04_tcp\xc0\x0c",
            rtype::SRV,
            60,
            &[0, 1, 0, 2, 0x13, 0xc4, 0xc0, ns1],
        );
        rr(&mut m, &[0xc0, ns1], rtype::A, 60, &[192, 0, 2, 1]);
        // OPT in the additional section.
        rr(&mut m, b"\x00", rtype::OPT, 0, &[]);
        m
    }

    #[test]
    fn decompresses_owners_and_rdata_names() {
        let m = transfer();
        let msg = parse(&m).unwrap();
        assert_eq!(msg.header.id, 0xabcd);
        assert!(msg.header.is_response());
        assert_eq!(msg.header.opcode(), 0);
        assert_eq!(msg.header.rcode(), 0);
        assert_eq!(msg.questions.len(), 1);
        assert_eq!(msg.questions[0].name, EXAMPLE);
        assert_eq!(msg.questions[0].qtype, 252);
        let r = &msg.records;
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].owner, EXAMPLE);
        let mut soa = b"\x03ns1\x07Example\x03org\x00\x04host\x07Example\x03org\x00".to_vec();
        soa.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
        assert_eq!(r[0].rdata, soa);
        assert_eq!(r[0].ttl, 3600);
        assert_eq!(r[1].rdata, b"\x00\x0a\x02mx\x07Example\x03org\x00");
        assert_eq!(r[2].owner, b"\x04_sip\x04_tcp\x07Example\x03org\x00");
        assert_eq!(
            r[2].rdata,
            b"\x00\x01\x00\x02\x13\xc4\x03ns1\x07Example\x03org\x00"
        );
        assert_eq!(r[3].owner, b"\x03ns1\x07Example\x03org\x00");
        assert_eq!(r[3].rdata, [192, 0, 2, 1]);
        assert_eq!(r[3].section, Section::Answer);
        assert_eq!(r[4].section, Section::Additional);
        assert_eq!(r[4].rtype, rtype::OPT);
        assert_eq!(msg.section(Section::Answer).count(), 4);
        // Byte ranges cover the message.
        assert_eq!(r[0].start, 12 + EXAMPLE.len() + 4);
        for w in r.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(r[4].end, m.len());
    }

    #[test]
    fn other_types_are_copied_as_they_are() {
        // A TXT whose bytes happen to look like a pointer stays as is.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x00", rtype::TXT, 1, b"\x02\xc0\x0c");
        let msg = parse(&m).unwrap();
        assert_eq!(msg.records[0].rdata, b"\x02\xc0\x0c");
    }

    #[test]
    fn refuses_pointer_loops_and_forward_pointers() {
        // Owner is a pointer to itself.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\xc0\x0c", rtype::A, 1, &[1, 2, 3, 4]);
        let e = parse(&m).unwrap_err();
        assert!(
            e.to_string().contains("compression pointer at offset 12"),
            "{e}"
        );
        assert!(
            matches!(e, MessageError::PointerNotBefore { at: 12, .. }),
            "{e:?}"
        );
        // A forward pointer: the first question points at the second.
        let mut m = header(2, 0, 0, 0);
        m.extend_from_slice(b"\x01a\xc0\x14\x00\x01\x00\x01"); // at 12
        m.extend_from_slice(b"\x01b\x00\x00\x01\x00\x01"); // at 20
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("points to 20"), "{e}");
        // A pointer back to the start of its own name.
        let mut m = header(1, 0, 0, 0);
        m.extend_from_slice(b"\x01a\xc0\x0c\x00\x01\x00\x01");
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("not before"), "{e}");
        // A pointer that points before itself but into its own name
        // ("a" "b" ptr->"b"): backwards of the pointer, yet a loop.
        let mut m = header(1, 0, 0, 0);
        m.extend_from_slice(b"\x01a\x01b\xc0\x0e\x00\x01\x00\x01");
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("points to 14"), "{e}");
        // A pointer into the header.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\xc0\x02", rtype::A, 1, &[1, 2, 3, 4]);
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("into the header"), "{e}");
        assert!(
            matches!(e, MessageError::PointerIntoHeader { target: 2, .. }),
            "{e:?}"
        );
        // A chain of backward pointers is fine: q3 -> q2 -> q1.
        let mut m = header(3, 0, 0, 0);
        m.extend_from_slice(b"\x01x\x00\x00\x01\x00\x01"); // 12..19
        m.extend_from_slice(b"\x01y\xc0\x0c\x00\x01\x00\x01"); // 19..27
        m.extend_from_slice(b"\xc0\x13\x00\x01\x00\x01"); // 27..33
        let msg = parse(&m).unwrap();
        assert_eq!(msg.questions[2].name, b"\x01y\x01x\x00");
    }

    #[test]
    fn refuses_long_names() {
        // 5 labels of 63 = 320 octets, built by pointers.
        let mut m = header(2, 0, 0, 0);
        let mut first = Vec::new();
        for _ in 0..3 {
            first.push(63);
            first.extend_from_slice(&[b'a'; 63]);
        }
        first.push(0);
        m.extend_from_slice(&first);
        m.extend_from_slice(&[0, 1, 0, 1]);
        let mut second = Vec::new();
        for _ in 0..2 {
            second.push(63);
            second.extend_from_slice(&[b'b'; 63]);
        }
        second.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&second);
        m.extend_from_slice(&[0, 1, 0, 1]);
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("longer than 255"), "{e}");
        assert!(matches!(e, MessageError::NameTooLong { .. }), "{e:?}");
    }

    #[test]
    fn refuses_truncated_messages() {
        let m = transfer();
        for cut in 0..m.len() {
            assert!(parse(&m[..cut]).is_err(), "cut at {cut} parsed");
        }
        let e = parse(&m[..5]).unwrap_err();
        assert!(
            e.to_string().contains("shorter than the 12-octet header"),
            "{e}"
        );
        assert_eq!(e, MessageError::ShortHeader { len: 5 });
        // Cut inside the MX RDATA.
        let e = parse(&m[..m.len() - 40]).unwrap_err();
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn never_panics_on_mangled_bytes() {
        let m = transfer();
        for i in 0..m.len() {
            for v in [0x00, 0x01, 0x3f, 0x40, 0xc0, 0xff] {
                let mut bad = m.clone();
                bad[i] = v;
                let _ = parse(&bad);
            }
        }
    }

    #[test]
    fn refuses_count_mismatches() {
        let mut m = transfer();
        // One answer more than present: runs into the OPT as an answer
        // and then runs out.
        m[7] = 5;
        let e = parse(&m).unwrap_err();
        assert!(
            e.to_string()
                .contains("after 0 of the 1 additional records"),
            "{e}"
        );
        assert!(
            matches!(
                e,
                MessageError::CountMismatch {
                    section: "additional",
                    read: 0,
                    count: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        let mut m = transfer();
        m[11] = 0; // no additional counted: the OPT is trailing data
        let e = parse(&m).unwrap_err();
        assert!(
            e.to_string().contains("11 octets after the last record"),
            "{e}"
        );
        assert!(
            matches!(e, MessageError::TrailingData { extra: 11, .. }),
            "{e:?}"
        );
        let mut m = transfer();
        m[5] = 2; // two questions
        assert!(parse(&m).is_err());
    }

    #[test]
    fn refuses_bad_rdata_layouts() {
        // MX whose name runs past its RDATA length.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x00", rtype::MX, 1, b"\x00\x0a\x02mx");
        m.extend_from_slice(b"\x00");
        assert!(parse(&m).is_err());
        // MX with octets left over after the name.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x00", rtype::MX, 1, b"\x00\x0a\x00\x01");
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("left over"), "{e}");
        let MessageError::Record { rtype: t, err, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*t, rtype::MX);
        assert!(
            matches!(**err, MessageError::RdataLeftOver { left: 1, .. }),
            "{err:?}"
        );
        // SOA too short for its timers.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x00", rtype::SOA, 1, b"\x00\x00\x00\x00\x00\x01");
        assert!(parse(&m).is_err());
        // Extended label type.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x41\x00", rtype::A, 1, &[1, 2, 3, 4]);
        let e = parse(&m).unwrap_err();
        assert!(e.to_string().contains("label type 0x41"), "{e}");
        assert!(
            matches!(
                e,
                MessageError::BadLabelType {
                    label_type: 0x41,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn update_deletions_of_name_bearing_types_have_no_rdata() {
        // "update delete dlg.example.org NS" (class ANY) and "prereq
        // nxrrset x.example.org CNAME" (class NONE): RDLENGTH 0, which is
        // no NS or CNAME RDATA but is what RFC 2136 sends.
        let mut m = header(1, 1, 1, 0);
        m[2] = 0x28; // UPDATE
        m.extend_from_slice(EXAMPLE);
        m.extend_from_slice(&[0, 6, 0, 1]);
        let mut prereq = Vec::new();
        rr(&mut prereq, b"\x01x\xc0\x0c", rtype::CNAME, 0, &[]);
        prereq[6..8].copy_from_slice(&class::NONE.to_be_bytes());
        m.extend_from_slice(&prereq);
        let mut delete = Vec::new();
        rr(&mut delete, b"\x03dlg\xc0\x0c", rtype::NS, 0, &[]);
        delete[8..10].copy_from_slice(&class::ANY.to_be_bytes());
        m.extend_from_slice(&delete);
        let msg = parse(&m).unwrap();
        assert_eq!(msg.records[0].class, class::NONE);
        assert_eq!(msg.records[1].class, class::ANY);
        assert_eq!(msg.records[1].rtype, rtype::NS);
        assert!(msg.records.iter().all(|r| r.rdata.is_empty()));
        // Class IN keeps the rule: an NS needs its name.
        let mut m = header(0, 1, 0, 0);
        rr(&mut m, b"\x00", rtype::NS, 1, &[]);
        assert!(parse(&m).is_err());
    }

    #[test]
    fn decompresses_naptr_and_update_sections() {
        let mut m = header(1, 1, 1, 0);
        m[2] = 0x28; // UPDATE
        m.extend_from_slice(EXAMPLE);
        m.extend_from_slice(&[0, 6, 0, 1]);
        // Prerequisite: name in use, class ANY, type ANY.
        rr(&mut m, b"\x01x\xc0\x0c", 255, 0, &[]);
        let mut naptr = vec![0, 1, 0, 2, 1, b'u', 0, 0];
        naptr.extend_from_slice(b"\x01y\xc0\x0c");
        rr(&mut m, b"\xc0\x0c", rtype::NAPTR, 5, &naptr);
        let msg = parse(&m).unwrap();
        assert_eq!(msg.header.opcode(), 5);
        assert!(!msg.header.is_response());
        assert_eq!(msg.records[0].section, Section::Answer);
        assert_eq!(msg.records[0].owner, b"\x01x\x07Example\x03org\x00");
        assert_eq!(msg.records[1].section, Section::Authority);
        assert_eq!(
            msg.records[1].rdata,
            b"\x00\x01\x00\x02\x01u\x00\x00\x01y\x07Example\x03org\x00"
        );
    }
}
