//! `revoke`: mark a recorded certificate revoked (`-serial -aki [-reason] -db-config|-db`).

use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "revoke",
    summary: "revoke a certificate recorded in the database",
    usage: "Usage of revoke:\n        kpki revoke -db-config config_file -serial serial -aki authority_key_id [-reason reason]\n\nReason: an RFC 5280 name (keyCompromise, superseded, …, case-insensitive) or number 0-10 (not 7).",
    flags: &["serial", "aki", "reason", "db-config", "db"],
    run,
};

fn run(p: &Parsed, _ctx: &mut Ctx<'_>) -> CmdResult {
    if !p.args.is_empty() {
        return Err(CliError::Usage(
            "argument is provided but not defined; please refer to the usage by flag -h".into(),
        ));
    }
    let serial = p.str("serial");
    if serial.is_empty() {
        return Err(Error::BadRequest("serial number is required but not provided".into()).into());
    }
    let aki = p.str("aki").to_lowercase().replace(':', "");
    if aki.is_empty() {
        return Err(
            Error::BadRequest("authority key id is required but not provided".into()).into(),
        );
    }
    let reason = crate::crl::parse_reason(&p.str("reason"))?;
    super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = db.revoke(&serial, &aki, reason as i64).await;
        let _ = db.close().await;
        r
    })?;
    Ok(())
}
