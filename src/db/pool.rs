//! Connections: the per-connection pragmas and the r2d2 pools built from them.

use super::{Pool, StorageError};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

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

pub(super) fn pool(
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
