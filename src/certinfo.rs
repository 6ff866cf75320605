//! cfssl-certinfo's JSON model for certificates (and kpki's views of CSRs and CRLs), read with
//! x509-parser. Pure: DER in, serialisable structs out; no network (the CLI dials `-domain`).

use crate::csr::{ip_from_bytes, name_attrs};
use crate::der::{NameAttr, oid};
use crate::error::{Error, Result};
use crate::keys::pem_encode;
use ::time::OffsetDateTime;
use serde::Serialize;
use x509_parser::prelude::*;

/// RFC 3339 UTC text with a `Z` suffix and no fraction, as Go prints `time.Time` in JSON.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(::time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// cfssl's `certinfo.Name`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Name {
    /// CN
    #[serde(skip_serializing_if = "String::is_empty")]
    pub common_name: String,
    /// subject serialNumber
    #[serde(skip_serializing_if = "String::is_empty")]
    pub serial_number: String,
    /// C (multiple joined with ",")
    #[serde(skip_serializing_if = "String::is_empty")]
    pub country: String,
    /// O
    #[serde(skip_serializing_if = "String::is_empty")]
    pub organization: String,
    /// OU
    #[serde(skip_serializing_if = "String::is_empty")]
    pub organizational_unit: String,
    /// L
    #[serde(skip_serializing_if = "String::is_empty")]
    pub locality: String,
    /// ST
    #[serde(skip_serializing_if = "String::is_empty")]
    pub province: String,
    /// street
    #[serde(skip_serializing_if = "String::is_empty")]
    pub street_address: String,
    /// postal code
    #[serde(skip_serializing_if = "String::is_empty")]
    pub postal_code: String,
    /// every attribute value in DN order
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

impl Name {
    /// Builds the cfssl view of a list of attributes.
    pub fn from_attrs(attrs: &[NameAttr]) -> Name {
        let join = |o: &[u64]| {
            attrs
                .iter()
                .filter(|a| a.oid == o)
                .map(|a| a.value.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        Name {
            common_name: attrs
                .iter()
                .find(|a| a.oid == oid::CN)
                .map(|a| a.value.clone())
                .unwrap_or_default(),
            serial_number: join(oid::SERIAL_NUMBER),
            country: join(oid::C),
            organization: join(oid::O),
            organizational_unit: join(oid::OU),
            locality: join(oid::L),
            province: join(oid::ST),
            street_address: join(oid::STREET),
            postal_code: join(oid::POSTAL_CODE),
            names: attrs.iter().map(|a| a.value.clone()).collect(),
        }
    }
}

/// cfssl's `certinfo.Certificate`, fields in cfssl's order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Certificate {
    /// subject
    pub subject: Name,
    /// issuer
    pub issuer: Name,
    /// decimal serial
    pub serial_number: String,
    /// DNS names then IP addresses
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// RFC 3339
    pub not_before: String,
    /// RFC 3339
    pub not_after: String,
    /// Go signature algorithm name
    pub sigalg: String,
    /// "AA:BB:…" (zero-padded upper-case hex) or ""
    pub authority_key_id: String,
    /// "AA:BB:…" or ""
    pub subject_key_id: String,
    /// the certificate re-encoded as PEM
    pub pem: String,
}

/// Go's name for a signature algorithm OID (as `x509.SignatureAlgorithm.String()`).
pub fn sigalg_name(o: &str) -> &'static str {
    match o {
        "1.2.840.113549.1.1.2" => "MD2WithRSA",
        "1.2.840.113549.1.1.4" => "MD5WithRSA",
        "1.2.840.113549.1.1.5" => "SHA1WithRSA",
        "1.2.840.113549.1.1.11" => "SHA256WithRSA",
        "1.2.840.113549.1.1.12" => "SHA384WithRSA",
        "1.2.840.113549.1.1.13" => "SHA512WithRSA",
        "1.2.840.113549.1.1.10" => "SHA256WithRSAPSS",
        "1.2.840.10040.4.3" => "DSAWithSHA1",
        "2.16.840.1.101.3.4.3.2" => "DSAWithSHA256",
        "1.2.840.10045.4.1" => "ECDSAWithSHA1",
        "1.2.840.10045.4.3.2" => "ECDSAWithSHA256",
        "1.2.840.10045.4.3.3" => "ECDSAWithSHA384",
        "1.2.840.10045.4.3.4" => "ECDSAWithSHA512",
        "1.3.101.112" => "Ed25519",
        _ => "Unknown Signature",
    }
}

/// Upper-case, colon-separated, zero-padded hex ("0A:FF:…").
pub fn key_id_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_cert(der_bytes: &[u8]) -> Result<X509Certificate<'_>> {
    let (rest, c) = X509Certificate::from_der(der_bytes)
        .map_err(|e| Error::Certificate(1003, format!("Failed to parse certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::Certificate(
            1003,
            "Failed to parse certificate: trailing data".into(),
        ));
    }
    Ok(c)
}

/// certinfo for one DER certificate.
pub fn certificate(der_bytes: &[u8]) -> Result<Certificate> {
    let c = parse_cert(der_bytes)?;
    let mut sans_dns = Vec::new();
    let mut sans_ip = Vec::new();
    let mut aki = String::new();
    let mut ski = String::new();
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                for g in &s.general_names {
                    match g {
                        GeneralName::DNSName(d) => sans_dns.push(d.to_string()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_from_bytes(b) {
                                sans_ip.push(ip.to_string())
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                if let Some(k) = &a.key_identifier {
                    aki = key_id_hex(k.0);
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = key_id_hex(k.0),
            _ => {}
        }
    }
    sans_dns.extend(sans_ip);
    let v = c.validity();
    Ok(Certificate {
        subject: Name::from_attrs(&name_attrs(c.subject())?),
        issuer: Name::from_attrs(&name_attrs(c.issuer())?),
        serial_number: c.serial.to_string(),
        sans: sans_dns,
        not_before: rfc3339(v.not_before.to_datetime()),
        not_after: rfc3339(v.not_after.to_datetime()),
        sigalg: sigalg_name(&c.signature_algorithm.algorithm.to_id_string()).to_string(),
        authority_key_id: aki,
        subject_key_id: ski,
        pem: pem_encode("CERTIFICATE", der_bytes),
    })
}

/// kpki's certinfo view of a CSR.
#[derive(Debug, Clone, Serialize)]
pub struct Csr {
    /// subject
    pub subject: Name,
    /// requested SANs (DNS, email, IP, URI)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// key type ("ecdsa-256", "rsa-2048", "ed25519")
    pub key_algorithm: String,
    /// Go signature algorithm name
    pub sigalg: String,
    /// whether the CSR asks for a CA certificate
    pub is_ca: bool,
    /// the CSR re-encoded as PEM
    pub pem: String,
}

/// certinfo for a DER CSR (signature verified).
pub fn csr(der_bytes: &[u8]) -> Result<Csr> {
    let p = crate::csr::parse_der(der_bytes)?;
    let (_, raw) = X509CertificationRequest::from_der(der_bytes)
        .map_err(|e| Error::Csr(9003, format!("CSR Parsing failed: {e}")))?;
    let mut sans = p.sans.dns.clone();
    sans.extend(p.sans.email.iter().cloned());
    sans.extend(p.sans.ip.iter().map(|i| i.to_string()));
    sans.extend(p.sans.uri.iter().cloned());
    Ok(Csr {
        subject: Name::from_attrs(&p.subject_attrs),
        sans,
        key_algorithm: p.key_algo.name(),
        sigalg: sigalg_name(&raw.signature_algorithm.algorithm.to_id_string()).into(),
        is_ca: matches!(p.basic_constraints, Some((true, _))),
        pem: pem_encode("CERTIFICATE REQUEST", der_bytes),
    })
}

/// One entry of a CRL view.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedCert {
    /// decimal serial
    pub serial_number: String,
    /// RFC 3339
    pub revocation_date: String,
    /// reason code name, when present
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// kpki's certinfo view of a CRL.
#[derive(Debug, Clone, Serialize)]
pub struct Crl {
    /// issuer
    pub issuer: Name,
    /// RFC 3339
    pub this_update: String,
    /// RFC 3339 or ""
    pub next_update: String,
    /// CRL number (decimal) or ""
    pub crl_number: String,
    /// "AA:BB:…" or ""
    pub authority_key_id: String,
    /// Go signature algorithm name
    pub sigalg: String,
    /// revoked entries
    pub revoked_certificates: Vec<RevokedCert>,
}

/// certinfo for a DER CRL.
pub fn crl(der_bytes: &[u8]) -> Result<Crl> {
    let (_, c) = CertificateRevocationList::from_der(der_bytes)
        .map_err(|e| Error::Certificate(1003, format!("Failed to parse CRL: {e}")))?;
    let mut aki = String::new();
    let mut number = String::new();
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                if let Some(k) = &a.key_identifier {
                    aki = key_id_hex(k.0);
                }
            }
            ParsedExtension::CRLNumber(n) => number = n.to_string(),
            _ => {}
        }
    }
    let revoked = c
        .iter_revoked_certificates()
        .map(|r| RevokedCert {
            serial_number: r.user_certificate.to_string(),
            revocation_date: rfc3339(r.revocation_date.to_datetime()),
            reason: r
                .reason_code()
                .map(|(_, rc)| format!("{rc}"))
                .unwrap_or_default(),
        })
        .collect();
    Ok(Crl {
        issuer: Name::from_attrs(&name_attrs(c.issuer())?),
        this_update: rfc3339(c.last_update().to_datetime()),
        next_update: c
            .next_update()
            .map(|t| rfc3339(t.to_datetime()))
            .unwrap_or_default(),
        crl_number: number,
        authority_key_id: aki,
        sigalg: sigalg_name(&c.signature_algorithm.algorithm.to_id_string()).into(),
        revoked_certificates: revoked,
    })
}

/// What a PEM/DER input held, each parsed.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Info {
    /// a certificate
    Certificate(Box<Certificate>),
    /// a CSR
    Csr(Box<Csr>),
    /// a CRL
    Crl(Box<Crl>),
}

/// Detects and parses every object in a PEM text (certificates, CSRs, CRLs), or one DER object.
pub fn detect(input: &[u8]) -> Result<Vec<Info>> {
    let text_like = input.iter().take(64).any(|b| *b == b'-');
    if text_like {
        let blocks = ::pem::parse_many(input)
            .map_err(|e| Error::Certificate(1002, format!("Failed to decode PEM: {e}")))?;
        if blocks.is_empty() {
            return Err(Error::Certificate(
                1002,
                "Failed to decode certificate: no PEM block found".into(),
            ));
        }
        return blocks
            .iter()
            .map(|b| match b.tag() {
                "CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    certificate(b.contents()).map(|c| Info::Certificate(Box::new(c)))
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
                    csr(b.contents()).map(|c| Info::Csr(Box::new(c)))
                }
                "X509 CRL" => crl(b.contents()).map(|c| Info::Crl(Box::new(c))),
                other => Err(Error::Certificate(
                    1003,
                    format!("unsupported PEM block {other:?} (expected a certificate, CSR or CRL)"),
                )),
            })
            .collect();
    }
    if let Ok(c) = certificate(input) {
        return Ok(vec![Info::Certificate(Box::new(c))]);
    }
    if let Ok(c) = csr(input) {
        return Ok(vec![Info::Csr(Box::new(c))]);
    }
    if let Ok(c) = crl(input) {
        return Ok(vec![Info::Crl(Box::new(c))]);
    }
    Err(Error::Certificate(
        1003,
        "input is not a certificate, CSR or CRL (PEM or DER)".into(),
    ))
}

/// Pretty JSON as cfssl-certinfo prints it (2-space indent, Go escaping, trailing newline).
/// One object for one input object, an array for several.
pub fn to_json(infos: &[Info]) -> String {
    let s = if infos.len() == 1 {
        serde_json::to_string_pretty(&infos[0])
    } else {
        serde_json::to_string_pretty(infos)
    }
    .unwrap_or_else(|_| "null".into());
    format!("{}\n", crate::jsonci::go_escape(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_zero_padded() {
        assert_eq!(key_id_hex(&[0xf1, 0x04, 0x63]), "F1:04:63");
        assert_eq!(
            rfc3339(::time::macros::datetime!(2026-11-22 01:16:00 UTC)),
            "2026-11-22T01:16:00Z"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(detect(b"not a cert").is_err());
        assert!(detect(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n").is_err());
    }
}
