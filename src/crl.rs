//! Builds CRLs from revocation facts: entries from (serial, time, reason) and cfssl's reason
//! vocabulary. Pure: the caller fetches revoked records and persists CRL numbers.

use crate::der::RevokedEntry;
use crate::error::{Error, Result};
use crate::signer::{Ca, serial_from_decimal};
use time::{Duration, OffsetDateTime};

/// Parses a revocation reason: a case-insensitive RFC 5280 name, or a number 0–10 except 7.
/// cfssl refuses `0` (its own flag default) and `10`; kpki accepts both (cfssl issue #1045).
pub fn parse_reason(s: &str) -> Result<u8> {
    let s = s.trim();
    let by_name = match s.to_ascii_lowercase().as_str() {
        "" | "unspecified" => Some(0),
        "keycompromise" => Some(1),
        "cacompromise" => Some(2),
        "affiliationchanged" => Some(3),
        "superseded" => Some(4),
        "cessationofoperation" => Some(5),
        "certificatehold" => Some(6),
        "removefromcrl" => Some(8),
        "privilegewithdrawn" => Some(9),
        "aacompromise" => Some(10),
        _ => None,
    };
    if let Some(r) = by_name {
        return Ok(r);
    }
    match s.parse::<u8>() {
        Ok(n) if n <= 10 && n != 7 => Ok(n),
        _ => Err(Error::Revocation(
            8200,
            format!("Invalid revocation status: invalid reason code {s:?}"),
        )),
    }
}

/// Signs a CRL over `(decimal serial, revoked_at, reason)` entries, valid for `validity`.
pub fn build(
    ca: &Ca,
    entries: &[(String, OffsetDateTime, u8)],
    now: OffsetDateTime,
    validity: Duration,
    number: u64,
) -> Result<Vec<u8>> {
    let revoked = entries
        .iter()
        .map(|(s, t, r)| {
            Ok(RevokedEntry {
                serial: serial_from_decimal(s)?,
                revoked_at: *t,
                reason: *r,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = now
        .checked_add(validity)
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| Error::BadRequest("CRL validity is too long".into()))?;
    ca.sign_crl(&revoked, now, next, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh root CA to sign CRLs with.
    fn crl_ca() -> Ca {
        let req = crate::csr::CertificateRequest::from_json(br#"{"CN":"crl ca"}"#).unwrap();
        let ss = crate::issue::init_ca(&req, None).unwrap();
        Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap()
    }

    #[test]
    fn reasons() {
        assert_eq!(parse_reason("keyCompromise").unwrap(), 1);
        assert_eq!(parse_reason("0").unwrap(), 0);
        assert_eq!(parse_reason("superseded").unwrap(), 4);
        assert_eq!(parse_reason("10").unwrap(), 10);
        assert_eq!(parse_reason("7").unwrap_err().code(), 8200);
        assert_eq!(parse_reason("bogus").unwrap_err().code(), 8200);
    }

    #[test]
    fn every_rfc5280_reason_name_and_number() {
        let names = [
            ("", 0),
            ("  ", 0),
            ("Unspecified", 0),
            ("KEYCOMPROMISE", 1),
            ("caCompromise", 2),
            ("affiliationChanged", 3),
            ("superseded", 4),
            ("cessationOfOperation", 5),
            ("certificateHold", 6),
            ("removeFromCRL", 8),
            ("privilegeWithdrawn", 9),
            ("aACompromise", 10),
        ];
        for (name, code) in names {
            assert_eq!(parse_reason(name).unwrap(), code, "{name:?}");
        }
        for n in (0u8..=10).filter(|&n| n != 7) {
            assert_eq!(parse_reason(&format!(" {n} ")).unwrap(), n);
        }
        for bad in ["7", "11", "-1", "256", "key compromise", "1.0"] {
            assert_eq!(parse_reason(bad).unwrap_err().code(), 8200, "{bad:?}");
        }
    }

    #[test]
    fn crl_validity_and_serials_are_checked() {
        use x509_parser::prelude::FromDer;
        let ca = crl_ca();
        let now = OffsetDateTime::now_utc();
        let der = build(&ca, &[], now, Duration::hours(24), 1).unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        assert_eq!(
            crl.next_update().unwrap().timestamp(),
            (now + Duration::hours(24)).unix_timestamp()
        );
        assert!(crl.iter_revoked_certificates().next().is_none());
        // nextUpdate must stay a GeneralizedTime (year 9999 at most).
        let end = time::macros::datetime!(9999-12-31 23:59:59 UTC);
        build(&ca, &[], now, end - now, 1).unwrap();
        assert_eq!(
            build(&ca, &[], now, end - now + Duration::seconds(1), 1)
                .unwrap_err()
                .to_json(),
            r#"{"code":400,"message":"CRL validity is too long"}"#
        );
        assert_eq!(
            build(&ca, &[("12a".into(), now, 1)], now, Duration::hours(1), 1)
                .unwrap_err()
                .message(),
            r#"invalid serial number "12a" (decimal expected)"#
        );
    }

    #[test]
    fn crl_parses_with_entries_and_number() {
        let ca = crl_ca();
        let now = OffsetDateTime::now_utc();
        let der = build(
            &ca,
            &[("12345".into(), now, 1), ("999".into(), now, 0)],
            now,
            Duration::hours(168),
            7,
        )
        .unwrap();
        let info = crate::certinfo::crl(&der).unwrap();
        assert_eq!(info.crl_number, "7");
        assert_eq!(info.revoked_certificates.len(), 2);
        assert_eq!(info.revoked_certificates[0].serial_number, "12345");
        assert_eq!(
            info.authority_key_id.replace(':', "").to_lowercase(),
            ca.aki_hex()
        );
    }
}
