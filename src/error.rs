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
        // cfssl compat: Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 in the message
        // (`time: unknown unit "\u003ch"`), so scripts comparing cfssl's stderr see the same text.
        crate::jsonci::to_go_json(
            &serde_json::json!({"code": self.code(), "message": self.message()}),
        )
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

/// Go's text for the Linux error numbers kpki's users meet (Go's own table, syscall's
/// zerrors_linux): the same on every C library. musl's strerror words some differently
/// ("Address in use", "Operation timed out"); glibc's agree with Go's once lowercased.
const GO_ERRNO_TEXT: &[(i32, &str)] = &[
    (1, "operation not permitted"),
    (2, "no such file or directory"),
    (4, "interrupted system call"),
    (5, "input/output error"),
    (6, "no such device or address"),
    (9, "bad file descriptor"),
    (11, "resource temporarily unavailable"),
    (12, "cannot allocate memory"),
    (13, "permission denied"),
    (16, "device or resource busy"),
    (17, "file exists"),
    (18, "invalid cross-device link"),
    (19, "no such device"),
    (20, "not a directory"),
    (21, "is a directory"),
    (22, "invalid argument"),
    (23, "too many open files in system"),
    (24, "too many open files"),
    (26, "text file busy"),
    (27, "file too large"),
    (28, "no space left on device"),
    (30, "read-only file system"),
    (31, "too many links"),
    (32, "broken pipe"),
    (36, "file name too long"),
    (39, "directory not empty"),
    (40, "too many levels of symbolic links"),
    (97, "address family not supported by protocol"),
    (98, "address already in use"),
    (99, "cannot assign requested address"),
    (100, "network is down"),
    (101, "network is unreachable"),
    (103, "software caused connection abort"),
    (104, "connection reset by peer"),
    (110, "connection timed out"),
    (111, "connection refused"),
    (113, "no route to host"),
    (122, "disk quota exceeded"),
];

/// The OS error text without Rust's " (os error N)" suffix, like Go prints it.
pub fn io_message(e: &std::io::Error) -> String {
    if let Some(code) = e.raw_os_error()
        && let Some((_, text)) = GO_ERRNO_TEXT.iter().find(|(n, _)| *n == code)
    {
        return (*text).to_string();
    }
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

    #[test]
    fn new_picks_the_variant_at_every_category_boundary() {
        let m = || "m".to_string();
        let cases = [
            (999, Error::Internal(m())),
            (1000, Error::Certificate(1000, m())),
            (1999, Error::Certificate(1999, m())),
            (2000, Error::PrivateKey(2000, m())),
            (2999, Error::PrivateKey(2999, m())),
            (3000, Error::Internal(m())),
            (4999, Error::Internal(m())),
            (5000, Error::Policy(5000, m())),
            (5999, Error::Policy(5999, m())),
            (6000, Error::Dial(6000, m())),
            (6999, Error::Dial(6999, m())),
            (7000, Error::Api(7000, m())),
            (7999, Error::Api(7999, m())),
            (8000, Error::Revocation(8000, m())),
            (8999, Error::Revocation(8999, m())),
            (9000, Error::Csr(9000, m())),
            (9999, Error::Csr(9999, m())),
            (10000, Error::Internal(m())),
            (10999, Error::Internal(m())),
            (11000, Error::CertStore(11000, m())),
            (11999, Error::CertStore(11999, m())),
            (12000, Error::Internal(m())),
            (0, Error::Internal(m())),
            (399, Error::Internal(m())),
            (400, Error::BadRequest(m())),
            (401, Error::Unauthorized(m())),
            (402, Error::Internal(m())),
            (403, Error::Unauthorized(m())),
            (404, Error::Internal(m())),
        ];
        for (code, want) in cases {
            assert_eq!(Error::new(code, "m"), want, "code {code}");
        }
    }

    #[test]
    fn code_of_every_variant() {
        let s = || "s".to_string();
        assert_eq!(Error::Certificate(1002, s()).code(), 1002);
        assert_eq!(Error::PrivateKey(2400, s()).code(), 2400);
        assert_eq!(Error::Policy(5200, s()).code(), 5200);
        assert_eq!(Error::Dial(6000, s()).code(), 6000);
        assert_eq!(Error::Api(7200, s()).code(), 7200);
        assert_eq!(Error::Revocation(8001, s()).code(), 8001);
        assert_eq!(Error::Csr(9003, s()).code(), 9003);
        assert_eq!(Error::CertStore(11000, s()).code(), 11000);
        assert_eq!(Error::BadRequest(s()).code(), 400);
        assert_eq!(Error::Unauthorized(s()).code(), 7100);
        assert_eq!(Error::Internal(s()).code(), 0);
        assert_eq!(Error::new(403, "x").code(), 7100);
    }

    #[test]
    fn message_and_display_are_the_text_without_code() {
        for e in [
            Error::new(1002, "Failed to decode certificate"),
            Error::BadRequest("Failed to decode certificate".into()),
            Error::Unauthorized("Failed to decode certificate".into()),
            Error::Internal("Failed to decode certificate".into()),
        ] {
            assert_eq!(e.message(), "Failed to decode certificate");
            assert_eq!(e.to_string(), "Failed to decode certificate");
        }
    }

    #[test]
    fn to_json_escapes_like_go() {
        // cfssl 1.2 prints exactly this JSON for a ca-config.json whose default expiry is "1<h".
        assert_eq!(
            Error::new(5200, r#"time: unknown unit "<h" in duration "1<h""#).to_json(),
            r#"{"code":5200,"message":"time: unknown unit \"\u003ch\" in duration \"1\u003ch\""}"#
        );
        assert_eq!(
            Error::new(5200, "a&b>c\u{2028}\u{2029}").to_json(),
            r#"{"code":5200,"message":"a\u0026b\u003ec\u2028\u2029"}"#
        );
    }

    #[test]
    fn to_json_is_compact_and_escapes_quotes() {
        assert_eq!(
            Error::new(5200, r#"bad "x""#).to_json(),
            r#"{"code":5200,"message":"bad \"x\""}"#
        );
        assert_eq!(
            Error::Internal(String::new()).to_json(),
            r#"{"code":0,"message":""}"#
        );
        assert_eq!(
            Error::BadRequest("b".into()).to_json(),
            r#"{"code":400,"message":"b"}"#
        );
    }

    #[test]
    fn policy_and_io_shorthands() {
        assert_eq!(Error::policy("no"), Error::Policy(5300, "no".into()));
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            Error::io("/etc/x.pem", &e),
            Error::Api(7300, "/etc/x.pem: no such file or directory".into())
        );
        assert_eq!(
            Error::io("stdout", &std::io::Error::other("Broken")),
            Error::Api(7300, "stdout: Broken".into())
        );
    }

    #[test]
    fn io_message_lowercases_os_errors_and_keeps_other_text() {
        assert_eq!(
            io_message(&std::io::Error::from_raw_os_error(2)),
            "no such file or directory"
        );
        assert_eq!(
            io_message(&std::io::Error::from_raw_os_error(13)),
            "permission denied"
        );
        assert_eq!(
            io_message(&std::io::Error::other("Custom Text")),
            "Custom Text"
        );
        // Go's wording whichever C library kpki is linked with (musl: "Address in use").
        assert_eq!(
            io_message(&std::io::Error::from_raw_os_error(98)),
            "address already in use"
        );
        assert_eq!(
            io_message(&std::io::Error::from_raw_os_error(110)),
            "connection timed out"
        );
        // Numbers outside the table: the C library's text, lowercased.
        assert_eq!(
            io_message(&std::io::Error::from_raw_os_error(71)),
            std::io::Error::from_raw_os_error(71)
                .to_string()
                .split(" (os error")
                .next()
                .unwrap()
                .to_lowercase()
        );
        assert_eq!(
            io_message(&std::io::Error::from(std::io::ErrorKind::NotFound)),
            "entity not found"
        );
    }

    #[test]
    fn coded_message_from_error_display_and_wire_form() {
        let c = CodedMessage::from(&Error::new(9002, "invalid CSR"));
        assert_eq!(
            c,
            CodedMessage {
                code: 9002,
                message: "invalid CSR".into()
            }
        );
        assert_eq!(c.to_string(), "invalid CSR");
        assert_eq!(format!("[{c}]"), "[invalid CSR]");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"code":9002,"message":"invalid CSR"}"#
        );
        let back: CodedMessage =
            serde_json::from_str(r#"{"code":9002,"message":"invalid CSR"}"#).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            CodedMessage::from(&Error::Unauthorized("u".into())),
            CodedMessage {
                code: 7100,
                message: "u".into()
            }
        );
    }
}
