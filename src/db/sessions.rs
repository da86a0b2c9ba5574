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

/// The session's account and password hash, and when its holder last typed
/// that password (None: never in this session), for a live session.
pub struct PasswordCheck {
    pub user_id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub password_at: Option<Millis>,
}

pub fn password_check(
    conn: &Conn,
    token_sha256: &[u8],
    now: Millis,
) -> Result<Option<PasswordCheck>> {
    conn.query_opt(
        "SELECT u.id, u.email, u.password_hash, s.password_at
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
        &[&token_sha256, &now.0],
        |row| {
            Ok(PasswordCheck {
                user_id: row.get(0)?,
                email: row.get(1)?,
                password_hash: row.get(2)?,
                password_at: row.get::<Option<i64>>(3)?.map(Millis),
            })
        },
    )
}

/// Records that the session's holder just typed the account's password.
pub fn mark_password(conn: &Conn, token_sha256: &[u8], now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE web_sessions SET password_at = ?2 WHERE token_sha256 = ?1",
        &[&token_sha256, &now.0],
    )?;
    Ok(())
}
