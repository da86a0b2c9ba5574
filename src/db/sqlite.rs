//! The SQLite engine, in one place beside `pg.rs`: how a file is opened
//! (per-connection pragmas, WAL, migration), the read pool of `query_only`
//! connections, the one write connection and its group-commit writer thread
//! (`sqlite/writer.rs`), and the jobs only a file can do (checkpoint,
//! online backup, integrity check). `db/mod.rs` keeps what both engines
//! share and dispatches [`super::Database`]'s calls here.

mod writer;

use super::after_commit::{Queued, Wakeups};
use super::sql::Conn;
use super::{ReadConn, StorageError, WaitGuard, Waiting, WriteConn, migrate};
use crate::config::DatabaseSettings;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The embedded file: a read pool and the group-commit writer.
#[derive(Clone)]
pub(super) struct Sqlite {
    pub(super) readers: Pool,
    pub(super) writer: Pool,
    /// The group-commit writer thread's queue (see [`Sqlite::write`]),
    /// bounded by [`writer::QUEUE_BOUND`].
    jobs: tokio::sync::mpsc::Sender<Box<dyn writer::Job>>,
    /// How long a write waits for a place in the queue and its answer.
    write_timeout: Duration,
    /// Failures tests inject into the writer thread.
    #[cfg_attr(not(test), allow(dead_code))]
    faults: writer::Faults,
}

/// Distinct statements a connection keeps prepared. The list queries alone
/// come in several shapes; with rusqlite's default of 16 they evicted each
/// other and were parsed again on every request.
const STATEMENT_CACHE: usize = 128;

fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // NORMAL in WAL mode: a commit survives a crash of the process (the WAL
    // is written before the commit returns); only an OS crash or power loss
    // can lose the last transactions, and never corrupts the file.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
}

/// Which pool: reads get `query_only` connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Read,
    Write,
}

fn pool(
    path: &Path,
    busy_timeout: Duration,
    size: u32,
    wait: Duration,
    role: Role,
) -> Result<Pool, StorageError> {
    let manager = SqliteConnectionManager::file(path)
        .with_flags(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .with_init(move |conn| {
            configure(conn, busy_timeout)?;
            if role == Role::Read {
                // Not SQLITE_OPEN_READ_ONLY: a read-only connection cannot
                // create the WAL's shared-memory file if it is missing.
                conn.execute_batch("PRAGMA query_only = ON;")?;
            }
            Ok(())
        });
    Ok(r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size.min(2)))
        .connection_timeout(wait)
        // A local file does not go stale; checking on every checkout costs a round trip.
        .test_on_check_out(false)
        .build(manager)?)
}

impl Sqlite {
    /// Opens the file at `settings.path` (`create`: or makes it), brings
    /// its schema up to date, builds both pools and starts the writer thread.
    pub(super) fn open(
        settings: &DatabaseSettings,
        create: OpenFlags,
        waiting: &Arc<Waiting>,
        wakeups: &Arc<Wakeups>,
    ) -> Result<Self, StorageError> {
        let path = settings.path.as_path();
        let busy_timeout = settings.busy_timeout.0;
        {
            let mut conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | create,
            )?;
            configure(&conn, busy_timeout)?;
            // WAL is a property of the file: set once, readers never block the writer.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            migrate::migrate(&mut conn)?;
        }
        let readers = pool(
            path,
            busy_timeout,
            settings.pool_size,
            settings.pool_timeout.0,
            Role::Read,
        )?;
        let writer = pool(path, busy_timeout, 1, settings.pool_timeout.0, Role::Write)?;
        let faults = writer::Faults::default();
        let (jobs, queue) = tokio::sync::mpsc::channel(writer::QUEUE_BOUND);
        let (thread_pool, thread_waiting, thread_faults, thread_wakeups) = (
            writer.clone(),
            waiting.clone(),
            faults.clone(),
            wakeups.clone(),
        );
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                writer::group_commit(
                    &thread_pool,
                    queue,
                    &thread_waiting,
                    &thread_faults,
                    &thread_wakeups,
                )
            })
            .map_err(StorageError::WriterThread)?;
        Ok(Self {
            readers,
            writer,
            jobs,
            write_timeout: settings.write_timeout.0,
            faults,
        })
    }

    /// Runs `f` on a pooled read connection, in one read transaction.
    pub(super) fn read_blocking<T, E>(
        &self,
        waiting: &Waiting,
        f: impl FnOnce(&ReadConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let conn = {
            let _waiting = WaitGuard::new(&waiting.readers);
            self.readers.get().map_err(StorageError::from)?
        };
        // One read transaction for the whole closure: every statement sees
        // the same snapshot (a page and its totalCount agree), and the WAL
        // read lock is taken once instead of once per statement.
        let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
        if !conn.is_autocommit() {
            // Left open by a read whose end failed: start from a clean state.
            run("ROLLBACK").map_err(StorageError::from)?;
        }
        run("BEGIN").map_err(StorageError::from)?;
        let outcome = f(&ReadConn::new(Conn::sqlite(&conn)));
        // A read transaction only holds a snapshot: ending it cannot lose
        // anything, so a failure here is logged, not answered.
        if let Err(error) = run("COMMIT") {
            tracing::warn!(%error, "a read transaction did not end");
        }
        outcome
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the write
    /// connection, on the current thread (beside the writer thread, which
    /// waits for the connection meanwhile); wakes what it queued once it
    /// committed.
    pub(super) fn write_blocking<T, E>(
        &self,
        waiting: &Waiting,
        wakeups: &Wakeups,
        f: impl FnOnce(&WriteConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut conn = {
            let _waiting = WaitGuard::new(&waiting.writer);
            self.writer.get().map_err(StorageError::from)?
        };
        let (value, queued) = immediate(&mut conn, f)?;
        wakeups.wake(queued);
        Ok(value)
    }

    /// [`Sqlite::write_blocking`] without fsync and with a large page cache
    /// for this one transaction; then the usual settings come back.
    pub(super) fn bulk_write_blocking<T, E>(
        &self,
        wakeups: &Wakeups,
        cache_kib: u64,
        f: impl FnOnce(&WriteConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut conn = self.writer.get().map_err(StorageError::from)?;
        super::seed::bulk_settings(&conn, cache_kib).map_err(StorageError::from)?;
        let outcome = immediate(&mut conn, f);
        // What committed wakes its workers even if the settings fail to come back.
        if let Ok((_, queued)) = &outcome {
            wakeups.wake(*queued);
        }
        super::seed::restore_bulk_settings(&conn).map_err(StorageError::from)?;
        outcome.map(|(value, _)| value)
    }

    /// Queues `f` for the writer thread and waits for its answer: see
    /// [`super::Database::write`] for the contract.
    pub(super) async fn write<T, E, F>(&self, waiting: &Waiting, f: F) -> Result<T, E>
    where
        F: FnOnce(&WriteConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        let (reply, mut answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let ticket = writer::Ticket::default();
        let job: Box<dyn writer::Job> = Box::new(writer::Write::new(f, reply, ticket.clone()));
        waiting.writer.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout_at(deadline, self.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                waiting.writer.fetch_sub(1, Ordering::Relaxed);
                return Err(E::from(StorageError::WriterGone));
            }
            Err(_) => {
                waiting.writer.fetch_sub(1, Ordering::Relaxed);
                return Err(E::from(StorageError::WriteTimeout(self.write_timeout)));
            }
        }
        match tokio::time::timeout_at(deadline, &mut answer).await {
            Ok(answered) => answered.unwrap_or_else(|_| Err(E::from(StorageError::WriterGone))),
            Err(_) if ticket.abandon() => {
                Err(E::from(StorageError::WriteTimeout(self.write_timeout)))
            }
            Err(_) => answer
                .await
                .unwrap_or_else(|_| Err(E::from(StorageError::WriterGone))),
        }
    }

    /// Makes the writer's next `n` savepoints fail, for tests of that path.
    #[cfg(test)]
    pub(super) fn fail_next_savepoints(&self, n: usize) {
        self.faults.savepoints.store(n, Ordering::SeqCst);
    }

    /// Copies the WAL into the main file and empties it.
    pub(super) fn checkpoint(&self) -> Result<(), StorageError> {
        let conn = self.writer.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A consistent copy of the live file at `target` (see
    /// [`super::Database::backup_to`]).
    pub(super) fn backup_to(&self, target: &Path) -> Result<u64, StorageError> {
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        // Created here, owner-only, never through a symlink and never over a
        // file that exists, before SQLite writes into it.
        crate::private_files::create_new_file(&partial).map_err(|source| StorageError::File {
            path: partial.display().to_string(),
            source,
        })?;
        let source = match self.readers.get() {
            Ok(source) => source,
            Err(error) => {
                // Best effort: a leftover partial file is named as one.
                std::fs::remove_file(&partial).ok();
                return Err(error.into());
            }
        };
        let copy = || -> rusqlite::Result<()> {
            let mut destination = Connection::open(&partial)?;
            let backup = rusqlite::backup::Backup::new(&source, &mut destination)?;
            backup.step(-1)?;
            Ok(())
        };
        if let Err(error) = copy() {
            // Best effort: a leftover partial file is named as one.
            std::fs::remove_file(&partial).ok();
            return Err(error.into());
        }
        std::fs::rename(&partial, target).map_err(|source| StorageError::Folder {
            path: target.display().to_string(),
            source,
        })?;
        Ok(std::fs::metadata(target).map(|m| m.len()).unwrap_or(0))
    }
}

/// `PRAGMA integrity_check` on a database file, opened read-only and left
/// untouched (no migration): `["ok"]` for a sound file, otherwise the
/// problems found. A file too damaged to open reads as that one problem.
pub fn integrity_check(path: &Path) -> Vec<String> {
    let check = || -> rusqlite::Result<Vec<String>> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect()
    };
    match check() {
        Ok(problems) => problems,
        Err(error) => vec![error.to_string()],
    }
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction; an `Err` rolls it back.
/// Answers, once committed, the value and the work `f` queued.
fn immediate<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&WriteConn) -> Result<T, E>,
) -> Result<(T, Queued), E>
where
    E: From<StorageError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StorageError::from)?;
    let write = WriteConn::new(Conn::sqlite(&tx));
    let value = f(&write)?;
    let queued = write.take_queued();
    tx.commit().map_err(StorageError::from)?;
    Ok((value, queued))
}

/// True when `error` is a UNIQUE or PRIMARY KEY violation.
pub(super) fn unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
