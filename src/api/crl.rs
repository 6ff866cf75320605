//! GET /api/v1/cfssl/crl?expiry=168h: a CRL of the revoked, unexpired certificates this CA
//! issued (base64 DER, as cfssl), with a CRL number kept per CA in the database.

use super::error::{ok, ApiError};
use super::Shared;
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

/// Builds the current CRL for `st`'s CA from the database (shared with the CLI's `crl`).
pub async fn current_crl(db: &crate::db::CertDb, ca: &crate::signer::Ca, validity: time::Duration) -> Result<Vec<u8>, crate::error::Error> {
    let rows = db.revoked_unexpired(&ca.aki_hex()).await?;
    let number = db.next_crl_number(&ca.aki_hex()).await?;
    let entries: Vec<(String, time::OffsetDateTime, u8)> =
        rows.into_iter().map(|(s, t, r)| (s, t, r.clamp(0, 10) as u8)).collect();
    crate::crl::build(ca, &entries, time::OffsetDateTime::now_utc(), validity, number)
}

/// Handler.
pub async fn handle(State(st): State<Shared>, q: Result<Query<CrlQuery>, axum::extract::rejection::QueryRejection>) -> Result<Response, ApiError> {
    let q = q.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?.0;
    let validity = match q.expiry.as_deref() {
        None | Some("") => time::Duration::hours(168),
        Some(e) => crate::duration::parse_go(e)?,
    };
    if validity <= time::Duration::ZERO {
        return Err(ApiError::bad_request("expiry must be positive"));
    }
    let ca = st.ca()?;
    let der = current_crl(st.db()?, &ca, validity).await?;
    Ok(ok(serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(der)), vec![]))
}
