//! `token`: Kubernetes tokens. `csv` writes kube-apiserver `--token-auth-file` lines, `check`
//! validates such a file by the apiserver's rules; `create`, `list`, `delete` manage bootstrap
//! tokens in the database (secrets stored hashed, printed once), or with `-remote` through a
//! running `kpki serve` (`/api/v1/kpki/tokens`). Token logic is `crate::token`.

use super::flags::Parsed;
use super::input::read_file;
use super::output::write_atomic;
use super::{CliError, CmdResult, Command, Ctx};
use crate::error::Error;
use crate::token::{self, BootstrapToken, CreateRequest};
use serde_json::{Value, json};
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
    usage: "Usage of token create:\n        kpki token create -db sqlite://certs.db [-ttl 24h] [-groups system:bootstrappers:...] [-usages signing,authentication] [-description text] [-o secret.yaml]\n        kpki token create -remote host:port -auth-key env:VAR|file:PATH [...]\n\n-ttl 0 makes a token that never expires. -o writes the bootstrap-token-<id> Secret for kubectl apply (mode 0600).\nWith -remote the token is created by a running `kpki serve` (authenticated with its -auth-key, or an\nmTLS client certificate: https:// remote, -tls-remote-ca, -mutual-tls-client-cert/-key).",
    flags: &[
        "db",
        "db-config",
        "ttl",
        "groups",
        "usages",
        "description",
        "o",
        "remote",
        "auth-key",
        "tls-remote-ca",
        "mutual-tls-client-cert",
        "mutual-tls-client-key",
    ],
    run: run_create,
};

const LIST: Command = Command {
    name: "list",
    summary: "list bootstrap tokens (never their secrets)",
    usage: "Usage of token list:\n        kpki token list -db sqlite://certs.db [-json]\n        kpki token list -remote host:port -auth-key env:VAR|file:PATH [-json]",
    flags: &[
        "db",
        "db-config",
        "json",
        "remote",
        "auth-key",
        "tls-remote-ca",
        "mutual-tls-client-cert",
        "mutual-tls-client-key",
    ],
    run: run_list,
};

const DELETE: Command = Command {
    name: "delete",
    summary: "delete a bootstrap token",
    usage: "Usage of token delete:\n        kpki token delete -db sqlite://certs.db TOKEN-ID|TOKEN\n        kpki token delete -remote host:port -auth-key env:VAR|file:PATH TOKEN-ID|TOKEN",
    flags: &[
        "db",
        "db-config",
        "remote",
        "auth-key",
        "tls-remote-ca",
        "mutual-tls-client-cert",
        "mutual-tls-client-key",
    ],
    run: run_delete,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::run_sub(&COMMAND, &[&CSV, &CHECK, &CREATE, &LIST, &DELETE], p, ctx)
}

/// kpki's token endpoint on a running server.
const TOKENS_PATH: &str = "/api/v1/kpki/tokens";

fn is_remote(p: &Parsed) -> bool {
    !p.str("remote").is_empty()
}

/// `token create -remote`: the server creates and stores the token and answers with it (once)
/// and its Secret YAML. If `-o` cannot be written, the token is deleted again on the server, so
/// that no token is left that nobody holds.
fn create_remote(p: &Parsed, req: &CreateRequest, out: &str, ctx: &mut Ctx<'_>) -> CmdResult {
    let ttl = p.str("ttl");
    let body = json!({
        "ttl": ttl,
        "groups": req.groups,
        "usages": req.usages,
        "description": req.description,
    });
    let body = serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?;
    let r = super::remote::kpki_call(p, "POST", TOKENS_PATH, &body)?;
    let field = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Api(7500, format!("the remote's answer has no {k:?}")))
    };
    let tok = zeroize::Zeroizing::new(field("token")?);
    if !out.is_empty() {
        let yaml = zeroize::Zeroizing::new(field("secret_yaml")?);
        if let Err(e) = write_atomic(Path::new(out), yaml.as_bytes(), 0o600) {
            let id = field("token_id")?;
            let body = serde_json::to_vec(&json!({ "id": id })).unwrap_or_default();
            let _ = super::remote::kpki_call(p, "DELETE", &format!("{TOKENS_PATH}/{id}"), &body);
            return Err(e.into());
        }
    }
    let _ = writeln!(ctx.stdout, "{}", tok.as_str());
    Ok(())
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
    let out = p.str("o");
    if is_remote(p) {
        return create_remote(p, &req, &out, ctx);
    }
    let (tok, rec) = token::create(&req, OffsetDateTime::now_utc())?;
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
    let now = OffsetDateTime::now_utc();
    // Local and remote lists share one shape: the server's public view of a token.
    let tokens: Vec<Value> = if is_remote(p) {
        let r = super::remote::kpki_call(p, "GET", TOKENS_PATH, b"")?;
        match r.get("tokens") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(
                    Error::Api(7500, "the remote's answer has no token list".into()).into(),
                );
            }
        }
    } else {
        let rows = super::record::runtime()?.block_on(async {
            let db = super::record::open(p).await?;
            let r = db.list_tokens().await;
            let _ = db.close().await;
            r
        })?;
        rows.iter()
            .map(|r| crate::api::tokens::public(r, now))
            .collect()
    };
    if p.bool("json") {
        let _ = writeln!(
            ctx.stdout,
            "{}",
            serde_json::to_string_pretty(&tokens).unwrap_or_default()
        );
        return Ok(());
    }
    let _ = writeln!(
        ctx.stdout,
        "{:<8} {:<8} {:<8} {:<21} {:<23} {:<48} DESCRIPTION",
        "ID", "STATE", "TTL", "EXPIRES", "USAGES", "EXTRA GROUPS"
    );
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    for t in &tokens {
        let expires = t.get("expires").and_then(Value::as_str).map(|e| {
            (
                e.to_string(),
                OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok(),
            )
        });
        let (ttl, exp) = match expires {
            Some((e, Some(at))) if at > now => (crate::cluster::human(at - now), e),
            Some((e, _)) => ("-".into(), e),
            None => ("<forever>".into(), "<never>".into()),
        };
        let _ = writeln!(
            ctx.stdout,
            "{:<8} {:<8} {:<8} {:<21} {:<23} {:<48} {}",
            text(t, "token_id"),
            text(t, "state"),
            ttl,
            exp,
            list(t, "usages"),
            list(t, "groups"),
            text(t, "description")
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
    if is_remote(p) {
        let body =
            serde_json::to_vec(&json!({ "id": id })).map_err(|e| Error::Internal(e.to_string()))?;
        super::remote::kpki_call(p, "DELETE", &format!("{TOKENS_PATH}/{id}"), &body)?;
        let _ = writeln!(ctx.stdout, "bootstrap token {id:?} deleted");
        return Ok(());
    }
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
