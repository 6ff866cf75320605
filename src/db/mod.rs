//! The certificate database: records of issued certificates, revocation, CRL numbers, bootstrap
//! tokens and authsign replay protection, behind one `CertDb` whose backend is picked by URL scheme.
//! It stores and finds records; it knows nothing of X.509 policy, signing, HTTP or the CLI.

pub mod sqlite;
mod writeback;
mod writer;

use std::path::Path;

use serde::Serialize;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{Error, Result};

/// Largest `ListFilter::limit` honoured; larger values are clamped (page with `after` instead).
pub const MAX_LIST_LIMIT: u32 = 10_000;

/// Certificate status values stored in `certificates.status` (cfssl's vocabulary).
pub const STATUSES: [&str; 3] = ["good", "revoked", "unknown"];

/// One row of cfssl's `certificates` table, plus kpki's `profile`. Reading rows written by
/// cfssl: NULL text reads as `""`, NULL timestamps (cfssl before its migration 002) as the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateRecord {
    /// Serial number in decimal, as cfssl stores it.
    pub serial_number: String,
    /// Authority key identifier of the issued certificate: lowercase hex, no colons.
    pub authority_key_identifier: String,
    /// cfssl label of the CA that signed (`""` when none).
    pub ca_label: String,
    /// `good`, `revoked` or `unknown`.
    pub status: String,
    /// CRL reason code (RFC 5280 5.3.1); 0 unless revoked.
    pub reason: i64,
    /// notAfter of the certificate.
    #[serde(serialize_with = "serde_time::rfc3339")]
    pub expiry: OffsetDateTime,
    /// When it was revoked (cfssl stores the zero time `0001-01-01` for "never"; read back as None).
    #[serde(serialize_with = "serde_time::rfc3339_opt")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The certificate, PEM.
    pub pem: String,
    /// When it was issued (stored to the second).
    #[serde(serialize_with = "serde_time::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// notBefore of the certificate.
    #[serde(serialize_with = "serde_time::rfc3339")]
    pub not_before: OffsetDateTime,
    /// JSON text of the request metadata (cfssl stores `null` when absent).
    pub metadata: Option<String>,
    /// JSON array text of the DNS SANs (cfssl: DNS names only; None when there are none).
    pub sans: Option<String>,
    /// Subject common name (`""` allowed).
    pub common_name: String,
    /// Signing profile used (kpki extension; `""` for rows written by cfssl).
    pub profile: String,
}

impl CertificateRecord {
    /// The keyset-pagination cursor of this row, for `ListFilter::after`: (expiry text, serial).
    pub fn cursor(&self) -> Result<(String, String)> {
        Ok((format_db_time(self.expiry)?, self.serial_number.clone()))
    }
}

/// Which certificates `CertDb::list_certificates` returns. All conditions are ANDed; rows come
/// ordered by (expiry, serial_number).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only rows with this status (`good`, `revoked`, `unknown`).
    pub status: Option<String>,
    /// Only rows not yet expired whose expiry is at most now + this duration.
    /// Combine with `status: Some("good")` for "valid and expiring soon".
    pub expiring_within: Option<time::Duration>,
    /// Only rows with exactly this common name.
    pub common_name: Option<String>,
    /// Only rows with exactly this authority key identifier.
    pub aki: Option<String>,
    /// Maximum number of rows (clamped to `MAX_LIST_LIMIT`; 0 returns nothing).
    pub limit: u32,
    /// Keyset pagination: only rows strictly after this (expiry text, serial) cursor, as returned by
    /// `CertificateRecord::cursor` for the last row of the previous page. Two rows with the same
    /// expiry and serial under different AKIs count as one position (filter by `aki` to avoid it).
    pub after: Option<(String, String)>,
}

/// A Kubernetes bootstrap token. Only a hash of the secret is ever stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// The public token id (`[a-z0-9]{6}`).
    pub token_id: String,
    /// Hash of the secret part (the secret itself is never stored).
    pub secret_hash: String,
    /// When the token stops being valid; None for no expiry.
    #[serde(serialize_with = "serde_time::rfc3339_opt")]
    pub expires_at: Option<OffsetDateTime>,
    /// Extra groups (stored comma-separated, so no element may contain a comma).
    pub groups: Vec<String>,
    /// Usages, e.g. `authentication`, `signing` (stored comma-separated).
    pub usages: Vec<String>,
    /// Free text.
    pub description: String,
    /// When it was created (stored to the second).
    #[serde(serialize_with = "serde_time::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was deleted (revoked); None while active.
    #[serde(serialize_with = "serde_time::rfc3339_opt")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Counters of the certificate-insert writer since `connect` (for metrics and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InsertStats {
    /// Group-commit transactions committed (each one durable write for many rows).
    pub transactions: u64,
    /// Certificate rows committed.
    pub rows: u64,
    /// Batches that failed as a whole and were retried row by row.
    pub fallbacks: u64,
}

/// The certificate database. The variant is chosen by the URL scheme given to `connect`; callers
/// only use the methods, so adding a backend (PostgreSQL) does not touch them.
#[derive(Clone, Debug)]
pub enum CertDb {
    /// SQLite file (or in-memory database for tests).
    Sqlite(sqlite::SqliteDb),
}

impl CertDb {
    /// Opens (creating if missing) the database at `url` and applies pending migrations.
    /// Supported: `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<CertDb> {
        match url_scheme(url) {
            Some("sqlite") => Ok(CertDb::Sqlite(sqlite::SqliteDb::connect(url).await?)),
            Some(other) => Err(Error::Policy(
                5200,
                format!(
                    "unsupported database URL scheme \"{other}\" (supported: sqlite://PATH, sqlite::memory:)"
                ),
            )),
            None => Err(Error::Policy(
                5200,
                "invalid database URL: no scheme (supported: sqlite://PATH, sqlite::memory:)"
                    .into(),
            )),
        }
    }

    /// Stores a newly issued certificate. Returns only after the row is durably committed.
    /// A duplicate (serial, AKI) is an 11100 error.
    pub async fn insert_certificate(&self, rec: &CertificateRecord) -> Result<()> {
        match self {
            CertDb::Sqlite(db) => db.insert_certificate(rec).await,
        }
    }

    /// Counters of the insert writer (group commit).
    pub fn insert_stats(&self) -> InsertStats {
        match self {
            CertDb::Sqlite(db) => db.insert_stats(),
        }
    }

    /// The certificate with this exact serial and AKI, if any.
    pub async fn get_certificate(
        &self,
        serial: &str,
        aki: &str,
    ) -> Result<Option<CertificateRecord>> {
        match self {
            CertDb::Sqlite(db) => db.get_certificate(serial, aki).await,
        }
    }

    /// All certificates with this serial (any issuer).
    pub async fn get_by_serial(&self, serial: &str) -> Result<Vec<CertificateRecord>> {
        match self {
            CertDb::Sqlite(db) => db.get_by_serial(serial).await,
        }
    }

    /// Marks a certificate revoked now with `reason`. Serial and AKI match exactly (cfssl compat).
    /// No such row → 11200 "failed to revoke the certificate: certificate not found".
    pub async fn revoke(&self, serial: &str, aki: &str, reason: i64) -> Result<()> {
        match self {
            CertDb::Sqlite(db) => db.revoke(serial, aki, reason).await,
        }
    }

    /// Certificates matching `filter`, ordered by (expiry, serial_number).
    pub async fn list_certificates(&self, filter: &ListFilter) -> Result<Vec<CertificateRecord>> {
        match self {
            CertDb::Sqlite(db) => db.list_certificates(filter).await,
        }
    }

    /// Up to `limit` certificates matching `filter` (its own `limit` ignored), however many pages
    /// of `MAX_LIST_LIMIT` rows that takes: the CLI's listings (`kpki certs -limit`, `kpki expiry`)
    /// page with the keyset cursor instead of stopping silently at one page.
    pub async fn list_certificates_all(
        &self,
        filter: &ListFilter,
        limit: usize,
    ) -> Result<Vec<CertificateRecord>> {
        let mut rows: Vec<CertificateRecord> = Vec::new();
        let mut page = filter.clone();
        while rows.len() < limit {
            page.limit = (limit - rows.len()).min(MAX_LIST_LIMIT as usize) as u32;
            let got = self.list_certificates(&page).await?;
            let full = got.len() == page.limit as usize;
            match got.last() {
                Some(last) => page.after = Some(last.cursor()?),
                None => break,
            }
            rows.extend(got);
            if !full {
                break;
            }
        }
        Ok(rows)
    }

    /// (serial, revoked_at, reason) of the revoked, not yet expired certificates of one issuer:
    /// the entries of its CRL. A revoked row without a revocation time reports its notBefore.
    pub async fn revoked_unexpired(&self, aki: &str) -> Result<Vec<(String, OffsetDateTime, i64)>> {
        match self {
            CertDb::Sqlite(db) => db.revoked_unexpired(aki).await,
        }
    }

    /// The next CRL number for this issuer: 1, 2, 3, ... (RFC 5280 5.2.3), durably recorded.
    pub async fn next_crl_number(&self, aki: &str) -> Result<u64> {
        match self {
            CertDb::Sqlite(db) => db.next_crl_number(aki).await,
        }
    }

    /// The earliest expiry among good, unexpired certificates (for expiry metrics/alerts).
    pub async fn earliest_valid_expiry(&self) -> Result<Option<OffsetDateTime>> {
        match self {
            CertDb::Sqlite(db) => db.earliest_valid_expiry().await,
        }
    }

    /// Number of rows in `certificates`.
    pub async fn count_certificates(&self) -> Result<u64> {
        match self {
            CertDb::Sqlite(db) => db.count_certificates().await,
        }
    }

    /// Stores a new bootstrap token; a duplicate id is an 11100 error.
    pub async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        match self {
            CertDb::Sqlite(db) => db.insert_token(token).await,
        }
    }

    /// The token with this id (also when deleted: check `revoked_at`).
    pub async fn get_token(&self, token_id: &str) -> Result<Option<TokenRecord>> {
        match self {
            CertDb::Sqlite(db) => db.get_token(token_id).await,
        }
    }

    /// All tokens, deleted ones included, ordered by creation time then id.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        match self {
            CertDb::Sqlite(db) => db.list_tokens().await,
        }
    }

    /// Deletes (revokes) a token by setting `revoked_at`. False if no active token had this id.
    pub async fn delete_token(&self, token_id: &str) -> Result<bool> {
        match self {
            CertDb::Sqlite(db) => db.delete_token(token_id).await,
        }
    }

    /// Records an authsign token hash until `expires_at`. True the first time it is seen, false
    /// on a replay (a remembered, unexpired hash). Expired hashes are pruned now and then.
    pub async fn remember_auth_token(
        &self,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        match self {
            CertDb::Sqlite(db) => db.remember_auth_token(token_hash, expires_at).await,
        }
    }

    /// Bulk-inserts `n` synthetic but realistic certificate rows (for benchmarks): 38-digit
    /// serials, ~900-byte PEM-shaped text, expiries from 60 days ago to 3 years ahead, 50,000
    /// distinct CNs. Every `revoked_every`-th row is revoked (0: none). Into an empty table it
    /// works in one transaction holding the write lock throughout (indexes rebuilt at the end);
    /// do not run it against a database that is serving.
    pub async fn fill_synthetic(&self, n: u64, revoked_every: u64, aki: &str) -> Result<()> {
        match self {
            CertDb::Sqlite(db) => db.fill_synthetic(n, revoked_every, aki).await,
        }
    }

    /// Runs the backend's integrity check; `"ok"` when healthy.
    pub async fn integrity_check(&self) -> Result<String> {
        match self {
            CertDb::Sqlite(db) => db.integrity_check().await,
        }
    }

    /// Waits for queued inserts to commit, then closes all connections. Other clones of this
    /// handle get an 11000 "closed" error afterwards.
    pub async fn close(self) -> Result<()> {
        match self {
            CertDb::Sqlite(db) => db.close().await,
        }
    }
}

/// The scheme of a database URL (`sqlite` for `sqlite://x`, `sqlite:x`, `sqlite::memory:`).
fn url_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some(scheme)
}

/// The URL with any password replaced by `***` (userinfo password and `password=` query
/// parameters), safe to log or print.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (body, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    match body.split_once("://") {
        Some((scheme, rest)) => {
            let auth_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(auth_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(body),
    }
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

/// cfssl's `-db-config` file contents.
#[derive(serde::Deserialize)]
struct CfsslDbConfig {
    driver: Option<String>,
    data_source: Option<String>,
}

/// Translates a cfssl `-db-config` JSON (`{"driver":"sqlite3","data_source":"certs.db"}`) into a
/// URL for `CertDb::connect`.
///
/// cfssl compat: a relative sqlite `data_source` is opened by cfssl relative to the *process's
/// working directory*, not the config file's. So `base_dir` must be the working directory the path
/// is meant against: callers that want cfssl behaviour pass `std::env::current_dir()`. Go-sqlite
/// URI forms (`file:certs.db?cache=shared`) are accepted; driver-specific `_xxx` parameters are
/// dropped. Missing or empty fields, or bad JSON, → 5200 "invalid db configuration"; drivers other
/// than sqlite3 → 5200 "... not supported yet".
pub fn url_from_cfssl_config(json: &[u8], base_dir: &Path) -> Result<String> {
    let invalid = || Error::Policy(5200, "invalid db configuration".into());
    let conf: CfsslDbConfig = serde_json::from_slice(json).map_err(|_| invalid())?;
    let driver = conf.driver.filter(|d| !d.is_empty()).ok_or_else(invalid)?;
    let source = conf
        .data_source
        .filter(|d| !d.is_empty())
        .ok_or_else(invalid)?;
    match driver.as_str() {
        "sqlite3" => sqlite_url_from_data_source(&source, base_dir),
        "postgres" | "mysql" => Err(Error::Policy(
            5200,
            format!("db driver \"{driver}\" is not supported yet (supported: sqlite3)"),
        )),
        _ => Err(Error::Policy(
            5200,
            format!("unknown db driver \"{driver}\" (supported: sqlite3)"),
        )),
    }
}

/// A Go sqlite3 data source (path, `:memory:` or `file:` URI) as a `sqlite://` URL.
fn sqlite_url_from_data_source(source: &str, base_dir: &Path) -> Result<String> {
    let (path, params) = match source.strip_prefix("file:") {
        Some(rest) => match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        },
        None => (source, None),
    };
    // Keep only the URI parameters sqlx understands; mattn's `_busy_timeout`, `_fk` ... are set
    // by kpki itself.
    let kept: Vec<&str> = params
        .unwrap_or("")
        .split('&')
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            matches!(key, "mode" | "cache")
        })
        .collect();
    let memory = path == ":memory:" || kept.contains(&"mode=memory");
    if memory {
        return Ok("sqlite::memory:".to_string());
    }
    if path.is_empty() {
        return Err(Error::Policy(5200, "invalid db configuration".into()));
    }
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    };
    let Some(full) = full.to_str() else {
        return Err(Error::Policy(
            5200,
            "invalid db configuration: path is not UTF-8".into(),
        ));
    };
    let mut url = format!("sqlite://{}", encode_path(full));
    if !kept.is_empty() {
        url.push('?');
        url.push_str(&kept.join("&"));
    }
    Ok(url)
}

/// Percent-encodes the characters that sqlx's sqlite URL parser would otherwise take as syntax.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out
}

/// cfssl's sqlite timestamp text: `YYYY-MM-DD HH:MM:SS+00:00`, always UTC.
const DB_TIME_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]+00:00");

/// The date-time part of a stored timestamp, with optional fraction (Go writes nanoseconds).
const DB_TIME_PARSE: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");

/// cfssl's "never" for `revoked_at`.
const ZERO_TIME_TEXT: &str = "0001-01-01 00:00:00+00:00";

/// Formats a timestamp the way cfssl's sqlite rows hold it (UTC, whole seconds), so that string
/// comparison in SQL equals time comparison. Years outside 1..=9999 are refused.
pub fn format_db_time(t: OffsetDateTime) -> Result<String> {
    let out_of_range = || Error::CertStore(11100, format!("timestamp out of range: {t}"));
    let utc = t
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(out_of_range)?;
    if !(1..=9999).contains(&utc.year()) {
        return Err(out_of_range());
    }
    utc.format(DB_TIME_FORMAT).map_err(|_| out_of_range())
}

/// Parses a stored timestamp: cfssl/Go `YYYY-MM-DD HH:MM:SS[.fff…]±HH:MM`, `Z`, `T` separator,
/// or SQLite's zone-less `CURRENT_TIMESTAMP` text (UTC).
pub fn parse_db_time(text: &str) -> Result<OffsetDateTime> {
    let bad = || Error::CertStore(11000, format!("unreadable timestamp in database: {text:?}"));
    let s = text.trim();
    let (datetime, offset) = if let Some(rest) = s.strip_suffix('Z') {
        (rest, UtcOffset::UTC)
    } else if s.len() > 6 && s.is_char_boundary(s.len() - 6) {
        let (head, tail) = s.split_at(s.len() - 6);
        let b = tail.as_bytes();
        if (b[0] == b'+' || b[0] == b'-') && b[3] == b':' && head.len() >= 19 {
            let h: i8 = tail
                .get(1..3)
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?;
            let m: i8 = tail
                .get(4..6)
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?;
            let sign = if b[0] == b'-' { -1 } else { 1 };
            (
                head,
                UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())?,
            )
        } else {
            (s, UtcOffset::UTC)
        }
    } else {
        (s, UtcOffset::UTC)
    };
    let normalized = datetime.replacen('T', " ", 1);
    let pdt = PrimitiveDateTime::parse(&normalized, DB_TIME_PARSE).map_err(|_| bad())?;
    Ok(pdt.assume_offset(offset))
}

/// Like `parse_db_time`, but NULL, empty and cfssl's zero time mean "none".
fn parse_db_time_opt(text: Option<&str>) -> Result<Option<OffsetDateTime>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.starts_with("0001-01-01 00:00:00") || t.starts_with("0001-01-01T00:00:00") => {
            Ok(None)
        }
        Some(t) => parse_db_time(t).map(Some),
    }
}

/// serde helpers: timestamps serialize as RFC 3339 (the `time` crate's serde feature is off).
mod serde_time {
    use serde::Serializer;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn rfc3339<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn rfc3339_opt<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => rfc3339(t, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn db_time_round_trips_in_cfssl_format() {
        let t = datetime!(2027-11-22 01:16:00.75 +02:00);
        let text = format_db_time(t).unwrap();
        assert_eq!(text, "2027-11-21 23:16:00+00:00");
        assert_eq!(
            parse_db_time(&text).unwrap(),
            datetime!(2027-11-21 23:16:00 UTC)
        );
        // Go writes nanoseconds when present; SQLite's CURRENT_TIMESTAMP has no zone.
        assert_eq!(
            parse_db_time("2027-11-22 01:16:00.123456789+00:00").unwrap(),
            datetime!(2027-11-22 01:16:00.123456789 UTC)
        );
        assert_eq!(
            parse_db_time("2026-11-22 01:21:31").unwrap(),
            datetime!(2026-11-22 01:21:31 UTC)
        );
        assert_eq!(
            parse_db_time("2026-11-22T01:21:31Z").unwrap(),
            datetime!(2026-11-22 01:21:31 UTC)
        );
        assert_eq!(
            parse_db_time("2026-11-22 03:21:31-02:00").unwrap(),
            datetime!(2026-11-22 05:21:31 UTC)
        );
        for bad in [
            "",
            "garbage",
            "2026-13-01 00:00:00+00:00",
            "2026-11-22 01:21:31+0x:00",
            "é€€€€€€",
        ] {
            assert_eq!(parse_db_time(bad).unwrap_err().code(), 11000, "{bad}");
        }
        assert_eq!(parse_db_time_opt(Some(ZERO_TIME_TEXT)).unwrap(), None);
        assert_eq!(parse_db_time_opt(None).unwrap(), None);
        assert!(format_db_time(datetime!(9999-12-31 23:00 -05:00)).is_err());
    }

    #[test]
    fn cfssl_db_config_translates_to_urls() {
        let cwd = Path::new("/srv/ca");
        let url = |j: &str| url_from_cfssl_config(j.as_bytes(), cwd);
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"certs.db"}"#).unwrap(),
            "sqlite:///srv/ca/certs.db"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"/var/lib/c.db"}"#).unwrap(),
            "sqlite:///var/lib/c.db"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":":memory:"}"#).unwrap(),
            "sqlite::memory:"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"file:d/c.db?cache=shared&_fk=1"}"#).unwrap(),
            "sqlite:///srv/ca/d/c.db?cache=shared"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"a?b#c%.db"}"#).unwrap(),
            "sqlite:///srv/ca/a%3Fb%23c%25.db"
        );
        for bad in [
            r#"{"driver":"sqlite3"}"#,
            r#"{"data_source":"certs.db"}"#,
            r#"{"driver":"","data_source":"certs.db"}"#,
            r#"{"driver":"sqlite3","data_source":""}"#,
            r#"{}"#,
            "not json",
            "",
            r#"{"driver":3,"data_source":"x"}"#,
        ] {
            let e = url(bad).unwrap_err();
            assert_eq!(
                (e.code(), e.message().as_str()),
                (5200, "invalid db configuration"),
                "{bad}"
            );
        }
        let e =
            url(r#"{"driver":"postgres","data_source":"postgres://u:secret@h/db"}"#).unwrap_err();
        assert_eq!(e.code(), 5200);
        assert!(e.message().contains("not supported yet"), "{e}");
        assert!(!e.message().contains("secret"), "{e}");
        assert!(
            url(r#"{"driver":"oracle","data_source":"x"}"#)
                .unwrap_err()
                .message()
                .contains("oracle")
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://kpki:s3cret@db:5432/ca"),
            "postgres://kpki:***@db:5432/ca"
        );
        assert_eq!(
            redact_url("postgres://db/ca?user=k&password=s3cret"),
            "postgres://db/ca?user=k&password=***"
        );
        assert_eq!(redact_url("postgres://k@db/ca"), "postgres://k@db/ca");
        assert_eq!(
            redact_url("sqlite:///srv/ca/certs.db"),
            "sqlite:///srv/ca/certs.db"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_url("postgres://u:p@ss@h/x"), "postgres://u:***@h/x");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_naming_the_supported_ones() {
        let e = CertDb::connect("postgres://u:hunter2@localhost/ca")
            .await
            .unwrap_err();
        assert_eq!(e.code(), 5200);
        assert!(
            e.message().contains("\"postgres\"") && e.message().contains("sqlite://"),
            "{e}"
        );
        assert!(!e.message().contains("hunter2"));
        let e = CertDb::connect("certs.db").await.unwrap_err();
        assert!(e.message().contains("sqlite://"), "{e}");
    }

    #[test]
    fn the_cursor_is_the_stored_expiry_text_and_the_serial() {
        let rec = CertificateRecord {
            serial_number: "123456789".into(),
            authority_key_identifier: "abcd".into(),
            ca_label: String::new(),
            status: "good".into(),
            reason: 0,
            expiry: datetime!(2027-11-22 01:16:00.75 +02:00),
            revoked_at: None,
            pem: String::new(),
            issued_at: datetime!(2026-11-22 01:16:00 UTC),
            not_before: datetime!(2026-11-22 01:11:00 UTC),
            metadata: None,
            sans: None,
            common_name: String::new(),
            profile: String::new(),
        };
        assert_eq!(
            rec.cursor().unwrap(),
            (
                "2027-11-21 23:16:00+00:00".to_string(),
                "123456789".to_string()
            )
        );
        let far = CertificateRecord {
            expiry: datetime!(9999-12-31 23:00 -05:00),
            ..rec
        };
        assert_eq!(far.cursor().unwrap_err().code(), 11100);
    }

    #[test]
    fn url_schemes_follow_rfc_3986() {
        for (url, want) in [
            ("sqlite://certs.db", Some("sqlite")),
            ("sqlite:certs.db", Some("sqlite")),
            ("sqlite::memory:", Some("sqlite")),
            ("postgres+tls-x.1://h/db", Some("postgres+tls-x.1")),
            ("Z9:x", Some("Z9")),
            ("certs.db", None),
            (":memory:", None),
            ("1sqlite://x", None),
            ("+sqlite://x", None),
            ("sql_ite://x", None),
            ("sql ite://x", None),
            ("/srv/ca/c.db", None),
        ] {
            assert_eq!(url_scheme(url), want, "{url}");
        }
    }

    #[test]
    fn db_times_with_unusual_shapes() {
        // A fraction without a zone (nothing to take for an offset).
        assert_eq!(
            parse_db_time("2026-11-22 01:21:31.123456").unwrap(),
            datetime!(2026-11-22 01:21:31.123456 UTC)
        );
        // Offsets with minutes, both signs.
        assert_eq!(
            parse_db_time("2026-11-22 01:21:31+05:30").unwrap(),
            datetime!(2026-11-21 19:51:31 UTC)
        );
        assert_eq!(
            parse_db_time("2026-11-22 01:21:31-05:30").unwrap(),
            datetime!(2026-11-22 06:51:31 UTC)
        );
        assert_eq!(
            parse_db_time("2026-11-22T01:21:31.5+00:00").unwrap(),
            datetime!(2026-11-22 01:21:31.5 UTC)
        );
        assert_eq!(
            parse_db_time(" 2026-11-22 01:21:31+00:00 ").unwrap(),
            datetime!(2026-11-22 01:21:31 UTC)
        );
        for bad in [
            // An offset must be signed.
            "2026-11-22 01:21:31 05:00",
            "2026-11-22 01:21:31005:00",
            // ... and follow a whole date-time.
            "2026-11-22 01:21+05:00",
            "2026-11-22 01:21:31+05-00",
            "2026-11-22 01:21:31+26:00",
            // The last six bytes start inside a multi-byte character.
            "aaaaaaaaaaaa\u{e9}aaaaa",
            "\u{e9}aaaaa",
            "+00:00",
        ] {
            let e = parse_db_time(bad).unwrap_err();
            assert_eq!(
                (e.code(), e.message()),
                (11000, format!("unreadable timestamp in database: {bad:?}")),
                "{bad}"
            );
        }
    }

    #[test]
    fn optional_db_times_treat_empty_and_the_zero_time_as_none() {
        for none in [
            None,
            Some(""),
            Some("  "),
            Some(ZERO_TIME_TEXT),
            Some("0001-01-01T00:00:00Z"),
            Some("0001-01-01 00:00:00.000000+00:00"),
        ] {
            assert_eq!(parse_db_time_opt(none).unwrap(), None, "{none:?}");
        }
        assert_eq!(
            parse_db_time_opt(Some("2026-11-22 01:21:31+00:00")).unwrap(),
            Some(datetime!(2026-11-22 01:21:31 UTC))
        );
        // A year-1 time that is not the zero time is a time.
        assert_eq!(
            parse_db_time_opt(Some("0001-01-01 00:00:01+00:00")).unwrap(),
            Some(datetime!(0001-01-01 00:00:01 UTC))
        );
        assert_eq!(parse_db_time_opt(Some("never")).unwrap_err().code(), 11000);
    }

    #[test]
    fn cfssl_memory_and_empty_uri_data_sources() {
        let cwd = Path::new("/srv/ca");
        let url = |j: &str| url_from_cfssl_config(j.as_bytes(), cwd);
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"file:x.db?mode=memory&cache=shared"}"#)
                .unwrap(),
            "sqlite::memory:"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"file:/var/c.db?mode=ro&_busy_timeout=5"}"#)
                .unwrap(),
            "sqlite:///var/c.db?mode=ro"
        );
        assert_eq!(
            url(r#"{"driver":"sqlite3","data_source":"file:c.db"}"#).unwrap(),
            "sqlite:///srv/ca/c.db"
        );
        let e = url(r#"{"driver":"sqlite3","data_source":"file:?cache=shared"}"#).unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (5200, "invalid db configuration")
        );
        let e = url(r#"{"driver":"mysql","data_source":"u@/db"}"#).unwrap_err();
        assert_eq!(
            e.message(),
            "db driver \"mysql\" is not supported yet (supported: sqlite3)"
        );
        let e = url(r#"{"driver":"oracle","data_source":"x"}"#).unwrap_err();
        assert_eq!(
            e.message(),
            "unknown db driver \"oracle\" (supported: sqlite3)"
        );
    }

    #[test]
    fn records_serialize_timestamps_as_rfc3339() {
        let rec = CertificateRecord {
            serial_number: "1".into(),
            authority_key_identifier: "ab".into(),
            ca_label: String::new(),
            status: "revoked".into(),
            reason: 1,
            expiry: datetime!(2027-11-22 01:16:00 UTC),
            revoked_at: Some(datetime!(2026-12-01 00:00:00 UTC)),
            pem: String::new(),
            issued_at: datetime!(2026-11-22 01:16:00 UTC),
            not_before: datetime!(2026-11-22 01:11:00 UTC),
            metadata: None,
            sans: None,
            common_name: String::new(),
            profile: String::new(),
        };
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["expiry"], "2027-11-22T01:16:00Z");
        assert_eq!(v["revoked_at"], "2026-12-01T00:00:00Z");
        assert_eq!(v["not_before"], "2026-11-22T01:11:00Z");
        let v = serde_json::to_value(CertificateRecord {
            revoked_at: None,
            ..rec
        })
        .unwrap();
        assert_eq!(v["revoked_at"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn insert_stats_count_the_writers_commits() {
        let db = CertDb::connect("sqlite::memory:").await.unwrap();
        assert_eq!(db.insert_stats(), InsertStats::default());
        let rec = |serial: &str| CertificateRecord {
            serial_number: serial.into(),
            authority_key_identifier: "abcd".into(),
            ca_label: String::new(),
            status: "good".into(),
            reason: 0,
            expiry: datetime!(2030-01-01 00:00:00 UTC),
            revoked_at: None,
            pem: "pem".into(),
            issued_at: datetime!(2026-11-22 01:16:00 UTC),
            not_before: datetime!(2026-11-22 01:11:00 UTC),
            metadata: None,
            sans: None,
            common_name: serial.into(),
            profile: String::new(),
        };
        db.insert_certificate(&rec("1")).await.unwrap();
        db.insert_certificate(&rec("2")).await.unwrap();
        assert_eq!(
            db.insert_certificate(&rec("2")).await.unwrap_err().code(),
            11100
        );
        assert_eq!(
            db.insert_stats(),
            InsertStats {
                transactions: 2,
                rows: 2,
                fallbacks: 1
            }
        );
        db.close().await.unwrap();
    }
}
