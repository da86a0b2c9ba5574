//! Teams, who belongs to them, and the teams invitations and join links
//! put people in. Every statement is confined to one organization; a team
//! id of another organization matches nothing.

use super::sql::{Conn, Param, Result, Row};
use crate::domain::team::Team;
use crate::domain::{Millis, Page};

const COLUMNS: &str = "id, org_id, name, description, member_count, created_at, updated_at";

fn team_from_row(row: &Row<'_>) -> Result<Team> {
    Ok(Team {
        id: row.get(0)?,
        org_id: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        member_count: row.get(4)?,
        created_at: Millis(row.get(5)?),
        updated_at: Millis(row.get(6)?),
    })
}

/// A team's fields as a write sets them.
pub struct TeamFields<'a> {
    pub name: &'a str,
    pub name_key: &'a str,
    pub description: Option<&'a str>,
}

pub fn insert(conn: &Conn, org_id: i64, fields: &TeamFields<'_>, now: Millis) -> Result<Team> {
    conn.query_one(
        &format!(
            "INSERT INTO teams (org_id, name, name_key, description, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING {COLUMNS}"
        ),
        &[
            &org_id,
            &fields.name,
            &fields.name_key,
            &fields.description,
            &now.0,
        ],
        team_from_row,
    )
}

/// One team of the organization. In a write the row stays locked until
/// commit, so a change and a deletion of the same team take turns.
pub fn get(conn: &Conn, org_id: i64, id: i64) -> Result<Option<Team>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM teams WHERE org_id = ?1 AND id = ?2{}",
            conn.lock_row_for_write()
        ),
        &[&org_id, &id],
        team_from_row,
    )
}

/// The id of the organization's team holding `name_key`, if any.
pub fn id_by_name_key(conn: &Conn, org_id: i64, name_key: &str) -> Result<Option<i64>> {
    conn.query_opt(
        "SELECT id FROM teams WHERE org_id = ?1 AND name_key = ?2",
        &[&org_id, &name_key],
        |row| row.get(0),
    )
}

/// One page of the organization's teams, oldest first (through `teams_org`).
pub fn list(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<Team>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM teams WHERE org_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"),
        &[&org_id, &page.limit, &page.offset],
        team_from_row,
    )
}

/// Whether the organization has any team (one probe of `teams_org`).
pub fn any(conn: &Conn, org_id: i64) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE org_id = ?1)",
        &[&org_id],
        |row| row.get(0),
    )
}

/// How many teams the organization has: a range of `teams_org` no longer
/// than `teams.max_per_organization`.
pub fn count(conn: &Conn, org_id: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM teams WHERE org_id = ?1",
        &[&org_id],
        |row| row.get(0),
    )
}

pub fn update(
    conn: &Conn,
    org_id: i64,
    id: i64,
    fields: &TeamFields<'_>,
    now: Millis,
) -> Result<Option<Team>> {
    conn.query_opt(
        &format!(
            "UPDATE teams SET name = ?3, name_key = ?4, description = ?5, updated_at = ?6
             WHERE org_id = ?1 AND id = ?2 RETURNING {COLUMNS}"
        ),
        &[
            &org_id,
            &id,
            &fields.name,
            &fields.name_key,
            &fields.description,
            &now.0,
        ],
        team_from_row,
    )
}

/// Deletes the team; its memberships and the invitations' and join links'
/// references to it go with it (foreign keys).
pub fn delete(conn: &Conn, org_id: i64, id: i64) -> Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM teams WHERE org_id = ?1 AND id = ?2",
        &[&org_id, &id],
    )?;
    Ok(deleted > 0)
}

/// Puts a member of the organization in one of its teams; says whether
/// they were not in it yet. The caller has checked the team is the
/// organization's; the foreign key to `memberships` refuses a non-member.
pub fn add_member(
    conn: &Conn,
    org_id: i64,
    team_id: i64,
    user_id: i64,
    now: Millis,
) -> Result<bool> {
    let added = conn.execute(
        "INSERT INTO team_members (team_id, user_id, org_id, created_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (team_id, user_id) DO NOTHING",
        &[&team_id, &user_id, &org_id, &now.0],
    )?;
    Ok(added == 1)
}

/// Takes a member out of a team; says whether they were in it.
pub fn remove_member(conn: &Conn, org_id: i64, team_id: i64, user_id: i64) -> Result<bool> {
    let removed = conn.execute(
        "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2 AND org_id = ?3",
        &[&team_id, &user_id, &org_id],
    )?;
    Ok(removed > 0)
}

/// The teams a member of the organization belongs to, by id (through
/// `team_members_org_user`, then each team by its primary key).
pub fn of_member(conn: &Conn, org_id: i64, user_id: i64) -> Result<Vec<Team>> {
    conn.query_all(
        "SELECT t.id, t.org_id, t.name, t.description, t.member_count, t.created_at,
                t.updated_at
         FROM team_members tm JOIN teams t ON t.id = tm.team_id
         WHERE tm.org_id = ?1 AND tm.user_id = ?2
         ORDER BY t.id",
        &[&org_id, &user_id],
        team_from_row,
    )
}

/// Of `ids`, those that are teams of the organization, in ascending order
/// (one read by the primary key; at most `TEAM_IDS_MAX` ids).
pub fn existing(conn: &Conn, org_id: i64, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("?{}", i + 2)).collect();
    let mut params: Vec<&dyn Param> = Vec::with_capacity(ids.len() + 1);
    params.push(&org_id);
    params.extend(ids.iter().map(|id| id as &dyn Param));
    conn.query_all(
        &format!(
            "SELECT id FROM teams WHERE org_id = ?1 AND id IN ({}) ORDER BY id{}",
            placeholders.join(", "),
            // A team named by what is being created cannot be deleted under it.
            conn.lock_row_for_write()
        ),
        &params,
        |row| row.get(0),
    )
}

/// Which link table holds the teams of what.
#[derive(Debug, Clone, Copy)]
pub enum Holder {
    Invitation(i64),
    JoinLink(i64),
    Domain(i64),
}

impl Holder {
    fn table(self) -> (&'static str, &'static str, i64) {
        match self {
            Holder::Invitation(id) => ("invitation_teams", "invitation_id", id),
            Holder::JoinLink(id) => ("join_link_teams", "join_link_id", id),
            Holder::Domain(id) => ("domain_teams", "domain_id", id),
        }
    }
}

/// The teams each of `holder_ids` (invitations or join links, as `kind`
/// says) puts people in, as `(holder id, team id)` pairs in that order: one
/// read of the link table's primary key for a whole page, however long.
pub fn ids_of_holders(
    conn: &Conn,
    kind: fn(i64) -> Holder,
    holder_ids: &[i64],
) -> Result<Vec<(i64, i64)>> {
    if holder_ids.is_empty() {
        return Ok(Vec::new());
    }
    let (table, column, _) = kind(0).table();
    let placeholders: Vec<String> = (1..=holder_ids.len()).map(|i| format!("?{i}")).collect();
    let params: Vec<&dyn Param> = holder_ids.iter().map(|id| id as &dyn Param).collect();
    conn.query_all(
        &format!(
            "SELECT {column}, team_id FROM {table} WHERE {column} IN ({}) ORDER BY {column}, team_id",
            placeholders.join(", ")
        ),
        &params,
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Records the teams an invitation or a join link puts people in.
pub fn set_for(conn: &Conn, holder: Holder, team_ids: &[i64]) -> Result<()> {
    let (table, column, id) = holder.table();
    for team_id in team_ids {
        conn.execute(
            &format!(
                "INSERT INTO {table} ({column}, team_id) VALUES (?1, ?2)
                 ON CONFLICT ({column}, team_id) DO NOTHING"
            ),
            &[&id, team_id],
        )?;
    }
    Ok(())
}

/// The teams an invitation or a join link of the organization still
/// names (a deleted team's row went with it), by id.
pub fn of_holder(conn: &Conn, org_id: i64, holder: Holder) -> Result<Vec<Team>> {
    let (table, column, id) = holder.table();
    conn.query_all(
        &format!(
            "SELECT t.id, t.org_id, t.name, t.description, t.member_count, t.created_at,
                    t.updated_at
             FROM {table} h JOIN teams t ON t.id = h.team_id
             WHERE h.{column} = ?1 AND t.org_id = ?2
             ORDER BY t.id"
        ),
        &[&id, &org_id],
        team_from_row,
    )
}

/// Who is in which of the organization's teams, as `(team id, user id)`,
/// one page at a time by team then user (the organization's export).
pub fn memberships(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<(i64, i64)>> {
    conn.query_all(
        "SELECT team_id, user_id FROM team_members WHERE org_id = ?1
         ORDER BY team_id, user_id LIMIT ?2 OFFSET ?3",
        &[&org_id, &page.limit, &page.offset],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}
