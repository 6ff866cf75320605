//! `serve`: runs the HTTP API. With no `-ca`/`-ca-key`, uses a data directory (`-data-dir`,
//! default ./kpki-data) holding an embedded CA (created on first start) and the database.
//! Stops cleanly on SIGINT/SIGTERM: in-flight requests finish, the database is closed.

use super::common::{load_ca, load_config};
use super::input::{read_secret, read_source};
use super::output::{create_private_dir, write_durable};
use super::{CmdResult, Command, Ctx};
use crate::api::{self, AppState};
use crate::cli::flags::Parsed;
use crate::csr::CertificateRequest;
use crate::db::CertDb;
use crate::error::{Error, Result};
use crate::signer::Ca;
use std::path::Path;
use std::sync::Arc;

/// The command.
pub const COMMAND: Command = Command {
    name: "serve",
    summary: "start the API server",
    usage: "Usage of serve:\n        kpki serve [-address address] [-port port] [-data-dir dir] [-ca-key-passphrase env:VAR|file:PATH]\n        kpki serve -ca cert -ca-key key [-config config] [-db-config db.json | -db sqlite://certs.db]\n                   [-tls-cert cert -tls-key key [-mutual-tls-ca ca [-mutual-tls-cn regex]]]\n                   [-auth-key env:VAR|file:PATH] [-require-auth] [-disable sign,newcert,...]\n\nWithout -ca/-ca-key, a CA and the database live in -data-dir (created on first start;\nwith -ca-key-passphrase its key is written as encrypted PKCS#8 and read with it).\nWithout -db/-db-config, certificates are recorded in DATA-DIR/certs.db.",
    flags: &[
        "address",
        "port",
        "ca",
        "ca-key",
        "ca-key-passphrase",
        "config",
        "db-config",
        "db",
        "data-dir",
        "tls-cert",
        "tls-key",
        "mutual-tls-ca",
        "mutual-tls-cn",
        "disable",
        "auth-key",
        "require-auth",
        "insecure",
    ],
    run,
};

/// Loads the embedded CA from `dir`, creating it (ECDSA P-256; key 0600, dir 0700) if absent.
/// With a passphrase source (`-ca-key-passphrase env:VAR|file:PATH`) the key is created as
/// encrypted PKCS#8 and read back with it; without one it is plain, as cfssl's keys are.
pub fn embedded_ca(dir: &Path, passphrase: &str, ctx: &mut Ctx<'_>) -> Result<Ca> {
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert_path.exists() || key_path.exists() {
        let cert = read_source(&cert_path.to_string_lossy(), ctx.stdin)?;
        let (key, warning) =
            super::input::read_key(&key_path.to_string_lossy(), passphrase, ctx.stdin)?;
        if let Some(w) = warning {
            ctx.warn(&w);
        }
        return Ca::new(&cert, key);
    }
    // Read (and check) the passphrase before anything is created.
    let pass = match passphrase {
        "" => None,
        spec => {
            let p = zeroize::Zeroizing::new(read_secret(spec)?);
            if p.is_empty() {
                return Err(Error::BadRequest("the passphrase is empty".into()));
            }
            Some(p)
        }
    };
    create_private_dir(dir)?;
    let req = CertificateRequest::from_json(
        br#"{"CN":"kpki CA","names":[{"O":"kpki"}],"key":{"algo":"ecdsa","size":256}}"#,
    )?;
    let ss = crate::issue::init_ca(&req, None)?;
    let key_pem = zeroize::Zeroizing::new(match &pass {
        Some(p) => ss.key.to_encrypted_pem(p, super::common::PBKDF2_ROUNDS)?,
        None => ss.key.to_cfssl_pem()?,
    });
    write_durable(&key_path, key_pem.as_bytes(), 0o600)?;
    write_durable(&cert_path, ss.cert_pem.as_bytes(), 0o644)?;
    ctx.warn(&format!(
        "[INFO] created a new CA in {} (ca.pem, ca-key.pem)",
        dir.display()
    ));
    Ca::new(ss.cert_pem.as_bytes(), ss.key)
}

fn is_loopback(addr: &str) -> bool {
    addr == "localhost"
        || addr
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn init_logging(level: i64) {
    let lvl = match level {
        i64::MIN..=0 => "debug",
        1 => "info",
        2 => "warn",
        _ => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KPKI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(lvl));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    if !p.args.is_empty() {
        return Err(super::CliError::Usage("serve takes no arguments".into()));
    }
    init_logging(p.int("loglevel"));
    let data_dir = std::path::PathBuf::from(p.str("data-dir"));
    let (has_ca, has_key) = (!p.str("ca").is_empty(), !p.str("ca-key").is_empty());
    if has_ca != has_key {
        return Err(Error::BadRequest(
            "give both -ca and -ca-key, or neither (embedded CA in -data-dir)".into(),
        )
        .into());
    }
    let ca = if has_ca {
        load_ca(p, ctx)?
    } else {
        embedded_ca(&data_dir, &p.str("ca-key-passphrase"), ctx)?
    };
    let config = load_config(p, ctx)?;
    let db_url = match super::record::db_url(p)? {
        Some(u) => u,
        None => {
            create_private_dir(&data_dir)?;
            format!("sqlite://{}", data_dir.join("certs.db").display())
        }
    };
    let auth_key = match p.str("auth-key") {
        s if s.is_empty() => None,
        s => Some(
            hex::decode(read_secret(&s)?)
                .map_err(|_| Error::Policy(5200, "-auth-key must be hex".into()))?,
        ),
    };
    let mtls_ca = (!p.str("mutual-tls-ca").is_empty())
        .then(|| read_source(&p.str("mutual-tls-ca"), ctx.stdin))
        .transpose()?;
    let tls = match (p.str("tls-cert").as_str(), p.str("tls-key").as_str()) {
        ("", "") => {
            if mtls_ca.is_some() {
                return Err(Error::BadRequest(
                    "-mutual-tls-ca needs -tls-cert and -tls-key".into(),
                )
                .into());
            }
            None
        }
        (c, k) if !c.is_empty() && !k.is_empty() => {
            let cert = read_source(c, ctx.stdin)?;
            let key = read_source(k, ctx.stdin)?;
            Some(tokio_rustls::TlsAcceptor::from(api::tls::server_config(
                &cert,
                &key,
                mtls_ca.as_deref(),
            )?))
        }
        _ => return Err(Error::BadRequest("give both -tls-cert and -tls-key".into()).into()),
    };
    let mtls_cn = match p.str("mutual-tls-cn") {
        s if s.is_empty() => None,
        s => Some(
            regex::Regex::new(&s)
                .map_err(|e| Error::Policy(5200, format!("-mutual-tls-cn: {e}")))?,
        ),
    };
    let require_auth = p.bool("require-auth");
    if require_auth && auth_key.is_none() && mtls_ca.is_none() {
        return Err(
            Error::BadRequest("-require-auth needs -auth-key or -mutual-tls-ca".into()).into(),
        );
    }
    let address = p.str("address");
    let authenticated = require_auth || (mtls_ca.is_some() && tls.is_some());
    if !is_loopback(&address) && !authenticated && !p.bool("insecure") {
        return Err(Error::BadRequest(format!(
            "refusing to listen on {address} without authentication: anyone who can reach it could get certificates. \
             Use -require-auth with -auth-key or -mutual-tls-ca (and -tls-cert/-tls-key), or pass -insecure"
        ))
        .into());
    }
    let port = p.int("port");
    if !(0..=65535).contains(&port) {
        return Err(Error::BadRequest(format!("invalid -port {port}")).into());
    }
    let disabled: Vec<String> = p
        .str("disable")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start runtime: {e}")))?;
    rt.block_on(async move {
        let db = CertDb::connect(&db_url).await?;
        tracing::info!(db = %crate::db::redact_url(&db_url), "certificate database ready");
        let mut state = AppState::new(Some(ca), config, Some(db.clone()));
        state.auth_key = auth_key;
        state.require_auth = require_auth;
        state.mtls_cn = mtls_cn;
        let state = Arc::new(state);
        let app = api::router(state.clone(), &disabled);
        let host = if address.contains(':') {
            format!("[{address}]")
        } else {
            address.clone()
        };
        let listener = tokio::net::TcpListener::bind(format!("{host}:{port}"))
            .await
            .map_err(|e| {
                Error::Api(
                    7300,
                    format!("listen on {host}:{port}: {}", crate::error::io_message(&e)),
                )
            })?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("listener", &e))?;
        tracing::info!(
            "Now listening on {}{}",
            if tls.is_some() { "https://" } else { "http://" },
            local
        );
        api::serve(listener, tls, app, shutdown_signal())
            .await
            .map_err(|e| {
                Error::Api(
                    7300,
                    format!("server failed: {}", crate::error::io_message(&e)),
                )
            })?;
        drop(state);
        db.close().await?;
        tracing::info!("stopped; database closed");
        Ok::<(), Error>(())
    })?;
    Ok(())
}
