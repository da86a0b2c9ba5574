//! The event log: one row per change, in the change's own transaction, and
//! the webhook deliveries it fans out to, in the same statement pair.

use super::after_commit::Work;
use super::sql::{Conn, Param, Result};
use crate::domain::Millis;
use crate::domain::event::EventType;
use uuid::Uuid;

pub struct NewEvent<'a> {
    pub uuid: Uuid,
    pub org_id: i64,
    pub kind: EventType,
    pub occurred_at: Millis,
    /// The whole event as JSON, as it is listed and delivered.
    pub body: &'a str,
}

/// Which endpoints a new event goes to.
pub enum Fanout {
    /// Every enabled endpoint of the organization that wants its type.
    Subscribed,
    /// Only this endpoint (a `webhook.test`), whatever it wants.
    Only(i64),
}

/// Appends the event and queues a delivery to each endpoint it goes to;
/// answers the event's id.
pub fn insert(conn: &Conn, event: &NewEvent<'_>, fanout: Fanout) -> Result<i64> {
    let id: i64 = conn.query_one(
        "INSERT INTO events (uuid, org_id, type, occurred_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        &[
            &event.uuid.to_string(),
            &event.org_id,
            &event.kind.as_str(),
            &event.occurred_at.0,
            &event.body,
        ],
        |row| row.get(0),
    )?;
    // Types are checked names without `%`; `_` matches itself among them.
    let queued = match fanout {
        Fanout::Subscribed => conn.execute(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at)
             SELECT id, ?1, 'pending', ?2, ?2 FROM webhook_endpoints
             WHERE org_id = ?3 AND enabled = 1 AND (event_types = '' OR event_types LIKE ?4)",
            &[
                &id,
                &event.occurred_at.0,
                &event.org_id,
                &format!("%,{},%", event.kind.as_str()),
            ],
        )?,
        Fanout::Only(endpoint_id) => conn.execute(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at)
             SELECT id, ?1, 'pending', ?2, ?2 FROM webhook_endpoints WHERE id = ?3 AND org_id = ?4",
            &[&id, &event.occurred_at.0, &endpoint_id, &event.org_id],
        )?,
    };
    if queued > 0 {
        conn.queued(Work::Webhooks);
    }
    Ok(id)
}

/// What `GET /v1/organization/events` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Any of these types; empty: every type.
    pub types: Vec<EventType>,
    /// Occurred at or after.
    pub since: Option<Millis>,
    /// Occurred before.
    pub until: Option<Millis>,
    /// Only events older than this one (the cursor).
    pub before_id: Option<i64>,
}

/// A logged event: its position (the cursor) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub id: i64,
    pub body: String,
}

/// Up to `limit` of the organization's events, newest first. The cursor
/// makes every page one range of `events_org`, or with types one range of
/// `events_org_type` per type (merged): no page costs more for being deep.
pub fn list(conn: &Conn, org_id: i64, query: &EventQuery, limit: i64) -> Result<Vec<LoggedEvent>> {
    let before = query.before_id.unwrap_or(i64::MAX);
    let since = query.since.map_or(i64::MIN, |m| m.0);
    let until = query.until.map_or(i64::MAX, |m| m.0);
    let names: Vec<&str> = query.types.iter().map(|t| t.as_str()).collect();
    let mut params: Vec<&dyn Param> = vec![&org_id, &before, &since, &until, &limit];
    const RANGE: &str = "org_id = ?1 AND id < ?2 AND occurred_at >= ?3 AND occurred_at < ?4";
    let sql = if names.is_empty() {
        format!("SELECT id, body FROM events WHERE {RANGE} ORDER BY id DESC LIMIT ?5")
    } else {
        let arms: Vec<String> = (0..names.len())
            .map(|i| {
                format!(
                    "SELECT id, body FROM (SELECT id, body FROM events
                     WHERE {RANGE} AND type = ?{} ORDER BY id DESC LIMIT ?5) AS t{i}",
                    i + 6
                )
            })
            .collect();
        for name in &names {
            params.push(name);
        }
        format!(
            "SELECT id, body FROM ({}) AS merged ORDER BY id DESC LIMIT ?5",
            arms.join(" UNION ALL ")
        )
    };
    conn.query_all(&sql, &params, |row| {
        Ok(LoggedEvent {
            id: row.get(0)?,
            body: row.get(1)?,
        })
    })
}

/// Deletes up to `batch` events that occurred before `before` (their
/// deliveries and attempts go with them); answers how many went.
pub fn prune(conn: &Conn, before: Millis, batch: i64) -> Result<usize> {
    conn.execute(
        &format!(
            "DELETE FROM events WHERE id IN
                (SELECT id FROM events WHERE occurred_at < ?1 LIMIT ?2{})",
            conn.skip_locked()
        ),
        &[&before.0, &batch],
    )
}
