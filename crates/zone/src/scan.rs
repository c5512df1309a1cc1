//! Scanned records, and driving the `domain` zone-file scanner over
//! normalized text.
//!
//! Each record comes out with its owner in lowercase wire form, its RDATA in
//! wire form with uncompressed names (case kept), and the `file:line` it
//! came from, so later checks can name it. The common types were already
//! encoded while normalizing ([`crate::source`]); the scanner reads the
//! rest, and the two are put back in file order.

use domain::base::iana::Class;
use domain::base::name::ToLabelIter;
use domain::base::rdata::ComposeRecordData;
use domain::base::RecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use crate::source::{Normalized, SourceError, SourceErrorKind, MAX_LISTED_ERRORS};

/// One scanned record; its owner and RDATA are in its [`Scanned`].
#[derive(Clone, Copy, Debug)]
pub struct Rec {
    /// Offset of the owner in the arena; the RDATA follows it.
    at: u32,
    pub ttl: u32,
    /// Line in `files[file]` of the [`Normalized`] text it came from,
    /// from 1; 0 for records that came from no file.
    pub line: u32,
    /// Place in the zone's text, all files together (what "later in the
    /// file" means across `$INCLUDE`s): the order added, renumbered when
    /// `scan` merges the two readers' records.
    pub seq: u32,
    rdata_len: u16,
    pub rtype: u16,
    pub file: u16,
    owner_len: u8,
}

/// Scanned records, their owners (lowercase, uncompressed wire form) and
/// RDATA (names uncompressed) in one arena: a million-record zone is a
/// few allocations, not two million.
#[derive(Debug, Default)]
pub struct Scanned {
    bytes: Vec<u8>,
    recs: Vec<Rec>,
}

impl Scanned {
    /// Adds a record; `Err` when the arena's 32-bit offsets are used up
    /// or a part is longer than a name or RDATA can be.
    pub fn push(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
        file: u16,
        line: u32,
    ) -> Result<(), SourceErrorKind> {
        let at = self.bytes.len();
        if owner.len() > wire::name::MAX_NAME_LEN {
            return Err(SourceErrorKind::OwnerTooLong);
        }
        if rdata.len() > usize::from(u16::MAX) {
            return Err(SourceErrorKind::RdataOver65535);
        }
        if at + owner.len() + rdata.len() > u32::MAX as usize {
            return Err(SourceErrorKind::ArenaFull);
        }
        self.bytes.extend_from_slice(owner);
        self.bytes.extend_from_slice(rdata);
        self.recs.push(Rec {
            at: at as u32,
            ttl,
            line,
            seq: self.recs.len() as u32,
            rdata_len: rdata.len() as u16,
            rtype,
            file,
            owner_len: owner.len() as u8,
        });
        Ok(())
    }

    /// The owner of `r`.
    #[inline]
    pub fn owner(&self, r: &Rec) -> &[u8] {
        &self.bytes[r.at as usize..r.at as usize + usize::from(r.owner_len)]
    }

    /// The RDATA of `r`.
    #[inline]
    pub fn rdata(&self, r: &Rec) -> &[u8] {
        let start = r.at as usize + usize::from(r.owner_len);
        &self.bytes[start..start + usize::from(r.rdata_len)]
    }

    /// The records, in the order they were added.
    pub fn recs(&self) -> &[Rec] {
        &self.recs
    }

    /// The records, to reorder.
    pub fn recs_mut(&mut self) -> &mut Vec<Rec> {
        &mut self.recs
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
}

/// Scans every record of `text`: the ones normalizing already encoded,
/// and the scanner's, in file order. `Err` holds every error found, those
/// `text` held before too (see [`SourceError`]).
pub fn scan(text: &mut Normalized) -> Result<Scanned, SourceError> {
    let records = scan_reading_on(text)?;
    match text.take_errors() {
        Some(e) => Err(e),
        None => Ok(records),
    }
}

/// The scanner's prefix for reading on after a bad record: the `$ORIGIN`
/// and `$TTL` in force, and a record with the owner in force (dropped),
/// so entries without one read as they would have.
const RESUME_TYPE: &str = "TYPE65534";

/// [`scan`] that reports a bad record in [`Normalized::errors`] and reads
/// on after it; `Err` only for an error that stops reading (a bad
/// `$ORIGIN`), with all the errors found before it.
///
/// The scanner cannot go on after an error, so a new one starts on the
/// rest of the text, after a prefix that sets what the old one knew. It
/// copies that rest: after [`MAX_LISTED_ERRORS`] bad records, reading
/// stops.
pub(crate) fn scan_reading_on(text: &mut Normalized) -> Result<Scanned, SourceError> {
    let mut records = std::mem::take(&mut text.records);
    let encoded = records.len();
    if text.lines.is_empty() {
        return Ok(records);
    }
    let mut zonefile = Zonefile::with_capacity(text.text.len());
    zonefile.extend_from_slice(&text.text);
    zonefile.set_default_class(Class::IN);

    let mut record_lines = text
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_record)
        .map(|(n, l)| (n as u32 + 1, l.rtype_override))
        .peekable();

    // Errors found here: (file index, error).
    let mut errors: Vec<(u16, SourceError)> = Vec::new();
    // The part of the text the scanner reads: from normalized line
    // `seg_line` (at byte `seg_byte`), after `prefix_lines` lines of
    // prefix, the last of which a dropped record if `resume_owner`.
    let mut seg_line = 1usize;
    let mut seg_byte = 0usize;
    let mut prefix_lines = 0usize;
    let mut resume_owner: Option<String> = None;
    let mut skip_resume_record = false;
    // Records read since the scanner started.
    let mut seg_records = 0usize;
    let mut stopped = false;

    // Where each scanned record goes among the encoded ones.
    let mut places = Vec::new();
    let mut owner = Vec::with_capacity(255);
    loop {
        let entry = match zonefile.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                let shown = e.to_string();
                let reported = shown
                    .split(':')
                    .next()
                    .and_then(|l| l.trim().parse::<usize>().ok());
                if reported.is_some_and(|r| r <= prefix_lines) && resume_owner.is_some() {
                    // The owner in force does not read back (a name only
                    // the scanner rejects): read on without it, skipping
                    // the entries that would need it.
                    resume_owner = None;
                } else {
                    let next_record = record_lines.peek().map(|&(l, _)| l as usize);
                    let reported = reported
                        .and_then(|r| r.checked_sub(prefix_lines + 1))
                        .map(|r| r + seg_line);
                    let (line, kind) = scanner_error(next_record, reported, &shown);
                    let e = text.error_at(line, kind);
                    let file = text.file_of(line);
                    let is_record = line
                        .checked_sub(1)
                        .and_then(|l| text.lines.get(l))
                        .is_some_and(|l| l.is_record);
                    if !is_record || line < seg_line {
                        // A bad $ORIGIN: every name after it would be wrong.
                        errors.push((file, e));
                        drop(record_lines);
                        for (file, e) in errors {
                            text.report(file, e);
                        }
                        return Err(text.take_reported());
                    }
                    errors.push((file, e));
                    if errors.len() > MAX_LISTED_ERRORS {
                        stopped = true;
                        break;
                    }
                    while record_lines.next_if(|&(l, _)| l as usize <= line).is_some() {}
                    // The owner the scanner held after the bad entry: its
                    // own, or the one before.
                    let line_start =
                        nth_line_start(&text.text, seg_byte, line.saturating_sub(seg_line));
                    let bad = &text.text[line_start..];
                    resume_owner = if !bad.starts_with(b" ") {
                        Some(String::from_utf8_lossy(owner_token(bad)).into_owned())
                    } else if seg_records > 0 {
                        Some(wire::name::to_text(&owner))
                    } else {
                        resume_owner.take()
                    };
                    seg_byte = line_start;
                    seg_line = line;
                    // Now past the bad line.
                    let next = nth_line_start(&text.text, seg_byte, 1);
                    seg_byte = next;
                    seg_line += 1;
                }
                if resume_owner.is_none() {
                    // Entries without an owner have none to read on with:
                    // they are skipped (their owner's entry was reported).
                    while text.text.get(seg_byte) == Some(&b' ') {
                        seg_byte = nth_line_start(&text.text, seg_byte, 1);
                        seg_line += 1;
                        while record_lines
                            .next_if(|&(l, _)| (l as usize) < seg_line)
                            .is_some()
                        {}
                    }
                }
                if seg_byte >= text.text.len() {
                    break;
                }
                let before = &text.text[..seg_byte];
                let origin = last_directive(before, b"$ORIGIN ").unwrap_or(b"$ORIGIN .");
                let ttl = last_directive(before, b"$TTL ").unwrap_or(b"$TTL 3600");
                let mut prefix = Vec::with_capacity(128);
                for d in [origin, ttl] {
                    prefix.extend_from_slice(d);
                    prefix.push(b'\n');
                }
                prefix_lines = 2;
                if let Some(o) = &resume_owner {
                    prefix.extend_from_slice(format!("{o} {RESUME_TYPE} \\# 0\n").as_bytes());
                    prefix_lines = 3;
                }
                let rest = &text.text[seg_byte..];
                zonefile = Zonefile::with_capacity(prefix.len() + rest.len());
                zonefile.extend_from_slice(&prefix);
                zonefile.extend_from_slice(rest);
                zonefile.set_default_class(Class::IN);
                skip_resume_record = resume_owner.is_some();
                seg_records = 0;
                continue;
            }
        };
        let Entry::Record(record) = entry else {
            // $INCLUDE never reaches the scanner: normalize inlines it.
            continue;
        };
        if std::mem::take(&mut skip_resume_record) {
            continue;
        }
        let (line, rtype_override) = record_lines.next().unwrap_or((text.lines.len() as u32, 0));
        seg_records += 1;
        owner.clear();
        for label in record.owner().iter_labels() {
            owner.push(label.len() as u8);
            owner.extend(label.as_slice().iter().map(u8::to_ascii_lowercase));
        }
        // Every record comes from a line of the normalized text; were one
        // not to, it is passed over rather than indexed out of range.
        let Some(&origin) = (line as usize)
            .checked_sub(1)
            .and_then(|i| text.lines.get(i))
        else {
            continue;
        };
        if record.class() != Class::IN {
            errors.push((
                origin.file,
                text.error_at(
                    line as usize,
                    SourceErrorKind::ClassNotServed {
                        class: record.class().to_string(),
                    },
                ),
            ));
            continue;
        }
        let data = record.data();
        let mut rdata = Vec::new();
        if data.compose_rdata(&mut rdata).is_err() {
            let e = text.error_at(line as usize, SourceErrorKind::RdataTooLong);
            errors.push((origin.file, e));
            continue;
        }
        let rtype = if rtype_override != 0 {
            rtype_override
        } else {
            data.rtype().to_int()
        };
        lowercase_names(rtype, &mut rdata);
        let pushed = records.push(
            &owner,
            rtype,
            record.ttl().as_secs(),
            &rdata,
            origin.file,
            origin.line,
        );
        if let Err(kind) = pushed {
            errors.push((origin.file, text.error_at(line as usize, kind)));
            continue;
        }
        places.push(origin.encoded_before);
    }
    drop(record_lines);
    for (file, e) in errors {
        text.report(file, e);
    }
    if stopped {
        text.stopped_reading();
    }
    if encoded > 0 && !places.is_empty() {
        // Both kinds: put the scanner's records back between the encoded
        // ones they came between in the file.
        let recs = records.recs_mut();
        let scanned = recs.split_off(encoded);
        let mut merged = Vec::with_capacity(recs.len() + scanned.len());
        let mut next = 0;
        for (r, before) in scanned.into_iter().zip(places) {
            let before = (before as usize).min(recs.len());
            merged.extend_from_slice(&recs[next..before.max(next)]);
            next = next.max(before);
            merged.push(r);
        }
        merged.extend_from_slice(&recs[next..]);
        for (seq, r) in merged.iter_mut().enumerate() {
            r.seq = seq as u32;
        }
        *recs = merged;
    }
    Ok(records)
}

/// Folds to lowercase the domain names inside RDATA of the types RFC 4034
/// §6.2 lists, as Knot and NSD do when they load a zone (so answers match
/// theirs, and records differing only in a name's case are duplicates).
/// SVCB/HTTPS and LP keep their case (Knot keeps it).
pub fn lowercase_names(rr_type: u16, rdata: &mut [u8]) {
    use wire::types::rtype::*;
    // (offset of the first name, number of names in a row)
    let (start, count) = match rr_type {
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME | NSEC => (0, 1),
        SOA | MINFO | RP => (0, 2),
        MX | AFSDB | RT | KX => (2, 1),
        PX => (2, 2),
        SRV => (6, 1),
        RRSIG => (18, 1),
        NAPTR => {
            // order, preference, then three character-strings.
            let mut pos = 4;
            for _ in 0..3 {
                match rdata.get(pos) {
                    Some(&len) => pos += 1 + len as usize,
                    None => return,
                }
            }
            (pos, 1)
        }
        _ => return,
    };
    let mut pos = start;
    for _ in 0..count {
        let Some(len) = rdata.get(pos..).and_then(wire::name::uncompressed_len) else {
            return;
        };
        rdata[pos..pos + len].make_ascii_lowercase();
        pos += len;
    }
}

/// Maps a scanner error onto the source: the normalized line it is on,
/// and what it says.
///
/// The scanner's own `line:col` can point past the entry (it reports where
/// it stood, often the next line), and its offsets run ahead of the entry
/// it reads. Every normalized line is one entry and records come out in
/// order, so the failing entry is the next record line not yet scanned,
/// `next_record` — unless the scanner reports a line before it,
/// `reported` (a directive between the two failed).
fn scanner_error(
    next_record: Option<usize>,
    reported: Option<usize>,
    shown: &str,
) -> (usize, SourceErrorKind) {
    let mut parts = shown.splitn(3, ':');
    let _line = parts.next();
    let _col = parts.next();
    let kind = explain(parts.next().map(str::trim).unwrap_or(shown));
    let line = match (next_record, reported) {
        (Some(r), Some(rep)) if rep < r => rep,
        (Some(r), _) => r,
        (None, Some(rep)) => rep,
        (None, None) => 0,
    };
    (line, kind)
}

/// The byte offset of the line `n` lines after the one starting at
/// `from` (the text's length if there is none).
fn nth_line_start(text: &[u8], from: usize, n: usize) -> usize {
    if n == 0 {
        return from;
    }
    text[from..]
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(n - 1)
        .map_or(text.len(), |(i, _)| from + i + 1)
}

/// The last line of `text` that starts with `directive`.
fn last_directive<'t>(text: &'t [u8], directive: &[u8]) -> Option<&'t [u8]> {
    text.split(|&b| b == b'\n')
        .rev()
        .find(|l| l.starts_with(directive))
}

/// The first token of a normalized line: up to a space not escaped.
fn owner_token(line: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b' ' | b'\t' | b'\n' => break,
            _ => i += 1,
        }
    }
    &line[..i.min(line.len())]
}

/// The kind of the scanner's terse messages, which says what was
/// expected. The scanner's errors are text only: its message is the one
/// place a kind comes from text.
fn explain(message: &str) -> SourceErrorKind {
    match message {
        "expected rtype" => SourceErrorKind::ExpectedType,
        "unexpected end of entry" => SourceErrorKind::TooFewFields,
        "trailing tokens" => SourceErrorKind::TooManyFields,
        "bad domain name" | "invalid domain name" => SourceErrorKind::BadName,
        _ => SourceErrorKind::Scanner {
            message: message.to_string(),
        },
    }
}
