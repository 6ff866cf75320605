//! `genkey`: generate a key and CSR from CSR JSON (`-initca`: also a self-signed CA).

use super::common::{key_pem, one_input, read_csr_json};
use super::output::print_json;
use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;
use crate::{csr, issue};
use std::collections::BTreeMap;

/// The command.
pub const COMMAND: Command = Command {
    name: "genkey",
    summary: "generate a new key and CSR",
    usage: "Generate a new key and CSR\n\nUsage of genkey:\n        kpki genkey CSRJSON\n        kpki genkey -initca CSRJSON\n\nArguments:\n        CSRJSON:    JSON file containing the request, use '-' for reading JSON from stdin",
    flags: &["initca", "config", "encrypt", "passphrase"],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let input = one_input(p, &COMMAND, "CSRJSON")?;
    let req = read_csr_json(&input, ctx)?;
    let mut out = BTreeMap::new();
    if p.bool("initca") {
        let ss = issue::init_ca(&req, None)?;
        out.insert("cert", ss.cert_pem);
        out.insert("csr", ss.csr_pem);
        out.insert("key", key_pem(p, &ss.key)?);
    } else {
        if req.ca.is_some() {
            return Err(Error::Policy(5300, "ca section only permitted in initca".into()).into());
        }
        let g = csr::generate(&req)?;
        out.insert("csr", g.csr_pem);
        out.insert("key", key_pem(p, &g.key)?);
    }
    Ok(print_json(ctx.stdout, &out)?)
}
