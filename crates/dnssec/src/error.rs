//! Why keys could not be read, made or used, why a policy cannot be used,
//! and why a zone could not be signed: [`DnssecError`], [`PolicyError`].

use std::path::PathBuf;

use crate::policy::algorithm;

/// Why a key could not be read, made or used, or a zone not signed. The
/// errors about a key file name it first (`K….private: …`).
#[derive(Debug, thiserror::Error)]
pub enum DnssecError {
    /// A file or directory could not be read or written; `doing` is what
    /// was tried, as the text says it (`"cannot write: "`; empty where
    /// the I/O error says enough).
    #[error("{}: {doing}{source}", path.display())]
    Io {
        path: PathBuf,
        doing: &'static str,
        source: std::io::Error,
    },
    /// ring could not sign with the key.
    #[error("{}: signing failed", file.display())]
    SignFailed { file: PathBuf },
    /// ring could not make a key (`dir`: where it was to go).
    #[error("{}: key generation failed", dir.display())]
    GenerateFailed { dir: PathBuf },
    /// A key ring made did not have the layout read from it.
    #[error("{}: unexpected PKCS#8 layout from ring", dir.display())]
    UnexpectedPkcs8 { dir: PathBuf },
    /// A key ring made could not be read back.
    #[error("{}: bad key", dir.display())]
    BadGeneratedKey { dir: PathBuf },
    /// Keys of this algorithm are not made here (RSA: import them).
    #[error(
        "{}: cannot make {} keys here; make them with dnssec-keygen and put them in the key \
         directory",
        dir.display(),
        algorithm::name(*algorithm)
    )]
    CannotGenerate { dir: PathBuf, algorithm: u8 },
    /// A `.key` file's DNSKEY line does not read.
    #[error("{}: line {line}: bad DNSKEY", file.display())]
    BadDnskey { file: PathBuf, line: usize },
    /// A `.key` file's DNSKEY is for another zone.
    #[error("{}: line {line}: the key is not for zone {zone}", file.display())]
    WrongZone {
        file: PathBuf,
        line: usize,
        zone: String,
    },
    /// A `.key` file without a DNSKEY.
    #[error("{}: no DNSKEY record in the file", file.display())]
    NoDnskey { file: PathBuf },
    /// A timing field of a `.private` file that is no time.
    #[error("{}: bad {field} time '{value}' (want YYYYMMDDHHMMSS)", file.display())]
    BadTime {
        file: PathBuf,
        field: String,
        value: String,
    },
    /// The `.private` file's algorithm is not the DNSKEY's.
    #[error("{}: its Algorithm does not match the .key file's DNSKEY", file.display())]
    AlgorithmMismatch { file: PathBuf },
    /// A `.private` file without a field its algorithm needs.
    #[error("{}: no {field} field", file.display())]
    MissingField { file: PathBuf, field: String },
    /// A `.private` field that is not base64.
    #[error("{}: {field} is not base64", file.display())]
    NotBase64 { file: PathBuf, field: String },
    /// The private key is not the DNSKEY's.
    #[error(
        "{}: the private key does not match the .key file's public key",
        file.display()
    )]
    KeyMismatch { file: PathBuf },
    /// ring refused an RSA key (`reason`: ring's word for it).
    #[error("{}: RSA key refused: {reason}", file.display())]
    RsaRefused { file: PathBuf, reason: String },
    /// A key of an algorithm rampart does not sign with.
    #[error(
        "{}: algorithm {algorithm} is not one rampart signs with (8, 10, 13, 15)",
        file.display()
    )]
    UnsupportedAlgorithm { file: PathBuf, algorithm: u8 },
    /// The zone was signed and a key its policy needs is gone: no new
    /// key is made behind the operator's back.
    #[error(
        "the zone was signed, but no {role} key of algorithm {algorithm} is in {}: not making \
         new keys (validators holding the old DS would fail); serving the last signed version. \
         Put the keys back, or remove the zone's journal to re-key",
        dir.display()
    )]
    KeysLost {
        /// `key-signing` or `zone-signing`.
        role: &'static str,
        algorithm: u8,
        dir: PathBuf,
    },
    /// The policy cannot be used.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The zone to sign has no SOA (`zone`: its name).
    #[error("zone {zone}: no SOA to sign")]
    NoSoa { zone: String },
    /// No key is active now.
    #[error("zone {zone}: no active key to sign with")]
    NoActiveKey { zone: String },
    /// Two names of the zone hash alike with the policy's NSEC3 salt.
    #[error("zone {zone}: two names have the same NSEC3 hash; choose another salt")]
    Nsec3Collision { zone: String },
}

/// A `dnssec-policy`'s contradictions ([`Policy::check`](crate::Policy::check));
/// `policy` is its name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("dnssec-policy \"{policy}\" has no keys")]
    NoKeys { policy: String },
    /// No key signs the keys, or none signs the zone.
    #[error(
        "dnssec-policy \"{policy}\" needs a key that signs keys (ksk or csk) and one that signs \
         the zone (zsk or csk)"
    )]
    MissingRole { policy: String },
    #[error(
        "dnssec-policy \"{policy}\": signatures-refresh must be shorter than signatures-validity"
    )]
    RefreshTooLong { policy: String },
    #[error(
        "dnssec-policy \"{policy}\": nsec3param iterations {iterations} is more than resolvers \
         accept (RFC 9276 asks for 0)"
    )]
    TooManyIterations { policy: String, iterations: u16 },
    #[error("dnssec-policy \"{policy}\": salt too long")]
    SaltTooLong { policy: String },
}
