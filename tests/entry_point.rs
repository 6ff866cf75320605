//! The binary's entry point (src/main.rs), run as a real process: what Rust's runtime start-up
//! used to do for kpki and main.rs now does itself. Closed standard descriptors are reopened on
//! /dev/null (so that no file or socket kpki opens becomes its stdout or stderr), a reader that
//! goes away ends the output quietly with exit 0 (SIGPIPE ignored, EPIPE handled), and an
//! argument that is not UTF-8 is a usage error (exit 2), not a panic.

mod common;

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A CA made by kpki itself in the workspace: `ca.pem`, `ca-key.pem`.
fn ca(ws: &Workspace) {
    ws.write(
        "ca-csr.json",
        r#"{"CN":"entry CA","key":{"algo":"ecdsa","size":256}}"#,
    );
    ws.sh("kpki gencert -initca ca-csr.json | kpki json -bare ca")
        .ok();
}

fn fd_link(pid: u32, fd: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

#[test]
fn closed_standard_descriptors_are_reopened_on_dev_null() {
    let ws = Workspace::with_tools(Tools::kpki());
    ca(&ws);
    let mut guard = ProcessGuard::new();
    // `exec` keeps the PID: the server runs with descriptors 0, 1 and 2 closed.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"exec "$0" serve -ca ca.pem -ca-key ca-key.pem -db sqlite://kpki.db -port 0 <&- >&- 2>&-"#)
        .arg(kpki_bin())
        .current_dir(ws.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let pid = guard.spawn("kpki serve with closed fds", cmd);
    // Ready once it listens (a socket among its descriptors) with the database open.
    let ready = poll_until(Duration::from_secs(60), Duration::from_millis(50), || {
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let listening = fds.iter().any(|l| l.starts_with("socket:"));
        let db = fds.iter().any(|l| l.ends_with("kpki.db"));
        if listening && db {
            Ok(fds)
        } else {
            Err(format!("not ready yet: {fds:?}"))
        }
    });
    let fds = ready.unwrap_or_else(|e| panic!("kpki serve did not start: {e}"));
    for fd in 0..3 {
        assert_eq!(
            fd_link(pid, fd).as_deref(),
            Some("/dev/null"),
            "descriptor {fd} of a process started with it closed (all: {fds:?})"
        );
    }
    guard.kill_all();
}

#[test]
fn a_reader_that_goes_away_ends_output_quietly_with_exit_0() {
    let ws = Workspace::with_tools(Tools::kpki());
    ca(&ws);
    // ~300 certinfo entries: far more than a pipe holds, so kpki is still writing when the
    // reader closes its end.
    let bundle = ws.read("ca.pem").repeat(300);
    ws.write("bundle.pem", bundle);
    let mut child = Command::new(kpki_bin())
        .args(["certinfo", "-cert", "bundle.pem"])
        .current_dir(ws.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpki certinfo");
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    out.read_exact(&mut first).expect("certinfo output");
    assert_eq!(&first[..1], b"[", "a bundle prints a JSON array");
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    // Killed by SIGPIPE would be no exit code at all (a shell shows 141).
    assert_eq!(status.code(), Some(0), "status {status}, stderr {err}");
    assert_eq!(err, "", "a closed pipe is not reported as an error");
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    let ws = Workspace::with_tools(Tools::kpki());
    let bad = std::ffi::OsStr::from_bytes(b"-ca=\xffca.pem");
    let mut cmd = Command::new(kpki_bin());
    cmd.arg("gencert").arg(bad).arg("csr.json");
    cmd.current_dir(ws.dir());
    let out = run_bounded(cmd, None, CMD_TIMEOUT, "kpki gencert <non-UTF-8>");
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert_eq!(
        out.stderr.trim_end(),
        r#"argument 2 is not valid UTF-8: "-ca=\xFFca.pem""#,
        "{}",
        out.describe()
    );
    assert!(out.stdout.is_empty(), "{}", out.describe());
}

/// The static musl build links mimalloc for `serve` alone (src/main_alloc.rs). Its process set-up,
/// which reads the MIMALLOC_* options and with MIMALLOC_VERBOSE=1 prints them, runs when `serve`
/// starts and in no other command: a constructor doing it in every process cost each CLI call
/// ~10 % of its instructions. The glibc build does not link mimalloc; there only the first half
/// applies (CI runs this file against the musl build too).
#[test]
fn mimalloc_is_set_up_for_serve_only() {
    let ws = Workspace::with_tools(Tools::kpki());
    ca(&ws);
    for args in [&["version"][..], &["certinfo", "-cert", "ca.pem"]] {
        let mut cmd = Command::new(kpki_bin());
        cmd.args(args)
            .env("MIMALLOC_VERBOSE", "1")
            .current_dir(ws.dir());
        let out = run_bounded(cmd, None, CMD_TIMEOUT, "kpki with MIMALLOC_VERBOSE=1");
        assert_eq!(out.code, Some(0), "{}", out.describe());
        assert!(!out.stderr.contains("mimalloc"), "{}", out.describe());
    }
    let image = std::fs::read(kpki_bin()).expect("read the kpki executable");
    let marker = b"option '%s': %ld %s";
    if !image.windows(marker.len()).any(|w| w == marker) {
        loud("mimalloc is not linked into this kpki build (glibc): its serve half is not run");
        return;
    }
    let log = ws.path("serve.log");
    let mut guard = ProcessGuard::new();
    let mut cmd = Command::new(kpki_bin());
    cmd.args(["serve", "-ca", "ca.pem", "-ca-key", "ca-key.pem"])
        .args(["-db", "sqlite://kpki.db", "-port", "0"])
        .env("MIMALLOC_VERBOSE", "1")
        .current_dir(ws.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    guard.spawn("kpki serve with MIMALLOC_VERBOSE=1", cmd);
    let seen = poll_until(Duration::from_secs(60), Duration::from_millis(50), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("mimalloc: option 'verbose': 1") {
            Ok(())
        } else {
            Err(text)
        }
    });
    guard.kill_all();
    if let Err(text) = seen {
        panic!("serve did not set mimalloc up (its options unread); stderr: {text}");
    }
}
