//! `expiry`: what expires when — certificates in files under `-dir` (PEM files and certificates
//! embedded in kubeconfigs), valid certificates and active bootstrap tokens in the database —
//! sorted by time left. Exit status 1 when anything expires within `-within` (for cron and
//! monitoring). Reads only.

use super::flags::Parsed;
use super::{CliError, CmdResult, Command, Ctx};
use crate::db::ListFilter;
use crate::error::{Error, Result};
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// The command.
pub const COMMAND: Command = Command {
    name: "expiry",
    summary: "report certificate and bootstrap token expiry; exit 1 when something expires soon",
    usage: "Usage of expiry:\n        kpki expiry [-dir DIR] [-db URL | -db-config FILE] [-within 30d] [-json]\n\nExit status 1 when anything listed expires within -within (default 720h) or has expired.",
    flags: &["dir", "db", "db-config", "within", "json"],
    run,
};

/// One thing that expires.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// `certificate` or `bootstrap-token`
    pub kind: &'static str,
    /// subject CN or token id
    pub subject: String,
    /// where it was found
    pub source: String,
    /// expiry (None: never)
    #[serde(serialize_with = "ser_time")]
    pub expires: Option<OffsetDateTime>,
    /// seconds left (negative when expired; None: never)
    pub seconds_left: Option<i64>,
    /// within the threshold (or expired)
    pub expiring: bool,
}

fn ser_time<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::certinfo::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// A certificate found under -dir.
struct DiskCert {
    cn: String,
    source: String,
    not_after: OffsetDateTime,
    /// decimal, as the database stores it
    serial: String,
}

const MAX_FILE: u64 = 1 << 20;
const MAX_FILES: usize = 100_000;

/// Certificates in one file's bytes: every CERTIFICATE PEM block, or a kubeconfig's embedded ones.
fn certs_in(data: &[u8], source: &str, out: &mut Vec<DiskCert>) {
    if data.contains(&0) {
        return; // binary (the database itself, archives): the database is read with -db
    }
    let text = String::from_utf8_lossy(data);
    if text.contains("-----BEGIN CERTIFICATE-----") {
        if let Ok(blocks) = pem::parse_many(data) {
            for (i, b) in blocks
                .iter()
                .filter(|b| b.tag() == "CERTIFICATE")
                .enumerate()
            {
                if let Ok(f) = crate::cluster::facts_of_der(b.contents()) {
                    let src = if i == 0 {
                        source.to_string()
                    } else {
                        format!("{source} (certificate {})", i + 1)
                    };
                    out.push(DiskCert {
                        cn: f.cn,
                        source: src,
                        not_after: f.not_after,
                        serial: f.serial,
                    });
                }
            }
        }
        return;
    }
    if text.contains("kind: Config")
        && let Ok(emb) = crate::kubeconfig::embedded_certificates(data)
    {
        for e in emb {
            certs_in(&e.pem, &format!("{source} ({})", e.location), out);
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<DiskCert>, seen: &mut usize) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(&dir.display().to_string(), &e))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        *seen += 1;
        if *seen > MAX_FILES {
            return Err(Error::BadRequest(format!(
                "more than {MAX_FILES} files under the -dir; point it at the PKI directory"
            )));
        }
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out, seen)?;
        } else if ft.is_file()
            && e.metadata().is_ok_and(|m| m.len() <= MAX_FILE)
            && let Ok(data) = std::fs::read(&p)
        {
            certs_in(&data, &p.display().to_string(), out);
        }
    }
    Ok(())
}

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    super::want_args(p, 0, &COMMAND, "no arguments")?;
    let within = crate::duration::parse_human(&p.str("within"))?;
    let dir = p.str("dir");
    let url = super::record::db_url(p)?;
    if dir.is_empty() && url.is_none() {
        return Err(CliError::Usage(format!(
            "give -dir and/or -db\n{}",
            super::flags::usage(COMMAND.usage, COMMAND.flags)
        )));
    }
    let now = OffsetDateTime::now_utc();
    let mut certs = Vec::new();
    if !dir.is_empty() {
        let mut seen = 0;
        walk(Path::new(&dir), &mut certs, &mut seen)?;
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mk = |kind, subject, source, expires: Option<OffsetDateTime>| {
        let left = expires.map(|e| (e - now).whole_seconds());
        Entry {
            kind,
            subject,
            source,
            expires,
            seconds_left: left,
            expiring: left.is_some_and(|l| l <= within.whole_seconds()),
        }
    };
    // A certificate both on disk and in the database is listed once, by its file.
    let on_disk: std::collections::HashSet<String> =
        certs.iter().map(|c| c.serial.clone()).collect();
    for c in certs {
        entries.push(mk("certificate", c.cn, c.source, Some(c.not_after)));
    }
    if let Some(url) = url {
        let (rows, tokens) = super::record::runtime()?.block_on(async {
            let db = crate::db::CertDb::connect(&url).await?;
            let r = async {
                let f = ListFilter {
                    status: Some("good".into()),
                    expiring_within: Some(Duration::days(365 * 200)),
                    limit: crate::db::MAX_LIST_LIMIT,
                    ..Default::default()
                };
                Ok::<_, Error>((db.list_certificates(&f).await?, db.list_tokens().await?))
            }
            .await;
            let _ = db.close().await;
            r
        })?;
        let src = crate::db::redact_url(&url);
        for r in rows
            .into_iter()
            .filter(|r| !on_disk.contains(&r.serial_number))
        {
            entries.push(mk(
                "certificate",
                r.common_name.clone(),
                format!("{src} (serial {})", r.serial_number),
                Some(r.expiry),
            ));
        }
        for t in tokens {
            if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) {
                continue; // deleted or already expired: not usable, nothing to watch
            }
            entries.push(mk(
                "bootstrap-token",
                t.token_id.clone(),
                src.clone(),
                t.expires_at,
            ));
        }
    }
    entries.sort_by_key(|e| (e.expires.is_none(), e.expires));
    let expiring = entries.iter().filter(|e| e.expiring).count();
    if p.bool("json") {
        let _ = writeln!(
            ctx.stdout,
            "{}",
            serde_json::to_string_pretty(&entries).unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            ctx.stdout,
            "{:<9} {:<21} {:<8} {:<16} {:<36} SOURCE",
            "STATE", "EXPIRES", "LEFT", "KIND", "SUBJECT"
        );
        for e in &entries {
            let (exp, left) = match (e.expires, e.seconds_left) {
                (Some(t), Some(l)) => (
                    crate::certinfo::rfc3339(t),
                    crate::cluster::human(Duration::seconds(l)),
                ),
                _ => ("<never>".into(), "-".into()),
            };
            let state = match e.seconds_left {
                Some(l) if l <= 0 => "EXPIRED",
                _ if e.expiring => "EXPIRING",
                _ => "ok",
            };
            let _ = writeln!(
                ctx.stdout,
                "{:<9} {:<21} {:<8} {:<16} {:<36} {}",
                state, exp, left, e.kind, e.subject, e.source
            );
        }
        let _ = writeln!(
            ctx.stdout,
            "{} item(s), {expiring} expiring within {}",
            entries.len(),
            crate::cluster::human(within)
        );
    }
    if expiring > 0 {
        return Err(CliError::Exit(1));
    }
    Ok(())
}
