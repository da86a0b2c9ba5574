//! SQL for accounts: insert, look up by id or email key, credentials,
//! passwords and the proof of an address.

use super::sql::{Conn, Result, Row};
use crate::domain::search;
use crate::domain::{Email, Millis, User};

const COLUMNS: &str = "id, email, first_name, last_name, avatar_url, password_hash IS NOT NULL, \
     email_verified_at, created_at, updated_at";

fn from_row(row: &Row<'_>) -> Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        avatar_url: row.get(4)?,
        has_password: row.get(5)?,
        email_verified_at: row.get::<Option<i64>>(6)?.map(Millis),
        created_at: Millis(row.get(7)?),
        updated_at: Millis(row.get(8)?),
    })
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub email_verified_at: Option<Millis>,
}

/// Fails with a UNIQUE violation when the email is taken (case-insensitively).
/// Keys the names for search here: names never change after this.
pub fn insert(conn: &Conn, user: &NewUser<'_>, now: Millis) -> Result<User> {
    conn.query_one(
        &format!(
            "INSERT INTO users (email, email_key, first_name, last_name, avatar_url, password_hash,
                            email_verified_at, created_at, updated_at, name_key, last_name_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10) RETURNING {COLUMNS}"
        ),
        &[
            &user.email.as_str(),
            &user.email.key(),
            &user.first_name,
            &user.last_name,
            &user.avatar_url,
            &user.password_hash,
            &user.email_verified_at.map(|at| at.0),
            &now.0,
            &search::name_key(user.first_name, user.last_name),
            &search::last_name_key(user.last_name),
        ],
        from_row,
    )
}

pub fn get(conn: &Conn, id: i64) -> Result<Option<User>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

pub fn find_by_email(conn: &Conn, email: &Email) -> Result<Option<User>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE email_key = ?1"),
        &[&email.key()],
        from_row,
    )
}

/// What signing in needs to know of an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
}

/// The account's password hash and whether its email is proven, for sign-in.
pub fn credentials(conn: &Conn, email: &Email) -> Result<Option<Credentials>> {
    conn.query_opt(
        "SELECT id, email, password_hash, email_verified_at IS NOT NULL FROM users WHERE email_key = ?1",
        &[&email.key()],
        |row| {
        Ok(Credentials {
            user_id: row.get(0)?,
            email: row.get(1)?,
            password_hash: row.get(2)?,
            email_verified: row.get(3)?,
        })
    },
    )
}

/// Replaces (or, with `None`, removes) the account's password hash.
pub fn set_password_hash_of(
    conn: &Conn,
    user_id: i64,
    hash: Option<&str>,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        &[&user_id, &hash, &now.0],
    )?;
    Ok(())
}

/// Records that the account's email is proven (the first proof counts);
/// says whether it was unproven until now. Called only through
/// `services::users::mark_verified`, which applies the address's verified
/// domain in the same transaction.
pub fn mark_email_verified(conn: &Conn, user_id: i64, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET email_verified_at = ?2, updated_at = ?2
         WHERE id = ?1 AND email_verified_at IS NULL",
        &[&user_id, &now.0],
    )?;
    Ok(changed > 0)
}

/// Deletes up to `limit` accounts whose email was never proven and that
/// were made before `cutoff`, unless they belong to an organization.
pub fn delete_unverified_before(conn: &Conn, cutoff: Millis, limit: i64) -> Result<usize> {
    conn.execute(
        "DELETE FROM users WHERE id IN (
             SELECT id FROM users
             WHERE email_verified_at IS NULL AND created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)
             ORDER BY created_at LIMIT ?2)",
        &[&cutoff.0, &limit],
    )
}

/// Replaces the account's password hash; says whether the account exists.
pub fn set_password_hash(conn: &Conn, email: &Email, hash: &str, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE email_key = ?1",
        &[&email.key(), &hash, &now.0],
    )?;
    Ok(changed > 0)
}
