//! Why a setting of the shield was refused: [`ShieldError`].

use crate::rrl;

/// Why a written setting was refused: an RRL option
/// ([`rrl::Settings::set`]), a cookie secret
/// ([`cookie::parse_secret`](crate::cookie::parse_secret)) or a name of a
/// set ([`suffix::NameSet::add`](crate::suffix::NameSet::add)). The
/// texts say what was expected; the caller adds where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShieldError {
    /// A rate-limit option no server spells so.
    #[error(
        "unknown rate-limit option '{name}' (expected one of {})",
        rrl::OPTION_NAMES.join(", ")
    )]
    UnknownOption { name: String },
    /// A number out of its option's range (or no number).
    #[error("{name}: expected a number from {min} to {max}, found '{found}'")]
    OutOfRange {
        name: String,
        min: u32,
        max: u32,
        found: String,
    },
    /// A yes/no option with another value.
    #[error("{name}: expected yes or no, found '{found}'")]
    NotBoolean { name: String, found: String },
    /// An item of a netmask list that is no netmask.
    #[error("{name}: '{item}' is not a netmask: {source}")]
    NotNetmask {
        name: String,
        item: String,
        source: netmask::NetmaskError,
    },
    /// A cookie secret that is not 32 hexadecimal digits.
    #[error("cookie secret: expected 32 hexadecimal digits (128 bits), found '{found}'")]
    BadCookieSecret { found: String },
    /// A name that does not parse.
    #[error(transparent)]
    BadName(#[from] wire::name::NameError),
}
