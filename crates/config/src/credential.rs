//! The webserver's password and API key, as dnsdist keeps them: in
//! plain text, or hashed as `$scrypt$ln=<log2 N>,p=<p>,r=<r>$<salt>$<key>`
//! (standard base64, a 16-byte salt and a 32-byte key), the form
//! `hashPassword()` prints and `setWebserverConfig` accepts.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::ConfigError;

/// dnsdist's default work factor: N = 1024 (`ln=10`).
pub const DEFAULT_WORK_FACTOR: u64 = 1024;
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;
/// The largest N accepted from a config: each check of a hashed
/// credential costs 128·r·N bytes and as much hashing, on every request.
pub(crate) const MAX_LOG_N: u8 = 20;

/// A password or API key to check requests against.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Plain(String),
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        key: Vec<u8>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in a log, not even hashed.
        f.write_str(match self {
            Credential::Plain(_) => "Credential::Plain(…)",
            Credential::Scrypt { .. } => "Credential::Scrypt(…)",
        })
    }
}

impl Credential {
    /// A credential as a config gives it: hashed if it has the hashed
    /// form (a malformed hash is an error, not a plain password that
    /// happens to start with `$scrypt$`), else plain text, hashed here
    /// when `hash_plain` (dnsdist's `hashPlaintextCredentials`).
    pub fn parse(s: &str, hash_plain: bool) -> Result<Credential, ConfigError> {
        if s.starts_with("$scrypt$") {
            return parse_hashed(s);
        }
        if hash_plain {
            return hash(s, DEFAULT_WORK_FACTOR);
        }
        Ok(Credential::Plain(s.to_string()))
    }

    /// Whether `given` is this credential. Compares in constant time.
    pub fn matches(&self, given: &str) -> bool {
        match self {
            Credential::Plain(p) => same(p.as_bytes(), given.as_bytes()),
            Credential::Scrypt {
                log_n,
                r,
                p,
                salt,
                key,
            } => match derive(given, salt, *log_n, *r, *p) {
                Ok(k) => same(&k, key),
                Err(_) => false,
            },
        }
    }

    /// The hashed form (`$scrypt$…`), or the plain text.
    pub fn text(&self) -> String {
        match self {
            Credential::Plain(p) => p.clone(),
            Credential::Scrypt {
                log_n,
                r,
                p,
                salt,
                key,
            } => format!(
                "$scrypt$ln={log_n},p={p},r={r}${}${}",
                STANDARD.encode(salt),
                STANDARD.encode(key)
            ),
        }
    }
}

/// `hashPassword(password [, workFactor])`: a new random salt.
pub fn hash(password: &str, work_factor: u64) -> Result<Credential, ConfigError> {
    if !work_factor.is_power_of_two() || work_factor < 2 {
        return Err(ConfigError::WorkFactor {
            factor: work_factor,
        });
    }
    let log_n = work_factor.trailing_zeros() as u8;
    if log_n > MAX_LOG_N {
        return Err(ConfigError::WorkFactorTooLarge {
            factor: work_factor,
            max: 1u64 << MAX_LOG_N,
        });
    }
    let mut salt = vec![0u8; SALT_LEN];
    wire::random::fill(&mut salt).map_err(|e| ConfigError::Random {
        source: Arc::new(e),
    })?;
    let (r, p) = (8, 1);
    let key = derive(password, &salt, log_n, r, p)?;
    Ok(Credential::Scrypt {
        log_n,
        r,
        p,
        salt,
        key,
    })
}

fn parse_hashed(s: &str) -> Result<Credential, ConfigError> {
    let bad = |what: &str| ConfigError::BadHash {
        what: what.to_string(),
    };
    let mut parts = s.split('$');
    // "", "scrypt", params, salt, key
    let (Some(""), Some("scrypt"), Some(params), Some(salt), Some(key), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("malformed"));
    };
    let (mut log_n, mut r, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad("parameters malformed"))?;
        let v: u32 = v
            .parse()
            .map_err(|_| bad(&format!("parameter {k} is not a number")))?;
        match k {
            "ln" => log_n = Some(v),
            "r" => r = Some(v),
            "p" => p = Some(v),
            other => return Err(bad(&format!("has unknown parameter {other}"))),
        }
    }
    let (Some(log_n), Some(r), Some(p)) = (log_n, r, p) else {
        return Err(bad("lacks ln, p or r"));
    };
    if log_n == 0 || log_n > u32::from(MAX_LOG_N) || r == 0 || p == 0 || r * p > 64 {
        return Err(ConfigError::HashParams { log_n, r, p });
    }
    let salt = STANDARD
        .decode(salt)
        .map_err(|_| bad("salt is not base64"))?;
    let key = STANDARD.decode(key).map_err(|_| bad("key is not base64"))?;
    if key.is_empty() || key.len() > 64 {
        return Err(bad("key length out of range"));
    }
    Ok(Credential::Scrypt {
        log_n: log_n as u8,
        r,
        p,
        salt,
        key,
    })
}

fn derive(password: &str, salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<Vec<u8>, ConfigError> {
    let params = scrypt::Params::new(log_n, r, p, KEY_LEN).map_err(ConfigError::ScryptParams)?;
    let mut out = vec![0u8; KEY_LEN];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut out)
        .map_err(ConfigError::ScryptOutput)?;
    Ok(out)
}

/// Equality that takes as long whatever the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What dnsdist 1.7.3's `hashPassword('secret')` printed.
    const DNSDIST_SECRET: &str =
        "$scrypt$ln=10,p=1,r=8$0te+VzxOvbcp+2wIhodaQQ==$QJzU1K/xLM9m/y1/blZwVuk4nrn5KkEDCjGLf3t/Ots=";
    /// Its `hashPassword('secret', 16)`.
    const DNSDIST_SECRET_16: &str =
        "$scrypt$ln=4,p=1,r=8$UvvQW19ZLC5rFxjRtAPKLA==$PGMUej0YiuyQ5Xey7NW7xIk8UHarTmIiTcK48qa/SyQ=";

    #[test]
    fn dnsdist_hashes_are_checked() {
        let c = Credential::parse(DNSDIST_SECRET, false).expect("parses");
        assert!(c.matches("secret"));
        assert!(!c.matches("Secret"));
        assert!(!c.matches(""));
        assert_eq!(c.text(), DNSDIST_SECRET);
        let c = Credential::parse(DNSDIST_SECRET_16, false).expect("parses");
        assert!(c.matches("secret") && !c.matches("secret2"));
    }

    #[test]
    fn plain_text_stays_plain_unless_hashing_is_asked_for() {
        let plain = Credential::parse("s3cret", false).expect("parses");
        assert_eq!(plain, Credential::Plain("s3cret".into()));
        assert!(plain.matches("s3cret") && !plain.matches("s3cre"));
        let hashed = Credential::parse("s3cret", true).expect("hashes");
        assert!(matches!(hashed, Credential::Scrypt { log_n: 10, .. }));
        assert!(hashed.matches("s3cret") && !hashed.matches("s3cret "));
    }

    #[test]
    fn new_hashes_read_back_and_have_random_salts() {
        let a = hash("pw", 16).expect("hashes");
        let b = hash("pw", 16).expect("hashes");
        assert_ne!(a.text(), b.text());
        let again = Credential::parse(&a.text(), false).expect("parses");
        assert!(again.matches("pw"));
        assert!(a.text().starts_with("$scrypt$ln=4,p=1,r=8$"));
    }

    #[test]
    fn bad_hashes_and_work_factors_are_refused() {
        for bad in [
            "$scrypt$",
            "$scrypt$ln=10,p=1$AAAA$AAAA",
            "$scrypt$ln=10,p=1,r=8$***$AAAA",
            "$scrypt$ln=40,p=1,r=8$AAAA$AAAA",
            "$scrypt$ln=10,p=1,r=8,x=1$AAAA$AAAA",
            "$scrypt$ln=10,p=1,r=8$AAAA$AAAA$",
        ] {
            assert!(Credential::parse(bad, false).is_err(), "{bad}");
        }
        let e = hash("pw", 1000).unwrap_err();
        assert!(
            matches!(e, ConfigError::WorkFactor { factor: 1000 }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "work factor 1000 must be a power of two of at least 2"
        );
        let e = hash("pw", 1 << 30).unwrap_err();
        assert!(matches!(e, ConfigError::WorkFactorTooLarge { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "work factor 1073741824 too large: at most 1048576"
        );
        let e = Credential::parse("$scrypt$ln=40,p=1,r=8$AAAA$AAAA", false).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::HashParams {
                    log_n: 40,
                    r: 8,
                    p: 1
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "hashed credential: ln=40, r=8, p=1 out of range (ln 1 to 20, r·p up to 64)"
        );
        let e = Credential::parse("$scrypt$", false).unwrap_err();
        assert!(matches!(e, ConfigError::BadHash { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "hashed credential malformed: expected $scrypt$ln=N,p=N,r=N$<salt>$<key>"
        );
    }
}
