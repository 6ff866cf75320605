//! POST /api/v1/cfssl/info: the CA certificate and a profile's usages and expiry.

use super::Shared;
use super::body;
use super::error::{ApiError, ok};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
struct InfoRequest {
    #[serde(default)]
    label: String,
    #[serde(default)]
    profile: String,
}

/// Handler.
pub async fn handle(State(st): State<Shared>, b: axum::body::Body) -> Result<Response, ApiError> {
    let bytes = body::read(b).await?;
    let req: InfoRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        InfoRequest::default()
    } else {
        body::json(&bytes, "info request")?
    };
    let _ = req.label;
    let ca = st.ca()?;
    let p = st.config.signing.profile(&req.profile)?;
    let cert = ca.cert_pem();
    let usages = if p.usages.is_empty() {
        serde_json::Value::Null
    } else {
        json!(p.usages)
    };
    let expiry = if p.expiry_string.is_empty() {
        crate::duration::format_go(p.expiry)
    } else {
        p.expiry_string.clone()
    };
    // cfssl compat: the certificate has no trailing newline here.
    Ok(ok(
        json!({"certificate": cert.trim_end(), "usages": usages, "expiry": expiry}),
        vec![],
    ))
}
