//! Organizations' email domains: registered, verified, rechecked, and
//! looked up by the domain of an address whose owner was just proven.
//! Admin statements are confined to one organization; the look-ups by
//! domain name read only verified rows, of which the unique partial index
//! `org_domains_verified` allows one per name.

use super::sql::{Conn, Result, Row};
use crate::domain::org_domain::{DomainMode, DomainName, OrgDomain};
use crate::domain::{Millis, Page, Role};
use uuid::Uuid;

const COLUMNS: &str = "id, org_id, domain, mode, role, challenge, verified_at, created_at";

fn from_row(row: &Row<'_>) -> Result<OrgDomain> {
    Ok(OrgDomain {
        id: row.get(0)?,
        org_id: row.get(1)?,
        domain: DomainName::stored(row.get(2)?),
        mode: row.parsed::<DomainMode>(3)?,
        role: row.parsed::<Role>(4)?,
        challenge: row.get(5)?,
        verified_at: row.get::<Option<i64>>(6)?.map(Millis),
        created_at: Millis(row.get(7)?),
        team_ids: Vec::new(),
    })
}

/// A domain as a write registers it.
pub struct NewDomain<'a> {
    pub domain: &'a DomainName,
    pub mode: DomainMode,
    pub role: &'a Role,
    pub challenge: &'a str,
}

pub fn insert(conn: &Conn, org_id: i64, new: &NewDomain<'_>, now: Millis) -> Result<OrgDomain> {
    conn.query_one(
        &format!(
            "INSERT INTO org_domains (org_id, domain, mode, role, challenge, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {COLUMNS}"
        ),
        &[
            &org_id,
            &new.domain.as_str(),
            &new.mode.as_str(),
            &new.role.as_str(),
            &new.challenge,
            &now.0,
        ],
        from_row,
    )
}

/// One domain of the organization. In a write the row stays locked until
/// commit, so a verify and a delete of the same domain take turns.
pub fn get(conn: &Conn, org_id: i64, id: i64) -> Result<Option<OrgDomain>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM org_domains WHERE org_id = ?1 AND id = ?2{}",
            conn.lock_row_for_write()
        ),
        &[&org_id, &id],
        from_row,
    )
}

/// Whether the organization registered `domain` already.
pub fn registered(conn: &Conn, org_id: i64, domain: &DomainName) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM org_domains WHERE org_id = ?1 AND domain = ?2)",
        &[&org_id, &domain.as_str()],
        |row| row.get(0),
    )
}

/// One page of the organization's domains, oldest first.
pub fn list(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<OrgDomain>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM org_domains WHERE org_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"
        ),
        &[&org_id, &page.limit, &page.offset],
        from_row,
    )
}

/// How many domains the organization has (at most `domains.max_per_organization`).
pub fn count(conn: &Conn, org_id: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM org_domains WHERE org_id = ?1",
        &[&org_id],
        |row| row.get(0),
    )
}

pub fn delete(conn: &Conn, org_id: i64, id: i64) -> Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM org_domains WHERE org_id = ?1 AND id = ?2",
        &[&org_id, &id],
    )?;
    Ok(deleted > 0)
}

/// The verified holder of `domain`, whichever organization it is.
pub fn verified(conn: &Conn, domain: &str) -> Result<Option<OrgDomain>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM org_domains WHERE domain = ?1 AND verified_at IS NOT NULL"),
        &[&domain],
        from_row,
    )
}

/// Marks the domain verified (and looked up) at `now`. A second
/// organization's verify of the same name breaks `org_domains_verified`.
pub fn mark_verified(conn: &Conn, org_id: i64, id: i64, now: Millis) -> Result<Option<OrgDomain>> {
    conn.query_opt(
        &format!(
            "UPDATE org_domains SET verified_at = ?3, checked_at = ?3
             WHERE org_id = ?1 AND id = ?2 RETURNING {COLUMNS}"
        ),
        &[&org_id, &id, &now.0],
        from_row,
    )
}

/// A recheck found the record: looked up again at `now`.
pub fn mark_checked(conn: &Conn, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE org_domains SET checked_at = ?2 WHERE id = ?1 AND verified_at IS NOT NULL",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// A recheck found the record gone: back to unverified. Answers the
/// domain as it is now, or `None` when it was not verified (any more).
pub fn unverify(conn: &Conn, id: i64, now: Millis) -> Result<Option<OrgDomain>> {
    conn.query_opt(
        &format!(
            "UPDATE org_domains SET verified_at = NULL, checked_at = ?2
             WHERE id = ?1 AND verified_at IS NOT NULL RETURNING {COLUMNS}"
        ),
        &[&id, &now.0],
        from_row,
    )
}

/// Verified domains last looked up at or before `cutoff`, longest ago
/// first (through `org_domains_recheck`).
pub fn due_for_recheck(conn: &Conn, cutoff: Millis, limit: i64) -> Result<Vec<OrgDomain>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM org_domains
             WHERE verified_at IS NOT NULL AND checked_at <= ?1
             ORDER BY checked_at, id LIMIT ?2"
        ),
        &[&cutoff.0, &limit],
        from_row,
    )
}

/// An organization a verified `suggest` domain offers to people at `domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub org_uuid: Uuid,
    pub name: String,
    pub logo_url: Option<String>,
    pub domain: String,
}

/// The organization whose verified `suggest` domain is `domain`, unless
/// `user_id` is a member of it already (at most one: one verified holder
/// per name).
pub fn suggestions(conn: &Conn, domain: &str, user_id: i64) -> Result<Vec<Suggestion>> {
    conn.query_all(
        "SELECT o.uuid, o.name, o.logo_url, d.domain
         FROM org_domains d JOIN organizations o ON o.id = d.org_id
         WHERE d.domain = ?1 AND d.verified_at IS NOT NULL AND d.mode = 'suggest'
           AND NOT EXISTS (SELECT 1 FROM memberships m
                           WHERE m.org_id = d.org_id AND m.user_id = ?2)
         ORDER BY o.id",
        &[&domain, &user_id],
        |row| {
            Ok(Suggestion {
                org_uuid: row.parsed(0)?,
                name: row.get(1)?,
                logo_url: row.get(2)?,
                domain: row.get(3)?,
            })
        },
    )
}
