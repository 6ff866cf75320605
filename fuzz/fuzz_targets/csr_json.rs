//! CSR JSON (`CertificateRequest::from_json`) → subject attributes, key request, SAN
//! classification, and — when it builds — a CSR for a fixed key that must parse and verify.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static KEY: OnceLock<kpki::keys::PrivateKey> = OnceLock::new();
    let Ok(req) = kpki::csr::CertificateRequest::from_json(data) else {
        return;
    };
    let _ = req.key_algo();
    let _ = req.has_subject();
    let attrs = req.subject_attrs();
    if let Some(h) = &req.hosts {
        let _ = kpki::csr::classify_hosts(h);
    }
    if attrs.is_err() {
        return;
    }
    let key = KEY.get_or_init(kpki_fuzz::leaf_key);
    if let Ok((der, pem)) = kpki::csr::csr_for_key(&req, key) {
        let parsed = kpki::csr::parse_der(&der)
            .unwrap_or_else(|e| panic!("kpki built a CSR it cannot parse: {e:?}\n{pem}"));
        let _ = parsed.common_name();
        kpki::certinfo::csr(&der)
            .unwrap_or_else(|e| panic!("certinfo cannot read a kpki CSR: {e:?}\n{pem}"));
    }
});
