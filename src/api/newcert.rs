//! POST /api/v1/cfssl/newcert: generate a key + CSR from CSR JSON and sign it. Unlike cfssl,
//! a profile with an `auth_key` refuses unauthenticated requests here too (cfssl#250, #788).

use super::body;
use super::error::{ApiError, ok};
use super::{ConnInfo, IssuedSerial, Shared};
use crate::csr::CertificateRequest;
use crate::issue;
use crate::jsonci;
use crate::keys::KeyAlgo;
use axum::extract::{Extension, State};
use axum::response::Response;
use md5::Digest;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
struct NewCertRequest {
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    request: Option<CertificateRequest>,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    label: String,
}

/// cfssl's `sums`: upper-case hex MD5, SHA-1 and SHA-256 of a certificate's or CSR's DER.
pub fn sums(der: &[u8]) -> Value {
    let up = |b: &[u8]| hex::encode_upper(b);
    json!({
        "md5": up(&md5::Md5::digest(der)),
        "sha-1": up(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()),
        "sha-256": up(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref()),
    })
}

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let u = st.read_request(b, conn).await?;
    let req: NewCertRequest = body::json(&u.inner, "request")?;
    let Some(csr_req) = req.request else {
        return Err(ApiError::bad_request("missing parameter 'request'"));
    };
    let profile = st.config.signing.profile(&req.profile)?;
    if !profile.auth_key.is_empty() && u.envelope.is_none() {
        return Err(ApiError::bad_request("authentication required"));
    }
    let authed = st.authenticate(&u, Some(profile)).await?;
    st.require(authed)?;
    let ca = st.ca()?;
    let cfg = st.config.clone();
    let (p, l) = (req.profile.clone(), req.label.clone());
    // An EC or Ed25519 key is generated in microseconds: done on the worker, like /sign. RSA key
    // generation takes tens to hundreds of milliseconds and goes to the blocking pool.
    let nc = if matches!(csr_req.key_algo()?, KeyAlgo::Rsa(_)) {
        tokio::task::spawn_blocking(move || issue::new_cert(&ca, &cfg.signing, &csr_req, &p, &l))
            .await
            .map_err(|e| crate::error::Error::Internal(format!("signing task failed: {e}")))??
    } else {
        issue::new_cert(&ca, &cfg.signing, &csr_req, &p, &l)?
    };
    st.commit(&nc.issued).await?;
    let result = json!({
        "private_key": nc.key_pem,
        "certificate_request": nc.csr_pem,
        "certificate": nc.issued.cert_pem,
        "sums": {"certificate": sums(&nc.issued.cert_der), "certificate_request": sums(&nc.csr_der)},
    });
    let mut r = ok(result, nc.issued.warnings.clone());
    r.extensions_mut().insert(IssuedSerial(nc.issued.serial));
    Ok(r)
}
