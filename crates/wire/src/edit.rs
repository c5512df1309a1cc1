//! Changing a response after it was written: for response rules that cap
//! TTLs or remove records. Not on the fast path; allocation is fine here.

use crate::name::skip_compressed as skip_name;
use crate::response::Section;
use crate::types::rtype;

/// Where one record sits in a message.
#[derive(Clone, Copy, Debug)]
pub struct RecordPos {
    pub section: Section,
    pub start: usize,
    /// Where the fixed part (type, class, TTL, length) starts.
    pub fixed: usize,
    pub end: usize,
    pub rtype: u16,
}

/// Appends the name at `pos` uncompressed (pointers followed, each to an
/// earlier place: [`crate::message::read_name`]).
fn read_name(p: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<()> {
    crate::message::read_name(p, pos, p.len(), out)
        .ok()
        .map(|_| ())
}

fn count(p: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([p[at], p[at + 1]]))
}

/// The end of the question section and every record's place.
pub fn walk(p: &[u8]) -> Option<(usize, Vec<RecordPos>)> {
    if p.len() < 12 {
        return None;
    }
    let mut pos = 12;
    for _ in 0..count(p, 4) {
        pos = skip_name(p, pos)? + 4;
    }
    let question_end = pos;
    let mut records = Vec::new();
    let sections = [
        (Section::Answer, count(p, 6)),
        (Section::Authority, count(p, 8)),
        (Section::Additional, count(p, 10)),
    ];
    for (section, n) in sections {
        for _ in 0..n {
            let fixed = skip_name(p, pos)?;
            let rdlen = usize::from(u16::from_be_bytes([*p.get(fixed + 8)?, *p.get(fixed + 9)?]));
            let end = fixed + 10 + rdlen;
            if end > p.len() {
                return None;
            }
            let rr_type = u16::from_be_bytes([p[fixed], p[fixed + 1]]);
            records.push(RecordPos {
                section,
                start: pos,
                fixed,
                end,
                rtype: rr_type,
            });
            pos = end;
        }
    }
    Some((question_end, records))
}

/// Clamps the TTL of records (of `types`, or all when empty) into
/// [min, max], in place. OPT is never touched.
pub fn clamp_ttls(p: &mut [u8], min: u32, max: u32, types: &[u16]) -> Option<()> {
    let (_, records) = walk(p)?;
    for r in records {
        if r.rtype == rtype::OPT || (!types.is_empty() && !types.contains(&r.rtype)) {
            continue;
        }
        let at = r.fixed + 4;
        let ttl = u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        p[at..at + 4].copy_from_slice(&ttl.clamp(min, max).to_be_bytes());
    }
    Some(())
}

/// Writes `p` again into `out` keeping only the records `keep` says,
/// names written uncompressed (so no pointer can dangle), RDATA names
/// decompressed for every type RFC 3597 §4 lists (SRV, NAPTR… too: a
/// pointer copied as it was would point elsewhere once names move).
/// Returns the length of header and question in `out`.
pub fn rebuild(p: &[u8], keep: impl Fn(u16, Section) -> bool, out: &mut Vec<u8>) -> Option<usize> {
    let (question_end, records) = walk(p)?;
    out.clear();
    out.extend_from_slice(&p[..12]);
    // The question: names there are never compressed by us, but copy
    // through read_name to be safe.
    let mut pos = 12;
    for _ in 0..count(p, 4) {
        read_name(p, pos, out)?;
        pos = skip_name(p, pos)?;
        out.extend_from_slice(p.get(pos..pos + 4)?);
        pos += 4;
    }
    debug_assert_eq!(pos, question_end);
    let question_len = out.len();
    let mut counts = [0u16; 3];
    for r in records.iter().filter(|r| keep(r.rtype, r.section)) {
        read_name(p, r.start, out)?;
        let rdata = crate::message::read_rdata(p, r.rtype, r.fixed + 10, r.end).ok()?;
        out.extend_from_slice(&p[r.fixed..r.fixed + 8]);
        out.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&rdata);
        counts[r.section as usize] += 1;
    }
    for (i, c) in counts.iter().enumerate() {
        out[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
    }
    Some(question_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;

    fn sample() -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut r = Response::new(&mut buf, 512);
        r.set_header(1, 0);
        let q = b"\x03www\x07example\x03org\x00";
        r.push_question(q, 15, 1).unwrap();
        r.push_record(
            Section::Answer,
            q,
            15,
            1,
            3600,
            b"\x00\x0a\x04mail\x07example\x03org\x00",
        )
        .unwrap();
        r.push_record(Section::Answer, q, 16, 1, 10, b"\x02hi")
            .unwrap();
        r.push_record(
            Section::Additional,
            b"\x04mail\x07example\x03org\x00",
            1,
            1,
            3600,
            &[192, 0, 2, 1],
        )
        .unwrap();
        r.push_opt(1232, 0, false).unwrap();
        r.finish().to_vec()
    }

    #[test]
    fn clamps_and_rebuilds() {
        let mut p = sample();
        clamp_ttls(&mut p, 60, 300, &[]).unwrap();
        let (_, recs) = walk(&p).unwrap();
        let ttls: Vec<u32> = recs
            .iter()
            .filter(|r| r.rtype != rtype::OPT)
            .map(|r| {
                u32::from_be_bytes([
                    p[r.fixed + 4],
                    p[r.fixed + 5],
                    p[r.fixed + 6],
                    p[r.fixed + 7],
                ])
            })
            .collect();
        assert_eq!(ttls, [300, 60, 300]);
        let mut out = Vec::new();
        rebuild(&p, |t, _| t != 16, &mut out).unwrap();
        let (_, recs) = walk(&out).unwrap();
        let types: Vec<u16> = recs.iter().map(|r| r.rtype).collect();
        assert_eq!(types, [15, 1, rtype::OPT]);
        assert_eq!(&out[6..12], &[0, 1, 0, 0, 0, 2]);
        // The MX target survived as a full name.
        assert!(out.windows(4).any(|w| w == b"mail"));
    }

    #[test]
    fn rebuilds_messages_longer_than_a_name() {
        // Twenty A records: the rebuilt message passes 255 bytes long
        // before the last owner name is written.
        let mut buf = [0u8; 1024];
        let mut r = Response::new(&mut buf, 1024);
        r.set_header(1, 0);
        let q = b"\x03www\x07example\x03org\x00";
        r.push_question(q, 1, 1).unwrap();
        for i in 0..20u8 {
            r.push_record(Section::Answer, q, 1, 1, 60, &[192, 0, 2, i])
                .unwrap();
        }
        r.push_record(Section::Answer, q, 16, 1, 60, b"\x02hi")
            .unwrap();
        let p = r.finish().to_vec();
        let mut out = Vec::new();
        rebuild(&p, |t, _| t != 16, &mut out).expect("rebuilt");
        assert!(out.len() > 255);
        assert_eq!(walk(&out).unwrap().1.len(), 20);
    }

    /// An SRV target compressed against a name that moves when a record
    /// before it is removed must come out right: it is decompressed, not
    /// copied with a pointer that would now point elsewhere.
    #[test]
    fn compressed_names_in_srv_survive_a_rebuild() {
        let mut p = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        p.extend_from_slice(b"\x01x\x04test\x00\x00\x21\x00\x01");
        // TXT first (to be removed, 16 octets), then the SRV owned by
        // y.x.test. at offset 40, its target a.<pointer to offset 40>.
        p.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x04\x03abc");
        assert_eq!(p.len(), 40);
        p.extend_from_slice(b"\x01y\x01x\x04test\x00\x00\x21\x00\x01\x00\x00\x00\x3c\x00\x0a");
        p.extend_from_slice(b"\x00\x00\x00\x00\x00\x35\x01a\xc0\x28");
        let mut out = Vec::new();
        let question_len = rebuild(&p, |t, _| t != 16, &mut out).unwrap();
        assert_eq!(question_len, 12 + 12);
        let m = crate::message::parse(&out).unwrap();
        assert_eq!(m.records.len(), 1);
        assert_eq!(&m.records[0].rdata[6..], b"\x01a\x01y\x01x\x04test\x00");
    }
}
