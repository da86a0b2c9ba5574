//! Storage. This module and its children own every SQL statement.
//!
//! Reads go through a small pool of `query_only` connections ([`ReadConn`]),
//! on the blocking thread pool. Writes from the server go through a bounded
//! queue to one writer thread that owns the single write connection
//! ([`WriteConn`]) and commits them in groups (`writer.rs` says how, and
//! what each caller is told when something fails). No SQLite call ever runs
//! on the async executor. `pool.rs` opens connections, `migrate.rs` brings
//! the schema up to date, `sql.rs` is the seam every query goes through
//! ([`Conn`], [`Row`]): nothing above this module sees an engine's types.

pub mod api_keys;
pub mod copy;
pub mod email_links;
pub mod events;
mod files;
pub mod health;
pub mod idempotency;
pub mod invitation_links;
pub mod invitations;
pub mod join_links;
pub mod lock;
pub mod members;
pub(crate) mod migrate;
pub mod oauth;
pub mod orgs;
pub mod outbox;
pub mod pg;
mod pg_tls;
mod pool;
pub(crate) mod seed;
pub mod sessions;
pub mod signing_keys;
pub mod sql;
pub mod users;
pub mod webhooks;
mod writer;

use crate::config::DatabaseSettings;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use migrate::SCHEMA_VERSION;

/// An in-memory database brought to the current schema, for unit tests.
#[cfg(test)]
pub(crate) fn migrate_for_tests(conn: &mut Connection) {
    #[allow(clippy::unwrap_used)]
    migrate::migrate(conn).unwrap();
}
pub use pg_tls::masked as masked_url;
pub use pg_tls::unprotected_host as unprotected_postgres_host;
pub use pool::{ReadConn, WriteConn};
pub use sql::{Conn, Dialect, Row};

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// `database.url` cannot be used (the message masks its password).
    #[error("database.url {0}")]
    BadUrl(String),
    /// PostgreSQL cannot be reached (the message masks the password).
    #[error("{0}")]
    Unavailable(String),
    /// A statement that always returns a row returned none.
    #[error("the statement returned no row")]
    NoRow,
    /// A text value holds U+0000, which PostgreSQL's text cannot store or
    /// compare: refused before any statement runs.
    #[error("text may not contain NUL characters")]
    NulCharacter,
    /// What this backend does not do (say which).
    #[error("{0}")]
    Unsupported(String),
    /// A column held a value its Rust type cannot take (a corrupt or
    /// hand-edited row).
    #[error("column {index}: {detail}")]
    Column { index: usize, detail: String },
    #[error("no database connection became free in time")]
    PoolTimeout(#[source] r2d2::Error),
    #[error("the blocking task was cancelled")]
    Canceled,
    #[error("cannot start the writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
    /// The write failed with the transaction it was grouped into: it could
    /// not begin or commit, or a savepoint failed (SQLite's message).
    #[error("the write batch failed: {0}")]
    Batch(String),
    /// The write connection stayed busy (a lock held by another process
    /// past `busy_timeout`, or the connection in use elsewhere): retry.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The write was not answered within `database.write_timeout`, and it
    /// will never run.
    #[error("the write was not started within {0:?}")]
    WriteTimeout(Duration),
    #[error("the write panicked; its changes were rolled back")]
    Panicked,
    #[error("the writer thread has stopped")]
    WriterGone,
    #[error("database schema version {found} is newer than this binary understands ({supported})")]
    TooNew { found: i64, supported: i64 },
    /// Every command but `serve`, `init` and `dev seed` refuses to invent a database.
    #[error(
        "no database at {}; choose one with --database PATH, ENLIST_DATABASE or database.path \
         in config.toml (or make a new one with `enlist init`)",
        .0.display()
    )]
    Missing(std::path::PathBuf),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    /// Worth retrying in a moment (503 with `Retry-After`): the server was
    /// busy, nothing was changed.
    pub fn is_busy(&self) -> bool {
        match self {
            StorageError::PoolTimeout(_)
            | StorageError::Busy(_)
            | StorageError::WriteTimeout(_)
            | StorageError::Unavailable(_) => true,
            StorageError::Postgres(error) => pg::is_transient(error),
            _ => false,
        }
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(error: r2d2::Error) -> Self {
        StorageError::PoolTimeout(error)
    }
}

/// The database, on whichever engine `database.url` chose.
#[derive(Clone)]
pub struct Database {
    engine: Engine,
    waiting: Arc<Waiting>,
    /// Notified once a committed write queued webhook deliveries.
    webhooks_due: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
enum Engine {
    Sqlite(Sqlite),
    Postgres(pg::Pool),
}

/// The embedded file: a read pool and the group-commit writer.
#[derive(Clone)]
struct Sqlite {
    readers: Pool,
    writer: Pool,
    /// The group-commit writer thread's queue (see [`Database::write`]),
    /// bounded by [`writer::QUEUE_BOUND`].
    jobs: tokio::sync::mpsc::Sender<Box<dyn writer::Job>>,
    /// How long a write waits for a place in the queue and its answer.
    write_timeout: Duration,
    /// Failures tests inject into the writer thread.
    #[cfg_attr(not(test), allow(dead_code))]
    faults: writer::Faults,
}

/// Requests waiting for a connection right now, for metrics.
#[derive(Default)]
struct Waiting {
    readers: AtomicI64,
    writer: AtomicI64,
}

/// Counts a waiter for as long as it lives.
struct WaitGuard<'a>(&'a AtomicI64);

impl<'a> WaitGuard<'a> {
    fn new(counter: &'a AtomicI64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot of the connection pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub readers_in_use: i64,
    pub readers_idle: i64,
    pub readers_waiting: i64,
    pub writer_in_use: i64,
    pub writer_waiting: i64,
}

impl Database {
    /// Opens (creating if needed, with its folder) the database file and
    /// brings its schema up to date: for `serve`, `init` and `dev seed`.
    pub fn open(settings: &DatabaseSettings) -> Result<Self, StorageError> {
        if let Some(url) = settings.postgres_url() {
            return Self::open_postgres(settings, url);
        }
        let path = settings.path.as_path();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private_files::create_dir_all(parent).map_err(|source| {
                StorageError::Folder {
                    path: parent.display().to_string(),
                    source,
                }
            })?;
        }
        crate::private_files::prepare_database_file(path)?;
        Self::open_with(settings, OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing database file and brings its schema up to date;
    /// a missing file is [`StorageError::Missing`] (naming its absolute
    /// path), and neither the file nor its folder is created.
    pub fn open_existing(settings: &DatabaseSettings) -> Result<Self, StorageError> {
        if let Some(url) = settings.postgres_url() {
            return Self::open_postgres(settings, url);
        }
        if !settings.path.is_file() {
            return Err(StorageError::Missing(absolute(&settings.path)));
        }
        crate::private_files::prepare_database_file(&settings.path)?;
        Self::open_with(settings, OpenFlags::empty())
    }

    fn open_with(settings: &DatabaseSettings, create: OpenFlags) -> Result<Self, StorageError> {
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
            pool::configure(&conn, busy_timeout)?;
            // WAL is a property of the file: set once, readers never block the writer.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            migrate::migrate(&mut conn)?;
        }
        let readers = pool::pool(
            path,
            busy_timeout,
            settings.pool_size,
            settings.pool_timeout.0,
            pool::Role::Read,
        )?;
        let writer = pool::pool(
            path,
            busy_timeout,
            1,
            settings.pool_timeout.0,
            pool::Role::Write,
        )?;
        let waiting: Arc<Waiting> = Arc::default();
        let faults = writer::Faults::default();
        let (jobs, queue) = tokio::sync::mpsc::channel(writer::QUEUE_BOUND);
        let webhooks_due: Arc<tokio::sync::Notify> = Arc::default();
        let (thread_pool, thread_waiting, thread_faults, thread_due) = (
            writer.clone(),
            waiting.clone(),
            faults.clone(),
            webhooks_due.clone(),
        );
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                writer::group_commit(
                    &thread_pool,
                    queue,
                    &thread_waiting,
                    &thread_faults,
                    &thread_due,
                )
            })
            .map_err(StorageError::WriterThread)?;
        Ok(Self {
            engine: Engine::Sqlite(Sqlite {
                readers,
                writer,
                jobs,
                write_timeout: settings.write_timeout.0,
                faults,
            }),
            waiting,
            webhooks_due,
        })
    }

    /// Connects to PostgreSQL at `url` and brings its schema up to date (once
    /// across nodes: see `pg::migrate`). An unreachable server fails here
    /// with one line naming the URL, its password masked.
    fn open_postgres(settings: &DatabaseSettings, url: &str) -> Result<Self, StorageError> {
        if !pg_tls::is_postgres_url(url) {
            return Err(StorageError::BadUrl(format!(
                "{}: only postgres:// and postgresql:// URLs are understood (unset it for the \
                 SQLite file at database.path)",
                pg_tls::masked(url)
            )));
        }
        let pool = pg::off_async(|| {
            let pool = pg::pool(url, settings.pool_size, settings.pool_timeout.0)?;
            let mut session = pool.get().map_err(|e| {
                StorageError::Unavailable(pg_tls::masked_error(url, &e.to_string()))
            })?;
            pg::migrate(&mut session.client)?;
            drop(session);
            Ok::<_, StorageError>(pool)
        })?;
        Ok(Self {
            engine: Engine::Postgres(pool),
            waiting: Arc::default(),
            webhooks_due: Arc::default(),
        })
    }

    /// Which engine serves this database.
    pub fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` on a pooled read connection, on the current thread. The
    /// connection refuses writes (`PRAGMA query_only`).
    pub fn read_blocking<T, E>(
        &self,
        f: impl FnOnce(&ReadConn) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
    {
        let sqlite = match &self.engine {
            Engine::Sqlite(sqlite) => sqlite,
            Engine::Postgres(pool) => {
                return pg::off_async(|| {
                    let mut session = {
                        let _waiting = WaitGuard::new(&self.waiting.readers);
                        pool.get().map_err(StorageError::from)?
                    };
                    pg::read(&mut session, |conn| f(&ReadConn::new(conn)))
                });
            }
        };
        let conn = {
            let _waiting = WaitGuard::new(&self.waiting.readers);
            sqlite.readers.get().map_err(StorageError::from)?
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

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the write
    /// connection, on the current thread. An `Err` rolls everything back.
    pub fn write_blocking<T, E>(
        &self,
        f: impl FnOnce(&WriteConn) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
    {
        let pool = match &self.engine {
            Engine::Sqlite(sqlite) => &sqlite.writer,
            Engine::Postgres(pool) => {
                return pg::off_async(|| {
                    let mut session = {
                        let _waiting = WaitGuard::new(&self.waiting.writer);
                        pool.get().map_err(StorageError::from)?
                    };
                    let written = pg::write(&mut session, |conn| f(&WriteConn::new(conn)));
                    self.note_committed_deliveries(written.is_ok());
                    written
                });
            }
        };
        let mut conn = {
            let _waiting = WaitGuard::new(&self.waiting.writer);
            pool.get().map_err(StorageError::from)?
        };
        let written = immediate(&mut conn, f);
        self.note_committed_deliveries(written.is_ok());
        written
    }

    /// Wakes the webhook worker if the write this thread just ran queued
    /// deliveries and committed.
    fn note_committed_deliveries(&self, committed: bool) {
        if events::take_deliveries_queued() && committed {
            self.webhooks_due.notify_one();
        }
    }

    /// What the webhook worker waits on besides its poll interval: a write
    /// on this node committed deliveries.
    pub fn webhooks_due(&self) -> Arc<tokio::sync::Notify> {
        self.webhooks_due.clone()
    }

    /// [`Database::write_blocking`] for bulk fills (`enlist dev seed`): the
    /// write connection runs without fsync and with a large page cache for
    /// this one transaction, then gets its usual settings back and the WAL
    /// is checkpointed into the main file.
    pub fn bulk_write_blocking<T, E>(
        &self,
        cache_kib: u64,
        f: impl FnOnce(&WriteConn) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
    {
        let sqlite = match &self.engine {
            Engine::Sqlite(sqlite) => sqlite,
            Engine::Postgres(_) => return self.write_blocking(f),
        };
        let mut conn = sqlite.writer.get().map_err(StorageError::from)?;
        seed::bulk_settings(&conn, cache_kib).map_err(StorageError::from)?;
        let outcome = immediate(&mut conn, f);
        seed::restore_bulk_settings(&conn).map_err(StorageError::from)?;
        outcome
    }

    /// [`Database::read_blocking`] on the blocking thread pool.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&ReadConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let db = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _pool = pg::OnBlockingPool::enter();
            span.in_scope(|| db.read_blocking(f))
        })
        .await
        .map_err(|_| StorageError::Canceled)?
    }

    /// Runs `f` as part of a `BEGIN IMMEDIATE` transaction on the write
    /// connection, on the writer thread, and answers once that transaction
    /// has committed (so an acknowledged write is durable). Writes that
    /// arrive while one commits are grouped into the next transaction, each
    /// in its own savepoint: an `Err` from `f` rolls back only its own
    /// changes. One commit then carries many writes, which is what lets a
    /// single SQLite writer take thousands of writes a second.
    ///
    /// The write waits at most `database.write_timeout` for a place in the
    /// queue and for its turn, then fails with
    /// [`StorageError::WriteTimeout`] and never runs. A write that already
    /// started when the time ran out is waited for: its caller hears what
    /// really happened, not a guess.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&WriteConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let sqlite = match &self.engine {
            Engine::Sqlite(sqlite) => sqlite,
            Engine::Postgres(_) => {
                // Each write is its own pooled transaction: no queue to wait
                // in; `database.pool_timeout` bounds the wait for a session.
                let db = self.clone();
                let span = tracing::Span::current();
                return tokio::task::spawn_blocking(move || {
                    let _pool = pg::OnBlockingPool::enter();
                    span.in_scope(|| db.write_blocking(f))
                })
                .await
                .map_err(|_| StorageError::Canceled)?;
            }
        };
        let deadline = tokio::time::Instant::now() + sqlite.write_timeout;
        let (reply, mut answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let ticket = writer::Ticket::default();
        let job: Box<dyn writer::Job> = Box::new(writer::Write::new(f, reply, ticket.clone()));
        self.waiting.writer.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout_at(deadline, sqlite.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                self.waiting.writer.fetch_sub(1, Ordering::Relaxed);
                return Err(E::from(StorageError::WriterGone));
            }
            Err(_) => {
                self.waiting.writer.fetch_sub(1, Ordering::Relaxed);
                return Err(E::from(StorageError::WriteTimeout(sqlite.write_timeout)));
            }
        }
        match tokio::time::timeout_at(deadline, &mut answer).await {
            Ok(answered) => answered.unwrap_or_else(|_| Err(E::from(StorageError::WriterGone))),
            Err(_) if ticket.abandon() => {
                Err(E::from(StorageError::WriteTimeout(sqlite.write_timeout)))
            }
            Err(_) => answer
                .await
                .unwrap_or_else(|_| Err(E::from(StorageError::WriterGone))),
        }
    }

    /// Makes the writer's next `n` savepoints fail, for tests of that path.
    #[cfg(test)]
    pub(crate) fn fail_next_savepoints(&self, n: usize) {
        if let Engine::Sqlite(sqlite) = &self.engine {
            sqlite
                .faults
                .savepoints
                .store(n, std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (readers, writer) = match &self.engine {
            Engine::Sqlite(sqlite) => (sqlite.readers.state(), sqlite.writer.state()),
            // One pool serves reads and writes: its sessions count as readers.
            Engine::Postgres(pool) => {
                let state = pool.state();
                return PoolStats {
                    readers_in_use: i64::from(state.connections - state.idle_connections),
                    readers_idle: i64::from(state.idle_connections),
                    readers_waiting: self.waiting.readers.load(Ordering::Relaxed)
                        + self.waiting.writer.load(Ordering::Relaxed),
                    writer_in_use: 0,
                    writer_waiting: 0,
                };
            }
        };
        PoolStats {
            readers_in_use: i64::from(readers.connections - readers.idle_connections),
            readers_idle: i64::from(readers.idle_connections),
            readers_waiting: self.waiting.readers.load(Ordering::Relaxed),
            writer_in_use: i64::from(writer.connections - writer.idle_connections),
            writer_waiting: self.waiting.writer.load(Ordering::Relaxed),
        }
    }

    /// Copies the WAL into the main file and empties it: on shutdown, so the
    /// database is one self-contained file at rest.
    /// Nothing to do on PostgreSQL, whose server owns its files.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let Engine::Sqlite(sqlite) = &self.engine else {
            return Ok(());
        };
        let conn = sqlite.writer.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Copies this SQLite database, as one snapshot, into the empty
    /// PostgreSQL database at `url` (migrated first): see [`copy`].
    pub fn copy_to_postgres(
        &self,
        settings: &DatabaseSettings,
        url: &str,
    ) -> Result<copy::Copied, StorageError> {
        let Engine::Sqlite(sqlite) = &self.engine else {
            return Err(StorageError::Unsupported(
                "copy reads a SQLite database: run it with --database (the file), and --to \
                 naming the PostgreSQL database"
                    .into(),
            ));
        };
        let target = Self::open_postgres(settings, url)?;
        let Engine::Postgres(pool) = &target.engine else {
            return Err(StorageError::Unsupported(
                "the target is not PostgreSQL".into(),
            ));
        };
        pg::off_async(|| {
            let source = sqlite.readers.get()?;
            // One read transaction: the copy is one snapshot of a live file.
            source.execute_batch("BEGIN")?;
            let mut session = pool.get()?;
            let copied = copy::sqlite_to_postgres(&source, &mut session);
            let _ = source.execute_batch("COMMIT");
            copied
        })
    }

    /// A consistent copy of the live database at `target`, taken with
    /// SQLite's online backup API in one step (a snapshot read; writers
    /// carry on meanwhile). Written beside the target, then renamed into place.
    /// On PostgreSQL, backups are the server's (`pg_dump`, base backups):
    /// refused here with that advice.
    pub fn backup_to(&self, target: &Path) -> Result<u64, StorageError> {
        let Engine::Sqlite(sqlite) = &self.engine else {
            return Err(StorageError::Unsupported(
                "a PostgreSQL database is backed up with PostgreSQL's own tools \
                 (pg_dump, or the server's base backups), not enlist backup"
                    .into(),
            ));
        };
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        // Created here, owner-only, never through a symlink and never over a
        // file that exists, before SQLite writes into it.
        crate::private_files::create_new_file(&partial).map_err(|source| StorageError::File {
            path: partial.display().to_string(),
            source,
        })?;
        let source = match sqlite.readers.get() {
            Ok(source) => source,
            Err(error) => {
                let _ = std::fs::remove_file(&partial);
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
            let _ = std::fs::remove_file(&partial);
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

/// The schema version a database file is at (`PRAGMA user_version`).
pub fn schema_version(conn: &Conn) -> Result<i64, StorageError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "PRAGMA user_version",
        Dialect::Postgres => "SELECT COALESCE(MAX(version), 0) FROM enlist_schema",
    };
    conn.query_one(sql, &[], |row| row.get(0))
}

/// `path` made absolute against the working directory (without resolving
/// links, so a path that does not exist yet reads as the one looked for).
pub fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction; an `Err` rolls it back.
fn immediate<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&WriteConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StorageError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StorageError::from)?;
    let value = f(&WriteConn::new(Conn::sqlite(&tx)))?;
    tx.commit().map_err(StorageError::from)?;
    Ok(value)
}

/// True when `error` is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(error: &StorageError) -> bool {
    match error {
        StorageError::Sqlite(e) => sqlite_unique_violation(e),
        StorageError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}

fn sqlite_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
