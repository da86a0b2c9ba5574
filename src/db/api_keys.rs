//! SQL for API keys: insert, the usable key by public id (its owner still
//! an admin), lists, and revocations with their reason.

use super::sql::{Conn, Result, Row, bad_column};
use crate::domain::{ApiKey, KeyRevocation, Millis, Scope};

const COLUMNS: &str = "id, org_id, user_id, name, scopes, created_at, revoked_at, revoked_reason";

fn from_row(row: &Row<'_>) -> Result<ApiKey> {
    let scopes: String = row.get(4)?;
    Ok(ApiKey {
        id: row.get(0)?,
        org_id: row.get(1)?,
        user_id: row.get(2)?,
        name: row.get(3)?,
        scopes: Scope::parse_list(&scopes).map_err(|e| bad_column(4, e))?,
        created_at: Millis(row.get(5)?),
        revoked_at: row.get::<Option<i64>>(6)?.map(Millis),
        revoked_reason: row
            .get::<Option<String>>(7)?
            .map(|reason| {
                reason
                    .parse::<KeyRevocation>()
                    .map_err(|e| bad_column(7, e))
            })
            .transpose()?,
    })
}

pub struct NewApiKey<'a> {
    pub public_id: &'a str,
    pub secret_sha256: &'a [u8],
    pub org_id: i64,
    pub user_id: i64,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    /// Minted by the signed-in account itself (the console), not the operator.
    pub minted_in_console: bool,
}

pub fn insert(conn: &Conn, key: &NewApiKey<'_>, now: Millis) -> Result<ApiKey> {
    conn.query_one(
        &format!(
        "INSERT INTO api_keys (public_id, secret_sha256, org_id, user_id, name, scopes, created_at,
                               minted_in_console)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {COLUMNS}"
    ),
        &[
            &key.public_id,
            &key.secret_sha256,
            &key.org_id,
            &key.user_id,
            &key.name,
            &Scope::join(key.scopes),
            &now.0,
            &i64::from(key.minted_in_console),
        ],
        from_row,
    )
}

/// A key that can still authenticate: not revoked, and its owner is still an
/// admin of the key's organization. Returns the key and its secret's digest.
pub fn find_usable(conn: &Conn, public_id: &str) -> Result<Option<(ApiKey, Vec<u8>)>> {
    conn.query_opt(
        "SELECT k.id, k.org_id, k.user_id, k.name, k.scopes, k.created_at, k.revoked_at,
                k.revoked_reason, k.secret_sha256
         FROM api_keys k
         JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id AND m.role = 'ADMIN'
         WHERE k.public_id = ?1 AND k.revoked_at IS NULL",
        &[&public_id],
        |row| Ok((from_row(row)?, row.get(8)?)),
    )
}

pub fn list(conn: &Conn, org_id: i64) -> Result<Vec<ApiKey>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE org_id = ?1 ORDER BY id"),
        &[&org_id],
        from_row,
    )
}

pub fn get(conn: &Conn, id: i64) -> Result<Option<ApiKey>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// Marks the key revoked by hand (once); says whether it was usable before.
pub fn revoke(conn: &Conn, id: i64, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE api_keys SET revoked_at = ?2, revoked_reason = ?3
             WHERE id = ?1 AND revoked_at IS NULL",
        &[&id, &now.0, &KeyRevocation::Revoked.as_str()],
    )?;
    Ok(changed > 0)
}

/// Revokes every live key one person holds in one organization; answers
/// the keys it revoked.
pub fn revoke_owned(
    conn: &Conn,
    org_id: i64,
    user_id: i64,
    reason: KeyRevocation,
    now: Millis,
) -> Result<Vec<ApiKey>> {
    conn.query_all(
        &format!(
            "UPDATE api_keys SET revoked_at = ?3, revoked_reason = ?4
             WHERE org_id = ?1 AND user_id = ?2 AND revoked_at IS NULL
             RETURNING {COLUMNS}"
        ),
        &[&org_id, &user_id, &now.0, &reason.as_str()],
        from_row,
    )
}

/// Revokes every live key the account holds, in any organization (or only
/// those it minted in the console); answers the keys it revoked.
pub fn revoke_of_user(
    conn: &Conn,
    user_id: i64,
    only_minted_in_console: bool,
    reason: KeyRevocation,
    now: Millis,
) -> Result<Vec<ApiKey>> {
    conn.query_all(
        &format!(
            "UPDATE api_keys SET revoked_at = ?2, revoked_reason = ?3
             WHERE user_id = ?1 AND revoked_at IS NULL AND (?4 = 0 OR minted_in_console = 1)
             RETURNING {COLUMNS}"
        ),
        &[
            &user_id,
            &now.0,
            &reason.as_str(),
            &i64::from(only_minted_in_console),
        ],
        from_row,
    )
}
