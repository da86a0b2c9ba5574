//! The console's audit log, `/admin/orgs/{uuid}/activity`: the
//! organization's events, newest first, as the events API gives them.

use super::{Chrome, ConsolePageError, Visit};
use crate::domain::Millis;
use crate::domain::event::EventType;
use crate::services::console::Need;
use crate::services::events::{self, EventQuery};
use crate::services::{ServiceError, console as gate};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;

/// How many events one page of the console's log shows.
pub const PAGE_SIZE: i64 = 50;

/// One event as a line of the log.
pub struct ActivityRow {
    pub when_iso: String,
    pub when_human: String,
    pub kind: String,
    pub subject: String,
    pub actor: String,
}

impl ActivityRow {
    /// The row for an event as the audit log stores it (JSON); what it
    /// lacks stays blank.
    pub fn from_event(body: &str) -> ActivityRow {
        let event: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |pointer: &str| {
            event
                .pointer(pointer)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let id = |pointer: &str| {
            event
                .pointer(pointer)
                .and_then(|v| v.as_i64())
                .map(|id| id.to_string())
                .unwrap_or_default()
        };
        let when_iso = text("/occurredAt");
        let when_human = chrono::DateTime::parse_from_rfc3339(&when_iso)
            .map(|at| Millis(at.timestamp_millis()).to_human())
            .unwrap_or_else(|_| when_iso.clone());
        let subject = [
            "/data/invitation/inviteeEmail",
            "/data/user/email",
            "/data/apiKey/name",
            "/data/webhook/url",
            "/data/domain/domain",
        ]
        .iter()
        .map(|pointer| text(pointer))
        .find(|found| !found.is_empty())
        .unwrap_or_default();
        let actor = match text("/actor/type").as_str() {
            "user" => format!("user #{}", id("/actor/userId")),
            "api_key" => format!("API key #{}", id("/actor/apiKeyId")),
            "client" => format!("app {}", text("/actor/clientId")),
            "system" => "enlist".into(),
            "cli" => "command line".into(),
            "domain" => format!("domain {}", text("/actor/domain")),
            other => other.to_owned(),
        };
        ActivityRow {
            when_iso,
            when_human,
            kind: text("/type"),
            subject,
            actor,
        }
    }
}

#[derive(Template)]
#[template(path = "console/activity.html")]
pub struct ActivityPage {
    pub chrome: Chrome,
    pub rows: Vec<ActivityRow>,
    pub types: Vec<&'static str>,
    pub chosen_type: String,
    pub older_href: Option<String>,
    pub newest_href: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ActivityQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<String>,
}

fn query(raw: &str) -> Result<(EventQuery, String), ServiceError> {
    let parsed: ActivityQuery = serde_urlencoded::from_str(raw).map_err(|e| {
        ServiceError::invalid("query", format!("the query string is malformed: {e}"))
    })?;
    let mut query = EventQuery::default();
    let kind = parsed.kind.unwrap_or_default();
    if !kind.is_empty() {
        query.types = vec![
            kind.parse::<EventType>()
                .map_err(|e| ServiceError::invalid("type", e.to_string()))?,
        ];
    }
    if let Some(after) = parsed.after.filter(|after| !after.is_empty()) {
        query.before_id = Some(events::decode_cursor(&after).ok_or_else(|| {
            ServiceError::invalid("after", "after must be a cursor from an Older link")
        })?);
    }
    Ok((query, kind))
}

/// `GET /admin/orgs/{uuid}/activity`
pub async fn show(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let asked = query(visit.request().query_string());
    let (admin, (found, kind, deeper)) = visit
        .read(&state, "activity", Need::ACTIVITY, move |conn, admin, _| {
            let (query, kind) = asked?;
            let page = events::list(conn, admin.org_id(), &query, PAGE_SIZE)?;
            Ok((page, kind, query.before_id.is_some()))
        })
        .await?;
    let chrome = visit.chrome(&admin, "activity");
    let with_type = |extra: &str| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !kind.is_empty() {
            query.append_pair("type", &kind);
        }
        if !extra.is_empty() {
            query.append_pair("after", extra);
        }
        let query = query.finish();
        let base = chrome.href("/activity");
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    };
    let page = ActivityPage {
        rows: found
            .items
            .iter()
            .map(|body| ActivityRow::from_event(body))
            .collect(),
        types: EventType::ALL.iter().map(|t| t.as_str()).collect(),
        older_href: found.next_cursor.as_deref().map(with_type),
        newest_href: deeper.then(|| with_type("")),
        chosen_type: kind.clone(),
        chrome,
    };
    super::shown(&state, &page, &page.chrome)
}

/// The overview's recent activity: the same rows.
pub fn rows(overview: &gate::Overview) -> Vec<ActivityRow> {
    overview
        .recent_events
        .iter()
        .flatten()
        .map(|body| ActivityRow::from_event(body))
        .collect()
}
