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
/// Valid certificates read from a database (the soonest-expiring first), as `kpki certs -limit`.
const MAX_EXPIRY_ROWS: usize = 1_000_000;

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
                    ..Default::default()
                };
                // Every valid certificate, page by page (one page held 10,000), up to kpki certs'
                // own bound.
                let all = db.list_certificates_all(&f, MAX_EXPIRY_ROWS).await?;
                Ok::<_, Error>((all, db.list_tokens().await?))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::CertificateRequest;
    use serde_json::Value;

    /// A self-signed certificate valid from `start` (rounded to the minute, backdated 5 min) for
    /// `lifetime` (Go duration): (PEM, serial).
    fn cert(cn: &str, start: OffsetDateTime, lifetime: &str) -> (String, String) {
        let req = CertificateRequest::from_json(
            format!(
                r#"{{"CN":"{cn}","key":{{"algo":"ecdsa","size":256}},"ca":{{"expiry":"{lifetime}"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let key = crate::keys::PrivateKey::generate(req.key_algo().unwrap()).unwrap();
        let (der, _) = crate::csr::csr_for_key(&req, &key).unwrap();
        let parsed = crate::csr::parse_own_der(&der).unwrap();
        let t =
            crate::policy::ca_template(&req, &parsed, start, crate::signer::new_serial().unwrap())
                .unwrap();
        let der = crate::signer::self_sign(&key, &t).unwrap();
        (
            crate::keys::pem_encode("CERTIFICATE", &der),
            crate::signer::serial_decimal(&t.serial),
        )
    }

    /// Runs `expiry` with `args`: (result, stdout).
    fn expiry(args: &[&str]) -> (CmdResult, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut ctx = Ctx {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        };
        let r = super::super::run_command(&COMMAND, &args, &mut ctx);
        (r, String::from_utf8(out).unwrap())
    }

    fn json_entries(args: &[&str]) -> (CmdResult, Vec<Value>) {
        let mut a = args.to_vec();
        a.push("-json");
        let (r, out) = expiry(&a);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        (r, v.as_array().unwrap().clone())
    }

    fn near(v: &Value, want: i64) -> bool {
        v.as_i64().is_some_and(|s| (s - want).abs() < 600)
    }

    #[test]
    fn needs_dir_or_db_and_no_arguments() {
        assert!(matches!(expiry(&[]).0, Err(CliError::Usage(m)) if m.starts_with("give -dir")));
        assert!(matches!(
            expiry(&["-dir", ".", "extra"]).0,
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            expiry(&["-dir", "/nonexistent/kpki-expiry"]).0,
            Err(CliError::Failed(_))
        ));
    }

    #[test]
    fn files_under_dir() {
        let now = OffsetDateTime::now_utc();
        let d = tempfile::tempdir().unwrap();
        let (long, _) = cert("long", now, "43800h");
        let (soon, _) = cert("soon", now, "100h");
        let (gone, _) = cert("gone", now - Duration::hours(3), "1h");
        let (kube, _) = cert("kube-ca", now, "8760h");
        std::fs::write(d.path().join("a.pem"), &long).unwrap();
        // a bundle: the second certificate is named by its position
        std::fs::write(d.path().join("b.pem"), format!("{soon}{gone}")).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/c.pem"), &long).unwrap();
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&kube)
        };
        std::fs::write(
            d.path().join("admin.conf"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    \
                 server: https://127.0.0.1:6443\n    certificate-authority-data: {b64}\n"
            ),
        )
        .unwrap();
        // skipped: binary files (a NUL byte) and files over 1 MiB; other PEM blocks are ignored
        std::fs::write(d.path().join("bin"), format!("\0{soon}")).unwrap();
        let mut big = soon.clone().into_bytes();
        big.resize(MAX_FILE as usize + 1, b'\n');
        std::fs::write(d.path().join("big.pem"), big).unwrap();
        std::fs::write(
            d.path().join("key.pem"),
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n\
             -----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let dir = d.path().display().to_string();
        let (r, e) = json_entries(&["-dir", &dir, "-within", "30d"]);
        assert!(matches!(r, Err(CliError::Exit(1))), "{r:?}");
        let got: Vec<(&str, &str, bool)> = e
            .iter()
            .map(|e| {
                (
                    e["subject"].as_str().unwrap(),
                    e["source"].as_str().unwrap(),
                    e["expiring"].as_bool().unwrap(),
                )
            })
            .collect();
        let a = format!("{dir}/a.pem");
        let b2 = format!("{dir}/b.pem (certificate 2)");
        let b = format!("{dir}/b.pem");
        let c = format!("{dir}/sub/c.pem");
        let k = format!("{dir}/admin.conf (cluster k certificate-authority-data)");
        assert_eq!(
            got,
            [
                ("gone", b2.as_str(), true),
                ("soon", b.as_str(), true),
                ("kube-ca", k.as_str(), false),
                ("long", a.as_str(), false),
                ("long", c.as_str(), false),
            ]
        );
        assert!(e.iter().all(|e| e["kind"] == "certificate"));
        assert!(near(&e[0]["seconds_left"], -2 * 3600), "{:?}", e[0]);
        assert!(near(&e[1]["seconds_left"], 100 * 3600), "{:?}", e[1]);
        assert!(near(&e[3]["seconds_left"], 43800 * 3600), "{:?}", e[3]);
        let exp = e[1]["expires"].as_str().unwrap();
        assert!(exp.ends_with('Z') && exp.len() == 20, "{exp}");

        // the table: state, expiry, time left, kind, subject, source
        let (r, out) = expiry(&["-dir", &dir, "-within", "30d"]);
        assert!(matches!(r, Err(CliError::Exit(1))));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert!(lines[0].starts_with("STATE     EXPIRES"), "{out}");
        let row = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
        assert_eq!(row(1)[0], "EXPIRED");
        assert_eq!(row(1)[2], "-2h");
        assert_eq!(row(2)[0], "EXPIRING");
        assert_eq!(row(2)[2], "4d");
        assert_eq!(row(2)[1], exp);
        assert_eq!(row(3)[0], "ok");
        assert_eq!(row(3)[3], "certificate");
        assert_eq!(row(3)[4], "kube-ca");
        assert_eq!(lines[6], "5 item(s), 2 expiring within 30d");

        // nothing within the threshold: exit 0
        let ok = tempfile::tempdir().unwrap();
        std::fs::write(ok.path().join("a.pem"), &long).unwrap();
        let (r, out) = expiry(&["-dir", ok.path().to_str().unwrap()]);
        assert!(r.is_ok(), "{r:?}");
        assert!(out.ends_with("1 item(s), 0 expiring within 30d\n"), "{out}");
    }

    #[test]
    fn database_certificates_and_tokens() {
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let d = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", d.path().join("certs.db").display());
        let (disk, disk_serial) = cert("disk", now, "8760h");
        std::fs::write(d.path().join("disk.pem"), &disk).unwrap();
        let row = |serial: &str, cn: &str, status: &str, expiry: OffsetDateTime| {
            crate::db::CertificateRecord {
                serial_number: serial.into(),
                authority_key_identifier: "aa".into(),
                ca_label: String::new(),
                status: status.into(),
                reason: 0,
                expiry,
                revoked_at: None,
                pem: String::new(),
                issued_at: now,
                not_before: now,
                metadata: None,
                sans: None,
                common_name: cn.into(),
                profile: String::new(),
            }
        };
        let token = |id: &str, expires_at, revoked_at| crate::db::TokenRecord {
            token_id: id.into(),
            secret_hash: "h".into(),
            expires_at,
            groups: vec![],
            usages: vec![],
            description: String::new(),
            created_at: now,
            revoked_at,
        };
        super::super::record::runtime().unwrap().block_on(async {
            let db = crate::db::CertDb::connect(&url).await.unwrap();
            for r in [
                row("11", "in-a-year", "good", now + Duration::days(366)),
                row("12", "in-600-days", "good", now + Duration::days(600)),
                row("13", "in-10-days", "good", now + Duration::days(10)),
                row("14", "revoked", "revoked", now + Duration::days(20)),
                row("15", "expired", "good", now - Duration::days(1)),
                row(
                    &disk_serial,
                    "disk-in-db",
                    "good",
                    now + Duration::days(365),
                ),
            ] {
                db.insert_certificate(&r).await.unwrap();
            }
            for t in [
                token("aaaaaa", None, None),
                token("bbbbbb", Some(now + Duration::days(5)), None),
                token("cccccc", None, Some(now)),
                token("dddddd", Some(now - Duration::hours(1)), None),
                token("eeeeee", Some(now + Duration::days(5)), Some(now)),
            ] {
                db.insert_token(&t).await.unwrap();
            }
            db.close().await.unwrap();
        });
        let dir = d.path().join("disk.pem").display().to_string();
        // -dir accepts a directory only; the database file itself is binary and skipped
        let (r, e) = json_entries(&["-db", &url, "-dir", d.path().to_str().unwrap()]);
        assert!(matches!(r, Err(CliError::Exit(1))), "{r:?}");
        let got: Vec<(&str, &str, &str, bool)> = e
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap(),
                    e["subject"].as_str().unwrap(),
                    e["source"].as_str().unwrap(),
                    e["expiring"].as_bool().unwrap(),
                )
            })
            .collect();
        let src = crate::db::redact_url(&url);
        let s = |serial: &str| format!("{src} (serial {serial})");
        let (s13, s11, s12) = (s("13"), s("11"), s("12"));
        assert_eq!(
            got,
            [
                ("bootstrap-token", "bbbbbb", src.as_str(), true),
                ("certificate", "in-10-days", s13.as_str(), true),
                ("certificate", "disk", dir.as_str(), false),
                ("certificate", "in-a-year", s11.as_str(), false),
                ("certificate", "in-600-days", s12.as_str(), false),
                ("bootstrap-token", "aaaaaa", src.as_str(), false),
            ]
        );
        assert_eq!(e[5]["expires"], Value::Null);
        assert_eq!(e[5]["seconds_left"], Value::Null);
        let (_, out) = expiry(&["-db", &url]);
        let never = out
            .lines()
            .find(|l| l.contains("aaaaaa"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>();
        assert_eq!(never[..4], ["ok", "<never>", "-", "bootstrap-token"]);
    }
}
