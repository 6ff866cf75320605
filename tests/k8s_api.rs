//! The Kubernetes endpoints at router level (`tower::ServiceExt::oneshot`, in-memory SQLite):
//! the TokenReview webhook for v1 and v1beta1 (valid, expired, deleted, malformed, unknown,
//! wrong secret, bad bodies), the bootstrap token REST API (never anonymous: HMAC or mTLS), and
//! the token gauges on /metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kpki::api::{AppState, ConnInfo};
use kpki::auth::AuthenticatedRequest;
use kpki::db::{CertDb, TokenRecord};
use serde_json::{Value, json};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn state(require_auth: bool) -> (Arc<AppState>, CertDb) {
    let db = CertDb::connect("sqlite::memory:").await.expect("db");
    let config = kpki::config::Config::from_json(br#"{"signing":{"default":{"expiry":"8760h"}}}"#)
        .expect("config");
    let mut st = AppState::new(None, config, Some(db.clone()));
    st.auth_key = Some(KEY.to_vec());
    st.require_auth = require_auth;
    (Arc::new(st), db)
}

async fn call(
    st: &Arc<AppState>,
    method: &str,
    path: &str,
    body: Vec<u8>,
    mtls: bool,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .expect("request");
    if mtls {
        req.extensions_mut().insert(ConnInfo {
            peer: None,
            client_cn: Some("kube-apiserver".into()),
        });
    }
    let resp = kpki::api::router(st.clone(), &[])
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn wrapped(inner: &[u8]) -> Vec<u8> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    serde_json::to_vec(&AuthenticatedRequest::wrap(KEY, inner, now)).unwrap()
}

fn review_body(version: &str, token: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": version,
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["https://kubernetes.default.svc"]}
    }))
    .unwrap()
}

async fn insert(db: &CertDb, expires: Option<OffsetDateTime>) -> String {
    let req = kpki::token::CreateRequest {
        ttl: Duration::hours(1),
        groups: vec!["system:bootstrappers:worker".into()],
        usages: vec!["signing".into(), "authentication".into()],
        description: String::new(),
    };
    let (tok, mut rec): (_, TokenRecord) =
        kpki::token::create(&req, OffsetDateTime::now_utc()).unwrap();
    rec.expires_at = expires;
    db.insert_token(&rec).await.unwrap();
    tok.to_string()
}

#[tokio::test]
async fn tokenreview_v1_and_v1beta1() {
    let (st, db) = state(false).await;
    let now = OffsetDateTime::now_utc();
    let valid = insert(&db, Some(now + Duration::hours(1))).await;
    let forever = insert(&db, None).await;
    let expired = insert(&db, Some(now - Duration::seconds(1))).await;
    let deleted = insert(&db, Some(now + Duration::hours(1))).await;
    assert!(db.delete_token(&deleted[..6]).await.unwrap());
    let wrong_secret = format!("{}.{}", &valid[..6], "z".repeat(16));
    for (version, path) in [
        (
            "authentication.k8s.io/v1",
            "/apis/authentication.k8s.io/v1/tokenreviews",
        ),
        (
            "authentication.k8s.io/v1beta1",
            "/apis/authentication.k8s.io/v1beta1/tokenreviews",
        ),
    ] {
        for (tok, ok) in [
            (valid.as_str(), true),
            (forever.as_str(), true),
            (expired.as_str(), false),
            (deleted.as_str(), false),
            (wrong_secret.as_str(), false),
            ("abcdef.0123456789abcdef", false), // unknown
            ("not-a-token", false),             // malformed
            ("", false),
            ("ABCDEF.0123456789ABCDEF", false),
        ] {
            let (status, v) = call(&st, "POST", path, review_body(version, tok), false).await;
            assert_eq!(status, StatusCode::OK, "{version} {tok}: {v}");
            assert_eq!(v["apiVersion"], version, "{v}");
            assert_eq!(v["kind"], "TokenReview", "{v}");
            assert_eq!(v["status"]["authenticated"], ok, "{version} {tok}: {v}");
            if ok {
                assert_eq!(
                    v["status"]["user"]["username"],
                    format!("system:bootstrap:{}", &tok[..6])
                );
                assert_eq!(
                    v["status"]["user"]["groups"],
                    json!(["system:bootstrappers", "system:bootstrappers:worker"])
                );
            } else {
                assert!(v["status"].get("user").is_none(), "{v}");
            }
            if tok.len() == 23 {
                assert!(
                    !v.to_string().contains(&tok[7..]),
                    "the secret is echoed: {v}"
                );
            }
        }
    }
    // The request's apiVersion is echoed even on the other path (kube-apiserver posts to the
    // configured URL whatever its version).
    let (_, v) = call(
        &st,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        review_body("authentication.k8s.io/v1beta1", &valid),
        false,
    )
    .await;
    assert_eq!(v["apiVersion"], "authentication.k8s.io/v1beta1");
    assert_eq!(v["status"]["authenticated"], true);
    // Bodies that are not TokenReviews: a Kubernetes Status, 400.
    for body in [
        &b"not json"[..],
        br#"{"apiVersion":"v1","kind":"TokenReview","spec":{"token":"x"}}"#,
        br#"{"apiVersion":"authentication.k8s.io/v1","kind":"Pod"}"#,
        br#"[]"#,
        br#"{"apiVersion":"authentication.k8s.io/v1","spec":{"token":5}}"#,
        br#"{"apiVersion":"authentication.k8s.io/v1","spec":[]}"#,
        br#"{"apiVersion":"authentication.k8s.io/v1","spec":{"token":"x","audiences":[1]}}"#,
        br#"{"apiVersion":7}"#,
    ] {
        let (status, v) = call(
            &st,
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            body.to_vec(),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["kind"], "Status", "{v}");
        assert_eq!(v["code"], 400);
    }
}

#[tokio::test]
async fn tokenreview_requires_mtls_under_require_auth() {
    let (st, db) = state(true).await;
    let tok = insert(&db, None).await;
    let path = "/apis/authentication.k8s.io/v1/tokenreviews";
    let body = review_body("authentication.k8s.io/v1", &tok);
    let (status, v) = call(&st, "POST", path, body.clone(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["kind"], "Status");
    let (status, v) = call(&st, "POST", path, body, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"]["authenticated"], true);
}

#[tokio::test]
async fn token_rest_api_is_never_anonymous() {
    let (st, _db) = state(false).await;
    // Anonymous: 401 on every method, whatever -require-auth says.
    for (m, p, b) in [
        ("POST", "/api/v1/kpki/tokens", b"{}".to_vec()),
        ("GET", "/api/v1/kpki/tokens", vec![]),
        ("DELETE", "/api/v1/kpki/tokens/abcdef", vec![]),
    ] {
        let (status, v) = call(&st, m, p, b, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {p}: {v}");
        assert_eq!(v["success"], false);
    }
    // A wrong key is refused too.
    let bad = serde_json::to_vec(&AuthenticatedRequest::wrap(
        b"another key",
        b"{}",
        OffsetDateTime::now_utc().unix_timestamp(),
    ))
    .unwrap();
    let (status, _) = call(&st, "POST", "/api/v1/kpki/tokens", bad, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // HMAC create: the token comes back once, with its Secret YAML.
    let inner = br#"{"ttl":"2h","groups":["system:bootstrappers:gpu"],"description":"gpu nodes"}"#;
    let (status, v) = call(&st, "POST", "/api/v1/kpki/tokens", wrapped(inner), false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = v["result"]["token"].as_str().unwrap().to_string();
    let id = token[..6].to_string();
    assert_eq!(v["result"]["token_id"], id);
    assert_eq!(v["result"]["groups"], json!(["system:bootstrappers:gpu"]));
    assert!(
        v["result"]["secret_yaml"]
            .as_str()
            .unwrap()
            .contains(&format!("token-secret: \"{}\"", &token[7..]))
    );
    // Replaying the same signed request is refused.
    let once = wrapped(b"{}");
    let (s1, _) = call(&st, "POST", "/api/v1/kpki/tokens", once.clone(), false).await;
    let (s2, _) = call(&st, "POST", "/api/v1/kpki/tokens", once, false).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::UNAUTHORIZED));
    // Bad input: a clear 400.
    let (status, v) = call(
        &st,
        "POST",
        "/api/v1/kpki/tokens",
        wrapped(br#"{"groups":["system:masters"]}"#),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("system:bootstrappers")
    );

    // mTLS list: no secrets, no hashes.
    let (status, v) = call(&st, "GET", "/api/v1/kpki/tokens", vec![], true).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let text = v.to_string();
    assert!(!text.contains(&token[7..]), "list shows a secret");
    assert!(!text.contains("secret_hash"));
    assert_eq!(v["result"]["tokens"].as_array().unwrap().len(), 2);

    // The token authenticates, then is deleted and stops authenticating.
    let review = |t: &str| review_body("authentication.k8s.io/v1", t);
    let path = "/apis/authentication.k8s.io/v1/tokenreviews";
    let (_, v) = call(&st, "POST", path, review(&token), false).await;
    assert_eq!(v["status"]["authenticated"], true);
    // A signed delete must name the same id as the URL.
    let other = wrapped(br#"{"id":"zzzzzz"}"#);
    let (status, _) = call(
        &st,
        "DELETE",
        &format!("/api/v1/kpki/tokens/{id}"),
        other,
        false,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let del = wrapped(format!(r#"{{"id":"{id}"}}"#).as_bytes());
    let (status, v) = call(
        &st,
        "DELETE",
        &format!("/api/v1/kpki/tokens/{id}"),
        del,
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, v) = call(&st, "POST", path, review(&token), false).await;
    assert_eq!(v["status"]["authenticated"], false);
    let (status, v) = call(
        &st,
        "DELETE",
        &format!("/api/v1/kpki/tokens/{id}"),
        vec![],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["errors"][0]["code"], 11200);

    // Gauges.
    let resp = kpki::api::router(st.clone(), &[])
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("kpki_bootstrap_tokens_active 1\n"), "{text}");
    let secs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kpki_bootstrap_token_earliest_expiry_seconds "))
        .expect("token expiry gauge")
        .parse()
        .unwrap();
    assert!((0.0..=86_400.0).contains(&secs), "{secs}");
}
