//! Memberships: which person belongs to which organization, with which role.

use super::sql::{Conn, Param, Result, Row};
use crate::domain::search::Search;
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
pub fn list(conn: &Conn, org_id: i64, page: Page) -> Result<Vec<Member>> {
    find(conn, org_id, MemberNarrowing::default(), page)
}

/// One page of a team's members by user id.
pub fn list_in_team(conn: &Conn, org_id: i64, team_id: i64, page: Page) -> Result<Vec<Member>> {
    let narrowing = MemberNarrowing {
        team_id: Some(team_id),
        ..MemberNarrowing::default()
    };
    find(conn, org_id, narrowing, page)
}

/// What narrows the members list: one team, a search, where a keyset page
/// starts (after this user id).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberNarrowing<'a> {
    pub team_id: Option<i64>,
    pub search: Option<&'a Search>,
    pub after: Option<i64>,
}

/// The ids of the accounts a search finds, whatever their organizations.
/// Accounts are global, so the search starts from the users' key indexes
/// (the unique `email_key`, `users_name_key`, `users_last_name_key`): an
/// exact address is one probe, a prefix three index ranges; each match then
/// costs one probe of the membership's primary key. A prefix's cost is
/// bounded by the accounts it matches, never by the organization's size.
/// Parameters: `?6` an email key, `?7`/`?8` a prefix range.
fn found_ids(search: &Search) -> &'static str {
    match (search.email.is_some(), search.prefix().is_some()) {
        (true, false) => "SELECT id FROM users WHERE email_key = ?6",
        (true, true) => {
            "SELECT id FROM users WHERE email_key = ?6
               AND (email_key >= ?7 AND email_key < ?8 OR name_key >= ?7 AND name_key < ?8
                    OR last_name_key >= ?7 AND last_name_key < ?8)"
        }
        (false, _) => {
            "SELECT id FROM users WHERE email_key >= ?7 AND email_key < ?8
             UNION SELECT id FROM users WHERE name_key >= ?7 AND name_key < ?8
             UNION SELECT id FROM users WHERE last_name_key >= ?7 AND last_name_key < ?8"
        }
    }
}

/// The values the members queries read, `?1` to `?8`.
struct MemberParams {
    org_id: i64,
    limit: i64,
    offset: i64,
    team_id: i64,
    after: i64,
    email_key: String,
    low: String,
    high: String,
}

impl MemberParams {
    fn new(org_id: i64, narrowing: MemberNarrowing<'_>, page: Page) -> Self {
        let (email_key, low, high) = Search::bound(narrowing.search);
        Self {
            org_id,
            limit: page.limit,
            offset: page.offset,
            team_id: narrowing.team_id.unwrap_or(0),
            // Ids start at 1: "after 0" is the whole list.
            after: narrowing.after.unwrap_or(0),
            email_key,
            low,
            high,
        }
    }

    /// The values `sql` names (it may leave the last ones out).
    fn used(&self, sql: &str) -> Vec<&dyn Param> {
        let all: [&dyn Param; 8] = [
            &self.org_id,
            &self.limit,
            &self.offset,
            &self.team_id,
            &self.after,
            &self.email_key,
            &self.low,
            &self.high,
        ];
        all.into_iter()
            .take(super::sql::placeholders(sql))
            .collect()
    }
}

/// One page of members by user id. Without a search the page is cut from
/// the primary key of `memberships` (or of `team_members`, for a team), then
/// each member read by primary keys; `CROSS JOIN` keeps the page as the
/// outer loop, so rows come out in page order without the temporary b-tree
/// an outer `ORDER BY` costs (the sort only guarantees what the plan gives).
/// The keyset condition (`user_id > ?5`) is a seek in the same key (for a
/// team, `+org_id` keeps SQLite from walking the organization's
/// `team_members_org_user` range instead).
pub fn find(
    conn: &Conn,
    org_id: i64,
    narrowing: MemberNarrowing<'_>,
    page: Page,
) -> Result<Vec<Member>> {
    let sql = page_sql(narrowing);
    let values = MemberParams::new(org_id, narrowing, page);
    let mut members = conn.query_all(&sql, &values.used(&sql), member_from_row)?;
    members.sort_by_key(|member| member.user_id);
    Ok(members)
}

/// The plan the database makes for [`find`]'s page (see
/// [`super::invitations::page_plan`]).
pub fn page_plan(
    conn: &Conn,
    org_id: i64,
    narrowing: MemberNarrowing<'_>,
    page: Page,
) -> Result<String> {
    let sql = page_sql(narrowing);
    let values = MemberParams::new(org_id, narrowing, page);
    super::sql::explain(conn, &sql, &values.used(&sql))
}

fn page_sql(narrowing: MemberNarrowing<'_>) -> String {
    const SELECT: &str =
        "SELECT u.id, u.email, u.first_name, u.last_name, m.role, m.created_at, m.updated_at";
    let searching = narrowing.search.filter(|search| !search.is_empty());
    match (searching, narrowing.team_id) {
        (None, None) => format!(
            "{SELECT}
             FROM (SELECT user_id, role, created_at, updated_at FROM memberships
                   WHERE org_id = ?1 AND user_id > ?5 ORDER BY user_id LIMIT ?2 OFFSET ?3) AS m
             CROSS JOIN users u WHERE u.id = m.user_id"
        ),
        (None, Some(_)) => format!(
            "{SELECT}
             FROM (SELECT user_id FROM team_members
                   WHERE team_id = ?4 AND +org_id = ?1 AND user_id > ?5
                   ORDER BY user_id LIMIT ?2 OFFSET ?3) AS t
             CROSS JOIN memberships m CROSS JOIN users u
             WHERE m.org_id = ?1 AND m.user_id = t.user_id AND u.id = t.user_id"
        ),
        (Some(search), team) => format!(
            "{SELECT}
             FROM (SELECT s.id AS user_id FROM ({}) AS s
                   CROSS JOIN memberships mm
                   WHERE mm.org_id = ?1 AND mm.user_id = s.id AND s.id > ?5{}
                   ORDER BY s.id LIMIT ?2 OFFSET ?3) AS f
             CROSS JOIN memberships m CROSS JOIN users u
             WHERE m.org_id = ?1 AND m.user_id = f.user_id AND u.id = f.user_id",
            found_ids(search),
            if team.is_some() { IN_TEAM } else { "" }
        ),
    }
}

fn count_sql(search: &Search, team_id: Option<i64>) -> String {
    format!(
        "SELECT COUNT(*) FROM ({}) AS s CROSS JOIN memberships mm
         WHERE mm.org_id = ?1 AND mm.user_id = s.id{}",
        found_ids(search),
        if team_id.is_some() { IN_TEAM } else { "" }
    )
}

/// The team condition on a search's matches (the team's primary key).
const IN_TEAM: &str = " AND EXISTS (SELECT 1 FROM team_members t
                                   WHERE t.team_id = ?4 AND t.user_id = s.id AND t.org_id = ?1)";

/// How many of the organization's members (of one team, if given) a search
/// finds: bounded by the accounts it matches (the users' key indexes, then
/// one membership probe each).
pub fn count_found(conn: &Conn, org_id: i64, team_id: Option<i64>, search: &Search) -> Result<i64> {
    let narrowing = MemberNarrowing {
        team_id,
        search: Some(search),
        after: None,
    };
    let sql = count_sql(search, team_id);
    let page = Page {
        limit: 0,
        offset: 0,
    };
    let values = MemberParams::new(org_id, narrowing, page);
    conn.query_one(&sql, &values.used(&sql), |row| row.get(0))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn plan_of(conn: &Connection, sql: &str) -> String {
        let wanted = super::super::sql::placeholders(sql);
        let values: Vec<rusqlite::types::Value> = (1..=wanted)
            .map(|n| match n {
                6..=8 => rusqlite::types::Value::Text("x".into()),
                _ => rusqlite::types::Value::Integer(1),
            })
            .collect();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn searches_and_cursor_pages_probe_indexes_never_scan() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn).unwrap();
        let email = Search::parse(Some("ann@example.com"), None).unwrap();
        let prefix = Search::parse(None, Some("an")).unwrap();
        let both = Search::parse(Some("ann@example.com"), Some("an")).unwrap();
        for team_id in [None, Some(3)] {
            for search in [None, Some(&email), Some(&prefix), Some(&both)] {
                let narrowing = MemberNarrowing {
                    team_id,
                    search,
                    after: Some(40),
                };
                let mut sqls = vec![page_sql(narrowing)];
                if let Some(search) = search {
                    sqls.push(count_sql(search, team_id));
                }
                for sql in sqls {
                    let plan = plan_of(&conn, &sql);
                    let case = format!("{team_id:?} {search:?}: {plan}");
                    assert!(!plan.contains("SCAN users"), "{case}");
                    assert!(!plan.contains("SCAN memberships"), "{case}");
                    assert!(!plan.contains("SCAN team_members"), "{case}");
                    match search {
                        None if team_id.is_none() => assert!(
                            plan.contains("memberships USING PRIMARY KEY (org_id=? AND user_id>?)"),
                            "{case}"
                        ),
                        None => assert!(
                            plan.contains(
                                "team_members USING PRIMARY KEY (team_id=? AND user_id>?)"
                            ),
                            "{case}"
                        ),
                        Some(search) => {
                            assert!(
                                plan.contains("INDEX sqlite_autoindex_users_1 (email_key"),
                                "{case}"
                            );
                            if search.email.is_none() {
                                assert!(
                                    plan.contains(
                                        "INDEX users_name_key (name_key>? AND name_key<?)"
                                    ),
                                    "{case}"
                                );
                                assert!(
                                    plan.contains("INDEX users_last_name_key (last_name_key>? AND last_name_key<?)"),
                                    "{case}"
                                );
                            }
                            // Each match: one probe of its membership.
                            assert!(
                                plan.contains("(org_id=? AND user_id=?)")
                                    || plan.contains("(user_id=? AND org_id=?)"),
                                "{case}"
                            );
                        }
                    }
                }
            }
        }
    }
}
