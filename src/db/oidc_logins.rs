//! SQL for sign-ins at an OpenID provider in progress: stored when the
//! browser leaves for the provider, taken (read and deleted at once) when
//! it comes back, so a `state` works once.

use super::sql::{Conn, Result, Row};
use crate::domain::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub provider: String,
    pub browser_sha256: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub expires_at: Millis,
    /// The signed-in account connecting this provider, if that is what it is.
    pub connect_user_id: Option<i64>,
}

pub struct NewLogin<'a> {
    pub state_sha256: &'a [u8],
    pub provider: &'a str,
    pub browser_sha256: &'a [u8],
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub return_to: &'a str,
    pub expires_at: Millis,
    pub connect_user_id: Option<i64>,
}

pub fn insert(conn: &Conn, login: &NewLogin<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO oidc_logins (state_sha256, provider, browser_sha256, nonce, pkce_verifier,
                                  return_to, created_at, expires_at, connect_user_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            &login.state_sha256,
            &login.provider,
            &login.browser_sha256,
            &login.nonce,
            &login.pkce_verifier,
            &login.return_to,
            &now.0,
            &login.expires_at.0,
            &login.connect_user_id,
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row<'_>) -> Result<PendingLogin> {
    Ok(PendingLogin {
        provider: row.get(0)?,
        browser_sha256: row.get(1)?,
        nonce: row.get(2)?,
        pkce_verifier: row.get(3)?,
        return_to: row.get(4)?,
        expires_at: Millis(row.get(5)?),
        connect_user_id: row.get(6)?,
    })
}

/// Deletes the login the `state` names and answers it: whoever asks
/// second finds nothing, whatever the answer's checks say.
pub fn take(conn: &Conn, state_sha256: &[u8]) -> Result<Option<PendingLogin>> {
    conn.query_opt(
        "DELETE FROM oidc_logins WHERE state_sha256 = ?1
         RETURNING provider, browser_sha256, nonce, pkce_verifier, return_to, expires_at,
                   connect_user_id",
        &[&state_sha256],
        from_row,
    )
}

/// Logins abandoned at the provider, gone once expired (`oidc_logins_expiry`).
pub fn delete_expired(conn: &Conn, now: Millis) -> Result<usize> {
    conn.execute("DELETE FROM oidc_logins WHERE expires_at <= ?1", &[&now.0])
}
