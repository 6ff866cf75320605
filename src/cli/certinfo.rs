//! `certinfo`: print information about certificates, CSRs and CRLs (file, `-cert`, `-csr`),
//! a TLS server's chain (`-domain`), or a database record (`-serial -aki -db-config`).

use super::input::read_arg;
use super::{CliError, CmdResult, Command, Ctx};
use crate::certinfo::{self, Info};
use crate::cli::flags::Parsed;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "certinfo",
    summary: "print information about certificates, CSRs and CRLs",
    usage: "Usage of certinfo:\n        kpki certinfo FILE                 (certificate(s), CSR or CRL; PEM or DER; '-' = stdin)\n        kpki certinfo -cert file\n        kpki certinfo -csr file\n        kpki certinfo -domain domain_name[:port]\n        kpki certinfo -serial serial -aki authority_key_id -db-config db-config",
    flags: &["cert", "csr", "domain", "serial", "aki", "db-config", "db"],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let infos: Vec<Info> = if !p.str("cert").is_empty() {
        let data = read_arg(&p.str("cert"), ctx.stdin)?;
        let infos = certinfo::detect(&data)?;
        if infos.iter().any(|i| !matches!(i, Info::Certificate(_))) {
            return Err(Error::Certificate(
                1003,
                "Failed to parse certificate: -cert expects certificates".into(),
            )
            .into());
        }
        infos
    } else if !p.str("csr").is_empty() {
        let data = read_arg(&p.str("csr"), ctx.stdin)?;
        let infos = certinfo::detect(&data)?;
        if infos.iter().any(|i| !matches!(i, Info::Csr(_))) {
            return Err(Error::Csr(9300, "not a csr".into()).into());
        }
        infos
    } else if !p.str("domain").is_empty() {
        crate::tlsdial::fetch_domain(&p.str("domain"))?
    } else if !p.str("serial").is_empty() || !p.str("aki").is_empty() {
        super::record::certinfo_from_db(p, ctx)?
    } else if let Some(f) = p.args.first() {
        certinfo::detect(&read_arg(f, ctx.stdin)?)?
    } else {
        return Err(CliError::Failed(Error::BadRequest(
            "Must specify certinfo target through a FILE argument, -cert, -csr, -domain or -serial + -aki".into(),
        )));
    };
    let _ = ctx.stdout.write_all(certinfo::to_json(&infos).as_bytes());
    Ok(())
}
