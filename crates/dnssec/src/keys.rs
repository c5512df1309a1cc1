//! Signing keys, kept in BIND's files (`K<zone>.+<alg>+<tag>.key` with
//! the DNSKEY, `.private` with the private key, mode 0600), so keys made
//! by `dnssec-keygen` or by BIND move over as they are, and keys made
//! here move to BIND.
//!
//! The cryptography is ring's; this module only moves key material
//! between BIND's text format and ring's constructors.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

use crate::error::DnssecError;
use crate::policy::algorithm as alg;

/// When a key is published and used (BIND's timing metadata); `None`:
/// not set. A key with no timing at all is published and active.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    pub created: Option<u64>,
    pub publish: Option<u64>,
    pub activate: Option<u64>,
    pub inactive: Option<u64>,
    pub delete: Option<u64>,
}

impl Timing {
    /// In the DNSKEY set at `now`.
    pub fn published(&self, now: u64) -> bool {
        let from = self.publish.or(self.activate).unwrap_or(0);
        from <= now && self.delete.is_none_or(|d| now < d)
    }

    /// Signing at `now`.
    pub fn active(&self, now: u64) -> bool {
        self.activate.unwrap_or(0) <= now
            && self.inactive.is_none_or(|d| now < d)
            && self.published(now)
    }
}

enum Material {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
}

/// One key of a zone.
pub struct Key {
    pub algorithm: u8,
    /// DNSKEY flags: 257 signs keys (KSK or CSK), 256 signs the zone.
    pub flags: u16,
    pub tag: u16,
    /// The DNSKEY RDATA.
    pub dnskey: Box<[u8]>,
    pub timing: Timing,
    /// The `.key` file (the `.private` one beside it).
    pub file: PathBuf,
    material: Material,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("flags", &self.flags)
            .field("tag", &self.tag)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// An I/O error on `path` while `doing` (see [`DnssecError::Io`]).
fn io(path: &Path, doing: &'static str) -> impl FnOnce(std::io::Error) -> DnssecError {
    let path = path.to_path_buf();
    move |source| DnssecError::Io {
        path,
        doing,
        source,
    }
}

/// The key tag of a DNSKEY RDATA (RFC 4034 Appendix B).
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        acc += if i & 1 == 1 {
            u32::from(*b)
        } else {
            u32::from(*b) << 8
        };
    }
    acc += acc >> 16;
    (acc & 0xffff) as u16
}

/// A DS RDATA with SHA-256 (digest type 2) for `dnskey` at `owner`
/// (lowercase wire), RFC 4509.
pub fn ds_sha256(owner: &[u8], dnskey: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(owner)
        .chain_update(dnskey)
        .finalize();
    let mut out = Vec::with_capacity(4 + 32);
    out.extend_from_slice(&key_tag(dnskey).to_be_bytes());
    out.push(dnskey.get(3).copied().unwrap_or(0));
    out.push(2);
    out.extend_from_slice(&digest);
    out
}

impl Key {
    /// Signs `data` (an RRSIG's signed bytes), giving the signature as
    /// DNSSEC writes it (r‖s for ECDSA, RFC 6605).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DnssecError> {
        let rng = SystemRandom::new();
        let failed = |_| DnssecError::SignFailed {
            file: self.file.clone(),
        };
        match &self.material {
            Material::Ecdsa(k) => k
                .sign(&rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(failed),
            Material::Ed25519(k) => Ok(k.sign(data).as_ref().to_vec()),
            Material::Rsa(k, enc) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(*enc, &rng, data, &mut sig).map_err(failed)?;
                Ok(sig)
            }
        }
    }

    /// The key's `.key` file name stem: `K<zone>.+<alg>+<tag>`.
    pub fn stem(zone_text: &str, algorithm: u8, tag: u16) -> String {
        let zone = zone_text.trim_end_matches('.').to_ascii_lowercase();
        format!("K{zone}.+{algorithm:03}+{tag:05}")
    }

    /// Makes a new key of `algorithm` with `flags` for the zone `apex`
    /// and writes its files into `dir` (created 0700 if missing;
    /// `.private` 0600). RSA keys are not made here (ring cannot); import
    /// them from `dnssec-keygen`. The key is published and active from
    /// `now` unless `timing` says otherwise.
    pub fn generate(
        apex: &[u8],
        algorithm: u8,
        flags: u16,
        dir: &Path,
        now: u64,
        timing: Option<Timing>,
    ) -> Result<Key, DnssecError> {
        let rng = SystemRandom::new();
        let zone_text = wire::name::to_text(apex);
        let dir_buf = || dir.to_path_buf();
        let failed = |_| DnssecError::GenerateFailed { dir: dir_buf() };
        let layout = || DnssecError::UnexpectedPkcs8 { dir: dir_buf() };
        let (public, private): (Vec<u8>, Vec<u8>) = match algorithm {
            alg::ECDSAP256SHA256 => {
                let a = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let doc = EcdsaKeyPair::generate_pkcs8(a, &rng).map_err(failed)?;
                // ring's P-256 PKCS#8 document has a fixed layout: the
                // scalar at 36..68, the uncompressed point at 73..138.
                let d = doc.as_ref();
                match (d.get(36..68), d.get(74..138)) {
                    (Some(s), Some(p)) => (p.to_vec(), s.to_vec()),
                    _ => return Err(layout()),
                }
            }
            alg::ED25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?;
                let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref())
                    .map_err(|_| DnssecError::BadGeneratedKey { dir: dir_buf() })?;
                match doc.as_ref().get(16..48) {
                    Some(seed) => (kp.public_key().as_ref().to_vec(), seed.to_vec()),
                    None => return Err(layout()),
                }
            }
            other => {
                return Err(DnssecError::CannotGenerate {
                    dir: dir_buf(),
                    algorithm: other,
                })
            }
        };
        let mut dnskey = Vec::with_capacity(4 + public.len());
        dnskey.extend_from_slice(&flags.to_be_bytes());
        dnskey.push(3);
        dnskey.push(algorithm);
        dnskey.extend_from_slice(&public);
        let tag = key_tag(&dnskey);
        let stem = Key::stem(&zone_text, algorithm, tag);
        let key_path = dir.join(format!("{stem}.key"));
        let private_path = dir.join(format!("{stem}.private"));
        create_dir_private(dir)?;
        let timing = timing.unwrap_or(Timing {
            publish: Some(now),
            activate: Some(now),
            ..Timing::default()
        });
        let timing = Timing {
            created: Some(now),
            ..timing
        };
        let key_text = key_file_text(&zone_text, flags, algorithm, tag, &public, &timing);
        let private_text = private_file_text(algorithm, &private, &timing);
        write_new(&private_path, private_text.as_bytes(), 0o600)?;
        write_new(&key_path, key_text.as_bytes(), 0o644)?;
        read_pair(&key_path, &dnskey, &private_text, timing)
    }

    /// Sets the key's timing and writes it into its files, as
    /// `dnssec-settime` does (so BIND reads the same schedule).
    pub fn set_timing(&mut self, timing: Timing) -> Result<(), DnssecError> {
        let private_path = self.file.with_extension("private");
        let text = fs::read_to_string(&private_path).map_err(io(&private_path, ""))?;
        let kept: String = text
            .lines()
            .filter(|l| {
                let field = l.split(':').next().unwrap_or("").trim();
                !TIMING_FIELDS.iter().any(|f| field.eq_ignore_ascii_case(f))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let private_text = format!("{kept}{}", timing_lines(&timing, ""));
        replace_file(&private_path, private_text.as_bytes(), 0o600)?;
        let key_text = fs::read_to_string(&self.file).map_err(io(&self.file, ""))?;
        let record: String = key_text
            .lines()
            .filter(|l| !l.starts_with(';'))
            .map(|l| format!("{l}\n"))
            .collect();
        let role = if self.flags & 1 == 1 {
            "key-signing"
        } else {
            "zone-signing"
        };
        let head = format!("; This is a {role} key, keyid {}.\n", self.tag);
        let key_text = format!("{head}{}{record}", timing_lines(&timing, "; "));
        replace_file(&self.file, key_text.as_bytes(), 0o644)?;
        self.timing = timing;
        Ok(())
    }
}

/// The timing fields of BIND's key files, in its order.
const TIMING_FIELDS: [&str; 5] = ["Created", "Publish", "Activate", "Inactive", "Delete"];

/// `Field: YYYYMMDDHHMMSS` lines for the times set, each after `prefix`.
fn timing_lines(t: &Timing, prefix: &str) -> String {
    let values = [t.created, t.publish, t.activate, t.inactive, t.delete];
    TIMING_FIELDS
        .iter()
        .zip(values)
        .filter_map(|(f, v)| Some(format!("{prefix}{f}: {}\n", wire::time::format(v?))))
        .collect()
}

fn key_file_text(
    zone_text: &str,
    flags: u16,
    algorithm: u8,
    tag: u16,
    public: &[u8],
    t: &Timing,
) -> String {
    let role = if flags & 1 == 1 {
        "key-signing"
    } else {
        "zone-signing"
    };
    format!(
        "; This is a {role} key, keyid {tag}, for {zone_text}\n{}\
         {zone_text} IN DNSKEY {flags} 3 {algorithm} {}\n",
        timing_lines(t, "; "),
        B64.encode(public)
    )
}

fn private_file_text(algorithm: u8, private: &[u8], t: &Timing) -> String {
    format!(
        "Private-key-format: v1.3\nAlgorithm: {algorithm} ({})\nPrivateKey: {}\n{}",
        alg::name(algorithm),
        B64.encode(private),
        timing_lines(t, "")
    )
}

/// Replaces a file atomically (a temporary beside it, synced, renamed).
fn replace_file(path: &Path, data: &[u8], mode: u32) -> Result<(), DnssecError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, data, mode)?;
    fs::rename(&tmp, path).map_err(io(path, "cannot replace: "))
}

fn create_dir_private(dir: &Path) -> Result<(), DnssecError> {
    if dir.is_dir() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir, "cannot create the key directory: "))
}

/// Writes a file that must not exist yet, with `mode`, durably.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), DnssecError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path, "cannot create: "))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io(path, "cannot write: "))
}

/// Every key of the zone `apex` in `dir`: each `K<zone>.+*.key` with its
/// `.private`. A key file that cannot be read is an error naming it (a
/// zone must not be signed with part of its keys).
pub fn load_dir(apex: &[u8], dir: &Path) -> Result<Vec<Key>, DnssecError> {
    let zone_text = wire::name::to_text(apex);
    let prefix = format!(
        "k{}.+",
        zone_text.trim_end_matches('.').to_ascii_lowercase()
    );
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir, "cannot read the key directory: ")(e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "key")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.to_ascii_lowercase().starts_with(&prefix))
        })
        .collect();
    paths.sort();
    let mut keys = Vec::new();
    for key_path in paths {
        let key_text = fs::read_to_string(&key_path).map_err(io(&key_path, ""))?;
        let dnskey = parse_key_file(&key_path, &key_text, apex)?;
        let private_path = key_path.with_extension("private");
        let private_text =
            fs::read_to_string(&private_path).map_err(io(&private_path, "cannot read: "))?;
        let timing = parse_timing(&private_path, &private_text)?;
        keys.push(read_pair(&key_path, &dnskey, &private_text, timing)?);
    }
    Ok(keys)
}

/// The DNSKEY RDATA of a `.key` file.
fn parse_key_file(path: &Path, text: &str, apex: &[u8]) -> Result<Vec<u8>, DnssecError> {
    for (n, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("");
        let tokens: Vec<&str> = line
            .split_whitespace()
            .filter(|t| *t != "(" && *t != ")")
            .collect();
        let Some(at) = tokens.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
            continue;
        };
        let here = || DnssecError::BadDnskey {
            file: path.to_path_buf(),
            line: n + 1,
        };
        let owner = tokens.first().and_then(|o| zone::parse_name(o).ok());
        if owner.as_deref() != Some(apex) {
            return Err(DnssecError::WrongZone {
                file: path.to_path_buf(),
                line: n + 1,
                zone: wire::name::to_text(apex),
            });
        }
        let field = |i: usize| tokens.get(at + i).and_then(|t| t.parse::<u16>().ok());
        let (flags, proto, algorithm) = (
            field(1).ok_or_else(here)?,
            field(2).ok_or_else(here)?,
            field(3).ok_or_else(here)?,
        );
        let b64: String = tokens.get(at + 4..).unwrap_or(&[]).concat();
        let public = B64.decode(b64.as_bytes()).map_err(|_| here())?;
        if proto != 3 || algorithm > 255 || public.is_empty() {
            return Err(here());
        }
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.push(3);
        rdata.push(algorithm as u8);
        rdata.extend_from_slice(&public);
        return Ok(rdata);
    }
    Err(DnssecError::NoDnskey {
        file: path.to_path_buf(),
    })
}

/// The value of `Field:` in a `.private` file.
fn private_field<'t>(text: &'t str, field: &str) -> Option<&'t str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(field).then(|| v.trim())
    })
}

fn parse_timing(path: &Path, text: &str) -> Result<Timing, DnssecError> {
    let get = |field: &str| -> Result<Option<u64>, DnssecError> {
        match private_field(text, field) {
            None => Ok(None),
            Some(v) => wire::time::parse(v)
                .map(Some)
                .ok_or_else(|| DnssecError::BadTime {
                    file: path.to_path_buf(),
                    field: field.to_string(),
                    value: v.to_string(),
                }),
        }
    };
    Ok(Timing {
        created: get("Created")?,
        publish: get("Publish")?,
        activate: get("Activate")?,
        inactive: get("Inactive")?,
        delete: get("Delete")?,
    })
}

/// Builds a key from its DNSKEY and `.private` text.
fn read_pair(
    key_path: &Path,
    dnskey: &[u8],
    private: &str,
    timing: Timing,
) -> Result<Key, DnssecError> {
    let private_path = key_path.with_extension("private");
    let file = || private_path.clone();
    let algorithm = dnskey[3];
    let flags = u16::from_be_bytes([dnskey[0], dnskey[1]]);
    let declared = private_field(private, "Algorithm")
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u8>().ok());
    if declared != Some(algorithm) {
        return Err(DnssecError::AlgorithmMismatch { file: file() });
    }
    let field = |name: &str| -> Result<Vec<u8>, DnssecError> {
        let v = private_field(private, name).ok_or_else(|| DnssecError::MissingField {
            file: file(),
            field: name.to_string(),
        })?;
        B64.decode(v.as_bytes())
            .map_err(|_| DnssecError::NotBase64 {
                file: file(),
                field: name.to_string(),
            })
    };
    let public = &dnskey[4..];
    let mismatch = |_| DnssecError::KeyMismatch { file: file() };
    let material = match algorithm {
        alg::ECDSAP256SHA256 => {
            let scalar = field("PrivateKey")?;
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(public);
            let a = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let rng = SystemRandom::new();
            Material::Ecdsa(
                EcdsaKeyPair::from_private_key_and_public_key(a, &scalar, &point, &rng)
                    .map_err(mismatch)?,
            )
        }
        alg::ED25519 => {
            let seed = field("PrivateKey")?;
            Material::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&seed, public).map_err(mismatch)?,
            )
        }
        alg::RSASHA256 | alg::RSASHA512 => {
            let parts = [
                "Modulus",
                "PublicExponent",
                "PrivateExponent",
                "Prime1",
                "Prime2",
                "Exponent1",
                "Exponent2",
                "Coefficient",
            ];
            let mut ints = Vec::new();
            for p in parts {
                ints.push(field(p)?);
            }
            let der = pkcs1_der(&ints);
            let kp = RsaKeyPair::from_der(&der).map_err(|e| DnssecError::RsaRefused {
                file: file(),
                reason: e.to_string(),
            })?;
            let enc: &'static dyn signature::RsaEncoding = if algorithm == alg::RSASHA256 {
                &signature::RSA_PKCS1_SHA256
            } else {
                &signature::RSA_PKCS1_SHA512
            };
            Material::Rsa(kp, enc)
        }
        other => {
            return Err(DnssecError::UnsupportedAlgorithm {
                file: key_path.to_path_buf(),
                algorithm: other,
            })
        }
    };
    Ok(Key {
        algorithm,
        flags,
        tag: key_tag(dnskey),
        dnskey: dnskey.into(),
        timing,
        file: key_path.to_path_buf(),
        material,
    })
}

/// PKCS#1 RSAPrivateKey DER: SEQUENCE { 0, n, e, d, p, q, dp, dq, qinv }
/// from big-endian integers (BIND keeps them apart; ring wants DER).
fn pkcs1_der(ints: &[Vec<u8>]) -> Vec<u8> {
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    fn push_int(out: &mut Vec<u8>, v: &[u8]) {
        let v = &v[v
            .iter()
            .take_while(|b| **b == 0)
            .count()
            .min(v.len().saturating_sub(1))..];
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        push_len(out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::new();
    push_int(&mut body, &[0]);
    for i in ints {
        push_int(&mut body, i);
    }
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tag_matches_rfc_4034_example() {
        // The DNSKEY of RFC 4034 §5.4's example, tag 60485 (RSA/SHA-1).
        let public = B64
            .decode(
                "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let mut rdata = vec![1, 0, 3, 5];
        rdata.extend_from_slice(&public);
        assert_eq!(key_tag(&rdata), 60485);
    }

    #[test]
    fn generated_keys_load_back_and_sign() {
        let dir = std::env::temp_dir().join(format!("rampart-keys-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let apex = zone::parse_name("Example.TEST.").unwrap();
        for (a, flags) in [(alg::ECDSAP256SHA256, 257), (alg::ED25519, 256)] {
            let k = Key::generate(&apex, a, flags, &dir, 1_796_553_900, None).unwrap();
            assert_eq!(k.sign(b"hello").unwrap().len(), 64);
        }
        let loaded = load_dir(&apex, &dir).unwrap();
        assert_eq!(loaded.len(), 2);
        use std::os::unix::fs::PermissionsExt as _;
        for k in &loaded {
            let private = k.file.with_extension("private");
            let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", private.display());
            assert_eq!(k.timing.activate, Some(1_796_553_900));
            assert!(k
                .file
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Kexample.test.+0"));
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_key_for_another_zone_is_refused_by_name() {
        let apex = zone::parse_name("example.test.").unwrap();
        let e = parse_key_file(
            Path::new("K.key"),
            "other.test. IN DNSKEY 257 3 13 AAAA\n",
            &apex,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not for zone example.test."), "{e}");
        assert!(
            matches!(&e, DnssecError::WrongZone { line: 1, zone, .. } if zone == "example.test."),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "K.key: line 1: the key is not for zone example.test."
        );
        let e = parse_key_file(Path::new("K.key"), "; nothing\n", &apex).unwrap_err();
        assert!(matches!(e, DnssecError::NoDnskey { .. }), "{e:?}");
        assert_eq!(e.to_string(), "K.key: no DNSKEY record in the file");
    }
}
