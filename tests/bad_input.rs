//! Bad input, table-driven, for the CLI (the real binary) and every API endpoint (the real
//! router through `tower::ServiceExt::oneshot`, plus a real `kpki serve` for raw HTTP abuse):
//! malformed JSON, wrong types, empty and oversized bodies, non-PEM, PEM of the wrong type,
//! truncated DER, tampered CSR signatures, RSA-1024 and secp256k1 keys, CA:TRUE through a leaf
//! profile, hosts outside `name_whitelist`, unknown profiles, an expired CA, a CA key that does
//! not match its certificate, unreadable or missing files, read-only and locked databases.
//!
//! Every case must give a clear error with a cfssl-style code (CLI: exit 1 and
//! `{"code":N,"message":…}` on stderr; API: the envelope with a 4xx/5xx), the server must stay
//! up (a good request right after succeeds), and nothing may be left half-written: the working
//! directory is byte-for-byte unchanged (no partial or temp files) and the database row count is
//! unchanged after every failed request.
//!
//! Inputs found by fuzzing (`scripts/fuzz.sh`) are replayed at the end of this file.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::serve::{Ready, get, http_request, ok_result, post_json, start_serve};
use common::*;
use kpki::api::AppState;
use kpki::auth::AuthenticatedRequest;
use kpki::config::Config;
use kpki::csr::CertificateRequest;
use kpki::db::CertDb;
use kpki::keys::{KeyAlgo, PrivateKey};
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------
// Fixture: a CA, its config, good and bad CSRs, good and bad CSR JSON, on disk
// ---------------------------------------------------------------------------

/// HMAC key of the `authed` profile.
const AUTH_KEY_HEX: &str = "00112233445566778899aabbccddeeff";

const CONFIG: &str = r#"{
  "signing": {
    "default": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
    "profiles": {
      "server": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
      "intermediate": {"expiry": "43800h", "usages": ["cert sign", "crl sign"],
                       "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}},
      "restricted": {"expiry": "8760h", "usages": ["signing", "server auth"],
                     "name_whitelist": "^[a-z0-9.-]+\\.example\\.com$"},
      "authed": {"expiry": "8760h", "usages": ["signing", "client auth"], "auth_key": "k"}
    }
  },
  "auth_keys": {"k": {"type": "standard", "key": "00112233445566778899aabbccddeeff"}}
}"#;

const LEAF_JSON: &str = r#"{"CN":"a.example.com","hosts":["a.example.com","10.0.0.1"],"key":{"algo":"ecdsa","size":256}}"#;

/// Files written into the fixture's workspace (all relative names).
struct Pki {
    ws: Workspace,
    ca_pem: String,
    ca_key_pem: String,
    other_key_pem: String,
    expired_pem: String,
    expired_key_pem: String,
    good_csr: String,
    /// CSRs made with openssl (RSA-1024, secp256k1); None when openssl is missing
    openssl_csrs: Option<(String, String)>,
}

fn pem(label: &str, der: &[u8]) -> String {
    ::pem::encode(&::pem::Pem::new(label, der.to_vec()))
}

/// A CA whose certificate has already expired: `ca.expiry` 1s counts from the backdated
/// notBefore (as in cfssl), so it is over when issued; wait anyway if it is not.
fn expired_ca() -> (String, String) {
    let req = CertificateRequest::from_json(
        br#"{"CN":"expired CA","key":{"algo":"ecdsa","size":256},"ca":{"expiry":"1s"}}"#,
    )
    .expect("expired CA request");
    let ss = kpki::issue::init_ca(&req, None).expect("init_ca with 1s expiry");
    let c = summarize_cert_pem(&ss.cert_pem);
    while unix_now() <= c.not_after {
        std::thread::sleep(Duration::from_millis(200));
    }
    (ss.cert_pem, ss.key.to_cfssl_pem().expect("key PEM"))
}

fn pki() -> Pki {
    let ws = Workspace::with_tools(Tools::kpki());
    let req = CertificateRequest::from_json(
        br#"{"CN":"bad input CA","names":[{"O":"kpki tests"}],"key":{"algo":"ecdsa","size":256}}"#,
    )
    .unwrap();
    let ss = kpki::issue::init_ca(&req, None).expect("init_ca");
    let ca_pem = ss.cert_pem.clone();
    let ca_key_pem = ss.key.to_cfssl_pem().unwrap();
    let other_key_pem = PrivateKey::generate(KeyAlgo::EcdsaP256)
        .unwrap()
        .to_cfssl_pem()
        .unwrap();
    let (expired_pem, expired_key_pem) = expired_ca();
    ws.write("ca.pem", &ca_pem);
    ws.write("ca-key.pem", &ca_key_pem);
    ws.write("other-key.pem", &other_key_pem);
    ws.write("expired.pem", &expired_pem);
    ws.write("expired-key.pem", &expired_key_pem);
    ws.write("ca-config.json", CONFIG);
    std::fs::create_dir(ws.path("adir")).unwrap();

    let leaf = kpki::csr::generate(&CertificateRequest::from_json(LEAF_JSON.as_bytes()).unwrap())
        .expect("leaf CSR");
    let good_csr = leaf.csr_pem.clone();
    ws.write("good.csr", &good_csr);
    let der = leaf.csr_der.clone();
    // Tampered: one byte of the CN inside the signed part.
    let mut tampered = der.clone();
    let at = tampered
        .windows(b"a.example.com".len())
        .position(|w| w == b"a.example.com")
        .expect("CN in CSR");
    tampered[at] = b'b';
    ws.write("tampered.csr", pem("CERTIFICATE REQUEST", &tampered));
    ws.write(
        "truncated.csr",
        pem("CERTIFICATE REQUEST", &der[..der.len() / 2]),
    );
    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0, 0]);
    ws.write("trailing.csr", pem("CERTIFICATE REQUEST", &trailing));
    ws.write("notpem.csr", "this is not PEM at all\n");
    ws.write("empty.csr", "");
    ws.write("cert-as.csr", &ca_pem);
    ws.write("key-as.csr", &ca_key_pem);
    // Over 4 MiB of base64-looking text in a CSR armor.
    ws.write(
        "huge.csr",
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            "QUFB".repeat(1 << 20)
        ),
    );
    // A CSR asking for CA:TRUE (kpki adds basicConstraints when the CSR JSON has a `ca` section).
    let catrue = kpki::csr::generate(
        &CertificateRequest::from_json(
            br#"{"CN":"sneaky CA","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":1}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    ws.write("catrue.csr", &catrue.csr_pem);

    // CSR JSON, good and bad.
    ws.write("leaf.json", LEAF_JSON);
    ws.write("malformed.json", r#"{"CN": "x", "hosts": ["#);
    ws.write(
        "wrongtypes.json",
        r#"{"CN": 5, "hosts": "a.example.com", "key": []}"#,
    );
    ws.write("array.json", "[1, 2, 3]");
    ws.write("empty.json", "");
    ws.write("nul.json", b"\0\0\0\xff\xfe");
    ws.write(
        "rsa1024.json",
        r#"{"CN":"weak.example.com","key":{"algo":"rsa","size":1024}}"#,
    );
    ws.write(
        "badcurve.json",
        r#"{"CN":"curve.example.com","key":{"algo":"ecdsa","size":257}}"#,
    );
    ws.write(
        "badalgo.json",
        r#"{"CN":"x.example.com","key":{"algo":"dsa","size":2048}}"#,
    );
    ws.write(
        "casection.json",
        r#"{"CN":"sneaky.example.com","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":1}}"#,
    );
    ws.write(
        "outside.json",
        r#"{"CN":"a.example.com","hosts":["a.example.com","evil.example.org"],"key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.write("nosubject.json", r#"{"key":{"algo":"ecdsa","size":256}}"#);
    ws.write("badconfig.json", r#"{"signing":{"default":{"usages":5}}}"#);
    ws.write(
        "badregex.json",
        r#"{"signing":{"default":{"expiry":"1h","usages":["signing"],"name_whitelist":"(unclosed"}}}"#,
    );
    ws.write("noconfig.json", r#"{"auth_keys":{}}"#);

    let openssl_csrs = if find_program("openssl").is_some() {
        openssl(
            &ws,
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:1024",
                "-nodes",
                "-keyout",
                "rsa1024.key",
                "-subj",
                "/CN=weak.example.com",
                "-out",
                "rsa1024.csr",
            ],
        );
        openssl(
            &ws,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:secp256k1",
                "-nodes",
                "-keyout",
                "k1.key",
                "-subj",
                "/CN=k1.example.com",
                "-out",
                "secp256k1.csr",
            ],
        );
        Some((ws.read("rsa1024.csr"), ws.read("secp256k1.csr")))
    } else {
        skip("openssl is missing: RSA-1024 and secp256k1 CSR cases are left out");
        None
    };
    Pki {
        ws,
        ca_pem,
        ca_key_pem,
        other_key_pem,
        expired_pem,
        expired_key_pem,
        good_csr,
        openssl_csrs,
    }
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

/// One CLI case: arguments, optional stdin, the acceptable cfssl codes.
struct CliCase {
    name: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    codes: &'static [u64],
}

fn cli(name: &'static str, args: &[&str], codes: &'static [u64]) -> CliCase {
    CliCase {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        codes,
    }
}

fn cli_stdin(name: &'static str, args: &[&str], stdin: &[u8], codes: &'static [u64]) -> CliCase {
    CliCase {
        stdin: Some(stdin.to_vec()),
        ..cli(name, args, codes)
    }
}

/// Runs every case; checks exit 1, the coded error, no certificate or key on stdout, and an
/// unchanged workspace. Reports all failures together.
fn run_cli_cases(ws: &Workspace, cases: &[CliCase]) {
    let mut failures = Vec::new();
    for c in cases {
        let before = dir_snapshot(ws.dir());
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = match &c.stdin {
            Some(s) => ws.run_stdin("kpki", &args, s),
            None => ws.run("kpki", &args),
        };
        let after = dir_snapshot(ws.dir());
        let mut problems = Vec::new();
        if out.code != Some(1) {
            problems.push(format!("exit {:?}, want 1", out.code));
        }
        match out.error_json().and_then(|v| v["code"].as_u64()) {
            Some(code) if c.codes.contains(&code) => {}
            Some(code) => problems.push(format!("code {code}, want one of {:?}", c.codes)),
            None => problems.push("no {\"code\",\"message\"} on stderr".into()),
        }
        if let Some(v) = out.error_json()
            && v["message"].as_str().is_none_or(|m| m.trim().is_empty())
        {
            problems.push("empty message".into());
        }
        if out.stdout.contains("-----BEGIN") || out.stdout.contains("\"cert\"") {
            problems.push("certificate or key material on stdout".into());
        }
        let diff = snapshot_diff(&before, &after);
        if !diff.is_empty() {
            problems.push(format!("workspace changed: {diff:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] {}\n{}",
                c.name,
                problems.join("; "),
                out.describe()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} CLI cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const SIGN: &[&str] = &[
    "sign",
    "-ca=ca.pem",
    "-ca-key=ca-key.pem",
    "-config=ca-config.json",
];
const GENCERT: &[&str] = &[
    "gencert",
    "-ca=ca.pem",
    "-ca-key=ca-key.pem",
    "-config=ca-config.json",
];

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn case(name: &'static str, args: Vec<String>, codes: &'static [u64]) -> CliCase {
    CliCase {
        name,
        args,
        stdin: None,
        codes,
    }
}

#[test]
fn cli_sign_refuses_bad_csrs_and_policy_violations() {
    let p = pki();
    // Sanity: the good CSR signs with the same flags, so every refusal below is about the input.
    p.ws.run(
        "kpki",
        &args_of(&with(SIGN, &["-profile=server", "good.csr"])),
    )
    .ok();
    let mut cases = vec![
        case("non-PEM CSR", with(SIGN, &["notpem.csr"]), &[9002]),
        case("empty CSR file", with(SIGN, &["empty.csr"]), &[9002]),
        case(
            "certificate PEM as CSR",
            with(SIGN, &["cert-as.csr"]),
            &[9300],
        ),
        case(
            "private key PEM as CSR",
            with(SIGN, &["key-as.csr"]),
            &[9300],
        ),
        case("truncated CSR DER", with(SIGN, &["truncated.csr"]), &[9003]),
        case(
            "CSR DER with trailing bytes",
            with(SIGN, &["trailing.csr"]),
            &[9003],
        ),
        case(
            "tampered CSR signature",
            with(SIGN, &["tampered.csr"]),
            &[9300],
        ),
        case(
            "4 MiB of base64 in a CSR armor",
            with(SIGN, &["huge.csr"]),
            &[9002, 9003],
        ),
        case(
            "CA:TRUE CSR through a leaf profile",
            with(SIGN, &["-profile=server", "catrue.csr"]),
            &[5300],
        ),
        case(
            "CA:TRUE CSR through the default profile",
            with(SIGN, &["catrue.csr"]),
            &[5300],
        ),
        // Note: like cfssl, kpki checks the CN, DNS, email and URI names against
        // name_whitelist but not IP SANs (src/policy.rs whitelist_check), so good.csr's
        // 10.0.0.1 passes a DNS-only whitelist. Reported as a decision to make, not asserted.
        case(
            "-hostname outside name_whitelist",
            with(
                SIGN,
                &[
                    "-profile=restricted",
                    "-hostname=a.example.com,evil.example.org",
                    "good.csr",
                ],
            ),
            &[5500],
        ),
        case(
            "unknown profile",
            with(SIGN, &["-profile=nosuch", "good.csr"]),
            &[5400],
        ),
        case(
            "expired CA",
            with(
                &["sign", "-ca=expired.pem", "-ca-key=expired-key.pem"],
                &["good.csr"],
            ),
            &[1211],
        ),
        case(
            "CA key not matching the CA certificate",
            with(
                &["sign", "-ca=ca.pem", "-ca-key=other-key.pem"],
                &["good.csr"],
            ),
            &[2300],
        ),
        case(
            "CA key from another (expired) CA",
            with(
                &["sign", "-ca=ca.pem", "-ca-key=expired-key.pem"],
                &["good.csr"],
            ),
            &[2300],
        ),
        case(
            "missing CSR file",
            with(SIGN, &["missing.csr"]),
            &[7300, 9001],
        ),
        case(
            "unreadable CSR (a directory)",
            with(SIGN, &["adir"]),
            &[7300, 9001],
        ),
        case(
            "missing CA certificate",
            with(
                &["sign", "-ca=missing.pem", "-ca-key=ca-key.pem"],
                &["good.csr"],
            ),
            &[1001],
        ),
        case(
            "unreadable CA certificate (a directory)",
            with(&["sign", "-ca=adir", "-ca-key=ca-key.pem"], &["good.csr"]),
            &[1001],
        ),
        case(
            "missing CA key",
            with(
                &["sign", "-ca=ca.pem", "-ca-key=missing.pem"],
                &["good.csr"],
            ),
            &[2001],
        ),
        case(
            "unreadable CA key (a directory)",
            with(&["sign", "-ca=ca.pem", "-ca-key=adir"], &["good.csr"]),
            &[2001],
        ),
        case(
            "CA key file that is not PEM",
            with(&["sign", "-ca=ca.pem", "-ca-key=notpem.csr"], &["good.csr"]),
            &[2002, 2003],
        ),
        case(
            "CA certificate file holding a key",
            with(
                &["sign", "-ca=ca-key.pem", "-ca-key=ca-key.pem"],
                &["good.csr"],
            ),
            &[1002, 1003],
        ),
        case(
            "CA certificate file holding a CSR",
            with(
                &["sign", "-ca=good.csr", "-ca-key=ca-key.pem"],
                &["good.csr"],
            ),
            &[1002, 1003],
        ),
        case(
            "missing config",
            with(
                &[
                    "sign",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=missing.json",
                ],
                &["good.csr"],
            ),
            &[5200, 7300],
        ),
        case(
            "config with wrong types",
            with(
                &[
                    "sign",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=badconfig.json",
                ],
                &["good.csr"],
            ),
            &[5200],
        ),
        case(
            "config with a bad whitelist regex",
            with(
                &[
                    "sign",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=badregex.json",
                ],
                &["good.csr"],
            ),
            &[5200],
        ),
        case(
            "config without a signing section",
            with(
                &[
                    "sign",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=noconfig.json",
                ],
                &["good.csr"],
            ),
            &[5200],
        ),
        case(
            "config that is a CSR, not JSON",
            with(
                &[
                    "sign",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=good.csr",
                ],
                &["good.csr"],
            ),
            &[5200],
        ),
    ];
    if modes_enforced() {
        // Not root: a really unreadable file too (root reads anything; the directory and
        // missing-file cases above stand in for it then).
        use std::os::unix::fs::PermissionsExt;
        p.ws.write("unreadable-key.pem", &p.ca_key_pem);
        std::fs::set_permissions(
            p.ws.path("unreadable-key.pem"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        cases.push(case(
            "unreadable CA key (mode 000)",
            with(
                &["sign", "-ca=ca.pem", "-ca-key=unreadable-key.pem"],
                &["good.csr"],
            ),
            &[2001],
        ));
    }
    if p.openssl_csrs.is_some() {
        cases.push(case("RSA-1024 CSR", with(SIGN, &["rsa1024.csr"]), &[2400]));
        cases.push(case(
            "secp256k1 CSR (unsupported curve)",
            with(SIGN, &["secp256k1.csr"]),
            &[2400, 9300],
        ));
    }
    cases.push(cli_stdin(
        "garbage CSR on stdin",
        &with(SIGN, &["-"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        b"\x00\x01garbage",
        &[9002],
    ));
    run_cli_cases(&p.ws, &cases);
}

/// A subject with several CNs: Go keeps only the last (so cfssl checks that one, and Kubernetes
/// takes it as the user name); kpki keeps them all in the certificate, so every CN must pass
/// `name_whitelist`, whichever position the outside one has. A CSR without a CN is judged on its
/// SANs alone, as in cfssl.
#[test]
fn cli_sign_checks_every_common_name_against_the_whitelist() {
    if !require_program("openssl") {
        return;
    }
    let p = pki();
    let csr = |name: &str, subj: &str| {
        p.ws.sh(&format!(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout {name}-key.pem -out {name}.csr -subj '{subj}' \
             -addext 'subjectAltName=DNS:b.example.com'"
        ))
        .ok();
    };
    csr("inside-first", "/CN=a.example.com/CN=evil.org");
    csr("inside-last", "/CN=evil.org/CN=a.example.com");
    csr("both-inside", "/CN=a.example.com/CN=c.example.com");
    csr("no-cn", "/O=example");
    let db = format!("sqlite://{}", p.ws.path("cn.db").display());
    let sign = |file: &str| {
        let args = with(SIGN, &["-profile=restricted", &format!("-db={db}"), file]);
        p.ws.run("kpki", &args_of(&args))
    };
    for refused in ["inside-first.csr", "inside-last.csr"] {
        let out = sign(refused);
        out.failed();
        assert_eq!(out.error_code(), 5500, "{refused}: {}", out.describe());
        assert!(
            out.stderr.contains("evil.org"),
            "{refused}: {}",
            out.describe()
        );
    }
    for signed in ["both-inside.csr", "no-cn.csr"] {
        let out = sign(signed);
        let pem = out.ok().json()["cert"].as_str().unwrap().to_string();
        let cert = p.ws.write(&format!("{signed}.pem"), pem);
        // The certificate keeps the subject as requested, both CNs included (openssl reads it).
        let subject = p.ws.sh(&format!(
            "openssl x509 -noout -subject -nameopt RFC2253 -in {}",
            cert.display()
        ));
        let expect = if signed == "no-cn.csr" {
            "subject=O=example"
        } else {
            "subject=CN=c.example.com,CN=a.example.com"
        };
        assert_eq!(subject.ok().stdout.trim(), expect, "{signed}");
    }
    // The database records the CN that Go programs read: the last one.
    let rows = |cn: &str| {
        let out =
            p.ws.run("kpki", &["certs", &format!("-db={db}"), "-cn", cn, "-json"]);
        out.ok().json().as_array().map_or(0, |a| a.len())
    };
    assert_eq!(rows("c.example.com"), 1);
    assert_eq!(rows("a.example.com"), 0);
}

fn args_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn cli_gencert_genkey_selfsign_refuse_bad_csr_json() {
    let p = pki();
    p.ws.run("kpki", &args_of(&with(GENCERT, &["leaf.json"])))
        .ok();
    let cases = vec![
        case(
            "malformed CSR JSON",
            with(GENCERT, &["malformed.json"]),
            &[7200],
        ),
        case(
            "CSR JSON with wrong types",
            with(GENCERT, &["wrongtypes.json"]),
            &[7200],
        ),
        case(
            "CSR JSON that is an array",
            with(GENCERT, &["array.json"]),
            &[7200],
        ),
        case("empty CSR JSON", with(GENCERT, &["empty.json"]), &[7200]),
        case("binary CSR JSON", with(GENCERT, &["nul.json"]), &[7200]),
        case("RSA-1024 key", with(GENCERT, &["rsa1024.json"]), &[2400]),
        case(
            "unsupported curve size",
            with(GENCERT, &["badcurve.json"]),
            &[2400],
        ),
        case(
            "unsupported algorithm",
            with(GENCERT, &["badalgo.json"]),
            &[2400],
        ),
        case(
            "CA section through a leaf profile",
            with(GENCERT, &["-profile=server", "casection.json"]),
            &[5300],
        ),
        case(
            "host outside name_whitelist",
            with(GENCERT, &["-profile=restricted", "outside.json"]),
            &[5500],
        ),
        case(
            "unknown profile",
            with(GENCERT, &["-profile=nosuch", "leaf.json"]),
            &[5400],
        ),
        case(
            "expired CA",
            with(
                &["gencert", "-ca=expired.pem", "-ca-key=expired-key.pem"],
                &["leaf.json"],
            ),
            &[1211],
        ),
        case(
            "CA key not matching the CA",
            with(
                &["gencert", "-ca=ca.pem", "-ca-key=other-key.pem"],
                &["leaf.json"],
            ),
            &[2300],
        ),
        case(
            "missing CSR JSON",
            with(GENCERT, &["missing.json"]),
            &[7300],
        ),
        case(
            "unreadable CSR JSON (a directory)",
            with(GENCERT, &["adir"]),
            &[7300],
        ),
        case(
            "-initca: malformed JSON",
            with(&["gencert", "-initca"], &["malformed.json"]),
            &[7200],
        ),
        case(
            "-initca: RSA-1024",
            with(&["gencert", "-initca"], &["rsa1024.json"]),
            &[2400],
        ),
        case(
            "-initca: no subject",
            with(&["gencert", "-initca"], &["nosubject.json"]),
            &[5300],
        ),
        case(
            "-initca: existing key that is not a key",
            with(
                &["gencert", "-initca", "-ca-key=notpem.csr"],
                &["leaf.json"],
            ),
            &[2002, 2003],
        ),
        case(
            "genkey: RSA-1024",
            with(&["genkey"], &["rsa1024.json"]),
            &[2400],
        ),
        case(
            "genkey: bad curve",
            with(&["genkey"], &["badcurve.json"]),
            &[2400],
        ),
        case(
            "genkey: malformed JSON",
            with(&["genkey"], &["malformed.json"]),
            &[7200],
        ),
        case(
            "selfsign: RSA-1024",
            with(&["selfsign", "weak.example.com"], &["rsa1024.json"]),
            &[2400],
        ),
        case(
            "selfsign: wrong types",
            with(&["selfsign", "x.example.com"], &["wrongtypes.json"]),
            &[7200],
        ),
    ];
    run_cli_cases(&p.ws, &cases);
}

#[test]
fn cli_certinfo_and_cfssljson_refuse_garbage() {
    let p = pki();
    p.ws.write("trunc-cert.pem", {
        let der = pem_block(&p.ca_pem, "CERTIFICATE");
        pem("CERTIFICATE", &der[..der.len() - 10])
    });
    p.ws.write(
        "envelope-no-result.json",
        r#"{"success":true,"result":null}"#,
    );
    p.ws.write(
        "bad-ocsp.json",
        r#"{"cert":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","ocspResponse":"!!not base64!!"}"#,
    );
    p.ws.write("nothing.json", r#"{"unrelated": 1}"#);
    p.ws.write("wrong-types-out.json", r#"{"cert": 5, "key": ["x"]}"#);
    let cases = vec![
        case(
            "certinfo: non-PEM",
            with(&["certinfo", "-cert"], &["notpem.csr"]),
            &[1002, 1003],
        ),
        case(
            "certinfo: truncated certificate DER",
            with(&["certinfo", "-cert"], &["trunc-cert.pem"]),
            &[1002, 1003],
        ),
        case(
            "certinfo: truncated CSR",
            with(&["certinfo", "-csr"], &["truncated.csr"]),
            &[9002, 9003],
        ),
        case(
            "certinfo: missing file",
            with(&["certinfo", "-cert"], &["missing.pem"]),
            &[7300, 1001],
        ),
        case(
            "certinfo: a directory",
            with(&["certinfo", "-cert"], &["adir"]),
            &[7300, 1001],
        ),
        case(
            "json: malformed",
            with(&["json", "-bare", "-f"], &["malformed.json", "out"]),
            &[7200],
        ),
        case(
            "json: an array",
            with(&["json", "-bare", "-f"], &["array.json", "out"]),
            &[7200],
        ),
        case(
            "json: empty",
            with(&["json", "-bare", "-f"], &["empty.json", "out"]),
            &[7200],
        ),
        case(
            "json: envelope without result",
            with(&["json", "-f"], &["envelope-no-result.json", "out"]),
            &[7200],
        ),
        case(
            "json: bad ocspResponse (nothing may be written, not even the cert)",
            with(&["json", "-bare", "-f"], &["bad-ocsp.json", "out"]),
            &[7200],
        ),
        case(
            "json: no cert, key or csr",
            with(&["json", "-bare", "-f"], &["nothing.json", "out"]),
            &[7200],
        ),
        case(
            "json: wrong types",
            with(&["json", "-bare", "-f"], &["wrong-types-out.json", "out"]),
            &[7200],
        ),
        case(
            "json: missing input file",
            with(&["json", "-bare", "-f"], &["missing.json", "out"]),
            &[7300],
        ),
        cli_stdin(
            "json: garbage on stdin",
            &["json", "-bare", "out"],
            b"\xff\xfe{",
            &[7200],
        ),
    ];
    run_cli_cases(&p.ws, &cases);

    // cfssljson's own format for a failed envelope: "Request failed:" + messages, exit 1, no
    // files (no JSON code: cfssl prints the same text).
    p.ws.write(
        "failed.json",
        r#"{"success":false,"result":null,"errors":[{"code":5400,"message":"Unknown policy profile"}],"messages":[]}"#,
    );
    let before = dir_snapshot(p.ws.dir());
    let out = p.ws.run("kpki", &["json", "-f", "failed.json", "out"]);
    out.exit_code(1);
    assert!(
        out.stderr.contains("Unknown policy profile"),
        "{}",
        out.describe()
    );
    assert!(snapshot_diff(&before, &dir_snapshot(p.ws.dir())).is_empty());
}

/// Regression for a kpki bug this suite found (fixed in e21f823): `kpki json -bare` wrote its
/// files one by one, so when a later file could not be written (here `out-key.pem` is a
/// directory) the earlier `out.pem` stayed on disk, a half-written set. Expected: all files or
/// none, and no temp files.
#[test]
fn cli_json_bare_writes_all_files_or_none() {
    let ws = Workspace::with_tools(Tools::kpki());
    std::fs::create_dir(ws.path("out-key.pem")).unwrap();
    ws.write(
        "in.json",
        r#"{"cert":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","key":"-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n"}"#,
    );
    let before = dir_snapshot(ws.dir());
    let out = ws.run("kpki", &["json", "-bare", "-f", "in.json", "out"]);
    out.exit_code(1);
    assert_eq!(out.error_code(), 7300, "{}", out.describe());
    let diff = snapshot_diff(&before, &dir_snapshot(ws.dir()));
    let temps: Vec<&String> = diff.iter().filter(|d| d.contains(".tmp")).collect();
    assert!(temps.is_empty(), "temp files left behind: {temps:?}");
    assert!(
        diff.is_empty(),
        "kpki bug: a failed `json -bare` left a partial set of files: {diff:?}"
    );
}

#[test]
fn cli_serve_refuses_bad_ca_and_database_before_listening() {
    let p = pki();
    let port = free_port().to_string();
    let cases = vec![
        case(
            "serve: CA key not matching",
            with(
                &["serve", "-ca=ca.pem", "-ca-key=other-key.pem", "-port"],
                &[&port],
            ),
            &[2300],
        ),
        case(
            "serve: missing CA",
            with(
                &["serve", "-ca=missing.pem", "-ca-key=ca-key.pem", "-port"],
                &[&port],
            ),
            &[1001],
        ),
        case(
            "serve: config with wrong types",
            with(
                &[
                    "serve",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-config=badconfig.json",
                    "-port",
                ],
                &[&port],
            ),
            &[5200],
        ),
        case(
            "serve: database in a missing directory",
            with(
                &[
                    "serve",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-db=sqlite://no/such/dir/certs.db",
                    "-port",
                ],
                &[&port],
            ),
            &[11000],
        ),
        case(
            "serve: database path is a directory",
            with(
                &[
                    "serve",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-db=sqlite://adir",
                    "-port",
                ],
                &[&port],
            ),
            &[11000],
        ),
        case(
            "serve: unsupported database scheme",
            with(
                &[
                    "serve",
                    "-ca=ca.pem",
                    "-ca-key=ca-key.pem",
                    "-db=mysql://x",
                    "-port",
                ],
                &[&port],
            ),
            &[5200],
        ),
    ];
    run_cli_cases(&p.ws, &cases);
}

// ---------------------------------------------------------------------------
// CLI with a read-only or locked database
// ---------------------------------------------------------------------------

/// Creates `certs.db` (migrated) in `dir` by signing one certificate with `-db`.
fn seeded_db(ws: &Workspace, name: &str) -> PathBuf {
    let db = ws.path(name);
    let url = format!("sqlite://{}", db.display());
    ws.run(
        "kpki",
        &args_of(&with(SIGN, &[&format!("-db={url}"), "good.csr"])),
    )
    .ok();
    assert_eq!(sqlite3_count(&db), 1);
    db
}

#[test]
fn cli_sign_with_a_locked_database_fails_cleanly() {
    if !require_program("sqlite3") {
        return;
    }
    let p = pki();
    let db = seeded_db(&p.ws, "locked.db");
    let url = format!("-db=sqlite://{}", db.display());
    let mut lock = SqliteLock::hold(&db);
    let started = std::time::Instant::now();
    let out = p.ws.run("kpki", &args_of(&with(SIGN, &[&url, "good.csr"])));
    let took = started.elapsed();
    lock.release();
    out.exit_code(1);
    let code = out.error_code();
    assert!(
        (11000..12000).contains(&code),
        "want an 11xxx database error: {}",
        out.describe()
    );
    assert!(
        !out.stdout.contains("BEGIN CERTIFICATE"),
        "a certificate that is not recorded must not be handed out: {}",
        out.describe()
    );
    assert!(
        took < Duration::from_secs(60),
        "gave up only after {took:?}"
    );
    assert_eq!(sqlite3_count(&db), 1, "row count changed");
    assert_eq!(sqlite3(&db, "PRAGMA integrity_check;").stdout.trim(), "ok");
    // Unlocked, the same command works and records.
    p.ws.run("kpki", &args_of(&with(SIGN, &[&url, "good.csr"])))
        .ok();
    assert_eq!(sqlite3_count(&db), 2);
}

#[test]
fn cli_sign_with_a_read_only_database_fails_cleanly() {
    if !require_program("sqlite3") {
        return;
    }
    let p = pki();
    std::fs::create_dir(p.ws.path("ro")).unwrap();
    let db = seeded_db(&p.ws, "ro/certs.db");
    let kpki = kpki_bin();
    let sign_args = with(
        SIGN,
        &[&format!("-db=sqlite://{}", db.display()), "good.csr"],
    );
    let out = if modes_enforced() {
        // Not root: modes are enough.
        use std::os::unix::fs::PermissionsExt;
        for f in std::fs::read_dir(p.ws.path("ro")).unwrap().flatten() {
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o444)).unwrap();
        }
        std::fs::set_permissions(p.ws.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let out = p.ws.run("kpki", &args_of(&sign_args));
        std::fs::set_permissions(p.ws.path("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
        out
    } else if can_unshare_mounts() {
        // Root ignores modes: a private read-only bind mount of the directory instead.
        let ro = p.ws.path("ro");
        let script = format!(
            "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' '{d}' && exec \"$0\" \"$@\"",
            d = ro.display()
        );
        let mut c = std::process::Command::new("unshare");
        c.current_dir(p.ws.dir())
            .args(["-m", "sh", "-c", &script])
            .arg(&kpki)
            .args(&sign_args);
        run_bounded(c, None, CMD_TIMEOUT, "kpki sign on a read-only mount")
    } else {
        // Root without mount namespaces: SQLite's own read-only mode stands in.
        loud("no read-only mount available: using a ?mode=ro database URL instead");
        let ro_args = with(
            SIGN,
            &[
                &format!("-db=sqlite://{}?mode=ro", db.display()),
                "good.csr",
            ],
        );
        p.ws.run("kpki", &args_of(&ro_args))
    };
    out.exit_code(1);
    let code = out.error_code();
    assert!(
        (11000..12000).contains(&code),
        "want an 11xxx database error: {}",
        out.describe()
    );
    assert!(
        !out.stdout.contains("BEGIN CERTIFICATE"),
        "{}",
        out.describe()
    );
    assert_eq!(sqlite3_count(&db), 1, "row count changed");
}

// ---------------------------------------------------------------------------
// API, router level
// ---------------------------------------------------------------------------

struct Api {
    app: Router,
    db: CertDb,
    p: Pki,
}

async fn api_with(p: Pki, ca_pem: &str, ca_key_pem: &str, db_url: &str) -> Api {
    let key = PrivateKey::from_pem(ca_key_pem.as_bytes(), None).unwrap();
    let ca = kpki::signer::Ca::new(ca_pem.as_bytes(), key).expect("Ca::new");
    let config = Config::from_json(CONFIG.as_bytes()).unwrap();
    let db = CertDb::connect(db_url).await.expect("db");
    let state = Arc::new(AppState::new(Some(ca), config, Some(db.clone())));
    Api {
        app: kpki::api::router(state, &[]),
        db,
        p,
    }
}

async fn api() -> Api {
    let p = pki();
    let url = format!("sqlite://{}", p.ws.path("api.db").display());
    let (c, k) = (p.ca_pem.clone(), p.ca_key_pem.clone());
    api_with(p, &c, &k, &url).await
}

struct Resp {
    status: StatusCode,
    body: Vec<u8>,
}

impl Resp {
    fn describe(&self) -> String {
        format!("{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Resp { status, body }
    }

    /// A good sign request: must succeed and add exactly one row.
    async fn good_sign(&self, after: &str) {
        let before = self.db.count_certificates().await.unwrap();
        let body = json!({"certificate_request": self.p.good_csr, "profile": "server"});
        let r = self
            .call("POST", "/api/v1/cfssl/sign", body.to_string().into_bytes())
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "a good request after [{after}] failed: {}",
            r.describe()
        );
        assert_eq!(
            self.db.count_certificates().await.unwrap(),
            before + 1,
            "good request after [{after}] was not recorded"
        );
    }
}

/// One API case.
struct ApiCase {
    name: String,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    /// acceptable statuses
    statuses: &'static [u16],
    /// acceptable cfssl codes in `errors[0].code`
    codes: &'static [u64],
}

fn post(
    name: &str,
    path: &str,
    body: impl Into<Vec<u8>>,
    statuses: &'static [u16],
    codes: &'static [u64],
) -> ApiCase {
    ApiCase {
        name: name.to_string(),
        method: "POST",
        path: path.to_string(),
        body: body.into(),
        statuses,
        codes,
    }
}

fn getc(name: &str, path: &str, statuses: &'static [u16], codes: &'static [u64]) -> ApiCase {
    ApiCase {
        method: "GET",
        ..post(name, path, Vec::new(), statuses, codes)
    }
}

/// Runs the cases: each must answer the error envelope with an accepted status and code, must
/// not change the row count, must not hand out a certificate, and must be followed by a good
/// request that succeeds. All failures are reported together.
async fn run_api_cases(api: &Api, cases: Vec<ApiCase>) {
    let mut failures = Vec::new();
    for c in &cases {
        let before = api.db.count_certificates().await.unwrap();
        let r = api.call(c.method, &c.path, c.body.clone()).await;
        let mut problems = Vec::new();
        if !c.statuses.contains(&r.status.as_u16()) {
            problems.push(format!("status {}, want one of {:?}", r.status, c.statuses));
        }
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(v) => {
                if v["success"] != false || !v["result"].is_null() {
                    problems.push("not a failure envelope".into());
                }
                match v["errors"][0]["code"].as_u64() {
                    Some(code) if c.codes.contains(&code) => {}
                    Some(code) => problems.push(format!("code {code}, want one of {:?}", c.codes)),
                    None => problems.push("no errors[0].code".into()),
                }
                if v["errors"][0]["message"]
                    .as_str()
                    .is_none_or(|m| m.trim().is_empty())
                {
                    problems.push("no errors[0].message".into());
                }
            }
            Err(e) => problems.push(format!("body is not JSON: {e}")),
        }
        if String::from_utf8_lossy(&r.body).contains("BEGIN CERTIFICATE") {
            problems.push("certificate in an error answer".into());
        }
        let after = api.db.count_certificates().await.unwrap();
        if after != before {
            problems.push(format!("row count {before} -> {after}"));
        }
        if !problems.is_empty() {
            let shown = String::from_utf8_lossy(&c.body[..c.body.len().min(200)]).into_owned();
            failures.push(format!(
                "[{}] {} {} body={shown:?}\n  {}\n  answer: {}",
                c.name,
                c.method,
                c.path,
                problems.join("; "),
                r.describe().chars().take(600).collect::<String>()
            ));
        }
        api.good_sign(&c.name).await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} API cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const POST_ENDPOINTS: [&str; 9] = [
    "/api/v1/cfssl/sign",
    "/api/v1/cfssl/authsign",
    "/api/v1/cfssl/newcert",
    "/api/v1/cfssl/newkey",
    "/api/v1/cfssl/init_ca",
    "/api/v1/cfssl/info",
    "/api/v1/cfssl/certinfo",
    "/api/v1/cfssl/revoke",
    "/api/v1/cfssl/gencrl",
];

/// Over the 1 MiB body limit: a JSON document with a 2 MiB string.
fn oversized() -> Vec<u8> {
    format!(r#"{{"certificate_request":"{}"}}"#, "A".repeat(2 << 20)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_every_post_endpoint_refuses_malformed_bodies() {
    let api = api().await;
    let mut cases = Vec::new();
    for ep in POST_ENDPOINTS {
        let name = ep.rsplit('/').next().unwrap();
        // info accepts an empty body (cfssl: the default profile).
        if name != "info" {
            cases.push(post(&format!("{name}: empty body"), ep, "", &[400], &[400]));
            cases.push(post(
                &format!("{name}: whitespace body"),
                ep,
                " \n\t ",
                &[400],
                &[400],
            ));
        }
        cases.push(post(
            &format!("{name}: truncated JSON"),
            ep,
            r#"{"certificate_request": "#,
            &[400],
            &[400],
        ));
        cases.push(post(
            &format!("{name}: not JSON"),
            ep,
            "hello, world",
            &[400],
            &[400],
        ));
        cases.push(post(
            &format!("{name}: binary"),
            ep,
            b"\x00\xff\xfe\x01{".to_vec(),
            &[400],
            &[400],
        ));
        cases.push(post(
            &format!("{name}: JSON array"),
            ep,
            "[1,2,3]",
            &[400],
            &[400],
        ));
        cases.push(post(
            &format!("{name}: JSON string"),
            ep,
            r#""a string""#,
            &[400],
            &[400],
        ));
        cases.push(post(
            &format!("{name}: oversized body"),
            ep,
            oversized(),
            &[413],
            &[413],
        ));
        cases.push(post(
            &format!("{name}: deeply nested JSON"),
            ep,
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            &[400],
            &[400],
        ));
    }
    // Wrong types, per endpoint's fields.
    let wrong: [(&str, &str); 9] = [
        (
            "/api/v1/cfssl/sign",
            r#"{"certificate_request": 5, "hosts": "x", "profile": []}"#,
        ),
        (
            "/api/v1/cfssl/authsign",
            r#"{"token": 5, "request": {"a": 1}}"#,
        ),
        (
            "/api/v1/cfssl/newcert",
            r#"{"request": {"CN": 5, "hosts": "x"}}"#,
        ),
        ("/api/v1/cfssl/newkey", r#"{"CN": ["x"], "key": "rsa"}"#),
        ("/api/v1/cfssl/init_ca", r#"{"CN": {"a": 1}}"#),
        ("/api/v1/cfssl/info", r#"{"profile": 7}"#),
        ("/api/v1/cfssl/certinfo", r#"{"certificate": true}"#),
        (
            "/api/v1/cfssl/revoke",
            r#"{"serial": 1, "authority_key_id": 2, "reason": {}}"#,
        ),
        (
            "/api/v1/cfssl/gencrl",
            r#"{"certificate": 1, "serialNumber": "x", "issuingKey": 3}"#,
        ),
    ];
    for (ep, body) in wrong {
        let name = ep.rsplit('/').next().unwrap();
        cases.push(post(
            &format!("{name}: wrong types"),
            ep,
            body,
            &[400],
            &[400],
        ));
    }
    run_api_cases(&api, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sign_refuses_bad_csrs_and_policy_violations() {
    let api = api().await;
    let w = &api.p.ws;
    let sign = |name: &str, csr: &str, extra: Value, codes: &'static [u64]| {
        let mut body = json!({"certificate_request": csr});
        if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        post(
            &format!("sign: {name}"),
            "/api/v1/cfssl/sign",
            body.to_string(),
            &[400],
            codes,
        )
    };
    let good = api.p.good_csr.clone();
    let mut cases = vec![
        sign("non-PEM CSR", "not a PEM", json!({}), &[9002]),
        sign("empty CSR", "", json!({}), &[400]),
        sign("certificate PEM as CSR", &api.p.ca_pem, json!({}), &[9300]),
        sign("key PEM as CSR", &api.p.ca_key_pem, json!({}), &[9300]),
        sign(
            "truncated DER",
            &w.read("truncated.csr"),
            json!({}),
            &[9003],
        ),
        sign(
            "trailing bytes after DER",
            &w.read("trailing.csr"),
            json!({}),
            &[9003],
        ),
        sign(
            "tampered signature",
            &w.read("tampered.csr"),
            json!({}),
            &[9300],
        ),
        sign(
            "CA:TRUE CSR through a leaf profile",
            &w.read("catrue.csr"),
            json!({"profile": "server"}),
            &[5300],
        ),
        sign(
            "CA:TRUE CSR through the default profile",
            &w.read("catrue.csr"),
            json!({}),
            &[5300],
        ),
        sign(
            "hosts outside name_whitelist",
            &good,
            json!({"profile": "restricted", "hosts": ["a.example.com", "evil.example.org"]}),
            &[5500],
        ),
        sign(
            "hostname outside name_whitelist",
            &good,
            json!({"profile": "restricted", "hostname": "evil.example.org"}),
            &[5500],
        ),
        sign(
            "subject CN outside name_whitelist",
            &good,
            json!({"profile": "restricted", "hosts": ["b.example.com"], "subject": {"CN": "evil.example.org"}}),
            &[5500],
        ),
        sign(
            "unknown profile",
            &good,
            json!({"profile": "nosuch"}),
            &[5400],
        ),
        sign(
            "auth profile without a token",
            &good,
            json!({"profile": "authed"}),
            &[400, 7100],
        ),
        sign(
            "subject with wrong types",
            &good,
            json!({"subject": {"CN": 5}}),
            &[400],
        ),
    ];
    if let Some((rsa1024, k1)) = &api.p.openssl_csrs {
        cases.push(sign("RSA-1024 CSR", rsa1024, json!({}), &[2400]));
        cases.push(sign("secp256k1 CSR", k1, json!({}), &[2400, 9300]));
    }
    // authsign: envelope problems.
    let key = hex::decode(AUTH_KEY_HEX).unwrap();
    let inner = json!({"certificate_request": good, "profile": "authed"}).to_string();
    let now = unix_now();
    let wrap = |inner: &[u8], ts: i64, key: &[u8]| {
        serde_json::to_string(&AuthenticatedRequest::wrap(key, inner, ts)).unwrap()
    };
    let auth = |name: &str, body: String, statuses: &'static [u16], codes: &'static [u64]| {
        post(
            &format!("authsign: {name}"),
            "/api/v1/cfssl/authsign",
            body,
            statuses,
            codes,
        )
    };
    cases.extend([
        auth(
            "wrong key",
            wrap(inner.as_bytes(), now, b"wrong key"),
            &[401],
            &[7100],
        ),
        auth(
            "stale timestamp",
            wrap(inner.as_bytes(), now - 3600, &key),
            &[401],
            &[7100],
        ),
        auth(
            "timestamp far in the future",
            wrap(inner.as_bytes(), now + 3600, &key),
            &[401],
            &[7100],
        ),
        auth(
            "extreme timestamp",
            wrap(inner.as_bytes(), i64::MIN, &key),
            &[401],
            &[7100],
        ),
        auth(
            "request not base64",
            json!({"token": "AAAA", "request": "!!!", "timestamp": now}).to_string(),
            &[400],
            &[400],
        ),
        auth(
            "token not base64",
            json!({"token": "!!!", "request": "e30=", "timestamp": now}).to_string(),
            &[400, 401],
            &[400, 7100],
        ),
        auth(
            "valid token over malformed inner JSON",
            wrap(b"{\"certificate_request\": ", now, &key),
            &[400],
            &[400],
        ),
        auth(
            "valid token over a tampered CSR",
            wrap(
                json!({"certificate_request": w.read("tampered.csr"), "profile": "authed"})
                    .to_string()
                    .as_bytes(),
                now,
                &key,
            ),
            &[400],
            &[9300],
        ),
        auth(
            "profile without auth key",
            wrap(
                json!({"certificate_request": good, "profile": "server"})
                    .to_string()
                    .as_bytes(),
                now,
                &key,
            ),
            &[400, 401],
            &[400, 7100],
        ),
    ]);
    run_api_cases(&api, cases).await;

    // A valid authsign succeeds once; the very same body again is a replay.
    let body = wrap(inner.as_bytes(), unix_now(), &key);
    let r = api
        .call("POST", "/api/v1/cfssl/authsign", body.clone().into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.describe());
    let n = api.db.count_certificates().await.unwrap();
    let r = api
        .call("POST", "/api/v1/cfssl/authsign", body.into_bytes())
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "replay: {}",
        r.describe()
    );
    assert_eq!(api.db.count_certificates().await.unwrap(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_other_endpoints_refuse_bad_input() {
    let api = api().await;
    let ca = api.p.ca_pem.clone();
    let ca_key = api.p.ca_key_pem.clone();
    let other_key = api.p.other_key_pem.clone();
    let truncated_ca = {
        let der = pem_block(&ca, "CERTIFICATE");
        pem("CERTIFICATE", &der[..der.len() / 2])
    };
    let nc = |name: &str, body: Value, codes: &'static [u64]| {
        post(
            &format!("newcert: {name}"),
            "/api/v1/cfssl/newcert",
            body.to_string(),
            &[400],
            codes,
        )
    };
    let mut cases = vec![
        nc("no request", json!({"profile": "server"}), &[400]),
        nc(
            "RSA-1024",
            json!({"request": {"CN": "w.example.com", "key": {"algo": "rsa", "size": 1024}}}),
            &[2400],
        ),
        nc(
            "bad curve",
            json!({"request": {"CN": "w.example.com", "key": {"algo": "ecdsa", "size": 255}}}),
            &[2400],
        ),
        nc(
            "CA section through a leaf profile",
            json!({"request": {"CN": "sneaky", "ca": {"pathlen": 2}}, "profile": "server"}),
            &[5300],
        ),
        nc(
            "hosts outside name_whitelist",
            json!({"request": {"CN": "a.example.com", "hosts": ["evil.example.org"]}, "profile": "restricted"}),
            &[5500],
        ),
        nc(
            "unknown profile",
            json!({"request": {"CN": "a.example.com"}, "profile": "nosuch"}),
            &[5400],
        ),
        post(
            "newkey: RSA-1024",
            "/api/v1/cfssl/newkey",
            json!({"CN": "w", "key": {"algo": "rsa", "size": 1024}}).to_string(),
            &[400],
            &[2400],
        ),
        post(
            "newkey: RSA too large",
            "/api/v1/cfssl/newkey",
            json!({"CN": "w", "key": {"algo": "rsa", "size": 65536}}).to_string(),
            &[400],
            &[2400],
        ),
        post(
            "newkey: CA section",
            "/api/v1/cfssl/newkey",
            json!({"CN": "w", "ca": {"pathlen": 1}}).to_string(),
            &[400],
            &[400, 5300],
        ),
        post(
            "init_ca: RSA-1024",
            "/api/v1/cfssl/init_ca",
            json!({"CN": "w", "key": {"algo": "rsa", "size": 1024}}).to_string(),
            &[400],
            &[2400],
        ),
        post(
            "init_ca: no subject",
            "/api/v1/cfssl/init_ca",
            json!({"key": {"algo": "ecdsa", "size": 256}}).to_string(),
            &[400],
            &[5300],
        ),
        post(
            "info: unknown profile",
            "/api/v1/cfssl/info",
            json!({"profile": "nosuch"}).to_string(),
            &[400],
            &[5400],
        ),
        post(
            "certinfo: non-PEM",
            "/api/v1/cfssl/certinfo",
            json!({"certificate": "garbage"}).to_string(),
            &[400],
            &[1002, 1003],
        ),
        post(
            "certinfo: truncated certificate",
            "/api/v1/cfssl/certinfo",
            json!({ "certificate": truncated_ca }).to_string(),
            &[400],
            &[1002, 1003],
        ),
        post(
            "certinfo: nothing asked",
            "/api/v1/cfssl/certinfo",
            "{}",
            &[400],
            &[400],
        ),
        post(
            "certinfo: unknown serial",
            "/api/v1/cfssl/certinfo",
            json!({"serial": "12345", "authority_key_id": "abcd"}).to_string(),
            &[404],
            &[11200],
        ),
        post(
            "certinfo: malformed domain",
            "/api/v1/cfssl/certinfo",
            json!({"domain": "::::"}).to_string(),
            &[400, 502],
            &[400, 6000],
        ),
        post(
            "certinfo: closed port on loopback",
            "/api/v1/cfssl/certinfo",
            json!({"domain": format!("127.0.0.1:{}", free_port())}).to_string(),
            &[400, 502],
            &[400, 6000],
        ),
        post(
            "revoke: no serial",
            "/api/v1/cfssl/revoke",
            json!({"authority_key_id": "ab"}).to_string(),
            &[400],
            &[400],
        ),
        post(
            "revoke: unknown certificate",
            "/api/v1/cfssl/revoke",
            json!({"serial": "1", "authority_key_id": "ab", "reason": "keyCompromise"}).to_string(),
            &[404],
            &[11200],
        ),
        post(
            "revoke: bad reason",
            "/api/v1/cfssl/revoke",
            json!({"serial": "1", "authority_key_id": "ab", "reason": "because"}).to_string(),
            &[400],
            &[400, 8200],
        ),
        post(
            "revoke: reason out of range",
            "/api/v1/cfssl/revoke",
            json!({"serial": "1", "authority_key_id": "ab", "reason": 99}).to_string(),
            &[400],
            &[400, 8200],
        ),
        post(
            "gencrl: key not matching the certificate",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": ca, "serialNumber": ["1"], "issuingKey": other_key}).to_string(),
            &[400],
            &[2300],
        ),
        post(
            "gencrl: key is not PEM",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": ca, "serialNumber": ["1"], "issuingKey": "nope"}).to_string(),
            &[400],
            &[2002, 2003],
        ),
        post(
            "gencrl: certificate is a CSR",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": api.p.good_csr, "serialNumber": ["1"], "issuingKey": ca_key}).to_string(),
            &[400],
            &[1002, 1003],
        ),
        post(
            "gencrl: bad serial",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": ca, "serialNumber": ["not a number"], "issuingKey": ca_key}).to_string(),
            &[400],
            &[400, 1400, 8001],
        ),
        post(
            "gencrl: bad expiry",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": ca, "serialNumber": ["1"], "issuingKey": ca_key, "expireTime": "soon"}).to_string(),
            &[400],
            &[400],
        ),
        post(
            "gencrl: huge expiry",
            "/api/v1/cfssl/gencrl",
            json!({"certificate": ca, "serialNumber": ["1"], "issuingKey": ca_key, "expireTime": "9223372036854775807"}).to_string(),
            &[400],
            &[400, 5300, 1000],
        ),
        getc("crl: bad expiry", "/api/v1/cfssl/crl?expiry=soon", &[400], &[400, 5200]),
        getc("crl: negative expiry", "/api/v1/cfssl/crl?expiry=-1h", &[400], &[400]),
        getc(
            "certificates: bad status",
            "/api/v1/kpki/certificates?status=sideways",
            &[400],
            &[400],
        ),
        getc(
            "certificates: bad limit",
            "/api/v1/kpki/certificates?limit=-1",
            &[400],
            &[400],
        ),
        getc(
            "certificates: bad cursor",
            "/api/v1/kpki/certificates?after=%%%",
            &[400],
            &[400],
        ),
        getc(
            "certificates: bad expiring",
            "/api/v1/kpki/certificates?expiring=whenever",
            &[400],
            &[400, 5200],
        ),
        getc(
            "certificate: serial not a number",
            "/api/v1/kpki/certificates/abc",
            &[400],
            &[400],
        ),
        getc(
            "certificate: unknown serial",
            "/api/v1/kpki/certificates/123456789",
            &[404],
            &[11200],
        ),
        getc("unknown path", "/api/v1/cfssl/nosuch", &[404], &[404]),
        getc("GET on a POST endpoint", "/api/v1/cfssl/sign", &[405], &[405]),
    ];
    cases.push(post(
        "sign: wrapped body with a bad token on an open profile",
        "/api/v1/cfssl/sign",
        json!({"token": "AAAA", "request": "e30=", "timestamp": unix_now()}).to_string(),
        &[400, 401],
        &[400, 7100],
    ));
    run_api_cases(&api, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_with_an_expired_ca_refuses_to_sign() {
    let p = pki();
    let url = format!("sqlite://{}", p.ws.path("expired.db").display());
    let (c, k) = (p.expired_pem.clone(), p.expired_key_pem.clone());
    let api = api_with(p, &c, &k, &url).await;
    let good = api.p.good_csr.clone();
    for (path, body) in [
        (
            "/api/v1/cfssl/sign",
            json!({"certificate_request": good}).to_string(),
        ),
        (
            "/api/v1/cfssl/newcert",
            json!({"request": {"CN": "a.example.com", "hosts": ["a.example.com"]}}).to_string(),
        ),
    ] {
        let r = api.call("POST", path, body.into_bytes()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            r.describe()
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["errors"][0]["code"], 1211, "{path}: {}", r.describe());
    }
    assert_eq!(api.db.count_certificates().await.unwrap(), 0);
}

#[test]
fn ca_key_not_matching_the_certificate_is_refused_by_the_library() {
    let p = pki();
    let key = PrivateKey::from_pem(p.other_key_pem.as_bytes(), None).unwrap();
    let err = kpki::signer::Ca::new(p.ca_pem.as_bytes(), key).expect_err("mismatched pair");
    assert_eq!(err.code(), 2300, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sign_with_a_locked_database_answers_5xx_and_hands_out_nothing() {
    if !require_program("sqlite3") {
        return;
    }
    let api = api().await;
    api.good_sign("setup").await;
    let db_path = api.p.ws.path("api.db");
    let mut lock = SqliteLock::hold(&db_path);
    let body = json!({"certificate_request": api.p.good_csr}).to_string();
    let started = std::time::Instant::now();
    let r = api
        .call("POST", "/api/v1/cfssl/sign", body.into_bytes())
        .await;
    let took = started.elapsed();
    lock.release();
    assert!(
        r.status.is_server_error(),
        "want 5xx while the database is locked: {}",
        r.describe()
    );
    let v: Value = serde_json::from_slice(&r.body).expect("envelope");
    let code = v["errors"][0]["code"].as_u64().unwrap_or(0);
    assert!((11000..12000).contains(&code), "{}", r.describe());
    assert!(
        !String::from_utf8_lossy(&r.body).contains("BEGIN CERTIFICATE"),
        "{}",
        r.describe()
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(api.db.count_certificates().await.unwrap(), 1);
    // The server is still fine once the lock is gone.
    api.good_sign("locked database").await;
    assert_eq!(api.db.integrity_check().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sign_with_a_read_only_database_answers_5xx_and_hands_out_nothing() {
    let p = pki();
    let path = p.ws.path("ro.db");
    {
        let db = CertDb::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        db.close().await.unwrap();
    }
    // Root ignores file modes: open the database read-only instead (SQLite's mode=ro).
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = match CertDb::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            // Refusing to open is a fine answer too, if it is a coded database error.
            loud(&format!("read-only database refused at open: {e:?}"));
            assert!(
                (11000..12000).contains(&e.code()) || e.code() == 5200,
                "read-only open: {e:?}"
            );
            return;
        }
    };
    let key = PrivateKey::from_pem(p.ca_key_pem.as_bytes(), None).unwrap();
    let ca = kpki::signer::Ca::new(p.ca_pem.as_bytes(), key).unwrap();
    let state = Arc::new(AppState::new(
        Some(ca),
        Config::from_json(CONFIG.as_bytes()).unwrap(),
        Some(db.clone()),
    ));
    let api = Api {
        app: kpki::api::router(state, &[]),
        db,
        p,
    };
    let body = json!({"certificate_request": api.p.good_csr}).to_string();
    let r = api
        .call("POST", "/api/v1/cfssl/sign", body.into_bytes())
        .await;
    assert!(r.status.is_server_error(), "{}", r.describe());
    let v: Value = serde_json::from_slice(&r.body).expect("envelope");
    let code = v["errors"][0]["code"].as_u64().unwrap_or(0);
    assert!((11000..12000).contains(&code), "{}", r.describe());
    assert!(!String::from_utf8_lossy(&r.body).contains("BEGIN CERTIFICATE"));
    assert_eq!(api.db.count_certificates().await.unwrap(), 0);
    // Reads still work.
    let r = api.call("GET", "/api/v1/kpki/certificates", vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.describe());
}

// ---------------------------------------------------------------------------
// A real server: raw HTTP abuse, then it still serves
// ---------------------------------------------------------------------------

/// Sends raw bytes, half-closes, and returns the HTTP status of the reply (None: no reply or the
/// connection was closed). Any reply at all must be HTTP/1.x: the server speaks nothing else.
fn raw_exchange(port: u16, bytes: &[u8]) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(15))).ok()?;
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        buf.is_empty() || buf.starts_with(b"HTTP/1."),
        "the server answered something other than HTTP/1.x: {:?}",
        String::from_utf8_lossy(&buf[..buf.len().min(64)])
    );
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok())
}

#[test]
fn serve_survives_raw_http_abuse_and_leaves_no_temp_files() {
    let ws = Workspace::with_tools(Tools::kpki());
    let data = ws.path("data");
    let mut guard = ProcessGuard::new();
    let server = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", data.to_str().unwrap()],
        Ready::Health,
    );
    let port = server.port;
    let csr = kpki::csr::generate(&CertificateRequest::from_json(LEAF_JSON.as_bytes()).unwrap())
        .unwrap()
        .csr_pem;
    let good = json!({"certificate_request": csr}).to_string();
    ok_result(&post_json(port, "/api/v1/cfssl/sign", good.as_bytes()));
    let db = data.join("certs.db");
    let count = || certs_count_via_cli(&db);
    let n0 = count();

    let big_header = format!(
        "GET /api/v1/cfssl/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let abuse: Vec<(&str, Vec<u8>)> = vec![
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage".to_vec()),
        ("bad request line", b"HELLO\r\n\r\n".to_vec()),
        ("huge header", big_header.into_bytes()),
        (
            "body shorter than Content-Length",
            b"POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"certificate_request\":".to_vec(),
        ),
        (
            "negative Content-Length",
            b"POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(),
        ),
        (
            "bad chunked encoding",
            b"POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".to_vec(),
        ),
        (
            "chunked body over the limit",
            {
                let mut v = b"POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..40 {
                    v.extend_from_slice(b"10000\r\n");
                    v.extend(std::iter::repeat_n(b'A', 0x10000));
                    v.extend_from_slice(b"\r\n");
                }
                v.extend_from_slice(b"0\r\n\r\n");
                v
            },
        ),
        ("connect and close", Vec::new()),
        // The server is HTTP/1.1 only: an HTTP/2 prior-knowledge preface is refused, not served.
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec(),
        ),
    ];
    for (what, bytes) in &abuse {
        let status = raw_exchange(port, bytes);
        if let Some(s) = status {
            assert!(
                (400..500).contains(&s),
                "{what}: answered {s}, want a 4xx or a closed connection"
            );
        }
        // Still up and signing after each.
        let r = get(port, "/api/v1/cfssl/health");
        assert_eq!(r.status, 200, "after {what}: {}", r.describe());
    }
    // Oversized bodies through the normal client: 413 in the envelope.
    let big = oversized();
    let r = http_request(
        port,
        "POST",
        "/api/v1/cfssl/sign",
        &[("Content-Type", "application/json")],
        Some(&big),
    );
    if let Ok(r) = r {
        assert_eq!(r.status, 413, "{}", r.describe());
    }
    ok_result(&post_json(port, "/api/v1/cfssl/sign", good.as_bytes()));
    assert_eq!(count(), n0 + 1, "only the good request may add a row");
    assert!(guard.is_running(server.pid), "server died");
    guard.terminate(server.pid, Duration::from_secs(30));
    let leftovers: Vec<String> = dir_snapshot(&data)
        .keys()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".tmp") || p.contains("~"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files in the data dir: {leftovers:?}"
    );
}

fn certs_count_via_cli(db: &Path) -> usize {
    common::serve::certs_json(&format!("sqlite://{}", db.display()), &[]).len()
}

// ---------------------------------------------------------------------------
// Fuzzing: crash regressions and the seed corpus, replayed through the targets' entry points
// ---------------------------------------------------------------------------

/// Inputs that crashed a fuzz target (target name, input), replayed through the same entry
/// point. Campaigns of 2026-11-22: 41.6 M executions over the ten targets, one crash (the
/// token_csv entry below, fixed in 6137023). Add each future crash here before fixing it.
const FUZZ_CRASHES: &[(&str, &[u8])] = &[
    // token_csv, 2026-11-22: csv_line accepted the token "\x0c?" (form feed = whitespace).
    ("token_csv", b"\x0c?\x00a\x00\x00\"\x0c'"),
];

/// What one fuzz target does with an input (the in-process server targets are covered by the
/// API tables above instead). Panics are the failures; Ok and coded errors are both fine.
fn replay(target: &str, data: &[u8]) {
    match target {
        "csr_der" => {
            let der = kpki::csr::parse_der(data);
            let via_pem = kpki::csr::parse_pem(
                kpki::keys::pem_encode("CERTIFICATE REQUEST", data).as_bytes(),
            );
            assert_eq!(der.is_ok(), via_pem.is_ok(), "DER and PEM paths disagree");
            let _ = kpki::certinfo::csr(data);
        }
        "csr_pem" => {
            let _ = kpki::csr::parse_pem(data);
        }
        "certinfo" => {
            if let Ok(infos) = kpki::certinfo::detect(data) {
                let text = kpki::certinfo::to_json(&infos);
                serde_json::from_str::<Value>(&text).expect("certinfo prints valid JSON");
            }
        }
        "csr_json" => {
            if let Ok(req) = CertificateRequest::from_json(data) {
                let _ = req.key_algo();
                if let Some(h) = &req.hosts {
                    let _ = kpki::csr::classify_hosts(h);
                }
                if req.subject_attrs().is_ok() {
                    let key = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
                    if let Ok((der, _)) = kpki::csr::csr_for_key(&req, &key) {
                        kpki::csr::parse_der(&der).expect("kpki parses the CSRs it builds");
                    }
                }
            }
        }
        "config_json" => {
            if let Ok(cfg) = Config::from_json(data) {
                for name in cfg.signing.profiles.keys() {
                    cfg.signing.profile(name).expect("listed profile");
                }
            }
        }
        "cfssljson" => {
            let mut stdin: &[u8] = data;
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            let mut ctx = kpki::cli::Ctx {
                stdin: &mut stdin,
                stdout: &mut stdout,
                stderr: &mut stderr,
            };
            let args = ["-bare".to_string(), "-stdout".to_string()];
            let _ = kpki::cli::main_with("cfssljson", &args, &mut ctx);
        }
        "token_csv" => {
            let _ = kpki::token::check_token_file(data);
            let _ = kpki::token::read_csv(data);
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = kpki::token::BootstrapToken::parse(text);
                let parts: Vec<&str> = text.split('\0').collect();
                if parts.len() >= 3 {
                    let groups: Vec<String> = parts[3..].iter().map(|s| s.to_string()).collect();
                    if let Ok(line) = kpki::token::csv_line(parts[0], parts[1], parts[2], &groups) {
                        let back = kpki::token::check_token_file(line.as_bytes());
                        assert!(!back.is_fatal(), "{line:?}: {:?}", back.problems);
                        assert_eq!(back.records.len(), 1, "{line:?}");
                        assert_eq!(back.records[0].token(), parts[0], "{line:?}");
                    }
                }
            }
        }
        "flags" => {
            if let Some((&which, rest)) = data.split_first() {
                let cmds = kpki::cli::commands();
                let cmd = cmds[usize::from(which) % cmds.len()];
                let args: Vec<String> = rest
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                let mut allowed: Vec<&str> = cmd.flags.to_vec();
                allowed.push("loglevel");
                if let Ok(p) = kpki::cli::flags::parse(&args, &allowed) {
                    for name in &allowed {
                        let _ = (p.str(name), p.bool(name), p.int(name));
                    }
                }
            }
        }
        _ => {}
    }
}

#[test]
fn fuzz_crashes_and_seeds_replay_without_panics() {
    for (target, input) in FUZZ_CRASHES {
        replay(target, input);
    }
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut n = 0;
    for target in std::fs::read_dir(&seeds).expect("fuzz/seeds").flatten() {
        let name = target.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(target.path()).unwrap().flatten() {
            let data = std::fs::read(f.path()).unwrap();
            replay(&name, &data);
            n += 1;
        }
    }
    assert!(
        n >= 20,
        "only {n} seed inputs found under {}",
        seeds.display()
    );
}

/// Regression for a kpki bug this suite found (fixed in d14eaf7): `kpki serve` never dropped a
/// client that sends its request slowly or not at all (half a header, or a complete header and
/// half the promised body: still open after 45 s), so a few hundred such connections
/// (slowloris) used up the file descriptors and the server stopped accepting anyone. This test
/// runs the server with `ulimit -n 128`, opens 80 header-slow and 80 body-slow connections, and
/// expects `/health` to answer again within 60 s.
#[test]
fn serve_drops_slow_clients_so_they_cannot_exhaust_connections() {
    const SLOW_CLIENTS: usize = 160;
    use std::io::Write;
    let ws = Workspace::with_tools(Tools::kpki());
    let data = ws.path("data");
    let port = free_port();
    let mut guard = ProcessGuard::new();
    let log = std::fs::File::create(ws.path("serve.log")).unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -n 128 && exec \"$0\" serve -data-dir \"$1\" -port \"$2\"",
    ])
    .arg(kpki_bin())
    .arg(&data)
    .arg(port.to_string())
    .env("KPKI_LOG", "warn")
    .stdout(log.try_clone().unwrap())
    .stderr(log);
    let pid = guard.spawn("kpki serve (ulimit -n 128)", cmd);
    poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        if !guard.is_running(pid) {
            return Err("exited".to_string());
        }
        http_request(port, "GET", "/api/v1/cfssl/health", &[], None)
            .map_err(|e| e.to_string())
            .and_then(|r| (r.status == 200).then_some(()).ok_or(r.describe()))
    })
    .unwrap_or_else(|e| {
        panic!(
            "server not ready: {e}\n{}",
            std::fs::read_to_string(ws.path("serve.log")).unwrap_or_default()
        )
    });
    let mut slow = Vec::new();
    for i in 0..SLOW_CLIENTS {
        let Ok(mut s) = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(2),
        ) else {
            continue;
        };
        let part: &[u8] = if i % 2 == 0 {
            b"GET /api/v1/cfssl/health HTTP/1.1\r\nHost: x\r\n"
        } else {
            b"POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"certificate_request\":"
        };
        let _ = s.write_all(part);
        slow.push(s);
    }
    let healthy = poll_until(Duration::from_secs(60), Duration::from_millis(500), || {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET /api/v1/cfssl/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        use std::io::Read;
        let _ = s.read_to_end(&mut buf);
        if buf.starts_with(b"HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("answer {:?}", String::from_utf8_lossy(&buf)))
        }
    });
    assert!(guard.is_running(pid), "server died");
    drop(slow);
    assert!(
        healthy.is_ok(),
        "kpki bug: {SLOW_CLIENTS} slow clients starved the server (no header/body read timeout): \
         {healthy:?}"
    );
}

/// `kpki serve` on a data directory it cannot write (a read-only mount, made in a private mount
/// namespace) refuses to start with a coded error instead of serving without a database.
#[test]
fn serve_on_a_read_only_data_dir_refuses_to_start() {
    if !can_unshare_mounts() {
        loud("SKIP: no private mount namespaces here (needs root with CAP_SYS_ADMIN)");
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    let data = ws.path("data");
    // First start creates the CA and the database; SIGTERM stops it.
    let mut guard = ProcessGuard::new();
    let server = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", data.to_str().unwrap()],
        Ready::Health,
    );
    guard.terminate(server.pid, Duration::from_secs(30));
    let before = dir_snapshot(&data);
    let script = format!(
        "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' '{d}' && exec \"$0\" serve -data-dir '{d}' -port {p}",
        d = data.display(),
        p = free_port()
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "sh", "-c", &script]).arg(kpki_bin());
    let out = run_bounded(
        c,
        None,
        Duration::from_secs(30),
        "kpki serve on a read-only data dir",
    );
    out.exit_code(1);
    assert!(out.error_json().is_some(), "{}", out.describe());
    assert!(snapshot_diff(&before, &dir_snapshot(&data)).is_empty());
}

// ---------------------------------------------------------------------------
// Kubernetes endpoints: bootstrap-token REST (HMAC-authenticated) and TokenReview
// ---------------------------------------------------------------------------

/// (name, method, path, body, status, acceptable codes; empty = any)
type TokenCase = (
    &'static str,
    &'static str,
    String,
    String,
    u16,
    &'static [u64],
);

/// Server HMAC key for the token endpoints.
const SERVER_KEY_HEX: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_endpoints_and_tokenreview_refuse_bad_input() {
    let p = pki();
    let url = format!("sqlite://{}", p.ws.path("tokens.db").display());
    let key = PrivateKey::from_pem(p.ca_key_pem.as_bytes(), None).unwrap();
    let ca = kpki::signer::Ca::new(p.ca_pem.as_bytes(), key).unwrap();
    let db = CertDb::connect(&url).await.unwrap();
    let mut state = AppState::new(
        Some(ca),
        Config::from_json(CONFIG.as_bytes()).unwrap(),
        Some(db.clone()),
    );
    let server_key = hex::decode(SERVER_KEY_HEX).unwrap();
    state.auth_key = Some(server_key.clone());
    let api = Api {
        app: kpki::api::router(Arc::new(state), &[]),
        db: db.clone(),
        p,
    };
    let wrap = |inner: &str, key: &[u8], ts: i64| {
        serde_json::to_string(&AuthenticatedRequest::wrap(key, inner.as_bytes(), ts)).unwrap()
    };
    let now = unix_now();
    let k = server_key.as_slice();
    let tokens = "/api/v1/kpki/tokens";
    // (name, method, path, body, status, acceptable codes; empty = any)
    let cases: Vec<TokenCase> = vec![
        (
            "create: anonymous",
            "POST",
            tokens.into(),
            "{}".into(),
            401,
            &[7100],
        ),
        (
            "create: wrong key",
            "POST",
            tokens.into(),
            wrap("{}", b"not the key", now),
            401,
            &[7100],
        ),
        (
            "create: stale timestamp",
            "POST",
            tokens.into(),
            wrap("{}", k, now - 7200),
            401,
            &[7100],
        ),
        (
            "create: malformed inner JSON",
            "POST",
            tokens.into(),
            wrap("{\"ttl\": ", k, now),
            400,
            &[],
        ),
        (
            "create: ttl of the wrong type",
            "POST",
            tokens.into(),
            wrap(r#"{"ttl": 5}"#, k, now),
            400,
            &[],
        ),
        (
            "create: ttl not a duration",
            "POST",
            tokens.into(),
            wrap(r#"{"ttl": "forever"}"#, k, now),
            400,
            &[],
        ),
        (
            "create: negative ttl",
            "POST",
            tokens.into(),
            wrap(r#"{"ttl": "-1h"}"#, k, now),
            400,
            &[],
        ),
        (
            "create: group with spaces",
            "POST",
            tokens.into(),
            wrap(r#"{"groups": ["no spaces here"]}"#, k, now),
            400,
            &[],
        ),
        (
            "create: group outside system:bootstrappers",
            "POST",
            tokens.into(),
            wrap(r#"{"groups": ["system:masters"]}"#, k, now),
            400,
            &[],
        ),
        (
            "create: unknown usage",
            "POST",
            tokens.into(),
            wrap(r#"{"usages": ["root-access"]}"#, k, now),
            400,
            &[],
        ),
        (
            "create: groups of the wrong type",
            "POST",
            tokens.into(),
            wrap(r#"{"groups": "system:bootstrappers"}"#, k, now),
            400,
            &[],
        ),
        (
            "create: oversized body",
            "POST",
            tokens.into(),
            String::from_utf8(oversized()).unwrap(),
            413,
            &[413],
        ),
        (
            "list: anonymous",
            "GET",
            tokens.into(),
            String::new(),
            401,
            &[7100],
        ),
        (
            "delete: anonymous",
            "DELETE",
            format!("{tokens}/abcdef"),
            String::new(),
            401,
            &[7100],
        ),
        (
            "delete: bad id",
            "DELETE",
            format!("{tokens}/ABC!!!"),
            wrap(r#"{"id": "ABC!!!"}"#, k, now),
            400,
            &[],
        ),
        (
            "delete: signed for another id",
            "DELETE",
            format!("{tokens}/abcdef"),
            wrap(r#"{"id": "ghijkl"}"#, k, now),
            400,
            &[],
        ),
        (
            "delete: unknown id",
            "DELETE",
            format!("{tokens}/zzzzzz"),
            wrap(r#"{"id": "zzzzzz"}"#, k, now + 1),
            404,
            &[11200],
        ),
    ];
    let mut failures = Vec::new();
    for (name, method, path, body, status, codes) in &cases {
        let before = db.list_tokens().await.unwrap().len();
        let r = api.call(method, path, body.clone().into_bytes()).await;
        let mut problems = Vec::new();
        if r.status.as_u16() != *status {
            problems.push(format!("status {}, want {status}", r.status));
        }
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(v) => {
                let code = v["errors"][0]["code"].as_u64();
                if v["success"] != false || code.is_none() {
                    problems.push("not a coded failure envelope".into());
                }
                if let Some(c) = code
                    && !codes.is_empty()
                    && !codes.contains(&c)
                {
                    problems.push(format!("code {c}, want one of {codes:?}"));
                }
            }
            Err(e) => problems.push(format!("not JSON: {e}")),
        }
        if String::from_utf8_lossy(&r.body).contains("token-secret") {
            problems.push("a token secret in an error answer".into());
        }
        if db.list_tokens().await.unwrap().len() != before {
            problems.push("token rows changed".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{name}] {}: {}",
                problems.join("; "),
                r.describe()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} token cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // A good create still works, and its token passes a TokenReview.
    let r = api
        .call("POST", tokens, wrap("{}", k, unix_now() + 2).into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.describe());
    let created: Value = serde_json::from_slice(&r.body).unwrap();
    let token = created["result"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(db.list_tokens().await.unwrap().len(), 1);

    // TokenReview answers Kubernetes Status objects for bad requests.
    let review = "/apis/authentication.k8s.io/v1/tokenreviews";
    let tr = |t: Value| {
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": t}})
            .to_string()
    };
    let bad: Vec<(&str, String, u16)> = vec![
        ("empty body", String::new(), 400),
        ("not JSON", "hello".into(), 400),
        ("JSON array", "[1]".into(), 400),
        ("wrong kind", json!({"apiVersion": "authentication.k8s.io/v1", "kind": "Pod", "spec": {"token": token}}).to_string(), 400),
        ("unknown apiVersion", json!({"apiVersion": "authentication.k8s.io/v9", "kind": "TokenReview", "spec": {"token": token}}).to_string(), 400),
        ("spec of the wrong type", json!({"kind": "TokenReview", "spec": "x"}).to_string(), 400),
        ("oversized", String::from_utf8(oversized()).unwrap(), 413),
    ];
    let mut failures = Vec::new();
    for (name, body, status) in &bad {
        let r = api.call("POST", review, body.clone().into_bytes()).await;
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if r.status.as_u16() != *status
            || v["kind"] != "Status"
            || v["status"] != "Failure"
            || v["code"] != *status
        {
            failures.push(format!("[tokenreview: {name}] {}", r.describe()));
        }
    }
    // Tokens that must not authenticate (answered 200 with authenticated:false, or a 400).
    let wrong_secret = format!("{}.{}", &token[..6], "0000000000000000");
    for (name, t) in [
        ("wrong secret", json!(wrong_secret)),
        ("malformed token", json!("not-a-token")),
        ("empty token", json!("")),
        ("token of the wrong type", json!(12345)),
        ("token id only", json!(&token[..6])),
    ] {
        let r = api.call("POST", review, tr(t).into_bytes()).await;
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let refused = (r.status == StatusCode::OK && v["status"]["authenticated"] == false)
            || (r.status == StatusCode::BAD_REQUEST && v["kind"] == "Status");
        if !refused {
            failures.push(format!("[tokenreview: {name}] {}", r.describe()));
        }
    }
    let r = api
        .call("POST", review, tr(json!(token)).into_bytes())
        .await;
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"]["authenticated"], true, "{}", r.describe());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    api.good_sign("token endpoints").await;
}

/// Regression for a kpki bug the token_csv fuzz target found (fixed in 6137023):
/// `token::csv_line` (behind `kpki token csv`) refused spaces and tabs in a token but accepted
/// other whitespace (form feed, vertical tab, NBSP), a leading `#` and a byte-order mark, and
/// wrote lines its own checker (`check_token_file`, `kpki token check`) then warned about. The
/// writer must refuse what the checker warns about.
#[test]
fn token_csv_line_refuses_what_the_token_file_check_warns_about() {
    let mut problems = Vec::new();
    for token in ["\u{c}abc", "abc\u{b}", "\u{a0}abc", "#abc", "\u{feff}abc"] {
        if let Ok(line) = kpki::token::csv_line(token, "user", "uid", &[]) {
            let back = kpki::token::check_token_file(line.as_bytes());
            if !back.problems.is_empty() {
                problems.push(format!(
                    "{token:?}: written as {line:?}, then {:?}",
                    back.problems
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "kpki bug: csv_line writes tokens its checker warns about:\n{}",
        problems.join("\n")
    );
}

/// `cluster init` validates the whole inventory before writing anything; a failure while
/// writing (a path taken by a directory) leaves no temp files, and the next run completes the
/// tree, keeping what was already issued.
#[test]
fn cli_cluster_init_refuses_bad_inventories_and_recovers_from_write_errors() {
    let ws = Workspace::with_tools(Tools::kpki());
    let inventories = [
        ("unclosed YAML", "name: x\nnodes: [\n"),
        (
            "invalid IP",
            "name: x\nnodes:\n  - {name: n1, ip: 999.1.1.1, roles: [etcd]}\n",
        ),
        (
            "bad node name",
            "name: x\nnodes:\n  - {name: \"bad name!\", ip: 10.0.0.1, roles: [worker]}\n",
        ),
        (
            "unknown role",
            "name: x\nnodes:\n  - {name: n1, ip: 10.0.0.1, roles: [wizard]}\n",
        ),
        ("no nodes", "name: x\nnodes: []\n"),
        (
            "bad service CIDR",
            "name: x\nserviceCIDR: 10.0.0.0/99\nnodes:\n  - {name: n1, ip: 10.0.0.1, roles: [etcd, control-plane]}\n",
        ),
        (
            "duplicate node",
            "name: x\nnodes:\n  - {name: n1, ip: 10.0.0.1, roles: [etcd, control-plane]}\n  - {name: n1, ip: 10.0.0.2, roles: [worker]}\n",
        ),
        ("JSON of the wrong shape", r#"{"name": 5, "nodes": "n1"}"#),
        ("binary", "\u{0}\u{1}\u{2}"),
    ];
    let mut cases = Vec::new();
    for (i, (name, text)) in inventories.iter().enumerate() {
        let file = format!("inv{i}.yaml");
        ws.write(&file, text);
        cases.push(case(
            name,
            vec![
                "cluster".into(),
                "init".into(),
                "-f".into(),
                file,
                "-o".into(),
                format!("out{i}"),
            ],
            &[5200, 7200],
        ));
    }
    cases.push(case(
        "missing inventory",
        with(&["cluster", "init", "-f", "missing.yaml", "-o"], &["outm"]),
        &[7300, 5200],
    ));
    run_cli_cases(&ws, &cases);

    // A write error late in the run: no temp files; fixing it and re-running completes.
    ws.write(
        "cluster.yaml",
        "name: x\nnodes:\n  - {name: node1, ip: 127.0.0.1, roles: [etcd, control-plane, worker]}\n",
    );
    std::fs::create_dir_all(ws.path("out/kubeconfig/admin.kubeconfig")).unwrap();
    let out = ws.run(
        "kpki",
        &["cluster", "init", "-f", "cluster.yaml", "-o", "out"],
    );
    out.exit_code(1);
    assert!(out.error_json().is_some(), "{}", out.describe());
    let temps: Vec<String> = dir_snapshot(&ws.path("out"))
        .keys()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    let issued_before: Vec<PathBuf> = dir_snapshot(&ws.path("out")).into_keys().collect();
    std::fs::remove_dir(ws.path("out/kubeconfig/admin.kubeconfig")).unwrap();
    let again = ws.run(
        "kpki",
        &["cluster", "init", "-f", "cluster.yaml", "-o", "out"],
    );
    again.ok();
    assert!(
        !again.stdout.lines().any(|l| l.starts_with("renewed")),
        "the re-run should keep what exists: {}",
        again.stdout
    );
    let after = dir_snapshot(&ws.path("out"));
    for p in issued_before {
        assert!(after.contains_key(&p), "{} vanished", p.display());
    }
    assert!(
        after
            .keys()
            .any(|p| p.ends_with("kubeconfig/admin.kubeconfig"))
    );
}
