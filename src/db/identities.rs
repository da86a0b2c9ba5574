//! SQL for identities at OpenID providers, each linked to one account.

use super::sql::{Conn, Result, Row};
use crate::domain::Millis;

/// An identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub id: i64,
    pub user_id: i64,
    pub issuer: String,
    pub subject: String,
    pub provider: Option<String>,
    pub email: Option<String>,
    pub created_at: Millis,
    pub last_used_at: Millis,
    /// When the account's holder unlinked it (the row stays, see the schema).
    pub unlinked_at: Option<Millis>,
}

const COLUMNS: &str =
    "id, user_id, issuer, subject, provider, email, created_at, last_used_at, unlinked_at";

fn from_row(row: &Row<'_>) -> Result<IdentityRow> {
    Ok(IdentityRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        issuer: row.get(2)?,
        subject: row.get(3)?,
        provider: row.get(4)?,
        email: row.get(5)?,
        created_at: Millis(row.get(6)?),
        last_used_at: Millis(row.get(7)?),
        unlinked_at: row.get::<Option<i64>>(8)?.map(Millis),
    })
}

pub struct NewIdentity<'a> {
    pub user_id: i64,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub provider: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Fails with a UNIQUE violation when the identity is linked already.
pub fn insert(conn: &Conn, identity: &NewIdentity<'_>, now: Millis) -> Result<IdentityRow> {
    conn.query_one(
        &format!(
            "INSERT INTO identities (user_id, issuer, subject, provider, email, created_at, last_used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING {COLUMNS}"
        ),
        &[
            &identity.user_id,
            &identity.issuer,
            &identity.subject,
            &identity.provider,
            &identity.email,
            &now.0,
        ],
        from_row,
    )
}

/// The identity `(issuer, subject)`, linked or unlinked, through its unique index.
pub fn find(conn: &Conn, issuer: &str, subject: &str) -> Result<Option<IdentityRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM identities WHERE issuer = ?1 AND subject = ?2"),
        &[&issuer, &subject],
        from_row,
    )
}

pub fn touch(conn: &Conn, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE identities SET last_used_at = ?2 WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// Links an unlinked identity again (to the account it was unlinked from).
pub fn relink(conn: &Conn, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE identities SET unlinked_at = NULL, last_used_at = ?2 WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// An account's linked identities, oldest first (`identities_user`).
pub fn of_user(conn: &Conn, user_id: i64) -> Result<Vec<IdentityRow>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM identities WHERE user_id = ?1 AND unlinked_at IS NULL ORDER BY id"
        ),
        &[&user_id],
        from_row,
    )
}

/// The identities of several accounts at once (a page of members), in one
/// query: `(user_id, identity)` pairs, by account then age.
pub fn of_users(conn: &Conn, user_ids: &[i64]) -> Result<Vec<IdentityRow>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers from our own rows: inlined, since neither backend
    // binds a list portably. A page holds at most a few hundred.
    let list = user_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM identities WHERE user_id IN ({list}) ORDER BY user_id, id"),
        &[],
        from_row,
    )
}

/// Unlinks one linked identity of the account (the row stays, marked);
/// answers it, or None when the account has no such linked identity.
pub fn mark_unlinked(
    conn: &Conn,
    user_id: i64,
    id: i64,
    now: Millis,
) -> Result<Option<IdentityRow>> {
    conn.query_opt(
        &format!(
            "UPDATE identities SET unlinked_at = ?3
             WHERE id = ?1 AND user_id = ?2 AND unlinked_at IS NULL RETURNING {COLUMNS}"
        ),
        &[&id, &user_id, &now.0],
        from_row,
    )
}

/// Every identity of the account, linked or not, deleted: an account that
/// changes hands keeps none of its earlier holder's. Answers those that
/// were linked.
pub fn delete_all_of_user(conn: &Conn, user_id: i64) -> Result<Vec<IdentityRow>> {
    let rows = conn.query_all(
        &format!("DELETE FROM identities WHERE user_id = ?1 RETURNING {COLUMNS}"),
        &[&user_id],
        from_row,
    )?;
    Ok(rows
        .into_iter()
        .filter(|row| row.unlinked_at.is_none())
        .collect())
}
