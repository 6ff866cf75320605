//! The CLI's database access: opening `-db URL` / `-db-config FILE`, recording issued
//! certificates (through `issue::commit`, the same step the server uses), and reads.

use super::input::read_file;
use super::{CliError, Ctx};
use crate::cli::flags::Parsed;
use crate::db::CertDb;
use crate::error::{Error, Result};
use crate::issue::Issued;

/// A current-thread runtime for the CLI's database calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start runtime: {e}")))
}

/// The database URL from `-db` or `-db-config`, if either is given.
pub fn db_url(p: &Parsed) -> Result<Option<String>> {
    let url = p.str("db");
    if !url.is_empty() {
        return Ok(Some(url));
    }
    let cfg = p.str("db-config");
    if cfg.is_empty() {
        return Ok(None);
    }
    let bytes = read_file(&cfg).map_err(|e| {
        Error::Policy(
            5200,
            format!("could not read configuration file: {}", e.message()),
        )
    })?;
    // cfssl compat: a relative data_source is relative to the working directory.
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", &e))?;
    crate::db::url_from_cfssl_config(&bytes, &cwd).map(Some)
}

/// Opens the database named by the flags; an error when none is named.
pub async fn open(p: &Parsed) -> Result<CertDb> {
    match db_url(p)? {
        Some(u) => CertDb::connect(&u).await,
        None => Err(Error::Policy(
            5200,
            "need DB config file (provide with -db-config or -db)".into(),
        )),
    }
}

/// Records `issued` when `-db-config`/`-db` is given; the certificate is printed only after.
pub fn record(p: &Parsed, _ctx: &mut Ctx<'_>, issued: &Issued) -> Result<()> {
    if db_url(p)?.is_none() {
        return Ok(());
    }
    runtime()?.block_on(async {
        let db = open(p).await?;
        let r = crate::issue::commit(Some(&db), issued).await;
        let closed = db.close().await;
        r.and(closed)
    })
}

/// certinfo for a database record (`-serial -aki -db-config`).
pub fn certinfo_from_db(
    p: &Parsed,
    _ctx: &mut Ctx<'_>,
) -> std::result::Result<Vec<crate::certinfo::Info>, CliError> {
    let serial = p.str("serial");
    let aki = p.str("aki").to_lowercase().replace(':', "");
    if serial.is_empty() || aki.is_empty() {
        return Err(Error::BadRequest(
            "certinfo needs both -serial and -aki (with -db-config or -db)".into(),
        )
        .into());
    }
    let rec = runtime()?.block_on(async {
        let db = open(p).await?;
        let r = db.get_certificate(&serial, &aki).await;
        let _ = db.close().await;
        r
    })?;
    let rec = rec.ok_or_else(|| Error::CertStore(11200, "no certificate found".into()))?;
    Ok(crate::certinfo::detect(rec.pem.as_bytes())?)
}
