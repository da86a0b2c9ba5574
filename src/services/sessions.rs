//! Browser sessions for the hosted pages. The cookie carries a random
//! token; only its SHA-256 is stored.

use super::ServiceResult;
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::domain::Millis;
use std::time::Duration;

/// The person a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
}

/// Starts a session; answers the token for the cookie.
pub fn start(tx: &Conn, user_id: i64, lifetime: Duration, now: Millis) -> ServiceResult<String> {
    let token = secrets::random_base62(43);
    db::sessions::insert(
        tx,
        &secrets::sha256(&token),
        user_id,
        now.plus(lifetime),
        now,
    )?;
    Ok(token)
}

/// Starts a session for someone who just typed the account's password: it
/// counts as a recent password check (see `Accounts::step_up`).
pub fn start_after_password(
    tx: &Conn,
    user_id: i64,
    lifetime: Duration,
    now: Millis,
) -> ServiceResult<String> {
    let token = start(tx, user_id, lifetime, now)?;
    db::sessions::mark_password(tx, &secrets::sha256(&token), now)?;
    Ok(token)
}

pub fn find(conn: &Conn, token: &str, now: Millis) -> ServiceResult<Option<SessionUser>> {
    Ok(db::sessions::find(conn, &secrets::sha256(token), now)?.map(
        |(user_id, email, email_verified)| SessionUser {
            user_id,
            email,
            email_verified,
        },
    ))
}

pub fn end(tx: &Conn, token: &str) -> ServiceResult<()> {
    Ok(db::sessions::delete(tx, &secrets::sha256(token))?)
}

/// The key that signs CSRF tokens, generated on first start.
pub fn csrf_key(tx: &Conn, now: Millis) -> ServiceResult<Vec<u8>> {
    Ok(db::oauth::server_secret(
        tx,
        "csrf_hmac_sha256",
        || {
            use rand::RngCore;
            let mut key = vec![0_u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        },
        now,
    )?)
}
