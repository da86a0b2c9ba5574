//! Accounts: who a person is, and the credentials that prove it.

use super::ServiceResult;
use crate::db;
use crate::domain::Millis;
use rusqlite::Connection;

/// Ends everything that lets someone act as the account: browser sessions,
/// refresh tokens (every client, every family) and authorization codes not
/// yet exchanged. Access tokens already issued run out their short lifetime.
pub fn end_every_credential(conn: &Connection, user_id: i64, now: Millis) -> ServiceResult<()> {
    db::sessions::delete_for_user(conn, user_id)?;
    db::oauth::revoke_refresh_tokens_of_user(conn, user_id, now)?;
    db::oauth::delete_codes_of_user(conn, user_id)?;
    Ok(())
}
