//! Request bodies: read with a 1 MiB limit (413 in the envelope), no Content-Type required
//! (cfssl clients and `curl -d` omit or misstate it), JSON decoded with Go's case-insensitive keys.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const LIMIT: usize = 1 << 20;

/// How long a client may take to send its body.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads the whole body, refusing more than [`LIMIT`] bytes or a body slower than
/// [`BODY_DEADLINE`] (408).
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, LIMIT)).await {
        Ok(r) => r.map_err(|_| ApiError::too_large(LIMIT)),
        Err(_) => Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            408,
            "the request body was not received in time",
        )),
    }
}

/// Decodes JSON into `T`; failures are 400 "Unable to parse {what}: …".
pub fn json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!(
            "Unable to parse {what}: empty body"
        )));
    }
    crate::jsonci::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Unable to parse {what}: {e}")))
}
