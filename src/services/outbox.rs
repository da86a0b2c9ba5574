//! The outbox as an operator sees it: which messages went to whom, with
//! the link each carries (what `enlist outbox list` prints).

use super::{ServiceError, ServiceResult};
use crate::db;
use crate::db::Conn;
pub use crate::db::outbox::OutboxEntry;
use crate::domain::Email;

/// Messages newest first, to `recipient` or to anyone; at most `limit` (1..=1000).
pub fn newest(
    conn: &Conn,
    recipient: Option<&Email>,
    limit: i64,
) -> ServiceResult<Vec<OutboxEntry>> {
    if !(1..=1000).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit",
            "--limit must be between 1 and 1000",
        ));
    }
    Ok(db::outbox::newest(
        conn,
        recipient.map(|e| e.as_str()),
        limit,
    )?)
}
