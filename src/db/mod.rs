//! Storage. This module and its children own every SQL statement.
//!
//! Reads go through a small pool of connections, on the blocking thread
//! pool. Writes from the server go to one writer thread that owns the single
//! write connection and commits them in groups: every write waiting while a
//! transaction commits joins the next `BEGIN IMMEDIATE` transaction, in its
//! own savepoint, and is answered only after that transaction committed.
//! No SQLite call ever runs on the async executor.

pub mod api_keys;
pub mod email_links;
pub mod idempotency;
pub mod invitations;
pub mod join_links;
pub mod lock;
pub mod members;
pub mod oauth;
pub mod orgs;
pub mod outbox;
pub mod seed;
pub mod sessions;
pub mod signing_keys;
pub mod users;

use crate::config::DatabaseSettings;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// `schema.sql` is version 1, the baseline every database starts from; each
/// file in `migrations/` takes it one version further, in order. A new
/// database runs the baseline and then every step, so new and upgraded
/// databases are built by the same statements.
const SCHEMA: &str = include_str!("../../schema.sql");
/// `UPGRADES[n]` takes a database from version n+1 to n+2.
const UPGRADES: &[&str] = &[
    include_str!("../../migrations/0002_credentials_by_account.sql"),
    include_str!("../../migrations/0003_email_ownership.sql"),
    include_str!("../../migrations/0004_hardening_b.sql"),
    include_str!("../../migrations/0005_hardening_a.sql"),
    include_str!("../../migrations/0006_invitations_plus.sql"),
];
/// The schema this binary writes.
pub const SCHEMA_VERSION: i64 = 1 + UPGRADES.len() as i64;
/// The version from which email keys hold the ASCII form of the domain.
const ASCII_DOMAIN_KEYS: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no database connection became free in time")]
    PoolTimeout(#[source] r2d2::Error),
    #[error("the blocking task was cancelled")]
    Canceled,
    #[error("cannot start the writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
    /// The transaction a write was grouped into could not start or commit.
    #[error("the write batch failed: {0}")]
    Batch(String),
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

impl From<r2d2::Error> for StorageError {
    fn from(error: r2d2::Error) -> Self {
        StorageError::PoolTimeout(error)
    }
}

#[derive(Clone)]
pub struct Database {
    readers: Pool,
    writer: Pool,
    waiting: Arc<Waiting>,
    /// The group-commit writer thread's queue (see [`Database::write`]).
    jobs: std::sync::mpsc::Sender<WriteJob>,
}

/// One write, type-erased for the writer thread: it runs the caller's
/// closure inside the batch's transaction and answers whether that closure
/// succeeded, plus how to deliver its result once the batch's fate is known.
type WriteJob = Box<dyn FnOnce(&Connection) -> (bool, Delivery) + Send>;
type Delivery = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// Writes committed together at most. Bounded so one commit never holds
/// answers back for long.
const MAX_BATCH: usize = 64;

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
            configure(&conn, busy_timeout)?;
            // WAL is a property of the file: set once, readers never block the writer.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            migrate(&mut conn)?;
        }
        let readers = pool(
            path,
            busy_timeout,
            settings.pool_size,
            settings.pool_timeout.0,
        )?;
        let writer = pool(path, busy_timeout, 1, settings.pool_timeout.0)?;
        let waiting: Arc<Waiting> = Arc::default();
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        let (thread_pool, thread_waiting) = (writer.clone(), waiting.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || group_commit(&thread_pool, &queue, &thread_waiting))
            .map_err(StorageError::WriterThread)?;
        Ok(Self {
            readers,
            writer,
            waiting,
            jobs,
        })
    }

    /// Runs `f` on a pooled read connection, on the current thread.
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let conn = {
            let _waiting = WaitGuard::new(&self.waiting.readers);
            self.readers.get().map_err(StorageError::from)?
        };
        f(&conn)
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the write
    /// connection, on the current thread. An `Err` rolls everything back.
    pub fn write_blocking<T, E>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut conn = {
            let _waiting = WaitGuard::new(&self.waiting.writer);
            self.writer.get().map_err(StorageError::from)?
        };
        immediate(&mut conn, f)
    }

    /// [`Database::write_blocking`] for bulk fills (`enlist dev seed`): the
    /// write connection runs without fsync and with a large page cache for
    /// this one transaction, then gets its usual settings back and the WAL
    /// is checkpointed into the main file.
    pub fn bulk_write_blocking<T, E>(
        &self,
        cache_kib: u64,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut conn = self.writer.get().map_err(StorageError::from)?;
        seed::bulk_settings(&conn, cache_kib).map_err(StorageError::from)?;
        let outcome = immediate(&mut conn, f);
        seed::restore_bulk_settings(&conn).map_err(StorageError::from)?;
        outcome
    }

    /// [`Database::read_blocking`] on the blocking thread pool.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let db = self.clone();
        let span = tracing::Span::current();
        actix_web::web::block(move || span.in_scope(|| db.read_blocking(f)))
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
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let span = tracing::Span::current();
        let job: WriteJob = Box::new(move |conn: &Connection| {
            let outcome = span.in_scope(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(E::from(StorageError::Canceled)))
            });
            let succeeded = outcome.is_ok();
            let delivery: Delivery = Box::new(move |committed: Result<(), StorageError>| {
                let outcome = match (outcome, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(error)) => Err(E::from(error)),
                    (Err(error), _) => Err(error),
                };
                let _ = reply.send(outcome);
            });
            (succeeded, delivery)
        });
        self.waiting.writer.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.waiting.writer.fetch_sub(1, Ordering::Relaxed);
            return Err(E::from(StorageError::Canceled));
        }
        answer.await.map_err(|_| E::from(StorageError::Canceled))?
    }

    pub fn pool_stats(&self) -> PoolStats {
        let readers = self.readers.state();
        let writer = self.writer.state();
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
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let conn = self.writer.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A consistent copy of the live database at `target`, taken with
    /// SQLite's online backup API in one step (a snapshot read; writers
    /// carry on meanwhile). Written beside the target, then renamed into place.
    pub fn backup_to(&self, target: &Path) -> Result<u64, StorageError> {
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
pub fn schema_version(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// `path` made absolute against the working directory (without resolving
/// links, so a path that does not exist yet reads as the one looked for).
pub fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction; an `Err` rolls it back.
fn immediate<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StorageError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StorageError::from)?;
    let value = f(&tx)?;
    tx.commit().map_err(StorageError::from)?;
    Ok(value)
}

/// The writer thread: takes the queued writes, runs as many as are waiting
/// (up to [`MAX_BATCH`]) in one transaction, each in a savepoint, commits,
/// then answers every one of them.
fn group_commit(pool: &Pool, queue: &std::sync::mpsc::Receiver<WriteJob>, waiting: &Waiting) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        waiting
            .writer
            .fetch_sub(batch.len() as i64, Ordering::Relaxed);
        let conn = match pool.get() {
            Ok(conn) => conn,
            Err(error) => {
                fail_batch(batch, &error.to_string());
                continue;
            }
        };
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            fail_batch(batch, &error.to_string());
            continue;
        }
        let mut deliveries = Vec::with_capacity(batch.len());
        for job in batch {
            let savepoint = conn.execute_batch("SAVEPOINT write");
            let (succeeded, delivery) = job(&conn);
            let settled = if succeeded {
                conn.execute_batch("RELEASE write")
            } else {
                conn.execute_batch("ROLLBACK TO write; RELEASE write")
            };
            if let Err(error) = savepoint.and(settled) {
                tracing::error!(%error, "a savepoint of the write batch failed");
            }
            deliveries.push(delivery);
        }
        let committed = conn.execute_batch("COMMIT").map_err(StorageError::from);
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let failure = committed.as_ref().err().map(|e| e.to_string());
        for delivery in deliveries {
            delivery(match &failure {
                None => Ok(()),
                Some(message) => Err(StorageError::Batch(message.clone())),
            });
        }
    }
}

/// A batch that could not start: its writes are not run, and dropping them
/// drops their reply channels, so each caller hears a storage error.
fn fail_batch(batch: Vec<WriteJob>, error: &str) {
    tracing::error!(%error, writes = batch.len(), "a write batch could not start");
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

fn pool(
    path: &Path,
    busy_timeout: Duration,
    size: u32,
    wait: Duration,
) -> Result<Pool, StorageError> {
    let manager = SqliteConnectionManager::file(path)
        .with_flags(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .with_init(move |conn| configure(conn, busy_timeout));
    Ok(r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size.min(2)))
        .connection_timeout(wait)
        // A local file does not go stale; checking on every checkout costs a round trip.
        .test_on_check_out(false)
        .build(manager)?)
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if found == 0 {
        tx.execute_batch(SCHEMA)?;
    }
    for step in UPGRADES.iter().skip((found.max(1) - 1) as usize) {
        tx.execute_batch(step)?;
    }
    if (1..ASCII_DOMAIN_KEYS).contains(&found) {
        rekey_emails(&tx)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    tracing::info!(
        from = found,
        to = SCHEMA_VERSION,
        "database schema migrated"
    );
    Ok(())
}

/// Recomputes the email keys that hold non-ASCII characters, the only ones
/// whose key can change now that domains compare in their IDNA form. A key
/// that would collide with an existing account is left as it was (and logged).
fn rekey_emails(tx: &Connection) -> Result<(), StorageError> {
    const NON_ASCII: &str = "GLOB '*[^' || char(1) || '-' || char(127) || ']*'";
    for (table, id, email, key) in [
        ("users", "id", "email", "email_key"),
        ("invitations", "id", "invitee_email", "invitee_email_key"),
    ] {
        let rows: Vec<(i64, String, String)> = tx
            .prepare(&format!(
                "SELECT {id}, {email}, {key} FROM {table} WHERE {key} {NON_ASCII}"
            ))?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (row_id, address, old_key) in rows {
            let Ok(parsed) = crate::domain::Email::parse(&address) else {
                continue;
            };
            if parsed.key() == old_key {
                continue;
            }
            let updated = tx.execute(
                &format!("UPDATE {table} SET {key} = ?2 WHERE {id} = ?1"),
                rusqlite::params![row_id, parsed.key()],
            );
            match updated {
                Ok(_) => {}
                Err(error) if is_unique_violation(&error) => {
                    tracing::warn!(
                        table,
                        row_id,
                        "email key left as it was: another row has the new one"
                    );
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}

/// Maps "no row" to `None`, the one place storage code treats absence as a value.
pub(crate) use rusqlite::OptionalExtension;

/// Reads a TEXT column holding a value that parses (a UUID, a role, a status).
pub(crate) fn parsed<T>(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// True when `error` is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_upgrades_with_proven_accounts_and_ascii_domain_keys() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            path: dir.path().join("old.db"),
            ..DatabaseSettings::default()
        };
        {
            let conn = Connection::open(&settings.path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO organizations (id, uuid, name, created_at, updated_at)
                     VALUES (1, 'u', 'Acme', 0, 0);
                 -- made by org create (no password), a member, a client's
                 -- account, and someone who signed up on a page.
                 INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at) VALUES
                     (1, 'admin@acme.test', 'admin@acme.test', NULL, 0, 5),
                     (2, 'member@acme.test', 'member@acme.test', 'h', 0, 6),
                     (3, 'bot@acme.test', 'bot@acme.test', 'h', 0, 7),
                     (4, 'ada@Bücher.example', 'ada@bücher.example', 'h', 0, 8);
                 INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                     VALUES (1, 2, 'MEMBER', 0, 0);
                 INSERT INTO oauth_clients (client_id, name, redirect_uris, user_id, created_at)
                     VALUES ('c', 'bot', '', 3, 0);
                 INSERT INTO invitations (uuid, org_id, invitee_email, invitee_email_key, role,
                                          status, created_at, updated_at, expires_at)
                     VALUES ('i', 1, 'ada@Bücher.example', 'ada@bücher.example', 'MEMBER',
                             'PENDING', 0, 0, 1);",
            )
            .unwrap();
        }

        let db = Database::open(&settings).unwrap();

        let rows: Vec<(i64, Option<i64>, String)> = db
            .read_blocking(|c| {
                let mut stmt =
                    c.prepare("SELECT id, email_verified_at, email_key FROM users ORDER BY id")?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok::<_, StorageError>(rows)
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, Some(5), "admin@acme.test".into()),
                (2, Some(6), "member@acme.test".into()),
                (3, Some(7), "bot@acme.test".into()),
                (4, None, "ada@xn--bcher-kva.example".into()),
            ]
        );
        let invitee_key: String = db
            .read_blocking(|c| {
                c.query_row("SELECT invitee_email_key FROM invitations", [], |r| {
                    r.get(0)
                })
                .map_err(StorageError::from)
            })
            .unwrap();
        assert_eq!(invitee_key, "ada@xn--bcher-kva.example");
    }

    #[test]
    fn the_hardening_step_keeps_refresh_families_and_drops_the_hs256_secret() {
        // A version-2 database with a refresh family of two tokens.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enlist.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(UPGRADES[0]).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO users (id, email, email_key, created_at, updated_at)
                 VALUES (1, 'a@b.test', 'a@b.test', 0, 0);
             INSERT INTO oauth_clients (id, client_id, name, redirect_uris, created_at)
                 VALUES (1, 'enlc_x', 'x', '', 0);
             INSERT INTO refresh_tokens (token_sha256, family, client_id, user_id, scope, created_at, expires_at)
                 VALUES (x'01', 'f', 1, 1, 'invitations', 100, 1000),
                        (x'02', 'f', 1, 1, 'invitations', 200, 1100);
             INSERT INTO server_secrets (name, value, created_at)
                 VALUES ('access_token_hs256', x'00', 0);",
        )
        .unwrap();
        drop(conn);

        let db = Database::open(&DatabaseSettings {
            path,
            ..DatabaseSettings::default()
        })
        .unwrap();
        let (started, secrets): (Vec<i64>, i64) = db
            .read_blocking(|c| {
                let mut stmt = c.prepare("SELECT family_started_at FROM refresh_tokens")?;
                let started = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                let secrets =
                    c.query_row("SELECT count(*) FROM server_secrets", [], |r| r.get(0))?;
                Ok::<_, StorageError>((started, secrets))
            })
            .unwrap();
        assert_eq!(started, [100, 100], "a family starts with its oldest token");
        assert_eq!(secrets, 0);
    }

    #[test]
    fn migrates_once_and_refuses_newer_databases() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            path: dir.path().join("nested/enlist.db"),
            ..DatabaseSettings::default()
        };
        Database::open(&settings).unwrap();
        // A second open finds the current version and changes nothing.
        let db = Database::open(&settings).unwrap();
        let version: i64 = db
            .read_blocking(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .map_err(StorageError::from)
            })
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = db
            .read_blocking(|c| {
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                    .map_err(StorageError::from)
            })
            .unwrap();
        assert_eq!(mode, "wal");

        Connection::open(&settings.path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            Database::open(&settings),
            Err(StorageError::TooNew { .. })
        ));
    }
}
