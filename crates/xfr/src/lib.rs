//! Replication and history.
//!
//! [`tsig`] signs and checks messages (RFC 8945); [`journal`] keeps every
//! change of a zone as a hash-chained block (SHA-256), the source of IXFR
//! and the proof that history was not rewritten.

pub mod journal;
pub mod notify;
pub mod outgoing;
mod reply;
pub mod secondary;
pub mod service;
pub mod settings;
mod signing;
pub mod tsig;
pub mod update;

pub use service::{Publish, Service, ZoneInfo};

/// A message ID nobody can guess from the last one (RFC 5452 spirit):
/// the standard library's random hasher keys, no extra dependency.
pub(crate) fn random_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u16
}
