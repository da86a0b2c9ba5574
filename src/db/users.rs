use super::OptionalExtension;
use crate::domain::{Email, Millis, User};
use rusqlite::{Connection, Row, params};

const COLUMNS: &str = "id, email, first_name, last_name, avatar_url, password_hash IS NOT NULL, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        avatar_url: row.get(4)?,
        has_password: row.get(5)?,
        created_at: Millis(row.get(6)?),
        updated_at: Millis(row.get(7)?),
    })
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub password_hash: Option<&'a str>,
}

/// Fails with a UNIQUE violation when the email is taken (case-insensitively).
pub fn insert(conn: &Connection, user: &NewUser<'_>, now: Millis) -> rusqlite::Result<User> {
    conn.prepare_cached(&format!(
        "INSERT INTO users (email, email_key, first_name, last_name, avatar_url, password_hash,
                            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![
            user.email.as_str(),
            user.email.key(),
            user.first_name,
            user.last_name,
            user.avatar_url,
            user.password_hash,
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

/// The account id and its password hash, for sign-in.
pub fn password_hash(
    conn: &Connection,
    email: &Email,
) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    conn.prepare_cached("SELECT id, password_hash FROM users WHERE email_key = ?1")?
        .query_row([email.key()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
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
