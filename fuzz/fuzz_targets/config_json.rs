//! ca-config JSON (`Config::from_json`); when it parses, every profile is looked up and used
//! to sign a fixed valid CSR with a fixed CA, and the certificate must parse back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static CA: OnceLock<kpki::signer::Ca> = OnceLock::new();
    let Ok(cfg) = kpki::config::Config::from_json(data) else {
        return;
    };
    let ca = CA.get_or_init(kpki_fuzz::ca);
    let names: Vec<String> = std::iter::once(String::new())
        .chain(cfg.signing.profiles.keys().cloned())
        .collect();
    for name in names {
        let Ok(p) = cfg.signing.profile(&name) else {
            continue;
        };
        let _ = cfg.auth_key_bytes(&p.auth_key);
        if !p.is_local() {
            continue;
        }
        let req = kpki::issue::SignRequest {
            csr_pem: kpki_fuzz::csr_pem().as_bytes().to_vec(),
            profile: name.clone(),
            ..Default::default()
        };
        if let Ok(issued) = kpki::issue::sign(ca, &cfg.signing, &req) {
            kpki::certinfo::certificate(&issued.cert_der).unwrap_or_else(|e| {
                panic!(
                    "profile {name:?} issued an unparsable certificate: {e:?}\n{}",
                    issued.cert_pem
                )
            });
        }
    }
});
