//! Browser sessions of the hosted pages.

use super::OptionalExtension;
use crate::domain::Millis;
use rusqlite::{Connection, params};

pub fn insert(
    conn: &Connection,
    token_sha256: &[u8],
    user_id: i64,
    expires_at: Millis,
    now: Millis,
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM web_sessions WHERE expires_at <= ?1")?
        .execute([now.0])?;
    conn.prepare_cached(
        "INSERT INTO web_sessions (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![token_sha256, user_id, now.0, expires_at.0])?;
    Ok(())
}

/// The signed-in account's id, email and whether it is proven, for a live session.
pub fn find(
    conn: &Connection,
    token_sha256: &[u8],
    now: Millis,
) -> rusqlite::Result<Option<(i64, String, bool)>> {
    conn.prepare_cached(
        "SELECT u.id, u.email, u.email_verified_at IS NOT NULL
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
    )?
    .query_row(params![token_sha256, now.0], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
    .optional()
}

pub fn delete(conn: &Connection, token_sha256: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM web_sessions WHERE token_sha256 = ?1")?
        .execute([token_sha256])?;
    Ok(())
}

pub fn delete_for_user(conn: &Connection, user_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM web_sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}
