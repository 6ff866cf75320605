//! Decides what goes into a certificate: profile + parsed CSR + request overrides + issuer facts
//! → a finished [`Template`], or a policy error. Pure: no keys, no signing, no I/O.

use crate::config::{SigningProfile, ku};
use crate::csr::{self, CertificateRequest, ParsedCsr};
use crate::der::{self, NameAttr, Sans, oid};
use crate::duration::parse_go;
use crate::error::{Error, Result};
use crate::keys::KeyAlgo;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

/// Everything the signer needs to build one certificate.
#[derive(Debug, Clone)]
pub struct Template {
    /// serial number, big-endian positive
    pub serial: Vec<u8>,
    /// subject Name DER
    pub subject_der: Vec<u8>,
    /// subject attributes (for records and checks)
    pub subject_attrs: Vec<NameAttr>,
    /// SubjectPublicKeyInfo DER
    pub spki_der: Vec<u8>,
    /// subjectPublicKey bits (SKI input)
    pub public_key_bits: Vec<u8>,
    /// validity start
    pub not_before: OffsetDateTime,
    /// validity end
    pub not_after: OffsetDateTime,
    /// keyUsage bits (0 = no extension)
    pub key_usage: u16,
    /// extKeyUsage OIDs
    pub ext_key_usages: Vec<&'static [u64]>,
    /// CA certificate
    pub is_ca: bool,
    /// pathLenConstraint
    pub path_len: Option<u32>,
    /// subject alternative names
    pub sans: Sans,
    /// AIA OCSP URLs
    pub ocsp_urls: Vec<String>,
    /// AIA caIssuers URLs
    pub issuer_urls: Vec<String>,
    /// CRL distribution point
    pub crl_url: Option<String>,
    /// certificate policies
    pub policies: Vec<der::Policy>,
    /// add id-pkix-ocsp-nocheck
    pub ocsp_no_check: bool,
    /// write an AKI (false for self-signed roots, as cfssl)
    pub with_aki: bool,
}

impl Template {
    /// The subject's common name as Go programs read it (the last CN when there are several:
    /// the name Kubernetes takes as the user), or "".
    pub fn common_name(&self) -> String {
        self.subject_attrs
            .iter()
            .rfind(|a| a.oid == oid::CN)
            .map(|a| a.value.clone())
            .unwrap_or_default()
    }
}

/// What policy needs to know about the issuing CA.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuerFacts {
    /// the issuer's own pathLenConstraint
    pub path_len: Option<u32>,
}

/// Per-request overrides (cfssl's sign request: hosts, subject, …).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// replaces the CSR's SANs entirely when given (an empty list removes them, as cfssl)
    pub hosts: Option<Vec<String>>,
    /// per-attribute-type subject override (CN, names, serialnumber)
    pub subject: Option<CertificateRequest>,
}

/// `now` rounded to the minute (half up), as Go's `Time.Round(time.Minute)`.
pub fn round_minute(now: OffsetDateTime) -> OffsetDateTime {
    let secs = now.unix_timestamp();
    let nanos = now.nanosecond() as i64;
    let total_ms = secs * 1000 + nanos / 1_000_000;
    let rounded = (total_ms + 30_000).div_euclid(60_000) * 60;
    OffsetDateTime::from_unix_timestamp(rounded).unwrap_or(now)
}

/// `t + d`, refusing results past year 9999 (X.509 GeneralizedTime) instead of overflowing.
pub fn add_checked(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime> {
    t.checked_add(d)
        .filter(|x| (1..=9999).contains(&x.year()))
        .ok_or_else(|| {
            Error::Policy(
                5200,
                "validity period is out of range (past year 9999)".into(),
            )
        })
}

/// Key usages a key type may carry: keyEncipherment/dataEncipherment only for RSA (RFC 5480 §3,
/// RFC 8410 §5). cfssl writes them for every key; kpki drops them so ECDSA and Ed25519
/// certificates lint clean.
pub fn usable_key_usage(key: KeyAlgo, bits: u16) -> u16 {
    match key {
        KeyAlgo::Rsa(_) => bits,
        KeyAlgo::Ed25519 => {
            bits & !(ku::KEY_ENCIPHERMENT
                | ku::DATA_ENCIPHERMENT
                | ku::KEY_AGREEMENT
                | ku::ENCIPHER_ONLY
                | ku::DECIPHER_ONLY)
        }
        _ => bits & !(ku::KEY_ENCIPHERMENT | ku::DATA_ENCIPHERMENT),
    }
}

const GO_ORDER: [&[u64]; 7] = [
    oid::C,
    oid::ST,
    oid::L,
    oid::O,
    oid::OU,
    oid::CN,
    oid::SERIAL_NUMBER,
];

/// Applies a subject override: every attribute type the override names replaces the CSR's
/// values of that type; the result is written in Go's order (C, ST, L, O, OU, CN, serialNumber,
/// then the rest as they were).
pub fn override_subject(base: &[NameAttr], over: &CertificateRequest) -> Result<Vec<NameAttr>> {
    let over_attrs = over.subject_attrs()?;
    let mut merged: Vec<NameAttr> = base
        .iter()
        .filter(|a| !over_attrs.iter().any(|o| o.oid == a.oid))
        .cloned()
        .collect();
    merged.extend(over_attrs);
    let rank = |a: &NameAttr| {
        GO_ORDER
            .iter()
            .position(|o| *o == a.oid.as_slice())
            .unwrap_or(GO_ORDER.len())
    };
    merged.sort_by_key(rank); // stable: keeps order within a type and among the rest
    Ok(merged)
}

/// Every common name of `subject_attrs` and every DNS, email and URI SAN must match the profile's
/// `name_whitelist` (cfssl: `Find`, i.e. unanchored unless the pattern anchors itself).
fn whitelist_check(
    profile: &SigningProfile,
    subject_attrs: &[NameAttr],
    sans: &Sans,
) -> Result<()> {
    let Some(re) = &profile.name_whitelist else {
        return Ok(());
    };
    // Go keeps only the last CN of a subject (pkix.Name), so cfssl checks that one; kpki keeps
    // every CN in the certificate, so every one is checked: a permitted first CN cannot carry an
    // unchecked last one (which Go programs, Kubernetes among them, would read as the name).
    // cfssl compat: an empty or absent CN is not checked.
    let cns = subject_attrs
        .iter()
        .filter(|a| a.oid == oid::CN && !a.value.is_empty())
        .map(|a| a.value.clone());
    let names = cns
        .chain(sans.dns.iter().cloned())
        .chain(sans.email.iter().cloned())
        .chain(sans.uri.iter().cloned());
    for n in names {
        if !re.is_match(&n) {
            return Err(Error::Policy(
                5500,
                format!(
                    "Request does not match policy whitelist: {n:?} does not match {:?}",
                    re.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Builds the template for a certificate signed by a CA under `profile`.
pub fn leaf_template(
    profile: &SigningProfile,
    csr: &ParsedCsr,
    over: &Overrides,
    issuer: IssuerFacts,
    now: OffsetDateTime,
    serial: Vec<u8>,
) -> Result<Template> {
    // Subject: verbatim from the CSR unless overridden.
    let (subject_der, subject_attrs) = match &over.subject {
        Some(s) => {
            let attrs = override_subject(&csr.subject_attrs, s)?;
            (der::encode_name(&attrs)?, attrs)
        }
        None => (csr.subject_der.clone(), csr.subject_attrs.clone()),
    };
    // cfssl compat: an explicit hosts list — even an empty one — replaces the CSR's SANs.
    let mut sans = match over.hosts.as_deref() {
        Some(h) => csr::classify_hosts(h),
        None => csr.sans.clone(),
    };

    // CA decisions.
    let csr_wants_ca = matches!(csr.basic_constraints, Some((true, _)));
    let is_ca = profile.ca_constraint.is_ca;
    if csr_wants_ca && !is_ca {
        return Err(Error::policy(
            "Policy violation request: the CSR asks for a CA certificate (basicConstraints CA:TRUE) \
             but the profile has no ca_constraint.is_ca",
        ));
    }
    let mut path_len = None;
    if is_ca {
        path_len = profile
            .ca_constraint
            .path_len()
            .or(csr.basic_constraints.and_then(|(_, p)| p));
        match issuer.path_len {
            Some(0) => {
                return Err(Error::policy(
                    "Policy violation request: the issuing CA has pathlen 0 and cannot issue CA certificates",
                ));
            }
            Some(n) => match path_len {
                Some(p) if p >= n => {
                    return Err(Error::policy(format!(
                        "Policy violation request: requested pathlen {p} is not below the issuing CA's pathlen {n}"
                    )));
                }
                None => path_len = Some(n - 1),
                _ => {}
            },
            None => {}
        }
        // cfssl compat: CA certificates keep IP SANs only.
        sans.dns.clear();
        sans.email.clear();
        sans.uri.clear();
    }

    whitelist_check(profile, &subject_attrs, &sans)?;

    let mut key_usage = usable_key_usage(csr.key_algo, profile.key_usage);
    if is_ca {
        key_usage |= ku::CERT_SIGN;
    }
    let not_before = profile
        .not_before
        .unwrap_or_else(|| round_minute(now) - profile.backdate);
    let not_after = match profile.not_after {
        Some(t) => t,
        None => add_checked(not_before, profile.expiry)?,
    };
    Ok(Template {
        serial,
        subject_der,
        subject_attrs,
        spki_der: csr.spki_der.clone(),
        public_key_bits: csr.public_key_bits.clone(),
        not_before,
        not_after,
        key_usage,
        ext_key_usages: if is_ca && profile.ext_key_usages.is_empty() {
            vec![]
        } else {
            profile.ext_key_usages.clone()
        },
        is_ca,
        path_len,
        sans,
        ocsp_urls: (!profile.ocsp_url.is_empty())
            .then(|| profile.ocsp_url.clone())
            .into_iter()
            .collect(),
        issuer_urls: profile.issuer_urls.clone(),
        crl_url: (!profile.crl_url.is_empty()).then(|| profile.crl_url.clone()),
        policies: profile.policies.clone(),
        ocsp_no_check: profile.ocsp_no_check,
        with_aki: true,
    })
}

/// Template for a self-signed CA from CSR JSON (`gencert -initca`): keyCertSign + cRLSign,
/// CA:TRUE (pathlen from `ca.pathlen`/`ca.pathlenzero`), 43800h unless `ca.expiry`, IP SANs only,
/// no AKI — as cfssl.
pub fn ca_template(
    req: &CertificateRequest,
    csr: &ParsedCsr,
    now: OffsetDateTime,
    serial: Vec<u8>,
) -> Result<Template> {
    if !req.has_subject() {
        return Err(Error::policy("missing subject information"));
    }
    let ca = req.ca.clone().unwrap_or_default();
    let expiry = if ca.expiry.is_empty() {
        Duration::hours(43800)
    } else {
        parse_go(&ca.expiry)?
    };
    let backdate = if ca.backdate.is_empty() {
        Duration::minutes(5)
    } else {
        parse_go(&ca.backdate)?
    };
    if expiry <= Duration::ZERO {
        return Err(Error::Policy(5200, "ca.expiry must be positive".into()));
    }
    let mut sans = csr.sans.clone();
    sans.dns.clear();
    sans.email.clear();
    sans.uri.clear();
    let not_before = round_minute(now) - backdate;
    Ok(Template {
        serial,
        subject_der: csr.subject_der.clone(),
        subject_attrs: csr.subject_attrs.clone(),
        spki_der: csr.spki_der.clone(),
        public_key_bits: csr.public_key_bits.clone(),
        not_before,
        not_after: add_checked(not_before, expiry)?,
        key_usage: ku::CERT_SIGN | ku::CRL_SIGN,
        ext_key_usages: vec![],
        is_ca: true,
        path_len: (ca.pathlen > 0 || ca.pathlenzero).then_some(ca.pathlen),
        sans,
        ocsp_urls: vec![],
        issuer_urls: vec![],
        crl_url: (!req.crl_url.is_empty()).then(|| req.crl_url.clone()),
        policies: vec![],
        ocsp_no_check: false,
        with_aki: false,
    })
}

/// Template for re-issuing an existing CA (`gencert -renewca`): same subject, key, path length
/// and lifetime, starting now (rounded, minus 5 minutes), keyCertSign + cRLSign, no AKI.
pub fn renewed_ca_template(
    subject_der: &[u8],
    spki_der: &[u8],
    public_key_bits: &[u8],
    lifetime: Duration,
    path_len: Option<u32>,
    now: OffsetDateTime,
    serial: Vec<u8>,
) -> Result<Template> {
    let attrs = x509_parser::x509::X509Name::from_der(subject_der)
        .map_err(|_| Error::Certificate(1003, "Failed to parse certificate subject".into()))
        .and_then(|(_, n)| csr::name_attrs(&n))?;
    let not_before = round_minute(now) - Duration::minutes(5);
    Ok(Template {
        serial,
        subject_der: subject_der.to_vec(),
        subject_attrs: attrs,
        spki_der: spki_der.to_vec(),
        public_key_bits: public_key_bits.to_vec(),
        not_before,
        not_after: add_checked(not_before, lifetime)?,
        key_usage: ku::CERT_SIGN | ku::CRL_SIGN,
        ext_key_usages: vec![],
        is_ca: true,
        path_len,
        sans: Sans::default(),
        ocsp_urls: vec![],
        issuer_urls: vec![],
        crl_url: None,
        policies: vec![],
        ocsp_no_check: false,
        with_aki: false,
    })
}

/// cfssl's selfsign lifetime when the profile has no `expiry` (and for the built-in default).
pub const SELFSIGN_EXPIRY: Duration = Duration::hours(2190);

/// Template for `selfsign`: the profile's usages and expiry (2190h when it has none), notBefore =
/// now − 5 min (not rounded), notAfter = now + expiry, SANs from the CSR, the profile's `is_ca`
/// and caIssuers URLs (OCSP and CRL URLs are not written, as in cfssl), and an AKI equal to its
/// own SKI (cfssl writes none; RFC 5280 requires it for end-entity certificates).
pub fn selfsign_template(
    profile: &SigningProfile,
    csr: &ParsedCsr,
    now: OffsetDateTime,
    serial: Vec<u8>,
) -> Result<Template> {
    // cfssl compat: a profile without usages (e.g. a remote one) cannot self-sign.
    if profile.key_usage == 0 && profile.ext_key_usages.is_empty() {
        return Err(Error::Policy(
            5100,
            "Invalid policy: no key usage available".into(),
        ));
    }
    whitelist_check(profile, &csr.subject_attrs, &csr.sans)?;
    // cfssl compat: a zero expiry (a profile with only `not_after`, or a remote one) is 2190h;
    // `not_before`/`not_after` and `backdate` are not applied by selfsign.
    let expiry = if profile.expiry.is_positive() {
        profile.expiry
    } else {
        SELFSIGN_EXPIRY
    };
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let is_ca = profile.ca_constraint.is_ca;
    Ok(Template {
        serial,
        subject_der: csr.subject_der.clone(),
        subject_attrs: csr.subject_attrs.clone(),
        spki_der: csr.spki_der.clone(),
        public_key_bits: csr.public_key_bits.clone(),
        not_before: now - Duration::minutes(5),
        // cfssl compat: counted from now, not from the backdated notBefore.
        not_after: add_checked(now, expiry)?,
        key_usage: usable_key_usage(csr.key_algo, profile.key_usage),
        ext_key_usages: profile.ext_key_usages.clone(),
        is_ca,
        // cfssl writes no pathLenConstraint here (cfssl #889); kpki honours max_path_len.
        path_len: is_ca.then(|| profile.ca_constraint.path_len()).flatten(),
        sans: csr.sans.clone(),
        ocsp_urls: vec![],
        issuer_urls: profile.issuer_urls.clone(),
        crl_url: None,
        policies: vec![],
        ocsp_no_check: false,
        with_aki: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn encipherment_usages_follow_the_key_type() {
        use ku::*;
        let all: u16 = (0..9).map(|b| 1u16 << b).sum();
        let ec_drops = KEY_ENCIPHERMENT | DATA_ENCIPHERMENT;
        let ed_drops = ec_drops | KEY_AGREEMENT | ENCIPHER_ONLY | DECIPHER_ONLY;
        assert_eq!(usable_key_usage(KeyAlgo::Rsa(2048), all), all);
        for ec in [KeyAlgo::EcdsaP256, KeyAlgo::EcdsaP384, KeyAlgo::EcdsaP521] {
            // ECDH keyAgreement stays possible for EC keys.
            assert_eq!(usable_key_usage(ec, all), all & !ec_drops, "{ec:?}");
        }
        assert_eq!(usable_key_usage(KeyAlgo::Ed25519, all), all & !ed_drops);
        // The classic "signing, key encipherment" leaf: only digitalSignature survives for EC.
        let leaf = DIGITAL_SIGNATURE | KEY_ENCIPHERMENT;
        assert_eq!(
            usable_key_usage(KeyAlgo::EcdsaP256, leaf),
            DIGITAL_SIGNATURE
        );
        assert_eq!(usable_key_usage(KeyAlgo::Rsa(4096), leaf), leaf);
        assert_eq!(usable_key_usage(KeyAlgo::Ed25519, 0), 0);
    }

    fn csr_for(json: &str) -> ParsedCsr {
        let r = CertificateRequest::from_json(json.as_bytes()).unwrap();
        csr::parse_der(&csr::generate(&r).unwrap().csr_der).unwrap()
    }

    #[test]
    fn rounding_is_half_up() {
        let t = time::macros::datetime!(2026-11-22 01:20:47 UTC);
        assert_eq!(
            round_minute(t),
            time::macros::datetime!(2026-11-22 01:21:00 UTC)
        );
        let t = time::macros::datetime!(2026-11-22 01:20:29 UTC);
        assert_eq!(
            round_minute(t),
            time::macros::datetime!(2026-11-22 01:20:00 UTC)
        );
    }

    #[test]
    fn leaf_validity_usages_and_host_override() {
        let cfg = crate::profiles::builtin();
        let p = cfg.signing.profile("etcd").unwrap();
        let csr = csr_for(r#"{"CN":"etcd-1","hosts":["a.example"]}"#);
        let now = time::macros::datetime!(2026-11-22 01:20:47 UTC);
        let over = Overrides {
            hosts: Some(vec!["10.0.0.1".into(), "node1".into()]),
            subject: None,
        };
        let t = leaf_template(p, &csr, &over, IssuerFacts::default(), now, vec![1]).unwrap();
        assert_eq!(
            t.not_before,
            time::macros::datetime!(2026-11-22 01:16:00 UTC)
        );
        assert_eq!(t.not_after - t.not_before, Duration::hours(87600));
        assert_eq!(t.sans.dns, vec!["node1"]);
        let none = Overrides {
            hosts: Some(vec![]),
            subject: None,
        };
        let t2 = leaf_template(p, &csr, &none, IssuerFacts::default(), now, vec![1]).unwrap();
        assert!(
            t2.sans.is_empty(),
            "an empty hosts list removes the CSR's SANs"
        );
        let keep = leaf_template(
            p,
            &csr,
            &Overrides::default(),
            IssuerFacts::default(),
            now,
            vec![1],
        )
        .unwrap();
        assert_eq!(keep.sans.dns, vec!["a.example"]);
        assert_eq!(t.sans.ip.len(), 1);
        // ECDSA key: key encipherment dropped, digital signature kept
        assert_eq!(t.key_usage, ku::DIGITAL_SIGNATURE);
        assert_eq!(t.ext_key_usages.len(), 2);
        assert!(!t.is_ca);
    }

    #[test]
    fn ca_requests_need_a_ca_profile_and_respect_issuer_pathlen() {
        let cfg = crate::profiles::builtin();
        let now = OffsetDateTime::now_utc();
        let csr = csr_for(r#"{"CN":"int","ca":{"pathlen":1}}"#);
        let e = leaf_template(
            cfg.signing.profile("www").unwrap(),
            &csr,
            &Overrides::default(),
            IssuerFacts::default(),
            now,
            vec![1],
        )
        .unwrap_err();
        assert_eq!(e.code(), 5300);
        let int = cfg.signing.profile("intermediate").unwrap();
        let t = leaf_template(
            int,
            &csr,
            &Overrides::default(),
            IssuerFacts::default(),
            now,
            vec![1],
        )
        .unwrap();
        assert!(t.is_ca);
        assert_eq!(t.path_len, Some(0));
        let e = leaf_template(
            int,
            &csr,
            &Overrides::default(),
            IssuerFacts { path_len: Some(0) },
            now,
            vec![1],
        )
        .unwrap_err();
        assert_eq!(e.code(), 5300);
    }

    #[test]
    fn intermediate_pathlen_comes_from_profile_csr_or_issuer() {
        let cfg = Config::from_json(
            br#"{"signing":{"profiles":{
                "open":   {"usages":["signing"],"expiry":"1h","ca_constraint":{"is_ca":true}},
                "two":    {"usages":["cert sign"],"expiry":"1h","ca_constraint":{"is_ca":true,"max_path_len":2}},
                "ekus":   {"usages":["cert sign","server auth"],"expiry":"1h","ca_constraint":{"is_ca":true}}
            }}}"#,
        )
        .unwrap();
        let p = |n: &str| cfg.signing.profile(n).unwrap();
        let now = OffsetDateTime::now_utc();
        let plain = csr_for(r#"{"CN":"int","hosts":["int.example","10.0.0.9"]}"#);
        let t = |prof: &str, issuer: Option<u32>| {
            leaf_template(
                p(prof),
                &plain,
                &Overrides::default(),
                IssuerFacts { path_len: issuer },
                now,
                vec![1],
            )
        };
        // Nothing asked: one below the issuer's, or unlimited under an unlimited issuer.
        assert_eq!(t("open", Some(2)).unwrap().path_len, Some(1));
        assert_eq!(t("open", None).unwrap().path_len, None);
        // The profile's pathlen must stay below the issuer's.
        assert_eq!(t("two", Some(3)).unwrap().path_len, Some(2));
        assert_eq!(t("two", Some(2)).unwrap_err().code(), 5300);
        assert_eq!(t("two", None).unwrap().path_len, Some(2));
        let ca = t("open", None).unwrap();
        assert!(ca.is_ca);
        assert_eq!(
            ca.key_usage,
            ku::DIGITAL_SIGNATURE | ku::CERT_SIGN,
            "keyCertSign is added for a CA"
        );
        assert!(
            ca.ext_key_usages.is_empty(),
            "no EKU unless the profile names one"
        );
        // cfssl compat: CA certificates keep IP SANs only.
        assert!(ca.sans.dns.is_empty());
        assert_eq!(ca.sans.ip.len(), 1);
        assert_eq!(t("ekus", None).unwrap().ext_key_usages.len(), 1);
    }

    #[test]
    fn initca_pathlen_from_the_ca_section() {
        let now = OffsetDateTime::now_utc();
        let pathlen = |ca: &str| {
            let json = format!(r#"{{"CN":"root","ca":{ca}}}"#);
            let req = CertificateRequest::from_json(json.as_bytes()).unwrap();
            let csr = csr::parse_der(&csr::generate(&req).unwrap().csr_der).unwrap();
            let t = ca_template(&req, &csr, now, vec![1]).unwrap();
            assert!(t.is_ca);
            assert_eq!(t.key_usage, ku::CERT_SIGN | ku::CRL_SIGN);
            t.path_len
        };
        assert_eq!(pathlen("{}"), None);
        assert_eq!(pathlen(r#"{"pathlen":2}"#), Some(2));
        assert_eq!(pathlen(r#"{"pathlen":0,"pathlenzero":true}"#), Some(0));
        assert_eq!(pathlen(r#"{"pathlen":0,"pathlenzero":false}"#), None);
    }

    #[test]
    fn whitelist_refuses_names_outside() {
        let cfg = Config::from_json(br#"{"signing":{"profiles":{"w":{"usages":["server auth"],"expiry":"1h","name_whitelist":"\\.example\\.com$"}}}}"#).unwrap();
        let p = cfg.signing.profile("w").unwrap();
        let ok = csr_for(r#"{"CN":"a.example.com","hosts":["b.example.com"]}"#);
        leaf_template(
            p,
            &ok,
            &Overrides::default(),
            IssuerFacts::default(),
            OffsetDateTime::now_utc(),
            vec![1],
        )
        .unwrap();
        let bad = csr_for(r#"{"CN":"a.example.com","hosts":["evil.org"]}"#);
        let e = leaf_template(
            p,
            &bad,
            &Overrides::default(),
            IssuerFacts::default(),
            OffsetDateTime::now_utc(),
            vec![1],
        )
        .unwrap_err();
        assert_eq!(e.code(), 5500);
    }

    #[test]
    fn common_name_is_the_last_cn_as_go_reads_it() {
        let csr = csr_for(r#"{"CN":"only"}"#);
        let now = time::macros::datetime!(2026-11-22 01:20:47 UTC);
        let p = SigningProfile::cfssl_default();
        let mut t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert_eq!(t.common_name(), "only");
        t.subject_attrs = vec![
            NameAttr::new(oid::CN, "first"),
            NameAttr::new(oid::O, "org"),
            NameAttr::new(oid::CN, "last"),
            NameAttr::new(oid::OU, "unit"),
        ];
        assert_eq!(t.common_name(), "last");
        t.subject_attrs = vec![NameAttr::new(oid::O, "org")];
        assert_eq!(t.common_name(), "");
    }

    #[test]
    fn rounding_matches_go_round_minute_to_the_nanosecond() {
        use time::macros::datetime;
        let cases = [
            (
                datetime!(2026-11-22 01:20:30 UTC),
                datetime!(2026-11-22 01:21:00 UTC),
            ),
            (
                datetime!(2026-11-22 01:20:29.999_999_999 UTC),
                datetime!(2026-11-22 01:20:00 UTC),
            ),
            (
                datetime!(2026-11-22 01:20:30.5 UTC),
                datetime!(2026-11-22 01:21:00 UTC),
            ),
            (
                datetime!(2026-11-22 01:20:00.123_456_789 UTC),
                datetime!(2026-11-22 01:20:00 UTC),
            ),
            (
                datetime!(2026-11-22 01:20:59.999_999_999 UTC),
                datetime!(2026-11-22 01:21:00 UTC),
            ),
            (
                datetime!(2026-11-22 01:20:00 UTC),
                datetime!(2026-11-22 01:20:00 UTC),
            ),
            // Before 1970 (negative Unix time) the half still rounds up, as Go.
            (
                datetime!(1969-12-31 23:58:30 UTC),
                datetime!(1969-12-31 23:59:00 UTC),
            ),
            (
                datetime!(1969-12-31 23:58:29 UTC),
                datetime!(1969-12-31 23:58:00 UTC),
            ),
        ];
        for (t, want) in cases {
            assert_eq!(round_minute(t), want, "{t}");
        }
    }

    #[test]
    fn validity_past_year_9999_is_refused() {
        use time::macros::datetime;
        let t = datetime!(9999-12-31 23:00:00 UTC);
        assert_eq!(
            add_checked(t, Duration::minutes(59)).unwrap(),
            datetime!(9999-12-31 23:59:00 UTC)
        );
        assert_eq!(
            add_checked(t, Duration::hours(1)).unwrap_err().to_json(),
            r#"{"code":5200,"message":"validity period is out of range (past year 9999)"}"#
        );
        assert_eq!(
            add_checked(datetime!(2026-01-01 00:00:00 UTC), Duration::hours(24)).unwrap(),
            datetime!(2026-01-02 00:00:00 UTC)
        );
    }

    #[test]
    fn whitelist_checks_every_cn_dns_email_and_uri_but_not_other_attributes() {
        let cfg = Config::from_json(
            br#"{"signing":{"profiles":{"w":{"usages":["server auth"],"expiry":"1h",
                "name_whitelist":"example\\.com$"}}}}"#,
        )
        .unwrap();
        let p = cfg.signing.profile("w").unwrap();
        let now = time::macros::datetime!(2026-11-22 01:20:47 UTC);
        let sign = |json: &str| {
            leaf_template(
                p,
                &csr_for(json),
                &Overrides::default(),
                IssuerFacts::default(),
                now,
                vec![1],
            )
        };
        // O, OU and IP SANs are not names the whitelist is about; an empty CN is not checked.
        sign(
            r#"{"CN":"a.example.com","names":[{"O":"Acme Inc","OU":"ops"}],"hosts":["10.0.0.1"]}"#,
        )
        .unwrap();
        sign(r#"{"names":[{"O":"Acme Inc"}],"hosts":["b.example.com"]}"#).unwrap();
        sign(r#"{"CN":"a.example.com","hosts":["ops@example.com","https://example.com"]}"#)
            .unwrap();
        let refused = |json: &str| sign(json).unwrap_err().to_json();
        assert_eq!(
            refused(r#"{"CN":"evil.org"}"#),
            r#"{"code":5500,"message":"Request does not match policy whitelist: \"evil.org\" does not match \"example\\\\.com$\""}"#
        );
        assert!(
            refused(r#"{"CN":"a.example.com","hosts":["ops@evil.org"]}"#).contains("ops@evil.org")
        );
        assert!(
            refused(r#"{"CN":"a.example.com","hosts":["https://evil.org"]}"#)
                .contains("https://evil.org")
        );
        // selfsign applies the same whitelist.
        let e = selfsign_template(p, &csr_for(r#"{"CN":"evil.org"}"#), now, vec![1]).unwrap_err();
        assert_eq!(e.code(), 5500);
    }

    #[test]
    fn leaf_carries_the_profile_urls_and_a_fixed_validity() {
        use time::macros::datetime;
        let cfg = Config::from_json(
            br#"{"signing":{"profiles":{
                "urls":  {"usages":["server auth"],"expiry":"1h","ocsp_url":"http://ocsp.example",
                          "crl_url":"http://crl.example/ca.crl","ocsp_no_check":true},
                "plain": {"usages":["server auth"],"expiry":"1h","backdate":"1m"},
                "fixed": {"usages":["server auth"],"not_before":"2030-01-01T00:00:00Z",
                          "not_after":"2031-01-01T00:00:00Z"}
            }}}"#,
        )
        .unwrap();
        let csr = csr_for(r#"{"CN":"leaf.example"}"#);
        let now = datetime!(2026-11-22 01:20:47 UTC);
        let t = |name: &str| {
            leaf_template(
                cfg.signing.profile(name).unwrap(),
                &csr,
                &Overrides::default(),
                IssuerFacts::default(),
                now,
                vec![1],
            )
            .unwrap()
        };
        let urls = t("urls");
        assert_eq!(urls.ocsp_urls, vec!["http://ocsp.example"]);
        assert_eq!(urls.crl_url.as_deref(), Some("http://crl.example/ca.crl"));
        assert!(urls.ocsp_no_check && urls.with_aki && !urls.is_ca);
        let plain = t("plain");
        assert!(plain.ocsp_urls.is_empty());
        assert_eq!(plain.crl_url, None);
        assert_eq!(plain.not_before, datetime!(2026-11-22 01:20:00 UTC));
        assert_eq!(plain.not_after, datetime!(2026-11-22 02:20:00 UTC));
        let fixed = t("fixed");
        assert_eq!(fixed.not_before, datetime!(2030-01-01 00:00:00 UTC));
        assert_eq!(fixed.not_after, datetime!(2031-01-01 00:00:00 UTC));
    }

    #[test]
    fn leaf_ca_pathlen_from_the_csr_and_the_issuer() {
        let cfg = Config::from_json(
            br#"{"signing":{"profiles":{"open":{"usages":["cert sign"],"expiry":"1h",
                "ca_constraint":{"is_ca":true}}}}}"#,
        )
        .unwrap();
        let p = cfg.signing.profile("open").unwrap();
        let now = OffsetDateTime::now_utc();
        let csr = csr_for(r#"{"CN":"int","ca":{"pathlen":3}}"#);
        let t = |issuer: Option<u32>| {
            leaf_template(
                p,
                &csr,
                &Overrides::default(),
                IssuerFacts { path_len: issuer },
                now,
                vec![1],
            )
        };
        assert_eq!(t(None).unwrap().path_len, Some(3));
        assert_eq!(t(Some(4)).unwrap().path_len, Some(3));
        assert_eq!(
            t(Some(3)).unwrap_err().message(),
            "Policy violation request: requested pathlen 3 is not below the issuing CA's pathlen 3"
        );
        assert_eq!(
            t(Some(0)).unwrap_err().message(),
            "Policy violation request: the issuing CA has pathlen 0 and cannot issue CA certificates"
        );
        // Under an issuer with pathlen 1, an unconstrained request becomes pathlen 0.
        let plain = csr_for(r#"{"CN":"int"}"#);
        let t = leaf_template(
            p,
            &plain,
            &Overrides::default(),
            IssuerFacts { path_len: Some(1) },
            now,
            vec![1],
        )
        .unwrap();
        assert_eq!(t.path_len, Some(0));
    }

    #[test]
    fn subject_override_keeps_the_rest_and_orders_like_go() {
        let base = vec![
            NameAttr::new(oid::CN, "x"),
            NameAttr::new(oid::O, "a"),
            NameAttr::new(&[2, 5, 4, 9], "street"),
            NameAttr::new(oid::C, "US"),
        ];
        let over = CertificateRequest::from_json(br#"{"names":[{"ST":"CA","O":"b"}]}"#).unwrap();
        let m = override_subject(&base, &over).unwrap();
        let got: Vec<(&[u64], &str)> = m
            .iter()
            .map(|a| (a.oid.as_slice(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (oid::C, "US"),
                (oid::ST, "CA"),
                (oid::O, "b"),
                (oid::CN, "x"),
                (&[2, 5, 4, 9][..], "street"),
            ]
        );
        // The leaf takes the overridden subject, encoded.
        let cfg = crate::profiles::builtin();
        let csr = csr_for(r#"{"CN":"x","names":[{"O":"a"}]}"#);
        let over = Overrides {
            hosts: None,
            subject: Some(CertificateRequest::from_json(br#"{"CN":"y"}"#).unwrap()),
        };
        let t = leaf_template(
            cfg.signing.profile("www").unwrap(),
            &csr,
            &over,
            IssuerFacts::default(),
            OffsetDateTime::now_utc(),
            vec![1],
        )
        .unwrap();
        assert_eq!(t.common_name(), "y");
        assert_eq!(
            t.subject_der,
            der::encode_name(&[NameAttr::new(oid::O, "a"), NameAttr::new(oid::CN, "y")]).unwrap()
        );
    }

    #[test]
    fn initca_validity_sans_and_refusals() {
        use time::macros::datetime;
        let now = datetime!(2026-11-22 01:20:47 UTC);
        let t = |json: &str| {
            let req = CertificateRequest::from_json(json.as_bytes()).unwrap();
            let csr = csr_for(r#"{"CN":"root","hosts":["root.example","10.0.0.1"]}"#);
            ca_template(&req, &csr, now, vec![1])
        };
        let d = t(r#"{"CN":"root"}"#).unwrap();
        assert_eq!(d.not_before, datetime!(2026-11-22 01:16:00 UTC));
        assert_eq!(d.not_after - d.not_before, Duration::hours(43800));
        assert_eq!(d.crl_url, None);
        assert!(!d.with_aki);
        assert!(d.sans.dns.is_empty(), "a CA keeps IP SANs only");
        assert_eq!(d.sans.ip.len(), 1);
        let c = t(r#"{"CN":"root","crl_url":"http://crl.example/root.crl",
                      "ca":{"expiry":"2h","backdate":"1h"}}"#)
        .unwrap();
        assert_eq!(c.not_before, datetime!(2026-11-22 00:21:00 UTC));
        assert_eq!(c.not_after, datetime!(2026-11-22 02:21:00 UTC));
        assert_eq!(c.crl_url.as_deref(), Some("http://crl.example/root.crl"));
        assert_eq!(
            t(r#"{"CN":"root","ca":{"expiry":"-1h"}}"#)
                .unwrap_err()
                .to_json(),
            r#"{"code":5200,"message":"ca.expiry must be positive"}"#
        );
        assert_eq!(
            t(r#"{"CN":"root","ca":{"expiry":"0s"}}"#)
                .unwrap_err()
                .code(),
            5200
        );
        assert_eq!(
            t(r#"{"names":[{"C":" "}]}"#).unwrap_err().message(),
            "missing subject information"
        );
        assert!(t(r#"{"names":[{"O":"Acme"}]}"#).is_ok());
    }

    #[test]
    fn renewed_ca_keeps_subject_key_and_lifetime() {
        use time::macros::datetime;
        let attrs = vec![
            NameAttr::new(oid::O, "Acme"),
            NameAttr::new(oid::CN, "Root"),
        ];
        let subject = der::encode_name(&attrs).unwrap();
        let now = datetime!(2026-11-22 01:20:47 UTC);
        let t = renewed_ca_template(
            &subject,
            b"spki",
            b"bits",
            Duration::hours(1000),
            Some(1),
            now,
            vec![9],
        )
        .unwrap();
        assert_eq!(t.not_before, datetime!(2026-11-22 01:16:00 UTC));
        assert_eq!(t.not_after - t.not_before, Duration::hours(1000));
        assert_eq!(t.key_usage, ku::CERT_SIGN | ku::CRL_SIGN);
        assert_eq!(t.subject_attrs, attrs);
        assert_eq!(t.common_name(), "Root");
        assert_eq!((t.path_len, t.is_ca, t.with_aki), (Some(1), true, false));
        assert_eq!(
            renewed_ca_template(
                b"\x05\x00",
                b"",
                b"",
                Duration::hours(1),
                None,
                now,
                vec![1]
            )
            .unwrap_err()
            .to_json(),
            r#"{"code":1003,"message":"Failed to parse certificate subject"}"#
        );
    }

    #[test]
    fn selfsign_starts_five_minutes_ago_and_ends_expiry_from_now_to_the_second() {
        use time::macros::datetime;
        let mut p = SigningProfile::cfssl_default();
        p.expiry = SELFSIGN_EXPIRY;
        let csr = csr_for(r#"{"CN":"self.example","hosts":["self.example"]}"#);
        let now = datetime!(2026-11-22 01:20:47.9 UTC);
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert_eq!(t.not_before, datetime!(2026-11-22 01:15:47 UTC));
        // cfssl: notAfter = now + expiry (observed with cfssl 1.2: 01:17:02 → Feb 22 07:17:02).
        assert_eq!(t.not_after, datetime!(2027-02-21 07:20:47 UTC));
        assert_eq!(t.sans.dns, vec!["self.example"]);
        assert!(t.with_aki && !t.is_ca && t.path_len.is_none());
        assert!(t.ocsp_urls.is_empty() && t.issuer_urls.is_empty() && t.crl_url.is_none());
    }

    fn selfsign_profile(json: &str) -> SigningProfile {
        Config::from_json(format!(r#"{{"signing":{{"profiles":{{"p":{json}}}}}}}"#).as_bytes())
            .unwrap()
            .signing
            .profile("p")
            .unwrap()
            .clone()
    }

    #[test]
    fn selfsign_without_expiry_lasts_2190h_and_ignores_not_before_after() {
        use time::macros::datetime;
        let now = datetime!(2026-11-22 01:20:47 UTC);
        let csr = csr_for(r#"{"CN":"self.example"}"#);
        let p = selfsign_profile(
            r#"{"usages":["signing"],"not_before":"2020-01-01T00:00:00Z","not_after":"2030-01-01T00:00:00Z"}"#,
        );
        assert!(p.expiry.is_zero(), "{:?}", p.expiry);
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert_eq!(t.not_before, datetime!(2026-11-22 01:15:47 UTC));
        assert_eq!(t.not_after, now + Duration::hours(2190));
        // A profile's own expiry wins, counted from now; backdate is not applied.
        let p = selfsign_profile(r#"{"usages":["signing"],"expiry":"3h","backdate":"1h"}"#);
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert_eq!(t.not_before, now - Duration::minutes(5));
        assert_eq!(t.not_after, now + Duration::hours(3));
    }

    #[test]
    fn selfsign_refuses_a_profile_without_usages_with_5100() {
        let csr = csr_for(r#"{"CN":"self.example"}"#);
        let now = OffsetDateTime::now_utc();
        let mut p = selfsign_profile(r#"{"usages":["signing"],"expiry":"1h"}"#);
        p.key_usage = 0;
        p.ext_key_usages.clear();
        assert_eq!(
            selfsign_template(&p, &csr, now, vec![1])
                .unwrap_err()
                .to_json(),
            r#"{"code":5100,"message":"Invalid policy: no key usage available"}"#
        );
        // An EKU alone is enough (no keyUsage extension is then written).
        p.ext_key_usages = vec![&[1, 3, 6, 1, 5, 5, 7, 3, 1]];
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert_eq!(t.key_usage, 0);
    }

    #[test]
    fn selfsign_takes_is_ca_path_len_and_issuer_urls_from_the_profile() {
        let csr = csr_for(r#"{"CN":"self.example"}"#);
        let now = OffsetDateTime::now_utc();
        let p = selfsign_profile(
            r#"{"usages":["cert sign","crl sign"],"expiry":"1h","issuer_urls":["http://i.example/ca"],"ocsp_url":"http://o.example","crl_url":"http://c.example/crl","ca_constraint":{"is_ca":true,"max_path_len":1}}"#,
        );
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert!(t.is_ca);
        assert_eq!(t.path_len, Some(1));
        assert_eq!(t.issuer_urls, ["http://i.example/ca"]);
        // cfssl compat: no OCSP or CRL URL in a self-signed certificate.
        assert!(t.ocsp_urls.is_empty() && t.crl_url.is_none());
        // Not a CA: no path length even when the constraint names one.
        let p = selfsign_profile(
            r#"{"usages":["signing"],"expiry":"1h","ca_constraint":{"max_path_len":2}}"#,
        );
        let t = selfsign_template(&p, &csr, now, vec![1]).unwrap();
        assert!(!t.is_ca && t.path_len.is_none());
    }

    #[test]
    fn subject_override_replaces_per_type() {
        let base = vec![
            NameAttr::new(oid::C, "US"),
            NameAttr::new(oid::O, "a"),
            NameAttr::new(oid::CN, "x"),
        ];
        let over =
            CertificateRequest::from_json(br#"{"CN":"y","names":[{"O":"b"},{"O":"c"}]}"#).unwrap();
        let m = override_subject(&base, &over).unwrap();
        let vals: Vec<&str> = m.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(vals, vec!["US", "b", "c", "y"]);
    }
}
