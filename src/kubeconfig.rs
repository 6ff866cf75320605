//! kubeconfig files (client-go `clientcmd/api/v1`): building the one-cluster, one-user,
//! one-context file `kubectl config set-cluster/set-credentials/set-context/use-context`
//! produce (embedded base64 `*-data` or file paths; client certificate + key, or a token), the
//! TokenReview webhook config (kubeconfig-shaped), and reading embedded certificates back out.
//! Pure: text in, text out; it knows nothing of files, the CLI or the server.

use crate::error::{Error, Result};
use base64::Engine;
use serde::Deserialize;

/// Certificate or key material: embedded bytes (PEM) or a path the reader resolves.
#[derive(Clone, PartialEq, Eq)]
pub enum Material {
    /// PEM bytes, written base64-encoded into a `*-data` field
    Data(Vec<u8>),
    /// a file path, written into the path field
    Path(String),
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Material::Data(d) => write!(f, "Data({} bytes)", d.len()),
            Material::Path(p) => write!(f, "Path({p:?})"),
        }
    }
}

/// How the user authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// client certificate and key
    ClientCert {
        /// certificate
        cert: Material,
        /// private key
        key: Material,
    },
    /// bearer token
    Token(String),
    /// nothing (cluster-only files)
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ClientCert { cert, key } => write!(f, "ClientCert({cert:?}, {key:?})"),
            Credential::Token(_) => write!(f, "Token(<redacted>)"),
            Credential::None => write!(f, "None"),
        }
    }
}

/// A kubeconfig with one cluster, one user and one context, which is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// cluster name
    pub cluster: String,
    /// API server (or webhook) URL
    pub server: String,
    /// CA that verifies the server
    pub ca: Option<Material>,
    /// user name (the kubeconfig entry's name, not necessarily the certificate's CN)
    pub user: String,
    /// credentials
    pub credential: Credential,
    /// context name
    pub context: String,
}

fn check_name(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().any(|c| c.is_control()) {
        return Err(Error::BadRequest(format!(
            "the {what} name must be non-empty and one line"
        )));
    }
    Ok(())
}

/// Checks a server URL: `https://` or `http://` with a host.
pub fn check_server(server: &str) -> Result<()> {
    let port_ok = |p: Option<&str>| p.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    // A query or fragment has no place in a base URL that clients append API paths to.
    let ok = server_host_port(server).is_some_and(|(host, port)| !host.is_empty() && port_ok(port))
        && !server.contains(['?', '#'])
        && !server.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(Error::BadRequest(format!(
            "invalid server {server:?}: expected https://HOST:PORT"
        )));
    }
    Ok(())
}

/// The host (IPv6 without its brackets) and the port text, if any, of an `http(s)://` URL:
/// `https://[::1]:6443/x` gives `("::1", Some("6443"))`. `None` without the scheme, with user
/// info (`https://user@lb:6443`: the host is `lb`, and a server URL has no use for credentials),
/// or with brackets around anything but an IPv6 address (no zone: `[fe80::1%eth0]`).
pub fn server_host_port(server: &str) -> Option<(&str, Option<&str>)> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return None;
    }
    match authority.strip_prefix('[') {
        Some(r) => match r.split_once(']')? {
            (h, _) if h.parse::<std::net::Ipv6Addr>().is_err() => None,
            (h, "") => Some((h, None)),
            (h, p) => Some((h, Some(p.strip_prefix(':')?))),
        },
        None => Some(match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }),
    }
}

impl Kubeconfig {
    /// Validates names, the server URL and the token.
    pub fn validate(&self) -> Result<()> {
        check_name("cluster", &self.cluster)?;
        check_name("user", &self.user)?;
        check_name("context", &self.context)?;
        check_server(&self.server)?;
        if let Credential::Token(t) = &self.credential
            && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(Error::BadRequest(
                "the token must be non-empty and contain no spaces".into(),
            ));
        }
        for m in [&self.ca]
            .into_iter()
            .flatten()
            .chain(match &self.credential {
                Credential::ClientCert { cert, key } => vec![cert, key],
                _ => vec![],
            })
        {
            if let Material::Path(p) = m
                && (p.is_empty() || p.chars().any(|c| c.is_control()))
            {
                return Err(Error::BadRequest(format!("invalid file path {p:?}")));
            }
        }
        Ok(())
    }

    /// The YAML text, laid out as kubectl writes it (keys sorted, `preferences: {}`).
    pub fn render(&self) -> Result<String> {
        self.validate()?;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let mut s = String::from("apiVersion: v1\nclusters:\n- cluster:\n");
        match &self.ca {
            Some(Material::Data(d)) => {
                s.push_str(&format!("    certificate-authority-data: {}\n", b64(d)))
            }
            Some(Material::Path(p)) => {
                s.push_str(&format!("    certificate-authority: {}\n", scalar(p)))
            }
            None => {}
        }
        s.push_str(&format!("    server: {}\n", scalar(&self.server)));
        s.push_str(&format!("  name: {}\n", scalar(&self.cluster)));
        s.push_str("contexts:\n- context:\n");
        s.push_str(&format!("    cluster: {}\n", scalar(&self.cluster)));
        s.push_str(&format!("    user: {}\n", scalar(&self.user)));
        s.push_str(&format!("  name: {}\n", scalar(&self.context)));
        s.push_str(&format!("current-context: {}\n", scalar(&self.context)));
        s.push_str("kind: Config\npreferences: {}\nusers:\n");
        s.push_str(&format!("- name: {}\n  user:", scalar(&self.user)));
        match &self.credential {
            Credential::None => s.push_str(" {}\n"),
            Credential::Token(t) => s.push_str(&format!("\n    token: {}\n", scalar(t))),
            Credential::ClientCert { cert, key } => {
                s.push('\n');
                for (field, m) in [("client-certificate", cert), ("client-key", key)] {
                    match m {
                        Material::Data(d) => s.push_str(&format!("    {field}-data: {}\n", b64(d))),
                        Material::Path(p) => s.push_str(&format!("    {field}: {}\n", scalar(p))),
                    }
                }
            }
        }
        Ok(s)
    }
}

/// The path kube-apiserver's webhook client posts TokenReviews to on a kpki server.
pub const TOKENREVIEW_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// The `--authentication-token-webhook-config-file` for kube-apiserver: the cluster is the
/// webhook (kpki's URL, with the TokenReview path added when `server` has none), the CA verifies
/// kpki's TLS certificate, and the user holds the client certificate kube-apiserver presents.
pub fn webhook_config(
    server: &str,
    ca: Option<Material>,
    client: Credential,
) -> Result<Kubeconfig> {
    check_server(server)?;
    let after_scheme = server.split_once("://").map(|x| x.1).unwrap_or("");
    let url = if after_scheme.contains('/') {
        server.to_string()
    } else {
        format!("{server}{TOKENREVIEW_PATH}")
    };
    Ok(Kubeconfig {
        cluster: "kpki-webhook".into(),
        server: url,
        ca,
        user: "kube-apiserver".into(),
        credential: client,
        context: "webhook".into(),
    })
}

/// A YAML scalar: plain when unambiguous, else double-quoted (JSON string syntax, which YAML
/// accepts).
pub fn scalar(s: &str) -> String {
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'/');
    let plain = first_ok
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-' | b':' | b'@' | b'+')
        })
        && !s.ends_with(':')
        && !looks_typed(s);
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

/// Plain scalars YAML would read as something other than a string.
fn looks_typed(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    matches!(
        l.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ".inf" | ".nan"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.' || b == b'_' || b == b'-')
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    clusters: Option<Vec<RawNamed<RawCluster>>>,
    #[serde(default)]
    users: Option<Vec<RawNamed<RawUser>>>,
}

#[derive(Deserialize)]
struct RawNamed<T> {
    #[serde(default)]
    name: String,
    #[serde(default, alias = "user")]
    cluster: Option<T>,
}

#[derive(Deserialize, Default)]
struct RawCluster {
    #[serde(default, rename = "certificate-authority-data")]
    ca_data: Option<String>,
    #[serde(default, rename = "client-certificate-data")]
    cert_data: Option<String>,
}

type RawUser = RawCluster;

/// A certificate found inside a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// where: `cluster NAME certificate-authority-data` / `user NAME client-certificate-data`
    pub location: String,
    /// the decoded PEM
    pub pem: Vec<u8>,
}

/// True when `text` parses as YAML with `kind: Config` (a kubeconfig).
pub fn is_kubeconfig(text: &[u8]) -> bool {
    serde_saphyr::from_slice::<RawConfig>(text)
        .ok()
        .and_then(|c| c.kind)
        .is_some_and(|k| k == "Config")
}

/// The certificates embedded in a kubeconfig (`certificate-authority-data` of each cluster,
/// `client-certificate-data` of each user), base64-decoded.
pub fn embedded_certificates(text: &[u8]) -> Result<Vec<Embedded>> {
    let cfg: RawConfig = serde_saphyr::from_slice(text)
        .map_err(|e| Error::BadRequest(format!("invalid kubeconfig YAML: {e}")))?;
    if cfg.kind.as_deref() != Some("Config") {
        return Err(Error::BadRequest(
            "not a kubeconfig (no `kind: Config`)".into(),
        ));
    }
    let dec = |loc: String, b: &str| -> Result<Embedded> {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| Error::BadRequest(format!("{loc} is not valid base64")))?;
        Ok(Embedded { location: loc, pem })
    };
    let mut out = Vec::new();
    for c in cfg.clusters.unwrap_or_default() {
        if let Some(d) = c.cluster.as_ref().and_then(|x| x.ca_data.as_deref()) {
            out.push(dec(
                format!("cluster {} certificate-authority-data", c.name),
                d,
            )?);
        }
    }
    for u in cfg.users.unwrap_or_default() {
        if let Some(d) = u.cluster.as_ref().and_then(|x| x.cert_data.as_deref()) {
            out.push(dec(format!("user {} client-certificate-data", u.name), d)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kc(cred: Credential, ca: Option<Material>) -> Kubeconfig {
        Kubeconfig {
            cluster: "kubernetes".into(),
            server: "https://127.0.0.1:6443".into(),
            ca,
            user: "admin".into(),
            credential: cred,
            context: "default".into(),
        }
    }

    #[test]
    fn renders_kubectl_layout_with_embedded_data() {
        let y = kc(
            Credential::ClientCert {
                cert: Material::Data(b"CERT".to_vec()),
                key: Material::Data(b"KEY".to_vec()),
            },
            Some(Material::Data(b"CA".to_vec())),
        )
        .render()
        .unwrap();
        assert_eq!(
            y,
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://127.0.0.1:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: admin\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"
        );
        let emb = embedded_certificates(y.as_bytes()).unwrap();
        assert_eq!(emb.len(), 2);
        assert_eq!(emb[0].pem, b"CA");
        assert_eq!(emb[1].location, "user admin client-certificate-data");
        assert!(is_kubeconfig(y.as_bytes()));
        assert!(!is_kubeconfig(b"a: b\n"));
        assert!(!is_kubeconfig(b"{{{{"));
    }

    #[test]
    fn paths_tokens_and_quoting() {
        let y = kc(
            Credential::Token("abcdef.0123456789abcdef".into()),
            Some(Material::Path("/etc/k 8s/ca.pem".into())),
        )
        .render()
        .unwrap();
        assert!(
            y.contains("    certificate-authority: \"/etc/k 8s/ca.pem\"\n"),
            "{y}"
        );
        assert!(y.contains("    token: abcdef.0123456789abcdef\n"), "{y}");
        assert!(embedded_certificates(y.as_bytes()).unwrap().is_empty());
        for (s, plain) in [
            ("kubernetes", true),
            ("system:kube-proxy", true),
            ("https://10.0.0.1:6443", true),
            ("true", false),
            ("10001", false),
            ("1.2", false),
            ("a: b", false),
            ("", false),
            ("#x", false),
            ("-x", false),
            ("x:", false),
        ] {
            assert_eq!(scalar(s) == s, plain, "{s:?} → {}", scalar(s));
        }
        let mut bad = kc(Credential::Token("a b".into()), None);
        assert!(bad.render().is_err());
        bad.credential = Credential::None;
        bad.server = "127.0.0.1:6443".into();
        assert!(bad.render().is_err());
        bad.server = "https://x".into();
        bad.user = "".into();
        assert!(bad.render().is_err());
        bad.user = "a\nb".into();
        assert!(bad.render().is_err());
    }

    #[test]
    fn webhook_config_adds_the_tokenreview_path() {
        let w = webhook_config("https://10.0.0.5:8888", None, Credential::None).unwrap();
        assert_eq!(
            w.server,
            "https://10.0.0.5:8888/apis/authentication.k8s.io/v1/tokenreviews"
        );
        let w = webhook_config(
            "https://kpki:8888/apis/authentication.k8s.io/v1beta1/tokenreviews",
            None,
            Credential::None,
        )
        .unwrap();
        assert!(w.server.ends_with("v1beta1/tokenreviews"));
        assert!(w.render().unwrap().contains("  user: {}\n"));
        assert!(webhook_config("kpki:8888", None, Credential::None).is_err());
    }

    #[test]
    fn bad_kubeconfigs_are_errors_not_panics() {
        for bad in [
            &b"kind: Config\nusers:\n- name: a\n  user:\n    client-certificate-data: '!!!'\n"[..],
            b"kind: Pod\n",
            b"\xff\xfe",
            b"kind: [",
        ] {
            assert!(embedded_certificates(bad).is_err());
        }
    }

    #[test]
    fn debug_shows_sizes_and_redacts_tokens() {
        assert_eq!(
            format!("{:?}", Material::Data(b"CA".to_vec())),
            "Data(2 bytes)"
        );
        assert_eq!(
            format!("{:?}", Material::Path("/etc/ca.pem".into())),
            r#"Path("/etc/ca.pem")"#
        );
        assert_eq!(
            format!(
                "{:?}",
                Credential::ClientCert {
                    cert: Material::Data(b"CERT".to_vec()),
                    key: Material::Path("k.pem".into()),
                }
            ),
            r#"ClientCert(Data(4 bytes), Path("k.pem"))"#
        );
        let token = format!("{:?}", Credential::Token("abcdef.0123456789abcdef".into()));
        assert_eq!(token, "Token(<redacted>)");
        assert_eq!(format!("{:?}", Credential::None), "None");
        // A whole Kubeconfig's Debug never prints the token or the key bytes.
        let all = format!("{:?}", kc(Credential::Token("s3cret.token".into()), None));
        assert!(!all.contains("s3cret"), "{all}");
    }

    fn render_err(k: &Kubeconfig) -> String {
        let e = k.render().unwrap_err();
        assert_eq!(e.code(), 400);
        e.message().to_string()
    }

    #[test]
    fn names_must_be_non_empty_and_one_line() {
        for (field, value) in [
            ("cluster", ""),
            ("cluster", "a\tb"),
            ("user", ""),
            ("user", "a\nb"),
            ("context", ""),
            ("context", "x\u{1}"),
        ] {
            let mut k = kc(Credential::None, None);
            match field {
                "cluster" => k.cluster = value.into(),
                "user" => k.user = value.into(),
                _ => k.context = value.into(),
            }
            assert_eq!(
                render_err(&k),
                format!("the {field} name must be non-empty and one line"),
                "{field} = {value:?}"
            );
        }
        // Spaces are fine in names (quoted on output).
        let mut k = kc(Credential::None, None);
        k.context = "my context".into();
        assert!(
            k.render()
                .unwrap()
                .contains("current-context: \"my context\"\n")
        );
    }

    #[test]
    fn servers_need_a_scheme_a_host_and_no_spaces_or_controls() {
        for bad in [
            "127.0.0.1:6443",
            "ftp://x",
            "https://",
            "https:///api",
            "http://",
            "https://a b:6443",
            "https://a\u{1}b",
            "https://a\u{7f}",
            "https://:6443",
            "https://[]:6443",
            "https://[::1",
            "https://k8s:",
            "https://k8s:0",
            "https://k8s:65536",
            "https://k8s:64x",
            "https://[::1]6443",
            "https://k8s:6443?x=1",
            "https://k8s:6443/api#frag",
            "https://user@lb:6443",
            "https://user:pw@lb",
            "https://[fe80::1%eth0]:6443",
            "https://[zz]:6443",
            "https://[10.0.0.1]:6443",
        ] {
            let e = check_server(bad).unwrap_err();
            assert_eq!(e.code(), 400);
            assert_eq!(
                e.message(),
                format!("invalid server {bad:?}: expected https://HOST:PORT")
            );
        }
        assert_eq!(
            server_host_port("https://[fd00::1]:6443/api"),
            Some(("fd00::1", Some("6443")))
        );
        assert_eq!(
            server_host_port("http://lb.example.com"),
            Some(("lb.example.com", None))
        );
        assert_eq!(server_host_port("lb.example.com:6443"), None);
        assert_eq!(server_host_port("https://user@lb:6443"), None);
        assert_eq!(server_host_port("https://[fe80::1%25eth0]"), None);
        assert_eq!(
            server_host_port("https://lb:6443/a@b"),
            Some(("lb", Some("6443")))
        );
        for good in [
            "https://x",
            "http://10.0.0.1:8080",
            "https://k8s:6443/prefix",
            "https://[::1]:6443",
            "https://[fd00::1]",
            "https://k8s:65535",
        ] {
            check_server(good).unwrap();
        }
        let mut k = kc(Credential::None, None);
        k.server = "https://a\u{1}".into();
        assert_eq!(
            render_err(&k),
            "invalid server \"https://a\\u{1}\": expected https://HOST:PORT"
        );
    }

    #[test]
    fn tokens_and_paths_are_checked() {
        for bad in ["", "a b", "a\u{1}b", "a\u{7f}"] {
            assert_eq!(
                render_err(&kc(Credential::Token(bad.into()), None)),
                "the token must be non-empty and contain no spaces",
                "{bad:?}"
            );
        }
        let ok = Material::Path("/etc/kubernetes/pki/admin.crt".into());
        for bad in ["", "a\u{1}b", "a\nb"] {
            let bad_m = Material::Path(bad.into());
            let want = format!("invalid file path {bad:?}");
            for k in [
                kc(Credential::None, Some(bad_m.clone())),
                kc(
                    Credential::ClientCert {
                        cert: bad_m.clone(),
                        key: ok.clone(),
                    },
                    None,
                ),
                kc(
                    Credential::ClientCert {
                        cert: ok.clone(),
                        key: bad_m.clone(),
                    },
                    Some(ok.clone()),
                ),
            ] {
                assert_eq!(render_err(&k), want);
            }
        }
        // Paths with spaces are valid, quoted; empty data is not a path and is fine.
        let y = kc(
            Credential::ClientCert {
                cert: Material::Path("/etc/kubernetes/pki/admin.crt".into()),
                key: Material::Path("/etc/k 8s/admin.key".into()),
            },
            Some(Material::Path("/etc/kubernetes/pki/ca.crt".into())),
        )
        .render()
        .unwrap();
        assert!(
            y.ends_with(
                "users:\n- name: admin\n  user:\n    client-certificate: /etc/kubernetes/pki/admin.crt\n    client-key: \"/etc/k 8s/admin.key\"\n"
            ),
            "{y}"
        );
        assert!(
            y.starts_with(
                "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n    server: https://127.0.0.1:6443\n"
            ),
            "{y}"
        );
    }

    #[test]
    fn scalars_that_yaml_would_type_are_quoted() {
        for (s, out) in [
            ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
            ("user@example.com", "user@example.com"),
            ("a+b_c", "a+b_c"),
            ("1e5", "\"1e5\""),
            ("0x1f", "\"0x1f\""),
            ("0o17", "\"0o17\""),
            ("12:30", "\"12:30\""),
            ("1.2.3", "\"1.2.3\""),
            ("1_000", "\"1_000\""),
            ("2024-01-01", "\"2024-01-01\""),
            ("Yes", "\"Yes\""),
            ("null", "\"null\""),
            ("a\"b", "\"a\\\"b\""),
        ] {
            assert_eq!(scalar(s), out, "{s:?}");
        }
    }

    #[test]
    fn embedded_certificates_name_where_they_were_found() {
        let text = b"apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: https://a\n    certificate-authority-data: Q0Ex\n- name: c2\n  cluster:\n    server: https://b\nusers:\n- name: u1\n  user:\n    client-certificate-data: ' VTE= '\n    client-key-data: S0VZ\n- name: u2\n  user:\n    token: t\n";
        assert_eq!(
            embedded_certificates(text).unwrap(),
            vec![
                Embedded {
                    location: "cluster c1 certificate-authority-data".into(),
                    pem: b"CA1".to_vec(),
                },
                Embedded {
                    location: "user u1 client-certificate-data".into(),
                    pem: b"U1".to_vec(),
                },
            ]
        );
        let e = embedded_certificates(b"kind: Pod\n").unwrap_err();
        assert_eq!(e.code(), 400);
        assert_eq!(e.message(), "not a kubeconfig (no `kind: Config`)");
        let e = embedded_certificates(
            b"kind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority-data: '%%'\n",
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "cluster c certificate-authority-data is not valid base64"
        );
    }

    #[test]
    fn webhook_config_is_kpki_webhook_for_kube_apiserver() {
        let cred = Credential::ClientCert {
            cert: Material::Data(b"C".to_vec()),
            key: Material::Data(b"K".to_vec()),
        };
        let w = webhook_config(
            "https://kpki.example:8888",
            Some(Material::Data(b"CA".to_vec())),
            cred.clone(),
        )
        .unwrap();
        assert_eq!(
            w,
            Kubeconfig {
                cluster: "kpki-webhook".into(),
                server: "https://kpki.example:8888/apis/authentication.k8s.io/v1/tokenreviews"
                    .into(),
                ca: Some(Material::Data(b"CA".to_vec())),
                user: "kube-apiserver".into(),
                credential: cred,
                context: "webhook".into(),
            }
        );
        assert_eq!(
            webhook_config("kpki:8888", None, Credential::None)
                .unwrap_err()
                .message(),
            "invalid server \"kpki:8888\": expected https://HOST:PORT"
        );
    }
}
