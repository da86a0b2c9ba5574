//! SQL for organizations.

use super::sql::{Conn, Result, Row, bad_column};
use crate::domain::{Millis, Organization, Page};
use uuid::Uuid;

const COLUMNS: &str = "id, uuid, name, logo_url, member_count, created_at, updated_at, metadata";

fn from_row(row: &Row<'_>) -> Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        uuid: row.parsed(1)?,
        name: row.get(2)?,
        logo_url: row.get(3)?,
        member_count: row.get(4)?,
        created_at: Millis(row.get(5)?),
        updated_at: Millis(row.get(6)?),
        metadata: match row.get::<Option<String>>(7)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad_column(7, e))?),
            None => None,
        },
    })
}

pub fn insert(
    conn: &Conn,
    uuid: Uuid,
    name: &str,
    logo_url: Option<&str>,
    now: Millis,
) -> Result<Organization> {
    conn.query_one(
        &format!(
            "INSERT INTO organizations (uuid, name, logo_url, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {COLUMNS}"
        ),
        &[&uuid.to_string(), &name, &logo_url, &now.0],
        from_row,
    )
}

pub fn get(conn: &Conn, id: i64) -> Result<Option<Organization>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM organizations WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// Every organization, by id: for `enlist org list`.
pub fn list(conn: &Conn) -> Result<Vec<Organization>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM organizations ORDER BY id"),
        &[],
        from_row,
    )
}

/// Ids of the organizations with exactly this name.
pub fn ids_named(conn: &Conn, name: &str) -> Result<Vec<i64>> {
    conn.query_all(
        "SELECT id FROM organizations WHERE name = ?1 ORDER BY id",
        &[&name],
        |row| row.get(0),
    )
}

/// Whether any organization exists (an empty database gets a hint at start).
pub fn any(conn: &Conn) -> Result<bool> {
    conn.query_one("SELECT EXISTS (SELECT 1 FROM organizations)", &[], |row| {
        row.get(0)
    })
}

/// The organization, its row locked until commit inside a PostgreSQL write
/// (`FOR UPDATE`): what refers to it waits, so a deletion's export and its
/// deletes see the same rows, and two changes of it take turns.
pub fn get_locked(conn: &Conn, id: i64) -> Result<Option<Organization>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM organizations WHERE id = ?1{}",
            conn.lock_for_write(None)
        ),
        &[&id],
        from_row,
    )
}

pub fn get_by_uuid(conn: &Conn, uuid: Uuid) -> Result<Option<Organization>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM organizations WHERE uuid = ?1"),
        &[&uuid.to_string()],
        from_row,
    )
}

/// The fields a `PATCH` sets, all of them (the service merged the change
/// with what was there). `metadata` is the stored JSON text.
pub struct OrgFields<'a> {
    pub name: &'a str,
    pub logo_url: Option<&'a str>,
    pub metadata: Option<&'a str>,
}

pub fn update(
    conn: &Conn,
    id: i64,
    fields: &OrgFields<'_>,
    now: Millis,
) -> Result<Option<Organization>> {
    conn.query_opt(
        &format!(
            "UPDATE organizations SET name = ?2, logo_url = ?3, metadata = ?4, updated_at = ?5
             WHERE id = ?1 RETURNING {COLUMNS}"
        ),
        &[
            &id,
            &fields.name,
            &fields.logo_url,
            &fields.metadata,
            &now.0,
        ],
        from_row,
    )
}

/// One page of every organization, by id (the operators' page).
pub fn page(conn: &Conn, page: Page) -> Result<Vec<Organization>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM organizations ORDER BY id LIMIT ?1 OFFSET ?2"),
        &[&page.limit, &page.offset],
        from_row,
    )
}

pub fn count(conn: &Conn) -> Result<i64> {
    conn.query_one("SELECT COUNT(*) FROM organizations", &[], |row| row.get(0))
}

/// How many organizations the account is the built-in ADMIN of (through
/// `memberships_user`: one person's memberships).
pub fn count_administered_by(conn: &Conn, user_id: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM memberships WHERE user_id = ?1 AND role = 'ADMIN'",
        &[&user_id],
        |row| row.get(0),
    )
}

/// Deletes the organization and everything of it; says whether it existed.
/// What can be used from outside goes first and by name (API keys, webhook
/// endpoints with their queued deliveries, join links, invitations with
/// their links and queued messages), so no trigger of a later cascade finds
/// them half gone; the rows that only count or record (`invitation_counts`,
/// the outbox's sent messages, which carry the id without a foreign key)
/// go too, so an organization that later gets the same id inherits nothing;
/// the organization's own row last, its foreign keys taking memberships,
/// roles, teams and events with it.
pub fn delete(conn: &Conn, id: i64) -> Result<bool> {
    for table in [
        "api_keys",
        "webhook_endpoints",
        "join_links",
        "invitations",
        "invitation_counts",
        "outbox",
    ] {
        conn.execute(&format!("DELETE FROM {table} WHERE org_id = ?1"), &[&id])?;
    }
    Ok(conn.execute("DELETE FROM organizations WHERE id = ?1", &[&id])? > 0)
}
