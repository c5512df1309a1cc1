//! The cipher suites a TLS listener offers, from dnsdist's `ciphers`
//! (TLS 1.2, OpenSSL's names) and `ciphersTLS13` (TLS 1.3) options, and
//! the `keyLogFile` option's writer.
//!
//! rustls offers fewer suites than OpenSSL (AEADs with ECDHE only), so an
//! operator's list is read as "these and no others": the suites of it
//! that rustls has are offered, the others are named in a warning, and a
//! list with none of them is an error. OpenSSL's cipher-string language
//! (`HIGH:!aNULL`, `DEFAULT`, `@SECLEVEL=2`) is not interpreted: a list
//! using it leaves rustls's own choice for that version, with a warning.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rustls::{CipherSuite, SupportedCipherSuite};

use crate::tls::TlsError;

/// OpenSSL's names of the TLS 1.2 suites rustls has, with the IANA
/// names (which OpenSSL also takes, and rustls prints).
const OPENSSL_NAMES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The suite `name` names (OpenSSL's or IANA's name; for TLS 1.3 also
/// rustls's `TLS13_…`), if it is one of `offered`.
fn find(name: &str, offered: &[SupportedCipherSuite]) -> Option<SupportedCipherSuite> {
    let by_openssl = OPENSSL_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| *s);
    offered.iter().copied().find(|s| {
        let id = s.suite();
        Some(id) == by_openssl || id.as_str().is_some_and(|iana| same_name(iana, name))
    })
}

/// Whether rustls's `iana` name and `name` are one suite's: equal
/// ignoring case, or TLS 1.3's `TLS13_AES_…` written as OpenSSL and IANA
/// write it, `TLS_AES_…`.
fn same_name(iana: &str, name: &str) -> bool {
    if iana.eq_ignore_ascii_case(name) {
        return true;
    }
    match (iana.strip_prefix("TLS13_"), name.get(..4), name.get(4..)) {
        (Some(rest), Some(prefix), Some(n)) => {
            prefix.eq_ignore_ascii_case("TLS_") && n.eq_ignore_ascii_case(rest)
        }
        _ => false,
    }
}

/// Whether `word` belongs to OpenSSL's cipher-string language rather
/// than naming a suite (`HIGH`, `!aNULL`, `@SECLEVEL=1`, `kEECDH+AESGCM`).
fn is_keyword(word: &str) -> bool {
    word.starts_with(['!', '-', '+', '@']) || word.contains('+') || !word.contains(['-', '_'])
}

/// The suites of one TLS version a listener offers: `list` (an OpenSSL
/// cipher list, `:`, `,` or space separated) against `offered` (rustls's
/// suites of that version); all of them without a list.
fn one_version(
    option: &'static str,
    list: Option<&str>,
    offered: Vec<SupportedCipherSuite>,
) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let Some(list) = list else {
        return Ok(offered);
    };
    let words: Vec<&str> = list
        .split([':', ',', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(k) = words.iter().find(|w| is_keyword(w)) {
        log::warn!(
            "{option} '{list}': OpenSSL's cipher-string keywords ('{k}') are not \
             interpreted; rustls's own suites are offered"
        );
        return Ok(offered);
    }
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    for w in &words {
        match find(w, &offered) {
            Some(s) if !chosen.contains(&s) => chosen.push(s),
            Some(_) => {}
            None => missing.push(*w),
        }
    }
    let names = || {
        offered
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if chosen.is_empty() {
        return Err(TlsError::NoSuites {
            option,
            list: list.to_string(),
            offered: names(),
        });
    }
    if !missing.is_empty() {
        log::warn!(
            "{option}: {} not offered (rustls has only {})",
            missing.join(", "),
            names()
        );
    }
    Ok(chosen)
}

/// The suites to offer: TLS 1.3's from `tls13` (`ciphersTLS13`), then
/// TLS 1.2's from `tls12` (`ciphers`), each in the list's order, each
/// version all of rustls's when its list is not given.
pub fn choose(
    all: &[SupportedCipherSuite],
    tls12: Option<&str>,
    tls13: Option<&str>,
) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let (v13, v12): (Vec<_>, Vec<_>) = all
        .iter()
        .copied()
        .partition(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
    let mut chosen = one_version("ciphersTLS13", tls13, v13)?;
    chosen.extend(one_version("ciphers", tls12, v12)?);
    Ok(chosen)
}

/// Largest key log kept: the file grows by a line for each handshake,
/// which clients choose how often to make.
const KEY_LOG_MAX: u64 = 64 << 20;

/// `keyLogFile`: each handshake's secrets appended in the NSS key log
/// format Wireshark reads, up to [`KEY_LOG_MAX`] bytes (then a warning,
/// once, and nothing more until the file is emptied or moved).
pub struct KeyLogFile {
    file: Mutex<(std::fs::File, u64, bool)>,
}

impl std::fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLogFile")
    }
}

impl KeyLogFile {
    pub fn open(path: &Path) -> Result<KeyLogFile, TlsError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| TlsError::KeyLog {
                path: path.to_path_buf(),
                source,
            })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(KeyLogFile {
            file: Mutex::new((file, len, false)),
        })
    }
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        use std::fmt::Write as _;
        let mut line =
            String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
        line.push_str(label);
        line.push(' ');
        for b in client_random {
            let _ = write!(line, "{b:02x}");
        }
        line.push(' ');
        for b in secret {
            let _ = write!(line, "{b:02x}");
        }
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (file, len, full) = &mut *f;
        if *len + line.len() as u64 > KEY_LOG_MAX {
            if !*full {
                *full = true;
                log::warn!("keyLogFile: {KEY_LOG_MAX} bytes written; no more keys are logged");
            }
            return;
        }
        if file.write_all(line.as_bytes()).is_ok() {
            *len += line.len() as u64;
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(deprecated)]
    fn all() -> Vec<SupportedCipherSuite> {
        rustls::crypto::ring::default_provider().cipher_suites
    }

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().filter_map(|s| s.suite().as_str()).collect()
    }

    #[test]
    fn an_openssl_list_keeps_what_rustls_has_in_its_order() {
        // Mozilla's "intermediate" list: DHE suites are not in rustls.
        let list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
                    ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
                    DHE-RSA-AES128-GCM-SHA256";
        let chosen = choose(&all(), Some(list), Some("TLS_CHACHA20_POLY1305_SHA256")).unwrap();
        assert_eq!(
            names(&chosen),
            [
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            ]
        );
    }

    #[test]
    fn no_list_offers_everything_and_keywords_are_not_interpreted() {
        assert_eq!(choose(&all(), None, None).unwrap().len(), all().len());
        let kept = choose(&all(), Some("HIGH:!aNULL:!MD5"), None).unwrap();
        assert_eq!(kept.len(), all().len());
    }

    #[test]
    fn a_list_rustls_has_nothing_of_is_an_error() {
        let e = choose(&all(), Some("DHE-RSA-AES256-SHA256:AES128-SHA"), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ciphers 'DHE-RSA-AES256-SHA256:AES128-SHA': none"),
            "{e}"
        );
        assert!(
            matches!(&e, TlsError::NoSuites { option: "ciphers", list, .. }
                if list == "DHE-RSA-AES256-SHA256:AES128-SHA"),
            "{e:?}"
        );
        let e = choose(&all(), None, Some("TLS_AES_128_CCM_SHA256")).unwrap_err();
        assert!(e.to_string().starts_with("ciphersTLS13"), "{e}");
        assert!(
            matches!(
                e,
                TlsError::NoSuites {
                    option: "ciphersTLS13",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn the_key_log_is_nss_lines_and_bounded() {
        let dir = std::env::temp_dir().join(format!("rampart-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.log");
        let _ = std::fs::remove_file(&path);
        let log = KeyLogFile::open(&path).unwrap();
        rustls::KeyLog::log(&log, "CLIENT_RANDOM", &[0xab, 0x01], &[0xff]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "CLIENT_RANDOM ab01 ff\n"
        );
        // Past the bound nothing more is written.
        log.file.lock().unwrap().1 = KEY_LOG_MAX;
        rustls::KeyLog::log(&log, "CLIENT_RANDOM", &[0xab, 0x01], &[0xff]);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
