//! The zone journal: every change of a zone as one block of a hash chain,
//! one append-only file per zone.
//!
//! Why a chain: IXFR serves the differences from this file, and an
//! operator must be able to tell whether the history was edited behind
//! rampart's back. Each block's hash covers its content *and* the hash of
//! the block before, so changing any byte of a block, or removing or
//! reordering blocks, is caught at that block (or at the next one, when a
//! block was rewritten whole with a fresh hash). What a chain alone cannot
//! show is the loss of the newest blocks: anchor [`Journal::last_hash`] or
//! the served serial elsewhere for that.
//!
//! Why crash-safe: a block is written with one `write_all` and made durable
//! with `sync_data` before [`Journal::append`] returns, and blocks are only
//! ever appended. A crash can therefore leave at most one incomplete block,
//! at the end of the file; [`Journal::open`] cuts it off and says so, while
//! damage anywhere else is refused as an error.
//!
//! One process owns a journal file; nothing here locks it.
//!
//! # On-disk format, version 1
//!
//! The file is a plain sequence of blocks, no file header. All integers
//! are big endian (network order, as DNS).
//!
//! ```text
//! offset       size  field
//! 0            3     magic "RJB" (rampart journal block)
//! 3            1     format version, 1
//! 4            4     body length L (u32)
//! 8            4     !L, the bitwise complement of L (u32): a damaged length
//!                    is told apart from a torn write, and never believed
//! 12           L     body:
//!                      seq            u64    0 for the genesis block, then +1
//!                      prev_hash      32     hash of the previous block; zeros for genesis
//!                      serial_before  u32
//!                      serial_after   u32
//!                      time           u64    Unix seconds
//!                      source         u16 length + UTF-8 bytes
//!                      removed        u32 count + records
//!                      added          u32 count + records
//!                    record:
//!                      owner          u8 length + wire name bytes (lowercase, uncompressed)
//!                      rtype          u16
//!                      ttl            u32
//!                      rdata          u16 length + bytes
//! 12+L         32    hash: SHA-256 of bytes 0 .. 12+L of this block
//! ```
//!
//! A reader trusts no length: the body length must fit in what is left of
//! the file, and every count and length inside a body in what is left of
//! the body, before anything is allocated.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zone::records::{Record, RecordSet};

/// "RJB": rampart journal block.
const MAGIC: [u8; 3] = *b"RJB";
/// The format version this code writes and reads.
const VERSION: u8 = 1;
/// Magic, version, body length and its complement.
const HEADER_LEN: usize = 12;
const HASH_LEN: usize = 32;
/// The smallest encoded record: empty owner, empty rdata.
const MIN_RECORD_LEN: usize = 1 + 2 + 4 + 2;
/// The longest file name most file systems take.
const MAX_FILE_NAME: usize = 255;

/// One change of a zone. `removed` holds the old SOA first (unless
/// genesis), `added` the new SOA first; both lists are records as in an
/// IXFR difference sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub serial_before: u32,
    pub serial_after: u32,
    pub removed: Vec<Record>,
    pub added: Vec<Record>,
    /// Unix seconds.
    pub time: u64,
    /// Who made it: "tsig key certbot.", "update from 127.0.0.1", "zone
    /// file /x/y.zone", "AXFR from 192.0.2.1:53", "genesis".
    pub source: String,
}

/// One block of the chain, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub seq: u64,
    pub change: Change,
    /// The hash of the block before; all zeros for the genesis block.
    pub prev_hash: [u8; 32],
    /// SHA-256 of the encoded block up to (not including) this hash.
    pub hash: [u8; 32],
}

impl Block {
    /// The first block of a journal, which adds the whole zone.
    pub fn is_genesis(&self) -> bool {
        self.seq == 0
    }
}

/// What went wrong, where: the file, the block (its position in the file,
/// which is its seq in an intact chain) and the byte offset where that
/// block starts; what went wrong is [`JournalError::problem`].
#[derive(Debug)]
pub struct JournalError {
    pub path: PathBuf,
    pub block: Option<u64>,
    pub offset: Option<u64>,
    pub problem: Problem,
}

/// What went wrong with a journal, one variant per kind, so callers and
/// tests decide on the variant, never on the text. The texts are the ones
/// operators have always seen (logs, `rampart journal verify`).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    // The file could not be reached.
    #[error("cannot create: {0}")]
    Create(io::Error),
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error("cannot stat: {0}")]
    Stat(io::Error),
    #[error("cannot sync directory {}: {err}", dir.display())]
    SyncDir { dir: PathBuf, err: io::Error },
    #[error("cannot read: {0}")]
    Read(io::Error),
    #[error("cannot cut off the torn last block: {0}")]
    CutTorn(io::Error),

    // An append did not reach the disk.
    #[error("cannot write: {0}")]
    Write(io::Error),
    /// The write failed and what part of it reached the file could not
    /// be cut off: the journal takes no more appends.
    #[error("write failed ({write}) and so did cutting it off ({cut})")]
    WriteAndCut { write: io::Error, cut: io::Error },
    /// The journal takes no more appends either.
    #[error("cannot sync: {0}")]
    Sync(io::Error),
    /// An earlier failure (the text of its [`Problem`]) left the file's
    /// state unknown.
    #[error("journal unusable until reopened: {0}")]
    Unusable(String),

    // An append refused, nothing written.
    #[error("genesis change removes {0} records; it must only add the zone")]
    GenesisRemoves(usize),
    #[error("change from serial {serial_before} does not follow the journal's last serial {last}")]
    SerialGap { serial_before: u32, last: u32 },
    /// A field too long for the format.
    #[error("{0}")]
    Unencodable(String),

    /// The file ends inside its last block, as a crash during an append
    /// leaves it ([`Journal::open`] repairs that); `how` says how much is
    /// there.
    #[error("file ends inside block {block} (torn write): {how}")]
    Torn { block: u64, how: String },

    // A complete block that is damaged or was altered.
    /// The first bytes of the block (up to four), which are not "RJB".
    #[error("bad magic: {}, expected {}", hex(found), hex(&MAGIC))]
    BadMagic { found: Vec<u8> },
    #[error("unsupported block format version {0} (this build reads {VERSION})")]
    Version(u8),
    #[error("corrupt length field: length {length:#010x} does not match its check {check:#010x}")]
    Length { length: u32, check: u32 },
    /// The first eight bytes of each hash.
    #[error(
        "content hash mismatch: stored {}, computed {}",
        hex(stored),
        hex(computed)
    )]
    Hash { stored: [u8; 8], computed: [u8; 8] },
    /// The hash holds but the body does not read (the hash has no key:
    /// a block can be rewritten consistently).
    #[error("malformed body: {0}")]
    Body(String),
    #[error("sequence gap: expected {expected}, found {found}")]
    SequenceGap { expected: u64, found: u64 },
    #[error("sequence goes back: expected {expected}, found {found}")]
    SequenceBack { expected: u64, found: u64 },
    /// The genesis block links to something (first eight bytes).
    #[error("link to previous block mismatch: genesis links to {}, not zeros", hex(.0))]
    GenesisLink([u8; 8]),
    /// The first eight bytes of the stored link and of the previous
    /// block's hash.
    #[error(
        "link to previous block mismatch: links to {}, block {previous} hashes to {}",
        hex(links),
        hex(hash)
    )]
    Link {
        links: [u8; 8],
        previous: u64,
        hash: [u8; 8],
    },
}

impl JournalError {
    /// True when the file merely ends inside its last block, as a crash
    /// during an append leaves it ([`Journal::open`] repairs that), rather
    /// than holding a damaged or altered block.
    pub fn is_torn(&self) -> bool {
        matches!(self.problem, Problem::Torn { .. })
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match (self.block, self.offset) {
            (Some(b), Some(o)) => write!(f, "block {b} (offset {o}): ")?,
            (Some(b), None) => write!(f, "block {b}: ")?,
            (None, Some(o)) => write!(f, "offset {o}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for JournalError {}

fn file_error(path: &Path, problem: Problem) -> JournalError {
    JournalError {
        path: path.to_path_buf(),
        block: None,
        offset: None,
        problem,
    }
}

/// The journal file for the zone `apex` (lowercase uncompressed wire name)
/// in `dir`: "<zone name without trailing dot>.journal", "root.journal"
/// for the root zone.
///
/// Bytes other than `[a-z0-9_-]` inside a label (ASCII upper case is first
/// folded, as names compare without case) are written `%xx`, so neither a
/// path separator nor a `..` component can appear, and distinct zones get
/// distinct files: a zone really named `root.` becomes `%72oot.journal`. A
/// name whose escaped form would pass the 255-byte file name limit is cut
/// and given a `~` and a digest of the whole name.
pub fn path_for(dir: &Path, apex: &[u8]) -> PathBuf {
    let mut name = String::new();
    let mut pos = 0;
    while pos < apex.len() && apex[pos] != 0 {
        let len = apex[pos] as usize;
        let end = (pos + 1 + len).min(apex.len());
        if !name.is_empty() {
            name.push('.');
        }
        for &b in &apex[pos + 1..end] {
            let b = b.to_ascii_lowercase();
            match b {
                b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => name.push(b as char),
                _ => name.push_str(&format!("%{b:02x}")),
            }
        }
        pos = end;
    }
    if name.is_empty() {
        name.push_str("root");
    } else if name == "root" {
        name = "%72oot".to_string();
    }
    const SUFFIX: &str = ".journal";
    if name.len() + SUFFIX.len() > MAX_FILE_NAME {
        // Cut at a char boundary (all chars here are ASCII) and keep the
        // names apart with a digest; '~' never appears otherwise.
        let digest = Sha256::digest(apex);
        name.truncate(MAX_FILE_NAME - SUFFIX.len() - 1 - 32);
        name.push('~');
        name.push_str(&hex(&digest[..16]));
    }
    name.push_str(SUFFIX);
    dir.join(name)
}

/// An open journal, positioned for appending.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    next_seq: u64,
    last_hash: [u8; 32],
    last_serial: Option<u32>,
    /// Length of the file, all of it complete blocks.
    end: u64,
    /// Set when a write or sync failed in a way that leaves the file's
    /// state unknown (to that [`Problem`]'s text): no more appends until
    /// the journal is reopened.
    broken: Option<String>,
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub struct Opened {
    pub blocks: Vec<Block>,
    /// A sentence saying what was cut off, when a torn last block was.
    pub recovered: Option<String>,
}

impl Journal {
    /// Opens the journal at `path`, creating it if absent (and fsyncing
    /// the directory, so the new entry survives a crash), and reads the
    /// whole chain.
    ///
    /// A torn last block (the file ends inside it: a crash mid-append) is
    /// cut off, the file truncated to its complete blocks, and reported in
    /// [`Opened::recovered`]. Any other damage, such as a complete block
    /// whose hash or link does not match, is an error naming the block:
    /// the zone must not be served from a rewritten history, and the file
    /// is left as found.
    pub fn open(path: &Path) -> Result<(Journal, Opened), JournalError> {
        let mut options = OpenOptions::new();
        options.read(true).append(true);
        let file = match options.clone().create_new(true).open(path) {
            Ok(file) => {
                sync_parent(path)?;
                file
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => options
                .open(path)
                .map_err(|e| file_error(path, Problem::Open(e)))?,
            Err(e) => return Err(file_error(path, Problem::Create(e))),
        };
        let file_len = file
            .metadata()
            .map_err(|e| file_error(path, Problem::Stat(e)))?
            .len();
        let mut blocks = Vec::new();
        let scan = scan(path, BufReader::new(&file), file_len, |b| blocks.push(b))?;
        let mut recovered = None;
        if let Some(torn) = scan.torn {
            let cut = |e: io::Error| JournalError {
                path: torn.path.clone(),
                block: torn.block,
                offset: torn.offset,
                problem: Problem::CutTorn(e),
            };
            file.set_len(scan.end).map_err(cut)?;
            file.sync_all().map_err(cut)?;
            recovered = Some(format!(
                "{}; cut off at offset {}, keeping the {} complete block{}",
                torn.problem,
                scan.end,
                scan.count,
                if scan.count == 1 { "" } else { "s" },
            ));
        }
        let journal = Journal {
            file,
            path: path.to_path_buf(),
            next_seq: scan.count,
            last_hash: scan.last_hash,
            last_serial: scan.last_serial,
            end: scan.end,
            broken: None,
        };
        Ok((journal, Opened { blocks, recovered }))
    }

    /// Appends one block (the genesis block if the journal is empty: seq
    /// 0, prev_hash all zeros) and makes it durable before returning:
    /// the whole block goes out in one `write_all`, then `sync_data`.
    /// Returns the block as written.
    ///
    /// Refused, with nothing written: a genesis change that removes
    /// records (genesis adds the full zone), a later change whose
    /// `serial_before` is not the last `serial_after` (IXFR walks serials),
    /// and fields too long for the format.
    pub fn append(&mut self, change: Change) -> Result<Block, JournalError> {
        let seq = self.next_seq;
        let err = |problem: Problem| JournalError {
            path: self.path.clone(),
            block: Some(seq),
            offset: Some(self.end),
            problem,
        };
        if let Some(why) = &self.broken {
            return Err(err(Problem::Unusable(why.clone())));
        }
        match self.last_serial {
            None if !change.removed.is_empty() => {
                return Err(err(Problem::GenesisRemoves(change.removed.len())));
            }
            Some(last) if last != change.serial_before => {
                return Err(err(Problem::SerialGap {
                    serial_before: change.serial_before,
                    last,
                }));
            }
            _ => {}
        }
        let (bytes, hash) = match encode_block(seq, &self.last_hash, &change) {
            Ok(encoded) => encoded,
            Err(why) => return Err(err(Problem::Unencodable(why))),
        };
        if let Err(e) = self.file.write_all(&bytes) {
            // Take back whatever part reached the file, so the next append
            // does not land behind a torn block.
            let problem = match self.file.set_len(self.end) {
                Ok(()) => Problem::Write(e),
                Err(cut) => {
                    let problem = Problem::WriteAndCut { write: e, cut };
                    self.broken = Some(problem.to_string());
                    problem
                }
            };
            return Err(err(problem));
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped the pages:
            // whether the block is on disk is unknown until the file is
            // read again.
            let problem = Problem::Sync(e);
            self.broken = Some(problem.to_string());
            return Err(err(problem));
        }
        self.end += bytes.len() as u64;
        self.next_seq += 1;
        self.last_serial = Some(change.serial_after);
        let block = Block {
            seq,
            change,
            prev_hash: self.last_hash,
            hash,
        };
        self.last_hash = hash;
        Ok(block)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of blocks.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// `serial_after` of the last block.
    pub fn last_serial(&self) -> Option<u32> {
        self.last_serial
    }

    /// Hash of the last block (zeros when empty): worth recording
    /// elsewhere, since only an outside copy shows that newest blocks were
    /// removed.
    pub fn last_hash(&self) -> [u8; 32] {
        self.last_hash
    }
}

/// Walks the chain without modifying the file. `Ok(number of blocks)` when
/// intact; otherwise the error names the first bad block, its offset and
/// what does not match. A torn tail is an error here too (verify only
/// reads), told apart by [`JournalError::is_torn`] ([`Problem::Torn`]).
pub fn verify(path: &Path) -> Result<u64, JournalError> {
    let (file, len) = open_read(path)?;
    let scan = scan(path, BufReader::new(file), len, |_| {})?;
    match scan.torn {
        Some(torn) => Err(torn),
        None => Ok(scan.count),
    }
}

/// Reads all blocks (for `journal show` and IXFR), with the checks of
/// [`verify`].
pub fn read(path: &Path) -> Result<Vec<Block>, JournalError> {
    let (file, len) = open_read(path)?;
    let mut blocks = Vec::new();
    let scan = scan(path, BufReader::new(file), len, |b| blocks.push(b))?;
    match scan.torn {
        Some(torn) => Err(torn),
        None => Ok(blocks),
    }
}

/// A history that does not replay: the first block that breaks it, and
/// how.
#[derive(Debug, thiserror::Error)]
#[error("block {seq} (serial {serial_before} -> {serial_after}, {origin}): {problem}")]
pub struct ReplayError {
    pub seq: u64,
    pub serial_before: u32,
    pub serial_after: u32,
    /// The block's [`Change::source`].
    pub origin: String,
    pub problem: Inconsistency,
}

/// How a block breaks the history.
#[derive(Debug, thiserror::Error)]
pub enum Inconsistency {
    #[error("replay must start at the genesis block")]
    NoGenesis,
    /// The `serial_after` of the block before.
    #[error("does not follow serial {0} of the block before")]
    SerialGap(u32),
    #[error(
        "removes {} {} ({} bytes of rdata), which is not in the zone",
        wire::name::to_text(&.0.owner),
        wire::types::rtype_name(.0.rtype),
        .0.rdata.len()
    )]
    RemovesAbsent(Record),
}

/// Replays the chain onto an empty zone, giving the zone as of the last
/// block, as a `Vec<Record>` sorted by `Record`'s order (owner wire bytes,
/// type, TTL, rdata) with no two records alike but for the TTL: sort a
/// zone file's records the same way to compare.
///
/// A record is identified by owner, type and rdata; an added record that
/// is already present only takes the new TTL. The chain must start at the
/// genesis block and each block's `serial_before` must be the previous
/// `serial_after`. Err names the first block that removes a record not
/// present, or breaks those rules: an inconsistent history.
pub fn replay(blocks: &[Block]) -> Result<Vec<Record>, ReplayError> {
    let mut records: Vec<Record> = replay_set(blocks)?.iter().collect();
    records.sort();
    Ok(records)
}

/// [`replay`], as a record set.
pub fn replay_set(blocks: &[Block]) -> Result<RecordSet, ReplayError> {
    let mut zone = RecordSet::new();
    let mut serial = None;
    for block in blocks {
        let c = &block.change;
        let broken = |problem: Inconsistency| ReplayError {
            seq: block.seq,
            serial_before: c.serial_before,
            serial_after: c.serial_after,
            origin: c.source.clone(),
            problem,
        };
        match serial {
            None if !block.is_genesis() => return Err(broken(Inconsistency::NoGenesis)),
            Some(s) if s != c.serial_before => return Err(broken(Inconsistency::SerialGap(s))),
            _ => {}
        }
        zone.apply(&c.removed, &c.added)
            .map_err(|r| broken(Inconsistency::RemovesAbsent(r.clone())))?;
        serial = Some(c.serial_after);
    }
    Ok(zone)
}

/// The zone as of the last block whose `serial_after` is `serial` (as
/// [`replay`] gives it), to compare a zone file with the history. None
/// when no block has that serial, or the history up to it does not replay.
pub fn state_at(blocks: &[Block], serial: u32) -> Option<Vec<Record>> {
    let last = blocks
        .iter()
        .rposition(|b| b.change.serial_after == serial)?;
    replay(&blocks[..=last]).ok()
}

// ---------------------------------------------------------------------------
// Encoding

/// The whole encoded block and its hash.
fn encode_block(
    seq: u64,
    prev_hash: &[u8; 32],
    change: &Change,
) -> Result<(Vec<u8>, [u8; 32]), String> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 8]); // body length and check, once known
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(prev_hash);
    out.extend_from_slice(&change.serial_before.to_be_bytes());
    out.extend_from_slice(&change.serial_after.to_be_bytes());
    out.extend_from_slice(&change.time.to_be_bytes());
    let source = change.source.as_bytes();
    let len = u16::try_from(source.len())
        .map_err(|_| format!("source is {} bytes, more than 65535", source.len()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(source);
    put_records(&mut out, "removed", &change.removed)?;
    put_records(&mut out, "added", &change.added)?;
    let body = out.len() - HEADER_LEN;
    let body =
        u32::try_from(body).map_err(|_| format!("block body is {body} bytes, over 4 GiB"))?;
    out[4..8].copy_from_slice(&body.to_be_bytes());
    out[8..12].copy_from_slice(&(!body).to_be_bytes());
    let hash: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&hash);
    Ok((out, hash))
}

fn put_records(out: &mut Vec<u8>, list: &str, records: &[Record]) -> Result<(), String> {
    let count = u32::try_from(records.len())
        .map_err(|_| format!("{} {list} records, too many", records.len()))?;
    out.extend_from_slice(&count.to_be_bytes());
    for (i, r) in records.iter().enumerate() {
        let owner = u8::try_from(r.owner.len()).map_err(|_| {
            format!(
                "{list} record {i}: owner is {} bytes, over 255",
                r.owner.len()
            )
        })?;
        let rdata = u16::try_from(r.rdata.len()).map_err(|_| {
            format!(
                "{list} record {i}: rdata is {} bytes, over 65535",
                r.rdata.len()
            )
        })?;
        out.push(owner);
        out.extend_from_slice(&r.owner);
        out.extend_from_slice(&r.rtype.to_be_bytes());
        out.extend_from_slice(&r.ttl.to_be_bytes());
        out.extend_from_slice(&rdata.to_be_bytes());
        out.extend_from_slice(&r.rdata);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding

/// Reads fields from a body, refusing to run past its end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!(
                "body ends inside {what} (body byte {}: {n} bytes needed, {} left)",
                self.pos,
                self.left()
            ));
        }
        let field = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(field)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn records(&mut self, list: &str) -> Result<Vec<Record>, String> {
        let count = self.u32(&format!("{list} count"))? as usize;
        // Bound the allocation by what the body can hold.
        if count > self.left() / MIN_RECORD_LEN {
            return Err(format!(
                "{count} {list} records cannot fit in the {} bytes left",
                self.left()
            ));
        }
        let mut records = Vec::with_capacity(count);
        for i in 0..count {
            // Field names are fixed strings, so the loop allocates only
            // the record itself.
            let r = self
                .record()
                .map_err(|e| format!("{list} record {i}: {e}"))?;
            records.push(r);
        }
        Ok(records)
    }

    fn record(&mut self) -> Result<Record, String> {
        let len = self.u8("owner length")? as usize;
        let owner: Box<[u8]> = self.take(len, "owner")?.into();
        // The hash has no key: a block can be rewritten consistently, so
        // what it holds is checked like anything read from outside.
        if wire::name::uncompressed_len(&owner) != Some(owner.len()) {
            return Err("owner is not a plain uncompressed name".into());
        }
        let rtype = self.u16("type")?;
        let ttl = self.u32("TTL")?;
        let len = self.u16("rdata length")? as usize;
        let rdata = self.take(len, "rdata")?.into();
        Ok(Record {
            owner,
            rtype,
            ttl,
            rdata,
        })
    }
}

/// seq, prev_hash and the change from a body whose hash has been checked.
fn decode_body(body: &[u8]) -> Result<(u64, [u8; 32], Change), String> {
    let mut c = Cursor { buf: body, pos: 0 };
    let seq = c.u64("seq")?;
    let prev_hash = c.array("previous hash")?;
    let serial_before = c.u32("serial before")?;
    let serial_after = c.u32("serial after")?;
    let time = c.u64("time")?;
    let len = c.u16("source length")? as usize;
    let source = std::str::from_utf8(c.take(len, "source")?)
        .map_err(|e| format!("source is not UTF-8: {e}"))?
        .to_string();
    let removed = c.records("removed")?;
    let added = c.records("added")?;
    if c.left() != 0 {
        return Err(format!("{} bytes after the added records", c.left()));
    }
    let change = Change {
        serial_before,
        serial_after,
        removed,
        added,
        time,
        source,
    };
    Ok((seq, prev_hash, change))
}

/// How far a walk over a file got.
struct Scan {
    /// Complete, valid blocks.
    count: u64,
    /// Where they end.
    end: u64,
    last_hash: [u8; 32],
    last_serial: Option<u32>,
    /// The file ends inside the block after them.
    torn: Option<JournalError>,
}

/// Walks the blocks of a file of `file_len` bytes read from `r`, handing
/// each valid block to `each`. Err for the first block that is damaged
/// (not merely cut short by the end of the file) and for read errors.
fn scan<R: Read>(
    path: &Path,
    mut r: R,
    file_len: u64,
    mut each: impl FnMut(Block),
) -> Result<Scan, JournalError> {
    let mut s = Scan {
        count: 0,
        end: 0,
        last_hash: [0; 32],
        last_serial: None,
        torn: None,
    };
    loop {
        let (index, offset) = (s.count, s.end);
        let left = file_len - offset;
        if left == 0 {
            return Ok(s);
        }
        let err = |problem: Problem| JournalError {
            path: path.to_path_buf(),
            block: Some(index),
            offset: Some(offset),
            problem,
        };
        let io = |e: io::Error| err(Problem::Read(e));

        let mut header = [0u8; HEADER_LEN];
        let got = left.min(HEADER_LEN as u64) as usize;
        r.read_exact(&mut header[..got]).map_err(io)?;
        let head = &header[..got];
        let magic_ok = head[..got.min(3)] == MAGIC[..got.min(3)];
        let version_ok = got <= 3 || head[3] == VERSION;
        if !(magic_ok && version_ok) {
            // Zeros to the end of the file are an append whose new length
            // reached the disk but whose data did not.
            if head.iter().all(|&b| b == 0)
                && rest_is_zero(&mut r, left - got as u64).map_err(io)?
            {
                s.torn = Some(err(Problem::Torn {
                    block: index,
                    how: format!("{left} zero bytes where it should begin"),
                }));
                return Ok(s);
            }
            return Err(err(if magic_ok {
                Problem::Version(head[3])
            } else {
                Problem::BadMagic {
                    found: head[..got.min(4)].to_vec(),
                }
            }));
        }
        if got < HEADER_LEN {
            s.torn = Some(err(Problem::Torn {
                block: index,
                how: format!("{got} of its {HEADER_LEN} header bytes present"),
            }));
            return Ok(s);
        }
        let body_len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let check = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if check != !body_len {
            return Err(err(Problem::Length {
                length: body_len,
                check,
            }));
        }
        let total = (HEADER_LEN + HASH_LEN) as u64 + u64::from(body_len);
        if total > left {
            s.torn = Some(err(Problem::Torn {
                block: index,
                how: format!("{left} of its {total} bytes present"),
            }));
            return Ok(s);
        }
        // Bounded: body_len fits in the file.
        let mut rest = vec![0u8; body_len as usize + HASH_LEN];
        r.read_exact(&mut rest).map_err(io)?;
        let (body, stored) = rest.split_at(body_len as usize);
        let mut hasher = Sha256::new();
        hasher.update(header);
        hasher.update(body);
        let computed: [u8; 32] = hasher.finalize().into();
        if computed[..] != stored[..] {
            return Err(err(Problem::Hash {
                stored: first8(stored),
                computed: first8(&computed),
            }));
        }
        let (seq, prev_hash, change) = decode_body(body).map_err(|e| err(Problem::Body(e)))?;
        if seq != index {
            let (expected, found) = (index, seq);
            return Err(err(if seq > index {
                Problem::SequenceGap { expected, found }
            } else {
                Problem::SequenceBack { expected, found }
            }));
        }
        if prev_hash != s.last_hash {
            return Err(err(if index == 0 {
                Problem::GenesisLink(first8(&prev_hash))
            } else {
                Problem::Link {
                    links: first8(&prev_hash),
                    previous: index - 1,
                    hash: first8(&s.last_hash),
                }
            }));
        }
        s.count += 1;
        s.end += total;
        s.last_hash = computed;
        s.last_serial = Some(change.serial_after);
        each(Block {
            seq,
            change,
            prev_hash,
            hash: computed,
        });
    }
}

/// Whether the next `n` bytes of `r` are all zero.
fn rest_is_zero<R: Read>(r: &mut R, mut n: u64) -> io::Result<bool> {
    let mut buf = [0u8; 8192];
    while n > 0 {
        let chunk = n.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..chunk])?;
        if buf[..chunk].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        n -= chunk as u64;
    }
    Ok(true)
}

fn open_read(path: &Path) -> Result<(File, u64), JournalError> {
    let file = File::open(path).map_err(|e| file_error(path, Problem::Open(e)))?;
    let len = file
        .metadata()
        .map_err(|e| file_error(path, Problem::Stat(e)))?
        .len();
    Ok((file, len))
}

/// Makes a new directory entry durable: fsync of the file alone does not.
fn sync_parent(path: &Path) -> Result<(), JournalError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(|err| {
        file_error(
            path,
            Problem::SyncDir {
                dir: dir.to_path_buf(),
                err,
            },
        )
    })
}

/// The first eight bytes of a hash, as messages show it.
fn first8(hash: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    let n = hash.len().min(8);
    out[..n].copy_from_slice(&hash[..n]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("rampart-journal-{}-{name}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn wire(text: &str) -> Box<[u8]> {
        let mut out = Vec::new();
        for label in text.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out.into()
    }

    fn soa(serial: u32) -> Record {
        let mut rdata = Vec::new();
        rdata.extend_from_slice(&wire("ns1.example.org"));
        rdata.extend_from_slice(&wire("hostmaster.example.org"));
        for v in [serial, 7200, 3600, 1_209_600, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        Record {
            owner: wire("example.org"),
            rtype: 6,
            ttl: 3600,
            rdata: rdata.into(),
        }
    }

    fn a(owner: &str, last: u8, ttl: u32) -> Record {
        Record {
            owner: wire(owner),
            rtype: 1,
            ttl,
            rdata: vec![192, 0, 2, last].into(),
        }
    }

    fn ns() -> Record {
        Record {
            owner: wire("example.org"),
            rtype: 2,
            ttl: 3600,
            rdata: wire("ns1.example.org"),
        }
    }

    fn genesis() -> Change {
        Change {
            serial_before: 0,
            serial_after: 1,
            removed: vec![],
            added: vec![
                soa(1),
                ns(),
                a("ns1.example.org", 1, 3600),
                a("www.example.org", 10, 300),
            ],
            time: 1_700_000_000,
            source: "genesis".into(),
        }
    }

    /// Change `n` (n >= 1): serial n -> n+1, www moves from .9+n to .10+n
    /// and a host hN is added.
    fn change(n: u32) -> Change {
        Change {
            serial_before: n,
            serial_after: n + 1,
            removed: vec![soa(n), a("www.example.org", 9 + n as u8, 300)],
            added: vec![
                soa(n + 1),
                a("www.example.org", 10 + n as u8, 300),
                a(&format!("h{n}.example.org"), n as u8, 60),
            ],
            time: 1_700_000_000 + u64::from(n) * 60,
            source: format!("update from 127.0.0.{n}"),
        }
    }

    /// A journal of `count` blocks at `path`; returns the blocks and the
    /// offset where each starts, plus the file length.
    fn build(path: &Path, count: u32) -> (Vec<Block>, Vec<u64>) {
        let (mut j, opened) = Journal::open(path).expect("open new");
        assert!(opened.blocks.is_empty() && opened.recovered.is_none());
        let mut blocks = Vec::new();
        let mut offsets = vec![0];
        for n in 0..count {
            let c = if n == 0 { genesis() } else { change(n) };
            blocks.push(j.append(c).expect("append"));
            offsets.push(fs::metadata(path).expect("stat").len());
        }
        (blocks, offsets)
    }

    #[test]
    fn append_open_round_trip() {
        let dir = TempDir::new("roundtrip");
        let path = dir.file("example.org.journal");
        let (blocks, offsets) = build(&path, 4);
        assert!(blocks[0].is_genesis() && !blocks[1].is_genesis());
        assert_eq!(blocks[0].prev_hash, [0; 32]);
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.seq, i as u64);
            if i > 0 {
                assert_eq!(b.prev_hash, blocks[i - 1].hash);
            }
        }
        assert_eq!(blocks[2].change, change(2));

        let (mut j, opened) = Journal::open(&path).expect("reopen");
        assert_eq!(opened.blocks, blocks);
        assert_eq!(opened.recovered, None);
        assert_eq!(
            (j.len(), j.last_serial(), j.path()),
            (4, Some(4), path.as_path())
        );
        assert_eq!(j.last_hash(), blocks[3].hash);
        assert_eq!(read(&path).expect("read"), blocks);
        assert_eq!(verify(&path).expect("verify"), 4);

        // Appending after a reopen continues the chain.
        let b4 = j.append(change(4)).expect("append after reopen");
        assert_eq!((b4.seq, b4.prev_hash), (4, blocks[3].hash));
        assert_eq!(verify(&path).expect("verify"), 5);
        assert!(fs::metadata(&path).expect("stat").len() > offsets[4]);
    }

    /// A block whose owner is no plain name (a pointer, say) is refused
    /// on reading, even with a matching hash: it would go out on the wire.
    #[test]
    fn a_block_holding_a_malformed_name_is_refused() {
        let dir = TempDir::new("badname");
        let path = dir.file("j");
        let (mut j, _) = Journal::open(&path).expect("open");
        let mut g = genesis();
        g.added[2].owner = b"\xc0\x0c".to_vec().into_boxed_slice();
        j.append(g).expect("append");
        let e = verify(&path).unwrap_err();
        assert!(
            matches!(&e.problem, Problem::Body(m) if m.contains("not a plain uncompressed name")),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("malformed body: added record 2: owner is not a plain uncompressed name"),
            "{e}"
        );
    }

    #[test]
    fn append_refuses_what_would_not_replay() {
        let dir = TempDir::new("refuse");
        let path = dir.file("j");
        let (mut j, _) = Journal::open(&path).expect("open");
        assert!(j.is_empty());
        let mut bad = genesis();
        bad.removed.push(ns());
        let e = j.append(bad).expect_err("genesis that removes");
        assert!(matches!(e.problem, Problem::GenesisRemoves(1)), "{e}");
        assert_eq!(
            e.problem.to_string(),
            "genesis change removes 1 records; it must only add the zone"
        );
        j.append(genesis()).expect("genesis");
        let e = j.append(change(2)).expect_err("serial gap");
        assert!(
            matches!(
                e.problem,
                Problem::SerialGap {
                    serial_before: 2,
                    last: 1
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: block 1 (offset {}): change from serial 2 does not follow the journal's \
                 last serial 1",
                path.display(),
                e.offset.unwrap_or(0),
            )
        );
        let mut long = change(1);
        long.added.push(Record {
            owner: vec![1; 256].into(),
            rtype: 1,
            ttl: 0,
            rdata: [].into(),
        });
        let e = j.append(long).expect_err("owner too long");
        assert!(
            matches!(&e.problem, Problem::Unencodable(m) if m.contains("owner is 256 bytes")),
            "{e}"
        );
        // Nothing of the refused changes reached the file.
        assert_eq!(verify(&path).expect("verify"), 1);
        j.append(change(1)).expect("good change");
        assert_eq!(verify(&path).expect("verify"), 2);
    }

    #[test]
    fn torn_last_block_is_cut_off_at_every_offset() {
        let dir = TempDir::new("torn");
        let path = dir.file("j");
        let (blocks, offsets) = build(&path, 3);
        let full = fs::read(&path).expect("read file");
        let start = offsets[2];
        for cut in start + 1..offsets[3] {
            fs::write(&path, &full[..cut as usize]).expect("write");
            let e = verify(&path).expect_err("torn tail");
            assert!(e.is_torn(), "cut {cut}: {e}");
            assert_eq!(
                (e.block, e.offset),
                (Some(2), Some(start)),
                "cut {cut}: {e}"
            );
            assert!(
                matches!(e.problem, Problem::Torn { block: 2, .. }),
                "cut {cut}: {e}"
            );
            assert!(
                e.problem
                    .to_string()
                    .starts_with("file ends inside block 2 (torn write): "),
                "{e}"
            );
            assert!(read(&path).is_err());
            // verify left the file alone
            assert_eq!(fs::metadata(&path).expect("stat").len(), cut);

            let (mut j, opened) = Journal::open(&path).expect("open recovers");
            assert_eq!(opened.blocks, blocks[..2]);
            let note = opened.recovered.expect("recovery reported");
            assert!(
                note.contains("block 2") && note.contains(&format!("offset {start}")),
                "{note}"
            );
            assert_eq!(fs::metadata(&path).expect("stat").len(), start);
            assert_eq!((j.len(), j.last_serial()), (2, Some(2)));
            assert_eq!(verify(&path).expect("verify after recovery"), 2);
            if cut % 16 == 0 {
                let b = j.append(change(2)).expect("append after recovery");
                assert_eq!(b, blocks[2]);
                assert_eq!(verify(&path).expect("verify"), 3);
            }
        }

        // A crash during the genesis append leaves an empty journal.
        fs::write(&path, &full[..5]).expect("write");
        let (j, opened) = Journal::open(&path).expect("open");
        assert!(opened.blocks.is_empty() && opened.recovered.is_some());
        assert_eq!((j.len(), j.last_serial()), (0, None));
    }

    #[test]
    fn zero_tail_is_torn_other_garbage_is_not() {
        let dir = TempDir::new("tail");
        let path = dir.file("j");
        let (_, offsets) = build(&path, 2);
        let mut bytes = fs::read(&path).expect("read");
        bytes.extend_from_slice(&[0; 100]);
        fs::write(&path, &bytes).expect("write");
        assert!(verify(&path).expect_err("zero tail").is_torn());
        let (_, opened) = Journal::open(&path).expect("open");
        assert_eq!(opened.blocks.len(), 2);
        assert!(opened.recovered.is_some());
        assert_eq!(fs::metadata(&path).expect("stat").len(), offsets[2]);

        let mut bytes = fs::read(&path).expect("read");
        bytes.extend_from_slice(b"\0\0junk");
        fs::write(&path, &bytes).expect("write");
        let e = verify(&path).expect_err("garbage");
        assert!(
            matches!(&e.problem, Problem::BadMagic { found } if found == b"\0\0ju"),
            "{e}"
        );
        assert!(!e.is_torn(), "{e}");
        assert_eq!(
            e.problem.to_string(),
            "bad magic: 00006a75, expected 524a42"
        );
        assert!(Journal::open(&path).is_err());
        assert_eq!(
            fs::read(&path).expect("read"),
            bytes,
            "a refused open leaves the file"
        );
    }

    /// Flips each byte of block 2 of a 4-block journal in turn: every
    /// flip is named at block 2, offset of block 2. The hash covers the
    /// whole block, its own stored hash included by comparison, so no flip
    /// can pass it; link damage alone only shows at block 3 (below).
    #[test]
    fn every_flipped_byte_of_a_block_is_named() {
        let dir = TempDir::new("flip");
        let path = dir.file("j");
        let (_, offsets) = build(&path, 4);
        let good = fs::read(&path).expect("read");
        let (start, end) = (offsets[2] as usize, offsets[3] as usize);
        let body_end = end - HASH_LEN;
        for at in start..end {
            let mut bytes = good.clone();
            bytes[at] ^= 0x40;
            fs::write(&path, &bytes).expect("write");
            let e = verify(&path).expect_err("flipped byte");
            assert_eq!(
                (e.block, e.offset),
                (Some(2), Some(start as u64)),
                "byte {at}: {e}"
            );
            assert!(!e.is_torn(), "byte {at}: {e}");
            let expected = match at - start {
                0..=2 => "bad magic",
                3 => "unsupported block format version",
                4..=11 => "corrupt length field",
                _ => "content hash mismatch", // body and stored hash alike
            };
            let kind = match &e.problem {
                Problem::BadMagic { .. } => "bad magic",
                Problem::Version(v) if *v == VERSION ^ 0x40 => "unsupported block format version",
                Problem::Length { .. } => "corrupt length field",
                Problem::Hash { .. } => "content hash mismatch",
                _ => "something else",
            };
            assert_eq!(kind, expected, "byte {at}: {e}");
            assert!(
                e.problem.to_string().starts_with(expected),
                "byte {at}: {e}"
            );
            if at == start + 20 || at == body_end {
                // prev_hash and the stored hash: open refuses, file untouched
                assert!(Journal::open(&path).is_err());
                assert_eq!(fs::read(&path).expect("read"), bytes);
            }
        }
    }

    /// Block 2 rewritten whole with a recomputed hash is self-consistent:
    /// only block 3's stored link to it shows the rewrite, so block 3 is
    /// named. (Rewriting the last block this way, or every block from some
    /// point on, leaves nothing in the file to notice: that needs
    /// `last_hash` kept elsewhere.)
    #[test]
    fn rewritten_block_is_caught_by_the_next_link() {
        let dir = TempDir::new("rewrite");
        let path = dir.file("j");
        let (blocks, offsets) = build(&path, 4);
        let good = fs::read(&path).expect("read");
        let mut forged = change(2);
        forged.source = "someone else".into();
        let (block, _) = encode_block(2, &blocks[1].hash, &forged).expect("encode");
        let mut bytes = good[..offsets[2] as usize].to_vec();
        bytes.extend_from_slice(&block);
        bytes.extend_from_slice(&good[offsets[3] as usize..]);
        fs::write(&path, &bytes).expect("write");
        let e = verify(&path).expect_err("forged");
        let forged_end = offsets[2] + block.len() as u64;
        assert_eq!((e.block, e.offset), (Some(3), Some(forged_end)), "{e}");
        assert!(
            matches!(e.problem, Problem::Link { links, previous: 2, hash }
                if links != hash && links[..] == blocks[2].hash[..8]),
            "{e}"
        );
        assert!(
            e.problem
                .to_string()
                .starts_with("link to previous block mismatch: links to "),
            "{e}"
        );
    }

    #[test]
    fn removed_or_reordered_block_is_named() {
        let dir = TempDir::new("delete");
        let path = dir.file("j");
        let (_, offsets) = build(&path, 4);
        let good = fs::read(&path).expect("read");
        let o: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();

        let mut bytes = good[..o[1]].to_vec();
        bytes.extend_from_slice(&good[o[2]..]);
        fs::write(&path, &bytes).expect("write");
        let e = verify(&path).expect_err("deleted block 1");
        assert_eq!((e.block, e.offset), (Some(1), Some(offsets[1])), "{e}");
        assert!(
            matches!(
                e.problem,
                Problem::SequenceGap {
                    expected: 1,
                    found: 2
                }
            ),
            "{e}"
        );
        assert_eq!(e.problem.to_string(), "sequence gap: expected 1, found 2");
        assert!(Journal::open(&path).is_err());

        let mut bytes = good[..o[2]].to_vec();
        bytes.extend_from_slice(&good[o[3]..]);
        bytes.extend_from_slice(&good[o[2]..o[3]]);
        fs::write(&path, &bytes).expect("write");
        let e = verify(&path).expect_err("swapped blocks 2 and 3");
        assert_eq!((e.block, e.offset), (Some(2), Some(offsets[2])), "{e}");
        assert!(
            matches!(
                e.problem,
                Problem::SequenceGap {
                    expected: 2,
                    found: 3
                }
            ),
            "{e}"
        );
        assert_eq!(e.problem.to_string(), "sequence gap: expected 2, found 3");
    }

    #[test]
    fn lengths_are_not_believed() {
        let dir = TempDir::new("lengths");
        let path = dir.file("j");
        let (_, offsets) = build(&path, 2);
        let good = fs::read(&path).expect("read");

        // A huge length with a matching check on the last block: looks
        // torn, and nothing of that size is allocated.
        let mut bytes = good.clone();
        let at = offsets[1] as usize;
        bytes[at + 4..at + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        bytes[at + 8..at + 12].copy_from_slice(&(!0xffff_fff0u32).to_be_bytes());
        fs::write(&path, &bytes).expect("write");
        let e = verify(&path).expect_err("huge length");
        assert!(e.is_torn() && e.block == Some(1), "{e}");

        // A validly hashed body whose record count is absurd.
        let mut block = MAGIC.to_vec();
        block.push(VERSION);
        let mut body = Vec::new();
        body.extend_from_slice(&0u64.to_be_bytes());
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0; 16]); // serials, time
        body.extend_from_slice(&0u16.to_be_bytes());
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        block.extend_from_slice(&(body.len() as u32).to_be_bytes());
        block.extend_from_slice(&(!(body.len() as u32)).to_be_bytes());
        block.extend_from_slice(&body);
        let hash: [u8; 32] = Sha256::digest(&block).into();
        block.extend_from_slice(&hash);
        fs::write(&path, &block).expect("write");
        let e = verify(&path).expect_err("absurd count");
        assert!(
            matches!(&e.problem, Problem::Body(m) if m.contains("cannot fit")),
            "{e}"
        );
        assert_eq!(e.block, Some(0));
    }

    #[test]
    fn replay_and_state_at() {
        let dir = TempDir::new("replay");
        let path = dir.file("j");
        let (blocks, _) = build(&path, 4);

        let mut expect = genesis().added;
        expect.sort();
        assert_eq!(replay(&blocks[..1]).expect("genesis"), expect);
        assert_eq!(state_at(&blocks, 1), Some(expect));

        let mut expect = vec![
            soa(4),
            ns(),
            a("ns1.example.org", 1, 3600),
            a("www.example.org", 13, 300),
            a("h1.example.org", 1, 60),
            a("h2.example.org", 2, 60),
            a("h3.example.org", 3, 60),
        ];
        expect.sort();
        assert_eq!(replay(&blocks).expect("replay"), expect);
        assert_eq!(state_at(&blocks, 4), Some(expect));
        let at2 = state_at(&blocks, 2).expect("serial 2");
        assert!(at2.contains(&soa(2)) && at2.contains(&a("www.example.org", 11, 300)));
        assert!(!at2.contains(&a("h2.example.org", 2, 60)));
        assert_eq!(state_at(&blocks, 9), None);
        assert_eq!(replay(&[]).expect("empty"), vec![]);

        // TTL is not part of identity: removing at another TTL works, and
        // adding a present record takes the new TTL.
        let mut chain = blocks[..1].to_vec();
        let mut c = change(1);
        c.removed[1].ttl = 5;
        c.added.push(a("ns1.example.org", 1, 42));
        chain.push(Block {
            seq: 1,
            change: c,
            prev_hash: [0; 32],
            hash: [0; 32],
        });
        let zone = replay(&chain).expect("ttl ignored");
        assert!(zone.contains(&a("ns1.example.org", 1, 42)));
        assert!(!zone.contains(&a("ns1.example.org", 1, 3600)));

        // Removing what is not there names the block.
        let mut chain = blocks.clone();
        chain[2]
            .change
            .removed
            .push(a("nothere.example.org", 1, 60));
        let e = replay(&chain).expect_err("inconsistent");
        assert!(
            matches!(&e.problem, Inconsistency::RemovesAbsent(r)
                if *r == a("nothere.example.org", 1, 60)),
            "{e}"
        );
        assert_eq!((e.seq, e.serial_before, e.serial_after), (2, 2, 3), "{e}");
        assert_eq!(
            e.to_string(),
            "block 2 (serial 2 -> 3, update from 127.0.0.2): removes nothere.example.org. A \
             (4 bytes of rdata), which is not in the zone"
        );
        assert_eq!(state_at(&chain, 4), None);
        assert!(state_at(&chain, 2).is_some());

        // So does a serial that does not follow, or a missing genesis.
        let mut chain = blocks.clone();
        chain[3].change.serial_before = 7;
        let e = replay(&chain).expect_err("serial");
        assert!(
            e.seq == 3 && matches!(e.problem, Inconsistency::SerialGap(3)),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("block 3 (serial 7 -> 4, update from 127.0.0.3): does not follow serial 3 of the block before"),
            "{e}"
        );
        let e = replay(&blocks[1..]).expect_err("no genesis");
        assert!(
            e.seq == 1 && matches!(e.problem, Inconsistency::NoGenesis),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with("): replay must start at the genesis block"),
            "{e}"
        );
    }

    #[test]
    fn path_for_escapes() {
        let dir = Path::new("/var/lib/rampart");
        let name = |apex: &[u8]| {
            let p = path_for(dir, apex);
            assert_eq!(p.parent(), Some(dir), "{p:?}");
            p.file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
                .unwrap_or_default()
        };
        assert_eq!(name(&wire("example.org")), "example.org.journal");
        assert_eq!(name(b"\0"), "root.journal");
        assert_eq!(name(&wire("root")), "%72oot.journal");
        assert_eq!(name(&wire("Example.ORG")), "example.org.journal");
        assert_eq!(
            name(&wire("_dmarc.my-zone.example")),
            "_dmarc.my-zone.example.journal"
        );
        assert_eq!(name(b"\x03a/b\x03org\0"), "a%2fb.org.journal");
        assert_eq!(name(b"\x02..\0"), "%2e%2e.journal");
        assert_eq!(name(b"\x03a.b\x03org\0"), "a%2eb.org.journal");
        assert_eq!(name(b"\x02\\%\0"), "%5c%25.journal");
        for b in 0..=255u8 {
            let n = name(&[1, b, 0]);
            assert!(
                !n.contains('/') && !n.contains('\0') && !n.starts_with('.'),
                "{n}"
            );
        }
        // Long names stay under the file name limit and apart.
        let long = |c: u8| {
            let mut w = Vec::new();
            for _ in 0..4 {
                w.push(62);
                w.extend(std::iter::repeat_n(c, 62));
            }
            w.push(0);
            w
        };
        let (x, y) = (name(&long(b'/')), name(&long(b'*')));
        assert!(x.len() <= 255 && y.len() <= 255 && x != y, "{x} {y}");
        assert!(x.ends_with(".journal") && x.contains('~'));
    }
}
