//! Certificate requests: cfssl's CSR JSON (CN, names, hosts, key, ca), host classification into
//! SANs, PKCS#10 generation, and parsing + signature verification of PEM/DER CSRs.
//! Pure: no files, no network; knows nothing of profiles or signing policy.

use crate::der::{self, NameAttr, Sans, oid};
use crate::error::{Error, Result};
use crate::jsonci;
use crate::keys::{KeyAlgo, PrivateKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509CertificationRequest};

/// One entry of cfssl's `names` list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Name {
    /// country
    #[serde(default)]
    pub c: String,
    /// state or province
    #[serde(default)]
    pub st: String,
    /// locality
    #[serde(default)]
    pub l: String,
    /// organization
    #[serde(default)]
    pub o: String,
    /// organizational unit
    #[serde(default)]
    pub ou: String,
    /// email address (PKCS#9 emailAddress attribute)
    #[serde(default)]
    pub e: String,
    /// extra attributes by dotted OID
    #[serde(default)]
    pub oid: BTreeMap<String, String>,
}

/// `"key": {"algo": "ecdsa", "size": 256}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct KeyRequest {
    /// "ecdsa", "rsa" or "ed25519"
    #[serde(default)]
    pub algo: String,
    /// bits (curve size for ECDSA)
    #[serde(default)]
    pub size: u32,
}

/// `"ca": {"pathlen": 1, "pathlenzero": false, "expiry": "87600h", "backdate": "5m"}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CaConfig {
    /// maximum path length
    #[serde(default)]
    pub pathlen: u32,
    /// a pathlen of 0 is meant literally
    #[serde(default)]
    pub pathlenzero: bool,
    /// CA lifetime (Go duration)
    #[serde(default)]
    pub expiry: String,
    /// notBefore backdate (Go duration)
    #[serde(default)]
    pub backdate: String,
}

/// cfssl's CSR JSON ("csr.json"). Keys match case-insensitively, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CertificateRequest {
    /// common name
    #[serde(default)]
    pub cn: String,
    /// subject names
    #[serde(default, deserialize_with = "jsonci::de_vec")]
    pub names: Vec<Name>,
    /// hosts → SANs (None when absent or null)
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// key request
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    pub key: Option<KeyRequest>,
    /// CA section (only with -initca)
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    pub ca: Option<CaConfig>,
    /// subject serialNumber attribute
    #[serde(default)]
    pub serialnumber: String,
    /// CRL distribution point for an -initca certificate
    #[serde(default)]
    pub crl_url: String,
}

impl CertificateRequest {
    /// Parses CSR JSON; malformed JSON or wrong types give a 7200 error naming the problem.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        jsonci::from_slice(bytes)
            .map_err(|e| Error::Api(7200, format!("failed to parse CSR JSON: {e}")))
    }

    /// The key algorithm requested (default ECDSA P-256; a missing size means the algorithm's
    /// default, where cfssl would keep 256 and refuse `{"algo":"rsa"}` as too weak).
    pub fn key_algo(&self) -> Result<KeyAlgo> {
        match &self.key {
            None => Ok(KeyAlgo::EcdsaP256),
            Some(k) => KeyAlgo::from_request(&k.algo, k.size),
        }
    }

    /// Subject attributes in Go's order (C, ST, L, O, OU, CN, serialNumber, E, extra OIDs); each
    /// value becomes its own RDN, so two OUs stay two OUs.
    pub fn subject_attrs(&self) -> Result<Vec<NameAttr>> {
        let mut out = Vec::new();
        let fields: [(&[u64], NameField); 5] = [
            (oid::C, |n| &n.c),
            (oid::ST, |n| &n.st),
            (oid::L, |n| &n.l),
            (oid::O, |n| &n.o),
            (oid::OU, |n| &n.ou),
        ];
        for (o, get) in fields {
            for n in &self.names {
                let v = get(n);
                if !v.is_empty() {
                    out.push(NameAttr::new(o, v));
                }
            }
        }
        if !self.cn.is_empty() {
            out.push(NameAttr::new(oid::CN, &self.cn));
        }
        if !self.serialnumber.is_empty() {
            out.push(NameAttr::new(oid::SERIAL_NUMBER, &self.serialnumber));
        }
        for n in &self.names {
            if !n.e.is_empty() {
                out.push(NameAttr::new(oid::EMAIL, &n.e));
            }
        }
        for n in &self.names {
            for (k, v) in &n.oid {
                out.push(NameAttr {
                    oid: parse_oid(k)?,
                    value: v.clone(),
                });
            }
        }
        Ok(out)
    }

    /// True when the request names a subject (what -initca requires).
    pub fn has_subject(&self) -> bool {
        !self.cn.trim().is_empty()
            || self.names.iter().any(|n| {
                [&n.c, &n.st, &n.l, &n.o, &n.ou]
                    .iter()
                    .any(|v| !v.trim().is_empty())
            })
    }
}

type NameField = fn(&Name) -> &str;

/// Parses a dotted OID string ("1.2.3.4").
pub fn parse_oid(s: &str) -> Result<Vec<u64>> {
    let parts: std::result::Result<Vec<u64>, _> = s.split('.').map(str::parse).collect();
    match parts {
        Ok(p) if p.len() >= 2 && p[0] <= 2 && (p[0] == 2 || p[1] < 40) => Ok(p),
        _ => Err(Error::Csr(9400, format!("invalid OID {s:?}"))),
    }
}

/// Classifies `hosts` entries the way cfssl does: IP, then email, then URI, else DNS name.
/// Empty entries (the `"hosts": [""]` idiom) are skipped rather than written as an empty dNSName.
pub fn classify_hosts<S: AsRef<str>>(hosts: &[S]) -> Sans {
    let mut s = Sans::default();
    for h in hosts {
        let h = h.as_ref();
        if h.is_empty() {
            continue;
        }
        if let Ok(ip) = h.parse::<IpAddr>() {
            s.ip.push(ip);
        } else if let Some(addr) = email_address(h) {
            s.email.push(addr);
        } else if is_request_uri(h) {
            s.uri.push(h.to_string());
        } else {
            s.dns.push(h.to_string());
        }
    }
    s
}

/// Go's `mail.ParseAddress` for the forms seen in practice: `a@b` and `Name <a@b>`.
fn email_address(h: &str) -> Option<String> {
    let addr = match (h.rfind('<'), h.ends_with('>')) {
        (Some(i), true) => &h[i + 1..h.len() - 1],
        _ => h,
    };
    let (local, domain) = addr.split_once('@')?;
    // A ':' in the local part fails Go's parser (not an atext character), so
    // `mailto:ops@example.com` and `https://user@host` fall through to URIs, as in cfssl.
    let ok = !local.is_empty()
        && !local.contains(':')
        && !domain.is_empty()
        && !domain.contains('@')
        && !addr.contains(char::is_whitespace)
        && !domain.contains(['/', ':']);
    ok.then(|| addr.to_string())
}

/// Go's `url.ParseRequestURI` success test: a path starting with `/`, or a valid scheme.
// cfssl compat: this makes "host:8080" a URI SAN (scheme "host"), exactly as cfssl does.
fn is_request_uri(h: &str) -> bool {
    if h.starts_with('/') {
        return true;
    }
    let Some(colon) = h.find(':') else {
        return false;
    };
    let scheme = &h[..colon];
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !h.contains(char::is_whitespace)
}

/// A freshly generated key and its CSR.
#[derive(Debug)]
pub struct Generated {
    /// the new private key
    pub key: PrivateKey,
    /// the CSR, DER
    pub csr_der: Vec<u8>,
    /// the CSR, PEM ("CERTIFICATE REQUEST")
    pub csr_pem: String,
}

/// Generates a key (per `req.key`) and a CSR signed by it, with `hosts` as SANs and, when `req.ca`
/// is present, a critical basicConstraints CA:TRUE.
pub fn generate(req: &CertificateRequest) -> Result<Generated> {
    let key = PrivateKey::generate(req.key_algo()?)?;
    let (csr_der, csr_pem) = csr_for_key(req, &key)?;
    Ok(Generated {
        key,
        csr_der,
        csr_pem,
    })
}

/// Builds and signs a CSR for an existing key.
pub fn csr_for_key(req: &CertificateRequest, key: &PrivateKey) -> Result<(Vec<u8>, String)> {
    let subject = der::encode_name(&req.subject_attrs()?)?;
    let mut exts = Vec::new();
    let sans = classify_hosts(req.hosts.as_deref().unwrap_or_default());
    if !sans.is_empty() {
        exts.push(der::subject_alt_name(&sans, false)?);
    }
    if let Some(ca) = &req.ca {
        let pathlen = (ca.pathlen > 0 || ca.pathlenzero).then_some(ca.pathlen);
        exts.push(der::basic_constraints(true, pathlen));
    }
    let info = der::csr_info(&subject, &key.spki_der(), &exts);
    let sig_alg = key.sig_alg().identifier();
    let sig = key.sign(&info)?;
    let der_bytes = der::signed(&info, &sig_alg, &sig);
    let pem = crate::keys::pem_encode("CERTIFICATE REQUEST", &der_bytes);
    Ok((der_bytes, pem))
}

/// A parsed, signature-verified CSR with what signing needs.
#[derive(Debug, Clone)]
pub struct ParsedCsr {
    /// the whole CSR DER
    pub der: Vec<u8>,
    /// subject Name DER, copied verbatim into certificates
    pub subject_der: Vec<u8>,
    /// subject attributes (type, value) in order, for policy checks and records
    pub subject_attrs: Vec<NameAttr>,
    /// SubjectPublicKeyInfo DER
    pub spki_der: Vec<u8>,
    /// subjectPublicKey bits (key identifier input)
    pub public_key_bits: Vec<u8>,
    /// key type, from the SPKI (never from the CSR's signature algorithm)
    pub key_algo: KeyAlgo,
    /// requested SANs
    pub sans: Sans,
    /// requested basicConstraints: (is_ca, pathlen)
    pub basic_constraints: Option<(bool, Option<u32>)>,
}

impl ParsedCsr {
    /// The subject's common name as Go reads it (the last CN when there are several), or "".
    pub fn common_name(&self) -> String {
        self.subject_attrs
            .iter()
            .rfind(|a| a.oid == oid::CN)
            .map(|a| a.value.clone())
            .unwrap_or_default()
    }
}

/// Decodes a PEM CSR ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") and verifies it.
pub fn parse_pem(text: &[u8]) -> Result<ParsedCsr> {
    let block = pem::parse(text).map_err(|_| Error::Csr(9002, "CSR Decode failed".into()))?;
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => parse_der(block.contents()),
        _ => Err(Error::Csr(9300, "not a csr".into())),
    }
}

/// Parses and verifies a DER CSR. The key type is read from the SubjectPublicKeyInfo.
pub fn parse_der(bytes: &[u8]) -> Result<ParsedCsr> {
    parse_der_checked(bytes, true)
}

/// Parses a CSR that this process has just built and signed with its own key (`generate`,
/// `csr_for_key`) without checking that signature again: one ECDSA verify (~90 µs) saved per
/// `/newcert`, `gencert` and `-initca`. Never use it for a CSR that came from outside.
pub(crate) fn parse_own_der(bytes: &[u8]) -> Result<ParsedCsr> {
    parse_der_checked(bytes, false)
}

fn parse_der_checked(bytes: &[u8], verify: bool) -> Result<ParsedCsr> {
    let bad = |m: String| Error::Csr(9300, m);
    let (rest, csr) = X509CertificationRequest::from_der(bytes)
        .map_err(|e| Error::Csr(9003, format!("CSR Parsing failed: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::Csr(
            9003,
            "CSR Parsing failed: trailing data after the CSR".into(),
        ));
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let key_algo = spki_key_algo(spki)?;
    if verify {
        verify_signature(
            spki.raw,
            key_algo,
            &csr.signature_algorithm.algorithm.to_id_string(),
            info.raw,
            &csr.signature_value.data,
        )
        .map_err(bad)?;
    }
    let subject_attrs = name_attrs(&info.subject)?;
    let mut sans = Sans::default();
    let mut basic_constraints = None;
    if let Some(exts) = csr.requested_extensions() {
        for e in exts {
            match e {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for g in &san.general_names {
                        match g {
                            GeneralName::DNSName(d) => sans.dns.push(d.to_string()),
                            GeneralName::RFC822Name(m) => sans.email.push(m.to_string()),
                            GeneralName::URI(u) => sans.uri.push(u.to_string()),
                            GeneralName::IPAddress(b) => {
                                if let Some(ip) = ip_from_bytes(b) {
                                    sans.ip.push(ip);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) => {
                    basic_constraints = Some((bc.ca, bc.path_len_constraint));
                }
                _ => {}
            }
        }
    }
    Ok(ParsedCsr {
        der: bytes.to_vec(),
        subject_der: info.subject.as_raw().to_vec(),
        subject_attrs,
        spki_der: spki.raw.to_vec(),
        public_key_bits: spki.subject_public_key.data.to_vec(),
        key_algo,
        sans,
        basic_constraints,
    })
}

/// Verifies a signature made by the key in `spki_der` over `msg`, for the signature algorithm
/// OID named (ECDSA P-256/384/521 with SHA-2, RSA PKCS#1 v1.5 with SHA-2, Ed25519) with
/// aws-lc-rs. x509-parser's verifier lacks P-521, and RSA-PSS is refused here as in cfssl.
pub fn verify_signature(
    spki_der: &[u8],
    key: KeyAlgo,
    sig_oid: &str,
    msg: &[u8],
    sig: &[u8],
) -> std::result::Result<(), String> {
    use aws_lc_rs::signature::{self as s, VerificationAlgorithm};
    let alg: &dyn VerificationAlgorithm = match (key, sig_oid) {
        (KeyAlgo::EcdsaP256, "1.2.840.10045.4.3.2") => &s::ECDSA_P256_SHA256_ASN1,
        (KeyAlgo::EcdsaP256, "1.2.840.10045.4.3.3") => &s::ECDSA_P256_SHA384_ASN1,
        (KeyAlgo::EcdsaP256, "1.2.840.10045.4.3.4") => &s::ECDSA_P256_SHA512_ASN1,
        (KeyAlgo::EcdsaP384, "1.2.840.10045.4.3.2") => &s::ECDSA_P384_SHA256_ASN1,
        (KeyAlgo::EcdsaP384, "1.2.840.10045.4.3.3") => &s::ECDSA_P384_SHA384_ASN1,
        (KeyAlgo::EcdsaP384, "1.2.840.10045.4.3.4") => &s::ECDSA_P384_SHA512_ASN1,
        (KeyAlgo::EcdsaP521, "1.2.840.10045.4.3.2") => &s::ECDSA_P521_SHA256_ASN1,
        (KeyAlgo::EcdsaP521, "1.2.840.10045.4.3.3") => &s::ECDSA_P521_SHA384_ASN1,
        (KeyAlgo::EcdsaP521, "1.2.840.10045.4.3.4") => &s::ECDSA_P521_SHA512_ASN1,
        (KeyAlgo::Rsa(_), "1.2.840.113549.1.1.11") => &s::RSA_PKCS1_2048_8192_SHA256,
        (KeyAlgo::Rsa(_), "1.2.840.113549.1.1.12") => &s::RSA_PKCS1_2048_8192_SHA384,
        (KeyAlgo::Rsa(_), "1.2.840.113549.1.1.13") => &s::RSA_PKCS1_2048_8192_SHA512,
        (KeyAlgo::Ed25519, "1.3.101.112") => &s::ED25519,
        (_, other) => {
            return Err(format!(
                "CSR signature verification failed: unsupported signature algorithm {other} for this key"
            ));
        }
    };
    let (_, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|_| "CSR signature verification failed: bad public key".to_string())?;
    let raw_key: &[u8] = &parsed.subject_public_key.data;
    s::UnparsedPublicKey::new(alg, raw_key)
        .verify(msg, sig)
        .map_err(|_| "CSR signature verification failed: invalid signature".to_string())
}

/// IP address from SAN bytes (4 or 16 octets).
pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// Reads a Name's attributes in order (values as text).
pub fn name_attrs(n: &x509_parser::x509::X509Name<'_>) -> Result<Vec<NameAttr>> {
    let mut out = Vec::new();
    for rdn in n.iter() {
        for atv in rdn.iter() {
            let oid: Vec<u64> = atv
                .attr_type()
                .iter()
                .map(|i| i.collect())
                .ok_or_else(|| Error::Csr(9003, "attribute OID too large".into()))?;
            let value = attr_text(atv.attr_value(), atv.as_str().ok());
            out.push(NameAttr { oid, value });
        }
    }
    Ok(out)
}

/// An attribute value as text. x509-parser decodes Printable, UTF8, IA5 and Numeric strings
/// (`parsed`); a BMPString is UTF-16BE (a trailing NUL dropped) and a UniversalString UTF-32BE,
/// as Go reads them (Go has BMPString; cfssl certinfo prints `Ωmega`, not its raw bytes), with
/// U+FFFD for what does not decode; anything else is its bytes read as UTF-8, lossily.
fn attr_text(value: &x509_parser::der_parser::asn1_rs::Any<'_>, parsed: Option<&str>) -> String {
    use x509_parser::der_parser::asn1_rs::Tag;
    if let Some(text) = parsed {
        return text.to_string();
    }
    let data = value.data;
    match value.tag() {
        Tag::BmpString if data.len().is_multiple_of(2) => {
            let data = data.strip_suffix(&[0, 0]).unwrap_or(data);
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Tag::UniversalString if data.len().is_multiple_of(4) => data
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => String::from_utf8_lossy(data).into(),
    }
}

/// Determines the key algorithm from a SubjectPublicKeyInfo (rust-deps.md §3c).
pub fn spki_key_algo(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyAlgo> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                "1.2.840.10045.3.1.7" => Ok(KeyAlgo::EcdsaP256),
                "1.3.132.0.34" => Ok(KeyAlgo::EcdsaP384),
                "1.3.132.0.35" => Ok(KeyAlgo::EcdsaP521),
                other => Err(Error::PrivateKey(
                    2400,
                    format!("unsupported elliptic curve {other}; use P-256, P-384 or P-521"),
                )),
            }
        }
        "1.2.840.113549.1.1.1" => {
            let bits = spki.parsed().map(|k| k.key_size()).unwrap_or(0) as u32;
            if bits < 2048 {
                return Err(Error::PrivateKey(2400, "RSA key is too weak".into()));
            }
            Ok(KeyAlgo::Rsa(bits))
        }
        "1.3.101.112" => Ok(KeyAlgo::Ed25519),
        other => Err(Error::PrivateKey(
            2200,
            format!("Private key algorithm is not RSA or ECC or Ed25519 ({other})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_classified_like_cfssl() {
        let s = classify_hosts(&[
            "example.com",
            "10.0.0.1",
            "::1",
            "admin@example.com",
            "Admin <root@example.com>",
            "spiffe://cluster/ns/x",
            "*.example.com",
            "",
            "host:8080",
            "/path",
        ]);
        assert_eq!(s.dns, vec!["example.com", "*.example.com"]);
        assert_eq!(s.ip.len(), 2);
        assert_eq!(s.email, vec!["admin@example.com", "root@example.com"]);
        assert_eq!(s.uri, vec!["spiffe://cluster/ns/x", "host:8080", "/path"]);
    }

    #[test]
    fn json_keys_are_case_insensitive_and_repeated_ous_kept() {
        let r = CertificateRequest::from_json(
            br#"{"cn":"x","Hosts":["a"],"names":[{"c":"US","OU":"A"},{"OU":"B"}],"KEY":{"ALGO":"ecdsa","Size":384}}"#,
        )
        .unwrap();
        assert_eq!(r.cn, "x");
        assert_eq!(r.hosts.as_deref(), Some(&["a".to_string()][..]));
        assert_eq!(r.key_algo().unwrap(), KeyAlgo::EcdsaP384);
        let ous: Vec<_> = r
            .subject_attrs()
            .unwrap()
            .into_iter()
            .filter(|a| a.oid == oid::OU)
            .collect();
        assert_eq!(ous.len(), 2);
        assert!(
            CertificateRequest::from_json(br#"{"CN": 5}"#)
                .unwrap_err()
                .code()
                == 7200
        );
    }

    #[test]
    fn generated_csr_verifies_and_carries_sans_and_ca() {
        let r = CertificateRequest::from_json(
            br#"{"CN":"ca","hosts":["a.example","10.1.1.1"],"names":[{"OU":"A"},{"OU":"B"}],"ca":{"pathlen":1}}"#,
        )
        .unwrap();
        let g = generate(&r).unwrap();
        let p = parse_pem(g.csr_pem.as_bytes()).unwrap();
        assert_eq!(p.common_name(), "ca");
        assert_eq!(p.sans.dns, vec!["a.example"]);
        assert_eq!(p.basic_constraints, Some((true, Some(1))));
        assert_eq!(
            p.subject_attrs.iter().filter(|a| a.oid == oid::OU).count(),
            2
        );
        assert_eq!(p.key_algo, KeyAlgo::EcdsaP256);
    }

    #[test]
    fn every_key_type_makes_a_verifiable_csr() {
        for key in [
            r#"{"algo":"ecdsa","size":256}"#,
            r#"{"algo":"ecdsa","size":384}"#,
            r#"{"algo":"ecdsa","size":521}"#,
            r#"{"algo":"rsa","size":2048}"#,
            r#"{"algo":"ed25519"}"#,
        ] {
            let r =
                CertificateRequest::from_json(format!(r#"{{"CN":"k","key":{key}}}"#).as_bytes())
                    .unwrap();
            let g = generate(&r).unwrap();
            let p = parse_der(&g.csr_der).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(p.key_algo, g.key.algo());
        }
    }

    #[test]
    fn tampered_csr_is_refused() {
        let r = CertificateRequest::from_json(br#"{"CN":"victim.example"}"#).unwrap();
        let g = generate(&r).unwrap();
        let mut der = g.csr_der.clone();
        let pos = der.windows(6).position(|w| w == b"victim").unwrap();
        der[pos] = b'V';
        assert_eq!(parse_der(&der).unwrap_err().code(), 9300);
        assert_eq!(parse_pem(b"junk").unwrap_err().code(), 9002);
        let cert_pem = crate::keys::pem_encode("CERTIFICATE", &g.csr_der);
        assert_eq!(
            parse_pem(cert_pem.as_bytes()).unwrap_err().message(),
            "not a csr"
        );
    }

    /// `hosts` classified one at a time: (dns, email, ip, uri) as strings.
    fn class(h: &str) -> &'static str {
        let s = classify_hosts(&[h]);
        match (s.dns.len(), s.email.len(), s.ip.len(), s.uri.len()) {
            (1, 0, 0, 0) => "dns",
            (0, 1, 0, 0) => "email",
            (0, 0, 1, 0) => "ip",
            (0, 0, 0, 1) => "uri",
            (0, 0, 0, 0) => "none",
            _ => "several",
        }
    }

    #[test]
    fn malformed_addresses_are_dns_names_as_in_cfssl() {
        // Neither mail.ParseAddress nor url.ParseRequestURI accepts these, so cfssl writes them
        // as dNSNames.
        for h in [
            "@example.com",
            "user@",
            "a@b@example.com",
            "john doe@example.com",
            "user@host:8080",
        ] {
            assert_eq!(class(h), "dns", "{h}");
        }
        // A domain with a path is not an address: here it is a URI (scheme "https").
        assert_eq!(class("https://example.com/a@b/c"), "uri");
        // Nor is a local part with a ':' (Go's mail.ParseAddress refuses it): URIs in cfssl.
        assert_eq!(class("mailto:ops@example.com"), "uri");
        assert_eq!(class("https://user@host"), "uri");
        assert_eq!(
            classify_hosts(&["<ops@example.com>"]).email,
            ["ops@example.com"]
        );
    }

    #[test]
    fn uri_schemes_follow_go_syntax() {
        // A scheme starts with a letter and holds letters, digits, '+', '-', '.'.
        for h in ["a+b-c.d:x", "urn:uuid:1", "HTTP://X"] {
            assert_eq!(class(h), "uri", "{h}");
        }
        // IP:port and names with '_' have no valid scheme: url.ParseRequestURI fails, so DNS.
        for h in ["10.0.0.1:8443", "1host:80", "under_score:1", "no-colon"] {
            assert_eq!(class(h), "dns", "{h}");
        }
        assert_eq!(class("2001:db8::1"), "ip");
        assert_eq!(class(""), "none");
    }

    #[test]
    fn subject_attrs_in_go_order_and_empty_values_skipped() {
        let r = CertificateRequest::from_json(
            br#"{"CN":"cn","serialnumber":"42","names":[
                {"C":"US","ST":"CA","L":"SF","O":"Org","OU":"Unit","E":"a@example.com",
                 "OID":{"1.2.3.4":"extra"}},
                {"C":"","O":"Org2"}]}"#,
        )
        .unwrap();
        let got: Vec<(Vec<u64>, String)> = r
            .subject_attrs()
            .unwrap()
            .into_iter()
            .map(|a| (a.oid, a.value))
            .collect();
        let want: Vec<(Vec<u64>, String)> = [
            (oid::C, "US"),
            (oid::ST, "CA"),
            (oid::L, "SF"),
            (oid::O, "Org"),
            (oid::O, "Org2"),
            (oid::OU, "Unit"),
            (oid::CN, "cn"),
            (oid::SERIAL_NUMBER, "42"),
            (oid::EMAIL, "a@example.com"),
            (&[1, 2, 3, 4][..], "extra"),
        ]
        .into_iter()
        .map(|(o, v)| (o.to_vec(), v.to_string()))
        .collect();
        assert_eq!(got, want);
        // Nothing set: no attributes at all (no empty CN, serialNumber or emailAddress).
        let empty = CertificateRequest::from_json(br#"{"names":[{}]}"#).unwrap();
        assert_eq!(empty.subject_attrs().unwrap(), vec![]);
        let bad = CertificateRequest::from_json(br#"{"names":[{"OID":{"1.x":"v"}}]}"#).unwrap();
        assert_eq!(bad.subject_attrs().unwrap_err().code(), 9400);
    }

    #[test]
    fn has_subject_needs_a_non_blank_cn_or_name_field() {
        let has = |j: &str| {
            CertificateRequest::from_json(j.as_bytes())
                .unwrap()
                .has_subject()
        };
        assert!(has(r#"{"CN":"ca"}"#));
        assert!(has(r#"{"names":[{"C":"US"}]}"#));
        assert!(has(r#"{"names":[{}, {"OU":"x"}]}"#));
        assert!(!has(r#"{}"#));
        assert!(!has(r#"{"CN":"  ","names":[{"O":" "}]}"#));
        // emailAddress and serialNumber alone are not a subject for -initca.
        assert!(!has(
            r#"{"serialnumber":"1","names":[{"E":"a@example.com"}]}"#
        ));
    }

    #[test]
    fn oids_are_validated_like_asn1() {
        assert_eq!(
            parse_oid("1.2.840.113549").unwrap(),
            vec![1, 2, 840, 113549]
        );
        assert_eq!(parse_oid("2.999.1").unwrap(), vec![2, 999, 1]);
        assert_eq!(parse_oid("0.39").unwrap(), vec![0, 39]);
        assert_eq!(parse_oid("1.39").unwrap(), vec![1, 39]);
        for bad in ["", "1", "3.1", "1.40", "0.40", "1..2", "1.2.a", "-1.2"] {
            assert_eq!(parse_oid(bad).unwrap_err().code(), 9400, "{bad:?}");
        }
    }

    #[test]
    fn ca_pathlen_zero_only_when_asked_for() {
        let bc = |ca: &str| {
            let r = CertificateRequest::from_json(format!(r#"{{"CN":"ca","ca":{ca}}}"#).as_bytes())
                .unwrap();
            parse_der(&generate(&r).unwrap().csr_der)
                .unwrap()
                .basic_constraints
        };
        assert_eq!(bc("{}"), Some((true, None)));
        assert_eq!(bc(r#"{"pathlenzero":true}"#), Some((true, Some(0))));
        assert_eq!(bc(r#"{"pathlen":2}"#), Some((true, Some(2))));
        let plain = CertificateRequest::from_json(br#"{"CN":"leaf"}"#).unwrap();
        let p = parse_der(&generate(&plain).unwrap().csr_der).unwrap();
        assert_eq!(p.basic_constraints, None);
        assert!(p.sans.is_empty());
    }

    #[test]
    fn every_san_type_survives_the_round_trip() {
        let r = CertificateRequest::from_json(
            br#"{"CN":"x","hosts":["a.example","ops@example.com","10.1.2.3","2001:db8::1","spiffe://td/w"]}"#,
        )
        .unwrap();
        let p = parse_der(&generate(&r).unwrap().csr_der).unwrap();
        assert_eq!(p.sans.dns, ["a.example"]);
        assert_eq!(p.sans.email, ["ops@example.com"]);
        assert_eq!(
            p.sans.ip,
            [
                "10.1.2.3".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
        assert_eq!(p.sans.uri, ["spiffe://td/w"]);
    }

    #[test]
    fn common_name_is_the_cn_attribute_not_the_first() {
        let r = CertificateRequest::from_json(br#"{"CN":"the-cn","names":[{"O":"org"}]}"#).unwrap();
        let p = parse_der(&generate(&r).unwrap().csr_der).unwrap();
        assert_eq!(p.common_name(), "the-cn");
        let r = CertificateRequest::from_json(br#"{"names":[{"O":"org"}]}"#).unwrap();
        assert_eq!(
            parse_der(&generate(&r).unwrap().csr_der)
                .unwrap()
                .common_name(),
            ""
        );
    }

    #[test]
    fn trailing_bytes_after_a_csr_are_refused() {
        let r = CertificateRequest::from_json(br#"{"CN":"x"}"#).unwrap();
        let mut der = generate(&r).unwrap().csr_der;
        assert!(parse_der(&der).is_ok());
        der.push(0);
        let e = parse_der(&der).unwrap_err();
        assert_eq!(e.code(), 9003);
        assert!(e.message().contains("trailing data"), "{}", e.message());
    }

    #[test]
    fn ip_sans_are_4_or_16_bytes() {
        assert_eq!(
            ip_from_bytes(&[192, 0, 2, 1]),
            Some("192.0.2.1".parse().unwrap())
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_from_bytes(&v6), Some("::1".parse().unwrap()));
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
        assert_eq!(ip_from_bytes(&[0; 8]), None);
    }

    /// `openssl req -new -newkey rsa:1024 -subj /CN=weak`
    const RSA_1024_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIIBTjCBuAIBADAPMQ0wCwYDVQQDDAR3ZWFrMIGfMA0GCSqGSIb3DQEBAQUAA4GN
ADCBiQKBgQCrorQZ+hoRQ0R3CeAIjdmk9govkwoLmn5rSTkG7Y5iLabi0AL3ZLaW
eBIgLzTvG8bL+mbzo8pPukiqLbb+cNjAArj9yYuaNoFtxHfPsn0VzGee5uQzEL5Z
r2NElItwweP7Kslwzy/MAVyBl9Vmd0QVpgjOw5b9HzLN9JATRNEAywIDAQABoAAw
DQYJKoZIhvcNAQELBQADgYEAOQDVd80enuJy9scKrGg84WSZhs7SOrkrALvSrgWt
nCA/Ewo7C11VTomn6fFPqGvKdEcUuJDX4cyx8AhZE4D6DlM89+pOuk4VnRUsXM9V
dBp/D7mcO0dAoBD/cMv0RDj6sdYhCvREvt/U6RdRbpQMQDcf+Ri4HvkuR0q+6Zrm
wP0=
-----END CERTIFICATE REQUEST-----
";

    #[test]
    fn rsa_keys_under_2048_bits_are_too_weak() {
        let e = parse_pem(RSA_1024_CSR.as_bytes()).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (2400, "RSA key is too weak")
        );
    }

    #[test]
    fn verify_signature_accepts_each_supported_hash_and_names_failures() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature as s;
        let rng = SystemRandom::new();
        let msg = b"certification request info";

        let p521 = PrivateKey::generate(KeyAlgo::EcdsaP521).unwrap();
        for (signing, sig_oid) in [
            (&s::ECDSA_P521_SHA256_ASN1_SIGNING, "1.2.840.10045.4.3.2"),
            (&s::ECDSA_P521_SHA384_ASN1_SIGNING, "1.2.840.10045.4.3.3"),
            (&s::ECDSA_P521_SHA512_ASN1_SIGNING, "1.2.840.10045.4.3.4"),
        ] {
            let pair = s::EcdsaKeyPair::from_pkcs8(signing, p521.pkcs8_der()).unwrap();
            let sig = pair.sign(&rng, msg).unwrap();
            assert_eq!(
                verify_signature(
                    &p521.spki_der(),
                    KeyAlgo::EcdsaP521,
                    sig_oid,
                    msg,
                    sig.as_ref()
                ),
                Ok(()),
                "{sig_oid}"
            );
        }

        let rsa = PrivateKey::generate(KeyAlgo::Rsa(2048)).unwrap();
        let pair = s::RsaKeyPair::from_pkcs8(rsa.pkcs8_der()).unwrap();
        let rsa_sign = |enc: &'static s::RsaSignatureEncoding| {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(enc, &rng, msg, &mut sig).unwrap();
            sig
        };
        for (enc, sig_oid) in [
            (&s::RSA_PKCS1_SHA256, "1.2.840.113549.1.1.11"),
            (&s::RSA_PKCS1_SHA384, "1.2.840.113549.1.1.12"),
            (&s::RSA_PKCS1_SHA512, "1.2.840.113549.1.1.13"),
        ] {
            let sig = rsa_sign(enc);
            assert_eq!(
                verify_signature(&rsa.spki_der(), KeyAlgo::Rsa(2048), sig_oid, msg, &sig),
                Ok(()),
                "{sig_oid}"
            );
        }

        // A signature checked under another hash than the one it was made with fails.
        let sha384 = rsa_sign(&s::RSA_PKCS1_SHA384);
        assert_eq!(
            verify_signature(
                &rsa.spki_der(),
                KeyAlgo::Rsa(2048),
                "1.2.840.113549.1.1.11",
                msg,
                &sha384
            ),
            Err("CSR signature verification failed: invalid signature".to_string())
        );
        // RSA-PSS is refused, as in cfssl; so is an algorithm that does not fit the key.
        assert_eq!(
            verify_signature(
                &rsa.spki_der(),
                KeyAlgo::Rsa(2048),
                "1.2.840.113549.1.1.10",
                msg,
                &sha384
            ),
            Err(
                "CSR signature verification failed: unsupported signature algorithm \
                 1.2.840.113549.1.1.10 for this key"
                    .to_string()
            )
        );
        let ed = PrivateKey::generate(KeyAlgo::Ed25519).unwrap();
        let ed_sig = ed.sign(msg).unwrap();
        assert_eq!(
            verify_signature(
                &ed.spki_der(),
                KeyAlgo::Ed25519,
                "1.3.101.112",
                msg,
                &ed_sig
            ),
            Ok(())
        );
        assert_eq!(
            verify_signature(
                &ed.spki_der(),
                KeyAlgo::Ed25519,
                "1.2.840.10045.4.3.2",
                msg,
                &ed_sig
            ),
            Err(
                "CSR signature verification failed: unsupported signature algorithm \
                 1.2.840.10045.4.3.2 for this key"
                    .to_string()
            )
        );
        assert_eq!(
            verify_signature(b"junk", KeyAlgo::Ed25519, "1.3.101.112", msg, &ed_sig),
            Err("CSR signature verification failed: bad public key".to_string())
        );
    }

    #[test]
    fn spki_key_algo_reads_every_key_type_and_names_unsupported_ones() {
        let algo = |der: &[u8]| {
            let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).unwrap();
            spki_key_algo(&spki)
        };
        for a in [
            KeyAlgo::EcdsaP256,
            KeyAlgo::EcdsaP384,
            KeyAlgo::EcdsaP521,
            KeyAlgo::Rsa(2048),
            KeyAlgo::Ed25519,
        ] {
            let k = PrivateKey::generate(a).unwrap();
            assert_eq!(algo(&k.spki_der()).unwrap(), a);
        }
        // id-ecPublicKey on secp256k1 (1.3.132.0.10), point shortened to one byte.
        let k1 = [
            0x30, 0x16, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x02, 0x00, 0x04,
        ];
        let e = algo(&k1).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (
                2400,
                "unsupported elliptic curve 1.3.132.0.10; use P-256, P-384 or P-521"
            )
        );
        // X25519 (1.3.101.110) is a key-agreement key, not a signing one.
        let mut x25519 = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
        ];
        x25519.extend([7u8; 32]);
        let e = algo(&x25519).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (
                2200,
                "Private key algorithm is not RSA or ECC or Ed25519 (1.3.101.110)"
            )
        );
    }

    #[test]
    fn own_csrs_skip_only_the_signature_check() {
        let r = CertificateRequest::from_json(br#"{"CN":"victim.example"}"#).unwrap();
        let mut der = generate(&r).unwrap().csr_der;
        let pos = der.windows(6).position(|w| w == b"victim").unwrap();
        der[pos] = b'V';
        let e = parse_der(&der).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (9300, "CSR signature verification failed: invalid signature")
        );
        assert_eq!(parse_own_der(&der).unwrap().common_name(), "Victim.example");
        der.push(0);
        assert_eq!(
            parse_own_der(&der).unwrap_err().message(),
            "CSR Parsing failed: trailing data after the CSR"
        );
    }

    #[test]
    fn parsed_csr_keeps_the_request_bytes_and_accepts_the_new_pem_label() {
        let r = CertificateRequest::from_json(
            br#"{"CN":"new","names":[{"C":"US","O":"kpki"}],"key":{"algo":"ecdsa","size":384}}"#,
        )
        .unwrap();
        let g = generate(&r).unwrap();
        let pem = crate::keys::pem_encode("NEW CERTIFICATE REQUEST", &g.csr_der);
        let p = parse_pem(pem.as_bytes()).unwrap();
        assert_eq!(p.der, g.csr_der);
        assert_eq!(
            p.subject_der,
            der::encode_name(&r.subject_attrs().unwrap()).unwrap()
        );
        assert_eq!(p.subject_attrs, r.subject_attrs().unwrap());
        assert_eq!(p.spki_der, g.key.spki_der());
        assert_eq!(p.public_key_bits, g.key.public_key_bits());
        assert_eq!(p.key_algo, KeyAlgo::EcdsaP384);

        let e = parse_pem(b"junk").unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (9002, "CSR Decode failed")
        );
        let empty = crate::keys::pem_encode("CERTIFICATE REQUEST", &[0x30, 0x00]);
        let e = parse_pem(empty.as_bytes()).unwrap_err();
        assert_eq!(e.code(), 9003);
        assert!(
            e.message().starts_with("CSR Parsing failed: "),
            "{}",
            e.message()
        );
    }

    #[test]
    fn key_algo_defaults_to_p256_and_passes_request_errors_on() {
        let algo = |j: &str| {
            CertificateRequest::from_json(j.as_bytes())
                .unwrap()
                .key_algo()
        };
        assert_eq!(algo("{}").unwrap(), KeyAlgo::EcdsaP256);
        assert_eq!(algo(r#"{"key":null}"#).unwrap(), KeyAlgo::EcdsaP256);
        assert_eq!(
            algo(r#"{"key":{"algo":"rsa"}}"#).unwrap(),
            KeyAlgo::Rsa(2048)
        );
        let e = algo(r#"{"key":{"algo":"dsa","size":2048}}"#).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (2400, "invalid algorithm")
        );
    }

    #[test]
    fn bmp_and_universal_strings_are_decoded_as_go_reads_them() {
        use x509_parser::prelude::FromDer;
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            assert!(content.len() < 128);
            [&[tag, content.len() as u8][..], content].concat()
        }
        let attr = |oid_last: u8, tag: u8, value: &[u8]| {
            let atv = [tlv(0x06, &[0x55, 0x04, oid_last]), tlv(tag, value)].concat();
            tlv(0x31, &tlv(0x30, &atv))
        };
        let name = tlv(
            0x30,
            &[
                attr(0x06, 0x13, b"DE"), // C, PrintableString
                attr(
                    0x0a,
                    0x1e,
                    &[0x03, 0xa9, 0, 0x6d, 0, 0x65, 0, 0x67, 0, 0x61],
                ), // O, BMP "Ωmega"
                // CN, BMP: a surrogate pair, a space, "x" and a trailing NUL (dropped, as Go does)
                attr(
                    0x03,
                    0x1e,
                    &[0xd8, 0x3d, 0xde, 0x00, 0, 0x20, 0, 0x78, 0, 0],
                ),
                attr(0x0b, 0x1c, &[0, 0, 0, 0xfc, 0, 0, 0x20, 0xac]), // OU, UniversalString "ü€"
                attr(0x08, 0x1e, &[0xd8, 0x00]),                      // ST, BMP lone surrogate
                attr(0x07, 0x1e, &[0x00, 0x41, 0x42]),                // L, BMP of odd length
            ]
            .concat(),
        );
        let (rest, parsed) = x509_parser::x509::X509Name::from_der(&name).unwrap();
        assert!(rest.is_empty());
        let values: Vec<String> = name_attrs(&parsed)
            .unwrap()
            .into_iter()
            .map(|a| a.value)
            .collect();
        assert_eq!(
            values,
            ["DE", "Ωmega", "\u{1F600} x", "ü€", "\u{FFFD}", "\u{0}AB"]
        );
    }
}
