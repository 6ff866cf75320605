//! `bench-fill` (hidden): fills a certificate database with synthetic but realistic rows for the
//! growth benchmarks (scripts/bench-growth.sh). It knows the flags and the database handle only.

use super::{CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::error::Error;

/// The command.
pub const COMMAND: Command = Command {
    name: "bench-fill",
    summary: "fill a database with synthetic certificates (benchmarks)",
    usage: "Usage of bench-fill:\n        kpki bench-fill -db sqlite://certs.db [-rows 1000000] [-revoked-every 10] [-aki HEX]\n\nInserts synthetic rows (38-digit serials, ~900-byte PEM-shaped text, expiries from 60 days\nago to 3 years ahead, 50,000 distinct CNs); every Nth row is revoked. Not for a database that\nis serving: into an empty table it holds the write lock until it is done.",
    flags: &["db-config", "db", "rows", "revoked-every", "aki"],
    run,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let rows = u64::try_from(p.int("rows"))
        .map_err(|_| Error::BadRequest("-rows must not be negative".into()))?;
    let every = u64::try_from(p.int("revoked-every"))
        .map_err(|_| Error::BadRequest("-revoked-every must not be negative".into()))?;
    let aki = p.str("aki").to_ascii_lowercase().replace(':', "");
    let aki = if aki.is_empty() { "ab".repeat(20) } else { aki };
    if !aki.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadRequest(format!("-aki {aki:?} is not hex")).into());
    }
    let start = std::time::Instant::now();
    let total = super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = db.fill_synthetic(rows, every, &aki).await;
        let n = db.count_certificates().await;
        let _ = db.close().await;
        r.and(n)
    })?;
    let _ = writeln!(
        ctx.stdout,
        "inserted {rows} rows in {:.1} s; the table now has {total} rows",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
