//! `certs`: lists what was issued, from the database (filters: status, expiring within, CN).

use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::db::ListFilter;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "certs",
    summary: "list certificates recorded in the database",
    usage: "Usage of certs:\n        kpki certs -db-config db.json|-db sqlite://certs.db [-status good|revoked] [-expiring 30d] [-cn NAME] [-limit N] [-json]",
    flags: &[
        "db-config",
        "db",
        "status",
        "expiring",
        "cn",
        "limit",
        "json",
    ],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let status = p.str("status");
    if !status.is_empty() && !crate::db::STATUSES.contains(&status.as_str()) {
        return Err(Error::BadRequest(format!(
            "invalid -status {status:?} (good, revoked, unknown)"
        ))
        .into());
    }
    let limit = p.int("limit");
    if !(1..=1_000_000).contains(&limit) {
        return Err(Error::BadRequest("-limit must be between 1 and 1000000".into()).into());
    }
    let f = ListFilter {
        status: (!status.is_empty()).then_some(status),
        expiring_within: (!p.str("expiring").is_empty())
            .then(|| crate::duration::parse_human(&p.str("expiring")))
            .transpose()?,
        common_name: (!p.str("cn").is_empty()).then(|| p.str("cn")),
        aki: None,
        limit: 0, // list_certificates_all pages up to `limit`
        after: None,
    };
    let rows = super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = db.list_certificates_all(&f, limit as usize).await;
        let _ = db.close().await;
        r
    })?;
    if p.bool("json") {
        let _ = writeln!(
            ctx.stdout,
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    let _ = writeln!(
        ctx.stdout,
        "{:<50} {:<30} {:<8} {:<21} PROFILE",
        "SERIAL", "COMMON NAME", "STATUS", "EXPIRES"
    );
    for r in rows {
        let _ = writeln!(
            ctx.stdout,
            "{:<50} {:<30} {:<8} {:<21} {}",
            r.serial_number,
            r.common_name,
            r.status,
            crate::certinfo::rfc3339(r.expiry),
            if r.profile.is_empty() {
                "-"
            } else {
                &r.profile
            }
        );
    }
    Ok(())
}
