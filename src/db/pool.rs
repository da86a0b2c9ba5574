//! Connections: the per-connection pragmas, the r2d2 pools built from them,
//! and the two handle types closures receive. A [`ReadConn`]'s connection is
//! opened with `PRAGMA query_only = ON`, so SQLite itself refuses any write
//! made through it; a [`WriteConn`] is the writer thread's one connection.

use super::sql::Conn;
use super::{Pool, StorageError};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// A read transaction, as [`super::Database::read`] hands it out. It
/// dereferences to a [`Conn`] so the `db::*` queries take it, but any
/// statement that would change the database fails (SQLite's connection is
/// `query_only`).
pub struct ReadConn<'c>(Conn<'c>);

impl<'c> ReadConn<'c> {
    pub(super) fn new(conn: Conn<'c>) -> Self {
        Self(conn)
    }
}

impl<'c> std::ops::Deref for ReadConn<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.0
    }
}

/// A write inside its transaction (on SQLite: the writer thread's open
/// transaction and the write's own savepoint), as [`super::Database::write`]
/// hands it out.
pub struct WriteConn<'c>(Conn<'c>);

impl<'c> WriteConn<'c> {
    pub(super) fn new(conn: Conn<'c>) -> Self {
        Self(conn)
    }
}

impl<'c> std::ops::Deref for WriteConn<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.0
    }
}

/// Distinct statements a connection keeps prepared. The list queries alone
/// come in several shapes; with rusqlite's default of 16 they evicted each
/// other and were parsed again on every request.
const STATEMENT_CACHE: usize = 128;

pub(super) fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // NORMAL in WAL mode: a commit survives a crash of the process (the WAL
    // is written before the commit returns); only an OS crash or power loss
    // can lose the last transactions, and never corrupts the file.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
}

/// Which pool: reads get `query_only` connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Read,
    Write,
}

pub(super) fn pool(
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
