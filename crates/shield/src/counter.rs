//! A counter many threads add to without sharing a cache line.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const SLOTS: usize = 8;

#[repr(align(64))]
#[derive(Debug, Default)]
struct Slot(AtomicU64);

/// A sum spread over per-thread slots; reading adds them up.
#[derive(Debug, Default)]
pub struct Counter {
    slots: [Slot; SLOTS],
}

fn my_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
    }
    SLOT.with(|s| *s)
}

impl Counter {
    pub fn add(&self, n: u64) {
        self.slots[my_slot()].0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}
