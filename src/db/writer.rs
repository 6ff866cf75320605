//! The group-commit writer of the SQLite certificate database: one OS thread owning one SQLite
//! connection (rusqlite) that takes every queued insert, commits them in one transaction, and only
//! then answers each waiter. It knows the `certificates` columns and nothing of X.509, HTTP or the CLI.
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
}

/// A message to the writer.
pub(super) enum WriterMsg {
    /// Insert this row; answer once it is committed (or failed).
    Insert(Box<PreparedCert>, oneshot::Sender<Result<()>>),
    /// Finish what is queued before this message, close the connection, then answer.
    Shutdown(oneshot::Sender<()>),
    /// Tests: wait for the signal before taking more work, so that a batch can be lined up.
    #[cfg(test)]
    Pause(std::sync::mpsc::Receiver<()>),
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

/// The thread body: takes one queued message, drains whatever else is queued (up to
/// `MAX_BATCH`), commits the inserts in one transaction, then answers every waiter. Nobody is
/// answered before the commit that holds their row has returned.
fn run(
    mut conn: rusqlite::Connection,
    mut rx: mpsc::Receiver<WriterMsg>,
    stats: &WriterStats,
    checkpoint: &Checkpointer,
) {
    let mut batch: Vec<(Box<PreparedCert>, oneshot::Sender<Result<()>>)> =
        Vec::with_capacity(MAX_BATCH);
    let mut shutdown = None;
    let mut rows_at_checkpoint = 0u64;
    while shutdown.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Insert(rec, waiter) => batch.push((rec, waiter)),
                WriterMsg::Shutdown(done) => {
                    shutdown = Some(done);
                    break;
                }
                #[cfg(test)]
                WriterMsg::Pause(go) => {
                    let _ = go.recv();
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut batch, stats);
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

/// Commits `batch` in one IMMEDIATE transaction; if that fails, inserts the rows one by one
/// (each in its own implicit transaction) so that one bad row fails alone. Answers and empties
/// the batch.
fn commit_batch(
    conn: &mut rusqlite::Connection,
    batch: &mut Vec<(Box<PreparedCert>, oneshot::Sender<Result<()>>)>,
    stats: &WriterStats,
) {
    let together = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(INSERT_SQL)?;
            for (rec, _) in batch.iter() {
                insert(&mut stmt, rec)?;
            }
        }
        tx.commit()
    })();
    if together.is_ok() {
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (_, waiter) in batch.drain(..) {
            let _ = waiter.send(Ok(()));
        }
        return;
    }
    stats.fallbacks.fetch_add(1, Ordering::Relaxed);
    for (rec, waiter) in batch.drain(..) {
        let result = conn
            .prepare_cached(INSERT_SQL)
            .and_then(|mut stmt| insert(&mut stmt, &rec))
            .map_err(|e| insert_err(&rec, &e));
        if result.is_ok() {
            stats.rows.fetch_add(1, Ordering::Relaxed);
        }
        let _ = waiter.send(result);
    }
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

/// An 11100 insert error; a (serial, AKI) primary-key clash says so.
fn insert_err(p: &PreparedCert, e: &rusqlite::Error) -> Error {
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
                p.serial, p.aki
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
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("w.db");
            {
                let setup = rusqlite::Connection::open(&db).unwrap();
                setup.pragma_update(None, "journal_mode", "WAL").unwrap();
                if !bare {
                    setup
                        .execute_batch(include_str!("../../migrations/0001_certificates.sql"))
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
                synchronous: "NORMAL",
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
}
