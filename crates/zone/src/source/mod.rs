//! From zone-file text to what the `domain` scanner reads.
//!
//! The `domain` crate's scanner reads names, record data and the RFC 1035
//! directives it knows. In front of it, [`normalize`] does what it lacks:
//! - splits the text into logical entries and writes each as one line, so
//!   a scanner line number maps straight back to `file:line` (through
//!   [`Normalized::lines`]), across `$INCLUDE`d files too;
//! - expands `$GENERATE` and inlines `$INCLUDE` (with its origin);
//! - turns BIND unit TTLs (`1h`) into seconds, in `$TTL`, in records and
//!   in SOA timers;
//! - encodes LOC and URI itself and hands them on in RFC 3597 form, and
//!   scans SPF as TXT (the type is restored after scanning);
//! - encodes plainly written A, AAAA, NS, CNAME, PTR, MX and TXT records itself
//!   ([`plain`]), so most of a big zone is read once, not twice.

mod extra_types;
mod generate;
mod other_types;
mod plain;
mod tokens;
mod ttl;

pub use extra_types::unescape;
pub use generate::GenerateError;
pub use ttl::parse_ttl;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokens::{Entry, Token, Tokenizer};
use wire::name::to_text;

use crate::build::type_name;

/// TTL of records that give none, before any `$TTL`.
pub const DEFAULT_TTL: u32 = 3600;

/// How deep `$INCLUDE`s may nest before we call it a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// At most this many errors are listed for one load; the ones after them
/// are counted ([`SourceError::more`]).
pub const MAX_LISTED_ERRORS: usize = 100;

/// An error in a zone file, with where it is — and, for a whole load, the
/// further errors found after it.
///
/// Loading a zone file ([`crate::load_zone`]) reads on past a bad record
/// and reports every error it finds, as `named-checkzone` does: bad
/// entries (an unbalanced parenthesis or quote, a bad TTL, an unknown
/// type, bad record data, a bad name, an unknown directive, a bad `$TTL`
/// or `$GENERATE`), then the zone rules (data outside the zone, SOA off
/// the apex, CNAME beside other data, two CNAMEs or DNAMEs at a name). The
/// first error is this value's own `file`, `line` and [`kind`](Self::kind)
/// (what is wrong, whose text is the message); the rest
/// are in [`further`](Self::further), in file order. Its [`Display`]
/// prints one error per line, this one first, so a caller printing the
/// error prints them all.
///
/// Some errors stop the load where they are, since what follows cannot be
/// read as meant: a zone file that cannot be read; any `$INCLUDE` error (a
/// missing file, nesting too deep, a malformed directive), since the
/// records and owner it brings are unknown; a malformed `$ORIGIN`, or one
/// that is no valid name, since every relative name after it would be
/// wrong (a name only the scanner refuses, such as one with a label too
/// long, is found after the first pass, whose errors after it are listed
/// too). So does a zone too large to build. Every error found before
/// such an error, by any step, is listed with it. After a bad entry, entries
/// without an owner whose owner is not known (the bad entry's owner was
/// no plain name, or a `$GENERATE` failed) are skipped unread; and after
/// [`MAX_LISTED_ERRORS`] bad records the scanner finds, it stops reading
/// ([`stopped`](Self::stopped)).
#[derive(Clone, Debug)]
pub struct SourceError {
    pub file: PathBuf,
    /// Line in `file`, from 1; `None` for errors about the whole file.
    pub line: Option<u32>,
    /// What is wrong; its `Display` is the message after `file:line: `.
    /// Boxed: a `SourceError` travels by value up through every step of
    /// a load (and inside `xfr`'s errors), and stays as small as it was
    /// with a `String` message.
    pub kind: Box<SourceErrorKind>,
    /// The further errors of the same load, in file order (each with no
    /// further errors of its own); at most [`MAX_LISTED_ERRORS`] in all.
    pub further: Vec<SourceError>,
    /// How many more errors were found than are listed.
    pub more: usize,
    /// Reading stopped after [`MAX_LISTED_ERRORS`] bad records the scanner
    /// found, so `more` is a lower bound.
    pub stopped: bool,
}

/// What is wrong in a zone file (or in the records of an update or a
/// transfer, checked as a zone file is): the kind of a [`SourceError`].
/// The texts are the ones operators see after `file:line: `. Names are
/// kept in lowercase wire form and types as their codes (both are shown
/// in presentation form).
#[derive(Clone, Debug, thiserror::Error)]
pub enum SourceErrorKind {
    // Files.
    /// The zone file cannot be read (the error is about the whole file).
    #[error("cannot read zone file: {source}")]
    ReadFile { source: Arc<std::io::Error> },
    /// An `$INCLUDE`d file cannot be read.
    #[error("cannot read $INCLUDE file {}: {source}", path.display())]
    ReadInclude {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// `$INCLUDE`s nested deeper than the bound: most likely a loop.
    #[error("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")]
    IncludeTooDeep,
    /// More files included than their 16-bit index counts.
    #[error("too many included files")]
    TooManyFiles,
    /// The zone's name does not parse.
    #[error("bad zone name '{name}': {source}")]
    BadZoneName {
        name: String,
        source: wire::name::NameError,
    },

    // Entries (the tokenizer).
    /// A `)` with no `(` open.
    #[error("unbalanced ')': no '(' is open")]
    UnopenedParen,
    /// A `(` still open at the end of the file.
    #[error("unbalanced '(': the file ends before its ')'")]
    UnclosedParen,
    /// A quoted string still open at the end of its line.
    #[error("quoted string not closed before the end of the line")]
    QuoteOpenAtLineEnd,
    /// A quoted string still open at the end of the file.
    #[error("quoted string not closed before the end of the file")]
    QuoteOpenAtFileEnd,

    // Directives.
    /// `$ORIGIN` without exactly one name.
    #[error("expected one name after $ORIGIN")]
    OriginSyntax,
    /// `$TTL` without exactly one value.
    #[error("expected one TTL after $TTL")]
    TtlSyntax,
    /// `$TTL` with a value that is no TTL.
    #[error("expected a TTL after $TTL, found '{found}'")]
    BadTtl { found: String },
    /// `$INCLUDE` with no file, or more than a file and an origin.
    #[error("expected '$INCLUDE file [origin]'")]
    IncludeSyntax,
    /// A `$` directive other than the four known.
    #[error("unknown directive {name}: expected $ORIGIN, $TTL, $INCLUDE or $GENERATE")]
    UnknownDirective { name: String },
    /// A malformed `$GENERATE` (its range, its templates).
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// A `$GENERATE` line that made an entry that does not read.
    #[error("$GENERATE made a bad record '{record}': {err}")]
    GeneratedEntry {
        record: String,
        err: Box<SourceErrorKind>,
    },

    // Records.
    /// A name-like token with an empty label (`a..b`, `.a`).
    #[error("empty label in '{token}': expected a name like a.example.")]
    EmptyLabel { token: String },
    /// An entry with no record type.
    #[error("expected a record type")]
    NoType,
    /// Bad data for one of the types encoded here rather than by the
    /// scanner (AFSDB, KEY, CERT, APL…): `rtype` is its mnemonic.
    #[error("{rtype}: {detail}")]
    BadRdata { rtype: &'static str, detail: String },
    /// Bad LOC data (the text says which field).
    #[error("{0}")]
    BadLoc(String),
    /// Bad URI data (the text says which field).
    #[error("{0}")]
    BadUri(String),
    /// A `\DDD` escape above 255 in a string.
    #[error("escape \\{value} is over 255")]
    EscapeOver255 { value: u32 },
    /// A string ending in a lone `\`.
    #[error("a lone '\\' ends the string")]
    LoneBackslash,
    /// The scanner wanted a TTL, class or type where the entry has
    /// something else (most often an unknown type).
    #[error("expected a TTL, class or record type here")]
    ExpectedType,
    /// The record ends before all its data fields.
    #[error("the record ends before all its data fields")]
    TooFewFields,
    /// Data after the last field of the record.
    #[error("unexpected data after the end of the record")]
    TooManyFields,
    /// A name the scanner refuses.
    #[error("expected a valid domain name")]
    BadName,
    /// Any other record data the scanner refuses; `message` is its own.
    #[error("{message} (expected valid record data)")]
    Scanner { message: String },
    /// A class other than IN.
    #[error("class {class} is not served: only IN zones are")]
    ClassNotServed { class: String },
    /// Record data whose wire form is too long to compose.
    #[error("record data too long")]
    RdataTooLong,
    /// An owner name longer than a name can be.
    #[error("owner name longer than 255 octets")]
    OwnerTooLong,
    /// Record data longer than its 16-bit length can say.
    #[error("record data longer than 65535 octets")]
    RdataOver65535,
    /// The records' arena is full (its offsets are 32 bits).
    #[error("zone too large: more than 4 GiB of names and records")]
    ArenaFull,

    // Zone rules.
    /// A record whose owner is not at or below the apex.
    #[error(
        "{} is outside the zone {}: expected names at or below the origin",
        to_text(name),
        to_text(apex)
    )]
    OutsideZone { name: Box<[u8]>, apex: Box<[u8]> },
    /// No SOA at the apex.
    #[error(
        "no SOA record at the zone apex {}: expected exactly one",
        to_text(apex)
    )]
    NoSoa { apex: Box<[u8]> },
    /// An SOA off the apex.
    #[error(
        "SOA record at {}: expected SOA only at the zone apex {}",
        to_text(owner),
        to_text(apex)
    )]
    SoaNotAtApex { owner: Box<[u8]>, apex: Box<[u8]> },
    /// An SOA whose data is not its two names and five numbers.
    #[error(
        "malformed SOA record at {}: expected MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM",
        to_text(owner)
    )]
    MalformedSoa { owner: Box<[u8]> },
    /// Two SOA, CNAME or DNAME records at a name.
    #[error(
        "more than one {} record at {}: expected exactly one",
        type_name(*rtype),
        to_text(owner)
    )]
    MoreThanOne { rtype: u16, owner: Box<[u8]> },
    /// A CNAME beside other data (`other`: the other type).
    #[error(
        "CNAME and {} at {}: expected no other data beside a CNAME",
        type_name(*other),
        to_text(owner)
    )]
    CnameAndOther { other: u16, owner: Box<[u8]> },
    /// A CNAME at the apex.
    #[error("CNAME at the zone apex {}: expected SOA and NS there", to_text(owner))]
    CnameAtApex { owner: Box<[u8]> },
    /// The compiled zone would not fit its 32-bit offsets.
    #[error(
        "zone {} is too large: more than 4 GiB of names and records",
        to_text(apex)
    )]
    ZoneTooLarge { apex: Box<[u8]> },
    /// The zone was not built and no error says why: a bug.
    #[error("zone not built (a bug: please report it)")]
    NotBuilt,
}

impl SourceError {
    /// One error at `file:line`.
    pub fn new(file: impl Into<PathBuf>, line: Option<u32>, kind: SourceErrorKind) -> Self {
        SourceError {
            file: file.into(),
            line,
            kind: Box::new(kind),
            further: Vec::new(),
            more: 0,
            stopped: false,
        }
    }

    /// Every error listed, this one first (without their further errors).
    pub fn all(&self) -> impl Iterator<Item = &SourceError> {
        std::iter::once(self).chain(&self.further)
    }

    /// How many errors were found, listed or not (a lower bound when
    /// [`stopped`](Self::stopped)).
    pub fn count(&self) -> usize {
        1 + self.further.len() + self.more
    }

    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.kind),
            None => write!(f, "{}: {}", self.file.display(), self.kind),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for e in &self.further {
            f.write_str("\n")?;
            e.fmt_one(f)?;
        }
        let s = if self.more == 1 { "" } else { "s" };
        match (self.more, self.stopped) {
            (0, _) => Ok(()),
            (n, false) => write!(f, "\n… and {n} more error{s}"),
            (n, true) => write!(
                f,
                "\n… and at least {n} more error{s} (reading stopped after {MAX_LISTED_ERRORS} bad records)"
            ),
        }
    }
}

impl std::error::Error for SourceError {}

/// The errors found so far in one load: the first [`MAX_LISTED_ERRORS`]
/// in file order (across `$INCLUDE`s), and a count of the rest.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    /// Sorted by place: the line numbers down the `$INCLUDE` chain.
    listed: Vec<(Vec<u32>, SourceError)>,
    more: usize,
    stopped: bool,
}

impl Errors {
    fn insert(&mut self, key: Vec<u32>, e: SourceError) {
        let at = self.listed.partition_point(|(k, _)| *k <= key);
        if at >= MAX_LISTED_ERRORS {
            self.more += 1;
            return;
        }
        self.listed.insert(at, (key, e));
        if self.listed.len() > MAX_LISTED_ERRORS {
            self.listed.pop();
            self.more += 1;
        }
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// How many were found, listed or not.
    pub fn len(&self) -> usize {
        self.listed.len() + self.more
    }

    /// All of them as one error (the first, with the rest as its
    /// further errors); `None` if there are none.
    pub fn into_error(self) -> Option<SourceError> {
        let mut listed = self.listed.into_iter().map(|(_, e)| e);
        let mut first = listed.next()?;
        first.further = listed.collect();
        first.more = self.more;
        first.stopped = self.stopped;
        Some(first)
    }
}

/// Where one normalized line came from.
#[derive(Clone, Copy, Debug)]
pub struct LineOrigin {
    /// Index into [`Normalized::files`].
    pub file: u16,
    pub line: u32,
    /// For record lines: the type to store instead of the scanned one
    /// (SPF, scanned as TXT); 0 otherwise.
    pub rtype_override: u16,
    /// Whether the line is a record (not a directive).
    pub is_record: bool,
    /// For record lines: how many records were encoded here (in
    /// [`Normalized::records`]) before this one, to restore file order.
    pub encoded_before: u32,
}

/// Normalized zone text: one entry per line.
#[derive(Debug, Default)]
pub struct Normalized {
    pub text: Vec<u8>,
    /// `lines[n]` describes line `n + 1` of `text`.
    pub lines: Vec<LineOrigin>,
    /// Every file read, the zone file first.
    pub files: Vec<PathBuf>,
    /// The records encoded while normalizing (their lines are not in
    /// `text`).
    pub records: crate::scan::Scanned,
    /// `included_at[f]`: the file and line whose `$INCLUDE` read
    /// `files[f]` (`(0, 0)` for the zone file itself).
    pub included_at: Vec<(u16, u32)>,
    /// The errors found so far, for a loader that reads on past them.
    pub errors: Errors,
    /// An error that stopped reading, and its file's index: the text
    /// ends before its entry (what came before can still be checked).
    pub stop: Option<(u16, SourceError)>,
}

impl Normalized {
    /// The source position of normalized line `line` (from 1).
    pub fn origin_of(&self, line: usize) -> Option<(&Path, u32)> {
        let info = self.lines.get(line.checked_sub(1)?)?;
        Some((self.files[info.file as usize].as_path(), info.line))
    }

    /// Where a scanned record came from: `files[file]`, line `line`
    /// (0: no line).
    pub fn place(&self, file: u16, line: u32) -> String {
        let path = self
            .files
            .get(usize::from(file))
            .or(self.files.first())
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        match line {
            0 => path,
            _ => format!("{path}:{line}"),
        }
    }

    /// An error about a scanned record from `files[file]`, line `line`
    /// (0: no line).
    pub fn error_at_source(&self, file: u16, line: u32, kind: SourceErrorKind) -> SourceError {
        SourceError::new(
            (self.files.get(usize::from(file)).or(self.files.first()))
                .cloned()
                .unwrap_or_default(),
            (line != 0).then_some(line),
            kind,
        )
    }

    /// Where `files[file]`, line `line`, is in the zone's text, as line
    /// numbers from the zone file down the `$INCLUDE` chain: keys in file
    /// order.
    fn place_key(&self, file: u16, line: u32) -> Vec<u32> {
        let mut key = vec![line];
        let mut f = file;
        while f != 0 {
            let Some(&(parent, at)) = self.included_at.get(usize::from(f)) else {
                break;
            };
            key.push(at);
            // An including file is always read before what it includes.
            if parent >= f {
                break;
            }
            f = parent;
        }
        key.reverse();
        key
    }

    /// Records an error from `files[file]` (its line in `e.line`) and
    /// reads on.
    pub fn report(&mut self, file: u16, e: SourceError) {
        let key = self.place_key(file, e.line.unwrap_or(0));
        self.errors.insert(key, e);
    }

    /// The errors reported, with `extra` from `files[n]` ones among them,
    /// as one error; `None` if there are none.
    pub fn errors_with(
        &self,
        extra: impl IntoIterator<Item = (u16, SourceError)>,
    ) -> Option<SourceError> {
        let mut errors = self.errors.clone();
        for (file, e) in extra {
            errors.insert(self.place_key(file, e.line.unwrap_or(0)), e);
        }
        errors.into_error()
    }

    /// Takes the errors reported as one error; `None` if there are none.
    pub fn take_errors(&mut self) -> Option<SourceError> {
        std::mem::take(&mut self.errors).into_error()
    }

    /// [`take_errors`](Self::take_errors) where some were reported: a
    /// [`SourceErrorKind::NotBuilt`] on the zone file if none were (a
    /// bug).
    pub(crate) fn take_reported(&mut self) -> SourceError {
        self.take_errors().unwrap_or_else(|| {
            let file = self.files.first().cloned().unwrap_or_default();
            SourceError::new(file, None, SourceErrorKind::NotBuilt)
        })
    }

    /// Notes that reading stopped before the end, with errors left unread.
    pub(crate) fn stopped_reading(&mut self) {
        self.errors.stopped = true;
    }

    /// The file index of normalized line `line` (from 1); 0 if none.
    pub fn file_of(&self, line: usize) -> u16 {
        line.checked_sub(1)
            .and_then(|l| self.lines.get(l))
            .map_or(0, |l| l.file)
    }

    /// An error at normalized line `line`.
    pub fn error_at(&self, line: usize, kind: SourceErrorKind) -> SourceError {
        match self.origin_of(line) {
            Some((file, l)) => SourceError::new(file, Some(l), kind),
            None => SourceError::new(self.files.first().cloned().unwrap_or_default(), None, kind),
        }
    }
}

/// Reads the zone file at `path` (and whatever it includes) for the zone
/// `origin` (presentation form, absolute). `Err` holds every error found
/// (see [`SourceError`]).
pub fn normalize_file(path: &Path, origin: &str) -> Result<Normalized, SourceError> {
    all_errors(normalize_file_reading_on(path, origin))
}

/// Normalizes zone-file bytes `src`, read from `path` (used for error
/// messages and to resolve `$INCLUDE`s). `Err` holds every error found
/// (see [`SourceError`]).
pub fn normalize(src: &[u8], path: &Path, origin: &str) -> Result<Normalized, SourceError> {
    all_errors(normalize_reading_on(src, path, origin))
}

fn all_errors(r: Result<Normalized, SourceError>) -> Result<Normalized, SourceError> {
    let mut n = r?;
    if let Some((file, e)) = n.stop.take() {
        n.report(file, e);
    }
    match n.take_errors() {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// [`normalize_file`] that leaves the errors of single entries in
/// [`Normalized::errors`] and reads on, for the later steps to add
/// theirs, and an error that stops reading in [`Normalized::stop`];
/// `Err` only if the file cannot be read.
pub(crate) fn normalize_file_reading_on(
    path: &Path,
    origin: &str,
) -> Result<Normalized, SourceError> {
    let src = std::fs::read(path).map_err(|e| {
        let source = Arc::new(e);
        SourceError::new(path, None, SourceErrorKind::ReadFile { source })
    })?;
    normalize_reading_on(&src, path, origin)
}

/// [`normalize`] that reads on past errors, as
/// [`normalize_file_reading_on`] does.
pub(crate) fn normalize_reading_on(
    src: &[u8],
    path: &Path,
    origin: &str,
) -> Result<Normalized, SourceError> {
    let mut out = Normalized::default();
    let mut state = State {
        origin: String::new(),
        origin_wire: None,
        depth: 0,
        default_ttl: DEFAULT_TTL,
        last_owner: Vec::new(),
        last_owner_known: false,
        scanner_knows_owner: true,
        owner: Vec::new(),
        rdata: Vec::new(),
    };
    state.set_origin(absolute_origin(origin));
    out.text.reserve(src.len() + src.len() / 8);
    out.files.push(path.to_path_buf());
    out.included_at.push((0, 0));
    out.emit_directive(0, 1, &format!("$ORIGIN {}", state.origin));
    // Records with no TTL before any $TTL get 3600, as in Knot and NSD
    // (not the last TTL seen, which the scanner would otherwise use).
    out.emit_directive(0, 1, &format!("$TTL {DEFAULT_TTL}"));
    if let Err((e, file)) = process(src, 0, &mut state, &mut out) {
        out.stop = Some((file, e));
    }
    Ok(out)
}

/// What carries across entries while normalizing.
struct State {
    /// The current origin, absolute, in presentation form.
    origin: String,
    /// The same in wire form (`None` if it does not parse: then every
    /// record goes to the scanner, which reports it).
    origin_wire: Option<Vec<u8>>,
    depth: usize,
    /// The `$TTL` in force.
    default_ttl: u32,
    /// The owner of the last record, lowercase wire form, when
    /// `last_owner_known`.
    last_owner: Vec<u8>,
    last_owner_known: bool,
    /// The scanner saw the last record, so it knows the owner an entry
    /// without one has.
    scanner_knows_owner: bool,
    /// Scratch for records encoded here.
    owner: Vec<u8>,
    rdata: Vec<u8>,
}

impl State {
    fn set_origin(&mut self, origin: String) {
        self.origin_wire = wire::name::parse(&origin).ok();
        self.origin = origin;
    }
}

fn absolute_origin(origin: &str) -> String {
    if origin.ends_with('.') {
        origin.to_string()
    } else {
        format!("{origin}.")
    }
}

/// An error that stops reading, and the index of its file.
type Fatal = (SourceError, u16);

/// Normalizes the file `files[file]` whose bytes are `src`. The error of
/// a single entry is reported ([`Normalized::report`]) and reading goes
/// on; `Err` is an error that stops it.
fn process(src: &[u8], file: u16, state: &mut State, out: &mut Normalized) -> Result<(), Fatal> {
    let mut tokenizer = Tokenizer::new(src);
    let mut entry = Entry::default();
    loop {
        match tokenizer.next_entry(&mut entry) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err((line, kind)) => {
                // The tokenizer has skipped the broken entry.
                out.report(file, out.error_in(file, line, kind));
                state.entry_failed(src, &entry);
                continue;
            }
        }
        let first = &src[entry.tokens[0].start..entry.tokens[0].end];
        let is_directive = !entry.indented && first.first() == Some(&b'$');
        let result = if is_directive {
            directive(src, &entry, file, state, out)
        } else {
            record(src, &entry, file, state, out)
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(fatal)) => return Err(fatal),
            Err(kind) => {
                out.report(file, out.error_in(file, entry.line, kind));
                if is_directive {
                    if first.eq_ignore_ascii_case(b"$GENERATE") {
                        // It may have stopped at any owner: entries with
                        // none after it are skipped.
                        state.last_owner_known = false;
                        state.scanner_knows_owner = false;
                    }
                } else {
                    state.entry_failed(src, &entry);
                }
            }
        }
    }
}

impl State {
    /// After a record entry that wrote nothing: an entry with no owner
    /// after it has the failed entry's owner, which the scanner never saw.
    /// Write it out if it is known (plainly written); if not, such entries
    /// are skipped (see [`record`]).
    fn entry_failed(&mut self, src: &[u8], entry: &Entry) {
        if entry.indented {
            return; // The owner before it still holds.
        }
        self.last_owner_known = match (&self.origin_wire, entry.tokens.first()) {
            (Some(origin), Some(t)) => plain::name(token_str(src, t), origin, &mut self.last_owner),
            _ => false,
        };
        self.scanner_knows_owner = false;
    }
}

impl Normalized {
    fn error_in(&self, file: u16, line: u32, kind: SourceErrorKind) -> SourceError {
        SourceError::new(self.files[file as usize].clone(), Some(line), kind)
    }

    fn emit_directive(&mut self, file: u16, line: u32, text: &str) {
        self.text.extend_from_slice(text.as_bytes());
        self.text.push(b'\n');
        self.lines.push(LineOrigin {
            file,
            line,
            rtype_override: 0,
            is_record: false,
            encoded_before: 0,
        });
    }

    fn emit_record(&mut self, file: u16, line: u32, text: &[u8], rtype_override: u16) {
        self.text.extend_from_slice(text);
        self.text.push(b'\n');
        self.lines.push(LineOrigin {
            file,
            line,
            rtype_override,
            is_record: true,
            encoded_before: self.records.len() as u32,
        });
    }
}

fn token_str<'s>(src: &'s [u8], t: &Token) -> &'s [u8] {
    &src[t.start..t.end]
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Handles a `$` directive. The outer `Result` carries errors to be
/// placed at the entry's line (reading goes on); the inner one errors
/// that stop reading, already placed: a bad `$ORIGIN` or any `$INCLUDE`
/// error.
fn directive(
    src: &[u8],
    entry: &Entry,
    file: u16,
    state: &mut State,
    out: &mut Normalized,
) -> Result<Result<(), Fatal>, SourceErrorKind> {
    let toks: Vec<&[u8]> = entry.tokens.iter().map(|t| token_str(src, t)).collect();
    let name = lossy(toks[0]).to_ascii_uppercase();
    let args = &toks[1..];
    match name.as_str() {
        "$ORIGIN" => {
            let [origin] = args else {
                let kind = SourceErrorKind::OriginSyntax;
                return Ok(Err((out.error_in(file, entry.line, kind), file)));
            };
            if let Err(kind) = check_labels(origin) {
                return Ok(Err((out.error_in(file, entry.line, kind), file)));
            }
            let origin = resolve_name(&lossy(origin), &state.origin);
            state.set_origin(origin);
            out.emit_directive(file, entry.line, &format!("$ORIGIN {}", state.origin));
        }
        "$TTL" => {
            let [value] = args else {
                return Err(SourceErrorKind::TtlSyntax);
            };
            let ttl = parse_ttl(value).ok_or_else(|| SourceErrorKind::BadTtl {
                found: lossy(value),
            })?;
            state.default_ttl = ttl;
            out.emit_directive(file, entry.line, &format!("$TTL {ttl}"));
        }
        "$INCLUDE" => {
            if args.is_empty() || args.len() > 2 {
                let kind = SourceErrorKind::IncludeSyntax;
                return Ok(Err((out.error_in(file, entry.line, kind), file)));
            }
            return Ok(include(args, file, entry.line, state, out));
        }
        "$GENERATE" => generate(src, entry, file, state, out)?,
        _ => return Err(SourceErrorKind::UnknownDirective { name }),
    }
    Ok(Ok(()))
}

/// Resolves a possibly relative name against `origin`.
pub(crate) fn resolve_name(name: &str, origin: &str) -> String {
    if name == "@" {
        return origin.to_string();
    }
    let trailing_backslashes = name.trim_end_matches('.').len();
    let escaped_dot = name.ends_with('.')
        && name[..trailing_backslashes]
            .chars()
            .rev()
            .take_while(|&c| c == '\\')
            .count()
            % 2
            == 1;
    if name.ends_with('.') && !escaped_dot {
        name.to_string()
    } else if origin == "." {
        format!("{name}.")
    } else {
        format!("{name}.{origin}")
    }
}

/// Inlines an `$INCLUDE`d file.
fn include(
    args: &[&[u8]],
    file: u16,
    line: u32,
    state: &mut State,
    out: &mut Normalized,
) -> Result<(), Fatal> {
    let fatal = |out: &Normalized, kind| (out.error_in(file, line, kind), file);
    if state.depth >= MAX_INCLUDE_DEPTH {
        return Err(fatal(out, SourceErrorKind::IncludeTooDeep));
    }
    let rel = PathBuf::from(lossy(
        &unescape(args[0]).unwrap_or_else(|_| args[0].to_vec()),
    ));
    let path = if rel.is_absolute() {
        rel
    } else {
        // Relative to the including file's directory, as Knot does.
        let base = out.files[file as usize]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        base.join(rel)
    };
    let src = match std::fs::read(&path) {
        Ok(src) => src,
        Err(e) => {
            let source = Arc::new(e);
            return Err(fatal(out, SourceErrorKind::ReadInclude { path, source }));
        }
    };
    if out.files.len() >= u16::MAX as usize {
        return Err(fatal(out, SourceErrorKind::TooManyFiles));
    }
    out.files.push(path);
    out.included_at.push((file, line));
    let inner = (out.files.len() - 1) as u16;
    let saved = state.origin.clone();
    if let Some(origin) = args.get(1) {
        state.set_origin(resolve_name(&lossy(origin), &saved));
    }
    out.emit_directive(inner, 1, &format!("$ORIGIN {}", state.origin));
    state.depth += 1;
    let result = process(&src, inner, state, out);
    state.depth -= 1;
    // The including file's origin is unchanged by the include (RFC 1035 §5.1).
    state.set_origin(saved);
    out.emit_directive(file, line, &format!("$ORIGIN {}", state.origin));
    result
}

/// Expands `$GENERATE range lhs [ttl] [class] type rhs…`.
fn generate(
    src: &[u8],
    entry: &Entry,
    file: u16,
    state: &mut State,
    out: &mut Normalized,
) -> Result<(), SourceErrorKind> {
    let toks: Vec<String> = entry
        .tokens
        .iter()
        .map(|t| lossy(token_str(src, t)))
        .collect();
    if toks.len() < 5 {
        return Err(GenerateError::Syntax.into());
    }
    let range = generate::Range::parse(&toks[1])?;
    let lhs = &toks[2];
    let mut i = 3;
    let mut middle = Vec::new();
    while i < toks.len() - 1
        && middle.len() < 2
        && (is_ttl_token(toks[i].as_bytes()) || is_class_token(toks[i].as_bytes()))
    {
        middle.push(if is_ttl_token(toks[i].as_bytes()) {
            parse_ttl(toks[i].as_bytes()).unwrap_or(0).to_string()
        } else {
            toks[i].clone()
        });
        i += 1;
    }
    let rtype = &toks[i];
    let rhs_tokens = &entry.tokens[i + 1..];
    if rhs_tokens.is_empty() {
        return Err(GenerateError::NoRhs.into());
    }
    let mut line = String::new();
    for value in range.values() {
        line.clear();
        generate::substitute(lhs, value, &mut line)?;
        for m in &middle {
            line.push(' ');
            line.push_str(m);
        }
        line.push(' ');
        line.push_str(rtype);
        for t in rhs_tokens {
            if !t.glued {
                line.push(' ');
            }
            let mut part = String::new();
            generate::substitute(&lossy(token_str(src, t)), value, &mut part)?;
            if t.quoted {
                line.push('"');
                line.push_str(&part);
                line.push('"');
            } else {
                line.push_str(&part);
            }
        }
        // Hand the generated line back through the record path, so unit
        // TTLs and the extra types work here too.
        let mut tokenizer = Tokenizer::new(line.as_bytes());
        let mut gen_entry = Entry::default();
        match tokenizer.next_entry(&mut gen_entry) {
            Ok(true) => {}
            Ok(false) => continue,
            Err((_, err)) => {
                return Err(SourceErrorKind::GeneratedEntry {
                    record: line,
                    err: Box::new(err),
                })
            }
        }
        gen_entry.line = entry.line;
        record(line.as_bytes(), &gen_entry, file, state, out)?.map_err(|e| *e.0.kind)?;
    }
    Ok(())
}

/// Refuses an empty label (`a..b`, `.a`) in a name-like token; the
/// scanner would build a name with a root label in its middle.
fn check_labels(token: &[u8]) -> Result<(), SourceErrorKind> {
    if token == b"." {
        return Ok(());
    }
    let mut prev_dot = true; // a leading dot is an empty first label
    let mut i = 0;
    while i < token.len() {
        match token[i] {
            b'\\' => {
                prev_dot = false;
                i += 2;
                continue;
            }
            b'.' if prev_dot => {
                return Err(SourceErrorKind::EmptyLabel {
                    token: lossy(token),
                });
            }
            b'.' => prev_dot = true,
            _ => prev_dot = false,
        }
        i += 1;
    }
    Ok(())
}

/// The mnemonic of `TYPEnnn` for the types encoded here rather than by
/// the scanner.
fn self_encoded_name(rtype: &[u8]) -> Option<&'static str> {
    let code: u16 = std::str::from_utf8(rtype.strip_prefix(b"TYPE")?)
        .ok()?
        .parse()
        .ok()?;
    let name = match code {
        99 => "SPF",
        29 => "LOC",
        256 => "URI",
        _ => other_types::name_of(code)?,
    };
    Some(name)
}

fn is_ttl_token(t: &[u8]) -> bool {
    parse_ttl(t).is_some()
}

fn is_class_token(t: &[u8]) -> bool {
    let upper = t.to_ascii_uppercase();
    matches!(
        upper.as_slice(),
        b"IN" | b"CH" | b"HS" | b"CS" | b"NONE" | b"ANY"
    ) || (upper.starts_with(b"CLASS")
        && upper.len() > 5
        && upper[5..].iter().all(u8::is_ascii_digit))
}

/// Writes a record entry as one line, rewriting what the scanner would not
/// take.
fn record(
    src: &[u8],
    entry: &Entry,
    file: u16,
    state: &mut State,
    out: &mut Normalized,
) -> Result<Result<(), Fatal>, SourceErrorKind> {
    if entry.indented && !state.scanner_knows_owner && !state.last_owner_known {
        // The owner is that of an entry before with an error (reported),
        // and not known here: skip it rather than give it another.
        return Ok(Ok(()));
    }
    if let Some(origin) = &state.origin_wire {
        let cx = plain::Context {
            origin,
            last_owner: state.last_owner_known.then_some(&state.last_owner[..]),
            default_ttl: state.default_ttl,
        };
        if let Some((rtype, ttl)) =
            plain::encode(src, entry, &cx, &mut state.owner, &mut state.rdata)
        {
            out.records
                .push(&state.owner, rtype, ttl, &state.rdata, file, entry.line)?;
            std::mem::swap(&mut state.last_owner, &mut state.owner);
            state.last_owner_known = true;
            state.scanner_knows_owner = false;
            return Ok(Ok(()));
        }
    }
    // The scanner reads this one. An entry without an owner after one
    // encoded here gets its owner written out; one with an owner is
    // remembered for the entries after it.
    let explicit_owner = match (entry.indented, state.scanner_knows_owner) {
        (true, false) if state.last_owner_known => Some(wire::name::to_text(&state.last_owner)),
        _ => None,
    };
    if !entry.indented {
        state.last_owner_known = match (&state.origin_wire, entry.tokens.first()) {
            (Some(origin), Some(t)) => {
                plain::name(token_str(src, t), origin, &mut state.last_owner)
            }
            _ => false,
        };
    }
    state.scanner_knows_owner = true;
    let origin = state.origin.as_str();
    let toks = &entry.tokens;
    let mut i = if entry.indented { 0 } else { 1 };
    let mut ttl_class: Vec<Vec<u8>> = Vec::with_capacity(2);
    while i < toks.len() && ttl_class.len() < 2 {
        let t = token_str(src, &toks[i]);
        if toks[i].quoted {
            break;
        }
        if let Some(ttl) = parse_ttl(t) {
            ttl_class.push(ttl.to_string().into_bytes());
        } else if is_class_token(t) {
            ttl_class.push(t.to_vec());
        } else {
            break;
        }
        i += 1;
    }
    let Some(type_tok) = toks.get(i) else {
        return Err(SourceErrorKind::NoType);
    };
    let rdata = &toks[i + 1..];
    let generic_form = rdata.first().is_some_and(|t| token_str(src, t) == b"\\#");
    let mut rtype = token_str(src, type_tok).to_ascii_uppercase();
    if !generic_form {
        // `TYPE29 52 N 4 E 0m`: text data under a number, for a type we
        // encode ourselves; the scanner would want `\#` form.
        if let Some(name) = self_encoded_name(&rtype) {
            rtype = name.as_bytes().to_vec();
        }
    }
    if !entry.indented {
        check_labels(token_str(src, &toks[0]))?;
    }
    if !matches!(rtype.as_slice(), b"TXT" | b"SPF" | b"HINFO" | b"CAA") {
        for t in rdata.iter().filter(|t| !t.quoted) {
            check_labels(token_str(src, t))?;
        }
    }

    let mut line: Vec<u8> = Vec::with_capacity(128);
    if let Some(owner) = &explicit_owner {
        line.extend_from_slice(owner.as_bytes());
    } else if entry.indented {
        line.push(b' ');
    } else {
        line.extend_from_slice(token_str(src, &toks[0]));
    }
    for tc in &ttl_class {
        line.push(b' ');
        line.extend_from_slice(tc);
    }
    line.push(b' ');
    let mut rtype_override = 0;
    if !generic_form {
        let fields: Vec<other_types::Field> = rdata
            .iter()
            .map(|t| (token_str(src, t), t.quoted))
            .collect();
        if let Some(encoded) = other_types::encode(&rtype, &fields, origin) {
            let (code, wire) = encoded?;
            line.extend_from_slice(
                format!("TYPE{code} {}", extra_types::generic(&wire)).as_bytes(),
            );
            out.emit_record(file, entry.line, &line, 0);
            return Ok(Ok(()));
        }
    }
    match rtype.as_slice() {
        b"SPF" if !generic_form => {
            line.extend_from_slice(b"TXT");
            rtype_override = wire::types::rtype::SPF;
            push_tokens(src, rdata, &mut line, &Rewrite::default());
        }
        b"LOC" if !generic_form => {
            let fields: Vec<String> = rdata.iter().map(|t| lossy(token_str(src, t))).collect();
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let wire = extra_types::loc_rdata(&refs)?;
            line.extend_from_slice(format!("TYPE29 {}", extra_types::generic(&wire)).as_bytes());
        }
        b"URI" if !generic_form => {
            let fields: Vec<(&[u8], bool)> = rdata
                .iter()
                .map(|t| (token_str(src, t), t.quoted))
                .collect();
            let wire = extra_types::uri_rdata(&fields)?;
            line.extend_from_slice(format!("TYPE256 {}", extra_types::generic(&wire)).as_bytes());
        }
        b"SPF" | b"LOC" | b"URI" => {
            let code = match rtype.as_slice() {
                b"SPF" => 99,
                b"LOC" => 29,
                _ => 256,
            };
            line.extend_from_slice(format!("TYPE{code}").as_bytes());
            push_tokens(src, rdata, &mut line, &Rewrite::default());
        }
        b"SOA" if !generic_form => {
            line.extend_from_slice(b"SOA");
            // Timers (refresh, retry, expire, minimum) may carry units.
            let rewrite = Rewrite {
                origin: Some(origin),
                ttl_fields: Some(3..7),
                ..Rewrite::default()
            };
            push_tokens(src, rdata, &mut line, &rewrite);
        }
        b"TXT" | b"HINFO" | b"CAA" => {
            line.extend_from_slice(token_str(src, type_tok));
            push_tokens(src, rdata, &mut line, &Rewrite::default());
        }
        _ => {
            line.extend_from_slice(token_str(src, type_tok));
            let algorithm_field = match rtype.as_slice() {
                b"DS" | b"CDS" | b"RRSIG" => Some(1),
                b"DNSKEY" | b"CDNSKEY" => Some(2),
                _ => None,
            };
            let rewrite = Rewrite {
                origin: Some(origin),
                algorithm_field: algorithm_field.filter(|_| !generic_form),
                ..Rewrite::default()
            };
            push_tokens(src, rdata, &mut line, &rewrite);
        }
    }
    out.emit_record(file, entry.line, &line, rtype_override);
    Ok(Ok(()))
}

/// How a record's data tokens are rewritten for the scanner.
#[derive(Default)]
struct Rewrite<'o> {
    /// A bare `@` becomes this (the origin), as in BIND; the scanner only
    /// knows `@` as an owner.
    origin: Option<&'o str>,
    /// Positions of timer fields that may carry units (SOA).
    ttl_fields: Option<std::ops::Range<usize>>,
    /// Position of a DNSSEC algorithm field, which may be a mnemonic.
    algorithm_field: Option<usize>,
}

/// Appends tokens to `line` as `rewrite` says. Quoted tokens keep their
/// quotes; a raw TAB inside one becomes `\009`, which the scanner takes.
fn push_tokens(src: &[u8], toks: &[Token], line: &mut Vec<u8>, rewrite: &Rewrite) {
    for (n, t) in toks.iter().enumerate() {
        if !t.glued {
            line.push(b' ');
        }
        let text = token_str(src, t);
        if t.quoted {
            line.push(b'"');
            for &c in text {
                if c == b'\t' {
                    line.extend_from_slice(b"\\009");
                } else {
                    line.push(c);
                }
            }
            line.push(b'"');
        } else if text == b"@" && rewrite.origin.is_some() {
            line.extend_from_slice(rewrite.origin.unwrap_or(".").as_bytes());
        } else if rewrite.ttl_fields.as_ref().is_some_and(|r| r.contains(&n))
            && ttl::has_units(text)
        {
            match parse_ttl(text) {
                Some(v) => line.extend_from_slice(v.to_string().as_bytes()),
                None => line.extend_from_slice(text),
            }
        } else if rewrite.algorithm_field == Some(n)
            && text.first().is_some_and(u8::is_ascii_alphabetic)
        {
            match other_types::algorithm(&lossy(text)) {
                Ok(v) => line.extend_from_slice(v.to_string().as_bytes()),
                Err(_) => line.extend_from_slice(text),
            }
        } else {
            line.extend_from_slice(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(src: &str) -> Normalized {
        normalize(src.as_bytes(), Path::new("test.zone"), "example.org").unwrap()
    }

    fn text(n: &Normalized) -> String {
        String::from_utf8(n.text.clone()).unwrap()
    }

    /// The records encoded while normalizing: owner, type, TTL, RDATA
    /// and line.
    fn encoded(n: &Normalized) -> Vec<(String, u16, u32, Vec<u8>, u32)> {
        let s = &n.records;
        s.recs()
            .iter()
            .map(|r| {
                let owner = wire::name::to_text(s.owner(r));
                (owner, r.rtype, r.ttl, s.rdata(r).to_vec(), r.line)
            })
            .collect()
    }

    #[test]
    fn one_line_per_entry_with_origins() {
        let n = norm("$TTL 1h\n@ IN SOA ns host (\n 1 2h 3 4 1d )\n\nwww A 1.2.3.4\n");
        assert_eq!(
            text(&n),
            "$ORIGIN example.org.\n$TTL 3600\n$TTL 3600\n@ IN SOA ns host 1 7200 3 4 86400\n"
        );
        assert_eq!(n.origin_of(4).unwrap().1, 2);
        let www = ("www.example.org.".to_string(), 1, 3600, vec![1, 2, 3, 4], 5);
        assert_eq!(encoded(&n), [www]);
    }

    #[test]
    fn at_in_rdata_is_the_origin() {
        let n = norm("www CNAME @\n@ MX 10 @\nt HINFO @ @\n");
        assert!(text(&n).ends_with("\nt HINFO @ @\n"), "{}", text(&n));
        let origin = b"\x07example\x03org\x00";
        let e = encoded(&n);
        assert_eq!((e[0].1, &e[0].3[..]), (5, &origin[..]));
        assert_eq!(
            (e[1].1, &e[1].3[..2], &e[1].3[2..]),
            (15, &[0, 10][..], &origin[..])
        );
    }

    #[test]
    fn text_encoded_here_is_what_the_scanner_makes() {
        // SPF is read by the scanner (as TXT): the same data must give
        // the same RDATA either way.
        let samples = [
            "\"v=spf1 mx -all\"",
            "\"two\" \"strings\"",
            "\"\"",
            "unquoted words",
            "\"a\tb\"",
            "\"semi;colon (and parens)\"",
            "( \"a\"\n  \"b\" )",
            "\"@ is text\" @",
        ];
        for data in samples {
            let fast = norm(&format!("x TXT {data}\n"));
            let e = encoded(&fast);
            assert_eq!(e.len(), 1, "{data}: encoded while normalizing");
            let mut slow = norm(&format!("x SPF {data}\n"));
            let scanned = crate::scan::scan(&mut slow).unwrap();
            let [r] = scanned.recs() else {
                panic!("{data}")
            };
            assert_eq!(e[0].3, scanned.rdata(r), "{data}");
        }
        // Escapes and long strings are the scanner's.
        for data in [
            "\"a\\\"b\"",
            "\"\\065\"",
            &format!("\"{}\"", "x".repeat(256)),
        ] {
            assert!(
                encoded(&norm(&format!("x TXT {data}\n"))).is_empty(),
                "{data}"
            );
        }
    }

    #[test]
    fn plain_records_keep_the_scanner_in_step() {
        // An entry without an owner after an encoded one is written with
        // the owner; the TTL in force and an explicit IN are honoured.
        let n = norm("$TTL 90\nmail IN A 192.0.2.1\n  HINFO \"x\" y\n  7200 AAAA ::1\n");
        assert!(
            text(&n).ends_with("\nmail.example.org. HINFO \"x\" y\n"),
            "{}",
            text(&n)
        );
        let e = encoded(&n);
        assert_eq!((e[0].1, e[0].2, e[0].4), (1, 90, 2));
        assert_eq!(
            (&*e[1].0, e[1].1, e[1].2, e[1].4),
            ("mail.example.org.", 28, 7200, 4)
        );
        assert_eq!(n.lines.last().unwrap().encoded_before, 1);
        // Not plainly written: left to the scanner, which explains.
        let n = norm("a CH A 192.0.2.1\nb A 192.0.2\nc NS a\\.b\nd MX 70000 x\n");
        assert!(encoded(&n).is_empty());
    }

    #[test]
    fn rewrites_what_the_scanner_would_refuse() {
        let n = norm("@ SOA @ h.@ 1 1h 1 1 1\nt TXT \"a\tb\\\\\"\nd DS 1 ECDSAP256SHA256 2 00\nl TYPE29 52 N 4 E 0m\n");
        let t = text(&n);
        assert!(t.contains("@ SOA example.org. h.@ 1 3600 1 1 1\n"), "{t}");
        assert!(t.contains("t TXT \"a\\009b\\\\\"\n"), "{t}");
        assert!(t.contains("d DS 1 13 2 00\n"), "{t}");
        assert!(t.contains("l TYPE29 \\# 16 "), "{t}");
    }

    #[test]
    fn rewrites_extra_types() {
        let n = norm("a 300 IN SPF \"v=spf1 -all\"\nb URI 10 1 \"http://x/\"\nc LOC 52 N 4 E 0m\nd TYPE99 \\# 0\n");
        let t = text(&n);
        assert!(t.contains("a 300 IN TXT \"v=spf1 -all\""), "{t}");
        assert!(
            t.contains("b TYPE256 \\# 13 000a0001687474703a2f2f782f"),
            "{t}"
        );
        assert!(t.contains("c TYPE29 \\# 16 "), "{t}");
        assert_eq!(n.lines[2].rtype_override, 99);
    }

    #[test]
    fn expands_generate() {
        let n = norm("$GENERATE 1-3 host-$ 60 A 10.0.0.$\n$GENERATE 0-1 ${0,2,x} CNAME x-${5}\n");
        let e = encoded(&n);
        assert_eq!(e.len(), 5);
        for (i, r) in e[..3].iter().enumerate() {
            let want = (format!("host-{}.example.org.", i + 1), 1, 60, 1);
            assert_eq!((r.0.clone(), r.1, r.2, r.4), want);
            assert_eq!(r.3, [10, 0, 0, i as u8 + 1]);
        }
        assert_eq!(&*e[3].0, "00.example.org.");
        assert_eq!(e[4].3, b"\x03x-6\x07example\x03org\x00");
        assert!(e.iter().all(|r| r.4 == 1 || r.4 == 2));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = normalize(b"\n\n$FOO bar\n", Path::new("z.zone"), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "z.zone:3: unknown directive $FOO: expected $ORIGIN, $TTL, $INCLUDE or $GENERATE"
        );
        assert!(
            matches!(&*e.kind, SourceErrorKind::UnknownDirective { name } if name == "$FOO"),
            "{e:?}"
        );
        let e = normalize(b"a LOC 1 Q\n", Path::new("z.zone"), "x").unwrap_err();
        assert!(e.to_string().starts_with("z.zone:1: "), "{e}");
        assert!(matches!(*e.kind, SourceErrorKind::BadLoc(_)), "{e:?}");
        let e = normalize(b"$INCLUDE /nonexistent/file\n", Path::new("z.zone"), "x").unwrap_err();
        assert!(
            e.to_string().starts_with("z.zone:1: cannot read $INCLUDE"),
            "{e}"
        );
    }

    #[test]
    fn refuses_empty_labels() {
        let e = normalize(b"\nbad..name A 192.0.2.1\n", Path::new("z"), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "z:2: empty label in 'bad..name': expected a name like a.example."
        );
        assert!(
            matches!(*e.kind, SourceErrorKind::EmptyLabel { .. }),
            "{e:?}"
        );
        assert!(normalize(b"x NS .a\n", Path::new("z"), "x").is_err());
        assert!(normalize(
            b"x TXT a..b\nx MX 0 .\ny A 1.2.3.4\nz NS a\\..b\n",
            Path::new("z"),
            "x"
        )
        .is_ok());
    }

    #[test]
    fn resolves_relative_origins() {
        assert_eq!(resolve_name("sub", "example.org."), "sub.example.org.");
        assert_eq!(resolve_name("abs.", "example.org."), "abs.");
        assert_eq!(resolve_name("a\\.", "example.org."), "a\\..example.org.");
        assert_eq!(resolve_name("@", "example.org."), "example.org.");
        assert_eq!(resolve_name("org", "."), "org.");
    }
}
