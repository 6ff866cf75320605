//! POST /api/v1/cfssl/init_ca: a new self-signed CA from CSR JSON (returned, not kept).

use super::body;
use super::error::{ApiError, ok};
use super::{ConnInfo, Shared};
use crate::csr::CertificateRequest;
use crate::issue;
use axum::extract::{Extension, State};
use axum::response::Response;
use serde_json::json;

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let inner = st.read_authenticated(b, conn).await?;
    let req: CertificateRequest = body::json(&inner, "request")?;
    let ss = tokio::task::spawn_blocking(move || issue::init_ca(&req, None))
        .await
        .map_err(|e| crate::error::Error::Internal(format!("CA generation failed: {e}")))??;
    Ok(ok(
        json!({"private_key": ss.key.to_cfssl_pem()?, "certificate": ss.cert_pem}),
        vec![],
    ))
}
