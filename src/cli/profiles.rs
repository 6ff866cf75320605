//! `profiles`: lists the signing profiles (built-in pack, or those of `-config`).

use super::common::load_config;
use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::config::SigningProfile;
use crate::duration::format_go;

/// The command.
pub const COMMAND: Command = Command {
    name: "profiles",
    summary: "list the signing profiles (built-in, or of -config)",
    usage: "Usage of profiles:\n        kpki profiles [-config ca-config.json] [-json]",
    flags: &["config", "json"],
    run,
};

fn describe(p: &SigningProfile) -> serde_json::Value {
    serde_json::json!({
        "usages": p.usages,
        "expiry": if p.expiry_string.is_empty() { format_go(p.expiry) } else { p.expiry_string.clone() },
        "ca": p.ca_constraint.is_ca,
        "max_path_len": p.ca_constraint.path_len(),
        "auth_key": (!p.auth_key.is_empty()).then(|| p.auth_key.clone()),
        "remote": (!p.remote.is_empty()).then(|| p.remote.clone()),
    })
}

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let cfg = load_config(p, ctx)?;
    let mut rows: Vec<(String, &SigningProfile)> = vec![("(default)".into(), &cfg.signing.default)];
    rows.extend(cfg.signing.profiles.iter().map(|(n, p)| (n.clone(), p)));
    if p.bool("json") {
        let m: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(n, pr)| (n.clone(), describe(pr)))
            .collect();
        let _ = writeln!(
            ctx.stdout,
            "{}",
            serde_json::to_string_pretty(&m).unwrap_or_default()
        );
        return Ok(());
    }
    let _ = writeln!(
        ctx.stdout,
        "{:<14} {:<10} {:<10} USAGES",
        "PROFILE", "EXPIRY", "CA"
    );
    for (n, pr) in rows {
        let ca = match (pr.ca_constraint.is_ca, pr.ca_constraint.path_len()) {
            (true, Some(l)) => format!("pathlen:{l}"),
            (true, None) => "yes".into(),
            _ => "no".into(),
        };
        let exp = if pr.expiry_string.is_empty() {
            format_go(pr.expiry)
        } else {
            pr.expiry_string.clone()
        };
        let _ = writeln!(
            ctx.stdout,
            "{n:<14} {exp:<10} {ca:<10} {}",
            pr.usages.join(", ")
        );
    }
    Ok(())
}
