//! `version`: prints kpki's version and the cfssl version it is compatible with.

use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;

/// The command.
pub const COMMAND: Command = Command {
    name: "version",
    summary: "print the version",
    usage: "Usage of version:\n\tkpki version",
    flags: &[],
    run,
};

fn run(_: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let _ = writeln!(
        ctx.stdout,
        "Version: {}\nRevision: kpki (cfssl 1.6.5 compatible)\nRuntime: rust",
        env!("CARGO_PKG_VERSION")
    );
    Ok(())
}
