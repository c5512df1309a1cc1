//! Replication and history: zone transfers in and out, NOTIFY, dynamic
//! updates, TSIG, the journal, and DNSSEC signing where changes are made.
//!
//! The [`Service`] holds every zone that transfers, updates or a journal
//! work on. The query path hands it transfer requests, UPDATEs and
//! NOTIFYs; the control loop, reloads, secondary threads and the notifier
//! change zones through it too. Every change takes one way
//! (`Service::commit`): signed if a policy says so, compiled (so it passes
//! the zone-file checks), appended to the journal and synced, then
//! published to the query path and notified.
//!
//! Modules:
//! - [`service`]: the per-zone state, each zone behind its own mutex;
//! - [`settings`]: what the config says: keys, transfer and update ACLs,
//!   NOTIFY targets, primaries (with XoT);
//! - [`journal`]: every change of a zone as a block of a SHA-256 hash
//!   chain in an append-only file, the source of IXFR and the proof that
//!   history was not rewritten;
//! - [`tsig`]: signing and checking messages (RFC 8945), server and
//!   client side;
//! - [`outgoing`]: AXFR and IXFR out;
//! - [`update`]: RFC 2136 UPDATE with prerequisites and grants;
//! - [`notify`]: NOTIFY out, with retries, and in, for secondaries;
//! - [`secondary`]: a thread per secondary zone that follows its
//!   primaries (SOA checks, IXFR or AXFR, over TLS when asked, expiry);
//! - `reply`: the TSIG check every request goes through, and the replies
//!   that carry no data;
//! - `signing`: DNSSEC signing of each new version, signature refresh
//!   and key status, through the `dnssec` crate.

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

/// A message ID nobody can guess from the last one (RFC 5452 spirit).
pub(crate) fn random_id() -> u16 {
    wire::random::unguessable_u16()
}
