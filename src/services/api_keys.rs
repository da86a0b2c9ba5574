//! Admin API keys: minted with scopes for an admin of the organization
//! (only a digest of the secret is kept), authenticated by public id and
//! constant-time digest comparison, listed and revoked with their events.

use super::{ServiceError, ServiceResult, events};
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::domain::event::{Actor, EventType, Origin};
use crate::domain::{ApiKey, KeyRevocation, Millis, Role, Scope};
use crate::domain::{OrgId, UserId};

/// Every key reads `enl_<public id>_<secret>`: the prefix makes leaked keys
/// easy to spot (secret scanners), the public id finds the row, and only a
/// SHA-256 digest of the secret is stored.
pub const PREFIX: &str = "enl_";
const PUBLIC_ID_LEN: usize = 12;
/// 32 base62 characters: about 190 bits.
const SECRET_LEN: usize = 32;

/// The longest key name accepted.
pub const NAME_MAX: usize = 200;

/// A key as shown once, at creation.
pub struct IssuedKey {
    pub key: ApiKey,
    pub plaintext: String,
}

pub fn create(
    tx: &Conn,
    origin: &Origin,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    name: &str,
    scopes: &[Scope],
    now: Millis,
) -> ServiceResult<IssuedKey> {
    let name = name.trim();
    if name.chars().count() > NAME_MAX {
        return Err(ServiceError::invalid(
            "name",
            format!("the name may be at most {NAME_MAX} characters"),
        ));
    }
    crate::domain::name::check("name", name)?;
    if scopes.is_empty() {
        return Err(ServiceError::invalid(
            "scopes",
            "a key needs at least one scope",
        ));
    }
    db::orgs::get(tx, org_id)?.ok_or(ServiceError::NotFound("organization"))?;
    match db::members::role(tx, OrgId(org_id), UserId(user_id))? {
        Some(Role::Admin) => {}
        Some(Role::Member | Role::Custom(_)) => {
            return Err(ServiceError::invalid(
                "user",
                "API keys belong to an admin of the organization; this user is a member",
            ));
        }
        None => return Err(ServiceError::NotFound("member")),
    }
    let public_id = secrets::random_base62(PUBLIC_ID_LEN);
    let secret = secrets::random_base62(SECRET_LEN);
    let key = db::api_keys::insert(
        tx,
        &db::api_keys::NewApiKey {
            public_id: &public_id,
            secret_sha256: &secrets::sha256(&secret),
            org_id,
            user_id,
            name,
            scopes,
            // A signed-in person minting their own key (the console), as
            // opposed to the operator: a reset of their password ends it.
            minted_in_console: matches!(origin.actor, Actor::User { .. }),
        },
        now,
    )?;
    events::api_key(tx, origin, EventType::ApiKeyCreated, &key, now)?;
    Ok(IssuedKey {
        key,
        plaintext: format!("{PREFIX}{public_id}_{secret}"),
    })
}

/// The key a caller presented, if it is well formed, known, unrevoked, its
/// secret matches, and its owner is still an admin of its organization.
pub fn authenticate(conn: &Conn, presented: &str) -> ServiceResult<Option<ApiKey>> {
    let Some((public_id, secret)) = split(presented) else {
        return Ok(None);
    };
    Ok(db::api_keys::find_usable(conn, public_id)?
        .filter(|(_, digest)| secrets::matches_digest(secret, digest))
        .map(|(key, _)| key))
}

/// The public id and secret of something shaped like a key, or `None`.
fn split(presented: &str) -> Option<(&str, &str)> {
    presented
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(id, secret)| id.len() == PUBLIC_ID_LEN && secret.len() == SECRET_LEN)
}

/// Whether `presented` has the shape of a key, so junk is refused without a lookup.
pub fn well_formed(presented: &str) -> bool {
    split(presented).is_some()
}

pub fn list(conn: &Conn, org_id: i64) -> ServiceResult<Vec<ApiKey>> {
    db::orgs::get(conn, org_id)?.ok_or(ServiceError::NotFound("organization"))?;
    Ok(db::api_keys::list(conn, org_id)?)
}

/// Revokes the key; revoking an already revoked key is harmless (and
/// records no second event).
pub fn revoke(tx: &Conn, origin: &Origin, id: i64, now: Millis) -> ServiceResult<ApiKey> {
    let revoked = db::api_keys::revoke(tx, id, now)?;
    let key = db::api_keys::get(tx, id)?.ok_or(ServiceError::NotFound("API key"))?;
    if revoked {
        events::api_key(tx, origin, EventType::ApiKeyRevoked, &key, now)?;
    }
    Ok(key)
}

/// Revokes one of the organization's keys; another organization's key is
/// not found (the console names keys by id in its URLs).
pub fn revoke_in_organization(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    now: Millis,
) -> ServiceResult<ApiKey> {
    match db::api_keys::get(tx, id)? {
        Some(key) if key.org_id == org_id => revoke(tx, origin, id, now),
        _ => Err(ServiceError::NotFound("API key")),
    }
}

/// Revokes the account's keys after it changed hands or its password was
/// reset, with an `api_key.revoked` event each; answers how many.
pub fn revoke_of_user(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    only_minted_in_console: bool,
    reason: KeyRevocation,
    now: Millis,
) -> ServiceResult<usize> {
    let revoked = db::api_keys::revoke_of_user(tx, user_id, only_minted_in_console, reason, now)?;
    for key in &revoked {
        events::api_key(tx, origin, EventType::ApiKeyRevoked, key, now)?;
    }
    Ok(revoked.len())
}
