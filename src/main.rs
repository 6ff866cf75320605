//! kpki's entry point: argv[0] dispatch into the CLI, and the only place exit codes are chosen
//! (0 ok / help, 1 failure with cfssl's `{"code","message"}` on stderr, 2 usage).

use kpki::cli::{self, CliError, Ctx};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // No process-wide rustls provider is installed: every TLS config (serve -tls, certinfo -domain,
    // remote signing) names aws-lc-rs itself, and building one here cost every CLI call time.
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "kpki".into());
    let args: Vec<String> = argv.collect();
    // Unlocked handles: server threads log to stderr too, and a lock held here would block them.
    let mut stdin = std::io::stdin();
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    let mut stderr = std::io::stderr();
    let result = {
        let mut ctx = Ctx {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        cli::main_with(&argv0, &args, &mut ctx)
    };
    // A closed pipe (`kpki … | head`) is not a failure.
    let flushed = stdout.flush();
    let code = match result {
        Ok(()) => 0,
        Err(CliError::Help(text)) => {
            let _ = writeln!(stderr, "{text}");
            0
        }
        Err(CliError::Usage(text)) => {
            let _ = writeln!(stderr, "{text}");
            2
        }
        Err(CliError::Failed(e)) => {
            let _ = writeln!(stderr, "{}", e.to_json());
            1
        }
        Err(CliError::Exit(n)) => n,
    };
    if code == 0
        && let Err(e) = flushed
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let _ = writeln!(stderr, "{}", kpki::error::Error::io("stdout", &e).to_json());
        return ExitCode::from(1);
    }
    ExitCode::from(code as u8)
}
