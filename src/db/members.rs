//! Memberships: which person belongs to which organization, with which role.

use super::{OptionalExtension, parsed};
use crate::domain::{Email, Member, Millis, Page, Role};
use rusqlite::{Connection, params};

pub fn insert(
    conn: &Connection,
    org_id: i64,
    user_id: i64,
    role: Role,
    now: Millis,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![org_id, user_id, role.as_str(), now.0])?;
    Ok(())
}

pub fn role(conn: &Connection, org_id: i64, user_id: i64) -> rusqlite::Result<Option<Role>> {
    conn.prepare_cached("SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2")?
        .query_row([org_id, user_id], |row| parsed(row, 0))
        .optional()
}

pub fn is_member_by_email(conn: &Connection, org_id: i64, email: &Email) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM users u JOIN memberships m ON m.user_id = u.id
                        WHERE u.email_key = ?1 AND m.org_id = ?2)",
    )?
    .query_row(params![email.key(), org_id], |row| row.get(0))
}

/// One page of members ordered by user id. The page is cut from the
/// membership primary key first, so skipped rows never touch `users`.
pub fn list(conn: &Connection, org_id: i64, page: Page) -> rusqlite::Result<Vec<Member>> {
    conn.prepare_cached(
        "SELECT u.id, u.email, u.first_name, u.last_name, m.role, m.created_at, m.updated_at
         FROM (SELECT user_id, role, created_at, updated_at FROM memberships
               WHERE org_id = ?1 ORDER BY user_id LIMIT ?2 OFFSET ?3) AS m
         JOIN users u ON u.id = m.user_id
         ORDER BY m.user_id",
    )?
    .query_map(params![org_id, page.limit, page.offset], |row| {
        Ok(Member {
            user_id: row.get(0)?,
            email: row.get(1)?,
            first_name: row.get(2)?,
            last_name: row.get(3)?,
            role: parsed(row, 4)?,
            created_at: Millis(row.get(5)?),
            updated_at: Millis(row.get(6)?),
        })
    })?
    .collect()
}

/// How many admins the organization has, counting no further than `cap`.
pub fn admin_count_capped(conn: &Connection, org_id: i64, cap: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT 1 FROM memberships
                               WHERE org_id = ?1 AND role = 'ADMIN' LIMIT ?2)",
    )?
    .query_row([org_id, cap], |row| row.get(0))
}

pub fn delete(conn: &Connection, org_id: i64, user_id: i64) -> rusqlite::Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2")?
        .execute([org_id, user_id])?;
    Ok(deleted > 0)
}
