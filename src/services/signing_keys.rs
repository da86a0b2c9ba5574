//! The access-token signing keys: one signs, the ones retired recently are
//! still published (their tokens may be live), older ones are dropped.
//! Keys are generated on first start and kept in the database, unless
//! `auth.signing_key_file` names the key; `enlist keys rotate` adds a new one.

use super::{ServiceError, ServiceResult};
use crate::auth::jwt::{LEEWAY_SECS, PublishedKey, SigningKeys};
use crate::auth::keys::{Ed25519Key, PublicJwk};
use crate::db::Conn;
use crate::db::{self, StorageError};
use crate::domain::Millis;
use std::time::Duration;

/// Beyond the access-token lifetime, how long a retired key stays
/// published: the clock leeway, and a server that noticed the rotation a
/// moment late (it checks at its next token request).
const RETENTION_MARGIN: Duration = Duration::from_secs(60 + LEEWAY_SECS);

/// How long a retired key is kept: until every token it signed has expired.
pub fn retention(access_token_lifetime: Duration) -> Duration {
    access_token_lifetime + RETENTION_MARGIN
}

/// At start: the key that signs (the file's when one is given, otherwise the
/// stored one, generated on first start) and the keys still published.
pub fn prepare(
    tx: &Conn,
    file_key: Option<&Ed25519Key>,
    retention: Duration,
    now: Millis,
) -> ServiceResult<SigningKeys> {
    // Nodes starting together decide on the signing key one at a time: one
    // generates it, the others find it.
    tx.lock_key("signing_keys")?;
    drop_expired(tx, retention, now)?;
    let rows = db::signing_keys::all(tx)?;
    let signing_kid = match file_key {
        Some(key) => {
            if rows.iter().any(|row| row.kid == key.kid()) {
                db::signing_keys::unretire(tx, key.kid())?;
            } else {
                // Only the public half is stored: the private key stays in its file.
                db::signing_keys::insert(tx, key.kid(), None, &key.public_key(), now)?;
            }
            key.kid().to_owned()
        }
        None => match rows
            .iter()
            .find(|row| row.retired_at.is_none() && row.private_key.is_some())
        {
            Some(row) => row.kid.clone(),
            None => insert_generated(tx, now)?,
        },
    };
    db::signing_keys::retire_others(tx, &signing_kid, now)?;
    let mut keys = load(tx, retention, now)?;
    if let Some(key) = file_key {
        keys.active = Some(key.clone());
    }
    Ok(keys)
}

fn insert_generated(tx: &Conn, now: Millis) -> ServiceResult<String> {
    let key = Ed25519Key::generate();
    let der = key
        .to_pkcs8_der()
        .map_err(|e| ServiceError::invalid("signing_key", e.to_string()))?;
    db::signing_keys::insert(tx, key.kid(), Some(&der), &key.public_key(), now)?;
    Ok(key.kid().to_owned())
}

fn drop_expired(tx: &Conn, retention: Duration, now: Millis) -> crate::db::sql::Result<usize> {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    db::signing_keys::delete_retired_before(tx, Millis(now.0.saturating_sub(retention_ms)))
}

/// What `enlist keys rotate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rotated {
    /// The key that signs from now on.
    pub kid: String,
    /// Every published key, the new one first.
    pub published: Vec<String>,
    /// Keys dropped because every token they signed has expired.
    pub dropped: usize,
}

/// Adds a new signing key and retires the current one, which stays
/// published until its tokens have expired. A running server signs with the
/// new key from its next token request on.
pub fn rotate(tx: &Conn, retention: Duration, now: Millis) -> ServiceResult<Rotated> {
    let dropped = drop_expired(tx, retention, now)?;
    let kid = insert_generated(tx, now)?;
    db::signing_keys::retire_others(tx, &kid, now)?;
    let published = load(tx, retention, now)?
        .published
        .into_iter()
        .map(|key| key.kid)
        .collect();
    Ok(Rotated {
        kid,
        published,
        dropped,
    })
}

/// The stored keys: the newest signing key that has its private half here
/// (none when it lives in a file), and every key still published.
pub fn load(conn: &Conn, retention: Duration, now: Millis) -> ServiceResult<SigningKeys> {
    let rows = db::signing_keys::all(conn)?;
    let active = match rows
        .iter()
        .find(|row| row.retired_at.is_none() && row.private_key.is_some())
        .and_then(|row| row.private_key.as_deref())
    {
        Some(der) => Some(Ed25519Key::from_pkcs8_der(der).map_err(|e| {
            ServiceError::invalid("signing_key", format!("the stored signing key: {e}"))
        })?),
        None => None,
    };
    let published = rows
        .into_iter()
        .filter(|row| row.retired_at.is_none_or(|at| at.plus(retention) > now))
        .map(|row| PublishedKey {
            kid: row.kid,
            public_key: row.public_key,
        })
        .collect();
    Ok(SigningKeys {
        active,
        published,
        version: db::signing_keys::version(conn)?,
    })
}

/// The keys, when they changed since `version` (a rotation from the command line).
pub fn changed_since(
    conn: &Conn,
    version: i64,
    retention: Duration,
    now: Millis,
) -> ServiceResult<Option<SigningKeys>> {
    if db::signing_keys::version(conn)? == version {
        return Ok(None);
    }
    load(conn, retention, now).map(Some)
}

/// The JWK Set (RFC 7517) of the published keys, the signing key first.
pub fn jwks(conn: &Conn, retention: Duration, now: Millis) -> Result<Vec<PublicJwk>, StorageError> {
    let rows = db::signing_keys::all(conn)?;
    let mut keys: Vec<_> = rows
        .iter()
        .filter(|row| row.retired_at.is_none_or(|at| at.plus(retention) > now))
        .collect();
    keys.sort_by_key(|row| (row.retired_at.is_some(), std::cmp::Reverse(row.id)));
    Ok(keys
        .into_iter()
        .map(|row| PublicJwk::new(&row.kid, &row.public_key))
        .collect())
}
