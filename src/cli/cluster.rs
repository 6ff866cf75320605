//! `cluster init`: a whole binary-deployment PKI from an inventory, into a directory: etcd,
//! cluster and front-proxy CAs and their leaves, sa.key/sa.pub, token.csv and kubeconfigs. Every
//! certificate goes through `crate::issue` and is recorded in the database before its files are
//! written. Re-runnable: `crate::cluster` decides what is kept, created or re-issued.

use super::flags::Parsed;
use super::input::read_arg;
use super::output::{create_private_dir, write_atomic};
use super::{CliError, CmdResult, Command, Ctx};
use crate::cluster::{self, CaId, Decision, Inventory, Kind, Plan};
use crate::db::CertDb;
use crate::error::{Error, Result};
use crate::issue;
use crate::keys::{PrivateKey, pem_encode};
use crate::kubeconfig::{Credential, Kubeconfig, Material};
use crate::signer::Ca;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// The command.
pub const COMMAND: Command = Command {
    name: "cluster",
    summary: "a whole Kubernetes cluster PKI from an inventory (cluster init)",
    usage: "Usage of cluster:\n        kpki cluster init -f cluster.json|cluster.yaml -o DIR [-renew-within 30d] [-admin-cluster-admins] [-db URL]",
    flags: &[],
    run,
};

const INIT: Command = Command {
    name: "init",
    summary: "create (or complete, or renew) the PKI tree for an inventory",
    usage: "Usage of cluster init:\n        kpki cluster init -f cluster.json|cluster.yaml -o DIR [-renew-within 30d] [-admin-cluster-admins] [-db URL | -db-config FILE]\n\nWrites DIR/pki (CAs, leaves, sa.key/sa.pub; keys 0600, directories 0700), DIR/token.csv,\nDIR/kubeconfig/*.kubeconfig, and records every certificate in DIR/certs.db (or -db).\nRe-running keeps valid files, creates missing ones and re-issues leaves that no longer match\nthe inventory or CA. -renew-within re-issues leaves expiring within that time; CAs and sa.key\nare never replaced automatically (it reports them instead).",
    flags: &[
        "f",
        "o",
        "renew-within",
        "admin-cluster-admins",
        "db",
        "db-config",
    ],
    run: run_init,
};

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::run_sub(&COMMAND, &[&INIT], p, ctx)
}

/// One line of the summary.
struct Row {
    status: &'static str,
    file: String,
    detail: String,
}

struct Run<'a> {
    out: PathBuf,
    inv: Inventory,
    plan: Plan,
    signing: crate::config::Signing,
    renew: Option<Duration>,
    now: OffsetDateTime,
    db: &'a CertDb,
    cas: BTreeMap<CaId, Ca>,
    rows: Vec<Row>,
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path.display().to_string(), &e)),
    }
}

fn expires(t: OffsetDateTime) -> String {
    format!("expires {}", crate::certinfo::rfc3339(t))
}

impl Run<'_> {
    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.out).unwrap_or(p).display().to_string()
    }

    fn row(&mut self, status: &'static str, path: &Path, detail: String) {
        let file = self.rel(path);
        self.rows.push(Row {
            status,
            file,
            detail,
        });
    }

    fn paths(&self, id: &str) -> (PathBuf, PathBuf) {
        let pki = self.out.join("pki");
        (
            pki.join(format!("{id}.pem")),
            pki.join(format!("{id}-key.pem")),
        )
    }

    async fn ca(&mut self, spec: &cluster::CertSpec) -> Result<()> {
        let (cert_path, key_path) = self.paths(&spec.id);
        let cert = read_opt(&cert_path)?;
        let key = read_opt(&key_path)?;
        let ca = match (cert, key) {
            (None, None) => {
                let ss = issue::init_ca(&spec.request(&self.inv)?, None)?;
                let rec = cluster::issued_from_ca(&ss.cert_pem, &spec.cn)?;
                issue::commit(Some(self.db), &rec).await?;
                write_atomic(&key_path, ss.key.to_cfssl_pem()?.as_bytes(), 0o600)?;
                write_atomic(&cert_path, ss.cert_pem.as_bytes(), 0o644)?;
                self.row(
                    "created",
                    &cert_path,
                    format!("CA {}, {}", spec.cn, expires(rec.not_after)),
                );
                Ca::new(ss.cert_pem.as_bytes(), ss.key)?
            }
            (Some(c), Some(k)) => {
                let id = &spec.id;
                let key = PrivateKey::from_pem(&k, None).map_err(|e| {
                    Error::Policy(
                        5300,
                        format!(
                            "pki/{id}-key.pem: {}; kpki never replaces a CA by itself",
                            e.message()
                        ),
                    )
                })?;
                let warning = cluster::check_ca(id, &c, &key, self.now, self.renew)?;
                let ca = Ca::new(&c, key)?;
                let detail = match warning {
                    Some(w) => w,
                    None => format!("CA {}, {}", spec.cn, expires(ca.not_after)),
                };
                self.row("kept", &cert_path, detail);
                ca
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Policy(
                    5300,
                    format!(
                        "only one of pki/{0}.pem and pki/{0}-key.pem exists; restore the other, or remove both to create a new CA (everything it signed is then re-issued)",
                        spec.id
                    ),
                ));
            }
        };
        self.cas.insert(spec.ca, ca);
        Ok(())
    }

    async fn leaf(&mut self, spec: &cluster::CertSpec) -> Result<()> {
        let (cert_path, key_path) = self.paths(&spec.id);
        let Some(ca) = self.cas.get(&spec.ca) else {
            return Err(Error::Internal(format!("no CA for {}", spec.id)));
        };
        let cert = read_opt(&cert_path)?;
        let key = read_opt(&key_path)?;
        let decision = match (&cert, &key) {
            (Some(c), Some(k)) => {
                let key = PrivateKey::from_pem(k, None).ok();
                cluster::check_leaf(spec, c, key.as_ref(), &ca.cert_der, self.now, self.renew)
            }
            _ => Decision::Issue("missing".into()),
        };
        let reason = match decision {
            Decision::Keep => {
                let (_, f) = cluster::cert_facts(cert.as_deref().unwrap_or_default())?;
                self.row(
                    "kept",
                    &cert_path,
                    format!("{}, {}", spec.cn, expires(f.not_after)),
                );
                return Ok(());
            }
            Decision::Issue(r) => r,
        };
        let label = ca_label(spec.ca);
        let nc = issue::new_cert(
            ca,
            &self.signing,
            &spec.request(&self.inv)?,
            spec.kind.profile(),
            label,
        )?;
        issue::commit(Some(self.db), &nc.issued).await?;
        // The certificate it replaces is superseded (RFC 5280 reason 4) in the database.
        if let Some(old) = cert.as_deref().and_then(|c| cluster::cert_facts(c).ok())
            && cluster::signed_by(&old.0, &ca.cert_der)
        {
            match self.db.revoke(&old.1.serial, &ca.aki_hex(), 4).await {
                Ok(()) | Err(Error::CertStore(11200, _)) => {}
                Err(e) => return Err(e),
            }
        }
        write_atomic(&key_path, nc.key_pem.as_bytes(), 0o600)?;
        write_atomic(&cert_path, nc.issued.cert_pem.as_bytes(), 0o644)?;
        let (status, why) = if reason == "missing" {
            ("created", String::new())
        } else {
            ("renewed", format!(" ({reason})"))
        };
        self.row(
            status,
            &cert_path,
            format!("{}, {}{why}", spec.cn, expires(nc.issued.not_after)),
        );
        Ok(())
    }

    /// sa.key / sa.pub: the service-account signing pair. Like a CA, an existing sa.key is
    /// never replaced (every service account token would become invalid).
    fn service_account(&mut self) -> Result<()> {
        let (key_path, pub_path) = (self.out.join("pki/sa.key"), self.out.join("pki/sa.pub"));
        let key = match read_opt(&key_path)? {
            Some(k) => {
                let key = PrivateKey::from_pem(&k, None).map_err(|e| {
                    Error::Policy(
                        5300,
                        format!(
                            "pki/sa.key: {}; kpki never replaces it by itself (service account tokens depend on it)",
                            e.message()
                        ),
                    )
                })?;
                self.row("kept", &key_path, "service account signing key".into());
                key
            }
            None => {
                let key = PrivateKey::generate(self.inv.key_algo()?)?;
                write_atomic(&key_path, key.to_cfssl_pem()?.as_bytes(), 0o600)?;
                self.row("created", &key_path, "service account signing key".into());
                key
            }
        };
        let want = pem_encode("PUBLIC KEY", &key.spki_der());
        match read_opt(&pub_path)? {
            Some(b) if b == want.as_bytes() => {
                self.row("kept", &pub_path, "public half of sa.key".into())
            }
            old => {
                write_atomic(&pub_path, want.as_bytes(), 0o644)?;
                let st = if old.is_some() { "renewed" } else { "created" };
                self.row(st, &pub_path, "public half of sa.key".into());
            }
        }
        Ok(())
    }

    /// token.csv with the kubelet-bootstrap line; returns its token.
    fn token_csv(&mut self) -> Result<String> {
        let path = self.out.join("token.csv");
        let user = cluster::BOOTSTRAP_USER;
        let mut text = read_opt(&path)?.unwrap_or_default();
        let existed = !text.is_empty();
        if existed {
            let f = crate::token::check_token_file(&text);
            if f.is_fatal() {
                return Err(Error::BadRequest(format!(
                    "{} has lines kube-apiserver refuses; run `kpki token check` on it",
                    path.display()
                )));
            }
            if let Some(r) = f.records.iter().find(|r| r.user() == user) {
                let t = r.token().to_string();
                self.row("kept", &path, format!("static token for {user}"));
                return Ok(t);
            }
            if !text.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
        let token = crate::token::static_token()?;
        let line = crate::token::csv_line(
            &token,
            user,
            "10001",
            &["system:kubelet-bootstrap".to_string()],
        )?;
        text.extend_from_slice(line.as_bytes());
        write_atomic(&path, &text, 0o600)?;
        let st = if existed { "renewed" } else { "created" };
        self.row(
            st,
            &path,
            format!("static token for {user} (group system:kubelet-bootstrap)"),
        );
        Ok(token)
    }

    fn kubeconfigs(&mut self, bootstrap_token: &str) -> Result<()> {
        let ca_pem = match self.cas.get(&CaId::Kubernetes) {
            Some(ca) => ca.cert_pem(),
            None => return Err(Error::Internal("no cluster CA".into())),
        };
        for spec in self.plan.kubeconfigs.clone() {
            let credential = match &spec.cert {
                Some(id) => {
                    let (c, k) = self.paths(id);
                    Credential::ClientCert {
                        cert: Material::Data(
                            std::fs::read(&c)
                                .map_err(|e| Error::io(&c.display().to_string(), &e))?,
                        ),
                        key: Material::Data(
                            std::fs::read(&k)
                                .map_err(|e| Error::io(&k.display().to_string(), &e))?,
                        ),
                    }
                }
                None => Credential::Token(bootstrap_token.to_string()),
            };
            let kc = Kubeconfig {
                cluster: self.inv.name.clone(),
                server: self.inv.endpoint(),
                ca: Some(Material::Data(ca_pem.clone().into_bytes())),
                user: spec.user.clone(),
                credential,
                context: "default".into(),
            };
            let text = kc.render()?;
            let path = self.out.join("kubeconfig").join(&spec.file);
            let detail = format!("user {} → {}", spec.user, kc.server);
            match read_opt(&path)? {
                Some(b) if b == text.as_bytes() => self.row("kept", &path, detail),
                old => {
                    write_atomic(&path, text.as_bytes(), 0o600)?;
                    let st = if old.is_some() { "renewed" } else { "created" };
                    self.row(st, &path, detail);
                }
            }
        }
        Ok(())
    }
}

fn ca_label(id: CaId) -> &'static str {
    match id {
        CaId::Etcd => "etcd-ca",
        CaId::Kubernetes => "kubernetes",
        CaId::FrontProxy => "front-proxy-ca",
    }
}

fn run_init(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::want_args(p, 0, &INIT, "no arguments")?;
    let out = p.str("o");
    if out.is_empty() {
        return Err(CliError::Usage("-o DIR is required".into()));
    }
    let f = p.str("f");
    let inv = cluster::parse_inventory(&read_arg(&f, ctx.stdin)?)?;
    let renew = match p.str("renew-within") {
        s if s.is_empty() => None,
        s => Some(crate::duration::parse_human(&s)?),
    };
    let plan = cluster::plan(&inv, p.bool("admin-cluster-admins"))?;
    let (_, leaf) = inv.validities()?;
    let signing = cluster::signing(leaf)?;
    let out = PathBuf::from(out);
    for d in ["", "pki", "pki/etcd", "kubeconfig"] {
        create_private_dir(&out.join(d))?;
    }
    let url = match super::record::db_url(p)? {
        Some(u) => u,
        None => format!("sqlite://{}", out.join("certs.db").display()),
    };
    let rows = super::record::runtime()?.block_on(async {
        let db = CertDb::connect(&url).await?;
        let mut run = Run {
            out: out.clone(),
            inv,
            plan: plan.clone(),
            signing,
            renew,
            now: OffsetDateTime::now_utc(),
            db: &db,
            cas: BTreeMap::new(),
            rows: Vec::new(),
        };
        let r = async {
            for spec in plan.certs.iter() {
                if spec.kind == Kind::Ca {
                    run.ca(spec).await?;
                } else {
                    run.leaf(spec).await?;
                }
            }
            run.service_account()?;
            let token = run.token_csv()?;
            run.kubeconfigs(&token)?;
            Ok::<(), Error>(())
        }
        .await;
        let rows = std::mem::take(&mut run.rows);
        drop(run);
        let closed = db.close().await;
        r.and(closed).map(|_| rows)
    })?;
    let _ = writeln!(ctx.stdout, "{:<8} {:<46} DETAIL", "STATUS", "FILE");
    for r in &rows {
        let _ = writeln!(ctx.stdout, "{:<8} {:<46} {}", r.status, r.file, r.detail);
    }
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let _ = writeln!(
        ctx.stdout,
        "{} created, {} kept, {} renewed in {} (database {})",
        count("created"),
        count("kept"),
        count("renewed"),
        out.display(),
        crate::db::redact_url(&url)
    );
    Ok(())
}
