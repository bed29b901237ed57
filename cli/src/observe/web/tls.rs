//! TLS for the HTTP endpoint (`web_tls_cert`, `web_tls_key`): rustls with the ring
//! provider (the same one the `http` monitor's client uses), HTTP/1.1 only.
//!
//! In: the two PEM files' paths. Out: an acceptor, or an error naming the file and what
//! is wrong with it (unreadable, no certificate, no key, a key that does not match),
//! which stops the daemon at start: a console configured for TLS never serves plain
//! HTTP instead.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// An acceptor serving the chain in `cert` with the key in `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let bad = |path: &Path, what: String| format!("web_tls: {}: {what}", path.display());
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, format!("cannot read the certificate file ({e})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, format!("not a PEM certificate chain ({e})")))?;
    if certs.is_empty() {
        return Err(bad(cert, "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad(key, format!("cannot read a PEM private key from it ({e}); PKCS#8, PKCS#1 or SEC1")))?;
    // The process's one provider (ring: the only one the dependency graph enables, as
    // for the `http` monitor's client), with its default TLS 1.2 and 1.3.
    let mut config = ServerConfig::builder().with_no_client_auth().with_single_cert(certs, private).map_err(|e| {
        format!("web_tls: {} with {}: the key does not fit the certificate ({e})", key.display(), cert.display())
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
