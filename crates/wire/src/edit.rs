//! Finding and changing the records of a message after it was written:
//! response rules that cap TTLs or remove records, the packet cache's TTL
//! aging, ECS. [`records`] checks a message once and then walks it
//! without allocating (the cache and ECS do this per packet).

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

/// Walks the records of a message [`records`] has checked: give it the
/// same message each time (it holds no borrow of it, so the caller may
/// change TTLs in place between steps).
#[derive(Clone, Debug)]
pub struct RecordCursor {
    pos: usize,
    /// Records left in the answer, authority and additional sections.
    left: [usize; 3],
}

const SECTIONS: [Section; 3] = [Section::Answer, Section::Authority, Section::Additional];

impl RecordCursor {
    /// The next record; `None` after the last.
    pub fn next(&mut self, p: &[u8]) -> Option<RecordPos> {
        self.step(p).ok().flatten()
    }

    /// The next record, `Ok(None)` after the last, `Err` if the message
    /// is cut off or malformed there.
    fn step(&mut self, p: &[u8]) -> Result<Option<RecordPos>, ()> {
        let Some(s) = self.left.iter().position(|&n| n > 0) else {
            return Ok(None);
        };
        self.left[s] -= 1;
        let fixed = skip_name(p, self.pos).ok_or(())?;
        let len = p.get(fixed + 8..fixed + 10).ok_or(())?;
        let end = fixed + 10 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if end > p.len() {
            return Err(());
        }
        let r = RecordPos {
            section: SECTIONS[s],
            start: self.pos,
            fixed,
            end,
            rtype: u16::from_be_bytes([p[fixed], p[fixed + 1]]),
        };
        self.pos = end;
        Ok(Some(r))
    }
}

/// The end of the question section, and a cursor over the records once
/// the whole message is checked to hold them; `None` if it does not.
pub fn records(p: &[u8]) -> Option<(usize, RecordCursor)> {
    if p.len() < 12 {
        return None;
    }
    let mut pos = 12;
    for _ in 0..count(p, 4) {
        pos = skip_name(p, pos)? + 4;
    }
    if pos > p.len() {
        return None; // the last question's type and class are cut off
    }
    let start = RecordCursor {
        pos,
        left: [count(p, 6), count(p, 8), count(p, 10)],
    };
    let mut check = start.clone();
    while check.step(p).ok()?.is_some() {}
    Some((pos, start))
}

/// The first record of type `rr_type` in a well-formed message.
pub fn find(p: &[u8], rr_type: u16) -> Option<RecordPos> {
    let (_, mut c) = records(p)?;
    std::iter::from_fn(|| c.next(p)).find(|r| r.rtype == rr_type)
}

/// The first record of type `rr_type` in the additional section of a
/// well-formed message: where an OPT record belongs (RFC 6891 §6.1.1),
/// so one in another section is not taken for it.
pub fn find_additional(p: &[u8], rr_type: u16) -> Option<RecordPos> {
    let (_, mut c) = records(p)?;
    std::iter::from_fn(|| c.next(p))
        .find(|r| r.rtype == rr_type && r.section == Section::Additional)
}

/// The end of the question section and every record's place.
pub fn walk(p: &[u8]) -> Option<(usize, Vec<RecordPos>)> {
    let (question_end, mut c) = records(p)?;
    Some((question_end, std::iter::from_fn(|| c.next(p)).collect()))
}

/// Cuts a truncated (TC) answer down to its header and question, keeping
/// an OPT record as a bare one: same payload size and DO bit, no options,
/// extended rcode 0 (dnsdist's `truncateTC`, for backends that send TC
/// answers with records in them). Returns the new length; `len` unchanged
/// for a message that does not parse.
pub fn truncate_to_question(p: &mut [u8], len: usize) -> usize {
    let Some(msg) = p.get(..len) else { return len };
    let Some((question_end, mut c)) = records(msg) else {
        return len;
    };
    let opt = std::iter::from_fn(|| c.next(msg))
        .find(|r| r.rtype == rtype::OPT)
        .map(|r| {
            let f = r.fixed;
            // CLASS is the payload size; the TTL's third byte holds DO.
            ([msg[f + 2], msg[f + 3]], msg[f + 6] & 0x80)
        });
    for at in [6, 8, 10] {
        p[at..at + 2].fill(0);
    }
    let mut end = question_end;
    if let Some((payload, dnssec_ok)) = opt {
        let bare = [
            0,
            (rtype::OPT >> 8) as u8,
            rtype::OPT as u8,
            payload[0],
            payload[1],
            0,
            0,
            dnssec_ok,
            0,
            0,
            0,
        ];
        // The OPT was after the question, so its 11 bytes fit.
        p[end..end + bare.len()].copy_from_slice(&bare);
        end += bare.len();
        p[11] = 1;
    }
    end
}

/// `query` with EDNS option `code` set to `data`: an option of that code
/// already there is replaced, and a query without an OPT gets one
/// (payload 512, as dnsdist adds it). `None` if the query does not parse
/// or the option would not fit its 16-bit length.
pub fn set_edns_option(query: &[u8], code: u16, data: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(data.len()).ok()?;
    let mut option = code.to_be_bytes().to_vec();
    option.extend(len.to_be_bytes());
    option.extend(data);
    records(query)?;
    let opt = find_additional(query, rtype::OPT);
    let Some(opt) = opt else {
        // No OPT: one at the end, holding the option.
        let mut out = query.to_vec();
        out.extend([0, 0, 41, 2, 0, 0, 0, 0, 0]);
        out.extend(u16::try_from(option.len()).ok()?.to_be_bytes());
        out.extend(option);
        let ar = u16::from_be_bytes([query[10], query[11]]).checked_add(1)?;
        out[10..12].copy_from_slice(&ar.to_be_bytes());
        return Some(out);
    };
    // The OPT's options without any of this code, then the new one.
    let rdata = &query[opt.fixed + 10..opt.end];
    let mut options = Vec::with_capacity(rdata.len() + option.len());
    let mut rest = rdata;
    while let [c0, c1, l0, l1, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        if u16::from_be_bytes([*c0, *c1]) != code {
            options.extend(&rest[..4 + n]);
        }
        rest = &tail[n..];
    }
    options.extend(option);
    let mut out = query[..opt.fixed + 8].to_vec();
    out.extend(u16::try_from(options.len()).ok()?.to_be_bytes());
    out.extend(options);
    out.extend(&query[opt.end..]);
    Some(out)
}

/// Lowers every TTL (OPT aside) by `age` seconds, in place; nothing in a
/// malformed message.
pub fn age_ttls(p: &mut [u8], age: u32) {
    let Some((_, mut c)) = records(p) else { return };
    while let Some(r) = c.next(p) {
        if r.rtype == rtype::OPT {
            continue;
        }
        let at = r.fixed + 4;
        let t = u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        p[at..at + 4].copy_from_slice(&t.saturating_sub(age).to_be_bytes());
    }
}

/// The smallest TTL of the records (OPT aside); `None` without records
/// or in a malformed message.
pub fn min_ttl(p: &[u8]) -> Option<u32> {
    let (_, mut c) = records(p)?;
    std::iter::from_fn(|| c.next(p))
        .filter(|r| r.rtype != rtype::OPT)
        .map(|r| {
            let at = r.fixed + 4;
            u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
        })
        .min()
}

/// Clamps the TTL of records (of `types`, or all when empty) into
/// [min, max], in place. OPT is never touched.
pub fn clamp_ttls(p: &mut [u8], min: u32, max: u32, types: &[u16]) -> Option<()> {
    let (_, mut c) = records(p)?;
    while let Some(r) = c.next(p) {
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
    fn ttls_age_in_place_and_a_cut_message_is_left_alone() {
        let mut p = sample();
        assert_eq!(min_ttl(&p), Some(10));
        age_ttls(&mut p, 4);
        assert_eq!(min_ttl(&p), Some(6));
        assert_eq!(
            find(&p, rtype::OPT).map(|r| r.section),
            Some(Section::Additional)
        );
        // Cut inside the last record: nothing is walked, nothing changed.
        let mut cut = p[..p.len() - 3].to_vec();
        let before = cut.clone();
        assert!(records(&cut).is_none() && min_ttl(&cut).is_none());
        age_ttls(&mut cut, 4);
        assert_eq!(cut, before);
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

    #[test]
    fn a_truncated_answer_keeps_its_question_and_a_bare_opt() {
        // Header (TC, 1 question, 1 answer, 1 additional), question
        // a.test/A, an A record, an OPT with payload 4242, DO and one
        // option.
        let mut m = vec![0x12, 0x34, 0x82, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let question_end = m.len();
        m.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 127, 0, 0, 1]);
        m.extend([
            0, 0, 41, 0x10, 0x92, 0, 0, 0x80, 0, 0, 6, 0, 10, 0, 2, 0xab, 0xcd,
        ]);
        let len = m.len();
        let n = truncate_to_question(&mut m, len);
        assert_eq!(n, question_end + 11);
        assert_eq!(m[4..12], [0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            m[question_end..n],
            [0, 0, 41, 0x10, 0x92, 0, 0, 0x80, 0, 0, 0]
        );
        // Without an OPT: header and question only.
        let mut plain = m[..question_end].to_vec();
        plain[11] = 0;
        plain[7] = 1;
        plain.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 127, 0, 0, 1]);
        let len = plain.len();
        assert_eq!(truncate_to_question(&mut plain, len), question_end);
        assert_eq!(plain[4..12], [0, 1, 0, 0, 0, 0, 0, 0]);
        // Garbage is left alone.
        let mut junk = vec![0u8; 5];
        assert_eq!(truncate_to_question(&mut junk, 5), 5);
    }

    #[test]
    fn an_edns_option_is_added_or_replaced() {
        // a.test/A, no OPT.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let with = set_edns_option(&q, 10, b"abcd").unwrap();
        let opt = find(&with, rtype::OPT).unwrap();
        assert_eq!(with[10..12], [0, 1]);
        assert_eq!(with[opt.fixed + 2..opt.fixed + 4], [2, 0], "payload 512");
        assert_eq!(
            with[opt.fixed + 8..opt.end],
            *b"\x00\x08\x00\x0a\x00\x04abcd"
        );
        // Replaced, not repeated; another option kept.
        let two = set_edns_option(&with, 8, b"xy").unwrap();
        let again = set_edns_option(&two, 10, b"zz").unwrap();
        let opt = find(&again, rtype::OPT).unwrap();
        assert_eq!(again[10..12], [0, 1]);
        assert_eq!(
            again[opt.fixed + 10..opt.end],
            *b"\x00\x08\x00\x02xy\x00\x0a\x00\x02zz"
        );
        assert!(set_edns_option(&q[..14], 10, b"x").is_none());
    }

    /// Found by the `backend_answer` fuzz target: a query with an OPT
    /// record in its answer section and none in the additional section.
    /// The option went into that record, where Query::parse, and so the
    /// backend, never looks.
    #[test]
    fn an_option_goes_into_the_additional_sections_opt() {
        let query = b"\xbe\xef\x01\x80\x00\x01\x00\x01\x00\x00\x00\x00\x00\x03www\x07example\
            \x03org\x10\x00\x01\x00\x01\xff\xc0\x0c\x00\x01\x00\x01\x00\x00\x00x\
            \x00\x04\xc0\x00\x02\x01\x00\x00\x29\x04e\xd0\x00\x00\x00\x00\x00";
        let q = crate::Query::parse(query).unwrap();
        assert!(q.edns.is_none());
        let out = set_edns_option(query, 65013, b"fuzz").unwrap();
        let q = crate::Query::parse(&out).unwrap();
        assert!(q.has_edns_option(65013));
        assert_eq!(
            (q.end, &out[..query.len()]),
            (
                out.len(),
                &{
                    let mut p = query.to_vec();
                    p[11] = 1;
                    p
                }[..]
            )
        );
    }

    /// Found by the `backend_answer` fuzz target: an answer whose second
    /// question is a root name with no type and class after it. The
    /// question section was taken to end four bytes past the message,
    /// so cutting it down to its question made it four bytes longer.
    #[test]
    fn a_question_cut_off_in_its_type_and_class_is_malformed() {
        let answer = b"\xbe\xef\xa1\x80\x00\x02\x00\x00\x00\x00\x00\x00\x00\x03\x12\x18\x35\x00";
        assert!(records(answer).is_none());
        let mut p = answer.to_vec();
        p.resize(64, 0xaa);
        assert_eq!(truncate_to_question(&mut p, answer.len()), answer.len());
        assert_eq!(&p[..answer.len()], answer);
        // With its type and class, it is a whole message.
        let mut whole = answer.to_vec();
        whole.extend_from_slice(&[0, 1, 0, 1]);
        assert!(records(&whole).is_some());
    }
}
