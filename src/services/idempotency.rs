//! `Idempotency-Key` on the admin API: the first answer to a POST, PATCH or
//! DELETE is stored per API key and replayed for the same request.

use super::ServiceResult;
use crate::db;
use crate::db::Conn;
use crate::domain::Millis;
use std::time::Duration;

/// A first request that never finished (its client or the server went away)
/// stops blocking its key after this long.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(300);
/// How many expired entries one prune deletes at most.
pub const PRUNE_BATCH: i64 = 1000;

/// What to do with a request carrying a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// First time: run it (an entry now marks it running).
    Fresh,
    /// Same request again: answer what the first one answered.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for another method, path or body.
    Mismatch,
}

/// Decides, and for a fresh request claims the key, in one step that holds
/// across nodes: the claim commits with this write, before the request runs.
pub fn begin(
    tx: &Conn,
    api_key_id: i64,
    key: &str,
    fingerprint: &[u8],
    ttl: Duration,
    now: Millis,
) -> ServiceResult<Begin> {
    // On PostgreSQL two nodes could both find no entry (neither claim is
    // committed yet) and both run: the second's upsert waits for the first's
    // row and then overwrites it. Holding a lock on the key until this
    // transaction commits makes the second read the first's committed claim
    // (READ COMMITTED takes a new snapshot per statement) and answer 409.
    // SQLite's single writer already runs one begin at a time.
    tx.lock_key(&format!("idempotency/{api_key_id}/{key}"))?;
    match db::idempotency::find(tx, api_key_id, key, now)? {
        Some(entry) if entry.fingerprint != fingerprint => Ok(Begin::Mismatch),
        Some(entry) => match entry.answer {
            Some((status, content_type, body)) => Ok(Begin::Replay {
                status,
                content_type,
                body,
            }),
            None if entry.created_at.plus(ABANDONED_AFTER).0 > now.0 => Ok(Begin::InProgress),
            None => {
                db::idempotency::start(tx, api_key_id, key, fingerprint, now.plus(ttl), now)?;
                Ok(Begin::Fresh)
            }
        },
        None => {
            db::idempotency::start(tx, api_key_id, key, fingerprint, now.plus(ttl), now)?;
            Ok(Begin::Fresh)
        }
    }
}

/// Stores the first answer.
pub fn complete(
    tx: &Conn,
    api_key_id: i64,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> ServiceResult<()> {
    Ok(db::idempotency::complete(
        tx,
        api_key_id,
        key,
        status,
        content_type,
        body,
    )?)
}

/// Drops the entry (an answer not worth keeping: a retry should run again).
pub fn forget(tx: &Conn, api_key_id: i64, key: &str) -> ServiceResult<()> {
    Ok(db::idempotency::forget(tx, api_key_id, key)?)
}

/// Deletes expired entries, a batch at a time.
pub fn prune(tx: &Conn, now: Millis) -> ServiceResult<usize> {
    Ok(db::idempotency::prune(tx, now, PRUNE_BATCH)?)
}
