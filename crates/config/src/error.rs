//! Why a config could not be loaded or used, or a value in it not read:
//! [`ConfigError`].
//!
//! An error of the config's Lua code, or of a function it called, is
//! text by the time it comes back from Lua (the functions raise Lua
//! errors carrying the calling line, see `fail`): it is
//! [`ConfigError::Lua`]. The kinds below are what the crate's own
//! functions say before that: a named.conf statement, an address, a
//! credential, a duration.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a config, a value in it, or a named.conf statement it reads was
/// refused. The texts are the ones operators see.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfigError {
    // Loading.
    /// The config file cannot be read.
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// The Lua functions could not be set up (`message`: mlua's text).
    #[error("{}: {message}", path.display())]
    Setup { path: PathBuf, message: String },
    /// Lua code failed: the config as it ran, its `maintenance()`, a web
    /// handler, the console's zone functions. `message` is the useful
    /// line, with the config's `file:line` where Lua knows it.
    #[error("{message}")]
    Lua { message: String },

    // Where: a wrapper, outermost first.
    /// `err`, in the statement at `place` (a named.conf's `file:line`) or
    /// in its option or list `place` (`allow-transfer`, `rate-limit`).
    /// [`innermost`](ConfigError::innermost) is what went wrong.
    #[error("{place}: {err}")]
    At {
        place: String,
        err: Box<ConfigError>,
    },

    // Values.
    /// An address that is no IP, IP:port, [IPv6]:port or IPv6.
    #[error("bad address '{text}': expected IP, IP:port, [IPv6]:port or IPv6")]
    BadAddress { text: String },
    /// A duration that is no number of seconds, `1h`-style TTL or ISO
    /// 8601 period.
    #[error("bad duration '{text}': expected seconds, 1h/2d/1w style or ISO 8601 (P14D, PT1H)")]
    BadDuration { text: String },
    /// A domain name that does not parse.
    #[error(transparent)]
    BadName(#[from] wire::name::NameError),
    /// A name made absolute in a zone is longer than a name can be.
    #[error("name '{name}' is too long in this zone")]
    NameTooLong { name: String },
    /// A netmask that does not parse.
    #[error(transparent)]
    Netmask(#[from] shield::NetmaskError),
    /// An RRL option or a cookie secret the shield refused.
    #[error(transparent)]
    Shield(#[from] shield::ShieldError),
    /// A `dnssec-policy` that contradicts itself.
    #[error(transparent)]
    Policy(#[from] dnssec::PolicyError),
    /// A TLS client (zone transfers over TLS) that could not be built.
    #[error("{0}")]
    TlsClient(Arc<pool::tls_client::TlsClientError>),

    // Credentials (the webserver's password and API key).
    /// A work factor that is no power of two of at least 2.
    #[error("work factor {factor} must be a power of two of at least 2")]
    WorkFactor { factor: u64 },
    /// A work factor above the largest accepted.
    #[error("work factor {factor} too large: at most {max}")]
    WorkFactorTooLarge { factor: u64, max: u64 },
    /// No random bytes for a salt.
    #[error("cannot read random bytes: {source}")]
    Random { source: Arc<std::io::Error> },
    /// A `$scrypt$…` credential that is not in that form (`what`: how).
    #[error("hashed credential {what}: expected $scrypt$ln=N,p=N,r=N$<salt>$<key>")]
    BadHash { what: String },
    /// A `$scrypt$…` credential whose parameters are out of range.
    #[error(
        "hashed credential: ln={log_n}, r={r}, p={p} out of range (ln 1 to {}, r·p up to 64)",
        crate::credential::MAX_LOG_N
    )]
    HashParams { log_n: u32, r: u32, p: u32 },
    /// scrypt refused its parameters.
    #[error("scrypt parameters: {0}")]
    ScryptParams(scrypt::errors::InvalidParams),
    /// scrypt refused its output length.
    #[error("scrypt: {0}")]
    ScryptOutput(scrypt::errors::InvalidOutputLen),

    // named.conf statements rampart interprets.
    /// An option (or a field of it) without its value.
    #[error("{what} needs a value")]
    NeedsValue { what: String },
    /// An option that takes one value, given none or more.
    #[error("expected one value")]
    OneValue,
    /// A yes/no option with another value.
    #[error("expected yes or no, found '{found}'")]
    YesNo { found: String },
    /// A field whose value does not read (`bad iterations '1x'`).
    #[error("bad {field} '{value}'")]
    BadValue { field: &'static str, value: String },
    /// An option, field, rule or record type rampart does not know
    /// (`what`: which of these).
    #[error("unknown {what} '{name}'")]
    Unknown { what: &'static str, name: String },
    /// `dnssec-policy` without a name.
    #[error("dnssec-policy needs a name")]
    PolicyNeedsName,
    /// A `dnskey-ttl` above 2³²−1 seconds.
    #[error("dnskey-ttl too large")]
    DnskeyTtlTooLarge,
    /// A key of a `dnssec-policy` that is no csk, ksk or zsk.
    #[error("expected csk, ksk or zsk, found '{found}'")]
    KeyRole { found: String },
    /// A DNSSEC algorithm rampart does not sign with.
    #[error(
        "algorithm '{text}' is not one rampart signs with: ecdsap256sha256 (13), ed25519 (15), \
         or rsasha256/rsasha512 (8/10) with imported keys (RSA-SHA1 is refused, RFC 9905)"
    )]
    Algorithm { text: String },
    /// An NSEC3 salt longer than 255 bytes.
    #[error("salt-length {len} is more than 255")]
    SaltLength { len: usize },
    /// No random bytes for an NSEC3 salt.
    #[error("no random bytes for the NSEC3 salt: {source}")]
    SaltRandom { source: Arc<std::io::Error> },
    /// A zone names a `dnssec-policy` no statement defines.
    #[error("dnssec-policy \"{name}\" is not defined")]
    UndefinedPolicy { name: String },
    /// A zone whose name does not parse.
    #[error("bad zone name '{name}': {source}")]
    BadZoneName {
        name: String,
        source: wire::name::NameError,
    },
    /// A `key` statement xfr refused (`message`: its text).
    #[error("{message}")]
    Tsig { message: String },
    /// A key name that does not parse.
    #[error("bad key name '{name}': {source}")]
    BadKeyName {
        name: String,
        source: wire::name::NameError,
    },
    /// A zone names a key no `key` statement defines.
    #[error("key '{name}' is not defined by a key statement")]
    UndefinedKey { name: String },
    /// A negated item of an address-match list (`!10.0.0.0/8`).
    #[error("negated item '{item}' is not supported")]
    NegatedItem { item: String },
    /// A primary names a `tls` no statement defines.
    #[error("tls '{name}' is not defined by a tls statement")]
    UndefinedTls { name: String },
    /// A `rate-limit` read without the runtime its table lives in.
    #[error("no runtime to limit in")]
    NoRuntime,
    /// A `cookie-algorithm` other than siphash24.
    #[error("cookie-algorithm '{found}' is not supported: expected siphash24")]
    CookieAlgorithm { found: String },
}

impl ConfigError {
    /// `self` in the statement or option `place`.
    pub fn at(self, place: impl Into<String>) -> ConfigError {
        ConfigError::At {
            place: place.into(),
            err: Box::new(self),
        }
    }

    /// What went wrong, without the places around it.
    pub fn innermost(&self) -> &ConfigError {
        match self {
            ConfigError::At { err, .. } => err.innermost(),
            other => other,
        }
    }
}

impl From<pool::tls_client::TlsClientError> for ConfigError {
    fn from(e: pool::tls_client::TlsClientError) -> Self {
        ConfigError::TlsClient(Arc::new(e))
    }
}
