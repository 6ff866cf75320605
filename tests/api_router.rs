//! `kpki serve`'s HTTP API at the router level (no sockets): every endpoint's success shape
//! (cfssl's envelope, result fields as cfssl §9.2) and error shapes, driven through
//! `kpki::api::router` with `tower::ServiceExt::oneshot`. Every certificate obtained is checked
//! with openssl (`openssl verify -CAfile`) and x509-parser, and must be in the database as soon
//! as the response is back.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use common::*;
use kpki::api::AppState;
use kpki::auth::AuthenticatedRequest;
use kpki::config::Config;
use kpki::csr::CertificateRequest;
use kpki::db::CertDb;
use serde_json::{Value, json};
use tower::ServiceExt;
use x509_parser::prelude::*;

/// HMAC key of the `authed` profile (hex of 16 bytes).
const AUTH_KEY_HEX: &str = "00112233445566778899aabbccddeeff";

const CONFIG: &str = r#"{
  "signing": {
    "default": { "expiry": "8760h", "usages": ["signing", "key encipherment", "server auth", "client auth"] },
    "profiles": {
      "www":    { "expiry": "720h", "usages": ["signing", "key encipherment", "server auth"] },
      "client": { "expiry": "168h", "usages": ["signing", "client auth"] },
      "authed": { "expiry": "2160h", "usages": ["signing", "client auth"], "auth_key": "k" }
    }
  },
  "auth_keys": { "k": { "type": "standard", "key": "00112233445566778899aabbccddeeff" } }
}"#;

const SIGN: &str = "/api/v1/cfssl/sign";
const AUTHSIGN: &str = "/api/v1/cfssl/authsign";
const NEWCERT: &str = "/api/v1/cfssl/newcert";
const NEWKEY: &str = "/api/v1/cfssl/newkey";
const INIT_CA: &str = "/api/v1/cfssl/init_ca";
const INFO: &str = "/api/v1/cfssl/info";
const CERTINFO: &str = "/api/v1/cfssl/certinfo";
const REVOKE: &str = "/api/v1/cfssl/revoke";
const CRL: &str = "/api/v1/cfssl/crl";
const GENCRL: &str = "/api/v1/cfssl/gencrl";
const HEALTH: &str = "/api/v1/cfssl/health";
const CERTS: &str = "/api/v1/kpki/certificates";

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

struct Fx {
    app: Router,
    /// a clone of the handle the state holds (same pool)
    db: CertDb,
    ws: Workspace,
    ca_pem: String,
    ca_key_pem: String,
    ca: CertSummary,
    /// the CA's key id, lowercase hex (the AKI of what it signs)
    aki: String,
}

async fn fixture() -> Fx {
    fixture_disabled(&[]).await
}

async fn fixture_disabled(disabled: &[&str]) -> Fx {
    fixture_with(disabled, true, |_| {}).await
}

/// The fixture with the state adjusted by `tweak` (auth key, `-require-auth`, `-mutual-tls-cn`);
/// without `with_db` the server has no database (`Fx::db` is then a separate, unused one).
async fn fixture_with(disabled: &[&str], with_db: bool, tweak: impl FnOnce(&mut AppState)) -> Fx {
    let ws = Workspace::with_tools(Tools::kpki());
    let req = CertificateRequest::from_json(
        br#"{"CN":"router test CA","names":[{"O":"kpki tests"}],"key":{"algo":"ecdsa","size":256}}"#,
    )
    .expect("CA request");
    let ss = kpki::issue::init_ca(&req, None).expect("init_ca");
    let ca_pem = ss.cert_pem.clone();
    let ca_key_pem = ss.key.to_cfssl_pem().expect("CA key PEM");
    ws.write("ca.pem", &ca_pem);
    ws.write("ca-key.pem", &ca_key_pem);
    let ca = kpki::signer::Ca::new(ca_pem.as_bytes(), ss.key).expect("Ca::new");
    let config = Config::from_json(CONFIG.as_bytes()).expect("config");
    let db = CertDb::connect("sqlite::memory:").await.expect("memory db");
    let mut state = AppState::new(Some(ca), config, with_db.then(|| db.clone()));
    tweak(&mut state);
    let state = Arc::new(state);
    let disabled: Vec<String> = disabled.iter().map(|s| s.to_string()).collect();
    let app = kpki::api::router(state, &disabled);
    let ca_sum = summarize_cert_pem(&ca_pem);
    let aki = hex::encode(ca_sum.ski.as_ref().expect("CA SKI"));
    Fx {
        app,
        db,
        ws,
        ca_pem,
        ca_key_pem,
        ca: ca_sum,
        aki,
    }
}

/// A response, fully read.
struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn describe(&self) -> String {
        format!("{} {:?}\n{}", self.status, self.headers, self.text())
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.describe()))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Fx {
    /// Sends a request; `content_type` None means no Content-Type header at all.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let req = b
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        self.send(req).await
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("read body")
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends a request as if it came on a connection with these facts (an mTLS client CN).
    async fn call_conn(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        conn: kpki::api::ConnInfo,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        req.extensions_mut().insert(conn);
        self.send(req).await
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(
            "POST",
            path,
            Some(serde_json::to_vec(body).unwrap()),
            Some("application/json"),
        )
        .await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None, None).await
    }

    /// Checks an issued certificate: openssl verifies it against the CA, x509-parser parses
    /// it and its signature verifies with the CA key, its AKI is the CA's SKI, and the database
    /// already holds it (same PEM, status good). Returns the summary.
    async fn check_issued(&self, cert_pem: &str, what: &str) -> CertSummary {
        let file = format!("{what}.pem");
        self.ws.write(&file, cert_pem);
        assert_openssl_verifies(&self.ws, "ca.pem", None, None, &file);
        let c = summarize_cert_pem(cert_pem);
        c.verify_signed_by(Some(&self.ca))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(c.raw_issuer, self.ca.raw_subject, "{what}: issuer");
        assert_key_ids(&c, Some(&self.ca), what);
        assert_serial_ok(&c, what);
        let rec = self
            .db
            .get_certificate(&c.serial_decimal, &self.aki)
            .await
            .expect("db lookup")
            .unwrap_or_else(|| {
                panic!(
                    "{what}: serial {} / aki {} is not in the database right after the response",
                    c.serial_decimal, self.aki
                )
            });
        assert_eq!(
            pem_block(&rec.pem, "CERTIFICATE"),
            c.der,
            "{what}: stored PEM"
        );
        assert_eq!(rec.status, "good", "{what}");
        c
    }
}

/// Top-level keys of a JSON object in document order.
fn key_order(text: &str) -> Vec<String> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = m.next_key::<String>()? {
                m.next_value::<serde::de::IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    use serde::Deserializer as _;
    serde_json::Deserializer::from_str(text)
        .deserialize_map(V)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {text}"))
}

fn keys(v: &Value) -> Vec<String> {
    json_keys(v)
}

/// Asserts cfssl's envelope (keys in order success, result, errors, messages; JSON content
/// type; newline-terminated) and returns the parsed body.
#[track_caller]
fn envelope(r: &Resp, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "status: {}", r.describe());
    assert_eq!(r.content_type(), "application/json", "{}", r.describe());
    let text = r.text();
    assert!(
        text.ends_with('\n'),
        "body not newline-terminated: {text:?}"
    );
    assert_eq!(
        key_order(&text),
        ["success", "result", "errors", "messages"],
        "envelope key order: {text}"
    );
    r.json()
}

/// A success envelope; returns `result` (messages must be empty).
#[track_caller]
fn success(r: &Resp) -> Value {
    let v = envelope(r, StatusCode::OK);
    assert_eq!(v["success"], true);
    assert_eq!(v["errors"], json!([]));
    assert_eq!(v["messages"], json!([]), "unexpected messages: {v}");
    v["result"].clone()
}

/// An error envelope with this status; returns (code, message).
#[track_caller]
fn failure(r: &Resp, status: StatusCode) -> (u64, String) {
    let v = envelope(r, status);
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["result"], Value::Null, "{v}");
    assert_eq!(v["messages"], json!([]), "{v}");
    let errors = v["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "one error expected: {v}");
    assert_eq!(keys(&errors[0]), ["code", "message"], "{v}");
    (
        errors[0]["code"].as_u64().expect("numeric code"),
        errors[0]["message"].as_str().expect("message").to_string(),
    )
}

/// A fresh ECDSA key + CSR made by kpki's CSR code.
fn kpki_csr(cn: &str, hosts: &[&str]) -> String {
    let req = CertificateRequest::from_json(
        json!({"CN": cn, "hosts": hosts, "key": {"algo": "ecdsa", "size": 256}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    kpki::csr::generate(&req).expect("generate CSR").csr_pem
}

/// A fresh ECDSA key + CSR made by openssl (independent of kpki).
fn openssl_csr(ws: &Workspace, name: &str, cn: &str, san: &str) -> String {
    let key = format!("{name}-key.pem");
    let csr = format!("{name}.csr");
    openssl(
        ws,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            &format!("subjectAltName={san}"),
        ],
    );
    ws.read(&csr)
}

fn upper_hex_digests(der: &[u8]) -> Value {
    use md5::Digest;
    let d = |alg| hex::encode_upper(aws_lc_rs::digest::digest(alg, der).as_ref());
    json!({
        "md5": hex::encode_upper(md5::Md5::digest(der)),
        "sha-1": d(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
        "sha-256": d(&aws_lc_rs::digest::SHA256),
    })
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s}"))
}

// ---------------------------------------------------------------------------
// sign
// ---------------------------------------------------------------------------

#[tokio::test]
async fn sign_success_shape_hosts_and_record() {
    let fx = fixture().await;
    let before = unix_now();
    let csr = openssl_csr(&fx.ws, "www", "www.example", "DNS:www.example,IP:127.0.0.1");
    let r = fx
        .post(SIGN, &json!({"certificate_request": csr, "profile": "www"}))
        .await;
    let text = r.text();
    assert!(
        text.starts_with(
            r#"{"success":true,"result":{"certificate":"-----BEGIN CERTIFICATE-----\n"#
        ),
        "{text}"
    );
    assert!(
        text.ends_with(",\"errors\":[],\"messages\":[]}\n"),
        "{text}"
    );
    let result = success(&r);
    assert_eq!(keys(&result), ["certificate"]);
    let pem_text = result["certificate"].as_str().unwrap();
    let c = fx.check_issued(pem_text, "www").await;
    let after = unix_now();
    assert_eq!(c.subject_cn().as_deref(), Some("www.example"));
    assert_eq!(c.sans, vec![San::dns("www.example"), San::ip("127.0.0.1")]);
    assert_eq!(c.ext_key_usage, Some(vec!["serverAuth".to_string()]));
    assert!(!c.is_ca());
    assert_cfssl_not_before(c.not_before, before, after, "www");
    assert_eq!(c.validity_secs(), 720 * HOUR, "notAfter = notBefore + 720h");
    assert_key_matches_cert(&fx.ws, "www-key.pem", "www.pem");
    let rec = fx
        .db
        .get_certificate(&c.serial_decimal, &fx.aki)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.profile, "www");
    assert_eq!(rec.common_name, "www.example");
    assert_eq!(rec.sans.as_deref(), Some(r#"["www.example"]"#));

    // `hosts` replaces the CSR's SANs; `hostname` (comma list) wins over `hosts`.
    let r = fx
        .post(
            SIGN,
            &json!({"certificate_request": csr, "profile": "www",
                     "hosts": ["h.example", "10.1.2.3"]}),
        )
        .await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "hosts")
        .await;
    assert_eq!(c.sans, vec![San::dns("h.example"), San::ip("10.1.2.3")]);
    let r = fx
        .post(
            SIGN,
            &json!({"certificate_request": csr, "profile": "www",
                     "hosts": ["ignored.example"], "hostname": "a.example,b.example"}),
        )
        .await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "hostname")
        .await;
    assert_eq!(c.sans, vec![San::dns("a.example"), San::dns("b.example")]);

    // No profile: the default (server + client auth, 8760h).
    let r = fx.post(SIGN, &json!({"certificate_request": csr})).await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "default")
        .await;
    assert!(c.has_eku("serverAuth") && c.has_eku("clientAuth"));
    assert_eq!(c.validity_secs(), 8760 * HOUR);
    assert_eq!(fx.db.count_certificates().await.unwrap(), 4);
}

#[tokio::test]
async fn requests_without_content_type_succeed() {
    let fx = fixture().await;
    let csr = kpki_csr("noct.example", &["noct.example"]);
    let body = json!({"certificate_request": csr, "profile": "client"});
    let r = fx
        .call("POST", SIGN, Some(body.to_string().into_bytes()), None)
        .await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "noct")
        .await;
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));
    // A misleading Content-Type (curl -d) is accepted as well.
    let r = fx
        .call(
            "POST",
            SIGN,
            Some(body.to_string().into_bytes()),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    fx.check_issued(success(&r)["certificate"].as_str().unwrap(), "formct")
        .await;
    // Other endpoints too.
    let r = fx.call("POST", INFO, Some(b"{}".to_vec()), None).await;
    assert!(success(&r)["certificate"].is_string());
    let r = fx
        .call(
            "POST",
            NEWKEY,
            Some(br#"{"CN":"k","key":{"algo":"ecdsa","size":256}}"#.to_vec()),
            None,
        )
        .await;
    assert!(success(&r)["private_key"].is_string());
    let r = fx
        .call(
            "POST",
            CERTINFO,
            Some(json!({"certificate": fx.ca_pem}).to_string().into_bytes()),
            None,
        )
        .await;
    assert_eq!(
        success(&r)["serial_number"].as_str(),
        Some(fx.ca.serial_decimal.as_str())
    );
}

#[tokio::test]
async fn sign_error_shapes() {
    let fx = fixture().await;
    let csr = kpki_csr("e.example", &["e.example"]);

    let r = fx.post(SIGN, &json!({})).await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "missing parameter 'certificate_request'".to_string())
    );
    let r = fx
        .post(SIGN, &json!({"certificate_request": "", "profile": "www"}))
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);

    let r = fx
        .post(SIGN, &json!({"certificate_request": "not a PEM at all"}))
        .await;
    let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
    assert_eq!(code, 9002, "bad CSR PEM: {msg}");

    let r = fx
        .post(
            SIGN,
            &json!({"certificate_request": csr, "profile": "nosuchprofile"}),
        )
        .await;
    let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
    assert_eq!(code, 5400, "{msg}");
    assert!(msg.contains("nosuchprofile"), "{msg}");
    for name in ["authed", "client", "www"] {
        assert!(
            msg.contains(name),
            "available profiles missing {name}: {msg}"
        );
    }

    let r = fx
        .post(
            SIGN,
            &json!({"certificate_request": csr, "profile": "authed"}),
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "authentication required".to_string())
    );

    for bad in [
        &b"{\"certificate_request\":"[..],
        b"[1,2,3]",
        b"certificate_request=x",
    ] {
        let r = fx
            .call("POST", SIGN, Some(bad.to_vec()), Some("application/json"))
            .await;
        let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
        assert_eq!(code, 400, "{msg}");
        assert!(msg.starts_with("Unable to parse"), "{msg}");
    }
    let r = fx.call("POST", SIGN, None, None).await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);

    assert_eq!(
        fx.db.count_certificates().await.unwrap(),
        0,
        "a refused request left a record"
    );
}

#[tokio::test]
async fn wrong_method_unknown_path_and_oversized_bodies() {
    let fx = fixture().await;
    for (method, path) in [
        ("GET", SIGN),
        ("PUT", NEWCERT),
        ("DELETE", REVOKE),
        ("POST", HEALTH),
        ("POST", CRL),
        ("POST", CERTS),
        ("POST", "/metrics"),
    ] {
        let r = fx.call(method, path, None, None).await;
        let (code, msg) = failure(&r, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(code, 405, "{method} {path}");
        assert_eq!(msg, format!("Method is not allowed:\"{method}\""));
        let allow = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(!allow.is_empty(), "{method} {path}: no Allow header");
    }
    for path in [
        "/",
        "/nope",
        "/api/v1/cfssl/nope",
        "/api/v1/cfssl/bundle",
        "/api/v1/cfssl/sign/extra",
        "/api/v1/kpki/nope",
    ] {
        let r = fx.get(path).await;
        assert_eq!(
            failure(&r, StatusCode::NOT_FOUND),
            (404, "404 page not found".to_string()),
            "{path}"
        );
    }

    const LIMIT: usize = 1 << 20;
    let over = vec![b' '; LIMIT + 1];
    for path in [SIGN, AUTHSIGN, NEWCERT, NEWKEY, REVOKE, CERTINFO, GENCRL] {
        let r = fx
            .call("POST", path, Some(over.clone()), Some("application/json"))
            .await;
        let (code, _) = failure(&r, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(code, 413, "{path}");
    }
    // Exactly 1 MiB is read and judged on its content (a bad CSR, not 413).
    let prefix = br#"{"certificate_request":""#;
    let suffix = br#""}"#;
    let mut exact = prefix.to_vec();
    exact.resize(LIMIT - suffix.len(), b'A');
    exact.extend_from_slice(suffix);
    assert_eq!(exact.len(), LIMIT);
    let r = fx
        .call("POST", SIGN, Some(exact), Some("application/json"))
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 9002);
}

#[tokio::test]
async fn disable_removes_routes() {
    let fx = fixture_disabled(&["sign", "certificates", "metrics", "init_ca"]).await;
    let csr = kpki_csr("d.example", &["d.example"]);
    let r = fx.post(SIGN, &json!({"certificate_request": csr})).await;
    assert_eq!(failure(&r, StatusCode::NOT_FOUND).0, 404, "/sign disabled");
    let r = fx.post(INIT_CA, &json!({"CN": "x"})).await;
    assert_eq!(
        failure(&r, StatusCode::NOT_FOUND).0,
        404,
        "/init_ca disabled"
    );
    for path in [CERTS, "/api/v1/kpki/certificates/1", "/metrics"] {
        let r = fx.get(path).await;
        assert_eq!(failure(&r, StatusCode::NOT_FOUND).0, 404, "{path} disabled");
    }
    // The rest still works.
    let r = fx.get(HEALTH).await;
    assert_eq!(success(&r), json!({"healthy": true}));
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "d.example", "hosts": ["d.example"],
                                "key": {"algo": "ecdsa", "size": 256}}}),
        )
        .await;
    fx.check_issued(success(&r)["certificate"].as_str().unwrap(), "d")
        .await;
    // And nothing else is disabled by the list (a name is not a prefix).
    let fx2 = fixture_disabled(&["sig"]).await;
    let r = fx2.post(SIGN, &json!({"certificate_request": csr})).await;
    fx2.check_issued(success(&r)["certificate"].as_str().unwrap(), "notdisabled")
        .await;
}

// ---------------------------------------------------------------------------
// authsign (router level; replay and clock checks are in api_server.rs)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authsign_router_level() {
    let fx = fixture().await;
    let key = hex::decode(AUTH_KEY_HEX).unwrap();
    let csr = kpki_csr("auth.example", &["auth.example"]);
    let inner =
        serde_json::to_vec(&json!({"certificate_request": csr, "profile": "authed"})).unwrap();
    let env = AuthenticatedRequest::wrap(&key, &inner, unix_now());
    let r = fx
        .post(AUTHSIGN, &serde_json::to_value(&env).unwrap())
        .await;
    let result = success(&r);
    assert_eq!(keys(&result), ["certificate"]);
    let c = fx
        .check_issued(result["certificate"].as_str().unwrap(), "authed")
        .await;
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));
    assert_eq!(c.validity_secs(), 2160 * HOUR);

    // A profile without auth_key cannot be used through authsign.
    let inner = serde_json::to_vec(&json!({"certificate_request": csr, "profile": "www"})).unwrap();
    let env = AuthenticatedRequest::wrap(&key, &inner, unix_now());
    let r = fx
        .post(AUTHSIGN, &serde_json::to_value(&env).unwrap())
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "no authentication provider".to_string())
    );
    // Wrong key.
    let inner =
        serde_json::to_vec(&json!({"certificate_request": csr, "profile": "authed"})).unwrap();
    let env = AuthenticatedRequest::wrap(b"not the key", &inner, unix_now());
    let r = fx
        .post(AUTHSIGN, &serde_json::to_value(&env).unwrap())
        .await;
    let (_, msg) = failure(&r, StatusCode::UNAUTHORIZED);
    assert_eq!(msg, "invalid token");
    // Not an envelope at all.
    let r = fx
        .post(
            AUTHSIGN,
            &json!({"certificate_request": csr, "profile": "authed"}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
    let r = fx
        .call(
            "POST",
            AUTHSIGN,
            Some(b"{".to_vec()),
            Some("application/json"),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
    assert_eq!(fx.db.count_certificates().await.unwrap(), 1);
}

// ---------------------------------------------------------------------------
// newcert, newkey, init_ca
// ---------------------------------------------------------------------------

#[tokio::test]
async fn newcert_shape_sums_and_record() {
    let fx = fixture().await;
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "n.example", "hosts": ["n.example", "192.0.2.7"],
                                "names": [{"O": "Example", "C": "US"}],
                                "key": {"algo": "ecdsa", "size": 256}},
                    "profile": "www"}),
        )
        .await;
    let result = success(&r);
    assert_eq!(
        keys(&result),
        ["certificate", "certificate_request", "private_key", "sums"]
    );
    assert_eq!(
        keys(&result["sums"]),
        ["certificate", "certificate_request"]
    );
    for part in ["certificate", "certificate_request"] {
        assert_eq!(keys(&result["sums"][part]), ["md5", "sha-1", "sha-256"]);
    }
    let cert_pem = result["certificate"].as_str().unwrap();
    let csr_pem = result["certificate_request"].as_str().unwrap();
    let key_pem = result["private_key"].as_str().unwrap();
    let c = fx.check_issued(cert_pem, "newcert").await;
    assert_eq!(c.subject_cn().as_deref(), Some("n.example"));
    assert_eq!(c.sans, vec![San::dns("n.example"), San::ip("192.0.2.7")]);
    assert_eq!(c.ext_key_usage, Some(vec!["serverAuth".to_string()]));
    assert_eq!(
        csr_sans(csr_pem),
        vec![San::dns("n.example"), San::ip("192.0.2.7")]
    );
    fx.ws.write("newcert-key.pem", key_pem);
    assert_key_matches_cert(&fx.ws, "newcert-key.pem", "newcert.pem");
    // kpki does not re-verify the CSR it has just signed itself: openssl checks it instead.
    fx.ws.write("newcert.csr", csr_pem);
    openssl(&fx.ws, &["req", "-in", "newcert.csr", "-noout", "-verify"]);
    assert_eq!(
        result["sums"]["certificate"],
        upper_hex_digests(&pem_block(cert_pem, "CERTIFICATE"))
    );
    assert_eq!(
        result["sums"]["certificate_request"],
        upper_hex_digests(&pem_block(csr_pem, "CERTIFICATE REQUEST"))
    );

    // No hosts: success with cfssl's 5300 warning in `messages`.
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "nohosts", "key": {"algo": "ecdsa", "size": 256}},
                    "profile": "client"}),
        )
        .await;
    let v = envelope(&r, StatusCode::OK);
    assert_eq!(v["success"], true);
    let msgs = v["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 1, "{v}");
    assert_eq!(msgs[0]["code"], 5300);
    assert!(
        msgs[0]["message"]
            .as_str()
            .unwrap()
            .contains("lacks a \"hosts\" field"),
        "{v}"
    );
    fx.check_issued(v["result"]["certificate"].as_str().unwrap(), "nohosts")
        .await;

    // Errors.
    let r = fx.post(NEWCERT, &json!({"profile": "www"})).await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "x", "hosts": ["x"]}, "profile": "nosuch"}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 5400);
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "x", "hosts": ["x"]}, "profile": "authed"}),
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "authentication required".to_string())
    );
    assert_eq!(fx.db.count_certificates().await.unwrap(), 2);
}

#[tokio::test]
async fn newkey_shape() {
    let fx = fixture().await;
    let r = fx
        .post(
            NEWKEY,
            &json!({"CN": "k.example", "hosts": ["k.example"],
                    "key": {"algo": "ecdsa", "size": 384}}),
        )
        .await;
    let result = success(&r);
    assert_eq!(
        keys(&result),
        ["certificate_request", "private_key", "sums"]
    );
    assert_eq!(keys(&result["sums"]), ["certificate_request"]);
    let csr_pem = result["certificate_request"].as_str().unwrap();
    assert_eq!(csr_sans(csr_pem), vec![San::dns("k.example")]);
    assert_eq!(
        result["sums"]["certificate_request"],
        upper_hex_digests(&pem_block(csr_pem, "CERTIFICATE REQUEST"))
    );
    fx.ws
        .write("nk-key.pem", result["private_key"].as_str().unwrap());
    fx.ws.write("nk.csr", csr_pem);
    // The key is the CSR's key (openssl's view) and a P-384 key.
    let csr_pub = openssl(&fx.ws, &["req", "-in", "nk.csr", "-noout", "-pubkey"]).stdout;
    assert_eq!(csr_pub, openssl_pubkey_of_key(&fx.ws, "nk-key.pem"));
    let text = openssl(&fx.ws, &["pkey", "-in", "nk-key.pem", "-noout", "-text"]).stdout;
    assert!(
        text.contains("P-384") || text.contains("secp384r1"),
        "{text}"
    );
    assert_eq!(fx.db.count_certificates().await.unwrap(), 0);

    let r = fx
        .post(NEWKEY, &json!({"CN": "k", "ca": {"expiry": "1h"}}))
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "ca section only permitted in initca".to_string())
    );
    let r = fx
        .post(
            NEWKEY,
            &json!({"CN": "k", "key": {"algo": "rsa", "size": 512}}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 2400);
}

#[tokio::test]
async fn init_ca_shape() {
    let fx = fixture().await;
    let r = fx
        .post(
            INIT_CA,
            &json!({"CN": "API made CA", "names": [{"O": "kpki"}],
                    "key": {"algo": "ecdsa", "size": 256}, "ca": {"expiry": "87600h"}}),
        )
        .await;
    let result = success(&r);
    assert_eq!(keys(&result), ["certificate", "private_key"]);
    let cert_pem = result["certificate"].as_str().unwrap();
    fx.ws.write("newca.pem", cert_pem);
    fx.ws
        .write("newca-key.pem", result["private_key"].as_str().unwrap());
    assert_openssl_verifies(&fx.ws, "newca.pem", None, None, "newca.pem");
    assert_key_matches_cert(&fx.ws, "newca-key.pem", "newca.pem");
    let c = summarize_cert_pem(cert_pem);
    assert!(c.is_ca());
    assert!(c.has_ku("keyCertSign") && c.has_ku("cRLSign"));
    assert_eq!(c.subject_cn().as_deref(), Some("API made CA"));
    c.verify_signed_by(None).expect("self-signed");
    assert_eq!(c.validity_secs(), 87600 * HOUR);
    // init_ca does not touch the server's CA nor the database.
    assert_eq!(fx.db.count_certificates().await.unwrap(), 0);
    let info = success(&fx.post(INFO, &json!({})).await);
    assert_eq!(
        pem_block(info["certificate"].as_str().unwrap(), "CERTIFICATE"),
        fx.ca.der
    );

    let r = fx
        .post(INIT_CA, &json!({"key": {"algo": "ecdsa", "size": 256}}))
        .await;
    let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
    assert_eq!(code, 5300, "{msg}");
    assert!(msg.contains("missing subject information"), "{msg}");
}

// ---------------------------------------------------------------------------
// info, certinfo
// ---------------------------------------------------------------------------

#[tokio::test]
async fn info_default_and_profiles() {
    let fx = fixture().await;
    for (body, usages, expiry) in [
        (
            Some(json!({})),
            json!(["signing", "key encipherment", "server auth", "client auth"]),
            "8760h",
        ),
        (
            Some(json!({"profile": "www"})),
            json!(["signing", "key encipherment", "server auth"]),
            "720h",
        ),
        (
            Some(json!({"label": "", "profile": "client"})),
            json!(["signing", "client auth"]),
            "168h",
        ),
        (
            None,
            json!(["signing", "key encipherment", "server auth", "client auth"]),
            "8760h",
        ),
    ] {
        let r = match &body {
            Some(b) => fx.post(INFO, b).await,
            None => fx.call("POST", INFO, None, None).await,
        };
        let result = success(&r);
        assert_eq!(
            keys(&result),
            ["certificate", "expiry", "usages"],
            "{body:?}"
        );
        let cert = result["certificate"].as_str().unwrap();
        assert!(
            cert.starts_with("-----BEGIN CERTIFICATE-----\n")
                && cert.ends_with("-----END CERTIFICATE-----"),
            "info certificate must have no trailing newline: {cert:?}"
        );
        assert_eq!(pem_block(cert, "CERTIFICATE"), fx.ca.der);
        assert_eq!(result["usages"], usages, "{body:?}");
        assert_eq!(result["expiry"], expiry, "{body:?}");
    }
    let r = fx.post(INFO, &json!({"profile": "nosuch"})).await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 5400);
    let r = fx
        .call(
            "POST",
            INFO,
            Some(b"{nope".to_vec()),
            Some("application/json"),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
}

#[tokio::test]
async fn certinfo_by_certificate_and_by_serial() {
    let fx = fixture().await;
    let csr = kpki_csr("ci.example", &["ci.example", "10.9.8.7"]);
    let r = fx
        .post(SIGN, &json!({"certificate_request": csr, "profile": "www"}))
        .await;
    let cert_pem = success(&r)["certificate"].as_str().unwrap().to_string();
    let c = fx.check_issued(&cert_pem, "ci").await;

    let r = fx.post(CERTINFO, &json!({"certificate": cert_pem})).await;
    let by_cert = success(&r);
    assert_certinfo_matches(&by_cert, &c, &cert_pem);

    // By serial + AKI from the database: lowercase hex, or colon-separated upper case.
    for aki in [fx.aki.clone(), hex_colon(c.aki.as_ref().unwrap())] {
        let r = fx
            .post(
                CERTINFO,
                &json!({"serial": c.serial_decimal, "authority_key_id": aki}),
            )
            .await;
        let by_serial = success(&r);
        assert_certinfo_matches(&by_serial, &c, &cert_pem);
        assert_eq!(by_serial, by_cert);
    }

    let r = fx
        .post(
            CERTINFO,
            &json!({"serial": "12345", "authority_key_id": fx.aki}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::NOT_FOUND).0, 11200);
    let r = fx.post(CERTINFO, &json!({})).await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "no valid parameter sets found".to_string())
    );
    let r = fx
        .post(CERTINFO, &json!({"serial": c.serial_decimal}))
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
    let r = fx.post(CERTINFO, &json!({"certificate": "garbage"})).await;
    let (code, _) = failure(&r, StatusCode::BAD_REQUEST);
    assert!(
        (1000..1100).contains(&code),
        "certificate error code: {code}"
    );
}

// ---------------------------------------------------------------------------
// revoke, crl, gencrl, health
// ---------------------------------------------------------------------------

/// Parses a base64 DER CRL: checks it with openssl (`crl -CAfile` → verify OK) and
/// x509-parser; returns (crl number, next-this update seconds, [(serial decimal, reason)]).
fn check_crl(fx: &Fx, b64_der: &str, ca_file: &str) -> (String, i64, Vec<(String, Option<u8>)>) {
    let der = b64(b64_der);
    let (rest, crl) = parse_x509_crl(&der).expect("x509-parser CRL");
    assert!(rest.is_empty());
    let ca_der = pem_block(&fx.ws.read(ca_file), "CERTIFICATE");
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    assert_eq!(crl.issuer().as_raw(), ca.subject().as_raw(), "CRL issuer");
    crl.verify_signature(ca.public_key())
        .expect("CRL signature (x509-parser)");
    let name = format!("crl-{}.der", unix_now_nanos());
    fx.ws.write(&name, &der);
    let out = openssl(
        &fx.ws,
        &[
            "crl", "-inform", "DER", "-in", &name, "-CAfile", ca_file, "-noout",
        ],
    );
    assert!(
        out.stderr.contains("verify OK") || out.stdout.contains("verify OK"),
        "openssl crl: {}",
        out.describe()
    );
    let number = crl.crl_number().map(|n| n.to_string()).unwrap_or_default();
    let this = crl.last_update().timestamp();
    let next = crl.next_update().expect("nextUpdate").timestamp();
    let entries = crl
        .iter_revoked_certificates()
        .map(|e| (e.serial().to_string(), e.reason_code().map(|(_, r)| r.0)))
        .collect();
    (number, next - this, entries)
}

fn unix_now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn revoke_then_crl() {
    let fx = fixture().await;
    let mut serials = Vec::new();
    for i in 0..3 {
        let csr = kpki_csr(&format!("r{i}.example"), &[&format!("r{i}.example")]);
        let r = fx
            .post(SIGN, &json!({"certificate_request": csr, "profile": "www"}))
            .await;
        let c = fx
            .check_issued(
                success(&r)["certificate"].as_str().unwrap(),
                &format!("r{i}"),
            )
            .await;
        serials.push(c.serial_decimal);
    }
    // Empty CRL first.
    let r = fx.get(CRL).await;
    let (n1, validity, entries) =
        check_crl(&fx, success(&r).as_str().expect("base64 string"), "ca.pem");
    assert!(entries.is_empty(), "{entries:?}");
    assert_eq!(validity, 168 * HOUR, "default CRL validity");

    let r = fx
        .post(
            REVOKE,
            &json!({"serial": serials[0], "authority_key_id": fx.aki, "reason": "keyCompromise"}),
        )
        .await;
    assert_eq!(success(&r), json!({}));
    let rec = fx
        .db
        .get_certificate(&serials[0], &fx.aki)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rec.status.as_str(), rec.reason), ("revoked", 1));
    assert!(rec.revoked_at.is_some());
    // Numeric reason and upper-case colon AKI.
    let colon_aki = hex_colon(&hex::decode(&fx.aki).unwrap());
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": serials[1], "authority_key_id": colon_aki, "reason": "4"}),
        )
        .await;
    assert_eq!(success(&r), json!({}));

    let r = fx.get(&format!("{CRL}?expiry=1h")).await;
    let (n2, validity, mut entries) = check_crl(&fx, success(&r).as_str().unwrap(), "ca.pem");
    entries.sort();
    let mut want = vec![
        (serials[0].clone(), Some(1u8)),
        (serials[1].clone(), Some(4u8)),
    ];
    want.sort();
    assert_eq!(entries, want, "CRL entries (serial, reason)");
    assert_eq!(validity, HOUR);
    let (n1, n2): (u64, u64) = (n1.parse().unwrap(), n2.parse().unwrap());
    assert!(n2 > n1, "CRL number must increase: {n1} then {n2}");

    // Errors.
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": "999", "authority_key_id": fx.aki, "reason": "superseded"}),
        )
        .await;
    let (code, msg) = failure(&r, StatusCode::NOT_FOUND);
    assert_eq!(code, 11200, "{msg}");
    assert!(msg.contains("certificate not found"), "{msg}");
    let r = fx.post(REVOKE, &json!({"authority_key_id": fx.aki})).await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (
            400,
            "serial number is required but not provided".to_string()
        )
    );
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": serials[2], "authority_key_id": fx.aki, "reason": "bogus"}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 8200);
    let rec = fx
        .db
        .get_certificate(&serials[2], &fx.aki)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.status, "good",
        "a refused revocation changed the record"
    );
    for bad in ["forever", "-1h", "0s"] {
        let r = fx.get(&format!("{CRL}?expiry={bad}")).await;
        failure(&r, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn gencrl_shape() {
    let fx = fixture().await;
    let r = fx
        .post(
            GENCRL,
            &json!({"certificate": fx.ca_pem, "serialNumber": ["1234", "99887766554433"],
                    "issuingKey": fx.ca_key_pem, "expireTime": "3600"}),
        )
        .await;
    let (_, validity, mut entries) = check_crl(&fx, success(&r).as_str().unwrap(), "ca.pem");
    entries.sort();
    assert_eq!(
        entries.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["1234", "99887766554433"]
    );
    assert_eq!(validity, HOUR);
    // Default validity: one week.
    let r = fx
        .post(
            GENCRL,
            &json!({"certificate": fx.ca_pem, "serialNumber": [], "issuingKey": fx.ca_key_pem}),
        )
        .await;
    let (_, validity, entries) = check_crl(&fx, success(&r).as_str().unwrap(), "ca.pem");
    assert!(entries.is_empty());
    assert_eq!(validity, 168 * HOUR);
    let r = fx
        .post(
            GENCRL,
            &json!({"certificate": fx.ca_pem, "serialNumber": ["1"]}),
        )
        .await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
}

#[tokio::test]
async fn health() {
    let fx = fixture().await;
    let r = fx.get(HEALTH).await;
    let result = success(&r);
    assert_eq!(result, json!({"healthy": true}));
    assert_eq!(
        r.text(),
        "{\"success\":true,\"result\":{\"healthy\":true},\"errors\":[],\"messages\":[]}\n"
    );
}

// ---------------------------------------------------------------------------
// kpki's certificate listing, metrics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn certificates_list_pagination_filters_and_get_one() {
    let fx = fixture().await;
    let mut issued: Vec<(String, String)> = Vec::new(); // (serial, profile)
    for (i, profile) in ["www", "www", "client", "", "client"].iter().enumerate() {
        let cn = format!("list{i}.example");
        let csr = kpki_csr(&cn, &[&cn]);
        let r = fx
            .post(
                SIGN,
                &json!({"certificate_request": csr, "profile": profile}),
            )
            .await;
        let c = fx
            .check_issued(success(&r)["certificate"].as_str().unwrap(), &cn)
            .await;
        issued.push((c.serial_decimal, profile.to_string()));
    }
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": issued[1].0, "authority_key_id": fx.aki, "reason": "superseded"}),
        )
        .await;
    success(&r);

    // Everything in one page: next is null.
    let all = success(&fx.get(CERTS).await);
    assert_eq!(keys(&all), ["certificates", "next"]);
    assert!(all["next"].is_null(), "{all}");
    let rows = all["certificates"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        for k in [
            "serial_number",
            "authority_key_identifier",
            "status",
            "reason",
            "expiry",
            "revoked_at",
            "pem",
            "not_before",
            "common_name",
            "profile",
        ] {
            assert!(row.get(k).is_some(), "record lacks {k}: {row}");
        }
        assert_eq!(row["authority_key_identifier"], fx.aki.as_str());
        // The stored PEM is the real certificate of that serial.
        let c = summarize_cert_pem(row["pem"].as_str().unwrap());
        assert_eq!(row["serial_number"], c.serial_decimal.as_str());
    }
    // Ordered by expiry: the 168h client certificates come first.
    assert_eq!(rows[0]["profile"], "client");
    assert_eq!(rows[1]["profile"], "client");

    // Pagination by 2: 2 + 2 + 1, no duplicates, same set.
    let mut seen = Vec::new();
    let mut url = format!("{CERTS}?limit=2");
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 5, "pagination does not end");
        let page = success(&fx.get(&url).await);
        let rows = page["certificates"].as_array().unwrap();
        assert!(rows.len() <= 2);
        seen.extend(
            rows.iter()
                .map(|r| r["serial_number"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(cursor) => {
                assert!(
                    cursor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "cursor must be URL-safe: {cursor}"
                );
                url = format!("{CERTS}?limit=2&after={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3, "5 rows by 2 = 3 pages");
    let mut want: Vec<String> = issued.iter().map(|i| i.0.clone()).collect();
    let mut got = seen.clone();
    want.sort();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), seen.len(), "a row appeared on two pages");
    assert_eq!(got, want);

    // Filters.
    let rev = success(&fx.get(&format!("{CERTS}?status=revoked")).await);
    let rev = rev["certificates"].as_array().unwrap();
    assert_eq!(rev.len(), 1);
    assert_eq!(rev[0]["serial_number"], issued[1].0.as_str());
    assert_eq!(rev[0]["status"], "revoked");
    assert_eq!(rev[0]["reason"], 4);
    assert!(rev[0]["revoked_at"].is_string());
    let good = success(&fx.get(&format!("{CERTS}?status=good")).await);
    assert_eq!(good["certificates"].as_array().unwrap().len(), 4);
    let cn = success(&fx.get(&format!("{CERTS}?cn=list3.example")).await);
    let cn = cn["certificates"].as_array().unwrap();
    assert_eq!(cn.len(), 1);
    assert_eq!(cn[0]["serial_number"], issued[3].0.as_str());
    let soon = success(&fx.get(&format!("{CERTS}?expiring=200h")).await);
    let mut soon: Vec<&str> = soon["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["serial_number"].as_str().unwrap())
        .collect();
    soon.sort();
    let mut want_soon = vec![issued[2].0.as_str(), issued[4].0.as_str()];
    want_soon.sort();
    assert_eq!(
        soon, want_soon,
        "expiring within 200h = the 168h client certs"
    );
    let combined = success(
        &fx.get(&format!(
            "{CERTS}?status=good&expiring=30d&cn=list2.example"
        ))
        .await,
    );
    assert_eq!(combined["certificates"].as_array().unwrap().len(), 1);

    for bad in ["?status=bogus", "?limit=abc", "?after=!!!"] {
        let r = fx.get(&format!("{CERTS}{bad}")).await;
        assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400, "{bad}");
    }
    let r = fx.get(&format!("{CERTS}?expiring=soon")).await;
    failure(&r, StatusCode::BAD_REQUEST);

    // One serial.
    let one = success(&fx.get(&format!("{CERTS}/{}", issued[0].0)).await);
    let one = one["certificates"].as_array().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["serial_number"], issued[0].0.as_str());
    assert_eq!(one[0]["profile"], "www");
    let r = fx.get(&format!("{CERTS}/424242")).await;
    assert_eq!(failure(&r, StatusCode::NOT_FOUND).0, 11200);
    let r = fx.get(&format!("{CERTS}/12ab")).await;
    assert_eq!(failure(&r, StatusCode::BAD_REQUEST).0, 400);
}

#[tokio::test]
async fn metrics_text() {
    let fx = fixture().await;
    for i in 0..2 {
        let csr = kpki_csr(&format!("m{i}.example"), &[&format!("m{i}.example")]);
        let r = fx
            .post(SIGN, &json!({"certificate_request": csr, "profile": "www"}))
            .await;
        fx.check_issued(
            success(&r)["certificate"].as_str().unwrap(),
            &format!("m{i}"),
        )
        .await;
    }
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "mc", "hosts": ["mc"], "key": {"algo": "ecdsa", "size": 256}}}),
        )
        .await;
    success(&r);
    let r = fx.post(SIGN, &json!({"certificate_request": "junk"})).await;
    failure(&r, StatusCode::BAD_REQUEST);

    let r = fx.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.content_type().starts_with("text/plain"),
        "{}",
        r.content_type()
    );
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        "kpki_certificates_issued_total{profile=\"www\"} 2",
        "kpki_certificates_issued_total{profile=\"default\"} 1",
        "kpki_errors_total{code=\"9002\"} 1",
        "# TYPE kpki_request_duration_seconds histogram",
    ] {
        assert!(lines.contains(&want), "metrics lack {want:?}:\n{text}");
    }
    // 4 requests were answered before this one.
    let count: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("kpki_request_duration_seconds_count "))
        .expect("histogram count")
        .parse()
        .unwrap();
    assert!(count >= 4, "request count {count}:\n{text}");
    let inf: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("kpki_request_duration_seconds_bucket{le=\"+Inf\"} "))
        .expect("+Inf bucket")
        .parse()
        .unwrap();
    assert_eq!(inf, count);
    // The soonest valid expiry: the 720h www certificates (≈ 720h − 5 min from now).
    let earliest: f64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("kpki_earliest_expiry_seconds "))
        .expect("earliest expiry gauge")
        .parse()
        .unwrap();
    let want = (720 * HOUR) as f64;
    assert!(
        (want - 600.0..=want).contains(&earliest),
        "earliest expiry {earliest}s, expected about {want}s"
    );
}

#[tokio::test]
async fn pagination_over_many_equal_expiries() {
    let fx = fixture().await;
    let mut want = Vec::new();
    // Same profile, same minute: (nearly) all share one expiry, so order falls to the serial.
    for i in 0..23 {
        let cn = format!("p{i}.example");
        let r = fx
            .post(
                SIGN,
                &json!({"certificate_request": kpki_csr(&cn, &[&cn]), "profile": "www"}),
            )
            .await;
        let c = summarize_cert_pem(success(&r)["certificate"].as_str().unwrap());
        want.push(c.serial_decimal);
    }
    want.sort();
    for limit in [1, 3, 4, 22, 23, 24] {
        let mut seen: Vec<String> = Vec::new();
        let mut url = format!("{CERTS}?limit={limit}");
        for _ in 0..=want.len() + 1 {
            let page = success(&fx.get(&url).await);
            let rows = page["certificates"].as_array().unwrap();
            assert!(rows.len() <= limit, "limit {limit}: page of {}", rows.len());
            seen.extend(
                rows.iter()
                    .map(|r| r["serial_number"].as_str().unwrap().to_string()),
            );
            match page["next"].as_str() {
                Some(c) => url = format!("{CERTS}?limit={limit}&after={c}"),
                None => break,
            }
        }
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "limit {limit}: a row was listed twice");
        assert_eq!(seen, want, "limit {limit}: rows missing from the pages");
    }
}

#[tokio::test]
async fn crl_lists_only_this_cas_unexpired_revocations() {
    let fx = fixture().await;
    let csr = kpki_csr("real.example", &["real.example"]);
    let r = fx
        .post(SIGN, &json!({"certificate_request": csr, "profile": "www"}))
        .await;
    let real = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "real")
        .await;
    // Rows the CRL must leave out: an expired certificate of this CA, and one of another CA.
    let now = ::time::OffsetDateTime::now_utc();
    let other_aki = "ab".repeat(20);
    for (serial, aki, expiry) in [
        ("111", fx.aki.as_str(), now - ::time::Duration::days(1)),
        ("222", other_aki.as_str(), now + ::time::Duration::days(30)),
    ] {
        fx.db
            .insert_certificate(&kpki::db::CertificateRecord {
                serial_number: serial.into(),
                authority_key_identifier: aki.into(),
                ca_label: String::new(),
                status: "good".into(),
                reason: 0,
                expiry,
                revoked_at: None,
                pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
                issued_at: now - ::time::Duration::days(10),
                not_before: now - ::time::Duration::days(10),
                metadata: None,
                sans: None,
                common_name: "synthetic".into(),
                profile: String::new(),
            })
            .await
            .expect("insert synthetic row");
    }
    for (serial, aki) in [
        ("111", fx.aki.as_str()),
        ("222", other_aki.as_str()),
        (real.serial_decimal.as_str(), fx.aki.as_str()),
    ] {
        let r = fx
            .post(
                REVOKE,
                &json!({"serial": serial, "authority_key_id": aki, "reason": 1}),
            )
            .await;
        assert_eq!(success(&r), json!({}), "revoke {serial}");
    }
    let r = fx.get(CRL).await;
    let (_, _, entries) = check_crl(&fx, success(&r).as_str().unwrap(), "ca.pem");
    assert_eq!(
        entries,
        vec![(real.serial_decimal.clone(), Some(1u8))],
        "only this CA's unexpired revoked certificates belong on its CRL"
    );
    let revoked = success(&fx.get(&format!("{CERTS}?status=revoked")).await);
    assert_eq!(revoked["certificates"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn sign_subject_override_label_and_bad_csrs() {
    let fx = fixture().await;
    let csr = kpki_csr("orig.example", &["orig.example"]);
    let r = fx
        .post(
            SIGN,
            &json!({"certificate_request": csr, "profile": "www", "label": "primary",
                    "subject": {"CN": "override.example", "names": [{"C": "DE", "O": "Override"}]}}),
        )
        .await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "override")
        .await;
    assert_eq!(c.subject_cn().as_deref(), Some("override.example"));
    let attrs = c.subject_attrs();
    assert!(attrs.contains(&("C".into(), "DE".into())), "{attrs:?}");
    assert!(
        attrs.contains(&("O".into(), "Override".into())),
        "{attrs:?}"
    );
    assert_eq!(c.sans, vec![San::dns("orig.example")]);
    let rec = fx
        .db
        .get_certificate(&c.serial_decimal, &fx.aki)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.ca_label, "primary");
    assert_eq!(rec.common_name, "override.example");

    // A certificate where a CSR belongs: 9300 "not a csr".
    let r = fx
        .post(SIGN, &json!({"certificate_request": fx.ca_pem}))
        .await;
    let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
    assert_eq!(code, 9300, "{msg}");
    // A CSR whose self-signature does not verify: 9300.
    let mut der = pem_block(&csr, "CERTIFICATE REQUEST");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered = kpki::keys::pem_encode("CERTIFICATE REQUEST", &der);
    let r = fx
        .post(SIGN, &json!({"certificate_request": tampered}))
        .await;
    let (code, msg) = failure(&r, StatusCode::BAD_REQUEST);
    assert_eq!(code, 9300, "{msg}");
    assert_eq!(fx.db.count_certificates().await.unwrap(), 1);
}

// ---------------------------------------------------------------------------
// Authentication: -require-auth, replays, -mutual-tls-cn, the accept loop
// ---------------------------------------------------------------------------

/// The server-wide `-auth-key` used by the tests below (hex of 16 bytes, unlike the profile's).
const SERVER_KEY_HEX: &str = "ffeeddccbbaa99887766554433221100";

const TOKENS: &str = "/api/v1/kpki/tokens";
const REVIEW_V1: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const REVIEW_V1BETA1: &str = "/apis/authentication.k8s.io/v1beta1/tokenreviews";
const V1: &str = "authentication.k8s.io/v1";
const V1BETA1: &str = "authentication.k8s.io/v1beta1";

/// Connection facts of a verified mTLS client with this CN.
fn mtls(cn: &str) -> kpki::api::ConnInfo {
    kpki::api::ConnInfo {
        peer: None,
        client_cn: Some(cn.to_string()),
    }
}

/// `inner` wrapped in cfssl's authenticated-request envelope with `key`, timestamped now.
fn wrapped(key: &[u8], inner: &Value) -> Value {
    let inner = serde_json::to_vec(inner).unwrap();
    serde_json::to_value(AuthenticatedRequest::wrap(key, &inner, unix_now())).unwrap()
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn require_auth_refuses_anonymous_and_accepts_wrapped_or_mtls() {
    const REQUIRED: &str = "authentication required: wrap the request with an auth key token or use a client certificate";
    let key = hex::decode(SERVER_KEY_HEX).unwrap();
    let fx = fixture_with(&[], true, |st| {
        st.require_auth = true;
        st.auth_key = Some(key.clone());
    })
    .await;
    let csr = kpki_csr("ra.example", &["ra.example"]);
    let sign_req = json!({"certificate_request": csr, "profile": "www"});

    // Anonymous: 401 on every state-changing endpoint, nothing recorded.
    let r = fx.post(SIGN, &sign_req).await;
    assert_eq!(
        failure(&r, StatusCode::UNAUTHORIZED),
        (7100, REQUIRED.to_string())
    );
    let r = fx
        .post(
            NEWCERT,
            &json!({"request": {"CN": "ra", "key": {"algo": "ecdsa", "size": 256}}}),
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::UNAUTHORIZED),
        (7100, REQUIRED.to_string())
    );
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": "1", "authority_key_id": fx.aki, "reason": 1}),
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::UNAUTHORIZED),
        (7100, REQUIRED.to_string())
    );
    assert_eq!(fx.db.count_certificates().await.unwrap(), 0);

    // Wrapped with the server key: signed.
    let r = fx.post(SIGN, &wrapped(&key, &sign_req)).await;
    let c = fx
        .check_issued(success(&r)["certificate"].as_str().unwrap(), "ra-wrapped")
        .await;
    // A verified client certificate stands in for the envelope.
    let r = fx
        .call_conn("POST", SIGN, bytes(&sign_req), mtls("admin"))
        .await;
    fx.check_issued(success(&r)["certificate"].as_str().unwrap(), "ra-mtls")
        .await;
    // Wrapped with another key: 401 "invalid token".
    let other = json!({"certificate_request": kpki_csr("o.example", &[]), "profile": "www"});
    let r = fx.post(SIGN, &wrapped(b"not the key", &other)).await;
    assert_eq!(
        failure(&r, StatusCode::UNAUTHORIZED),
        (7100, "invalid token".to_string())
    );
    // A wrapped revocation goes through.
    let r = fx
        .post(
            REVOKE,
            &wrapped(
                &key,
                &json!({"serial": c.serial_decimal, "authority_key_id": fx.aki, "reason": "superseded"}),
            ),
        )
        .await;
    assert_eq!(success(&r), json!({}));
    let rec = fx
        .db
        .get_certificate(&c.serial_decimal, &fx.aki)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rec.status.as_str(), rec.reason), ("revoked", 4));
    assert_eq!(fx.db.count_certificates().await.unwrap(), 2);
}

#[tokio::test]
async fn replayed_envelopes_are_refused_with_and_without_database() {
    const REPLAYED: &str = "replayed request: this token was already used";
    let key = hex::decode(AUTH_KEY_HEX).unwrap();
    for with_db in [true, false] {
        let fx = fixture_with(&[], with_db, |_| {}).await;
        let csr = kpki_csr("replay.example", &["replay.example"]);
        let env = wrapped(
            &key,
            &json!({"certificate_request": csr, "profile": "authed"}),
        );
        let r = fx.post(AUTHSIGN, &env).await;
        let c = summarize_cert_pem(success(&r)["certificate"].as_str().unwrap());
        assert_eq!(c.subject_cn().as_deref(), Some("replay.example"));
        let r = fx.post(AUTHSIGN, &env).await;
        assert_eq!(
            failure(&r, StatusCode::UNAUTHORIZED),
            (7100, REPLAYED.to_string()),
            "db: {with_db}"
        );
        // The same token through /sign, or with a fresh timestamp (not covered by the HMAC).
        let r = fx.post(SIGN, &env).await;
        assert_eq!(
            failure(&r, StatusCode::UNAUTHORIZED),
            (7100, REPLAYED.to_string()),
            "db: {with_db}"
        );
        let mut later = env.clone();
        later["timestamp"] = json!(unix_now() + 1);
        let r = fx.post(AUTHSIGN, &later).await;
        assert_eq!(
            failure(&r, StatusCode::UNAUTHORIZED),
            (7100, REPLAYED.to_string()),
            "db: {with_db}"
        );
        // Another request signed with the same key is not a replay.
        let csr = kpki_csr("replay2.example", &["replay2.example"]);
        let r = fx
            .post(
                SIGN,
                &wrapped(
                    &key,
                    &json!({"certificate_request": csr, "profile": "authed"}),
                ),
            )
            .await;
        assert!(success(&r)["certificate"].is_string());
        let want = if with_db { 2 } else { 0 };
        assert_eq!(fx.db.count_certificates().await.unwrap(), want);
    }
}

#[tokio::test]
async fn mutual_tls_cn_refuses_other_client_names() {
    let fx = fixture_with(&[], true, |st| {
        st.mtls_cn = Some(regex::Regex::new(r"^good\.client$").unwrap());
    })
    .await;
    let r = fx.call_conn("GET", HEALTH, None, mtls("evil.client")).await;
    assert_eq!(
        failure(&r, StatusCode::FORBIDDEN),
        (403, "Invalid CN".to_string())
    );
    let csr = kpki_csr("cn.example", &["cn.example"]);
    let r = fx
        .call_conn(
            "POST",
            SIGN,
            bytes(&json!({"certificate_request": csr})),
            mtls("good.client.evil"),
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::FORBIDDEN),
        (403, "Invalid CN".to_string())
    );
    assert_eq!(fx.db.count_certificates().await.unwrap(), 0);
    let r = fx.call_conn("GET", HEALTH, None, mtls("good.client")).await;
    assert_eq!(success(&r), json!({"healthy": true}));
    // Without a client certificate there is no CN to check.
    let r = fx.get(HEALTH).await;
    assert_eq!(success(&r), json!({"healthy": true}));
}

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_on_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fx = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kpki::api::serve(
        listener,
        None,
        fx.app.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(
            b"GET /api/v1/cfssl/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        std::io::Result::Ok(buf)
    };
    let buf = tokio::time::timeout(std::time::Duration::from_secs(120), exchange)
        .await
        .expect("no answer from serve")
        .expect("HTTP exchange with serve");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "\r\n\r\n{\"success\":true,\"result\":{\"healthy\":true},\"errors\":[],\"messages\":[]}\n"
        ),
        "{text}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(120), server)
        .await
        .expect("serve did not stop")
        .expect("serve task")
        .expect("serve result");
}

// ---------------------------------------------------------------------------
// Bootstrap tokens over HTTP, TokenReview, token gauges
// ---------------------------------------------------------------------------

/// Creates and stores a token made at `at` with this TTL (0 = never expires).
async fn stored_token(
    db: &CertDb,
    at: ::time::OffsetDateTime,
    ttl: ::time::Duration,
    groups: &[&str],
    usages: &[&str],
) -> kpki::token::BootstrapToken {
    let req = kpki::token::CreateRequest {
        ttl,
        groups: groups.iter().map(|s| s.to_string()).collect(),
        usages: usages.iter().map(|s| s.to_string()).collect(),
        description: String::new(),
    };
    let (tok, rec) = kpki::token::create(&req, at).expect("token::create");
    db.insert_token(&rec).await.expect("insert_token");
    tok
}

fn rfc3339(v: &Value) -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("not a string: {v}")),
        &::time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {v}"))
}

#[tokio::test]
async fn tokens_over_http_need_auth_and_round_trip() {
    const ANONYMOUS: &str = "authentication required: wrap the request with the server's -auth-key (HMAC, as authsign) or use an mTLS client certificate";
    const PUBLIC_KEYS: [&str; 8] = [
        "created",
        "deleted",
        "description",
        "expires",
        "groups",
        "state",
        "token_id",
        "usages",
    ];
    let key = hex::decode(SERVER_KEY_HEX).unwrap();
    let fx = fixture_with(&[], true, |st| st.auth_key = Some(key.clone())).await;

    // Anonymous requests are refused even without -require-auth.
    for (method, path, body) in [
        ("POST", TOKENS.to_string(), Some(b"{}".to_vec())),
        ("POST", TOKENS.to_string(), None),
        ("GET", TOKENS.to_string(), None),
        ("DELETE", format!("{TOKENS}/abcdef"), None),
    ] {
        let r = fx.call(method, &path, body, Some("application/json")).await;
        assert_eq!(
            failure(&r, StatusCode::UNAUTHORIZED),
            (7100, ANONYMOUS.to_string()),
            "{method} {path}"
        );
    }
    assert!(fx.db.list_tokens().await.unwrap().is_empty());

    // Created through an envelope signed with the server key.
    let r = fx
        .post(
            TOKENS,
            &wrapped(
                &key,
                &json!({"ttl": "1h", "description": "node a",
                        "groups": ["system:bootstrappers:kpki:test"], "usages": ["authentication"]}),
            ),
        )
        .await;
    let t1 = success(&r);
    let mut want_keys: Vec<&str> = PUBLIC_KEYS.to_vec();
    want_keys.extend(["secret_yaml", "token"]);
    want_keys.sort();
    assert_eq!(keys(&t1), want_keys, "{t1}");
    let tok1 = kpki::token::BootstrapToken::parse(t1["token"].as_str().unwrap()).unwrap();
    let id1 = tok1.id.clone();
    assert_eq!(t1["token_id"], id1.as_str());
    assert_eq!(t1["state"], "active");
    assert_eq!(t1["deleted"], Value::Null);
    assert_eq!(t1["description"], "node a");
    assert_eq!(t1["groups"], json!(["system:bootstrappers:kpki:test"]));
    assert_eq!(t1["usages"], json!(["authentication"]));
    assert_eq!(
        rfc3339(&t1["expires"]) - rfc3339(&t1["created"]),
        ::time::Duration::HOUR
    );
    let yaml = t1["secret_yaml"].as_str().unwrap();
    assert!(
        yaml.contains(&format!("  name: bootstrap-token-{id1}\n")),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!("  token-secret: \"{}\"\n", tok1.secret)),
        "{yaml}"
    );
    let rec = fx.db.get_token(&id1).await.unwrap().expect("stored token");
    assert_eq!(rec.secret_hash, kpki::token::hash_secret(&tok1.secret));

    // Created by an mTLS client with an empty body: kubeadm's defaults.
    let r = fx.call_conn("POST", TOKENS, None, mtls("admin")).await;
    let t2 = success(&r);
    let id2 = t2["token_id"].as_str().unwrap().to_string();
    assert_eq!(t2["groups"], json!([kpki::token::DEFAULT_EXTRA_GROUP]));
    assert_eq!(t2["usages"], json!(kpki::token::KNOWN_USAGES));
    assert_eq!(t2["description"], "");
    assert_eq!(
        rfc3339(&t2["expires"]) - rfc3339(&t2["created"]),
        ::time::Duration::DAY
    );

    // One that expired an hour ago.
    let now = ::time::OffsetDateTime::now_utc();
    let old = stored_token(
        &fx.db,
        now - ::time::Duration::HOUR * 2,
        ::time::Duration::HOUR,
        &[],
        &["authentication"],
    )
    .await;

    let states = |v: &Value| -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = v["tokens"]
            .as_array()
            .unwrap_or_else(|| panic!("no token list: {v}"))
            .iter()
            .map(|t| {
                assert_eq!(keys(t), PUBLIC_KEYS, "a listed token shows more: {t}");
                (
                    t["token_id"].as_str().unwrap().to_string(),
                    t["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        s.sort();
        s
    };
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    let r = fx
        .call(
            "GET",
            TOKENS,
            bytes(&wrapped(&key, &json!({"list": 1}))),
            None,
        )
        .await;
    assert_eq!(
        states(&success(&r)),
        sorted(vec![
            (id1.clone(), "active".into()),
            (id2.clone(), "active".into()),
            (old.id.clone(), "expired".into()),
        ])
    );

    // A signed delete names its token: a signature for another id is refused.
    let r = fx
        .call(
            "DELETE",
            &format!("{TOKENS}/{id1}"),
            bytes(&wrapped(&key, &json!({"id": id2}))),
            None,
        )
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (
            400,
            "the signed request names another token id than the URL".to_string()
        )
    );
    assert!(
        fx.db
            .get_token(&id2)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let r = fx
        .call(
            "DELETE",
            &format!("{TOKENS}/{id1}"),
            bytes(&wrapped(&key, &json!({"id": id1}))),
            None,
        )
        .await;
    assert_eq!(success(&r), json!({"deleted": id1}));
    let r = fx
        .call_conn("DELETE", &format!("{TOKENS}/{id1}"), None, mtls("admin"))
        .await;
    assert_eq!(
        failure(&r, StatusCode::NOT_FOUND),
        (11200, format!("no active bootstrap token with id {id1:?}"))
    );
    let r = fx
        .call_conn("DELETE", &format!("{TOKENS}/ABCDEF"), None, mtls("admin"))
        .await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (400, "token id must be [a-z0-9]{6}".to_string())
    );
    let r = fx.call_conn("GET", TOKENS, None, mtls("admin")).await;
    let listed = success(&r);
    assert_eq!(
        states(&listed),
        sorted(vec![
            (id1.clone(), "deleted".into()),
            (id2.clone(), "active".into()),
            (old.id.clone(), "expired".into()),
        ])
    );
    let deleted = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == id1.as_str())
        .unwrap();
    rfc3339(&deleted["deleted"]);
}

/// A successful TokenReview answer.
fn review(version: &str, status: Value) -> Value {
    json!({"apiVersion": version, "kind": "TokenReview",
           "metadata": {"creationTimestamp": null}, "spec": {}, "status": status})
}

/// A Kubernetes `Status` failure.
fn k8s_failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

#[track_caller]
fn k8s_json(r: &Resp, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", r.describe());
    assert_eq!(r.content_type(), "application/json", "{}", r.describe());
    r.json()
}

#[tokio::test]
async fn tokenreview_v1_and_v1beta1() {
    let fx = fixture().await;
    let now = ::time::OffsetDateTime::now_utc();
    let tok = stored_token(
        &fx.db,
        now,
        ::time::Duration::HOUR,
        &["system:bootstrappers:kpki:nodes"],
        &["authentication", "signing"],
    )
    .await;
    let good = tok.to_string();
    let authenticated = json!({"authenticated": true, "user": {
        "username": format!("system:bootstrap:{}", tok.id),
        "groups": ["system:bootstrappers", "system:bootstrappers:kpki:nodes"]}});
    let refused = json!({"authenticated": false});
    let wrong_secret = format!("{}.{}", tok.id, "0".repeat(16));
    for (path, body, version, status) in [
        (
            REVIEW_V1,
            json!({"apiVersion": V1, "kind": "TokenReview",
                   "spec": {"token": good, "audiences": ["https://kubernetes.default.svc"]}}),
            V1,
            &authenticated,
        ),
        (
            REVIEW_V1BETA1,
            json!({"spec": {"token": good}}),
            V1BETA1,
            &authenticated,
        ),
        // The body's apiVersion wins over the path's.
        (
            REVIEW_V1,
            json!({"apiVersion": V1BETA1, "spec": {"token": good}}),
            V1BETA1,
            &authenticated,
        ),
        (
            REVIEW_V1BETA1,
            json!({"apiVersion": V1, "kind": "TokenReview", "spec": {"token": good}}),
            V1,
            &authenticated,
        ),
        (
            REVIEW_V1,
            json!({"spec": {"token": wrong_secret}}),
            V1,
            &refused,
        ),
        (REVIEW_V1, json!({"spec": {"token": "junk"}}), V1, &refused),
        (REVIEW_V1BETA1, json!({}), V1BETA1, &refused),
    ] {
        let r = fx.post(path, &body).await;
        assert_eq!(
            k8s_json(&r, StatusCode::OK),
            review(version, status.clone()),
            "{path} {body}"
        );
    }

    let bad: [(&[u8], &str); 11] = [
        (b"not json", "the body is not a JSON TokenReview"),
        (b"", "the body is not a JSON TokenReview"),
        (b"[]", "the body must be a JSON object (a TokenReview)"),
        (
            br#"{"apiVersion": 1}"#,
            "apiVersion and kind must be strings",
        ),
        (br#"{"kind": true}"#, "apiVersion and kind must be strings"),
        (br#"{"spec": "x"}"#, "spec must be an object"),
        (br#"{"spec": {"token": 5}}"#, "spec.token must be a string"),
        (
            br#"{"spec": {"token": "x", "audiences": "a"}}"#,
            "spec.audiences must be a list of strings",
        ),
        (
            br#"{"spec": {"token": "x", "audiences": ["a", 1]}}"#,
            "spec.audiences must be a list of strings",
        ),
        (
            br#"{"apiVersion": "authentication.k8s.io/v2"}"#,
            "unsupported apiVersion \"authentication.k8s.io/v2\" (want authentication.k8s.io/v1 or v1beta1)",
        ),
        (br#"{"kind": "Secret"}"#, "kind must be TokenReview"),
    ];
    for (body, message) in bad {
        let r = fx
            .call(
                "POST",
                REVIEW_V1,
                Some(body.to_vec()),
                Some("application/json"),
            )
            .await;
        assert_eq!(
            k8s_json(&r, StatusCode::BAD_REQUEST),
            k8s_failure(400, "BadRequest", message),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    // With -require-auth only an mTLS client (kube-apiserver) may ask.
    let fx = fixture_with(&[], true, |st| st.require_auth = true).await;
    let tok = stored_token(
        &fx.db,
        now,
        ::time::Duration::HOUR,
        &[],
        &["authentication"],
    )
    .await;
    let body = json!({"apiVersion": V1, "kind": "TokenReview", "spec": {"token": tok.to_string()}});
    let r = fx.post(REVIEW_V1, &body).await;
    assert_eq!(
        k8s_json(&r, StatusCode::UNAUTHORIZED),
        k8s_failure(401, "Unauthorized", "a client certificate is required")
    );
    let r = fx
        .call_conn("POST", REVIEW_V1, bytes(&body), mtls("kube-apiserver"))
        .await;
    assert_eq!(
        k8s_json(&r, StatusCode::OK),
        review(
            V1,
            json!({"authenticated": true, "user": {
                "username": format!("system:bootstrap:{}", tok.id),
                "groups": ["system:bootstrappers"]}})
        )
    );
}

#[tokio::test]
async fn metrics_bootstrap_token_gauges() {
    let fx = fixture().await;
    let gauge = |text: &str, name: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(str::to_string)
    };
    // No tokens: the count is 0 and there is no earliest expiry.
    let text = fx.get("/metrics").await.text();
    assert!(
        text.contains(
            "# TYPE kpki_bootstrap_tokens_active gauge\nkpki_bootstrap_tokens_active 0\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE kpki_bootstrap_token_earliest_expiry_seconds gauge\n"),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "kpki_bootstrap_token_earliest_expiry_seconds"),
        None,
        "{text}"
    );

    let now = ::time::OffsetDateTime::now_utc();
    let h = ::time::Duration::HOUR;
    let usages = ["authentication"];
    for ttl in [h, h * 2, ::time::Duration::ZERO] {
        stored_token(&fx.db, now, ttl, &[], &usages).await;
    }
    let deleted = stored_token(&fx.db, now, h / 2, &[], &usages).await;
    assert!(fx.db.delete_token(&deleted.id).await.unwrap());
    stored_token(&fx.db, now - h * 3, h, &[], &usages).await; // expired 2h ago

    let text = fx.get("/metrics").await.text();
    assert_eq!(
        gauge(&text, "kpki_bootstrap_tokens_active").as_deref(),
        Some("3"),
        "active: the 1h, 2h and never-expiring tokens\n{text}"
    );
    let earliest: f64 = gauge(&text, "kpki_bootstrap_token_earliest_expiry_seconds")
        .unwrap_or_else(|| panic!("no earliest token expiry:\n{text}"))
        .parse()
        .unwrap();
    assert!(
        (3000.0..=3600.0).contains(&earliest),
        "earliest token expiry {earliest}s, expected the 1h token's\n{text}"
    );
}

#[tokio::test]
async fn revoke_reason_forms_and_missing_fields() {
    let fx = fixture().await;
    let mut serials = Vec::new();
    for i in 0..2 {
        let cn = format!("rr{i}.example");
        let r = fx
            .post(
                SIGN,
                &json!({"certificate_request": kpki_csr(&cn, &[&cn]), "profile": "www"}),
            )
            .await;
        serials
            .push(summarize_cert_pem(success(&r)["certificate"].as_str().unwrap()).serial_decimal);
    }
    let status = |serial: String| {
        let db = fx.db.clone();
        let aki = fx.aki.clone();
        async move {
            let rec = db.get_certificate(&serial, &aki).await.unwrap().unwrap();
            (rec.status, rec.reason)
        }
    };
    // No reason at all: revoked as "unspecified" (0).
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": serials[0], "authority_key_id": fx.aki}),
        )
        .await;
    assert_eq!(success(&r), json!({}));
    assert_eq!(status(serials[0].clone()).await, ("revoked".to_string(), 0));
    // Neither a string nor a number.
    for reason in [json!({"code": 1}), json!([1]), json!(true)] {
        let r = fx
            .post(
                REVOKE,
                &json!({"serial": serials[1], "authority_key_id": fx.aki, "reason": reason}),
            )
            .await;
        assert_eq!(
            failure(&r, StatusCode::BAD_REQUEST),
            (400, "Invalid reason code".to_string()),
            "{reason}"
        );
    }
    let r = fx.post(REVOKE, &json!({"serial": serials[1]})).await;
    assert_eq!(
        failure(&r, StatusCode::BAD_REQUEST),
        (
            400,
            "authority key id is required but not provided".to_string()
        )
    );
    assert_eq!(status(serials[1].clone()).await, ("good".to_string(), 0));
    let r = fx
        .post(
            REVOKE,
            &json!({"serial": serials[1], "authority_key_id": fx.aki, "reason": 9}),
        )
        .await;
    assert_eq!(success(&r), json!({}));
    assert_eq!(status(serials[1].clone()).await, ("revoked".to_string(), 9));
}
