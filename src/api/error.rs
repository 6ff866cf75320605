//! The only place HTTP status codes live: maps kpki errors to statuses and cfssl's envelope
//! `{"success","result","errors","messages"}` (always `application/json`), plus 404/405/413.

use crate::error::{CodedMessage, Error};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The cfssl code of a failed response, left in the response extensions for metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub u32);

/// An API failure: status + one coded message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status
    pub status: StatusCode,
    /// cfssl code and message
    pub error: CodedMessage,
}

/// HTTP status for a kpki error. cfssl answers 400 for every coded error; kpki keeps that and
/// uses 401 for authentication failures, 404 for unknown records, 500 when the database fails
/// (the caller gets no certificate) and 502 when a remote cannot be reached.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::CertStore(11200, _) => StatusCode::NOT_FOUND,
        Error::CertStore(_, _) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Dial(_, _) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        if matches!(e, Error::Internal(_) | Error::CertStore(11000, _)) {
            tracing::error!(code = e.code(), error = %e.message(), "internal error");
        }
        ApiError {
            status: status_of(&e),
            error: CodedMessage::from(&e),
        }
    }
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: CodedMessage {
                code,
                message: message.into(),
            },
        }
    }

    /// 400 with cfssl's plain bad-request code 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400, message)
    }

    /// 403 (mTLS CN refused, or an endpoint needing authentication).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 403, message)
    }

    /// 413 for bodies over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            format!("request body is larger than {limit} bytes"),
        )
    }
}

/// The envelope, fields in cfssl's order.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    success: bool,
    result: &'a Value,
    errors: &'a [CodedMessage],
    messages: &'a [CodedMessage],
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let mut text = crate::jsonci::to_go_json(body);
    text.push('\n');
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors = [self.error.clone()];
        let body = Envelope {
            success: false,
            result: &Value::Null,
            errors: &errors,
            messages: &[],
        };
        let mut r = json_response(self.status, &body);
        r.extensions_mut().insert(ErrorCode(self.error.code));
        r
    }
}

/// A success envelope with `result` and optional warning messages.
pub fn ok(result: Value, messages: Vec<CodedMessage>) -> Response {
    json_response(
        StatusCode::OK,
        &Envelope {
            success: true,
            result: &result,
            errors: &[],
            messages: &messages,
        },
    )
}

/// A handler panicked (a bug): answer 500 in the envelope rather than dropping the connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "internal error").into_response()
}

/// Fallback for unknown paths: 404 in the envelope.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 404, "404 page not found")
}

/// Fallback for a known path with the wrong method: 405 in the envelope (cfssl's text).
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        405,
        format!("Method is not allowed:\"{method}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status_of(&Error::new(9002, "x")), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&Error::new(11200, "x")), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(&Error::new(11100, "x")),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_of(&Error::Unauthorized("x".into())),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status_of(&Error::new(6000, "x")), StatusCode::BAD_GATEWAY);
        assert_eq!(
            status_of(&Error::Internal("x".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[tokio::test]
    async fn panic_response_is_a_500_envelope() {
        let r = panic_response(Box::new("boom"));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(r.extensions().get::<ErrorCode>().map(|c| c.0), Some(0));
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            &body[..],
            b"{\"success\":false,\"result\":null,\"errors\":[{\"code\":0,\"message\":\"internal error\"}],\"messages\":[]}\n"
        );
    }
}
