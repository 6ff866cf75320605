//! `info`: the CA certificate and a profile's usages and expiry (locally or from `-remote`).

use super::common::{load_ca, load_config};
use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "info",
    summary: "get info about a remote (or local) signer",
    usage: "Usage of info:\n        kpki info -remote remote_host [-label label] [-profile profile]\n        kpki info -ca ca.pem -ca-key ca-key.pem [-config config] [-profile profile]",
    flags: &[
        "remote",
        "label",
        "profile",
        "config",
        "ca",
        "ca-key",
        "ca-key-passphrase",
        "tls-remote-ca",
        "mutual-tls-client-cert",
        "mutual-tls-client-key",
    ],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let out = if !p.str("remote").is_empty() {
        super::remote::info(p, ctx)?
    } else {
        if p.str("ca").is_empty() && p.str("config").is_empty() {
            return Err(Error::BadRequest("Either -remote or -config (with -ca and -ca-key) must be given. Refer to kpki info -h for usage.".into()).into());
        }
        let cfg = load_config(p, ctx)?;
        let ca = load_ca(p, ctx)?;
        let prof = cfg.signing.profile(&p.str("profile"))?;
        let expiry = if prof.expiry_string.is_empty() {
            crate::duration::format_go(prof.expiry)
        } else {
            prof.expiry_string.clone()
        };
        serde_json::json!({"certificate": ca.cert_pem().trim_end(), "usages": prof.usages, "expiry": expiry})
    };
    // cfssl compat: no trailing newline.
    let _ = write!(ctx.stdout, "{}", crate::jsonci::to_go_json(&out));
    Ok(())
}
