//! POST /api/v1/cfssl/authsign through the real router. First byte even: the input is the raw
//! outer body. Odd: the rest is the inner sign request (`@CSR@` → a valid CSR), wrapped with a
//! valid HMAC token and the current timestamp, so the inner request is parsed and signed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static SERVER: RefCell<kpki_fuzz::Server> = RefCell::new(kpki_fuzz::Server::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = if mode & 1 == 0 {
        kpki_fuzz::with_csr(rest)
    } else {
        let key = [0x01u8, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef].repeat(2);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let env = kpki::auth::AuthenticatedRequest::wrap(&key, &kpki_fuzz::with_csr(rest), now);
        serde_json::to_vec(&env).expect("envelope")
    };
    SERVER.with(|s| {
        s.borrow_mut().post("/api/v1/cfssl/authsign", body);
    });
});
