//! What a zone's signing policy says, in BIND's `dnssec-policy` terms
//! (the defaults are BIND 9.18's `default` policy: one ECDSA P-256 CSK
//! that never rolls, NSEC, signatures valid two weeks and refreshed five
//! days before they expire).

use std::path::PathBuf;

use crate::error::PolicyError;

/// DNSSEC algorithm numbers rampart signs with (RFC 8624 / IANA).
pub mod algorithm {
    pub const RSASHA256: u8 = 8;
    pub const RSASHA512: u8 = 10;
    pub const ECDSAP256SHA256: u8 = 13;
    pub const ED25519: u8 = 15;

    /// The number for a BIND policy's algorithm name (or a number), if
    /// rampart signs with it. RSA-SHA1 (5, 7) is refused: RFC 9905
    /// forbids new SHA-1 signatures.
    pub fn parse(text: &str) -> Option<u8> {
        let t = text.to_ascii_lowercase();
        match t.as_str() {
            "rsasha256" | "8" => Some(RSASHA256),
            "rsasha512" | "10" => Some(RSASHA512),
            "ecdsap256sha256" | "ecdsa256" | "13" => Some(ECDSAP256SHA256),
            "ed25519" | "15" => Some(ED25519),
            _ => None,
        }
    }

    /// BIND's mnemonic.
    pub fn name(alg: u8) -> &'static str {
        match alg {
            RSASHA256 => "RSASHA256",
            RSASHA512 => "RSASHA512",
            ECDSAP256SHA256 => "ECDSAP256SHA256",
            ED25519 => "ED25519",
            _ => "UNKNOWN",
        }
    }
}

/// What a key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Key-signing key: signs the DNSKEY set (flags 257).
    Ksk,
    /// Zone-signing key: signs the rest (flags 256).
    Zsk,
    /// Combined: both (flags 257).
    Csk,
}

impl Role {
    pub fn signs_keys(self) -> bool {
        matches!(self, Role::Ksk | Role::Csk)
    }

    pub fn signs_zone(self) -> bool {
        matches!(self, Role::Zsk | Role::Csk)
    }

    /// The DNSKEY flags field: ZONE, plus SEP for keys that sign keys.
    pub fn flags(self) -> u16 {
        if self.signs_keys() {
            257
        } else {
            256
        }
    }
}

/// One `keys { … }` line of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub role: Role,
    pub algorithm: u8,
    /// Seconds; 0 = unlimited (rollovers are not automated yet: the
    /// lifetime is kept for `dnssecStatus`).
    pub lifetime: u64,
}

/// How non-existence is proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    /// RFC 5155 hashed denial; RFC 9276 asks for 0 iterations and no salt.
    Nsec3 {
        iterations: u16,
        salt: Vec<u8>,
        opt_out: bool,
    },
}

/// A named signing policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub keys: Vec<KeySpec>,
    pub denial: Denial,
    /// How long a signature is valid from its inception, seconds.
    pub signatures_validity: u64,
    /// The same for the DNSKEY set's signatures.
    pub signatures_validity_dnskey: u64,
    /// A signature is replaced when less than this is left, seconds.
    pub signatures_refresh: u64,
    /// Expirations are spread over this much, so refreshes come in
    /// batches rather than all at once.
    pub signatures_jitter: u64,
    pub dnskey_ttl: u32,
    /// Inception is backdated this much, for clocks that run behind.
    pub inception_offset: u64,
    /// Publish CDS and CDNSKEY for the keys that sign keys (RFC 7344).
    pub cds: bool,
    /// Rollover timing, seconds, with BIND's names: margins before a new
    /// key is used and after an old one goes, the time a change takes to
    /// reach every secondary, and the parent's DS TTL and propagation.
    pub publish_safety: u64,
    pub retire_safety: u64,
    pub zone_propagation_delay: u64,
    pub parent_ds_ttl: u64,
    pub parent_propagation_delay: u64,
    /// How often the parental agents are asked for the DS while a
    /// key-signing key rollover waits for it.
    pub parent_check_interval: u64,
}

const DAY: u64 = 86_400;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: "default".into(),
            keys: vec![KeySpec {
                role: Role::Csk,
                algorithm: algorithm::ECDSAP256SHA256,
                lifetime: 0,
            }],
            denial: Denial::Nsec,
            signatures_validity: 14 * DAY,
            signatures_validity_dnskey: 14 * DAY,
            signatures_refresh: 5 * DAY,
            signatures_jitter: DAY / 2,
            dnskey_ttl: 3600,
            inception_offset: 3600,
            cds: true,
            publish_safety: 3600,
            retire_safety: 3600,
            zone_propagation_delay: 300,
            parent_ds_ttl: DAY,
            parent_propagation_delay: 3600,
            parent_check_interval: 3600,
        }
    }
}

impl Policy {
    /// A policy's contradictions; `Ok` if it can be used.
    pub fn check(&self) -> Result<(), PolicyError> {
        let policy = || self.name.clone();
        if self.keys.is_empty() {
            return Err(PolicyError::NoKeys { policy: policy() });
        }
        let signs_keys = self.keys.iter().any(|k| k.role.signs_keys());
        let signs_zone = self.keys.iter().any(|k| k.role.signs_zone());
        if !signs_keys || !signs_zone {
            return Err(PolicyError::MissingRole { policy: policy() });
        }
        if self.signatures_refresh >= self.signatures_validity
            || self.signatures_refresh >= self.signatures_validity_dnskey
        {
            return Err(PolicyError::RefreshTooLong { policy: policy() });
        }
        if let Denial::Nsec3 {
            iterations, salt, ..
        } = &self.denial
        {
            // BIND's dnssec-policy refuses more than 0 since 9.18.x; RFC 9276
            // says 0. Resolvers treat more than 150 as insecure.
            if *iterations > 150 {
                return Err(PolicyError::TooManyIterations {
                    policy: policy(),
                    iterations: *iterations,
                });
            }
            if salt.len() > 255 {
                return Err(PolicyError::SaltTooLong { policy: policy() });
            }
        }
        Ok(())
    }
}

/// How one zone is signed: its policy, where its keys live, and whom to
/// ask for its DS during a key-signing key rollover (BIND's
/// `parental-agents`; none: the operator says when, from the console).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneSigning {
    pub policy: Policy,
    pub key_directory: PathBuf,
    pub parental_agents: Vec<std::net::SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_says_what_contradicts() {
        assert!(Policy::default().check().is_ok());
        let none = Policy {
            keys: Vec::new(),
            ..Policy::default()
        };
        let e = none.check().unwrap_err();
        assert_eq!(
            e,
            PolicyError::NoKeys {
                policy: "default".into()
            }
        );
        assert_eq!(e.to_string(), "dnssec-policy \"default\" has no keys");
        let zsk_only = Policy {
            keys: vec![KeySpec {
                role: Role::Zsk,
                ..Policy::default().keys[0].clone()
            }],
            ..Policy::default()
        };
        let e = zsk_only.check().unwrap_err();
        assert!(matches!(e, PolicyError::MissingRole { .. }), "{e:?}");
        let late = Policy {
            signatures_refresh: 30 * DAY,
            ..Policy::default()
        };
        let e = late.check().unwrap_err();
        assert!(matches!(e, PolicyError::RefreshTooLong { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "dnssec-policy \"default\": signatures-refresh must be shorter than \
             signatures-validity"
        );
    }
}
