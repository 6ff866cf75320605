//! A cluster's PKI plan: the inventory (`cluster.json`/`.yaml`: name, nodes with roles, service
//! CIDR, domain, endpoint, key algorithm, validity), the certificates and kubeconfigs a binary
//! Kubernetes deployment needs (shapes per kubeadm, landscape.md §2), and the decision whether an
//! existing certificate is kept, re-issued, or must not be touched (CAs). Pure: it reads bytes
//! handed to it and returns decisions; the CLI does the files, the signing and the database.

use crate::config::{Config, Signing};
use crate::csr::{CaConfig, CertificateRequest, KeyRequest, Name};
use crate::error::{Error, Result};
use crate::issue::Issued;
use crate::keys::{KeyAlgo, PrivateKey};
use ::time::{Duration, OffsetDateTime};
use serde::Deserialize;
use std::net::IpAddr;
use x509_parser::prelude::*;

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// runs an etcd member
    Etcd,
    /// runs kube-apiserver, controller-manager, scheduler
    ControlPlane,
    /// runs workloads
    Worker,
}

/// One node of the inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// node name (DNS-1123: lower-case letters, digits, `-`, `.`)
    pub name: String,
    /// the address other nodes reach it on
    pub ip: IpAddr,
    /// roles
    pub roles: Vec<Role>,
}

impl Node {
    /// True when the node has `r`.
    pub fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}

/// Key algorithm of every generated key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// `ecdsa` or `rsa`
    pub algo: String,
    /// bits (curve size for ECDSA)
    #[serde(default)]
    pub size: u32,
}

/// Lifetimes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// CA lifetime (default 87600h, kubeadm's 10 years)
    #[serde(default = "default_ca_validity")]
    pub ca: String,
    /// leaf lifetime (default 8760h, kubeadm's 1 year)
    #[serde(default = "default_leaf_validity")]
    pub leaf: String,
}

fn default_ca_validity() -> String {
    "87600h".into()
}
fn default_leaf_validity() -> String {
    "8760h".into()
}
fn default_name() -> String {
    "kubernetes".into()
}
fn default_cidr() -> String {
    "10.96.0.0/12".into()
}
fn default_domain() -> String {
    "cluster.local".into()
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            ca: default_ca_validity(),
            leaf: default_leaf_validity(),
        }
    }
}

/// The inventory file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// cluster name (kubeconfig cluster entry; default `kubernetes`)
    #[serde(default = "default_name")]
    pub name: String,
    /// nodes
    pub nodes: Vec<Node>,
    /// service CIDR; its first address is the `kubernetes` Service IP (default 10.96.0.0/12)
    #[serde(default = "default_cidr", rename = "serviceCIDR")]
    pub service_cidr: String,
    /// cluster DNS domain (default cluster.local)
    #[serde(default = "default_domain", rename = "clusterDomain")]
    pub cluster_domain: String,
    /// API server URL for kubeconfigs (default https://<first control-plane IP>:6443)
    #[serde(default, rename = "apiserverEndpoint")]
    pub apiserver_endpoint: Option<String>,
    /// extra SANs for the API server certificate (load balancer names and addresses)
    #[serde(default, rename = "apiserverSANs")]
    pub apiserver_sans: Vec<String>,
    /// key algorithm (default ECDSA P-256)
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// lifetimes
    #[serde(default)]
    pub validity: Validity,
}

fn bad(m: impl Into<String>) -> Error {
    Error::Policy(5200, format!("invalid cluster inventory: {}", m.into()))
}

fn is_dns1123(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The first usable address of a CIDR (network + 1): the `kubernetes` Service IP.
pub fn first_service_ip(cidr: &str) -> Result<IpAddr> {
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| bad(format!("serviceCIDR {cidr:?} is not ADDRESS/PREFIX")))?;
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| bad(format!("serviceCIDR {cidr:?}: bad address")))?;
    let len: u32 = len
        .parse()
        .map_err(|_| bad(format!("serviceCIDR {cidr:?}: bad prefix length")))?;
    match ip {
        IpAddr::V4(a) => {
            if !(1..=30).contains(&len) {
                return Err(bad(format!("serviceCIDR {cidr:?}: prefix must be 1..30")));
            }
            let mask = u32::MAX << (32 - len);
            Ok(IpAddr::V4(((u32::from(a) & mask) + 1).into()))
        }
        IpAddr::V6(a) => {
            if !(1..=126).contains(&len) {
                return Err(bad(format!("serviceCIDR {cidr:?}: prefix must be 1..126")));
            }
            let mask = u128::MAX << (128 - len);
            Ok(IpAddr::V6(((u128::from(a) & mask) + 1).into()))
        }
    }
}

/// Parses an inventory: JSON when it starts with `{`, else YAML. Validates it.
pub fn parse_inventory(text: &[u8]) -> Result<Inventory> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        return Err(bad("the file is empty"));
    }
    let inv: Inventory = if first == Some(&b'{') {
        serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?
    } else {
        let s = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
        serde_saphyr::from_str(s).map_err(|e| bad(e.to_string()))?
    };
    inv.validate()?;
    Ok(inv)
}

impl Inventory {
    /// Checks names, addresses, roles, CIDR, endpoint, key and validity.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.chars().any(|c| c.is_control()) {
            return Err(bad("name must be non-empty and one line"));
        }
        if self.nodes.is_empty() {
            return Err(bad("no nodes"));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !is_dns1123(&n.name) {
                return Err(bad(format!(
                    "node name {:?} must be lower-case letters, digits, '-' and '.'",
                    n.name
                )));
            }
            if n.roles.is_empty() {
                return Err(bad(format!("node {} has no roles", n.name)));
            }
            for m in &self.nodes[..i] {
                if m.name == n.name {
                    return Err(bad(format!("node name {} appears twice", n.name)));
                }
                if m.ip == n.ip {
                    return Err(bad(format!("address {} appears twice", n.ip)));
                }
            }
        }
        if !self.nodes.iter().any(|n| n.has(Role::Etcd)) {
            return Err(bad("no node has the etcd role"));
        }
        if !self.nodes.iter().any(|n| n.has(Role::ControlPlane)) {
            return Err(bad("no node has the control-plane role"));
        }
        first_service_ip(&self.service_cidr)?;
        if !is_dns1123(&self.cluster_domain) {
            return Err(bad(format!(
                "clusterDomain {:?} is not a DNS name",
                self.cluster_domain
            )));
        }
        crate::kubeconfig::check_server(&self.endpoint()).map_err(|e| bad(e.message()))?;
        // Both go into the apiserver certificate's SANs: refuse here, with the inventory error,
        // what issuing would refuse later, after the CAs and etcd certificates are written.
        let host = self.endpoint_host();
        if host.parse::<IpAddr>().is_err() && !crate::der::is_dns_name(&host) {
            return Err(bad(format!(
                "the host {host:?} of apiserverEndpoint is not an IP or DNS name"
            )));
        }
        for s in &self.apiserver_sans {
            if s.parse::<IpAddr>().is_err() && !crate::der::is_dns_name(s) {
                return Err(bad(format!(
                    "apiserverSANs entry {s:?} is not an IP or DNS name"
                )));
            }
        }
        match self.key_algo()? {
            KeyAlgo::Ed25519 => {
                return Err(bad(
                    "Kubernetes components take RSA or ECDSA keys only (not ed25519)",
                ));
            }
            KeyAlgo::EcdsaP521 => {
                return Err(bad("Kubernetes takes ECDSA P-256 or P-384 keys only"));
            }
            _ => {}
        }
        let (ca, leaf) = self.validities()?;
        if leaf > ca {
            return Err(bad("validity.leaf is longer than validity.ca"));
        }
        Ok(())
    }

    /// The key algorithm.
    pub fn key_algo(&self) -> Result<KeyAlgo> {
        match &self.key {
            None => Ok(KeyAlgo::EcdsaP256),
            Some(k) => KeyAlgo::from_request(&k.algo, k.size).map_err(|e| bad(e.message())),
        }
    }

    /// (CA lifetime, leaf lifetime).
    pub fn validities(&self) -> Result<(Duration, Duration)> {
        let p = |what: &str, s: &str| {
            let d = crate::duration::parse_human(s)
                .map_err(|e| bad(format!("validity.{what}: {}", e.message())))?;
            if d <= Duration::ZERO {
                return Err(bad(format!("validity.{what} must be positive")));
            }
            Ok(d)
        };
        Ok((p("ca", &self.validity.ca)?, p("leaf", &self.validity.leaf)?))
    }

    /// The API server URL written into kubeconfigs.
    pub fn endpoint(&self) -> String {
        match &self.apiserver_endpoint {
            Some(e) => e.clone(),
            None => {
                let ip = self
                    .nodes
                    .iter()
                    .find(|n| n.has(Role::ControlPlane))
                    .map(|n| n.ip)
                    .unwrap_or(IpAddr::from([127, 0, 0, 1]));
                match ip {
                    IpAddr::V6(a) => format!("https://[{a}]:6443"),
                    IpAddr::V4(a) => format!("https://{a}:6443"),
                }
            }
        }
    }

    /// The host part of the endpoint (IP or DNS name).
    pub fn endpoint_host(&self) -> String {
        let e = self.endpoint();
        crate::kubeconfig::server_host_port(&e)
            .map(|(host, _)| host.to_string())
            .unwrap_or_default()
    }
}

/// Which CA signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaId {
    /// etcd's CA
    Etcd,
    /// the cluster CA (`kubernetes`)
    Kubernetes,
    /// the aggregation layer's CA
    FrontProxy,
}

/// The kind of certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// self-signed CA
    Ca,
    /// serverAuth
    Server,
    /// clientAuth
    Client,
    /// serverAuth + clientAuth (etcd members)
    Peer,
}

impl Kind {
    /// The signing profile name in [`signing`].
    pub fn profile(self) -> &'static str {
        match self {
            Kind::Ca => "ca",
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Peer => "peer",
        }
    }
}

/// One certificate of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// path under `pki/` without extension (`etcd/server-node1`); files are `<id>.pem` and
    /// `<id>-key.pem`
    pub id: String,
    /// the CA it belongs to (for a CA: itself)
    pub ca: CaId,
    /// kind
    pub kind: Kind,
    /// subject CN
    pub cn: String,
    /// subject O values
    pub orgs: Vec<String>,
    /// SANs (IP addresses and DNS names)
    pub hosts: Vec<String>,
}

/// One kubeconfig of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// file name under `kubeconfig/`
    pub file: String,
    /// kubeconfig user entry name
    pub user: String,
    /// the client certificate's spec id, or None for the bootstrap (token) kubeconfig
    pub cert: Option<String>,
}

/// The user name of the token.csv line and the bootstrap kubeconfig.
pub const BOOTSTRAP_USER: &str = "kubelet-bootstrap";

/// Everything `cluster init` makes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// CAs, then leaves
    pub certs: Vec<CertSpec>,
    /// kubeconfigs
    pub kubeconfigs: Vec<KubeconfigSpec>,
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The certificates and kubeconfigs for `inv`. `cluster_admins` gives `admin` and
/// `apiserver-kubelet-client` O=`kubeadm:cluster-admins` (kubeadm v1.29+, needs the RBAC binding
/// kubeadm creates) instead of `system:masters` (works without any RBAC set-up).
pub fn plan(inv: &Inventory, cluster_admins: bool) -> Result<Plan> {
    let admin_org = if cluster_admins {
        "kubeadm:cluster-admins"
    } else {
        "system:masters"
    };
    let spec = |id: &str, ca, kind, cn: &str, orgs: &[&str], hosts: Vec<String>| CertSpec {
        id: id.into(),
        ca,
        kind,
        cn: cn.into(),
        orgs: orgs.iter().map(|s| s.to_string()).collect(),
        hosts: dedup(hosts),
    };
    let mut certs = vec![
        spec("etcd/ca", CaId::Etcd, Kind::Ca, "etcd-ca", &[], vec![]),
        spec("ca", CaId::Kubernetes, Kind::Ca, "kubernetes", &[], vec![]),
        spec(
            "front-proxy-ca",
            CaId::FrontProxy,
            Kind::Ca,
            "front-proxy-ca",
            &[],
            vec![],
        ),
    ];
    for n in inv.nodes.iter().filter(|n| n.has(Role::Etcd)) {
        let hosts = vec![
            n.name.clone(),
            "localhost".into(),
            n.ip.to_string(),
            "127.0.0.1".into(),
            "::1".into(),
        ];
        for what in ["server", "peer"] {
            certs.push(spec(
                &format!("etcd/{what}-{}", n.name),
                CaId::Etcd,
                Kind::Peer,
                &n.name,
                &[],
                hosts.clone(),
            ));
        }
    }
    certs.push(spec(
        "apiserver-etcd-client",
        CaId::Etcd,
        Kind::Client,
        "kube-apiserver-etcd-client",
        &[],
        vec![],
    ));
    let svc = first_service_ip(&inv.service_cidr)?;
    let d = &inv.cluster_domain;
    let mut hosts: Vec<String> = vec![
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        format!("kubernetes.default.svc.{d}"),
        svc.to_string(),
    ];
    for n in inv.nodes.iter().filter(|n| n.has(Role::ControlPlane)) {
        hosts.push(n.name.clone());
        hosts.push(n.ip.to_string());
    }
    hosts.push(inv.endpoint_host());
    hosts.push("127.0.0.1".into());
    hosts.extend(inv.apiserver_sans.iter().cloned());
    certs.push(spec(
        "apiserver",
        CaId::Kubernetes,
        Kind::Server,
        "kube-apiserver",
        &[],
        hosts,
    ));
    let k = CaId::Kubernetes;
    certs.push(spec(
        "apiserver-kubelet-client",
        k,
        Kind::Client,
        "kube-apiserver-kubelet-client",
        &[admin_org],
        vec![],
    ));
    certs.push(spec(
        "admin",
        k,
        Kind::Client,
        "kubernetes-admin",
        &[admin_org],
        vec![],
    ));
    for (id, cn) in [
        ("kube-proxy", "system:kube-proxy"),
        ("kube-controller-manager", "system:kube-controller-manager"),
        ("kube-scheduler", "system:kube-scheduler"),
    ] {
        certs.push(spec(id, k, Kind::Client, cn, &[], vec![]));
    }
    certs.push(spec(
        "front-proxy-client",
        CaId::FrontProxy,
        Kind::Client,
        "front-proxy-client",
        &[],
        vec![],
    ));
    let kc = |file: &str, user: &str, cert: Option<&str>| KubeconfigSpec {
        file: file.into(),
        user: user.into(),
        cert: cert.map(str::to_string),
    };
    let kubeconfigs = vec![
        kc("admin.kubeconfig", "admin", Some("admin")),
        kc("kube-proxy.kubeconfig", "kube-proxy", Some("kube-proxy")),
        kc(
            "kube-controller-manager.kubeconfig",
            "kube-controller-manager",
            Some("kube-controller-manager"),
        ),
        kc(
            "kube-scheduler.kubeconfig",
            "kube-scheduler",
            Some("kube-scheduler"),
        ),
        kc("bootstrap.kubeconfig", BOOTSTRAP_USER, None),
    ];
    Ok(Plan { certs, kubeconfigs })
}

/// The signing profiles `cluster init` issues with: `server`, `client`, `peer`, leaf lifetime.
pub fn signing(leaf: Duration) -> Result<Signing> {
    let e = crate::duration::format_go(leaf);
    let json = format!(
        r#"{{"signing":{{"default":{{"expiry":"{e}"}},"profiles":{{
        "server":{{"expiry":"{e}","usages":["signing","key encipherment","server auth"]}},
        "client":{{"expiry":"{e}","usages":["signing","key encipherment","client auth"]}},
        "peer":{{"expiry":"{e}","usages":["signing","key encipherment","server auth","client auth"]}}}}}}}}"#
    );
    Ok(Config::from_json(json.as_bytes())?.signing)
}

impl CertSpec {
    /// The CSR JSON equivalent for this certificate.
    pub fn request(&self, inv: &Inventory) -> Result<CertificateRequest> {
        let algo = inv.key_algo()?;
        let (algo_name, size) = match algo {
            KeyAlgo::Rsa(b) => ("rsa", b),
            KeyAlgo::EcdsaP384 => ("ecdsa", 384),
            _ => ("ecdsa", 256),
        };
        let (ca_validity, _) = inv.validities()?;
        Ok(CertificateRequest {
            cn: self.cn.clone(),
            names: self
                .orgs
                .iter()
                .map(|o| Name {
                    o: o.clone(),
                    ..Default::default()
                })
                .collect(),
            hosts: (!self.hosts.is_empty()).then(|| self.hosts.clone()),
            key: Some(KeyRequest {
                algo: algo_name.into(),
                size,
            }),
            ca: (self.kind == Kind::Ca).then(|| CaConfig {
                expiry: crate::duration::format_go(ca_validity),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

/// What to do with an existing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// valid and as planned: leave the files alone
    Keep,
    /// (re-)issue, with the reason
    Issue(String),
}

/// What a certificate file says, read with x509-parser.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// subject CN: the last one when there are several, as Go (so Kubernetes and etcd) reads it
    pub cn: String,
    /// how many CN attributes the subject has (kpki issues exactly one)
    pub cn_count: usize,
    /// subject O values
    pub orgs: Vec<String>,
    /// SANs as text (IPs in Rust's display form)
    pub hosts: Vec<String>,
    /// CA:TRUE
    pub is_ca: bool,
    /// serverAuth EKU
    pub server_auth: bool,
    /// clientAuth EKU
    pub client_auth: bool,
    /// notBefore
    pub not_before: OffsetDateTime,
    /// notAfter
    pub not_after: OffsetDateTime,
    /// subjectPublicKey bits
    pub public_key_bits: Vec<u8>,
    /// decimal serial
    pub serial: String,
    /// SKI (hex), when present
    pub ski: Option<String>,
}

/// Reads the facts of the first certificate of a PEM text.
pub fn cert_facts(pem_text: &[u8]) -> Result<(Vec<u8>, CertFacts)> {
    let der = crate::signer::first_certificate_der(pem_text)?;
    let facts = facts_of_der(&der)?;
    Ok((der, facts))
}

/// Reads the facts of a DER certificate.
pub fn facts_of_der(der: &[u8]) -> Result<CertFacts> {
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|e| Error::Certificate(1003, format!("Failed to parse certificate: {e}")))?;
    let mut f = CertFacts {
        cn: c
            .subject()
            .iter_common_name()
            .last()
            .and_then(|a| a.as_str().ok())
            .unwrap_or("")
            .to_string(),
        cn_count: c.subject().iter_common_name().count(),
        orgs: c
            .subject()
            .iter_organization()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect(),
        hosts: vec![],
        is_ca: false,
        server_auth: false,
        client_auth: false,
        not_before: c.validity().not_before.to_datetime(),
        not_after: c.validity().not_after.to_datetime(),
        public_key_bits: c.public_key().subject_public_key.data.to_vec(),
        serial: c.serial.to_string(),
        ski: None,
    };
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => f.is_ca = bc.ca,
            ParsedExtension::ExtendedKeyUsage(e) => {
                f.server_auth = e.server_auth;
                f.client_auth = e.client_auth;
            }
            ParsedExtension::SubjectKeyIdentifier(k) => f.ski = Some(hex::encode(k.0)),
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        GeneralName::DNSName(d) => f.hosts.push(d.to_string()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = crate::csr::ip_from_bytes(b) {
                                f.hosts.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

/// True when `cert_der` carries a valid signature by `issuer_der`'s key.
pub fn signed_by(cert_der: &[u8], issuer_der: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (
        X509Certificate::from_der(cert_der),
        X509Certificate::from_der(issuer_der),
    ) else {
        return false;
    };
    c.issuer().as_raw() == i.subject().as_raw() && c.verify_signature(Some(i.public_key())).is_ok()
}

fn normalize(hosts: &[String]) -> Vec<String> {
    let mut v: Vec<String> = hosts
        .iter()
        .map(|h| match h.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => h.to_ascii_lowercase(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Human text for a duration: `29d`, `5h`, `12m`.
pub fn human(d: Duration) -> String {
    let s = d.whole_seconds();
    let (neg, s) = (s < 0, s.abs());
    let t = if s >= 2 * 86_400 {
        format!("{}d", s / 86_400)
    } else if s >= 3600 {
        format!("{}h", s / 3600)
    } else {
        format!("{}m", s / 60)
    };
    if neg { format!("-{t}") } else { t }
}

/// Decides on an existing CA: kept when it is a CA whose key matches; a CA is never replaced
/// automatically (every certificate and kubeconfig that trusts it would break), so any problem
/// is an error the operator resolves. Expiring within `renew_within` gives a warning text.
pub fn check_ca(
    id: &str,
    cert_pem: &[u8],
    key: &PrivateKey,
    now: OffsetDateTime,
    renew_within: Option<Duration>,
) -> Result<Option<String>> {
    let refuse = |why: String| {
        Error::Policy(
            5300,
            format!(
                "pki/{id}.pem: {why}; kpki never replaces a CA by itself: fix or remove pki/{id}.pem and pki/{id}-key.pem (and re-issue what it signed)"
            ),
        )
    };
    let (_, f) = cert_facts(cert_pem).map_err(|e| refuse(e.message()))?;
    if !f.is_ca {
        return Err(refuse("not a CA certificate".into()));
    }
    if f.public_key_bits != key.public_key_bits() {
        return Err(refuse("the key file does not match the certificate".into()));
    }
    if f.not_after <= now {
        return Err(refuse(format!(
            "expired on {}",
            crate::certinfo::rfc3339(f.not_after)
        )));
    }
    Ok(match renew_within {
        Some(w) if f.not_after - now <= w => Some(format!(
            "CA expires in {}: not renewed (rotate CAs deliberately)",
            human(f.not_after - now)
        )),
        _ => None,
    })
}

/// Decides on an existing leaf: re-issued when it does not parse, its key does not match, it
/// is not signed by `ca_der`, it has expired or is not yet valid, its subject, SANs or usages
/// differ from the plan, or it expires within `renew_within`; else kept.
pub fn check_leaf(
    spec: &CertSpec,
    cert_pem: &[u8],
    key: Option<&PrivateKey>,
    ca_der: &[u8],
    now: OffsetDateTime,
    renew_within: Option<Duration>,
) -> Decision {
    let issue = |s: &str| Decision::Issue(s.to_string());
    let Ok((der, f)) = cert_facts(cert_pem) else {
        return issue("certificate unreadable");
    };
    let Some(key) = key else {
        return issue("key unreadable");
    };
    if f.public_key_bits != key.public_key_bits() {
        return issue("key does not match");
    }
    if !signed_by(&der, ca_der) {
        return issue("not signed by the current CA");
    }
    if f.not_after <= now {
        return issue("expired");
    }
    if f.not_before > now + Duration::minutes(10) {
        return issue("not valid yet");
    }
    let mut orgs = f.orgs.clone();
    orgs.sort();
    let mut want_orgs = spec.orgs.clone();
    want_orgs.sort();
    if f.cn_count != 1 || f.cn != spec.cn || orgs != want_orgs {
        return issue("subject changed");
    }
    if normalize(&f.hosts) != normalize(&spec.hosts) {
        return issue("SANs changed");
    }
    let (srv, cli) = match spec.kind {
        Kind::Server => (true, false),
        Kind::Client => (false, true),
        Kind::Peer => (true, true),
        Kind::Ca => (false, false),
    };
    if f.is_ca || f.server_auth != srv || f.client_auth != cli {
        return issue("usages changed");
    }
    if let Some(w) = renew_within
        && f.not_after - now <= w
    {
        return Decision::Issue(format!(
            "expires in {} (within -renew-within)",
            human(f.not_after - now)
        ));
    }
    Decision::Keep
}

/// The database record facts of a self-signed CA (CAs are recorded like any certificate).
pub fn issued_from_ca(cert_pem: &str, label: &str) -> Result<Issued> {
    let (der, f) = cert_facts(cert_pem.as_bytes())?;
    let aki = match &f.ski {
        Some(s) => s.clone(),
        None => hex::encode(crate::keys::key_id(&f.public_key_bits)),
    };
    Ok(Issued {
        cert_der: der,
        cert_pem: cert_pem.to_string(),
        serial: f.serial,
        aki,
        not_before: f.not_before,
        not_after: f.not_after,
        common_name: f.cn,
        dns_sans: f
            .hosts
            .into_iter()
            .filter(|h| h.parse::<IpAddr>().is_err())
            .collect(),
        profile: "ca".into(),
        label: label.into(),
        warnings: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = r#"
name: demo
serviceCIDR: 10.96.0.0/12
nodes:
  - name: node1
    ip: 127.0.0.1
    roles: [etcd, control-plane]
  - {name: node2, ip: 127.0.0.2, roles: [etcd, worker]}
  - {name: node3, ip: 127.0.0.3, roles: [etcd, worker]}
"#;

    #[test]
    fn yaml_and_json_inventories() {
        let inv = parse_inventory(INV.as_bytes()).unwrap();
        assert_eq!(inv.nodes.len(), 3);
        assert_eq!(inv.cluster_domain, "cluster.local");
        assert_eq!(inv.endpoint(), "https://127.0.0.1:6443");
        assert_eq!(inv.endpoint_host(), "127.0.0.1");
        let j = parse_inventory(
            br#"{"nodes":[{"name":"m","ip":"10.0.0.1","roles":["etcd","control-plane"]}],
                 "apiserverEndpoint":"https://lb.example.com:6443","key":{"algo":"rsa","size":2048}}"#,
        )
        .unwrap();
        assert_eq!(j.endpoint_host(), "lb.example.com");
        assert_eq!(j.key_algo().unwrap(), KeyAlgo::Rsa(2048));
    }

    #[test]
    fn bad_inventories_say_what_is_wrong() {
        for (text, want) in [
            ("nodes: []", "no nodes"),
            (" \n", "empty"),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [worker]}]",
                "etcd role",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd]}]",
                "control-plane",
            ),
            (
                "nodes: [{name: A, ip: 1.2.3.4, roles: [etcd]}]",
                "node name",
            ),
            ("nodes: [{name: a, ip: 1.2.3, roles: [etcd]}]", "invalid"),
            ("nodes: [{name: a, ip: 1.2.3.4, roles: [boss]}]", "invalid"),
            ("nodez: []", "invalid"),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}]\nserviceCIDR: 10.0.0.0",
                "serviceCIDR",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}]\nkey: {algo: ed25519}",
                "ed25519",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}]\nvalidity: {ca: 1h, leaf: 2h}",
                "longer",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}, {name: a, ip: 1.2.3.5, roles: [worker]}]",
                "twice",
            ),
            ("{bad json", "invalid"),
            ("- [", "invalid"),
        ] {
            let e = parse_inventory(text.as_bytes()).unwrap_err();
            assert_eq!(e.code(), 5200);
            assert!(e.message().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn service_ips() {
        assert_eq!(
            first_service_ip("10.96.0.0/12").unwrap().to_string(),
            "10.96.0.1"
        );
        assert_eq!(
            first_service_ip("10.254.7.9/16").unwrap().to_string(),
            "10.254.0.1"
        );
        assert_eq!(
            first_service_ip("fd00::/108").unwrap().to_string(),
            "fd00::1"
        );
        assert!(first_service_ip("10.0.0.0/32").is_err());
    }

    #[test]
    fn the_plan_has_kubeadm_shapes() {
        let inv = parse_inventory(INV.as_bytes()).unwrap();
        let p = plan(&inv, false).unwrap();
        let get = |id: &str| p.certs.iter().find(|c| c.id == id).unwrap().clone();
        let api = get("apiserver");
        for h in [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "10.96.0.1",
            "127.0.0.1",
            "node1",
        ] {
            assert!(api.hosts.contains(&h.to_string()), "{h}");
        }
        assert!(
            !api.hosts.contains(&"127.0.0.2".to_string()),
            "workers are not API servers"
        );
        let s2 = get("etcd/server-node2");
        assert_eq!(s2.kind, Kind::Peer);
        assert_eq!(
            s2.hosts,
            ["node2", "localhost", "127.0.0.2", "127.0.0.1", "::1"]
        );
        assert_eq!(get("admin").orgs, ["system:masters"]);
        assert_eq!(get("kube-proxy").cn, "system:kube-proxy");
        assert_eq!(get("front-proxy-client").ca, CaId::FrontProxy);
        assert_eq!(get("apiserver-etcd-client").ca, CaId::Etcd);
        let p2 = plan(&inv, true).unwrap();
        assert_eq!(
            p2.certs.iter().find(|c| c.id == "admin").unwrap().orgs,
            ["kubeadm:cluster-admins"]
        );
        assert_eq!(p.certs.len(), 3 + 6 + 1 + 1 + 5 + 1);
        assert_eq!(p.kubeconfigs.len(), 5);
    }

    #[test]
    fn leaf_decisions() {
        let inv = parse_inventory(INV.as_bytes()).unwrap();
        let p = plan(&inv, false).unwrap();
        let ca_spec = &p.certs[1];
        let ss = crate::issue::init_ca(&ca_spec.request(&inv).unwrap(), None).unwrap();
        let ca = crate::signer::Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap();
        let leaf = p.certs.iter().find(|c| c.id == "apiserver").unwrap();
        let signing = signing(Duration::hours(8760)).unwrap();
        let nc = crate::issue::new_cert(&ca, &signing, &leaf.request(&inv).unwrap(), "server", "")
            .unwrap();
        let key = PrivateKey::from_pem(nc.key_pem.as_bytes(), None).unwrap();
        let now = OffsetDateTime::now_utc();
        let pem = nc.issued.cert_pem.as_bytes();
        assert_eq!(
            check_leaf(leaf, pem, Some(&key), &ca.cert_der, now, None),
            Decision::Keep
        );
        assert_eq!(
            check_leaf(
                leaf,
                pem,
                Some(&key),
                &ca.cert_der,
                now,
                Some(Duration::days(30))
            ),
            Decision::Keep
        );
        assert!(matches!(
            check_leaf(leaf, pem, Some(&key), &ca.cert_der, now, Some(Duration::days(400))),
            Decision::Issue(r) if r.contains("within")
        ));
        let other = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
        assert_eq!(
            check_leaf(leaf, pem, Some(&other), &ca.cert_der, now, None),
            Decision::Issue("key does not match".into())
        );
        let mut changed = leaf.clone();
        changed.hosts.push("lb.example.com".into());
        assert_eq!(
            check_leaf(&changed, pem, Some(&key), &ca.cert_der, now, None),
            Decision::Issue("SANs changed".into())
        );
        // The planned subject with a second CN, signed by the same CA for the same key. Go
        // programs (Kubernetes takes the client certificate's CN as the user name) read the last
        // CN, other tools the first: a subject with two CNs is never the planned one.
        let csr = crate::csr::parse_pem(nc.csr_pem.as_bytes()).unwrap();
        let over = crate::policy::Overrides {
            hosts: None,
            subject: None,
        };
        let profile = signing.profile("server").unwrap();
        let serial = crate::signer::new_serial().unwrap();
        let mut t =
            crate::policy::leaf_template(profile, &csr, &over, ca.facts(), now, serial).unwrap();
        let extra = crate::der::NameAttr::new(crate::der::oid::CN, "system:admin");
        for (extra_last, go_reads) in [(true, "system:admin"), (false, leaf.cn.as_str())] {
            let mut attrs = t.subject_attrs.clone();
            if extra_last {
                attrs.push(extra.clone());
            } else {
                attrs.insert(0, extra.clone());
            }
            t.subject_der = crate::der::encode_name(&attrs).unwrap();
            let two_cns = crate::keys::pem_encode("CERTIFICATE", &ca.sign(&t, now).unwrap());
            let (_, facts) = cert_facts(two_cns.as_bytes()).unwrap();
            assert_eq!((facts.cn.as_str(), facts.cn_count), (go_reads, 2));
            assert_eq!(
                check_leaf(
                    leaf,
                    two_cns.as_bytes(),
                    Some(&key),
                    &ca.cert_der,
                    now,
                    None
                ),
                Decision::Issue("subject changed".into()),
                "second CN last: {extra_last}"
            );
        }
        let other_ca = crate::issue::init_ca(&ca_spec.request(&inv).unwrap(), None).unwrap();
        assert_eq!(
            check_leaf(leaf, pem, Some(&key), &other_ca.cert_der, now, None),
            Decision::Issue("not signed by the current CA".into())
        );
        assert_eq!(
            check_leaf(leaf, b"junk", Some(&key), &ca.cert_der, now, None),
            Decision::Issue("certificate unreadable".into())
        );
        let later = now + Duration::days(366);
        assert_eq!(
            check_leaf(leaf, pem, Some(&key), &ca.cert_der, later, None),
            Decision::Issue("expired".into())
        );
        // CAs: kept, with a warning inside the window, refused when broken.
        let ca_pem = ca.cert_pem();
        assert_eq!(
            check_ca("ca", ca_pem.as_bytes(), ca.key(), now, None).unwrap(),
            None
        );
        assert!(
            check_ca(
                "ca",
                ca_pem.as_bytes(),
                ca.key(),
                now,
                Some(Duration::days(99999))
            )
            .unwrap()
            .unwrap()
            .contains("not renewed")
        );
        assert!(check_ca("ca", ca_pem.as_bytes(), &other, now, None).is_err());
        let rec = issued_from_ca(&ca_pem, "kubernetes").unwrap();
        assert_eq!(rec.aki, ca.aki_hex());
        assert_eq!(rec.common_name, "kubernetes");
    }

    /// One control-plane + etcd node and `extra` YAML lines.
    fn one_node(extra: &str) -> String {
        format!("nodes: [{{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}}]\n{extra}")
    }

    /// The 5200 message of an inventory that must be refused.
    fn refused(text: &str) -> String {
        let e = parse_inventory(text.as_bytes()).unwrap_err();
        assert_eq!(e.code(), 5200, "{text}: {e}");
        e.message()
    }

    #[test]
    fn dns1123_names() {
        let l63 = "a".repeat(63);
        let n253 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        assert_eq!(n253.len(), 253);
        let n254 = format!("{n253}c");
        for (s, want) in [
            ("node1", true),
            ("a", true),
            ("123", true),
            ("a-b", true),
            ("a.b-c.d", true),
            ("cluster.local", true),
            (l63.as_str(), true),
            (n253.as_str(), true),
            (n254.as_str(), false),
            ("", false),
            (".", false),
            ("a..b", false),
            ("a.", false),
            (".a", false),
            ("Node1", false),
            ("a_b", false),
            ("a b", false),
            ("-a", false),
            ("a-", false),
            ("a.-b", false),
            ("a.b-", false),
            ("---", false),
        ] {
            assert_eq!(is_dns1123(s), want, "{s:?}");
        }
        assert!(!is_dns1123(&"a".repeat(64)));
        assert!(!is_dns1123(&format!("x.{}", "a".repeat(64))));
    }

    #[test]
    fn inventory_defaults() {
        let inv = parse_inventory(one_node("").as_bytes()).unwrap();
        assert_eq!(inv.name, "kubernetes");
        assert_eq!(inv.service_cidr, "10.96.0.0/12");
        assert_eq!(inv.cluster_domain, "cluster.local");
        assert_eq!(inv.apiserver_endpoint, None);
        assert!(inv.apiserver_sans.is_empty());
        assert!(inv.key.is_none());
        assert_eq!(inv.key_algo().unwrap(), KeyAlgo::EcdsaP256);
        assert_eq!(
            (inv.validity.ca.as_str(), inv.validity.leaf.as_str()),
            ("87600h", "8760h")
        );
        assert_eq!(
            inv.validities().unwrap(),
            (Duration::hours(87600), Duration::hours(8760))
        );
        // An explicit but empty validity map takes the same defaults.
        let v = parse_inventory(one_node("validity: {}").as_bytes()).unwrap();
        assert_eq!(
            v.validities().unwrap(),
            (Duration::hours(87600), Duration::hours(8760))
        );
        let d = Validity::default();
        assert_eq!((d.ca.as_str(), d.leaf.as_str()), ("87600h", "8760h"));
        // Compact JSON (no whitespace at all) is JSON, not an empty file.
        let j = parse_inventory(
            br#"{"name":"j","nodes":[{"name":"m","ip":"10.0.0.1","roles":["etcd","control-plane"]}]}"#,
        )
        .unwrap();
        assert_eq!(j.name, "j");
        assert_eq!(j.nodes[0].ip, IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn inventory_values_are_read() {
        let inv = parse_inventory(
            one_node(
                "name: prod\nserviceCIDR: 10.32.0.0/16\nclusterDomain: k8s.example\n\
                 apiserverSANs: [lb.example.com, 10.0.0.5, '*.apps.example.com', 'fd00::5']\n\
                 key: {algo: ecdsa, size: 384}\nvalidity: {ca: 48h, leaf: 48h}",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(inv.name, "prod");
        assert_eq!(inv.service_cidr, "10.32.0.0/16");
        assert_eq!(inv.cluster_domain, "k8s.example");
        assert_eq!(
            inv.apiserver_sans,
            [
                "lb.example.com",
                "10.0.0.5",
                "*.apps.example.com",
                "fd00::5"
            ]
        );
        assert_eq!(inv.key_algo().unwrap(), KeyAlgo::EcdsaP384);
        // leaf == ca is allowed
        assert_eq!(
            inv.validities().unwrap(),
            (Duration::hours(48), Duration::hours(48))
        );
        let n = &inv.nodes[0];
        assert!(n.has(Role::Etcd) && n.has(Role::ControlPlane) && !n.has(Role::Worker));
    }

    #[test]
    fn inventory_errors_are_exact() {
        let cases: Vec<(String, &str)> = vec![
            (
                "name: ''\n".to_string() + &one_node(""),
                "invalid cluster inventory: name must be non-empty and one line",
            ),
            (
                "name: \"a\\nb\"\n".to_string() + &one_node(""),
                "invalid cluster inventory: name must be non-empty and one line",
            ),
            (
                "nodes: [{name: a_b, ip: 1.2.3.4, roles: [etcd]}]".into(),
                "invalid cluster inventory: node name \"a_b\" must be lower-case letters, digits, '-' and '.'",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: []}]".into(),
                "invalid cluster inventory: node a has no roles",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}, {name: b, ip: 1.2.3.4, roles: [worker]}]".into(),
                "invalid cluster inventory: address 1.2.3.4 appears twice",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, control-plane]}, {name: b, ip: 1.2.3.5, roles: [worker]}, {name: a, ip: 1.2.3.6, roles: [worker]}]".into(),
                "invalid cluster inventory: node name a appears twice",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [worker]}]".into(),
                "invalid cluster inventory: no node has the etcd role",
            ),
            (
                "nodes: [{name: a, ip: 1.2.3.4, roles: [etcd, worker]}]".into(),
                "invalid cluster inventory: no node has the control-plane role",
            ),
            ("nodes: []".into(), "invalid cluster inventory: no nodes"),
            (" \n\t".into(), "invalid cluster inventory: the file is empty"),
            (
                one_node("clusterDomain: Cluster.Local"),
                "invalid cluster inventory: clusterDomain \"Cluster.Local\" is not a DNS name",
            ),
            (
                one_node("serviceCIDR: 10.96.0.0/31"),
                "invalid cluster inventory: serviceCIDR \"10.96.0.0/31\": prefix must be 1..30",
            ),
            (
                one_node("apiserverEndpoint: 'https://:6443'"),
                "invalid cluster inventory: invalid server \"https://:6443\": expected https://HOST:PORT",
            ),
            (
                one_node("apiserverSANs: [lb.example.com, bad_name]"),
                "invalid cluster inventory: apiserverSANs entry \"bad_name\" is not an IP or DNS name",
            ),
            // A wildcard's remainder is checked as issuing checks it (it was not checked at all).
            (
                one_node("apiserverSANs: ['*.a b']"),
                "invalid cluster inventory: apiserverSANs entry \"*.a b\" is not an IP or DNS name",
            ),
            (
                one_node("apiserverSANs: ['*.']"),
                "invalid cluster inventory: apiserverSANs entry \"*.\" is not an IP or DNS name",
            ),
            (
                one_node("apiserverSANs: ['*.*.x']"),
                "invalid cluster inventory: apiserverSANs entry \"*.*.x\" is not an IP or DNS name",
            ),
            (
                one_node("apiserverSANs: ['*.-x-']"),
                "invalid cluster inventory: apiserverSANs entry \"*.-x-\" is not an IP or DNS name",
            ),
            // The endpoint's host becomes a SAN too.
            (
                one_node("apiserverEndpoint: 'https://lb_1:6443'"),
                "invalid cluster inventory: the host \"lb_1\" of apiserverEndpoint is not an IP or DNS name",
            ),
            (
                one_node("apiserverEndpoint: 'https://lb.example.com.:6443'"),
                "invalid cluster inventory: the host \"lb.example.com.\" of apiserverEndpoint is not an IP or DNS name",
            ),
            // User info: the host would have been "user@lb" (an email SAN, and no DNS SAN lb).
            (
                one_node("apiserverEndpoint: 'https://user@lb:6443'"),
                "invalid cluster inventory: invalid server \"https://user@lb:6443\": expected https://HOST:PORT",
            ),
            (
                one_node("apiserverEndpoint: 'https://[fe80::1%eth0]:6443'"),
                "invalid cluster inventory: invalid server \"https://[fe80::1%eth0]:6443\": expected https://HOST:PORT",
            ),
            (
                one_node("key: {algo: ed25519}"),
                "invalid cluster inventory: Kubernetes components take RSA or ECDSA keys only (not ed25519)",
            ),
            (
                one_node("key: {algo: ecdsa, size: 521}"),
                "invalid cluster inventory: Kubernetes takes ECDSA P-256 or P-384 keys only",
            ),
            (
                one_node("key: {algo: dsa}"),
                "invalid cluster inventory: invalid algorithm",
            ),
            (
                one_node("validity: {ca: 1h, leaf: 61m}"),
                "invalid cluster inventory: validity.leaf is longer than validity.ca",
            ),
            (
                one_node("validity: {ca: 0, leaf: 1h}"),
                "invalid cluster inventory: validity.ca must be positive",
            ),
            (
                one_node("validity: {leaf: -1h}"),
                "invalid cluster inventory: validity.leaf must be positive",
            ),
            (
                one_node("validity: {leaf: soon}"),
                "invalid cluster inventory: validity.leaf: time: invalid duration \"soon\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(refused(&text), want, "{text}");
        }
        let e = parse_inventory(b"nodes: [\xff]").unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (5200, "invalid cluster inventory: not UTF-8".to_string())
        );
    }

    #[test]
    fn service_ip_edges() {
        for (cidr, want) in [
            ("10.96.5.5/12", "10.96.0.1"),
            ("192.168.7.200/24", "192.168.7.1"),
            ("10.0.0.5/30", "10.0.0.5"),
            ("10.0.0.6/30", "10.0.0.5"),
            ("200.1.2.3/1", "128.0.0.1"),
            ("fd00::1:2:3/108", "fd00::1:0:1"),
            ("fd00::7/126", "fd00::5"),
            ("ffff::/1", "8000::1"),
        ] {
            assert_eq!(first_service_ip(cidr).unwrap().to_string(), want, "{cidr}");
        }
        for (cidr, want) in [
            (
                "10.0.0.0/31",
                "serviceCIDR \"10.0.0.0/31\": prefix must be 1..30",
            ),
            (
                "10.0.0.0/0",
                "serviceCIDR \"10.0.0.0/0\": prefix must be 1..30",
            ),
            (
                "fd00::/127",
                "serviceCIDR \"fd00::/127\": prefix must be 1..126",
            ),
            (
                "fd00::/0",
                "serviceCIDR \"fd00::/0\": prefix must be 1..126",
            ),
            ("10.0.0.0", "serviceCIDR \"10.0.0.0\" is not ADDRESS/PREFIX"),
            ("10.0.0/8", "serviceCIDR \"10.0.0/8\": bad address"),
            (
                "10.0.0.0/x",
                "serviceCIDR \"10.0.0.0/x\": bad prefix length",
            ),
        ] {
            let e = first_service_ip(cidr).unwrap_err();
            assert_eq!(e.code(), 5200);
            assert_eq!(e.message(), format!("invalid cluster inventory: {want}"));
        }
    }

    #[test]
    fn endpoints() {
        let v6 = parse_inventory(
            b"nodes: [{name: e, ip: 'fd00::9', roles: [etcd]}, {name: c, ip: 'fd00::2', roles: [control-plane]}]",
        )
        .unwrap();
        // the first control-plane node, not the first node
        assert_eq!(v6.endpoint(), "https://[fd00::2]:6443");
        assert_eq!(v6.endpoint_host(), "fd00::2");
        let v4 = parse_inventory(
            b"nodes: [{name: e, ip: 10.0.0.9, roles: [etcd]}, {name: c, ip: 10.0.0.2, roles: [control-plane]}]",
        )
        .unwrap();
        assert_eq!(v4.endpoint(), "https://10.0.0.2:6443");
        let mut lb = v4.clone();
        lb.apiserver_endpoint = Some("https://[fd00::1]:443/base".into());
        assert_eq!(lb.endpoint(), "https://[fd00::1]:443/base");
        assert_eq!(lb.endpoint_host(), "fd00::1");
        lb.apiserver_endpoint = Some("no scheme".into());
        assert_eq!(lb.endpoint_host(), "");
        let mut none = v4.clone();
        none.nodes.retain(|n| !n.has(Role::ControlPlane));
        assert_eq!(none.endpoint(), "https://127.0.0.1:6443");
    }

    #[test]
    fn kinds_and_signing_profiles() {
        assert_eq!(
            [Kind::Ca, Kind::Server, Kind::Client, Kind::Peer].map(Kind::profile),
            ["ca", "server", "client", "peer"]
        );
        let s = signing(Duration::hours(48)).unwrap();
        assert_eq!(s.default.expiry, Duration::hours(48));
        for (name, usages) in [
            (
                "server",
                &["signing", "key encipherment", "server auth"][..],
            ),
            (
                "client",
                &["signing", "key encipherment", "client auth"][..],
            ),
            (
                "peer",
                &["signing", "key encipherment", "server auth", "client auth"][..],
            ),
        ] {
            let p = s.profile(name).unwrap();
            assert_eq!(p.expiry, Duration::hours(48), "{name}");
            assert_eq!(p.usages, usages, "{name}");
        }
        assert_eq!(s.profiles.len(), 3);
    }

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dedup(v(&["b", "a", "b", "c", "a"])), v(&["b", "a", "c"]));
        assert_eq!(dedup(vec![]), Vec::<String>::new());
        assert_eq!(
            normalize(&v(&["B.example", "::0001", "a", "b.example", "::1"])),
            v(&["::1", "a", "b.example"])
        );
    }

    #[test]
    fn the_whole_plan() {
        let inv = parse_inventory(
            b"nodes: [{name: n1, ip: 10.0.0.1, roles: [etcd, control-plane]}, \
              {name: n2, ip: 10.0.0.2, roles: [control-plane]}, {name: n3, ip: 10.0.0.3, roles: [worker]}]\n\
              clusterDomain: k8s.internal\nserviceCIDR: 10.32.0.0/16\n\
              apiserverEndpoint: https://LB.example.com:6443\napiserverSANs: [10.0.0.1, extra.example.com]",
        )
        .unwrap();
        let p = plan(&inv, false).unwrap();
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let etcd_hosts = s(&["n1", "localhost", "10.0.0.1", "127.0.0.1", "::1"]);
        let want = vec![
            ("etcd/ca", CaId::Etcd, Kind::Ca, "etcd-ca", s(&[]), s(&[])),
            (
                "ca",
                CaId::Kubernetes,
                Kind::Ca,
                "kubernetes",
                s(&[]),
                s(&[]),
            ),
            (
                "front-proxy-ca",
                CaId::FrontProxy,
                Kind::Ca,
                "front-proxy-ca",
                s(&[]),
                s(&[]),
            ),
            (
                "etcd/server-n1",
                CaId::Etcd,
                Kind::Peer,
                "n1",
                s(&[]),
                etcd_hosts.clone(),
            ),
            (
                "etcd/peer-n1",
                CaId::Etcd,
                Kind::Peer,
                "n1",
                s(&[]),
                etcd_hosts,
            ),
            (
                "apiserver-etcd-client",
                CaId::Etcd,
                Kind::Client,
                "kube-apiserver-etcd-client",
                s(&[]),
                s(&[]),
            ),
            (
                "apiserver",
                CaId::Kubernetes,
                Kind::Server,
                "kube-apiserver",
                s(&[]),
                s(&[
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.k8s.internal",
                    "10.32.0.1",
                    "n1",
                    "10.0.0.1",
                    "n2",
                    "10.0.0.2",
                    "LB.example.com",
                    "127.0.0.1",
                    "extra.example.com",
                ]),
            ),
            (
                "apiserver-kubelet-client",
                CaId::Kubernetes,
                Kind::Client,
                "kube-apiserver-kubelet-client",
                s(&["system:masters"]),
                s(&[]),
            ),
            (
                "admin",
                CaId::Kubernetes,
                Kind::Client,
                "kubernetes-admin",
                s(&["system:masters"]),
                s(&[]),
            ),
            (
                "kube-proxy",
                CaId::Kubernetes,
                Kind::Client,
                "system:kube-proxy",
                s(&[]),
                s(&[]),
            ),
            (
                "kube-controller-manager",
                CaId::Kubernetes,
                Kind::Client,
                "system:kube-controller-manager",
                s(&[]),
                s(&[]),
            ),
            (
                "kube-scheduler",
                CaId::Kubernetes,
                Kind::Client,
                "system:kube-scheduler",
                s(&[]),
                s(&[]),
            ),
            (
                "front-proxy-client",
                CaId::FrontProxy,
                Kind::Client,
                "front-proxy-client",
                s(&[]),
                s(&[]),
            ),
        ];
        let want: Vec<CertSpec> = want
            .into_iter()
            .map(|(id, ca, kind, cn, orgs, hosts)| CertSpec {
                id: id.into(),
                ca,
                kind,
                cn: cn.into(),
                orgs,
                hosts,
            })
            .collect();
        assert_eq!(p.certs, want);
        let k = |file: &str, user: &str, cert: Option<&str>| KubeconfigSpec {
            file: file.into(),
            user: user.into(),
            cert: cert.map(str::to_string),
        };
        assert_eq!(
            p.kubeconfigs,
            [
                k("admin.kubeconfig", "admin", Some("admin")),
                k("kube-proxy.kubeconfig", "kube-proxy", Some("kube-proxy")),
                k(
                    "kube-controller-manager.kubeconfig",
                    "kube-controller-manager",
                    Some("kube-controller-manager")
                ),
                k(
                    "kube-scheduler.kubeconfig",
                    "kube-scheduler",
                    Some("kube-scheduler")
                ),
                k("bootstrap.kubeconfig", "kubelet-bootstrap", None),
            ]
        );
        let admins = plan(&inv, true).unwrap();
        for id in ["admin", "apiserver-kubelet-client"] {
            let c = admins.certs.iter().find(|c| c.id == id).unwrap();
            assert_eq!(c.orgs, ["kubeadm:cluster-admins"], "{id}");
        }
    }

    #[test]
    fn csr_requests_of_the_plan() {
        let inv = parse_inventory(
            one_node("validity: {ca: 100h, leaf: 10h}\napiserverSANs: [lb.example.com]").as_bytes(),
        )
        .unwrap();
        let p = plan(&inv, false).unwrap();
        let get = |id: &str| p.certs.iter().find(|c| c.id == id).unwrap();
        let key = |algo: &str, size| {
            Some(KeyRequest {
                algo: algo.into(),
                size,
            })
        };
        assert_eq!(
            get("ca").request(&inv).unwrap(),
            CertificateRequest {
                cn: "kubernetes".into(),
                key: key("ecdsa", 256),
                ca: Some(CaConfig {
                    expiry: "100h0m0s".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }
        );
        assert_eq!(
            get("admin").request(&inv).unwrap(),
            CertificateRequest {
                cn: "kubernetes-admin".into(),
                names: vec![Name {
                    o: "system:masters".into(),
                    ..Default::default()
                }],
                key: key("ecdsa", 256),
                ..Default::default()
            }
        );
        let etcd = get("etcd/server-a");
        assert_eq!(
            etcd.request(&inv).unwrap(),
            CertificateRequest {
                cn: "a".into(),
                hosts: Some(etcd.hosts.clone()),
                key: key("ecdsa", 256),
                ..Default::default()
            }
        );
        let mut other = inv.clone();
        for (algo, size, want) in [
            ("ecdsa", 384, key("ecdsa", 384)),
            ("rsa", 3072, key("rsa", 3072)),
            ("rsa", 0, key("rsa", 2048)),
            ("ecdsa", 0, key("ecdsa", 256)),
        ] {
            other.key = Some(KeySpec {
                algo: algo.into(),
                size,
            });
            assert_eq!(
                get("ca").request(&other).unwrap().key,
                want,
                "{algo} {size}"
            );
        }
        other.key = Some(KeySpec {
            algo: "rsa".into(),
            size: 1024,
        });
        assert_eq!(
            get("ca").request(&other).unwrap_err().message(),
            "invalid cluster inventory: RSA key is too weak"
        );
    }

    #[test]
    fn human_durations() {
        for (secs, want) in [
            (0, "0m"),
            (59, "0m"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_402, "24h"),
            (2 * 86_400 - 1, "47h"),
            (2 * 86_400, "2d"),
            (29 * 86_400 + 7200, "29d"),
            (-7200, "-2h"),
            (-60, "-1m"),
            (-3 * 86_400, "-3d"),
        ] {
            assert_eq!(human(Duration::seconds(secs)), want, "{secs}");
        }
    }

    /// A kubernetes CA from the plan of [`INV`], and one leaf of it issued under `profile`.
    struct Issuance {
        inv: Inventory,
        plan: Plan,
        ca: crate::signer::Ca,
        spec: CertSpec,
        key: PrivateKey,
        pem: String,
        issued: Issued,
    }

    fn issue_leaf(id: &str, profile: &str) -> Issuance {
        let inv = parse_inventory(INV.as_bytes()).unwrap();
        let plan = plan(&inv, false).unwrap();
        let ss = crate::issue::init_ca(&plan.certs[1].request(&inv).unwrap(), None).unwrap();
        let ca = crate::signer::Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap();
        let spec = plan.certs.iter().find(|c| c.id == id).unwrap().clone();
        let signing = signing(Duration::hours(8760)).unwrap();
        let nc = crate::issue::new_cert(&ca, &signing, &spec.request(&inv).unwrap(), profile, "")
            .unwrap();
        Issuance {
            key: PrivateKey::from_pem(nc.key_pem.as_bytes(), None).unwrap(),
            pem: nc.issued.cert_pem.clone(),
            issued: nc.issued,
            inv,
            plan,
            ca,
            spec,
        }
    }

    #[test]
    fn facts_of_issued_certificates() {
        let t = issue_leaf("apiserver", "server");
        let (der, f) = cert_facts(t.pem.as_bytes()).unwrap();
        assert_eq!(der, t.issued.cert_der);
        assert_eq!((f.cn.as_str(), f.cn_count), ("kube-apiserver", 1));
        assert!(f.orgs.is_empty());
        assert_eq!(normalize(&f.hosts), normalize(&t.spec.hosts));
        assert!(f.hosts.contains(&"10.96.0.1".to_string()));
        assert!(f.hosts.contains(&"kubernetes.default.svc".to_string()));
        assert_eq!(
            (f.is_ca, f.server_auth, f.client_auth),
            (false, true, false)
        );
        assert_eq!(
            (f.not_before, f.not_after),
            (t.issued.not_before, t.issued.not_after)
        );
        assert_eq!(f.public_key_bits, t.key.public_key_bits());
        assert_eq!(f.serial, t.issued.serial);
        assert_eq!(
            f.ski,
            Some(hex::encode(crate::keys::key_id(t.key.public_key_bits())))
        );
        let f2 = facts_of_der(&der).unwrap();
        assert_eq!((f2.cn, f2.hosts), (f.cn, f.hosts));

        let admin = issue_leaf("admin", "client");
        let (_, f) = cert_facts(admin.pem.as_bytes()).unwrap();
        assert_eq!(f.orgs, ["system:masters"]);
        assert!(f.hosts.is_empty());
        assert_eq!(
            (f.is_ca, f.server_auth, f.client_auth),
            (false, false, true)
        );
        let peer = issue_leaf("etcd/peer-node2", "peer");
        let (_, f) = cert_facts(peer.pem.as_bytes()).unwrap();
        assert_eq!((f.server_auth, f.client_auth), (true, true));
        assert_eq!(
            normalize(&f.hosts),
            ["127.0.0.1", "127.0.0.2", "::1", "localhost", "node2"]
        );

        let (_, f) = cert_facts(t.ca.cert_pem().as_bytes()).unwrap();
        assert_eq!(
            (f.is_ca, f.server_auth, f.client_auth),
            (true, false, false)
        );
        assert_eq!(f.ski, Some(t.ca.aki_hex()));
        assert_eq!(f.cn, "kubernetes");

        let e = cert_facts(b"junk").unwrap_err();
        assert_eq!(e.code(), 1002);
        let e = facts_of_der(b"\x30\x03\x02\x01\x01").unwrap_err();
        assert_eq!(e.code(), 1003);
        assert!(
            e.message().starts_with("Failed to parse certificate: "),
            "{e}"
        );
    }

    #[test]
    fn signatures_need_the_issuer_name_and_key() {
        let t = issue_leaf("apiserver", "server");
        let leaf = &t.issued.cert_der;
        assert!(signed_by(leaf, &t.ca.cert_der));
        assert!(signed_by(&t.ca.cert_der, &t.ca.cert_der));
        assert!(!signed_by(&t.ca.cert_der, leaf));
        assert!(!signed_by(b"junk", &t.ca.cert_der));
        assert!(!signed_by(leaf, b"junk"));
        // The same key under another name: the signature verifies, the issuer name does not match.
        let mut req = t.plan.certs[1].request(&t.inv).unwrap();
        req.cn = "not-kubernetes".into();
        let same_key = PrivateKey::from_pkcs8(t.ca.key().pkcs8_der().to_vec()).unwrap();
        let renamed = crate::issue::init_ca(&req, Some(same_key)).unwrap();
        assert!(!signed_by(leaf, &renamed.cert_der));
        // The same name under another key: the name matches, the signature does not verify.
        let other = crate::issue::init_ca(&t.plan.certs[1].request(&t.inv).unwrap(), None).unwrap();
        assert!(!signed_by(leaf, &other.cert_der));
    }

    #[test]
    fn every_leaf_decision() {
        let t = issue_leaf("apiserver", "server");
        let (leaf, pem, key, ca) = (&t.spec, t.pem.as_bytes(), Some(&t.key), &t.ca.cert_der);
        let (nb, na) = (t.issued.not_before, t.issued.not_after);
        let at = |spec: &CertSpec, now, w| check_leaf(spec, pem, key, ca, now, w);
        let issue = |s: &str| Decision::Issue(s.into());
        assert_eq!(at(leaf, nb, None), Decision::Keep);
        assert_eq!(
            check_leaf(leaf, pem, None, ca, nb, None),
            issue("key unreadable")
        );
        assert_eq!(
            check_leaf(leaf, b"junk", None, ca, nb, None),
            issue("certificate unreadable")
        );
        // ten minutes of clock skew are tolerated, not more
        let ten = Duration::minutes(10);
        assert_eq!(at(leaf, nb - ten, None), Decision::Keep);
        assert_eq!(at(leaf, nb - Duration::minutes(5), None), Decision::Keep);
        assert_eq!(
            at(leaf, nb - ten - Duration::seconds(1), None),
            issue("not valid yet")
        );
        assert_eq!(
            at(leaf, nb - Duration::hours(1), None),
            issue("not valid yet")
        );
        // expiry and the renewal window, at their edges
        assert_eq!(at(leaf, na - Duration::seconds(1), None), Decision::Keep);
        assert_eq!(at(leaf, na, None), issue("expired"));
        let month = na - Duration::days(29);
        assert_eq!(
            at(leaf, month, Some(Duration::days(29))),
            issue("expires in 29d (within -renew-within)")
        );
        assert_eq!(
            at(leaf, na - Duration::hours(5), Some(Duration::days(29))),
            issue("expires in 5h (within -renew-within)")
        );
        assert_eq!(
            at(leaf, month, Some(Duration::days(29) - Duration::seconds(1))),
            Decision::Keep
        );
        // the subject: CN and O, O in any order
        let mut cn = leaf.clone();
        cn.cn = "kube-apiserver2".into();
        assert_eq!(at(&cn, nb, None), issue("subject changed"));
        let mut o = leaf.clone();
        o.orgs = vec!["system:masters".into()];
        assert_eq!(at(&o, nb, None), issue("subject changed"));
        // SANs compare without order, case or duplicates (IP spelling: the peer below)
        let mut sans = leaf.clone();
        sans.hosts.reverse();
        sans.hosts = sans.hosts.iter().map(|h| h.to_ascii_uppercase()).collect();
        sans.hosts.push("KUBERNETES".into());
        assert_eq!(at(&sans, nb, None), Decision::Keep);
        let mut fewer = leaf.clone();
        fewer.hosts.pop();
        assert_eq!(at(&fewer, nb, None), issue("SANs changed"));
        // usages: a server certificate is not a peer, client or CA certificate
        for kind in [Kind::Peer, Kind::Client, Kind::Ca] {
            let mut k = leaf.clone();
            k.kind = kind;
            assert_eq!(at(&k, nb, None), issue("usages changed"), "{kind:?}");
        }
        // an IPv6 SAN in another spelling is the same SAN
        let peer = issue_leaf("etcd/peer-node2", "peer");
        let mut spelled = peer.spec.clone();
        assert_eq!(spelled.hosts.pop().as_deref(), Some("::1"));
        spelled.hosts.push("0:0:0:0:0:0:0:1".into());
        let peer_at = |spec: &CertSpec| {
            check_leaf(
                spec,
                peer.pem.as_bytes(),
                Some(&peer.key),
                &peer.ca.cert_der,
                peer.issued.not_before,
                None,
            )
        };
        assert_eq!(peer_at(&spelled), Decision::Keep);
        spelled.hosts.pop();
        spelled.hosts.push("::2".into());
        assert_eq!(peer_at(&spelled), issue("SANs changed"));
        // a client certificate is kept as planned, and is not a server certificate
        let admin = issue_leaf("admin", "client");
        let mut spec = admin.spec.clone();
        let admin_as = |spec: &CertSpec| {
            check_leaf(
                spec,
                admin.pem.as_bytes(),
                Some(&admin.key),
                &admin.ca.cert_der,
                admin.issued.not_before,
                None,
            )
        };
        assert_eq!(admin_as(&spec), Decision::Keep);
        spec.kind = Kind::Server;
        assert_eq!(admin_as(&spec), issue("usages changed"));
        // a CA certificate where a leaf is planned: its CA:TRUE alone is the difference
        let ca_spec = &t.plan.certs[1];
        assert_eq!(ca_spec.kind, Kind::Ca);
        assert_eq!(
            check_leaf(
                ca_spec,
                t.ca.cert_pem().as_bytes(),
                Some(t.ca.key()),
                ca,
                t.ca.not_before,
                None
            ),
            issue("usages changed")
        );
    }

    #[test]
    fn every_ca_decision() {
        let t = issue_leaf("apiserver", "server");
        let pem = t.ca.cert_pem();
        let (nb, na) = (t.ca.not_before, t.ca.not_after);
        let check = |pem: &[u8], key: &PrivateKey, now, w| check_ca("ca", pem, key, now, w);
        let refused = |r: Result<Option<String>>, why: &str| {
            let e = r.unwrap_err();
            assert_eq!(e.code(), 5300);
            assert_eq!(
                e.message(),
                format!(
                    "pki/ca.pem: {why}; kpki never replaces a CA by itself: fix or remove pki/ca.pem and pki/ca-key.pem (and re-issue what it signed)"
                )
            );
        };
        assert_eq!(check(pem.as_bytes(), t.ca.key(), nb, None).unwrap(), None);
        assert_eq!(
            check(pem.as_bytes(), t.ca.key(), nb, Some(Duration::days(30))).unwrap(),
            None
        );
        let month = na - Duration::days(29);
        assert_eq!(
            check(pem.as_bytes(), t.ca.key(), month, Some(Duration::days(29))).unwrap(),
            Some("CA expires in 29d: not renewed (rotate CAs deliberately)".into())
        );
        assert_eq!(
            check(
                pem.as_bytes(),
                t.ca.key(),
                month,
                Some(Duration::days(29) - Duration::seconds(1))
            )
            .unwrap(),
            None
        );
        assert_eq!(
            check(pem.as_bytes(), t.ca.key(), na - Duration::seconds(1), None).unwrap(),
            None
        );
        refused(
            check(pem.as_bytes(), t.ca.key(), na, None),
            &format!("expired on {}", crate::certinfo::rfc3339(na)),
        );
        refused(
            check(pem.as_bytes(), &t.key, nb, None),
            "the key file does not match the certificate",
        );
        refused(
            check(t.pem.as_bytes(), &t.key, t.issued.not_before, None),
            "not a CA certificate",
        );
        refused(
            check(b"junk", t.ca.key(), nb, None),
            "Failed to decode certificate: no PEM block found",
        );
        let e = check_ca("etcd/ca", b"junk", t.ca.key(), nb, None).unwrap_err();
        assert!(
            e.message()
                .starts_with("pki/etcd/ca.pem: Failed to decode certificate")
                && e.message()
                    .contains("pki/etcd/ca.pem and pki/etcd/ca-key.pem"),
            "{e}"
        );
    }

    #[test]
    fn ca_records() {
        let t = issue_leaf("apiserver", "server");
        let pem = t.ca.cert_pem();
        let r = issued_from_ca(&pem, "kubernetes").unwrap();
        let (_, f) = cert_facts(pem.as_bytes()).unwrap();
        assert_eq!(r.cert_der, t.ca.cert_der);
        assert_eq!(r.cert_pem, pem);
        assert_eq!(r.serial, f.serial);
        assert_eq!(r.aki, t.ca.aki_hex());
        assert_eq!(
            (r.not_before, r.not_after),
            (t.ca.not_before, t.ca.not_after)
        );
        assert_eq!(r.common_name, "kubernetes");
        assert!(r.dns_sans.is_empty());
        assert_eq!((r.profile.as_str(), r.label.as_str()), ("ca", "kubernetes"));
        assert!(r.warnings.is_empty());
        // Only DNS names are recorded as SANs (what cfssl stores), not the addresses.
        let r = issued_from_ca(&t.pem, "x").unwrap();
        let mut dns = r.dns_sans.clone();
        dns.sort();
        assert_eq!(
            dns,
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "node1"
            ]
        );
        assert_eq!(
            r.aki,
            hex::encode(crate::keys::key_id(t.key.public_key_bits()))
        );
        let e = issued_from_ca("junk", "x").unwrap_err();
        assert_eq!(e.code(), 1002);
    }
}
