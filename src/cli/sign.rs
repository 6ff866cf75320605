//! `sign`: sign a PEM CSR with the CA under a profile (optional SUBJECT JSON override).

use super::common::{load_ca, load_config};
use super::input::read_arg;
use super::output::print_json;
use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::csr::CertificateRequest;
use crate::issue::{self, SignRequest};
use std::collections::BTreeMap;

/// The command.
pub const COMMAND: Command = Command {
    name: "sign",
    summary: "sign a certificate request",
    usage: "Sign a client cert with a host name by a given CA and CA key\n\nUsage of sign:\n        kpki sign -ca CA -ca-key CA-KEY [-config config] [-profile profile] [-hostname hostname] CSR [SUBJECT]\n        kpki sign -remote remote_host [-config config] [-profile profile] [-label label] [-hostname hostname] CSR [SUBJECT]\n\nArguments:\n        CSR:        PEM file for certificate request, use '-' for reading PEM from stdin.\n        SUBJECT:    optional JSON file ({\"CN\":…,\"names\":[…]}) overriding the CSR's subject per attribute type.",
    flags: &[
        "hostname",
        "csr",
        "ca",
        "ca-key",
        "ca-key-passphrase",
        "config",
        "profile",
        "label",
        "remote",
        "db-config",
        "db",
        "tls-remote-ca",
    ],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let csr_path = if !p.str("csr").is_empty() {
        p.str("csr")
    } else if let Some(a) = p.args.first() {
        a.clone()
    } else {
        return Err(CliError::Usage(format!(
            "CSR expected\n{}",
            super::flags::usage(COMMAND.usage, COMMAND.flags)
        )));
    };
    let subject_arg = if p.str("csr").is_empty() {
        p.args.get(1)
    } else {
        p.args.first()
    };
    if p.args.len() > 2 {
        return Err(CliError::Usage(
            "too many arguments: expected CSR [SUBJECT]".into(),
        ));
    }
    let csr_pem = read_arg(&csr_path, ctx.stdin)?;
    let subject = match subject_arg {
        Some(s) => Some(CertificateRequest::from_json(&read_arg(s, ctx.stdin)?)?),
        None => None,
    };
    let h = p.str("hostname");
    let req = SignRequest {
        csr_pem: csr_pem.clone(),
        hosts: (!h.is_empty()).then(|| h.split(',').map(str::to_string).collect()),
        subject,
        profile: p.str("profile"),
        label: p.str("label"),
    };
    let cfg = load_config(p, ctx)?;
    let cert_pem = if super::remote::wanted(p, &cfg, &req.profile) {
        super::remote::sign(p, ctx, &cfg, &req)?
    } else {
        let ca = load_ca(p, ctx)?;
        let issued = issue::sign(&ca, &cfg.signing, &req)?;
        super::record::record(p, ctx, &issued)?;
        ctx.warn(&format!(
            "[INFO] signed certificate with serial number {}",
            issued.serial
        ));
        issued.cert_pem
    };
    let mut out = BTreeMap::new();
    out.insert("cert", cert_pem);
    out.insert("csr", String::from_utf8_lossy(&csr_pem).into_owned());
    Ok(print_json(ctx.stdout, &out)?)
}
