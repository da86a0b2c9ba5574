//! The secrets invitation messages carry: one per message, kept as SHA-256.

use super::sql::{Conn, Result};
use crate::domain::Millis;

pub fn insert(conn: &Conn, token_sha256: &[u8], invitation_id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO invitation_links (token_sha256, invitation_id, created_at) VALUES (?1, ?2, ?3)",
        &[&token_sha256, &invitation_id, &now.0],
    )?;
    Ok(())
}

/// Whether the secret was mailed with this invitation. Whether the
/// invitation can still be answered is the caller's to check.
pub fn belongs_to(conn: &Conn, token_sha256: &[u8], invitation_id: i64) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM invitation_links WHERE token_sha256 = ?1 AND invitation_id = ?2)",
        &[&token_sha256, &invitation_id],
        |row| row.get(0),
    )
}
