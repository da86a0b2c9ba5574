//! Single-use links mailed to an inbox: email verification and password reset.

use super::sql::{Conn, Result};
use crate::domain::Millis;

pub use crate::domain::LinkPurpose as Purpose;

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Verify => "verify",
        Purpose::Reset => "reset",
    }
}

pub struct NewLink<'a> {
    pub token_sha256: &'a [u8],
    pub purpose: Purpose,
    pub user_id: i64,
    pub browser_sha256: Option<&'a [u8]>,
    pub password_hash: Option<&'a str>,
    pub resume: Option<&'a str>,
    pub expires_at: Millis,
}

pub fn insert(conn: &Conn, link: &NewLink<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO email_links (token_sha256, purpose, user_id, browser_sha256, password_hash,
                                  resume, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            &link.token_sha256,
            &purpose_text(link.purpose),
            &link.user_id,
            &link.browser_sha256,
            &link.password_hash,
            &link.resume,
            &now.0,
            &link.expires_at.0,
        ],
    )?;
    Ok(())
}

/// A link as stored, with the account it is for.
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
    pub browser_sha256: Option<Vec<u8>>,
    pub password_hash: Option<String>,
    pub resume: Option<String>,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

pub fn find(conn: &Conn, token_sha256: &[u8], purpose: Purpose) -> Result<Option<LinkRow>> {
    conn.query_opt(
        "SELECT l.user_id, u.email, u.email_verified_at IS NOT NULL, l.browser_sha256,
                l.password_hash, l.resume, l.expires_at, l.used_at
         FROM email_links l JOIN users u ON u.id = l.user_id
         WHERE l.token_sha256 = ?1 AND l.purpose = ?2",
        &[&token_sha256, &purpose_text(purpose)],
        |row| {
            Ok(LinkRow {
                user_id: row.get(0)?,
                email: row.get(1)?,
                email_verified: row.get(2)?,
                browser_sha256: row.get(3)?,
                password_hash: row.get(4)?,
                resume: row.get(5)?,
                expires_at: Millis(row.get(6)?),
                used_at: row.get::<Option<i64>>(7)?.map(Millis),
            })
        },
    )
}

/// Uses the link up, if it is still usable: exactly one caller wins a race.
/// The password it carried is dropped with it.
pub fn consume(conn: &Conn, token_sha256: &[u8], purpose: Purpose, now: Millis) -> Result<bool> {
    let used = conn.execute(
        "UPDATE email_links SET used_at = ?3, password_hash = NULL
             WHERE token_sha256 = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3",
        &[&token_sha256, &purpose_text(purpose), &now.0],
    )?;
    Ok(used == 1)
}

/// Every other live link of the account stops working (after a reset or a
/// claim, links mailed before prove nothing new).
pub fn retire_for_user(conn: &Conn, user_id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE email_links SET used_at = ?2, password_hash = NULL
         WHERE user_id = ?1 AND used_at IS NULL",
        &[&user_id, &now.0],
    )?;
    Ok(())
}

/// Links expired (or used) before `cutoff` are of no more use, even for
/// telling "expired" from "unknown".
pub fn delete_expired_before(conn: &Conn, cutoff: Millis) -> Result<usize> {
    conn.execute(
        "DELETE FROM email_links WHERE expires_at < ?1",
        &[&cutoff.0],
    )
}
