//! The table of a backend's in-flight UDP queries, by the ID the backend
//! was sent: workers put a query's state in, the backend's responder
//! takes it out when the answer comes, and its sweep gives up on the old.
//!
//! Why not `Mutex<Vec<Option<Box<T>>>>` (as before): every worker and the
//! responder took that one lock per query, every query allocated its
//! state, and unlocking waited for the state's stores to reach the cache.
//! dnsdist keeps an array of ID states per backend for the same reason.
//! Here each entry carries its own small lock word, and the state lives in
//! the table itself:
//!
//! - `FREE` (0): empty; `BUSY` (1): one thread is reading or writing the
//!   entry; anything else: full, and the value is when the query was
//!   sent ([`shield::qps::now_ns`], at least 2).
//! - A thread owns an entry's value only while it moved the word to
//!   `BUSY` with a compare-and-swap; it ends by storing `FREE` or a time
//!   with release ordering, so the next owner sees the value it left.
//!
//! The words are one dense array of its own, so the sweep reads 8 bytes
//! per entry, not the state beside them.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};

const FREE: u64 = 0;
const BUSY: u64 = 1;

/// dnsdist's default for `setMaxUDPOutstanding`: every 16-bit ID.
pub const DEFAULT_ENTRIES: usize = 65536;

pub struct Table<T> {
    words: Box<[AtomicU64]>,
    values: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Entries - 1 (entries are a power of two): an ID's entry.
    mask: usize,
}

// SAFETY: a value is only reached by the thread that holds its entry's
// word at BUSY (see the module comment), so values move between threads
// (T: Send) but are never shared.
unsafe impl<T: Send> Sync for Table<T> {}

/// What [`Table::put`] found in the entry it filled.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    Empty,
    /// A query still waiting was given up to make room.
    Replaced,
}

impl<T> Table<T> {
    /// A table of `entries` rounded up to a power of two (16 to 65,536).
    /// The values' memory is reserved, not touched: pages come in as IDs
    /// are used.
    pub fn new(entries: usize) -> Table<T> {
        let n = entries.clamp(16, DEFAULT_ENTRIES).next_power_of_two();
        Table {
            words: (0..n).map(|_| AtomicU64::new(FREE)).collect(),
            values: (0..n)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            mask: n - 1,
        }
    }

    pub fn len(&self) -> usize {
        self.mask + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Takes entry `i`'s word to BUSY: the word it had (FREE or a time).
    fn claim(&self, i: usize) -> u64 {
        let word = &self.words[i];
        let mut spins = 0u32;
        loop {
            let w = word.load(Ordering::Relaxed);
            if w != BUSY
                && word
                    .compare_exchange_weak(w, BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return w;
            }
            // Another thread holds it for a few instructions; on a busy
            // core it may be descheduled, so do not spin for long.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Puts `value` in the entry of `id`, sent at `now_ns`. A value still
    /// there is dropped.
    pub fn put(&self, id: u16, value: T, now_ns: u64) -> Put {
        let i = usize::from(id) & self.mask;
        let had = self.claim(i);
        let cell = self.values[i].get();
        // SAFETY: the word is BUSY and this thread set it: no one else
        // reaches the value. A word other than FREE means a value was
        // written (put stores a time only after writing one).
        unsafe {
            if had != FREE {
                (*cell).assume_init_drop();
            }
            (*cell).write(value);
        }
        self.words[i].store(now_ns.max(2), Ordering::Release);
        if had == FREE {
            Put::Empty
        } else {
            Put::Replaced
        }
    }

    /// Takes the value of `id` if `matches` says it is the one this answer
    /// is for, with when it was sent. A value that does not match stays.
    pub fn take_if(&self, id: u16, matches: impl FnOnce(&T) -> bool) -> Option<(T, u64)> {
        let i = usize::from(id) & self.mask;
        let word = &self.words[i];
        let sent = word.load(Ordering::Relaxed);
        if sent == FREE || sent == BUSY {
            return None;
        }
        // Not `claim`: the responder does not wait; an entry that changed
        // meanwhile is not this answer's.
        if word
            .compare_exchange(sent, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // `matches` reads a backend's bytes: if it panics, the entry must
        // not stay BUSY (every later `put` to it would wait forever). The
        // guard puts the word back on the way out, however it is left.
        let mut guard = Unbusy { word, to: sent };
        let cell = self.values[i].get();
        // SAFETY: BUSY, set by this thread, over a full entry.
        if !matches(unsafe { (*cell).assume_init_ref() }) {
            return None;
        }
        // SAFETY: as above; the guard marks the entry FREE right after,
        // so the value read out is not dropped or read again.
        let value = unsafe { (*cell).assume_init_read() };
        guard.to = FREE;
        drop(guard);
        Some((value, sent))
    }

    /// Drops the values sent before `cutoff_ns`; how many.
    pub fn expire(&self, cutoff_ns: u64) -> usize {
        let mut expired = 0;
        for (i, word) in self.words.iter().enumerate() {
            let sent = word.load(Ordering::Relaxed);
            if sent == FREE || sent == BUSY || sent >= cutoff_ns {
                continue;
            }
            if word
                .compare_exchange(sent, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: BUSY, set by this thread, over a full entry; FREE
            // right after.
            unsafe { (*self.values[i].get()).assume_init_drop() };
            word.store(FREE, Ordering::Release);
            expired += 1;
        }
        expired
    }

    /// Entries holding a query.
    pub fn in_flight(&self) -> usize {
        self.words
            .iter()
            .filter(|w| w.load(Ordering::Relaxed) != FREE)
            .count()
    }
}

/// Stores `to` in a BUSY word when dropped.
struct Unbusy<'a> {
    word: &'a AtomicU64,
    to: u64,
}

impl Drop for Unbusy<'_> {
    fn drop(&mut self) {
        self.word.store(self.to, Ordering::Release);
    }
}

impl<T> Drop for Table<T> {
    fn drop(&mut self) {
        for (word, value) in self.words.iter_mut().zip(self.values.iter_mut()) {
            if *word.get_mut() != FREE {
                // SAFETY: `&mut self`: no other thread; a word other than
                // FREE (BUSY cannot outlive its holder) is a full entry.
                unsafe { value.get_mut().assume_init_drop() };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn put_take_replace_expire() {
        let t: Table<Arc<u32>> = Table::new(20);
        assert_eq!(t.len(), 32);
        let v = Arc::new(7);
        assert_eq!(t.put(3, v.clone(), 100), Put::Empty);
        // A wrong answer leaves the entry.
        assert!(t.take_if(3, |x| **x == 8).is_none());
        assert_eq!(
            t.take_if(3, |x| **x == 7).map(|(x, at)| (*x, at)),
            Some((7, 100))
        );
        assert!(t.take_if(3, |_| true).is_none());
        // IDs 3 and 35 share an entry: the second replaces the first.
        assert_eq!(t.put(3, v.clone(), 100), Put::Empty);
        assert_eq!(t.put(35, v.clone(), 200), Put::Replaced);
        assert_eq!(Arc::strong_count(&v), 2);
        assert_eq!(t.put(4, v.clone(), 300), Put::Empty);
        assert_eq!(t.in_flight(), 2);
        assert_eq!(t.expire(250), 1);
        assert_eq!(t.in_flight(), 1);
        assert_eq!(Arc::strong_count(&v), 2);
        drop(t);
        // Dropping the table drops what it held.
        assert_eq!(Arc::strong_count(&v), 1);
    }

    #[test]
    fn a_panic_while_matching_leaves_the_entry_usable() {
        let t: Table<u32> = Table::new(16);
        t.put(5, 1, 100);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.take_if(5, |_| panic!("a bad answer"))
        }));
        assert!(caught.is_err());
        // Still full, still takeable, and a put to it does not wait.
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.take_if(5, |v| *v == 1), Some((1, 100)));
        t.put(5, 2, 200);
        assert_eq!(t.put(21, 3, 300), Put::Replaced);
    }

    #[test]
    fn every_value_put_is_taken_or_dropped_once_across_threads() {
        // Two writers and a taker race over a small table; every value is
        // an Arc clone, so a double drop or a lost one shows in the count.
        let t = Arc::new(Table::<(u16, Arc<()>)>::new(16));
        let token = Arc::new(());
        let writers: Vec<_> = (0..2u16)
            .map(|w| {
                let (t, token) = (t.clone(), token.clone());
                std::thread::spawn(move || {
                    for i in 0..20_000u16 {
                        let id = i.wrapping_mul(2).wrapping_add(w);
                        t.put(id, (id, token.clone()), 2 + u64::from(i));
                    }
                })
            })
            .collect();
        let mut taken = 0;
        let mut take = |id: u16| {
            if let Some(((got, _), _)) = t.take_if(id, |(v, _)| *v & 15 == id & 15) {
                assert_eq!(got & 15, id & 15);
                taken += 1;
            }
        };
        // Taking while the writers write (however the threads are
        // scheduled), then once more over every entry.
        let mut round = 0u16;
        while !writers.iter().all(|w| w.is_finished()) {
            take(round % 64);
            round = round.wrapping_add(1);
        }
        for id in 0..64 {
            take(id);
        }
        for w in writers {
            w.join().unwrap();
        }
        assert!(taken >= 16, "{taken}");
        let left = t.in_flight();
        assert_eq!(Arc::strong_count(&token), 1 + left);
        assert_eq!(t.expire(u64::MAX), left);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}
