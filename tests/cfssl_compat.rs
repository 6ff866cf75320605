//! Side by side with the real cfssl: the same CSR JSON and config go through cfssl
//! (`/usr/bin`, or `KPKI_TEST_CFSSL_DIR`) and through kpki (symlinks to the kpki binary,
//! whatever `KPKI_TEST_TOOLS_DIR` says); the resulting certificates are parsed with
//! x509-parser and compared field by field, and both tools' certinfo output is compared
//! on the same certificate files.
//!
//! Skips loudly when cfssl is not installed; fails instead under `CI=true`.

mod common;

use std::path::PathBuf;

use common::*;

/// Where the reference cfssl lives.
fn cfssl_dir() -> PathBuf {
    std::env::var_os("KPKI_TEST_CFSSL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin"))
}

/// The tools compared with cfssl: kpki symlinks, or (only to validate this test file
/// itself) the tools in `KPKI_TEST_COMPAT_SUBJECT_DIR`, e.g. cfssl against itself.
fn subject_tools() -> Tools {
    match std::env::var_os("KPKI_TEST_COMPAT_SUBJECT_DIR") {
        Some(d) => Tools::real_cfssl_in(std::path::Path::new(&d)).expect("tools in subject dir"),
        None => Tools::kpki(),
    }
}

fn subject_is_kpki() -> bool {
    std::env::var_os("KPKI_TEST_COMPAT_SUBJECT_DIR").is_none()
}

/// Workspaces for real cfssl and for kpki, or `None` (after a SKIP line) when cfssl
/// is missing.
fn pair() -> Option<(Workspace, Workspace)> {
    let dir = cfssl_dir();
    match Tools::real_cfssl_in(&dir) {
        Some(real) => Some((
            Workspace::with_tools(real),
            Workspace::with_tools(subject_tools()),
        )),
        None => {
            skip(&format!(
                "real cfssl tools not found in {} (cfssl, cfssljson, cfssl-certinfo)",
                dir.display()
            ));
            None
        }
    }
}

const CA_CONFIG: &str = r#"{
  "signing": {
    "default": {"expiry": "8760h"},
    "profiles": {
      "www": {"expiry": "87600h", "usages": ["signing", "key encipherment", "server auth"]},
      "kubernetes": {"expiry": "43800h",
                     "usages": ["signing", "key encipherment", "server auth", "client auth"]},
      "client": {"expiry": "17520h", "usages": ["signing", "key encipherment", "client auth"]}
    }
  }
}"#;

const CA_CSR: &str = r#"{
  "CN": "Compat Root CA",
  "key": {"algo": "rsa", "size": 2048},
  "names": [{"C": "US", "L": "San Francisco", "ST": "CA", "O": "kpki", "OU": "PKI"}],
  "ca": {"expiry": "87600h"}
}"#;

/// Two `names` entries: repeated O and OU types (cfssl 1.2 squashes same-type values
/// into one multi-valued RDN).
const MULTI_CA_CSR: &str = r#"{
  "CN": "Multi CA",
  "key": {"algo": "ecdsa", "size": 384},
  "names": [{"C": "DE", "O": "First Org", "OU": "Unit A"},
            {"O": "Second Org", "OU": "Unit B"}]
}"#;

const SERVER_CSR: &str = r#"{
  "CN": "compat.example.com",
  "hosts": ["compat.example.com", "10.1.2.3", "localhost", "::1", "*.compat.example.com"],
  "key": {"algo": "ecdsa", "size": 256},
  "names": [{"C": "US", "ST": "CA", "L": "San Francisco", "O": "kpki", "OU": "Web"}]
}"#;

const K8S_CLIENT_CSR: &str = r#"{
  "CN": "system:node:worker-0",
  "hosts": [""],
  "key": {"algo": "rsa", "size": 2048},
  "names": [{"C": "US", "L": "Portland", "O": "system:nodes", "ST": "Oregon"}]
}"#;

/// Runs `script` in both workspaces after writing the shared inputs.
fn run_both(real: &Workspace, kpki: &Workspace, files: &[(&str, &str)], script: &str) {
    for ws in [real, kpki] {
        for (name, body) in files {
            ws.write(name, body);
        }
        ws.sh(&format!("set -e\n{script}")).ok();
    }
}

/// Subject/issuer attributes as cfssl 1.2 may encode them: when a type repeats, cfssl
/// 1.2 puts its values in one multi-valued RDN (DER SET order), so compare multisets;
/// otherwise compare the ordered list.
fn assert_same_name(cfssl: &[(String, String)], kpki: &[(String, String)], what: &str) {
    let repeats = |attrs: &[(String, String)]| {
        multiset(&attrs.iter().map(|(t, _)| t).collect::<Vec<_>>())
            .values()
            .any(|n| *n > 1)
    };
    let repeated = repeats(cfssl) || repeats(kpki);
    if repeated {
        assert_eq!(
            multiset(cfssl),
            multiset(kpki),
            "{what} attributes (as sets)"
        );
    } else {
        assert_eq!(cfssl, kpki, "{what} attributes (in order)");
    }
}

/// Compares every field kpki must match for a drop-in replacement.
fn assert_same_shape(cfssl: &CertSummary, kpki: &CertSummary, what: &str) {
    assert_same_name(
        &cfssl.subject_attrs(),
        &kpki.subject_attrs(),
        &format!("{what}: subject"),
    );
    let issuer = |c: &CertSummary| c.issuer.iter().flatten().cloned().collect::<Vec<_>>();
    assert_same_name(&issuer(cfssl), &issuer(kpki), &format!("{what}: issuer"));
    assert_eq!(cfssl.sans, kpki.sans, "{what}: SANs (set and order)");
    assert_eq!(cfssl.key_usage, kpki.key_usage, "{what}: key usage");
    assert_eq!(cfssl.ext_key_usage, kpki.ext_key_usage, "{what}: EKUs");
    assert_eq!(
        cfssl.basic_constraints, kpki.basic_constraints,
        "{what}: basic constraints (critical, CA, pathlen)"
    );
    assert_eq!(
        cfssl.validity_secs(),
        kpki.validity_secs(),
        "{what}: validity length"
    );
    assert_eq!(
        cfssl.not_before % 60,
        kpki.not_before % 60,
        "{what}: notBefore rounding"
    );
    assert_eq!(cfssl.public_key, kpki.public_key, "{what}: public key");
    assert_eq!(cfssl.sig_alg, kpki.sig_alg, "{what}: signature algorithm");
    assert_eq!(
        cfssl.ski.is_some(),
        kpki.ski.is_some(),
        "{what}: SKI presence"
    );
    assert_eq!(
        cfssl.aki.is_some(),
        kpki.aki.is_some(),
        "{what}: AKI presence"
    );
    let mut a = cfssl.extension_oids.clone();
    let mut b = kpki.extension_oids.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{what}: set of extensions");
}

/// Parses `name` in both workspaces, checks each chains to its own CA (x509-parser +
/// aws-lc), and compares them.
fn compare(real: &Workspace, kpki: &Workspace, name: &str, ca: Option<&str>) {
    let c = load_cert(real, name);
    let k = load_cert(kpki, name);
    for (tool, ws, cert) in [("cfssl", real, &c), ("kpki", kpki, &k)] {
        let issuer = ca.map(|ca| load_cert(ws, ca));
        cert.verify_signed_by(issuer.as_ref())
            .unwrap_or_else(|e| panic!("{tool} {name}: signature: {e}"));
        assert_serial_ok(cert, &format!("{tool} {name}"));
    }
    // Deliberate kpki deviations are taken out of cfssl's side (see common/mod.rs).
    let c_cmp = if subject_is_kpki() {
        without_known_deviations(&c)
    } else {
        c.clone()
    };
    assert_same_shape(&c_cmp, &k, name);
}

#[test]
fn initca_matches_cfssl() {
    let Some((real, kpki)) = pair() else { return };
    run_both(
        &real,
        &kpki,
        &[("ca-csr.json", CA_CSR)],
        "cfssl gencert -initca ca-csr.json | cfssljson -bare ca -",
    );
    compare(&real, &kpki, "ca.pem", None);
    assert_eq!(load_cert(&kpki, "ca.pem").validity_secs(), 87600 * HOUR);
}

#[test]
fn initca_with_repeated_name_types_matches_cfssl() {
    let Some((real, kpki)) = pair() else { return };
    run_both(
        &real,
        &kpki,
        &[("multi-csr.json", MULTI_CA_CSR)],
        "cfssl gencert -initca multi-csr.json | cfssljson -bare multi",
    );
    compare(&real, &kpki, "multi.pem", None);
    assert_eq!(load_cert(&kpki, "multi.pem").validity_secs(), 43800 * HOUR);
}

/// A leaf from each tool's own CA with `profile` (and an optional -hostname).
fn leaf_case(profile: &str, csr: &str, hostname: Option<&str>) {
    let Some((real, kpki)) = pair() else { return };
    let host_flag = hostname
        .map(|h| format!(" -hostname={h}"))
        .unwrap_or_default();
    run_both(
        &real,
        &kpki,
        &[
            ("ca-config.json", CA_CONFIG),
            ("ca-csr.json", CA_CSR),
            ("leaf-csr.json", csr),
        ],
        &format!(
            "cfssl gencert -initca ca-csr.json | cfssljson -bare ca\n\
             cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json \
             -profile={profile}{host_flag} leaf-csr.json | cfssljson -bare leaf"
        ),
    );
    compare(&real, &kpki, "leaf.pem", Some("ca.pem"));
    let k = load_cert(&kpki, "leaf.pem");
    assert_key_ids(&k, Some(&load_cert(&kpki, "ca.pem")), "kpki leaf");
    // The CSRs written next to the certificates request the same names.
    let mut real_csr_sans = csr_sans(&real.read("leaf.csr"));
    if subject_is_kpki() && KPKI_SKIPS_EMPTY_HOSTS {
        real_csr_sans.retain(|s| *s != San::dns(""));
    }
    assert_eq!(
        real_csr_sans,
        csr_sans(&kpki.read("leaf.csr")),
        "SANs requested in leaf.csr"
    );
}

#[test]
fn leaf_www_matches_cfssl() {
    leaf_case("www", SERVER_CSR, None);
}

#[test]
fn leaf_kubernetes_matches_cfssl() {
    leaf_case("kubernetes", SERVER_CSR, None);
}

#[test]
fn leaf_client_with_empty_host_matches_cfssl() {
    leaf_case("client", K8S_CLIENT_CSR, None);
}

#[test]
fn leaf_hostname_override_matches_cfssl() {
    leaf_case(
        "kubernetes",
        K8S_CLIENT_CSR,
        Some("worker-0,10.240.0.20,127.0.0.1,kubernetes.default"),
    );
}

/// A config whose default must not be used by selfsign, and a CA profile with URLs.
const SELFSIGN_CONFIG: &str = r#"{"signing":{
  "default":{"expiry":"1h","usages":["signing"]},
  "profiles":{"ca":{"expiry":"3h","usages":["cert sign","server auth"],
    "issuer_urls":["http://i.example/ca"],"ocsp_url":"http://o.example",
    "crl_url":"http://c.example/crl","ca_constraint":{"is_ca":true}}}}}"#;

/// `selfsign -config` without `-profile` (cfssl: the built-in default, 2190h, not the config's
/// default) and with a CA profile (is_ca and caIssuers kept, OCSP/CRL URLs dropped); lifetimes
/// counted from now (notBefore now − 5 min).
#[test]
fn selfsign_with_a_config_matches_cfssl() {
    let Some((real, kpki)) = pair() else { return };
    run_both(
        &real,
        &kpki,
        &[
            ("ss-config.json", SELFSIGN_CONFIG),
            ("ss-csr.json", SERVER_CSR),
        ],
        "cfssl selfsign -config ss-config.json x.example ss-csr.json | cfssljson -bare def\n\
         cfssl selfsign -config=ss-config.json -profile=ca x.example ss-csr.json \
         | cfssljson -bare ca",
    );
    for (name, hours) in [("def.pem", 2190), ("ca.pem", 3)] {
        let c = load_cert(&real, name);
        let k = load_cert(&kpki, name);
        for (tool, cert) in [("cfssl", &c), ("kpki", &k)] {
            cert.verify_signed_by(None)
                .unwrap_or_else(|e| panic!("{tool} {name}: self-signature: {e}"));
            assert_eq!(cert.validity_secs(), hours * HOUR + 300, "{tool} {name}");
        }
        let c = if subject_is_kpki() {
            without_known_deviations(&c)
        } else {
            c
        };
        assert_eq!(c.key_usage, k.key_usage, "{name}: key usage");
        assert_eq!(c.ext_key_usage, k.ext_key_usage, "{name}: EKUs");
        assert_eq!(c.basic_constraints, k.basic_constraints, "{name}: CA");
        // Deliberate: kpki writes an AKI and the CSR's SANs (newer cfssl writes the SANs too).
        let oids = |s: &CertSummary| {
            let mut v: Vec<String> = s
                .extension_oids
                .iter()
                .filter(|o| *o != "2.5.29.35" && *o != "2.5.29.17")
                .cloned()
                .collect();
            v.sort();
            v
        };
        assert_eq!(oids(&c), oids(&k), "{name}: set of extensions");
    }
    let k = load_cert(&kpki, "ca.pem");
    assert_eq!(k.basic_constraints, Some((true, true, None)));
    assert!(k.extension_oids.iter().any(|o| o == "1.3.6.1.5.5.7.1.1"));
    assert!(!k.extension_oids.iter().any(|o| o == "2.5.29.31"));
}

/// Runs both certinfo implementations on the same file and compares the documents.
fn compare_certinfo(real: &Workspace, kpki: &Workspace, dir: &Workspace, file: &str) {
    let path = dir.path(file).display().to_string();
    let c = real.run("cfssl-certinfo", &["-cert", &path]);
    let k = kpki.run("cfssl-certinfo", &["-cert", &path]);
    let (c, k) = (c.ok().json(), k.ok().json());
    assert_eq!(
        json_keys(&c),
        json_keys(&k),
        "{file}: certinfo top-level keys"
    );
    for key in [
        "subject",
        "issuer",
        "serial_number",
        "sans",
        "not_before",
        "not_after",
        "sigalg",
        "pem",
    ] {
        assert_eq!(c.get(key), k.get(key), "{file}: certinfo `{key}`");
    }
    for key in ["authority_key_id", "subject_key_id"] {
        let norm = |v: &serde_json::Value| normalize_key_id(v[key].as_str().unwrap_or("?"));
        assert_eq!(norm(&c), norm(&k), "{file}: certinfo `{key}` (normalised)");
        // kpki pads every byte (`0A:…`) like newer cfssl.
        let kid = k[key].as_str().unwrap();
        assert!(
            !subject_is_kpki() || kid.is_empty() || kid.split(':').all(|p| p.len() == 2),
            "{file}: kpki `{key}` not zero-padded: {kid}"
        );
    }
    // And both agree with x509-parser.
    let cert = load_cert(dir, file);
    assert_certinfo_matches(&c, &cert, &dir.read(file));
    assert_certinfo_matches(&k, &cert, &dir.read(file));
}

#[test]
fn certinfo_matches_cfssl_on_the_same_certificates() {
    let Some((real, kpki)) = pair() else { return };
    run_both(
        &real,
        &kpki,
        &[
            ("ca-config.json", CA_CONFIG),
            ("ca-csr.json", CA_CSR),
            ("multi-csr.json", MULTI_CA_CSR),
            ("leaf-csr.json", SERVER_CSR),
            ("client-csr.json", K8S_CLIENT_CSR),
        ],
        "cfssl gencert -initca ca-csr.json | cfssljson -bare ca\n\
         cfssl gencert -initca multi-csr.json | cfssljson -bare multi\n\
         cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=www \
         leaf-csr.json | cfssljson -bare leaf\n\
         cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=client \
         client-csr.json | cfssljson -bare client",
    );
    // Certificates made by cfssl and by kpki, each read by both certinfo tools.
    for made_by in [&real, &kpki] {
        for file in ["ca.pem", "multi.pem", "leaf.pem", "client.pem"] {
            compare_certinfo(&real, &kpki, made_by, file);
        }
    }
    // A subject neither tool writes: two CNs and two serialNumbers (Go keeps the last of each).
    if !require_program("openssl") {
        return;
    }
    let openssl = Workspace::new();
    openssl
        .sh(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem \
             -out twocn.pem -days 1 -subj '/CN=first/serialNumber=1/O=o1/CN=second/serialNumber=2'",
        )
        .ok();
    compare_certinfo(&real, &kpki, &openssl, "twocn.pem");
    let twocn = openssl.path("twocn.pem").display().to_string();
    let k = kpki.run("cfssl-certinfo", &["-cert", &twocn]);
    assert_eq!(k.ok().json()["subject"]["common_name"], "second");
    assert_eq!(k.json()["subject"]["serial_number"], "2");
}
