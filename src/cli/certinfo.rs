//! `certinfo`: print information about certificates, CSRs and CRLs (file, `-cert`, `-csr`),
//! a TLS server's chain (`-domain`), or a database record (`-serial -aki -db-config`).

use super::input::read_arg;
use super::{CliError, CmdResult, Command, Ctx};
use crate::certinfo::{self, Info};
use crate::cli::flags::Parsed;
use crate::error::{Error, Result};

/// The command.
pub const COMMAND: Command = Command {
    name: "certinfo",
    summary: "print information about certificates, CSRs and CRLs",
    usage: "Usage of certinfo:\n        kpki certinfo FILE                 (certificate(s), CSR or CRL; PEM or DER; '-' = stdin)\n        kpki certinfo -cert file\n        kpki certinfo -csr file\n        kpki certinfo -domain domain_name[:port]\n        kpki certinfo -serial serial -aki authority_key_id -db-config db-config",
    flags: &["cert", "csr", "domain", "serial", "aki", "db-config", "db"],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let infos: Vec<Info> = if !p.str("cert").is_empty() {
        let data = read_arg(&p.str("cert"), ctx.stdin)?;
        let infos = certinfo::detect(&data)?;
        if infos.iter().any(|i| !matches!(i, Info::Certificate(_))) {
            return Err(Error::Certificate(
                1003,
                "Failed to parse certificate: -cert expects certificates".into(),
            )
            .into());
        }
        infos
    } else if !p.str("csr").is_empty() {
        let data = read_arg(&p.str("csr"), ctx.stdin)?;
        let infos = certinfo::detect(&data)?;
        if infos.iter().any(|i| !matches!(i, Info::Csr(_))) {
            return Err(Error::Csr(9300, "not a csr".into()).into());
        }
        infos
    } else if !p.str("domain").is_empty() {
        fetch_domain(&p.str("domain"))?
    } else if !p.str("serial").is_empty() || !p.str("aki").is_empty() {
        super::record::certinfo_from_db(p, ctx)?
    } else if let Some(f) = p.args.first() {
        certinfo::detect(&read_arg(f, ctx.stdin)?)?
    } else {
        return Err(CliError::Failed(Error::BadRequest(
            "Must specify certinfo target through a FILE argument, -cert, -csr, -domain or -serial + -aki".into(),
        )));
    };
    let _ = ctx.stdout.write_all(certinfo::to_json(&infos).as_bytes());
    Ok(())
}

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
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse::<u16>()
                .map_err(|_| dial(format!("bad port in {domain:?}")))?,
        ),
        _ => (domain.to_string(), 443),
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| dial(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let name =
        rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| dial(e.to_string()))?;
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
