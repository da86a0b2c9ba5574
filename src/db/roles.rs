//! An organization's own roles (`org_roles`), and the reads that need what
//! a member's role grants. The built-ins are not rows (see
//! `domain::role`); every statement here is confined to one organization.

use super::sql::{Conn, Result, Row};
use crate::domain::role::{Permissions, RoleDefinition, RoleKey};
use crate::domain::{Millis, Page, Role};

fn definition_from_row(row: &Row<'_>) -> Result<RoleDefinition> {
    let stored: String = row.get(3)?;
    Ok(RoleDefinition {
        role: row.parsed(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        permissions: Permissions::from_stored(&stored),
        created_at: Some(Millis(row.get(4)?)),
        updated_at: Some(Millis(row.get(5)?)),
    })
}

const COLUMNS: &str = "key, name, description, permissions, created_at, updated_at";

pub fn insert(conn: &Conn, org_id: i64, role: &RoleDefinition, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO org_roles (org_id, key, name, description, permissions, created_at,
                                updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        &[
            &org_id,
            &role.role.as_str(),
            &role.name,
            &role.description,
            &role.permissions.to_stored(),
            &now.0,
        ],
    )?;
    Ok(())
}

/// One custom role. In a write the row stays locked until commit, so a
/// role being deleted and a role being handed out are decided in turn.
pub fn get(conn: &Conn, org_id: i64, key: &RoleKey) -> Result<Option<RoleDefinition>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM org_roles WHERE org_id = ?1 AND key = ?2{}",
            conn.lock_for_write(None)
        ),
        &[&org_id, &key.as_str()],
        definition_from_row,
    )
}

/// One page of the organization's custom roles by key (the primary key's order).
pub fn list(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<RoleDefinition>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM org_roles WHERE org_id = ?1 ORDER BY key LIMIT ?2 OFFSET ?3"
        ),
        &[&org_id, &page.limit, &page.offset],
        definition_from_row,
    )
}

/// How many custom roles the organization has: a range of the primary
/// key no longer than `roles.max_per_organization`.
pub fn count(conn: &Conn, org_id: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM org_roles WHERE org_id = ?1",
        &[&org_id],
        |row| row.get(0),
    )
}

pub fn update(conn: &Conn, org_id: i64, role: &RoleDefinition, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE org_roles SET name = ?3, description = ?4, permissions = ?5, updated_at = ?6
         WHERE org_id = ?1 AND key = ?2",
        &[
            &org_id,
            &role.role.as_str(),
            &role.name,
            &role.description,
            &role.permissions.to_stored(),
            &now.0,
        ],
    )?;
    Ok(changed > 0)
}

pub fn delete(conn: &Conn, org_id: i64, key: &RoleKey) -> Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM org_roles WHERE org_id = ?1 AND key = ?2",
        &[&org_id, &key.as_str()],
    )?;
    Ok(deleted > 0)
}

/// Who still holds a role: members, pending invitations not yet expired,
/// usable join links, each counted through its `(org_id, role, …)` index,
/// and the organization's domains (a short range of `org_domains_org`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleUse {
    pub members: i64,
    pub pending_invitations: i64,
    pub join_links: i64,
    pub domains: i64,
}

impl RoleUse {
    pub fn is_in_use(&self) -> bool {
        self.members + self.pending_invitations + self.join_links + self.domains > 0
    }
}

pub fn usage(conn: &Conn, org_id: i64, key: &RoleKey, now: Millis) -> Result<RoleUse> {
    conn.query_one(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE org_id = ?1 AND role = ?2),
                (SELECT COUNT(*) FROM invitations
                  WHERE org_id = ?1 AND role = ?2 AND status = 'PENDING' AND expires_at > ?3),
                (SELECT COUNT(*) FROM join_links
                  WHERE org_id = ?1 AND role = ?2 AND revoked_at IS NULL AND expires_at > ?3),
                (SELECT COUNT(*) FROM org_domains WHERE org_id = ?1 AND role = ?2)",
        &[&org_id, &key.as_str(), &now.0],
        |row| {
            Ok(RoleUse {
                members: row.get(0)?,
                pending_invitations: row.get(1)?,
                join_links: row.get(2)?,
                domains: row.get(3)?,
            })
        },
    )
}

/// A member's role and what it grants, in one read by the two primary keys.
/// `None`: not a member. A custom role whose row is gone grants nothing.
pub fn of_member(conn: &Conn, org_id: i64, user_id: i64) -> Result<Option<(Role, Permissions)>> {
    conn.query_opt(
        "SELECT m.role, r.permissions FROM memberships m
         LEFT JOIN org_roles r ON r.org_id = m.org_id AND r.key = m.role
         WHERE m.org_id = ?1 AND m.user_id = ?2",
        &[&org_id, &user_id],
        |row| {
            let role: Role = row.parsed(0)?;
            let stored: Option<String> = row.get(1)?;
            Ok((role.clone(), granted(&role, stored.as_deref())))
        },
    )
}

/// The organization's id and a member's role and what it grants, by the
/// organization's UUID: the console's admission, in one read (the
/// organization by its unique UUID, then the membership and the role row
/// by their primary keys). `None`: no such organization, or not a member.
pub fn of_member_by_org_uuid(
    conn: &Conn,
    org_uuid: uuid::Uuid,
    user_id: i64,
) -> Result<Option<(i64, Role, Permissions)>> {
    conn.query_opt(
        "SELECT o.id, m.role, r.permissions FROM organizations o
         JOIN memberships m ON m.org_id = o.id AND m.user_id = ?2
         LEFT JOIN org_roles r ON r.org_id = m.org_id AND r.key = m.role
         WHERE o.uuid = ?1",
        &[&org_uuid.to_string(), &user_id],
        |row| {
            let role: Role = row.parsed(1)?;
            let stored: Option<String> = row.get(2)?;
            let permissions = granted(&role, stored.as_deref());
            Ok((row.get(0)?, role, permissions))
        },
    )
}

/// The person's memberships for the `organizations` claim: oldest first,
/// at most `limit`, each with its organization and what its role grants
/// (the memberships by `memberships_user`, then the organization and the
/// role row by their primary keys).
pub fn claims_of(
    conn: &Conn,
    user_id: i64,
    limit: i64,
) -> Result<Vec<crate::domain::oidc::OrganizationClaim>> {
    conn.query_all(
        "SELECT o.id, o.uuid, o.name, m.role, r.permissions
         FROM memberships m JOIN organizations o ON o.id = m.org_id
         LEFT JOIN org_roles r ON r.org_id = m.org_id AND r.key = m.role
         WHERE m.user_id = ?1
         ORDER BY m.created_at, m.org_id
         LIMIT ?2",
        &[&user_id, &limit],
        |row| {
            let role: Role = row.parsed(3)?;
            let stored: Option<String> = row.get(4)?;
            Ok(crate::domain::oidc::OrganizationClaim {
                id: row.get(0)?,
                uuid: row.parsed::<uuid::Uuid>(1)?.to_string(),
                name: row.get(2)?,
                permissions: granted(&role, stored.as_deref())
                    .names()
                    .map(str::to_owned)
                    .collect(),
                role: role.as_str().to_owned(),
            })
        },
    )
}

/// What `role` grants in the organization (a custom key it does not have
/// grants nothing).
pub fn of_role(conn: &Conn, org_id: i64, role: &Role) -> Result<Permissions> {
    match role {
        Role::Custom(key) => Ok(get(conn, org_id, key)?
            .map(|found| found.permissions)
            .unwrap_or_default()),
        built_in => Ok(Permissions::of_built_in(built_in)),
    }
}

/// What a role grants, given its stored permissions (custom roles) or none.
pub(crate) fn granted(role: &Role, stored: Option<&str>) -> Permissions {
    match role {
        Role::Custom(_) => Permissions::from_stored(stored.unwrap_or("")),
        built_in => Permissions::of_built_in(built_in),
    }
}

/// How many members may manage members (ADMIN, or a custom role holding
/// `members:manage`), not counting holders of `except` (a role about to lose
/// the permission), counting no further than `cap`. Each candidate role is
/// one range of `memberships_org_role`. In a PostgreSQL write the members
/// counted stay locked until commit.
pub fn manager_count_capped(
    conn: &Conn,
    org_id: i64,
    except: Option<&RoleKey>,
    cap: i64,
) -> Result<i64> {
    conn.query_one(
        &format!(
            "SELECT COUNT(*) FROM (
                SELECT 1 FROM memberships
                 WHERE org_id = ?1
                   AND role IN (SELECT 'ADMIN' UNION ALL
                                SELECT key FROM org_roles
                                 WHERE org_id = ?1 AND key <> ?3
                                   AND (' ' || permissions || ' ') LIKE '% members:manage %')
                 LIMIT ?2{}) AS managers",
            conn.lock_for_write(None)
        ),
        &[&org_id, &cap, &except.map_or("", RoleKey::as_str)],
        |row| row.get(0),
    )
}
