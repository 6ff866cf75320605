//! POST /api/v1/cfssl/sign bodies through the real router (in process, no database). `@CSR@`
//! in the input becomes a valid CSR PEM so the fuzzer can reach the policy and signer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static SERVER: RefCell<kpki_fuzz::Server> = RefCell::new(kpki_fuzz::Server::new());
}

fuzz_target!(|data: &[u8]| {
    let body = kpki_fuzz::with_csr(data);
    SERVER.with(|s| {
        s.borrow_mut().post("/api/v1/cfssl/sign", body);
    });
});
