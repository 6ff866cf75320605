//! Helpers for the `kpki serve` suites: a small std-only HTTP/1.1 client (one request per
//! connection, `Connection: close`), a launcher for `kpki serve` on 127.0.0.1 with bounded
//! readiness polling, stopping a child with SIGTERM by its PID, and reading the certificate
//! database through `kpki certs -json`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{ProcessGuard, free_port, kpki_bin, poll_until, run_bounded};

/// Upper bound for one HTTP exchange with a local server.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a freshly started server may take to answer its health check.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// HTTP/1.1 client
// ---------------------------------------------------------------------------

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics with the body when it is not).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn describe(&self) -> String {
        format!("HTTP {} {:?}\n{}", self.status, self.headers, self.text())
    }
}

/// Sends one request to 127.0.0.1:`port` and reads the response until the server closes.
/// `body` is sent with a `Content-Length`; a `Content-Type` is sent only when given in
/// `headers`.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<HttpResponse> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(HTTP_TIMEOUT))?;
    s.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nUser-Agent: kpki-tests\r\n"
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if let Some(b) = body {
        s.write_all(b)?;
    }
    s.flush()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Parses a whole HTTP/1.1 response (Content-Length, chunked, or read-to-close bodies).
pub fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            bad(format!(
                "no header end in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("non-UTF-8 header"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if rest.len() < len {
            return Err(bad(format!(
                "body cut short: {} of {len} bytes",
                rest.len()
            )));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("bad chunk header"))?;
        let size_text = std::str::from_utf8(&b[..nl]).map_err(|_| bad("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(bad("chunk cut short"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// POST with `Content-Type: application/json` (panics on I/O errors).
#[track_caller]
pub fn post_json(port: u16, path: &str, body: &[u8]) -> HttpResponse {
    http_request(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(body),
    )
    .unwrap_or_else(|e| panic!("POST {path} on port {port}: {e}"))
}

/// GET (panics on I/O errors).
#[track_caller]
pub fn get(port: u16, path: &str) -> HttpResponse {
    http_request(port, "GET", path, &[], None)
        .unwrap_or_else(|e| panic!("GET {path} on port {port}: {e}"))
}

/// Asserts a cfssl success envelope and returns its `result`.
#[track_caller]
pub fn ok_result(r: &HttpResponse) -> serde_json::Value {
    assert_eq!(r.status, 200, "expected success: {}", r.describe());
    let v = r.json();
    assert_eq!(v["success"], true, "{}", r.describe());
    assert_eq!(v["errors"], serde_json::json!([]), "{}", r.describe());
    v["result"].clone()
}

/// Asserts a cfssl error envelope with this HTTP status; returns the first error object.
#[track_caller]
pub fn err_of(r: &HttpResponse, status: u16) -> serde_json::Value {
    assert_eq!(r.status, status, "unexpected status: {}", r.describe());
    let v = r.json();
    assert_eq!(v["success"], false, "{}", r.describe());
    assert!(v["result"].is_null(), "{}", r.describe());
    let first = v["errors"][0].clone();
    assert!(first["code"].is_u64(), "no error code: {}", r.describe());
    assert!(first["message"].is_string(), "no message: {}", r.describe());
    first
}

// ---------------------------------------------------------------------------
// Child processes: SIGTERM by PID
// ---------------------------------------------------------------------------

impl ProcessGuard {
    /// Sends SIGTERM to the child with this PID (one of ours) and waits up to `limit` for it
    /// to exit; returns its status and stops tracking it. Panics if it does not stop in time
    /// (the guard still SIGKILLs it on drop).
    pub fn terminate(&mut self, pid: u32, limit: Duration) -> ExitStatus {
        let idx = self
            .children
            .iter()
            .position(|(_, c)| c.id() == pid)
            .unwrap_or_else(|| panic!("pid {pid} is not one of this guard's children"));
        let st = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.children[idx].1.try_wait().expect("try_wait") {
                self.children.remove(idx);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} did not stop within {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the child with this PID has not exited.
    pub fn is_running(&mut self, pid: u32) -> bool {
        self.children
            .iter_mut()
            .find(|(_, c)| c.id() == pid)
            .is_some_and(|(_, c)| c.try_wait().ok().flatten().is_none())
    }
}

// ---------------------------------------------------------------------------
// kpki serve
// ---------------------------------------------------------------------------

/// A running `kpki serve` child.
#[derive(Debug, Clone)]
pub struct Server {
    pub port: u16,
    pub pid: u32,
    /// stdout+stderr of the server
    pub log: PathBuf,
}

impl Server {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `host:port` (bare, as kpki's `-remote` accepts it).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// How the launcher decides the server is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// plain HTTP `GET /api/v1/cfssl/health` answers `{"healthy":true}`
    Health,
    /// the TCP port accepts connections (TLS servers)
    Port,
}

/// Starts `kpki serve -port P ARGS…` in `dir` (a free port on 127.0.0.1; `-address` stays the
/// default 127.0.0.1) and waits, bounded, until it is ready. Retries with another port when
/// the chosen one was taken meanwhile.
#[track_caller]
pub fn start_serve(guard: &mut ProcessGuard, dir: &Path, args: &[&str], ready: Ready) -> Server {
    let mut last = String::new();
    for attempt in 0..3 {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let logf = std::fs::File::create(&log).expect("create server log");
        let mut cmd = Command::new(kpki_bin());
        cmd.arg("serve")
            .args(["-port", &port.to_string()])
            .args(args)
            .current_dir(dir)
            .env("KPKI_LOG", "info")
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup log"))
            .stderr(logf);
        let pid = guard.spawn(&format!("kpki serve #{attempt} on {port}"), cmd);
        let server = Server { port, pid, log };
        let res = poll_until(START_TIMEOUT, Duration::from_millis(50), || {
            if !guard.is_running(pid) {
                return Ok(false);
            }
            match ready {
                Ready::Health => match http_request(port, "GET", "/api/v1/cfssl/health", &[], None)
                {
                    Ok(r) if r.status == 200 => Ok(true),
                    Ok(r) => Err(r.describe()),
                    Err(e) => Err(e.to_string()),
                },
                Ready::Port => TcpStream::connect_timeout(
                    &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    Duration::from_secs(1),
                )
                .map(|_| true)
                .map_err(|e| e.to_string()),
            }
        });
        match res {
            Ok(true) => return server,
            Ok(false) => {
                let text = server.log_text();
                if text.to_ascii_lowercase().contains("already in use") {
                    last = text;
                    continue;
                }
                panic!(
                    "kpki serve {args:?} exited during start-up:\n{}",
                    server.log_text()
                );
            }
            Err(e) => panic!(
                "kpki serve {args:?} not ready on port {port}: {e}\n--- log ---\n{}",
                server.log_text()
            ),
        }
    }
    panic!("kpki serve could not get a free port three times:\n{last}");
}

// ---------------------------------------------------------------------------
// The certificate database, read through kpki's CLI
// ---------------------------------------------------------------------------

/// `kpki certs -db URL -json -limit 100000 [extra…]` → the records.
#[track_caller]
pub fn certs_json(db_url: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut c = Command::new(kpki_bin());
    c.args(["certs", "-db", db_url, "-json", "-limit", "100000"])
        .args(extra);
    let out = run_bounded(
        c,
        None,
        Duration::from_secs(30),
        &format!("kpki certs -db {db_url} -json {extra:?}"),
    );
    out.ok();
    match out.json() {
        serde_json::Value::Array(a) => a,
        other => panic!("kpki certs -json did not print an array: {other:#}"),
    }
}

/// The record with this serial and AKI in `records`, if any.
pub fn find_record<'a>(
    records: &'a [serde_json::Value],
    serial: &str,
    aki: &str,
) -> Option<&'a serde_json::Value> {
    records
        .iter()
        .find(|r| r["serial_number"] == serial && r["authority_key_identifier"] == aki)
}
