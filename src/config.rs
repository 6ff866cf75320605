//! cfssl's ca-config.json: signing profiles (usages, expiry, CA constraints, whitelist, URLs),
//! auth keys and remotes, validated at load. Pure: secrets given as `env:`/`file:` are resolved
//! by the caller through [`Config::resolve_auth_keys`]; no I/O here.

use crate::der::oid;
use crate::duration::parse_go;
use crate::error::{Error, Result};
use crate::jsonci;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// Key usage bits (RFC 5280 §4.2.1.3 numbering).
pub mod ku {
    /// digitalSignature
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// contentCommitment (nonRepudiation)
    pub const CONTENT_COMMITMENT: u16 = 1 << 1;
    /// keyEncipherment
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    /// dataEncipherment
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    /// keyAgreement
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    /// keyCertSign
    pub const CERT_SIGN: u16 = 1 << 5;
    /// cRLSign
    pub const CRL_SIGN: u16 = 1 << 6;
    /// encipherOnly
    pub const ENCIPHER_ONLY: u16 = 1 << 7;
    /// decipherOnly
    pub const DECIPHER_ONLY: u16 = 1 << 8;
}

/// cfssl's usage vocabulary: name → key usage bit or EKU OID.
pub enum Usage {
    /// a keyUsage bit
    Key(u16),
    /// an extKeyUsage OID
    Ext(&'static [u64]),
}

/// Looks up one of cfssl's usage names (exact, lower-case as cfssl matches them).
pub fn usage(name: &str) -> Option<Usage> {
    use Usage::*;
    Some(match name {
        "signing" | "digital signature" => Key(ku::DIGITAL_SIGNATURE),
        "content commitment" => Key(ku::CONTENT_COMMITMENT),
        "key encipherment" => Key(ku::KEY_ENCIPHERMENT),
        "key agreement" => Key(ku::KEY_AGREEMENT),
        "data encipherment" => Key(ku::DATA_ENCIPHERMENT),
        "cert sign" => Key(ku::CERT_SIGN),
        "crl sign" => Key(ku::CRL_SIGN),
        "encipher only" => Key(ku::ENCIPHER_ONLY),
        "decipher only" => Key(ku::DECIPHER_ONLY),
        "any" => Ext(&[2, 5, 29, 37, 0]),
        "server auth" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
        "client auth" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
        "code signing" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 3]),
        "email protection" | "s/mime" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 4]),
        "ipsec end system" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 5]),
        "ipsec tunnel" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 6]),
        "ipsec user" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 7]),
        "timestamping" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 8]),
        "ocsp signing" => Ext(&[1, 3, 6, 1, 5, 5, 7, 3, 9]),
        "microsoft sgc" => Ext(&[1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
        "netscape sgc" => Ext(&[2, 16, 840, 1, 113730, 4, 1]),
        _ => return None,
    })
}

/// `ca_constraint` of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CaConstraint {
    /// issue CA certificates
    #[serde(default)]
    pub is_ca: bool,
    /// path length limit
    #[serde(default)]
    pub max_path_len: i64,
    /// a max_path_len of 0 means 0 (not "unlimited")
    #[serde(default)]
    pub max_path_len_zero: bool,
}

impl CaConstraint {
    /// The pathLenConstraint to write, if any.
    pub fn path_len(&self) -> Option<u32> {
        match self.max_path_len {
            n if n > 0 => Some(n.min(u32::MAX as i64) as u32),
            // cfssl compat: max_path_len_zero only counts with max_path_len 0 (cfssl copies it to
            // Go's MaxPathLenZero only then); a negative length is "no limit" either way.
            0 if self.max_path_len_zero => Some(0),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawAuthRemote {
    #[serde(default)]
    remote: String,
    #[serde(default)]
    auth_key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawQualifier {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawPolicy {
    #[serde(default)]
    id: String,
    #[serde(default, deserialize_with = "jsonci::de_vec")]
    qualifiers: Vec<RawQualifier>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawProfile {
    #[serde(default)]
    usages: Vec<String>,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    backdate: String,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    ca_constraint: Option<CaConstraint>,
    #[serde(default)]
    ocsp_url: String,
    #[serde(default)]
    crl_url: String,
    #[serde(default)]
    issuer_urls: Vec<String>,
    #[serde(default)]
    ocsp_no_check: bool,
    #[serde(default)]
    auth_key: String,
    #[serde(default)]
    prev_auth_key: String,
    #[serde(default)]
    remote: String,
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    auth_remote: Option<RawAuthRemote>,
    #[serde(default)]
    name_whitelist: String,
    #[serde(default, deserialize_with = "jsonci::de_vec")]
    policies: Vec<RawPolicy>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawSigning {
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    default: Option<RawProfile>,
    #[serde(default, deserialize_with = "jsonci::de_map")]
    profiles: BTreeMap<String, RawProfile>,
}

/// An `auth_keys` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthKey {
    /// must be "standard"
    #[serde(default, rename = "type")]
    pub kind: String,
    /// hex key, or `env:VAR` / `file:PATH` before [`Config::resolve_auth_keys`]
    #[serde(default)]
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawConfig {
    #[serde(default, deserialize_with = "jsonci::de_opt")]
    signing: Option<RawSigning>,
    #[serde(default, deserialize_with = "jsonci::de_map")]
    auth_keys: BTreeMap<String, AuthKey>,
    #[serde(default)]
    remotes: BTreeMap<String, String>,
}

/// `auth_remote` of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRemote {
    /// name in `remotes`
    pub remote: String,
    /// name in `auth_keys`
    pub auth_key: String,
}

/// A validated signing profile.
#[derive(Debug, Clone)]
pub struct SigningProfile {
    /// usage names as configured (recognised ones only)
    pub usages: Vec<String>,
    /// keyUsage bits from `usages`
    pub key_usage: u16,
    /// extKeyUsage OIDs from `usages`, in configured order
    pub ext_key_usages: Vec<&'static [u64]>,
    /// validity
    pub expiry: Duration,
    /// `expiry` as written in the config ("8760h"), for `info`
    pub expiry_string: String,
    /// notBefore backdate (default 5m)
    pub backdate: Duration,
    /// absolute notBefore override
    pub not_before: Option<OffsetDateTime>,
    /// absolute notAfter override
    pub not_after: Option<OffsetDateTime>,
    /// CA issuance
    pub ca_constraint: CaConstraint,
    /// AIA OCSP URL
    pub ocsp_url: String,
    /// CRL distribution point URL
    pub crl_url: String,
    /// AIA caIssuers URLs
    pub issuer_urls: Vec<String>,
    /// add id-pkix-ocsp-nocheck
    pub ocsp_no_check: bool,
    /// name in auth_keys required to sign with this profile
    pub auth_key: String,
    /// second accepted key (rotation)
    pub prev_auth_key: String,
    /// name in remotes to forward to
    pub remote: String,
    /// authenticated remote
    pub auth_remote: Option<AuthRemote>,
    /// regex every name must match (unanchored)
    pub name_whitelist: Option<regex::Regex>,
    /// certificate policies
    pub policies: Vec<crate::der::Policy>,
}

impl SigningProfile {
    /// True when this profile signs locally (no remote).
    pub fn is_local(&self) -> bool {
        self.remote.is_empty() && self.auth_remote.is_none()
    }

    /// cfssl's built-in default profile: signing, key encipherment, server auth, client auth;
    /// 8760h.
    pub fn cfssl_default() -> Self {
        let raw = RawProfile {
            usages: ["signing", "key encipherment", "server auth", "client auth"]
                .map(String::from)
                .to_vec(),
            expiry: "8760h".into(),
            ..Default::default()
        };
        build_profile("default", raw, true, &BTreeMap::new(), &BTreeMap::new())
            .expect("built-in default profile is valid")
    }
}

/// The `signing` section.
#[derive(Debug, Clone)]
pub struct Signing {
    /// the default profile
    pub default: SigningProfile,
    /// named profiles
    pub profiles: BTreeMap<String, SigningProfile>,
}

impl Signing {
    /// Picks a profile: "" → default; an unknown name is an error naming the available ones.
    // cfssl compat (deliberately NOT kept): cfssl silently falls back to the default profile.
    pub fn profile(&self, name: &str) -> Result<&SigningProfile> {
        if name.is_empty() || name == "default" && !self.profiles.contains_key("default") {
            return Ok(&self.default);
        }
        self.profiles.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Error::Policy(
                5400,
                format!(
                    "Unknown policy profile {name:?}; available profiles: {}",
                    if names.is_empty() {
                        "(none; only the default)".into()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        })
    }
}

/// A whole ca-config.json.
#[derive(Debug, Clone)]
pub struct Config {
    /// signing policy
    pub signing: Signing,
    /// HMAC keys by name
    pub auth_keys: BTreeMap<String, AuthKey>,
    /// remote servers by name
    pub remotes: BTreeMap<String, String>,
}

fn cfg_err(m: impl Into<String>) -> Error {
    Error::Policy(5200, m.into())
}

fn parse_time(s: &str, what: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| cfg_err(format!("invalid {what} {s:?}: {e}")))
}

fn build_profile(
    name: &str,
    raw: RawProfile,
    is_default: bool,
    auth_keys: &BTreeMap<String, AuthKey>,
    remotes: &BTreeMap<String, String>,
) -> Result<SigningProfile> {
    let at = |m: &str| cfg_err(format!("profile {name:?}: {m}"));
    if !raw.remote.is_empty() && raw.auth_remote.is_some() {
        return Err(at("both remote and auth_remote are set; pick one"));
    }
    if !raw.remote.is_empty() && !remotes.contains_key(&raw.remote) {
        return Err(at(&format!(
            "failed to find remote {:?} in remotes section",
            raw.remote
        )));
    }
    let auth_remote = match raw.auth_remote {
        Some(ar) => {
            if !remotes.contains_key(&ar.remote) {
                return Err(at(&format!(
                    "failed to find remote {:?} in remotes section",
                    ar.remote
                )));
            }
            if !auth_keys.contains_key(&ar.auth_key) {
                return Err(at(&format!(
                    "failed to find auth_key {:?} in auth_keys section",
                    ar.auth_key
                )));
            }
            Some(AuthRemote {
                remote: ar.remote,
                auth_key: ar.auth_key,
            })
        }
        None => None,
    };
    for k in [&raw.auth_key, &raw.prev_auth_key] {
        if !k.is_empty() && !auth_keys.contains_key(k) {
            return Err(at(&format!(
                "failed to find auth_key {k:?} in auth_keys section"
            )));
        }
    }
    let is_local = raw.remote.is_empty() && auth_remote.is_none();
    let mut key_usage = 0u16;
    let mut ext_key_usages = Vec::new();
    let mut usages = Vec::new();
    for u in &raw.usages {
        match usage(u) {
            Some(Usage::Key(bit)) => key_usage |= bit,
            Some(Usage::Ext(o)) => {
                if !ext_key_usages.contains(&o) {
                    ext_key_usages.push(o)
                }
            }
            // cfssl compat (deliberately NOT kept): cfssl silently drops unknown usage names.
            None => {
                return Err(at(&format!(
                    "unknown usage {u:?} (known: signing, digital signature, key encipherment, \
                     cert sign, crl sign, server auth, client auth, code signing, email protection, \
                     ocsp signing, timestamping, any, …)"
                )));
            }
        }
        usages.push(u.clone());
    }
    if is_local && !is_default && usages.is_empty() {
        return Err(at("invalid configuration: no usages"));
    }
    let expiry = if raw.expiry.is_empty() {
        if is_local && raw.not_after.is_none() {
            return Err(at("empty expiry string"));
        }
        Duration::ZERO
    } else {
        let d = parse_go(&raw.expiry).map_err(|e| at(&e.message()))?;
        if d <= Duration::ZERO {
            return Err(at("expiry must be positive"));
        }
        d
    };
    let backdate = if raw.backdate.is_empty() {
        Duration::minutes(5)
    } else {
        parse_go(&raw.backdate).map_err(|e| at(&e.message()))?
    };
    let not_before = raw
        .not_before
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time(s, "not_before"))
        .transpose()?;
    let not_after = raw
        .not_after
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time(s, "not_after"))
        .transpose()?;
    if let (Some(b), Some(a)) = (not_before, not_after)
        && a <= b
    {
        return Err(at("not_after is before not_before"));
    }
    let name_whitelist = if raw.name_whitelist.is_empty() {
        None
    } else {
        Some(
            regex::Regex::new(&raw.name_whitelist)
                .map_err(|e| at(&format!("failed to compile name whitelist section: {e}")))?,
        )
    };
    let mut policies = Vec::new();
    for p in raw.policies {
        let mut pol = crate::der::Policy {
            oid: crate::csr::parse_oid(&p.id).map_err(|e| at(&e.message()))?,
            cps: vec![],
            notices: vec![],
        };
        for q in p.qualifiers {
            match q.kind.as_str() {
                "id-qt-cps" => pol.cps.push(q.value),
                "id-qt-unotice" => pol.notices.push(q.value),
                other => return Err(at(&format!("unknown policy qualifier type {other:?}"))),
            }
        }
        policies.push(pol);
    }
    Ok(SigningProfile {
        usages,
        key_usage,
        ext_key_usages,
        expiry,
        expiry_string: raw.expiry,
        backdate,
        not_before,
        not_after,
        ca_constraint: raw.ca_constraint.unwrap_or_default(),
        ocsp_url: raw.ocsp_url,
        crl_url: raw.crl_url,
        issuer_urls: raw.issuer_urls,
        ocsp_no_check: raw.ocsp_no_check,
        auth_key: raw.auth_key,
        prev_auth_key: raw.prev_auth_key,
        remote: raw.remote,
        auth_remote,
        name_whitelist,
        policies,
    })
}

impl Config {
    /// Parses and validates a ca-config.json document (errors are code 5200).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let raw: RawConfig = jsonci::from_slice(bytes)
            .map_err(|e| cfg_err(format!("failed to unmarshal configuration: {e}")))?;
        let Some(signing) = raw.signing else {
            return Err(cfg_err("No \"signing\" field present"));
        };
        for (name, k) in &raw.auth_keys {
            if k.kind != "standard" {
                return Err(cfg_err(format!(
                    "auth key {name:?}: unknown authentication type {:?}",
                    k.kind
                )));
            }
        }
        let default = match signing.default {
            Some(p) => build_profile("default", p, true, &raw.auth_keys, &raw.remotes)?,
            None => SigningProfile::cfssl_default(),
        };
        let mut profiles = BTreeMap::new();
        for (name, p) in signing.profiles {
            let built = build_profile(&name, p, false, &raw.auth_keys, &raw.remotes)?;
            profiles.insert(name, built);
        }
        Ok(Config {
            signing: Signing { default, profiles },
            auth_keys: raw.auth_keys,
            remotes: raw.remotes,
        })
    }

    /// Replaces `env:`/`file:` auth key references with their values using `read` (the caller's
    /// I/O), then checks each key is hex.
    pub fn resolve_auth_keys(&mut self, read: impl Fn(&str) -> Result<String>) -> Result<()> {
        for (name, k) in self.auth_keys.iter_mut() {
            if k.key.starts_with("env:") || k.key.starts_with("file:") {
                k.key = read(&k.key)?.trim().to_string();
            }
            if hex::decode(&k.key).is_err() || k.key.is_empty() {
                return Err(cfg_err(format!(
                    "auth key {name:?}: failed to create new standard auth provider (key must be hex)"
                )));
            }
        }
        Ok(())
    }

    /// The decoded HMAC key bytes of an auth key name.
    pub fn auth_key_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.auth_keys
            .get(name)
            .and_then(|k| hex::decode(&k.key).ok())
    }

    /// A config with only the given signing policy.
    pub fn from_signing(signing: Signing) -> Self {
        Config {
            signing,
            auth_keys: BTreeMap::new(),
            remotes: BTreeMap::new(),
        }
    }
}

/// Every EKU OID kpki knows, for display.
pub fn eku_name(o: &[u64]) -> &'static str {
    match o {
        [1, 3, 6, 1, 5, 5, 7, 3, 1] => "server auth",
        [1, 3, 6, 1, 5, 5, 7, 3, 2] => "client auth",
        [1, 3, 6, 1, 5, 5, 7, 3, 3] => "code signing",
        [1, 3, 6, 1, 5, 5, 7, 3, 4] => "email protection",
        [1, 3, 6, 1, 5, 5, 7, 3, 8] => "timestamping",
        [1, 3, 6, 1, 5, 5, 7, 3, 9] => "ocsp signing",
        [2, 5, 29, 37, 0] => "any",
        _ => "other",
    }
}

// Keep the OID module referenced so usage OIDs and der OIDs stay in one vocabulary.
const _: &[u64] = oid::EXT_KEY_USAGE;

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = r#"{"signing":{"default":{"expiry":"8760h"},"profiles":{"kubernetes":{"usages":["signing","key encipherment","server auth","client auth"],"expiry":"87600h"}}}}"#;

    #[test]
    fn classic_guide_config_loads() {
        let c = Config::from_json(GUIDE.as_bytes()).unwrap();
        let p = c.signing.profile("kubernetes").unwrap();
        assert_eq!(p.expiry, Duration::hours(87600));
        assert_eq!(p.key_usage, ku::DIGITAL_SIGNATURE | ku::KEY_ENCIPHERMENT);
        assert_eq!(p.ext_key_usages.len(), 2);
        assert_eq!(c.signing.profile("").unwrap().expiry, Duration::hours(8760));
    }

    #[test]
    fn unknown_profile_names_the_available_ones() {
        let c = Config::from_json(GUIDE.as_bytes()).unwrap();
        let e = c.signing.profile("kubernets").unwrap_err();
        assert_eq!(e.code(), 5400);
        assert!(e.message().contains("kubernetes"), "{}", e.message());
    }

    #[test]
    fn bad_configs_are_5200() {
        for (bad, needle) in [
            (r#"{}"#, "No \"signing\""),
            (
                r#"{"signing":{"profiles":{"a":{"usages":["server auth"],"expiry":"365d"}}}}"#,
                "unknown unit",
            ),
            (
                r#"{"signing":{"profiles":{"a":{"usages":["server auth"]}}}}"#,
                "empty expiry",
            ),
            (
                r#"{"signing":{"profiles":{"a":{"usages":[],"expiry":"1h"}}}}"#,
                "no usages",
            ),
            (
                r#"{"signing":{"profiles":{"a":{"usages":["sever auth"],"expiry":"1h"}}}}"#,
                "unknown usage",
            ),
            (
                r#"{"signing":{"profiles":{"a":{"usages":["server auth"],"expiry":"1h","name_whitelist":"("}}}}"#,
                "whitelist",
            ),
            (
                r#"{"signing":{"profiles":{"a":{"usages":["server auth"],"expiry":"1h","auth_key":"k"}}}}"#,
                "auth_key",
            ),
            (
                r#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"fancy","key":"00"}}}"#,
                "authentication type",
            ),
            (r#"not json"#, "unmarshal"),
        ] {
            let e = Config::from_json(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code(), 5200, "{bad}");
            assert!(e.message().contains(needle), "{bad}: {}", e.message());
        }
    }

    #[test]
    fn ca_constraint_path_len() {
        let c = Config::from_json(br#"{"signing":{"profiles":{"int":{"usages":["cert sign","crl sign"],"expiry":"43800h","CA_constraint":{"is_ca":true,"max_path_len":0,"max_path_len_zero":true}}}}}"#).unwrap();
        let p = c.signing.profile("int").unwrap();
        assert!(p.ca_constraint.is_ca);
        assert_eq!(p.ca_constraint.path_len(), Some(0));
    }

    #[test]
    fn auth_keys_resolve_and_must_be_hex() {
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h","auth_key":"k"}},"auth_keys":{"k":{"type":"standard","key":"env:K"}}}"#).unwrap();
        c.resolve_auth_keys(|_| Ok("00ff".into())).unwrap();
        assert_eq!(c.auth_key_bytes("k"), Some(vec![0, 255]));
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"standard","key":"xyz"}}}"#).unwrap();
        assert!(c.resolve_auth_keys(|_| unreachable!()).is_err());
    }

    fn one_profile(body: &str) -> Result<Config> {
        Config::from_json(
            format!(
                r#"{{"signing":{{"profiles":{{"p":{body}}}}},"auth_keys":{{"k":{{"type":"standard","key":"00"}}}},"remotes":{{"r":"127.0.0.1:8888"}}}}"#
            )
            .as_bytes(),
        )
    }

    #[test]
    fn every_cfssl_usage_name_maps_to_its_rfc5280_bit_or_eku() {
        for (name, bit) in [
            ("signing", 0),
            ("digital signature", 0),
            ("content commitment", 1),
            ("key encipherment", 2),
            ("data encipherment", 3),
            ("key agreement", 4),
            ("cert sign", 5),
            ("crl sign", 6),
            ("encipher only", 7),
            ("decipher only", 8),
        ] {
            match usage(name) {
                Some(Usage::Key(b)) => assert_eq!(b, 1u16 << bit, "{name}"),
                _ => panic!("{name} is not a key usage"),
            }
        }
        for (name, o) in [
            ("any", &[2u64, 5, 29, 37, 0][..]),
            ("server auth", &[1, 3, 6, 1, 5, 5, 7, 3, 1]),
            ("client auth", &[1, 3, 6, 1, 5, 5, 7, 3, 2]),
            ("code signing", &[1, 3, 6, 1, 5, 5, 7, 3, 3]),
            ("email protection", &[1, 3, 6, 1, 5, 5, 7, 3, 4]),
            ("s/mime", &[1, 3, 6, 1, 5, 5, 7, 3, 4]),
            ("ipsec end system", &[1, 3, 6, 1, 5, 5, 7, 3, 5]),
            ("ipsec tunnel", &[1, 3, 6, 1, 5, 5, 7, 3, 6]),
            ("ipsec user", &[1, 3, 6, 1, 5, 5, 7, 3, 7]),
            ("timestamping", &[1, 3, 6, 1, 5, 5, 7, 3, 8]),
            ("ocsp signing", &[1, 3, 6, 1, 5, 5, 7, 3, 9]),
            ("microsoft sgc", &[1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
            ("netscape sgc", &[2, 16, 840, 1, 113730, 4, 1]),
        ] {
            match usage(name) {
                Some(Usage::Ext(got)) => assert_eq!(got, o, "{name}"),
                _ => panic!("{name} is not an extended key usage"),
            }
        }
        assert!(usage("Server Auth").is_none(), "names are matched exactly");
    }

    #[test]
    fn a_profile_named_default_overrides_the_default_section() {
        let c = Config::from_json(GUIDE.as_bytes()).unwrap();
        assert_eq!(
            c.signing.profile("default").unwrap().expiry,
            Duration::hours(8760)
        );
        let c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"},"profiles":{"default":{"usages":["server auth"],"expiry":"2h"}}}}"#).unwrap();
        assert_eq!(
            c.signing.profile("default").unwrap().expiry,
            Duration::hours(2)
        );
        assert_eq!(c.signing.profile("").unwrap().expiry, Duration::hours(1));
    }

    #[test]
    fn remotes_and_auth_keys_must_exist() {
        let p = one_profile(
            r#"{"usages":["server auth"],"expiry":"1h","auth_key":"k","prev_auth_key":"k"}"#,
        )
        .unwrap();
        assert!(p.signing.profile("p").unwrap().is_local());
        for (body, needle) in [
            (r#"{"remote":"nope"}"#, "remote \"nope\""),
            (
                r#"{"remote":"r","auth_remote":{"remote":"r","auth_key":"k"}}"#,
                "pick one",
            ),
            (
                r#"{"auth_remote":{"remote":"nope","auth_key":"k"}}"#,
                "remote \"nope\"",
            ),
            (
                r#"{"auth_remote":{"remote":"r","auth_key":"nope"}}"#,
                "auth_key \"nope\"",
            ),
            (
                r#"{"usages":["server auth"],"expiry":"1h","prev_auth_key":"nope"}"#,
                "auth_key \"nope\"",
            ),
        ] {
            let e = one_profile(body).unwrap_err();
            assert!(e.message().contains(needle), "{body}: {}", e.message());
        }
    }

    #[test]
    fn remote_profiles_need_neither_usages_nor_expiry() {
        let c = one_profile(r#"{"remote":"r"}"#).unwrap();
        let p = c.signing.profile("p").unwrap();
        assert!(!p.is_local());
        assert_eq!(p.expiry, Duration::ZERO);
        let c = one_profile(r#"{"auth_remote":{"remote":"r","auth_key":"k"}}"#).unwrap();
        let p = c.signing.profile("p").unwrap();
        assert!(!p.is_local());
        assert_eq!(
            p.auth_remote,
            Some(AuthRemote {
                remote: "r".into(),
                auth_key: "k".into()
            })
        );
    }

    #[test]
    fn not_before_and_not_after_are_parsed_and_ordered() {
        let c = one_profile(r#"{"usages":["server auth"],"not_before":"2020-01-01T00:00:00Z","not_after":"2021-01-01T00:00:00Z"}"#).unwrap();
        let p = c.signing.profile("p").unwrap();
        assert_eq!(
            p.not_before,
            Some(time::macros::datetime!(2020-01-01 00:00:00 UTC))
        );
        assert_eq!(
            p.not_after,
            Some(time::macros::datetime!(2021-01-01 00:00:00 UTC))
        );
        assert_eq!(p.expiry, Duration::ZERO, "not_after stands in for expiry");
        let c = one_profile(
            r#"{"usages":["server auth"],"expiry":"1h","not_before":"","not_after":""}"#,
        )
        .unwrap();
        let p = c.signing.profile("p").unwrap();
        assert_eq!(
            (p.not_before, p.not_after),
            (None, None),
            "empty strings mean unset"
        );
        let e = one_profile(r#"{"usages":["server auth"],"not_before":"2021-01-01T00:00:00Z","not_after":"2020-01-01T00:00:00Z"}"#).unwrap_err();
        assert!(e.message().contains("before not_before"), "{}", e.message());
        let e = one_profile(r#"{"usages":["server auth"],"not_after":"2020-01-01"}"#).unwrap_err();
        assert!(e.message().contains("invalid not_after"), "{}", e.message());
    }

    #[test]
    fn eku_names_for_display() {
        for (o, name) in [
            (&[1u64, 3, 6, 1, 5, 5, 7, 3, 1][..], "server auth"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 2], "client auth"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 3], "code signing"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 4], "email protection"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 8], "timestamping"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 9], "ocsp signing"),
            (&[2, 5, 29, 37, 0], "any"),
            (&[1, 3, 6, 1, 5, 5, 7, 3, 5], "other"),
        ] {
            assert_eq!(eku_name(o), name);
        }
    }

    #[test]
    fn the_builtin_default_profile_is_cfssls() {
        // cfssl's DefaultConfig: signing, key encipherment, server auth, client auth; 8760h.
        let c = Config::from_json(br#"{"signing":{"profiles":{}}}"#).unwrap();
        for p in [SigningProfile::cfssl_default(), c.signing.default] {
            assert_eq!(
                p.usages,
                ["signing", "key encipherment", "server auth", "client auth"]
            );
            assert_eq!(p.key_usage, 0b101, "digitalSignature and keyEncipherment");
            assert_eq!(
                p.ext_key_usages,
                [
                    &[1u64, 3, 6, 1, 5, 5, 7, 3, 1][..],
                    &[1, 3, 6, 1, 5, 5, 7, 3, 2]
                ]
            );
            assert_eq!(p.expiry, Duration::hours(8760));
            assert_eq!(p.expiry_string, "8760h");
            assert!(p.is_local());
        }
    }

    fn path_len_of(is_ca_json: &str) -> Option<u32> {
        let c = one_profile(&format!(
            r#"{{"usages":["cert sign","crl sign"],"expiry":"1h","ca_constraint":{is_ca_json}}}"#
        ))
        .unwrap();
        c.signing.profile("p").unwrap().ca_constraint.path_len()
    }

    #[test]
    fn path_len_follows_cfssls_max_path_len_rules() {
        // A positive max_path_len is written as is.
        assert_eq!(path_len_of(r#"{"is_ca":true,"max_path_len":1}"#), Some(1));
        assert_eq!(path_len_of(r#"{"is_ca":true,"max_path_len":2}"#), Some(2));
        // 0 without max_path_len_zero means "no limit" (Go's MaxPathLen 0 + MaxPathLenZero false).
        assert_eq!(path_len_of(r#"{"is_ca":true,"max_path_len":0}"#), None);
        assert_eq!(path_len_of(r#"{"is_ca":true}"#), None);
        // 0 with max_path_len_zero is an explicit pathLenConstraint of 0.
        assert_eq!(
            path_len_of(r#"{"is_ca":true,"max_path_len":0,"max_path_len_zero":true}"#),
            Some(0)
        );
        // Negative (Go's -1 = unset) is "no limit", also with max_path_len_zero unset.
        assert_eq!(path_len_of(r#"{"is_ca":true,"max_path_len":-1}"#), None);
        // ... and with max_path_len_zero set too (Go writes no pathLenConstraint for -1).
        assert_eq!(
            path_len_of(r#"{"is_ca":true,"max_path_len":-1,"max_path_len_zero":true}"#),
            None
        );
        // A positive value wins over max_path_len_zero.
        assert_eq!(
            path_len_of(r#"{"is_ca":true,"max_path_len":3,"max_path_len_zero":true}"#),
            Some(3)
        );
        // Values beyond u32 are clamped rather than wrapped.
        let huge = CaConstraint {
            is_ca: true,
            max_path_len: 1 << 40,
            max_path_len_zero: false,
        };
        assert_eq!(huge.path_len(), Some(u32::MAX));
        // No ca_constraint at all: not a CA, no limit.
        let c = one_profile(r#"{"usages":["server auth"],"expiry":"1h"}"#).unwrap();
        let p = c.signing.profile("p").unwrap();
        assert_eq!(p.ca_constraint, CaConstraint::default());
        assert_eq!(p.ca_constraint.path_len(), None);
    }

    #[test]
    fn duplicate_and_synonym_ekus_are_written_once() {
        let c = one_profile(
            r#"{"usages":["s/mime","email protection","server auth","server auth","signing","digital signature"],"expiry":"1h"}"#,
        )
        .unwrap();
        let p = c.signing.profile("p").unwrap();
        assert_eq!(
            p.ext_key_usages,
            [
                &[1u64, 3, 6, 1, 5, 5, 7, 3, 4][..],
                &[1, 3, 6, 1, 5, 5, 7, 3, 1]
            ]
        );
        assert_eq!(p.key_usage, ku::DIGITAL_SIGNATURE);
        assert_eq!(p.usages.len(), 6, "usages are kept as configured");
    }

    #[test]
    fn expiry_must_be_positive_and_backdate_defaults_to_5m() {
        for bad in ["0s", "-1h"] {
            let e = one_profile(&format!(r#"{{"usages":["server auth"],"expiry":"{bad}"}}"#))
                .unwrap_err();
            assert_eq!(e.code(), 5200);
            assert!(e.message().contains("positive"), "{bad}: {}", e.message());
        }
        let c = one_profile(r#"{"usages":["server auth"],"expiry":"1h"}"#).unwrap();
        assert_eq!(
            c.signing.profile("p").unwrap().backdate,
            Duration::minutes(5)
        );
        let c =
            one_profile(r#"{"usages":["server auth"],"expiry":"1h","backdate":"1h30m"}"#).unwrap();
        assert_eq!(
            c.signing.profile("p").unwrap().backdate,
            Duration::minutes(90)
        );
    }

    #[test]
    fn file_auth_keys_are_trimmed_and_empty_keys_rejected() {
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"standard","key":"file:/run/k"}}}"#).unwrap();
        c.resolve_auth_keys(|r| {
            assert_eq!(r, "file:/run/k", "the reference is passed as written");
            Ok(" 0a0B\n".into())
        })
        .unwrap();
        assert_eq!(c.auth_keys["k"].key, "0a0B");
        assert_eq!(c.auth_key_bytes("k"), Some(vec![0x0a, 0x0b]));
        assert_eq!(c.auth_key_bytes("nope"), None);
        // A plain hex key is used as is, without calling the reader.
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"standard","key":"0102"}}}"#).unwrap();
        c.resolve_auth_keys(|_| unreachable!()).unwrap();
        assert_eq!(c.auth_key_bytes("k"), Some(vec![1, 2]));
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"standard","key":""}}}"#).unwrap();
        let e = c.resolve_auth_keys(|_| unreachable!()).unwrap_err();
        assert_eq!(e.code(), 5200);
        assert!(
            e.message().contains("standard auth provider"),
            "{}",
            e.message()
        );
        // Errors from the reader (missing env var, unreadable file) propagate.
        let mut c = Config::from_json(br#"{"signing":{"default":{"expiry":"1h"}},"auth_keys":{"k":{"type":"standard","key":"env:NOPE"}}}"#).unwrap();
        let e = c
            .resolve_auth_keys(|_| Err(Error::policy("no such variable")))
            .unwrap_err();
        assert_eq!(e.message(), "no such variable");
    }
}
