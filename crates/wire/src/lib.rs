//! The DNS wire format as rampart's fast path needs it.
//!
//! Everything here works on byte slices the caller owns: a received
//! datagram is parsed in place ([`Query::parse`]) and a response is written
//! into a caller-provided buffer ([`Response`]), so answering a query takes
//! no heap allocation. Names are handled in uncompressed wire form
//! (`[len, label…, 0]`), the form the zone store keeps them in.
//!
//! Modules:
//! - [`name`]: helpers over uncompressed wire names (labels, case folding,
//!   suffixes).
//! - [`query`]: header, question and EDNS(0) parsing of an incoming query.
//! - [`response`]: the response writer with name compression, section
//!   counts and truncation checkpoints.
//! - [`types`]: the numeric constants (types, classes, rcodes, opcodes).
//! - [`edit`], [`ecs`]: rewriting messages on the forwarding path.
//! - [`message`]: reading whole messages (transfers, NOTIFY, UPDATE) into
//!   owned records with names decompressed.
//! - [`random`]: the program's one random source (kernel bytes for
//!   secrets, a fast per-thread stream for the rest).
//! - [`soa`]: the fields of SOA RDATA.
//! - [`time`]: calendar dates of Unix time (RRSIG stamps, key files, date
//!   serials, logs).
//! - [`client`]: asking another server: one question over UDP until a
//!   deadline, and the length framing of DNS over TCP.
//!
//! The crate's one dependency is the `thiserror` derive for its error
//! types (nothing at run time); names and messages are read here rather
//! than with the `domain` crate (see `docs/decisions.md`).

pub mod client;
pub mod ecs;
pub mod edit;
pub mod hash;
pub mod message;
pub mod name;
pub mod query;
pub mod random;
pub mod response;
pub mod soa;
pub mod time;
pub mod types;

pub use query::{Edns, ParseError, Query};
pub use response::{Full, Layout, Mark, Response, Section};
