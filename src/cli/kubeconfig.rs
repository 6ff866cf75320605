//! `kubeconfig`: writes a kubeconfig (what `kubectl config set-cluster/set-credentials/
//! set-context/use-context` produce) for a client certificate or a token, and `kubeconfig
//! webhook` writes kube-apiserver's TokenReview webhook config. Reads the input files and checks
//! them; the YAML comes from `crate::kubeconfig`.

use super::flags::Parsed;
use super::input::read_source;
use super::output::write_atomic;
use super::{CliError, CmdResult, Command, Ctx};
use crate::error::{Error, Result};
use crate::keys::PrivateKey;
use crate::kubeconfig::{Credential, Kubeconfig, Material, webhook_config};
use std::path::Path;

/// The command.
pub const COMMAND: Command = Command {
    name: "kubeconfig",
    summary: "write a kubeconfig (client certificate or token), or the TokenReview webhook config",
    usage: "Usage of kubeconfig:\n        kpki kubeconfig -server https://IP:6443 -ca ca.pem (-cert x.pem -key x-key.pem | -token T) [-user NAME] [-cluster kubernetes] [-context default] [-embed=true] [-o FILE]\n        kpki kubeconfig webhook -server https://KPKI:8888 -ca kpki-ca.pem [-cert apiserver.pem -key apiserver-key.pem] [-embed=true] [-o webhook.kubeconfig]\n\n-token takes the token, env:VAR or file:PATH. -user defaults to the certificate's CN\n(kubelet-bootstrap with a token). -o writes mode 0600; without it the YAML is printed.",
    flags: &[
        "server", "ca", "cert", "key", "token", "user", "cluster", "context", "embed", "o",
    ],
    run,
};

const WEBHOOK: Command = Command {
    name: "webhook",
    summary: "kube-apiserver --authentication-token-webhook-config-file pointing at kpki",
    usage: "Usage of kubeconfig webhook:\n        kpki kubeconfig webhook -server https://KPKI:8888 -ca kpki-ca.pem [-cert apiserver-client.pem -key apiserver-client-key.pem] [-embed=true] [-o webhook.kubeconfig]\n\nThe server URL gets /apis/authentication.k8s.io/v1/tokenreviews unless it has a path. Use\n--authentication-token-webhook-version=v1 on kube-apiserver (kpki answers v1beta1 too).",
    flags: &["server", "ca", "cert", "key", "embed", "o"],
    run: run_webhook,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    if p.args.first().is_some_and(|a| a == "webhook") {
        return super::run_command(&WEBHOOK, &p.args[1..], ctx);
    }
    super::want_args(p, 0, &COMMAND, "no arguments (or the webhook subcommand)")?;
    let server = required(p, "server")?;
    let ca = material(p, "ca", true)?;
    let (cert, key, token) = (p.str("cert"), p.str("key"), p.str("token"));
    let (credential, cn) = match (cert.is_empty(), key.is_empty(), token.is_empty()) {
        (true, true, false) => {
            let t = if token.starts_with("env:") || token.starts_with("file:") {
                let v = super::input::read_secret(&token)?;
                String::from_utf8(v)
                    .map_err(|_| Error::BadRequest("the token is not text".into()))?
            } else {
                token
            };
            (Credential::Token(t), None)
        }
        (false, false, true) => client_cert(p)?,
        (true, true, true) => {
            return Err(CliError::Usage("give -cert and -key, or -token".into()));
        }
        _ => {
            return Err(CliError::Usage(
                "give -cert and -key together, or -token alone".into(),
            ));
        }
    };
    let user = if p.is_set("user") {
        p.str("user")
    } else {
        cn.unwrap_or_else(|| p.str("user"))
    };
    let kc = Kubeconfig {
        cluster: p.str("cluster"),
        server,
        ca: Some(ca),
        user,
        credential,
        context: p.str("context"),
    };
    emit(p, ctx, &kc.render()?)
}

fn run_webhook(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::want_args(p, 0, &WEBHOOK, "no arguments")?;
    let server = required(p, "server")?;
    let ca = material(p, "ca", true)?;
    let credential = match (p.str("cert").is_empty(), p.str("key").is_empty()) {
        (true, true) => Credential::None,
        (false, false) => client_cert(p)?.0,
        _ => {
            return Err(CliError::Usage("give -cert and -key together".into()));
        }
    };
    let kc = webhook_config(&server, Some(ca), credential)?;
    emit(p, ctx, &kc.render()?)
}

fn required(p: &Parsed, name: &str) -> Result<String, CliError> {
    let v = p.str(name);
    if v.is_empty() {
        return Err(CliError::Usage(format!("-{name} is required")));
    }
    Ok(v)
}

/// A certificate or key input: embedded bytes, or its absolute path with `-embed=false`.
fn material(p: &Parsed, flag: &str, is_cert: bool) -> Result<Material, CliError> {
    let spec = required(p, flag)?;
    let bytes = read_source(&spec, &mut std::io::empty())?;
    if is_cert {
        crate::signer::first_certificate_der(&bytes).map_err(|e| {
            Error::Certificate(e.code(), format!("-{flag} {spec}: {}", e.message()))
        })?;
    }
    if p.bool("embed") {
        return Ok(Material::Data(bytes));
    }
    if spec.starts_with("env:") {
        return Err(Error::BadRequest(format!(
            "-{flag} env:… can only be embedded (drop -embed=false)"
        ))
        .into());
    }
    let path = spec.strip_prefix("file:").unwrap_or(&spec);
    let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, &e))?;
    // As kubectl does: relative to the kubeconfig's directory (kubeconfig readers resolve
    // relative paths against it), absolute when the YAML goes to stdout.
    let out = p.str("o");
    let base = Path::new(&out)
        .parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .and_then(|d| std::fs::canonicalize(d).ok());
    let shown = match base {
        Some(b) if !out.is_empty() => relative(&abs, &b),
        _ => abs,
    };
    Ok(Material::Path(shown.to_string_lossy().into_owned()))
}

/// `path` relative to the directory `base` (both absolute), with `..` where needed — Go's
/// `filepath.Rel`, which kubectl uses.
fn relative(path: &Path, base: &Path) -> std::path::PathBuf {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

/// The client certificate credential (key checked against the certificate) and the CN.
fn client_cert(p: &Parsed) -> Result<(Credential, Option<String>), CliError> {
    let cert = material(p, "cert", true)?;
    let key = material(p, "key", false)?;
    let cert_bytes = read_source(&p.str("cert"), &mut std::io::empty())?;
    let key_bytes = read_source(&p.str("key"), &mut std::io::empty())?;
    let (_, facts) = crate::cluster::cert_facts(&cert_bytes)?;
    let k = PrivateKey::from_pem(&key_bytes, None)?;
    if k.public_key_bits() != facts.public_key_bits {
        return Err(Error::PrivateKey(
            2300,
            "Private key does not match public key: -key is not the key of -cert".into(),
        )
        .into());
    }
    Ok((Credential::ClientCert { cert, key }, Some(facts.cn)))
}

fn emit(p: &Parsed, ctx: &mut Ctx<'_>, yaml: &str) -> CmdResult {
    let out = p.str("o");
    if out.is_empty() {
        let _ = ctx.stdout.write_all(yaml.as_bytes());
        return Ok(());
    }
    write_atomic(Path::new(&out), yaml.as_bytes(), 0o600)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn relative_paths_are_go_filepath_rel() {
        use std::path::Path;
        let r = |a: &str, b: &str| super::relative(Path::new(a), Path::new(b));
        assert_eq!(r("/k/pki/ca.pem", "/k"), Path::new("pki/ca.pem"));
        assert_eq!(r("/k/pki/ca.pem", "/k/conf"), Path::new("../pki/ca.pem"));
        assert_eq!(r("/a/b", "/c/d"), Path::new("../../a/b"));
    }
}
