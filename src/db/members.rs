//! Memberships: which person belongs to which organization, with which role.

use super::sql::{Conn, Result, Row};
use crate::domain::{Email, Member, Membership, Millis, OrgId, Page, Role, UserId};
use uuid::Uuid;

pub fn insert(
    conn: &Conn,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    role: &Role,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        &[&org_id, &user_id, &role.as_str(), &now.0],
    )?;
    Ok(())
}

/// Adds the membership unless the person is a member already (then keeps
/// the role they have); says whether it added one. Two writes adding the
/// same person at once (two invitations accepted together, a link followed
/// twice) meet here: on PostgreSQL the second waits for the first and then
/// adds nothing, where a check before the insert would pass for both.
pub fn insert_new(
    conn: &Conn,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    role: &Role,
    now: Millis,
) -> Result<bool> {
    let added = conn.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (org_id, user_id) DO NOTHING",
        &[&org_id, &user_id, &role.as_str(), &now.0],
    )?;
    Ok(added == 1)
}

pub fn role(conn: &Conn, OrgId(org_id): OrgId, UserId(user_id): UserId) -> Result<Option<Role>> {
    conn.query_opt(
        "SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2",
        &[&org_id, &user_id],
        |row| row.parsed(0),
    )
}

pub fn is_member_by_email(conn: &Conn, org_id: i64, email: &Email) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM users u JOIN memberships m ON m.user_id = u.id
                        WHERE u.email_key = ?1 AND m.org_id = ?2)",
        &[&email.key(), &org_id],
        |row| row.get(0),
    )
}

fn member_from_row(row: &Row<'_>) -> Result<Member> {
    Ok(Member {
        user_id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        role: row.parsed(4)?,
        created_at: Millis(row.get(5)?),
        updated_at: Millis(row.get(6)?),
    })
}

/// One member of the organization, in the users-list shape.
pub fn get(conn: &Conn, OrgId(org_id): OrgId, UserId(user_id): UserId) -> Result<Option<Member>> {
    conn.query_opt(
        "SELECT u.id, u.email, u.first_name, u.last_name, m.role, m.created_at, m.updated_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.user_id = ?2",
        &[&org_id, &user_id],
        member_from_row,
    )
}

/// Gives a member another role; says whether they were a member.
pub fn set_role(
    conn: &Conn,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    role: &Role,
    now: Millis,
) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE memberships SET role = ?3, updated_at = ?4 WHERE org_id = ?1 AND user_id = ?2",
        &[&org_id, &user_id, &role.as_str(), &now.0],
    )?;
    Ok(changed > 0)
}

/// Every organization the person belongs to, oldest membership first
/// (through the `memberships_user` index: one person's rows only), with
/// what their role grants there (each role row by its primary key).
pub fn organizations_of(conn: &Conn, user_id: i64) -> Result<Vec<Membership>> {
    conn.query_all(
        "SELECT o.uuid, o.name, o.logo_url, m.role, m.created_at, r.permissions
         FROM memberships m JOIN organizations o ON o.id = m.org_id
         LEFT JOIN org_roles r ON r.org_id = m.org_id AND r.key = m.role
         WHERE m.user_id = ?1
         ORDER BY m.created_at, m.org_id",
        &[&user_id],
        |row| {
            let role: Role = row.parsed(3)?;
            let stored: Option<String> = row.get(5)?;
            Ok(Membership {
                organization_uuid: row.parsed(0)?,
                organization_name: row.get(1)?,
                organization_logo_url: row.get(2)?,
                permissions: super::roles::granted(&role, stored.as_deref()),
                role,
                joined_at: Millis(row.get(4)?),
            })
        },
    )
}

/// The organization's id and the person's role in it, by the organization's UUID.
/// The ids of the organizations the account belongs to (`memberships`'
/// key leads with the organization, so this reads `memberships_user`).
pub fn org_ids_of(conn: &Conn, user_id: i64) -> Result<Vec<i64>> {
    conn.query_all(
        "SELECT org_id FROM memberships WHERE user_id = ?1 ORDER BY org_id",
        &[&user_id],
        |row| row.get(0),
    )
}

pub fn find_by_org_uuid(conn: &Conn, org_uuid: Uuid, user_id: i64) -> Result<Option<(i64, Role)>> {
    conn.query_opt(
        "SELECT o.id, m.role FROM organizations o
         JOIN memberships m ON m.org_id = o.id AND m.user_id = ?2
         WHERE o.uuid = ?1",
        &[&org_uuid.to_string(), &user_id],
        |row| Ok((row.get(0)?, row.parsed(1)?)),
    )
}

/// One page of members ordered by user id. The page is cut from the
/// membership primary key first, so skipped rows never touch `users`.
/// One page of members by user id. `CROSS JOIN` keeps the page as the outer
/// loop, so rows come out in page order without the temporary b-tree an
/// outer `ORDER BY` costs; the sort only guarantees what the plan gives.
pub fn list(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<Member>> {
    let mut members = conn.query_all(
        "SELECT u.id, u.email, u.first_name, u.last_name, m.role, m.created_at, m.updated_at
         FROM (SELECT user_id, role, created_at, updated_at FROM memberships
               WHERE org_id = ?1 ORDER BY user_id LIMIT ?2 OFFSET ?3) AS m
         CROSS JOIN users u WHERE u.id = m.user_id",
        &[&org_id, &page.limit, &page.offset],
        member_from_row,
    )?;
    members.sort_by_key(|member| member.user_id);
    Ok(members)
}

/// One page of a team's members by user id: the page is cut from
/// `team_members`' primary key, then each member read by the primary keys.
pub fn list_in_team(conn: &Conn, org_id: i64, team_id: i64, page: Page) -> Result<Vec<Member>> {
    let mut members = conn.query_all(
        "SELECT u.id, u.email, u.first_name, u.last_name, m.role, m.created_at, m.updated_at
         FROM (SELECT user_id FROM team_members
               WHERE team_id = ?2 AND org_id = ?1 ORDER BY user_id LIMIT ?3 OFFSET ?4) AS t
         CROSS JOIN memberships m CROSS JOIN users u
         WHERE m.org_id = ?1 AND m.user_id = t.user_id AND u.id = t.user_id",
        &[&org_id, &team_id, &page.limit, &page.offset],
        member_from_row,
    )?;
    members.sort_by_key(|member| member.user_id);
    Ok(members)
}

/// The organization's admin with the lowest user id (through `memberships_org_role`).
pub fn first_admin(conn: &Conn, org_id: i64) -> Result<Option<i64>> {
    conn.query_opt(
        "SELECT user_id FROM memberships WHERE org_id = ?1 AND role = 'ADMIN'
         ORDER BY user_id LIMIT 1",
        &[&org_id],
        |row| row.get(0),
    )
}

/// How many admins the organization has, counting no further than `cap`.
/// In a write the admins counted stay locked until commit, so two admins
/// removing each other at once are decided one after the other.
pub fn admin_count_capped(conn: &Conn, org_id: i64, cap: i64) -> Result<i64> {
    conn.query_one(
        &format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM memberships
                                   WHERE org_id = ?1 AND role = 'ADMIN' LIMIT ?2{}) AS admins",
            conn.lock_for_write(None)
        ),
        &[&org_id, &cap],
        |row| row.get(0),
    )
}

pub fn delete(conn: &Conn, OrgId(org_id): OrgId, UserId(user_id): UserId) -> Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
        &[&org_id, &user_id],
    )?;
    Ok(deleted > 0)
}
