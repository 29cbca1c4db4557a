//! TLS (`wss://` and `https://` on the same port) via rustls with the ring
//! provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {source}")]
    Pem {
        /// "certificate chain" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate input held no certificate.
    #[error("no certificate found in {0}")]
    NoCertificate(String),
    /// rustls refused the certificate/key pair.
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Loads a certificate chain and private key (PKCS#8, PKCS#1 or SEC1) from
/// PEM files, e.g. Let's Encrypt's `fullchain.pem` and `privkey.pem`.
pub fn load_tls_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            what: "certificate chain",
            path: cert_path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|source| TlsError::Pem {
        what: "private key",
        path: key_path.to_owned(),
        source,
    })?;
    server_config(certs, key)
}

/// Builds a TLS configuration from PEM text in memory (a certificate chain
/// and a private key), e.g. for a certificate generated at run time.
pub fn tls_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let in_memory = || PathBuf::from("<memory>");
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what: "certificate chain",
            path: in_memory(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate("<memory>".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|source| TlsError::Pem {
        what: "private key",
        path: in_memory(),
        source,
    })?;
    server_config(certs, key)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    // Name the provider explicitly: if another crate in the final binary
    // enables aws-lc-rs too, rustls cannot pick a process default and the
    // plain `builder()` would panic.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // Only HTTP/1.1 is spoken (WebSocket upgrades need it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
