//! certinfo on arbitrary PEM/DER (`kpki::certinfo::detect`); its JSON must be valid JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(infos) = kpki::certinfo::detect(data) {
        let text = kpki::certinfo::to_json(&infos);
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("certinfo printed invalid JSON ({e}): {text}"));
    }
});
