//! GET /api/v1/kpki/certificates (filters, keyset pagination) and
//! GET /api/v1/kpki/certificates/{serial}: what this CA issued.

use super::Shared;
use super::error::{ApiError, ok};
use crate::db::ListFilter;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

/// Query parameters of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expiring: Option<String>,
    #[serde(default)]
    cn: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<String>,
}

fn cursor_encode(c: &(String, String)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", c.0, c.1))
}

fn cursor_decode(s: &str) -> Result<(String, String), ApiError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::bad_request("invalid 'after' cursor"))?;
    let (a, b) = raw
        .split_once('|')
        .ok_or_else(|| ApiError::bad_request("invalid 'after' cursor"))?;
    Ok((a.to_string(), b.to_string()))
}

/// Turns query text into a filter (shared by the CLI's `certs` through the same fields).
pub fn filter(q: &ListQuery) -> Result<ListFilter, ApiError> {
    if let Some(s) = &q.status
        && !crate::db::STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "invalid status {s:?} (good, revoked, unknown)"
        )));
    }
    Ok(ListFilter {
        status: q.status.clone(),
        expiring_within: q
            .expiring
            .as_deref()
            .map(crate::duration::parse_human)
            .transpose()?,
        common_name: q.cn.clone(),
        aki: None,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        after: q.after.as_deref().map(cursor_decode).transpose()?,
    })
}

/// GET list.
pub async fn list(
    State(st): State<Shared>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = q
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
        .0;
    let f = filter(&q)?;
    let rows = st.db()?.list_certificates(&f).await?;
    let next = if rows.len() as u32 == f.limit {
        rows.last()
            .map(|r| r.cursor())
            .transpose()?
            .map(|c| cursor_encode(&c))
    } else {
        None
    };
    Ok(ok(json!({"certificates": rows, "next": next}), vec![]))
}

/// GET one serial (all records with that serial, across issuers).
pub async fn get_one(
    State(st): State<Shared>,
    serial: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(serial) =
        serial.map_err(|e| ApiError::bad_request(format!("invalid serial in path: {e}")))?;
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request("serial must be a decimal number"));
    }
    let rows = st.db()?.get_by_serial(&serial).await?;
    if rows.is_empty() {
        return Err(crate::error::Error::CertStore(11200, "no certificate found".into()).into());
    }
    Ok(ok(json!({"certificates": rows}), vec![]))
}
