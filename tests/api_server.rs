//! `kpki serve` as a real process on 127.0.0.1: the embedded CA and its data directory,
//! restarts, SIGTERM, authsign (HMAC, replays, clock skew), revocation and CRLs through the
//! API and the CLI, TLS and mutual TLS, and the refusal to listen publicly without
//! authentication. Servers are stopped by PID (ProcessGuard); every certificate obtained is
//! checked with `openssl verify`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use common::serve::*;
use common::*;
use kpki::auth::AuthenticatedRequest;
use serde_json::{Value, json};

const SIGN: &str = "/api/v1/cfssl/sign";
const AUTHSIGN: &str = "/api/v1/cfssl/authsign";
const REVOKE: &str = "/api/v1/cfssl/revoke";
const CRL: &str = "/api/v1/cfssl/crl";
const INFO: &str = "/api/v1/cfssl/info";
const CERTS: &str = "/api/v1/kpki/certificates";

const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// HMAC key of the `authed` profile.
const AUTH_KEY_HEX: &str = "0123456789abcdef0123456789abcdef";

const SERVER_CONFIG: &str = r#"{
  "signing": {
    "default": { "expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"] },
    "profiles": {
      "www":    { "expiry": "720h", "usages": ["signing", "key encipherment", "server auth"] },
      "authed": { "expiry": "720h", "usages": ["signing", "client auth"], "auth_key": "k" }
    }
  },
  "auth_keys": { "k": { "type": "standard", "key": "0123456789abcdef0123456789abcdef" } }
}"#;

const TLS_CONFIG: &str = r#"{
  "signing": {
    "default": { "expiry": "8760h" },
    "profiles": {
      "server": { "expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"] },
      "client": { "expiry": "8760h", "usages": ["signing", "key encipherment", "client auth"] }
    }
  }
}"#;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn workspace() -> Workspace {
    Workspace::with_tools(Tools::kpki())
}

/// A fresh ECDSA CSR (PEM) from kpki's CSR code.
fn csr(cn: &str) -> String {
    let req = kpki::csr::CertificateRequest::from_json(
        json!({"CN": cn, "hosts": [cn], "key": {"algo": "ecdsa", "size": 256}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    kpki::csr::generate(&req).expect("CSR").csr_pem
}

fn sign_body(csr: &str, profile: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"certificate_request": csr, "profile": profile})).unwrap()
}

/// `kpki gencert -initca` in the workspace → `NAME.pem`, `NAME-key.pem`.
fn make_ca(ws: &Workspace, name: &str, cn: &str) {
    ws.write_json(
        &format!("{name}-csr.json"),
        &json!({"CN": cn, "names": [{"O": "kpki tests"}], "key": {"algo": "ecdsa", "size": 256}}),
    );
    let out = ws.run("kpki", &["gencert", "-initca", &format!("{name}-csr.json")]);
    let v = out.ok().json();
    ws.write(&format!("{name}.pem"), v["cert"].as_str().unwrap());
    ws.write(&format!("{name}-key.pem"), v["key"].as_str().unwrap());
}

/// `kpki gencert -ca CA.pem -ca-key CA-key.pem -config cfg -profile P -hostname H` → `NAME.pem`,
/// `NAME-key.pem`.
fn make_leaf(
    ws: &Workspace,
    ca: &str,
    cfg: &str,
    profile: &str,
    name: &str,
    cn: &str,
    hosts: &str,
) {
    ws.write_json(
        &format!("{name}-csr.json"),
        &json!({"CN": cn, "key": {"algo": "ecdsa", "size": 256}}),
    );
    let out = ws.run(
        "kpki",
        &[
            "gencert",
            "-ca",
            &format!("{ca}.pem"),
            "-ca-key",
            &format!("{ca}-key.pem"),
            "-config",
            cfg,
            "-profile",
            profile,
            "-hostname",
            hosts,
            &format!("{name}-csr.json"),
        ],
    );
    let v = out.ok().json();
    ws.write(&format!("{name}.pem"), v["cert"].as_str().unwrap());
    ws.write(&format!("{name}-key.pem"), v["key"].as_str().unwrap());
    assert_openssl_verifies(ws, &format!("{ca}.pem"), None, None, &format!("{name}.pem"));
}

/// Writes `cert_pem` as `file` in the workspace, checks `openssl verify -CAfile ca`, and
/// returns (x509-parser summary, lowercase-hex AKI).
#[track_caller]
fn verified(ws: &Workspace, ca: &str, file: &str, cert_pem: &str) -> (CertSummary, String) {
    ws.write(file, cert_pem);
    assert_openssl_verifies(ws, ca, None, None, file);
    let c = summarize_cert_pem(cert_pem);
    let issuer = summarize_cert_pem(&ws.read(ca));
    c.verify_signed_by(Some(&issuer)).expect("signature");
    let aki = hex::encode(c.aki.as_ref().expect("AKI"));
    (c, aki)
}

/// Signs `csr` under `profile` over plain HTTP; returns the certificate PEM.
#[track_caller]
fn http_sign(port: u16, csr: &str, profile: &str) -> String {
    let r = post_json(port, SIGN, &sign_body(csr, profile));
    ok_result(&r)["certificate"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate: {}", r.describe()))
        .to_string()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s}"))
}

/// `PRAGMA integrity_check` of an SQLite file: via the sqlite3 CLI when present, else via
/// kpki's database layer.
fn integrity_check(path: &std::path::Path) -> String {
    if find_program("sqlite3").is_some() {
        let mut c = std::process::Command::new("sqlite3");
        c.arg(path).arg("PRAGMA integrity_check;");
        let out = run_bounded(c, None, Duration::from_secs(30), "sqlite3 integrity_check");
        out.ok();
        out.stdout.trim().to_string()
    } else {
        loud("sqlite3 not on PATH: integrity check through kpki::db instead");
        let url = format!("sqlite://{}", path.display());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let db = kpki::db::CertDb::connect(&url).await.expect("open db");
            let r = db.integrity_check().await.expect("integrity_check");
            db.close().await.expect("close");
            r
        })
    }
}

/// SIGTERMs the server and asserts exit status 0.
#[track_caller]
fn stop(guard: &mut ProcessGuard, s: &Server) {
    let st = guard.terminate(s.pid, STOP_TIMEOUT);
    assert_eq!(
        st.code(),
        Some(0),
        "kpki serve must exit 0 on SIGTERM, got {st}\n--- log ---\n{}",
        s.log_text()
    );
}

/// The serials listed by `GET /api/v1/kpki/certificates`.
fn listed_serials(port: u16) -> Vec<String> {
    let v = ok_result(&get(port, &format!("{CERTS}?limit=1000")));
    v["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .map(|r| r["serial_number"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts `openssl verify -crl_check` says `cert` is revoked (error 23).
#[track_caller]
fn assert_revoked_by_crl(ws: &Workspace, crl: &str, ca: &str, cert: &str) {
    let mut c = std::process::Command::new("openssl");
    c.current_dir(ws.dir())
        .args(["verify", "-crl_check", "-CRLfile", crl, "-CAfile", ca, cert]);
    let out = run_bounded(
        c,
        None,
        Duration::from_secs(30),
        "openssl verify -crl_check",
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !out.success() && all.contains("error 23") && all.contains("certificate revoked"),
        "{cert} should be revoked by {crl}: {}",
        out.describe()
    );
}

#[track_caller]
fn assert_good_with_crl(ws: &Workspace, crl: &str, ca: &str, cert: &str) {
    let mut c = std::process::Command::new("openssl");
    c.current_dir(ws.dir())
        .args(["verify", "-crl_check", "-CRLfile", crl, "-CAfile", ca, cert]);
    let out = run_bounded(
        c,
        None,
        Duration::from_secs(30),
        "openssl verify -crl_check",
    );
    assert!(
        out.success() && out.stdout.contains(": OK"),
        "{cert} should verify with {crl}: {}",
        out.describe()
    );
}

/// openssl's text dump of a CRL file (`-inform DER` or PEM).
fn crl_text(ws: &Workspace, file: &str, der: bool) -> String {
    let mut args = vec!["crl"];
    if der {
        args.extend(["-inform", "DER"]);
    }
    args.extend(["-in", file, "-noout", "-text"]);
    openssl(ws, &args).stdout
}

/// The CRL Number openssl prints.
fn crl_number(text: &str) -> u64 {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.contains("X509v3 CRL Number") {
            let n = lines.next().expect("CRL number value").trim();
            return n.parse().unwrap_or_else(|_| panic!("CRL number {n:?}"));
        }
    }
    panic!("no CRL Number in:\n{text}");
}

/// Serial as openssl prints it in a CRL (upper-case hex, no colons).
fn openssl_serial(c: &CertSummary) -> String {
    hex::encode_upper(&c.serial_bytes)
}

// ---------------------------------------------------------------------------
// Embedded CA, restart, SIGTERM
// ---------------------------------------------------------------------------

#[test]
fn embedded_ca_survives_restart_with_its_records() {
    if !require_program("openssl") {
        return;
    }
    let ws = workspace();
    let data = ws.path("data");
    let data_s = data.to_str().unwrap();
    assert!(!data.exists());
    let mut guard = ProcessGuard::new();

    let s1 = start_serve(&mut guard, ws.dir(), &["-data-dir", data_s], Ready::Health);
    assert_eq!(ws.mode("data"), 0o700, "data dir mode");
    assert_eq!(ws.mode("data/ca-key.pem"), 0o600, "CA key mode");
    let ca_pem = std::fs::read(data.join("ca.pem")).expect("ca.pem");
    let ca_key = std::fs::read(data.join("ca-key.pem")).expect("ca-key.pem");
    let ca = summarize_cert_pem(std::str::from_utf8(&ca_pem).unwrap());
    assert!(ca.is_ca(), "embedded CA must be a CA");
    ca.verify_signed_by(None).expect("self-signed CA");
    assert_openssl_verifies(&ws, "data/ca.pem", None, None, "data/ca.pem");
    assert!(data.join("certs.db").exists(), "certs.db in the data dir");

    // Sign through raw HTTP: once with a JSON content type, once without any.
    let cert1 = http_sign(s1.port, &csr("first.example"), "");
    let (c1, aki) = verified(&ws, "data/ca.pem", "first.pem", &cert1);
    assert_eq!(aki, hex::encode(ca.ski.as_ref().unwrap()));
    let r = http_request(
        s1.port,
        "POST",
        SIGN,
        &[],
        Some(&sign_body(&csr("second.example"), "")),
    )
    .unwrap();
    let (c2, _) = verified(
        &ws,
        "data/ca.pem",
        "second.pem",
        ok_result(&r)["certificate"].as_str().unwrap(),
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let listed = listed_serials(s1.port);
    assert!(listed.contains(&c1.serial_decimal) && listed.contains(&c2.serial_decimal));

    stop(&mut guard, &s1);
    let db_path = data.join("certs.db");
    assert_eq!(integrity_check(&db_path), "ok");
    let wal = data.join("certs.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL not checkpointed on a clean stop: the database was not closed"
    );
    let rows = certs_json(&format!("sqlite://{}", db_path.display()), &[]);
    assert!(find_record(&rows, &c1.serial_decimal, &aki).is_some());
    assert!(find_record(&rows, &c2.serial_decimal, &aki).is_some());

    // Restart on the same data dir: same CA, same records.
    let s2 = start_serve(&mut guard, ws.dir(), &["-data-dir", data_s], Ready::Health);
    assert_eq!(
        std::fs::read(data.join("ca.pem")).unwrap(),
        ca_pem,
        "ca.pem changed"
    );
    assert_eq!(
        std::fs::read(data.join("ca-key.pem")).unwrap(),
        ca_key,
        "ca-key.pem changed"
    );
    assert!(
        !s2.log_text().contains("created a new CA"),
        "restart created a new CA:\n{}",
        s2.log_text()
    );
    let info = ok_result(&post_json(s2.port, INFO, b"{}"));
    assert_eq!(
        pem_block(info["certificate"].as_str().unwrap(), "CERTIFICATE"),
        ca.der,
        "info after restart serves another CA"
    );
    let listed = listed_serials(s2.port);
    assert!(
        listed.contains(&c1.serial_decimal) && listed.contains(&c2.serial_decimal),
        "records lost across restart: {listed:?}"
    );
    let one = ok_result(&get(s2.port, &format!("{CERTS}/{}", c1.serial_decimal)));
    assert_eq!(
        pem_block(
            one["certificates"][0]["pem"].as_str().unwrap(),
            "CERTIFICATE"
        ),
        c1.der
    );
    let cert3 = http_sign(s2.port, &csr("third.example"), "");
    let (c3, _) = verified(&ws, "data/ca.pem", "third.pem", &cert3);
    assert_eq!(listed_serials(s2.port).len(), 3);
    stop(&mut guard, &s2);
    assert_eq!(integrity_check(&db_path), "ok");
    let rows = certs_json(&format!("sqlite://{}", db_path.display()), &[]);
    assert_eq!(rows.len(), 3);
    assert!(find_record(&rows, &c3.serial_decimal, &aki).is_some());
}

#[test]
fn embedded_ca_key_is_encrypted_with_a_passphrase_and_needs_it_to_start() {
    if !require_program("openssl") {
        return;
    }
    let ws = workspace();
    ws.write("pass.txt", "embedded pass phrase\n");
    let mut guard = ProcessGuard::new();
    let enc = ["-data-dir", "data", "-ca-key-passphrase", "file:pass.txt"];
    let s1 = start_serve(&mut guard, ws.dir(), &enc, Ready::Health);
    let key = ws.read("data/ca-key.pem");
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "embedded CA key not encrypted:\n{key}"
    );
    assert_eq!(ws.mode("data/ca-key.pem"), 0o600, "CA key mode");
    // openssl (independent) opens it with the passphrase and not without it; it matches ca.pem.
    let pubkey = openssl(
        &ws,
        &[
            "pkey",
            "-in",
            "data/ca-key.pem",
            "-passin",
            "file:pass.txt",
            "-pubout",
        ],
    )
    .stdout
    .clone();
    let cert_pub = openssl(&ws, &["x509", "-in", "data/ca.pem", "-noout", "-pubkey"])
        .stdout
        .clone();
    assert_eq!(pubkey, cert_pub, "the encrypted key does not match ca.pem");
    let mut c = std::process::Command::new("openssl");
    c.current_dir(ws.dir()).args([
        "pkey",
        "-in",
        "data/ca-key.pem",
        "-passin",
        "pass:wrong",
        "-noout",
    ]);
    run_bounded(c, None, Duration::from_secs(30), "openssl pkey wrong pass").failed();
    let cert1 = http_sign(s1.port, &csr("enc.example"), "");
    verified(&ws, "data/ca.pem", "enc.pem", &cert1);
    stop(&mut guard, &s1);

    // Without the passphrase the server does not start, says why, and leaves the key alone.
    let mut c = std::process::Command::new(kpki_bin());
    c.current_dir(ws.dir()).args([
        "serve",
        "-port",
        &free_port().to_string(),
        "-data-dir",
        "data",
    ]);
    let out = run_bounded(c, None, Duration::from_secs(30), "serve without passphrase");
    out.failed();
    assert_eq!(out.error_code(), 2100, "{}", out.describe());
    assert!(
        out.stderr.contains("-ca-key-passphrase"),
        "{}",
        out.describe()
    );
    assert_eq!(ws.read("data/ca-key.pem"), key, "key file changed");

    // With it, the same CA comes back and signs.
    let s2 = start_serve(&mut guard, ws.dir(), &enc, Ready::Health);
    let cert2 = http_sign(s2.port, &csr("enc2.example"), "");
    verified(&ws, "data/ca.pem", "enc2.pem", &cert2);
    stop(&mut guard, &s2);
}

#[test]
fn sigterm_under_load_exits_0_and_every_answered_certificate_is_recorded() {
    if !require_program("openssl") {
        return;
    }
    let ws = workspace();
    let data = ws.path("data");
    let mut guard = ProcessGuard::new();
    let s = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", data.to_str().unwrap()],
        Ready::Health,
    );
    let answered = Arc::new(AtomicUsize::new(0));
    let port = s.port;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut certs = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(30);
                for i in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let body = sign_body(&csr(&format!("load-{w}-{i}.example")), "");
                    match http_request(port, "POST", SIGN, &[], Some(&body)) {
                        Ok(r) if r.status == 200 => {
                            certs.push(
                                r.json()["result"]["certificate"]
                                    .as_str()
                                    .unwrap()
                                    .to_string(),
                            );
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        // During shutdown: refused or reset connections, nothing else.
                        Ok(r) => panic!("unexpected answer during shutdown: {}", r.describe()),
                        Err(_) => break,
                    }
                }
                certs
            })
        })
        .collect();
    poll_until(Duration::from_secs(20), Duration::from_millis(10), || {
        if answered.load(Ordering::SeqCst) >= 8 {
            Ok(())
        } else {
            Err("fewer than 8 answers".into())
        }
    })
    .expect("server answers sign requests");
    stop(&mut guard, &s);
    let certs: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    assert!(certs.len() >= 8);
    let db_path = data.join("certs.db");
    assert_eq!(integrity_check(&db_path), "ok");
    let rows = certs_json(&format!("sqlite://{}", db_path.display()), &[]);
    for (i, pem_text) in certs.iter().enumerate() {
        let c = summarize_cert_pem(pem_text);
        let aki = hex::encode(c.aki.as_ref().unwrap());
        assert!(
            find_record(&rows, &c.serial_decimal, &aki).is_some(),
            "certificate #{i} (serial {}) was answered but is not in the database",
            c.serial_decimal
        );
    }
    // Spot-check a few with openssl.
    for (i, pem_text) in certs.iter().take(3).enumerate() {
        verified(&ws, "data/ca.pem", &format!("load{i}.pem"), pem_text);
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    use std::io::{Read, Write};
    let ws = workspace();
    let data = ws.path("data");
    let mut guard = ProcessGuard::new();
    let s = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", data.to_str().unwrap()],
        Ready::Health,
    );
    // Headers and half of the body, then SIGTERM, then the rest of the body.
    let body = sign_body(&csr("inflight.example"), "");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "POST {SIGN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &s.pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        guard.is_running(s.pid),
        "the server exited with a request in flight:\n{}",
        s.log_text()
    );
    // New connections are no longer served.
    let late = http_request(s.port, "GET", "/api/v1/cfssl/health", &[], None);
    assert!(
        !late.as_ref().is_ok_and(|r| r.status == 200),
        "a new request was served after SIGTERM: {late:?}"
    );
    conn.write_all(rest).unwrap();
    conn.flush().unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let r = parse_response(&raw).expect("a complete response to the in-flight request");
    let cert = ok_result(&r)["certificate"].as_str().unwrap().to_string();
    stop(&mut guard, &s);
    let (c, aki) = verified(&ws, "data/ca.pem", "inflight.pem", &cert);
    let rows = certs_json(
        &format!("sqlite://{}", data.join("certs.db").display()),
        &[],
    );
    assert!(find_record(&rows, &c.serial_decimal, &aki).is_some());
}

#[test]
fn disable_flag_removes_endpoints() {
    let ws = workspace();
    let mut guard = ProcessGuard::new();
    let s = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", "data", "-disable", "sign,revoke, crl"],
        Ready::Health,
    );
    for (method, path) in [("POST", SIGN), ("POST", REVOKE), ("GET", CRL)] {
        let r = http_request(s.port, method, path, &[], Some(b"{}")).unwrap();
        assert_eq!(err_of(&r, 404)["code"], 404, "{path} should be disabled");
    }
    // newcert still issues.
    let r = post_json(
        s.port,
        "/api/v1/cfssl/newcert",
        br#"{"request":{"CN":"n.example","hosts":["n.example"],"key":{"algo":"ecdsa","size":256}}}"#,
    );
    verified(
        &ws,
        "data/ca.pem",
        "n.pem",
        ok_result(&r)["certificate"].as_str().unwrap(),
    );
    stop(&mut guard, &s);
}

// ---------------------------------------------------------------------------
// authsign
// ---------------------------------------------------------------------------

/// A server with its own CA files, the config above and a database file.
fn start_configured(ws: &Workspace, guard: &mut ProcessGuard, extra: &[&str]) -> (Server, String) {
    if !ws.exists("ca.pem") {
        make_ca(ws, "ca", "api server test CA");
        ws.write("server-config.json", SERVER_CONFIG);
    }
    let db_url = format!("sqlite://{}", ws.path("certs.db").display());
    let mut args = vec![
        "-ca",
        "ca.pem",
        "-ca-key",
        "ca-key.pem",
        "-config",
        "server-config.json",
        "-db",
        &db_url,
    ];
    args.extend_from_slice(extra);
    let s = start_serve(guard, ws.dir(), &args, Ready::Health);
    (s, db_url)
}

fn wrapped(key: &[u8], csr: &str, profile: &str, timestamp: i64) -> Vec<u8> {
    let env = AuthenticatedRequest::wrap(key, &sign_body(csr, profile), timestamp);
    serde_json::to_vec(&env).unwrap()
}

#[test]
fn authsign_accepts_hmac_and_refuses_replay_stale_and_wrong_key() {
    if !require_program("openssl") {
        return;
    }
    let ws = workspace();
    let mut guard = ProcessGuard::new();
    let (s, db_url) = start_configured(&ws, &mut guard, &[]);
    let key = hex::decode(AUTH_KEY_HEX).unwrap();

    let body = wrapped(&key, &csr("authed.example"), "authed", unix_now());
    let r = post_json(s.port, AUTHSIGN, &body);
    let (c, aki) = verified(
        &ws,
        "ca.pem",
        "authed.pem",
        ok_result(&r)["certificate"].as_str().unwrap(),
    );
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));
    let rows = certs_json(&db_url, &[]);
    assert_eq!(
        find_record(&rows, &c.serial_decimal, &aki).map(|r| r["profile"].clone()),
        Some(json!("authed"))
    );

    // The exact same captured body again: refused.
    let r = post_json(s.port, AUTHSIGN, &body);
    let e = err_of(&r, 401);
    assert!(
        e["message"].as_str().unwrap().contains("replay"),
        "replay: {}",
        r.describe()
    );
    // Stale and future timestamps (fresh tokens).
    for skew in [-600, 600] {
        let r = post_json(
            s.port,
            AUTHSIGN,
            &wrapped(&key, &csr("stale.example"), "authed", unix_now() + skew),
        );
        let e = err_of(&r, 401);
        assert!(
            e["message"].as_str().unwrap().contains("stale"),
            "skew {skew}: {}",
            r.describe()
        );
    }
    // Wrong key.
    let r = post_json(
        s.port,
        AUTHSIGN,
        &wrapped(
            b"another key entirely",
            &csr("wrong.example"),
            "authed",
            unix_now(),
        ),
    );
    assert_eq!(err_of(&r, 401)["message"], "invalid token");
    // A token for one request does not authenticate another one.
    let env: Value =
        serde_json::from_slice(&wrapped(&key, &csr("orig.example"), "authed", unix_now())).unwrap();
    let mut forged = env.clone();
    forged["request"] = json!(
        base64::engine::general_purpose::STANDARD.encode(sign_body(&csr("evil.example"), "authed"))
    );
    let r = post_json(s.port, AUTHSIGN, &serde_json::to_vec(&forged).unwrap());
    assert_eq!(err_of(&r, 401)["message"], "invalid token");
    // The profile needs authentication on /sign.
    let r = post_json(s.port, SIGN, &sign_body(&csr("plain.example"), "authed"));
    assert_eq!(err_of(&r, 400)["message"], "authentication required");
    assert_eq!(
        certs_json(&db_url, &[]).len(),
        1,
        "a refused request was recorded"
    );

    // The replay memory survives a restart.
    stop(&mut guard, &s);
    let (s2, _) = start_configured(&ws, &mut guard, &[]);
    let r = post_json(s2.port, AUTHSIGN, &body);
    err_of(&r, 401);
    assert_eq!(certs_json(&db_url, &[]).len(), 1);
    stop(&mut guard, &s2);
}

/// cfssl's HMAC covers only the inner request, not `timestamp`. A captured body whose
/// timestamp is rewritten to "now" must still be refused once its first use has been
/// forgotten — otherwise the replay protection only lasts until the remembered entry expires.
#[test]
fn authsign_replay_with_rewritten_timestamp_is_refused() {
    let ws = workspace();
    let mut guard = ProcessGuard::new();
    let (s, db_url) = start_configured(&ws, &mut guard, &[]);
    let key = hex::decode(AUTH_KEY_HEX).unwrap();
    // A legitimate request at the edge of the clock window (e.g. a client 299 s behind).
    let body = wrapped(&key, &csr("edge.example"), "authed", unix_now() - 299);
    ok_result(&post_json(s.port, AUTHSIGN, &body));
    // An eavesdropper replays it a few seconds later with a fresh timestamp.
    std::thread::sleep(Duration::from_millis(3500));
    let mut replay: Value = serde_json::from_slice(&body).unwrap();
    replay["timestamp"] = json!(unix_now());
    let r = post_json(s.port, AUTHSIGN, &serde_json::to_vec(&replay).unwrap());
    let rows = certs_json(&db_url, &[]);
    assert_eq!(
        r.status,
        401,
        "a replayed token with a rewritten timestamp was accepted ({} certificates issued): {}",
        rows.len(),
        r.describe()
    );
    stop(&mut guard, &s);
}

#[test]
fn require_auth_with_server_key() {
    let ws = workspace();
    let server_key = "fedcba9876543210fedcba9876543210";
    ws.write("server.key", format!("{server_key}\n"));
    let mut guard = ProcessGuard::new();
    let (s, db_url) = start_configured(
        &ws,
        &mut guard,
        &["-auth-key", "file:server.key", "-require-auth"],
    );
    let key = hex::decode(server_key).unwrap();
    // Unauthenticated state-changing requests are refused…
    let r = post_json(s.port, SIGN, &sign_body(&csr("u.example"), "www"));
    err_of(&r, 401);
    let r = post_json(
        s.port,
        REVOKE,
        br#"{"serial":"1","authority_key_id":"00","reason":"superseded"}"#,
    );
    err_of(&r, 401);
    // …reads are not.
    ok_result(&get(s.port, "/api/v1/cfssl/health"));
    ok_result(&post_json(s.port, INFO, b"{}"));
    // Wrapped with the server key: accepted.
    let r = post_json(
        s.port,
        SIGN,
        &wrapped(&key, &csr("w.example"), "www", unix_now()),
    );
    let (c, aki) = verified(
        &ws,
        "ca.pem",
        "w.pem",
        ok_result(&r)["certificate"].as_str().unwrap(),
    );
    assert!(find_record(&certs_json(&db_url, &[]), &c.serial_decimal, &aki).is_some());
    // Wrapped with another key: refused.
    let r = post_json(
        s.port,
        SIGN,
        &wrapped(b"nope", &csr("x.example"), "www", unix_now()),
    );
    err_of(&r, 401);
    assert_eq!(certs_json(&db_url, &[]).len(), 1);
    // Revocation wrapped with the server key.
    let inner = serde_json::to_vec(
        &json!({"serial": c.serial_decimal, "authority_key_id": aki, "reason": "superseded"}),
    )
    .unwrap();
    let env = AuthenticatedRequest::wrap(&key, &inner, unix_now());
    let r = post_json(s.port, REVOKE, &serde_json::to_vec(&env).unwrap());
    assert_eq!(ok_result(&r), json!({}));
    let rows = certs_json(&db_url, &[]);
    let rec = find_record(&rows, &c.serial_decimal, &aki).unwrap();
    assert_eq!(
        (rec["status"].clone(), rec["reason"].clone()),
        (json!("revoked"), json!(4))
    );
    stop(&mut guard, &s);
}

// ---------------------------------------------------------------------------
// Revocation and CRLs: API and CLI on the same database
// ---------------------------------------------------------------------------

#[test]
fn revoke_and_crl_through_api_and_cli() {
    if !require_program("openssl") {
        return;
    }
    let ws = workspace();
    let mut guard = ProcessGuard::new();
    let (s, db_url) = start_configured(&ws, &mut guard, &[]);
    let mut certs = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let pem_text = http_sign(s.port, &csr(&format!("{name}.example")), "www");
        certs.push(verified(&ws, "ca.pem", &format!("{name}.pem"), &pem_text));
    }
    let aki = certs[0].1.clone();
    let serial = |i: usize| certs[i].0.serial_decimal.clone();

    // Revoke a through the API.
    let r = post_json(
        s.port,
        REVOKE,
        &serde_json::to_vec(
            &json!({"serial": serial(0), "authority_key_id": aki, "reason": "keyCompromise"}),
        )
        .unwrap(),
    );
    assert_eq!(ok_result(&r), json!({}));

    // The CRL from the server.
    let crl_b64 = ok_result(&get(s.port, CRL));
    ws.write("crl1.der", b64(crl_b64.as_str().expect("base64 CRL")));
    let text = crl_text(&ws, "crl1.der", true);
    let n1 = crl_number(&text);
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains(&openssl_serial(&certs[0].0)), "{text}");
    assert!(!text.contains(&openssl_serial(&certs[1].0)), "{text}");
    openssl(
        &ws,
        &[
            "crl", "-inform", "DER", "-in", "crl1.der", "-out", "crl1.pem",
        ],
    );
    let v = openssl(
        &ws,
        &["crl", "-in", "crl1.pem", "-CAfile", "ca.pem", "-noout"],
    );
    assert!(format!("{}{}", v.stdout, v.stderr).contains("verify OK"));
    assert_revoked_by_crl(&ws, "crl1.pem", "ca.pem", "a.pem");
    assert_good_with_crl(&ws, "crl1.pem", "ca.pem", "b.pem");
    assert_good_with_crl(&ws, "crl1.pem", "ca.pem", "c.pem");

    // The CLI on the same database while the server runs: default reason, then keyCompromise.
    ws.run(
        "kpki",
        &[
            "revoke",
            "-db",
            &db_url,
            "-serial",
            &serial(2),
            "-aki",
            &aki,
        ],
    )
    .ok();
    ws.run(
        "kpki",
        &[
            "revoke",
            "-db",
            &db_url,
            "-serial",
            &serial(3),
            "-aki",
            &aki,
            "-reason",
            "keyCompromise",
        ],
    )
    .ok();
    let out = ws.run(
        "kpki",
        &["revoke", "-db", &db_url, "-serial", "4242", "-aki", &aki],
    );
    out.failed();
    assert_eq!(out.error_code(), 11200, "{}", out.describe());

    let rows = certs_json(&db_url, &[]);
    assert_eq!(rows.len(), 4);
    let rec = |i: usize| {
        find_record(&rows, &serial(i), &aki)
            .expect("record")
            .clone()
    };
    assert_eq!(
        (rec(0)["status"].clone(), rec(0)["reason"].clone()),
        (json!("revoked"), json!(1))
    );
    assert_eq!(
        (rec(1)["status"].clone(), rec(1)["reason"].clone()),
        (json!("good"), json!(0))
    );
    assert_eq!(
        (rec(2)["status"].clone(), rec(2)["reason"].clone()),
        (json!("revoked"), json!(0))
    );
    assert_eq!(
        (rec(3)["status"].clone(), rec(3)["reason"].clone()),
        (json!("revoked"), json!(1))
    );
    for i in [0, 2, 3] {
        assert!(rec(i)["revoked_at"].is_string(), "revoked_at of {i}");
    }
    let revoked = certs_json(&db_url, &["-status", "revoked"]);
    assert_eq!(revoked.len(), 3);

    // kpki crl -pem from the CLI.
    let out = ws.run(
        "kpki",
        &[
            "crl",
            "-db",
            &db_url,
            "-ca",
            "ca.pem",
            "-ca-key",
            "ca-key.pem",
            "-pem",
        ],
    );
    out.ok();
    assert_eq!(pem_labels(&out.stdout), ["X509 CRL"]);
    ws.write("crl2.pem", &out.stdout);
    let text = crl_text(&ws, "crl2.pem", false);
    let n2 = crl_number(&text);
    assert!(n2 > n1, "CRL number must grow: {n1} then {n2}");
    for i in [0, 2, 3] {
        assert!(text.contains(&openssl_serial(&certs[i].0)), "{text}");
    }
    assert_revoked_by_crl(&ws, "crl2.pem", "ca.pem", "a.pem");
    assert_good_with_crl(&ws, "crl2.pem", "ca.pem", "b.pem");
    assert_revoked_by_crl(&ws, "crl2.pem", "ca.pem", "c.pem");
    assert_revoked_by_crl(&ws, "crl2.pem", "ca.pem", "d.pem");

    // The server sees the CLI's revocations, and keeps counting CRLs.
    let crl_b64 = ok_result(&get(s.port, &format!("{CRL}?expiry=24h")));
    ws.write("crl3.der", b64(crl_b64.as_str().unwrap()));
    openssl(
        &ws,
        &[
            "crl", "-inform", "DER", "-in", "crl3.der", "-out", "crl3.pem",
        ],
    );
    let text = crl_text(&ws, "crl3.pem", false);
    assert!(crl_number(&text) > n2);
    assert_revoked_by_crl(&ws, "crl3.pem", "ca.pem", "d.pem");
    assert_good_with_crl(&ws, "crl3.pem", "ca.pem", "b.pem");
    stop(&mut guard, &s);
}

// ---------------------------------------------------------------------------
// TLS, mutual TLS
// ---------------------------------------------------------------------------

/// `curl -sS --max-time 20 ARGS…` in the workspace.
fn curl(ws: &Workspace, args: &[&str]) -> Output {
    let mut c = std::process::Command::new("curl");
    c.current_dir(ws.dir())
        .args(["-sS", "--max-time", "20"])
        .args(args);
    run_bounded(
        c,
        None,
        Duration::from_secs(30),
        &format!("curl {}", args.join(" ")),
    )
}

#[test]
fn tls_and_mutual_tls() {
    if !require_program("openssl") || !require_program("curl") {
        return;
    }
    let ws = workspace();
    ws.write("tls-config.json", TLS_CONFIG);
    make_ca(&ws, "tlsca", "TLS test CA");
    make_ca(&ws, "otherca", "Some other CA");
    make_leaf(
        &ws,
        "tlsca",
        "tls-config.json",
        "server",
        "server",
        "kpki server",
        "127.0.0.1,localhost",
    );
    make_leaf(
        &ws,
        "tlsca",
        "tls-config.json",
        "client",
        "client",
        "client-ok",
        "",
    );
    make_leaf(
        &ws,
        "tlsca",
        "tls-config.json",
        "client",
        "intruder",
        "intruder",
        "",
    );
    make_leaf(
        &ws,
        "otherca",
        "tls-config.json",
        "client",
        "foreign",
        "client-ok",
        "",
    );
    let mut guard = ProcessGuard::new();
    let tls_args = ["-tls-cert", "server.pem", "-tls-key", "server-key.pem"];

    // TLS only.
    let mut args = vec!["-data-dir", "data1"];
    args.extend(tls_args);
    let s = start_serve(&mut guard, ws.dir(), &args, Ready::Port);
    let url = format!("https://127.0.0.1:{}", s.port);
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            &format!("{url}/api/v1/cfssl/health"),
        ],
    );
    out.ok();
    assert_eq!(out.json()["result"], json!({"healthy": true}));
    // Plain HTTP on the TLS port gets no API answer.
    let plain = http_request(s.port, "GET", "/api/v1/cfssl/health", &[], None);
    assert!(
        !plain.as_ref().is_ok_and(|r| r.status == 200),
        "plain HTTP answered on the TLS port: {plain:?}"
    );
    // Sign over TLS with curl; the certificate comes from the embedded CA in data1.
    ws.write("sign.json", sign_body(&csr("tls.example"), ""));
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@sign.json",
            &format!("{url}{SIGN}"),
        ],
    );
    out.ok();
    verified(
        &ws,
        "data1/ca.pem",
        "tls-leaf.pem",
        out.json()["result"]["certificate"].as_str().unwrap(),
    );
    // kpki's own client over https.
    ws.write("k.csr", csr("kclient.example"));
    let out = ws.run(
        "kpki",
        &[
            "sign",
            "-remote",
            &url,
            "-tls-remote-ca",
            "tlsca.pem",
            "k.csr",
        ],
    );
    verified(
        &ws,
        "data1/ca.pem",
        "kclient.pem",
        out.ok().json()["cert"].as_str().unwrap(),
    );
    stop(&mut guard, &s);

    // Mutual TLS: a client certificate from tlsca is required.
    let mut args = vec!["-data-dir", "data2", "-mutual-tls-ca", "tlsca.pem"];
    args.extend(tls_args);
    let s = start_serve(&mut guard, ws.dir(), &args, Ready::Port);
    let health = format!("https://127.0.0.1:{}/api/v1/cfssl/health", s.port);
    let out = curl(&ws, &["--cacert", "tlsca.pem", &health]);
    assert!(
        !out.success() && !out.stdout.contains("healthy"),
        "mTLS server answered a client without a certificate: {}",
        out.describe()
    );
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "--cert",
            "foreign.pem",
            "--key",
            "foreign-key.pem",
            &health,
        ],
    );
    assert!(
        !out.success() && !out.stdout.contains("healthy"),
        "mTLS server accepted a certificate from another CA: {}",
        out.describe()
    );
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            &health,
        ],
    );
    out.ok();
    assert_eq!(out.json()["result"], json!({"healthy": true}));
    stop(&mut guard, &s);

    // -mutual-tls-cn: the CN must match.
    let mut args = vec![
        "-data-dir",
        "data3",
        "-mutual-tls-ca",
        "tlsca.pem",
        "-mutual-tls-cn",
        "^client-ok$",
    ];
    args.extend(tls_args);
    let s = start_serve(&mut guard, ws.dir(), &args, Ready::Port);
    let health = format!("https://127.0.0.1:{}/api/v1/cfssl/health", s.port);
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "--cert",
            "intruder.pem",
            "--key",
            "intruder-key.pem",
            "-w",
            "\n%{http_code}",
            &health,
        ],
    );
    out.ok();
    let (body, code) = out
        .stdout
        .trim_end()
        .rsplit_once('\n')
        .expect("status line");
    assert_eq!(code, "403", "{}", out.describe());
    let v: Value = serde_json::from_str(body).expect("403 envelope");
    assert_eq!(v["errors"][0]["message"], "Invalid CN");
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            &health,
        ],
    );
    out.ok();
    assert_eq!(out.json()["result"], json!({"healthy": true}));
    // Client certificates with two CNs (made by openssl, signed by tlsca): as in cfssl (Go's
    // pkix.Name), the last CN is the one matched, whatever comes first.
    for (name, subj, expect) in [
        ("ok-last", "/CN=intruder/CN=client-ok", "200"),
        ("ok-first", "/CN=client-ok/CN=intruder", "403"),
    ] {
        ws.sh(&format!(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout {name}-key.pem -out {name}.csr -subj '{subj}' && \
             printf 'extendedKeyUsage=clientAuth\\n' > {name}.ext && \
             openssl x509 -req -in {name}.csr -CA tlsca.pem -CAkey tlsca-key.pem \
             -CAcreateserial -days 1 -extfile {name}.ext -out {name}.pem"
        ))
        .ok();
        let out = curl(
            &ws,
            &[
                "--cacert",
                "tlsca.pem",
                "--cert",
                &format!("{name}.pem"),
                "--key",
                &format!("{name}-key.pem"),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &health,
            ],
        );
        assert_eq!(out.ok().stdout.trim(), expect, "{subj}: {}", out.describe());
    }
    stop(&mut guard, &s);

    // -require-auth with mutual TLS: the client certificate is the authentication.
    let mut args = vec![
        "-data-dir",
        "data4",
        "-mutual-tls-ca",
        "tlsca.pem",
        "-require-auth",
    ];
    args.extend(tls_args);
    let s = start_serve(&mut guard, ws.dir(), &args, Ready::Port);
    ws.write("sign4.json", sign_body(&csr("mtls-auth.example"), ""));
    let out = curl(
        &ws,
        &[
            "--cacert",
            "tlsca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "--data-binary",
            "@sign4.json",
            &format!("https://127.0.0.1:{}{SIGN}", s.port),
        ],
    );
    out.ok();
    verified(
        &ws,
        "data4/ca.pem",
        "mtls-auth.pem",
        out.json()["result"]["certificate"].as_str().unwrap(),
    );
    stop(&mut guard, &s);
}

// ---------------------------------------------------------------------------
// Refusing to listen publicly without authentication
// ---------------------------------------------------------------------------

#[test]
fn public_address_without_auth_is_refused_before_binding() {
    let ws = workspace();
    // Hold the port on 127.0.0.1: should the check ever be skipped, binding 0.0.0.0 on it
    // fails instead of listening publicly, and the message below does not match.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    make_ca(&ws, "mtls-ca", "mTLS CA");
    for (args, want) in [
        (
            vec!["-address", "0.0.0.0"],
            "refusing to listen on 0.0.0.0 without authentication",
        ),
        (
            vec!["-address", "::"],
            "refusing to listen on :: without authentication",
        ),
        (
            vec!["-address", "0.0.0.0", "-require-auth"],
            "-require-auth needs -auth-key or -mutual-tls-ca",
        ),
        (
            vec!["-address", "0.0.0.0", "-mutual-tls-ca", "mtls-ca.pem"],
            "-mutual-tls-ca needs -tls-cert and -tls-key",
        ),
        // Loopback is allowed, but the port is taken: a clear error, not a hang.
        (vec!["-address", "127.0.0.1"], "already in use"),
    ] {
        let mut c = std::process::Command::new(kpki_bin());
        c.current_dir(ws.dir())
            .args(["serve", "-port", &port, "-data-dir", "data"])
            .args(&args);
        let started = Instant::now();
        let out = run_bounded(
            c,
            None,
            Duration::from_secs(30),
            &format!("kpki serve {args:?}"),
        );
        out.failed();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "refusal took {:?}",
            started.elapsed()
        );
        assert!(
            out.stderr.contains(want),
            "expected {want:?} on stderr: {}",
            out.describe()
        );
        assert!(
            !out.stderr.contains("Now listening"),
            "it listened: {}",
            out.describe()
        );
    }
    drop(holder);
}
