//! Shared fixtures for kpki's fuzz targets: a CA, a valid CSR, a ca-config exercising every
//! profile feature, and an in-process server (the real `kpki::api::router`) driven with
//! `tower::ServiceExt::oneshot` on a current-thread tokio runtime. No disk, no network.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kpki::api::{AppState, router};
use kpki::config::Config;
use kpki::csr::CertificateRequest;
use kpki::keys::PrivateKey;
use kpki::signer::Ca;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// HMAC key (hex) of the `auth` profile, known to the authsign target.
pub const AUTH_KEY_HEX: &str = "0123456789abcdef0123456789abcdef";

/// The marker the request targets replace with a valid CSR PEM (JSON-escaped).
pub const CSR_MARKER: &[u8] = b"@CSR@";

/// ca-config used by the in-process server: a default leaf profile, a CA profile, a profile
/// with a name whitelist, one with an auth key, one with policies/URLs.
pub const CA_CONFIG: &str = r#"{
  "signing": {
    "default": {"usages": ["signing", "key encipherment", "server auth", "client auth"], "expiry": "8760h"},
    "profiles": {
      "ca": {"usages": ["cert sign", "crl sign"], "expiry": "8760h",
             "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}},
      "wl": {"usages": ["server auth"], "expiry": "1h", "name_whitelist": "^[a-z]+\\.example\\.com$"},
      "auth": {"usages": ["server auth"], "expiry": "1h", "auth_key": "k"},
      "pol": {"usages": ["digital signature", "client auth"], "expiry": "2h", "backdate": "1m",
              "ocsp_url": "http://ocsp.example.com", "crl_url": "http://crl.example.com/ca.crl",
              "issuer_urls": ["http://example.com/ca.pem"],
              "policies": [{"id": "1.2.3.4", "qualifiers": [{"type": "id-qt-cps", "value": "http://cps.example.com"}]}]}
    }
  },
  "auth_keys": {"k": {"type": "standard", "key": "0123456789abcdef0123456789abcdef"}}
}"#;

struct Fixtures {
    ca_cert_pem: String,
    ca_key_pem: String,
    csr_pem: String,
    csr_json_escaped: Vec<u8>,
    leaf_key_pem: String,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let req = CertificateRequest::from_json(
            br#"{"CN":"fuzz CA","names":[{"O":"kpki fuzz"}],"key":{"algo":"ecdsa","size":256}}"#,
        )
        .expect("CA request");
        let ss = kpki::issue::init_ca(&req, None).expect("init_ca");
        let leaf = CertificateRequest::from_json(
            br#"{"CN":"www.example.com","hosts":["www.example.com","10.0.0.1"],"key":{"algo":"ecdsa","size":256}}"#,
        )
        .expect("leaf request");
        let g = kpki::csr::generate(&leaf).expect("leaf CSR");
        let escaped = serde_json::to_string(&g.csr_pem).expect("escape");
        Fixtures {
            ca_cert_pem: ss.cert_pem.clone(),
            ca_key_pem: ss.key.to_pkcs8_pem(),
            csr_json_escaped: escaped.as_bytes()[1..escaped.len() - 1].to_vec(),
            csr_pem: g.csr_pem,
            leaf_key_pem: g.key.to_pkcs8_pem(),
        }
    })
}

/// A fresh `Ca` (the same certificate and key every time).
pub fn ca() -> Ca {
    let f = fixtures();
    let key = PrivateKey::from_pem(f.ca_key_pem.as_bytes(), None).expect("CA key");
    Ca::new(f.ca_cert_pem.as_bytes(), key).expect("CA")
}

/// A valid P-256 CSR PEM for www.example.com.
pub fn csr_pem() -> &'static str {
    &fixtures().csr_pem
}

/// A fixed P-256 private key (for building CSRs from fuzzed CSR JSON).
pub fn leaf_key() -> PrivateKey {
    PrivateKey::from_pem(fixtures().leaf_key_pem.as_bytes(), None).expect("leaf key")
}

/// The parsed [`CA_CONFIG`].
pub fn config() -> Config {
    Config::from_json(CA_CONFIG.as_bytes()).expect("fuzz ca-config")
}

/// Replaces every `@CSR@` in `data` with the valid CSR PEM, JSON-escaped, so the fuzzer can
/// mutate the request around a CSR that verifies.
pub fn with_csr(data: &[u8]) -> Vec<u8> {
    let rep = &fixtures().csr_json_escaped;
    let mut out = Vec::with_capacity(data.len() + rep.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(CSR_MARKER) {
            out.extend_from_slice(rep);
            i += CSR_MARKER.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// An in-process kpki server: the real router over an AppState with the fixture CA and
/// config, and no database.
pub struct Server {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    calls: u64,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// Builds the runtime and the router.
    pub fn new() -> Server {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Server {
            rt,
            app: Self::app(),
            calls: 0,
        }
    }

    fn app() -> axum::Router {
        router(Arc::new(AppState::new(Some(ca()), config(), None)), &[])
    }

    /// POSTs `body` to `path`; returns (status, body) after checking the cfssl envelope
    /// invariants: always JSON with `success` matching the status, errors carrying a code, and
    /// never a 5xx (no database here, so a 5xx means an internal error on client input).
    pub fn post(&mut self, path: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
        // The replay memory only grows during a run: start afresh now and then.
        self.calls += 1;
        if self.calls % 50_000 == 0 {
            self.app = Self::app();
        }
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let app = self.app.clone();
        let (status, bytes) = self.rt.block_on(async move {
            let resp = app.oneshot(req).await.expect("router is infallible");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("response body");
            (status, bytes)
        });
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: response is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(
            !status.is_server_error(),
            "{path}: {status} on client input: {v}"
        );
        assert_eq!(
            v["success"],
            status == StatusCode::OK,
            "{path}: {status} {v}"
        );
        if status != StatusCode::OK {
            assert!(v["errors"][0]["code"].is_u64(), "{path}: {status} {v}");
            assert!(
                v["errors"][0]["message"].is_string(),
                "{path}: {status} {v}"
            );
        } else {
            let pem = v["result"]["certificate"].as_str().expect("certificate");
            assert!(
                kpki::certinfo::detect(pem.as_bytes()).is_ok(),
                "{path}: issued an unparsable certificate: {pem}"
            );
        }
        (status, v)
    }
}
