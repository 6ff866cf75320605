//! `json` (cfssljson): writes `NAME.pem`, `NAME-key.pem`, `NAME.csr` from cfssl JSON output or an
//! API envelope, each atomically; nothing is written unless the input is complete and valid.

use super::input::read_arg;
use super::output::write_set_atomic;
use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;
use base64::Engine;
use serde_json::Value;
use std::path::PathBuf;

/// The command.
pub const COMMAND: Command = Command {
    name: "json",
    summary: "write files from cfssl JSON output (cfssljson)",
    usage: "Usage of json (cfssljson):\n        kpki json [-f response.json] [-bare] [-stdout] [BASENAME]\n        cfssl gencert … | cfssljson -bare BASENAME\n\nWrites BASENAME.pem (0644), BASENAME-key.pem (0600) and BASENAME.csr (0644).\nWithout -bare the input must be an API envelope {\"success\",\"result\",…}; with -bare an\nenvelope is unwrapped too. Extra arguments (like a trailing '-') are ignored.",
    flags: &["bare", "f", "stdout", "version"],
    run,
};

fn fail(m: String) -> CliError {
    CliError::Failed(Error::Api(7200, m))
}

fn str_field<'a>(o: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    if p.bool("version") {
        let _ = writeln!(
            ctx.stdout,
            "Version: {}\nRevision: kpki",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    let base = p.args.first().cloned().unwrap_or_else(|| "cert".into());
    let input = read_arg(&p.str("f"), ctx.stdin)?;
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(fail("Failed to parse input: unexpected end of JSON input (empty input; did the command before the pipe fail?)".into()));
    }
    let v: Value =
        serde_json::from_slice(&input).map_err(|e| fail(format!("Failed to parse input: {e}")))?;
    let Value::Object(mut obj) = v else {
        return Err(fail("Failed to parse input: expected a JSON object".into()));
    };
    let is_envelope = obj.contains_key("success") && obj.contains_key("result");
    if is_envelope || !p.bool("bare") {
        if obj.get("success").and_then(Value::as_bool) != Some(true) {
            let mut msg = String::from("Request failed:");
            if let Some(errs) = obj.get("errors").and_then(Value::as_array) {
                for e in errs {
                    msg.push_str(&format!(
                        "\n\t{}",
                        e.get("message").and_then(Value::as_str).unwrap_or("")
                    ));
                }
            }
            ctx.warn(&msg);
            return Err(CliError::Exit(1));
        }
        obj = match obj.remove("result") {
            Some(Value::Object(r)) => r,
            _ => {
                return Err(fail(
                    "Request failed: the envelope has no result object".into(),
                ));
            }
        };
    }
    let mut files: Vec<(PathBuf, Vec<u8>, u32, bool)> = Vec::new();
    if let Some(c) = str_field(&obj, &["cert", "certificate"]) {
        files.push((
            format!("{base}.pem").into(),
            c.as_bytes().to_vec(),
            0o644,
            false,
        ));
    }
    if let Some(k) = str_field(&obj, &["key", "private_key"]) {
        files.push((
            format!("{base}-key.pem").into(),
            k.as_bytes().to_vec(),
            0o600,
            false,
        ));
    }
    if let Some(c) = str_field(&obj, &["csr", "certificate_request"]) {
        files.push((
            format!("{base}.csr").into(),
            c.as_bytes().to_vec(),
            0o644,
            false,
        ));
    }
    if let Some(b) = obj
        .get("bundle")
        .and_then(|b| b.get("bundle").or(Some(b)))
        .and_then(Value::as_str)
    {
        files.push((
            format!("{base}-bundle.pem").into(),
            b.as_bytes().to_vec(),
            0o644,
            false,
        ));
    }
    if let Some(o) = str_field(&obj, &["ocspResponse"]) {
        let der = base64::engine::general_purpose::STANDARD
            .decode(o)
            .map_err(|e| fail(format!("Failed to decode ocspResponse: {e}")))?;
        files.push((format!("{base}-response.der").into(), der, 0o644, true));
    }
    if files.is_empty() {
        return Err(fail(
            "no certificate, key or CSR in the input (expected cert/certificate, key/private_key or csr/certificate_request)".into(),
        ));
    }
    if p.bool("stdout") {
        for (_, data, _, binary) in &files {
            let text = if *binary {
                base64::engine::general_purpose::STANDARD.encode(data)
            } else {
                String::from_utf8_lossy(data).into_owned()
            };
            let _ = writeln!(ctx.stdout, "{text}");
        }
        return Ok(());
    }
    // All files or none: a failure before the renames leaves nothing behind.
    let set: Vec<(PathBuf, Vec<u8>, u32)> =
        files.into_iter().map(|(p, d, m, _)| (p, d, m)).collect();
    Ok(write_set_atomic(&set)?)
}
