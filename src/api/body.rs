//! Request bodies: read with a 1 MiB limit (413 in the envelope), no Content-Type required
//! (cfssl clients and `curl -d` omit or misstate it), JSON decoded with Go's case-insensitive keys.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const LIMIT: usize = 1 << 20;

/// Reads the whole body, refusing more than [`LIMIT`] bytes.
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, LIMIT)
        .await
        .map_err(|_| ApiError::too_large(LIMIT))
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
