//! POST /api/v1/cfssl/gencrl: a CRL over given serials, signed with a given issuer and key.

use super::Shared;
use super::body;
use super::error::{ApiError, ok};
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct GenCrlRequest {
    #[serde(default)]
    certificate: String,
    #[serde(default, rename = "serialnumber")]
    serial_number: Vec<String>,
    #[serde(default, rename = "issuingkey")]
    issuing_key: String,
    #[serde(default, rename = "expiretime")]
    expire_time: String,
}

/// Handler.
pub async fn handle(State(_st): State<Shared>, b: axum::body::Body) -> Result<Response, ApiError> {
    let bytes = body::read(b).await?;
    let req: GenCrlRequest = body::json(&bytes, "gencrl request")?;
    if req.certificate.is_empty() || req.issuing_key.is_empty() {
        return Err(ApiError::bad_request(
            "missing parameter 'certificate' or 'issuingKey'",
        ));
    }
    let secs: i64 = if req.expire_time.trim().is_empty() {
        7 * 24 * 3600
    } else {
        req.expire_time
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("expireTime must be a number of seconds"))?
    };
    let key = crate::keys::PrivateKey::from_pem(req.issuing_key.as_bytes(), None)?;
    let ca = crate::signer::Ca::new(req.certificate.as_bytes(), key)?;
    let now = time::OffsetDateTime::now_utc();
    let entries: Vec<(String, time::OffsetDateTime, u8)> =
        req.serial_number.into_iter().map(|s| (s, now, 0)).collect();
    let validity = if secs <= 0 {
        time::Duration::days(7)
    } else {
        time::Duration::seconds(secs)
    };
    let der = crate::crl::build(&ca, &entries, now, validity, now.unix_timestamp() as u64)?;
    Ok(ok(
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(der)),
        vec![],
    ))
}
