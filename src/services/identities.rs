//! An account's identities at OpenID providers: listed for the operator,
//! the console and the account page, and unlinked by the account's holder,
//! never the last way in. An unlinked identity stays recorded, so it never
//! links itself again by its email: its holder connects it again, signed
//! in, from the account page.

use super::{ServiceError, ServiceResult};
use crate::db::identities::IdentityRow;
use crate::db::{self, Conn};
use crate::domain::event::{EventType, Origin};
use crate::domain::{Email, Millis, User};
use crate::services::error_code::ErrorCode;

/// The account of `email` and its identities (`enlist user show`).
pub fn show(conn: &Conn, email: &Email) -> ServiceResult<(User, Vec<IdentityRow>)> {
    let user = db::users::find_by_email(conn, email)?.ok_or(ServiceError::NotFound("account"))?;
    let identities = db::identities::of_user(conn, user.id)?;
    Ok((user, identities))
}

pub fn of_user(conn: &Conn, user_id: i64) -> ServiceResult<Vec<IdentityRow>> {
    Ok(db::identities::of_user(conn, user_id)?)
}

/// Unlinks identity `id` of the account. Refused when it is the account's
/// only way in: no password and no other identity.
pub fn unlink(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    id: i64,
    now: Millis,
) -> ServiceResult<IdentityRow> {
    // Two unlinks at once must not both see the other identity as the way
    // in that is left (PostgreSQL; SQLite's writes run one at a time).
    tx.lock_key(&format!("identities of {user_id}"))?;
    let user = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    let identities = db::identities::of_user(tx, user_id)?;
    if !identities.iter().any(|identity| identity.id == id) {
        return Err(ServiceError::NotFound("identity"));
    }
    if !user.has_password && identities.len() <= 1 {
        return Err(ServiceError::conflict(
            ErrorCode::LastSignInMethod,
            "This is your only way to sign in. Set a password first (\"Forgot your password?\" \
             on the sign-in page sends a link), then unlink it.",
        ));
    }
    let row = db::identities::mark_unlinked(tx, user_id, id, now)?
        .ok_or(ServiceError::NotFound("identity"))?;
    crate::services::accounts::identity_event(
        tx,
        origin,
        EventType::IdentityUnlinked,
        &user,
        &row,
        now,
    )?;
    Ok(row)
}
