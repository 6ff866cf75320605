//! Every kind of certificate kpki issues passes pkilint (PyPI; RFC 5280 linter,
//! `lint_pkix_cert`) with no ERROR or FATAL finding: root CAs from `-initca`, intermediates
//! from the `intermediate` profile, and leaves from every built-in profile (server, client,
//! peer, etcd, kubernetes, www, the default) with ECDSA P-256, RSA-2048 and (server) Ed25519
//! keys, plus a client certificate without hosts. Issuer/subject pairs go through
//! `lint_pkix_signer_signee_cert_chain` and CRLs (`gencrl`, `crl` from the database) through
//! `lint_crl -p PKIX`. Warnings and notices are printed (not failures) so they can be listed
//! and decided on.
//!
//! The Kubernetes set from `kpki cluster init` is linted too. pkilint's
//! `pkix.invalid_domain_name_syntax` is accepted there for single-label names only
//! (`kubernetes`, `localhost`, node names): RFC 5280 4.2.1.6 takes RFC 1034's preferred name
//! syntax, which allows them, and Kubernetes needs them; pkilint's check (Python
//! `validators.domain`) wants a dot. Every accepted finding is printed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// One pkilint finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    severity: String,
    code: String,
    node: String,
    message: String,
}

/// Runs a pkilint CLI with `-f JSON -s NOTICE` and returns its findings.
#[track_caller]
fn pkilint(dir: &Path, program: &str, args: &[&str]) -> Vec<Finding> {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .arg("lint")
        .args(["-f", "JSON", "-s", "NOTICE"])
        .args(args);
    let what = format!("{program} lint {}", args.join(" "));
    let out = run_bounded(c, None, Duration::from_secs(120), &what);
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", out.describe()));
    let mut findings = Vec::new();
    for r in v["results"].as_array().into_iter().flatten() {
        for f in r["finding_descriptions"].as_array().into_iter().flatten() {
            findings.push(Finding {
                severity: f["severity"].as_str().unwrap_or("?").to_string(),
                code: f["code"].as_str().unwrap_or("?").to_string(),
                node: r["node_path"].as_str().unwrap_or("").to_string(),
                message: f["message"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    findings
}

/// Runs pkilint jobs (label, program, args) two at a time (pkilint is a Python process of
/// about a second each); returns (label, findings) in job order.
fn run_jobs(dir: &Path, jobs: &[(String, &str, Vec<String>)]) -> Vec<(String, Vec<Finding>)> {
    if jobs.is_empty() {
        return Vec::new();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(what, prog, args)| {
                            let args: Vec<&str> = args.iter().map(String::as_str).collect();
                            (what.clone(), pkilint(dir, prog, &args))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("pkilint thread"))
            .collect()
    })
}

fn is_error(f: &Finding) -> bool {
    matches!(f.severity.as_str(), "ERROR" | "FATAL")
}

/// Issues every kind of certificate into `ws`; returns (file, issuer file) pairs.
fn issued_certificates(ws: &Workspace) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let keys = [
        ("ec", r#"{"algo":"ecdsa","size":256}"#),
        ("rsa", r#"{"algo":"rsa","size":2048}"#),
    ];
    for (k, key) in keys {
        ws.write(
            &format!("root-{k}.json"),
            format!(r#"{{"CN":"Lint Root CA {k}","names":[{{"C":"US","O":"kpki"}}],"key":{key}}}"#),
        );
        ws.sh(&format!(
            "kpki gencert -initca root-{k}.json | kpki json -bare root-{k}"
        ))
        .ok();
        out.push((format!("root-{k}.pem"), None));
        ws.write(
            &format!("int-{k}.json"),
            format!(r#"{{"CN":"Lint Intermediate CA {k}","names":[{{"O":"kpki"}}],"key":{key}}}"#),
        );
        ws.sh(&format!(
            "kpki gencert -ca root-{k}.pem -ca-key root-{k}-key.pem -profile intermediate \
             int-{k}.json | kpki json -bare int-{k}"
        ))
        .ok();
        out.push((format!("int-{k}.pem"), Some(format!("root-{k}.pem"))));
        for profile in [
            "server",
            "client",
            "peer",
            "etcd",
            "kubernetes",
            "www",
            "default",
        ] {
            let name = format!("{profile}-{k}");
            ws.write(
                &format!("{name}.json"),
                format!(
                    r#"{{"CN":"{profile}.example.com","hosts":["{profile}.example.com","10.0.0.1","::1"],"names":[{{"O":"kpki"}}],"key":{key}}}"#
                ),
            );
            let flag = if profile == "default" {
                String::new()
            } else {
                format!("-profile {profile}")
            };
            ws.sh(&format!(
                "kpki gencert -ca int-{k}.pem -ca-key int-{k}-key.pem {flag} {name}.json | kpki json -bare {name}"
            ))
            .ok();
            out.push((format!("{name}.pem"), Some(format!("int-{k}.pem"))));
        }
    }
    ws.write(
        "admin.json",
        r#"{"CN":"admin","names":[{"O":"system:masters"}],"key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.sh("kpki gencert -ca root-ec.pem -ca-key root-ec-key.pem -profile client admin.json | kpki json -bare client-nohosts")
        .ok();
    out.push(("client-nohosts.pem".into(), Some("root-ec.pem".into())));
    ws.write(
        "ed.json",
        r#"{"CN":"ed.example.com","hosts":["ed.example.com"],"key":{"algo":"ed25519"}}"#,
    );
    ws.sh("kpki gencert -ca int-ec.pem -ca-key int-ec-key.pem -profile server ed.json | kpki json -bare server-ed25519")
        .ok();
    out.push(("server-ed25519.pem".into(), Some("int-ec.pem".into())));
    out
}

#[test]
fn every_issued_certificate_kind_is_pkilint_clean() {
    if !require_program("lint_pkix_cert") || !require_program("lint_pkix_signer_signee_cert_chain")
    {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    let certs = issued_certificates(&ws);
    // (label, program, args): each certificate alone, and each issuer/subject pair.
    let mut jobs: Vec<(String, &str, Vec<String>)> = Vec::new();
    for (cert, issuer) in &certs {
        jobs.push((cert.clone(), "lint_pkix_cert", vec![cert.clone()]));
        if let Some(i) = issuer {
            jobs.push((
                format!("{i} -> {cert}"),
                "lint_pkix_signer_signee_cert_chain",
                vec![i.clone(), cert.clone()],
            ));
        }
    }
    let results = run_jobs(ws.dir(), &jobs);
    let mut errors = Vec::new();
    let mut warnings: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (what, findings) in results {
        for f in findings {
            if is_error(&f) {
                errors.push(format!("{what}: {} {} at {}", f.severity, f.code, f.node));
            } else {
                warnings
                    .entry((f.severity.clone(), f.code.clone()))
                    .or_default()
                    .push(what.clone());
            }
        }
    }
    for ((sev, code), whats) in &warnings {
        loud(&format!("pkilint {sev} {code}: {}", whats.join(", ")));
    }
    assert!(
        errors.is_empty(),
        "pkilint errors in {} of {} certificates:\n{}",
        errors.len(),
        certs.len(),
        errors.join("\n")
    );
}

#[test]
fn crls_are_pkilint_clean() {
    if !require_program("lint_crl") {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    let certs = issued_certificates(&ws);
    assert!(certs.len() > 4);
    ws.write("serials.txt", "1234\n98765432109876543210\n");
    ws.write("none.txt", "");
    let mut errors = Vec::new();
    let mut lint = |name: &str| {
        for f in pkilint(ws.dir(), "lint_crl", &["-t", "CRL", "-p", "PKIX", name]) {
            if is_error(&f) {
                errors.push(format!("{name}: {} {} at {}", f.severity, f.code, f.node));
            } else {
                loud(&format!("pkilint (CRL {name}) {} {}", f.severity, f.code));
            }
        }
    };
    for (issuer, list, out) in [
        ("root-ec", "serials.txt", "root-ec.crl"),
        ("int-rsa", "serials.txt", "int-rsa.crl"),
        ("root-ec", "none.txt", "empty.crl"),
    ] {
        ws.sh(&format!(
            "kpki gencrl {list} {issuer}.pem {issuer}-key.pem | base64 -d > {out}"
        ))
        .ok();
        lint(out);
    }
    // The database CRL: sign two certificates with -db, revoke one, `kpki crl -pem`.
    let db = format!("sqlite://{}", ws.path("certs.db").display());
    ws.sh(&format!(
        "set -e\n\
         kpki gencert -ca int-ec.pem -ca-key int-ec-key.pem -profile server -db {db} server-ec.json > a.json\n\
         kpki gencert -ca int-ec.pem -ca-key int-ec-key.pem -profile server -db {db} server-ec.json > b.json"
    ))
    .ok();
    let cert_a = summarize_cert_pem(
        serde_json::from_str::<Value>(&ws.read("a.json")).unwrap()["cert"]
            .as_str()
            .unwrap(),
    );
    let aki = hex::encode(cert_a.aki.clone().unwrap());
    ws.run(
        "kpki",
        &[
            "revoke",
            &format!("-db={db}"),
            &format!("-serial={}", cert_a.serial_decimal),
            &format!("-aki={aki}"),
            "-reason=keyCompromise",
        ],
    )
    .ok();
    let crl = ws.run(
        "kpki",
        &[
            "crl",
            &format!("-db={db}"),
            "-ca=int-ec.pem",
            "-ca-key=int-ec-key.pem",
            "-pem",
        ],
    );
    ws.write("db.crl", &crl.ok().stdout);
    lint("db.crl");
    assert!(
        errors.is_empty(),
        "pkilint CRL errors:\n{}",
        errors.join("\n")
    );
}

/// Regression for a kpki bug pkilint found (fixed in 2e63ed3): `selfsign` issued an end-entity
/// certificate without an Authority Key Identifier. RFC 5280 4.2.1.1 allows omitting it only in
/// a CA's self-signed certificate; pkilint reports `pkix.authority_key_identifier_extension_absent`
/// (ERROR). cfssl's selfsign omits it too, so AKI = SKI is a deliberate, harmless deviation.
#[test]
fn selfsign_certificate_is_pkilint_clean() {
    if !require_program("lint_pkix_cert") {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    ws.write(
        "self.json",
        r#"{"CN":"self.example.com","hosts":["self.example.com"],"key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.sh("kpki selfsign self.example.com self.json | kpki json -bare self")
        .ok();
    let errors: Vec<Finding> = pkilint(ws.dir(), "lint_pkix_cert", &["self.pem"])
        .into_iter()
        .filter(is_error)
        .collect();
    assert!(
        errors.is_empty(),
        "kpki bug: selfsign certificate fails pkilint: {errors:?}"
    );
}

/// Regression for a kpki gap pkilint found (fixed in d14eaf7): hosts that are not valid DNS
/// names (a space, an empty label, two wildcards, a leading hyphen, a trailing dot, a bare `@`)
/// became dNSName SANs, which pkilint reports as `pkix.invalid_domain_name_syntax` (ERROR).
/// cfssl writes them too. Each host must be refused with a coded error or give a certificate
/// without pkilint errors.
#[test]
fn malformed_dns_hosts_are_refused_or_lint_clean() {
    if !require_program("lint_pkix_cert") {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    ws.write(
        "ca.json",
        r#"{"CN":"Lint CA","key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.sh("kpki gencert -initca ca.json | kpki json -bare ca")
        .ok();
    let hosts = [
        "bad host.example.com",
        "a..b.example.com",
        "*.*.example.com",
        "-lead.example.com",
        "trailing.example.com.",
        "user@",
        "@example.com",
    ];
    let mut problems = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        ws.write_json(
            &format!("h{i}.json"),
            &serde_json::json!({"CN": "odd", "hosts": [host], "key": {"algo": "ecdsa", "size": 256}}),
        );
        let out = ws.run(
            "kpki",
            &[
                "gencert",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-profile=server",
                &format!("h{i}.json"),
            ],
        );
        if !out.success() {
            if out.error_json().is_none() {
                problems.push(format!("{host:?}: refused without a coded error"));
            }
            continue;
        }
        let cert = out.json()["cert"].as_str().unwrap_or_default().to_string();
        ws.write(&format!("h{i}.pem"), &cert);
        let errors: Vec<String> = pkilint(ws.dir(), "lint_pkix_cert", &[&format!("h{i}.pem")])
            .into_iter()
            .filter(is_error)
            .map(|f| f.code)
            .collect();
        if !errors.is_empty() {
            problems.push(format!("{host:?}: issued, pkilint {errors:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "kpki bug: malformed hosts give certificates that fail pkilint:\n{}",
        problems.join("\n")
    );
}

/// Regression for a kpki gap pkilint found (fixed in d14eaf7): subject values longer than
/// X.520's upper bounds (CN/O/OU 64, L/ST 128, serialNumber 64) were written as given, and a
/// non-printable `serialnumber` as UTF8String although X520SerialNumber is a PrintableString;
/// pkilint reports both as FATAL `itu.invalid_asn1_syntax`. Each value must be refused with a
/// coded error or give a lint-clean certificate.
#[test]
fn oversized_or_unencodable_subject_values_are_refused_or_lint_clean() {
    if !require_program("lint_pkix_cert") {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    ws.write(
        "ca.json",
        r#"{"CN":"Lint CA","key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.sh("kpki gencert -initca ca.json | kpki json -bare ca")
        .ok();
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("CN of 65", serde_json::json!({"CN": long(65)})),
        (
            "O of 65",
            serde_json::json!({"CN": "a", "names": [{"O": long(65)}]}),
        ),
        (
            "OU of 65",
            serde_json::json!({"CN": "a", "names": [{"OU": long(65)}]}),
        ),
        (
            "L of 129",
            serde_json::json!({"CN": "a", "names": [{"L": long(129)}]}),
        ),
        (
            "ST of 129",
            serde_json::json!({"CN": "a", "names": [{"ST": long(129)}]}),
        ),
        (
            "serialnumber of 65",
            serde_json::json!({"CN": "a", "serialnumber": long(65)}),
        ),
        (
            "non-printable serialnumber",
            serde_json::json!({"CN": "a", "serialnumber": "é-1"}),
        ),
    ];
    let mut problems = Vec::new();
    for (i, (what, mut req)) in cases.into_iter().enumerate() {
        req["hosts"] = serde_json::json!(["ok.example.com"]);
        req["key"] = serde_json::json!({"algo": "ecdsa", "size": 256});
        ws.write_json(&format!("s{i}.json"), &req);
        let out = ws.run(
            "kpki",
            &[
                "gencert",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-profile=server",
                &format!("s{i}.json"),
            ],
        );
        if !out.success() {
            if out.error_json().is_none() {
                problems.push(format!("{what}: refused without a coded error"));
            }
            continue;
        }
        ws.write(
            &format!("s{i}.pem"),
            out.json()["cert"].as_str().unwrap_or_default(),
        );
        let errors: Vec<String> = pkilint(ws.dir(), "lint_pkix_cert", &[&format!("s{i}.pem")])
            .into_iter()
            .filter(is_error)
            .map(|f| f.code)
            .collect();
        if !errors.is_empty() {
            problems.push(format!("{what}: issued, pkilint {errors:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "kpki bug: subject values outside X.520 give certificates that fail pkilint:\n{}",
        problems.join("\n")
    );
}

/// A `pkix.invalid_domain_name_syntax` finding about a single LDH label (`node1`, `localhost`).
fn is_single_label_dns_finding(f: &Finding) -> bool {
    if f.code != "pkix.invalid_domain_name_syntax" {
        return false;
    }
    let name = f.message.split('"').nth(1).unwrap_or("");
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

const CLUSTER: &str = r#"
name: kpki-lint
serviceCIDR: 10.32.0.0/16
nodes:
  - {name: node1, ip: 127.0.0.1, roles: [etcd, control-plane, worker]}
  - {name: node2, ip: 127.0.0.2, roles: [etcd, control-plane, worker]}
  - {name: node3, ip: 127.0.0.3, roles: [etcd, worker]}
"#;

#[test]
fn cluster_init_certificates_are_pkilint_clean() {
    if !require_program("lint_pkix_cert") || !require_program("lint_pkix_signer_signee_cert_chain")
    {
        return;
    }
    let ws = Workspace::with_tools(Tools::kpki());
    ws.write("cluster.yaml", CLUSTER);
    ws.run(
        "kpki",
        &["cluster", "init", "-f", "cluster.yaml", "-o", "out"],
    )
    .ok();
    let mut certs: Vec<String> = dir_snapshot(&ws.path("out"))
        .keys()
        .map(|p| p.display().to_string())
        .filter(|p| p.ends_with(".pem") && !p.ends_with("-key.pem"))
        .map(|p| format!("out/{p}"))
        .collect();
    certs.sort();
    assert!(certs.len() >= 10, "cluster init wrote only {certs:?}");
    // Issuer of each certificate: the CA whose SKI is its AKI (self-signed CAs: none).
    let summaries: Vec<(String, CertSummary)> = certs
        .iter()
        .map(|c| (c.clone(), load_cert(&ws, c)))
        .collect();
    let issuer_of = |s: &CertSummary| -> Option<String> {
        if s.raw_issuer == s.raw_subject {
            return None;
        }
        summaries
            .iter()
            .find(|(_, ca)| ca.is_ca() && ca.ski.is_some() && ca.ski == s.aki)
            .map(|(p, _)| p.clone())
    };
    let mut jobs: Vec<(String, &str, Vec<String>)> = Vec::new();
    for (c, s) in &summaries {
        jobs.push((c.clone(), "lint_pkix_cert", vec![c.clone()]));
        match issuer_of(s) {
            Some(i) => jobs.push((
                format!("{i} -> {c}"),
                "lint_pkix_signer_signee_cert_chain",
                vec![i, c.clone()],
            )),
            None if s.raw_issuer != s.raw_subject => {
                panic!("{c}: no CA in the set has SKI = its AKI")
            }
            None => {}
        }
    }
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for (what, findings) in run_jobs(ws.dir(), &jobs) {
        for f in findings {
            if is_error(&f) && !is_single_label_dns_finding(&f) {
                errors.push(format!("{what}: {} {} {}", f.severity, f.code, f.message));
            } else {
                accepted.push(format!("{what}: {} {} {}", f.severity, f.code, f.message));
            }
        }
    }
    for a in &accepted {
        loud(&format!("pkilint (cluster, accepted) {a}"));
    }
    assert!(
        errors.is_empty(),
        "pkilint errors in the cluster init set:\n{}",
        errors.join("\n")
    );
}
