//! Accounts as the operator and the sign-up forms make them: names checked,
//! one account per email key, and the operator's password setting (which
//! proves the address and ends what the old password granted).

use super::{ServiceError, ServiceResult};
use crate::db;
use crate::db::Conn;
use crate::domain::event::Origin;
use crate::domain::{Email, Millis, User, name};
use crate::services::error_code::ErrorCode;

pub struct NewAccount {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    /// Already hashed: hashing runs before the write transaction opens.
    pub password_hash: Option<String>,
    /// Whether the email is proven already: by the operator who makes the
    /// account, or by the invitation link the person arrived through.
    pub email_verified: bool,
}

const MAX_NAME_LEN: usize = 200;

/// A person's names, as every way of making an account checks them.
pub fn validate_names(first_name: &str, last_name: &str) -> ServiceResult<()> {
    name::check("firstName", first_name)?;
    name::check("lastName", last_name)?;
    for (field, value) in [
        ("firstName", first_name.trim()),
        ("lastName", last_name.trim()),
    ] {
        if value.chars().count() > MAX_NAME_LEN {
            return Err(ServiceError::invalid(
                field,
                format!("{field} is longer than {MAX_NAME_LEN} characters"),
            ));
        }
    }
    Ok(())
}

pub fn create(conn: &Conn, new: &NewAccount, now: Millis) -> ServiceResult<User> {
    let first_name = new.first_name.trim();
    let last_name = new.last_name.trim();
    validate_names(&new.first_name, &new.last_name)?;
    let inserted = db::users::insert(
        conn,
        &db::users::NewUser {
            email: &new.email,
            first_name,
            last_name,
            avatar_url: None,
            password_hash: new.password_hash.as_deref(),
            email_verified_at: new.email_verified.then_some(now),
        },
        now,
    );
    match inserted {
        Ok(user) => {
            if new.email_verified {
                super::domains::on_email_verified(conn, user.id, now)?;
            }
            Ok(user)
        }
        Err(e) if db::is_unique_violation(&e) => Err(ServiceError::conflict(
            ErrorCode::EmailTaken,
            "an account with this email already exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Records that the account's address is proven, and (the first time)
/// applies its verified domain in the same transaction: every path that
/// proves an address comes through here or [`create`].
pub fn mark_verified(conn: &Conn, user_id: i64, now: Millis) -> ServiceResult<()> {
    if db::users::mark_email_verified(conn, user_id, now)? {
        super::domains::on_email_verified(conn, user_id, now)?;
    }
    Ok(())
}

/// Sets (or replaces) an account's password; `hash` is already argon2id.
/// Every session, refresh token and pending authorization code of the
/// account ends, so nothing granted under the old password outlives it,
/// and so do the API keys it minted in the console (see
/// [`super::accounts::claim`]). The operator who sets it vouches for the
/// address: it counts as proven. Answers the account and how many keys
/// were revoked.
pub fn set_password(
    conn: &Conn,
    origin: &Origin,
    email: &Email,
    hash: &str,
    now: Millis,
) -> ServiceResult<(User, usize)> {
    let found = db::users::find_by_email(conn, email)?.ok_or(ServiceError::NotFound("account"))?;
    let revoked = super::accounts::claim(conn, origin, found.id, Some(hash), now)?;
    let user = db::users::get(conn, found.id)?.ok_or(ServiceError::NotFound("account"))?;
    Ok((user, revoked))
}
