//! Zones: from zone files and named.conf to compiled snapshots, and the
//! authoritative answers given from them.
//!
//! The path of a zone: [`source`] reads the file text (directives,
//! `$GENERATE`, unit TTLs, file:line bookkeeping) and encodes the plainly
//! written common records itself; [`scan`] runs the `domain` scanner over
//! the rest and merges both in file order; [`build`] checks the records
//! and compiles a [`tree::Zone`] ([`load`] does these steps for one
//! file). A [`catalog::Catalog`] of zones goes into a [`Snapshot`] that
//! the query path reads through an atomic pointer.
//!
//! Modules:
//! - [`source`], [`scan`], [`build`], [`load`]: zone file to compiled
//!   zone, as above;
//! - [`tree`]: the compiled zone, a hash table of owner names in one
//!   arena; [`patch`]: versions changed by the names an update or IXFR
//!   touched, without a whole compile;
//! - [`negative`]: the SOA of negative answers, rendered once per version;
//! - [`denial`]: which NSEC or NSEC3 record proves a name or type absent;
//! - [`catalog`]: the set of zones served, and which one a name is in;
//! - [`respond`](mod@respond): a query packet to a response packet
//!   (header checks, EDNS, classes, truncation), allocation-free;
//! - [`answer`]: the RFC 1034 §4.3.2 lookup in Knot's phases, with
//!   RRSIGs and denial proofs for DO queries to signed zones;
//! - [`records`]: zones as plain record sets, what transfers, updates,
//!   the journal and the signer work on (diffs, serial policies);
//! - [`text`]: records in presentation form and zone files written back;
//! - [`named_conf`]: the zone list and the server options (RRL, cookies,
//!   DNSSEC policies, replication) of a BIND-style `named.conf`.

pub mod answer;
pub mod build;
pub mod catalog;
pub mod denial;
pub mod load;
pub mod named_conf;
pub mod negative;
pub mod patch;
pub mod records;
pub mod respond;
pub mod scan;
pub mod source;
pub mod text;
pub mod tree;

pub use catalog::{Catalog, ZoneState};
pub use load::{load_zone, load_zone_bytes, Loaded};
pub use respond::{formerr, respond, respond_query, Snapshot, Transport};
pub use source::{SourceError, SourceErrorKind};
pub use tree::Zone;

/// Parses a zone or domain name in presentation form (trailing dot
/// optional, any case, `\.` and `\DDD` escapes) into lowercase wire form.
pub use wire::name::parse as parse_name;

/// Helpers the modules' tests share.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::records::Record;

    /// A name in lowercase wire form.
    pub fn name(text: &str) -> Box<[u8]> {
        crate::parse_name(text).unwrap().into_boxed_slice()
    }

    pub fn rec(owner: &str, t: u16, ttl: u32, rdata: &[u8]) -> Record {
        Record {
            owner: name(owner),
            rtype: t,
            ttl,
            rdata: rdata.into(),
        }
    }
}
