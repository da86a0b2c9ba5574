//! What the health and metrics endpoints and the operator's commands
//! (`init`, `check`, `serve`'s lock) need from storage.

use super::ServiceResult;
use crate::db;
use crate::db::Conn;

pub use crate::db::lock::{LockError, ServeLock};
pub use crate::db::{Database, PoolStats, absolute as absolute_path, masked_url};

/// The database as logs and commands name it: the SQLite file's absolute
/// path, or the PostgreSQL URL with its password masked (the file's path
/// would point an operator at a file nothing uses).
pub fn database_name(settings: &crate::config::DatabaseSettings) -> String {
    match settings.postgres_url() {
        Some(url) => masked_url(url),
        None => absolute_path(&settings.path).display().to_string(),
    }
}

/// `PRAGMA integrity_check` on a database file, left untouched: `["ok"]`
/// for a sound file, otherwise the problems found.
pub fn integrity_check(path: &std::path::Path) -> Vec<String> {
    db::integrity_check(path)
}

/// The schema version the database is at.
pub fn schema_version(conn: &Conn) -> ServiceResult<i64> {
    Ok(db::schema_version(conn)?)
}

/// The database answers a read (`/readyz`).
pub fn probe(conn: &Conn) -> ServiceResult<()> {
    Ok(db::health::probe(conn)?)
}

/// Messages queued and not yet sent or given up on.
pub fn outbox_backlog(conn: &Conn) -> ServiceResult<i64> {
    Ok(db::outbox::backlog(conn)?)
}
