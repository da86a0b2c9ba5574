//! Webhook endpoints, their delivery queue and its attempts: SQL only.

use super::sql::{Conn, Result, Row, bad_column};
use crate::domain::Millis;
use crate::domain::event::EventType;
use crate::domain::webhook::WebhookEndpoint;

const COLUMNS: &str = "id, org_id, url, event_types, enabled, description, disabled_reason,
                       failing_since, created_at, updated_at";

fn from_row(row: &Row<'_>) -> Result<WebhookEndpoint> {
    let types: String = row.get(3)?;
    let event_types = types
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| name.parse::<EventType>().map_err(|e| bad_column(3, e)))
        .collect::<Result<Vec<_>>>()?;
    Ok(WebhookEndpoint {
        id: row.get(0)?,
        org_id: row.get(1)?,
        url: row.get(2)?,
        event_types,
        enabled: row.get(4)?,
        description: row.get(5)?,
        disabled_reason: row.get(6)?,
        failing_since: row.get::<Option<i64>>(7)?.map(Millis),
        created_at: Millis(row.get(8)?),
        updated_at: Millis(row.get(9)?),
    })
}

/// `,a,b,` for the types wanted (what the fan-out matches), or empty for all.
fn stored_types(types: &[EventType]) -> String {
    if types.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    format!(",{},", names.join(","))
}

pub struct EndpointFields<'a> {
    pub url: &'a str,
    pub event_types: &'a [EventType],
    pub enabled: bool,
    pub description: &'a str,
}

pub fn insert(
    conn: &Conn,
    org_id: i64,
    fields: &EndpointFields<'_>,
    secret: &str,
    now: Millis,
) -> Result<WebhookEndpoint> {
    conn.query_one(
        &format!(
            "INSERT INTO webhook_endpoints (org_id, url, event_types, enabled, description, secret,
                                            created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {COLUMNS}"
        ),
        &[
            &org_id,
            &fields.url,
            &stored_types(fields.event_types),
            &fields.enabled,
            &fields.description,
            &secret,
            &now.0,
        ],
        from_row,
    )
}

/// One endpoint of the organization (locked for the write that reads it,
/// on PostgreSQL, in the mode that still lets other transactions insert
/// deliveries that refer to it: the events a change to one endpoint writes
/// queue deliveries to the others, and `FOR UPDATE` on two endpoints
/// changed at once would deadlock); another organization's is not found.
pub fn get(conn: &Conn, org_id: i64, id: i64) -> Result<Option<WebhookEndpoint>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND org_id = ?2{}",
            conn.lock_row_for_write()
        ),
        &[&id, &org_id],
        from_row,
    )
}

/// The organization's endpoints, oldest first (a few: see
/// `ENDPOINTS_PER_ORG_MAX`), and how many it has.
pub fn list(conn: &Conn, org_id: i64, limit: i64, offset: i64) -> Result<Vec<WebhookEndpoint>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"
        ),
        &[&org_id, &limit, &offset],
        from_row,
    )
}

/// How many endpoints the organization has: a range of a per-organization
/// index that the per-organization cap keeps short.
pub fn count(conn: &Conn, org_id: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = ?1",
        &[&org_id],
        |row| row.get(0),
    )
}

/// Stores new fields; re-enabling clears why enlist had disabled it, and
/// the failure streak with it.
pub fn update(conn: &Conn, id: i64, fields: &EndpointFields<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE webhook_endpoints
         SET url = ?2, event_types = ?3, description = ?5, updated_at = ?6,
             disabled_reason = CASE WHEN ?4 = 1 THEN NULL ELSE disabled_reason END,
             failing_since = CASE WHEN ?4 = 1 AND enabled = 0 THEN NULL ELSE failing_since END,
             enabled = ?4
         WHERE id = ?1",
        &[
            &id,
            &fields.url,
            &stored_types(fields.event_types),
            &fields.enabled,
            &fields.description,
            &now.0,
        ],
    )?;
    Ok(())
}

/// The endpoint locked to be deleted (on PostgreSQL, `FOR UPDATE` from the
/// start: taking the row in [`get`]'s weaker mode and then deleting it could
/// deadlock with a worker recording an attempt at it).
pub fn get_to_delete(conn: &Conn, org_id: i64, id: i64) -> Result<Option<WebhookEndpoint>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND org_id = ?2{}",
            conn.lock_for_write(None)
        ),
        &[&id, &org_id],
        from_row,
    )
}

pub fn delete(conn: &Conn, id: i64) -> Result<()> {
    conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", &[&id])?;
    Ok(())
}

/// A new signing secret; the one it replaces keeps signing until `until`.
pub fn rotate_secret(conn: &Conn, id: i64, secret: &str, until: Millis, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE webhook_endpoints
         SET previous_secret = secret, previous_secret_until = ?3, secret = ?2, updated_at = ?4
         WHERE id = ?1",
        &[&id, &secret, &until.0, &now.0],
    )?;
    Ok(())
}

/// Disables a failing endpoint and gives up on what it still had queued;
/// answers whether it was enabled (someone may have disabled it meanwhile).
pub fn disable(conn: &Conn, id: i64, reason: &str, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
         WHERE id = ?1 AND enabled = 1",
        &[&id, &reason, &now.0],
    )?;
    conn.execute(
        "UPDATE webhook_deliveries SET state = 'failed', finished_at = ?2, claimed_until = NULL
         WHERE endpoint_id = ?1 AND state = 'pending'",
        &[&id, &now.0],
    )?;
    Ok(changed == 1)
}

/// A delivery a worker is to attempt now.
#[derive(Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub org_id: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    pub url: String,
    pub secret: String,
    /// The replaced secret, while it still signs.
    pub previous_secret: Option<String>,
    pub event_uuid: String,
    pub body: String,
    pub failing_since: Option<Millis>,
    /// Until when this worker holds it (set by [`claim`]); its outcome is
    /// recorded only while the claim is still this one.
    pub lease_until: Millis,
}

/// Without the secrets and the body.
impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("org_id", &self.org_id)
            .field("attempts", &self.attempts)
            .field("event_uuid", &self.event_uuid)
            .finish_non_exhaustive()
    }
}

/// The oldest pending delivery of each enabled endpoint that nobody is
/// delivering to, when its turn has come: candidates for [`claim`]. A read.
pub fn due_heads(conn: &Conn, now: Millis, limit: i64) -> Result<Vec<DueDelivery>> {
    conn.query_all(
        "SELECT d.id, d.endpoint_id, e.org_id, d.attempts, e.url, e.secret,
                CASE WHEN e.previous_secret_until > ?1 THEN e.previous_secret END,
                ev.uuid, ev.body, e.failing_since
         FROM webhook_endpoints e
         JOIN webhook_deliveries d
           ON d.id = (SELECT MIN(p.id) FROM webhook_deliveries p
                      WHERE p.endpoint_id = e.id AND p.state = 'pending')
         JOIN events ev ON ev.id = d.event_id
         WHERE e.enabled = 1 AND d.next_attempt_at <= ?1
           AND (e.delivering_until IS NULL OR e.delivering_until <= ?1)
         ORDER BY d.next_attempt_at, d.id LIMIT ?2",
        &[&now.0, &limit],
        |row| {
            Ok(DueDelivery {
                id: row.get(0)?,
                endpoint_id: row.get(1)?,
                org_id: row.get(2)?,
                attempts: row.get(3)?,
                url: row.get(4)?,
                secret: row.get(5)?,
                previous_secret: row.get(6)?,
                event_uuid: row.get(7)?,
                body: row.get(8)?,
                failing_since: row.get::<Option<i64>>(9)?.map(Millis),
                lease_until: Millis(0),
            })
        },
    )
}

/// Claims a candidate until `lease_until`: first its endpoint (so one
/// delivery is in flight per endpoint, across nodes), then the delivery,
/// if it is still the endpoint's oldest pending one. Conditional UPDATEs:
/// of several nodes claiming at once, one wins, the others get `false`.
pub fn claim(conn: &Conn, head: &DueDelivery, lease_until: Millis, now: Millis) -> Result<bool> {
    let endpoint = conn.execute(
        "UPDATE webhook_endpoints SET delivering_until = ?2
         WHERE id = ?1 AND enabled = 1 AND (delivering_until IS NULL OR delivering_until <= ?3)",
        &[&head.endpoint_id, &lease_until.0, &now.0],
    )?;
    if endpoint == 0 {
        return Ok(false);
    }
    let delivery = conn.execute(
        "UPDATE webhook_deliveries SET claimed_until = ?2
         WHERE id = ?1 AND state = 'pending'
           AND id = (SELECT MIN(p.id) FROM webhook_deliveries p
                     WHERE p.endpoint_id = ?3 AND p.state = 'pending')",
        &[&head.id, &lease_until.0, &head.endpoint_id],
    )?;
    if delivery == 0 {
        conn.execute(
            "UPDATE webhook_endpoints SET delivering_until = NULL WHERE id = ?1",
            &[&head.endpoint_id],
        )?;
    }
    Ok(delivery == 1)
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; tried again at the given time.
    Retrying(Millis),
    /// Failed for the last time.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying(_) => "retrying",
            Outcome::Failed => "failed",
        }
    }
}

pub struct Attempt<'a> {
    pub delivery_id: i64,
    pub endpoint_id: i64,
    /// 1 for the first.
    pub number: u32,
    pub outcome: Outcome,
    pub response_status: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<&'a str>,
}

/// Records an attempt: the delivery's new state, the attempt row, and the
/// endpoint's failure streak (started by a failure, ended by a success),
/// and frees the endpoint for its next delivery. Only while `lease_until`
/// is still the delivery's claim: an outcome that comes after the claim
/// ran out and another worker took the delivery changes nothing (`false`).
pub fn record_attempt(
    conn: &Conn,
    attempt: &Attempt<'_>,
    lease_until: Millis,
    now: Millis,
) -> Result<bool> {
    let (state, next_attempt_at, finished_at) = match attempt.outcome {
        Outcome::Delivered => ("delivered", None, Some(now.0)),
        Outcome::Retrying(at) => ("pending", Some(at.0), None),
        Outcome::Failed => ("failed", None, Some(now.0)),
    };
    // The endpoint first, then its delivery: the order a delete takes them
    // in (its cascade), so the two wait for each other instead of deadlocking.
    let endpoint: Option<i64> = conn.query_opt(
        &format!(
            "SELECT id FROM webhook_endpoints WHERE id = ?1{}",
            conn.lock_row_for_write()
        ),
        &[&attempt.endpoint_id],
        |row| row.get(0),
    )?;
    if endpoint.is_none() {
        return Ok(false);
    }
    let current = conn.execute(
        "UPDATE webhook_deliveries
         SET state = ?2, attempts = ?3, next_attempt_at = COALESCE(?4, next_attempt_at),
             finished_at = ?5, claimed_until = NULL
         WHERE id = ?1 AND state = 'pending' AND claimed_until = ?6",
        &[
            &attempt.delivery_id,
            &state,
            &attempt.number,
            &next_attempt_at,
            &finished_at,
            &lease_until.0,
        ],
    )?;
    if current == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, outcome,
                                       response_status, duration_ms, error, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            &attempt.delivery_id,
            &attempt.endpoint_id,
            &attempt.number,
            &now.0,
            &attempt.outcome.as_str(),
            &attempt.response_status,
            &attempt.duration_ms,
            &attempt.error,
            &next_attempt_at,
        ],
    )?;
    if attempt.outcome == Outcome::Delivered {
        conn.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL, delivering_until = NULL
             WHERE id = ?1",
            &[&attempt.endpoint_id],
        )?;
    } else {
        conn.execute(
            "UPDATE webhook_endpoints
             SET failing_since = COALESCE(failing_since, ?2), delivering_until = NULL
             WHERE id = ?1",
            &[&attempt.endpoint_id, &now.0],
        )?;
    }
    Ok(true)
}

/// One attempt, as `GET …/webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: i64,
    pub event_uuid: String,
    pub event_type: String,
    pub attempt: u32,
    pub attempted_at: Millis,
    pub outcome: String,
    pub response_status: Option<u32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub next_attempt_at: Option<Millis>,
}

/// The endpoint's attempts, newest first.
pub fn attempts(
    conn: &Conn,
    endpoint_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<AttemptRecord>> {
    conn.query_all(
        "SELECT a.id, ev.uuid, ev.type, a.attempt, a.attempted_at, a.outcome, a.response_status,
                a.duration_ms, a.error, a.next_attempt_at
         FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id
         JOIN events ev ON ev.id = d.event_id
         WHERE a.endpoint_id = ?1
         ORDER BY a.id DESC LIMIT ?2 OFFSET ?3",
        &[&endpoint_id, &limit, &offset],
        |row| {
            Ok(AttemptRecord {
                id: row.get(0)?,
                event_uuid: row.get(1)?,
                event_type: row.get(2)?,
                attempt: row.get(3)?,
                attempted_at: Millis(row.get(4)?),
                outcome: row.get(5)?,
                response_status: row.get(6)?,
                duration_ms: row.get(7)?,
                error: row.get(8)?,
                next_attempt_at: row.get::<Option<i64>>(9)?.map(Millis),
            })
        },
    )
}

/// How many attempts the endpoint has, counted up to `cap` (an index range
/// of at most `cap` rows: the list shows the recent ones).
pub fn attempt_count(conn: &Conn, endpoint_id: i64, cap: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_attempts WHERE endpoint_id = ?1 LIMIT ?2) recent",
        &[&endpoint_id, &cap],
        |row| row.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::events::{Fanout, NewEvent};

    /// One organization with one endpoint and one event queued for it.
    fn queue() -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
        conn.execute_batch(
            "INSERT INTO organizations (id, uuid, name, created_at, updated_at)
             VALUES (1, 'u', 'Acme', 0, 0)",
        )
        .unwrap();
        let db = Conn::sqlite(&conn);
        let fields = EndpointFields {
            url: "https://93.184.216.34/in",
            event_types: &[],
            enabled: true,
            description: "",
        };
        insert(&db, 1, &fields, "whsec_x", Millis(0)).unwrap();
        crate::db::events::insert(
            &db,
            &NewEvent {
                uuid: uuid::Uuid::new_v4(),
                org_id: 1,
                kind: EventType::InvitationCreated,
                occurred_at: Millis(0),
                body: "{}",
            },
            Fanout::Subscribed,
        )
        .unwrap();
        conn
    }

    fn attempt(head: &DueDelivery) -> Attempt<'static> {
        Attempt {
            delivery_id: head.id,
            endpoint_id: head.endpoint_id,
            number: 1,
            outcome: Outcome::Delivered,
            response_status: Some(200),
            duration_ms: 1,
            error: None,
        }
    }

    #[test]
    fn one_worker_holds_an_endpoint_and_a_late_outcome_changes_nothing() {
        let conn = queue();
        let db = Conn::sqlite(&conn);
        let head = due_heads(&db, Millis(10), 10).unwrap().remove(0);
        assert!(claim(&db, &head, Millis(100), Millis(10)).unwrap());
        // Held: nobody else sees it due or can claim it.
        assert!(due_heads(&db, Millis(20), 10).unwrap().is_empty());
        assert!(!claim(&db, &head, Millis(200), Millis(20)).unwrap());
        // The claim lapses; another worker takes the delivery and records it.
        let again = due_heads(&db, Millis(150), 10).unwrap().remove(0);
        assert!(claim(&db, &again, Millis(300), Millis(150)).unwrap());
        assert!(record_attempt(&db, &attempt(&again), Millis(300), Millis(160)).unwrap());
        // The first worker's answer arrives late: it changes nothing.
        let mut late = attempt(&head);
        late.outcome = Outcome::Retrying(Millis(500));
        assert!(!record_attempt(&db, &late, Millis(100), Millis(170)).unwrap());
        let (state, attempts): (String, i64) = conn
            .query_row(
                "SELECT state, (SELECT COUNT(*) FROM webhook_attempts) FROM webhook_deliveries",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((state.as_str(), attempts), ("delivered", 1));
        assert!(due_heads(&db, Millis(1000), 10).unwrap().is_empty());
    }
}
