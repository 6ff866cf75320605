//! Recording issued certificates from the CLI (`-db-config` / `-db`) and reading them back.

use super::{CliError, Ctx};
use crate::cli::flags::Parsed;
use crate::error::{Error, Result};
use crate::issue::Issued;

/// Records `issued` in the database named by `-db-config`/`-db`, if any.
pub fn record(p: &Parsed, _ctx: &mut Ctx<'_>, _issued: &Issued) -> Result<()> {
    if p.str("db-config").is_empty() && p.str("db").is_empty() {
        return Ok(());
    }
    Err(Error::CertStore(
        11000,
        "certificate database support is not built into this revision".into(),
    ))
}

/// certinfo for a database record (`-serial -aki -db-config`).
pub fn certinfo_from_db(
    _p: &Parsed,
    _ctx: &mut Ctx<'_>,
) -> std::result::Result<Vec<crate::certinfo::Info>, CliError> {
    Err(Error::CertStore(
        11000,
        "certificate database support is not built into this revision".into(),
    )
    .into())
}
