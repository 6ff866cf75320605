//! Remote signing client (`-remote`, profiles with `remote`/`auth_remote`).

use super::{CliError, Ctx};
use crate::cli::flags::Parsed;
use crate::config::Config;
use crate::csr::CertificateRequest;
use crate::error::Error;
use crate::issue::SignRequest;

/// True when this request must be signed remotely.
pub fn wanted(p: &Parsed, cfg: &Config, profile: &str) -> bool {
    !p.str("remote").is_empty() || cfg.signing.profile(profile).is_ok_and(|pr| !pr.is_local())
}

/// gencert through a remote.
pub fn gencert(
    _p: &Parsed,
    _ctx: &mut Ctx<'_>,
    _cfg: &Config,
    _req: &CertificateRequest,
) -> Result<(), CliError> {
    Err(Error::Dial(
        6000,
        "remote signing is not built into this revision".into(),
    )
    .into())
}

/// sign through a remote.
pub fn sign(
    _p: &Parsed,
    _ctx: &mut Ctx<'_>,
    _cfg: &Config,
    _req: &SignRequest,
) -> Result<String, CliError> {
    Err(Error::Dial(
        6000,
        "remote signing is not built into this revision".into(),
    )
    .into())
}
