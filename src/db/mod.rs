//! Storage. This module and its children own every SQL statement.
//!
//! Reads go through a small pool of `query_only` connections ([`ReadConn`]),
//! on the blocking thread pool. Writes from the server go through a bounded
//! queue to one writer thread that owns the single write connection
//! ([`WriteConn`]) and commits them in groups (`writer.rs` says how, and
//! what each caller is told when something fails). No SQLite call ever runs
//! on the async executor. Each engine has one file: `sqlite.rs` (connection
//! setup, pools, the writer thread in `sqlite/writer.rs`) and `pg.rs`;
//! this file holds what they share and dispatches to them. `migrate.rs`
//! brings a SQLite schema up to date, `sql.rs` is the seam every query goes
//! through ([`Conn`], [`Row`], [`ReadConn`], [`WriteConn`]): nothing above
//! this module sees an engine's types.

mod after_commit;
pub mod api_keys;
pub mod copy;
pub mod domains;
pub mod email_codes;
pub mod email_links;
pub mod events;
mod files;
pub mod health;
pub mod idempotency;
pub mod identities;
pub mod invitation_links;
pub mod invitations;
pub mod join_links;
pub mod lock;
pub mod members;
pub(crate) mod migrate;
pub mod oauth;
pub mod oidc_logins;
pub mod orgs;
pub mod outbox;
pub mod passkeys;
pub mod pg;
mod pg_tls;
pub mod roles;
pub mod second_factors;
pub(crate) mod seed;
pub mod sessions;
pub mod signing_keys;
pub mod sql;
mod sqlite;
pub mod teams;
pub mod users;
pub mod webhooks;

use crate::config::DatabaseSettings;
use rusqlite::OpenFlags;
use sqlite::Sqlite;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use after_commit::{Wakeups, Work};
pub use migrate::SCHEMA_VERSION;

/// An in-memory database brought to the current schema, for unit tests.
#[cfg(test)]
pub(crate) fn migrate_for_tests(conn: &mut rusqlite::Connection) {
    #[allow(clippy::unwrap_used)]
    migrate::migrate(conn).unwrap();
}
pub use pg_tls::masked as masked_url;
pub use pg_tls::unprotected_host as unprotected_postgres_host;
pub use sql::{Conn, Dialect, ReadConn, Row, WriteConn};
pub use sqlite::{Pool, integrity_check};

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
    /// The workers to wake once a committed write queued work for them.
    wakeups: Arc<Wakeups>,
}

#[derive(Clone)]
enum Engine {
    Sqlite(Sqlite),
    Postgres(pg::Pool),
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
        let waiting: Arc<Waiting> = Arc::default();
        let wakeups: Arc<Wakeups> = Arc::default();
        let sqlite = Sqlite::open(settings, create, &waiting, &wakeups)?;
        Ok(Self {
            engine: Engine::Sqlite(sqlite),
            waiting,
            wakeups,
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
            wakeups: Arc::default(),
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
        sqlite.read_blocking(&self.waiting, f)
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the write
    /// connection, on the current thread. An `Err` rolls everything back;
    /// once it committed, the workers for what it queued are woken.
    pub fn write_blocking<T, E>(
        &self,
        f: impl FnOnce(&WriteConn) -> Result<T, E> + Send,
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
                        let _waiting = WaitGuard::new(&self.waiting.writer);
                        pool.get().map_err(StorageError::from)?
                    };
                    let (value, queued) = pg::write(&mut session, f)?;
                    self.wakeups.wake(queued);
                    Ok(value)
                });
            }
        };
        sqlite.write_blocking(&self.waiting, &self.wakeups, f)
    }

    /// What the background workers wait on besides their timers: a write
    /// through this handle committed work for them (see `after_commit.rs`).
    pub fn wakeups(&self) -> Arc<Wakeups> {
        self.wakeups.clone()
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
        sqlite.bulk_write_blocking(&self.wakeups, cache_kib, f)
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
        sqlite.write(&self.waiting, f).await
    }

    /// Makes the writer's next `n` savepoints fail, for tests of that path.
    #[cfg(test)]
    pub(crate) fn fail_next_savepoints(&self, n: usize) {
        if let Engine::Sqlite(sqlite) = &self.engine {
            sqlite.fail_next_savepoints(n);
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
        match &self.engine {
            Engine::Sqlite(sqlite) => sqlite.checkpoint(),
            Engine::Postgres(_) => Ok(()),
        }
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
            // Ends the read snapshot only; a failure leaves nothing to undo.
            source.execute_batch("COMMIT").ok();
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
        sqlite.backup_to(target)
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

/// True when `error` is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(error: &StorageError) -> bool {
    match error {
        StorageError::Sqlite(e) => sqlite::unique_violation(e),
        StorageError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}
