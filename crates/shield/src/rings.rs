//! Query and response rings: the recent traffic dynamic blocks and the
//! top-N commands read (dnsdist's `setRingBuffersSize`).
//!
//! Entries are fixed-size and preallocated, so recording takes no
//! allocation. The rings are sharded: each thread writes its own shard
//! (a mutex nobody else takes except the once-a-second reader), so
//! workers do not contend.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// One recorded query or response.
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
    name: [u8; 255],
}

impl Entry {
    /// The query name, lowercase wire form.
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }
}

const EMPTY: Entry = Entry {
    time: 0,
    client: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    port: 0,
    qtype: 0,
    rcode: 0,
    size: 0,
    answers: 0,
    tcp: false,
    latency_us: 0,
    name_len: 0,
    name: [0; 255],
};

struct Shard {
    entries: Vec<Entry>,
    next: usize,
    filled: bool,
}

impl Shard {
    /// The slot the next entry goes in (the oldest once full).
    fn slot(&mut self) -> Option<&mut Entry> {
        if self.entries.is_empty() {
            return None;
        }
        let at = self.next;
        self.next += 1;
        if self.next == self.entries.len() {
            self.next = 0;
            self.filled = true;
        }
        self.entries.get_mut(at)
    }

    fn live(&self) -> &[Entry] {
        if self.filled {
            &self.entries
        } else {
            &self.entries[..self.next]
        }
    }
}

/// One ring (queries or responses), in shards.
pub struct Ring {
    shards: Vec<Mutex<Shard>>,
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
    SLOT.with(|s| *s) % n
}

impl Ring {
    /// `size` entries in all, split over `shards`.
    pub fn new(size: usize, shards: usize) -> Ring {
        let shards = shards.max(1);
        let per = size.div_ceil(shards);
        Ring {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: vec![EMPTY; per],
                        next: 0,
                        filled: false,
                    })
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
    /// ([`crate::netmask::unmap`]: the query path does it once). The
    /// entry is written in its slot: only the name's bytes are copied,
    /// not a whole 296-byte entry built beside it.
    pub fn record_at(&self, r: &Record, time: u64) {
        let shard = my_shard(self.shards.len());
        let Ok(mut s) = self.shards[shard].lock() else {
            return;
        };
        let Some(e) = s.slot() else { return };
        e.time = time;
        e.client = r.client;
        e.port = r.port;
        e.qtype = r.qtype;
        e.rcode = r.rcode;
        e.size = r.size.min(usize::from(u16::MAX)) as u16;
        e.answers = r.answers;
        e.tcp = r.tcp;
        e.latency_us = r.latency_us;
        let n = r.lname.len().min(255);
        e.name[..n].copy_from_slice(&r.lname[..n]);
        e.name_len = n as u8;
    }

    /// Calls `f` for every entry newer than `since_ns` ago (all with 0).
    pub fn for_each(&self, window_ns: u64, mut f: impl FnMut(&Entry)) {
        let cutoff = if window_ns == 0 {
            0
        } else {
            now_ns().saturating_sub(window_ns)
        };
        for shard in &self.shards {
            let Ok(s) = shard.lock() else { continue };
            for e in s.live() {
                if e.time >= cutoff {
                    f(e);
                }
            }
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.live().len()).unwrap_or(0))
            .sum()
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
}
