//! cfssljson input: `kpki::cli::main_with("cfssljson", ["-bare", "-stdout"])` with the input as
//! stdin and in-memory stdout/stderr (`-stdout`: nothing is written to disk).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stdin: &[u8] = data;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut ctx = kpki::cli::Ctx {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let args = ["-bare".to_string(), "-stdout".to_string()];
    let _ = kpki::cli::main_with("cfssljson", &args, &mut ctx);
});
