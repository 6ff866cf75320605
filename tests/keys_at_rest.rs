//! Keys at rest: `-encrypt -passphrase` writes encrypted PKCS#8 that openssl reads; CA keys are
//! used with `-ca-key-passphrase`; wrong or missing passphrases and plain-text passphrases are
//! refused; group-readable CA keys draw a warning.

mod common;

use std::process::{Command, Output, Stdio};

fn kpki(dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut c = Command::new(common::kpki_bin())
        .args(args)
        .current_dir(dir)
        .env("PW", "correct horse battery staple")
        .env("BAD", "wrong")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    c.wait_with_output().unwrap()
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl is required under CI=true"
        );
        eprintln!("SKIP: openssl not installed; keys_at_rest checks need it");
    }
    ok
}

#[test]
fn encrypted_ca_key_round_trip() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = kpki(
        p,
        &[
            "gencert",
            "-initca",
            "-encrypt",
            "-passphrase",
            "env:PW",
            "-",
        ],
        br#"{"CN":"enc CA"}"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kpki(p, &["json", "-bare", "ca"], &out.stdout);
    assert!(out.status.success());
    let key = std::fs::read_to_string(p.join("ca-key.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );
    // An independent reader: openssl decrypts it with the passphrase, and not without.
    let ok = Command::new("openssl")
        .args(["pkey", "-in", "ca-key.pem", "-passin", "env:PW", "-noout"])
        .current_dir(p)
        .env("PW", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = Command::new("openssl")
        .args([
            "pkey",
            "-in",
            "ca-key.pem",
            "-passin",
            "pass:wrong",
            "-noout",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    assert!(!bad.status.success());

    std::fs::write(
        p.join("leaf.json"),
        r#"{"CN":"leaf.example","hosts":["leaf.example"]}"#,
    )
    .unwrap();
    let sign = |extra: &[&str]| {
        let mut a = vec![
            "gencert",
            "-ca",
            "ca.pem",
            "-ca-key",
            "ca-key.pem",
            "-profile",
            "server",
        ];
        a.extend_from_slice(extra);
        a.push("leaf.json");
        kpki(p, &a, b"")
    };
    let out = sign(&["-ca-key-passphrase", "env:PW"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kpki(p, &["json", "-bare", "leaf"], &out.stdout);
    assert!(out.status.success());
    let v = Command::new("openssl")
        .args(["verify", "-CAfile", "ca.pem", "leaf.pem"])
        .current_dir(p)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    for (extra, code) in [
        (&[][..], "2100"),
        (&["-ca-key-passphrase", "env:BAD"][..], "2003"),
    ] {
        let out = sign(extra);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("\"code\":{code}")), "{err}");
    }
    // Secrets never on the command line.
    let out = sign(&["-ca-key-passphrase", "correct horse battery staple"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn group_readable_ca_key_draws_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = kpki(p, &["gencert", "-initca", "-"], br#"{"CN":"warn CA"}"#);
    let out = kpki(p, &["json", "-bare", "ca"], &out.stdout);
    assert!(out.status.success());
    let mode = std::fs::metadata(p.join("ca-key.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::write(p.join("leaf.json"), r#"{"CN":"x","hosts":["x"]}"#).unwrap();
    let args = [
        "gencert",
        "-ca",
        "ca.pem",
        "-ca-key",
        "ca-key.pem",
        "-profile",
        "server",
        "leaf.json",
    ];
    let quiet = kpki(p, &args, b"");
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("readable by group"));
    std::fs::set_permissions(p.join("ca-key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let loud = kpki(p, &args, b"");
    assert!(loud.status.success());
    assert!(String::from_utf8_lossy(&loud.stderr).contains("readable by group or others"));
    // A passphrase for a key that is not encrypted: it still signs, and says the key is plain.
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("not encrypted"));
    let mut with_pass = args.to_vec();
    with_pass.splice(5..5, ["-ca-key-passphrase", "env:PW"]);
    let plain = kpki(p, &with_pass, b"");
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        err.contains("is not encrypted") && err.contains("readable by group"),
        "{err}"
    );
}
