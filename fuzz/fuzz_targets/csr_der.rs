//! CSR DER parse + signature verification (`kpki::csr::parse_der`), and the same bytes
//! through the PEM path and certinfo's CSR view.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let der = kpki::csr::parse_der(data);
    let pem = kpki::keys::pem_encode("CERTIFICATE REQUEST", data);
    let via_pem = kpki::csr::parse_pem(pem.as_bytes());
    assert_eq!(der.is_ok(), via_pem.is_ok(), "DER and PEM paths disagree");
    if let Ok(p) = der {
        let _ = p.common_name();
        assert!(!p.spki_der.is_empty());
    }
    let _ = kpki::certinfo::csr(data);
});
