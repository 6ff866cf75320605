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
    let (host, port) = host_port(domain).map_err(|m| bad(m.into()))?;
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

/// Splits `host[:port]` (port 443 when absent). An IPv6 address takes brackets when a port
/// follows, and may have them without one (`[::1]`); a bare IPv6 address has no port (its last
/// `:` belongs to the address).
fn host_port(domain: &str) -> std::result::Result<(String, u16), &'static str> {
    let port = |p: &str| p.parse::<u16>().map_err(|_| "bad port");
    if let Some(rest) = domain.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("bad host name")?;
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("bad host name");
        }
        let port = match after {
            "" => 443,
            p => port(p.strip_prefix(':').ok_or("bad port")?)?,
        };
        return Ok((ip.to_string(), port));
    }
    match domain.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), port(p)?)),
        _ => Ok((domain.to_string(), 443)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    /// A CA and a leaf it signed (DER), plus the leaf's private key (PKCS#8 DER).
    fn chain() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tlsdial test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf_params = rcgen::CertificateParams::new(vec!["leaf.test".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "leaf.test");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        (
            leaf.der().to_vec(),
            ca.der().to_vec(),
            leaf_key.serialize_der(),
        )
    }

    /// Serves one TLS handshake on 127.0.0.1 presenting `certs`; returns the port and the thread
    /// (it ends when the handshake ends or fails, or when the peer goes away).
    fn serve_once(
        certs: Vec<Vec<u8>>,
        key: Vec<u8>,
    ) -> (TcpListener, u16, std::thread::JoinHandle<()>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                certs
                    .into_iter()
                    .map(rustls_pki_types::CertificateDer::from)
                    .collect(),
                rustls_pki_types::PrivateKeyDer::Pkcs8(key.into()),
            )
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = listener.try_clone().unwrap();
        let thread = std::thread::spawn(move || {
            let Ok((mut sock, _)) = accept.accept() else {
                return;
            };
            // A safety net only: a stuck peer ends the thread instead of hanging the test.
            sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut conn = rustls::ServerConnection::new(Arc::new(cfg)).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut sock).is_err() {
                    break;
                }
            }
        });
        (listener, port, thread)
    }

    /// Wakes the server's `accept` (if the client never connected) and waits for the thread.
    fn stop(listener: TcpListener, port: u16, thread: std::thread::JoinHandle<()>) {
        let _ = TcpStream::connect(("127.0.0.1", port));
        thread.join().unwrap();
        drop(listener);
    }

    fn leaf_and_ca(infos: &[Info]) -> Vec<certinfo::Certificate> {
        infos
            .iter()
            .map(|i| match i {
                Info::Certificate(c) => (**c).clone(),
                other => panic!("not a certificate: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn fetches_the_presented_chain_leaf_first_from_an_untrusted_server() {
        let (leaf, ca, key) = chain();
        let (listener, port, thread) = serve_once(vec![leaf.clone(), ca.clone()], key);
        let got = fetch_domain(&format!("127.0.0.1:{port}"));
        stop(listener, port, thread);
        let got = leaf_and_ca(&got.unwrap());
        assert_eq!(
            got,
            vec![
                certinfo::certificate(&leaf).unwrap(),
                certinfo::certificate(&ca).unwrap()
            ]
        );
        assert_eq!(got[0].subject.common_name, "leaf.test");
        assert_eq!(got[1].subject.common_name, "tlsdial test CA");
    }

    #[test]
    fn a_closed_port_is_a_6000_dial_error() {
        // Bind then drop: nothing listens on this port any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = fetch_domain(&format!("127.0.0.1:{port}")).unwrap_err();
        assert_eq!(e.code(), 6000, "{e}");
        assert!(
            e.message().starts_with("Failed to dial remote server: "),
            "{e}"
        );
    }

    #[test]
    fn host_and_port_are_split_as_cfssl_users_write_them() {
        for (domain, want) in [
            ("example.com", Ok(("example.com", 443))),
            ("example.com:8443", Ok(("example.com", 8443))),
            ("10.0.0.1:6443", Ok(("10.0.0.1", 6443))),
            ("::1", Ok(("::1", 443))),
            ("fe80::1:443", Ok(("fe80::1:443", 443))),
            // A bracketed IPv6 address with or without a port ("[::1]" failed as port "1]").
            ("[::1]", Ok(("::1", 443))),
            ("[::1]:8443", Ok(("::1", 8443))),
            ("[fe80::1:443]", Ok(("fe80::1:443", 443))),
            ("[::1]:", Err("bad port")),
            ("[::1]8443", Err("bad port")),
            ("[::1", Err("bad host name")),
            ("[zz]:443", Err("bad host name")),
            ("[10.0.0.1]:443", Err("bad host name")),
            ("[]", Err("bad host name")),
        ] {
            assert_eq!(
                host_port(domain),
                want.map(|(h, p)| (h.to_string(), p)),
                "{domain}"
            );
        }
    }

    #[test]
    fn malformed_domains_are_refused_before_dialing() {
        let long = |n: usize| format!("{}!", "a".repeat(n - 1));
        for (domain, why) in [
            // A bracketed IPv6 literal takes a port; a bare one does not (the last ':' is part
            // of the address, so the whole text is the host and no port is parsed).
            ("[::1]:x", "bad port"),
            ("::1:x", "invalid dns name"),
            ("127.0.0.1:", "bad port"),
            ("127.0.0.1:65536", "bad port"),
            ("", "bad host name"),
            (":443", "bad host name"),
            ("a b", "bad host name"),
            ("a/b:443", "bad host name"),
            ("a\tb", "bad host name"),
            ("bad!name", "invalid dns name"),
            // 253 characters pass the length check (and fail as a name); 254 do not.
            (&long(253), "invalid dns name"),
            (&long(254), "bad host name"),
        ] {
            let e = fetch_domain(domain).unwrap_err();
            assert_eq!(
                (e.code(), e.message()),
                (400, format!("invalid domain {domain:?}: {why}")),
                "{domain}"
            );
        }
    }
}
