//! Browser sessions of the hosted pages.

use super::sql::{Conn, Result};
use crate::domain::Millis;

pub fn insert(
    conn: &Conn,
    token_sha256: &[u8],
    user_id: i64,
    expires_at: Millis,
    now: Millis,
) -> Result<()> {
    conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", &[&now.0])?;
    conn.execute(
        "INSERT INTO web_sessions (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        &[&token_sha256, &user_id, &now.0, &expires_at.0],
    )?;
    Ok(())
}

/// The signed-in account's id, email and whether it is proven, for a live session.
pub fn find(conn: &Conn, token_sha256: &[u8], now: Millis) -> Result<Option<(i64, String, bool)>> {
    conn.query_opt(
        "SELECT u.id, u.email, u.email_verified_at IS NOT NULL
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
        &[&token_sha256, &now.0],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
}

pub fn delete(conn: &Conn, token_sha256: &[u8]) -> Result<()> {
    conn.execute(
        "DELETE FROM web_sessions WHERE token_sha256 = ?1",
        &[&token_sha256],
    )?;
    Ok(())
}

pub fn delete_for_user(conn: &Conn, user_id: i64) -> Result<()> {
    conn.execute("DELETE FROM web_sessions WHERE user_id = ?1", &[&user_id])?;
    Ok(())
}
