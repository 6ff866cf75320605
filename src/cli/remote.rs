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
    /// Parses `host`, `host:port`, `IP:port`, `[v6]:port`, `http://…`, `https://…`. Without a
    /// port: 8888 for a bare address, the scheme's port (80, 443) for a URL.
    // cfssl compat: cfssl checks `http://host` against `host:8888` but then dials the URL as
    // written, i.e. on port 80 (443 for https); only a bare `host` gets 8888.
    pub fn parse(s: &str) -> Result<Remote> {
        let bad = || {
            Error::Policy(
                5300,
                format!("failed to connect to remote: bad address {s:?}"),
            )
        };
        let s = s.trim();
        let (tls, rest, default_port) = if let Some(r) = s.strip_prefix("https://") {
            (true, r, 443)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r, 80)
        } else {
            (false, s, 8888)
        };
        let hostport = rest.split('/').next().unwrap_or("");
        if hostport.is_empty() {
            return Err(bad());
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None => default_port,
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().map_err(|_| bad())?),
                Some(_) => (hostport.to_string(), default_port), // bare IPv6
                None => (hostport.to_string(), default_port),
            }
        };
        Ok(Remote { tls, host, port })
    }

    /// `host:port`, with an IPv6 host in brackets (URLs and the Host header, RFC 3986 §3.2.2).
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}://{}{}",
            if self.tls { "https" } else { "http" },
            self.authority(),
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
        .header("host", r.authority())
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

    use std::io::{Read, Write};

    /// One request as a test server saw it.
    #[derive(Debug)]
    struct Seen {
        /// `POST /path HTTP/1.1`
        line: String,
        /// the Host header's value
        host: String,
        body: Vec<u8>,
    }

    impl Seen {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// A one-shot HTTP server on 127.0.0.1: answers one connection per reply, in order, then stops
    /// (giving up after 20 s without a client, so a broken client fails instead of hanging).
    fn server(replies: Vec<(u16, String)>) -> (u16, std::thread::JoinHandle<Vec<Seen>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let h = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let mut seen = Vec::new();
            for (status, reply) in replies {
                let mut s = loop {
                    match l.accept() {
                        Ok((s, _)) => break s,
                        Err(_) if std::time::Instant::now() < deadline => {
                            std::thread::sleep(std::time::Duration::from_millis(5))
                        }
                        Err(e) => panic!("no client: {e}"),
                    }
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let n = s.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed mid-request");
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = s.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed mid-body");
                    buf.extend_from_slice(&chunk[..n]);
                }
                write!(
                    s,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .unwrap();
                let host = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                seen.push(Seen {
                    line: head.lines().next().unwrap_or("").to_string(),
                    host,
                    body: buf[head_end..head_end + len].to_vec(),
                });
            }
            seen
        });
        (port, h)
    }

    fn ok(result: Value) -> (u16, String) {
        (
            200,
            json!({"success": true, "result": result, "errors": [], "messages": []}).to_string(),
        )
    }

    const FLAGS: &[&str] = &[
        "remote",
        "label",
        "profile",
        "auth-key",
        "tls-remote-ca",
        "mutual-tls-client-cert",
        "mutual-tls-client-key",
    ];

    fn flags(args: &[&str]) -> Parsed {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        crate::cli::flags::parse(&args, FLAGS).unwrap()
    }

    /// A port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f";

    fn config(port: u16) -> Config {
        Config::from_json(
            json!({
                "signing": {
                    "default": {"expiry": "1h", "usages": ["signing"]},
                    "profiles": {
                        "plain": {"expiry": "1h", "usages": ["signing"], "remote": "ca"},
                        "authed": {"expiry": "1h", "usages": ["signing"],
                                   "auth_remote": {"remote": "ca", "auth_key": "k"}},
                        "badkey": {"expiry": "1h", "usages": ["signing"],
                                   "auth_remote": {"remote": "ca", "auth_key": "bad"}},
                        "local": {"expiry": "1h", "usages": ["signing"]}
                    }
                },
                "auth_keys": {"k": {"type": "standard", "key": KEY_HEX},
                              "bad": {"type": "standard", "key": "not hex"}},
                "remotes": {"ca": format!("127.0.0.1:{port}")}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn code(e: &Error) -> u32 {
        e.code()
    }

    #[test]
    fn bare_and_bracketed_ipv6() {
        let r = |s: &str| Remote::parse(s).unwrap();
        // a bare IPv6 address is a host, not host:port
        assert_eq!((r("::1").host, r("::1").port), ("::1".to_string(), 8888));
        assert_eq!(
            r("https://[fe80::1]:8443/x"),
            Remote {
                tls: true,
                host: "fe80::1".into(),
                port: 8443
            }
        );
        assert_eq!(
            r("https://[fe80::1]:8443/x").url("/y"),
            "https://[fe80::1]:8443/y"
        );
        assert_eq!(r(" 10.0.0.1:1 ").url(""), "http://10.0.0.1:1");
    }

    #[test]
    fn wanted_by_flag_or_by_a_remote_profile() {
        let cfg = config(1);
        let none = flags(&[]);
        assert!(!wanted(&none, &cfg, ""));
        assert!(!wanted(&none, &cfg, "local"));
        assert!(!wanted(&none, &cfg, "no-such-profile"));
        assert!(wanted(&none, &cfg, "plain"));
        assert!(wanted(&none, &cfg, "authed"));
        let remote = flags(&["-remote", "127.0.0.1:1"]);
        assert!(wanted(&remote, &cfg, ""));
        assert!(wanted(&remote, &cfg, "local"));
        assert!(wanted(&remote, &cfg, "plain"));
    }

    #[test]
    fn targets_follow_the_profile_unless_remote_overrides() {
        let cfg = config(4242);
        let at = |port| vec![Remote::parse(&format!("127.0.0.1:{port}")).unwrap()];
        let none = flags(&[]);
        assert_eq!(targets(&none, &cfg, "plain").unwrap(), (at(4242), None));
        assert_eq!(
            targets(&none, &cfg, "authed").unwrap(),
            (at(4242), Some(hex::decode(KEY_HEX).unwrap()))
        );
        let e = targets(&none, &cfg, "badkey").unwrap_err();
        assert_eq!(code(&e), 5200, "{e:?}");
        // a local profile has no remote of its own
        assert_eq!(code(&targets(&none, &cfg, "local").unwrap_err()), 5300);
        assert_eq!(code(&targets(&none, &cfg, "nope").unwrap_err()), 5400);
        let over = flags(&["-remote", "127.0.0.1:7,127.0.0.1:8"]);
        let both = vec![at(7).remove(0), at(8).remove(0)];
        assert_eq!(targets(&over, &cfg, "plain").unwrap(), (both.clone(), None));
        assert_eq!(targets(&over, &cfg, "local").unwrap(), (both.clone(), None));
        assert_eq!(
            targets(&over, &cfg, "authed").unwrap(),
            (both, Some(hex::decode(KEY_HEX).unwrap()))
        );
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            parse_envelope(200, br#"{"success":true,"result":{"a":1}}"#).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            parse_envelope(200, br#"{"success":true}"#).unwrap(),
            Value::Null
        );
        let e = parse_envelope(
            400,
            br#"{"success":false,"errors":[{"code":5300,"message":"no"}]}"#,
        )
        .unwrap_err();
        assert_eq!((code(&e), e.message()), (5300, "no".to_string()));
        let e = parse_envelope(
            400,
            br#"{"success":false,"errors":[{"code":1000,"message":"m"}]}"#,
        )
        .unwrap_err();
        assert_eq!(code(&e), 1000);
        // a code below cfssl's range, none at all, or success not true: 7500
        let e = parse_envelope(
            400,
            br#"{"success":false,"errors":[{"code":999,"message":"m"}]}"#,
        )
        .unwrap_err();
        assert_eq!((code(&e), e.message()), (7500, "m".to_string()));
        let e = parse_envelope(500, br#"{"success":"true","result":1}"#).unwrap_err();
        assert_eq!(
            (code(&e), e.message()),
            (7500, "remote request failed".to_string())
        );
        let e = parse_envelope(502, b" Bad Gateway\n").unwrap_err();
        assert_eq!(
            (code(&e), e.message()),
            (7400, "HTTP 502: Bad Gateway".to_string())
        );
    }

    #[test]
    fn info_posts_label_and_profile_and_fails_over() {
        let (port, h) = server(vec![ok(json!({"certificate": "C"}))]);
        let down = closed_port();
        let p = flags(&[
            "-remote",
            &format!("127.0.0.1:{down},127.0.0.1:{port}"),
            "-label",
            "L",
            "-profile",
            "P",
        ]);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut ctx = Ctx {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        };
        assert_eq!(info(&p, &mut ctx).unwrap(), json!({"certificate": "C"}));
        let seen = h.join().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].line, "POST /api/v1/cfssl/info HTTP/1.1");
        assert_eq!(seen[0].json(), json!({"label": "L", "profile": "P"}));
        // every remote down: the last connection error (7400)
        let p = flags(&["-remote", &format!("127.0.0.1:{down}")]);
        let e = info(&p, &mut ctx).unwrap_err();
        assert_eq!(code(&e), 7400, "{e:?}");
        assert!(
            e.message()
                .contains(&format!("127.0.0.1:{down}/api/v1/cfssl/info"))
        );
    }

    #[test]
    fn request_once_returns_status_and_body() {
        let (port, h) = server(vec![(201, "hello".into())]);
        let r = Remote::parse(&format!("127.0.0.1:{port}")).unwrap();
        let got = super::super::record::runtime()
            .unwrap()
            .block_on(request_once(&r, "PUT", "/p?q=1", b"body", None))
            .unwrap();
        assert_eq!(got, (201, b"hello".to_vec()));
        let seen = h.join().unwrap();
        assert_eq!(seen[0].line, "PUT /p?q=1 HTTP/1.1");
        assert_eq!(seen[0].host, format!("127.0.0.1:{port}"));
        assert_eq!(seen[0].body, b"body");
    }

    #[test]
    fn ipv6_hosts_are_bracketed_in_urls_and_the_host_header() {
        let r = |s: &str| Remote::parse(s).unwrap();
        // RFC 3986 §3.2.2: `host: ::1:8889` is not a valid authority.
        assert_eq!(r("[::1]:8889").authority(), "[::1]:8889");
        assert_eq!(r("::1").authority(), "[::1]:8888");
        assert_eq!(r("ca.example:9").authority(), "ca.example:9");
        assert_eq!(
            r("https://[fe80::1]/x").url("/y"),
            "https://[fe80::1]:443/y"
        );
    }

    #[test]
    fn a_url_without_a_port_dials_the_schemes_port_as_cfssl() {
        let port = |s: &str| Remote::parse(s).unwrap().port;
        // Observed with cfssl 1.2: `-remote http://127.0.0.1` dials port 80, https 443,
        // `http://[::1]` 80; a bare host (no scheme) 8888.
        assert_eq!(port("http://ca.example"), 80);
        assert_eq!(port("http://ca.example/"), 80);
        assert_eq!(port("https://ca.example/"), 443);
        assert_eq!(port("https://[::1]"), 443);
        assert_eq!(port("http://[::1]"), 80);
        assert_eq!(port("ca.example"), 8888);
        assert_eq!(port("[::1]"), 8888);
        assert_eq!(port("http://ca.example:8888"), 8888);
    }

    #[test]
    fn kpki_calls_plain_and_hmac_wrapped() {
        let (port, h) = server(vec![ok(json!(1)), ok(json!(2)), ok(json!(3)), ok(json!(4))]);
        let d = tempfile::tempdir().unwrap();
        let keyfile = d.path().join("key");
        std::fs::write(&keyfile, format!("{KEY_HEX}\n")).unwrap();
        let remote = format!("127.0.0.1:{port}");
        let plain = flags(&["-remote", &remote]);
        assert_eq!(
            kpki_call(&plain, "GET", "/api/v1/kpki/x", b"{\"a\":1}").unwrap(),
            json!(1)
        );
        let authed = flags(&[
            "-remote",
            &remote,
            "-auth-key",
            &format!("file:{}", keyfile.display()),
        ]);
        assert_eq!(
            kpki_call(&authed, "POST", "/api/v1/kpki/y", b"{\"a\":1}").unwrap(),
            json!(2)
        );
        assert_eq!(
            kpki_call(&authed, "DELETE", "/api/v1/kpki/z", b" \n").unwrap(),
            json!(3)
        );
        assert_eq!(
            kpki_call(&authed, "POST", "/api/v1/kpki/y", b"{\"a\":1}").unwrap(),
            json!(4)
        );
        let e = kpki_call(&authed, "POST", "/api/v1/kpki/y", b"[1]").unwrap_err();
        assert!(e.message().contains("not a JSON object"), "{e:?}");
        let bad = flags(&["-remote", &remote, "-auth-key", "file:/nonexistent/k"]);
        assert!(kpki_call(&bad, "POST", "/", b"{}").is_err());
        let seen = h.join().unwrap();
        assert_eq!(seen[0].line, "GET /api/v1/kpki/x HTTP/1.1");
        assert_eq!(seen[0].body, b"{\"a\":1}");
        let key = hex::decode(KEY_HEX).unwrap();
        let inner = |s: &Seen| {
            let env = AuthenticatedRequest::parse(&s.body).unwrap();
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let inner = env.verify(&[&key], now).unwrap();
            serde_json::from_slice::<Value>(&inner).unwrap()
        };
        assert_eq!(seen[1].line, "POST /api/v1/kpki/y HTTP/1.1");
        let (a, b, c) = (inner(&seen[1]), inner(&seen[2]), inner(&seen[3]));
        assert_eq!(a["a"], 1);
        assert_eq!(seen[2].line, "DELETE /api/v1/kpki/z HTTP/1.1");
        assert_eq!(b.as_object().unwrap().len(), 1, "only the nonce: {b}");
        // the nonce makes two identical calls two different requests
        assert_eq!(a["nonce"].as_str().unwrap().len(), 32);
        assert_ne!(a["nonce"], c["nonce"]);
    }

    #[test]
    fn sign_goes_to_sign_or_authsign() {
        let (port, h) = server(vec![
            ok(json!({"certificate": "PEM1"})),
            ok(json!({"certificate": "PEM2"})),
            ok(json!({"no": "certificate"})),
        ]);
        let cfg = config(port);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut ctx = Ctx {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        };
        let req = SignRequest {
            csr_pem: b"CSR".to_vec(),
            profile: "plain".into(),
            label: "lbl".into(),
            hosts: Some(vec!["a.example".into()]),
            subject: Some(CertificateRequest {
                cn: "cn1".into(),
                ..Default::default()
            }),
        };
        let none = flags(&[]);
        assert_eq!(sign(&none, &mut ctx, &cfg, &req).unwrap(), "PEM1");
        let authed = SignRequest {
            profile: "authed".into(),
            hosts: None,
            subject: None,
            ..req.clone()
        };
        assert_eq!(sign(&none, &mut ctx, &cfg, &authed).unwrap(), "PEM2");
        match sign(&none, &mut ctx, &cfg, &req) {
            Err(CliError::Failed(e)) => assert_eq!(code(&e), 7500),
            other => panic!("{other:?}"),
        }
        let seen = h.join().unwrap();
        assert_eq!(seen[0].line, "POST /api/v1/cfssl/sign HTTP/1.1");
        let body = seen[0].json();
        assert_eq!(body["certificate_request"], "CSR");
        assert_eq!(body["profile"], "plain");
        assert_eq!(body["label"], "lbl");
        assert_eq!(body["hosts"], json!(["a.example"]));
        assert_eq!(body["subject"]["CN"], "cn1");
        assert_eq!(seen[1].line, "POST /api/v1/cfssl/authsign HTTP/1.1");
        let env = AuthenticatedRequest::parse(&seen[1].body).unwrap();
        let key = hex::decode(KEY_HEX).unwrap();
        let inner = env
            .verify(&[&key], time::OffsetDateTime::now_utc().unix_timestamp())
            .unwrap();
        let inner: Value = serde_json::from_slice(&inner).unwrap();
        assert_eq!(
            inner,
            json!({"certificate_request": "CSR", "profile": "authed", "label": "lbl"})
        );
    }

    #[test]
    fn gencert_sends_only_the_csr_and_prints_cert_csr_key() {
        let (port, h) = server(vec![
            ok(json!({"certificate": "CERT"})),
            ok(json!({"certificate": "CERT2"})),
        ]);
        let cfg = config(port);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut ctx = Ctx {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        };
        let p = flags(&["-profile", "plain", "-label", "lbl"]);
        let req = CertificateRequest::from_json(
            br#"{"CN":"node","hosts":["node.example"],"key":{"algo":"ecdsa","size":256}}"#,
        )
        .unwrap();
        gencert(&p, &mut ctx, &cfg, &req).unwrap();
        let nohosts =
            CertificateRequest::from_json(br#"{"CN":"x","key":{"algo":"ecdsa","size":256}}"#)
                .unwrap();
        gencert(&p, &mut ctx, &cfg, &nohosts).unwrap();
        let ca = CertificateRequest::from_json(br#"{"CN":"x","ca":{"expiry":"1h"}}"#).unwrap();
        assert!(gencert(&p, &mut ctx, &cfg, &ca).is_err());
        let seen = h.join().unwrap();
        assert_eq!(seen[0].line, "POST /api/v1/cfssl/sign HTTP/1.1");
        let body = seen[0].json();
        assert_eq!(body["profile"], "plain");
        assert_eq!(body["label"], "lbl");
        let csr = body["certificate_request"].as_str().unwrap();
        assert!(
            csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{csr}"
        );
        assert!(body.get("hosts").is_none() && body.get("subject").is_none());
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["cert"], "CERT");
        assert_eq!(lines[0]["csr"], csr);
        assert!(
            lines[0]["key"]
                .as_str()
                .unwrap()
                .contains("PRIVATE KEY-----")
        );
        assert_eq!(lines[1]["cert"], "CERT2");
        // the no-hosts warning only for the request without hosts
        let warn = String::from_utf8(err).unwrap();
        assert_eq!(warn.matches("[WARNING]").count(), 1, "{warn}");
    }

    #[test]
    fn https_remotes_need_a_ca_bundle() {
        let e = match tls_connector(&flags(&[])) {
            Err(e) => e,
            Ok(_) => panic!("no CA bundle accepted"),
        };
        assert_eq!(code(&e), 7400);
        let d = tempfile::tempdir().unwrap();
        let req =
            CertificateRequest::from_json(br#"{"CN":"tls ca","key":{"algo":"ecdsa","size":256}}"#)
                .unwrap();
        let ca = crate::issue::init_ca(&req, None).unwrap();
        let ca_path = d.path().join("ca.pem");
        std::fs::write(&ca_path, &ca.cert_pem).unwrap();
        let key_path = d.path().join("key.pem");
        std::fs::write(&key_path, ca.key.to_pkcs8_pem()).unwrap();
        let ca_flag = format!("file:{}", ca_path.display());
        assert!(tls_connector(&flags(&["-tls-remote-ca", &ca_flag])).is_ok());
        assert!(
            tls_connector(&flags(&[
                "-tls-remote-ca",
                &ca_flag,
                "-mutual-tls-client-cert",
                ca_path.to_str().unwrap(),
                "-mutual-tls-client-key",
                key_path.to_str().unwrap(),
            ]))
            .is_ok()
        );
        // a client certificate without its key
        assert!(
            tls_connector(&flags(&[
                "-tls-remote-ca",
                &ca_flag,
                "-mutual-tls-client-cert",
                ca_path.to_str().unwrap(),
            ]))
            .is_err()
        );
    }

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
