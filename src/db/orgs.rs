use super::{OptionalExtension, parsed};
use crate::domain::{Millis, Organization};
use rusqlite::{Connection, Row, params};
use uuid::Uuid;

const COLUMNS: &str = "id, uuid, name, logo_url, member_count, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        uuid: parsed(row, 1)?,
        name: row.get(2)?,
        logo_url: row.get(3)?,
        member_count: row.get(4)?,
        created_at: Millis(row.get(5)?),
        updated_at: Millis(row.get(6)?),
    })
}

pub fn insert(
    conn: &Connection,
    uuid: Uuid,
    name: &str,
    logo_url: Option<&str>,
    now: Millis,
) -> rusqlite::Result<Organization> {
    conn.prepare_cached(&format!(
        "INSERT INTO organizations (uuid, name, logo_url, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {COLUMNS}"
    ))?
    .query_row(params![uuid.to_string(), name, logo_url, now.0], from_row)
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Organization>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()
}

/// Every organization, by id: for `enlist org list`.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Organization>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM organizations ORDER BY id"))?
        .query_map([], from_row)?
        .collect()
}

/// Ids of the organizations with exactly this name.
pub fn ids_named(conn: &Connection, name: &str) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT id FROM organizations WHERE name = ?1 ORDER BY id")?
        .query_map([name], |row| row.get(0))?
        .collect()
}

/// Whether any organization exists (an empty database gets a hint at start).
pub fn any(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM organizations)")?
        .query_row([], |row| row.get(0))
}
