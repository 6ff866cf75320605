//! Network helpers shared by the adapters: dial a TLS server and collect its certificate chain
//! (certinfo `-domain`). Inspection only; no policy, no signing.

use crate::certinfo::{self, Info};
use crate::error::{Error, Result};

#[derive(Debug)]
struct AcceptAny(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // Inspection only: certinfo reports what the server presents, as cfssl does.
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Dials `host[:port]` (default 443) with TLS and returns the presented chain, leaf first.
pub fn fetch_domain(domain: &str) -> Result<Vec<Info>> {
    use std::net::ToSocketAddrs;
    let dial = |m: String| Error::Dial(6000, format!("Failed to dial remote server: {m}"));
    let bad = |m: String| Error::BadRequest(format!("invalid domain {domain:?}: {m}"));
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse::<u16>().map_err(|_| bad("bad port".into()))?,
        ),
        _ => (domain.to_string(), 443),
    };
    if host.is_empty() || host.len() > 253 || host.contains(|c: char| c.is_whitespace() || c == '/')
    {
        return Err(bad("bad host name".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| dial(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let name =
        rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| bad(e.to_string()))?;
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| dial(e.to_string()))?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| dial(e.to_string()))?
        .next()
        .ok_or_else(|| dial(format!("cannot resolve {host}")))?;
    let timeout = std::time::Duration::from_secs(10);
    let mut sock =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| dial(e.to_string()))?;
    sock.set_read_timeout(Some(timeout)).ok();
    sock.set_write_timeout(Some(timeout)).ok();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| dial(e.to_string()))?;
    }
    let certs = conn
        .peer_certificates()
        .ok_or_else(|| dial("no certificate presented".into()))?;
    certs
        .iter()
        .map(|c| certinfo::certificate(c.as_ref()).map(|i| Info::Certificate(Box::new(i))))
        .collect()
}
