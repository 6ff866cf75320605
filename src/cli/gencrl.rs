//! `gencrl SERIALS CERT KEY [SECONDS]`: a CRL over a file of decimal serials (base64 DER).

use super::input::{read_arg, read_key};
use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "gencrl",
    summary: "generate a CRL from a list of serial numbers",
    usage: "Usage of gencrl:\n        kpki gencrl INPUTFILE CERT KEY [TIME]\n\nArguments:\n        INPUTFILE:  file of decimal serial numbers, one per line ('-' = stdin)\n        CERT:       issuer certificate (PEM)\n        KEY:        issuer key (PEM)\n        TIME:       seconds the CRL is valid (default one week)",
    flags: &["ca-key-passphrase", "pem"],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    if !(3..=4).contains(&p.args.len()) {
        return Err(CliError::Usage(format!(
            "INPUTFILE CERT KEY [TIME] expected\n{}",
            super::flags::usage(COMMAND.usage, COMMAND.flags)
        )));
    }
    let serials = String::from_utf8(read_arg(&p.args[0], ctx.stdin)?)
        .map_err(|_| Error::BadRequest("the serials file is not text".into()))?;
    let cert = read_arg(&p.args[1], ctx.stdin)?;
    let (key, _) = read_key(&p.args[2], &p.str("ca-key-passphrase"), ctx.stdin)?;
    let secs: i64 = match p.args.get(3) {
        Some(t) => t.trim().parse().map_err(|_| {
            Error::BadRequest(format!("TIME must be a number of seconds, got {t:?}"))
        })?,
        None => 0,
    };
    let validity = if secs <= 0 {
        time::Duration::days(7)
    } else {
        time::Duration::seconds(secs)
    };
    let ca = crate::signer::Ca::new(&cert, key)?;
    let now = time::OffsetDateTime::now_utc();
    let entries: Vec<(String, time::OffsetDateTime, u8)> = serials
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|s| (s.to_string(), now, 0))
        .collect();
    let der = crate::crl::build(&ca, &entries, now, validity, now.unix_timestamp() as u64)?;
    let text = super::crl::crl_text(&der, p.bool("pem"));
    let _ = ctx.stdout.write_all(text.as_bytes());
    Ok(())
}
