//! GET /api/v1/cfssl/crl?expiry=168h: a CRL of the revoked, unexpired certificates this CA
//! issued (base64 DER, as cfssl), with a CRL number kept per CA in the database.

use super::Shared;
use super::error::{ApiError, ok};
use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
/// Query string of the CRL endpoint.
pub struct CrlQuery {
    #[serde(default)]
    expiry: Option<String>,
}

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    q: Result<Query<CrlQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = q
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
        .0;
    let validity = match q.expiry.as_deref() {
        None | Some("") => time::Duration::hours(168),
        Some(e) => crate::duration::parse_go(e)?,
    };
    if validity <= time::Duration::ZERO {
        return Err(ApiError::bad_request("expiry must be positive"));
    }
    let ca = st.ca()?;
    let der = crate::issue::current_crl(st.db()?, &ca, validity).await?;
    Ok(ok(
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(der)),
        vec![],
    ))
}
