//! POST /api/v1/cfssl/certinfo: certinfo for `{"certificate"}`, `{"domain"}` or
//! `{"serial","authority_key_id"}` (database lookup).

use super::Shared;
use super::body;
use super::error::{ApiError, ok};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct CertinfoRequest {
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    authority_key_id: String,
}

/// Handler.
pub async fn handle(State(st): State<Shared>, b: axum::body::Body) -> Result<Response, ApiError> {
    let bytes = body::read(b).await?;
    let req: CertinfoRequest = body::json(&bytes, "certinfo request")?;
    let pem_text = if !req.certificate.is_empty() {
        req.certificate
    } else if !req.domain.is_empty() {
        let d = req.domain.clone();
        let infos = tokio::task::spawn_blocking(move || crate::tlsdial::fetch_domain(&d))
            .await
            .map_err(|e| crate::error::Error::Internal(e.to_string()))??;
        return Ok(ok(
            serde_json::to_value(&infos[0]).unwrap_or_default(),
            vec![],
        ));
    } else if !req.serial.is_empty() && !req.authority_key_id.is_empty() {
        let db = st.db.as_ref().ok_or_else(|| {
            ApiError::from(crate::error::Error::Internal(
                "cannot lookup certificate from serial without db access".into(),
            ))
        })?;
        let aki = req.authority_key_id.to_lowercase().replace(':', "");
        match db.get_certificate(&req.serial, &aki).await? {
            Some(r) => r.pem,
            None => {
                return Err(
                    crate::error::Error::CertStore(11200, "no certificate found".into()).into(),
                );
            }
        }
    } else {
        return Err(ApiError::bad_request("no valid parameter sets found"));
    };
    let der = crate::signer::first_certificate_der(pem_text.as_bytes())?;
    let info = crate::certinfo::certificate(&der)?;
    Ok(ok(serde_json::to_value(info).unwrap_or_default(), vec![]))
}
