//! What the health and metrics endpoints read.

use super::ServiceResult;
use crate::db;
use rusqlite::Connection;

pub use crate::db::PoolStats;

/// The database answers a read (`/readyz`).
pub fn probe(conn: &Connection) -> ServiceResult<()> {
    Ok(db::health::probe(conn)?)
}

/// Messages queued and not yet sent or given up on.
pub fn outbox_backlog(conn: &Connection) -> ServiceResult<i64> {
    Ok(db::outbox::backlog(conn)?)
}
