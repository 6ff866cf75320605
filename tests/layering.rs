//! Enforces the layering rule: core modules do no I/O and know nothing of HTTP, the CLI, the
//! database or the async runtime. Scans their non-test source for forbidden names.

const CORE: &[&str] = &[
    "error",
    "jsonci",
    "duration",
    "der",
    "keys",
    "csr",
    "config",
    "profiles",
    "policy",
    "signer",
    "certinfo",
    "crl",
    "auth",
    "kubeconfig",
];
/// Pure logic over database records (they name `crate::db`/`crate::issue` types, nothing more).
const OVER_RECORDS: &[&str] = &["token", "cluster"];
const FORBIDDEN: &[&str] = &[
    "axum",
    "sqlx",
    "tokio",
    "hyper",
    "rustls::",
    "std::env",
    "std::fs",
    "std::net::TcpStream",
    "println!",
    "eprintln!",
    "std::io::stdin",
    "crate::cli",
    "crate::api",
    "crate::db",
    "crate::issue",
];

#[test]
fn core_modules_do_no_io_and_know_no_adapters() {
    let mut problems = Vec::new();
    let scope = CORE.iter().map(|m| (m, FORBIDDEN)).chain(
        OVER_RECORDS
            .iter()
            .map(|m| (m, &FORBIDDEN[..FORBIDDEN.len() - 2])),
    );
    for (m, forbidden) in scope {
        let path = format!("{}/src/{m}.rs", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            for f in forbidden {
                if l.contains(f) {
                    problems.push(format!("src/{m}.rs:{}: uses {f}: {}", n + 1, l));
                }
            }
        }
        assert!(
            text.starts_with("//!"),
            "src/{m}.rs must open with a //! line"
        );
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let missing: Vec<_> = files
        .iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:?}"
    );
}
