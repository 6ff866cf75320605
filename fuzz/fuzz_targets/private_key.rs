//! Private keys from arbitrary bytes (`PrivateKey::from_pem` and `from_der_any`: what `-ca-key`
//! reads): never a panic; a key that loads signs, and its cfssl PEM loads back to the same key.
#![no_main]
use kpki::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let loaded = [
        PrivateKey::from_pem(data, None),
        PrivateKey::from_der_any(data),
    ];
    for key in loaded.into_iter().flatten() {
        key.sign(b"fuzz")
            .unwrap_or_else(|e| panic!("a loaded {:?} does not sign: {e}", key.algo()));
        let pem = key
            .to_cfssl_pem()
            .unwrap_or_else(|e| panic!("a loaded {:?} has no cfssl PEM: {e}", key.algo()));
        let back = PrivateKey::from_pem(pem.as_bytes(), None)
            .unwrap_or_else(|e| panic!("the cfssl PEM of a loaded key does not load: {e}\n{pem}"));
        assert_eq!(back.spki_der(), key.spki_der(), "{pem}");
    }
});
