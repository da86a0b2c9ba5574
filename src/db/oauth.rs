//! OAuth2 storage: clients, authorization codes, refresh tokens, and the
//! server's own generated secrets.

use super::sql::{Conn, Result, Row};
use crate::domain::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub id: i64,
    pub client_id: String,
    pub secret_sha256: Option<Vec<u8>>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub user_id: Option<i64>,
    pub created_at: Millis,
    pub first_party: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub resources: Vec<String>,
}

const CLIENT_COLUMNS: &str = "id, client_id, secret_sha256, name, redirect_uris, user_id, created_at, \
     first_party, post_logout_redirect_uris, resources";

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn client_from_row(row: &Row<'_>) -> Result<ClientRow> {
    let uris: String = row.get(4)?;
    Ok(ClientRow {
        id: row.get(0)?,
        client_id: row.get(1)?,
        secret_sha256: row.get(2)?,
        name: row.get(3)?,
        redirect_uris: uris.lines().map(str::to_owned).collect(),
        user_id: row.get(5)?,
        created_at: Millis(row.get(6)?),
        first_party: row.get::<i64>(7)? != 0,
        post_logout_redirect_uris: lines(&row.get::<String>(8)?),
        resources: lines(&row.get::<String>(9)?),
    })
}

pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub secret_sha256: Option<&'a [u8]>,
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub user_id: Option<i64>,
    pub first_party: bool,
    pub post_logout_redirect_uris: &'a [String],
    pub resources: &'a [String],
}

pub fn insert_client(conn: &Conn, new: &NewClient<'_>, now: Millis) -> Result<ClientRow> {
    conn.query_one(
        &format!(
        "INSERT INTO oauth_clients (client_id, secret_sha256, name, redirect_uris, user_id, created_at,
                                    first_party, post_logout_redirect_uris, resources)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {CLIENT_COLUMNS}"
    ),
        &[&new.client_id, &new.secret_sha256, &new.name, &new.redirect_uris.join("\n"), &new.user_id, &now.0,
          &i64::from(new.first_party), &new.post_logout_redirect_uris.join("\n"), &new.resources.join("\n")],
        client_from_row,
    )
}

/// The client by its row id.
pub fn get_client(conn: &Conn, id: i64) -> Result<Option<ClientRow>> {
    conn.query_opt(
        &format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = ?1"),
        &[&id],
        client_from_row,
    )
}

pub fn find_client(conn: &Conn, client_id: &str) -> Result<Option<ClientRow>> {
    conn.query_opt(
        &format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = ?1"),
        &[&client_id],
        client_from_row,
    )
}

pub struct NewCode<'a> {
    pub code_sha256: &'a [u8],
    pub client: i64,
    pub user_id: i64,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub scope: &'a str,
    pub expires_at: Millis,
    pub nonce: Option<&'a str>,
    pub auth_time: Millis,
    /// `AuthMethods::stored`.
    pub methods: &'a str,
    pub resource: Option<&'a str>,
}

pub fn insert_code(conn: &Conn, code: &NewCode<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_codes (code_sha256, client_id, user_id, redirect_uri, code_challenge, scope, expires_at,
                                  nonce, auth_time, methods, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        &[&code.code_sha256, &code.client, &code.user_id, &code.redirect_uri, &code.code_challenge, &code.scope, &code.expires_at.0,
          &code.nonce, &code.auth_time.0, &code.methods, &code.resource],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct CodeRow {
    pub client: i64,
    pub user_id: i64,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub expires_at: Millis,
    /// Set at the first exchange: a used code stays until it expires.
    pub used_at: Option<Millis>,
    /// The refresh-token family the first exchange started.
    pub family: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: Option<Millis>,
    pub methods: Option<String>,
    pub resource: Option<String>,
}

pub fn find_code(conn: &Conn, code_sha256: &[u8]) -> Result<Option<CodeRow>> {
    conn.query_opt(
        "SELECT client_id, user_id, redirect_uri, code_challenge, scope, expires_at, used_at, family,
                nonce, auth_time, methods, resource
         FROM oauth_codes WHERE code_sha256 = ?1",
        &[&code_sha256],
        |row| {
        Ok(CodeRow {
            client: row.get(0)?,
            user_id: row.get(1)?,
            redirect_uri: row.get(2)?,
            code_challenge: row.get(3)?,
            scope: row.get(4)?,
            expires_at: Millis(row.get(5)?),
            used_at: row.get::<Option<i64>>(6)?.map(Millis),
            family: row.get(7)?,
            nonce: row.get(8)?,
            auth_time: row.get::<Option<i64>>(9)?.map(Millis),
            methods: row.get(10)?,
            resource: row.get(11)?,
        })
    },
    )
}

/// Marks the code used by the exchange that starts `family`; false when it
/// was already used.
pub fn mark_code_used(conn: &Conn, code_sha256: &[u8], family: &str, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE oauth_codes SET used_at = ?2, family = ?3
             WHERE code_sha256 = ?1 AND used_at IS NULL",
        &[&code_sha256, &now.0, &family],
    )?;
    Ok(changed == 1)
}

pub fn delete_expired_codes(conn: &Conn, now: Millis) -> Result<usize> {
    conn.execute("DELETE FROM oauth_codes WHERE expires_at <= ?1", &[&now.0])
}

pub struct NewRefreshToken<'a> {
    pub token_sha256: &'a [u8],
    pub family: &'a str,
    /// When the family's first token was issued.
    pub family_started_at: Millis,
    pub client: i64,
    pub user_id: i64,
    pub scope: &'a str,
    pub expires_at: Millis,
    pub resource: Option<&'a str>,
}

pub fn insert_refresh_token(conn: &Conn, token: &NewRefreshToken<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_sha256, family, client_id, user_id, scope, created_at, expires_at, family_started_at, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[&token.token_sha256, &token.family, &token.client, &token.user_id, &token.scope, &now.0, &token.expires_at.0, &token.family_started_at.0, &token.resource],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub family: String,
    pub client: i64,
    pub user_id: i64,
    pub scope: String,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    pub family_started_at: Millis,
    pub resource: Option<String>,
}

pub fn find_refresh_token(conn: &Conn, token_sha256: &[u8]) -> Result<Option<RefreshRow>> {
    conn.query_opt(
        "SELECT family, client_id, user_id, scope, expires_at, used_at, revoked_at,
                coalesce(family_started_at, created_at), resource
         FROM refresh_tokens WHERE token_sha256 = ?1",
        &[&token_sha256],
        |row| {
            Ok(RefreshRow {
                family: row.get(0)?,
                client: row.get(1)?,
                user_id: row.get(2)?,
                scope: row.get(3)?,
                expires_at: Millis(row.get(4)?),
                used_at: row.get::<Option<i64>>(5)?.map(Millis),
                revoked_at: row.get::<Option<i64>>(6)?.map(Millis),
                family_started_at: Millis(row.get(7)?),
                resource: row.get(8)?,
            })
        },
    )
}

pub fn mark_refresh_token_used(conn: &Conn, token_sha256: &[u8], now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE refresh_tokens SET used_at = ?2 WHERE token_sha256 = ?1",
        &[&token_sha256, &now.0],
    )?;
    Ok(())
}

pub fn revoke_family(conn: &Conn, family: &str, now: Millis) -> Result<usize> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL",
        &[&family, &now.0],
    )
}

/// The named secret, generated and stored by `generate` on first use.
pub fn server_secret(
    conn: &Conn,
    name: &str,
    generate: impl FnOnce() -> Vec<u8>,
    now: Millis,
) -> Result<Vec<u8>> {
    let existing: Option<Vec<u8>> = conn.query_opt(
        "SELECT value FROM server_secrets WHERE name = ?1",
        &[&name],
        |row| row.get(0),
    )?;
    if let Some(value) = existing {
        return Ok(value);
    }
    // Several nodes starting at once on one PostgreSQL database: the first
    // insert wins, the others wait for it and then read the winner's value.
    conn.execute(
        "INSERT INTO server_secrets (name, value, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &generate(), &now.0],
    )?;
    conn.query_one(
        "SELECT value FROM server_secrets WHERE name = ?1",
        &[&name],
        |row| row.get(0),
    )
}

/// Revokes every live refresh token of the account, across clients and families.
pub fn revoke_refresh_tokens_of_user(conn: &Conn, user_id: i64, now: Millis) -> Result<usize> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        &[&user_id, &now.0],
    )
}

/// Deletes the account's authorization codes, used or not.
pub fn delete_codes_of_user(conn: &Conn, user_id: i64) -> Result<usize> {
    conn.execute("DELETE FROM oauth_codes WHERE user_id = ?1", &[&user_id])
}

/// Deletes the clients bound to the account (their codes and refresh tokens
/// go with them). The clients table holds a handful of rows per operator,
/// so this scans it rather than keeping an index for a rare recovery.
pub fn delete_clients_of_user(conn: &Conn, user_id: i64) -> Result<usize> {
    conn.execute("DELETE FROM oauth_clients WHERE user_id = ?1", &[&user_id])
}

/// The scopes the person granted the client, if they ever consented.
pub fn consent(conn: &Conn, user_id: i64, client: i64) -> Result<Option<String>> {
    conn.query_opt(
        "SELECT scope FROM oauth_consents WHERE user_id = ?1 AND client_id = ?2",
        &[&user_id, &client],
        |row| row.get(0),
    )
}

/// Records (or widens) the person's consent to the client.
pub fn save_consent(
    conn: &Conn,
    user_id: i64,
    client: i64,
    scope: &str,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        &[&user_id, &client, &scope, &now.0],
    )?;
    Ok(())
}

/// A consent as the account page lists it.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub client: i64,
    pub client_name: String,
    pub scope: String,
    pub granted_at: Millis,
}

/// The person's consents, newest first (a person consents to few clients:
/// the primary key's `user_id` prefix finds them).
pub fn consents_of_user(conn: &Conn, user_id: i64) -> Result<Vec<ConsentRow>> {
    conn.query_all(
        "SELECT c.client_id, k.name, c.scope, c.granted_at
         FROM oauth_consents c JOIN oauth_clients k ON k.id = c.client_id
         WHERE c.user_id = ?1 ORDER BY c.granted_at DESC",
        &[&user_id],
        |row| {
            Ok(ConsentRow {
                client: row.get(0)?,
                client_name: row.get(1)?,
                scope: row.get(2)?,
                granted_at: Millis(row.get(3)?),
            })
        },
    )
}

/// Withdraws a consent; true when there was one.
pub fn delete_consent(conn: &Conn, user_id: i64, client: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM oauth_consents WHERE user_id = ?1 AND client_id = ?2",
        &[&user_id, &client],
    )? == 1)
}

/// Revokes the person's refresh tokens for one client.
pub fn revoke_refresh_tokens_of_client(
    conn: &Conn,
    user_id: i64,
    client: i64,
    now: Millis,
) -> Result<usize> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?3 WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL",
        &[&user_id, &client, &now.0],
    )
}
