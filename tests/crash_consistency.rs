//! Crash consistency of `kpki serve` (with its embedded ECDSA CA and with an RSA CA): concurrent signing load from several client threads,
//! SIGKILL of the server in the middle of it, restart on the same data directory, and proof
//! that every certificate any client received is in the database, that the database passes
//! `PRAGMA integrity_check`, and that serial numbers are unique (under concurrency, across the
//! crash, and by the database's unique constraint).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::serve::{Ready, Server, get, http_request, start_serve};
use common::*;
use kpki::csr::CertificateRequest;
use kpki::db::CertDb;
use serde_json::{Value, json};

/// Client threads per round.
const CLIENTS: usize = 8;
/// How long the load runs before the SIGKILL.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);
/// Upper bound for one round (load, kill, clients noticing).
const ROUND_LIMIT: Duration = Duration::from_secs(60);

/// A certificate a client received in a 200 answer.
#[derive(Debug, Clone)]
struct Received {
    serial: String,
    aki: String,
    der: Vec<u8>,
}

fn sign_body(cn: &str) -> Vec<u8> {
    let req = CertificateRequest::from_json(
        json!({"CN": cn, "hosts": [cn], "key": {"algo": "ecdsa", "size": 256}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let csr = kpki::csr::generate(&req).expect("CSR").csr_pem;
    json!({"certificate_request": csr}).to_string().into_bytes()
}

/// Runs `CLIENTS` threads signing until `stop` or until the server stops answering; returns
/// every certificate received, and the number of failed requests (connection errors).
fn load(
    port: u16,
    stop: Arc<AtomicBool>,
    round: usize,
) -> Vec<std::thread::JoinHandle<(Vec<Received>, usize)>> {
    (0..CLIENTS)
        .map(|i| {
            let stop = stop.clone();
            let body = sign_body(&format!("client{i}-round{round}.example.com"));
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut errors = 0usize;
                let deadline = Instant::now() + ROUND_LIMIT;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match http_request(
                        port,
                        "POST",
                        "/api/v1/cfssl/sign",
                        &[("Content-Type", "application/json")],
                        Some(&body),
                    ) {
                        Ok(r) if r.status == 200 => {
                            let v: Value = serde_json::from_slice(&r.body).expect("JSON");
                            let pem = v["result"]["certificate"].as_str().expect("certificate");
                            let c = summarize_cert_pem(pem);
                            got.push(Received {
                                serial: c.serial_decimal.clone(),
                                aki: hex::encode(c.aki.clone().unwrap_or_default()),
                                der: c.der,
                            });
                        }
                        Ok(r) => panic!("client {i}: unexpected answer {}", r.describe()),
                        Err(_) => {
                            // The server is gone (killed): stop after a few tries.
                            errors += 1;
                            if errors > 20 {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                (got, errors)
            })
        })
        .collect()
}

/// SIGKILL by PID, then wait (bounded) until the child is reaped.
fn sigkill(guard: &mut ProcessGuard, pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -KILL {pid}");
    let _ = poll_until(Duration::from_secs(10), Duration::from_millis(10), || {
        if guard.is_running(pid) {
            Err("still running".to_string())
        } else {
            Ok(())
        }
    });
    assert!(!guard.is_running(pid), "server {pid} survived SIGKILL");
}

fn integrity_ok(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let d = CertDb::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("reopen the database");
        assert_eq!(d.integrity_check().await.expect("integrity_check"), "ok");
        d.close().await.unwrap();
    });
    if find_program("sqlite3").is_some() {
        let out = sqlite3(db, "PRAGMA integrity_check;");
        assert_eq!(out.stdout.trim(), "ok", "{}", out.describe());
    }
}

/// Which CA the server signs with.
#[derive(Clone, Copy, Debug)]
enum CaKind {
    /// The embedded CA `-data-dir` creates (ECDSA P-256: signed, then committed whole).
    Embedded,
    /// An RSA-2048 CA from `gencert -initca` (a signature takes ~10× longer than P-256's, so
    /// more requests are between signing and their commit when the SIGKILL lands).
    Rsa,
}

fn start(guard: &mut ProcessGuard, ws: &Workspace) -> Server {
    let data = ws.path("data");
    let mut args = vec!["-data-dir".to_string(), data.to_str().unwrap().to_string()];
    if ws.exists("rsa-ca.pem") {
        for (flag, file) in [("-ca", "rsa-ca.pem"), ("-ca-key", "rsa-ca-key.pem")] {
            args.push(flag.into());
            args.push(ws.path(file).to_str().unwrap().to_string());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_serve(guard, ws.dir(), &args, Ready::Health)
}

/// A workspace whose server signs with `kind`.
fn workspace(kind: CaKind) -> Workspace {
    let ws = Workspace::with_tools(Tools::kpki());
    if let CaKind::Rsa = kind {
        ws.write(
            "rsa-ca-csr.json",
            r#"{"CN":"crash test RSA CA","key":{"algo":"rsa","size":2048}}"#,
        );
        ws.sh("kpki gencert -initca rsa-ca-csr.json | kpki json -bare rsa-ca")
            .ok();
        assert!(ws.exists("rsa-ca-key.pem"));
    }
    ws
}

#[test]
fn sigkill_under_concurrent_signing_loses_no_issued_certificate() {
    sigkill_rounds(CaKind::Embedded);
}

#[test]
fn sigkill_under_concurrent_signing_with_an_rsa_ca_loses_no_issued_certificate() {
    sigkill_rounds(CaKind::Rsa);
}

fn sigkill_rounds(kind: CaKind) {
    let ws = workspace(kind);
    let mut guard = ProcessGuard::new();
    let mut received: Vec<Received> = Vec::new();
    let mut per_round = Vec::new();
    for round in 0..2 {
        let server = start(&mut guard, &ws);
        let stop = Arc::new(AtomicBool::new(false));
        let clients = load(server.port, stop.clone(), round);
        std::thread::sleep(LOAD_BEFORE_KILL);
        sigkill(&mut guard, server.pid);
        // Let clients notice the dead server, then stop them.
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let mut got_round = 0;
        for c in clients {
            let (got, _errors) = c.join().expect("client thread panicked");
            got_round += got.len();
            received.extend(got);
        }
        per_round.push(got_round);
        assert!(
            got_round >= CLIENTS,
            "round {round}: only {got_round} certificates before the kill; the load did not run"
        );
    }
    loud(&format!(
        "crash consistency ({kind:?} CA): certificates received per round before SIGKILL: {per_round:?}"
    ));

    // Serials unique across clients, rounds and the crash.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in &received {
        *seen.entry(r.serial.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicate serials handed out: {dups:?}");

    // Restart on the same data directory: every received certificate is there, byte for byte.
    let server = start(&mut guard, &ws);
    let mut missing = Vec::new();
    for r in &received {
        let resp = get(
            server.port,
            &format!("/api/v1/kpki/certificates/{}", r.serial),
        );
        if resp.status != 200 {
            missing.push(format!("{} -> {}", r.serial, resp.status));
            continue;
        }
        let v = resp.json();
        let text = v.to_string();
        let pem_in_db = find_pem(&v).unwrap_or_else(|| panic!("no PEM in {text}"));
        let der = pem_block(&pem_in_db, "CERTIFICATE");
        assert_eq!(
            der, r.der,
            "serial {}: stored certificate differs",
            r.serial
        );
        assert!(
            text.contains(&r.aki),
            "serial {}: AKI {} not in the record {text}",
            r.serial,
            r.aki
        );
    }
    assert!(
        missing.is_empty(),
        "{} of {} received certificates are not in the database after SIGKILL: {missing:?}",
        missing.len(),
        received.len()
    );
    // The server still signs after the crash.
    let r = common::serve::post_json(
        server.port,
        "/api/v1/cfssl/sign",
        &sign_body("after.example.com"),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    guard.terminate(server.pid, Duration::from_secs(30));

    let db = ws.path("data").join("certs.db");
    integrity_ok(&db);
    // The database has no duplicate (serial, AKI) and holds at least what clients got.
    let records = common::serve::certs_json(&format!("sqlite://{}", db.display()), &[]);
    let keys: BTreeSet<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["serial_number"].as_str().unwrap_or_default().to_string(),
                r["authority_key_identifier"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), records.len(), "duplicate rows in the database");
    assert!(
        records.len() > received.len(),
        "database has {} rows, clients received {} (+1 after restart)",
        records.len(),
        received.len()
    );
}

/// The PEM of a certificate record answer (searched anywhere in the JSON).
fn find_pem(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.contains("BEGIN CERTIFICATE") => Some(s.clone()),
        Value::Array(a) => a.iter().find_map(find_pem),
        Value::Object(o) => o.values().find_map(find_pem),
        _ => None,
    }
}

#[test]
fn serial_numbers_are_unique_under_concurrency_and_by_constraint() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let req = CertificateRequest::from_json(
            br#"{"CN":"serial CA","key":{"algo":"ecdsa","size":256}}"#,
        )
        .unwrap();
        let ss = kpki::issue::init_ca(&req, None).unwrap();
        let ca = Arc::new(kpki::signer::Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap());
        let cfg = Arc::new(
            kpki::config::Config::from_json(
                br#"{"signing":{"default":{"expiry":"1h","usages":["signing","server auth"]}}}"#,
            )
            .unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let db = CertDb::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .unwrap();
        let csr = String::from_utf8(
            serde_json::from_slice::<Value>(&sign_body("same.example.com")).unwrap()
                ["certificate_request"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
        .unwrap();
        // 8 tasks × 50 signatures of the same CSR, committed concurrently.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (ca, cfg, db, csr) = (ca.clone(), cfg.clone(), db.clone(), csr.clone());
            tasks.push(tokio::spawn(async move {
                let mut serials = Vec::new();
                for _ in 0..50 {
                    let (ca2, cfg2, csr2) = (ca.clone(), cfg.clone(), csr.clone());
                    let issued = tokio::task::spawn_blocking(move || {
                        kpki::issue::sign(
                            &ca2,
                            &cfg2.signing,
                            &kpki::issue::SignRequest {
                                csr_pem: csr2.into_bytes(),
                                ..Default::default()
                            },
                        )
                    })
                    .await
                    .unwrap()
                    .expect("sign");
                    kpki::issue::commit(Some(&db), &issued)
                        .await
                        .expect("commit");
                    serials.push(issued);
                }
                serials
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: BTreeSet<&str> = all.iter().map(|i| i.serial.as_str()).collect();
        assert_eq!(
            unique.len(),
            all.len(),
            "duplicate serials under concurrency"
        );
        assert_eq!(db.count_certificates().await.unwrap(), all.len() as u64);
        for i in all.iter().take(5) {
            let bytes = kpki::signer::serial_from_decimal(&i.serial).unwrap();
            assert!(
                bytes.len() <= 20 && bytes[0] & 0x80 == 0,
                "serial {} is not a positive ≤20-octet integer",
                i.serial
            );
        }

        // The unique constraint: the same (serial, AKI) again is refused with 11100 and the
        // table is unchanged; the same serial under another AKI is a different certificate.
        let rec = kpki::issue::record(&all[0]);
        let err = db
            .insert_certificate(&rec)
            .await
            .expect_err("duplicate (serial, AKI) must be refused");
        assert_eq!(err.code(), 11100, "{err:?}");
        assert_eq!(db.count_certificates().await.unwrap(), all.len() as u64);
        let mut other_issuer = rec.clone();
        other_issuer.authority_key_identifier = "00".repeat(20);
        db.insert_certificate(&other_issuer)
            .await
            .expect("same serial, other issuer");
        assert_eq!(db.integrity_check().await.unwrap(), "ok");
        db.close().await.unwrap();
    });
}
