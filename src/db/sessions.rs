//! Browser sessions of the hosted pages.

use super::sql::{Conn, Result};
use crate::domain::Millis;

pub struct NewSession<'a> {
    pub token_sha256: &'a [u8],
    pub user_id: i64,
    /// `AuthMethods::stored`.
    pub methods: &'a str,
    pub expires_at: Millis,
}

pub fn insert(conn: &Conn, new: &NewSession<'_>, now: Millis) -> Result<()> {
    conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", &[&now.0])?;
    conn.execute(
        "INSERT INTO web_sessions (token_sha256, user_id, methods, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[&new.token_sha256, &new.user_id, &new.methods, &now.0, &new.expires_at.0],
    )?;
    Ok(())
}

/// A live session and its account.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
    pub methods: String,
    pub created_at: Millis,
}

pub fn find(conn: &Conn, token_sha256: &[u8], now: Millis) -> Result<Option<SessionRow>> {
    conn.query_opt(
        "SELECT u.id, u.email, u.email_verified_at IS NOT NULL, s.methods, s.created_at
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
        &[&token_sha256, &now.0],
        |row| {
            Ok(SessionRow {
                user_id: row.get(0)?,
                email: row.get(1)?,
                email_verified: row.get(2)?,
                methods: row.get(3)?,
                created_at: Millis(row.get(4)?),
            })
        },
    )
}

/// Replaces the methods a session's holder has used (a second factor
/// added after the first).
pub fn set_methods(conn: &Conn, token_sha256: &[u8], methods: &str) -> Result<()> {
    conn.execute(
        "UPDATE web_sessions SET methods = ?2 WHERE token_sha256 = ?1",
        &[&token_sha256, &methods],
    )?;
    Ok(())
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
    /// When they last proved a second factor (None: never in this session).
    pub factor_at: Option<Millis>,
}

pub fn password_check(
    conn: &Conn,
    token_sha256: &[u8],
    now: Millis,
) -> Result<Option<PasswordCheck>> {
    conn.query_opt(
        "SELECT u.id, u.email, u.password_hash, s.password_at, s.factor_at
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
        &[&token_sha256, &now.0],
        |row| {
            Ok(PasswordCheck {
                user_id: row.get(0)?,
                email: row.get(1)?,
                password_hash: row.get(2)?,
                password_at: row.get::<Option<i64>>(3)?.map(Millis),
                factor_at: row.get::<Option<i64>>(4)?.map(Millis),
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

/// Records that the session's holder just proved a second factor.
pub fn mark_factor(conn: &Conn, token_sha256: &[u8], now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE web_sessions SET factor_at = ?2 WHERE token_sha256 = ?1",
        &[&token_sha256, &now.0],
    )?;
    Ok(())
}
