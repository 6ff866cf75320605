//! POST/GET /api/v1/kpki/tokens and DELETE /api/v1/kpki/tokens/{id}: bootstrap tokens over
//! HTTP, never anonymous — the request is wrapped with the server's `-auth-key` (HMAC, as
//! authsign) or comes with a verified mTLS client certificate; otherwise 401. The token secret
//! is returned once, at creation; lists never show secrets. Token rules are `crate::token`.

use super::body;
use super::error::{ApiError, ok};
use super::{ConnInfo, Shared};
use crate::db::TokenRecord;
use crate::error::Error;
use crate::token::{self, CreateRequest};
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

/// Body of a create request (every field optional; kubeadm's defaults).
#[derive(Debug, Default, Deserialize)]
struct CreateBody {
    #[serde(default)]
    ttl: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    usages: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

/// Body of an HMAC-wrapped delete: names the token, so a signature cannot be reused for another.
#[derive(Debug, Default, Deserialize)]
struct DeleteBody {
    #[serde(default)]
    id: String,
}

/// Authenticates (HMAC envelope or mTLS) and returns the inner request and whether it came in
/// an envelope. Anonymous requests are refused whatever `-require-auth` says.
async fn authed(
    st: &Shared,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<(Vec<u8>, bool), ApiError> {
    let bytes = body::read(b).await?;
    let conn = conn.map(|c| c.0).unwrap_or_default();
    let u = st.unwrap(&bytes, &conn);
    let wrapped = u.envelope.is_some();
    if !st.authenticate(&u, None).await? {
        return Err(Error::Unauthorized(
            "authentication required: wrap the request with the server's -auth-key (HMAC, as authsign) or use an mTLS client certificate"
                .into(),
        )
        .into());
    }
    Ok((u.inner, wrapped))
}

/// The public view of a token record (no secret, no hash).
pub fn public(r: &TokenRecord, now: time::OffsetDateTime) -> Value {
    let state = if r.revoked_at.is_some() {
        "deleted"
    } else if r.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    json!({
        "token_id": r.token_id,
        "expires": r.expires_at.map(crate::certinfo::rfc3339),
        "groups": r.groups,
        "usages": r.usages,
        "description": r.description,
        "created": crate::certinfo::rfc3339(r.created_at),
        "deleted": r.revoked_at.map(crate::certinfo::rfc3339),
        "state": state,
    })
}

/// POST: creates a token; the answer holds the token and its Secret YAML, once.
pub async fn create(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let (inner, _) = authed(&st, conn, b).await?;
    let db = st.db()?;
    let req: CreateBody = if inner.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        body::json(&inner, "token request")?
    };
    let cr = CreateRequest {
        ttl: crate::duration::parse_human(req.ttl.as_deref().unwrap_or("24h"))?,
        groups: req
            .groups
            .unwrap_or_else(|| vec![token::DEFAULT_EXTRA_GROUP.to_string()]),
        usages: req
            .usages
            .unwrap_or_else(|| token::KNOWN_USAGES.iter().map(|s| s.to_string()).collect()),
        description: req.description.unwrap_or_default(),
    };
    let now = time::OffsetDateTime::now_utc();
    let (tok, rec) = token::create(&cr, now)?;
    db.insert_token(&rec).await?;
    tracing::info!(token_id = %tok.id, "bootstrap token created");
    let mut v = public(&rec, now);
    v["token"] = json!(tok.to_string());
    v["secret_yaml"] = json!(token::secret_yaml(&tok, &rec));
    Ok(ok(v, vec![]))
}

/// GET: every token (deleted and expired ones included), without secrets.
pub async fn list(
    State(st): State<Shared>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    authed(&st, conn, b).await?;
    let now = time::OffsetDateTime::now_utc();
    let rows = st.db()?.list_tokens().await?;
    let v: Vec<Value> = rows.iter().map(|r| public(r, now)).collect();
    Ok(ok(json!({ "tokens": v }), vec![]))
}

/// DELETE /{id}: deletes (revokes) a token; 404 when no active token has the id.
pub async fn delete(
    State(st): State<Shared>,
    Path(id): Path<String>,
    conn: Option<Extension<ConnInfo>>,
    b: axum::body::Body,
) -> Result<Response, ApiError> {
    let (inner, wrapped) = authed(&st, conn, b).await?;
    if wrapped {
        let d: DeleteBody = body::json(&inner, "token delete request")?;
        if d.id != id {
            return Err(ApiError::bad_request(
                "the signed request names another token id than the URL",
            ));
        }
    }
    if !token::is_token_id(&id) {
        return Err(ApiError::bad_request("token id must be [a-z0-9]{6}"));
    }
    if !st.db()?.delete_token(&id).await? {
        return Err(
            Error::CertStore(11200, format!("no active bootstrap token with id {id:?}")).into(),
        );
    }
    tracing::info!(token_id = %id, "bootstrap token deleted");
    Ok(ok(json!({ "deleted": id }), vec![]))
}
