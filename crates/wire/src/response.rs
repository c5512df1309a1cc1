//! Writing a response into a caller-owned buffer.
//!
//! [`Response`] writes the header, the question and records section by
//! section, compressing owner names and the names inside the RDATA of the
//! RFC 1035 types (RFC 3597 §4 forbids it for the others). The caller sets a
//! size limit; a record that would cross it is refused with [`Full`] and
//! nothing of it stays in the buffer, and [`Response::mark`] /
//! [`Response::rollback`] let the caller drop a partly written RRset so a
//! truncated response never carries one.
//!
//! Compression keeps a small fixed table of (offset, suffix hash) for names
//! already written; a hash hit is confirmed by walking the name in the
//! packet, so collisions cost a comparison, never a wrong pointer.

use std::mem::MaybeUninit;

use crate::name::{MAX_LABELS, MAX_NAME_LEN};
use crate::types::{flags, rtype};

/// A record did not fit under the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Where a record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// How the names inside a record's RDATA are laid out, for compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// No compressible names (also every type newer than RFC 1035).
    Opaque,
    /// One name (NS, CNAME, PTR, MB, MD, MF, MG, MR).
    Name,
    /// A 16-bit field, then a name (MX).
    U16Name,
    /// Two names, then fixed data (SOA, MINFO).
    NameName,
}

impl Layout {
    /// The compression layout RFC 3597 §4 allows for `rtype`.
    pub fn of(rr_type: u16) -> Layout {
        match rr_type {
            rtype::NS
            | rtype::CNAME
            | rtype::PTR
            | rtype::MB
            | rtype::MD
            | rtype::MF
            | rtype::MG
            | rtype::MR => Layout::Name,
            rtype::MX => Layout::U16Name,
            rtype::SOA | rtype::MINFO => Layout::NameName,
            _ => Layout::Opaque,
        }
    }
}

/// A point to roll the response back to.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    len: usize,
    counts: [u16; 3],
    names: usize,
    seeded: bool,
}

/// Entries in the compression table; names past it are written in full.
const TABLE_SIZE: usize = 96;
/// Names with fewer labels than this take the cheap scratch in `put_name`.
const SHORT_LABELS: usize = 32;

/// A DNS response being written.
pub struct Response<'b> {
    buf: &'b mut [u8],
    len: usize,
    limit: usize,
    counts: [u16; 3],
    /// (suffix hash, offset) of names in the message; entries below
    /// `names` are written. Left uninitialised above: zeroing 576 bytes
    /// per response showed up as 3% of a query's cost.
    table: [MaybeUninit<(u32, u16)>; TABLE_SIZE],
    names: usize,
    /// Where the question name was written (start, length): most names
    /// in an answer are the question's, and a direct comparison is
    /// cheaper than hashing every suffix.
    question: Option<(usize, usize)>,
    /// The question's suffixes are in the compression table. They go in
    /// only when a name first needs the table: most answers (A, AAAA,
    /// TXT at the question name) never do.
    seeded: bool,
}

impl<'b> Response<'b> {
    /// Starts a response in `buf` that will not grow past `limit` bytes
    /// (clamped to the buffer's size).
    ///
    /// The header is zeroed; set it with [`Response::set_header`].
    pub fn new(buf: &'b mut [u8], limit: usize) -> Self {
        let limit = limit.min(buf.len());
        let len = 12.min(buf.len());
        buf[..len].fill(0);
        Response {
            buf,
            len,
            limit,
            counts: [0; 3],
            table: [const { MaybeUninit::uninit() }; TABLE_SIZE],
            names: 0,
            question: None,
            seeded: true,
        }
    }

    /// Sets ID and flags word (QR is added here).
    pub fn set_header(&mut self, id: u16, flag_word: u16) {
        self.buf[0..2].copy_from_slice(&id.to_be_bytes());
        self.buf[2..4].copy_from_slice(&(flag_word | flags::QR).to_be_bytes());
    }

    /// Sets or clears header flag bits.
    pub fn set_flag(&mut self, bit: u16, on: bool) {
        let mut word = u16::from_be_bytes([self.buf[2], self.buf[3]]);
        if on {
            word |= bit;
        } else {
            word &= !bit;
        }
        self.buf[2..4].copy_from_slice(&word.to_be_bytes());
    }

    /// Whether a header flag bit is set.
    pub fn flag(&self, bit: u16) -> bool {
        u16::from_be_bytes([self.buf[2], self.buf[3]]) & bit != 0
    }

    /// Sets the low four rcode bits in the header.
    pub fn set_rcode(&mut self, rcode: u16) {
        self.buf[3] = (self.buf[3] & 0xf0) | (rcode & 0xf) as u8;
    }

    /// The current length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing past the header has been written.
    pub fn is_empty(&self) -> bool {
        self.len <= 12
    }

    /// The size limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Lowers or raises the size limit (never past the buffer).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.buf.len());
    }

    /// Number of records written to `section`.
    pub fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    /// Writes the question: the name exactly as the client sent it, so the
    /// answer echoes its case, and its suffixes become compression targets.
    pub fn push_question(&mut self, qname: &[u8], qtype: u16, qclass: u16) -> Result<(), Full> {
        let end = self.len + qname.len() + 4;
        if end > self.limit {
            return Err(Full);
        }
        let start = self.len;
        self.buf[start..start + qname.len()].copy_from_slice(qname);
        self.question = Some((start, qname.len()));
        self.seeded = false;
        self.len += qname.len();
        self.put_u16(qtype);
        self.put_u16(qclass);
        self.buf[4..6].copy_from_slice(&1u16.to_be_bytes());
        Ok(())
    }

    /// Writes `count` records already in wire form whose owner is a
    /// pointer to the question name at offset 12 and whose RDATA holds no
    /// compressible name: one copy, no name work. Refused (nothing
    /// written) unless the question sits at offset 12.
    pub fn push_rendered(
        &mut self,
        section: Section,
        records: &[u8],
        count: u16,
    ) -> Result<(), Full> {
        if self.question.map(|(at, _)| at) != Some(12) {
            return Err(Full);
        }
        self.need(records.len())?;
        self.buf[self.len..self.len + records.len()].copy_from_slice(records);
        self.len += records.len();
        self.counts[section as usize] += count;
        Ok(())
    }

    /// Writes one record already in wire form whose 2-byte pointers at
    /// `patches` (offsets in `record`) are set to point at `target`.
    pub fn push_pointing(
        &mut self,
        section: Section,
        record: &[u8],
        patches: &[u16],
        target: usize,
    ) -> Result<(), Full> {
        if target >= 0x4000 || target >= self.len {
            return Err(Full);
        }
        self.need(record.len())?;
        let start = self.len;
        self.buf[start..start + record.len()].copy_from_slice(record);
        let pointer = (0xc000 | target as u16).to_be_bytes();
        for &p in patches {
            let at = start + usize::from(p);
            if at + 2 > start + record.len() {
                return Err(Full);
            }
            self.buf[at..at + 2].copy_from_slice(&pointer);
        }
        self.len += record.len();
        self.counts[section as usize] += 1;
        Ok(())
    }

    /// A checkpoint to roll back to.
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            counts: self.counts,
            names: self.names,
            seeded: self.seeded,
        }
    }

    /// Forgets everything written since `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.len = mark.len;
        self.counts = mark.counts;
        self.names = mark.names;
        self.seeded = mark.seeded;
    }

    /// Writes one record. `owner` is an uncompressed wire name, `rdata` is
    /// the record data with uncompressed names; names in it are compressed
    /// where the type allows ([`Layout::of`]).
    pub fn push_record(
        &mut self,
        section: Section,
        owner: &[u8],
        rr_type: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let mark = self.mark();
        let result = self.write_record(owner, rr_type, class, ttl, rdata, Layout::of(rr_type));
        if result.is_err() {
            self.rollback(mark);
            return result;
        }
        self.counts[section as usize] += 1;
        Ok(())
    }

    fn write_record(
        &mut self,
        owner: &[u8],
        rr_type: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
        layout: Layout,
    ) -> Result<(), Full> {
        self.put_name(owner)?;
        self.need(10)?;
        self.put_u16(rr_type);
        self.put_u16(class);
        self.put_u32(ttl);
        let rdlen_at = self.len;
        self.put_u16(0);
        let rdata_start = self.len;
        match layout {
            Layout::Opaque => self.put_bytes(rdata)?,
            Layout::Name => self.put_rdata_names(rdata, 0, 1)?,
            Layout::U16Name => self.put_rdata_names(rdata, 2, 1)?,
            Layout::NameName => self.put_rdata_names(rdata, 0, 2)?,
        }
        let rdlen = (self.len - rdata_start) as u16;
        self.buf[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Ok(())
    }

    /// Writes `prefix` raw bytes, then `names` compressible names, then the
    /// rest raw. Falls back to raw bytes if the data is not as expected.
    fn put_rdata_names(&mut self, rdata: &[u8], prefix: usize, names: usize) -> Result<(), Full> {
        if rdata.len() < prefix {
            return self.put_bytes(rdata);
        }
        self.put_bytes(&rdata[..prefix])?;
        let mut pos = prefix;
        for _ in 0..names {
            match crate::name::uncompressed_len(&rdata[pos..]) {
                Some(n) => {
                    self.put_name(&rdata[pos..pos + n])?;
                    pos += n;
                }
                None => break,
            }
        }
        self.put_bytes(&rdata[pos..])
    }

    /// Writes an EDNS(0) OPT record (RFC 6891 §6.1.2) with no options.
    /// `ext_rcode` is the full 12-bit rcode; its upper bits go in the OPT.
    pub fn push_opt(
        &mut self,
        udp_payload: u16,
        ext_rcode: u16,
        dnssec_ok: bool,
    ) -> Result<(), Full> {
        self.need(11)?;
        self.buf[self.len] = 0;
        self.len += 1;
        self.put_u16(rtype::OPT);
        self.put_u16(udp_payload);
        self.buf[self.len] = (ext_rcode >> 4) as u8;
        self.buf[self.len + 1] = 0; // version 0
        self.buf[self.len + 2] = if dnssec_ok { 0x80 } else { 0 };
        self.buf[self.len + 3] = 0;
        self.len += 4;
        self.put_u16(0);
        self.counts[Section::Additional as usize] += 1;
        Ok(())
    }

    /// Writes the section counts and returns the finished message.
    pub fn finish(self) -> &'b [u8] {
        let [an, ns, ar] = self.counts;
        self.buf[6..8].copy_from_slice(&an.to_be_bytes());
        self.buf[8..10].copy_from_slice(&ns.to_be_bytes());
        self.buf[10..12].copy_from_slice(&ar.to_be_bytes());
        &self.buf[..self.len]
    }

    //--- Low-level writing

    fn need(&self, n: usize) -> Result<(), Full> {
        if self.len + n > self.limit {
            Err(Full)
        } else {
            Ok(())
        }
    }

    fn put_u16(&mut self, v: u16) {
        self.buf[self.len..self.len + 2].copy_from_slice(&v.to_be_bytes());
        self.len += 2;
    }

    fn put_u32(&mut self, v: u32) {
        self.buf[self.len..self.len + 4].copy_from_slice(&v.to_be_bytes());
        self.len += 4;
    }

    fn put_bytes(&mut self, data: &[u8]) -> Result<(), Full> {
        self.need(data.len())?;
        self.buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
        Ok(())
    }

    /// Writes `name` compressed against names already in the message.
    fn put_name(&mut self, name: &[u8]) -> Result<(), Full> {
        if let Some((start, len)) = self.question {
            if len == name.len()
                && start < 0x4000
                && start + len <= self.len
                && self.buf[start..start + len].eq_ignore_ascii_case(name)
            {
                self.need(2)?;
                self.put_u16(0xc000 | start as u16);
                return Ok(());
            }
        }
        // Scratch sized for everyday names; only long ones pay for
        // zeroing the full-size arrays.
        let mut offsets = [0u8; SHORT_LABELS];
        let labels = crate::name::label_offsets(name, &mut offsets);
        if labels < SHORT_LABELS {
            let mut hashes = [0u32; SHORT_LABELS + 1];
            return self.put_name_with(name, &offsets[..labels], &mut hashes);
        }
        let mut offsets = [0u8; MAX_LABELS];
        let labels = crate::name::label_offsets(name, &mut offsets);
        let mut hashes = [0u32; MAX_LABELS + 1];
        self.put_name_with(name, &offsets[..labels], &mut hashes)
    }

    /// `put_name` with the label offsets found and room for their hashes.
    fn put_name_with(
        &mut self,
        name: &[u8],
        offsets: &[u8],
        hashes: &mut [u32],
    ) -> Result<(), Full> {
        let labels = offsets.len();
        suffix_hashes(name, offsets, hashes);
        if !self.seeded {
            self.seed_question();
        }

        // Find the longest suffix already in the message.
        let mut matched = None;
        for (i, &off) in offsets[..labels].iter().enumerate() {
            if let Some(ptr) = self.find(&name[off as usize..], hashes[i]) {
                matched = Some((i, ptr));
                break;
            }
        }
        let plain = matched.map_or(labels, |(i, _)| i);
        let plain_len = if plain == labels {
            name.len()
        } else {
            offsets[plain] as usize
        };
        let total = plain_len + if matched.is_some() { 2 } else { 0 };
        self.need(total)?;

        let start = self.len;
        self.buf[start..start + plain_len].copy_from_slice(&name[..plain_len]);
        for (i, &off) in offsets[..plain].iter().enumerate() {
            self.remember(start + off as usize, hashes[i]);
        }
        self.len += plain_len;
        if let Some((_, ptr)) = matched {
            self.put_u16(0xc000 | ptr);
        }
        Ok(())
    }

    /// Puts every suffix of the question name in the compression table.
    fn seed_question(&mut self) {
        self.seeded = true;
        let Some((start, len)) = self.question else {
            return;
        };
        // The cheap scratch for everyday names, as in `put_name`.
        let mut offsets = [0u8; SHORT_LABELS];
        let name = &self.buf[start..start + len];
        let labels = crate::name::label_offsets(name, &mut offsets);
        if labels < SHORT_LABELS {
            let mut hashes = [0u32; SHORT_LABELS + 1];
            self.remember_suffixes(start, &offsets[..labels], &mut hashes);
        } else {
            let mut offsets = [0u8; MAX_LABELS];
            let labels = crate::name::label_offsets(name, &mut offsets);
            let mut hashes = [0u32; MAX_LABELS + 1];
            self.remember_suffixes(start, &offsets[..labels], &mut hashes);
        }
    }

    /// Remembers every suffix of the name written at `start` whose label
    /// offsets are `offsets`.
    fn remember_suffixes(&mut self, start: usize, offsets: &[u8], hashes: &mut [u32]) {
        suffix_hashes(&self.buf[start..], offsets, hashes);
        for (i, &off) in offsets.iter().enumerate() {
            self.remember(start + off as usize, hashes[i]);
        }
    }

    fn remember(&mut self, offset: usize, hash: u32) {
        if self.names < TABLE_SIZE && offset < 0x4000 {
            self.table[self.names].write((hash, offset as u16));
            self.names += 1;
        }
    }

    /// The offset of a name in the message equal to `suffix`, if known.
    fn find(&self, suffix: &[u8], hash: u32) -> Option<u16> {
        for entry in &self.table[..self.names] {
            // SAFETY: `remember` wrote every entry below `names`, and
            // `names` only ever shrinks back to an earlier value.
            let (h, off) = unsafe { entry.assume_init() };
            if h == hash && packet_name_eq(&self.buf[..self.len], off as usize, suffix) {
                return Some(off);
            }
        }
        None
    }
}

/// Hashes of every suffix of `name`, case-folded; `hashes[i]` is the hash
/// of the suffix starting at label `i`.
fn suffix_hashes(name: &[u8], offsets: &[u8], hashes: &mut [u32]) {
    let mut h: u32 = 0x811c_9dc5;
    hashes[offsets.len()] = h;
    for i in (0..offsets.len()).rev() {
        let start = offsets[i] as usize;
        let len = name[start] as usize;
        h ^= len as u32;
        h = h.wrapping_mul(0x0100_0193);
        for &b in &name[start + 1..start + 1 + len] {
            // `| 0x20` folds letters' case in one instruction; it also
            // folds a few non-letters together, which only costs a hash
            // collision (equality is checked case-insensitively after).
            h ^= u32::from(b | 0x20);
            h = h.wrapping_mul(0x0100_0193);
        }
        hashes[i] = h;
    }
}

/// Whether the (possibly compressed) name at `offset` in `packet` equals
/// the uncompressed `name`, ignoring case.
fn packet_name_eq(packet: &[u8], mut offset: usize, name: &[u8]) -> bool {
    let mut pos = 0;
    let mut hops = 0;
    loop {
        let Some(&len) = packet.get(offset) else {
            return false;
        };
        if len >= 0xc0 {
            let Some(&low) = packet.get(offset + 1) else {
                return false;
            };
            offset = (((len & 0x3f) as usize) << 8) | low as usize;
            hops += 1;
            if hops > MAX_NAME_LEN {
                return false;
            }
            continue;
        }
        let len = len as usize;
        if name.get(pos) != Some(&(len as u8)) {
            return false;
        }
        if len == 0 {
            return true;
        }
        let (Some(a), Some(b)) = (
            packet.get(offset + 1..offset + 1 + len),
            name.get(pos + 1..pos + 1 + len),
        ) else {
            return false;
        };
        if !a.eq_ignore_ascii_case(b) {
            return false;
        }
        offset += 1 + len;
        pos += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = b"\x07example\x03org\x00";
    const WWW: &[u8] = b"\x03WWW\x07example\x03org\x00";

    #[test]
    fn compresses_owner_against_question() {
        let mut buf = [0u8; 512];
        let mut r = Response::new(&mut buf, 512);
        r.set_header(7, 0);
        r.push_question(WWW, 1, 1).unwrap();
        r.push_record(
            Section::Answer,
            b"\x03www\x07EXAMPLE\x03org\x00",
            1,
            1,
            60,
            &[1, 2, 3, 4],
        )
        .unwrap();
        let len_before = r.len();
        r.push_record(
            Section::Authority,
            EXAMPLE,
            2,
            1,
            60,
            b"\x02ns\x07example\x03org\x00",
        )
        .unwrap();
        let out = r.finish();
        // Answer owner is a pointer to the question (offset 12).
        let ans = 12 + WWW.len() + 4;
        assert_eq!(&out[ans..ans + 2], &[0xc0, 12]);
        // Authority owner points at "example.org" inside the question,
        // and the NS target is "ns" + pointer.
        assert_eq!(&out[len_before..len_before + 2], &[0xc0, 16]);
        assert_eq!(&out[len_before + 12..], &[2, b'n', b's', 0xc0, 16]);
        assert_eq!(&out[6..12], &[0, 1, 0, 1, 0, 0]);
        assert_eq!(out[2] & 0x80, 0x80);
    }

    #[test]
    fn refuses_records_past_limit_and_rolls_back() {
        let mut buf = [0u8; 512];
        let mut r = Response::new(&mut buf, 60);
        r.push_question(WWW, 1, 1).unwrap();
        let len = r.len();
        let mark = r.mark();
        r.push_record(Section::Answer, WWW, 1, 1, 60, &[1, 2, 3, 4])
            .unwrap();
        assert_eq!(
            r.push_record(Section::Answer, WWW, 16, 1, 60, &[20; 20]),
            Err(Full)
        );
        assert_eq!(r.count(Section::Answer), 1);
        r.rollback(mark);
        assert_eq!(r.len(), len);
        assert_eq!(r.count(Section::Answer), 0);
    }

    #[test]
    fn opt_carries_extended_rcode() {
        let mut buf = [0u8; 512];
        let mut r = Response::new(&mut buf, 512);
        r.push_opt(1232, 16, true).unwrap();
        let out = r.finish();
        assert_eq!(&out[12..], &[0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0]);
        assert_eq!(out[11], 1);
    }

    #[test]
    fn name_equality_follows_pointers() {
        let mut packet = vec![0u8; 12];
        packet.extend_from_slice(EXAMPLE);
        packet.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 12]);
        assert!(packet_name_eq(
            &packet,
            25,
            b"\x03WWW\x07example\x03org\x00"
        ));
        assert!(!packet_name_eq(&packet, 25, EXAMPLE));
        // A pointer loop ends with "not equal", not a hang.
        let looped = [0xc0, 0];
        assert!(!packet_name_eq(&looped, 0, EXAMPLE));
    }
}

/// Adds `options` (framed `[code][len][data]…`) to the OPT record that
/// ends the finished message `msg[..len]`, as written by
/// [`Response::push_opt`] (no options yet). Returns the new length, or
/// `None` when the message does not end with such an OPT or the options
/// do not fit `msg` (the caller keeps the message as it was).
pub fn append_opt_options(msg: &mut [u8], len: usize, options: &[u8]) -> Option<usize> {
    let opt = len.checked_sub(11)?;
    let bare = len >= 12 + 11
        && msg[opt] == 0
        && msg[opt + 1..opt + 3] == rtype::OPT.to_be_bytes()
        && msg[opt + 9..opt + 11] == [0, 0];
    let end = len + options.len();
    if !bare || end > msg.len() || options.len() > usize::from(u16::MAX) {
        return None;
    }
    msg[opt + 9..opt + 11].copy_from_slice(&(options.len() as u16).to_be_bytes());
    msg[len..end].copy_from_slice(options);
    Some(end)
}

#[cfg(test)]
mod append_tests {
    use super::*;

    #[test]
    fn options_go_into_a_bare_trailing_opt() {
        let mut buf = [0u8; 128];
        let mut r = Response::new(&mut buf, 128);
        r.set_header(1, 0);
        r.push_question(b"\x01a\x00", 1, 1).unwrap();
        r.push_opt(1232, 0, false).unwrap();
        let len = r.finish().len();
        let new = append_opt_options(&mut buf, len, &[0, 10, 0, 2, 7, 7]).unwrap();
        assert_eq!(new, len + 6);
        assert_eq!(&buf[len - 2..new], &[0, 6, 0, 10, 0, 2, 7, 7]);
        // Now the OPT has options: a second append is refused.
        assert_eq!(append_opt_options(&mut buf, new, &[0, 15, 0, 0]), None);
        // No room.
        assert_eq!(
            append_opt_options(&mut buf[..len + 3], len, &[0, 10, 0, 2, 7, 7]),
            None
        );
    }
}
