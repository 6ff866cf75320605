//! The classic cfssl workflows (CoreOS etcd guide, Kubernetes the hard way, cfssl README),
//! run as real shell pipelines through the `cfssl`, `cfssljson`, `cfssl-certinfo`
//! symlinks in a temp dir. Every issued certificate is checked with openssl and/or
//! x509-parser, never only by the tool that made it.
//!
//! `KPKI_TEST_TOOLS_DIR=/usr/bin cargo test --test cli_workflow` runs the same tests
//! against the real cfssl; checks of kpki-only improvements are skipped then (marked
//! "kpki-only" below).

mod common;

use common::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The guides' JSON, as written there
// ---------------------------------------------------------------------------

/// ca-config.json: profiles www/kubernetes/peer/client/server at 87600h. The default
/// profile is shorter (8760h, no usages) so a leaf's lifetime shows which one applied.
const CA_CONFIG: &str = r#"{
  "signing": {
    "default": {
      "expiry": "8760h"
    },
    "profiles": {
      "www": {
        "expiry": "87600h",
        "usages": ["signing", "key encipherment", "server auth"]
      },
      "kubernetes": {
        "expiry": "87600h",
        "usages": ["signing", "key encipherment", "server auth", "client auth"]
      },
      "peer": {
        "expiry": "87600h",
        "usages": ["signing", "key encipherment", "server auth", "client auth"]
      },
      "client": {
        "expiry": "87600h",
        "usages": ["signing", "key encipherment", "client auth"]
      },
      "server": {
        "expiry": "87600h",
        "usages": ["signing", "key encipherment", "server auth"]
      }
    }
  }
}"#;

const CA_CSR: &str = r#"{
  "CN": "etcd CA",
  "key": {
    "algo": "rsa",
    "size": 2048
  },
  "names": [
    {
      "C": "US",
      "L": "San Francisco",
      "ST": "CA",
      "O": "etcd",
      "OU": "etcd Security"
    }
  ],
  "ca": {
    "expiry": "87600h"
  }
}"#;

const SERVER_CSR: &str = r#"{
  "CN": "etcd-server",
  "hosts": [
    "127.0.0.1",
    "localhost",
    "10.0.0.2",
    "etcd.example.com",
    "::1"
  ],
  "key": {
    "algo": "ecdsa",
    "size": 256
  },
  "names": [
    {
      "C": "US",
      "L": "San Francisco",
      "ST": "CA"
    }
  ]
}"#;

/// Kubernetes-the-hard-way admin CSR, with lower-case `cn` and `Hosts` keys (Go's JSON
/// decoding matches keys case-insensitively and guides rely on it).
const ADMIN_CSR: &str = r#"{
  "cn": "admin",
  "Hosts": ["overridden.example.com"],
  "key": {
    "algo": "rsa",
    "size": 2048
  },
  "names": [
    {
      "C": "US",
      "L": "Portland",
      "O": "system:masters",
      "OU": "Kubernetes The Hard Way",
      "ST": "Oregon"
    }
  ]
}"#;

const PEER_CSR: &str = r#"{
  "CN": "member1",
  "hosts": ["127.0.0.1", "member1.local"],
  "key": {"algo": "ecdsa", "size": 256},
  "names": [{"O": "etcd"}]
}"#;

/// Expected subject of the classic CA, in DER order (C, ST, L, O, OU, CN).
fn ca_subject() -> Vec<(String, String)> {
    [
        ("C", "US"),
        ("ST", "CA"),
        ("L", "San Francisco"),
        ("O", "etcd"),
        ("OU", "etcd Security"),
        ("CN", "etcd CA"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Writes the guide's JSON and runs `cfssl gencert -initca ca-csr.json | cfssljson -bare
/// ca -`. Returns the CA and the time window of the run.
fn classic_ca(ws: &Workspace) -> (CertSummary, i64, i64) {
    ws.write("ca-config.json", CA_CONFIG);
    ws.write("ca-csr.json", CA_CSR);
    let before = unix_now();
    ws.sh("cfssl gencert -initca ca-csr.json | cfssljson -bare ca -")
        .ok();
    let after = unix_now();
    (load_cert(ws, "ca.pem"), before, after)
}

/// Common leaf checks: signed by `ca` (x509-parser), CA:FALSE, digitalSignature +
/// keyEncipherment critical, SKI/AKI, serial, notBefore rule, lifetime.
fn check_leaf(
    leaf: &CertSummary,
    ca: &CertSummary,
    window: (i64, i64),
    lifetime_hours: i64,
    what: &str,
) {
    leaf.verify_signed_by(Some(ca))
        .unwrap_or_else(|e| panic!("{what}: signature does not verify with the CA key: {e}"));
    assert_eq!(
        leaf.raw_issuer, ca.raw_subject,
        "{what}: issuer != CA subject"
    );
    let (critical, is_ca, _) = leaf.basic_constraints.expect("basicConstraints");
    assert!(critical && !is_ca, "{what}: want critical CA:FALSE");
    let ku = leaf.key_usage.as_ref().expect("keyUsage");
    assert!(ku.critical, "{what}: keyUsage must be critical");
    assert_eq!(
        ku.names,
        sign_encipher_key_usage(&leaf.public_key, is_real_cfssl()),
        "{what}: key usage (profiles list signing + key encipherment)"
    );
    if leaf.raw_subject == ca.raw_subject {
        // Go (hence cfssl) omits the AKI when the leaf's subject DN equals the issuer's
        // (it takes the certificate for self-signed; cfssl issue #743). Accept either.
        assert_key_ids(leaf, None, what);
        if let Some(aki) = &leaf.aki {
            assert_eq!(
                Some(aki),
                ca.ski.as_ref(),
                "{what}: AKI must equal the CA SKI"
            );
        }
    } else {
        assert_key_ids(leaf, Some(ca), what);
    }
    assert_serial_ok(leaf, what);
    assert_cfssl_not_before(leaf.not_before, window.0, window.1, what);
    assert_eq!(
        leaf.validity_secs(),
        lifetime_hours * HOUR,
        "{what}: validity length"
    );
}

// ---------------------------------------------------------------------------
// print-defaults
// ---------------------------------------------------------------------------

#[test]
fn print_defaults_templates_issue_a_working_chain() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.sh("cfssl print-defaults config > ca-config.json ; cfssl print-defaults csr > csr.json")
        .ok();
    let config: Value = serde_json::from_str(&ws.read("ca-config.json")).expect("config JSON");
    assert_eq!(config["signing"]["default"]["expiry"], "168h");
    for p in ["www", "client"] {
        assert_eq!(config["signing"]["profiles"][p]["expiry"], "8760h", "{p}");
    }
    assert_eq!(
        config["signing"]["profiles"]["www"]["usages"],
        json!(["signing", "key encipherment", "server auth"])
    );
    assert_eq!(
        config["signing"]["profiles"]["client"]["usages"],
        json!(["signing", "key encipherment", "client auth"])
    );
    let csr: Value = serde_json::from_str(&ws.read("csr.json")).expect("csr JSON");
    assert_eq!(csr["CN"], "example.net");
    assert_eq!(csr["hosts"], json!(["example.net", "www.example.net"]));
    assert_eq!(csr["key"], json!({"algo": "ecdsa", "size": 256}));

    // The templates are usable as they are: a www leaf from csr.json, signed with the
    // printed config. (The CA gets its own subject: with csr.json for both, Go/cfssl
    // omit the leaf's AKI and openssl then takes the leaf for self-signed.)
    ws.write("ca-csr.json", CA_CSR);
    ws.sh("cfssl gencert -initca ca-csr.json | cfssljson -bare ca")
        .ok();
    let before = unix_now();
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=www \
         csr.json | cfssljson -bare www",
    )
    .ok();
    let after = unix_now();
    let ca = load_cert(&ws, "ca.pem");
    let www = load_cert(&ws, "www.pem");
    check_leaf(&www, &ca, (before, after), 8760, "www from print-defaults");
    assert_eq!(
        www.sans,
        vec![San::dns("example.net"), San::dns("www.example.net")]
    );
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "www.pem");
}

// ---------------------------------------------------------------------------
// gencert -initca
// ---------------------------------------------------------------------------

#[test]
fn initca_from_classic_ca_csr() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let (ca, before, after) = classic_ca(&ws);
    assert_bare_files(&ws, "ca", true, true);
    assert_eq!(pem_labels(&ws.read("ca-key.pem")), vec!["RSA PRIVATE KEY"]);
    assert_key_matches_cert(&ws, "ca-key.pem", "ca.pem");

    // Independent checks: self-signature (x509-parser) and openssl trusting it.
    ca.verify_signed_by(None).expect("CA self-signature");
    assert_openssl_verifies(&ws, "ca.pem", None, None, "ca.pem");
    assert_eq!(ca.raw_subject, ca.raw_issuer, "self-issued");
    assert_eq!(ca.subject_attrs(), ca_subject());
    assert_eq!(
        ca.basic_constraints,
        Some((true, true, None)),
        "CA:TRUE, no pathlen"
    );
    let ku = ca.key_usage.as_ref().expect("CA keyUsage");
    assert!(ku.critical);
    assert_eq!(ku.names, vec!["keyCertSign", "cRLSign"]);
    assert!(ca.ext_key_usage.is_none(), "a cfssl root has no EKU");
    assert_eq!(ca.public_key, "rsa-2048");
    assert_eq!(ca.sig_alg, "sha256WithRSAEncryption");
    assert_key_ids(&ca, None, "CA");
    if let Some(aki) = &ca.aki {
        assert_eq!(
            Some(aki),
            ca.ski.as_ref(),
            "a root's AKI, if any, is its own SKI"
        );
    }
    assert_serial_ok(&ca, "CA");
    assert_cfssl_not_before(ca.not_before, before, after, "CA");
    assert_eq!(ca.validity_secs(), 87600 * HOUR, "ca.expiry 87600h");
    // openssl agrees on the lifetime (10 years).
    let dates = openssl(&ws, &["x509", "-in", "ca.pem", "-noout", "-enddate"]).stdout;
    assert!(dates.starts_with("notAfter="), "{dates}");

    // The CSR written next to it carries the CA request.
    let csr_text = openssl(
        &ws,
        &["req", "-in", "ca.csr", "-noout", "-verify", "-subject"],
    );
    assert!(
        csr_text.stdout.contains("CN = etcd CA"),
        "{}",
        csr_text.describe()
    );
}

#[test]
fn initca_without_ca_section_lasts_43800h() {
    let ws = Workspace::new();
    ws.write(
        "ca-csr.json",
        r#"{"CN": "Short CA", "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "kpki"}]}"#,
    );
    let before = unix_now();
    ws.sh("cfssl gencert -initca ca-csr.json | cfssljson -bare ca")
        .ok();
    let ca = load_cert(&ws, "ca.pem");
    assert_cfssl_not_before(ca.not_before, before, unix_now(), "CA");
    assert_eq!(
        ca.validity_secs(),
        43800 * HOUR,
        "built-in CA lifetime is 43800h"
    );
    assert!(ca.is_ca());
    ca.verify_signed_by(None).expect("self-signature");
    assert_eq!(pem_labels(&ws.read("ca-key.pem")), vec!["EC PRIVATE KEY"]);
}

#[test]
fn key_file_is_0600_even_with_umask_000() {
    let ws = Workspace::new();
    ws.write("ca-csr.json", CA_CSR);
    ws.sh_umask(
        "cfssl gencert -initca ca-csr.json | cfssljson -bare ca -",
        0o000,
    )
    .ok();
    assert_eq!(ws.mode("ca-key.pem"), 0o600, "private key mode");
    assert!(ws.exists("ca.pem") && ws.exists("ca.csr"));
}

// ---------------------------------------------------------------------------
// gencert with a CA: www, kubernetes (+ -hostname), client
// ---------------------------------------------------------------------------

#[test]
fn www_profile_server_certificate() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let (ca, _, _) = classic_ca(&ws);
    ws.write("server-csr.json", SERVER_CSR);
    let before = unix_now();
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=www \
         server-csr.json | cfssljson -bare server",
    )
    .ok();
    let after = unix_now();
    assert_bare_files(&ws, "server", true, true);
    assert_key_matches_cert(&ws, "server-key.pem", "server.pem");
    let server = load_cert(&ws, "server.pem");
    check_leaf(&server, &ca, (before, after), 87600, "www leaf");

    // SANs: DNS names first, then IPs, each in request order (cfssl's order); openssl
    // reads the same list.
    let want = vec![
        San::dns("localhost"),
        San::dns("etcd.example.com"),
        San::ip("127.0.0.1"),
        San::ip("10.0.0.2"),
        San::ip("::1"),
    ];
    assert_eq!(server.sans, want, "SANs (x509-parser)");
    assert_eq!(openssl_cert_sans(&ws, "server.pem"), want, "SANs (openssl)");
    assert_eq!(csr_sans(&ws.read("server.csr")), want, "SANs in the CSR");
    openssl(&ws, &["req", "-in", "server.csr", "-noout", "-verify"]);
    assert_eq!(server.ext_key_usage, Some(vec!["serverAuth".to_string()]));
    assert_eq!(server.public_key, "ecdsa-P-256");
    assert_eq!(
        server.sig_alg, "sha256WithRSAEncryption",
        "signed by the RSA CA"
    );
    assert_eq!(
        server.subject_attrs(),
        vec![
            ("C".to_string(), "US".to_string()),
            ("ST".to_string(), "CA".to_string()),
            ("L".to_string(), "San Francisco".to_string()),
            ("CN".to_string(), "etcd-server".to_string()),
        ]
    );

    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "server.pem");
    // www has no client auth: openssl must refuse the client purpose.
    assert_openssl_rejects(&ws, "ca.pem", None, Some("sslclient"), "server.pem");
}

#[test]
fn kubernetes_profile_with_hostname_override() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let (ca, _, _) = classic_ca(&ws);
    ws.write("admin-csr.json", ADMIN_CSR);
    let before = unix_now();
    ws.sh(
        "cfssl gencert -ca ca.pem -ca-key ca-key.pem -config ca-config.json -profile kubernetes \
         -hostname=10.0.0.1,127.0.0.1,kubernetes.default admin-csr.json | cfssljson -bare admin",
    )
    .ok();
    let after = unix_now();
    assert_bare_files(&ws, "admin", true, true);
    assert_key_matches_cert(&ws, "admin-key.pem", "admin.pem");
    let admin = load_cert(&ws, "admin.pem");
    check_leaf(&admin, &ca, (before, after), 87600, "kubernetes leaf");
    // -hostname replaces the JSON hosts, in the certificate and in the CSR.
    let want = vec![
        San::dns("kubernetes.default"),
        San::ip("10.0.0.1"),
        San::ip("127.0.0.1"),
    ];
    assert_eq!(admin.sans, want);
    assert_eq!(openssl_cert_sans(&ws, "admin.pem"), want);
    assert_eq!(csr_sans(&ws.read("admin.csr")), want);
    assert_eq!(
        admin.ext_key_usage,
        Some(vec!["serverAuth".to_string(), "clientAuth".to_string()])
    );
    assert_eq!(
        admin.subject_cn().as_deref(),
        Some("admin"),
        "lower-case `cn` key"
    );
    assert!(
        admin
            .subject_attrs()
            .contains(&("O".to_string(), "system:masters".to_string()))
    );
    assert_eq!(admin.public_key, "rsa-2048");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "admin.pem");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), "admin.pem");
}

#[test]
fn client_profile_with_empty_hosts_and_without_hosts() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let (ca, before, _) = classic_ca(&ws);
    ws.write(
        "client-csr.json",
        r#"{"CN": "client", "hosts": [""], "key": {"algo": "ecdsa", "size": 256}}"#,
    );
    ws.write(
        "nohosts-csr.json",
        r#"{"CN": "nohosts", "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "x"}]}"#,
    );
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=client \
         client-csr.json | cfssljson -bare client",
    )
    .ok();
    let out = ws.run(
        "cfssl",
        &[
            "gencert",
            "-ca=ca.pem",
            "-ca-key=ca-key.pem",
            "-config=ca-config.json",
            "-profile=client",
            "nohosts-csr.json",
        ],
    );
    out.ok();
    assert!(
        out.stderr.contains(r#"lacks a "hosts" field"#),
        "missing-hosts warning expected: {}",
        out.describe()
    );
    ws.run_stdin("cfssljson", &["-bare", "nohosts"], &out.stdout)
        .ok();
    let after = unix_now();

    for name in ["client", "nohosts"] {
        let pem = format!("{name}.pem");
        assert_bare_files(&ws, name, true, true);
        let c = load_cert(&ws, &pem);
        check_leaf(&c, &ca, (before, after), 87600, name);
        assert_eq!(
            c.ext_key_usage,
            Some(vec!["clientAuth".to_string()]),
            "{name}"
        );
        assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), &pem);
        assert_openssl_rejects(&ws, "ca.pem", None, Some("sslserver"), &pem);
    }
    // `"hosts": [""]` may give an empty DNS SAN (cfssl does) but never a real name.
    let client = load_cert(&ws, "client.pem");
    assert!(
        client.sans.iter().all(|s| *s == San::dns("")),
        "{:?}",
        client.sans
    );
    assert!(load_cert(&ws, "nohosts.pem").sans.is_empty());
}

#[test]
fn lower_case_json_keys_are_accepted() {
    let ws = Workspace::new();
    let (ca, _, _) = classic_ca(&ws);
    ws.write(
        "lower-csr.json",
        r#"{"cn": "lower", "Hosts": ["lower.example.com"],
            "Key": {"Algo": "ecdsa", "Size": 384}, "Names": [{"c": "DE", "o": "Lower"}]}"#,
    );
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=www \
         lower-csr.json | cfssljson -bare lower",
    )
    .ok();
    let c = load_cert(&ws, "lower.pem");
    c.verify_signed_by(Some(&ca)).expect("signed by CA");
    assert_eq!(c.sans, vec![San::dns("lower.example.com")]);
    assert_eq!(c.public_key, "ecdsa-P-384");
    assert_eq!(
        c.subject_attrs(),
        vec![
            ("C".to_string(), "DE".to_string()),
            ("O".to_string(), "Lower".to_string()),
            ("CN".to_string(), "lower".to_string()),
        ]
    );
}

// ---------------------------------------------------------------------------
// genkey, sign, selfsign
// ---------------------------------------------------------------------------

#[test]
fn sign_peer_csr_made_by_genkey() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let (ca, _, _) = classic_ca(&ws);
    ws.write("peer-csr.json", PEER_CSR);
    ws.sh("cfssl genkey peer-csr.json | cfssljson -bare peer")
        .ok();
    assert_bare_files(&ws, "peer", false, true);
    openssl(&ws, &["req", "-in", "peer.csr", "-noout", "-verify"]);

    let before = unix_now();
    ws.sh(
        "cfssl sign -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=peer peer.csr \
         | cfssljson -bare peer",
    )
    .ok();
    let after = unix_now();
    assert!(ws.exists("peer.pem"));
    assert_key_matches_cert(&ws, "peer-key.pem", "peer.pem");
    let peer = load_cert(&ws, "peer.pem");
    check_leaf(&peer, &ca, (before, after), 87600, "peer");
    assert_eq!(
        peer.sans,
        vec![San::dns("member1.local"), San::ip("127.0.0.1")],
        "SANs come from the CSR"
    );
    assert_eq!(
        peer.ext_key_usage,
        Some(vec!["serverAuth".to_string(), "clientAuth".to_string()])
    );
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "peer.pem");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), "peer.pem");
}

#[test]
fn genkey_and_genkey_initca() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.sh("cfssl print-defaults csr > csr.json").ok();
    ws.write("ca-csr.json", CA_CSR);
    ws.sh("cfssl genkey csr.json | cfssljson -bare req ; cfssl genkey -initca ca-csr.json | cfssljson -bare ca2")
        .ok();
    // genkey: key + CSR, no certificate.
    assert_bare_files(&ws, "req", false, true);
    assert_eq!(pem_labels(&ws.read("req-key.pem")), vec!["EC PRIVATE KEY"]);
    assert_eq!(
        csr_sans(&ws.read("req.csr")),
        vec![San::dns("example.net"), San::dns("www.example.net")]
    );
    let req_pub = openssl(&ws, &["req", "-in", "req.csr", "-noout", "-pubkey"]).stdout;
    assert_eq!(
        req_pub,
        openssl_pubkey_of_key(&ws, "req-key.pem"),
        "CSR key"
    );

    // genkey -initca: a self-signed CA like gencert -initca.
    assert_bare_files(&ws, "ca2", true, true);
    let ca2 = load_cert(&ws, "ca2.pem");
    ca2.verify_signed_by(None).expect("self-signed");
    assert!(ca2.is_ca());
    assert_eq!(ca2.validity_secs(), 87600 * HOUR);
    assert_key_matches_cert(&ws, "ca2-key.pem", "ca2.pem");
    assert_openssl_verifies(&ws, "ca2.pem", None, None, "ca2.pem");
}

#[test]
fn selfsign_www_example_com() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.sh("cfssl print-defaults csr > csr.json").ok();
    let before = unix_now();
    let out = ws.sh("cfssl selfsign www.example.com csr.json | cfssljson -bare self");
    out.ok();
    let after = unix_now();
    assert_bare_files(&ws, "self", true, true);
    assert_key_matches_cert(&ws, "self-key.pem", "self.pem");
    let c = load_cert(&ws, "self.pem");
    c.verify_signed_by(None).expect("self-signature");
    assert_eq!(c.raw_subject, c.raw_issuer);
    assert_eq!(c.subject_cn().as_deref(), Some("example.net"));
    assert_openssl_verifies(&ws, "self.pem", None, None, "self.pem");
    // Built-in selfsign lifetime is 2190h counted from "now"; notBefore is now-5min.
    let life = c.validity_secs();
    assert!(
        (2190 * HOUR..=2190 * HOUR + 300 + (after - before) + 1).contains(&life),
        "selfsign lifetime {life}s"
    );
    assert!(
        (before - 300 - 60..=after - 300 + 60).contains(&c.not_before),
        "selfsign notBefore"
    );
    assert_serial_ok(&c, "selfsign");
}

// ---------------------------------------------------------------------------
// certinfo
// ---------------------------------------------------------------------------

#[test]
fn certinfo_of_certificates_and_csr() {
    let ws = Workspace::new();
    let (ca, _, _) = classic_ca(&ws);
    ws.write("server-csr.json", SERVER_CSR);
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=www \
         server-csr.json | cfssljson -bare server",
    )
    .ok();
    let server = load_cert(&ws, "server.pem");

    let standalone = ws.sh("cfssl-certinfo -cert server.pem");
    standalone.ok();
    let info = standalone.json();
    assert_certinfo_matches(&info, &server, &ws.read("server.pem"));
    assert_eq!(info["subject"]["country"], "US");
    assert_eq!(info["issuer"]["common_name"], "etcd CA");
    assert_eq!(info["issuer"]["organizational_unit"], "etcd Security");
    assert_eq!(
        info["sans"],
        json!([
            "localhost",
            "etcd.example.com",
            "127.0.0.1",
            "10.0.0.2",
            "::1"
        ])
    );
    assert_eq!(info["sigalg"], "SHA256WithRSA");
    assert_eq!(
        normalize_key_id(info["authority_key_id"].as_str().unwrap()),
        hex_colon(ca.ski.as_ref().unwrap())
    );
    if !skip_kpki_only("certinfo key ids zero-padded (Debian cfssl 1.2 does not pad)") {
        assert_eq!(
            info["subject_key_id"],
            hex_colon(server.ski.as_ref().unwrap())
        );
        assert_eq!(
            info["authority_key_id"],
            hex_colon(ca.ski.as_ref().unwrap())
        );
    }

    // The subcommand form prints the same document.
    let sub = ws.run("cfssl", &["certinfo", "-cert", "server.pem"]);
    assert_eq!(sub.ok().json(), info);

    // A root: empty authority_key_id, no sans.
    let ca_info = ws.run("cfssl", &["certinfo", "-cert", "ca.pem"]).json();
    assert_certinfo_matches(&ca_info, &ca, &ws.read("ca.pem"));
    if ca.aki.is_none() {
        assert_eq!(ca_info["authority_key_id"], "");
    }
    assert_eq!(
        ca_info["subject"]["names"],
        json!([
            "US",
            "CA",
            "San Francisco",
            "etcd",
            "etcd Security",
            "etcd CA"
        ])
    );

    // `certinfo -csr`: cfssl prints Go's CertificateRequest struct. Only require JSON
    // that mentions the subject and the requested names.
    let csr_out = ws.run("cfssl", &["certinfo", "-csr", "server.csr"]);
    let csr_json = csr_out.ok().json().to_string();
    for needle in ["etcd-server", "localhost", "etcd.example.com"] {
        assert!(
            csr_json.contains(needle),
            "certinfo -csr lacks {needle}: {csr_json}"
        );
    }
}

// ---------------------------------------------------------------------------
// Key algorithms
// ---------------------------------------------------------------------------

/// A CA and a leaf with the same key type; openssl must accept the chain, the key PEM
/// label must be the cfssl one, and the signature algorithm must follow the CA key.
fn key_algorithm_round_trip(algo: &str, size: u32, label: &str, pk: &str, sig: &str) {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write("ca-config.json", CA_CONFIG);
    let key = if algo == "ed25519" {
        json!({"algo": algo})
    } else {
        json!({"algo": algo, "size": size})
    };
    ws.write_json(
        "ca-csr.json",
        &json!({"CN": format!("{algo}-{size} CA"), "key": key, "names": [{"O": "kpki"}]}),
    );
    ws.write_json(
        "leaf-csr.json",
        &json!({"CN": "leaf.example.com", "hosts": ["leaf.example.com", "127.0.0.1"], "key": key}),
    );
    ws.sh("cfssl gencert -initca ca-csr.json | cfssljson -bare ca")
        .ok();
    let before = unix_now();
    ws.sh(
        "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=kubernetes \
         leaf-csr.json | cfssljson -bare leaf",
    )
    .ok();
    let after = unix_now();
    let ca = load_cert(&ws, "ca.pem");
    let leaf = load_cert(&ws, "leaf.pem");
    for (name, c) in [("ca", &ca), ("leaf", &leaf)] {
        assert_eq!(c.public_key, pk, "{name} public key");
        assert_eq!(c.sig_alg, sig, "{name} signature algorithm");
        assert_eq!(
            pem_labels(&ws.read(&format!("{name}-key.pem"))),
            vec![label.to_string()],
            "{name} key PEM label"
        );
        assert_key_matches_cert(&ws, &format!("{name}-key.pem"), &format!("{name}.pem"));
    }
    ca.verify_signed_by(None).expect("CA self-signature");
    check_leaf(&leaf, &ca, (before, after), 87600, "leaf");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "leaf.pem");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), "leaf.pem");
}

#[test]
fn key_ecdsa_256() {
    key_algorithm_round_trip(
        "ecdsa",
        256,
        "EC PRIVATE KEY",
        "ecdsa-P-256",
        "ecdsa-with-SHA256",
    );
}

#[test]
fn key_ecdsa_384() {
    key_algorithm_round_trip(
        "ecdsa",
        384,
        "EC PRIVATE KEY",
        "ecdsa-P-384",
        "ecdsa-with-SHA384",
    );
}

#[test]
fn key_ecdsa_521() {
    key_algorithm_round_trip(
        "ecdsa",
        521,
        "EC PRIVATE KEY",
        "ecdsa-P-521",
        "ecdsa-with-SHA512",
    );
}

#[test]
fn key_rsa_2048() {
    key_algorithm_round_trip(
        "rsa",
        2048,
        "RSA PRIVATE KEY",
        "rsa-2048",
        "sha256WithRSAEncryption",
    );
}

#[test]
fn key_rsa_3072() {
    key_algorithm_round_trip(
        "rsa",
        3072,
        "RSA PRIVATE KEY",
        "rsa-3072",
        "sha384WithRSAEncryption",
    );
}

#[test]
fn key_rsa_4096() {
    key_algorithm_round_trip(
        "rsa",
        4096,
        "RSA PRIVATE KEY",
        "rsa-4096",
        "sha512WithRSAEncryption",
    );
}

#[test]
fn key_ed25519() {
    // Debian's cfssl 1.2 predates Ed25519 ("invalid algorithm"). kpki writes PKCS#8
    // under the standard `PRIVATE KEY` label (newest cfssl uses `Ed25519 PRIVATE KEY`).
    if skip_kpki_only("Ed25519 keys") {
        return;
    }
    key_algorithm_round_trip("ed25519", 0, "PRIVATE KEY", "ed25519", "ed25519");
}

#[test]
fn rsa_1024_is_refused_with_code_2400() {
    let ws = Workspace::new();
    ws.write(
        "weak.json",
        r#"{"CN": "weak", "key": {"algo": "rsa", "size": 1024}}"#,
    );
    let out = ws.run("cfssl", &["gencert", "-initca", "weak.json"]);
    // Real cfssl exits 1 here too.
    out.failed();
    assert_eq!(out.error_code(), 2400, "{}", out.describe());
    assert!(!out.stdout.contains("BEGIN"), "no key material on failure");
}

// ---------------------------------------------------------------------------
// Policy: intermediate chain, name whitelist, unknown profile
// ---------------------------------------------------------------------------

const INT_CONFIG: &str = r#"{
  "signing": {
    "default": {"expiry": "8760h"},
    "profiles": {
      "intermediate": {
        "expiry": "43800h",
        "usages": ["signing", "cert sign", "crl sign"],
        "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}
      },
      "server": {
        "expiry": "8760h",
        "usages": ["signing", "key encipherment", "server auth"]
      },
      "restricted": {
        "expiry": "8760h",
        "usages": ["signing", "key encipherment", "server auth"],
        "name_whitelist": "\\.example\\.com$"
      }
    }
  }
}"#;

#[test]
fn intermediate_ca_chain_verifies() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write("ca-config.json", INT_CONFIG);
    ws.write("root-csr.json", CA_CSR);
    ws.write(
        "int-csr.json",
        r#"{"CN": "etcd Intermediate CA", "key": {"algo": "ecdsa", "size": 256},
            "names": [{"O": "etcd", "OU": "Intermediate"}]}"#,
    );
    ws.write(
        "leaf-csr.json",
        r#"{"CN": "leaf.example.com", "hosts": ["leaf.example.com", "127.0.0.1"],
            "key": {"algo": "ecdsa", "size": 256}}"#,
    );
    ws.sh("set -e\n\
         cfssl gencert -initca root-csr.json | cfssljson -bare root\n\
         cfssl genkey -initca int-csr.json | cfssljson -bare int\n\
         cfssl sign -ca root.pem -ca-key root-key.pem -config ca-config.json -profile intermediate \
         int.csr | cfssljson -bare int\n\
         cfssl gencert -ca int.pem -ca-key int-key.pem -config ca-config.json -profile server \
         leaf-csr.json | cfssljson -bare leaf")
        .ok();
    let root = load_cert(&ws, "root.pem");
    let int = load_cert(&ws, "int.pem");
    let leaf = load_cert(&ws, "leaf.pem");
    int.verify_signed_by(Some(&root))
        .expect("intermediate signed by root");
    leaf.verify_signed_by(Some(&int))
        .expect("leaf signed by intermediate");
    assert_eq!(int.raw_issuer, root.raw_subject);
    assert_eq!(
        int.basic_constraints,
        Some((true, true, Some(0))),
        "CA:TRUE, pathlen:0"
    );
    assert!(int.has_ku("keyCertSign") && int.has_ku("cRLSign"));
    assert_eq!(int.validity_secs(), 43800 * HOUR);
    assert_key_ids(&int, Some(&root), "intermediate");
    assert_key_ids(&leaf, Some(&int), "leaf");
    assert_key_matches_cert(&ws, "int-key.pem", "int.pem");

    assert_openssl_verifies(
        &ws,
        "root.pem",
        Some("int.pem"),
        Some("sslserver"),
        "leaf.pem",
    );
    assert_openssl_verifies(&ws, "root.pem", None, None, "int.pem");
    // Without the intermediate the leaf does not chain to the root.
    assert_openssl_rejects(&ws, "root.pem", None, None, "leaf.pem");
}

#[test]
fn name_whitelist_refuses_other_names() {
    let ws = Workspace::new();
    ws.write("ca-config.json", INT_CONFIG);
    ws.write("ca-csr.json", CA_CSR);
    ws.write(
        "ok.json",
        r#"{"CN": "ok.example.com", "hosts": ["ok.example.com"]}"#,
    );
    ws.write(
        "bad.json",
        r#"{"CN": "ok.example.com", "hosts": ["ok.example.com", "evil.example.org"]}"#,
    );
    ws.sh("cfssl gencert -initca ca-csr.json | cfssljson -bare ca")
        .ok();
    let args = |csr: &'static str| {
        [
            "gencert",
            "-ca=ca.pem",
            "-ca-key=ca-key.pem",
            "-config=ca-config.json",
            "-profile=restricted",
            csr,
        ]
    };
    let ok = ws.run("cfssl", &args("ok.json"));
    let ok_json = ok.ok().json();
    let cert = summarize_cert_pem(ok_json["cert"].as_str().unwrap());
    cert.verify_signed_by(Some(&load_cert(&ws, "ca.pem")))
        .expect("whitelisted cert signed by CA");
    assert_eq!(cert.sans, vec![San::dns("ok.example.com")]);

    let bad = ws.run("cfssl", &args("bad.json"));
    bad.failed();
    assert_eq!(bad.error_code(), 5500, "{}", bad.describe());
    assert!(!bad.stdout.contains("BEGIN CERTIFICATE"));
}

#[test]
fn unknown_profile_is_an_error_listing_profiles() {
    // kpki-only: cfssl silently falls back to the default profile (here: no usages →
    // 5100, but with usages it would issue a certificate).
    if skip_kpki_only("unknown profile is an error") {
        return;
    }
    let ws = Workspace::new();
    classic_ca(&ws);
    ws.write("server-csr.json", SERVER_CSR);
    let out = ws.run(
        "cfssl",
        &[
            "gencert",
            "-ca=ca.pem",
            "-ca-key=ca-key.pem",
            "-config=ca-config.json",
            "-profile=nosuch",
            "server-csr.json",
        ],
    );
    out.failed();
    assert!(
        out.error_json().is_some(),
        "JSON error expected: {}",
        out.describe()
    );
    for p in ["www", "kubernetes", "peer", "client", "server"] {
        assert!(
            out.stderr.contains(p),
            "error should list profile {p}: {}",
            out.describe()
        );
    }
    assert!(!out.stdout.contains("BEGIN CERTIFICATE"));
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

/// Flips one byte of the subject CN inside the signed part of a PEM CSR.
fn tamper_csr(pem_text: &str, from: &[u8], to: &[u8]) -> String {
    let mut der = pem_block(pem_text, "CERTIFICATE REQUEST");
    let at = der
        .windows(from.len())
        .position(|w| w == from)
        .expect("CN bytes in CSR");
    der[at..at + to.len()].copy_from_slice(to);
    ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", der))
}

#[test]
fn tampered_csr_is_refused_by_sign() {
    let ws = Workspace::new();
    classic_ca(&ws);
    ws.write("peer-csr.json", PEER_CSR);
    ws.sh("cfssl genkey peer-csr.json | cfssljson -bare peer")
        .ok();
    ws.write(
        "tampered.csr",
        tamper_csr(&ws.read("peer.csr"), b"member1", b"member2"),
    );
    // Sanity: the untouched CSR signs fine, so the refusal below is about the signature.
    ws.run(
        "cfssl",
        &[
            "sign",
            "-ca=ca.pem",
            "-ca-key=ca-key.pem",
            "-config=ca-config.json",
            "-profile=peer",
            "peer.csr",
        ],
    )
    .ok();
    let out = ws.run(
        "cfssl",
        &[
            "sign",
            "-ca=ca.pem",
            "-ca-key=ca-key.pem",
            "-config=ca-config.json",
            "-profile=peer",
            "tampered.csr",
        ],
    );
    out.failed();
    assert_eq!(out.error_code(), 9300, "{}", out.describe());
    assert!(!out.stdout.contains("BEGIN CERTIFICATE"));
}

#[test]
fn bad_or_missing_input_files_fail_with_exit_1() {
    let ws = Workspace::new();
    classic_ca(&ws);
    ws.write("garbage.json", "{\"CN\": bad json");
    ws.write("notpem.csr", "this is not PEM\n");
    ws.write("server-csr.json", SERVER_CSR);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "missing CSR JSON",
            vec!["gencert", "-initca", "missing.json"],
        ),
        (
            "invalid CSR JSON",
            vec!["gencert", "-initca", "garbage.json"],
        ),
        (
            "missing CSR JSON with CA",
            vec![
                "gencert",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-config=ca-config.json",
                "missing.json",
            ],
        ),
        (
            "missing CA cert",
            vec![
                "gencert",
                "-ca=nope.pem",
                "-ca-key=ca-key.pem",
                "-config=ca-config.json",
                "-profile=www",
                "server-csr.json",
            ],
        ),
        (
            "missing config",
            vec![
                "gencert",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-config=nope.json",
                "-profile=www",
                "server-csr.json",
            ],
        ),
        (
            "missing CSR file",
            vec![
                "sign",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-config=ca-config.json",
                "missing.csr",
            ],
        ),
        (
            "CSR file without PEM",
            vec![
                "sign",
                "-ca=ca.pem",
                "-ca-key=ca-key.pem",
                "-config=ca-config.json",
                "notpem.csr",
            ],
        ),
        (
            "certinfo of a missing cert",
            vec!["certinfo", "-cert", "missing.pem"],
        ),
    ];
    for (what, args) in cases {
        let out = ws.run("cfssl", &args);
        // cfssl exits 1 too (its Go errors print raw text, and `certinfo` of a missing
        // file is handled the same way).
        out.exit_code(1);
        assert!(!out.stdout.contains("BEGIN"), "{what}: {}", out.describe());
        if !skip_kpki_only(&format!("{what}: JSON error on stderr")) {
            let err = out
                .error_json()
                .unwrap_or_else(|| panic!("{what}: no JSON error: {}", out.describe()));
            assert!(
                err["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}"
            );
        }
    }
    // cfssl-certinfo always exits 0 in cfssl; kpki reports the failure.
    let out = ws.run("cfssl-certinfo", &["-cert", "missing.pem"]);
    if !skip_kpki_only("cfssl-certinfo exit code on a missing file") {
        out.exit_code(1);
        assert!(out.error_json().is_some(), "{}", out.describe());
    }
}

#[test]
fn unknown_flag_exits_2() {
    let ws = Workspace::new();
    let out = ws.run("cfssl", &["gencert", "-no-such-flag", "x.json"]);
    out.exit_code(2);
    assert!(out.stderr.contains("no-such-flag"), "{}", out.describe());
    let out = ws.run("cfssljson", &["-no-such-flag"]);
    out.exit_code(2);
}

#[test]
fn cfssljson_refuses_empty_object() {
    // kpki-only: cfssljson 1.2 writes nothing and exits 0 for `{}`.
    if skip_kpki_only("cfssljson exit code for {}") {
        return;
    }
    let ws = Workspace::new();
    let out = ws.run_stdin("cfssljson", &["-bare", "empty"], "{}");
    out.failed();
    assert!(!ws.exists("empty.pem") && !ws.exists("empty-key.pem"));
    // Failed cfssl output (empty input) is a parse error as in cfssl.
    let out = ws.run_stdin("cfssljson", &["-bare", "empty"], "");
    out.failed();
}

// ---------------------------------------------------------------------------
// kpki's native forms (kpki-only)
// ---------------------------------------------------------------------------

/// Profiles kpki ships built in (used when no -config is given).
const BUILTIN_PROFILES: [&str; 7] = [
    "server",
    "client",
    "peer",
    "www",
    "etcd",
    "kubernetes",
    "intermediate",
];

#[test]
fn native_kpki_commands() {
    if skip_kpki_only("kpki native command names") || !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write("ca-csr.json", CA_CSR);
    ws.sh("kpki gencert -initca ca-csr.json | kpki json -bare ca")
        .ok();
    assert_bare_files(&ws, "ca", true, true);
    let ca = load_cert(&ws, "ca.pem");
    ca.verify_signed_by(None).expect("CA self-signature");
    assert_eq!(ca.validity_secs(), 87600 * HOUR);

    let info = ws.run("kpki", &["certinfo", "ca.pem"]);
    assert_certinfo_matches(&info.ok().json(), &ca, &ws.read("ca.pem"));

    ws.write(
        "etcd-csr.json",
        r#"{"CN": "etcd-1", "hosts": ["127.0.0.1", "localhost"],
            "key": {"algo": "ecdsa", "size": 256}}"#,
    );
    ws.sh("kpki gencert -ca=ca.pem -ca-key=ca-key.pem -profile=etcd etcd-csr.json | kpki json -bare etcd")
        .ok();
    let etcd = load_cert(&ws, "etcd.pem");
    etcd.verify_signed_by(Some(&ca)).expect("etcd signed by CA");
    assert_eq!(etcd.sans, vec![San::dns("localhost"), San::ip("127.0.0.1")]);
    // etcd certificates serve and are presented as client certificates (peers, gateway).
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), "etcd.pem");
    assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), "etcd.pem");

    let profiles = ws.run("kpki", &["profiles"]);
    profiles.ok();
    for p in BUILTIN_PROFILES {
        assert!(
            profiles.stdout.contains(p),
            "`kpki profiles` lacks {p}: {}",
            profiles.describe()
        );
    }
}

#[test]
fn builtin_profiles_work_without_config() {
    if skip_kpki_only("built-in profile pack") || !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write(
        "ca-csr.json",
        r#"{"CN": "Builtin CA", "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "kpki"}]}"#,
    );
    ws.write(
        "leaf-csr.json",
        r#"{"CN": "node-1", "hosts": ["node-1.example.com", "127.0.0.1"],
            "key": {"algo": "ecdsa", "size": 256}}"#,
    );
    ws.sh("kpki gencert -initca ca-csr.json | kpki json -bare ca")
        .ok();
    let ca = load_cert(&ws, "ca.pem");
    for p in BUILTIN_PROFILES {
        ws.sh(&format!(
            "kpki gencert -ca=ca.pem -ca-key=ca-key.pem -profile={p} leaf-csr.json | kpki json -bare {p}"
        ))
        .ok();
        let pem = format!("{p}.pem");
        let c = load_cert(&ws, &pem);
        c.verify_signed_by(Some(&ca))
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_key_ids(&c, Some(&ca), p);
        assert_serial_ok(&c, p);
        // Lifetimes of the built-in pack (profiles/kpki.json).
        let hours = match p {
            "etcd" | "kubernetes" => 87600,
            "intermediate" => 43800,
            _ => 8760,
        };
        assert_eq!(c.validity_secs(), hours * HOUR, "{p}: lifetime");
        let (server, client) = match p {
            "server" | "www" => (true, false),
            "client" => (false, true),
            "peer" | "etcd" | "kubernetes" => (true, true),
            _ => (false, false),
        };
        if p == "intermediate" {
            assert!(c.is_ca(), "intermediate must be a CA");
            assert_eq!(c.basic_constraints.unwrap().2, Some(0), "pathlen 0");
            assert!(c.has_ku("keyCertSign"));
            assert_openssl_verifies(&ws, "ca.pem", None, None, &pem);
            continue;
        }
        assert!(!c.is_ca(), "{p}: leaf must not be a CA");
        assert!(c.has_ku("digitalSignature"), "{p}: digitalSignature");
        assert_eq!(c.has_eku("serverAuth"), server, "{p}: serverAuth");
        assert_eq!(c.has_eku("clientAuth"), client, "{p}: clientAuth");
        if server {
            assert_openssl_verifies(&ws, "ca.pem", None, Some("sslserver"), &pem);
        }
        if client {
            assert_openssl_verifies(&ws, "ca.pem", None, Some("sslclient"), &pem);
        }
    }
}

/// The hidden benchmark filler inserts what it says, revokes every Nth row, is not listed in
/// the command list, and refuses bad numbers with a coded error.
#[test]
fn bench_fill_inserts_synthetic_rows_and_stays_hidden() {
    let ws = Workspace::new();
    let db = format!("sqlite://{}", ws.path("fill.db").display());
    let out = ws.run(
        "kpki",
        &[
            "bench-fill",
            "-db",
            &db,
            "-rows",
            "500",
            "-revoked-every",
            "5",
        ],
    );
    out.ok();
    assert!(
        out.stdout.contains("table now has 500 rows"),
        "{}",
        out.stdout
    );
    let revoked = ws
        .run(
            "kpki",
            &[
                "certs", "-db", &db, "-status", "revoked", "-json", "-limit", "1000",
            ],
        )
        .json();
    assert_eq!(revoked.as_array().unwrap().len(), 100);
    let good = ws
        .run(
            "kpki",
            &[
                "certs", "-db", &db, "-status", "good", "-json", "-limit", "1000",
            ],
        )
        .json();
    assert_eq!(good.as_array().unwrap().len(), 400);
    let list = ws.run("kpki", &[]);
    assert!(!list.stdout.contains("bench-fill") && !list.stderr.contains("bench-fill"));
    let bad = ws.run("kpki", &["bench-fill", "-db", &db, "-rows", "-3"]);
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("-rows must not be negative"),
        "{}",
        bad.stderr
    );
}
