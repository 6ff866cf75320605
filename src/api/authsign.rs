//! POST /api/v1/cfssl/authsign: cfssl's HMAC-authenticated sign. kpki also refuses stale
//! timestamps (±5 min) and replays of a token already used.

use super::body;
use super::error::ApiError;
use super::sign::{JsonSignRequest, sign_and_reply};
use super::{ConnInfo, Shared};
use crate::auth::AuthenticatedRequest;
use axum::extract::{Extension, State};
use axum::response::Response;

/// Handler.
pub async fn handle(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(b).await?;
    let conn = conn.map(|c| c.0).unwrap_or_default();
    let env = AuthenticatedRequest::parse(&bytes)?;
    let inner = env.inner()?;
    let req: JsonSignRequest = body::json(&inner, "authenticated sign request")?;
    let profile = st.config.signing.profile(&req.profile)?;
    if profile.auth_key.is_empty() {
        return Err(ApiError::bad_request("no authentication provider"));
    }
    let u = super::Unwrapped {
        inner,
        envelope: Some(env),
        mtls: conn.client_cn.is_some(),
    };
    st.authenticate(&u, Some(profile)).await?;
    sign_and_reply(&st, req).await
}
