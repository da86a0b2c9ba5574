//! Join links: SQL only. The state is computed at read time from `now`.

use super::{OptionalExtension, parsed};
use crate::domain::join_link::{JoinLink, JoinLinkState};
use crate::domain::{Millis, Page, Role};
use rusqlite::{Connection, Row, params};

const COLUMNS: &str =
    "id, org_id, role, max_uses, uses, expires_at, allowed_email_domains, created_at, revoked_at";

fn from_row(row: &Row<'_>, now: Millis) -> rusqlite::Result<JoinLink> {
    let domains: Option<String> = row.get(6)?;
    let allowed_email_domains = match domains {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        None => Vec::new(),
    };
    let (uses, max_uses): (i64, i64) = (row.get(4)?, row.get(3)?);
    let expires_at = Millis(row.get(5)?);
    let revoked_at: Option<i64> = row.get(8)?;
    Ok(JoinLink {
        id: row.get(0)?,
        org_id: row.get(1)?,
        role: parsed(row, 2)?,
        max_uses,
        uses,
        expires_at,
        allowed_email_domains,
        created_at: Millis(row.get(7)?),
        revoked_at: revoked_at.map(Millis),
        state: JoinLinkState::of(uses, max_uses, expires_at, revoked_at.is_some(), now),
    })
}

pub struct NewJoinLink<'a> {
    pub org_id: i64,
    pub token_digest: &'a [u8],
    pub role: Role,
    pub max_uses: i64,
    pub expires_at: Millis,
    pub allowed_email_domains: &'a [String],
    pub created_by: i64,
}

pub fn insert(conn: &Connection, new: &NewJoinLink<'_>, now: Millis) -> rusqlite::Result<JoinLink> {
    let domains = if new.allowed_email_domains.is_empty() {
        None
    } else {
        serde_json::to_string(new.allowed_email_domains).ok()
    };
    conn.prepare_cached(&format!(
        "INSERT INTO join_links (org_id, token_digest, role, max_uses, expires_at,
                                 allowed_email_domains, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![
            new.org_id,
            new.token_digest,
            new.role.as_str(),
            new.max_uses,
            new.expires_at.0,
            domains,
            new.created_by,
            now.0
        ],
        |row| from_row(row, now),
    )
}

/// One page of the organization's links, newest first (the
/// `join_links_org_created` index yields them in order).
pub fn list(
    conn: &Connection,
    org_id: i64,
    page: Page,
    now: Millis,
) -> rusqlite::Result<Vec<JoinLink>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM join_links WHERE org_id = ?1
         ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
    ))?
    .query_map(params![org_id, page.limit, page.offset], |row| {
        from_row(row, now)
    })?
    .collect()
}

/// The organization's number of links, from the trigger-kept counter.
pub fn count(conn: &Connection, org_id: i64) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT n FROM join_link_counts WHERE org_id = ?1")?
        .query_row([org_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn get_in_org(
    conn: &Connection,
    org_id: i64,
    id: i64,
    now: Millis,
) -> rusqlite::Result<Option<JoinLink>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM join_links WHERE id = ?1 AND org_id = ?2"
    ))?
    .query_row([id, org_id], |row| from_row(row, now))
    .optional()
}

pub fn find_by_digest(
    conn: &Connection,
    digest: &[u8],
    now: Millis,
) -> rusqlite::Result<Option<JoinLink>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM join_links WHERE token_digest = ?1"
    ))?
    .query_row([digest], |row| from_row(row, now))
    .optional()
}

/// Marks the link revoked (once; revoking again keeps the first time).
pub fn revoke(conn: &Connection, id: i64, now: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE join_links SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![id, now.0])?;
    Ok(())
}

/// Takes one use of the link if it is still active; says whether it did.
/// The condition is the cap itself, so concurrent joins cannot exceed it.
pub fn take_use(conn: &Connection, id: i64, now: Millis) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE join_links SET uses = uses + 1
             WHERE id = ?1 AND uses < max_uses AND revoked_at IS NULL AND expires_at > ?2",
        )?
        .execute(params![id, now.0])?;
    Ok(changed == 1)
}
