//! Random numbers, one source for the whole program. Two kinds:
//!
//! - [`fill`]: bytes from the kernel (`/dev/urandom`), for secrets and
//!   for what an off-path attacker must not guess: cookie secrets,
//!   console keys and salts, NSEC3 salts, the IDs of our own queries to
//!   primaries.
//! - [`fast`] and [`unit`]: a per-thread splitmix64 stream seeded once
//!   from the kernel, cheap enough for every query (load-balancing
//!   choices, `ProbaRule`, the first ID of a backend's sequence, signing
//!   jitter). Never for secrets.

use std::cell::Cell;
use std::io::{self, Read};

/// Fills `buf` from the kernel's random source.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// splitmix64's finaliser: a 64-bit mixer.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of a thread's stream: from the kernel, or (if that cannot be
/// read, as in a bare chroot) the time and the thread's stack address.
fn seed() -> u64 {
    let mut b = [0u8; 8];
    if fill(&mut b).is_ok() {
        return u64::from_le_bytes(b);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    mix(now ^ (&b as *const _ as u64).rotate_left(32))
}

/// A fast per-thread random number (not for secrets).
pub fn fast() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|s| {
        let next = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(next);
        mix(next)
    })
}

/// A fast per-thread random number in [0, 1) (not for secrets).
pub fn unit() -> f64 {
    (fast() >> 11) as f64 / (1u64 << 53) as f64
}

/// A 16-bit ID nobody can guess from the last one (RFC 5452's point for
/// the queries we send): from the kernel, or [`fast`] if it cannot be
/// read.
pub fn unguessable_u16() -> u16 {
    let mut b = [0u8; 2];
    match fill(&mut b) {
        Ok(()) => u16::from_le_bytes(b),
        Err(_) => fast() as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_between_threads_and_units_stay_in_range() {
        let here: Vec<u64> = (0..4).map(|_| fast()).collect();
        let there = std::thread::spawn(|| (0..4).map(|_| fast()).collect::<Vec<u64>>())
            .join()
            .unwrap();
        assert_ne!(here, there);
        assert!(here.windows(2).all(|w| w[0] != w[1]));
        let mut below_half = 0;
        for _ in 0..10_000 {
            let u = unit();
            assert!((0.0..1.0).contains(&u));
            below_half += usize::from(u < 0.5);
        }
        // A fair coin lands within ±5% of half 10,000 times in far more
        // than a billion runs to one.
        assert!((4_500..5_500).contains(&below_half), "{below_half}");
        let mut a = [0u8; 32];
        fill(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
