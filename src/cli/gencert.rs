//! `gencert`: generate a key + CSR from CSR JSON and sign it (or `-initca` for a self-signed CA).

use super::common::{apply_overrides, key_pem, load_ca, load_config, one_input, read_csr_json};
use super::output::print_json;
use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::issue;
use std::collections::BTreeMap;

/// The command.
pub const COMMAND: Command = Command {
    name: "gencert",
    summary: "generate a new key and signed certificate",
    usage: "Generate a new key and signed certificate\n\nUsage of gencert:\n    Generate a new key and cert from CSR:\n        kpki gencert -initca CSRJSON\n        kpki gencert -ca cert -ca-key key [-config config] [-profile profile] [-hostname hostname] CSRJSON\n        kpki gencert -remote remote_host [-config config] [-profile profile] [-label label] [-hostname hostname] CSRJSON\n\n    Re-generate a CA cert with the CA key and CSR:\n        kpki gencert -initca -ca-key key CSRJSON\n\n    Re-generate a CA cert with the CA key and certificate:\n        kpki gencert -renewca -ca cert -ca-key key\n\nArguments:\n        CSRJSON:    JSON file containing the request, use '-' for reading JSON from stdin\n\nWithout -config, the built-in profiles (kpki profiles) are used.",
    flags: &[
        "initca",
        "renewca",
        "remote",
        "ca",
        "ca-key",
        "ca-key-passphrase",
        "config",
        "cn",
        "hostname",
        "profile",
        "label",
        "db-config",
        "db",
        "encrypt",
        "passphrase",
        "tls-remote-ca",
    ],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    if p.bool("renewca") {
        if !p.args.is_empty() {
            return Err(super::CliError::Usage(
                "-renewca takes no CSRJSON argument".into(),
            ));
        }
        let ca = load_ca(p, ctx)?;
        let mut out = BTreeMap::new();
        out.insert("cert", issue::renew_ca(&ca)?);
        return Ok(print_json(ctx.stdout, &out)?);
    }
    let input = one_input(p, &COMMAND, "CSRJSON")?;
    let mut req = read_csr_json(&input, ctx)?;
    apply_overrides(p, &mut req);
    let mut out = BTreeMap::new();
    if p.bool("initca") {
        let existing = if p.str("ca-key").is_empty() {
            None
        } else {
            let (k, w) =
                super::input::read_key(&p.str("ca-key"), &p.str("ca-key-passphrase"), ctx.stdin)?;
            if let Some(w) = w {
                ctx.warn(&w);
            }
            Some(k)
        };
        let had_key = existing.is_some();
        let ss = issue::init_ca(&req, existing)?;
        ctx.warn(&format!(
            "[INFO] signed certificate with serial number {}",
            ss.serial
        ));
        out.insert("cert", ss.cert_pem);
        out.insert("csr", ss.csr_pem);
        if !had_key {
            out.insert("key", key_pem(p, &ss.key)?);
        }
        return Ok(print_json(ctx.stdout, &out)?);
    }
    let cfg = load_config(p, ctx)?;
    if super::remote::wanted(p, &cfg, &p.str("profile")) {
        return super::remote::gencert(p, ctx, &cfg, &req);
    }
    let ca = load_ca(p, ctx)?;
    let nc = issue::new_cert(&ca, &cfg.signing, &req, &p.str("profile"), &p.str("label"))?;
    super::record::record(p, ctx, &nc.issued)?;
    for w in &nc.issued.warnings {
        ctx.warn(&format!("[WARNING] {}", w.message));
    }
    ctx.warn(&format!(
        "[INFO] signed certificate with serial number {}",
        nc.issued.serial
    ));
    out.insert("cert", nc.issued.cert_pem);
    out.insert("csr", nc.csr_pem);
    out.insert("key", nc.key_pem);
    Ok(print_json(ctx.stdout, &out)?)
}
