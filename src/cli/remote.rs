//! The remote signing client: `-remote` and profiles with `remote`/`auth_remote`, against kpki
//! or cfssl servers. Accepts bare `IP:port` (cfssl#961), `http://` and `https://` (trusting
//! `-tls-remote-ca`, optional client certificate); `auth_remote` requests go to `/authsign`.

use super::input::read_source;
use super::output::print_json;
use super::{CliError, Ctx};
use crate::auth::AuthenticatedRequest;
use crate::cli::flags::Parsed;
use crate::config::Config;
use crate::csr::{self, CertificateRequest};
use crate::error::{Error, Result};
use crate::issue::SignRequest;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A normalised remote address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// true for https
    pub tls: bool,
    /// host name or IP (IPv6 without brackets)
    pub host: String,
    /// port
    pub port: u16,
}

impl Remote {
    /// Parses `host`, `host:port`, `IP:port`, `[v6]:port`, `http://…`, `https://…` (default
    /// port 8888, as cfssl).
    pub fn parse(s: &str) -> Result<Remote> {
        let bad = || {
            Error::Policy(
                5300,
                format!("failed to connect to remote: bad address {s:?}"),
            )
        };
        let s = s.trim();
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            (false, s)
        };
        let hostport = rest.split('/').next().unwrap_or("");
        if hostport.is_empty() {
            return Err(bad());
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None => 8888,
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().map_err(|_| bad())?),
                Some(_) => (hostport.to_string(), 8888), // bare IPv6
                None => (hostport.to_string(), 8888),
            }
        };
        Ok(Remote { tls, host, port })
    }

    fn url(&self, path: &str) -> String {
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{}:{}{}",
            if self.tls { "https" } else { "http" },
            h,
            self.port,
            path
        )
    }
}

/// A comma list of remote addresses (cfssl's `-remote` and `remotes` values), in order; an
/// empty list is cfssl's 5300.
fn parse_remotes(addrs: &str) -> Result<Vec<Remote>> {
    let remotes = addrs
        .split(',')
        .filter(|a| !a.trim().is_empty())
        .map(Remote::parse)
        .collect::<Result<Vec<_>>>()?;
    if remotes.is_empty() {
        return Err(Error::Policy(
            5300,
            "failed to connect to remote: no remote address".into(),
        ));
    }
    Ok(remotes)
}

/// True when this request must be signed remotely.
pub fn wanted(p: &Parsed, cfg: &Config, profile: &str) -> bool {
    !p.str("remote").is_empty() || cfg.signing.profile(profile).is_ok_and(|pr| !pr.is_local())
}

/// The remotes to try (in order) and the HMAC key when the profile uses `auth_remote`.
fn targets(p: &Parsed, cfg: &Config, profile: &str) -> Result<(Vec<Remote>, Option<Vec<u8>>)> {
    let prof = cfg.signing.profile(profile)?;
    let mut key = None;
    let mut addrs = String::new();
    if let Some(ar) = &prof.auth_remote {
        addrs = cfg.remotes.get(&ar.remote).cloned().unwrap_or_default();
        key = Some(cfg.auth_key_bytes(&ar.auth_key).ok_or_else(|| {
            Error::Policy(5200, format!("auth key {:?} is not hex", ar.auth_key))
        })?);
    } else if !prof.remote.is_empty() {
        addrs = cfg.remotes.get(&prof.remote).cloned().unwrap_or_default();
    }
    // -remote overrides the address of every profile (cfssl).
    if !p.str("remote").is_empty() {
        addrs = p.str("remote");
    }
    Ok((parse_remotes(&addrs)?, key))
}

fn tls_connector(p: &Parsed) -> Result<tokio_rustls::TlsConnector> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let ca_spec = p.str("tls-remote-ca");
    if ca_spec.is_empty() {
        return Err(Error::Api(
            7400,
            "an https remote needs -tls-remote-ca (the CA bundle to trust)".into(),
        ));
    }
    let ca = read_source(&ca_spec, &mut std::io::empty())?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&ca) {
        roots
            .add(c.map_err(|e| Error::Certificate(1003, format!("-tls-remote-ca: {e}")))?)
            .map_err(|e| Error::Certificate(1003, format!("-tls-remote-ca: {e}")))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = if !p.str("mutual-tls-client-cert").is_empty() {
        let cert = read_source(&p.str("mutual-tls-client-cert"), &mut std::io::empty())?;
        let key = read_source(&p.str("mutual-tls-client-key"), &mut std::io::empty())?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Certificate(1003, format!("-mutual-tls-client-cert: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| Error::PrivateKey(2003, format!("-mutual-tls-client-key: {e}")))?;
        b.with_client_auth_cert(certs, key)
            .map_err(|e| Error::PrivateKey(2300, e.to_string()))?
    } else {
        b.with_no_client_auth()
    };
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg)))
}

async fn request_once(
    r: &Remote,
    method: &str,
    path: &str,
    body: &[u8],
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<(u16, Vec<u8>)> {
    use http_body_util::BodyExt;
    let url = r.url(path);
    let fail = |m: String| Error::Api(7400, format!("failed {method} to {url}: {m}"));
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect((r.host.as_str(), r.port)),
    )
    .await
    .map_err(|_| fail("connection timed out".into()))?
    .map_err(|e| fail(crate::error::io_message(&e)))?;
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("{}:{}", r.host, r.port))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(
            hyper::body::Bytes::copy_from_slice(body),
        ))
        .map_err(|e| fail(e.to_string()))?;
    macro_rules! exchange {
        ($io:expr) => {{
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new($io))
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            tokio::spawn(conn);
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?
                .to_bytes();
            (status, bytes.to_vec())
        }};
    }
    let out = match tls {
        Some(c) => {
            let name = rustls_pki_types::ServerName::try_from(r.host.clone())
                .map_err(|e| fail(e.to_string()))?;
            let s = c
                .connect(name, tcp)
                .await
                .map_err(|e| fail(e.to_string()))?;
            exchange!(s)
        }
        None => exchange!(tcp),
    };
    Ok(out)
}

/// POSTs `body` to each remote in turn until one answers; returns the envelope's `result`.
fn post(p: &Parsed, remotes: &[Remote], path: &str, body: &[u8]) -> Result<Value> {
    call(p, remotes, "POST", path, body)
}

/// Sends `body` with `method` to each remote in turn until one answers; returns the envelope's
/// `result`.
fn call(p: &Parsed, remotes: &[Remote], method: &str, path: &str, body: &[u8]) -> Result<Value> {
    let tls = if remotes.iter().any(|r| r.tls) {
        Some(tls_connector(p)?)
    } else {
        None
    };
    let rt = super::record::runtime()?;
    let mut last = None;
    for r in remotes {
        match rt.block_on(request_once(
            r,
            method,
            path,
            body,
            tls.as_ref().filter(|_| r.tls),
        )) {
            Ok((status, bytes)) => return parse_envelope(status, &bytes),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Api(7400, "no remote".into())))
}

/// Calls one of kpki's own endpoints (`/api/v1/kpki/…`) on the `-remote` server(s). With
/// `-auth-key env:VAR|file:PATH` (hex, the server's key) the body is wrapped as an authenticated
/// request (HMAC, as authsign); without it the body goes as is, which the server accepts only
/// with an mTLS client certificate (`https://` remote, `-mutual-tls-client-cert/-key`).
pub fn kpki_call(p: &Parsed, method: &str, path: &str, inner: &[u8]) -> Result<Value> {
    let remotes = parse_remotes(&p.str("remote"))?;
    let body = match p.str("auth-key") {
        s if s.is_empty() => inner.to_vec(),
        spec => {
            let key = zeroize::Zeroizing::new(
                hex::decode(super::input::read_secret(&spec)?)
                    .map_err(|_| Error::Policy(5200, "-auth-key must be hex".into()))?,
            );
            // cfssl's HMAC covers only the request, and the server refuses a token it has seen
            // (replay): a random nonce makes two identical calls (two `list`s) two requests.
            let mut obj = if inner.iter().all(u8::is_ascii_whitespace) {
                serde_json::Map::new()
            } else {
                match serde_json::from_slice(inner) {
                    Ok(Value::Object(m)) => m,
                    _ => return Err(Error::Internal("request body is not a JSON object".into())),
                }
            };
            let mut nonce = [0u8; 16];
            aws_lc_rs::rand::fill(&mut nonce)
                .map_err(|_| Error::Internal("no randomness for the request nonce".into()))?;
            obj.insert("nonce".into(), Value::String(hex::encode(nonce)));
            let inner = serde_json::to_vec(&obj).map_err(|e| Error::Internal(e.to_string()))?;
            let env = AuthenticatedRequest::wrap(
                &key,
                &inner,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            );
            serde_json::to_vec(&env).map_err(|e| Error::Internal(e.to_string()))?
        }
    };
    call(p, &remotes, method, path, &body)
}

fn parse_envelope(status: u16, bytes: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| {
        Error::Api(
            7400,
            format!("HTTP {status}: {}", String::from_utf8_lossy(bytes).trim()),
        )
    })?;
    if v.get("success").and_then(Value::as_bool) == Some(true) {
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    let first = v
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(Value::Null);
    let code = first.get("code").and_then(Value::as_u64).unwrap_or(7500) as u32;
    let msg = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("remote request failed")
        .to_string();
    Err(if code >= 1000 {
        Error::new(code, msg)
    } else {
        Error::Api(7500, msg)
    })
}

fn send_sign(p: &Parsed, cfg: &Config, profile: &str, request: Value) -> Result<String> {
    let (remotes, key) = targets(p, cfg, profile)?;
    let inner = serde_json::to_vec(&request).map_err(|e| Error::Internal(e.to_string()))?;
    let result = match key {
        Some(k) => {
            let env = AuthenticatedRequest::wrap(
                &k,
                &inner,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            );
            let body = serde_json::to_vec(&env).map_err(|e| Error::Internal(e.to_string()))?;
            post(p, &remotes, "/api/v1/cfssl/authsign", &body)?
        }
        None => post(p, &remotes, "/api/v1/cfssl/sign", &inner)?,
    };
    result
        .get("certificate")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Api(7500, "the remote's answer has no certificate".into()))
}

fn sign_body(req: &SignRequest) -> Value {
    let mut v = json!({
        "certificate_request": String::from_utf8_lossy(&req.csr_pem),
        "profile": req.profile,
        "label": req.label,
    });
    if let Some(h) = &req.hosts {
        v["hosts"] = json!(h);
    }
    if let Some(s) = &req.subject {
        v["subject"] = json!({"CN": s.cn, "names": s.names, "SerialNumber": s.serialnumber});
    }
    v
}

/// `sign` through a remote: returns the certificate PEM.
pub fn sign(
    p: &Parsed,
    _ctx: &mut Ctx<'_>,
    cfg: &Config,
    req: &SignRequest,
) -> std::result::Result<String, CliError> {
    Ok(send_sign(p, cfg, &req.profile, sign_body(req))?)
}

/// `gencert` through a remote: the key and CSR are made here; only the CSR travels.
pub fn gencert(
    p: &Parsed,
    ctx: &mut Ctx<'_>,
    cfg: &Config,
    req: &CertificateRequest,
) -> std::result::Result<(), CliError> {
    if req.ca.is_some() {
        return Err(Error::Policy(5300, "ca section only permitted in initca".into()).into());
    }
    let g = csr::generate(req)?;
    let sreq = SignRequest {
        csr_pem: g.csr_pem.clone().into_bytes(),
        profile: p.str("profile"),
        label: p.str("label"),
        ..Default::default()
    };
    let cert = send_sign(p, cfg, &sreq.profile, sign_body(&sreq))?;
    if req.hosts.as_ref().is_none_or(|h| h.is_empty()) {
        ctx.warn(&format!(
            "[WARNING] {}",
            crate::issue::hosts_warning().message
        ));
    }
    let mut out = BTreeMap::new();
    out.insert("cert", cert);
    out.insert("csr", g.csr_pem);
    out.insert("key", super::common::key_pem(p, &g.key)?);
    Ok(print_json(ctx.stdout, &out)?)
}

/// `info -remote`: the remote's `result`.
pub fn info(p: &Parsed, _ctx: &mut Ctx<'_>) -> Result<Value> {
    let remotes = p
        .str("remote")
        .split(',')
        .filter(|a| !a.trim().is_empty())
        .map(Remote::parse)
        .collect::<Result<Vec<_>>>()?;
    let body = serde_json::to_vec(&json!({"label": p.str("label"), "profile": p.str("profile")}))
        .unwrap_or_default();
    post(p, &remotes, "/api/v1/cfssl/info", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_lists_keep_order_skip_blanks_and_refuse_empty() {
        let got = parse_remotes(" a:1, ,https://b:2,").unwrap();
        let hosts: Vec<_> = got
            .iter()
            .map(|r| (r.host.as_str(), r.port, r.tls))
            .collect();
        assert_eq!(hosts, [("a", 1, false), ("b", 2, true)]);
        for empty in ["", " , ,", ","] {
            match parse_remotes(empty) {
                Err(Error::Policy(5300, m)) => assert!(m.contains("no remote address"), "{m}"),
                other => panic!("{empty:?}: want 5300, got {other:?}"),
            }
        }
        assert!(matches!(
            parse_remotes("a:1,b:notaport"),
            Err(Error::Policy(5300, _))
        ));
    }

    #[test]
    fn remote_addresses() {
        let r = |s: &str| Remote::parse(s).unwrap();
        assert_eq!(
            r("127.0.0.1:8888"),
            Remote {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8888
            }
        );
        assert_eq!(
            r("localhost"),
            Remote {
                tls: false,
                host: "localhost".into(),
                port: 8888
            }
        );
        assert_eq!(
            r("http://10.0.0.1:9000"),
            Remote {
                tls: false,
                host: "10.0.0.1".into(),
                port: 9000
            }
        );
        assert_eq!(
            r("https://ca.example:443/"),
            Remote {
                tls: true,
                host: "ca.example".into(),
                port: 443
            }
        );
        assert_eq!(
            r("[::1]:8889"),
            Remote {
                tls: false,
                host: "::1".into(),
                port: 8889
            }
        );
        assert!(Remote::parse("host:notaport").is_err());
        assert!(Remote::parse("").is_err());
        assert_eq!(r("[::1]:8889").url("/x"), "http://[::1]:8889/x");
    }
}
