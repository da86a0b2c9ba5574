//! Webhook endpoints (the admin API's use cases) and the delivery queue's
//! bookkeeping (the worker's): every change to an endpoint is an event, and
//! every attempt is recorded with the delivery's new state in one write.

use super::{ServiceError, ServiceResult, events};
use crate::auth::webhook_signing;
use crate::db;
use crate::db::Conn;
pub use crate::db::webhooks::{AttemptRecord, DueDelivery};
use crate::db::webhooks::{EndpointFields, Outcome};
use crate::domain::event::{EventType, Origin};
use crate::domain::webhook::{ENDPOINTS_PER_ORG_MAX, RetrySchedule, WebhookEndpoint};
use crate::domain::{Millis, Page, Paged};
use crate::services::error_code::ErrorCode;
use std::time::Duration;

/// How long a replaced secret keeps signing, so receivers can switch over.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The most attempts `GET …/deliveries` reaches back to.
pub const ATTEMPTS_LISTED_MAX: i64 = 1000;

/// A new endpoint's fields, checked (its URL vetted) by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    pub description: String,
}

/// An endpoint and its secret, shown once (at creation and rotation).
#[derive(Debug, Clone)]
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// The event types a request or form names (`events`), checked; none: every type.
pub fn event_types(raw: &[String]) -> ServiceResult<Vec<EventType>> {
    EventType::parse_lists(raw).map_err(|e| {
        ServiceError::invalid(
            "events",
            format!("{e}; known types: {}", EventType::known()),
        )
    })
}

/// The longest description accepted.
pub const DESCRIPTION_MAX: usize = 500;

/// An endpoint's description, trimmed and checked.
pub fn description(raw: &str) -> ServiceResult<String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > DESCRIPTION_MAX {
        return Err(ServiceError::invalid(
            "description",
            format!("description must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    crate::domain::name::check("description", trimmed)?;
    Ok(trimmed.to_owned())
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("webhook")
}

pub fn create(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    new: &NewEndpoint,
    now: Millis,
) -> ServiceResult<WithSecret> {
    // Two creates at once on two nodes must not both pass the cap.
    tx.lock_key(&format!("webhooks/{org_id}"))?;
    if db::webhooks::count(tx, org_id)? >= ENDPOINTS_PER_ORG_MAX {
        return Err(ServiceError::conflict(
            ErrorCode::WebhookLimit,
            format!(
                "an organization may have at most {ENDPOINTS_PER_ORG_MAX} webhook endpoints; \
                 delete one first"
            ),
        ));
    }
    let secret = webhook_signing::new_secret();
    let endpoint = db::webhooks::insert(
        tx,
        org_id,
        &EndpointFields {
            url: &new.url,
            event_types: &new.event_types,
            enabled: new.enabled,
            description: &new.description,
        },
        &secret,
        now,
    )?;
    events::webhook(tx, origin, EventType::WebhookCreated, &endpoint, now)?;
    Ok(WithSecret { endpoint, secret })
}

pub fn get(conn: &Conn, org_id: i64, id: i64) -> ServiceResult<WebhookEndpoint> {
    db::webhooks::get(conn, org_id, id)?.ok_or_else(not_found)
}

pub fn list(conn: &Conn, org_id: i64, page: Page) -> ServiceResult<Paged<WebhookEndpoint>> {
    let total_count = db::webhooks::count(conn, org_id)?;
    let items = db::webhooks::list(conn, org_id, page.limit, page.offset)?;
    Ok(page.of(items, total_count))
}

/// What a PATCH changes; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
}

pub fn update(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    patch: EndpointPatch,
    now: Millis,
) -> ServiceResult<WebhookEndpoint> {
    let current = get(tx, org_id, id)?;
    let url = patch.url.unwrap_or(current.url);
    let event_types = patch.event_types.unwrap_or(current.event_types);
    let description = patch.description.unwrap_or(current.description);
    db::webhooks::update(
        tx,
        id,
        &EndpointFields {
            url: &url,
            event_types: &event_types,
            enabled: patch.enabled.unwrap_or(current.enabled),
            description: &description,
        },
        now,
    )?;
    let updated = get(tx, org_id, id)?;
    events::webhook(tx, origin, EventType::WebhookUpdated, &updated, now)?;
    Ok(updated)
}

/// Deletes the endpoint with its queue and attempts; answers its id.
pub fn delete(tx: &Conn, origin: &Origin, org_id: i64, id: i64, now: Millis) -> ServiceResult<i64> {
    let endpoint = db::webhooks::get_to_delete(tx, org_id, id)?.ok_or_else(not_found)?;
    db::webhooks::delete(tx, id)?;
    // After the delete, so the event is not queued for the endpoint it removes.
    events::webhook(tx, origin, EventType::WebhookDeleted, &endpoint, now)?;
    Ok(id)
}

/// A new secret; the old one signs too for [`PREVIOUS_SECRET_GRACE`].
pub fn rotate_secret(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    now: Millis,
) -> ServiceResult<WithSecret> {
    get(tx, org_id, id)?;
    let secret = webhook_signing::new_secret();
    db::webhooks::rotate_secret(tx, id, &secret, now.plus(PREVIOUS_SECRET_GRACE), now)?;
    let endpoint = get(tx, org_id, id)?;
    events::webhook(tx, origin, EventType::WebhookSecretRotated, &endpoint, now)?;
    Ok(WithSecret { endpoint, secret })
}

/// Queues a `webhook.test` event for this endpoint alone; answers its id.
pub fn send_test(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    now: Millis,
) -> ServiceResult<uuid::Uuid> {
    let endpoint = get(tx, org_id, id)?;
    if !endpoint.enabled {
        return Err(ServiceError::conflict(
            ErrorCode::WebhookDisabled,
            "the endpoint is disabled; enable it (PATCH enabled: true) to send to it",
        ));
    }
    let data = serde_json::json!({
        "webhook": serde_json::to_value(crate::views::WebhookBody::from(endpoint))
            .map_err(|e| ServiceError::Internal(format!("event data: {e}")))?,
    });
    events::record_test(tx, origin, org_id, id, data, now)
}

/// The endpoint's recent attempts, newest first.
pub fn attempts(
    conn: &Conn,
    org_id: i64,
    id: i64,
    page: Page,
) -> ServiceResult<Paged<AttemptRecord>> {
    get(conn, org_id, id)?;
    let total_count = db::webhooks::attempt_count(conn, id, ATTEMPTS_LISTED_MAX)?;
    let room = (ATTEMPTS_LISTED_MAX - page.offset).max(0);
    let items = db::webhooks::attempts(conn, id, page.limit.min(room), page.offset)?;
    Ok(page.of(items, total_count))
}

/// Deliveries whose turn has come, one per endpoint nobody is delivering
/// to: what a worker may claim. A read, so an idle poll writes nothing.
pub fn due(conn: &Conn, limit: i64, now: Millis) -> ServiceResult<Vec<DueDelivery>> {
    Ok(db::webhooks::due_heads(conn, now, limit)?)
}

/// Claims, for `lease`, those of `candidates` no other worker took first;
/// answers them with their lease.
pub fn claim(
    tx: &Conn,
    candidates: Vec<DueDelivery>,
    lease: Duration,
    now: Millis,
) -> ServiceResult<Vec<DueDelivery>> {
    let lease_until = now.plus(lease);
    let mut claimed = Vec::with_capacity(candidates.len());
    for mut candidate in candidates {
        if db::webhooks::claim(tx, &candidate, lease_until, now)? {
            candidate.lease_until = lease_until;
            claimed.push(candidate);
        }
    }
    Ok(claimed)
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    pub duration_ms: i64,
    /// Why it failed, if it did (a 2xx is the one success).
    pub error: Option<String>,
}

impl AttemptResult {
    pub fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Records an attempt at `due`: delivered, retried later per `schedule`, or
/// given up. An endpoint whose every attempt has failed for `disable_after`
/// is disabled (its queue given up) with a `webhook.disabled` event.
/// `jitter` (-1..=1) moves the retry time.
pub fn finish(
    tx: &Conn,
    due: &DueDelivery,
    result: &AttemptResult,
    schedule: RetrySchedule,
    disable_after: Duration,
    jitter: f64,
    now: Millis,
) -> ServiceResult<()> {
    let number = due.attempts + 1;
    let outcome = if result.delivered() {
        Outcome::Delivered
    } else {
        match schedule.wait_after(number, jitter) {
            Some(wait) => Outcome::Retrying(now.plus(wait)),
            None => Outcome::Failed,
        }
    };
    let recorded = db::webhooks::record_attempt(
        tx,
        &db::webhooks::Attempt {
            delivery_id: due.id,
            endpoint_id: due.endpoint_id,
            number,
            outcome,
            response_status: result.status,
            duration_ms: result.duration_ms,
            error: result.error.as_deref(),
        },
        due.lease_until,
        now,
    )?;
    if !recorded {
        // The claim ran out and another worker took the delivery: its
        // outcome is the one that counts.
        return Ok(());
    }
    let failing_since = due.failing_since.unwrap_or(now);
    if outcome != Outcome::Delivered && failing_since.plus(disable_after) <= now {
        let reason = format!(
            "every delivery failed since {}; the last: {}",
            failing_since.to_rfc3339(),
            result.error.as_deref().unwrap_or("no answer")
        );
        if db::webhooks::disable(tx, due.endpoint_id, &reason, now)?
            && let Some(endpoint) = db::webhooks::get(tx, due.org_id, due.endpoint_id)?
        {
            events::webhook(
                tx,
                &Origin::system(),
                EventType::WebhookDisabled,
                &endpoint,
                now,
            )?;
        }
    }
    Ok(())
}
