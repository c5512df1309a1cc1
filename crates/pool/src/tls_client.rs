//! TLS as a client: to DoT and DoH backends (`newServer{tls=…}`) and to
//! primaries for zone transfers over TLS (XoT, RFC 9103). One place
//! builds the rustls client config for both: certificates checked
//! against a CA file (the system store by default), or not at all when
//! the operator says so (`validateCertificates=false`, BIND's
//! `tls ephemeral`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// Where the system's trusted CAs are (Debian's, as dnsdist's default).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why a TLS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsClientError {
    /// The configured server name is no host name.
    #[error("'{name}' is not a host name: {source}")]
    BadServerName {
        name: String,
        source: InvalidDnsNameError,
    },
    /// The CA file cannot be read, or is no PEM file.
    #[error("{}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    /// The CA file holds no certificate rustls can use.
    #[error("{}: no usable CA certificate in it", path.display())]
    NoCa { path: PathBuf },
    /// rustls refused the settings.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// How a TLS client is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    /// Check the server's certificate (against `ca_file`); false accepts
    /// any certificate.
    pub validate: bool,
    /// PEM file of trusted CAs; None: [`SYSTEM_CA_FILE`].
    pub ca_file: Option<PathBuf>,
    /// The name the certificate must carry, sent as SNI; None: the
    /// address.
    pub server_name: Option<String>,
    /// Refuse TLS 1.2 (XoT requires 1.3).
    pub tls13_only: bool,
    /// ALPN protocols offered.
    pub alpn: Vec<Vec<u8>>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            validate: true,
            ca_file: None,
            server_name: None,
            tls13_only: false,
            alpn: Vec::new(),
        }
    }
}

/// A ready client: the config and the name to connect with.
#[derive(Clone, Debug)]
pub struct TlsClient {
    pub settings: ClientSettings,
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl TlsClient {
    /// Builds the client for a server at `addr`; an error names the CA
    /// file and what is wrong with it.
    pub fn new(
        settings: ClientSettings,
        addr: std::net::IpAddr,
    ) -> Result<TlsClient, TlsClientError> {
        let server_name = match &settings.server_name {
            Some(n) if !n.is_empty() => {
                ServerName::try_from(n.clone()).map_err(|source| TlsClientError::BadServerName {
                    name: n.clone(),
                    source,
                })?
            }
            _ => ServerName::IpAddress(addr.into()),
        };
        let config = Arc::new(client_config(&settings)?);
        Ok(TlsClient {
            settings,
            config,
            server_name,
        })
    }
}

impl TlsClient {
    /// The name checked for a server at `ip`: the configured one, else
    /// the address (one client serves several primaries).
    pub fn server_name_for(&self, ip: std::net::IpAddr) -> ServerName<'static> {
        match &self.settings.server_name {
            Some(n) if !n.is_empty() => self.server_name.clone(),
            _ => ServerName::IpAddress(ip.into()),
        }
    }

    /// The client for zone transfers (XoT, RFC 9103): TLS 1.3 only, ALPN
    /// "dot".
    pub fn xot(
        validate: bool,
        ca_file: Option<PathBuf>,
        server_name: Option<String>,
    ) -> Result<TlsClient, TlsClientError> {
        TlsClient::new(
            ClientSettings {
                validate,
                ca_file,
                server_name,
                tls13_only: true,
                alpn: vec![b"dot".to_vec()],
            },
            std::net::Ipv4Addr::UNSPECIFIED.into(),
        )
    }
}

/// ring's provider (see `net::tls`).
#[allow(deprecated)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The rustls config for `s`.
pub fn client_config(s: &ClientSettings) -> Result<ClientConfig, TlsClientError> {
    let provider = Arc::new(provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if s.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder =
        ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let mut config = if s.validate {
        let path = s
            .ca_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_FILE));
        builder
            .with_root_certificates(roots(&path)?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = s.alpn.clone();
    Ok(config)
}

/// The CAs in a PEM file.
fn roots(path: &Path) -> Result<RootCertStore, TlsClientError> {
    let mut store = RootCertStore::empty();
    let ca_file = |source| TlsClientError::CaFile {
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(ca_file)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(ca_file)?;
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsClientError::NoCa {
            path: path.to_path_buf(),
        });
    }
    Ok(store)
}

/// Accepts whatever certificate the server presents: what the operator
/// asked for with `validateCertificates=false` (or BIND's `tls
/// ephemeral`, opportunistic TLS). The connection is encrypted but the
/// server is not authenticated. Handshake signatures are still checked,
/// so the session keys belong to whoever holds the presented key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_named() {
        let s = ClientSettings {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..Default::default()
        };
        let e = TlsClient::new(s, [127, 0, 0, 1].into()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert!(
            matches!(&e, TlsClientError::CaFile { path, .. } if path == Path::new("/nonexistent/ca.pem")),
            "{e:?}"
        );
    }

    #[test]
    fn no_validation_needs_no_ca_and_the_address_is_the_name() {
        let s = ClientSettings {
            validate: false,
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..Default::default()
        };
        let c = TlsClient::new(s, [127, 0, 0, 1].into()).unwrap();
        assert!(matches!(c.server_name, ServerName::IpAddress(_)));
    }

    #[test]
    fn a_bad_subject_name_is_an_error() {
        let s = ClientSettings {
            validate: false,
            server_name: Some("not a name!".into()),
            ..Default::default()
        };
        let e = TlsClient::new(s, [127, 0, 0, 1].into()).unwrap_err();
        assert!(matches!(e, TlsClientError::BadServerName { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("'not a name!' is not a host name: "),
            "{e}"
        );
    }
}
