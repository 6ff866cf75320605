//! The command-line adapter: the command table, argv[0] dispatch (kpki | cfssl | cfssljson |
//! cfssl-certinfo), help and usage. Each command lives in its own file and exposes `COMMAND`.
//! Exit codes are chosen in `main.rs` from [`CliError`]; nothing here calls `exit`.

pub mod flags;
pub mod input;
pub mod output;

pub mod bench_fill;
pub mod certinfo;
pub mod certs;
pub mod cluster;
pub mod common;
pub mod crl;
pub mod expiry;
pub mod gencert;
pub mod gencrl;
pub mod gencsr;
pub mod genkey;
pub mod info;
pub mod json;
pub mod kubeconfig;
pub mod link;
pub mod print_defaults;
pub mod profiles;
pub mod record;
pub mod remote;
pub mod revoke;
pub mod selfsign;
pub mod serve;
pub mod sign;
pub mod token;
pub mod version;

use crate::error::Error;
use flags::{FlagError, Parsed};
use std::io::{Read, Write};

/// The standard streams a command uses (tests pass buffers).
pub struct Ctx<'a> {
    /// standard input
    pub stdin: &'a mut dyn Read,
    /// standard output
    pub stdout: &'a mut dyn Write,
    /// standard error
    pub stderr: &'a mut dyn Write,
}

impl Ctx<'_> {
    /// Writes a line to stderr, ignoring failures (diagnostics must never fail a command).
    pub fn warn(&mut self, msg: &str) {
        let _ = writeln!(self.stderr, "{msg}");
    }
}

/// How a command failed.
#[derive(Debug)]
pub enum CliError {
    /// bad usage: print this text; exit 2
    Usage(String),
    /// help was asked for: print this text; exit 0
    Help(String),
    /// a kpki error: print its cfssl JSON; exit 1
    Failed(Error),
    /// already reported; exit with this status
    Exit(i32),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Failed(e)
    }
}

/// Result of a command.
pub type CmdResult = Result<(), CliError>;

/// One CLI command.
pub struct Command {
    /// name as typed (`gencert`)
    pub name: &'static str,
    /// one-line summary for the command list
    pub summary: &'static str,
    /// usage text printed before the flags
    pub usage: &'static str,
    /// the flags it accepts (names in the flag table)
    pub flags: &'static [&'static str],
    /// entry point
    pub run: fn(&Parsed, &mut Ctx<'_>) -> CmdResult,
}

/// Every command, in the order `kpki` lists them.
pub fn commands() -> Vec<&'static Command> {
    vec![
        &gencert::COMMAND,
        &genkey::COMMAND,
        &gencsr::COMMAND,
        &sign::COMMAND,
        &selfsign::COMMAND,
        &certinfo::COMMAND,
        &json::COMMAND,
        &serve::COMMAND,
        &info::COMMAND,
        &revoke::COMMAND,
        &crl::COMMAND,
        &gencrl::COMMAND,
        &certs::COMMAND,
        &token::COMMAND,
        &kubeconfig::COMMAND,
        &cluster::COMMAND,
        &expiry::COMMAND,
        &print_defaults::COMMAND,
        &profiles::COMMAND,
        &version::COMMAND,
        &link::COMMAND,
    ]
}

/// Commands that work but are not listed (benchmark tooling).
fn hidden_commands() -> Vec<&'static Command> {
    vec![&bench_fill::COMMAND]
}

fn find(name: &str) -> Option<&'static Command> {
    commands()
        .into_iter()
        .chain(hidden_commands())
        .find(|c| c.name == name)
}

fn top_usage() -> String {
    let mut s = String::from(
        "Usage:\n  kpki COMMAND [-flag ...] [ARGS]   (also runs as cfssl, cfssljson, cfssl-certinfo)\n\nAvailable commands:\n",
    );
    for c in commands() {
        s.push_str(&format!("  {:<16}{}\n", c.name, c.summary));
    }
    s.push_str("\nRun 'kpki COMMAND -h' for a command's flags.\n");
    s
}

/// Runs one command with its arguments (after the command name).
pub fn run_command(cmd: &Command, args: &[String], ctx: &mut Ctx<'_>) -> CmdResult {
    let mut allowed: Vec<&str> = cmd.flags.to_vec();
    allowed.push("loglevel");
    match flags::parse(args, &allowed) {
        Ok(p) => (cmd.run)(&p, ctx),
        Err(FlagError::Help) => Err(CliError::Help(flags::usage(cmd.usage, cmd.flags))),
        Err(FlagError::Bad(m)) => Err(CliError::Usage(format!(
            "{m}\n{}",
            flags::usage(cmd.usage, cmd.flags)
        ))),
    }
}

/// Dispatches on the program name (basename of argv[0]) and runs the command.
pub fn main_with(argv0: &str, args: &[String], ctx: &mut Ctx<'_>) -> CmdResult {
    let prog = std::path::Path::new(argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match prog.as_str() {
        "cfssljson" => return run_command(&json::COMMAND, args, ctx),
        "cfssl-certinfo" => return run_command(&certinfo::COMMAND, args, ctx),
        "cfssl-newkey" => return run_command(&genkey::COMMAND, args, ctx),
        _ => {}
    }
    let Some(name) = args.first() else {
        return Err(CliError::Usage(format!(
            "No command is given.\n{}",
            top_usage()
        )));
    };
    match name.as_str() {
        "-h" | "-help" | "--help" | "help" => return Err(CliError::Help(top_usage())),
        "-version" | "--version" => return run_command(&version::COMMAND, &[], ctx),
        _ => {}
    }
    match find(name) {
        Some(cmd) => run_command(cmd, &args[1..], ctx),
        None => Err(CliError::Usage(format!(
            "Command {name} is not defined.\n{}",
            top_usage()
        ))),
    }
}

/// Runs a command with subcommands (`kpki token create …`): the first positional argument
/// names one of `subs`, which parses the rest with its own flags.
pub fn run_sub(parent: &Command, subs: &[&Command], p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let list = || {
        let mut s = format!("{}\n\nSubcommands:\n", parent.usage.trim_end());
        for c in subs {
            s.push_str(&format!("  {:<10}{}\n", c.name, c.summary));
        }
        s.push_str(&format!(
            "\nRun 'kpki {} SUBCOMMAND -h' for its flags.\n",
            parent.name
        ));
        s
    };
    let Some(name) = p.args.first() else {
        return Err(CliError::Usage(format!(
            "No subcommand is given.\n{}",
            list()
        )));
    };
    if matches!(name.as_str(), "help" | "-h" | "-help" | "--help") {
        return Err(CliError::Help(list()));
    }
    match subs.iter().find(|c| c.name == name) {
        Some(c) => run_command(c, &p.args[1..], ctx),
        None => Err(CliError::Usage(format!(
            "Subcommand {name} is not defined.\n{}",
            list()
        ))),
    }
}

/// Requires exactly `n` positional arguments (`what` names them for the message).
pub fn want_args(p: &Parsed, n: usize, cmd: &Command, what: &str) -> Result<(), CliError> {
    if p.args.len() != n {
        return Err(CliError::Usage(format!(
            "{} expected, got {} argument(s)\n{}",
            what,
            p.args.len(),
            flags::usage(cmd.usage, cmd.flags)
        )));
    }
    Ok(())
}
