//! The group-commit writer of the SQLite certificate database: one OS thread owning one SQLite
//! connection (rusqlite) that takes every queued insert, commits them in one transaction, and only
//! then answers each waiter. It knows the `certificates` and `pending_certificates` columns and
//! nothing of X.509, HTTP or the CLI.
//!
//! Two-step issuance (`issue::sign_and_record`): a `Pending` row (the record without its PEM, plus
//! the TBS) is committed durably like an insert while the caller signs; its `Complete` message then
//! moves it into `certificates` with the PEM in a transaction committed without a sync (the next
//! durable commit syncs it; until then the pending row, deleted in that same transaction, is what
//! survives a power loss). Completions are committed before the durable batch of the same round so
//! that they never wait for a sync of rows they do not depend on.
//!
//! Why not sqlx here: sqlx's SQLite driver runs each statement on a worker thread of its own, so a
//! batch cost BEGIN + n INSERTs + COMMIT round trips (thread wake-ups) between the writer task and
//! that thread, and the writer sat idle in between. This thread runs the whole transaction itself;
//! a request costs one hand-off in and one wake-up out (BENCHMARKS.md has the before/after).
//! Readers, migrations and the rare other writes stay on the sqlx pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{OpenFlags, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::sqlite::PreparedCert;
use crate::error::{Error, Result};

/// Most inserts committed in one group-commit transaction.
pub(super) const MAX_BATCH: usize = 256;
/// Inserts that may wait for the writer before `insert_certificate` callers are back-pressured.
pub(super) const QUEUE_DEPTH: usize = 1024;
/// The writer's page cache, KiB (SQLite's default is 2,000).
const WRITER_CACHE_KIB: u32 = 4096;
/// Rows committed between two background WAL checkpoints. Each checkpoint writes every page
/// changed since the last one once, so a longer interval writes fewer pages per row (index and
/// table pages dedupe); the WAL stays bounded at roughly this many rows (~27 MB under `/sign`
/// load). Measured against 256 and 4,096 in BENCHMARKS.md (p99 and throughput).
pub(super) const CHECKPOINT_EVERY_ROWS: u64 = 1024;

const PENDING_SQL: &str = "INSERT INTO pending_certificates (serial_number, \
     authority_key_identifier, ca_label, status, reason, expiry, revoked_at, issued_at, \
     not_before, metadata, sans, common_name, profile, tbs) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Moves a pending row into `certificates` with its PEM; matches the TBS too, so that only the
/// request that recorded it can complete it.
const COMPLETE_SQL: &str = "INSERT INTO certificates (serial_number, authority_key_identifier, \
     ca_label, status, reason, expiry, revoked_at, pem, issued_at, not_before, metadata, sans, \
     common_name, profile) SELECT serial_number, authority_key_identifier, ca_label, status, \
     reason, expiry, revoked_at, ?3, issued_at, not_before, metadata, sans, common_name, profile \
     FROM pending_certificates \
     WHERE serial_number = ?1 AND authority_key_identifier = ?2 AND tbs = ?4";

const DELETE_PENDING_SQL: &str = "DELETE FROM pending_certificates \
     WHERE serial_number = ?1 AND authority_key_identifier = ?2 AND tbs = ?3";

const INSERT_SQL: &str = "INSERT INTO certificates (serial_number, authority_key_identifier, \
     ca_label, status, reason, expiry, revoked_at, pem, issued_at, not_before, metadata, sans, \
     common_name, profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Counters kept by the writer (read by tests and available for metrics).
#[derive(Default)]
pub(super) struct WriterStats {
    /// Group-commit transactions committed.
    pub(super) batches: AtomicU64,
    /// Rows committed through the writer.
    pub(super) rows: AtomicU64,
    /// Batches that failed and were retried row by row.
    pub(super) fallbacks: AtomicU64,
    /// Tests: completion transactions committed with `synchronous` at NORMAL or below.
    #[cfg(test)]
    pub(super) unsynced: AtomicU64,
}

/// Where the writer answers one request.
pub(super) type Waiter = oneshot::Sender<Result<()>>;

/// A pending issuance: the certificate's record without its PEM, and its TBSCertificate.
pub(super) struct PendingRow {
    pub(super) cert: PreparedCert,
    pub(super) tbs: Vec<u8>,
}

/// The end of a pending issuance.
pub(super) struct Completion {
    pub(super) serial: String,
    pub(super) aki: String,
    pub(super) tbs: Vec<u8>,
    /// The certificate PEM; None: the issuance was abandoned (signing failed), drop the row.
    pub(super) pem: Option<String>,
}

/// A message to the writer.
pub(super) enum WriterMsg {
    /// Insert this row; answer once it is committed (or failed).
    Insert(Box<PreparedCert>, Waiter),
    /// Record this pending issuance durably; answer once it is committed (or failed).
    Pending(Box<PendingRow>, Waiter),
    /// Complete (or abandon) a pending issuance queued earlier; answer once written.
    Complete(Box<Completion>, Option<Waiter>),
    /// Finish what is queued before this message, close the connection, then answer.
    Shutdown(oneshot::Sender<()>),
    /// Tests: wait for the signal before taking more work, so that a batch can be lined up.
    #[cfg(test)]
    Pause(std::sync::mpsc::Receiver<()>),
    /// Tests: run this on the writer's connection.
    #[cfg(test)]
    Inspect(Box<dyn FnOnce(&rusqlite::Connection) + Send>),
}

/// Where and how the writer opens its connection (the same file and settings as the pool's).
pub(super) struct WriterTarget {
    /// The database file, or sqlx's shared-cache name for `sqlite::memory:`.
    pub(super) path: PathBuf,
    pub(super) in_memory: bool,
    /// The URL asked for `mode=ro` (or `immutable`): inserts then fail, as they must.
    pub(super) read_only: bool,
    /// PRAGMA synchronous value: "FULL" or "NORMAL".
    pub(super) synchronous: &'static str,
    pub(super) busy_timeout: Duration,
}

/// Checkpoints the WAL in two steps, so that no commit waits for a full checkpoint and the WAL
/// still restarts from its beginning (it would otherwise grow without bound under steady load:
/// a checkpoint running beside the writer never reaches the writer's last frame, and SQLite only
/// rewinds the WAL once every frame is copied back).
/// 1. every `CHECKPOINT_EVERY_ROWS` rows, `start` runs PASSIVE checkpoint passes on another
///    connection, in the background, then flushes the database file (the bulk of the pages and
///    of the I/O);
/// 2. when it has finished, the writer copies the few frames appended meanwhile itself
///    (a short PASSIVE checkpoint whose fsync finds little left to write), after which its next
///    transaction rewinds the WAL.
pub(super) struct Checkpointer {
    busy: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    start: Box<dyn Fn(CheckpointDone) + Send>,
}

/// Handed to a background checkpoint; `finish` when it is over (whatever its outcome).
pub(super) struct CheckpointDone {
    busy: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
}

impl CheckpointDone {
    pub(super) fn finish(self) {
        self.finished.store(true, Ordering::Release);
        self.busy.store(false, Ordering::Release);
    }
}

impl Checkpointer {
    pub(super) fn new(start: impl Fn(CheckpointDone) + Send + 'static) -> Checkpointer {
        Checkpointer {
            busy: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(AtomicBool::new(false)),
            start: Box::new(start),
        }
    }

    /// Starts a background checkpoint unless one is running.
    fn start_background(&self) {
        if !self.busy.swap(true, Ordering::AcqRel) {
            (self.start)(CheckpointDone {
                busy: self.busy.clone(),
                finished: self.finished.clone(),
            });
        }
    }

    /// Whether a background checkpoint has finished since the last call.
    fn take_finished(&self) -> bool {
        self.finished.swap(false, Ordering::AcqRel)
    }
}

/// Opens the writer's connection and starts its thread. The returned handle ends when the
/// thread has closed its connection.
pub(super) fn spawn(
    target: &WriterTarget,
    stats: Arc<WriterStats>,
    checkpoint: Checkpointer,
) -> Result<(mpsc::Sender<WriterMsg>, std::thread::JoinHandle<()>)> {
    let conn = open(target)?;
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let handle = std::thread::Builder::new()
        .name("kpki-db-writer".into())
        .spawn(move || run(conn, rx, &stats, &checkpoint))
        .map_err(|e| Error::CertStore(11000, format!("cannot start the database writer: {e}")))?;
    Ok((tx, handle))
}

fn open(t: &WriterTarget) -> Result<rusqlite::Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    flags |= if t.read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    };
    if t.in_memory {
        flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let fail = |e: rusqlite::Error| {
        Error::CertStore(
            11000,
            format!(
                "cannot open the database writer connection: {}",
                message(&e)
            ),
        )
    };
    let conn = rusqlite::Connection::open_with_flags(&t.path, flags).map_err(fail)?;
    conn.busy_timeout(t.busy_timeout).map_err(fail)?;
    if !t.read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -{WRITER_CACHE_KIB};",
        t.synchronous
    ))
    .map_err(fail)?;
    Ok(conn)
}

/// A row committed durably: a certificate, or a pending issuance.
enum Durable {
    Cert(Box<PreparedCert>),
    Pending(Box<PendingRow>),
}

impl Durable {
    fn cert(&self) -> &PreparedCert {
        match self {
            Durable::Cert(c) => c,
            Durable::Pending(p) => &p.cert,
        }
    }

    fn write(&self, tx: &rusqlite::Connection) -> rusqlite::Result<()> {
        match self {
            Durable::Cert(c) => insert(&mut tx.prepare_cached(INSERT_SQL)?, c),
            Durable::Pending(p) => insert_pending(&mut tx.prepare_cached(PENDING_SQL)?, p),
        }
    }
}

/// The thread body: takes one queued message, drains whatever else is queued (up to
/// `MAX_BATCH`), then writes in three steps: the completions of issuances recorded in earlier
/// rounds (unsynced), the inserts and pending issuances in one durable transaction, and the
/// completions of issuances recorded in this round. Nobody is answered before the commit that
/// holds their row has returned.
fn run(
    mut conn: rusqlite::Connection,
    mut rx: mpsc::Receiver<WriterMsg>,
    stats: &WriterStats,
    checkpoint: &Checkpointer,
) {
    let durable_sync = pragma_synchronous(&conn);
    let mut batch: Vec<(Durable, Waiter)> = Vec::with_capacity(MAX_BATCH);
    let mut ready: Vec<(Box<Completion>, Option<Waiter>)> = Vec::new();
    let mut after: Vec<(Box<Completion>, Option<Waiter>)> = Vec::new();
    let mut shutdown = None;
    let mut rows_at_checkpoint = 0u64;
    while shutdown.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Insert(rec, waiter) => batch.push((Durable::Cert(rec), waiter)),
                WriterMsg::Pending(p, waiter) => batch.push((Durable::Pending(p), waiter)),
                WriterMsg::Complete(c, waiter) => {
                    // Its pending row is in this round's durable batch: complete it after.
                    let here = batch.iter().any(|(d, _)| match d {
                        Durable::Pending(p) => p.cert.serial == c.serial && p.cert.aki == c.aki,
                        Durable::Cert(_) => false,
                    });
                    if here {
                        after.push((c, waiter));
                    } else {
                        ready.push((c, waiter));
                    }
                }
                WriterMsg::Shutdown(done) => {
                    shutdown = Some(done);
                    break;
                }
                #[cfg(test)]
                WriterMsg::Pause(go) => {
                    let _ = go.recv();
                }
                #[cfg(test)]
                WriterMsg::Inspect(f) => f(&conn),
            }
            taken += 1;
            if taken < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let wrote = !(ready.is_empty() && batch.is_empty() && after.is_empty());
        if !ready.is_empty() {
            complete_batch(&mut conn, &mut ready, stats, &durable_sync);
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut batch, stats);
        }
        if !after.is_empty() {
            complete_batch(&mut conn, &mut after, stats, &durable_sync);
        }
        if wrote {
            if checkpoint.take_finished() {
                // Step 2: the tail the background checkpoint could not see.
                let tail = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(e) = tail {
                    tracing::warn!("checkpointing the certificate database: {}", message(&e));
                }
            }
            let rows = stats.rows.load(Ordering::Relaxed);
            if rows - rows_at_checkpoint >= CHECKPOINT_EVERY_ROWS {
                rows_at_checkpoint = rows;
                checkpoint.start_background();
            }
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(
            "closing the certificate database writer connection: {}",
            message(&e)
        );
    }
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}

/// The connection's `PRAGMA synchronous` value (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
fn pragma_synchronous(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap_or(2)
}

/// Commits `batch` in one IMMEDIATE transaction; if that fails, writes the rows one by one
/// (each in its own implicit transaction) so that one bad row fails alone. Answers and empties
/// the batch.
fn commit_batch(
    conn: &mut rusqlite::Connection,
    batch: &mut Vec<(Durable, Waiter)>,
    stats: &WriterStats,
) {
    let together = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (row, _) in batch.iter() {
            row.write(&tx)?;
        }
        tx.commit()
    })();
    if together.is_ok() {
        stats.batches.fetch_add(1, Ordering::Relaxed);
        let certs = batch.iter().filter(|(d, _)| matches!(d, Durable::Cert(_)));
        stats
            .rows
            .fetch_add(certs.count() as u64, Ordering::Relaxed);
        for (_, waiter) in batch.drain(..) {
            let _ = waiter.send(Ok(()));
        }
        return;
    }
    stats.fallbacks.fetch_add(1, Ordering::Relaxed);
    for (row, waiter) in batch.drain(..) {
        let result = row
            .write(conn)
            .map_err(|e| insert_err(&row.cert().serial, &row.cert().aki, &e));
        if result.is_ok() && matches!(row, Durable::Cert(_)) {
            stats.rows.fetch_add(1, Ordering::Relaxed);
        }
        let _ = waiter.send(result);
    }
}

/// Why a completion wrote nothing.
#[derive(Debug)]
struct NoPendingRow;

impl std::fmt::Display for NoPendingRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("its pending record is missing")
    }
}

impl std::error::Error for NoPendingRow {}

/// Completes (or abandons) one pending issuance inside the caller's transaction.
fn complete_one(tx: &rusqlite::Connection, c: &Completion) -> rusqlite::Result<()> {
    if let Some(pem) = &c.pem {
        let n = tx
            .prepare_cached(COMPLETE_SQL)?
            .execute(params![c.serial, c.aki, pem, c.tbs])?;
        if n != 1 {
            return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(
                NoPendingRow,
            )));
        }
    }
    tx.prepare_cached(DELETE_PENDING_SQL)?
        .execute(params![c.serial, c.aki, c.tbs])?;
    Ok(())
}

/// Completes `batch` in one transaction committed without a sync (the caller's pending rows are
/// already durable; the next durable commit, or a checkpoint, syncs this one). On failure, row by
/// row: a completion that cannot be written drops its pending row and answers the error (the
/// certificate was never answered, so nothing is lost). Answers and empties the batch.
fn complete_batch(
    conn: &mut rusqlite::Connection,
    batch: &mut Vec<(Box<Completion>, Option<Waiter>)>,
    stats: &WriterStats,
    durable_sync: &i64,
) {
    let unsynced = *durable_sync > 1;
    if unsynced && let Err(e) = conn.execute_batch("PRAGMA synchronous = NORMAL") {
        tracing::warn!("certificate database: {}", message(&e));
    }
    #[cfg(test)]
    if pragma_synchronous(conn) <= 1 {
        stats.unsynced.fetch_add(1, Ordering::Relaxed);
    }
    let together = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (c, _) in batch.iter() {
            complete_one(&tx, c)?;
        }
        tx.commit()
    })();
    let done = batch.iter().filter(|(c, _)| c.pem.is_some()).count() as u64;
    if together.is_ok() {
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(done, Ordering::Relaxed);
        for (_, waiter) in batch.drain(..) {
            if let Some(w) = waiter {
                let _ = w.send(Ok(()));
            }
        }
    } else {
        stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        for (c, waiter) in batch.drain(..) {
            let one = (|| -> rusqlite::Result<()> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                complete_one(&tx, &c)?;
                tx.commit()
            })();
            let result = match one {
                Ok(()) => {
                    if c.pem.is_some() {
                        stats.rows.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                }
                Err(e) => {
                    // Never complete it later (at start-up) either: nobody was given it.
                    let dropped = conn
                        .prepare_cached(DELETE_PENDING_SQL)
                        .and_then(|mut s| s.execute(params![c.serial, c.aki, c.tbs]));
                    if let Err(d) = dropped {
                        tracing::warn!("certificate database: {}", message(&d));
                    }
                    Err(complete_err(&c, &e))
                }
            };
            if let Some(w) = waiter {
                let _ = w.send(result);
            }
        }
    }
    if unsynced {
        let back = format!("PRAGMA synchronous = {durable_sync}");
        if let Err(e) = conn.execute_batch(&back) {
            tracing::warn!("certificate database: {}", message(&e));
        }
    }
}

fn insert_pending(
    stmt: &mut rusqlite::CachedStatement<'_>,
    p: &PendingRow,
) -> rusqlite::Result<()> {
    let c = &p.cert;
    stmt.execute(params![
        c.serial,
        c.aki,
        c.ca_label,
        c.status,
        c.reason,
        c.expiry,
        c.revoked_at,
        c.issued_at,
        c.not_before,
        c.metadata,
        c.sans,
        c.common_name,
        c.profile,
        p.tbs,
    ])
    .map(|_| ())
}

fn insert(stmt: &mut rusqlite::CachedStatement<'_>, p: &PreparedCert) -> rusqlite::Result<()> {
    stmt.execute(params![
        p.serial,
        p.aki,
        p.ca_label,
        p.status,
        p.reason,
        p.expiry,
        p.revoked_at,
        p.pem,
        p.issued_at,
        p.not_before,
        p.metadata,
        p.sans,
        p.common_name,
        p.profile,
    ])
    .map(|_| ())
}

/// SQLite's own message for an error (as cfssl reports it).
fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

/// An 11100 error for a completion that could not be written.
fn complete_err(c: &Completion, e: &rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::ToSqlConversionFailure(why) => {
            Error::CertStore(11100, format!("failed to insert the certificate: {why}"))
        }
        _ => insert_err(&c.serial, &c.aki, e),
    }
}

/// An 11100 insert error; a (serial, AKI) primary-key clash says so.
fn insert_err(serial: &str, aki: &str, e: &rusqlite::Error) -> Error {
    let unique = matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    if unique {
        return Error::CertStore(
            11100,
            format!(
                "failed to insert the certificate: duplicate certificate (serial number {}, authority key identifier {})",
                serial, aki
            ),
        );
    }
    Error::CertStore(
        11100,
        format!("failed to insert the certificate: {}", message(e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &rusqlite::Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    }

    #[test]
    fn writer_connection_is_durable_wal_without_inline_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        for (sync, want) in [("FULL", "Integer(2)"), ("NORMAL", "Integer(1)")] {
            let conn = open(&WriterTarget {
                path: dir.path().join("w.db"),
                in_memory: false,
                read_only: false,
                synchronous: sync,
                busy_timeout: Duration::from_secs(5),
            })
            .unwrap();
            assert_eq!(pragma(&conn, "journal_mode"), "Text(\"wal\")");
            assert_eq!(pragma(&conn, "synchronous"), want);
            assert_eq!(pragma(&conn, "wal_autocheckpoint"), "Integer(0)");
            assert_eq!(pragma(&conn, "foreign_keys"), "Integer(1)");
            assert_eq!(pragma(&conn, "busy_timeout"), "Integer(5000)");
        }
    }

    #[test]
    fn an_unopenable_path_is_a_clean_11000_error() {
        let e = open(&WriterTarget {
            path: "/nonexistent-dir/x/w.db".into(),
            in_memory: false,
            read_only: false,
            synchronous: "FULL",
            busy_timeout: Duration::from_secs(5),
        })
        .unwrap_err();
        assert_eq!(e.code(), 11000, "{e}");
    }

    /// A row for `serial` under AKI `abcd`.
    fn row(serial: u32) -> Box<PreparedCert> {
        Box::new(PreparedCert {
            serial: serial.to_string(),
            aki: "abcd".into(),
            ca_label: String::new(),
            status: "good".into(),
            reason: 0,
            expiry: "2030-01-01 00:00:00+00:00".into(),
            revoked_at: "0001-01-01 00:00:00+00:00".into(),
            pem: format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                "A".repeat(600)
            ),
            issued_at: "2026-01-01 00:00:00+00:00".into(),
            not_before: "2026-01-01 00:00:00+00:00".into(),
            metadata: None,
            sans: None,
            common_name: format!("host{serial}"),
            profile: String::new(),
        })
    }

    /// A running writer on a fresh file database (with the `certificates` table unless
    /// `bare`), counting the background checkpoints it starts; `finish` ends each at once.
    struct Harness {
        _dir: tempfile::TempDir,
        db: PathBuf,
        tx: mpsc::Sender<WriterMsg>,
        thread: Option<std::thread::JoinHandle<()>>,
        stats: Arc<WriterStats>,
        starts: Arc<AtomicU64>,
    }

    impl Harness {
        fn new(bare: bool, finish: bool) -> Harness {
            Harness::with_sync(bare, finish, "NORMAL")
        }

        fn with_sync(bare: bool, finish: bool, synchronous: &'static str) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("w.db");
            {
                let setup = rusqlite::Connection::open(&db).unwrap();
                setup.pragma_update(None, "journal_mode", "WAL").unwrap();
                if !bare {
                    setup
                        .execute_batch(include_str!("../../migrations/0001_certificates.sql"))
                        .unwrap();
                    setup
                        .execute_batch(include_str!(
                            "../../migrations/0007_pending_certificates.sql"
                        ))
                        .unwrap();
                }
                // Closing the last connection checkpoints and removes the WAL.
            }
            let starts = Arc::new(AtomicU64::new(0));
            let counted = starts.clone();
            let checkpoint = Checkpointer::new(move |done| {
                counted.fetch_add(1, Ordering::SeqCst);
                if finish {
                    done.finish();
                }
            });
            let stats = Arc::new(WriterStats::default());
            let target = WriterTarget {
                path: db.clone(),
                in_memory: false,
                read_only: false,
                synchronous,
                busy_timeout: Duration::from_secs(5),
            };
            let (tx, thread) = spawn(&target, stats.clone(), checkpoint).unwrap();
            Harness {
                _dir: dir,
                db,
                tx,
                thread: Some(thread),
                stats,
                starts,
            }
        }

        /// Queues the rows behind a pause, so that the writer finds them all waiting, then
        /// returns every answer in order.
        fn insert(&self, serials: std::ops::Range<u32>) -> Vec<Result<()>> {
            assert!(serials.len() < QUEUE_DEPTH);
            let (go, wait) = std::sync::mpsc::channel();
            self.tx.blocking_send(WriterMsg::Pause(wait)).unwrap();
            let answers: Vec<_> = serials
                .map(|s| {
                    let (tx, rx) = oneshot::channel();
                    self.tx
                        .blocking_send(WriterMsg::Insert(row(s), tx))
                        .unwrap();
                    rx
                })
                .collect();
            go.send(()).unwrap();
            answers
                .into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .collect()
        }

        /// Queues `msgs` behind a pause (one round for the writer), then returns the answers of
        /// those that have a waiter, in order.
        fn round(&self, msgs: Vec<Msg>) -> Vec<Result<()>> {
            let (go, wait) = std::sync::mpsc::channel();
            self.tx.blocking_send(WriterMsg::Pause(wait)).unwrap();
            let mut answers = Vec::new();
            for m in msgs {
                let (tx, rx) = oneshot::channel();
                let msg = match m {
                    Msg::Insert(n) => WriterMsg::Insert(row(n), tx),
                    Msg::Pending(n, tbs) => WriterMsg::Pending(
                        Box::new(PendingRow {
                            cert: *row(n),
                            tbs: tbs.to_vec(),
                        }),
                        tx,
                    ),
                    Msg::Complete(n, tbs, pem) => WriterMsg::Complete(
                        Box::new(Completion {
                            serial: n.to_string(),
                            aki: "abcd".into(),
                            tbs: tbs.to_vec(),
                            pem: pem.map(str::to_string),
                        }),
                        pem.is_some().then_some(tx),
                    ),
                };
                self.tx.blocking_send(msg).unwrap();
                if !matches!(m, Msg::Complete(_, _, None)) {
                    answers.push(rx);
                }
            }
            go.send(()).unwrap();
            answers
                .into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .collect()
        }

        /// `SELECT` of one text column over a table, in order.
        fn column(&self, sql: &str) -> Vec<String> {
            self.sync();
            let c = rusqlite::Connection::open(&self.db).unwrap();
            let mut st = c.prepare(sql).unwrap();
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        }

        /// Returns once the writer has finished the work queued so far, including what it does
        /// after answering (tail step, starting a background checkpoint): it takes this pause
        /// only then, and a zero-capacity channel's send waits for the taker.
        fn sync(&self) {
            let (go, wait) = std::sync::mpsc::sync_channel(0);
            self.tx.blocking_send(WriterMsg::Pause(wait)).unwrap();
            go.send(()).unwrap();
        }

        /// (transactions, rows, fallbacks, background checkpoints started).
        fn counts(&self) -> (u64, u64, u64, u64) {
            self.sync();
            (
                self.stats.batches.load(Ordering::SeqCst),
                self.stats.rows.load(Ordering::SeqCst),
                self.stats.fallbacks.load(Ordering::SeqCst),
                self.starts.load(Ordering::SeqCst),
            )
        }

        fn db_file_len(&self) -> u64 {
            self.sync();
            std::fs::metadata(&self.db).unwrap().len()
        }

        fn shutdown(mut self) {
            let (done, wait) = oneshot::channel();
            self.tx.blocking_send(WriterMsg::Shutdown(done)).unwrap();
            wait.blocking_recv().unwrap();
            self.thread.take().unwrap().join().unwrap();
        }
    }

    /// One message of a test round.
    #[derive(Clone, Copy)]
    enum Msg {
        Insert(u32),
        Pending(u32, &'static [u8]),
        /// None: abandon (no waiter).
        Complete(u32, &'static [u8], Option<&'static str>),
    }

    fn all_ok(results: &[Result<()>]) {
        for (i, r) in results.iter().enumerate() {
            assert!(r.is_ok(), "row {i}: {r:?}");
        }
    }

    #[test]
    fn a_queue_longer_than_max_batch_commits_in_max_batch_chunks() {
        let h = Harness::new(false, false);
        all_ok(&h.insert(0..MAX_BATCH as u32 + 1));
        // 256 rows, then the one left over: never more than MAX_BATCH, never fewer than queued.
        assert_eq!(h.counts(), (2, MAX_BATCH as u64 + 1, 0, 0));
        h.shutdown();
    }

    #[test]
    fn background_checkpoints_start_every_checkpoint_interval_and_only_then() {
        let h = Harness::new(false, false);
        let before = h.db_file_len();
        all_ok(&h.insert(0..1000));
        // No checkpoint yet: nothing started, and the writer copied nothing into the file.
        assert_eq!(h.counts().3, 0);
        assert_eq!(h.db_file_len(), before, "the writer checkpointed inline");
        all_ok(&h.insert(1000..CHECKPOINT_EVERY_ROWS as u32));
        assert_eq!(h.counts().1, CHECKPOINT_EVERY_ROWS);
        assert_eq!(h.counts().3, 1);
        // The background checkpoint is still running (never finished here): no second one,
        // and no tail step either.
        all_ok(&h.insert(2000..2000 + CHECKPOINT_EVERY_ROWS as u32 / 2));
        all_ok(&h.insert(5000..5000 + CHECKPOINT_EVERY_ROWS as u32 / 2));
        assert_eq!(h.counts().1, 2 * CHECKPOINT_EVERY_ROWS);
        assert_eq!(h.counts().3, 1);
        assert_eq!(h.db_file_len(), before, "the writer checkpointed inline");
        h.shutdown();
    }

    #[test]
    fn a_finished_background_checkpoint_is_followed_by_the_tail_step_and_a_later_one() {
        let h = Harness::new(false, true);
        let before = h.db_file_len();
        all_ok(&h.insert(0..1000));
        all_ok(&h.insert(1000..CHECKPOINT_EVERY_ROWS as u32));
        assert_eq!(h.counts().3, 1);
        // The background checkpoint (a no-op here) finished: the next commit runs the tail
        // step, which copies the WAL into the database file; the next interval starts from
        // this checkpoint's row count.
        assert_eq!(h.db_file_len(), before);
        all_ok(&h.insert(2000..2001));
        assert!(
            h.db_file_len() > before,
            "no tail checkpoint: {} bytes",
            h.db_file_len()
        );
        assert_eq!(h.counts().3, 1);
        all_ok(&h.insert(3000..3000 + CHECKPOINT_EVERY_ROWS as u32 - 2));
        assert_eq!(h.counts().1, 2 * CHECKPOINT_EVERY_ROWS - 1);
        assert_eq!(h.counts().3, 1);
        all_ok(&h.insert(9000..9001));
        assert_eq!(h.counts().3, 2);
        h.shutdown();
    }

    #[test]
    fn checkpointer_starts_one_background_run_at_a_time() {
        let started = Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = started.clone();
        let ck = Checkpointer::new(move |done| keep.lock().unwrap().push(done));
        assert!(!ck.take_finished());
        ck.start_background();
        ck.start_background();
        assert_eq!(started.lock().unwrap().len(), 1, "a second run while busy");
        assert!(!ck.take_finished());
        let done = started.lock().unwrap().pop().unwrap();
        done.finish();
        assert!(ck.take_finished());
        assert!(!ck.take_finished(), "reported twice");
        ck.start_background();
        assert_eq!(started.lock().unwrap().len(), 1, "no new run once finished");
    }

    #[test]
    fn insert_errors_are_11100_with_sqlites_message() {
        let h = Harness::new(true, false);
        let r = h.insert(1..2).pop().unwrap().unwrap_err();
        assert_eq!(
            (r.code(), r.message()),
            (
                11100,
                "failed to insert the certificate: no such table: certificates".to_string()
            )
        );
        assert_eq!(h.counts(), (0, 0, 1, 0));
        h.shutdown();

        let h = Harness::new(false, false);
        all_ok(&h.insert(7..8));
        let r = h.insert(7..8).pop().unwrap().unwrap_err();
        assert_eq!(
            (r.code(), r.message()),
            (
                11100,
                "failed to insert the certificate: duplicate certificate (serial number 7, \
                 authority key identifier abcd)"
                    .to_string()
            )
        );
        assert_eq!(h.counts(), (1, 1, 1, 0));
        h.shutdown();
    }

    #[test]
    fn open_errors_carry_sqlites_message() {
        let e = open(&WriterTarget {
            path: "/nonexistent-dir/x/w.db".into(),
            in_memory: false,
            read_only: false,
            synchronous: "FULL",
            busy_timeout: Duration::from_secs(5),
        })
        .unwrap_err();
        assert_eq!(
            e.message(),
            "cannot open the database writer connection: unable to open database file: \
             /nonexistent-dir/x/w.db"
        );
    }

    const CERTS: &str = "SELECT CAST(serial_number AS TEXT) || ' ' || pem || ' ' || common_name \
                         FROM certificates ORDER BY serial_number";
    const PENDING: &str =
        "SELECT CAST(serial_number AS TEXT) FROM pending_certificates ORDER BY serial_number";

    #[test]
    fn a_pending_issuance_becomes_a_certificate_row_when_completed() {
        let h = Harness::with_sync(false, false, "FULL");
        all_ok(&h.round(vec![Msg::Pending(1, b"tbs1")]));
        assert_eq!(h.column(PENDING), ["1"]);
        assert!(
            h.column(CERTS).is_empty(),
            "no certificate before the completion"
        );
        all_ok(&h.round(vec![Msg::Complete(1, b"tbs1", Some("PEM1"))]));
        assert_eq!(h.column(CERTS), ["1 PEM1 host1"]);
        assert!(h.column(PENDING).is_empty());
        // One durable transaction, one completion committed without a sync; one row.
        assert_eq!(h.counts(), (2, 1, 0, 0));
        assert_eq!(h.stats.unsynced.load(Ordering::SeqCst), 1);
        // The durable setting is back for the next insert.
        let (tx, rx) = std::sync::mpsc::channel();
        h.tx.blocking_send(WriterMsg::Inspect(Box::new(move |c| {
            tx.send(pragma_synchronous(c)).unwrap();
        })))
        .unwrap();
        assert_eq!(rx.recv().unwrap(), 2, "synchronous left at NORMAL");
        h.shutdown();
    }

    #[test]
    fn a_completion_queued_with_its_pending_row_waits_for_that_commit() {
        let h = Harness::new(false, false);
        // One round: an insert, a completion of an earlier issuance, a new pending row and
        // its completion, an abandoned one.
        all_ok(&h.round(vec![Msg::Pending(1, b"a"), Msg::Pending(4, b"d")]));
        all_ok(&h.round(vec![
            Msg::Insert(2),
            Msg::Complete(1, b"a", Some("P1")),
            Msg::Pending(3, b"c"),
            Msg::Complete(3, b"c", Some("P3")),
            Msg::Complete(4, b"d", None),
        ]));
        assert_eq!(
            h.column(CERTS),
            ["1 P1 host1", "2 AAAA host2", "3 P3 host3"].map(|s| s.replace(
                "AAAA",
                &format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    "A".repeat(600)
                )
            ))
        );
        assert!(h.column(PENDING).is_empty(), "abandoned rows are deleted");
        h.shutdown();
    }

    #[test]
    fn only_the_request_that_recorded_a_pending_row_completes_or_drops_it() {
        let h = Harness::new(false, false);
        all_ok(&h.round(vec![Msg::Pending(5, b"mine")]));
        let missing = "failed to insert the certificate: its pending record is missing";
        for r in h.round(vec![
            Msg::Complete(5, b"theirs", Some("X")),
            Msg::Complete(6, b"none", Some("Y")),
        ]) {
            let e = r.unwrap_err();
            assert_eq!((e.code(), e.message().as_str()), (11100, missing));
        }
        h.round(vec![Msg::Complete(5, b"theirs", None)]);
        assert_eq!(
            h.column(PENDING),
            ["5"],
            "another TBS neither completes nor drops it"
        );
        assert!(h.column(CERTS).is_empty());
        all_ok(&h.round(vec![Msg::Complete(5, b"mine", Some("Z"))]));
        assert_eq!(h.column(CERTS).len(), 1);
        h.shutdown();
    }

    #[test]
    fn a_completion_clashing_with_a_stored_certificate_fails_and_drops_its_pending_row() {
        let h = Harness::new(false, false);
        all_ok(&h.insert(7..8));
        all_ok(&h.round(vec![Msg::Pending(7, b"t")]));
        let e = h
            .round(vec![Msg::Complete(7, b"t", Some("P"))])
            .pop()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.message(),
            "failed to insert the certificate: duplicate certificate (serial number 7, \
             authority key identifier abcd)"
        );
        assert!(
            h.column(PENDING).is_empty(),
            "left for recovery to fail again"
        );
        // A duplicate pending row fails alone, as inserts do.
        all_ok(&h.round(vec![Msg::Pending(8, b"t")]));
        let r = h.round(vec![Msg::Pending(8, b"u"), Msg::Pending(9, b"v")]);
        assert_eq!(r[0].as_ref().unwrap_err().code(), 11100);
        assert!(r[1].is_ok());
        assert_eq!(h.column(PENDING), ["8", "9"]);
        h.shutdown();
    }
}
