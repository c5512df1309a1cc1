//! Zones: from zone files and named.conf to compiled snapshots, and the
//! authoritative answers given from them.
//!
//! The path of a zone: [`source`] reads the file text (directives,
//! `$GENERATE`, file:line bookkeeping), [`scan`] runs the `domain` scanner
//! over it, [`build`] checks it and compiles a [`tree::Zone`], and a
//! [`catalog::Catalog`] of zones goes into a [`Snapshot`] that the query
//! path reads through an atomic pointer. [`respond`] turns a query packet
//! into a response packet, and [`answer`] holds the RFC 1034 §4.3.2
//! lookup in Knot's phases. [`named_conf`] reads the zone list of a BIND
//! style `named.conf`.

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
pub use source::SourceError;
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
