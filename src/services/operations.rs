//! What the health and metrics endpoints and the operator's commands
//! (`init`, `check`, `serve`'s lock) need from storage.

use super::ServiceResult;
use crate::db;
use crate::db::Conn;

pub use crate::db::lock::{LockError, ServeLock};
pub use crate::db::{Database, PoolStats, absolute as absolute_path, masked_url};

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
