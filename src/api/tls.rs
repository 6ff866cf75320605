//! rustls server configuration for `serve`: `-tls-cert`/`-tls-key`, and client certificate
//! verification against `-mutual-tls-ca`. Takes PEM bytes; reads no files itself.

use crate::error::{Error, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Builds a TLS server config; with `client_ca`, clients must present a certificate it signed.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca: Option<&[u8]>,
) -> Result<Arc<rustls::ServerConfig>> {
    let bad = |m: String| Error::Certificate(1003, m);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(format!("-tls-cert: {e}")))?;
    if certs.is_empty() {
        return Err(bad("-tls-cert: no certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::PrivateKey(2003, format!("-tls-key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                let c = c.map_err(|e| bad(format!("-mutual-tls-ca: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| bad(format!("-mutual-tls-ca: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| bad(format!("-mutual-tls-ca: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| Error::PrivateKey(2300, format!("-tls-cert/-tls-key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The CN of a verified client certificate on this connection ("" if it has none), or None
/// when the client presented no certificate.
pub fn client_cn(conn: &rustls::ServerConnection) -> Option<String> {
    let leaf = conn.peer_certificates()?.first()?;
    let (_, c) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let cn = c
        .subject()
        .iter_common_name()
        // cfssl compat: Go's pkix.Name keeps the last CN; `-mutual-tls-cn` is matched against it.
        .last()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("");
    Some(cn.to_string())
}
