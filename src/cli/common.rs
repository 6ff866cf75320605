//! Helpers shared by the CLI commands: loading the signing config (or the built-in pack), the
//! CA pair, CSR JSON; printing key material (optionally encrypted). No signing logic here.

use super::flags::Parsed;
use super::input::{read_arg, read_key, read_secret, read_source};
use super::{CliError, Ctx};
use crate::config::Config;
use crate::csr::CertificateRequest;
use crate::error::{Error, Result};
use crate::keys::PrivateKey;
use crate::signer::Ca;

/// PBKDF2 rounds for encrypted keys (OWASP 2023 guidance for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ROUNDS: u32 = 600_000;

/// The signing configuration: `-config FILE`, else the built-in profile pack.
pub fn load_config(p: &Parsed, ctx: &mut Ctx<'_>) -> Result<Config> {
    let path = p.str("config");
    if path.is_empty() {
        return Ok(crate::profiles::builtin());
    }
    let bytes = read_source(&path, ctx.stdin)?;
    let mut cfg = Config::from_json(&bytes).map_err(|e| {
        Error::Policy(
            e.code(),
            format!("Failed to load config file: {}", e.message()),
        )
    })?;
    cfg.resolve_auth_keys(|spec| {
        let v = read_secret(spec)?;
        String::from_utf8(v).map_err(|_| Error::Policy(5200, "auth key is not text".into()))
    })?;
    Ok(cfg)
}

/// The CA pair from `-ca` and `-ca-key` (with `-ca-key-passphrase` for encrypted keys).
pub fn load_ca(p: &Parsed, ctx: &mut Ctx<'_>) -> Result<Ca> {
    let ca = p.str("ca");
    let ca_key = p.str("ca-key");
    // cfssl compat (deliberately NOT kept): cfssl logs these two errors and exits 0.
    if ca.is_empty() {
        return Err(Error::Certificate(
            1001,
            "need a CA certificate (provide one with -ca)".into(),
        ));
    }
    if ca_key.is_empty() {
        return Err(Error::PrivateKey(
            2001,
            "need a CA key (provide one with -ca-key)".into(),
        ));
    }
    let cert = read_source(&ca, ctx.stdin).map_err(|e| Error::Certificate(1001, e.message()))?;
    let (key, warning) = read_key(&ca_key, &p.str("ca-key-passphrase"), ctx.stdin)?;
    if let Some(w) = warning {
        ctx.warn(&w);
    }
    Ca::new(&cert, key)
}

/// Reads and parses the CSR JSON positional argument.
pub fn read_csr_json(path: &str, ctx: &mut Ctx<'_>) -> Result<CertificateRequest> {
    let bytes = read_arg(path, ctx.stdin)?;
    CertificateRequest::from_json(&bytes)
}

/// Applies `-hostname` (comma list, replaces hosts) and `-cn` to a CSR JSON request.
pub fn apply_overrides(p: &Parsed, req: &mut CertificateRequest) {
    let h = p.str("hostname");
    if !h.is_empty() {
        req.hosts = Some(h.split(',').map(str::to_string).collect());
    }
    let cn = p.str("cn");
    if !cn.is_empty() {
        req.cn = cn;
    }
}

/// The key as it is printed: cfssl's PEM, or encrypted PKCS#8 with `-encrypt`.
pub fn key_pem(p: &Parsed, key: &PrivateKey) -> Result<String> {
    if p.bool("encrypt") {
        let spec = p.str("passphrase");
        if spec.is_empty() {
            return Err(Error::BadRequest(
                "-encrypt needs -passphrase env:VAR or file:PATH".into(),
            ));
        }
        let pass = zeroize::Zeroizing::new(read_secret(&spec)?);
        if pass.is_empty() {
            return Err(Error::BadRequest("the passphrase is empty".into()));
        }
        return key.to_encrypted_pem(&pass, PBKDF2_ROUNDS);
    }
    key.to_cfssl_pem()
}

/// Requires exactly one positional argument (the input file, or `-`).
pub fn one_input(
    p: &Parsed,
    cmd: &super::Command,
    what: &str,
) -> std::result::Result<String, CliError> {
    super::want_args(p, 1, cmd, what)?;
    Ok(p.args[0].clone())
}
