//! Query and response rings: the recent traffic dynamic blocks and the
//! top-N commands read (dnsdist's `setRingBuffersSize`).
//!
//! Entries are fixed-size and preallocated, so recording takes no
//! allocation. The rings are sharded: each thread writes its own shard,
//! so workers do not contend, and a reader never stops a writer.
//!
//! Why not a mutex per shard (as before): unlocking a mutex is a locked
//! instruction, which waits for the entry's stores to reach the cache;
//! an entry is a cold cache line, and that wait was 7% of an
//! authoritative answer (perf, 2026-12-06). Now each entry is a small
//! seqlock over atomics written with plain stores: the writer bumps the
//! entry's sequence to odd, writes, and bumps it to even; a reader keeps
//! an entry only if it saw the same even sequence before and after
//! reading it (a torn read is skipped, as an entry overwritten a moment
//! later would be). The shard's writer lock is only taken between
//! writers (more threads than shards) and is released with a plain
//! store.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::qps::now_ns;

/// What to record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub client: IpAddr,
    /// The client's port (queries; 0 where not known).
    pub port: u16,
    /// Lowercase wire name.
    pub lname: &'a [u8],
    pub qtype: u16,
    pub rcode: u16,
    pub size: usize,
    pub answers: u16,
    pub tcp: bool,
    /// Time taken to answer (responses only).
    pub latency_us: u32,
}

impl<'a> Record<'a> {
    /// A query (no response fields).
    pub fn query(client: IpAddr, lname: &'a [u8], qtype: u16) -> Self {
        Record {
            client,
            port: 0,
            lname,
            qtype,
            rcode: 0,
            size: 0,
            answers: 0,
            tcp: false,
            latency_us: 0,
        }
    }
}

/// One recorded query or response, as a reader sees it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// When, on the shared monotonic clock (ns).
    pub time: u64,
    pub client: IpAddr,
    /// The client's port (queries; 0 where not known).
    pub port: u16,
    pub qtype: u16,
    /// Response code (responses only).
    pub rcode: u16,
    /// Response size in bytes (responses only).
    pub size: u16,
    /// Answer records (responses only).
    pub answers: u16,
    pub tcp: bool,
    /// Time taken to answer, µs (responses only).
    pub latency_us: u32,
    name_len: u8,
    /// The query name, lowercase wire form (first `name_len` bytes).
    name: [u8; 256],
}

impl Entry {
    /// The query name, lowercase wire form.
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }
}

/// Name words in a cell: 255 bytes of name, rounded up.
const NAME_WORDS: usize = 32;
const V6: u64 = 1 << 8;
const TCP: u64 = 1 << 9;

/// An entry in its slot: an [`Entry`] packed into words behind a
/// sequence number (odd while it is written). In this order (`repr(C)`):
/// the sequence, the fields and a short name's words share the first
/// cache line, which [`Cell::prefetch`] brings in.
#[derive(Default)]
#[repr(C)]
struct Cell {
    seq: AtomicU32,
    time: AtomicU64,
    /// The address: IPv4 in the low 32 bits of `addr[1]`, IPv6 in both.
    addr: [AtomicU64; 2],
    /// port, qtype, rcode, size: 16 bits each.
    fields: AtomicU64,
    /// name length (8 bits), V6, TCP, answers (16 bits from 16),
    /// latency µs (32 bits from 32).
    more: AtomicU64,
    name: [AtomicU64; NAME_WORDS],
}

impl Cell {
    /// Writes `r` at `time`. Only the shard's writer calls this.
    fn write(&self, r: &Record, time: u64) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Readers that see the new fields see the odd sequence first.
        fence(Ordering::Release);
        let (hi, lo, v6) = match r.client {
            IpAddr::V4(a) => (0, u64::from(u32::from(a)), 0),
            IpAddr::V6(a) => {
                let b = u128::from(a);
                ((b >> 64) as u64, b as u64, V6)
            }
        };
        let n = r.lname.len().min(255);
        self.time.store(time, Ordering::Relaxed);
        self.addr[0].store(hi, Ordering::Relaxed);
        self.addr[1].store(lo, Ordering::Relaxed);
        let size = r.size.min(usize::from(u16::MAX)) as u64;
        self.fields.store(
            u64::from(r.port) | u64::from(r.qtype) << 16 | u64::from(r.rcode) << 32 | size << 48,
            Ordering::Relaxed,
        );
        self.more.store(
            n as u64
                | v6
                | if r.tcp { TCP } else { 0 }
                | u64::from(r.answers) << 16
                | u64::from(r.latency_us) << 32,
            Ordering::Relaxed,
        );
        let whole = r.lname[..n].chunks_exact(8);
        let rest = whole.remainder();
        let mut words = self.name.iter();
        // `whole` first: zip asks its left side first, and a word taken
        // for a chunk that is not there would be lost to the remainder.
        for (chunk, word) in whole.zip(words.by_ref()) {
            let w: [u8; 8] = chunk.try_into().unwrap_or_default();
            word.store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
        if let (Some(word), false) = (words.next(), rest.is_empty()) {
            // Shifted in, not copied into a stack buffer and read back (a
            // store-forwarding stall per entry).
            let w = rest.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
            word.store(w, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The entry, unless it is being written (or was, while read).
    fn read(&self) -> Option<Entry> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let (hi, lo) = (
            self.addr[0].load(Ordering::Relaxed),
            self.addr[1].load(Ordering::Relaxed),
        );
        let fields = self.fields.load(Ordering::Relaxed);
        let more = self.more.load(Ordering::Relaxed);
        let mut e = Entry {
            time: self.time.load(Ordering::Relaxed),
            client: if more & V6 != 0 {
                IpAddr::V6(Ipv6Addr::from(u128::from(hi) << 64 | u128::from(lo)))
            } else {
                IpAddr::V4(Ipv4Addr::from(lo as u32))
            },
            port: fields as u16,
            qtype: (fields >> 16) as u16,
            rcode: (fields >> 32) as u16,
            size: (fields >> 48) as u16,
            answers: (more >> 16) as u16,
            tcp: more & TCP != 0,
            latency_us: (more >> 32) as u32,
            name_len: more as u8,
            name: [0; 256],
        };
        let words = usize::from(e.name_len).div_ceil(8);
        for (i, word) in self.name[..words].iter().enumerate() {
            e.name[i * 8..i * 8 + 8].copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        // The reads above happen before the sequence is read again.
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == seq).then_some(e)
    }

    /// Starts fetching the cell's first lines, for the next write: an
    /// entry written to a cold line otherwise waits for it.
    fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p = (self as *const Cell).cast::<i8>();
            // SAFETY: a prefetch is a hint that loads nothing the program
            // sees and cannot fault; SSE is in every x86-64 CPU.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
            }
        }
    }
}

struct Shard {
    cells: Box<[Cell]>,
    /// Where the next entry goes (the oldest once full).
    next: AtomicUsize,
    filled: AtomicBool,
    /// Held by the one writing (threads share a shard only when there
    /// are more of them than shards).
    writing: AtomicBool,
}

impl Shard {
    fn live(&self) -> &[Cell] {
        // `next` before `filled` (the writer stores them the other way
        // round): a `next` that wrapped to 0 is seen with `filled` set.
        let next = self.next.load(Ordering::Acquire);
        if self.filled.load(Ordering::Acquire) {
            &self.cells
        } else {
            &self.cells[..next.min(self.cells.len())]
        }
    }

    fn write(&self, r: &Record, time: u64) {
        if self.cells.is_empty() {
            return;
        }
        while self
            .writing
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        let at = self.next.load(Ordering::Relaxed);
        let wraps = at + 1 == self.cells.len();
        self.cells[at].write(r, time);
        // Only once the last cell is written: a reader that sees `filled`
        // reads every cell, and one never written would pass for an entry.
        if wraps {
            self.filled.store(true, Ordering::Release);
        }
        let next = if wraps { 0 } else { at + 1 };
        self.next.store(next, Ordering::Release);
        self.writing.store(false, Ordering::Release);
        self.cells[next].prefetch();
    }
}

/// One ring (queries or responses), in shards.
pub struct Ring {
    shards: Vec<Shard>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ring({} shards)", self.shards.len())
    }
}

fn my_shard(n: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    // Most threads are numbered below the shard count: no division.
    match SLOT.with(|s| *s) {
        s if s < n => s,
        s => s % n,
    }
}

impl Ring {
    /// `size` entries in all, split over `shards`.
    pub fn new(size: usize, shards: usize) -> Ring {
        let shards = shards.max(1);
        let per = size.div_ceil(shards);
        Ring {
            shards: (0..shards)
                .map(|_| Shard {
                    cells: (0..per).map(|_| Cell::default()).collect(),
                    next: AtomicUsize::new(0),
                    filled: AtomicBool::new(false),
                    writing: AtomicBool::new(false),
                })
                .collect(),
        }
    }

    /// Records an entry in this thread's shard, now.
    pub fn record(&self, r: &Record) {
        let unmapped = Record {
            client: crate::netmask::unmap(r.client),
            ..*r
        };
        self.record_at(&unmapped, now_ns());
    }

    /// Records an entry at `time` (from [`now_ns`]) in this thread's
    /// shard; `r.client` must be unmapped already
    /// ([`crate::netmask::unmap`]: the query path does it once).
    pub fn record_at(&self, r: &Record, time: u64) {
        self.shards[my_shard(self.shards.len())].write(r, time);
    }

    /// Calls `f` for every entry newer than `since_ns` ago (all with 0).
    pub fn for_each(&self, window_ns: u64, mut f: impl FnMut(&Entry)) {
        let cutoff = if window_ns == 0 {
            0
        } else {
            now_ns().saturating_sub(window_ns)
        };
        for shard in &self.shards {
            for e in shard.live().iter().filter_map(Cell::read) {
                if e.time >= cutoff {
                    f(&e);
                }
            }
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.live().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The query and response rings.
#[derive(Debug)]
pub struct Rings {
    pub queries: Ring,
    pub responses: Ring,
}

impl Rings {
    /// dnsdist's defaults: 10,000 entries each, 10 shards.
    pub fn new(size: usize, shards: usize) -> Rings {
        Rings {
            queries: Ring::new(size, shards),
            responses: Ring::new(size, shards),
        }
    }
}

impl Default for Rings {
    fn default() -> Self {
        Rings::new(10_000, 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_wraps() {
        let r = Ring::new(4, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..6u16 {
            r.record(&Record::query(ip, b"\x01a\x00", i));
        }
        assert_eq!(r.len(), 4);
        let mut types = Vec::new();
        r.for_each(0, |e| types.push(e.qtype));
        types.sort();
        assert_eq!(types, [2, 3, 4, 5]);
        let mut names = 0;
        r.for_each(60_000_000_000, |e| {
            names += usize::from(e.name() == b"\x01a\x00")
        });
        assert_eq!(names, 4);
    }

    #[test]
    fn a_reader_never_sees_a_torn_entry() {
        // One shard, written by two threads at once and read meanwhile:
        // every entry read is one that was written whole (its name, type,
        // address and port agree).
        let r = std::sync::Arc::new(Ring::new(64, 1));
        let writers: Vec<_> = (0..2u16)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u16 {
                        let k = (i % 200) as u8;
                        let name = [1, b'a' + k % 26, 3, k, k, k, 0];
                        let v6: IpAddr = format!("2001:db8::{t}:{k}").parse().unwrap();
                        let ip = if i % 2 == 0 {
                            IpAddr::from([10, t as u8, 0, k])
                        } else {
                            v6
                        };
                        r.record(&Record {
                            port: u16::from(k) * 3,
                            tcp: k % 2 == 1,
                            latency_us: u32::from(k) * 1000,
                            ..Record::query(ip, &name[..(k as usize % 7) + 1], u16::from(k))
                        });
                    }
                })
            })
            .collect();
        let mut seen = 0;
        while seen < 2_000 {
            r.for_each(0, |e| {
                let k = e.qtype as u8;
                let name = [1, b'a' + k % 26, 3, k, k, k, 0];
                assert_eq!(e.name(), &name[..(k as usize % 7) + 1]);
                assert_eq!(e.port, e.qtype * 3);
                assert_eq!(e.tcp, k % 2 == 1);
                assert_eq!(e.latency_us, u32::from(k) * 1000);
                match e.client {
                    IpAddr::V4(a) => assert_eq!(a.octets()[3], k),
                    IpAddr::V6(a) => assert_eq!(
                        a.segments()[7],
                        u16::from_str_radix(&k.to_string(), 16).unwrap()
                    ),
                }
                seen += 1;
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(r.len(), 64);
    }
}
