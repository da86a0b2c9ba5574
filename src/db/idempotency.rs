//! Stored first answers for `Idempotency-Key`: SQL only.

use super::sql::{Conn, Result};
use crate::domain::Millis;

/// A stored entry: the request's fingerprint, and the answer once there is one.
pub struct Entry {
    pub fingerprint: Vec<u8>,
    /// (status, content type, body); None while the first request runs.
    pub answer: Option<(u16, Option<String>, Vec<u8>)>,
    pub created_at: Millis,
}

pub fn find(conn: &Conn, api_key_id: i64, key: &str, now: Millis) -> Result<Option<Entry>> {
    conn.query_opt(
        "SELECT fingerprint, status, content_type, body, created_at FROM idempotency_keys
         WHERE api_key_id = ?1 AND key = ?2 AND expires_at > ?3",
        &[&api_key_id, &key, &now.0],
        |row| {
            let status: Option<i64> = row.get(1)?;
            Ok(Entry {
                fingerprint: row.get(0)?,
                answer: match status {
                    Some(status) => Some((
                        u16::try_from(status).unwrap_or(500),
                        row.get(2)?,
                        row.get::<Option<Vec<u8>>>(3)?.unwrap_or_default(),
                    )),
                    None => None,
                },
                created_at: Millis(row.get(4)?),
            })
        },
    )
}

/// Starts an entry (replacing an expired or abandoned one).
pub fn start(
    conn: &Conn,
    api_key_id: i64,
    key: &str,
    fingerprint: &[u8],
    expires_at: Millis,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (api_key_id, key) DO UPDATE SET
             fingerprint = excluded.fingerprint, status = NULL, content_type = NULL,
             body = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at",
        &[&api_key_id, &key, &fingerprint, &now.0, &expires_at.0],
    )?;
    Ok(())
}

pub fn complete(
    conn: &Conn,
    api_key_id: i64,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<()> {
    conn.execute(
        "UPDATE idempotency_keys SET status = ?3, content_type = ?4, body = ?5
         WHERE api_key_id = ?1 AND key = ?2",
        &[&api_key_id, &key, &status, &content_type, &body],
    )?;
    Ok(())
}

pub fn forget(conn: &Conn, api_key_id: i64, key: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM idempotency_keys WHERE api_key_id = ?1 AND key = ?2",
        &[&api_key_id, &key],
    )?;
    Ok(())
}

/// Deletes up to `batch` expired entries (through `idempotency_keys_expiry`).
pub fn prune(conn: &Conn, now: Millis, batch: i64) -> Result<usize> {
    conn.execute(
        "DELETE FROM idempotency_keys WHERE (api_key_id, key) IN (
             SELECT api_key_id, key FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)",
        &[&now.0, &batch],
    )
}
