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
        // cfssl compat: Go's pkix.Name keeps one CommonName and one SerialNumber, each the
        // last of its kind in DN order (FillFromRDNSequence overwrites); the other fields are
        // lists that cfssl joins with ",".
        let last = |o: &[u64]| {
            attrs
                .iter()
                .rfind(|a| a.oid == o)
                .map(|a| a.value.clone())
                .unwrap_or_default()
        };
        Name {
            common_name: last(oid::CN),
            serial_number: last(oid::SERIAL_NUMBER),
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

/// cfssl's name for a signature algorithm OID (`helpers.SignatureString`, e.g. `ECDSAWithSHA256`;
/// not Go's `x509.SignatureAlgorithm.String()`, which says `ECDSA-SHA256`). RSASSA-PSS is named
/// `SHA256WithRSAPSS` whatever its hash (cfssl 1.2 prints "Unknown Signature" for it).
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
    // PEM when a PEM header occurs anywhere (text may precede it). Not "a '-' among the first
    // bytes": DER often has 0x2D there (a serial byte, a hyphenated issuer or subject name).
    let text_like = input.windows(11).any(|w| w == b"-----BEGIN ");
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
    use crate::der::oid;

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

    use crate::csr::CertificateRequest;
    use crate::signer::Ca;

    fn test_ca() -> Ca {
        let req = CertificateRequest::from_json(
            br#"{"CN":"certinfo CA","names":[{"C":"US","O":"kpki-test","OU":"ops"}]}"#,
        )
        .unwrap();
        let ss = crate::issue::init_ca(&req, None).unwrap();
        Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap()
    }

    #[test]
    fn sigalg_names_are_cfssls() {
        for (o, name) in [
            ("1.2.840.113549.1.1.2", "MD2WithRSA"),
            ("1.2.840.113549.1.1.4", "MD5WithRSA"),
            ("1.2.840.113549.1.1.5", "SHA1WithRSA"),
            ("1.2.840.113549.1.1.11", "SHA256WithRSA"),
            ("1.2.840.113549.1.1.12", "SHA384WithRSA"),
            ("1.2.840.113549.1.1.13", "SHA512WithRSA"),
            ("1.2.840.113549.1.1.10", "SHA256WithRSAPSS"),
            ("1.2.840.10040.4.3", "DSAWithSHA1"),
            ("2.16.840.1.101.3.4.3.2", "DSAWithSHA256"),
            ("1.2.840.10045.4.1", "ECDSAWithSHA1"),
            ("1.2.840.10045.4.3.2", "ECDSAWithSHA256"),
            ("1.2.840.10045.4.3.3", "ECDSAWithSHA384"),
            ("1.2.840.10045.4.3.4", "ECDSAWithSHA512"),
            ("1.3.101.112", "Ed25519"),
            ("1.2.840.113549.1.1.1", "Unknown Signature"),
        ] {
            assert_eq!(sigalg_name(o), name, "{o}");
        }
    }

    #[test]
    fn names_join_repeated_attributes_like_cfssl() {
        let attrs: Vec<NameAttr> = [
            (oid::C, "US"),
            (oid::C, "CA"),
            (oid::ST, "WA"),
            (oid::L, "Seattle"),
            (oid::STREET, "1 Main St"),
            (oid::POSTAL_CODE, "98101"),
            (oid::O, "o1"),
            (oid::O, "o2"),
            (oid::OU, "u"),
            (oid::CN, "cn"),
            (oid::SERIAL_NUMBER, "7"),
            (oid::EMAIL, "a@example.com"),
        ]
        .into_iter()
        .map(|(o, v)| NameAttr::new(o, v))
        .collect();
        let n = Name::from_attrs(&attrs);
        assert_eq!(
            n,
            Name {
                common_name: "cn".into(),
                serial_number: "7".into(),
                country: "US,CA".into(),
                organization: "o1,o2".into(),
                organizational_unit: "u".into(),
                locality: "Seattle".into(),
                province: "WA".into(),
                street_address: "1 Main St".into(),
                postal_code: "98101".into(),
                names: [
                    "US",
                    "CA",
                    "WA",
                    "Seattle",
                    "1 Main St",
                    "98101",
                    "o1",
                    "o2",
                    "u",
                    "cn",
                    "7",
                    "a@example.com"
                ]
                .map(String::from)
                .to_vec(),
            }
        );
        // No CN: empty, not some other attribute.
        assert_eq!(Name::from_attrs(&attrs[..9]).common_name, "");
    }

    #[test]
    fn repeated_cn_and_serial_number_keep_the_last_as_go_does() {
        let attrs: Vec<NameAttr> = [
            (oid::CN, "first"),
            (oid::SERIAL_NUMBER, "1"),
            (oid::O, "o1"),
            (oid::CN, "second"),
            (oid::SERIAL_NUMBER, "2"),
            (oid::O, "o2"),
        ]
        .into_iter()
        .map(|(o, v)| NameAttr::new(o, v))
        .collect();
        let n = Name::from_attrs(&attrs);
        assert_eq!(n.common_name, "second");
        assert_eq!(n.serial_number, "2");
        // lists are still joined in DN order, and `names` keeps every value
        assert_eq!(n.organization, "o1,o2");
        assert_eq!(n.names, ["first", "1", "o1", "second", "2", "o2"]);
    }

    #[test]
    fn certificate_fields_match_cfssl_certinfo() {
        use x509_parser::prelude::*;
        let ca = test_ca();
        let signing = crate::profiles::builtin().signing;
        let req = CertificateRequest::from_json(
            br#"{"CN":"leaf","names":[{"O":"A&B"}],
                 "hosts":["10.0.0.1","a.example","2001:db8::1","b.example"]}"#,
        )
        .unwrap();
        let nc = crate::issue::new_cert(&ca, &signing, &req, "www", "").unwrap();
        let der = &nc.issued.cert_der;
        let c = certificate(der).unwrap();

        assert_eq!(c.subject.common_name, "leaf");
        assert_eq!(c.subject.organization, "A&B");
        assert_eq!(c.issuer, certificate(&ca.cert_der).unwrap().subject);
        assert_eq!(c.issuer.common_name, "certinfo CA");
        assert_eq!(c.issuer.country, "US");
        // DNS names first, then IP addresses, as cfssl lists them.
        assert_eq!(
            c.sans,
            ["a.example", "b.example", "10.0.0.1", "2001:db8::1"]
        );
        assert_eq!(c.serial_number, nc.issued.serial);
        assert!(c.serial_number.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(c.not_before, rfc3339(nc.issued.not_before));
        assert_eq!(c.not_after, rfc3339(nc.issued.not_after));
        assert_eq!(c.sigalg, "ECDSAWithSHA256");
        // Key ids: upper-case hex pairs joined by ':' (20 bytes of SHA-1 → 59 characters).
        assert_eq!(c.authority_key_id, key_id_hex(&ca.ski));
        assert_eq!(
            c.authority_key_id.replace(':', ""),
            ca.aki_hex().to_uppercase()
        );
        let (_, x) = X509Certificate::from_der(der).unwrap();
        let ski = crate::keys::key_id(&x.public_key().subject_public_key.data);
        assert_eq!(c.subject_key_id, key_id_hex(&ski));
        assert_eq!(c.subject_key_id.len(), 59);
        assert_ne!(c.subject_key_id, c.authority_key_id);
        assert_eq!(c.pem, nc.issued.cert_pem);

        // Trailing bytes after the certificate are refused.
        let mut long = der.clone();
        long.push(0);
        assert_eq!(certificate(&long).unwrap_err().code(), 1003);
    }

    #[test]
    fn csr_view_lists_every_san_type_and_ca_flag() {
        let req = CertificateRequest::from_json(
            br#"{"CN":"x","hosts":["spiffe://td/w","10.9.8.7","ops@example.com","a.example"],
                 "ca":{"pathlen":1}}"#,
        )
        .unwrap();
        let g = crate::csr::generate(&req).unwrap();
        let v = csr(&g.csr_der).unwrap();
        assert_eq!(v.subject.common_name, "x");
        assert_eq!(
            v.sans,
            ["a.example", "ops@example.com", "10.9.8.7", "spiffe://td/w"]
        );
        assert_eq!(v.key_algorithm, "ecdsa-256");
        assert_eq!(v.sigalg, "ECDSAWithSHA256");
        assert!(v.is_ca);
        assert_eq!(v.pem, g.csr_pem);
        let plain = crate::csr::generate(&CertificateRequest::from_json(br#"{"CN":"y"}"#).unwrap())
            .unwrap();
        let v = csr(&plain.csr_der).unwrap();
        assert!(!v.is_ca);
        assert!(v.sans.is_empty());
    }

    #[test]
    fn crl_view_has_number_aki_and_entries() {
        let ca = test_ca();
        let now = ::time::OffsetDateTime::now_utc();
        let revoked_at = ::time::macros::datetime!(2025-03-04 05:06:07 UTC);
        let der = crate::crl::build(
            &ca,
            &[
                ("1234567890123456789012".into(), revoked_at, 1),
                ("77".into(), revoked_at, 0),
            ],
            now,
            ::time::Duration::hours(24),
            42,
        )
        .unwrap();
        let c = crl(&der).unwrap();
        assert_eq!(c.issuer, certificate(&ca.cert_der).unwrap().subject);
        assert_eq!(c.this_update, rfc3339(now));
        assert_eq!(c.next_update, rfc3339(now + ::time::Duration::hours(24)));
        assert_eq!(c.crl_number, "42");
        assert_eq!(c.authority_key_id, key_id_hex(&ca.ski));
        assert_eq!(c.sigalg, "ECDSAWithSHA256");
        let entries: Vec<_> = c
            .revoked_certificates
            .iter()
            .map(|r| {
                (
                    r.serial_number.as_str(),
                    r.revocation_date.as_str(),
                    r.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                (
                    "1234567890123456789012",
                    "2025-03-04T05:06:07Z",
                    "KeyCompromise"
                ),
                ("77", "2025-03-04T05:06:07Z", ""),
            ]
        );
    }

    #[test]
    fn detect_reads_der_and_pem_of_every_kind() {
        let ca = test_ca();
        let g = crate::csr::generate(&CertificateRequest::from_json(br#"{"CN":"d"}"#).unwrap())
            .unwrap();
        let now = ::time::OffsetDateTime::now_utc();
        let crl_der = crate::crl::build(&ca, &[], now, ::time::Duration::hours(1), 1).unwrap();

        // Bare DER: one object of the right kind.
        assert!(matches!(
            detect(&ca.cert_der).unwrap()[..],
            [Info::Certificate(_)]
        ));
        assert!(matches!(detect(&g.csr_der).unwrap()[..], [Info::Csr(_)]));
        assert!(matches!(detect(&crl_der).unwrap()[..], [Info::Crl(_)]));

        // DER with '-' bytes near the start (a hyphenated name here; a random serial byte 0x2D
        // does the same) is still DER, not PEM text.
        let hyphen =
            CertificateRequest::from_json(br#"{"CN":"my-host","names":[{"O":"a-b"}]}"#).unwrap();
        let cert_der = crate::issue::self_sign(&hyphen, None).unwrap().cert_der;
        let csr_der = crate::csr::generate(&hyphen).unwrap().csr_der;
        for der in [&cert_der, &csr_der, &crl_der] {
            assert!(der[..64].contains(&b'-'), "test premise");
        }
        assert!(matches!(
            detect(&cert_der).unwrap()[..],
            [Info::Certificate(_)]
        ));
        assert!(matches!(detect(&csr_der).unwrap()[..], [Info::Csr(_)]));

        // PEM: every block, in order.
        let pem = format!(
            "{}{}{}",
            ca.cert_pem(),
            g.csr_pem,
            pem_encode("X509 CRL", &crl_der)
        );
        let infos = detect(pem.as_bytes()).unwrap();
        assert!(matches!(
            infos[..],
            [Info::Certificate(_), Info::Csr(_), Info::Crl(_)]
        ));

        // One object prints as an object, several as an array; 2-space indent, newline-terminated.
        let one = to_json(&infos[..1]);
        assert!(one.starts_with("{\n  \"subject\": {"), "{one}");
        assert!(one.ends_with("}\n"));
        let all = to_json(&infos);
        assert!(all.starts_with("[\n  {\n"), "{all}");
        assert!(all.ends_with("]\n"));
        let v: serde_json::Value = serde_json::from_str(&all).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
    }

    #[test]
    fn to_json_escapes_like_go() {
        let g =
            crate::csr::generate(&CertificateRequest::from_json(br#"{"CN":"a&b<c>"}"#).unwrap())
                .unwrap();
        let out = to_json(&detect(g.csr_pem.as_bytes()).unwrap());
        assert!(
            out.contains(r#""common_name": "a\u0026b\u003cc\u003e""#),
            "{out}"
        );
    }

    /// `leaf.pem` from openssl (P-256 leaf signed ECDSA-SHA384 by a P-256 CA): repeated C and OU,
    /// two CNs, street, postalCode, serialNumber, an O needing Go's HTML escaping, and SANs of all
    /// four types (certinfo lists only DNS names, then IPs).
    const OPENSSL_LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----\n\
MIICizCCAjKgAwIBAgIIESIQ9H3pgRUwCgYIKoZIzj0EAwMwNjELMAkGA1UEBhMC\n\
VVMxEjAQBgNVBAoMCWtwa2ktdGVzdDETMBEGA1UEAwwKZml4dHVyZSBDQTAeFw0y\n\
NjExMjIyMDQyMDVaFw0yNjExMjMyMDQyMDVaMIG0MQswCQYDVQQGEwJVUzELMAkG\n\
A1UEBhMCQ0ExCzAJBgNVBAgMAldBMRAwDgYDVQQHDAdTZWF0dGxlMRIwEAYDVQQJ\n\
DAkxIE1haW4gU3QxDjAMBgNVBBEMBTk4MTAxMRAwDgYDVQQKDAdBJkIgPHg+MQsw\n\
CQYDVQQLDAJ1MTELMAkGA1UECwwCdTIxDjAMBgNVBAMMBWZpcnN0MQ0wCwYDVQQD\n\
DARsZWFmMQowCAYDVQQFEwE3MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6syo\n\
QU/f/dWmUhp9AiL+G/+9KwL/yyg3WAINwAzediiQ5sSveS6oZ+yaapXxm9eDHK7T\n\
BXIskT/2oAeoE/xjVKOBqjCBpzBXBgNVHREEUDBOgglhLmV4YW1wbGWHBAoAAAGB\n\
D29wc0BleGFtcGxlLmNvbYYNc3BpZmZlOi8vdGQvd4IJYi5leGFtcGxlhxAgAQ24\n\
AAAAAAAAAAAAAAABMB0GA1UdDgQWBBTQNpcb6EzSfZ/B7glAJ+gqJSfWEzAfBgNV\n\
HSMEGDAWgBThebnH6cX6wPwUWXtqcTdjcJnSgTAMBgNVHRMBAf8EAjAAMAoGCCqG\n\
SM49BAMDA0cAMEQCIAYPVGbh4Gd3wdT5xghpLOXY8jPHT21IkEwoKZNaLz7UAiBB\n\
UuZHKxNh0pP1pfvM7q2iIjuaZ06zbdYIT7PcsF103A==\n\
-----END CERTIFICATE-----\n\
";

    /// `cfssl certinfo -cert leaf.pem` (cfssl 1.2.0) verbatim, except that cfssl 1.2 prints the key
    /// id byte 0x09 as "9"; kpki zero-pads every byte ("09") as later cfssl releases do.
    const CFSSL_LEAF_JSON: &str = r#"{
  "subject": {
    "common_name": "leaf",
    "serial_number": "7",
    "country": "US,CA",
    "organization": "A\u0026B \u003cx\u003e",
    "organizational_unit": "u1,u2",
    "locality": "Seattle",
    "province": "WA",
    "street_address": "1 Main St",
    "postal_code": "98101",
    "names": [
      "US",
      "CA",
      "WA",
      "Seattle",
      "1 Main St",
      "98101",
      "A\u0026B \u003cx\u003e",
      "u1",
      "u2",
      "first",
      "leaf",
      "7"
    ]
  },
  "issuer": {
    "common_name": "fixture CA",
    "country": "US",
    "organization": "kpki-test",
    "names": [
      "US",
      "kpki-test",
      "fixture CA"
    ]
  },
  "serial_number": "1234567890123456789",
  "sans": [
    "a.example",
    "b.example",
    "10.0.0.1",
    "2001:db8::1"
  ],
  "not_before": "2026-11-22T20:42:05Z",
  "not_after": "2026-11-23T20:42:05Z",
  "sigalg": "ECDSAWithSHA384",
  "authority_key_id": "E1:79:B9:C7:E9:C5:FA:C0:FC:14:59:7B:6A:71:37:63:70:99:D2:81",
  "subject_key_id": "D0:36:97:1B:E8:4C:D2:7D:9F:C1:EE:09:40:27:E8:2A:25:27:D6:13",
  "pem": "-----BEGIN CERTIFICATE-----\nMIICizCCAjKgAwIBAgIIESIQ9H3pgRUwCgYIKoZIzj0EAwMwNjELMAkGA1UEBhMC\nVVMxEjAQBgNVBAoMCWtwa2ktdGVzdDETMBEGA1UEAwwKZml4dHVyZSBDQTAeFw0y\nNjExMjIyMDQyMDVaFw0yNjExMjMyMDQyMDVaMIG0MQswCQYDVQQGEwJVUzELMAkG\nA1UEBhMCQ0ExCzAJBgNVBAgMAldBMRAwDgYDVQQHDAdTZWF0dGxlMRIwEAYDVQQJ\nDAkxIE1haW4gU3QxDjAMBgNVBBEMBTk4MTAxMRAwDgYDVQQKDAdBJkIgPHg+MQsw\nCQYDVQQLDAJ1MTELMAkGA1UECwwCdTIxDjAMBgNVBAMMBWZpcnN0MQ0wCwYDVQQD\nDARsZWFmMQowCAYDVQQFEwE3MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6syo\nQU/f/dWmUhp9AiL+G/+9KwL/yyg3WAINwAzediiQ5sSveS6oZ+yaapXxm9eDHK7T\nBXIskT/2oAeoE/xjVKOBqjCBpzBXBgNVHREEUDBOgglhLmV4YW1wbGWHBAoAAAGB\nD29wc0BleGFtcGxlLmNvbYYNc3BpZmZlOi8vdGQvd4IJYi5leGFtcGxlhxAgAQ24\nAAAAAAAAAAAAAAABMB0GA1UdDgQWBBTQNpcb6EzSfZ/B7glAJ+gqJSfWEzAfBgNV\nHSMEGDAWgBThebnH6cX6wPwUWXtqcTdjcJnSgTAMBgNVHRMBAf8EAjAAMAoGCCqG\nSM49BAMDA0cAMEQCIAYPVGbh4Gd3wdT5xghpLOXY8jPHT21IkEwoKZNaLz7UAiBB\nUuZHKxNh0pP1pfvM7q2iIjuaZ06zbdYIT7PcsF103A==\n-----END CERTIFICATE-----\n"
}
"#;

    #[test]
    fn certinfo_json_matches_cfssl_for_an_openssl_certificate() {
        let infos = detect(OPENSSL_LEAF_PEM.as_bytes()).unwrap();
        assert_eq!(to_json(&infos), CFSSL_LEAF_JSON);
        // The same certificate as bare DER, or labelled TRUSTED CERTIFICATE, prints the same.
        let der = ::pem::parse(OPENSSL_LEAF_PEM).unwrap().into_contents();
        assert_eq!(to_json(&detect(&der).unwrap()), CFSSL_LEAF_JSON);
        let trusted = pem_encode("TRUSTED CERTIFICATE", &der);
        assert_eq!(
            to_json(&detect(trusted.as_bytes()).unwrap()),
            CFSSL_LEAF_JSON
        );
        // Text before the PEM block is skipped, as cfssl does.
        let noisy = format!("Certificate:\n  leaf\n{OPENSSL_LEAF_PEM}");
        assert_eq!(to_json(&detect(noisy.as_bytes()).unwrap()), CFSSL_LEAF_JSON);
    }

    #[test]
    fn detect_errors_name_the_problem() {
        let msg = |input: &[u8]| {
            let e = detect(input).unwrap_err();
            (e.code(), e.message())
        };
        assert_eq!(
            msg(b"not a cert"),
            (
                1003,
                "input is not a certificate, CSR or CRL (PEM or DER)".into()
            )
        );
        assert_eq!(
            msg(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"),
            (
                1003,
                r#"unsupported PEM block "FOO" (expected a certificate, CSR or CRL)"#.into()
            )
        );
        let (code, m) = msg(pem_encode("CERTIFICATE", &[0x30, 0x00]).as_bytes());
        assert_eq!(code, 1003);
        assert!(m.starts_with("Failed to parse certificate: "), "{m}");
        let (code, m) = msg(pem_encode("X509 CRL", &[0x30, 0x00]).as_bytes());
        assert_eq!(code, 1003);
        assert!(m.starts_with("Failed to parse CRL: "), "{m}");
        assert_eq!(
            msg(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
            (
                1002,
                "Failed to decode certificate: no PEM block found".into()
            )
        );
    }

    #[test]
    fn rfc3339_is_utc_with_four_digit_years_like_go() {
        use ::time::macros::datetime;
        assert_eq!(
            rfc3339(datetime!(2026-11-22 03:16:09 +02:00)),
            "2026-11-22T01:16:09Z"
        );
        assert_eq!(
            rfc3339(datetime!(2025-12-31 23:30:00 -01:00)),
            "2026-01-01T00:30:00Z"
        );
        assert_eq!(
            rfc3339(datetime!(0999-01-02 03:04:05.999 UTC)),
            "0999-01-02T03:04:05Z"
        );
    }
}
