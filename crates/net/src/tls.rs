//! TLS for DNS over TLS and DNS over HTTPS: certificates and keys read
//! from PEM files (a `fullchain.pem` and `privkey.pem` as certbot writes
//! them), several pairs on one listener (RSA and ECDSA, chosen by what
//! the client supports), TLS 1.2 and 1.3 only, session tickets from a
//! rotating key. The files are read again on `reloadAllCertificates()`,
//! on SIGHUP, and by themselves when they change on disk (a renewal needs
//! no deploy hook); a reload that fails keeps the certificates in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS listener's certificates, keys or options could not be used
/// (the ones in use stay on a reload). Each names its file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Not one key file per certificate file.
    #[error("{certs} certificate files and {keys} key files: give one key per certificate")]
    KeyCount { certs: usize, keys: usize },
    /// A cipher list (`option`: `ciphers` or `ciphersTLS13`) with no
    /// suite rustls has; `offered` lists rustls's.
    #[error("{option} '{list}': none of these suites is one rustls offers ({offered})")]
    NoSuites {
        option: &'static str,
        list: String,
        offered: String,
    },
    /// A certificate file that cannot be read, or is no PEM.
    #[error("{}: {source}", path.display())]
    CertFile {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate file with no certificate.
    #[error("{}: no certificate in it", path.display())]
    NoCertificate { path: PathBuf },
    /// A key file that cannot be read, or holds no private key.
    #[error("{}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    /// A private key rustls cannot sign with.
    #[error("{}: {source}", path.display())]
    KeyRefused {
        path: PathBuf,
        source: rustls::Error,
    },
    /// A key that is not the certificate's.
    #[error("{} and {}: {source}", cert.display(), key.display())]
    KeysMismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    /// The `keyLogFile` cannot be opened.
    #[error("keyLogFile {}: {source}", path.display())]
    KeyLog {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The ticket key file cannot be read.
    #[error("{}: {source}", path.display())]
    TicketFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A ticket key file that is not whole keys of [`STEK_LEN`] bytes.
    #[error("{}: {len} bytes: a ticket key file holds keys of {STEK_LEN} bytes", path.display())]
    TicketFileLength { path: PathBuf, len: usize },
    /// A ticket key ring refuses.
    #[error("bad ticket key")]
    BadTicketKey,
    /// More `ocspResponses` files than certificates.
    #[error("{responses} OCSP response files and {certs} certificate files: give at most one response per certificate, in the same order")]
    OcspCount { responses: usize, certs: usize },
    /// An OCSP response file that cannot be read.
    #[error("{}: {source}", path.display())]
    OcspFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that is no DER OCSPResponse.
    #[error("{}: not a DER OCSP response (write it with `openssl ocsp -respout`)", path.display())]
    NotOcsp { path: PathBuf },
    /// An OCSP response whose status is not "successful".
    #[error("{}: the OCSP response's status is {status}, not successful (0)", path.display())]
    OcspStatus { path: PathBuf, status: u8 },
    /// A config QUIC cannot use (DNS over QUIC needs TLS 1.3's
    /// AES-128-GCM, which a `ciphersTLS13` list may have left out).
    #[error("DNS over QUIC needs TLS 1.3's AES-128-GCM: {0}")]
    NoQuicSuite(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    /// rustls refused the settings or could not make a ticket key.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// What a TLS listener is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chain files, each with the key file at the same index.
    pub certs: Vec<PathBuf>,
    pub keys: Vec<PathBuf>,
    /// Refuse TLS 1.2 (`minTLSVersion="tls1.3"`).
    pub tls13_only: bool,
    /// Resume sessions with tickets (`sessionTickets`, on by default).
    pub session_tickets: bool,
    /// ALPN protocols offered, in order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// Ticket keys kept: a ticket made with any of the last this many
    /// keys still resumes (`numberOfTicketsKeys`, 5 as dnsdist).
    pub ticket_keys: usize,
    /// Ticket keys read from a file in dnsdist's format (80 bytes a key,
    /// the last one active), at start and with each certificate reload
    /// (`ticketKeyFile`): servers sharing it resume each other's sessions.
    pub ticket_key_file: Option<PathBuf>,
    /// dnsdist's `ciphers` (TLS 1.2) and `ciphersTLS13` lists: the
    /// suites offered ([`crate::tls_suites`]); all of rustls's if `None`.
    pub ciphers: Option<String>,
    pub ciphers_tls13: Option<String>,
    /// Append each session's secrets here (`keyLogFile`, for Wireshark).
    pub key_log_file: Option<PathBuf>,
    /// DER OCSP responses stapled to the handshake (`ocspResponses`),
    /// each for the certificate at the same index; read again, like the
    /// certificates, when a file changes (a cron job that fetches a fresh
    /// response needs no reload).
    pub ocsp_responses: Vec<PathBuf>,
}

/// A listener's TLS state: the server config in force, swapped whole on
/// reload; open connections keep the config they started with.
pub struct TlsContext {
    pub settings: TlsSettings,
    config: ArcSwap<ServerConfig>,
    /// The session-ticket keys: kept across certificate reloads (a
    /// renewal must not end every client's resumption).
    tickets: Arc<TicketKeys>,
    /// Modification times of the files as last read.
    stamps: Mutex<Vec<Option<SystemTime>>>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsContext({:?})", self.settings.certs)
    }
}

impl TlsContext {
    /// Reads the files; an error names the file and what is wrong.
    pub fn new(settings: TlsSettings) -> Result<Arc<TlsContext>, TlsError> {
        ensure_provider();
        let stamps = stamps(&settings);
        let tickets = Arc::new(TicketKeys::new(settings.ticket_keys)?);
        if let Some(f) = &settings.ticket_key_file {
            tickets.load_file(f)?;
        }
        let config = server_config(&settings, &tickets)?;
        Ok(Arc::new(TlsContext {
            settings,
            config: ArcSwap::from_pointee(config),
            tickets,
            stamps: Mutex::new(stamps),
        }))
    }

    /// The config new connections are accepted with.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.load_full())
    }

    /// The rustls config in force (DNS over QUIC builds its QUIC config
    /// from it, and again when a reload replaced it).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    /// Reads the files again; on error the old certificates stay.
    pub fn reload(&self) -> Result<(), TlsError> {
        let now = stamps(&self.settings);
        if let Some(f) = &self.settings.ticket_key_file {
            self.tickets.load_file(f)?;
        }
        let config = server_config(&self.settings, &self.tickets)?;
        self.config.store(Arc::new(config));
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(())
    }

    /// Reloads if a file changed on disk since it was last read: `None`
    /// when nothing changed, else what the reload gave.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        let now = stamps(&self.settings);
        {
            let mut last = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
            if *last == now {
                return None;
            }
            // Tried once per change: a half-written file is read again
            // when its writer finishes (the stamp moves again).
            *last = now;
        }
        Some(self.reload())
    }

    /// A new session-ticket key (`rotateTicketsKey()`): tickets made
    /// with the keys still kept go on resuming.
    pub fn rotate_ticket_key(&self) -> Result<(), TlsError> {
        self.tickets.rotate()
    }

    /// Replaces the ticket keys with a file's (`loadTicketsKeys`).
    pub fn load_ticket_keys(&self, file: &Path) -> Result<(), TlsError> {
        self.tickets.load_file(file)
    }
}

fn stamps(s: &TlsSettings) -> Vec<Option<SystemTime>> {
    s.certs
        .iter()
        .chain(&s.keys)
        .chain(&s.ocsp_responses)
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// Whether a session's handshake (as server or as client) resumed an
/// earlier one.
pub fn resumed(session: &rustls::CommonState) -> bool {
    session.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
}

/// rustls needs one process-wide crypto provider: ring.
fn ensure_provider() {
    let _ = provider().install_default();
}

/// ring's provider. rustls 0.23.48 marks it deprecated for lacking
/// post-quantum key exchange (aws-lc-rs has it); ring is kept for its
/// build (half the time, no cmake) until DNS clients ask for PQ.
#[allow(deprecated)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn server_config(s: &TlsSettings, tickets: &Arc<TicketKeys>) -> Result<ServerConfig, TlsError> {
    if s.certs.is_empty() || s.certs.len() != s.keys.len() {
        return Err(TlsError::KeyCount {
            certs: s.certs.len(),
            keys: s.keys.len(),
        });
    }
    if s.ocsp_responses.len() > s.certs.len() {
        return Err(TlsError::OcspCount {
            responses: s.ocsp_responses.len(),
            certs: s.certs.len(),
        });
    }
    let mut provider = provider();
    provider.cipher_suites = crate::tls_suites::choose(
        &provider.cipher_suites,
        s.ciphers.as_deref(),
        s.ciphers_tls13.as_deref(),
    )?;
    let provider = Arc::new(provider);
    let mut keys = Vec::new();
    for (i, (cert, key)) in s.certs.iter().zip(&s.keys).enumerate() {
        let cert_file = |source| TlsError::CertFile {
            path: cert.clone(),
            source,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(cert_file)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(cert_file)?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate { path: cert.clone() });
        }
        let der = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::KeyFile {
            path: key.clone(),
            source,
        })?;
        let signing = provider
            .key_provider
            .load_private_key(der)
            .map_err(|source| TlsError::KeyRefused {
                path: key.clone(),
                source,
            })?;
        let mut certified = CertifiedKey::new(chain, signing);
        certified
            .keys_match()
            .map_err(|source| TlsError::KeysMismatch {
                cert: cert.clone(),
                key: key.clone(),
                source,
            })?;
        if let Some(path) = s.ocsp_responses.get(i) {
            certified.ocsp = Some(read_ocsp_response(path)?);
        }
        keys.push(Arc::new(certified));
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if s.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ByClientSupport(keys)));
    config.alpn_protocols = s.alpn.clone();
    if let Some(path) = &s.key_log_file {
        config.key_log = Arc::new(crate::tls_suites::KeyLogFile::open(path)?);
    }
    if s.session_tickets {
        config.ticketer = tickets.clone();
    } else {
        config.send_tls13_tickets = 0;
    }
    // Resumption state is in the tickets, not in a server-side cache a
    // flood of handshakes could fill.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(config)
}

/// Reads a DER OCSP response (as `openssl ocsp -respout` writes it) and
/// checks that it is one and says "successful": a client asking for the
/// status would otherwise get a malformed or an error response stapled.
/// Whether it is for this certificate and still fresh is the client's to
/// judge, as with dnsdist, which staples the file as it is.
fn read_ocsp_response(path: &Path) -> Result<Vec<u8>, TlsError> {
    let der = std::fs::read(path).map_err(|source| TlsError::OcspFile {
        path: path.to_path_buf(),
        source,
    })?;
    match ocsp_status(&der) {
        Some(0) => Ok(der),
        Some(status) => Err(TlsError::OcspStatus {
            path: path.to_path_buf(),
            status,
        }),
        None => Err(TlsError::NotOcsp {
            path: path.to_path_buf(),
        }),
    }
}

/// The `responseStatus` of a DER `OCSPResponse` (RFC 6960 §4.2.1: a
/// SEQUENCE whose first element is an ENUMERATED), if `der` is one.
fn ocsp_status(der: &[u8]) -> Option<u8> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, body) = der_length(rest)?;
    if body.len() != len {
        return None;
    }
    match body {
        [0x0a, 1, status, ..] => Some(*status),
        _ => None,
    }
}

/// A DER length (short or long form, at most 4 octets) and what follows.
fn der_length(b: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = b.split_first()?;
    if first < 0x80 {
        return Some((first as usize, rest));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    let len = rest[..n].iter().fold(0usize, |a, &o| (a << 8) | o as usize);
    Some((len, &rest[n..]))
}

/// Session-ticket keys, newest first: tickets are made with the newest
/// and read with any (each key is rustls's ring ticketer, which also
/// rolls itself over every few hours).
#[derive(Debug)]
struct TicketKeys {
    keys: std::sync::RwLock<std::collections::VecDeque<Arc<dyn rustls::server::ProducesTickets>>>,
    kept: usize,
}

impl TicketKeys {
    fn new(kept: usize) -> Result<TicketKeys, TlsError> {
        let t = TicketKeys {
            keys: Default::default(),
            kept: kept.max(1),
        };
        t.rotate()?;
        Ok(t)
    }

    fn rotate(&self) -> Result<(), TlsError> {
        let key = rustls::crypto::ring::Ticketer::new()?;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.push_front(key);
        keys.truncate(self.kept);
        Ok(())
    }

    /// The keys of `file` (dnsdist's format: 80 bytes each, a 16-byte
    /// name, then key material; the last key is the active one) join the
    /// keys in use, in front, as dnsdist adds them: the oldest beyond
    /// `numberOfTicketsKeys` go.
    fn load_file(&self, file: &Path) -> Result<(), TlsError> {
        let bytes = std::fs::read(file).map_err(|source| TlsError::TicketFile {
            path: file.to_path_buf(),
            source,
        })?;
        if bytes.is_empty() || bytes.len() % STEK_LEN != 0 {
            return Err(TlsError::TicketFileLength {
                path: file.to_path_buf(),
                len: bytes.len(),
            });
        }
        let mut loaded = Vec::new();
        for chunk in bytes.chunks(STEK_LEN) {
            let k: Arc<dyn rustls::server::ProducesTickets> = Arc::new(FileKey::new(chunk)?);
            loaded.push(k);
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        for k in loaded {
            keys.push_front(k);
        }
        keys.truncate(self.kept.max(1));
        Ok(())
    }

    fn newest(&self) -> Option<Arc<dyn rustls::server::ProducesTickets>> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .front()
            .cloned()
    }
}

impl rustls::server::ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.newest().map_or(0, |k| k.lifetime())
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.newest()?.encrypt(plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter().find_map(|k| k.decrypt(cipher))
    }
}

/// Bytes of one key in dnsdist's (OpenSSL's) ticket key files.
const STEK_LEN: usize = 80;

/// A ticket key from a file: its 16-byte name goes first in each ticket
/// (so the right key is found), then a random nonce and the session
/// sealed with AES-256-GCM under the next 32 bytes. The last 32 bytes
/// (OpenSSL's HMAC key) are not needed: GCM authenticates.
struct FileKey {
    name: [u8; 16],
    key: ring::aead::LessSafeKey,
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(…)")
    }
}

impl FileKey {
    fn new(bytes: &[u8]) -> Result<FileKey, TlsError> {
        let (name, rest) = bytes.split_at(16);
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &rest[..32])
            .map_err(|_| TlsError::BadTicketKey)?;
        let mut n = [0u8; 16];
        n.copy_from_slice(name);
        Ok(FileKey {
            name: n,
            key: ring::aead::LessSafeKey::new(unbound),
        })
    }
}

impl rustls::server::ProducesTickets for FileKey {
    fn enabled(&self) -> bool {
        true
    }

    /// dnsdist's rotation delay: 12 hours.
    fn lifetime(&self) -> u32 {
        43_200
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        use ring::rand::SecureRandom;
        let mut nonce = [0u8; 12];
        ring::rand::SystemRandom::new().fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&self.name),
                &mut sealed,
            )
            .ok()?;
        let mut out = Vec::with_capacity(16 + 12 + sealed.len());
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < 16 + 12 + 16 || cipher[..16] != self.name {
            return None;
        }
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(&cipher[16..28]).ok()?;
        let mut sealed = cipher[28..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, ring::aead::Aad::from(&self.name), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The first certificate whose key can sign with a scheme the client
/// offers (an ECDSA pair for modern clients, RSA for the others).
#[derive(Debug)]
struct ByClientSupport(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for ByClientSupport {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let schemes = hello.signature_schemes();
        self.0
            .iter()
            .find(|k| k.key.choose_scheme(schemes).is_some())
            .or_else(|| self.0.first())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(certs: &[&str], keys: &[&str]) -> TlsSettings {
        TlsSettings {
            certs: certs.iter().map(PathBuf::from).collect(),
            keys: keys.iter().map(PathBuf::from).collect(),
            tls13_only: false,
            session_tickets: true,
            alpn: Vec::new(),
            ticket_keys: 5,
            ticket_key_file: None,
            ciphers: None,
            ciphers_tls13: None,
            key_log_file: None,
            ocsp_responses: Vec::new(),
        }
    }

    #[test]
    fn errors_name_the_file_and_say_their_kind() {
        let e = TlsContext::new(settings(&["a.pem"], &[])).unwrap_err();
        assert!(
            matches!(e, TlsError::KeyCount { certs: 1, keys: 0 }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "1 certificate files and 0 key files: give one key per certificate"
        );
        let e = TlsContext::new(settings(
            &["/nonexistent/cert.pem"],
            &["/nonexistent/key.pem"],
        ))
        .unwrap_err();
        assert!(
            matches!(&e, TlsError::CertFile { path, .. } if path == Path::new("/nonexistent/cert.pem")),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("/nonexistent/cert.pem: "), "{e}");

        let dir = std::env::temp_dir().join(format!("rampart-stek-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("stek");
        std::fs::write(&file, [0u8; 79]).unwrap();
        let keys = TicketKeys::new(5).unwrap();
        let e = keys.load_file(&file).unwrap_err();
        assert!(
            matches!(e, TlsError::TicketFileLength { len: 79, .. }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: 79 bytes: a ticket key file holds keys of 80 bytes",
                file.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_ocsp_response_status_is_read_from_its_der() {
        // successful, with response bytes after (short length form)
        assert_eq!(ocsp_status(&[0x30, 5, 0x0a, 1, 0, 0xa0, 0]), Some(0));
        // tryLater (3), long length form
        assert_eq!(ocsp_status(&[0x30, 0x81, 3, 0x0a, 1, 3]), Some(3));
        // not a SEQUENCE, a length past the end, no ENUMERATED first,
        // a length of more than four octets, empty
        for bad in [
            &b"not DER"[..],
            &[0x30, 9, 0x0a, 1, 0],
            &[0x30, 3, 0x02, 1, 0],
            &[0x30, 0x85, 0, 0, 0, 0, 3, 0x0a, 1, 0],
            &[],
        ] {
            assert_eq!(ocsp_status(bad), None, "{bad:?}");
        }
    }
}
