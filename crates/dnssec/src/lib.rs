//! DNSSEC signing (RFC 4033–4035, 5155): zones are signed when they are
//! loaded and kept signed through updates, reloads and refreshes, into the
//! same record sets the journal keeps and transfers send, so answering a
//! DO query costs no signing.
//!
//! - [`policy`]: what BIND's `dnssec-policy` says, with its defaults;
//! - [`keys`]: keys in BIND's `K*.key`/`K*.private` files, made and used
//!   through ring;
//! - [`rrsig`]: the signed data of an RRset and its RRSIG;
//! - [`chain`]: canonical order, type bitmaps, NSEC and NSEC3 records;
//! - [`signer`]: a whole zone signed, reusing what still holds;
//! - [`rollover`]: key rollovers (pre-publication for ZSKs, double
//!   signature for KSKs and CSKs), kept in the keys' timing metadata;
//! - [`error`]: why a key, a policy or a signing failed
//!   ([`DnssecError`], [`PolicyError`]).
//!
//! It works on `zone::records::RecordSet`s. `xfr` signs every version it
//! commits and refreshes signatures; `rampart sign-zone` signs a file
//! offline with the same signer.

pub mod chain;
pub mod error;
pub mod keys;
pub mod policy;
pub mod rollover;
pub mod rrsig;
pub mod signer;

pub use error::{DnssecError, PolicyError};
pub use policy::{Denial, Policy, ZoneSigning};
pub use signer::{signer_owned, unsigned_view, Outcome, Signer};
