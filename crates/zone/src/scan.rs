//! Driving the `domain` zone-file scanner over normalized text.
//!
//! Each record comes out with its owner in lowercase wire form, its RDATA in
//! wire form with uncompressed names (case kept), and the normalized line
//! it came from, so later checks can name `file:line`.

use bytes::Bytes;
use domain::base::iana::Class;
use domain::base::name::ToLabelIter;
use domain::base::rdata::ComposeRecordData;
use domain::base::RecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use crate::source::{Normalized, SourceError};

/// A scanned record.
#[derive(Clone, Debug)]
pub struct ScannedRecord {
    /// Owner, lowercase uncompressed wire form.
    pub owner: Box<[u8]>,
    pub rtype: u16,
    pub ttl: u32,
    /// RDATA in wire form, names uncompressed.
    pub rdata: Box<[u8]>,
    /// Normalized line (from 1); see [`Normalized::origin_of`].
    pub line: u32,
}

/// Scans every record of `text`.
pub fn scan(text: &Normalized) -> Result<Vec<ScannedRecord>, SourceError> {
    let mut zonefile = Zonefile::with_capacity(text.text.len());
    zonefile.extend_from_slice(&text.text);
    zonefile.set_default_class(Class::IN);

    let mut record_lines = text
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_record)
        .map(|(n, l)| (n as u32 + 1, l.rtype_override));

    let mut records = Vec::with_capacity(text.lines.len());
    let mut owner = Vec::with_capacity(255);
    loop {
        let entry_start = zonefile.current_offset();
        let entry = match zonefile.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => return Err(scanner_error(text, entry_start, &e.to_string())),
        };
        let Entry::Record(record) = entry else {
            // $INCLUDE never reaches the scanner: normalize inlines it.
            continue;
        };
        let (line, rtype_override) = record_lines.next().unwrap_or((text.lines.len() as u32, 0));
        if record.class() != Class::IN {
            return Err(text.error_at(
                line as usize,
                format!("class {} is not served: only IN zones are", record.class()),
            ));
        }
        owner.clear();
        for label in record.owner().iter_labels() {
            owner.push(label.len() as u8);
            owner.extend(label.as_slice().iter().map(u8::to_ascii_lowercase));
        }
        let data = record.data();
        let mut rdata = Vec::new();
        if data.compose_rdata(&mut rdata).is_err() {
            return Err(text.error_at(line as usize, "record data too long".into()));
        }
        if rdata.len() > u16::MAX as usize {
            return Err(text.error_at(line as usize, "record data longer than 65535 octets".into()));
        }
        let rtype = if rtype_override != 0 {
            rtype_override
        } else {
            data.rtype().to_int()
        };
        lowercase_names(rtype, &mut rdata);
        records.push(ScannedRecord {
            owner: owner.clone().into_boxed_slice(),
            rtype,
            ttl: record.ttl().as_secs(),
            rdata: rdata.into_boxed_slice(),
            line,
        });
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

/// Maps a scanner error onto the source.
///
/// The scanner's own `line:col` can point past the entry (it reports where
/// it stood, often the next line). Every normalized line is one entry, so
/// the failing entry is the first record line at or after the offset the
/// scanner started the entry from (directive lines before it were read
/// without error).
fn scanner_error(text: &Normalized, entry_start: usize, shown: &str) -> SourceError {
    let mut parts = shown.splitn(3, ':');
    let reported = parts.next().and_then(|l| l.trim().parse::<usize>().ok());
    let _col = parts.next();
    let message = explain(parts.next().map(str::trim).unwrap_or(shown));
    // The scanner may stand just before the line feed ending the last
    // entry; the failing one starts after it.
    let mut start = entry_start.min(text.text.len());
    while text.text.get(start) == Some(&b'\n') {
        start += 1;
    }
    let first_line = text.text[..start].iter().filter(|&&b| b == b'\n').count() + 1;
    let record_line = text.lines[first_line.saturating_sub(1).min(text.lines.len())..]
        .iter()
        .position(|l| l.is_record)
        .map(|p| first_line + p);
    let line = match (record_line, reported) {
        // The error is in a directive between the entry start and the
        // first record (the scanner then reports the right line).
        (Some(r), Some(rep)) if rep < r => rep,
        (Some(r), _) => r,
        (None, Some(rep)) => rep,
        (None, None) => 0,
    };
    text.error_at(line, message)
}

/// Makes the scanner's terse messages say what was expected.
fn explain(message: &str) -> String {
    match message {
        "expected rtype" => "expected a TTL, class or record type here".into(),
        "unexpected end of entry" => "the record ends before all its data fields".into(),
        "trailing tokens" => "unexpected data after the end of the record".into(),
        "bad domain name" | "invalid domain name" => "expected a valid domain name".into(),
        _ => format!("{message} (expected valid record data)"),
    }
}

/// Makes a `Bytes`-backed name for the origin, used by callers that need
/// `domain` names.
pub fn bytes_name(text: &str) -> Option<domain::base::Name<Bytes>> {
    use std::str::FromStr;
    domain::base::Name::<Bytes>::from_str(text).ok()
}
