//! `generateOCSPResponse(certFile, caCert, caKey, outFile, days,
//! minutes)`, dnsdist's helper for trying OCSP stapling without an OCSP
//! responder: it writes, at once, a DER OCSP response saying the
//! certificate is good, signed by its CA's key, valid from now for the
//! days and minutes given. The file is what `ocspResponses` staples
//! (`openssl ocsp -respout` writes the same kind).
//!
//! The response is written out by hand (RFC 6960 §4.2.1): it is a few
//! fixed structures, and no crate in the tree builds OCSP; the CA's key
//! signs with ring, rustls's provider.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlua::Lua;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::der::{Decode, Encode};

use crate::lua_util::{self, Env, Global};
use crate::{fail, resolve, resolve_existing};

/// Registers the function.
pub fn register(
    lua: &Lua,
    state: &std::rc::Rc<std::cell::RefCell<crate::Config>>,
    base: &Path,
) -> mlua::Result<()> {
    lua_util::register_table(lua, &Env::new(state, base), FUNCTIONS)
}

const FUNCTIONS: &[Global] = &[("generateOCSPResponse", |lua, env| {
    let base = env.base.clone();
    lua.create_function(
        move |lua,
              (cert, ca_cert, ca_key, out, days, minutes): (
            String,
            String,
            String,
            String,
            u32,
            u32,
        )| {
            // Inputs as certificates are found; the output beside the
            // config, as every file rampart writes.
            let [cert, ca_cert, ca_key] =
                [cert, ca_cert, ca_key].map(|f| resolve_existing(&base, &f));
            let out = resolve(&base, &out);
            let valid = Duration::from_secs(u64::from(days) * 86_400 + u64::from(minutes) * 60);
            generate(&cert, &ca_cert, &ca_key, &out, valid)
                .map_err(|e| fail(lua, format!("generateOCSPResponse: {e}")))
        },
    )
})];

/// Writes `out`: a response for `cert_path` from `ca_path`, signed with
/// the key in `key_path`, valid for `valid` from now.
fn generate(
    cert_path: &Path,
    ca_path: &Path,
    key_path: &Path,
    out: &Path,
    valid: Duration,
) -> Result<(), String> {
    // Valid for nothing, it would be stapled and refused by every client.
    if valid.is_zero() {
        return Err("days and minutes are both 0: the response would expire at once".into());
    }
    let cert = certificate(cert_path)?;
    let ca = certificate(ca_path)?;
    let signer = Signer::of(key_path)?;
    // A response signed by the wrong key, or naming the wrong issuer,
    // would be stapled and refused by every client without a word.
    if cert.tbs_certificate.issuer != ca.tbs_certificate.subject {
        return Err(format!(
            "{} was not issued by {}",
            cert_path.display(),
            ca_path.display()
        ));
    }
    let ca_public = ca
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if signer.public_key() != ca_public {
        return Err(format!(
            "{} is not the key of {}",
            key_path.display(),
            ca_path.display()
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970")?;
    let until = now + valid;
    // GeneralizedTime has four digits of year.
    if until.as_secs() > LAST_SECOND_OF_9999 {
        return Err("the validity ends past the year 9999".into());
    }
    let tbs = response_data(&cert, ca_public, now, until)?;
    let signature = signer.sign(&tbs)?;
    let basic = seq(&[&tbs, &seq(&[signer.algorithm]), &bit_string(&signature)]);
    // responseStatus successful, then responseBytes of id-pkix-ocsp-basic.
    let response = seq(&[
        &[0x0a, 1, 0],
        &tlv(0xa0, &seq(&[OID_OCSP_BASIC, &tlv(0x04, &basic)])),
    ]);
    // Written aside and renamed in: a listener re-reading the file never
    // sees half of it.
    let aside = out.with_extension("tmp-ocsp");
    std::fs::write(&aside, &response)
        .and_then(|()| std::fs::rename(&aside, out))
        .map_err(|e| {
            // Not left behind for the operator to find.
            let _ = std::fs::remove_file(&aside);
            format!("{}: {e}", out.display())
        })
}

/// The first certificate of a PEM file, parsed.
fn certificate(path: &Path) -> Result<x509_cert::Certificate, String> {
    let der = CertificateDer::from_pem_file(path)
        .map_err(|e| format!("{}: no PEM certificate ({e})", path.display()))?;
    x509_cert::Certificate::from_der(&der)
        .map_err(|e| format!("{}: not an X.509 certificate ({e})", path.display()))
}

/// `ResponseData` for one certificate, status good, the responder named
/// by the hash of the CA's key.
fn response_data(
    cert: &x509_cert::Certificate,
    ca_key: &[u8],
    now: Duration,
    until: Duration,
) -> Result<Vec<u8>, String> {
    let tbs = &cert.tbs_certificate;
    let issuer = tbs.issuer.to_der().map_err(|e| e.to_string())?;
    let sha1 = |b: &[u8]| ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b);
    let key_hash = tlv(0x04, sha1(ca_key).as_ref());
    // CertID: SHA-1 (with NULL parameters, as responders write it) of
    // the issuer's name and key, and the serial number.
    let cert_id = seq(&[
        &seq(&[OID_SHA1, &[0x05, 0]]),
        &tlv(0x04, sha1(&issuer).as_ref()),
        &key_hash,
        &tlv(0x02, tbs.serial_number.as_bytes()),
    ]);
    let single = seq(&[
        &cert_id,
        &[0x80, 0], // good
        &time(now),
        &tlv(0xa0, &time(until)),
    ]);
    Ok(seq(&[
        &tlv(0xa2, &key_hash), // responderID byKey
        &time(now),            // producedAt
        &seq(&[&single]),
    ]))
}

/// The CA's key, and the algorithm identifier of its signatures.
struct Signer {
    key: Key,
    algorithm: &'static [u8],
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

impl Signer {
    fn of(path: &Path) -> Result<Signer, String> {
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let der = PrivateKeyDer::from_pem_file(path).map_err(|e| bad(&e))?;
        let rng = SystemRandom::new();
        let ecdsa = |alg, oid, pkcs8: &[u8]| {
            EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng)
                .ok()
                .map(|k| Signer {
                    key: Key::Ecdsa(k),
                    algorithm: oid,
                })
        };
        let rsa = |k: RsaKeyPair| Signer {
            key: Key::Rsa(k),
            algorithm: ALG_RSA_SHA256,
        };
        match &der {
            PrivateKeyDer::Pkcs8(k) => {
                // An RSA key ring refuses (under 2048 bits, say) says why.
                let as_rsa = RsaKeyPair::from_pkcs8(k.secret_pkcs8_der());
                let rsa_refusal = as_rsa.as_ref().err().map(|e| e.to_string());
                as_rsa
                    .ok()
                    .map(rsa)
                    .or_else(|| {
                        ecdsa(
                            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                            ALG_ECDSA_SHA256,
                            k.secret_pkcs8_der(),
                        )
                    })
                    .or_else(|| {
                        ecdsa(
                            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                            ALG_ECDSA_SHA384,
                            k.secret_pkcs8_der(),
                        )
                    })
                    // ring's reason for RSA said as it is (its texts are
                    // not an API to match on): "too small" is the usual.
                    .ok_or_else(|| {
                        let why = rsa_refusal.unwrap_or_default();
                        bad(&format!("not an RSA (ring: {why}), P-256 or P-384 key"))
                    })
            }
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(rsa)
                .map_err(|e| bad(&e)),
            _ => Err(bad(
                &"an EC key in SEC1 form: convert it with `openssl pkcs8 -topk8 -nocrypt`",
            )),
        }
    }

    /// The public key as a certificate's SubjectPublicKeyInfo holds it
    /// (RSAPublicKey DER, or the uncompressed EC point).
    fn public_key(&self) -> &[u8] {
        use ring::signature::KeyPair;
        match &self.key {
            Key::Rsa(k) => k.public().as_ref(),
            Key::Ecdsa(k) => k.public_key().as_ref(),
        }
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, data, &mut sig)
                    .map_err(|_| "the RSA signature failed")?;
                Ok(sig)
            }
            Key::Ecdsa(k) => k
                .sign(&rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "the ECDSA signature failed".into()),
        }
    }
}

/// 9999-12-31T23:59:59Z in Unix seconds.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;

/// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
const OID_OCSP_BASIC: &[u8] = &[0x06, 9, 0x2b, 6, 1, 5, 5, 7, 0x30, 1, 1];
/// SHA-1 (1.3.14.3.2.26).
const OID_SHA1: &[u8] = &[0x06, 5, 0x2b, 0x0e, 3, 2, 0x1a];
/// sha256WithRSAEncryption (1.2.840.113549.1.1.11), NULL parameters.
const ALG_RSA_SHA256: &[u8] = &[
    0x06, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 0x0b, 0x05, 0,
];
/// ecdsa-with-SHA256 (1.2.840.10045.4.3.2) and -SHA384 (…4.3.3).
const ALG_ECDSA_SHA256: &[u8] = &[0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2];
const ALG_ECDSA_SHA384: &[u8] = &[0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 3];

/// A DER element: tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of DER elements.
fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A BIT STRING of whole bytes.
fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

/// A GeneralizedTime, UTC, to the second.
fn time(since_epoch: Duration) -> Vec<u8> {
    let text = format!("{}Z", wire::time::format(since_epoch.as_secs()));
    tlv(0x18, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
        out
    }

    #[test]
    fn der_lengths_take_the_long_form_past_127() {
        assert_eq!(tlv(0x04, &[7; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[7; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[7; 300])[..4], [0x04, 0x82, 1, 44]);
        assert_eq!(time(Duration::from_secs(0)), b"\x18\x0f19700101000000Z");
    }

    /// openssl verifies what the function wrote, for an RSA CA and a
    /// P-256 one, and finds the certificate good.
    #[test]
    fn openssl_verifies_the_response_for_rsa_and_ecdsa_cas() {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("openssl missing: generateOCSPResponse not checked");
            return;
        }
        for (name, newkey) in [("rsa", "rsa:2048"), ("ec", "ec")] {
            let dir =
                std::env::temp_dir().join(format!("rampart-ocsp-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut key = vec!["-newkey", newkey];
            if name == "ec" {
                key.extend(["-pkeyopt", "ec_paramgen_curve:prime256v1"]);
            }
            // A self-signed certificate for `subject` as `req` makes it,
            // with `more` after the key options.
            let req = |subject: &str, more: &[&str]| {
                let subj = format!("/CN={subject}");
                let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subj];
                args.extend(&key);
                args.extend(more);
                openssl(&dir, &args);
            };
            req("test ca", &["-keyout", "ca.key", "-out", "ca.pem"]);
            // The CA signs the server's certificate as `req` makes it
            // (OpenSSL 3's `req -CA`).
            req(
                "ns1.example.org",
                &[
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-set_serial",
                    "0x5eed",
                    "-keyout",
                    "srv.key",
                    "-out",
                    "srv.pem",
                ],
            );
            let c = crate::load_str(
                "generateOCSPResponse('srv.pem', 'ca.pem', 'ca.key', 'srv.ocsp', 1, 30)",
                &dir.join("rampart.conf"),
            );
            assert!(c.is_ok(), "{c:?}");
            let out = openssl(
                &dir,
                &[
                    "ocsp",
                    "-respin",
                    "srv.ocsp",
                    "-CAfile",
                    "ca.pem",
                    "-issuer",
                    "ca.pem",
                    "-cert",
                    "srv.pem",
                    "-resp_text",
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(text.contains("Response verify OK"), "{name}: {text}");
            assert!(text.contains("srv.pem: good"), "{name}: {text}");
            assert!(text.contains("Serial Number: 5EED"), "{name}: {text}");
            // The wrong key, or the wrong CA, is an error, not a response
            // no client would accept.
            for (args, why) in [
                (
                    "'srv.pem', 'ca.pem', 'srv.key'",
                    "srv.key is not the key of",
                ),
                (
                    "'srv.pem', 'srv.pem', 'srv.key'",
                    "srv.pem was not issued by",
                ),
            ] {
                let err = crate::load_str(
                    &format!("generateOCSPResponse({args}, 'x.ocsp', 1, 0)"),
                    &dir.join("rampart.conf"),
                )
                .unwrap_err()
                .to_string();
                assert!(err.contains(why), "{name}: {err}");
            }
            std::fs::remove_dir_all(&dir).ok();
        }
    }

    #[test]
    fn a_response_valid_for_no_time_is_refused_with_the_config_line() {
        let err = crate::load_str(
            "\n\ngenerateOCSPResponse('srv.pem', 'ca.pem', 'ca.key', 'o.der', 0, 0)",
            &std::env::temp_dir().join("rampart.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(":3:") && err.contains("both 0"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named_with_the_config_line() {
        let err = crate::load_str(
            "\ngenerateOCSPResponse('no-such.pem', 'ca.pem', 'ca.key', 'o.der', 1, 0)",
            &std::env::temp_dir().join("rampart.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(":2:") && err.contains("no-such.pem"), "{err}");
        assert_eq!(
            time(Duration::from_secs(LAST_SECOND_OF_9999)),
            b"\x18\x0f99991231235959Z"
        );
    }
}
