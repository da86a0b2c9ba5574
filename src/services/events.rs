//! The event log: every change records what happened, by whom, and the
//! subject's state after it, in the change's own transaction (so an event
//! exists exactly when its change committed), and queues it for the
//! organization's webhooks in the same breath. The audit API pages it.

use super::{ServiceError, ServiceResult};
use crate::db;
use crate::db::Conn;
pub use crate::db::events::EventQuery;
use crate::db::events::{Fanout, LoggedEvent, NewEvent};
use crate::domain::event::{EventType, Origin};
use crate::domain::role::RoleDefinition;
use crate::domain::team::Team;
use crate::domain::{ApiKey, Invitation, InvitationExtras, Member, Millis};
use crate::domain::{OrgId, UserId};
use crate::views::{
    ApiKeyBody, DomainBody, InvitationDetailBody, MemberBody, RoleBody, TeamBody, WebhookBody,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// The event as it is stored, listed and delivered (field order included).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventBody<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: Millis,
    organization_id: i64,
    actor: &'a crate::domain::event::Actor,
    request_id: Option<&'a str>,
    data: serde_json::Value,
}

/// Records an event and queues it for `fanout`; answers its id.
fn append(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    kind: EventType,
    data: serde_json::Value,
    fanout: Fanout,
    now: Millis,
) -> ServiceResult<Uuid> {
    let uuid = Uuid::new_v4();
    let body = serde_json::to_string(&EventBody {
        id: uuid,
        kind: kind.as_str(),
        occurred_at: now,
        organization_id: org_id,
        actor: &origin.actor,
        request_id: origin.request_id.as_deref(),
        data,
    })
    .map_err(|e| ServiceError::Internal(format!("event body: {e}")))?;
    db::events::insert(
        tx,
        &NewEvent {
            uuid,
            org_id,
            kind,
            occurred_at: now,
            body: &body,
        },
        fanout,
    )?;
    Ok(uuid)
}

/// Records an event for every subscribed endpoint.
pub fn record(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    kind: EventType,
    data: serde_json::Value,
    now: Millis,
) -> ServiceResult<()> {
    append(tx, origin, org_id, kind, data, Fanout::Subscribed, now).map(|_| ())
}

/// Records a `webhook.test` event, delivered to that one endpoint only;
/// answers its id.
pub(super) fn record_test(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    endpoint_id: i64,
    data: serde_json::Value,
    now: Millis,
) -> ServiceResult<Uuid> {
    append(
        tx,
        origin,
        org_id,
        EventType::WebhookTest,
        data,
        Fanout::Only(endpoint_id),
        now,
    )
}

fn to_value(shape: impl Serialize) -> ServiceResult<serde_json::Value> {
    serde_json::to_value(shape).map_err(|e| ServiceError::Internal(format!("event data: {e}")))
}

/// `{"invitation": …}`: the invitation as `GET /v1/organization/invitations/{id}`
/// answers it. `extras` when the caller has them at hand, read otherwise.
pub fn invitation(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    invitation: &Invitation,
    extras: Option<InvitationExtras>,
    now: Millis,
) -> ServiceResult<()> {
    let extras = match extras {
        Some(extras) => extras,
        None => db::invitations::extras(tx, invitation.id)?,
    };
    let data = serde_json::json!({
        "invitation": to_value(InvitationDetailBody::from((invitation.clone(), extras)))?,
    });
    record(tx, origin, invitation.org_id, kind, data, now)
}

/// `{"user": …}` (the users-list shape), with more fields where the event
/// has them (`previousRole`, `invitationId`, `joinLinkId`).
pub fn member(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    org_id: i64,
    member: &Member,
    more: serde_json::Map<String, serde_json::Value>,
    now: Millis,
) -> ServiceResult<()> {
    let mut data = serde_json::Map::new();
    data.insert("user".into(), to_value(MemberBody::from(member.clone()))?);
    data.extend(more);
    record(tx, origin, org_id, kind, data.into(), now)
}

/// `{"role": …}` as `GET /v1/organization/roles/{key}` answers it; a
/// `role.updated` also carries the role as it was (`previous`).
pub fn role(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    org_id: i64,
    role: &RoleDefinition,
    previous: Option<&RoleDefinition>,
    now: Millis,
) -> ServiceResult<()> {
    let mut data = serde_json::Map::new();
    data.insert("role".into(), to_value(RoleBody::from(role.clone()))?);
    if let Some(previous) = previous {
        data.insert(
            "previous".into(),
            to_value(RoleBody::from(previous.clone()))?,
        );
    }
    record(tx, origin, org_id, kind, data.into(), now)
}

/// `{"team": …}` as `GET /v1/organization/teams/{id}` answers it; a
/// `team.updated` also carries the team as it was (`previous`).
pub fn team(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    team: &Team,
    previous: Option<&Team>,
    now: Millis,
) -> ServiceResult<()> {
    let mut data = serde_json::Map::new();
    data.insert("team".into(), to_value(TeamBody::from(team.clone()))?);
    if let Some(previous) = previous {
        data.insert(
            "previous".into(),
            to_value(TeamBody::from(previous.clone()))?,
        );
    }
    record(tx, origin, team.org_id, kind, data.into(), now)
}

/// `{"organization": …, "changed": [fields]}`: the organization as
/// `GET /v1/organization` answers it after a `PATCH`, and the request
/// fields (`name`, `logoUrl`, `metadata`) whose value changed.
pub fn organization_updated(
    tx: &Conn,
    origin: &Origin,
    org: &crate::domain::Organization,
    changed: &[&str],
    now: Millis,
) -> ServiceResult<()> {
    let mut data = serde_json::Map::new();
    data.insert(
        "organization".into(),
        to_value(crate::views::OrganizationBody::from(org.clone()))?,
    );
    data.insert("changed".into(), to_value(changed)?);
    record(
        tx,
        origin,
        org.id,
        EventType::OrganizationUpdated,
        data.into(),
        now,
    )
}

/// `{"team": …, "user": …}`: someone put in a team or taken out of one
/// (the team as it is after the change).
pub fn team_member(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    team: &Team,
    member: &Member,
    now: Millis,
) -> ServiceResult<()> {
    let mut data = serde_json::Map::new();
    data.insert("team".into(), to_value(TeamBody::from(team.clone()))?);
    data.insert("user".into(), to_value(MemberBody::from(member.clone()))?);
    record(tx, origin, team.org_id, kind, data.into(), now)
}

/// `{"domain": …}` as `GET /v1/organization/domains/{id}` answers it.
pub fn domain(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    domain: &crate::domain::org_domain::OrgDomain,
    now: Millis,
) -> ServiceResult<()> {
    let data = serde_json::json!({ "domain": to_value(DomainBody::from(domain.clone()))? });
    record(tx, origin, domain.org_id, kind, data, now)
}

/// `member.added` for someone just made a member, read back as the users
/// list shows them.
pub fn member_added(
    tx: &Conn,
    origin: &Origin,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    more: serde_json::Map<String, serde_json::Value>,
    now: Millis,
) -> ServiceResult<()> {
    let added = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    member(
        tx,
        origin,
        EventType::MemberAdded,
        org_id,
        &added,
        more,
        now,
    )
}

/// `{"apiKey": …}`, without its secret.
pub fn api_key(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    key: &ApiKey,
    now: Millis,
) -> ServiceResult<()> {
    let data = serde_json::json!({ "apiKey": to_value(ApiKeyBody::new(key.clone(), None))? });
    record(tx, origin, key.org_id, kind, data, now)
}

/// `{"webhook": …}`, without its secret.
pub fn webhook(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    endpoint: &crate::domain::webhook::WebhookEndpoint,
    now: Millis,
) -> ServiceResult<()> {
    let mut shown = WebhookBody::from(endpoint.clone());
    // Hook URLs often carry a token in their path or query: events (which
    // `events:read` keys and other endpoints see) name only the origin.
    shown.url = url_origin(&shown.url);
    let data = serde_json::json!({ "webhook": to_value(shown)? });
    record(tx, origin, endpoint.org_id, kind, data, now)
}

/// `https://host[:port]` of a URL, without its path, query or credentials.
fn url_origin(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

/// The most events one page holds, and the default.
pub const LIMIT_MAX: i64 = 1000;
pub const LIMIT_DEFAULT: i64 = 100;

/// One page of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Each event's JSON, newest first.
    pub items: Vec<String>,
    pub limit: i64,
    /// Where the next page starts, when there may be one.
    pub next_cursor: Option<String>,
}

/// What the cursor says: the position of the last event listed. Opaque to
/// clients (its form may change); stable while new events arrive, because
/// positions only grow.
pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("ev1:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("ev1:")?.parse().ok().filter(|id| *id > 0)
}

/// The organization's events, newest first.
pub fn list(conn: &Conn, org_id: i64, query: &EventQuery, limit: i64) -> ServiceResult<EventPage> {
    let limit = limit.clamp(1, LIMIT_MAX);
    // One more than asked tells whether another page follows.
    let mut found = db::events::list(conn, org_id, query, limit + 1)?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor = match found.last() {
        Some(LoggedEvent { id, .. }) if more => Some(encode_cursor(*id)),
        _ => None,
    };
    Ok(EventPage {
        items: found.into_iter().map(|event| event.body).collect(),
        limit,
        next_cursor,
    })
}

/// How many events one prune deletes at most.
pub const PRUNE_BATCH: usize = 1000;

/// Deletes a batch of events older than `retention`; answers how many went.
pub fn prune(tx: &Conn, retention: Duration, now: Millis) -> ServiceResult<usize> {
    let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    Ok(db::events::prune(
        tx,
        Millis(now.0.saturating_sub(keep_ms)),
        PRUNE_BATCH as i64,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_events_name_only_the_endpoints_origin() {
        assert_eq!(
            url_origin("https://hooks.example.com:8443/T0/B1/secret-token?x=1"),
            "https://hooks.example.com:8443"
        );
        assert_eq!(
            url_origin("https://hooks.example.com/in"),
            "https://hooks.example.com"
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for id in [1, 42, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
        for bad in [
            "",
            "abc",
            "ev1:5",
            &URL_SAFE_NO_PAD.encode("ev1:-3"),
            &URL_SAFE_NO_PAD.encode("ev2:5"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
