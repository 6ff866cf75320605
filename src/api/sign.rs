//! POST /api/v1/cfssl/sign: sign a PEM CSR under a profile. Profiles with an `auth_key` need an
//! authenticated request (here wrapped with that key, or via /authsign).

use super::body;
use super::error::{ApiError, ok};
use super::{ConnInfo, IssuedSerial, Shared};
use crate::csr::CertificateRequest;
use crate::issue::SignRequest;
use crate::jsonci;
use axum::extract::{Extension, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

/// cfssl's sign request body.
#[derive(Debug, Default, Deserialize)]
pub struct JsonSignRequest {
    /// PEM CSR (required)
    #[serde(default)]
    pub certificate_request: String,
    /// SANs replacing the CSR's
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// comma list; wins over `hosts` when non-empty
    #[serde(default)]
    pub hostname: String,
    /// subject override
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    pub subject: Option<CertificateRequest>,
    /// profile name
    #[serde(default)]
    pub profile: String,
    /// signer label
    #[serde(default)]
    pub label: String,
    /// ask for a bundle (no bundler: answered with a message, as cfssl)
    #[serde(default)]
    pub bundle: bool,
}

impl JsonSignRequest {
    /// Converts to the core request; a missing CSR is cfssl's 400.
    pub fn into_request(self) -> Result<SignRequest, ApiError> {
        if self.certificate_request.trim().is_empty() {
            return Err(ApiError::bad_request(
                "missing parameter 'certificate_request'",
            ));
        }
        let hosts = if !self.hostname.is_empty() {
            Some(self.hostname.split(',').map(str::to_string).collect())
        } else {
            self.hosts
        };
        Ok(SignRequest {
            csr_pem: self.certificate_request.into_bytes(),
            hosts,
            subject: self.subject,
            profile: self.profile,
            label: self.label,
        })
    }
}

/// Signs and answers `{"certificate": PEM}` (shared with authsign).
pub async fn sign_and_reply(st: &Shared, req: JsonSignRequest) -> Result<Response, ApiError> {
    let bundle = req.bundle;
    let issued = st.sign(req.into_request()?).await?;
    let mut messages = issued.warnings.clone();
    if bundle {
        messages.push(crate::error::CodedMessage {
            code: 5300,
            message:
                "This request requires a bundler, but one is not initialized for the API server."
                    .into(),
        });
    }
    let mut r = ok(json!({"certificate": issued.cert_pem}), messages);
    r.extensions_mut().insert(IssuedSerial(issued.serial));
    Ok(r)
}

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let u = st.read_request(b, conn).await?;
    let req: JsonSignRequest = body::json(&u.inner, "sign request")?;
    let profile = st.config.signing.profile(&req.profile)?;
    if !profile.auth_key.is_empty() && u.envelope.is_none() {
        return Err(ApiError::bad_request("authentication required"));
    }
    let authed = st.authenticate(&u, Some(profile)).await?;
    st.require(authed)?;
    sign_and_reply(&st, req).await
}
