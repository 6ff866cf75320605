//! `link DIR`: installs the `cfssl`, `cfssljson`, `cfssl-certinfo` symlinks to this binary.

use super::{CmdResult, Command, Ctx, want_args};
use crate::cli::flags::Parsed;
use crate::error::{Error, io_message};

/// The command.
pub const COMMAND: Command = Command {
    name: "link",
    summary: "create cfssl, cfssljson, cfssl-certinfo symlinks to kpki in DIR",
    usage: "Usage of link:\n\tkpki link DIR\n\nCreates DIR/cfssl, DIR/cfssljson and DIR/cfssl-certinfo pointing at this kpki binary\n(existing symlinks are replaced; other existing files are left alone and reported).",
    flags: &[],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    want_args(p, 1, &COMMAND, "DIR")?;
    let dir = std::path::Path::new(&p.args[0]);
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .map_err(|e| {
            Error::Api(
                7300,
                format!("cannot locate the kpki binary: {}", io_message(&e)),
            )
        })?;
    for name in ["cfssl", "cfssljson", "cfssl-certinfo"] {
        let target = dir.join(name);
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if !m.file_type().is_symlink() {
                return Err(Error::Api(
                    7300,
                    format!(
                        "{} exists and is not a symlink; not replacing it",
                        target.display()
                    ),
                )
                .into());
            }
            let _ = std::fs::remove_file(&target);
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(&exe, &target).map_err(|e| {
            Error::Api(
                7300,
                format!("symlink {}: {}", target.display(), io_message(&e)),
            )
        })?;
        let _ = writeln!(ctx.stdout, "{} -> {}", target.display(), exe.display());
    }
    Ok(())
}
