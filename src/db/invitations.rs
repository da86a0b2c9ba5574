//! SQL for invitations: insert, look-ups in an organization and by link,
//! the paged lists and their counts, status changes and the sweeps.

use super::sql::{Conn, Dialect, Param, Result, Row, bad_column};
use crate::domain::entities::display_name;
use crate::domain::invitation::InvitationFilter;
use crate::domain::search::{After, Search};
use crate::domain::{
    Email, Invitation, InvitationDetails, InvitationExtras, InvitationStatus, Millis, Page, Role,
};
use uuid::Uuid;

const COLUMNS: &str = "id, uuid, org_id, invitee_email, role, status, inviter_user_id, \
                       created_at, updated_at, expires_at";

fn from_row(row: &Row<'_>, now: Millis) -> Result<Invitation> {
    let stored: InvitationStatus = row.parsed(5)?;
    let expires_at = Millis(row.get(9)?);
    Ok(Invitation {
        id: row.get(0)?,
        uuid: row.parsed(1)?,
        org_id: row.get(2)?,
        invitee_email: row.get(3)?,
        role: row.parsed(4)?,
        status: InvitationStatus::effective(stored, expires_at, now),
        inviter_user_id: row.get(6)?,
        created_at: Millis(row.get(7)?),
        updated_at: Millis(row.get(8)?),
        expires_at,
        team_ids: Vec::new(),
    })
}

pub struct NewInvitation<'a> {
    pub uuid: Uuid,
    pub org_id: i64,
    pub invitee: &'a Email,
    pub role: Role,
    pub inviter_user_id: i64,
    pub expires_at: Millis,
    pub message: Option<&'a str>,
    /// The metadata object, serialized.
    pub metadata: Option<&'a str>,
    /// When its expiry reminder is due, if it gets one.
    pub remind_at: Option<Millis>,
}

pub fn insert(conn: &Conn, new: &NewInvitation<'_>, now: Millis) -> Result<Invitation> {
    conn.query_one(
        &format!(
            "INSERT INTO invitations (uuid, org_id, invitee_email, invitee_email_key, role, status,
                                  inviter_user_id, created_at, updated_at, expires_at,
                                  message, metadata, remind_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?7, ?7, ?8, ?9, ?10, ?11) RETURNING {COLUMNS}"
        ),
        &[
            &new.uuid.to_string(),
            &new.org_id,
            &new.invitee.as_str(),
            &new.invitee.key(),
            &new.role.as_str(),
            &new.inviter_user_id,
            &now.0,
            &new.expires_at.0,
            &new.message,
            &new.metadata,
            &new.remind_at.map(|at| at.0),
        ],
        |row| from_row(row, now),
    )
}

/// One invitation of one organization; another organization's id finds nothing.
pub fn get_in_org(conn: &Conn, org_id: i64, id: i64, now: Millis) -> Result<Option<Invitation>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM invitations WHERE id = ?1 AND org_id = ?2{}",
            conn.lock_for_write(None)
        ),
        &[&id, &org_id],
        |row| from_row(row, now),
    )
}

/// The message and metadata of one invitation (by its id).
pub fn extras(conn: &Conn, id: i64) -> Result<InvitationExtras> {
    conn.query_one(
        "SELECT message, metadata FROM invitations WHERE id = ?1",
        &[&id],
        |row| extras_from_row(row, 0),
    )
}

/// The message and metadata read from columns `at` and `at + 1`.
fn extras_from_row(row: &Row<'_>, at: usize) -> Result<InvitationExtras> {
    let metadata = match row.get::<Option<String>>(at + 1)? {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad_column(at + 1, e))?),
        None => None,
    };
    Ok(InvitationExtras {
        message: row.get(at)?,
        metadata,
    })
}

/// [`COLUMNS`] then message and metadata: an invitation with its extras,
/// for the sweeps that announce what they change (one statement, no read
/// per row).
fn with_extras(row: &Row<'_>, now: Millis) -> Result<(Invitation, InvitationExtras)> {
    Ok((from_row(row, now)?, extras_from_row(row, 10)?))
}

/// Whether the organization already has a pending, unexpired invitation
/// for this email, other than `except`.
pub fn has_open(
    conn: &Conn,
    org_id: i64,
    invitee: &Email,
    except: Option<i64>,
    now: Millis,
) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM invitations
                        WHERE invitee_email_key = ?1 AND status = 'PENDING'
                          AND expires_at > ?2 AND org_id = ?3 AND id IS DISTINCT FROM ?4)",
        &[&invitee.key(), &now.0, &org_id, &except],
        |row| row.get(0),
    )
}

pub fn last_resent_at(conn: &Conn, id: i64) -> Result<Option<Millis>> {
    conn.query_one(
        "SELECT last_resent_at FROM invitations WHERE id = ?1",
        &[&id],
        |row| row.get::<Option<i64>>(0),
    )
    .map(|at| at.map(Millis))
}

/// Makes the invitation pending again with a new expiry (a resend).
/// Pending again until `expires_at`, its reminder armed for `remind_at`.
pub fn renew(
    conn: &Conn,
    id: i64,
    expires_at: Millis,
    remind_at: Option<Millis>,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "UPDATE invitations
         SET status = 'PENDING', expires_at = ?2, updated_at = ?3, last_resent_at = ?3, remind_at = ?4
         WHERE id = ?1",
        &[&id, &expires_at.0, &now.0, &remind_at.map(|at| at.0)],
    )?;
    Ok(())
}

/// The row filter for each list filter, as the arms of one query: each arm's
/// index hint (SQLite's) and condition. `?1` is the organization, `?2` now,
/// `?3` a stored status. Each is served by an index that yields rows in page
/// order (see schema.sql), so a page costs its own size, not the organization's.
fn arms(filter: InvitationFilter) -> &'static [(Option<&'static str>, &'static str)] {
    use InvitationStatus::*;
    match filter {
        InvitationFilter::Any {
            include_expired: true,
        } => &[(None, "org_id = ?1")],
        InvitationFilter::Any {
            include_expired: false,
        } => &[(
            None,
            "org_id = ?1 AND status <> 'EXPIRED'
               AND NOT (status = 'PENDING' AND expires_at <= ?2)",
        )],
        InvitationFilter::Status(Pending) => &[(
            None,
            "org_id = ?1 AND status = 'PENDING' AND expires_at > ?2",
        )],
        // Stored EXPIRED rows, merged with pending rows the sweep has not
        // reached yet. A compound SELECT with ORDER BY merges its two arms:
        // the first is read in page order, the second (small: what the
        // sweep has not reached) is found by expiry and sorted. Left to
        // itself the planner would walk every pending row in page order.
        InvitationFilter::Status(Expired) => &[
            (None, "org_id = ?1 AND status = 'EXPIRED'"),
            (
                Some("invitations_org_status_expiry"),
                "org_id = ?1 AND status = 'PENDING' AND expires_at <= ?2",
            ),
        ],
        InvitationFilter::Status(Accepted | Declined | Revoked) => {
            &[(None, "org_id = ?1 AND status = ?3")]
        }
    }
}

/// Narrowing beyond the filter: a search and where a keyset page starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    pub search: Option<&'a Search>,
    /// Only rows after this one in page order (`created_at DESC, id DESC`).
    pub after: Option<After>,
}

/// The ids (and sort keys) of the rows matching `filter` and `narrowing`,
/// one arm per filter arm. Parameters beyond the filter's: `?6`/`?7` the
/// keyset position, `?8` an exact email key, `?9`/`?10` a prefix range.
/// A search reads `invitations_org_email` on SQLite (named: left alone the
/// planner prefers walking the organization in page order); it starts at
/// the organization and the address, so an exact address is one seek and
/// a prefix one range, sorted by page order (bounded by the matches).
/// The keyset condition is a row-value comparison, a seek in the index.
fn id_query(conn: &Conn, filter: InvitationFilter, narrowing: Narrowing<'_>) -> String {
    let searching = narrowing.search.is_some_and(|search| !search.is_empty());
    let mut extra = String::new();
    if let Some(search) = narrowing.search {
        if search.email.is_some() {
            extra.push_str(" AND invitee_email_key = ?8");
        }
        if search.prefix().is_some() {
            extra.push_str(" AND invitee_email_key >= ?9 AND invitee_email_key < ?10");
        }
    }
    if narrowing.after.is_some() {
        extra.push_str(" AND (created_at, id) < (?6, ?7)");
    }
    arms(filter)
        .iter()
        .map(|(hint, condition)| {
            let hint = match (conn.dialect(), searching, hint) {
                // PostgreSQL's planner chooses indexes itself (and has no hints).
                (Dialect::Postgres, _, _) => String::new(),
                (Dialect::Sqlite, true, _) => " INDEXED BY invitations_org_email".into(),
                (Dialect::Sqlite, false, Some(index)) => format!(" INDEXED BY {index}"),
                (Dialect::Sqlite, false, None) => String::new(),
            };
            format!("SELECT id, created_at FROM invitations{hint} WHERE {condition}{extra}")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The values [`id_query`] and the page around it read, `?1` to `?10`.
struct QueryParams {
    org_id: i64,
    now: i64,
    status: &'static str,
    limit: i64,
    offset: i64,
    after: After,
    email_key: String,
    low: String,
    high: String,
}

impl QueryParams {
    fn new(
        org_id: i64,
        filter: InvitationFilter,
        narrowing: Narrowing<'_>,
        now: Millis,
        page: Page,
    ) -> Self {
        let (email_key, low, high) = Search::bound(narrowing.search);
        Self {
            org_id,
            now: now.0,
            status: stored_status_param(filter),
            limit: page.limit,
            offset: page.offset,
            after: narrowing.after.unwrap_or(After {
                created_at: 0,
                id: 0,
            }),
            email_key,
            low,
            high,
        }
    }

    /// The values `sql` names (it may leave the last ones out).
    fn used(&self, sql: &str) -> Vec<&dyn Param> {
        let all: [&dyn Param; 10] = [
            &self.org_id,
            &self.now,
            &self.status,
            &self.limit,
            &self.offset,
            &self.after.created_at,
            &self.after.id,
            &self.email_key,
            &self.low,
            &self.high,
        ];
        all.into_iter()
            .take(super::sql::placeholders(sql))
            .collect()
    }
}

/// One page, newest first with the id breaking ties. The page's ids are cut
/// from the index alone; only the rows returned are read from the table.
/// `CROSS JOIN` keeps the page as the outer loop, so rows come out in page
/// order with no temporary b-tree (an `IN (…)` list built one and sorted
/// the page again); the sort below only guarantees what the plan gives.
pub fn list(
    conn: &Conn,
    org_id: i64,
    filter: InvitationFilter,
    narrowing: Narrowing<'_>,
    page: Page,
    now: Millis,
) -> Result<Vec<Invitation>> {
    let sql = page_sql(conn, filter, narrowing);
    let values = QueryParams::new(org_id, filter, narrowing, now, page);
    let mut page = conn.query_all(&sql, &values.used(&sql), |row| from_row(row, now))?;
    // Already in order, so this is one linear pass.
    page.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    Ok(page)
}

/// The plan the database makes for [`list`]'s page, one line per step
/// (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL): for the
/// tests that prove pages and searches are served from indexes.
pub fn page_plan(
    conn: &Conn,
    org_id: i64,
    filter: InvitationFilter,
    narrowing: Narrowing<'_>,
    page: Page,
    now: Millis,
) -> Result<String> {
    let sql = page_sql(conn, filter, narrowing);
    let values = QueryParams::new(org_id, filter, narrowing, now, page);
    super::sql::explain(conn, &sql, &values.used(&sql))
}

fn page_sql(conn: &Conn, filter: InvitationFilter, narrowing: Narrowing<'_>) -> String {
    format!(
        "SELECT {COLUMNS}
         FROM (SELECT id AS page_id FROM ({} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5) AS ids) AS p
         CROSS JOIN invitations WHERE invitations.id = p.page_id",
        id_query(conn, filter, narrowing)
    )
}

/// The exact number of invitations a search finds under `filter`: counted
/// over the search's range of `invitations_org_email`, so bounded by the
/// matches (one address's invitations, or a prefix's), never the organization.
pub fn count_found(
    conn: &Conn,
    org_id: i64,
    filter: InvitationFilter,
    search: &Search,
    now: Millis,
) -> Result<i64> {
    let narrowing = Narrowing {
        search: Some(search),
        after: None,
    };
    let sql = format!(
        "SELECT COUNT(*) FROM ({}) AS found",
        id_query(conn, filter, narrowing)
    );
    let page = Page {
        limit: 0,
        offset: 0,
    };
    let values = QueryParams::new(org_id, filter, narrowing, now, page);
    conn.query_one(&sql, &values.used(&sql), |row| row.get(0))
}

fn stored_status_param(filter: InvitationFilter) -> &'static str {
    match filter {
        InvitationFilter::Status(status) => status.as_str(),
        InvitationFilter::Any { .. } => "",
    }
}

/// The exact number of invitations matching `filter`, from the per-status
/// counters plus the pending rows that expired since the last sweep (a range
/// of one index, as small as the sweep keeps it).
pub fn count(conn: &Conn, org_id: i64, filter: InvitationFilter, now: Millis) -> Result<i64> {
    use InvitationStatus::*;
    let mut by_status = [0_i64; InvitationStatus::ALL.len()];
    for (status, n) in conn.query_all(
        "SELECT status, n FROM invitation_counts WHERE org_id = ?1",
        &[&org_id],
        |row| Ok((row.parsed::<InvitationStatus>(0)?, row.get::<i64>(1)?)),
    )? {
        if let Some(slot) = by_status.get_mut(status as usize) {
            *slot = n;
        }
    }
    let stored = |status: InvitationStatus| by_status.get(status as usize).copied().unwrap_or(0);
    let expired_unswept = || -> Result<i64> {
        conn.query_one(
            "SELECT COUNT(*) FROM invitations
             WHERE org_id = ?1 AND status = 'PENDING' AND expires_at <= ?2",
            &[&org_id, &now.0],
            |row| row.get(0),
        )
    };
    Ok(match filter {
        InvitationFilter::Any {
            include_expired: true,
        } => by_status.iter().sum(),
        InvitationFilter::Any {
            include_expired: false,
        } => by_status.iter().sum::<i64>() - stored(Expired) - expired_unswept()?,
        InvitationFilter::Status(Pending) => stored(Pending) - expired_unswept()?,
        InvitationFilter::Status(Expired) => stored(Expired) + expired_unswept()?,
        InvitationFilter::Status(status) => stored(status),
    })
}

/// Stores an answer or a revocation (which leaves no reminder due).
pub fn set_status(conn: &Conn, id: i64, status: InvitationStatus, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE invitations SET status = ?2, updated_at = ?3, remind_at = NULL WHERE id = ?1",
        &[&id, &status.as_str(), &now.0],
    )?;
    Ok(())
}

/// Stores EXPIRED on up to `batch` pending invitations whose expiry has
/// passed, and says how many it changed. Reads already show them as
/// EXPIRED; this keeps the unswept range that counts must scan small.
/// `updated_at` is left alone: nobody acted on the invitation.
/// Every node may sweep at once: on PostgreSQL each takes rows the others
/// have not locked, and a row is stored EXPIRED once (the outer condition is
/// checked again on a row another sweep changed meanwhile).
/// Answers the invitations it changed, as they are now, with their extras.
pub fn sweep_expired(
    conn: &Conn,
    now: Millis,
    batch: i64,
) -> Result<Vec<(Invitation, InvitationExtras)>> {
    conn.query_all(
        &format!(
            "UPDATE invitations SET status = 'EXPIRED', remind_at = NULL
             WHERE status = 'PENDING'
               AND id IN (SELECT id FROM invitations
                          WHERE status = 'PENDING' AND expires_at <= ?1 LIMIT ?2{})
             RETURNING {COLUMNS}, message, metadata",
            conn.skip_locked()
        ),
        &[&now.0, &batch],
        |row| with_extras(row, now),
    )
}

/// Disarms and answers up to `batch` pending, unexpired invitations whose
/// reminder is due (a row's reminder is taken once, by one node).
pub fn take_due_reminders(
    conn: &Conn,
    now: Millis,
    batch: i64,
) -> Result<Vec<(Invitation, InvitationExtras)>> {
    conn.query_all(
        &format!(
            "UPDATE invitations SET remind_at = NULL
             WHERE remind_at IS NOT NULL
               AND id IN (SELECT id FROM invitations WHERE remind_at <= ?1 LIMIT ?2{})
             RETURNING {COLUMNS}, message, metadata",
            conn.skip_locked()
        ),
        &[&now.0, &batch],
        |row| with_extras(row, now),
    )
    .map(|taken| {
        taken
            .into_iter()
            .filter(|(invitation, _)| invitation.status == InvitationStatus::Pending)
            .collect()
    })
}

const DETAILS_SELECT: &str =
    "SELECT i.id, i.uuid, i.org_id, i.invitee_email, i.role, i.status, i.inviter_user_id,
            i.created_at, i.updated_at, i.expires_at,
            o.uuid, o.name, o.logo_url, o.member_count,
            u.first_name, u.last_name, u.email, u.avatar_url, i.message, r.name
     FROM invitations i
     JOIN organizations o ON o.id = i.org_id
     LEFT JOIN users u ON u.id = i.inviter_user_id
     LEFT JOIN org_roles r ON r.org_id = i.org_id AND r.key = i.role";

fn details_from_row(row: &Row<'_>, now: Millis) -> Result<InvitationDetails> {
    let inviter_email: Option<String> = row.get(16)?;
    let inviter_name = match inviter_email {
        Some(email) => Some(display_name(
            &row.get::<String>(14)?,
            &row.get::<String>(15)?,
            &email,
        )),
        None => None,
    };
    let invitation = from_row(row, now)?;
    // Built-ins have no row; a deleted custom role shows its key.
    let role_name = row
        .get::<Option<String>>(19)?
        .unwrap_or_else(|| invitation.role.label().to_owned());
    Ok(InvitationDetails {
        invitation,
        organization_uuid: row.parsed(10)?,
        organization_name: row.get(11)?,
        organization_logo_url: row.get(12)?,
        organization_member_count: row.get(13)?,
        inviter_name,
        inviter_avatar_url: row.get(17)?,
        message: row.get(18)?,
        role_name,
    })
}

/// The person's pending, unexpired invitations, newest first, with their
/// organizations and inviters in the same query.
pub fn list_for_invitee(
    conn: &Conn,
    invitee: &Email,
    now: Millis,
) -> Result<Vec<InvitationDetails>> {
    conn.query_all(
        &format!(
            "{DETAILS_SELECT}
         WHERE i.invitee_email_key = ?1 AND i.status = 'PENDING' AND i.expires_at > ?2
         ORDER BY i.created_at DESC, i.id DESC"
        ),
        &[&invitee.key(), &now.0],
        |row| details_from_row(row, now),
    )
}

/// One invitation addressed to `invitee`; someone else's finds nothing.
pub fn find_for_invitee(
    conn: &Conn,
    uuid: Uuid,
    invitee: &Email,
    now: Millis,
) -> Result<Option<InvitationDetails>> {
    conn.query_opt(
        &format!(
            "{DETAILS_SELECT} WHERE i.uuid = ?1 AND i.invitee_email_key = ?2{}",
            conn.lock_for_write(Some("i"))
        ),
        &[&uuid.to_string(), &invitee.key()],
        |row| details_from_row(row, now),
    )
}

/// One invitation by its public UUID, whoever it is addressed to (the
/// hosted page shows it to anyone holding the link).
pub fn find_details(conn: &Conn, uuid: Uuid, now: Millis) -> Result<Option<InvitationDetails>> {
    conn.query_opt(
        &format!(
            "{DETAILS_SELECT} WHERE i.uuid = ?1{}",
            conn.lock_for_write(Some("i"))
        ),
        &[&uuid.to_string()],
        |row| details_from_row(row, now),
    )
}

/// Every invitation of the organization with its extras, one page at a
/// time by id (the organization's export: a steady order while it pages).
pub fn page_with_extras(
    conn: &Conn,
    org_id: i64,
    page: Page,
    now: Millis,
) -> Result<Vec<(Invitation, InvitationExtras)>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS}, message, metadata FROM invitations WHERE org_id = ?1
             ORDER BY id LIMIT ?2 OFFSET ?3"
        ),
        &[&org_id, &page.limit, &page.offset],
        |row| with_extras(row, now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvitationStatus;
    use rusqlite::Connection;

    fn setup() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO organizations (id, uuid, name, created_at, updated_at)
             VALUES (1, 'a', 'A', 0, 0), (2, 'b', 'B', 0, 0);
             INSERT INTO users (id, email, email_key, created_at, updated_at)
             VALUES (1, 'x@example.com', 'x@example.com', 0, 0);",
        )
        .unwrap();
        conn
    }

    fn add(conn: &Conn, org_id: i64, n: i64, created: i64, expires: i64) -> Invitation {
        let email = Email::parse(&format!("p{n}@example.com")).unwrap();
        insert(
            conn,
            &NewInvitation {
                uuid: Uuid::new_v4(),
                org_id,
                invitee: &email,
                role: Role::Member,
                inviter_user_id: 1,
                expires_at: Millis(expires),
                remind_at: None,
                message: None,
                metadata: None,
            },
            Millis(created),
        )
        .unwrap()
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params![1, 0, "ACCEPTED", 100, 0], |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    fn plan_of(conn: &Connection, sql: &str) -> String {
        let wanted = crate::db::sql::placeholders(sql);
        let values: Vec<rusqlite::types::Value> = (1..=wanted)
            .map(|n| match n {
                3 | 8 | 9 | 10 => rusqlite::types::Value::Text("x".into()),
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
    fn searches_and_deep_cursor_pages_read_an_index_never_the_organization() {
        let raw = setup();
        let conn = Conn::sqlite(&raw);
        let email = Search::parse(Some("p1@example.com"), None).unwrap();
        let prefix = Search::parse(None, Some("p1")).unwrap();
        let both = Search::parse(Some("p1@example.com"), Some("p1")).unwrap();
        let after = Some(After {
            created_at: 5,
            id: 5,
        });
        let filters = [
            InvitationFilter::Any {
                include_expired: true,
            },
            InvitationFilter::Any {
                include_expired: false,
            },
            InvitationFilter::Status(InvitationStatus::Pending),
            InvitationFilter::Status(InvitationStatus::Expired),
            InvitationFilter::Status(InvitationStatus::Revoked),
        ];
        for filter in filters {
            for (search, after) in [
                (Some(&email), None),
                (Some(&email), after),
                (Some(&prefix), None),
                (Some(&prefix), after),
                (Some(&both), after),
                (None, after),
            ] {
                let narrowing = Narrowing { search, after };
                let ids = id_query(&conn, filter, narrowing);
                let page = format!("{ids} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5");
                let count = format!("SELECT COUNT(*) FROM ({ids}) AS found");
                for sql in [page, count] {
                    let plan = plan_of(&raw, &sql);
                    let case = format!("{filter:?} {search:?} {after:?}: {plan}");
                    assert!(!plan.contains("SCAN invitations"), "{case}");
                    if search.is_some() {
                        assert!(
                            plan.contains(
                                "INDEX invitations_org_email (org_id=? AND invitee_email_key"
                            ),
                            "{case}"
                        );
                    } else {
                        // The cursor's position is a seek in the page's index.
                        assert!(plan.contains("AND created_at<?)"), "{case}");
                    }
                }
                // An exact address is read in page order: nothing to sort.
                if search == Some(&email)
                    && !matches!(filter, InvitationFilter::Status(InvitationStatus::Expired))
                {
                    let plan = plan_of(
                        &raw,
                        &format!("{ids} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5"),
                    );
                    assert!(
                        !plan.contains("TEMP B-TREE"),
                        "{filter:?} {after:?}: {plan}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_filter_pages_from_an_index_without_sorting_the_organization() {
        let conn = setup();
        let filters = [
            InvitationFilter::Any {
                include_expired: true,
            },
            InvitationFilter::Any {
                include_expired: false,
            },
            InvitationFilter::Status(InvitationStatus::Pending),
            InvitationFilter::Status(InvitationStatus::Expired),
            InvitationFilter::Status(InvitationStatus::Accepted),
        ];
        for filter in filters {
            let sql = format!(
                "{} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5",
                id_query(&Conn::sqlite(&conn), filter, Narrowing::default())
            );
            let plan = plan(&conn, &sql);
            assert!(
                plan.contains("USING COVERING INDEX invitations_org"),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("SCAN invitations"), "{filter:?}: {plan}");
            if filter != InvitationFilter::Status(InvitationStatus::Expired) {
                assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
            }
        }
    }

    #[test]
    fn counts_and_pages_agree_with_expiry_before_and_after_the_sweep() {
        let raw = setup();
        let conn = Conn::sqlite(&raw);
        let now = Millis(1_000);
        let a = add(&conn, 1, 1, 10, 500); // pending, expired
        let b = add(&conn, 1, 2, 20, 5_000); // pending
        let c = add(&conn, 1, 3, 30, 5_000); // accepted below
        let d = add(&conn, 1, 4, 40, 600); // pending, expired
        add(&conn, 2, 5, 50, 5_000); // other organization
        set_status(&conn, c.id, InvitationStatus::Accepted, Millis(35)).unwrap();
        let page = Page {
            limit: 100,
            offset: 0,
        };

        for swept in [false, true] {
            if swept {
                assert_eq!(sweep_expired(&conn, now, 1000).unwrap().len(), 2);
            }
            let ids = |filter| {
                list(&conn, 1, filter, Narrowing::default(), page, now)
                    .unwrap()
                    .into_iter()
                    .map(|i| i.id)
                    .collect::<Vec<_>>()
            };
            let total = |filter| count(&conn, 1, filter, now).unwrap();
            let all = InvitationFilter::Any {
                include_expired: true,
            };
            let live = InvitationFilter::Any {
                include_expired: false,
            };
            let pending = InvitationFilter::Status(InvitationStatus::Pending);
            let expired = InvitationFilter::Status(InvitationStatus::Expired);
            let accepted = InvitationFilter::Status(InvitationStatus::Accepted);
            assert_eq!(ids(all), vec![d.id, c.id, b.id, a.id]);
            assert_eq!(total(all), 4);
            assert_eq!(ids(live), vec![c.id, b.id]);
            assert_eq!(total(live), 2);
            assert_eq!(ids(pending), vec![b.id]);
            assert_eq!(total(pending), 1);
            assert_eq!(ids(expired), vec![d.id, a.id]);
            assert_eq!(total(expired), 2);
            assert_eq!(ids(accepted), vec![c.id]);
            assert_eq!(total(accepted), 1);
            let statuses: Vec<_> = list(&conn, 1, all, Narrowing::default(), page, now)
                .unwrap()
                .into_iter()
                .map(|i| i.status)
                .collect();
            use InvitationStatus::*;
            assert_eq!(statuses, vec![Expired, Accepted, Pending, Expired]);
        }
        let second = list(
            &conn,
            1,
            InvitationFilter::Any {
                include_expired: true,
            },
            Narrowing::default(),
            Page {
                limit: 2,
                offset: 1,
            },
            now,
        )
        .unwrap();
        assert_eq!(
            second.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![c.id, b.id]
        );
    }
}
