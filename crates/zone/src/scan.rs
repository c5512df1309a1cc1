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

use crate::source::{Normalized, SourceError};

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
    ) -> Result<(), String> {
        let at = self.bytes.len();
        if owner.len() > wire::name::MAX_NAME_LEN {
            return Err("owner name longer than 255 octets".into());
        }
        if rdata.len() > usize::from(u16::MAX) {
            return Err("record data longer than 65535 octets".into());
        }
        if at + owner.len() + rdata.len() > u32::MAX as usize {
            return Err("zone too large: more than 4 GiB of names and records".into());
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
/// and the scanner's, in file order.
pub fn scan(text: &mut Normalized) -> Result<Scanned, SourceError> {
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
        .map(|(n, l)| (n as u32 + 1, l.rtype_override));

    // Where each scanned record goes among the encoded ones.
    let mut places = Vec::new();
    let mut owner = Vec::with_capacity(255);
    loop {
        let entry = match zonefile.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                let next_record = record_lines.clone().next().map(|(l, _)| l as usize);
                return Err(scanner_error(text, next_record, &e.to_string()));
            }
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
        let rtype = if rtype_override != 0 {
            rtype_override
        } else {
            data.rtype().to_int()
        };
        lowercase_names(rtype, &mut rdata);
        let origin = text.lines[line as usize - 1];
        records
            .push(
                &owner,
                rtype,
                record.ttl().as_secs(),
                &rdata,
                origin.file,
                origin.line,
            )
            .map_err(|m| text.error_at(line as usize, m))?;
        places.push(origin.encoded_before);
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

/// Maps a scanner error onto the source.
///
/// The scanner's own `line:col` can point past the entry (it reports where
/// it stood, often the next line), and its offsets run ahead of the entry
/// it reads. Every normalized line is one entry and records come out in
/// order, so the failing entry is the next record line not yet scanned,
/// `next_record` — unless the scanner reports a line before it (a
/// directive between the two failed).
fn scanner_error(text: &Normalized, next_record: Option<usize>, shown: &str) -> SourceError {
    let mut parts = shown.splitn(3, ':');
    let reported = parts.next().and_then(|l| l.trim().parse::<usize>().ok());
    let _col = parts.next();
    let message = explain(parts.next().map(str::trim).unwrap_or(shown));
    let line = match (next_record, reported) {
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
