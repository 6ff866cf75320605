//! `selfsign`: a self-signed certificate from CSR JSON (for testing; prints cfssl's warning).

use super::common::{apply_overrides, key_pem, load_config, read_csr_json};
use super::output::print_json;
use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::issue;
use std::collections::BTreeMap;

/// The command.
pub const COMMAND: Command = Command {
    name: "selfsign",
    summary: "generate a self-signed certificate",
    usage: "Usage of selfsign:\n        kpki selfsign HOSTNAME CSRJSON\n        kpki selfsign -hostname HOSTNAME CSRJSON\n\nArguments:\n        HOSTNAME:   consumed for cfssl compatibility (SANs come from the CSR's hosts or -hostname)\n        CSRJSON:    JSON file containing the request, use '-' for reading JSON from stdin",
    flags: &["hostname", "config", "profile", "encrypt", "passphrase"],
    run,
};

const WARNING: &str = "*** WARNING ***\n\nSelf-signed certificates are dangerous. Use this self-signed\ncertificate at your own risk.\n\nIt is strongly recommended that these certificates NOT be used\nin production.\n\n*** WARNING ***";

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let need = if p.str("hostname").is_empty() { 2 } else { 1 };
    if p.args.len() != need {
        return Err(CliError::Usage(format!(
            "{} argument(s) expected\n{}",
            need,
            super::flags::usage(COMMAND.usage, COMMAND.flags)
        )));
    }
    let mut req = read_csr_json(&p.args[need - 1], ctx)?;
    apply_overrides(p, &mut req);
    // cfssl compat: a -config is loaded (and must be valid) but only a profile named with
    // -profile is used; without one it is the built-in default with a 2190h lifetime, not the
    // config's default. An unknown name is refused (cfssl silently falls back to the default).
    let config = if p.str("config").is_empty() && p.str("profile").is_empty() {
        None
    } else {
        Some(load_config(p, ctx)?)
    };
    let name = p.str("profile");
    let prof = match &config {
        Some(c) if !name.is_empty() => Some(c.signing.profile(&name)?.clone()),
        _ => None,
    };
    let ss = issue::self_sign(&req, prof.as_ref())?;
    ctx.warn(WARNING);
    let mut out = BTreeMap::new();
    out.insert("cert", ss.cert_pem);
    out.insert("csr", ss.csr_pem);
    out.insert("key", key_pem(p, &ss.key)?);
    Ok(print_json(ctx.stdout, &out)?)
}
