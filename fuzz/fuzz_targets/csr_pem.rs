//! CSR PEM decode + parse + verify (`kpki::csr::parse_pem`) on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = kpki::csr::parse_pem(data) {
        let _ = p.common_name();
    }
});
