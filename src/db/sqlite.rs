//! SQLite backend of `CertDb`: connection setup (WAL, synchronous=FULL), migrations, runtime SQL,
//! and the wiring of the group-commit writer (`writer.rs`) and its background checkpoints.
//! It knows the schema in `migrations/` and nothing of X.509 policy, HTTP or the CLI.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, Row};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::writer::{self, WriterMsg, WriterStats, WriterTarget};
use super::{
    CertificateRecord, InsertStats, ListFilter, MAX_LIST_LIMIT, STATUSES, TokenRecord,
    ZERO_TIME_TEXT, format_db_time, parse_db_time, parse_db_time_opt, redact_url,
};
use crate::error::{Error, Result};

/// Background checkpoint passes before handing the rest to the writer, and the frames left
/// uncopied that end them early (the writer then copies those inline, briefly).
const CHECKPOINT_MAX_PASSES: usize = 8;
const CHECKPOINT_TAIL_FRAMES: i64 = 32;
/// Readers (and the few non-insert writes) share this many pooled connections.
const POOL_CONNECTIONS: u32 = 4;
/// How long a connection waits for another's write lock before failing with "database is locked".
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// `remember_auth_token` prunes expired hashes on every this-many-th call.
const PRUNE_EVERY: u64 = 128;
/// `fill_synthetic`: rows per transaction and rows per multi-row INSERT statement.
const FILL_TXN_ROWS: u64 = 20_000;
const FILL_ROWS_PER_STMT: usize = 64;
/// `fill_synthetic` into an empty table from this many rows on rebuilds the indexes once at the end.
const FILL_BULK_MIN_ROWS: u64 = 10_000;

/// The columns of `certificates`, in `CertificateRecord` order.
const CERT_COLUMNS: &str = "serial_number, authority_key_identifier, ca_label, status, reason, expiry, \
     revoked_at, pem, issued_at, not_before, metadata, sans, common_name, profile";

/// CRL entries of one issuer (served by the partial index idx_certificates_revoked; the literal
/// 'revoked' is what lets SQLite use it).
const REVOKED_UNEXPIRED_SQL: &str = "SELECT serial_number, revoked_at, reason, not_before \
     FROM certificates WHERE authority_key_identifier = ? AND status = 'revoked' AND expiry > ? \
     ORDER BY expiry, serial_number";

/// The first expiry after `now` in status 'good': walks idx_certificates_expiry from `now` and
/// stops at the first good row (nearly always the first row).
const EARLIEST_VALID_EXPIRY_SQL: &str = "SELECT expiry FROM certificates INDEXED BY idx_certificates_expiry \
     WHERE expiry > ? AND status = 'good' ORDER BY expiry, serial_number LIMIT 1";

const TOKEN_COLUMNS: &str =
    "token_id, secret_hash, expires_at, groups, usages, description, created_at, revoked_at";

/// A SQLite certificate database: a reader pool plus one writer thread owning its own connection.
/// Cheap to clone; all clones share the pool and the writer.
#[derive(Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
    writer: mpsc::Sender<WriterMsg>,
    writer_thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    stats: Arc<WriterStats>,
    auth_calls: Arc<AtomicU64>,
    /// How to open another connection (the writer's, `fill_synthetic`'s).
    opts: SqliteConnectOptions,
    /// The URL with any password redacted, for Debug.
    shown_url: Arc<str>,
}

impl fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDb")
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

/// A certificate row validated and converted to the stored text forms, ready to bind.
pub(super) struct PreparedCert {
    pub(super) serial: String,
    pub(super) aki: String,
    pub(super) ca_label: String,
    pub(super) status: String,
    pub(super) reason: i64,
    pub(super) expiry: String,
    pub(super) revoked_at: String,
    pub(super) pem: String,
    pub(super) issued_at: String,
    pub(super) not_before: String,
    pub(super) metadata: Option<String>,
    pub(super) sans: Option<String>,
    pub(super) common_name: String,
    pub(super) profile: String,
}

impl PreparedCert {
    /// Checks the record's stored forms (decimal serial, lowercase hex AKI, known status, timestamps
    /// in range) and formats its timestamps; failures are 11100 insert errors.
    fn from_record(rec: &CertificateRecord) -> Result<PreparedCert> {
        let bad = |what: String| {
            Error::CertStore(11100, format!("failed to insert the certificate: {what}"))
        };
        if rec.serial_number.is_empty() || !rec.serial_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "serial number {:?} is not decimal",
                rec.serial_number
            )));
        }
        let aki = &rec.authority_key_identifier;
        if aki.is_empty() || !aki.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad(format!(
                "authority key identifier {aki:?} is not lowercase hex"
            )));
        }
        if !STATUSES.contains(&rec.status.as_str()) {
            return Err(bad(format!("unknown status {:?}", rec.status)));
        }
        Ok(PreparedCert {
            serial: rec.serial_number.clone(),
            aki: aki.clone(),
            ca_label: rec.ca_label.clone(),
            status: rec.status.clone(),
            reason: rec.reason,
            expiry: format_db_time(rec.expiry)?,
            revoked_at: match rec.revoked_at {
                Some(t) => format_db_time(t)?,
                // cfssl compat: "not revoked" is stored as Go's zero time.
                None => ZERO_TIME_TEXT.to_string(),
            },
            pem: rec.pem.clone(),
            issued_at: format_db_time(rec.issued_at)?,
            not_before: format_db_time(rec.not_before)?,
            metadata: rec.metadata.clone(),
            sans: rec.sans.clone(),
            common_name: rec.common_name.clone(),
            profile: rec.profile.clone(),
        })
    }
}

/// The driver's message for a SQL error (cfssl reports the bare SQLite message, e.g.
/// "no such table: certificates").
fn sql_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// An 11000 cert-store SQL error.
fn sql_err(e: sqlx::Error) -> Error {
    Error::CertStore(11000, sql_message(&e))
}

/// The error answered when the writer has shut down.
fn closed_err() -> Error {
    Error::CertStore(11000, "certificate database is closed".into())
}

/// Removes kpki's `synchronous=full|normal` query parameter from a SQLite URL.
fn take_synchronous(url: &str) -> Result<(String, SqliteSynchronous)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), SqliteSynchronous::Full));
    };
    let mut sync = SqliteSynchronous::Full;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|p| !p.is_empty()) {
        match kv.split_once('=') {
            Some(("synchronous", v)) => {
                sync = match v.to_ascii_lowercase().as_str() {
                    "full" => SqliteSynchronous::Full,
                    "normal" => SqliteSynchronous::Normal,
                    other => {
                        return Err(Error::Policy(
                            5200,
                            format!(
                                "invalid synchronous={other:?} in database URL (full or normal)"
                            ),
                        ));
                    }
                }
            }
            _ => kept.push(kv),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, sync))
}

impl SqliteDb {
    /// Opens `url` (`sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`), creating the file if
    /// missing, with WAL, synchronous=FULL, a 5 s busy timeout and foreign keys; applies migrations
    /// and starts the writer task. Must be called inside a tokio runtime.
    pub(crate) async fn connect(url: &str) -> Result<SqliteDb> {
        let shown = redact_url(url);
        let open_err = |e: sqlx::Error| {
            Error::CertStore(
                11000,
                format!("cannot open database {shown}: {}", sql_message(&e)),
            )
        };
        check_sqlite_url(url)?;
        let (url, sync) = take_synchronous(url)?;
        let url = url.as_str();
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| {
                Error::Policy(
                    5200,
                    format!("invalid database URL {shown}: {}", sql_message(&e)),
                )
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL (default): a commit is on disk (WAL fsynced) before anyone is told it
            // succeeded. NORMAL (opt-in, `?synchronous=normal`): survives a crash of kpki, not
            // of the machine.
            .synchronous(sync)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .connect_with(opts.clone())
            .await
            .map_err(open_err)?;
        if let Err(e) = sqlx::migrate!("./migrations").run(&pool).await {
            pool.close().await;
            return Err(Error::CertStore(
                11000,
                format!("database migration failed: {e}"),
            ));
        }
        let target = WriterTarget {
            path: opts.get_filename().to_path_buf(),
            in_memory: is_memory_url(url),
            read_only: url_asks_read_only(url),
            synchronous: match sync {
                SqliteSynchronous::Normal => "NORMAL",
                _ => "FULL",
            },
            busy_timeout: BUSY_TIMEOUT,
        };
        // PASSIVE: copies what it can without ever blocking the writer.
        let (ck_pool, runtime) = (pool.clone(), tokio::runtime::Handle::current());
        let db_file = (!target.in_memory && !target.read_only).then(|| target.path.clone());
        let checkpoint = writer::Checkpointer::new(move |done| {
            let pool = ck_pool.clone();
            let db_file = db_file.clone();
            runtime.spawn(async move {
                // Passes until what is left for the writer's own (blocking) tail step is small:
                // each pass copies what the writer appended during the previous one.
                for _ in 0..CHECKPOINT_MAX_PASSES {
                    let r: std::result::Result<(i64, i64, i64), _> =
                        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                            .fetch_one(&pool)
                            .await;
                    match r {
                        Ok((_, log, copied)) if log - copied > CHECKPOINT_TAIL_FRAMES => {}
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(
                                "checkpointing the certificate database: {}",
                                sql_message(&e)
                            );
                            break;
                        }
                    }
                }
                // The passes wrote pages into the database file without syncing it (SQLite syncs
                // only when a checkpoint completes, i.e. in the writer's tail step). Flushing them
                // here keeps that flush off the writer's thread, so the tail step's own fsync has
                // only the last few pages to write and commits do not queue behind it; writing
                // them back a window at a time keeps the WAL's syncs from queueing behind all of
                // them at once (`writeback`).
                if let Some(path) = db_file {
                    let synced = tokio::task::spawn_blocking(move || {
                        std::fs::File::open(&path).and_then(|f| super::writeback::flush(&f))
                    })
                    .await;
                    if let Ok(Err(e)) = synced {
                        tracing::warn!("syncing the certificate database: {e}");
                    }
                }
                done.finish();
            });
        });
        let stats = Arc::new(WriterStats::default());
        let (tx, handle) = match writer::spawn(&target, stats.clone(), checkpoint) {
            Ok(w) => w,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        Ok(SqliteDb {
            pool,
            writer: tx,
            writer_thread: Arc::new(Mutex::new(Some(handle))),
            stats,
            auth_calls: Arc::new(AtomicU64::new(0)),
            opts,
            shown_url: shown.into(),
        })
    }

    pub(crate) fn insert_stats(&self) -> InsertStats {
        InsertStats {
            transactions: self.stats.batches.load(Ordering::Relaxed),
            rows: self.stats.rows.load(Ordering::Relaxed),
            fallbacks: self.stats.fallbacks.load(Ordering::Relaxed),
        }
    }

    pub(crate) async fn insert_certificate(&self, rec: &CertificateRecord) -> Result<()> {
        let prepared = Box::new(PreparedCert::from_record(rec)?);
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(WriterMsg::Insert(prepared, tx))
            .await
            .map_err(|_| closed_err())?;
        // A dropped sender means the writer stopped before answering: the row was not confirmed.
        rx.await.map_err(|_| closed_err())?
    }

    pub(crate) async fn get_certificate(
        &self,
        serial: &str,
        aki: &str,
    ) -> Result<Option<CertificateRecord>> {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE serial_number = ? AND authority_key_identifier = ?"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(serial)
            .bind(aki)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql_err)?;
        row.as_ref().map(cert_from_row).transpose()
    }

    pub(crate) async fn get_by_serial(&self, serial: &str) -> Result<Vec<CertificateRecord>> {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE serial_number = ? ORDER BY authority_key_identifier"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(serial)
            .fetch_all(&self.pool)
            .await
            .map_err(sql_err)?;
        rows.iter().map(cert_from_row).collect()
    }

    pub(crate) async fn revoke(&self, serial: &str, aki: &str, reason: i64) -> Result<()> {
        let now = format_db_time(OffsetDateTime::now_utc())?;
        let done = sqlx::query(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?, reason = ? \
             WHERE serial_number = ? AND authority_key_identifier = ?",
        )
        .bind(now)
        .bind(reason)
        .bind(serial)
        .bind(aki)
        .execute(&self.pool)
        .await
        .map_err(sql_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::CertStore(
                11200,
                "failed to revoke the certificate: certificate not found".into(),
            ));
        }
        Ok(())
    }

    pub(crate) async fn list_certificates(
        &self,
        filter: &ListFilter,
    ) -> Result<Vec<CertificateRecord>> {
        let (sql, binds, limit) = list_sql(filter, OffsetDateTime::now_utc())?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(sql_err)?;
        rows.iter().map(cert_from_row).collect()
    }

    pub(crate) async fn revoked_unexpired(
        &self,
        aki: &str,
    ) -> Result<Vec<(String, OffsetDateTime, i64)>> {
        let now = format_db_time(OffsetDateTime::now_utc())?;
        let rows = sqlx::query(REVOKED_UNEXPIRED_SQL)
            .bind(aki)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(sql_err)?;
        rows.iter()
            .map(|row| {
                let serial = text(row, 0)?.unwrap_or_default();
                let revoked_at = match parse_db_time_opt(text(row, 1)?.as_deref())? {
                    Some(t) => t,
                    // A revoked row without a time (hand-edited, or zero time): report notBefore,
                    // a date the revocation cannot precede.
                    None => parse_db_time_opt(text(row, 3)?.as_deref())?
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                };
                let reason = row
                    .try_get_unchecked::<Option<i64>, _>(2)
                    .map_err(sql_err)?
                    .unwrap_or(0);
                Ok((serial, revoked_at, reason))
            })
            .collect()
    }

    pub(crate) async fn next_crl_number(&self, aki: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO crl_numbers (authority_key_identifier, number) VALUES (?, 1) \
             ON CONFLICT (authority_key_identifier) DO UPDATE SET number = number + 1 RETURNING number",
        )
        .bind(aki)
        .fetch_one(&self.pool)
        .await
        .map_err(sql_err)?;
        u64::try_from(n)
            .map_err(|_| Error::CertStore(11000, format!("corrupt CRL number {n} for {aki}")))
    }

    pub(crate) async fn earliest_valid_expiry(&self) -> Result<Option<OffsetDateTime>> {
        let now = format_db_time(OffsetDateTime::now_utc())?;
        let min: Option<String> = sqlx::query_scalar(EARLIEST_VALID_EXPIRY_SQL)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql_err)?;
        min.as_deref().map(parse_db_time).transpose()
    }

    pub(crate) async fn count_certificates(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
            .fetch_one(&self.pool)
            .await
            .map_err(sql_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        let groups = join_list("group", &t.groups)?;
        let usages = join_list("usage", &t.usages)?;
        let expires_at = t.expires_at.map(format_db_time).transpose()?;
        let revoked_at = t.revoked_at.map(format_db_time).transpose()?;
        let sql = format!(
            "INSERT INTO bootstrap_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(t.token_id.as_str())
            .bind(t.secret_hash.as_str())
            .bind(expires_at)
            .bind(groups)
            .bind(usages)
            .bind(t.description.as_str())
            .bind(format_db_time(t.created_at)?)
            .bind(revoked_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => Error::CertStore(
                    11100,
                    format!(
                        "failed to insert the token: duplicate token id {:?}",
                        t.token_id
                    ),
                ),
                _ => Error::CertStore(
                    11100,
                    format!("failed to insert the token: {}", sql_message(&e)),
                ),
            })?;
        Ok(())
    }

    pub(crate) async fn get_token(&self, token_id: &str) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM bootstrap_tokens WHERE token_id = ?");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql_err)?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub(crate) async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM bootstrap_tokens ORDER BY created_at, token_id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(sql_err)?;
        rows.iter().map(token_from_row).collect()
    }

    pub(crate) async fn delete_token(&self, token_id: &str) -> Result<bool> {
        let now = format_db_time(OffsetDateTime::now_utc())?;
        let done = sqlx::query(
            "UPDATE bootstrap_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id)
        .execute(&self.pool)
        .await
        .map_err(sql_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn remember_auth_token(
        &self,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let now = format_db_time(OffsetDateTime::now_utc())?;
        if self
            .auth_calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            sqlx::query("DELETE FROM used_auth_tokens WHERE expires_at <= ?")
                .bind(now.as_str())
                .execute(&self.pool)
                .await
                .map_err(sql_err)?;
        }
        // A remembered hash whose time has passed counts as forgotten (it may not be pruned yet).
        let done = sqlx::query(
            "INSERT INTO used_auth_tokens (token_hash, expires_at) VALUES (?, ?) \
             ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_auth_tokens.expires_at <= ?",
        )
        .bind(token_hash)
        .bind(format_db_time(expires_at)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(sql_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn integrity_check(&self) -> Result<String> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(sql_err)?;
        Ok(lines.join("\n"))
    }

    pub(crate) async fn close(self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.writer.send(WriterMsg::Shutdown(tx)).await.is_ok() {
            // Err: the writer already stopped; nothing left to flush.
            let _ = rx.await;
        }
        let handle = self
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut guard| guard.take());
        if let Some(handle) = handle {
            match tokio::task::spawn_blocking(move || handle.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::error!("certificate database writer thread failed"),
            }
        }
        self.pool.close().await;
        Ok(())
    }

    pub(crate) async fn fill_synthetic(&self, n: u64, revoked_every: u64, aki: &str) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        // A connection of its own, with a large page cache, closed afterwards: the pooled
        // connections keep their default cache.
        let mut conn = SqliteConnection::connect_with(&self.opts)
            .await
            .map_err(sql_err)?;
        let seed = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64
            ^ self.auth_calls.load(Ordering::Relaxed).rotate_left(17);
        let result = fill_on(&mut conn, n, revoked_every, aki, seed).await;
        if let Err(e) = conn.close().await {
            tracing::warn!("closing the fill connection: {}", sql_message(&e));
        }
        result
    }
}

/// `fill_synthetic` on `conn`. Into an empty table, and for at least `FILL_BULK_MIN_ROWS` rows,
/// it runs ONE transaction that drops the secondary indexes of `certificates`, inserts every row
/// and recreates the indexes from their stored DDL (a sorted index build is several times faster
/// than random inserts into four indexes; DDL is transactional, so a failure leaves them intact).
/// That transaction holds the write lock for the whole fill. Otherwise rows go in transactions
/// of `FILL_TXN_ROWS`.
async fn fill_on(
    conn: &mut SqliteConnection,
    n: u64,
    revoked_every: u64,
    aki: &str,
    seed: u64,
) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let now_text = format_db_time(now)?;
    // Start anywhere in the lower half of the 38-digit range: 1M steps of < 2^40 stay inside it.
    const TEN_37: u128 = 10_u128.pow(37);
    let first = TEN_37
        + ((u128::from(rng_start(seed)) << 64) | u128::from(rng_start(!seed))) % (TEN_37 / 2);
    let mut rows = SyntheticRows {
        serial: first,
        rng: SplitMix64(seed),
        now,
        now_text,
        aki: aki.to_string(),
        revoked_every,
        done: 0,
    };
    sqlx::query("PRAGMA cache_size = -262144")
        .execute(&mut *conn)
        .await
        .map_err(sql_err)?;
    let empty = sqlx::query("SELECT 1 FROM certificates LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err)?
        .is_none();
    if empty && n >= FILL_BULK_MIN_ROWS {
        // IMMEDIATE: take the write lock up front (a deferred read-then-write could fail with BUSY).
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(sql_err)?;
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = 'certificates' AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(sql_err)?;
        for (name, _) in &indexes {
            let drop = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
            sqlx::query(AssertSqlSafe(drop))
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
        }
        rows.insert(&mut tx, n).await?;
        for (_, ddl) in indexes {
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
        }
        tx.commit().await.map_err(sql_err)?;
    } else {
        while rows.done < n {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(sql_err)?;
            rows.insert(&mut tx, (n - rows.done).min(FILL_TXN_ROWS))
                .await?;
            tx.commit().await.map_err(sql_err)?;
        }
    }
    Ok(())
}

/// Generator state for `fill_synthetic`.
struct SyntheticRows {
    rng: SplitMix64,
    now: OffsetDateTime,
    now_text: String,
    aki: String,
    revoked_every: u64,
    /// Rows generated so far (every `revoked_every`-th is revoked).
    done: u64,
    /// The last serial handed out. Serials are 38-digit decimals rising by random steps, so
    /// their text order is their numeric order and primary-key inserts append (much faster
    /// than random positions); values still look random.
    serial: u128,
}

impl SyntheticRows {
    /// The next `k` rows.
    fn generate(&mut self, k: usize) -> Result<Vec<PreparedCert>> {
        let mut out = Vec::with_capacity(k);
        for _ in 0..k {
            self.done += 1;
            let revoked = self.revoked_every > 0 && self.done.is_multiple_of(self.revoked_every);
            self.serial += 1 + u128::from(self.rng.next() >> 24);
            out.push(synthetic_row(
                &mut self.rng,
                self.serial,
                self.now,
                &self.now_text,
                &self.aki,
                revoked,
            )?);
        }
        Ok(out)
    }

    /// Inserts `rows` more rows with multi-row INSERTs of `FILL_ROWS_PER_STMT`. The next
    /// statement's rows are generated while SQLite (on its own worker thread) runs the current one.
    async fn insert(&mut self, conn: &mut SqliteConnection, rows: u64) -> Result<()> {
        let full_sql: Arc<str> = multi_insert_sql(FILL_ROWS_PER_STMT).into();
        let step = |left: u64| {
            usize::try_from(left)
                .unwrap_or(FILL_ROWS_PER_STMT)
                .min(FILL_ROWS_PER_STMT)
        };
        let mut left = rows;
        let mut ready = self.generate(step(left))?;
        while !ready.is_empty() {
            left -= ready.len() as u64;
            let sql: Arc<str> = if ready.len() == FILL_ROWS_PER_STMT {
                full_sql.clone()
            } else {
                multi_insert_sql(ready.len()).into()
            };
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in &ready {
                q = bind_cert(q, row);
            }
            let next_k = step(left);
            let (done, next) = tokio::join!(q.execute(&mut *conn), async { self.generate(next_k) });
            done.map_err(sql_err)?;
            ready = next?;
        }
        Ok(())
    }
}

/// Whether `url` is the plain in-memory database (`sqlite::memory:`, shared-cache in sqlx).
fn is_memory_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest == ":memory:"
}

/// Whether the URL's query opens the database read-only (`mode=ro`, `immutable=1|true`).
fn url_asks_read_only(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query.split('&').any(|kv| {
        matches!(
            kv.to_ascii_lowercase().as_str(),
            "mode=ro" | "immutable=1" | "immutable=true"
        )
    })
}

/// Refuses SQLite URLs that would give each pooled connection a database of its own (so the
/// writer and the readers would not see the same rows): an empty path, and in-memory forms
/// other than the plain `sqlite::memory:` (which is shared-cache).
fn check_sqlite_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let invalid = |why: &str| {
        Error::Policy(
            5200,
            format!(
                "invalid database URL {}: {why} (use sqlite://PATH or sqlite::memory:)",
                redact_url(url)
            ),
        )
    };
    if path.is_empty() {
        return Err(invalid("no file path"));
    }
    if path == ":memory:" && params.is_some() {
        return Err(invalid("sqlite::memory: takes no parameters"));
    }
    if params.is_some_and(|q| q.split('&').any(|kv| kv == "mode=memory")) {
        return Err(invalid("mode=memory is not supported"));
    }
    Ok(())
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds one row's 14 columns, in `CERT_COLUMNS` order.
fn bind_cert<'q>(q: SqliteQuery<'q>, p: &'q PreparedCert) -> SqliteQuery<'q> {
    q.bind(p.serial.as_str())
        .bind(p.aki.as_str())
        .bind(p.ca_label.as_str())
        .bind(p.status.as_str())
        .bind(p.reason)
        .bind(p.expiry.as_str())
        .bind(p.revoked_at.as_str())
        .bind(p.pem.as_str())
        .bind(p.issued_at.as_str())
        .bind(p.not_before.as_str())
        .bind(p.metadata.as_deref())
        .bind(p.sans.as_deref())
        .bind(p.common_name.as_str())
        .bind(p.profile.as_str())
}

/// The SELECT for `list_certificates`: SQL text (fixed fragments only), its text binds in order,
/// and the clamped limit (bound last). Every combination is served by an index in
/// `0001_certificates.sql` and returns rows in (expiry, serial_number) order.
fn list_sql(filter: &ListFilter, now: OffsetDateTime) -> Result<(String, Vec<String>, u32)> {
    // Index choice, made here because a fresh SQLite database has no statistics to choose with
    // (and `INDEXED BY` makes it fixed): a common name is the most selective filter; then
    // revoked rows, which have a partial index of their own; everything else walks
    // idx_certificates_expiry (an issuer is checked inside that index; a status "good", the
    // common case, in the row). Every one yields rows in (expiry, serial_number) order, so no
    // sort is needed and LIMIT stops the scan early.
    let revoked = filter.status.as_deref() == Some("revoked");
    let index = match (&filter.common_name, revoked) {
        (Some(_), _) => "idx_certificates_common_name",
        (None, true) => "idx_certificates_revoked",
        (None, false) => "idx_certificates_expiry",
    };
    let mut sql = format!("SELECT {CERT_COLUMNS} FROM certificates INDEXED BY {index} WHERE 1 = 1");
    let mut binds = Vec::new();
    if let Some(cn) = &filter.common_name {
        sql.push_str(" AND common_name = ?");
        binds.push(cn.clone());
    }
    if revoked {
        // A literal: SQLite uses a partial index only when the query implies its WHERE.
        sql.push_str(" AND status = 'revoked'");
    } else if let Some(status) = &filter.status {
        sql.push_str(" AND status = ?");
        binds.push(status.clone());
    }
    if let Some(aki) = &filter.aki {
        sql.push_str(" AND authority_key_identifier = ?");
        binds.push(aki.clone());
    }
    if let Some(within) = filter.expiring_within {
        // Past the storable range (years 1..=9999), clamp to its ends.
        let until_text = match now.checked_add(within).map(format_db_time) {
            Some(Ok(text)) => text,
            _ if within.is_positive() => "9999-12-31 23:59:59+00:00".to_string(),
            _ => ZERO_TIME_TEXT.to_string(),
        };
        sql.push_str(" AND expiry > ? AND expiry <= ?");
        binds.push(format_db_time(now)?);
        binds.push(until_text);
    }
    if let Some((expiry, serial)) = &filter.after {
        sql.push_str(" AND (expiry, serial_number) > (?, ?)");
        binds.push(expiry.clone());
        binds.push(serial.clone());
    }
    sql.push_str(" ORDER BY expiry, serial_number LIMIT ?");
    Ok((sql, binds, filter.limit.min(MAX_LIST_LIMIT)))
}

/// Column `i` as text (NULL → None); values of any storage class are read as text.
fn text(row: &SqliteRow, i: usize) -> Result<Option<String>> {
    row.try_get_unchecked::<Option<String>, _>(i)
        .map_err(sql_err)
}

/// A `certificates` row (selected as `CERT_COLUMNS`) as a record. NULL text columns read as "",
/// NULL timestamps (rows from cfssl versions before migration 002) as the Unix epoch.
fn cert_from_row(row: &SqliteRow) -> Result<CertificateRecord> {
    let time_or_epoch = |i: usize| -> Result<OffsetDateTime> {
        Ok(parse_db_time_opt(text(row, i)?.as_deref())?.unwrap_or(OffsetDateTime::UNIX_EPOCH))
    };
    Ok(CertificateRecord {
        serial_number: text(row, 0)?.unwrap_or_default(),
        authority_key_identifier: text(row, 1)?.unwrap_or_default(),
        ca_label: text(row, 2)?.unwrap_or_default(),
        status: text(row, 3)?.unwrap_or_default(),
        reason: row
            .try_get_unchecked::<Option<i64>, _>(4)
            .map_err(sql_err)?
            .unwrap_or(0),
        expiry: time_or_epoch(5)?,
        revoked_at: parse_db_time_opt(text(row, 6)?.as_deref())?,
        pem: text(row, 7)?.unwrap_or_default(),
        issued_at: time_or_epoch(8)?,
        not_before: time_or_epoch(9)?,
        metadata: text(row, 10)?,
        sans: text(row, 11)?,
        common_name: text(row, 12)?.unwrap_or_default(),
        profile: text(row, 13)?.unwrap_or_default(),
    })
}

/// A `bootstrap_tokens` row (selected as `TOKEN_COLUMNS`) as a record.
fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let created = text(row, 6)?.unwrap_or_default();
    Ok(TokenRecord {
        token_id: text(row, 0)?.unwrap_or_default(),
        secret_hash: text(row, 1)?.unwrap_or_default(),
        expires_at: parse_db_time_opt(text(row, 2)?.as_deref())?,
        groups: split_list(&text(row, 3)?.unwrap_or_default()),
        usages: split_list(&text(row, 4)?.unwrap_or_default()),
        description: text(row, 5)?.unwrap_or_default(),
        created_at: parse_db_time(&created)?,
        revoked_at: parse_db_time_opt(text(row, 7)?.as_deref())?,
    })
}

/// Joins a token's groups or usages for storage; elements must be non-empty and comma-free.
fn join_list(what: &str, items: &[String]) -> Result<String> {
    if let Some(bad) = items.iter().find(|s| s.is_empty() || s.contains(',')) {
        return Err(Error::CertStore(
            11100,
            format!("failed to insert the token: {what} {bad:?} is empty or contains a comma"),
        ));
    }
    Ok(items.join(","))
}

fn split_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `INSERT INTO certificates (...) VALUES (...), (...)` for `rows` rows.
fn multi_insert_sql(rows: usize) -> String {
    let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let mut sql = format!("INSERT INTO certificates ({CERT_COLUMNS}) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(one);
    }
    sql
}

/// One SplitMix64 output for `seed`.
fn rng_start(seed: u64) -> u64 {
    SplitMix64(seed).next()
}

/// A small, fast, non-cryptographic PRNG for synthetic data (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One synthetic `certificates` row with this serial, expiry spread from 60 days ago
/// to 3 years ahead, notBefore a year before expiry, ~900-byte PEM-shaped text, CNs from a pool
/// of 50,000 names.
fn synthetic_row(
    rng: &mut SplitMix64,
    serial: u128,
    now: OffsetDateTime,
    now_text: &str,
    aki: &str,
    revoked: bool,
) -> Result<PreparedCert> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let offset = (rng.next() % (3 * 365 * 86_400)) as i64 - 60 * 86_400;
    let expiry = now + time::Duration::seconds(offset);
    let not_before = expiry - time::Duration::days(365);
    let mut pem = String::with_capacity(900);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for _ in 0..13 {
        for _ in 0..8 {
            let r = rng.next();
            for k in 0..8 {
                pem.push(char::from(B64[((r >> (k * 6)) & 63) as usize]));
            }
        }
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let common_name = format!("svc-{:05}.synthetic.example", rng.next() % 50_000);
    Ok(PreparedCert {
        serial: serial.to_string(),
        aki: aki.to_string(),
        ca_label: String::new(),
        status: if revoked { "revoked" } else { "good" }.to_string(),
        reason: if revoked {
            1 + (rng.next() % 5) as i64
        } else {
            0
        },
        expiry: format_db_time(expiry)?,
        revoked_at: if revoked {
            now_text.to_string()
        } else {
            ZERO_TIME_TEXT.to_string()
        },
        pem,
        issued_at: now_text.to_string(),
        not_before: format_db_time(not_before)?,
        metadata: None,
        sans: Some(format!("[\"{common_name}\"]")),
        common_name,
        profile: "synthetic".to_string(),
    })
}

#[cfg(test)]
mod sync_param_tests {
    use super::*;

    #[test]
    fn synchronous_parameter() {
        let (u, s) = take_synchronous("sqlite:///x.db?synchronous=normal").unwrap();
        assert_eq!(u, "sqlite:///x.db");
        assert!(matches!(s, SqliteSynchronous::Normal));
        let (u, s) = take_synchronous("sqlite:///x.db?cache=shared&synchronous=FULL").unwrap();
        assert_eq!(u, "sqlite:///x.db?cache=shared");
        assert!(matches!(s, SqliteSynchronous::Full));
        assert!(matches!(
            take_synchronous("sqlite:///x.db").unwrap().1,
            SqliteSynchronous::Full
        ));
        assert_eq!(
            take_synchronous("sqlite:///x.db?synchronous=off")
                .unwrap_err()
                .code(),
            5200
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::CertDb;
    use time::macros::datetime;

    const AKI: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

    fn record(serial: &str, cn: &str, expiry: OffsetDateTime) -> CertificateRecord {
        CertificateRecord {
            serial_number: serial.to_string(),
            authority_key_identifier: AKI.to_string(),
            ca_label: String::new(),
            status: "good".to_string(),
            reason: 0,
            expiry,
            revoked_at: None,
            pem: format!("-----BEGIN CERTIFICATE-----\n{serial}\n-----END CERTIFICATE-----\n"),
            issued_at: datetime!(2026-11-22 01:16:00 UTC),
            not_before: datetime!(2026-11-22 01:11:00 UTC),
            metadata: None,
            sans: Some(format!("[\"{cn}\"]")),
            common_name: cn.to_string(),
            profile: "www".to_string(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
    }

    fn sqlite(db: &CertDb) -> &SqliteDb {
        match db {
            CertDb::Sqlite(s) => s,
        }
    }

    async fn memory_db() -> CertDb {
        CertDb::connect("sqlite::memory:").await.unwrap()
    }

    /// A file database in a fresh temp dir (the dir must outlive the db).
    async fn file_db() -> (tempfile::TempDir, String, CertDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("certs.db").display());
        let db = CertDb::connect(&url).await.unwrap();
        (dir, url, db)
    }

    /// Holds the writer until the returned sender fires, so inserts sent meanwhile form one batch.
    async fn pause_writer(db: &SqliteDb) -> std::sync::mpsc::Sender<()> {
        let (go, wait) = std::sync::mpsc::channel();
        db.writer.send(WriterMsg::Pause(wait)).await.unwrap();
        go
    }

    #[tokio::test]
    async fn migrations_apply_and_create_every_table() {
        let db = memory_db().await;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&sqlite(&db).pool)
                .await
                .unwrap();
        for t in [
            "_sqlx_migrations",
            "bootstrap_tokens",
            "certificates",
            "crl_numbers",
            "ocsp_responses",
            "used_auth_tokens",
        ] {
            assert!(
                tables.iter().any(|x| x == t),
                "missing table {t} in {tables:?}"
            );
        }
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&sqlite(&db).pool)
                .await
                .unwrap();
        assert_eq!(applied, 6);
        assert_eq!(db.integrity_check().await.unwrap(), "ok");
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn file_db_uses_wal_and_synchronous_full_and_reopens_without_remigrating() {
        let (dir, url, db) = file_db().await;
        let mut conn = sqlite(&db).pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((mode.as_str(), sync, busy, fk), ("wal", 2, 5000, 1));
        drop(conn);
        db.close().await.unwrap();
        assert!(dir.path().join("certs.db").exists());
        // Second open: migrations already recorded, nothing re-run, still usable.
        let db = CertDb::connect(&url).await.unwrap();
        assert_eq!(db.count_certificates().await.unwrap(), 0);
        db.close().await.unwrap();
        // `sqlite:PATH` (no //) names the same file.
        let db = CertDb::connect(&format!("sqlite:{}", dir.path().join("certs.db").display()))
            .await
            .unwrap();
        assert_eq!(db.integrity_check().await.unwrap(), "ok");
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn unopenable_path_is_a_clean_11000_error() {
        let e = CertDb::connect("sqlite:///nonexistent-dir-kpki/sub/certs.db")
            .await
            .unwrap_err();
        assert_eq!(e.code(), 11000, "{e}");
        assert!(e.message().contains("unable to open database file"), "{e}");
        for bad in [
            "sqlite://x.db?bogus=1",
            "sqlite://",
            "sqlite:",
            "sqlite://?mode=memory",
            "sqlite::memory:?cache=private",
            "sqlite://x.db?mode=memory",
        ] {
            let e = CertDb::connect(bad).await.unwrap_err();
            assert_eq!(e.code(), 5200, "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn insert_get_round_trip_stores_cfssl_timestamp_text() {
        let db = memory_db().await;
        let mut rec = record(
            "123456789012345678901234567890",
            "www.example.com",
            datetime!(2027-11-22 01:16:00 UTC),
        );
        rec.issued_at = datetime!(2026-11-22 03:16:00.987 +02:00);
        rec.metadata = Some("null".into());
        rec.ca_label = "primary".into();
        db.insert_certificate(&rec).await.unwrap();

        let raw: (String, String, String, String, String, String) = sqlx::query_as(
            "SELECT expiry, revoked_at, issued_at, not_before, status, typeof(expiry) FROM certificates",
        )
        .fetch_one(&sqlite(&db).pool)
        .await
        .unwrap();
        assert_eq!(
            raw,
            (
                "2027-11-22 01:16:00+00:00".into(),
                "0001-01-01 00:00:00+00:00".into(),
                "2026-11-22 01:16:00+00:00".into(),
                "2026-11-22 01:11:00+00:00".into(),
                "good".into(),
                "text".into()
            )
        );

        let got = db
            .get_certificate(&rec.serial_number, AKI)
            .await
            .unwrap()
            .unwrap();
        let mut want = rec.clone();
        want.issued_at = datetime!(2026-11-22 01:16:00 UTC); // stored to the second, in UTC
        assert_eq!(got, want);
        assert_eq!(
            db.get_certificate(&rec.serial_number, "ff").await.unwrap(),
            None
        );
        assert_eq!(db.get_certificate("1", AKI).await.unwrap(), None);
        assert_eq!(
            db.get_by_serial(&rec.serial_number).await.unwrap(),
            vec![want]
        );
        assert_eq!(db.count_certificates().await.unwrap(), 1);
        // Serializes with RFC 3339 times.
        let json = serde_json::to_value(&got).unwrap();
        assert_eq!(json["expiry"], "2027-11-22T01:16:00Z");
        assert_eq!(json["revoked_at"], serde_json::Value::Null);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn malformed_records_are_refused_with_11100() {
        let db = memory_db().await;
        let good = record("42", "a", datetime!(2030-01-01 00:00 UTC));
        let mut cases = Vec::new();
        let mut r = good.clone();
        r.serial_number = "0x2a".into();
        cases.push(r);
        let mut r = good.clone();
        r.authority_key_identifier = "0A:1B".into();
        cases.push(r);
        let mut r = good.clone();
        r.status = "valid".into();
        cases.push(r);
        let mut r = good.clone();
        r.expiry = datetime!(9999-12-31 23:00 -05:00);
        cases.push(r);
        for r in cases {
            assert_eq!(
                db.insert_certificate(&r).await.unwrap_err().code(),
                11100,
                "{r:?}"
            );
        }
        assert_eq!(db.count_certificates().await.unwrap(), 0);
        db.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_rewound_under_steady_inserts() {
        // The writer never checkpoints inline in full; without the tail step the WAL grew by
        // ~30 KB per row for as long as the load lasted (206 MB after 5 s of benchmark).
        let (dir, _url, db) = file_db().await;
        let exp = now() + time::Duration::days(30);
        let mut max_wal = 0u64;
        let wal = dir.path().join("certs.db-wal");
        // Ten checkpoint intervals' worth of rows.
        let waves = (10 * super::writer::CHECKPOINT_EVERY_ROWS / 64) as u32;
        for wave in 0..waves {
            let mut tasks = Vec::new();
            for i in 0..64u32 {
                let db = db.clone();
                let serial = format!("{}", 100_000 + wave * 64 + i);
                tasks.push(tokio::spawn(async move {
                    db.insert_certificate(&record(&serial, "steady", exp)).await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            max_wal = max_wal.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
            .fetch_one(&sqlite(&db).pool)
            .await
            .unwrap();
        assert_eq!(rows, i64::from(waves) * 64);
        let final_wal = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        db.close().await.unwrap();
        // ~3.6 KB of WAL per row here: a WAL that never rewinds ends near 10 intervals' worth
        // (~37 MB); one that rewinds stays within about two intervals.
        let bound = 2 * super::writer::CHECKPOINT_EVERY_ROWS * 4096;
        assert!(
            final_wal < bound,
            "WAL is {final_wal} bytes, bound {bound} (max seen {max_wal})"
        );
    }

    #[tokio::test]
    async fn duplicate_in_a_batch_fails_alone_with_11100() {
        let (_dir, _url, db) = file_db().await;
        let exp = now() + time::Duration::days(30);
        db.insert_certificate(&record("1000", "first", exp))
            .await
            .unwrap();

        let go = pause_writer(sqlite(&db)).await;
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            // Row 7 repeats the existing serial 1000 (same AKI).
            let serial = if i == 7 {
                "1000".to_string()
            } else {
                format!("{}", 2000 + i)
            };
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.insert_certificate(&record(&serial, "batch", exp)).await
            }));
        }
        // Wait until all 20 are queued behind the pause, then let the writer take them as one batch.
        // Bounded (generously): inserts that never reach the queue must fail here, not hang.
        let queued = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while sqlite(&db).writer.capacity() > writer::QUEUE_DEPTH - 20 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            queued.is_ok(),
            "the 20 inserts never reached the writer's queue"
        );
        // Queued but not committed: nobody has been answered.
        assert!(tasks.iter().all(|t| !t.is_finished()));
        go.send(()).unwrap();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        for (i, r) in results.iter().enumerate() {
            if i == 7 {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.code(), 11100);
                assert!(
                    e.message().contains("duplicate") && e.message().contains("1000"),
                    "{e}"
                );
            } else {
                assert!(r.is_ok(), "row {i}: {r:?}");
            }
        }
        assert_eq!(db.count_certificates().await.unwrap(), 20);
        assert_eq!(
            sqlite(&db).stats.fallbacks.load(Ordering::Relaxed),
            1,
            "the batch must have failed as a whole first"
        );
        // The original row is untouched.
        assert_eq!(
            db.get_certificate("1000", AKI)
                .await
                .unwrap()
                .unwrap()
                .common_name,
            "first"
        );
        db.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_are_group_committed_and_survive_reopen() {
        let (_dir, url, db) = file_db().await;
        let exp = now() + time::Duration::days(90);
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let db = db.clone();
            let rec = record(&format!("{}", 10_000 + i), &format!("host{i}.example"), exp);
            tasks.push(tokio::spawn(
                async move { db.insert_certificate(&rec).await },
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stats = &sqlite(&db).stats;
        assert_eq!(stats.rows.load(Ordering::Relaxed), 200);
        let batches = stats.batches.load(Ordering::Relaxed);
        assert!(
            batches < 200,
            "expected some batching, got {batches} transactions for 200 rows"
        );
        db.close().await.unwrap();

        let db = CertDb::connect(&url).await.unwrap();
        assert_eq!(db.count_certificates().await.unwrap(), 200);
        for i in [0u32, 99, 199] {
            let r = db
                .get_certificate(&format!("{}", 10_000 + i), AKI)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.common_name, format!("host{i}.example"));
        }
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn closed_handles_answer_11000_instead_of_hanging() {
        let db = memory_db().await;
        let other = db.clone();
        db.close().await.unwrap();
        let e = other
            .insert_certificate(&record("5", "x", now()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), 11000, "{e}");
    }

    #[tokio::test]
    async fn revoke_marks_the_row_or_reports_not_found() {
        let db = memory_db().await;
        db.insert_certificate(&record("77", "r", now() + time::Duration::days(1)))
            .await
            .unwrap();
        let before = now();
        db.revoke("77", AKI, 1).await.unwrap();
        let r = db.get_certificate("77", AKI).await.unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.reason), ("revoked", 1));
        let at = r.revoked_at.unwrap();
        assert!(
            at >= before && at <= now() + time::Duration::seconds(1),
            "{at}"
        );

        for (serial, aki) in [
            ("78", AKI),
            ("77", "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"),
            ("77", ""),
        ] {
            let e = db.revoke(serial, aki, 1).await.unwrap_err();
            assert_eq!(
                e,
                Error::CertStore(
                    11200,
                    "failed to revoke the certificate: certificate not found".into()
                )
            );
        }
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn list_filters_and_keyset_pagination() {
        let db = memory_db().await;
        let t = now();
        let day = time::Duration::days(1);
        // serial, cn, expiry offset in days, status
        let rows = [
            ("1", "a.example", -5, "good"),
            ("2", "a.example", 3, "good"),
            ("3", "b.example", 3, "good"),
            ("4", "b.example", 10, "revoked"),
            ("5", "a.example", 40, "good"),
            ("6", "c.example", 400, "good"),
        ];
        for (serial, cn, days, status) in rows {
            let mut r = record(serial, cn, t + day * days);
            r.status = status.into();
            db.insert_certificate(&r).await.unwrap();
        }
        let mut other = record("9", "a.example", t + day * 2);
        other.authority_key_identifier = "ff".into();
        db.insert_certificate(&other).await.unwrap();

        let serials =
            |v: Vec<CertificateRecord>| v.into_iter().map(|r| r.serial_number).collect::<Vec<_>>();
        let list = |f: ListFilter| {
            let db = db.clone();
            async move { serials(db.list_certificates(&f).await.unwrap()) }
        };
        let all = ListFilter {
            limit: 100,
            ..Default::default()
        };
        assert_eq!(list(all.clone()).await, ["1", "9", "2", "3", "4", "5", "6"]);
        assert_eq!(
            list(ListFilter {
                status: Some("revoked".into()),
                ..all.clone()
            })
            .await,
            ["4"]
        );
        assert_eq!(
            list(ListFilter {
                common_name: Some("a.example".into()),
                ..all.clone()
            })
            .await,
            ["1", "9", "2", "5"]
        );
        assert_eq!(
            list(ListFilter {
                aki: Some("ff".into()),
                ..all.clone()
            })
            .await,
            ["9"]
        );
        assert_eq!(
            list(ListFilter {
                expiring_within: Some(day * 30),
                ..all.clone()
            })
            .await,
            ["9", "2", "3", "4"],
            "expired row 1 and far rows 5, 6 excluded"
        );
        assert_eq!(
            list(ListFilter {
                expiring_within: Some(day * 30),
                status: Some("good".into()),
                aki: Some(AKI.into()),
                ..all.clone()
            })
            .await,
            ["2", "3"]
        );
        assert!(
            list(ListFilter {
                limit: 0,
                ..all.clone()
            })
            .await
            .is_empty()
        );

        // Keyset pages of 2 walk every row once, in order, including rows 2 and 3 with equal expiry.
        let mut seen = Vec::new();
        let mut after = None;
        // Bounded: a cursor that does not advance must fail here, not loop forever.
        for _ in 0..8 {
            let page = db
                .list_certificates(&ListFilter {
                    limit: 2,
                    after: after.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            after = Some(page.last().unwrap().cursor().unwrap());
            seen.extend(serials(page));
            assert!(seen.len() <= 7, "pages repeat rows: {seen:?}");
        }
        assert_eq!(seen, ["1", "9", "2", "3", "4", "5", "6"]);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn every_list_query_is_served_by_the_right_index_without_sorting() {
        let db = memory_db().await;
        let pool = &sqlite(&db).pool;
        let some = |s: &str| Some(s.to_string());
        let within = Some(time::Duration::days(30));
        let after = Some(("2030-01-01 00:00:00+00:00".to_string(), "5".to_string()));
        let d = ListFilter::default;
        let cases = [
            (d(), "idx_certificates_expiry"),
            (
                ListFilter {
                    expiring_within: within,
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    after: after.clone(),
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    aki: some(AKI),
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    status: some("good"),
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    status: some("good"),
                    expiring_within: within,
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    status: some("good"),
                    after: after.clone(),
                    ..d()
                },
                "idx_certificates_expiry",
            ),
            (
                ListFilter {
                    status: some("revoked"),
                    after: after.clone(),
                    ..d()
                },
                "idx_certificates_revoked",
            ),
            (
                ListFilter {
                    common_name: some("x"),
                    ..d()
                },
                "idx_certificates_common_name",
            ),
            (
                ListFilter {
                    common_name: some("x"),
                    status: some("good"),
                    aki: some(AKI),
                    ..d()
                },
                "idx_certificates_common_name",
            ),
            (
                ListFilter {
                    aki: some(AKI),
                    status: some("revoked"),
                    ..d()
                },
                "idx_certificates_revoked",
            ),
            (
                ListFilter {
                    aki: some(AKI),
                    status: some("good"),
                    expiring_within: within,
                    after,
                    ..d()
                },
                "idx_certificates_expiry",
            ),
        ];
        for (f, index) in cases {
            let (sql, binds, _) = list_sql(&f, now()).unwrap();
            let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for b in binds {
                q = q.bind(b);
            }
            let plan: Vec<String> = q
                .bind(10i64)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(3))
                .collect();
            let plan = plan.join(" | ");
            assert!(
                plan.contains(&format!("INDEX {index} "))
                    || plan.ends_with(&format!("INDEX {index}")),
                "{f:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{f:?} sorts: {plan}");
        }
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn crl_and_expiry_queries_use_their_indexes() {
        let db = memory_db().await;
        for (sql, index) in [
            (REVOKED_UNEXPIRED_SQL, "idx_certificates_revoked"),
            (EARLIEST_VALID_EXPIRY_SQL, "idx_certificates_expiry"),
        ] {
            let n = sql.matches('?').count();
            let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for _ in 0..n {
                q = q.bind("x");
            }
            let rows = q.fetch_all(&sqlite(&db).pool).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(&format!("INDEX {index} (")), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn revoked_unexpired_lists_only_revoked_live_rows_of_the_issuer() {
        let db = memory_db().await;
        let t = now();
        let day = time::Duration::days(1);
        for (serial, days) in [("1", 10), ("2", -1), ("3", 20), ("4", 30)] {
            db.insert_certificate(&record(serial, "x", t + day * days))
                .await
                .unwrap();
        }
        let mut foreign = record("5", "x", t + day * 10);
        foreign.authority_key_identifier = "ff".into();
        db.insert_certificate(&foreign).await.unwrap();
        db.revoke("1", AKI, 1).await.unwrap(); // revoked, live → listed
        db.revoke("2", AKI, 4).await.unwrap(); // revoked but expired → not listed
        db.revoke("3", AKI, 5).await.unwrap(); // listed
        db.revoke("5", "ff", 1).await.unwrap(); // other issuer
        // "4" stays good → not listed.
        let got = db.revoked_unexpired(AKI).await.unwrap();
        let brief: Vec<(&str, i64)> = got.iter().map(|(s, _, r)| (s.as_str(), *r)).collect();
        assert_eq!(brief, [("1", 1), ("3", 5)]);
        assert!(
            got.iter()
                .all(|(_, at, _)| *at >= t - time::Duration::seconds(1))
        );
        assert_eq!(db.revoked_unexpired("ff").await.unwrap().len(), 1);
        assert!(db.revoked_unexpired("00").await.unwrap().is_empty());
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn earliest_valid_expiry_ignores_expired_and_revoked() {
        let db = memory_db().await;
        assert_eq!(db.earliest_valid_expiry().await.unwrap(), None);
        let t = now();
        let day = time::Duration::days(1);
        for (serial, days) in [("1", -3), ("2", 5), ("3", 9)] {
            db.insert_certificate(&record(serial, "x", t + day * days))
                .await
                .unwrap();
        }
        db.revoke("2", AKI, 1).await.unwrap();
        assert_eq!(db.earliest_valid_expiry().await.unwrap(), Some(t + day * 9));
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn crl_numbers_increase_per_issuer() {
        let db = memory_db().await;
        assert_eq!(db.next_crl_number("aa").await.unwrap(), 1);
        assert_eq!(db.next_crl_number("aa").await.unwrap(), 2);
        assert_eq!(db.next_crl_number("bb").await.unwrap(), 1);
        assert_eq!(db.next_crl_number("aa").await.unwrap(), 3);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn bootstrap_tokens_insert_list_delete() {
        let db = memory_db().await;
        let tok = |id: &str, created: OffsetDateTime| TokenRecord {
            token_id: id.to_string(),
            secret_hash: format!("sha256:{id}"),
            expires_at: Some(datetime!(2030-01-01 00:00 UTC)),
            groups: vec!["system:bootstrappers:kubeadm:default-node-token".into()],
            usages: vec!["authentication".into(), "signing".into()],
            description: "node join".into(),
            created_at: created,
            revoked_at: None,
        };
        let a = tok("abcdef", datetime!(2026-11-22 01:00 UTC));
        let mut b = tok("ghijkl", datetime!(2026-11-22 02:00 UTC));
        b.expires_at = None;
        b.groups.clear();
        db.insert_token(&b).await.unwrap();
        db.insert_token(&a).await.unwrap();
        assert_eq!(db.insert_token(&a).await.unwrap_err().code(), 11100);
        let mut bad = tok("zzzzzz", datetime!(2026-11-22 01:00 UTC));
        bad.groups = vec!["a,b".into()];
        assert_eq!(db.insert_token(&bad).await.unwrap_err().code(), 11100);

        assert_eq!(db.get_token("abcdef").await.unwrap().as_ref(), Some(&a));
        assert_eq!(db.list_tokens().await.unwrap(), vec![a.clone(), b.clone()]);
        let stored: String =
            sqlx::query_scalar("SELECT usages FROM bootstrap_tokens WHERE token_id = 'abcdef'")
                .fetch_one(&sqlite(&db).pool)
                .await
                .unwrap();
        assert_eq!(stored, "authentication,signing");

        assert!(db.delete_token("abcdef").await.unwrap());
        assert!(!db.delete_token("abcdef").await.unwrap(), "already deleted");
        assert!(!db.delete_token("nosuch").await.unwrap());
        let gone = db.get_token("abcdef").await.unwrap().unwrap();
        assert!(gone.revoked_at.is_some());
        assert_eq!(db.get_token("nosuch").await.unwrap(), None);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn auth_token_replays_are_detected_and_expired_ones_pruned() {
        let db = memory_db().await;
        let later = now() + time::Duration::minutes(5);
        assert!(db.remember_auth_token("h1", later).await.unwrap());
        assert!(
            !db.remember_auth_token("h1", later).await.unwrap(),
            "replay"
        );
        assert!(db.remember_auth_token("h2", later).await.unwrap());
        // An expired entry no longer blocks (its token is refused by its own timestamp anyway).
        let past = now() - time::Duration::minutes(1);
        assert!(db.remember_auth_token("old", past).await.unwrap());
        assert!(db.remember_auth_token("old", later).await.unwrap());
        assert!(!db.remember_auth_token("old", later).await.unwrap());
        // Pruning happens every PRUNE_EVERY calls and removes only expired rows.
        assert!(db.remember_auth_token("stale", past).await.unwrap());
        for i in 0..PRUNE_EVERY {
            db.remember_auth_token(&format!("fill{i}"), later)
                .await
                .unwrap();
        }
        let stale: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM used_auth_tokens WHERE token_hash = 'stale'")
                .fetch_one(&sqlite(&db).pool)
                .await
                .unwrap();
        assert_eq!(stale, 0);
        assert!(
            !db.remember_auth_token("h1", later).await.unwrap(),
            "unexpired entries survive pruning"
        );
        db.close().await.unwrap();
    }

    /// Bounded (generously): a fill whose loop never ends must fail the test, not hang it.
    async fn bounded<T>(fill: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(60), fill)
            .await
            .expect("the fill did not finish within 60 s")
    }

    #[tokio::test]
    async fn list_certificates_all_pages_past_one_page_and_stops_at_its_limit() {
        let db = memory_db().await;
        bounded(db.fill_synthetic(10_050, 50, AKI)).await.unwrap();
        let every = ListFilter::default();
        // One page is clamped (the API's bound) ...
        let one = ListFilter {
            limit: 100_000,
            ..Default::default()
        };
        assert_eq!(db.list_certificates(&one).await.unwrap().len(), 10_000);
        // ... the CLI's listing pages on: every row once, in (expiry, serial) order.
        let all = db.list_certificates_all(&every, 1_000_000).await.unwrap();
        assert_eq!(all.len(), 10_050);
        let keys: Vec<(String, String)> = all.iter().map(|r| r.cursor().unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "not strictly ordered");
        // A limit past one page, exactly one page, below it, and zero.
        for limit in [10_020, 10_000, 5, 0] {
            let got = db.list_certificates_all(&every, limit).await.unwrap();
            assert_eq!(got.len(), limit);
            assert!(
                got.iter()
                    .zip(&all)
                    .all(|(a, b)| a.serial_number == b.serial_number)
            );
        }
        // Filters hold on every page: 10,050 / 50 revoked rows.
        let revoked = ListFilter {
            status: Some("revoked".into()),
            ..Default::default()
        };
        let got = db.list_certificates_all(&revoked, 1_000_000).await.unwrap();
        assert_eq!(got.len(), 201);
        assert!(got.iter().all(|r| r.status == "revoked"));
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn fill_synthetic_writes_realistic_rows() {
        let db = memory_db().await;
        bounded(db.fill_synthetic(1000, 10, AKI)).await.unwrap();
        assert_eq!(db.count_certificates().await.unwrap(), 1000);
        let revoked = ListFilter {
            status: Some("revoked".into()),
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(db.list_certificates(&revoked).await.unwrap().len(), 100);
        let (min_len, max_len): (i64, i64) =
            sqlx::query_as("SELECT MIN(length(pem)), MAX(length(pem)) FROM certificates")
                .fetch_one(&sqlite(&db).pool)
                .await
                .unwrap();
        assert!(
            (850..=950).contains(&min_len) && min_len == max_len,
            "{min_len} {max_len}"
        );
        let expired: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE expiry < ?")
            .bind(format_db_time(now()).unwrap())
            .fetch_one(&sqlite(&db).pool)
            .await
            .unwrap();
        assert!(expired > 0 && expired < 200, "{expired}");
        assert_eq!(db.integrity_check().await.unwrap(), "ok");
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn bulk_fill_rebuilds_the_indexes_and_later_fills_append() {
        let (_dir, _url, db) = file_db().await;
        let indexes = |db: CertDb| async move {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .fetch_all(&sqlite(&db).pool)
            .await
            .unwrap();
            names
        };
        let before = indexes(db.clone()).await;
        assert_eq!(before.len(), 3);
        // bulk path (empty table), then the incremental path
        bounded(db.fill_synthetic(FILL_BULK_MIN_ROWS, 0, AKI))
            .await
            .unwrap();
        bounded(db.fill_synthetic(500, 0, "ff")).await.unwrap();
        assert_eq!(indexes(db.clone()).await, before);
        assert_eq!(
            db.count_certificates().await.unwrap(),
            FILL_BULK_MIN_ROWS + 500
        );
        assert_eq!(db.integrity_check().await.unwrap(), "ok");
        let ff = ListFilter {
            aki: Some("ff".into()),
            limit: 1000,
            ..Default::default()
        };
        let page = db.list_certificates(&ff).await.unwrap();
        assert_eq!(page.len(), 500);
        assert!(
            page.iter()
                .all(|r| r.serial_number.len() == 38 && r.common_name.starts_with("svc-"))
        );
        db.close().await.unwrap();
    }

    /// Rows per second for `n` inserts issued by `concurrency` tasks through `insert`.
    async fn rate<F, Fut>(n: u32, concurrency: u32, insert: F) -> f64
    where
        F: Fn(u32) -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send,
    {
        let start = std::time::Instant::now();
        let mut tasks = Vec::new();
        for t in 0..concurrency {
            let insert = insert.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = t;
                while i < n {
                    insert(i).await.unwrap();
                    i += concurrency;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        f64::from(n) / start.elapsed().as_secs_f64()
    }

    /// Timing, not a check: `cargo test --release --lib bench_insert_rates -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark; run by hand"]
    async fn bench_insert_rates() {
        let exp = now() + time::Duration::days(365);
        let pem = "x".repeat(900);
        let rec = move |prefix: u32, i: u32| {
            let mut r = record(&format!("{prefix}{i:09}"), &format!("host{i}.example"), exp);
            r.pem = pem.clone();
            r
        };
        for concurrency in [1u32, 16, 64, 256] {
            // One transaction (one WAL fsync) per row: each insert autocommits on a pooled connection.
            let (_dir, _url, db) = file_db().await;
            let n = if concurrency == 1 { 500 } else { 1000 };
            let (pool, rec2) = (sqlite(&db).pool.clone(), rec.clone());
            let per_row = rate(n, concurrency, move |i| {
                let (pool, r) = (pool.clone(), rec2(1, i));
                async move {
                    let p = PreparedCert::from_record(&r)?;
                    let mut conn = pool.acquire().await.map_err(sql_err)?;
                    bind_cert(sqlx::query(AssertSqlSafe(multi_insert_sql(1))), &p)
                        .execute(&mut *conn)
                        .await
                        .map(|_| ())
                        .map_err(sql_err)
                }
            })
            .await;
            db.close().await.unwrap();

            // Group commit through the writer task.
            let (_dir, _url, db) = file_db().await;
            let n = if concurrency == 1 { 500 } else { 20_000 };
            let (db2, rec2) = (db.clone(), rec.clone());
            let grouped = rate(n, concurrency, move |i| {
                let (db, r) = (db2.clone(), rec2(2, i));
                async move { db.insert_certificate(&r).await }
            })
            .await;
            let s = &sqlite(&db).stats;
            let (rows, batches) = (
                s.rows.load(Ordering::Relaxed),
                s.batches.load(Ordering::Relaxed),
            );
            db.close().await.unwrap();
            println!(
                "concurrency {concurrency:>3}: txn-per-row {per_row:>8.0} rows/s | group commit {grouped:>8.0} rows/s \
                 ({:.1} rows/txn)",
                rows as f64 / batches.max(1) as f64
            );
        }
        let (_dir, _url, db) = file_db().await;
        let start = std::time::Instant::now();
        db.fill_synthetic(200_000, 100, AKI).await.unwrap();
        println!(
            "fill_synthetic: {:.0} rows/s",
            200_000.0 / start.elapsed().as_secs_f64()
        );
        db.close().await.unwrap();
    }

    /// Timing at scale: `cargo test --release --lib bench_list_one_million -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark; run by hand (fills 1,000,000 rows)"]
    async fn bench_list_one_million() {
        let (_dir, _url, db) = file_db().await;
        let start = std::time::Instant::now();
        db.fill_synthetic(990_000, 50, AKI).await.unwrap();
        db.fill_synthetic(10_000, 50, "ff").await.unwrap();
        println!("fill 1,000,000: {:.1} s", start.elapsed().as_secs_f64());
        let some = |s: &str| Some(s.to_string());
        let d = ListFilter {
            limit: 100,
            ..Default::default()
        };
        let cases = [
            ("all", d.clone()),
            (
                "status=revoked",
                ListFilter {
                    status: some("revoked"),
                    ..d.clone()
                },
            ),
            (
                "good, expiring within 30d",
                ListFilter {
                    status: some("good"),
                    expiring_within: Some(time::Duration::days(30)),
                    ..d.clone()
                },
            ),
            (
                "common name",
                ListFilter {
                    common_name: some("svc-01234.synthetic.example"),
                    ..d.clone()
                },
            ),
            (
                "small issuer",
                ListFilter {
                    aki: some("ff"),
                    ..d.clone()
                },
            ),
            (
                "small issuer, revoked",
                ListFilter {
                    aki: some("ff"),
                    status: some("revoked"),
                    ..d.clone()
                },
            ),
        ];
        for (name, filter) in cases {
            let t = std::time::Instant::now();
            let mut page = db.list_certificates(&filter).await.unwrap();
            let first = t.elapsed();
            // Walk 50 pages deep by keyset.
            let t = std::time::Instant::now();
            for _ in 0..50 {
                let Some(last) = page.last() else { break };
                let after = Some(last.cursor().unwrap());
                page = db
                    .list_certificates(&ListFilter {
                        after,
                        ..filter.clone()
                    })
                    .await
                    .unwrap();
            }
            println!(
                "{name:<28} first page {:>7.2} ms, 50 more pages {:>8.2} ms",
                first.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        for (name, run) in [
            ("count", 0),
            ("earliest_valid_expiry", 1),
            ("revoked_unexpired (19.8k rows)", 2),
            ("get_certificate", 3),
        ] {
            let t = std::time::Instant::now();
            match run {
                0 => assert_eq!(db.count_certificates().await.unwrap(), 1_000_000),
                1 => assert!(db.earliest_valid_expiry().await.unwrap().is_some()),
                2 => assert!(db.revoked_unexpired(AKI).await.unwrap().len() > 10_000),
                _ => assert!(db.get_certificate("1", AKI).await.unwrap().is_none()),
            }
            println!("{name:<28} {:>8.2} ms", t.elapsed().as_secs_f64() * 1e3);
        }
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn debug_shows_the_url_and_nothing_else() {
        let db = memory_db().await;
        assert_eq!(
            format!("{:?}", sqlite(&db)),
            "SqliteDb { url: \"sqlite::memory:\", .. }"
        );
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn empty_serial_or_aki_is_refused_with_11100() {
        let db = memory_db().await;
        let mut r = record("", "a", datetime!(2030-01-01 00:00 UTC));
        let e = db.insert_certificate(&r).await.unwrap_err();
        assert_eq!(e.code(), 11100, "{e}");
        assert!(e.message().contains("not decimal"), "{e}");
        r.serial_number = "42".into();
        r.authority_key_identifier = String::new();
        let e = db.insert_certificate(&r).await.unwrap_err();
        assert_eq!(e.code(), 11100, "{e}");
        assert!(e.message().contains("not lowercase hex"), "{e}");
        assert_eq!(db.count_certificates().await.unwrap(), 0);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn url_parameters_reach_the_connections() {
        // synchronous=normal is taken out of the URL and applied (and is not refused as a
        // parameter: only mode=memory is).
        let (dir, _url, db) = file_db().await;
        db.insert_certificate(&record("1", "ro", now() + time::Duration::days(1)))
            .await
            .unwrap();
        db.close().await.unwrap();
        let path = dir.path().join("certs.db");
        let db = CertDb::connect(&format!("sqlite://{}?synchronous=normal", path.display()))
            .await
            .unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&sqlite(&db).pool)
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        db.close().await.unwrap();
        // mode=ro: readers work, and the writer's connection is read-only too, so inserts fail.
        let db = CertDb::connect(&format!("sqlite://{}?mode=ro", path.display()))
            .await
            .unwrap();
        assert_eq!(db.count_certificates().await.unwrap(), 1);
        let e = db
            .insert_certificate(&record("2", "ro", now() + time::Duration::days(1)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), 11100, "{e}");
        assert!(e.message().contains("readonly"), "{e}");
        assert_eq!(db.count_certificates().await.unwrap(), 1);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn token_insert_errors_other_than_duplicates_keep_their_sqlite_message() {
        let db = memory_db().await;
        let pool = &sqlite(&db).pool;
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON bootstrap_tokens \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(pool)
        .await
        .unwrap();
        let tok = TokenRecord {
            token_id: "abcdef".into(),
            secret_hash: "sha256:x".into(),
            expires_at: None,
            groups: Vec::new(),
            usages: vec!["authentication".into()],
            description: String::new(),
            created_at: datetime!(2026-11-22 01:00 UTC),
            revoked_at: None,
        };
        let e = db.insert_token(&tok).await.unwrap_err();
        assert_eq!(
            e,
            Error::CertStore(
                11100,
                "failed to insert the token: refused by the test".into()
            )
        );
        sqlx::query("DROP TRIGGER refuse")
            .execute(pool)
            .await
            .unwrap();
        db.insert_token(&tok).await.unwrap();
        let e = db.insert_token(&tok).await.unwrap_err();
        assert_eq!(
            e,
            Error::CertStore(
                11100,
                "failed to insert the token: duplicate token id \"abcdef\"".into()
            )
        );
        // Reads report the bare SQLite message as 11000, as cfssl does.
        sqlx::query("DROP TABLE bootstrap_tokens")
            .execute(pool)
            .await
            .unwrap();
        let e = db.list_tokens().await.unwrap_err();
        assert_eq!(
            e,
            Error::CertStore(11000, "no such table: bootstrap_tokens".into())
        );
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn expiring_within_past_the_storable_range_is_clamped() {
        let db = memory_db().await;
        let t = now();
        for (serial, expiry) in [
            ("1", t - time::Duration::days(1)),
            ("2", t + time::Duration::days(1)),
            ("3", datetime!(9999-12-31 00:00 UTC)),
        ] {
            db.insert_certificate(&record(serial, "x", expiry))
                .await
                .unwrap();
        }
        let list = |within: time::Duration| {
            let db = db.clone();
            async move {
                db.list_certificates(&ListFilter {
                    expiring_within: Some(within),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.serial_number)
                .collect::<Vec<_>>()
            }
        };
        // now + MAX overflows: every unexpired row, up to the end of year 9999.
        assert_eq!(list(time::Duration::MAX).await, ["2", "3"]);
        // now + MIN overflows the other way: nothing.
        assert!(list(time::Duration::MIN).await.is_empty());
        // Within range, but before year 1 (not storable): nothing either.
        assert!(list(-time::Duration::days(800_000)).await.is_empty());
        db.close().await.unwrap();
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // SplitMix64 seeded with 0 (Vigna's reference implementation).
        let mut r = SplitMix64(0);
        assert_eq!(r.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next(), 0x06C4_5D18_8009_454F);
        assert_eq!(rng_start(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng_start(u64::MAX), SplitMix64(u64::MAX).next());
        assert_ne!(rng_start(1), rng_start(0));
    }

    #[test]
    fn multi_insert_sql_lists_one_placeholder_group_per_row() {
        let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let head = format!("INSERT INTO certificates ({CERT_COLUMNS}) VALUES ");
        assert_eq!(multi_insert_sql(1), format!("{head}{one}"));
        assert_eq!(multi_insert_sql(3), format!("{head}{one}, {one}, {one}"));
    }

    #[test]
    fn synthetic_rows_have_the_documented_shape() {
        let now = datetime!(2026-11-22 12:00 UTC);
        let now_text = format_db_time(now).unwrap();
        let mut rng = SplitMix64(7);
        let (mut min_offset, mut max_offset) = (i64::MAX, i64::MIN);
        let mut reasons = std::collections::BTreeSet::new();
        let mut pem_chars = std::collections::BTreeMap::<char, usize>::new();
        let mut cns = std::collections::BTreeSet::new();
        for i in 0..2000u32 {
            let revoked = i % 2 == 0;
            let p = synthetic_row(&mut rng, 12_345, now, &now_text, AKI, revoked).unwrap();
            assert_eq!((p.serial.as_str(), p.aki.as_str()), ("12345", AKI));
            assert_eq!(p.issued_at, now_text);
            let expiry = parse_db_time(&p.expiry).unwrap();
            let offset = (expiry - now).whole_seconds();
            min_offset = min_offset.min(offset);
            max_offset = max_offset.max(offset);
            assert_eq!(
                parse_db_time(&p.not_before).unwrap(),
                expiry - time::Duration::days(365)
            );
            if revoked {
                assert_eq!(p.status, "revoked");
                assert_eq!(p.revoked_at, now_text);
                reasons.insert(p.reason);
            } else {
                assert_eq!((p.status.as_str(), p.reason), ("good", 0));
                assert_eq!(p.revoked_at, ZERO_TIME_TEXT);
            }
            let body = p
                .pem
                .strip_prefix("-----BEGIN CERTIFICATE-----\n")
                .and_then(|b| b.strip_suffix("-----END CERTIFICATE-----\n"))
                .unwrap();
            let lines: Vec<&str> = body.lines().collect();
            assert_eq!(lines.len(), 13);
            for line in lines {
                assert_eq!(line.len(), 64);
                for group in line.as_bytes().chunks(8) {
                    // Each character comes from its own 6 bits of the random word.
                    assert!(group[..6].iter().any(|&c| c != group[0]), "{line}");
                }
                for c in line.chars() {
                    *pem_chars.entry(c).or_default() += 1;
                }
            }
            let n = p
                .common_name
                .strip_prefix("svc-")
                .and_then(|c| c.strip_suffix(".synthetic.example"))
                .unwrap();
            assert_eq!(n.len(), 5);
            assert!(n.parse::<u32>().unwrap() < 50_000);
            assert_eq!(p.sans, Some(format!("[\"{}\"]", p.common_name)));
            assert_eq!(p.metadata, None);
            assert_eq!((p.ca_label.as_str(), p.profile.as_str()), ("", "synthetic"));
            cns.insert(p.common_name);
        }
        // Expiry from 60 days ago to 3 years ahead, spread over the whole range.
        let day = 86_400;
        assert!(
            min_offset >= -60 * day && min_offset < -30 * day,
            "{min_offset}"
        );
        assert!(max_offset < 3 * 365 * day - 60 * day && max_offset > 2 * 365 * day);
        assert_eq!(reasons.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        // Base64 characters, all used, none dominating.
        assert_eq!(pem_chars.len(), 64);
        assert!(
            pem_chars
                .keys()
                .all(|c| c.is_ascii_alphanumeric() || "+/".contains(*c))
        );
        let total: usize = pem_chars.values().sum();
        assert!(pem_chars.values().all(|&n| n < total / 32), "{pem_chars:?}");
        assert!(cns.len() > 1900, "{}", cns.len());
    }

    #[test]
    fn synthetic_serials_rise_and_every_nth_row_is_revoked() {
        let now = datetime!(2026-11-22 12:00 UTC);
        let start = 10_u128.pow(37);
        let mut rows = SyntheticRows {
            serial: start,
            rng: SplitMix64(99),
            now,
            now_text: format_db_time(now).unwrap(),
            aki: AKI.to_string(),
            revoked_every: 3,
            done: 0,
        };
        let got = rows.generate(9).unwrap();
        assert_eq!(rows.done, 9);
        let status: Vec<&str> = got.iter().map(|p| p.status.as_str()).collect();
        assert_eq!(
            status,
            [
                "good", "good", "revoked", "good", "good", "revoked", "good", "good", "revoked"
            ]
        );
        // The first step is 1 + the top 40 bits of the generator's first output.
        let first: u128 = got[0].serial.parse().unwrap();
        assert_eq!(first, start + 1 + u128::from(SplitMix64(99).next() >> 24));
        let mut prev = start;
        for p in &got {
            let s: u128 = p.serial.parse().unwrap();
            assert!(s > prev && s - prev <= 1 << 40, "{prev} -> {s}");
            assert_eq!(p.serial.len(), 38);
            prev = s;
        }
        assert!(rows.generate(0).unwrap().is_empty());
        // revoked_every 0: nothing is revoked.
        rows.revoked_every = 0;
        assert!(rows.generate(5).unwrap().iter().all(|p| p.status == "good"));
    }

    #[tokio::test]
    async fn fill_starts_anywhere_in_the_lower_half_of_the_38_digit_range() {
        let db = memory_db().await;
        let mut conn = SqliteConnection::connect_with(&sqlite(&db).opts)
            .await
            .unwrap();
        let ten_37 = 10_u128.pow(37);
        let mut firsts = std::collections::BTreeSet::new();
        for (i, seed) in [1, 2, 3, 42, 0xDEAD_BEEF, 1 << 63, u64::MAX - 1, u64::MAX]
            .into_iter()
            .enumerate()
        {
            let aki = format!("{i:02x}");
            bounded(fill_on(&mut conn, 1, 0, &aki, seed)).await.unwrap();
            let serial: String = sqlx::query_scalar(
                "SELECT serial_number FROM certificates WHERE authority_key_identifier = ?",
            )
            .bind(&aki)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            let s: u128 = serial.parse().unwrap();
            // Lower half (plus one step of < 2^40), and not pinned to its start: the start is
            // drawn from all 128 bits of two generator outputs.
            assert!(
                s > ten_37 + 10_u128.pow(20) && s <= ten_37 + ten_37 / 2 + (1 << 40),
                "seed {seed}: {s}"
            );
            firsts.insert(s);
        }
        assert_eq!(firsts.len(), 8);
        conn.close().await.unwrap();
        db.close().await.unwrap();
    }
}
