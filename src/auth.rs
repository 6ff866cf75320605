//! cfssl's authenticated requests ("standard" provider): `token = HMAC-SHA256(key, request)`,
//! sent as `{"token","request","timestamp","remote_address"}` with base64 byte fields. kpki adds
//! a ±5 minute timestamp window and a replay id; comparisons are constant-time. Pure.

use crate::error::{Error, Result};
use aws_lc_rs::hmac;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

/// The wire form of an authenticated request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthenticatedRequest {
    /// base64 HMAC
    #[serde(default)]
    pub token: String,
    /// base64 of the inner request bytes
    #[serde(default)]
    pub request: String,
    /// Unix seconds when the client made the request
    #[serde(default)]
    pub timestamp: i64,
    /// base64 of the client's address (ignored, as cfssl)
    #[serde(default)]
    pub remote_address: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The HMAC-SHA256 token over `msg`.
pub fn token(key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

/// Constant-time check of `tok` against HMAC-SHA256(key, msg).
pub fn verify_token(key: &[u8], msg: &[u8], tok: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), msg, tok).is_ok()
}

impl AuthenticatedRequest {
    /// Parses the outer JSON (400 with the parser's message on failure).
    pub fn parse(body: &[u8]) -> Result<Self> {
        serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("Unable to parse authenticated request: {e}")))
    }

    /// Wraps `inner` for `key` at time `now` (what a cfssl client sends).
    pub fn wrap(key: &[u8], inner: &[u8], now: i64) -> Self {
        AuthenticatedRequest {
            token: b64().encode(token(key, inner)),
            request: b64().encode(inner),
            timestamp: now,
            remote_address: String::new(),
        }
    }

    /// Decoded inner request bytes.
    pub fn inner(&self) -> Result<Vec<u8>> {
        b64()
            .decode(self.request.as_bytes())
            .map_err(|_| Error::BadRequest("Unable to parse authenticated sign request".into()))
    }

    /// Verifies the token against any of `keys` and the timestamp against `now`; returns the
    /// inner bytes. Errors never say which part failed beyond "invalid token" / "stale".
    pub fn verify(&self, keys: &[&[u8]], now: i64) -> Result<Vec<u8>> {
        let inner = self.inner()?;
        let tok = b64()
            .decode(self.token.as_bytes())
            .map_err(|_| Error::Unauthorized("invalid token".into()))?;
        if !keys.iter().any(|k| verify_token(k, &inner, &tok)) {
            return Err(Error::Unauthorized("invalid token".into()));
        }
        if now.abs_diff(self.timestamp) > MAX_SKEW_SECS as u64 {
            return Err(Error::Unauthorized(format!(
                "stale request: timestamp {} is more than {MAX_SKEW_SECS}s from the server's clock",
                self.timestamp
            )));
        }
        Ok(inner)
    }

    /// A stable id for replay detection (hex SHA-256 of the token bytes).
    pub fn replay_id(&self) -> String {
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            self.token.as_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = hex::decode("0123456789abcdef0123456789abcdef").unwrap();
        let now = 1_700_000_000;
        let r = AuthenticatedRequest::wrap(&key, br#"{"certificate_request":"x"}"#, now);
        assert_eq!(
            r.verify(&[&key], now + 10).unwrap(),
            br#"{"certificate_request":"x"}"#
        );
        assert_eq!(r.verify(&[b"other", &key], now).unwrap().len(), 27);
        assert_eq!(
            r.verify(&[b"other"], now).unwrap_err().message(),
            "invalid token"
        );
        assert!(
            r.verify(&[&key], now + 301)
                .unwrap_err()
                .message()
                .starts_with("stale")
        );
        let mut t = r.clone();
        t.request = b64().encode(br#"{"certificate_request":"y"}"#);
        assert!(t.verify(&[&key], now).is_err());
        assert_eq!(r.replay_id(), r.clone().replay_id());
    }

    #[test]
    fn clock_window_is_inclusive_at_max_skew() {
        let key = b"k";
        let now = 1_700_000_000;
        for skew in [-MAX_SKEW_SECS, 0, MAX_SKEW_SECS] {
            let r = AuthenticatedRequest::wrap(key, b"{}", now + skew);
            assert!(r.verify(&[key], now).is_ok(), "skew {skew}");
        }
        for skew in [-MAX_SKEW_SECS - 1, MAX_SKEW_SECS + 1] {
            let r = AuthenticatedRequest::wrap(key, b"{}", now + skew);
            assert!(r.verify(&[key], now).is_err(), "skew {skew}");
        }
    }

    #[test]
    fn replay_id_follows_the_token_not_the_timestamp() {
        let key = b"k";
        let a = AuthenticatedRequest::wrap(key, br#"{"a":1}"#, 1_700_000_000);
        let b = AuthenticatedRequest::wrap(key, br#"{"a":2}"#, 1_700_000_000);
        assert_ne!(a.replay_id(), b.replay_id(), "different requests");
        let mut rewritten = a.clone();
        rewritten.timestamp += 60;
        assert_eq!(a.replay_id(), rewritten.replay_id(), "timestamp rewrite");
        let id = a.replay_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    /// The wire form a cfssl client sends: base64 byte fields, Unix-seconds timestamp.
    #[test]
    fn parses_the_cfssl_wire_form_and_refuses_bad_fields() {
        let key = b"0123456789abcdef";
        let body = serde_json::to_vec(&AuthenticatedRequest::wrap(
            key,
            b"{\"a\":1}",
            1_700_000_000,
        ))
        .unwrap();
        let r = AuthenticatedRequest::parse(&body).unwrap();
        assert_eq!(r.request, "eyJhIjoxfQ==");
        assert_eq!(r.timestamp, 1_700_000_000);
        assert_eq!(r.inner().unwrap(), b"{\"a\":1}");
        assert_eq!(r.verify(&[key], 1_700_000_000).unwrap(), b"{\"a\":1}");
        assert_eq!(b64().decode(&r.token).unwrap(), token(key, b"{\"a\":1}"));
        // Missing fields default (cfssl's Go struct), so only the token check refuses this.
        let empty = AuthenticatedRequest::parse(b"{}").unwrap();
        assert_eq!(
            empty.verify(&[key], 0).unwrap_err().to_json(),
            r#"{"code":7100,"message":"invalid token"}"#
        );
        let e = AuthenticatedRequest::parse(b"[1]").unwrap_err();
        assert_eq!(e.code(), 400);
        assert!(
            e.message()
                .starts_with("Unable to parse authenticated request: "),
            "{}",
            e.message()
        );
        let mut bad = r.clone();
        bad.request = "not base64!".into();
        assert_eq!(
            bad.verify(&[key], 1_700_000_000).unwrap_err().to_json(),
            r#"{"code":400,"message":"Unable to parse authenticated sign request"}"#
        );
        let mut bad = r.clone();
        bad.token = "not base64!".into();
        assert_eq!(
            bad.verify(&[key], 1_700_000_000).unwrap_err().message(),
            "invalid token"
        );
        assert_eq!(
            r.verify(&[key], 1_700_000_301).unwrap_err().message(),
            "stale request: timestamp 1700000000 is more than 300s from the server's clock"
        );
        // The replay id is the SHA-256 of the token text.
        let mut fixed = r.clone();
        fixed.token = "abc".into();
        assert_eq!(
            fixed.replay_id(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(verify_token(key, b"{\"a\":1}", &token(key, b"{\"a\":1}")));
        assert!(!verify_token(key, b"{\"a\":2}", &token(key, b"{\"a\":1}")));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2
        let t = token(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(t),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
