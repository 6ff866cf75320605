//! POST /apis/authentication.k8s.io/v1/tokenreviews (and /v1beta1/): kube-apiserver's
//! `--authentication-token-webhook-config-file` calls this with a TokenReview. Bootstrap tokens
//! in the database authenticate as `system:bootstrap:<id>` in `system:bootstrappers` plus their
//! extra groups; anything else is `authenticated: false` with HTTP 200. Answers in Kubernetes'
//! shape (the request's apiVersion echoed), not cfssl's envelope. Decisions are `crate::token`.

use super::{ConnInfo, Shared};
use crate::token::{self, Review};
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The two TokenReview API versions kube-apiserver's webhook client speaks.
pub const VERSIONS: [&str; 2] = ["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"];

fn respond(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A Kubernetes `Status` failure (what the API server itself answers for bad requests).
fn failure(code: StatusCode, reason: &str, message: &str) -> Response {
    respond(
        code,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        }),
    )
}

/// Checks the JSON types kube-apiserver's TokenReview has: an object; `spec` an object;
/// `spec.token` a string; `spec.audiences` a list of strings.
fn check_shape(req: &Value) -> Result<(), &'static str> {
    let obj = req
        .as_object()
        .ok_or("the body must be a JSON object (a TokenReview)")?;
    for k in ["apiVersion", "kind"] {
        if obj.get(k).is_some_and(|v| !v.is_string()) {
            return Err("apiVersion and kind must be strings");
        }
    }
    if let Some(spec) = obj.get("spec") {
        let spec = spec.as_object().ok_or("spec must be an object")?;
        if spec.get("token").is_some_and(|t| !t.is_string()) {
            return Err("spec.token must be a string");
        }
        if let Some(a) = spec.get("audiences")
            && !a.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        {
            return Err("spec.audiences must be a list of strings");
        }
    }
    Ok(())
}

/// v1 handler.
pub async fn v1(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Response {
    handle(st, conn, b, VERSIONS[0]).await
}

/// v1beta1 handler.
pub async fn v1beta1(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Response {
    handle(st, conn, b, VERSIONS[1]).await
}

async fn handle(
    st: Shared,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
    path_version: &str,
) -> Response {
    let conn = conn.map(|c| c.0).unwrap_or_default();
    // With -require-auth, only an mTLS client (kube-apiserver's webhook credentials) may ask.
    if st.require_auth && conn.client_cn.is_none() {
        return failure(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a client certificate is required",
        );
    }
    let bytes = match super::body::read_bytes(b).await {
        Ok(bytes) => bytes,
        Err(super::body::Unread::TooLarge) => {
            return failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "request body too large",
            );
        }
        // A client that stalls mid-body is let go, as on every other endpoint.
        Err(super::body::Unread::TooSlow) => {
            return failure(
                StatusCode::REQUEST_TIMEOUT,
                "Timeout",
                "the request body was not received in time",
            );
        }
    };
    let req = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the body is not a JSON TokenReview",
            );
        }
    };
    if let Err(m) = check_shape(&req) {
        return failure(StatusCode::BAD_REQUEST, "BadRequest", m);
    }
    let version = match req.get("apiVersion").and_then(Value::as_str) {
        None => path_version,
        Some(v) => match VERSIONS.iter().find(|x| **x == v) {
            Some(x) => x,
            None => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!(
                        "unsupported apiVersion {v:?} (want authentication.k8s.io/v1 or v1beta1)"
                    ),
                );
            }
        },
    };
    if req
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k != "TokenReview")
    {
        return failure(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "kind must be TokenReview",
        );
    }
    let presented = req
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    let now = time::OffsetDateTime::now_utc();
    let outcome = match token::BootstrapToken::parse(presented) {
        Err(_) => Review::Rejected("malformed token"),
        Ok(t) => {
            let rec = match &st.db {
                Some(db) => match db.get_token(&t.id).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "token lookup failed");
                        return failure(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            "token store unavailable",
                        );
                    }
                },
                None => None,
            };
            token::review(presented, rec.as_ref(), now)
        }
    };
    let status = match outcome {
        Review::Authenticated { username, groups } => {
            tracing::info!(user = %username, "tokenreview: authenticated");
            json!({"authenticated": true, "user": {"username": username, "groups": groups}})
        }
        Review::Rejected(why) => {
            tracing::info!(reason = why, "tokenreview: not authenticated");
            json!({"authenticated": false})
        }
    };
    respond(
        StatusCode::OK,
        &json!({
            "apiVersion": version,
            "kind": "TokenReview",
            "metadata": {"creationTimestamp": null},
            "spec": {},
            "status": status,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// kube-apiserver's webhook (or anyone, without -require-auth) that stalls mid-body gets a
    /// 408 Status at the body deadline; the task is not held forever.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_a_408_status_at_the_deadline() {
        let state = std::sync::Arc::new(crate::api::AppState::new(
            None,
            crate::config::Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}}}"#)
                .unwrap(),
            None,
        ));
        let app = crate::api::router(state, &[]);
        for path in [
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "/apis/authentication.k8s.io/v1beta1/tokenreviews",
        ] {
            let req = axum::http::Request::post(path)
                .body(axum::body::Body::new(super::super::body::Stalled))
                .unwrap();
            let start = tokio::time::Instant::now();
            // Bounded: without a deadline on the body this would wait forever.
            let resp = tokio::time::timeout(
                2 * super::super::body::BODY_DEADLINE,
                app.clone().oneshot(req),
            )
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer at the body deadline"))
            .unwrap();
            assert_eq!(start.elapsed(), super::super::body::BODY_DEADLINE, "{path}");
            assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT, "{path}");
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                v,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "the request body was not received in time",
                       "reason": "Timeout", "code": 408}),
                "{path}"
            );
        }
    }
}
