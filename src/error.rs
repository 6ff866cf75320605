//! The one error type of kpki: cfssl's numeric code (category × 1000 + reason) and message.
//! It knows nothing of HTTP statuses or exit codes; `api/error.rs` and `main.rs` map it.

use std::fmt;

/// A kpki error. Every variant carries the cfssl code it is reported with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 1xxx: reading, decoding or parsing certificates; issuance failures of the certificate itself.
    #[error("{1}")]
    Certificate(u32, String),
    /// 2xxx: private keys (parse, generate, match).
    #[error("{1}")]
    PrivateKey(u32, String),
    /// 5xxx: configuration and policy (profiles, whitelist, CA constraints).
    #[error("{1}")]
    Policy(u32, String),
    /// 6xxx: cannot reach a remote server.
    #[error("{1}")]
    Dial(u32, String),
    /// 7xxx: API client errors (7100 auth, 7200 JSON, 7300 IO, 7400 HTTP, 7500 server).
    #[error("{1}")]
    Api(u32, String),
    /// 8xxx: revocation / OCSP.
    #[error("{1}")]
    Revocation(u32, String),
    /// 9xxx: certificate signing requests.
    #[error("{1}")]
    Csr(u32, String),
    /// 11xxx: the certificate database.
    #[error("{1}")]
    CertStore(u32, String),
    /// A malformed request that is not a cfssl-coded error (cfssl answers code 400).
    #[error("{0}")]
    BadRequest(String),
    /// Authentication is required or failed (cfssl answers code 400 / 403 for these).
    #[error("{0}")]
    Unauthorized(String),
    /// Something that should not happen; the message is safe to show.
    #[error("{0}")]
    Internal(String),
}

/// Result alias used throughout kpki.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error from a cfssl code, choosing the variant from the code's category.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        let m = message.into();
        match code {
            1000..=1999 => Error::Certificate(code, m),
            2000..=2999 => Error::PrivateKey(code, m),
            5000..=5999 => Error::Policy(code, m),
            6000..=6999 => Error::Dial(code, m),
            7000..=7999 => Error::Api(code, m),
            8000..=8999 => Error::Revocation(code, m),
            9000..=9999 => Error::Csr(code, m),
            11000..=11999 => Error::CertStore(code, m),
            400 => Error::BadRequest(m),
            401 | 403 => Error::Unauthorized(m),
            _ => Error::Internal(m),
        }
    }

    /// cfssl's numeric code for this error.
    pub fn code(&self) -> u32 {
        match self {
            Error::Certificate(c, _)
            | Error::PrivateKey(c, _)
            | Error::Policy(c, _)
            | Error::Dial(c, _)
            | Error::Api(c, _)
            | Error::Revocation(c, _)
            | Error::Csr(c, _)
            | Error::CertStore(c, _) => *c,
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 7100,
            Error::Internal(_) => 0,
        }
    }

    /// The human-readable message (no code).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// cfssl's wire form: `{"code":N,"message":"…"}` (compact, as cfssl prints on stderr).
    pub fn to_json(&self) -> String {
        serde_json::json!({"code": self.code(), "message": self.message()}).to_string()
    }

    /// Shorthand for a policy error with code 5300 (policy violation / missing data).
    pub fn policy(message: impl Into<String>) -> Self {
        Error::Policy(5300, message.into())
    }

    /// Shorthand for an I/O failure on a named file (cfssl 7300-style: the OS message).
    pub fn io(path: &str, e: &std::io::Error) -> Self {
        Error::Api(7300, format!("{path}: {}", io_message(e)))
    }
}

/// The OS error text without Rust's " (os error N)" suffix, like Go prints it.
pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// A code + message pair, used where a list of errors or warnings is carried (API envelope).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodedMessage {
    /// cfssl code
    pub code: u32,
    /// message text
    pub message: String,
}

impl From<&Error> for CodedMessage {
    fn from(e: &Error) -> Self {
        CodedMessage {
            code: e.code(),
            message: e.message(),
        }
    }
}

impl fmt::Display for CodedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pick_their_category_and_print_as_cfssl_json() {
        let e = Error::new(2400, "RSA key is too weak");
        assert!(matches!(e, Error::PrivateKey(2400, _)));
        assert_eq!(
            e.to_json(),
            r#"{"code":2400,"message":"RSA key is too weak"}"#
        );
        assert_eq!(Error::new(9002, "x").code(), 9002);
        assert_eq!(Error::new(11200, "x").code(), 11200);
        assert_eq!(Error::BadRequest("x".into()).code(), 400);
        assert_eq!(Error::new(42, "x").code(), 0);
    }

    #[test]
    fn io_message_drops_os_error_suffix() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!io_message(&e).contains("os error"));
    }
}
