//! POST /api/v1/cfssl/revoke: mark a recorded certificate revoked (serial + AKI + reason).

use super::body;
use super::error::{ApiError, ok};
use super::{ConnInfo, Shared};
use axum::extract::{Extension, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
struct RevokeRequest {
    #[serde(default)]
    serial: String,
    #[serde(default)]
    authority_key_id: String,
    #[serde(default)]
    reason: serde_json::Value,
}

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let inner = st.read_authenticated(b, conn).await?;
    let req: RevokeRequest = body::json(&inner, "revocation request")?;
    if req.serial.is_empty() {
        return Err(ApiError::bad_request(
            "serial number is required but not provided",
        ));
    }
    if req.authority_key_id.is_empty() {
        return Err(ApiError::bad_request(
            "authority key id is required but not provided",
        ));
    }
    let reason_text = match &req.reason {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(ApiError::bad_request("Invalid reason code")),
    };
    let reason = crate::crl::parse_reason(&reason_text)?;
    let aki = req.authority_key_id.to_lowercase().replace(':', "");
    st.db()?.revoke(&req.serial, &aki, reason as i64).await?;
    Ok(ok(json!({}), vec![]))
}
