//! `token`: Kubernetes tokens. `csv` writes kube-apiserver `--token-auth-file` lines, `check`
//! validates such a file by the apiserver's rules; `create`, `list`, `delete` manage bootstrap
//! tokens in the database (secrets stored hashed, printed once). Token logic is `crate::token`.

use super::flags::Parsed;
use super::input::read_file;
use super::output::write_atomic;
use super::{CliError, CmdResult, Command, Ctx};
use crate::error::Error;
use crate::token::{self, BootstrapToken, CreateRequest};
use std::path::Path;
use time::OffsetDateTime;

/// The command.
pub const COMMAND: Command = Command {
    name: "token",
    summary: "Kubernetes tokens: token.csv lines, bootstrap tokens",
    usage: "Usage of token:\n        kpki token csv|check|create|list|delete [-flags] [ARGS]",
    flags: &[],
    run,
};

const CSV: Command = Command {
    name: "csv",
    summary: "write a kube-apiserver --token-auth-file line (128-bit token)",
    usage: "Usage of token csv:\n        kpki token csv [-user kubelet-bootstrap] [-uid 10001] [-group system:kubelet-bootstrap] [-o token.csv [-append]]\n\nWithout -o the line is printed. -o writes the file with mode 0600 and refuses to overwrite an\nexisting one; -append adds the user unless the file already has a line for it.",
    flags: &["user", "uid", "group", "o", "append"],
    run: run_csv,
};

const CHECK: Command = Command {
    name: "check",
    summary: "check a token file by kube-apiserver's parsing rules",
    usage: "Usage of token check:\n        kpki token check token.csv\n\nExit status 1 when the file has any problem; each is printed with its line number.",
    flags: &[],
    run: run_check,
};

const CREATE: Command = Command {
    name: "create",
    summary: "create a bootstrap token (printed once; only its hash is stored)",
    usage: "Usage of token create:\n        kpki token create -db sqlite://certs.db [-ttl 24h] [-groups system:bootstrappers:...] [-usages signing,authentication] [-description text] [-o secret.yaml]\n\n-ttl 0 makes a token that never expires. -o writes the bootstrap-token-<id> Secret for kubectl apply (mode 0600).",
    flags: &[
        "db",
        "db-config",
        "ttl",
        "groups",
        "usages",
        "description",
        "o",
    ],
    run: run_create,
};

const LIST: Command = Command {
    name: "list",
    summary: "list bootstrap tokens (never their secrets)",
    usage: "Usage of token list:\n        kpki token list -db sqlite://certs.db [-json]",
    flags: &["db", "db-config", "json"],
    run: run_list,
};

const DELETE: Command = Command {
    name: "delete",
    summary: "delete a bootstrap token",
    usage: "Usage of token delete:\n        kpki token delete -db sqlite://certs.db TOKEN-ID|TOKEN",
    flags: &["db", "db-config"],
    run: run_delete,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::run_sub(&COMMAND, &[&CSV, &CHECK, &CREATE, &LIST, &DELETE], p, ctx)
}

fn no_args(p: &Parsed, cmd: &Command) -> Result<(), CliError> {
    super::want_args(p, 0, cmd, "no arguments")
}

fn run_csv(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    no_args(p, &CSV)?;
    let user = p.str("user");
    let groups = token::split_list(&p.str("group"));
    let line = token::csv_line(&token::static_token()?, &user, &p.str("uid"), &groups)?;
    let out = p.str("o");
    if out.is_empty() {
        if p.bool("append") {
            return Err(CliError::Usage("-append needs -o FILE".into()));
        }
        let _ = ctx.stdout.write_all(line.as_bytes());
        return Ok(());
    }
    let path = Path::new(&out);
    let mut text = Vec::new();
    if path.exists() {
        if !p.bool("append") {
            return Err(Error::BadRequest(format!(
                "{out} exists; use -append to add a user to it"
            ))
            .into());
        }
        text = read_file(&out)?;
        let f = token::check_token_file(&text);
        if f.is_fatal() {
            return Err(Error::BadRequest(format!(
                "{out} has lines kube-apiserver refuses; run `kpki token check {out}` and fix them first"
            ))
            .into());
        }
        if let Some(r) = f.records.iter().find(|r| r.user() == user) {
            ctx.warn(&format!(
                "[INFO] {out} already has a token for user {user:?} (line {}); nothing added",
                r.line
            ));
            return Ok(());
        }
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
    }
    text.extend_from_slice(line.as_bytes());
    write_atomic(path, &text, 0o600)?;
    ctx.warn(&format!("[INFO] wrote a token for user {user:?} to {out}"));
    Ok(())
}

fn run_check(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::want_args(p, 1, &CHECK, "one token file")?;
    let name = &p.args[0];
    let data = read_file(name)?;
    let f = token::check_token_file(&data);
    for pr in &f.problems {
        let _ = writeln!(ctx.stdout, "{name}: {pr}");
    }
    if f.problems.is_empty() {
        let _ = writeln!(
            ctx.stdout,
            "{name}: {} token(s), no problems",
            f.records.len()
        );
        return Ok(());
    }
    let _ = writeln!(
        ctx.stdout,
        "{name}: {} problem(s){}",
        f.problems.len(),
        if f.is_fatal() {
            "; kube-apiserver would refuse to start"
        } else {
            ""
        }
    );
    Err(CliError::Exit(1))
}

fn run_create(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    no_args(p, &CREATE)?;
    let req = CreateRequest {
        ttl: crate::duration::parse_human(&p.str("ttl"))?,
        groups: token::split_list(&p.str("groups")),
        usages: token::split_list(&p.str("usages")),
        description: p.str("description"),
    };
    let (tok, rec) = token::create(&req, OffsetDateTime::now_utc())?;
    let out = p.str("o");
    super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = async {
            db.insert_token(&rec).await?;
            if !out.is_empty()
                && let Err(e) = write_atomic(
                    Path::new(&out),
                    token::secret_yaml(&tok, &rec).as_bytes(),
                    0o600,
                )
            {
                // Do not leave a token nobody can use.
                let _ = db.delete_token(&tok.id).await;
                return Err(e);
            }
            Ok(())
        }
        .await;
        let closed = db.close().await;
        r.and(closed)
    })?;
    let _ = writeln!(ctx.stdout, "{tok}");
    Ok(())
}

fn run_list(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    no_args(p, &LIST)?;
    let rows = super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = db.list_tokens().await;
        let _ = db.close().await;
        r
    })?;
    let now = OffsetDateTime::now_utc();
    let state = |r: &crate::db::TokenRecord| {
        if r.revoked_at.is_some() {
            "deleted"
        } else if r.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    };
    if p.bool("json") {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "token_id": r.token_id,
                    "expires": r.expires_at.map(crate::certinfo::rfc3339),
                    "usages": r.usages,
                    "groups": r.groups,
                    "description": r.description,
                    "created": crate::certinfo::rfc3339(r.created_at),
                    "deleted": r.revoked_at.map(crate::certinfo::rfc3339),
                    "state": state(r),
                })
            })
            .collect();
        let _ = writeln!(
            ctx.stdout,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
        return Ok(());
    }
    let _ = writeln!(
        ctx.stdout,
        "{:<8} {:<8} {:<8} {:<21} {:<23} {:<48} DESCRIPTION",
        "ID", "STATE", "TTL", "EXPIRES", "USAGES", "EXTRA GROUPS"
    );
    for r in &rows {
        let (ttl, exp) = match r.expires_at {
            Some(e) if e > now => (crate::cluster::human(e - now), crate::certinfo::rfc3339(e)),
            Some(e) => ("-".into(), crate::certinfo::rfc3339(e)),
            None => ("<forever>".into(), "<never>".into()),
        };
        let _ = writeln!(
            ctx.stdout,
            "{:<8} {:<8} {:<8} {:<21} {:<23} {:<48} {}",
            r.token_id,
            state(r),
            ttl,
            exp,
            r.usages.join(","),
            r.groups.join(","),
            r.description
        );
    }
    Ok(())
}

fn run_delete(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::want_args(p, 1, &DELETE, "one token id")?;
    let arg = &p.args[0];
    let id = match BootstrapToken::parse(arg) {
        Ok(t) => t.id,
        Err(_) if token::is_token_id(arg) => arg.clone(),
        Err(_) => {
            return Err(Error::BadRequest(format!(
                "{arg:?} is neither a token id ([a-z0-9]{{6}}) nor a token"
            ))
            .into());
        }
    };
    let deleted = super::record::runtime()?.block_on(async {
        let db = super::record::open(p).await?;
        let r = db.delete_token(&id).await;
        let closed = db.close().await;
        r.and_then(|d| closed.map(|_| d))
    })?;
    if !deleted {
        return Err(
            Error::CertStore(11200, format!("no active bootstrap token with id {id:?}")).into(),
        );
    }
    let _ = writeln!(ctx.stdout, "bootstrap token {id:?} deleted");
    Ok(())
}
