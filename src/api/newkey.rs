//! POST /api/v1/cfssl/newkey: generate a key and CSR from CSR JSON (no signing, no state).

use super::Shared;
use super::body;
use super::error::{ApiError, ok};
use super::newcert::sums;
use crate::csr::{self, CertificateRequest};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

/// Handler.
pub async fn handle(State(_st): State<Shared>, b: axum::body::Body) -> Result<Response, ApiError> {
    let bytes = body::read(b).await?;
    let req: CertificateRequest = body::json(&bytes, "request")?;
    if req.ca.is_some() {
        return Err(ApiError::bad_request("ca section only permitted in initca"));
    }
    let g = tokio::task::spawn_blocking(move || csr::generate(&req))
        .await
        .map_err(|e| crate::error::Error::Internal(format!("key generation failed: {e}")))??;
    let key = g.key.to_cfssl_pem()?;
    Ok(ok(
        json!({"private_key": key, "certificate_request": g.csr_pem, "sums": {"certificate_request": sums(&g.csr_der)}}),
        vec![],
    ))
}
