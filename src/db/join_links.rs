//! Join links: SQL only. The state is computed at read time from `now`.

use super::sql::{Conn, Result, Row, bad_column};
use crate::domain::join_link::{JoinLink, JoinLinkState};
use crate::domain::{Millis, Page, Role};

const COLUMNS: &str =
    "id, org_id, role, max_uses, uses, expires_at, allowed_email_domains, created_at, revoked_at";

fn from_row(row: &Row<'_>, now: Millis) -> Result<JoinLink> {
    let domains: Option<String> = row.get(6)?;
    let allowed_email_domains = match domains {
        Some(text) => serde_json::from_str(&text).map_err(|e| bad_column(6, e))?,
        None => Vec::new(),
    };
    let (uses, max_uses): (i64, i64) = (row.get(4)?, row.get(3)?);
    let expires_at = Millis(row.get(5)?);
    let revoked_at: Option<i64> = row.get(8)?;
    Ok(JoinLink {
        id: row.get(0)?,
        org_id: row.get(1)?,
        role: row.parsed(2)?,
        max_uses,
        uses,
        expires_at,
        allowed_email_domains,
        created_at: Millis(row.get(7)?),
        revoked_at: revoked_at.map(Millis),
        state: JoinLinkState::of(uses, max_uses, expires_at, revoked_at.is_some(), now),
        team_ids: Vec::new(),
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

pub fn insert(conn: &Conn, new: &NewJoinLink<'_>, now: Millis) -> Result<JoinLink> {
    let domains = if new.allowed_email_domains.is_empty() {
        None
    } else {
        serde_json::to_string(new.allowed_email_domains).ok()
    };
    conn.query_one(
        &format!(
            "INSERT INTO join_links (org_id, token_digest, role, max_uses, expires_at,
                                 allowed_email_domains, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {COLUMNS}"
        ),
        &[
            &new.org_id,
            &new.token_digest,
            &new.role.as_str(),
            &new.max_uses,
            &new.expires_at.0,
            &domains,
            &new.created_by,
            &now.0,
        ],
        |row| from_row(row, now),
    )
}

/// One page of the organization's links, newest first (the
/// `join_links_org_created` index yields them in order).
pub fn list(conn: &Conn, org_id: i64, page: Page, now: Millis) -> Result<Vec<JoinLink>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM join_links WHERE org_id = ?1
         ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        &[&org_id, &page.limit, &page.offset],
        |row| from_row(row, now),
    )
}

/// The organization's number of links, from the trigger-kept counter.
pub fn count(conn: &Conn, org_id: i64) -> Result<i64> {
    Ok(conn
        .query_opt(
            "SELECT n FROM join_link_counts WHERE org_id = ?1",
            &[&org_id],
            |row| row.get(0),
        )?
        .unwrap_or(0))
}

pub fn get_in_org(conn: &Conn, org_id: i64, id: i64, now: Millis) -> Result<Option<JoinLink>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM join_links WHERE id = ?1 AND org_id = ?2"),
        &[&id, &org_id],
        |row| from_row(row, now),
    )
}

pub fn find_by_digest(conn: &Conn, digest: &[u8], now: Millis) -> Result<Option<JoinLink>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM join_links WHERE token_digest = ?1"),
        &[&digest],
        |row| from_row(row, now),
    )
}

/// Marks the link revoked (once; revoking again keeps the first time).
pub fn revoke(conn: &Conn, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE join_links SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// Takes one use of the link if it is still active; says whether it did.
/// The condition is the cap itself, so concurrent joins cannot exceed it.
pub fn take_use(conn: &Conn, id: i64, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE join_links SET uses = uses + 1
             WHERE id = ?1 AND uses < max_uses AND revoked_at IS NULL AND expires_at > ?2",
        &[&id, &now.0],
    )?;
    Ok(changed == 1)
}
