//! DER encoding of the X.509 structures kpki issues: names, extensions, TBSCertificate,
//! CertificationRequestInfo and TBSCertList, plus the signed wrappers. Pure: no keys, no I/O,
//! no policy. Written on yasna because rcgen's `DistinguishedName` cannot carry repeated or
//! verbatim-copied RDNs and fixes an extension order unlike Go's (see rust-deps.md §3c/§3d).

use crate::error::{Error, Result};
use std::net::IpAddr;
use time::OffsetDateTime;
use yasna::models::ObjectIdentifier;
use yasna::tags::{TAG_GENERALIZEDTIME, TAG_IA5STRING, TAG_PRINTABLESTRING, TAG_UTCTIME};
use yasna::{DERWriter, Tag};

/// Well-known object identifiers.
pub mod oid {
    /// commonName
    pub const CN: &[u64] = &[2, 5, 4, 3];
    /// serialNumber (subject attribute)
    pub const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
    /// countryName
    pub const C: &[u64] = &[2, 5, 4, 6];
    /// localityName
    pub const L: &[u64] = &[2, 5, 4, 7];
    /// stateOrProvinceName
    pub const ST: &[u64] = &[2, 5, 4, 8];
    /// streetAddress
    pub const STREET: &[u64] = &[2, 5, 4, 9];
    /// organizationName
    pub const O: &[u64] = &[2, 5, 4, 10];
    /// organizationalUnitName
    pub const OU: &[u64] = &[2, 5, 4, 11];
    /// postalCode
    pub const POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
    /// emailAddress (PKCS#9)
    pub const EMAIL: &[u64] = &[1, 2, 840, 113549, 1, 9, 1];
    /// PKCS#9 extensionRequest
    pub const EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];
    /// subjectKeyIdentifier
    pub const SKI: &[u64] = &[2, 5, 29, 14];
    /// keyUsage
    pub const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
    /// subjectAltName
    pub const SAN: &[u64] = &[2, 5, 29, 17];
    /// basicConstraints
    pub const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
    /// cRLNumber
    pub const CRL_NUMBER: &[u64] = &[2, 5, 29, 20];
    /// cRLReason (entry extension)
    pub const CRL_REASON: &[u64] = &[2, 5, 29, 21];
    /// nameConstraints
    pub const NAME_CONSTRAINTS: &[u64] = &[2, 5, 29, 30];
    /// cRLDistributionPoints
    pub const CRL_DP: &[u64] = &[2, 5, 29, 31];
    /// certificatePolicies
    pub const CERT_POLICIES: &[u64] = &[2, 5, 29, 32];
    /// authorityKeyIdentifier
    pub const AKI: &[u64] = &[2, 5, 29, 35];
    /// extKeyUsage
    pub const EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
    /// authorityInfoAccess
    pub const AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
    /// id-ad-ocsp
    pub const AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
    /// id-ad-caIssuers
    pub const AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
    /// id-pkix-ocsp-nocheck
    pub const OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];
    /// id-qt-cps
    pub const QT_CPS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 1];
    /// id-qt-unotice
    pub const QT_UNOTICE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 2];
    /// ecdsa-with-SHA256
    pub const ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
    /// ecdsa-with-SHA384
    pub const ECDSA_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
    /// ecdsa-with-SHA512
    pub const ECDSA_SHA512: &[u64] = &[1, 2, 840, 10045, 4, 3, 4];
    /// sha256WithRSAEncryption
    pub const RSA_SHA256: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
    /// sha384WithRSAEncryption
    pub const RSA_SHA384: &[u64] = &[1, 2, 840, 113549, 1, 1, 12];
    /// sha512WithRSAEncryption
    pub const RSA_SHA512: &[u64] = &[1, 2, 840, 113549, 1, 1, 13];
    /// Ed25519
    pub const ED25519: &[u64] = &[1, 3, 101, 112];
}

/// One attribute of a distinguished name, in the order it is written (one RDN each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAttr {
    /// attribute type
    pub oid: Vec<u64>,
    /// attribute value (text)
    pub value: String,
}

impl NameAttr {
    /// Builds an attribute from a well-known OID.
    pub fn new(oid: &[u64], value: impl Into<String>) -> Self {
        NameAttr {
            oid: oid.to_vec(),
            value: value.into(),
        }
    }
}

/// Go's PrintableString test for marshalling (`*` allowed, `&` not).
fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':'
            )
            || matches!(b, b'=' | b'?' | b'*')
    })
}

fn write_printable(w: DERWriter, s: &str) {
    w.write_tagged_implicit(TAG_PRINTABLESTRING, |w| w.write_bytes(s.as_bytes()))
}

fn write_ia5(w: DERWriter, s: &str) {
    // Callers validate ASCII first; this never sees other input.
    w.write_tagged_implicit(TAG_IA5STRING, |w| w.write_bytes(s.as_bytes()))
}

/// X.520 / RFC 5280 Appendix A upper bounds (in characters) of the attributes kpki writes.
fn upper_bound(o: &[u64]) -> Option<(&'static str, usize)> {
    Some(match o {
        x if x == oid::CN => ("common name", 64),
        x if x == oid::O => ("organization", 64),
        x if x == oid::OU => ("organizational unit", 64),
        x if x == oid::L => ("locality", 128),
        x if x == oid::ST => ("state or province", 128),
        x if x == oid::STREET => ("street address", 128),
        x if x == oid::POSTAL_CODE => ("postal code", 40),
        x if x == oid::SERIAL_NUMBER => ("subject serialNumber", 64),
        x if x == oid::EMAIL => ("email address", 255),
        _ => return None,
    })
}

/// Encodes a Name with one RDN per attribute, in the given order.
pub fn encode_name(attrs: &[NameAttr]) -> Result<Vec<u8>> {
    for a in attrs {
        if a.oid == oid::EMAIL && !a.value.is_ascii() {
            return Err(Error::Csr(
                9400,
                format!("email address {:?} is not ASCII", a.value),
            ));
        }
        if a.oid == oid::C && (a.value.len() != 2 || !is_printable(&a.value)) {
            return Err(Error::Csr(
                9400,
                format!("country {:?} must be a two-letter code", a.value),
            ));
        }
        if a.oid.len() < 2 || a.oid[0] > 2 || (a.oid[0] < 2 && a.oid[1] > 39) {
            return Err(Error::Csr(9400, "invalid attribute OID".into()));
        }
        if let Some((name, max)) = upper_bound(&a.oid)
            && a.value.chars().count() > max
        {
            return Err(Error::Csr(
                9400,
                format!(
                    "{name} {:?} is longer than {max} characters (X.520 upper bound)",
                    a.value
                ),
            ));
        }
        if a.oid == oid::SERIAL_NUMBER && !is_printable(&a.value) {
            return Err(Error::Csr(
                9400,
                format!(
                    "subject serialNumber {:?} must use only PrintableString characters",
                    a.value
                ),
            ));
        }
    }
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for a in attrs {
                w.next().write_set(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(&a.oid));
                        if a.oid == oid::EMAIL {
                            write_ia5(w.next(), &a.value)
                        } else if is_printable(&a.value) {
                            write_printable(w.next(), &a.value)
                        } else {
                            w.next().write_utf8_string(&a.value)
                        }
                    })
                })
            }
        })
    }))
}

/// An X.509 extension ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// extension OID
    pub oid: Vec<u64>,
    /// critical flag
    pub critical: bool,
    /// DER of the extnValue contents
    pub value: Vec<u8>,
}

impl Extension {
    fn new(oid: &[u64], critical: bool, value: Vec<u8>) -> Self {
        Extension {
            oid: oid.to_vec(),
            critical,
            value,
        }
    }
}

fn write_extensions(w: DERWriter, exts: &[Extension]) {
    w.write_sequence(|w| {
        for e in exts {
            w.next().write_sequence(|w| {
                w.next().write_oid(&ObjectIdentifier::from_slice(&e.oid));
                if e.critical {
                    w.next().write_bool(true);
                }
                w.next().write_bytes(&e.value);
            })
        }
    })
}

/// keyUsage bits (RFC 5280 §4.2.1.3), bit 0 = digitalSignature … bit 8 = decipherOnly.
pub fn key_usage(bits: u16) -> Extension {
    let len = 16 - bits.leading_zeros() as usize; // highest set bit + 1; trailing zeros dropped
    let mut bytes = [0u8; 2];
    for i in 0..9 {
        if bits & (1 << i) != 0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let nbytes = len.div_ceil(8);
    let v = yasna::construct_der(|w| w.write_bitvec_bytes(&bytes[..nbytes], len));
    Extension::new(oid::KEY_USAGE, true, v)
}

/// extKeyUsage (non-critical, as Go writes it).
pub fn ext_key_usage(oids: &[&[u64]]) -> Extension {
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for o in oids {
                w.next().write_oid(&ObjectIdentifier::from_slice(o));
            }
        })
    });
    Extension::new(oid::EXT_KEY_USAGE, false, v)
}

/// basicConstraints, always critical (Go / cfssl). `path_len` only meaningful for CAs.
pub fn basic_constraints(is_ca: bool, path_len: Option<u32>) -> Extension {
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            if is_ca {
                w.next().write_bool(true);
                if let Some(n) = path_len {
                    w.next().write_u32(n);
                }
            }
        })
    });
    Extension::new(oid::BASIC_CONSTRAINTS, true, v)
}

/// subjectKeyIdentifier.
pub fn subject_key_id(id: &[u8]) -> Extension {
    Extension::new(oid::SKI, false, yasna::construct_der(|w| w.write_bytes(id)))
}

/// authorityKeyIdentifier with the keyIdentifier field only.
pub fn authority_key_id(id: &[u8]) -> Extension {
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged_implicit(Tag::context(0), |w| w.write_bytes(id))
        })
    });
    Extension::new(oid::AKI, false, v)
}

/// Subject alternative names, already classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sans {
    /// dNSName entries
    pub dns: Vec<String>,
    /// rfc822Name entries
    pub email: Vec<String>,
    /// iPAddress entries
    pub ip: Vec<IpAddr>,
    /// uniformResourceIdentifier entries
    pub uri: Vec<String>,
}

impl Sans {
    /// True when there are no names at all.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.email.is_empty() && self.ip.is_empty() && self.uri.is_empty()
    }
}

/// subjectAltName in Go's order: DNS, email, IP, URI. Non-ASCII names are refused (use punycode).
pub fn subject_alt_name(s: &Sans, critical: bool) -> Result<Extension> {
    for n in s.dns.iter().chain(&s.email).chain(&s.uri) {
        if !n.is_ascii() {
            return Err(Error::Policy(
                5300,
                format!("host {n:?} is not ASCII; use its punycode (xn--) form"),
            ));
        }
    }
    for d in &s.dns {
        if !is_dns_name(d) {
            return Err(Error::Policy(
                5300,
                format!(
                    "host {d:?} is not a valid DNS name (letters, digits and '-' in dot-separated labels of 1-63 characters; '*' only as the whole first label)"
                ),
            ));
        }
    }
    for e in &s.email {
        match e.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && is_dns_name(domain) && !domain.starts_with('*') => {}
            _ => {
                return Err(Error::Policy(
                    5300,
                    format!("email address {e:?} is not valid"),
                ));
            }
        }
    }
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for d in &s.dns {
                w.next()
                    .write_tagged_implicit(Tag::context(2), |w| w.write_bytes(d.as_bytes()));
            }
            for e in &s.email {
                w.next()
                    .write_tagged_implicit(Tag::context(1), |w| w.write_bytes(e.as_bytes()));
            }
            for ip in &s.ip {
                let b = match ip {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                w.next()
                    .write_tagged_implicit(Tag::context(7), |w| w.write_bytes(&b));
            }
            for u in &s.uri {
                w.next()
                    .write_tagged_implicit(Tag::context(6), |w| w.write_bytes(u.as_bytes()));
            }
        })
    });
    Ok(Extension::new(oid::SAN, critical, v))
}

/// RFC 1034 preferred name syntax (as RFC 5280 §4.2.1.6 requires for dNSName), with a leading
/// `*` label allowed for wildcards. No trailing dot, at most 253 characters.
pub fn is_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    labels.iter().enumerate().all(|(i, l)| {
        if i == 0 && *l == "*" {
            return labels.len() > 1;
        }
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn check_ascii_urls(urls: &[&str]) -> Result<()> {
    for u in urls {
        if !u.is_ascii() || u.is_empty() {
            return Err(Error::Policy(5200, format!("invalid URL {u:?}")));
        }
    }
    Ok(())
}

/// authorityInfoAccess with OCSP and caIssuers URLs (OCSP first, as Go writes them).
pub fn authority_info_access(ocsp: &[&str], issuers: &[&str]) -> Result<Extension> {
    check_ascii_urls(ocsp)?;
    check_ascii_urls(issuers)?;
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (method, urls) in [(oid::AD_OCSP, ocsp), (oid::AD_CA_ISSUERS, issuers)] {
                for u in urls {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(method));
                        w.next().write_tagged_implicit(Tag::context(6), |w| {
                            w.write_bytes(u.as_bytes())
                        });
                    })
                }
            }
        })
    });
    Ok(Extension::new(oid::AIA, false, v))
}

/// cRLDistributionPoints with one full-name URI.
pub fn crl_distribution_point(url: &str) -> Result<Extension> {
    check_ascii_urls(&[url])?;
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_tagged(Tag::context(0), |w| {
                    w.write_tagged_implicit(Tag::context(0), |w| {
                        w.write_sequence(|w| {
                            w.next().write_tagged_implicit(Tag::context(6), |w| {
                                w.write_bytes(url.as_bytes())
                            })
                        })
                    })
                })
            })
        })
    });
    Ok(Extension::new(oid::CRL_DP, false, v))
}

/// A certificate policy: OID plus optional CPS URIs and user-notice texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// policy OID
    pub oid: Vec<u64>,
    /// id-qt-cps qualifiers
    pub cps: Vec<String>,
    /// id-qt-unotice explicitText qualifiers
    pub notices: Vec<String>,
}

/// certificatePolicies.
pub fn certificate_policies(policies: &[Policy]) -> Result<Extension> {
    for p in policies {
        check_ascii_urls(&p.cps.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    let v = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for p in policies {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(&p.oid));
                    if !p.cps.is_empty() || !p.notices.is_empty() {
                        w.next().write_sequence(|w| {
                            for c in &p.cps {
                                w.next().write_sequence(|w| {
                                    w.next()
                                        .write_oid(&ObjectIdentifier::from_slice(oid::QT_CPS));
                                    write_ia5(w.next(), c);
                                })
                            }
                            for n in &p.notices {
                                w.next().write_sequence(|w| {
                                    w.next()
                                        .write_oid(&ObjectIdentifier::from_slice(oid::QT_UNOTICE));
                                    w.next().write_sequence(|w| w.next().write_utf8_string(n));
                                })
                            }
                        })
                    }
                })
            }
        })
    });
    Ok(Extension::new(oid::CERT_POLICIES, false, v))
}

/// id-pkix-ocsp-nocheck (value NULL).
pub fn ocsp_nocheck() -> Extension {
    Extension::new(
        oid::OCSP_NOCHECK,
        false,
        yasna::construct_der(|w| w.write_null()),
    )
}

/// Writes an X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
fn write_time(w: DERWriter, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (y, mo, d) = (t.year(), t.month() as u8, t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    if (1950..2050).contains(&y) {
        let txt = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        w.write_tagged_implicit(TAG_UTCTIME, |w| w.write_bytes(txt.as_bytes()))
    } else {
        let txt = format!("{:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y.clamp(0, 9999));
        w.write_tagged_implicit(TAG_GENERALIZEDTIME, |w| w.write_bytes(txt.as_bytes()))
    }
}

/// A signature AlgorithmIdentifier as DER (RSA carries a NULL parameter, ECDSA/Ed25519 none).
pub fn algorithm_identifier(sig_oid: &[u64]) -> Vec<u8> {
    let is_rsa = sig_oid.starts_with(&[1, 2, 840, 113549, 1, 1]);
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&ObjectIdentifier::from_slice(sig_oid));
            if is_rsa {
                w.next().write_null();
            }
        })
    })
}

/// Everything a TBSCertificate holds, already decided by policy.
#[derive(Debug, Clone)]
pub struct TbsCertificate<'a> {
    /// serial number, big-endian positive
    pub serial: &'a [u8],
    /// signature AlgorithmIdentifier DER
    pub sig_alg: &'a [u8],
    /// issuer Name DER
    pub issuer: &'a [u8],
    /// notBefore
    pub not_before: OffsetDateTime,
    /// notAfter
    pub not_after: OffsetDateTime,
    /// subject Name DER
    pub subject: &'a [u8],
    /// SubjectPublicKeyInfo DER
    pub spki: &'a [u8],
    /// extensions in output order
    pub extensions: &'a [Extension],
}

/// Encodes a v3 TBSCertificate.
pub fn tbs_certificate(t: &TbsCertificate<'_>) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged(Tag::context(0), |w| w.write_u8(2));
            w.next().write_bigint_bytes(t.serial, true);
            w.next().write_der(t.sig_alg);
            w.next().write_der(t.issuer);
            w.next().write_sequence(|w| {
                write_time(w.next(), t.not_before);
                write_time(w.next(), t.not_after);
            });
            w.next().write_der(t.subject);
            w.next().write_der(t.spki);
            if !t.extensions.is_empty() {
                w.next()
                    .write_tagged(Tag::context(3), |w| write_extensions(w, t.extensions));
            }
        })
    })
}

/// Wraps a to-be-signed structure with its algorithm and signature (Certificate, CSR and CRL
/// all share this shape).
pub fn signed(tbs: &[u8], sig_alg: &[u8], signature: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(tbs);
            w.next().write_der(sig_alg);
            w.next().write_bitvec_bytes(signature, signature.len() * 8);
        })
    })
}

/// Encodes a PKCS#10 CertificationRequestInfo with an extensionRequest when `exts` is non-empty.
pub fn csr_info(subject: &[u8], spki: &[u8], exts: &[Extension]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_der(subject);
            w.next().write_der(spki);
            w.next().write_tagged_implicit(Tag::context(0), |w| {
                w.write_set(|w| {
                    if !exts.is_empty() {
                        w.next().write_sequence(|w| {
                            w.next()
                                .write_oid(&ObjectIdentifier::from_slice(oid::EXTENSION_REQUEST));
                            w.next().write_set(|w| write_extensions(w.next(), exts));
                        })
                    }
                })
            });
        })
    })
}

/// One revoked certificate in a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// serial number, big-endian positive
    pub serial: Vec<u8>,
    /// revocation date
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 CRLReason; 0 (unspecified) is not written, as §5.3.1 recommends
    pub reason: u8,
}

/// Encodes a v2 TBSCertList with the AKI and CRL number extensions.
pub fn tbs_crl(
    sig_alg: &[u8],
    issuer: &[u8],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: &[RevokedEntry],
    aki: &[u8],
    crl_number: u64,
) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_der(sig_alg);
            w.next().write_der(issuer);
            write_time(w.next(), this_update);
            write_time(w.next(), next_update);
            if !revoked.is_empty() {
                w.next().write_sequence(|w| {
                    for r in revoked {
                        w.next().write_sequence(|w| {
                            w.next().write_bigint_bytes(&r.serial, true);
                            write_time(w.next(), r.revoked_at);
                            if r.reason != 0 {
                                let v = yasna::construct_der(|w| w.write_enum(r.reason as i64));
                                let e = Extension::new(oid::CRL_REASON, false, v);
                                write_extensions(w.next(), &[e]);
                            }
                        })
                    }
                })
            }
            let num = Extension::new(
                oid::CRL_NUMBER,
                false,
                yasna::construct_der(|w| w.write_u64(crl_number)),
            );
            let exts = [authority_key_id(aki), num];
            w.next()
                .write_tagged(Tag::context(0), |w| write_extensions(w, &exts));
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits_are_minimal() {
        // digitalSignature + keyEncipherment = bits 0 and 2 → 03 02 05 a0
        assert_eq!(key_usage(0b101).value, vec![3, 2, 5, 0xa0]);
        // keyCertSign + cRLSign = bits 5, 6 → 03 02 01 06
        assert_eq!(key_usage((1 << 5) | (1 << 6)).value, vec![3, 2, 1, 0x06]);
        // decipherOnly (bit 8) needs two bytes
        assert_eq!(key_usage(1 << 8).value, vec![3, 3, 7, 0, 0x80]);
    }

    #[test]
    fn names_use_printable_or_utf8() {
        let n =
            encode_name(&[NameAttr::new(oid::CN, "*.a"), NameAttr::new(oid::O, "a&b")]).unwrap();
        assert!(n.windows(5).any(|w| w == [0x13, 3, b'*', b'.', b'a']));
        assert!(n.windows(5).any(|w| w == [0x0c, 3, b'a', b'&', b'b']));
        assert!(encode_name(&[NameAttr::new(oid::C, "USA")]).is_err());
        assert!(encode_name(&[NameAttr::new(oid::EMAIL, "ü@x")]).is_err());
    }

    #[test]
    fn dns_names_and_bounds() {
        for ok in [
            "a.example.com",
            "*.example.com",
            "node1",
            "xn--bcher-kva.example",
            "a-b.c",
        ] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in [
            "a..b", "*.*.a", "-a.b", "a-.b", "a.b.", "bad host", "user@", "*", "a_b.c", "",
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        assert!(encode_name(&[NameAttr::new(oid::CN, "x".repeat(64))]).is_ok());
        assert_eq!(
            encode_name(&[NameAttr::new(oid::CN, "x".repeat(65))])
                .unwrap_err()
                .code(),
            9400
        );
        assert!(encode_name(&[NameAttr::new(oid::SERIAL_NUMBER, "é-1")]).is_err());
    }

    #[test]
    fn ca_false_is_an_empty_sequence() {
        assert_eq!(basic_constraints(false, None).value, vec![0x30, 0]);
        assert_eq!(
            basic_constraints(true, Some(0)).value,
            vec![0x30, 6, 1, 1, 0xff, 2, 1, 0]
        );
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        let t = time::macros::datetime!(2049-12-31 23:59:59 UTC);
        let d = yasna::construct_der(|w| write_time(w, t));
        assert_eq!(d[0], 23);
        let t = time::macros::datetime!(2050-01-01 00:00:00 UTC);
        let d = yasna::construct_der(|w| write_time(w, t));
        assert_eq!(d[0], 24);
    }

    #[test]
    fn every_bounded_attribute_has_its_x520_upper_bound() {
        for (o, max, name) in [
            (oid::CN, 64, "common name"),
            (oid::O, 64, "organization"),
            (oid::OU, 64, "organizational unit"),
            (oid::L, 128, "locality"),
            (oid::ST, 128, "state or province"),
            (oid::STREET, 128, "street address"),
            (oid::POSTAL_CODE, 40, "postal code"),
            (oid::SERIAL_NUMBER, 64, "subject serialNumber"),
            (oid::EMAIL, 255, "email address"),
        ] {
            encode_name(&[NameAttr::new(o, "x".repeat(max))]).unwrap();
            let e = encode_name(&[NameAttr::new(o, "x".repeat(max + 1))]).unwrap_err();
            assert!(e.message().starts_with(name), "{o:?}: {}", e.message());
            assert!(e.message().contains(&format!("longer than {max}")));
        }
        // Attributes without an X.520 bound (title, 2.5.4.12) are not limited.
        encode_name(&[NameAttr::new(&[2, 5, 4, 12], "x".repeat(1000))]).unwrap();
    }

    #[test]
    fn email_attributes_are_ascii_ia5strings() {
        let n = encode_name(&[NameAttr::new(oid::EMAIL, "a@b")]).unwrap();
        assert!(
            n.windows(5).any(|w| w == [0x16, 3, b'a', b'@', b'b']),
            "{n:02x?}"
        );
        // Non-ASCII is refused for email only; other attributes become UTF8String.
        let n = encode_name(&[NameAttr::new(oid::CN, "é")]).unwrap();
        assert!(n.ends_with(&[0x0c, 2, 0xc3, 0xa9]), "{n:02x?}");
    }

    #[test]
    fn attribute_oids_must_be_encodable() {
        // X.660: at least two arcs, first arc 0..=2, second arc 0..=39 under arcs 0 and 1.
        for ok in [
            &[2u64, 40][..],
            &[2, 999, 1],
            &[1, 39],
            &[0, 39],
            &[0, 9, 2342],
        ] {
            assert!(encode_name(&[NameAttr::new(ok, "x")]).is_ok(), "{ok:?}");
        }
        for bad in [&[2u64][..], &[3, 1], &[1, 40], &[0, 40]] {
            assert!(encode_name(&[NameAttr::new(bad, "x")]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn san_emails_need_a_local_part_and_a_plain_domain() {
        let sans = |e: &str| Sans {
            email: vec![e.into()],
            ..Default::default()
        };
        let ext = subject_alt_name(&sans("a@example.com"), false).unwrap();
        assert_eq!(ext.value[2], 0x81, "rfc822Name is [1]");
        for bad in ["@example.com", "a@bad host", "a@*.example.com", "nodomain"] {
            assert!(subject_alt_name(&sans(bad), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names_may_be_253_characters() {
        let l63 = "a".repeat(63);
        let n253 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        assert_eq!(n253.len(), 253);
        assert!(is_dns_name(&n253));
        let n254 = format!("{n253}c");
        assert!(!is_dns_name(&n254));
    }

    #[test]
    fn urls_must_be_non_empty_ascii() {
        assert!(crl_distribution_point("http://crl.example/ca.crl").is_ok());
        assert!(crl_distribution_point("").is_err());
        assert!(crl_distribution_point("http://crl.exämple/ca.crl").is_err());
        assert!(authority_info_access(&["http://ocsp.example"], &[""]).is_err());
    }

    fn any_policy(cps: &[&str], notices: &[&str]) -> Policy {
        Policy {
            oid: vec![2, 5, 29, 32, 0],
            cps: cps.iter().map(|s| s.to_string()).collect(),
            notices: notices.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn policy_qualifiers_are_written_only_when_present() {
        let der = |p| hex::encode(certificate_policies(&[p]).unwrap().value);
        // SEQUENCE { PolicyInformation { anyPolicy } }: no empty qualifier SEQUENCE.
        assert_eq!(der(any_policy(&[], &[])), "300830060604551d2000");
        // id-qt-cps with IA5String "x"
        assert_eq!(
            der(any_policy(&["x"], &[])),
            "301930170604551d2000300f300d06082b06010505070201160178"
        );
        // id-qt-unotice with UserNotice { explicitText UTF8String "y" }
        assert_eq!(
            der(any_policy(&[], &["y"])),
            "301b30190604551d20003011300f06082b0601050507020230030c0179"
        );
    }
}
