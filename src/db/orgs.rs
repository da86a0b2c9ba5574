//! SQL for organizations.

use super::sql::{Conn, Result, Row};
use crate::domain::{Millis, Organization};
use uuid::Uuid;

const COLUMNS: &str = "id, uuid, name, logo_url, member_count, created_at, updated_at";

fn from_row(row: &Row<'_>) -> Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        uuid: row.parsed(1)?,
        name: row.get(2)?,
        logo_url: row.get(3)?,
        member_count: row.get(4)?,
        created_at: Millis(row.get(5)?),
        updated_at: Millis(row.get(6)?),
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
