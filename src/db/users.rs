use super::OptionalExtension;
use crate::domain::{Email, Millis, User};
use rusqlite::{Connection, Row, params};

const COLUMNS: &str = "id, email, first_name, last_name, avatar_url, password_hash IS NOT NULL, \
     email_verified_at, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        avatar_url: row.get(4)?,
        has_password: row.get(5)?,
        email_verified_at: row.get::<_, Option<i64>>(6)?.map(Millis),
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
pub fn insert(conn: &Connection, user: &NewUser<'_>, now: Millis) -> rusqlite::Result<User> {
    conn.prepare_cached(&format!(
        "INSERT INTO users (email, email_key, first_name, last_name, avatar_url, password_hash,
                            email_verified_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![
            user.email.as_str(),
            user.email.key(),
            user.first_name,
            user.last_name,
            user.avatar_url,
            user.password_hash,
            user.email_verified_at.map(|at| at.0),
            now.0
        ],
        from_row,
    )
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub fn find_by_email(conn: &Connection, email: &Email) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email_key = ?1"))?
        .query_row([email.key()], from_row)
        .optional()
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
pub fn credentials(conn: &Connection, email: &Email) -> rusqlite::Result<Option<Credentials>> {
    conn.prepare_cached(
        "SELECT id, email, password_hash, email_verified_at IS NOT NULL FROM users WHERE email_key = ?1",
    )?
    .query_row([email.key()], |row| {
        Ok(Credentials {
            user_id: row.get(0)?,
            email: row.get(1)?,
            password_hash: row.get(2)?,
            email_verified: row.get(3)?,
        })
    })
    .optional()
}

/// Replaces (or, with `None`, removes) the account's password hash.
pub fn set_password_hash_of(
    conn: &Connection,
    user_id: i64,
    hash: Option<&str>,
    now: Millis,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![user_id, hash, now.0])?;
    Ok(())
}

/// Records that the account's email is proven (the first proof counts).
pub fn mark_email_verified(conn: &Connection, user_id: i64, now: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET email_verified_at = ?2, updated_at = ?2
         WHERE id = ?1 AND email_verified_at IS NULL",
    )?
    .execute(params![user_id, now.0])?;
    Ok(())
}

/// Deletes up to `limit` accounts whose email was never proven and that
/// were made before `cutoff`, unless they belong to an organization.
pub fn delete_unverified_before(
    conn: &Connection,
    cutoff: Millis,
    limit: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM users WHERE id IN (
             SELECT id FROM users
             WHERE email_verified_at IS NULL AND created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)
             ORDER BY created_at LIMIT ?2)",
    )?
    .execute(params![cutoff.0, limit])
}

/// Replaces the account's password hash; says whether the account exists.
pub fn set_password_hash(
    conn: &Connection,
    email: &Email,
    hash: &str,
    now: Millis,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE email_key = ?1",
        )?
        .execute(params![email.key(), hash, now.0])?;
    Ok(changed > 0)
}
