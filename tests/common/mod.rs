//! Shared helpers for kpki's black-box integration tests: temp workspaces, the tool
//! symlinks (`cfssl`, `cfssljson`, `cfssl-certinfo` → kpki), bounded process runs,
//! skipping rules for missing programs, free ports, a process guard, and an X.509
//! summary built with x509-parser (independent of kpki's own code paths).
//!
//! Setting `KPKI_TEST_TOOLS_DIR=/usr/bin` runs the suite against the real cfssl tools
//! found in that directory; assertions on kpki-only improvements are guarded by
//! [`is_real_cfssl`].

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod etcd;
pub mod serve;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use x509_parser::prelude::*;

/// Env var naming a directory holding the `cfssl`, `cfssljson` and `cfssl-certinfo`
/// tools to test instead of kpki.
pub const TOOLS_DIR_ENV: &str = "KPKI_TEST_TOOLS_DIR";

/// The cfssl tool names kpki answers to through argv[0].
pub const TOOL_NAMES: [&str; 3] = ["cfssl", "cfssljson", "cfssl-certinfo"];

/// Upper bound for one tool invocation (RSA-4096 key generation included).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Environment, skipping
// ---------------------------------------------------------------------------

/// True when running under CI (`CI=true`): missing programs are then failures, not skips.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Skips loudly on a dev box; panics under CI. Returns `false` so callers can write
/// `if !skip_or_fail(...) { return; }`-style code through the helpers below.
pub fn skip(what: &str) -> bool {
    if is_ci() {
        panic!("CI=true and a test prerequisite is missing: {what}");
    }
    loud(&format!(
        "SKIP: {what} (set CI=true to make this a failure)"
    ));
    false
}

/// Writes a line straight to the process's stderr: unlike `eprintln!`, this is not
/// captured by the test harness, so skips show up in a normal `cargo test` run.
pub fn loud(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Looks `name` up on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True if `name` is on PATH. Otherwise prints a `SKIP:` line (panics when `CI=true`)
/// and returns false; the caller then returns early.
pub fn require_program(name: &str) -> bool {
    if find_program(name).is_some() {
        true
    } else {
        skip(&format!("program `{name}` not found on PATH"))
    }
}

/// True when the suite runs against the real cfssl tools (`KPKI_TEST_TOOLS_DIR` set to
/// a directory whose `cfssl` is not kpki). Assertions on kpki-only improvements are
/// skipped then.
pub fn is_real_cfssl() -> bool {
    match tools_dir_from_env() {
        None => false,
        Some(dir) => {
            let cfssl = std::fs::canonicalize(dir.join("cfssl")).ok();
            let kpki = std::fs::canonicalize(kpki_bin()).ok();
            cfssl.is_none() || cfssl != kpki
        }
    }
}

/// Prints a note that a kpki-only check is skipped; returns true when it must be skipped.
pub fn skip_kpki_only(what: &str) -> bool {
    if is_real_cfssl() {
        loud(&format!(
            "SKIP (kpki-only check, running against real cfssl): {what}"
        ));
        true
    } else {
        false
    }
}

fn tools_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(TOOLS_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Env var naming a kpki executable to test instead of the one cargo built for this run (CI runs
/// the integration tests again against the static musl release build).
pub const BIN_ENV: &str = "KPKI_TEST_BIN";

/// The kpki binary under test: `KPKI_TEST_BIN`, else the one cargo built for this test run.
pub fn kpki_bin() -> PathBuf {
    match std::env::var_os(BIN_ENV).filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                is_executable(&p),
                "{BIN_ENV}={} is not an executable",
                p.display()
            );
            p
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_kpki")),
    }
}

// ---------------------------------------------------------------------------
// Tools: where cfssl / cfssljson / cfssl-certinfo come from
// ---------------------------------------------------------------------------

/// A directory holding `cfssl`, `cfssljson`, `cfssl-certinfo` (and `kpki` when those
/// are kpki symlinks).
pub struct Tools {
    dir: PathBuf,
    real_cfssl: bool,
    _holder: Option<tempfile::TempDir>,
}

impl Tools {
    /// The tools under test: `KPKI_TEST_TOOLS_DIR` when set, else kpki symlinks.
    pub fn under_test() -> Tools {
        match tools_dir_from_env() {
            Some(dir) => {
                for t in TOOL_NAMES {
                    assert!(
                        is_executable(&dir.join(t)),
                        "{TOOLS_DIR_ENV}={} lacks an executable `{t}`",
                        dir.display()
                    );
                }
                Tools {
                    dir,
                    real_cfssl: is_real_cfssl(),
                    _holder: None,
                }
            }
            None => Tools::kpki(),
        }
    }

    /// Symlinks `cfssl`, `cfssljson`, `cfssl-certinfo`, `kpki` → the kpki binary, in a
    /// fresh temp dir (ignores `KPKI_TEST_TOOLS_DIR`).
    pub fn kpki() -> Tools {
        let holder = tempfile::Builder::new()
            .prefix("kpki-tools-")
            .tempdir()
            .expect("temp dir for tool symlinks");
        let bin = kpki_bin();
        for name in TOOL_NAMES.iter().chain(["kpki"].iter()) {
            std::os::unix::fs::symlink(&bin, holder.path().join(name))
                .unwrap_or_else(|e| panic!("symlink {name} -> {}: {e}", bin.display()));
        }
        Tools {
            dir: holder.path().to_path_buf(),
            real_cfssl: false,
            _holder: Some(holder),
        }
    }

    /// The real cfssl tools from `dir` (for side-by-side comparisons).
    pub fn real_cfssl_in(dir: &Path) -> Option<Tools> {
        TOOL_NAMES
            .iter()
            .all(|t| is_executable(&dir.join(t)))
            .then(|| Tools {
                dir: dir.to_path_buf(),
                real_cfssl: true,
                _holder: None,
            })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Absolute path of one tool (`cfssl`, `cfssljson`, `cfssl-certinfo`, `kpki`).
    pub fn path(&self, tool: &str) -> PathBuf {
        self.dir.join(tool)
    }

    pub fn is_real_cfssl(&self) -> bool {
        self.real_cfssl
    }

    /// PATH value with the tools dir first.
    pub fn path_env(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.dir.clone()];
        if let Some(p) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&p));
        }
        std::env::join_paths(dirs).expect("PATH join")
    }
}

// ---------------------------------------------------------------------------
// Workspace: a temp dir in which commands run
// ---------------------------------------------------------------------------

/// A temporary working directory plus the tools to run in it.
pub struct Workspace {
    pub tools: Tools,
    tmp: tempfile::TempDir,
}

impl Workspace {
    /// Workspace using the tools under test.
    pub fn new() -> Workspace {
        Workspace::with_tools(Tools::under_test())
    }

    pub fn with_tools(tools: Tools) -> Workspace {
        let tmp = tempfile::Builder::new()
            .prefix("kpki-test-")
            .tempdir()
            .expect("temp workspace");
        Workspace { tools, tmp }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    pub fn read(&self, name: &str) -> String {
        let p = self.path(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Permission bits of a file in the workspace.
    pub fn mode(&self, name: &str) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(name);
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o7777
    }

    /// A command for one tool, run in the workspace with the tools first on PATH.
    pub fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(self.tools.path(tool));
        c.current_dir(self.dir()).env("PATH", self.tools.path_env());
        c
    }

    /// Runs `tool args…` (no stdin), bounded by [`CMD_TIMEOUT`].
    pub fn run(&self, tool: &str, args: &[&str]) -> Output {
        let what = format!("{tool} {}", args.join(" "));
        let mut c = self.cmd(tool);
        c.args(args);
        run_bounded(c, None, CMD_TIMEOUT, &what)
    }

    /// Runs `tool args…` feeding `stdin`.
    pub fn run_stdin(&self, tool: &str, args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
        let what = format!("{tool} {} <stdin>", args.join(" "));
        let mut c = self.cmd(tool);
        c.args(args);
        run_bounded(c, Some(stdin.as_ref().to_vec()), CMD_TIMEOUT, &what)
    }

    /// Runs a shell script (`sh -c`) in the workspace so pipes are real. The umask is
    /// fixed to 022 so file-mode assertions do not depend on the caller's umask.
    pub fn sh(&self, script: &str) -> Output {
        self.sh_umask(script, 0o022)
    }

    pub fn sh_umask(&self, script: &str, umask: u32) -> Output {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("umask {umask:03o}\n{script}"))
            .current_dir(self.dir())
            .env("PATH", self.tools.path_env());
        run_bounded(c, None, CMD_TIMEOUT, script)
    }

    /// Writes a JSON value (pretty) to `name`.
    pub fn write_json(&self, name: &str, v: &serde_json::Value) -> PathBuf {
        self.write(name, serde_json::to_string_pretty(v).unwrap())
    }
}

// ---------------------------------------------------------------------------
// Bounded process runs
// ---------------------------------------------------------------------------

/// Result of a finished command.
#[derive(Debug)]
pub struct Output {
    pub what: String,
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with full output unless the command exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.success(), "command failed: {}", self.describe());
        self
    }

    /// Panics unless the command exited non-zero (killed by a signal counts as a panic).
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "command unexpectedly succeeded: {}",
            self.describe()
        );
        self
    }

    /// Panics unless the exit code is exactly `code`.
    #[track_caller]
    pub fn exit_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code: {}",
            self.describe()
        );
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}` exit={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.describe()))
    }

    /// The last stderr line that is a cfssl error object `{"code":N,"message":"…"}`.
    pub fn error_json(&self) -> Option<serde_json::Value> {
        self.stderr.lines().rev().find_map(|line| {
            let t = line.trim();
            // cfssl's log lines may end with the JSON error: take from the first `{`.
            let start = t.find('{')?;
            let v: serde_json::Value = serde_json::from_str(&t[start..]).ok()?;
            (v.get("code").is_some_and(|c| c.is_u64()) && v.get("message").is_some()).then_some(v)
        })
    }

    /// The error code of [`Output::error_json`], panicking if there is none.
    #[track_caller]
    pub fn error_code(&self) -> u64 {
        self.error_json()
            .and_then(|v| v["code"].as_u64())
            .unwrap_or_else(|| panic!("no {{\"code\":…}} error on stderr: {}", self.describe()))
    }
}

/// Spawns `cmd` in its own process group, feeds `stdin`, collects output, and kills the
/// whole group (by its PID) if it outlives `timeout`.
pub fn run_bounded(
    mut cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    what: &str,
) -> Output {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn `{what}`: {e}"));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            // The child may exit without reading everything; that is not our failure.
            let _ = pipe.write_all(&data);
        })
    });
    let out_reader = spawn_reader(child.stdout.take().unwrap());
    let err_reader = spawn_reader(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {timeout:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        what: what.to_string(),
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

fn spawn_reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// SIGKILLs the process group led by `pgid` (a child we spawned with `process_group(0)`).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Polls `check` every `interval` until it returns Ok or `limit` elapses; returns the
/// last error on timeout.
pub fn poll_until<T>(
    limit: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() + interval >= deadline => {
                return Err(format!("gave up after {limit:?}: {e}"));
            }
            Err(_) => std::thread::sleep(interval),
        }
    }
}

// ---------------------------------------------------------------------------
// Ports and child processes
// ---------------------------------------------------------------------------

/// `n` distinct free TCP ports on 127.0.0.1 (all listeners are held until every port is
/// picked, so the ports are distinct; another process may still grab one afterwards).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// Owns spawned long-running children and SIGKILLs each one by PID when dropped, so a
/// failing test does not leak servers.
#[derive(Default)]
pub struct ProcessGuard {
    children: Vec<(String, Child)>,
}

impl ProcessGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `cmd` and takes ownership of the child. Returns its PID.
    pub fn spawn(&mut self, name: &str, mut cmd: Command) -> u32 {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let pid = child.id();
        self.children.push((name.to_string(), child));
        pid
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|(_, c)| c.id()).collect()
    }

    /// Names of children that have already exited, with their status.
    pub fn exited(&mut self) -> Vec<String> {
        self.children
            .iter_mut()
            .filter_map(|(n, c)| c.try_wait().ok().flatten().map(|s| format!("{n}: {s}")))
            .collect()
    }

    /// Kills (SIGKILL, by PID) and reaps every child.
    pub fn kill_all(&mut self) {
        for (_, child) in self.children.iter_mut() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.kill_all();
    }
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// cfssl's notBefore rule: now rounded (not truncated) to the minute, minus `backdate`.
pub fn cfssl_not_before(now: i64, backdate_secs: i64) -> i64 {
    (now + 30) / 60 * 60 - backdate_secs
}

/// Asserts `not_before` follows the cfssl rule for some instant in `[before, after]`.
#[track_caller]
pub fn assert_cfssl_not_before(not_before: i64, before: i64, after: i64, what: &str) {
    let lo = cfssl_not_before(before, 300);
    let hi = cfssl_not_before(after, 300);
    assert!(
        not_before % 60 == 0 && (lo..=hi).contains(&not_before),
        "{what}: notBefore {not_before} should be now-5min rounded to the minute (expected in \
         [{lo}, {hi}])"
    );
}

pub const HOUR: i64 = 3600;

// ---------------------------------------------------------------------------
// X.509 summary (x509-parser)
// ---------------------------------------------------------------------------

/// A subject alternative name, normalised for comparison.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Email(String),
    Uri(String),
    Other(String),
}

impl San {
    pub fn dns(s: &str) -> San {
        San::Dns(s.to_string())
    }
    pub fn ip(s: &str) -> San {
        San::Ip(s.parse().expect("IP literal"))
    }
}

/// Key usage bits as named flags (only the ones cfssl profiles use, plus the rest).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyUsageSet {
    pub critical: bool,
    pub names: Vec<&'static str>,
}

/// Everything the tests compare about a certificate, extracted with x509-parser.
#[derive(Clone, Debug)]
pub struct CertSummary {
    pub der: Vec<u8>,
    /// RDNs in order, each a list of (short type name or dotted OID, value).
    pub subject: Vec<Vec<(String, String)>>,
    pub issuer: Vec<Vec<(String, String)>>,
    pub raw_subject: Vec<u8>,
    pub raw_issuer: Vec<u8>,
    /// DER INTEGER content bytes of the serial.
    pub serial_bytes: Vec<u8>,
    pub serial_decimal: String,
    pub not_before: i64,
    pub not_after: i64,
    /// SANs in extension order; empty if there is no SAN extension.
    pub sans: Vec<San>,
    pub has_san_ext: bool,
    pub key_usage: Option<KeyUsageSet>,
    /// EKU names (`serverAuth`, `clientAuth`, …, other OIDs dotted) in a fixed order.
    pub ext_key_usage: Option<Vec<String>>,
    /// (critical, CA, pathlen)
    pub basic_constraints: Option<(bool, bool, Option<u32>)>,
    pub ski: Option<Vec<u8>>,
    pub aki: Option<Vec<u8>>,
    /// `rsa-2048`, `ecdsa-P-256`, `ed25519`, …
    pub public_key: String,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `ed25519`, or a dotted OID.
    pub sig_alg: String,
    pub extension_oids: Vec<String>,
}

impl CertSummary {
    pub fn validity_secs(&self) -> i64 {
        self.not_after - self.not_before
    }

    /// Subject attributes flattened in DER order.
    pub fn subject_attrs(&self) -> Vec<(String, String)> {
        self.subject.iter().flatten().cloned().collect()
    }

    pub fn subject_cn(&self) -> Option<String> {
        self.subject_attrs()
            .into_iter()
            .find(|(t, _)| t == "CN")
            .map(|(_, v)| v)
    }

    pub fn has_eku(&self, name: &str) -> bool {
        self.ext_key_usage
            .as_ref()
            .is_some_and(|e| e.iter().any(|x| x == name))
    }

    pub fn has_ku(&self, name: &str) -> bool {
        self.key_usage
            .as_ref()
            .is_some_and(|k| k.names.contains(&name))
    }

    pub fn is_ca(&self) -> bool {
        matches!(self.basic_constraints, Some((_, true, _)))
    }

    /// Verifies this certificate's signature with `issuer`'s public key (`None` =
    /// self-signed), using aws-lc-rs directly on the DER parsed by x509-parser.
    pub fn verify_signed_by(&self, issuer: Option<&CertSummary>) -> Result<(), String> {
        let (_, cert) = X509Certificate::from_der(&self.der).map_err(|e| e.to_string())?;
        let issuer_der = issuer.map_or(&self.der, |i| &i.der);
        let (_, ic) = X509Certificate::from_der(issuer_der).map_err(|e| e.to_string())?;
        verify_signature_aws_lc(
            cert.tbs_certificate.as_ref(),
            &cert.signature_value.data,
            &self.sig_alg,
            ic.public_key(),
        )
    }
}

/// Checks `sig` over `tbs` with the issuer key, for the algorithms cfssl/kpki emit.
pub fn verify_signature_aws_lc(
    tbs: &[u8],
    sig: &[u8],
    sig_alg: &str,
    issuer: &SubjectPublicKeyInfo<'_>,
) -> Result<(), String> {
    use aws_lc_rs::signature as s;
    let key_type = public_key_desc(issuer);
    let alg: &dyn s::VerificationAlgorithm = match (sig_alg, key_type.as_str()) {
        ("sha256WithRSAEncryption", k) if k.starts_with("rsa-") => &s::RSA_PKCS1_2048_8192_SHA256,
        ("sha384WithRSAEncryption", k) if k.starts_with("rsa-") => &s::RSA_PKCS1_2048_8192_SHA384,
        ("sha512WithRSAEncryption", k) if k.starts_with("rsa-") => &s::RSA_PKCS1_2048_8192_SHA512,
        ("ecdsa-with-SHA256", "ecdsa-P-256") => &s::ECDSA_P256_SHA256_ASN1,
        ("ecdsa-with-SHA384", "ecdsa-P-256") => &s::ECDSA_P256_SHA384_ASN1,
        ("ecdsa-with-SHA512", "ecdsa-P-256") => &s::ECDSA_P256_SHA512_ASN1,
        ("ecdsa-with-SHA256", "ecdsa-P-384") => &s::ECDSA_P384_SHA256_ASN1,
        ("ecdsa-with-SHA384", "ecdsa-P-384") => &s::ECDSA_P384_SHA384_ASN1,
        ("ecdsa-with-SHA512", "ecdsa-P-384") => &s::ECDSA_P384_SHA512_ASN1,
        ("ecdsa-with-SHA256", "ecdsa-P-521") => &s::ECDSA_P521_SHA256_ASN1,
        ("ecdsa-with-SHA384", "ecdsa-P-521") => &s::ECDSA_P521_SHA384_ASN1,
        ("ecdsa-with-SHA512", "ecdsa-P-521") => &s::ECDSA_P521_SHA512_ASN1,
        ("ed25519", "ed25519") => &s::ED25519,
        (a, k) => return Err(format!("unsupported signature {a} with issuer key {k}")),
    };
    s::UnparsedPublicKey::new(alg, issuer.subject_public_key.data.as_ref())
        .verify(tbs, sig)
        .map_err(|_| format!("bad {sig_alg} signature (issuer key {key_type})"))
}

/// Short names for the DN attribute types cfssl emits.
pub fn attr_name(oid: &str) -> String {
    match oid {
        "2.5.4.6" => "C",
        "2.5.4.8" => "ST",
        "2.5.4.7" => "L",
        "2.5.4.9" => "street",
        "2.5.4.17" => "postalCode",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => other,
    }
    .to_string()
}

fn name_rdns(name: &X509Name<'_>) -> Vec<Vec<(String, String)>> {
    name.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let v = a
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|_| format!("{:02x?}", a.attr_value().data));
                    (attr_name(&a.attr_type().to_id_string()), v)
                })
                .collect()
        })
        .collect()
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ed25519",
        other => other,
    }
    .to_string()
}

fn public_key_desc(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = spki.parsed().map(|k| k.key_size()).unwrap_or(0);
            format!("rsa-{bits}")
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let name = match curve.as_str() {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                other => other,
            };
            format!("ecdsa-{name}")
        }
        "1.3.101.112" => "ed25519".to_string(),
        other => other.to_string(),
    }
}

fn general_name_to_san(g: &GeneralName<'_>) -> San {
    match g {
        GeneralName::DNSName(s) => San::Dns(s.to_string()),
        GeneralName::RFC822Name(s) => San::Email(s.to_string()),
        GeneralName::URI(s) => San::Uri(s.to_string()),
        GeneralName::IPAddress(b) => match b.len() {
            4 => San::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                San::Ip(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => San::Other(format!("IP bytes {b:02x?}")),
        },
        other => San::Other(format!("{other:?}")),
    }
}

fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<&'static str> {
    let mut v = Vec::new();
    let pairs: [(&'static str, bool); 9] = [
        ("digitalSignature", ku.digital_signature()),
        ("contentCommitment", ku.non_repudiation()),
        ("keyEncipherment", ku.key_encipherment()),
        ("dataEncipherment", ku.data_encipherment()),
        ("keyAgreement", ku.key_agreement()),
        ("keyCertSign", ku.key_cert_sign()),
        ("cRLSign", ku.crl_sign()),
        ("encipherOnly", ku.encipher_only()),
        ("decipherOnly", ku.decipher_only()),
    ];
    for (n, set) in pairs {
        if set {
            v.push(n);
        }
    }
    v
}

fn eku_names(e: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut v = Vec::new();
    for (n, set) in [
        ("any", e.any),
        ("serverAuth", e.server_auth),
        ("clientAuth", e.client_auth),
        ("codeSigning", e.code_signing),
        ("emailProtection", e.email_protection),
        ("timeStamping", e.time_stamping),
        ("OCSPSigning", e.ocsp_signing),
    ] {
        if set {
            v.push(n.to_string());
        }
    }
    v.extend(e.other.iter().map(|o| o.to_id_string()));
    v
}

/// DER of the first PEM block with `label` in `text`.
#[track_caller]
pub fn pem_block(text: &str, label: &str) -> Vec<u8> {
    ::pem::parse_many(text)
        .unwrap_or_else(|e| panic!("bad PEM ({e}):\n{text}"))
        .into_iter()
        .find(|p| p.tag() == label)
        .unwrap_or_else(|| panic!("no `{label}` PEM block in:\n{text}"))
        .into_contents()
}

/// Labels of every PEM block in `text`.
pub fn pem_labels(text: &str) -> Vec<String> {
    ::pem::parse_many(text)
        .map(|v| v.iter().map(|p| p.tag().to_string()).collect())
        .unwrap_or_default()
}

/// Parses the single certificate PEM in `text`.
#[track_caller]
pub fn summarize_cert_pem(text: &str) -> CertSummary {
    let blocks = ::pem::parse_many(text).unwrap_or_else(|e| panic!("bad PEM ({e}):\n{text}"));
    assert_eq!(
        blocks.len(),
        1,
        "expected exactly one PEM block, got {:?}",
        blocks.iter().map(|b| b.tag()).collect::<Vec<_>>()
    );
    assert_eq!(blocks[0].tag(), "CERTIFICATE");
    summarize_cert_der(blocks[0].contents())
}

#[track_caller]
pub fn summarize_cert_der(der: &[u8]) -> CertSummary {
    let (rest, cert) =
        X509Certificate::from_der(der).unwrap_or_else(|e| panic!("x509-parser: {e}"));
    assert!(rest.is_empty(), "trailing bytes after certificate DER");
    let mut ski = None;
    let mut aki = None;
    let mut sans = Vec::new();
    let mut has_san_ext = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            ParsedExtension::SubjectAlternativeName(s) => {
                has_san_ext = true;
                sans = s.general_names.iter().map(general_name_to_san).collect();
            }
            _ => {}
        }
    }
    let key_usage = cert
        .key_usage()
        .expect("unique keyUsage")
        .map(|e| KeyUsageSet {
            critical: e.critical,
            names: key_usage_names(e.value),
        });
    let ext_key_usage = cert
        .extended_key_usage()
        .expect("unique extKeyUsage")
        .map(|e| eku_names(e.value));
    let basic_constraints = cert
        .basic_constraints()
        .expect("unique basicConstraints")
        .map(|e| (e.critical, e.value.ca, e.value.path_len_constraint));
    CertSummary {
        der: der.to_vec(),
        subject: name_rdns(cert.subject()),
        issuer: name_rdns(cert.issuer()),
        raw_subject: cert.subject().as_raw().to_vec(),
        raw_issuer: cert.issuer().as_raw().to_vec(),
        serial_bytes: cert.raw_serial().to_vec(),
        serial_decimal: cert.serial.to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sans,
        has_san_ext,
        key_usage,
        ext_key_usage,
        basic_constraints,
        ski,
        aki,
        public_key: public_key_desc(cert.public_key()),
        sig_alg: sig_alg_name(&cert.signature_algorithm.algorithm.to_id_string()),
        extension_oids: cert
            .extensions()
            .iter()
            .map(|e| e.oid.to_id_string())
            .collect(),
    }
}

/// Parses the certificate file `name` in the workspace.
#[track_caller]
pub fn load_cert(ws: &Workspace, name: &str) -> CertSummary {
    summarize_cert_pem(&ws.read(name))
}

/// SANs requested in a PEM CSR (x509-parser), after checking its self-signature.
#[track_caller]
pub fn csr_sans(text: &str) -> Vec<San> {
    let der = pem_block(text, "CERTIFICATE REQUEST");
    let (_, csr) =
        X509CertificationRequest::from_der(&der).unwrap_or_else(|e| panic!("x509-parser CSR: {e}"));
    csr.verify_signature()
        .unwrap_or_else(|e| panic!("CSR self-signature does not verify: {e}"));
    let mut out = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(s) = ext {
                out.extend(s.general_names.iter().map(general_name_to_san));
            }
        }
    }
    out
}

/// Asserts the serial is a positive INTEGER of at most 20 octets and not zero
/// (RFC 5280 §4.1.2.2; cfssl: 20 random bytes, top bit cleared).
#[track_caller]
pub fn assert_serial_ok(c: &CertSummary, what: &str) {
    let s = &c.serial_bytes;
    assert!(
        !s.is_empty() && s.len() <= 20,
        "{what}: serial is {} octets",
        s.len()
    );
    assert_eq!(s[0] & 0x80, 0, "{what}: serial is negative: {s:02x?}");
    assert!(s.iter().any(|b| *b != 0), "{what}: serial is zero");
}

/// Asserts the cert carries an SKI and (when `issuer` is given) an AKI equal to the
/// issuer's SKI.
#[track_caller]
pub fn assert_key_ids(c: &CertSummary, issuer: Option<&CertSummary>, what: &str) {
    let ski = c.ski.as_ref().unwrap_or_else(|| panic!("{what}: no SKI"));
    assert!(!ski.is_empty(), "{what}: empty SKI");
    if let Some(i) = issuer {
        let issuer_ski = i.ski.as_ref().expect("issuer SKI");
        assert_eq!(
            c.aki.as_ref(),
            Some(issuer_ski),
            "{what}: AKI must equal the issuer's SKI"
        );
    }
}

/// Uppercase colon-separated hex with every byte padded (`0A:1B:…`).
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Normalises certinfo key ids: Debian cfssl 1.2 prints bytes unpadded (`F1:4:63`), kpki
/// and newer cfssl pad (`F1:04:63`).
pub fn normalize_key_id(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    s.split(':')
        .map(|p| format!("{:02X}", u8::from_str_radix(p, 16).unwrap_or(0xff)))
        .collect::<Vec<_>>()
        .join(":")
}

// ---------------------------------------------------------------------------
// Deliberate kpki deviations from cfssl (accepted by the tests, listed here so they are
// easy to find and to drop if the decision changes)
// ---------------------------------------------------------------------------

/// kpki sets keyEncipherment/dataEncipherment only for RSA keys (RFC 5480 §3, RFC 8410
/// §5; src/policy.rs `usable_key_usage`); cfssl writes whatever the profile lists.
pub const KPKI_ENCIPHERMENT_ONLY_FOR_RSA: bool = true;

/// kpki skips empty `hosts` entries (the `"hosts": [""]` idiom) instead of writing an
/// empty dNSName SAN as cfssl does (src/csr.rs `classify_hosts`).
pub const KPKI_SKIPS_EMPTY_HOSTS: bool = true;

/// Key usages of a leaf issued from a profile with `signing` + `key encipherment`, for
/// a leaf key described as in [`CertSummary::public_key`].
pub fn sign_encipher_key_usage(public_key: &str, real_cfssl: bool) -> Vec<&'static str> {
    if real_cfssl || !KPKI_ENCIPHERMENT_ONLY_FOR_RSA || public_key.starts_with("rsa-") {
        vec!["digitalSignature", "keyEncipherment"]
    } else {
        vec!["digitalSignature"]
    }
}

/// Removes from a cfssl certificate summary what kpki deliberately does differently, so
/// the rest can be compared strictly with kpki's.
pub fn without_known_deviations(cfssl: &CertSummary) -> CertSummary {
    let mut c = cfssl.clone();
    if KPKI_ENCIPHERMENT_ONLY_FOR_RSA
        && !c.public_key.starts_with("rsa-")
        && let Some(ku) = c.key_usage.as_mut()
    {
        ku.names
            .retain(|n| *n != "keyEncipherment" && *n != "dataEncipherment");
    }
    if KPKI_SKIPS_EMPTY_HOSTS {
        c.sans.retain(|s| *s != San::Dns(String::new()));
        if c.has_san_ext && c.sans.is_empty() {
            c.has_san_ext = false;
            c.extension_oids.retain(|o| o != "2.5.29.17");
        }
    }
    c
}

// ---------------------------------------------------------------------------
// openssl
// ---------------------------------------------------------------------------

/// `openssl verify -CAfile ca [-untrusted untrusted] [-purpose p] cert` in `dir`.
pub fn openssl_verify(
    dir: &Path,
    ca: &str,
    untrusted: Option<&str>,
    purpose: Option<&str>,
    cert: &str,
) -> Output {
    let mut c = Command::new("openssl");
    c.current_dir(dir).arg("verify").args(["-CAfile", ca]);
    if let Some(u) = untrusted {
        c.args(["-untrusted", u]);
    }
    if let Some(p) = purpose {
        c.args(["-purpose", p]);
    }
    c.arg(cert);
    let what = format!("openssl verify -CAfile {ca} {untrusted:?} {purpose:?} {cert}");
    run_bounded(c, None, Duration::from_secs(30), &what)
}

/// Asserts `openssl verify` accepts `cert` (for `purpose` when given).
#[track_caller]
pub fn assert_openssl_verifies(
    ws: &Workspace,
    ca: &str,
    untrusted: Option<&str>,
    purpose: Option<&str>,
    cert: &str,
) {
    let out = openssl_verify(ws.dir(), ca, untrusted, purpose, cert);
    assert!(
        out.success() && out.stdout.contains(": OK"),
        "openssl rejected {cert}: {}",
        out.describe()
    );
}

/// Asserts `openssl verify` rejects `cert` for `purpose`.
#[track_caller]
pub fn assert_openssl_rejects(
    ws: &Workspace,
    ca: &str,
    untrusted: Option<&str>,
    purpose: Option<&str>,
    cert: &str,
) {
    let out = openssl_verify(ws.dir(), ca, untrusted, purpose, cert);
    assert!(
        !out.success(),
        "openssl should have rejected {cert} for {purpose:?}: {}",
        out.describe()
    );
}

/// Runs openssl with `args` in the workspace and returns the output (must succeed).
#[track_caller]
pub fn openssl(ws: &Workspace, args: &[&str]) -> Output {
    let mut c = Command::new("openssl");
    c.current_dir(ws.dir()).args(args);
    let out = run_bounded(
        c,
        None,
        Duration::from_secs(30),
        &format!("openssl {}", args.join(" ")),
    );
    out.ok();
    out
}

/// SANs as openssl prints them (`openssl x509 -noout -ext subjectAltName`), mapped to
/// [`San`] so they compare with x509-parser's view.
#[track_caller]
pub fn openssl_cert_sans(ws: &Workspace, cert: &str) -> Vec<San> {
    let out = openssl(
        ws,
        &["x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
    );
    parse_openssl_sans(&out.stdout)
}

/// Parses openssl's `DNS:a, IP Address:1.2.3.4, email:x@y, URI:u` listing.
pub fn parse_openssl_sans(text: &str) -> Vec<San> {
    let Some(line) = text
        .lines()
        .skip_while(|l| !l.contains("Subject Alternative Name"))
        .nth(1)
    else {
        return Vec::new();
    };
    line.trim()
        .split(", ")
        .map(|item| {
            if let Some(v) = item.strip_prefix("DNS:") {
                San::Dns(v.to_string())
            } else if let Some(v) = item.strip_prefix("IP Address:") {
                v.parse()
                    .map(San::Ip)
                    .unwrap_or(San::Other(item.to_string()))
            } else if let Some(v) = item.strip_prefix("email:") {
                San::Email(v.to_string())
            } else if let Some(v) = item.strip_prefix("URI:") {
                San::Uri(v.to_string())
            } else {
                San::Other(item.to_string())
            }
        })
        .collect()
}

/// SubjectPublicKeyInfo PEM of a private key file (openssl), to match cert and key.
#[track_caller]
pub fn openssl_pubkey_of_key(ws: &Workspace, key: &str) -> String {
    openssl(ws, &["pkey", "-in", key, "-pubout"]).stdout
}

/// SubjectPublicKeyInfo PEM of a certificate (openssl).
#[track_caller]
pub fn openssl_pubkey_of_cert(ws: &Workspace, cert: &str) -> String {
    openssl(ws, &["x509", "-in", cert, "-noout", "-pubkey"]).stdout
}

/// Asserts the private key file belongs to the certificate (via openssl).
#[track_caller]
pub fn assert_key_matches_cert(ws: &Workspace, key: &str, cert: &str) {
    assert_eq!(
        openssl_pubkey_of_key(ws, key),
        openssl_pubkey_of_cert(ws, cert),
        "{key} does not hold the private key of {cert}"
    );
}

// ---------------------------------------------------------------------------
// cfssljson output files
// ---------------------------------------------------------------------------

/// Asserts `B.pem` (when `with_cert`), `B-key.pem` (when `with_key`), `B.csr` exist with
/// sane modes: the key 0600, the others not group/world-writable.
#[track_caller]
pub fn assert_bare_files(ws: &Workspace, base: &str, with_cert: bool, with_key: bool) {
    let cert = format!("{base}.pem");
    let key = format!("{base}-key.pem");
    let csr = format!("{base}.csr");
    assert_eq!(ws.exists(&cert), with_cert, "{cert} exists?");
    assert_eq!(ws.exists(&key), with_key, "{key} exists?");
    assert!(ws.exists(&csr), "{csr} missing");
    if with_key {
        assert_eq!(ws.mode(&key), 0o600, "{key} mode");
        let labels = pem_labels(&ws.read(&key));
        assert_eq!(
            labels.len(),
            1,
            "{key}: one PEM block expected, got {labels:?}"
        );
    }
    for f in [&cert, &csr] {
        if ws.exists(f) {
            let m = ws.mode(f);
            assert_eq!(m & 0o022, 0, "{f} is group/world-writable: {m:o}");
            assert_ne!(m & 0o400, 0, "{f} is not readable by its owner: {m:o}");
        }
    }
    assert_eq!(
        pem_labels(&ws.read(&csr)),
        vec!["CERTIFICATE REQUEST".to_string()]
    );
}

// ---------------------------------------------------------------------------
// certinfo JSON
// ---------------------------------------------------------------------------

/// Top-level keys cfssl's certinfo always prints for a certificate (`sans` only when
/// the certificate has DNS/IP SANs).
pub const CERTINFO_KEYS: [&str; 9] = [
    "subject",
    "issuer",
    "serial_number",
    "not_before",
    "not_after",
    "sigalg",
    "authority_key_id",
    "subject_key_id",
    "pem",
];

/// RFC 3339 UTC (`2026-11-22T02:02:00Z`) of a unix timestamp, as Go prints it.
pub fn rfc3339(ts: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(ts)
        .expect("timestamp")
        .format(&::time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// Sans as certinfo lists them: DNS names first, then IPs (emails/URIs dropped).
pub fn certinfo_sans(c: &CertSummary) -> Vec<String> {
    let dns = c.sans.iter().filter_map(|s| match s {
        San::Dns(d) => Some(d.clone()),
        _ => None,
    });
    let ips = c.sans.iter().filter_map(|s| match s {
        San::Ip(i) => Some(i.to_string()),
        _ => None,
    });
    dns.chain(ips).collect()
}

/// Asserts certinfo JSON describes `cert` (checked against x509-parser).
#[track_caller]
pub fn assert_certinfo_matches(info: &serde_json::Value, cert: &CertSummary, pem_text: &str) {
    let obj = info.as_object().expect("certinfo prints a JSON object");
    for k in CERTINFO_KEYS {
        assert!(obj.contains_key(k), "certinfo lacks `{k}`: {info:#}");
    }
    assert_eq!(info["serial_number"], cert.serial_decimal.as_str());
    assert!(
        info["serial_number"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit()),
        "serial_number must be decimal"
    );
    assert_eq!(info["not_before"], rfc3339(cert.not_before).as_str());
    assert_eq!(info["not_after"], rfc3339(cert.not_after).as_str());
    let sans = certinfo_sans(cert);
    if sans.is_empty() {
        assert!(
            info.get("sans")
                .is_none_or(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty())),
            "no SANs expected: {info:#}"
        );
    } else {
        assert_eq!(info["sans"], serde_json::json!(sans), "certinfo sans");
    }
    // Go (and so cfssl) keeps the last CN of a subject that has several.
    let cn = (cert.subject_attrs().into_iter())
        .rfind(|(t, _)| t == "CN")
        .map(|(_, v)| v)
        .unwrap_or_default();
    assert_eq!(info["subject"]["common_name"], cn.as_str());
    let names: Vec<String> = cert.subject_attrs().into_iter().map(|(_, v)| v).collect();
    assert_eq!(info["subject"]["names"], serde_json::json!(names));
    let ski = info["subject_key_id"].as_str().unwrap();
    assert_eq!(
        normalize_key_id(ski),
        hex_colon(cert.ski.as_deref().unwrap_or_default())
    );
    let aki = info["authority_key_id"].as_str().unwrap();
    assert_eq!(
        normalize_key_id(aki),
        hex_colon(cert.aki.as_deref().unwrap_or_default())
    );
    let expected_sigalg = match cert.sig_alg.as_str() {
        "sha256WithRSAEncryption" => "SHA256WithRSA",
        "sha384WithRSAEncryption" => "SHA384WithRSA",
        "sha512WithRSAEncryption" => "SHA512WithRSA",
        "ecdsa-with-SHA256" => "ECDSAWithSHA256",
        "ecdsa-with-SHA384" => "ECDSAWithSHA384",
        "ecdsa-with-SHA512" => "ECDSAWithSHA512",
        "ed25519" => "Ed25519",
        other => other,
    };
    assert_eq!(info["sigalg"], expected_sigalg);
    let pem_der = pem_block(info["pem"].as_str().unwrap(), "CERTIFICATE");
    assert_eq!(pem_der, pem_block(pem_text, "CERTIFICATE"), "certinfo pem");
}

/// Sorted map view of a JSON object's keys.
pub fn json_keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .map(|mut k| {
            k.sort();
            k
        })
        .unwrap_or_default()
}

/// Counts values per key (for multiset comparisons of subject attributes).
pub fn multiset<T: Ord + Clone>(items: &[T]) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.clone()).or_insert(0) += 1;
    }
    m
}

// ---------------------------------------------------------------------------
// Side effects: directory snapshots, SQLite locks and row counts (bad-input and crash suites)
// ---------------------------------------------------------------------------

/// Every file under `dir` (recursively) with its size and modification time, to prove a
/// failed command left nothing behind: no new, changed, partial or temp files.
pub fn dir_snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap_or(&p).to_path_buf();
                out.insert(rel, (m.len(), m.modified().unwrap_or(UNIX_EPOCH)));
            }
        }
    }
    out
}

/// Differences between two [`dir_snapshot`]s, one line per added, removed or changed file.
pub fn snapshot_diff(
    before: &BTreeMap<PathBuf, (u64, SystemTime)>,
    after: &BTreeMap<PathBuf, (u64, SystemTime)>,
) -> Vec<String> {
    let mut d = Vec::new();
    for (p, v) in after {
        match before.get(p) {
            None => d.push(format!("added {}", p.display())),
            Some(b) if b != v => d.push(format!("changed {}", p.display())),
            _ => {}
        }
    }
    for p in before.keys() {
        if !after.contains_key(p) {
            d.push(format!("removed {}", p.display()));
        }
    }
    d
}

/// Runs one SQL text through the `sqlite3` CLI on `db` (bounded) and returns its output.
pub fn sqlite3(db: &Path, sql: &str) -> Output {
    let mut c = Command::new("sqlite3");
    c.arg(db).arg(sql);
    run_bounded(
        c,
        None,
        Duration::from_secs(30),
        &format!("sqlite3 {} {sql:?}", db.display()),
    )
}

/// `SELECT count(*) FROM certificates` through the `sqlite3` CLI.
#[track_caller]
pub fn sqlite3_count(db: &Path) -> u64 {
    let out = sqlite3(
        db,
        "PRAGMA busy_timeout=10000; SELECT count(*) FROM certificates;",
    );
    out.ok();
    out.stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count: {}", out.describe()))
}

/// A `sqlite3` process holding `BEGIN EXCLUSIVE` on a database: every other writer gets
/// SQLITE_BUSY until [`SqliteLock::release`] (or drop). The child is killed by its PID.
pub struct SqliteLock {
    child: Option<Child>,
    db: PathBuf,
}

impl SqliteLock {
    /// Starts the holder and waits (bounded) until a second writer is really refused.
    #[track_caller]
    pub fn hold(db: &Path) -> SqliteLock {
        let mut child = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sqlite3");
        child
            .stdin
            .as_mut()
            .unwrap()
            // The holder waits for the lock rather than failing at once: the readiness probe
            // below takes the write lock for an instant, and a holder whose BEGIN landed in that
            // instant used to fail silently and leave the database unlocked (seen in CI).
            // `.bail on` makes any failure end the holder, which the poll reports.
            .write_all(b".bail on\n.timeout 10000\nBEGIN EXCLUSIVE;\n")
            .expect("write to sqlite3");
        child.stdin.as_mut().unwrap().flush().ok();
        let mut lock = SqliteLock {
            child: Some(child),
            db: db.to_path_buf(),
        };
        poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
            if let Some(status) = lock
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "the holder exited early ({status}); it could not lock"
                ));
            }
            let probe = sqlite3(db, "PRAGMA busy_timeout=0; BEGIN IMMEDIATE; ROLLBACK;");
            if probe.success() {
                Err("not locked yet".into())
            } else if probe.stderr.contains("locked") || probe.stderr.contains("busy") {
                Ok(())
            } else {
                Err(probe.describe())
            }
        })
        .unwrap_or_else(|e| panic!("could not lock {}: {e}", lock.db.display()));
        lock
    }

    /// Ends the transaction and waits for the holder to exit (SIGKILL by PID after 10 s).
    pub fn release(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"ROLLBACK;\n.quit\n");
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SqliteLock {
    fn drop(&mut self) {
        self.release();
    }
}

/// True when this process can make private read-only bind mounts (`unshare -m`, as root
/// with CAP_SYS_ADMIN): the only way to get a truly read-only file for root, who ignores modes.
pub fn can_unshare_mounts() -> bool {
    if find_program("unshare").is_none() {
        return false;
    }
    let mut c = Command::new("unshare");
    c.args([
        "-m",
        "sh",
        "-c",
        "d=$(mktemp -d) || exit 1; mount --bind \"$d\" \"$d\" && mount -o remount,bind,ro \"$d\" \"$d\" \
         && ! touch \"$d/x\" 2>/dev/null; r=$?; umount \"$d\" 2>/dev/null; rmdir \"$d\"; exit $r",
    ]);
    run_bounded(c, None, Duration::from_secs(10), "unshare probe").success()
}

/// True when file modes are enforced for this process (not root).
pub fn modes_enforced() -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("ro");
    std::fs::write(&p, b"x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::OpenOptions::new().append(true).open(&p).is_err()
}
