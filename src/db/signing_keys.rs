//! Storage of the access-token signing keys.

use super::sql::{Conn, Result};
use crate::domain::Millis;

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub kid: String,
    /// PKCS#8 DER; `None` for a key read from `auth.signing_key_file`.
    pub private_key: Option<Vec<u8>>,
    pub public_key: Vec<u8>,
    pub created_at: Millis,
    pub retired_at: Option<Millis>,
}

/// Every key, newest first (a handful of rows).
pub fn all(conn: &Conn) -> Result<Vec<KeyRow>> {
    conn.query_all(
        "SELECT id, kid, private_key, public_key, created_at, retired_at
         FROM signing_keys ORDER BY id DESC",
        &[],
        |row| {
            Ok(KeyRow {
                id: row.get(0)?,
                kid: row.get(1)?,
                private_key: row.get(2)?,
                public_key: row.get(3)?,
                created_at: Millis(row.get(4)?),
                retired_at: row.get::<Option<i64>>(5)?.map(Millis),
            })
        },
    )
}

/// Changes whenever a key is added: the newest key's id.
pub fn version(conn: &Conn) -> Result<i64> {
    conn.query_one(
        "SELECT coalesce(max(id), 0) FROM signing_keys",
        &[],
        |row| row.get(0),
    )
}

pub fn insert(
    conn: &Conn,
    kid: &str,
    private_key: Option<&[u8]>,
    public_key: &[u8],
    now: Millis,
) -> Result<()> {
    conn.execute(
        "INSERT INTO signing_keys (kid, private_key, public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[&kid, &private_key, &public_key, &now.0],
    )?;
    Ok(())
}

/// Makes `kid` the signing key again (a key file put back in place).
pub fn unretire(conn: &Conn, kid: &str) -> Result<usize> {
    conn.execute(
        "UPDATE signing_keys SET retired_at = NULL WHERE kid = ?1",
        &[&kid],
    )
}

/// Retires every signing key but `kid`.
pub fn retire_others(conn: &Conn, kid: &str, now: Millis) -> Result<usize> {
    conn.execute(
        "UPDATE signing_keys SET retired_at = ?2 WHERE kid <> ?1 AND retired_at IS NULL",
        &[&kid, &now.0],
    )
}

/// Deletes the keys retired at or before `cutoff`: every token they signed has expired.
pub fn delete_retired_before(conn: &Conn, cutoff: Millis) -> Result<usize> {
    conn.execute(
        "DELETE FROM signing_keys WHERE retired_at <= ?1",
        &[&cutoff.0],
    )
}
