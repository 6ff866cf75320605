//! Request bodies: read with a 1 MiB limit (413 in the envelope), no Content-Type required
//! (cfssl clients and `curl -d` omit or misstate it), JSON decoded with Go's case-insensitive keys.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const LIMIT: usize = 1 << 20;

/// How long a client may take to send its body.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// More than [`LIMIT`] bytes, or a broken body.
    TooLarge,
    /// Not complete within [`BODY_DEADLINE`].
    TooSlow,
}

/// Reads the whole body within [`LIMIT`] bytes and [`BODY_DEADLINE`]; every endpoint reads its
/// body through this (a client that never finishes its body must not hold a task forever).
pub async fn read_bytes(body: Body) -> Result<Bytes, Unread> {
    match tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, LIMIT)).await {
        Ok(r) => r.map_err(|_| Unread::TooLarge),
        Err(_) => Err(Unread::TooSlow),
    }
}

/// [`read_bytes`] for the cfssl endpoints: 413 or 408 in cfssl's envelope.
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    read_bytes(body).await.map_err(|e| match e {
        Unread::TooLarge => ApiError::too_large(LIMIT),
        Unread::TooSlow => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            408,
            "the request body was not received in time",
        ),
    })
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

/// A request body whose bytes never come (a client that stalls mid-body).
#[cfg(test)]
pub(crate) struct Stalled;

#[cfg(test)]
impl hyper::body::Body for Stalled {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_given_up_at_the_deadline() {
        let start = tokio::time::Instant::now();
        assert_eq!(read_bytes(Body::new(Stalled)).await, Err(Unread::TooSlow));
        assert_eq!(start.elapsed(), BODY_DEADLINE);
        let e = read(Body::new(Stalled)).await.unwrap_err();
        assert_eq!((e.status.as_u16(), e.error.code), (408, 408));
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_read_and_larger_ones_refused() {
        let full = vec![b'x'; LIMIT];
        assert_eq!(
            read_bytes(Body::from(full.clone())).await.unwrap().len(),
            LIMIT
        );
        let over = vec![b'x'; LIMIT + 1];
        assert_eq!(
            read_bytes(Body::from(over.clone())).await,
            Err(Unread::TooLarge)
        );
        let e = read(Body::from(over)).await.unwrap_err();
        assert_eq!(e.status.as_u16(), 413);
    }
}
