//! SQL for sign-in codes mailed to an inbox: one live code per address,
//! found through the browser that asked for it.

use super::sql::{Conn, Result, Row};
use crate::domain::Millis;

pub struct NewCode<'a> {
    pub browser_sha256: &'a [u8],
    pub email_key: &'a str,
    pub email: &'a str,
    pub code_hmac: &'a [u8],
    pub return_to: Option<&'a str>,
    pub expires_at: Millis,
}

/// Stores a code for the address, replacing the one it had (used or not).
pub fn replace(conn: &Conn, code: &NewCode<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "DELETE FROM email_codes WHERE email_key = ?1",
        &[&code.email_key],
    )?;
    conn.execute(
        "INSERT INTO email_codes (browser_sha256, email_key, email, code_hmac, return_to,
                                  created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &code.browser_sha256,
            &code.email_key,
            &code.email,
            &code.code_hmac,
            &code.return_to,
            &now.0,
            &code.expires_at.0,
        ],
    )?;
    Ok(())
}

/// A code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub email: String,
    pub email_key: String,
    pub code_hmac: Vec<u8>,
    pub return_to: Option<String>,
    pub attempts: i64,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

const COLUMNS: &str = "email, email_key, code_hmac, return_to, attempts, expires_at, used_at";

fn from_row(row: &Row<'_>) -> Result<CodeRow> {
    Ok(CodeRow {
        email: row.get(0)?,
        email_key: row.get(1)?,
        code_hmac: row.get(2)?,
        return_to: row.get(3)?,
        attempts: row.get(4)?,
        expires_at: Millis(row.get(5)?),
        used_at: row.get::<Option<i64>>(6)?.map(Millis),
    })
}

/// The code the browser (the SHA-256 of its cookie) asked for, in any state.
pub fn find(conn: &Conn, browser_sha256: &[u8]) -> Result<Option<CodeRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM email_codes WHERE browser_sha256 = ?1"),
        &[&browser_sha256],
        from_row,
    )
}

/// Counts a try of the browser's code, if it may still be tried (unused,
/// unexpired, fewer than `max_attempts` tries), and answers it as it is now.
/// The count goes up before the code is compared: however many tries
/// arrive at once, no more than `max_attempts` are ever compared.
pub fn count_attempt(
    conn: &Conn,
    browser_sha256: &[u8],
    max_attempts: i64,
    now: Millis,
) -> Result<Option<CodeRow>> {
    conn.query_opt(
        &format!(
            "UPDATE email_codes SET attempts = attempts + 1
             WHERE browser_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2
               AND attempts < ?3
             RETURNING {COLUMNS}"
        ),
        &[&browser_sha256, &now.0, &max_attempts],
        from_row,
    )
}

/// Uses the code up: whoever asks second finds it used.
pub fn mark_used(conn: &Conn, browser_sha256: &[u8], now: Millis) -> Result<bool> {
    let used = conn.execute(
        "UPDATE email_codes SET used_at = ?2 WHERE browser_sha256 = ?1 AND used_at IS NULL",
        &[&browser_sha256, &now.0],
    )?;
    Ok(used == 1)
}

/// Codes that expired before `cutoff` (`email_codes_expiry`).
pub fn delete_expired_before(conn: &Conn, cutoff: Millis) -> Result<usize> {
    conn.execute(
        "DELETE FROM email_codes WHERE expires_at < ?1",
        &[&cutoff.0],
    )
}
