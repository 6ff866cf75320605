//! `print-defaults config|csr|list`: cfssl's templates, byte for byte.

use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;
use crate::profiles::{DEFAULT_CONFIG_JSON, DEFAULT_CSR_JSON};

/// The command.
pub const COMMAND: Command = Command {
    name: "print-defaults",
    summary: "print a default ca-config.json or csr.json",
    usage: "Usage of print-defaults:\n\tkpki print-defaults TYPE\n\nTYPE is one of: config, csr, list",
    flags: &[],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(kind) = p.args.first() else {
        return Err(CliError::Failed(Error::BadRequest(
            "not enough arguments are supplied --- please refer to the usage".into(),
        )));
    };
    let text = match kind.as_str() {
        "config" => DEFAULT_CONFIG_JSON,
        "csr" => DEFAULT_CSR_JSON,
        _ => "Default configurations are available for:\n\tconfig\n\tcsr",
    };
    // cfssl prints the template followed by an extra blank line.
    let _ = writeln!(ctx.stdout, "{}\n", text.trim_end());
    Ok(())
}
