//! Passkeys: each account's WebAuthn user handle, its credentials, and the
//! ceremonies under way (see migrations/0015_passkeys.sql and
//! 0016_passkey_confirmations.sql).

use super::sql::{Conn, Result};
use crate::domain::Millis;

/// The account's WebAuthn user handle, if it was ever given one.
pub fn handle_of(conn: &Conn, user_id: i64) -> Result<Option<String>> {
    conn.query_opt(
        "SELECT handle FROM passkey_handles WHERE user_id = ?1",
        &[&user_id],
        |row| row.get(0),
    )
}

pub fn insert_handle(conn: &Conn, user_id: i64, handle: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO passkey_handles (user_id, handle) VALUES (?1, ?2)",
        &[&user_id, &handle],
    )?;
    Ok(())
}

/// The account whose user handle this is.
pub fn user_of_handle(conn: &Conn, handle: &str) -> Result<Option<i64>> {
    conn.query_opt(
        "SELECT user_id FROM passkey_handles WHERE handle = ?1",
        &[&handle],
        |row| row.get(0),
    )
}

/// One stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub credential_id: Vec<u8>,
    pub user_id: i64,
    pub name: String,
    /// webauthn-rs's `Passkey`, serialised.
    pub passkey: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

const COLUMNS: &str = "credential_id, user_id, name, passkey, created_at, last_used_at";

fn read_row(row: &super::sql::Row<'_>) -> Result<PasskeyRow> {
    Ok(PasskeyRow {
        credential_id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        passkey: row.get(3)?,
        created_at: Millis(row.get(4)?),
        last_used_at: row.get::<Option<i64>>(5)?.map(Millis),
    })
}

/// The account's passkeys, oldest first (`passkeys_by_user`).
pub fn list(conn: &Conn, user_id: i64) -> Result<Vec<PasskeyRow>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, credential_id"
        ),
        &[&user_id],
        read_row,
    )
}

pub fn find(conn: &Conn, credential_id: &[u8]) -> Result<Option<PasskeyRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?1"),
        &[&credential_id],
        read_row,
    )
}

/// Whether the account has any passkey.
pub fn any(conn: &Conn, user_id: i64) -> Result<bool> {
    let found: Option<i64> = conn.query_opt(
        "SELECT 1 FROM passkeys WHERE user_id = ?1 LIMIT 1",
        &[&user_id],
        |row| row.get(0),
    )?;
    Ok(found.is_some())
}

pub struct NewPasskey<'a> {
    pub credential_id: &'a [u8],
    pub user_id: i64,
    pub name: &'a str,
    pub passkey: &'a str,
}

/// Stores a new passkey; a credential id already stored (on any account)
/// is a unique violation.
pub fn insert(conn: &Conn, new: &NewPasskey<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO passkeys (credential_id, user_id, name, passkey, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            &new.credential_id,
            &new.user_id,
            &new.name,
            &new.passkey,
            &now.0,
        ],
    )?;
    Ok(())
}

/// A passkey was used: its credential as it now is (the counter moved on).
pub fn mark_used(conn: &Conn, credential_id: &[u8], passkey: &str, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE passkeys SET passkey = ?2, last_used_at = ?3 WHERE credential_id = ?1",
        &[&credential_id, &passkey, &now.0],
    )?;
    Ok(())
}

/// Removes one of the account's passkeys; answers whether there was one.
pub fn delete(conn: &Conn, user_id: i64, credential_id: &[u8]) -> Result<bool> {
    let removed = conn.execute(
        "DELETE FROM passkeys WHERE user_id = ?1 AND credential_id = ?2",
        &[&user_id, &credential_id],
    )?;
    Ok(removed > 0)
}

/// Every passkey of the account (an operator's reset).
pub fn delete_all(conn: &Conn, user_id: i64) -> Result<usize> {
    conn.execute("DELETE FROM passkeys WHERE user_id = ?1", &[&user_id])
}

/// Of these accounts, the ones with a passkey (one query for a page of
/// members).
pub fn with_passkey_among(conn: &Conn, user_ids: &[i64]) -> Result<Vec<i64>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers from our own rows: inlined, as db::identities does.
    let list = user_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    conn.query_all(
        &format!(
            "SELECT DISTINCT user_id FROM passkeys WHERE user_id IN ({list}) ORDER BY user_id"
        ),
        &[],
        |row| row.get(0),
    )
}

/// What a ceremony is for: its answer is taken only for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// A sign-in: no account named, the authenticator says whose it is.
    SignIn,
    /// Adding a passkey to the account `user_id`.
    Register,
    /// The signed-in `user_id` confirming it is them with a passkey.
    Confirm,
}

impl CeremonyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::Register => "register",
            Self::Confirm => "confirm",
        }
    }

    fn parse(stored: &str) -> Self {
        match stored {
            "register" => Self::Register,
            "confirm" => Self::Confirm,
            _ => Self::SignIn,
        }
    }
}

pub struct NewCeremony<'a> {
    pub id_sha256: &'a [u8],
    pub purpose: CeremonyPurpose,
    pub user_id: Option<i64>,
    pub name: Option<&'a str>,
    pub state: &'a str,
    pub expires_at: Millis,
}

pub fn insert_ceremony(conn: &Conn, new: &NewCeremony<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO passkey_ceremonies
             (id_sha256, user_id, name, state, created_at, expires_at, purpose)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &new.id_sha256,
            &new.user_id,
            &new.name,
            &new.state,
            &now.0,
            &new.expires_at.0,
            &new.purpose.as_str(),
        ],
    )?;
    Ok(())
}

/// A ceremony as stored.
#[derive(Debug, Clone)]
pub struct CeremonyRow {
    pub purpose: CeremonyPurpose,
    pub user_id: Option<i64>,
    pub name: Option<String>,
    pub state: String,
    pub expires_at: Millis,
}

/// Takes a ceremony: it is deleted as it is read, so its challenge can be
/// answered once only.
pub fn take_ceremony(conn: &Conn, id_sha256: &[u8]) -> Result<Option<CeremonyRow>> {
    conn.query_opt(
        "DELETE FROM passkey_ceremonies WHERE id_sha256 = ?1
         RETURNING user_id, name, state, expires_at, purpose",
        &[&id_sha256],
        |row| {
            Ok(CeremonyRow {
                user_id: row.get(0)?,
                name: row.get(1)?,
                state: row.get(2)?,
                expires_at: Millis(row.get(3)?),
                purpose: CeremonyPurpose::parse(&row.get::<String>(4)?),
            })
        },
    )
}

pub fn delete_expired_ceremonies(conn: &Conn, now: Millis) -> Result<usize> {
    conn.execute(
        "DELETE FROM passkey_ceremonies WHERE expires_at < ?1",
        &[&now.0],
    )
}
