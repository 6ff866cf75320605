//! Signs finished templates: the CA (certificate + key) and self-signing; serial numbers; CRL
//! signing. No policy (that is `policy`), no I/O, nothing of HTTP, the CLI or the database.

use crate::csr::spki_key_algo;
use crate::der::{self, Extension, RevokedEntry};
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, SigAlg, key_id};
use crate::policy::{IssuerFacts, Template};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

/// A fresh serial: 20 random bytes with the top bit cleared (RFC 5280 §4.1.2.2, ≤ 20 octets,
/// 159 bits of entropy — cfssl's scheme). Never zero.
pub fn new_serial() -> Result<Vec<u8>> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut b = vec![0u8; 20];
    loop {
        SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| Error::Internal("random number generator failed".into()))?;
        b[0] &= 0x7f;
        if b.iter().any(|&x| x != 0) {
            return Ok(b);
        }
    }
}

/// Decimal text of a big-endian serial (how cfssl logs and stores serials).
pub fn serial_decimal(serial: &[u8]) -> String {
    x509_parser::num_bigint::BigUint::from_bytes_be(serial).to_string()
}

/// Parses a decimal serial back into big-endian bytes.
pub fn serial_from_decimal(s: &str) -> Result<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadRequest(format!(
            "invalid serial number {s:?} (decimal expected)"
        )));
    }
    let n: x509_parser::num_bigint::BigUint = s
        .parse()
        .map_err(|_| Error::BadRequest(format!("invalid serial number {s:?}")))?;
    Ok(n.to_bytes_be())
}

/// Builds the extension list in Go's order: KU, EKU, BC, SKI, AKI, AIA, SAN, policies, CRL DP,
/// OCSP no-check.
fn extensions(t: &Template, aki: Option<&[u8]>) -> Result<Vec<Extension>> {
    let mut v = Vec::with_capacity(8);
    if t.key_usage != 0 {
        v.push(der::key_usage(t.key_usage));
    }
    if !t.ext_key_usages.is_empty() {
        v.push(der::ext_key_usage(&t.ext_key_usages));
    }
    v.push(der::basic_constraints(t.is_ca, t.path_len));
    v.push(der::subject_key_id(&key_id(&t.public_key_bits)));
    if let Some(a) = aki {
        v.push(der::authority_key_id(a));
    }
    if !t.ocsp_urls.is_empty() || !t.issuer_urls.is_empty() {
        let o: Vec<&str> = t.ocsp_urls.iter().map(String::as_str).collect();
        let i: Vec<&str> = t.issuer_urls.iter().map(String::as_str).collect();
        v.push(der::authority_info_access(&o, &i)?);
    }
    if !t.sans.is_empty() {
        // RFC 5280 §4.2.1.6: critical when the subject is empty.
        v.push(der::subject_alt_name(&t.sans, t.subject_attrs.is_empty())?);
    }
    if !t.policies.is_empty() {
        v.push(der::certificate_policies(&t.policies)?);
    }
    if let Some(u) = &t.crl_url {
        v.push(der::crl_distribution_point(u)?);
    }
    if t.ocsp_no_check {
        v.push(der::ocsp_nocheck());
    }
    Ok(v)
}

fn sign_tbs(
    key: &PrivateKey,
    sig: SigAlg,
    issuer: &[u8],
    t: &Template,
    aki: Option<&[u8]>,
) -> Result<Vec<u8>> {
    if t.not_after <= t.not_before {
        return Err(Error::policy("notAfter is not after notBefore"));
    }
    let exts = extensions(t, aki)?;
    let alg = sig.identifier();
    let tbs = der::tbs_certificate(&der::TbsCertificate {
        serial: &t.serial,
        sig_alg: &alg,
        issuer,
        not_before: t.not_before,
        not_after: t.not_after,
        subject: &t.subject_der,
        spki: &t.spki_der,
        extensions: &exts,
    });
    let signature = key.sign(&tbs)?;
    Ok(der::signed(&tbs, &alg, &signature))
}

/// Signs a template with its own key (root CAs from `-initca`, and `selfsign`).
pub fn self_sign(key: &PrivateKey, t: &Template) -> Result<Vec<u8>> {
    if t.spki_der != key.spki_der() {
        return Err(Error::PrivateKey(
            2300,
            "Private key does not match public key".into(),
        ));
    }
    // RFC 5280 §4.2.1.1: only self-signed CA certificates may omit the AKI.
    let own_id = key_id(key.public_key_bits());
    let aki = t.with_aki.then_some(own_id.as_slice());
    sign_tbs(key, key.sig_alg(), &t.subject_der, t, aki)
}

/// An issuing CA: its certificate and the matching private key.
pub struct Ca {
    key: PrivateKey,
    /// CA certificate DER
    pub cert_der: Vec<u8>,
    /// CA subject Name DER (the issuer of what it signs)
    pub subject_der: Vec<u8>,
    /// the CA's key identifier (its SKI, else SHA-1 of its key), used as AKI
    pub ski: Vec<u8>,
    /// pathLenConstraint of the CA
    pub path_len: Option<u32>,
    /// CA validity start
    pub not_before: OffsetDateTime,
    /// CA validity end
    pub not_after: OffsetDateTime,
    /// whether the CA may sign CRLs (no keyUsage, or cRLSign set)
    pub crl_sign: bool,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ca(aki={})", self.aki_hex())
    }
}

/// Reads the first CERTIFICATE block of a PEM text (errors are cfssl's 1002/1003).
pub fn first_certificate_der(pem_text: &[u8]) -> Result<Vec<u8>> {
    let blocks = pem::parse_many(pem_text)
        .map_err(|_| Error::Certificate(1002, "Failed to decode certificate".into()))?;
    let b = blocks.into_iter().next().ok_or_else(|| {
        Error::Certificate(
            1002,
            "Failed to decode certificate: no PEM block found".into(),
        )
    })?;
    if b.tag() != "CERTIFICATE" {
        return Err(Error::Certificate(
            1003,
            format!(
                "Failed to parse certificate: expected a CERTIFICATE PEM block, found {:?}",
                b.tag()
            ),
        ));
    }
    Ok(b.into_contents())
}

impl Ca {
    /// Pairs a CA certificate (PEM; the first block is used) with its key. Refuses keys that
    /// do not match, and certificates that are not CAs.
    pub fn new(cert_pem: &[u8], key: PrivateKey) -> Result<Ca> {
        let cert_der = first_certificate_der(cert_pem)?;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| Error::Certificate(1003, format!("Failed to parse certificate: {e}")))?;
        let spki = cert.public_key();
        spki_key_algo(spki)?;
        if spki.subject_public_key.data.as_ref() != key.public_key_bits() {
            return Err(Error::PrivateKey(
                2300,
                "Private key does not match public key: the -ca-key is not the key of the -ca certificate".into(),
            ));
        }
        let mut is_ca = false;
        let mut path_len = None;
        let mut ski = None;
        let mut cert_sign = true;
        let mut crl_sign = true;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    is_ca = bc.ca;
                    path_len = bc.path_len_constraint;
                }
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::KeyUsage(u) => {
                    cert_sign = u.key_cert_sign();
                    crl_sign = u.crl_sign();
                }
                _ => {}
            }
        }
        if !is_ca || !cert_sign {
            return Err(Error::Certificate(
                1210,
                "the -ca certificate is not a CA certificate (needs basicConstraints CA:TRUE and keyCertSign)".into(),
            ));
        }
        let v = cert.validity();
        Ok(Ca {
            ski: ski.unwrap_or_else(|| key_id(key.public_key_bits())),
            subject_der: cert.subject().as_raw().to_vec(),
            path_len,
            not_before: v.not_before.to_datetime(),
            not_after: v.not_after.to_datetime(),
            crl_sign,
            key,
            cert_der,
        })
    }

    /// The CA's key identifier as lower-case hex (what cfssl stores as the AKI).
    pub fn aki_hex(&self) -> String {
        hex::encode(&self.ski)
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> String {
        crate::keys::pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// Policy-relevant facts about this CA.
    pub fn facts(&self) -> IssuerFacts {
        IssuerFacts {
            path_len: self.path_len,
        }
    }

    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    fn check_valid(&self, now: OffsetDateTime) -> Result<()> {
        if now > self.not_after {
            return Err(Error::Certificate(
                1211,
                format!(
                    "the CA certificate expired at {}; renew the CA before signing",
                    crate::certinfo::rfc3339(self.not_after)
                ),
            ));
        }
        if now < self.not_before {
            return Err(Error::Certificate(
                1211,
                "the CA certificate is not valid yet".into(),
            ));
        }
        Ok(())
    }

    /// Signs a template as this CA.
    pub fn sign(&self, t: &Template, now: OffsetDateTime) -> Result<Vec<u8>> {
        self.check_valid(now)?;
        let aki = t.with_aki.then_some(self.ski.as_slice());
        sign_tbs(&self.key, self.key.sig_alg(), &self.subject_der, t, aki)
    }

    /// Signs a v2 CRL with the CRL number and AKI = this CA's key identifier.
    pub fn sign_crl(
        &self,
        revoked: &[RevokedEntry],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
    ) -> Result<Vec<u8>> {
        if !self.crl_sign {
            return Err(Error::Certificate(
                1210,
                "the CA certificate's key usage does not include cRLSign".into(),
            ));
        }
        let alg = self.key.sig_alg().identifier();
        let tbs = der::tbs_crl(
            &alg,
            &self.subject_der,
            this_update,
            next_update,
            revoked,
            &self.ski,
            number,
        );
        let sig = self.key.sign(&tbs)?;
        Ok(der::signed(&tbs, &alg, &sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_20_octets_at_most() {
        for _ in 0..200 {
            let s = new_serial().unwrap();
            assert_eq!(s.len(), 20);
            assert!(s[0] < 0x80);
            assert_eq!(serial_from_decimal(&serial_decimal(&s)).unwrap(), {
                let mut t = s.clone();
                while t.first() == Some(&0) {
                    t.remove(0);
                }
                t
            });
        }
        assert_ne!(new_serial().unwrap(), new_serial().unwrap());
        assert!(serial_from_decimal("12a").is_err());
    }

    /// A bare template for `key`: subject CN=`cn`, one hour from 2026-01-01, nothing optional.
    fn bare(key: &PrivateKey, cn: &str) -> Template {
        let subject_attrs = vec![der::NameAttr::new(der::oid::CN, cn)];
        Template {
            serial: vec![1],
            subject_der: der::encode_name(&subject_attrs).unwrap(),
            subject_attrs,
            spki_der: key.spki_der(),
            public_key_bits: key.public_key_bits().to_vec(),
            not_before: time::macros::datetime!(2026-01-01 00:00:00 UTC),
            not_after: time::macros::datetime!(2026-01-01 01:00:00 UTC),
            key_usage: 0,
            ext_key_usages: vec![],
            is_ca: false,
            path_len: None,
            sans: der::Sans::default(),
            ocsp_urls: vec![],
            issuer_urls: vec![],
            crl_url: None,
            policies: vec![],
            ocsp_no_check: false,
            with_aki: false,
        }
    }

    /// (OID, critical) of each extension, in order.
    fn ext_list(cert_der: &[u8]) -> Vec<(String, bool)> {
        let (_, cert) = X509Certificate::from_der(cert_der).unwrap();
        cert.extensions()
            .iter()
            .map(|e| (e.oid.to_id_string(), e.critical))
            .collect()
    }

    fn own_ca(key_usage: u16, path_len: Option<u32>) -> Ca {
        let key = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        let mut t = bare(&key, "test ca");
        t.is_ca = true;
        t.key_usage = key_usage;
        t.path_len = path_len;
        let der = self_sign(&key, &t).unwrap();
        Ca::new(crate::keys::pem_encode("CERTIFICATE", &der).as_bytes(), key).unwrap()
    }

    /// Serials are uniform draws, not filtered on their content: about 92 % of 20-octet draws
    /// hold no zero octet, so 64 draws that all hold one (p < 1e-70) mean a biased generator.
    #[test]
    fn serials_are_not_filtered_on_their_content() {
        let without_zero = (0..64)
            .map(|_| new_serial().unwrap())
            .filter(|s| !s.contains(&0))
            .count();
        assert!(without_zero > 0);
    }

    #[test]
    fn serial_text_is_decimal_both_ways() {
        assert_eq!(serial_decimal(&[1, 0]), "256");
        assert_eq!(
            serial_decimal(&[0x7f; 20]),
            "727885129180488904360266563744972327436484050815"
        );
        assert_eq!(serial_from_decimal(" 256 ").unwrap(), vec![1, 0]);
        assert_eq!(serial_from_decimal("12345").unwrap(), vec![0x30, 0x39]);
        assert_eq!(
            serial_from_decimal("").unwrap_err().to_json(),
            r#"{"code":400,"message":"invalid serial number \"\" (decimal expected)"}"#
        );
        assert_eq!(
            serial_from_decimal("0x1f").unwrap_err().message(),
            r#"invalid serial number "0x1f" (decimal expected)"#
        );
    }

    #[test]
    fn extensions_in_go_order_and_only_when_asked() {
        let key = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        // Nothing optional: basicConstraints and SKI only (a self-signed root: no AKI).
        let der = self_sign(&key, &bare(&key, "plain")).unwrap();
        assert_eq!(
            ext_list(&der),
            vec![
                ("2.5.29.19".to_string(), true),
                ("2.5.29.14".to_string(), false)
            ]
        );
        // Everything: KU, EKU, BC, SKI, AKI, AIA, SAN, policies, CRL DP, OCSP no-check.
        let mut t = bare(&key, "full");
        t.key_usage = crate::config::ku::DIGITAL_SIGNATURE;
        t.ext_key_usages = vec![&[1, 3, 6, 1, 5, 5, 7, 3, 1]];
        t.ocsp_urls = vec!["http://ocsp.example".into()];
        t.sans = crate::csr::classify_hosts(&["full.example"]);
        t.policies = vec![der::Policy {
            oid: vec![2, 23, 140, 1, 2, 1],
            cps: vec![],
            notices: vec![],
        }];
        t.crl_url = Some("http://crl.example/ca.crl".into());
        t.ocsp_no_check = true;
        t.with_aki = true;
        let der = self_sign(&key, &t).unwrap();
        let oids: Vec<(String, bool)> = [
            ("2.5.29.15", true),
            ("2.5.29.37", false),
            ("2.5.29.19", true),
            ("2.5.29.14", false),
            ("2.5.29.35", false),
            ("1.3.6.1.5.5.7.1.1", false),
            ("2.5.29.17", false),
            ("2.5.29.32", false),
            ("2.5.29.31", false),
            ("1.3.6.1.5.5.7.48.1.5", false),
        ]
        .iter()
        .map(|(o, c)| (o.to_string(), *c))
        .collect();
        assert_eq!(ext_list(&der), oids);
        // The AKI of a self-signed end-entity certificate is its own key identifier.
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let aki = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(aki.0, key_id(key.public_key_bits()).as_slice());
        // RFC 5280 §4.2.1.6: the SAN is critical when the subject is empty.
        let mut t = bare(&key, "");
        t.subject_attrs.clear();
        t.subject_der = der::encode_name(&[]).unwrap();
        t.sans = crate::csr::classify_hosts(&["anon.example"]);
        let sans = ext_list(&self_sign(&key, &t).unwrap());
        assert!(sans.contains(&("2.5.29.17".to_string(), true)), "{sans:?}");
    }

    #[test]
    fn refuses_empty_validity_and_someone_elses_key() {
        let key = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        let mut t = bare(&key, "x");
        t.not_after = t.not_before;
        assert_eq!(
            self_sign(&key, &t).unwrap_err().message(),
            "notAfter is not after notBefore"
        );
        let other = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        assert_eq!(
            self_sign(&other, &bare(&key, "x")).unwrap_err().to_json(),
            r#"{"code":2300,"message":"Private key does not match public key"}"#
        );
        let ca = own_ca(crate::config::ku::CERT_SIGN, None);
        let e = Ca::new(ca.cert_pem().as_bytes(), other).unwrap_err();
        assert_eq!(e.code(), 2300);
    }

    #[test]
    fn ca_reports_its_identity_and_signs_only_while_valid() {
        let ca = own_ca(
            crate::config::ku::CERT_SIGN | crate::config::ku::CRL_SIGN,
            Some(2),
        );
        assert_eq!(
            first_certificate_der(ca.cert_pem().as_bytes()).unwrap(),
            ca.cert_der
        );
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(
            ca.aki_hex(),
            hex::encode(key_id(ca.key().public_key_bits()))
        );
        assert_eq!(ca.aki_hex().len(), 40);
        assert_eq!(format!("{ca:?}"), format!("Ca(aki={})", ca.aki_hex()));
        assert_eq!(ca.facts().path_len, Some(2));
        let leaf_key = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        let mut t = bare(&leaf_key, "leaf");
        t.with_aki = true;
        // Valid from notBefore to notAfter inclusive (Go: !now.Before(nb) && !now.After(na)).
        for now in [ca.not_before, ca.not_after] {
            let der = ca.sign(&t, now).unwrap();
            let (_, cert) = X509Certificate::from_der(&der).unwrap();
            assert_eq!(cert.issuer().as_raw(), ca.subject_der.as_slice());
            let (_, ca_cert) = X509Certificate::from_der(&ca.cert_der).unwrap();
            assert!(cert.verify_signature(Some(ca_cert.public_key())).is_ok());
        }
        let second = time::Duration::seconds(1);
        let late = ca.sign(&t, ca.not_after + second).unwrap_err();
        assert_eq!(late.code(), 1211);
        assert_eq!(
            late.message(),
            "the CA certificate expired at 2026-01-01T01:00:00Z; renew the CA before signing"
        );
        assert_eq!(
            ca.sign(&t, ca.not_before - second).unwrap_err().to_json(),
            r#"{"code":1211,"message":"the CA certificate is not valid yet"}"#
        );
    }

    #[test]
    fn crls_need_crl_sign() {
        let now = time::macros::datetime!(2026-01-01 00:30:00 UTC);
        let later = now + time::Duration::hours(1);
        let ok = own_ca(
            crate::config::ku::CERT_SIGN | crate::config::ku::CRL_SIGN,
            None,
        );
        let der = ok.sign_crl(&[], now, later, 1).unwrap();
        let info = crate::certinfo::crl(&der).unwrap();
        assert_eq!(info.crl_number, "1");
        let no_crl = own_ca(crate::config::ku::CERT_SIGN, None);
        assert_eq!(
            no_crl.sign_crl(&[], now, later, 1).unwrap_err().to_json(),
            r#"{"code":1210,"message":"the CA certificate's key usage does not include cRLSign"}"#
        );
    }

    #[test]
    fn certificate_pem_errors_are_cfssls() {
        assert_eq!(
            first_certificate_der(b"").unwrap_err().to_json(),
            r#"{"code":1002,"message":"Failed to decode certificate: no PEM block found"}"#
        );
        let key_pem = crate::keys::pem_encode("PRIVATE KEY", b"\x30\x00");
        assert_eq!(
            first_certificate_der(key_pem.as_bytes())
                .unwrap_err()
                .to_json(),
            r#"{"code":1003,"message":"Failed to parse certificate: expected a CERTIFICATE PEM block, found \"PRIVATE KEY\""}"#
        );
        let cert = crate::keys::pem_encode("CERTIFICATE", b"\x30\x00");
        assert_eq!(first_certificate_der(cert.as_bytes()).unwrap(), b"\x30\x00");
    }

    /// AIA is written when the profile names an OCSP responder, an issuer URL, or both, and
    /// carries exactly what was named.
    #[test]
    fn authority_info_access_for_either_url() {
        use crate::config::Config;
        use crate::csr::CertificateRequest;
        use crate::policy::{IssuerFacts, Overrides, leaf_template};
        use x509_parser::prelude::*;
        let root = CertificateRequest::from_json(br#"{"CN":"aia root"}"#).unwrap();
        let ss = crate::issue::init_ca(&root, None).unwrap();
        let ca = Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap();
        let cfg = Config::from_json(
            br#"{"signing":{"profiles":{
                "none":   {"usages":["server auth"],"expiry":"1h"},
                "ocsp":   {"usages":["server auth"],"expiry":"1h","ocsp_url":"http://ocsp.example"},
                "issuer": {"usages":["server auth"],"expiry":"1h","issuer_urls":["http://ca.example/ca.crt"]},
                "both":   {"usages":["server auth"],"expiry":"1h","ocsp_url":"http://ocsp.example",
                           "issuer_urls":["http://ca.example/ca.crt"]}
            }}}"#,
        )
        .unwrap();
        let leaf = CertificateRequest::from_json(br#"{"CN":"aia.example"}"#).unwrap();
        let csr = crate::csr::parse_der(&crate::csr::generate(&leaf).unwrap().csr_der).unwrap();
        let now = OffsetDateTime::now_utc();
        let aia = |profile: &str| -> Option<(Vec<String>, Vec<String>)> {
            let t = leaf_template(
                cfg.signing.profile(profile).unwrap(),
                &csr,
                &Overrides::default(),
                IssuerFacts::default(),
                now,
                new_serial().unwrap(),
            )
            .unwrap();
            let der = ca.sign(&t, now).unwrap();
            let (_, cert) = X509Certificate::from_der(&der).unwrap();
            cert.extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::AuthorityInfoAccess(a) => {
                        let mut ocsp = vec![];
                        let mut issuers = vec![];
                        for d in &a.accessdescs {
                            if let GeneralName::URI(u) = d.access_location {
                                if d.access_method == oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                                {
                                    ocsp.push(u.to_string());
                                } else {
                                    issuers.push(u.to_string());
                                }
                            }
                        }
                        Some((ocsp, issuers))
                    }
                    _ => None,
                })
        };
        assert_eq!(aia("none"), None);
        let ocsp = vec!["http://ocsp.example".to_string()];
        let issuer = vec!["http://ca.example/ca.crt".to_string()];
        assert_eq!(aia("ocsp"), Some((ocsp.clone(), vec![])));
        assert_eq!(aia("issuer"), Some((vec![], issuer.clone())));
        assert_eq!(aia("both"), Some((ocsp, issuer)));
    }
}
