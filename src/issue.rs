//! THE signing path, shared by the CLI and the server: parse + verify the CSR → pick the
//! profile → policy builds the template → the signer signs. Also `-initca`, `selfsign` and
//! key+CSR+certificate generation. Synchronous and free of I/O: callers record the result
//! (db) before they answer.

use crate::config::{Signing, SigningProfile};
use crate::csr::{self, CertificateRequest};
use crate::error::{CodedMessage, Error, Result};
use crate::keys::{PrivateKey, pem_encode};
use crate::policy::{self, Overrides};
use crate::signer::{self, Ca};
use time::OffsetDateTime;

/// A signing request, as cfssl's `sign` command and `/sign` endpoint take it.
#[derive(Debug, Clone, Default)]
pub struct SignRequest {
    /// PEM CSR
    pub csr_pem: Vec<u8>,
    /// SANs replacing the CSR's (an empty list removes them)
    pub hosts: Option<Vec<String>>,
    /// subject override
    pub subject: Option<CertificateRequest>,
    /// profile name ("" = default)
    pub profile: String,
    /// signer label (stored as ca_label)
    pub label: String,
}

/// One issued certificate and the facts a record needs.
#[derive(Debug, Clone)]
pub struct Issued {
    /// certificate DER
    pub cert_der: Vec<u8>,
    /// certificate PEM
    pub cert_pem: String,
    /// decimal serial
    pub serial: String,
    /// issuer key id, lower-case hex (cfssl's certdb AKI)
    pub aki: String,
    /// validity start
    pub not_before: OffsetDateTime,
    /// validity end
    pub not_after: OffsetDateTime,
    /// subject CN
    pub common_name: String,
    /// DNS SANs (what cfssl stores in `sans`)
    pub dns_sans: Vec<String>,
    /// profile used ("" = default)
    pub profile: String,
    /// label given
    pub label: String,
    /// non-fatal warnings (cfssl's "lacks a hosts field")
    pub warnings: Vec<CodedMessage>,
}

/// cfssl's warning for a certificate without hosts (CA/Browser Forum BR 10.2.3).
pub fn hosts_warning() -> CodedMessage {
    CodedMessage {
        code: 5300,
        message: "This certificate lacks a \"hosts\" field. This makes it unsuitable for websites. \
For more information see the Baseline Requirements for the Issuance and Management of Publicly-Trusted \
Certificates, v.1.1.6, from the CA/Browser Forum (https://cabforum.org); specifically, section 10.2.3 \
(\"Information Requirements\")."
            .into(),
    }
}

fn local_profile<'a>(signing: &'a Signing, name: &str) -> Result<&'a SigningProfile> {
    let p = signing.profile(name)?;
    if !p.is_local() {
        return Err(Error::Policy(
            5400,
            format!("profile {name:?} signs on a remote server; use -remote or sign there"),
        ));
    }
    Ok(p)
}

/// Signs a CSR with `ca` under the named profile.
pub fn sign(ca: &Ca, signing: &Signing, req: &SignRequest) -> Result<Issued> {
    let profile = local_profile(signing, &req.profile)?;
    let parsed = csr::parse_pem(&req.csr_pem)?;
    let over = Overrides {
        hosts: req.hosts.clone(),
        subject: req.subject.clone(),
    };
    sign_parsed(ca, profile, &parsed, &over, &req.profile, &req.label)
}

/// Signs an already parsed (and, if it came from outside, verified) CSR.
fn sign_parsed(
    ca: &Ca,
    profile: &SigningProfile,
    parsed: &csr::ParsedCsr,
    over: &Overrides,
    profile_name: &str,
    label: &str,
) -> Result<Issued> {
    let now = OffsetDateTime::now_utc();
    let t = policy::leaf_template(
        profile,
        parsed,
        over,
        ca.facts(),
        now,
        signer::new_serial()?,
    )?;
    let cert_der = ca.sign(&t, now)?;
    Ok(Issued {
        cert_pem: pem_encode("CERTIFICATE", &cert_der),
        cert_der,
        serial: signer::serial_decimal(&t.serial),
        aki: ca.aki_hex(),
        not_before: t.not_before,
        not_after: t.not_after,
        common_name: t.common_name(),
        dns_sans: t.sans.dns.clone(),
        profile: profile_name.to_string(),
        label: label.to_string(),
        warnings: vec![],
    })
}

/// A generated key + CSR + certificate (`gencert`, `/newcert`).
#[derive(Debug)]
pub struct NewCert {
    /// private key PEM in cfssl's format
    pub key_pem: String,
    /// CSR DER
    pub csr_der: Vec<u8>,
    /// CSR PEM
    pub csr_pem: String,
    /// the certificate
    pub issued: Issued,
}

/// Generates a key and CSR from CSR JSON and signs it with `ca` under `profile`.
pub fn new_cert(
    ca: &Ca,
    signing: &Signing,
    req: &CertificateRequest,
    profile: &str,
    label: &str,
) -> Result<NewCert> {
    if req.ca.is_some() {
        return Err(Error::Policy(
            5300,
            "ca section only permitted in initca".into(),
        ));
    }
    let prof = local_profile(signing, profile)?; // fail before generating a key
    let g = csr::generate(req)?;
    // The CSR was signed a moment ago by the key generated here: no need to verify it again.
    let parsed = csr::parse_own_der(&g.csr_der)?;
    let mut issued = sign_parsed(ca, prof, &parsed, &Overrides::default(), profile, label)?;
    if req.hosts.as_ref().is_none_or(|h| h.is_empty()) {
        issued.warnings.push(hosts_warning());
    }
    Ok(NewCert {
        key_pem: g.key.to_cfssl_pem()?,
        csr_der: g.csr_der,
        csr_pem: g.csr_pem,
        issued,
    })
}

/// A new self-signed certificate with its key and CSR (`-initca`, `selfsign`).
#[derive(Debug)]
pub struct SelfSigned {
    /// the key (kept so callers can encrypt or re-emit it)
    pub key: PrivateKey,
    /// CSR PEM
    pub csr_pem: String,
    /// certificate DER
    pub cert_der: Vec<u8>,
    /// certificate PEM
    pub cert_pem: String,
    /// decimal serial
    pub serial: String,
}

/// `gencert -initca`: a self-signed CA from CSR JSON, with a new key or an existing one.
pub fn init_ca(req: &CertificateRequest, key: Option<PrivateKey>) -> Result<SelfSigned> {
    if !req.has_subject() {
        return Err(Error::policy("missing subject information"));
    }
    let key = match key {
        Some(k) => k,
        None => PrivateKey::generate(req.key_algo()?)?,
    };
    let (csr_der, csr_pem) = csr::csr_for_key(req, &key)?;
    let parsed = csr::parse_own_der(&csr_der)?;
    let t = policy::ca_template(
        req,
        &parsed,
        OffsetDateTime::now_utc(),
        signer::new_serial()?,
    )?;
    let cert_der = signer::self_sign(&key, &t)?;
    Ok(SelfSigned {
        key,
        csr_pem,
        cert_pem: pem_encode("CERTIFICATE", &cert_der),
        cert_der,
        serial: signer::serial_decimal(&t.serial),
    })
}

/// `gencert -renewca`: re-issues `ca`'s certificate with the same subject, key, path length and
/// lifetime, valid from now. Returns the new certificate PEM.
pub fn renew_ca(ca: &Ca) -> Result<String> {
    let key = ca.key();
    let lifetime = ca.not_after - ca.not_before;
    let t = policy::renewed_ca_template(
        &ca.subject_der,
        &key.spki_der(),
        key.public_key_bits(),
        lifetime,
        ca.path_len,
        OffsetDateTime::now_utc(),
        signer::new_serial()?,
    )?;
    Ok(pem_encode("CERTIFICATE", &signer::self_sign(key, &t)?))
}

/// `selfsign`: a self-signed leaf under `profile` (the built-in default lasts 2190h, as cfssl).
pub fn self_sign(req: &CertificateRequest, profile: Option<&SigningProfile>) -> Result<SelfSigned> {
    // cfssl compat: without a profile, the built-in default with a 2190h lifetime.
    let mut default = SigningProfile::cfssl_default();
    default.expiry = policy::SELFSIGN_EXPIRY;
    let p = profile.unwrap_or(&default);
    let key = PrivateKey::generate(req.key_algo()?)?;
    let (csr_der, csr_pem) = csr::csr_for_key(req, &key)?;
    let parsed = csr::parse_own_der(&csr_der)?;
    // cfssl compat: selfsign serials are uniform below 2^63.
    let mut serial = signer::new_serial()?[..8].to_vec();
    serial[0] &= 0x7f;
    let t = policy::selfsign_template(p, &parsed, OffsetDateTime::now_utc(), serial)?;
    let cert_der = signer::self_sign(&key, &t)?;
    Ok(SelfSigned {
        key,
        csr_pem,
        cert_pem: pem_encode("CERTIFICATE", &cert_der),
        cert_der,
        serial: signer::serial_decimal(&t.serial),
    })
}

/// The database record of an issued certificate (cfssl's certdb row, plus the profile).
pub fn record(i: &Issued) -> crate::db::CertificateRecord {
    crate::db::CertificateRecord {
        serial_number: i.serial.clone(),
        authority_key_identifier: i.aki.clone(),
        ca_label: i.label.clone(),
        status: "good".into(),
        reason: 0,
        expiry: i.not_after,
        revoked_at: None,
        pem: i.cert_pem.clone(),
        issued_at: OffsetDateTime::now_utc(),
        not_before: i.not_before,
        metadata: None,
        sans: (!i.dns_sans.is_empty())
            .then(|| serde_json::to_string(&i.dns_sans).unwrap_or_default()),
        common_name: i.common_name.clone(),
        profile: i.profile.clone(),
    }
}

/// Records an issued certificate durably before anyone is answered (no-op without a database).
/// Used by the CLI (`-db-config`/`-db`) and the server alike.
pub async fn commit(db: Option<&crate::db::CertDb>, issued: &Issued) -> Result<()> {
    match db {
        Some(db) => db.insert_certificate(&record(issued)).await,
        None => Ok(()),
    }
}

/// The current CRL of `ca` from the database: revoked, unexpired records, the next CRL number
/// for this CA. Shared by the CLI's `crl` and the server's `/crl`.
pub async fn current_crl(
    db: &crate::db::CertDb,
    ca: &crate::signer::Ca,
    validity: time::Duration,
) -> Result<Vec<u8>> {
    let rows = db.revoked_unexpired(&ca.aki_hex()).await?;
    let number = db.next_crl_number(&ca.aki_hex()).await?;
    let entries: Vec<(String, time::OffsetDateTime, u8)> = rows
        .into_iter()
        .map(|(s, t, r)| (s, t, r.clamp(0, 10) as u8))
        .collect();
    crate::crl::build(
        ca,
        &entries,
        time::OffsetDateTime::now_utc(),
        validity,
        number,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn test_ca() -> Ca {
        let req = CertificateRequest::from_json(br#"{"CN":"kpki test CA","names":[{"O":"kpki"}]}"#)
            .unwrap();
        let ss = init_ca(&req, None).unwrap();
        Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap()
    }

    #[test]
    fn signs_and_the_result_parses_with_an_independent_parser() {
        use x509_parser::prelude::*;
        let ca = test_ca();
        let signing = crate::profiles::builtin().signing;
        let req =
            CertificateRequest::from_json(br#"{"CN":"etcd-1","hosts":["127.0.0.1","localhost"]}"#)
                .unwrap();
        let nc = new_cert(&ca, &signing, &req, "etcd", "").unwrap();
        assert!(nc.issued.warnings.is_empty());
        let (_, c) = X509Certificate::from_der(&nc.issued.cert_der).unwrap();
        assert_eq!(c.issuer().as_raw(), ca.subject_der.as_slice());
        let ca_cert = X509Certificate::from_der(&ca.cert_der).unwrap().1;
        c.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert_eq!(c.serial.to_string(), nc.issued.serial);
        assert_eq!(nc.issued.dns_sans, vec!["localhost"]);
        let aki = c
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            });
        assert_eq!(aki.unwrap(), ca.ski);
        let ekus = c.extended_key_usage().unwrap().unwrap().value;
        assert!(ekus.server_auth && ekus.client_auth);
    }

    #[test]
    fn unknown_profile_and_missing_hosts() {
        let ca = test_ca();
        let signing = crate::profiles::builtin().signing;
        let req = CertificateRequest::from_json(br#"{"CN":"admin"}"#).unwrap();
        assert_eq!(
            new_cert(&ca, &signing, &req, "nope", "")
                .unwrap_err()
                .code(),
            5400
        );
        let nc = new_cert(&ca, &signing, &req, "client", "").unwrap();
        assert_eq!(nc.issued.warnings[0].code, 5300);
        let ca_req = CertificateRequest::from_json(br#"{"CN":"x","ca":{}}"#).unwrap();
        assert_eq!(
            new_cert(&ca, &signing, &ca_req, "", "")
                .unwrap_err()
                .message(),
            "ca section only permitted in initca"
        );
    }

    #[test]
    fn renewca_keeps_subject_key_and_lifetime() {
        let ca = test_ca();
        let pem = renew_ca(&ca).unwrap();
        let renewed = Ca::new(
            pem.as_bytes(),
            PrivateKey::from_pkcs8(ca.key().pkcs8_der().to_vec()).unwrap(),
        )
        .unwrap();
        assert_eq!(renewed.subject_der, ca.subject_der);
        assert_eq!(renewed.ski, ca.ski);
        assert_eq!(
            renewed.not_after - renewed.not_before,
            ca.not_after - ca.not_before
        );
        assert_ne!(renewed.cert_der, ca.cert_der);
        // A renewed CA is a CA: keyCertSign + cRLSign, CA:TRUE, notBefore backdated ~5 minutes.
        use x509_parser::prelude::*;
        let (_, c) = X509Certificate::from_der(&renewed.cert_der).unwrap();
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert!(!ku.digital_signature() && !ku.key_encipherment());
        assert!(c.basic_constraints().unwrap().unwrap().value.ca);
        let age = ::time::OffsetDateTime::now_utc().unix_timestamp()
            - c.validity().not_before.timestamp();
        assert!((240..=390).contains(&age), "notBefore {age}s ago");
        // Certificates the old CA issued verify under the renewed certificate.
        let signing = crate::profiles::builtin().signing;
        let leaf = CertificateRequest::from_json(br#"{"CN":"renew.example"}"#).unwrap();
        let generated = crate::csr::generate(&leaf).unwrap();
        let issued = sign(
            &ca,
            &signing,
            &SignRequest {
                csr_pem: generated.csr_pem.into_bytes(),
                profile: "server".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let der = crate::signer::first_certificate_der(issued.cert_pem.as_bytes()).unwrap();
        let (_, leaf_cert) = X509Certificate::from_der(&der).unwrap();
        leaf_cert
            .verify_signature(Some(c.public_key()))
            .expect("old leaf verifies under the renewed CA");
    }

    #[test]
    fn initca_needs_a_subject_and_key_must_match() {
        let e = init_ca(&CertificateRequest::default(), None).unwrap_err();
        assert_eq!(e.message(), "missing subject information");
        let ss = init_ca(
            &CertificateRequest::from_json(br#"{"CN":"a"}"#).unwrap(),
            None,
        )
        .unwrap();
        let other = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        assert_eq!(
            Ca::new(ss.cert_pem.as_bytes(), other).unwrap_err().code(),
            2300
        );
    }

    #[test]
    fn hosts_warning_is_cfssls_5300_text() {
        let w = hosts_warning();
        assert_eq!(w.code, 5300);
        assert!(
            w.message.starts_with(
                "This certificate lacks a \"hosts\" field. This makes it unsuitable for websites."
            ),
            "{}",
            w.message
        );
        assert!(
            w.message
                .ends_with("section 10.2.3 (\"Information Requirements\").")
        );
    }

    #[test]
    fn remote_profiles_are_refused_locally_with_5400() {
        let ca = test_ca();
        let mut signing = crate::profiles::builtin().signing;
        signing.profiles.get_mut("server").unwrap().remote = "ca2".into();
        let req = CertificateRequest::from_json(br#"{"CN":"r","hosts":["r.example"]}"#).unwrap();
        let e = new_cert(&ca, &signing, &req, "server", "").unwrap_err();
        assert_eq!(e.code(), 5400);
        assert_eq!(
            e.message(),
            "profile \"server\" signs on a remote server; use -remote or sign there"
        );
        let g = crate::csr::generate(&req).unwrap();
        let e = sign(
            &ca,
            &signing,
            &SignRequest {
                csr_pem: g.csr_pem.into_bytes(),
                profile: "server".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), 5400);
        // A local profile of the same configuration still signs.
        let nc = new_cert(&ca, &signing, &req, "client", "lbl").unwrap();
        assert_eq!(nc.issued.profile, "client");
        assert_eq!(nc.issued.label, "lbl");
    }

    #[test]
    fn selfsign_serials_are_below_2_pow_63_and_default_lasts_2190h() {
        use x509_parser::prelude::*;
        let req =
            CertificateRequest::from_json(br#"{"CN":"self","hosts":["self.example"]}"#).unwrap();
        let mut top_bytes = vec![];
        for _ in 0..3 {
            let ss = self_sign(&req, None).unwrap();
            let serial: u64 = ss.serial.parse().expect("serial fits in 63 bits");
            assert!(serial < 1 << 63, "{serial}");
            top_bytes.push(serial >> 56);
            let (_, c) = X509Certificate::from_der(&ss.cert_der).unwrap();
            assert_eq!(c.serial.to_string(), ss.serial);
            let v = c.validity();
            // notBefore = now − 5 min, notAfter = now + 2190h, as cfssl.
            assert_eq!(
                v.not_after.timestamp() - v.not_before.timestamp(),
                2190 * 3600 + 300
            );
        }
        // Uniform below 2^63: the top byte is not pinned to 0x7f (chance 2^-21 on real code).
        assert!(top_bytes.iter().any(|&b| b != 0x7f), "{top_bytes:?}");
    }

    fn issued_for(ca: &Ca, json: &[u8], profile: &str) -> Issued {
        let signing = crate::profiles::builtin().signing;
        let req = CertificateRequest::from_json(json).unwrap();
        new_cert(ca, &signing, &req, profile, "my-label")
            .unwrap()
            .issued
    }

    #[test]
    fn record_is_cfssls_certdb_row() {
        let ca = test_ca();
        let i = issued_for(
            &ca,
            br#"{"CN":"etcd-1","hosts":["127.0.0.1","etcd-1.local","localhost"]}"#,
            "etcd",
        );
        let r = record(&i);
        assert_eq!(r.serial_number, i.serial);
        assert_eq!(r.authority_key_identifier, ca.aki_hex());
        assert_eq!(r.ca_label, "my-label");
        assert_eq!(r.status, "good");
        assert_eq!(r.reason, 0);
        assert_eq!(r.revoked_at, None);
        assert_eq!(r.metadata, None);
        assert_eq!(r.expiry, i.not_after);
        assert_eq!(r.not_before, i.not_before);
        assert_eq!(r.pem, i.cert_pem);
        assert_eq!(r.common_name, "etcd-1");
        assert_eq!(r.profile, "etcd");
        assert_eq!(r.sans.as_deref(), Some(r#"["etcd-1.local","localhost"]"#));
        let no_sans = record(&issued_for(&ca, br#"{"CN":"admin"}"#, "client"));
        assert_eq!(no_sans.sans, None);
        assert_eq!(no_sans.common_name, "admin");
    }

    #[tokio::test]
    async fn commit_stores_the_row_and_current_crl_lists_revocations() {
        use x509_parser::prelude::*;
        let ca = test_ca();
        let db = crate::db::CertDb::connect("sqlite::memory:").await.unwrap();
        let i = issued_for(&ca, br#"{"CN":"gone","hosts":["gone.example"]}"#, "server");
        commit(None, &i).await.unwrap();
        assert_eq!(db.count_certificates().await.unwrap(), 0);
        commit(Some(&db), &i).await.unwrap();
        let row = db
            .get_certificate(&i.serial, &ca.aki_hex())
            .await
            .unwrap()
            .expect("row committed");
        assert_eq!(row.common_name, "gone");
        assert_eq!(row.profile, "server");
        assert_eq!(row.sans.as_deref(), Some(r#"["gone.example"]"#));
        // Committing the same certificate twice is cfssl's duplicate error.
        assert_eq!(commit(Some(&db), &i).await.unwrap_err().code(), 11100);

        db.revoke(&i.serial, &ca.aki_hex(), 4).await.unwrap();
        let ca_cert = X509Certificate::from_der(&ca.cert_der).unwrap().1;
        for number in [1u32, 2] {
            let der = current_crl(&db, &ca, Duration::hours(24)).await.unwrap();
            let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
            crl.verify_signature(ca_cert.public_key()).unwrap();
            assert_eq!(crl.issuer().as_raw(), ca.subject_der.as_slice());
            assert_eq!(crl.crl_number().unwrap().to_string(), number.to_string());
            let revoked: Vec<_> = crl.iter_revoked_certificates().collect();
            assert_eq!(revoked.len(), 1);
            assert_eq!(revoked[0].serial().to_string(), i.serial);
            assert_eq!(revoked[0].reason_code().unwrap().1, ReasonCode::Superseded);
            assert_eq!(
                crl.next_update().unwrap().timestamp() - crl.last_update().timestamp(),
                24 * 3600
            );
        }
    }

    fn sign_with(ca: &Ca, csr_pem: &str, over: SignRequest) -> Issued {
        let signing = crate::profiles::builtin().signing;
        sign(
            ca,
            &signing,
            &SignRequest {
                csr_pem: csr_pem.as_bytes().to_vec(),
                ..over
            },
        )
        .unwrap()
    }

    #[test]
    fn sign_applies_hosts_and_subject_overrides_like_cfssl_sign() {
        use x509_parser::prelude::*;
        let ca = test_ca();
        let req =
            CertificateRequest::from_json(br#"{"CN":"from-csr","hosts":["csr.example"]}"#).unwrap();
        let csr_pem = crate::csr::generate(&req).unwrap().csr_pem;
        // No override: SANs and CN come from the CSR; profile and label are recorded.
        let i = sign_with(
            &ca,
            &csr_pem,
            SignRequest {
                profile: "server".into(),
                label: "primary".into(),
                ..Default::default()
            },
        );
        assert_eq!(i.dns_sans, ["csr.example"]);
        assert_eq!(i.common_name, "from-csr");
        assert_eq!(
            (i.profile.as_str(), i.label.as_str()),
            ("server", "primary")
        );
        assert!(i.warnings.is_empty(), "sign never warns about hosts");
        let (_, c) = X509Certificate::from_der(&i.cert_der).unwrap();
        assert_eq!(
            crate::signer::first_certificate_der(i.cert_pem.as_bytes()).unwrap(),
            i.cert_der
        );
        assert_eq!(
            c.validity().not_before.timestamp(),
            i.not_before.unix_timestamp()
        );
        assert_eq!(
            c.validity().not_after.timestamp(),
            i.not_after.unix_timestamp()
        );
        assert_eq!(i.aki, ca.aki_hex());
        // -hostname replaces the CSR's SANs entirely.
        let i = sign_with(
            &ca,
            &csr_pem,
            SignRequest {
                hosts: Some(vec!["over.example".into(), "10.0.0.1".into()]),
                ..Default::default()
            },
        );
        assert_eq!(i.dns_sans, ["over.example"]);
        let (_, c) = X509Certificate::from_der(&i.cert_der).unwrap();
        let san = c.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(san.general_names.len(), 2, "{san:?}");
        // An empty host list removes them.
        let i = sign_with(
            &ca,
            &csr_pem,
            SignRequest {
                hosts: Some(vec![]),
                ..Default::default()
            },
        );
        assert!(i.dns_sans.is_empty());
        let (_, c) = X509Certificate::from_der(&i.cert_der).unwrap();
        assert!(c.subject_alternative_name().unwrap().is_none());
        // A SUBJECT file's CN replaces the CSR's.
        let i = sign_with(
            &ca,
            &csr_pem,
            SignRequest {
                subject: Some(CertificateRequest::from_json(br#"{"CN":"overridden"}"#).unwrap()),
                ..Default::default()
            },
        );
        assert_eq!(i.common_name, "overridden");
        assert_eq!(i.profile, "", "the default profile is recorded as \"\"");
    }

    #[test]
    fn sign_rejects_what_is_not_a_csr() {
        let ca = test_ca();
        let signing = crate::profiles::builtin().signing;
        let e = sign(
            &ca,
            &signing,
            &SignRequest {
                csr_pem: ca.cert_der.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code() / 100, 90, "a CSR error: {}", e.to_json());
        // An unknown profile fails before the CSR is looked at.
        let e = sign(
            &ca,
            &signing,
            &SignRequest {
                profile: "nope".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), 5400);
    }

    #[test]
    fn gencert_warns_when_hosts_are_absent_or_empty_only() {
        let ca = test_ca();
        let signing = crate::profiles::builtin().signing;
        for (json, warns) in [
            (&br#"{"CN":"a"}"#[..], true),
            (br#"{"CN":"a","hosts":[]}"#, true),
            (br#"{"CN":"a","hosts":null}"#, true),
            (br#"{"CN":"a","hosts":["a.example"]}"#, false),
            // cfssl: `hosts: [""]` counts as non-empty (no warning).
            (br#"{"CN":"a","hosts":[""]}"#, false),
        ] {
            let req = CertificateRequest::from_json(json).unwrap();
            let nc = new_cert(&ca, &signing, &req, "client", "").unwrap();
            let want = if warns { vec![hosts_warning()] } else { vec![] };
            assert_eq!(
                nc.issued.warnings,
                want,
                "{}",
                String::from_utf8_lossy(json)
            );
            assert!(nc.key_pem.contains("PRIVATE KEY"), "{}", nc.key_pem);
            assert!(
                nc.csr_pem
                    .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
            );
            assert_eq!(
                crate::csr::parse_pem(nc.csr_pem.as_bytes())
                    .unwrap()
                    .spki_der,
                crate::csr::parse_own_der(&nc.csr_der).unwrap().spki_der
            );
        }
    }

    #[test]
    fn initca_with_an_existing_key_keeps_it() {
        use x509_parser::prelude::*;
        let key = PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        let spki = key.spki_der();
        let req = CertificateRequest::from_json(br#"{"CN":"re-keyed CA"}"#).unwrap();
        let ss = init_ca(&req, Some(key)).unwrap();
        assert_eq!(ss.key.spki_der(), spki);
        let (_, c) = X509Certificate::from_der(&ss.cert_der).unwrap();
        assert_eq!(c.public_key().raw, spki.as_slice());
        assert_eq!(c.serial.to_string(), ss.serial);
        assert!(c.basic_constraints().unwrap().unwrap().value.ca);
        assert_eq!(c.subject().as_raw(), c.issuer().as_raw(), "self-signed");
        c.verify_signature(None).unwrap();
        assert!(
            ss.csr_pem
                .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
        );
        // A subject from names alone is enough.
        init_ca(
            &CertificateRequest::from_json(br#"{"names":[{"O":"only-o"}]}"#).unwrap(),
            None,
        )
        .unwrap();
    }

    #[test]
    fn selfsign_uses_the_given_profiles_expiry_and_usages() {
        use x509_parser::prelude::*;
        let c = crate::config::Config::from_json(
            br#"{"signing":{"profiles":{"p":{"usages":["signing","client auth"],"expiry":"3h"}}}}"#,
        )
        .unwrap();
        let req =
            CertificateRequest::from_json(br#"{"CN":"self","hosts":["self.example"]}"#).unwrap();
        let ss = self_sign(&req, Some(c.signing.profile("p").unwrap())).unwrap();
        let (_, cert) = X509Certificate::from_der(&ss.cert_der).unwrap();
        let v = cert.validity();
        assert_eq!(
            v.not_after.timestamp() - v.not_before.timestamp(),
            3 * 3600 + 300
        );
        let ekus = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(ekus.client_auth && !ekus.server_auth);
        assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
        cert.verify_signature(None).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(
            san.general_names,
            [GeneralName::DNSName("self.example")],
            "SANs from the CSR hosts"
        );
    }

    #[test]
    fn selfsign_with_a_not_after_or_remote_profile_follows_cfssl() {
        use x509_parser::prelude::*;
        let c = crate::config::Config::from_json(
            br#"{"signing":{"profiles":{
                "na":{"usages":["signing","server auth"],"not_after":"2030-01-01T00:00:00Z"},
                "far":{"remote":"ca1"}}},
              "remotes":{"ca1":"127.0.0.1:8888"}}"#,
        )
        .unwrap();
        let req =
            CertificateRequest::from_json(br#"{"CN":"self","hosts":["self.example"]}"#).unwrap();
        // Only not_after: cfssl's selfsign ignores it and lasts 2190h (it was 5300 here).
        let ss = self_sign(&req, Some(c.signing.profile("na").unwrap())).unwrap();
        let (_, cert) = X509Certificate::from_der(&ss.cert_der).unwrap();
        let v = cert.validity();
        assert_eq!(
            v.not_after.timestamp() - v.not_before.timestamp(),
            2190 * 3600 + 300
        );
        assert!(
            cert.extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .server_auth
        );
        // A remote profile has no usages: refused as cfssl does, no certificate.
        let e = self_sign(&req, Some(c.signing.profile("far").unwrap())).unwrap_err();
        assert_eq!(
            e.to_json(),
            r#"{"code":5100,"message":"Invalid policy: no key usage available"}"#
        );
    }
}
