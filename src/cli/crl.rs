//! `crl`: a CRL of the revoked, unexpired certificates the CA issued, from the database.

use super::common::load_ca;
use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use base64::Engine;

/// The command.
pub const COMMAND: Command = Command {
    name: "crl",
    summary: "generate a CRL from the certificate database",
    usage: "Usage of crl:\n        kpki crl -db-config db-config -ca ca.pem -ca-key ca-key.pem [-expiry 168h] [-pem]\n\nPrints the CRL as one line of base64 DER (as cfssl), or PEM with -pem.",
    flags: &[
        "db-config",
        "db",
        "ca",
        "ca-key",
        "ca-key-passphrase",
        "expiry",
        "pem",
    ],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let validity = crate::duration::parse_go(&p.str("expiry"))?;
    if validity <= time::Duration::ZERO {
        return Err(crate::error::Error::BadRequest("-expiry must be positive".into()).into());
    }
    let ca = load_ca(p, ctx)?;
    let der = super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = crate::issue::current_crl(&db, &ca, validity).await;
        let _ = db.close().await;
        r
    })?;
    let text = crl_text(&der, p.bool("pem"));
    let _ = ctx.stdout.write_all(text.as_bytes());
    Ok(())
}

/// A CRL as printed: one line of base64 DER (cfssl), or PEM with `-pem`.
pub fn crl_text(der: &[u8], pem: bool) -> String {
    if pem {
        crate::keys::pem_encode("X509 CRL", der)
    } else {
        format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    }
}
