//! `GET /v1/organization/events`: the audit log, newest first.

use crate::api::extract::api_key::PresentedKey;
use crate::api::params;
use crate::domain::event::EventType;
use crate::domain::{Millis, Scope};
use crate::http::problem::ApiError;
use crate::services;
use crate::services::events::{EventPage, EventQuery, LIMIT_DEFAULT, LIMIT_MAX};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};

/// The audit log: one page of the organization's events, newest first.
#[utoipa::path(
    get, path = "/v1/organization/events", operation_id = "listEvents", tag = "Events",
    params(crate::api::openapi::EventListParams),
    security(("api_key" = ["events:read"])),
    responses(
        (status = 200, description = "One page of events, newest first; `nextCursor` continues it (null on the last page)", body = crate::api::openapi::EventPageDoc),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Parameters are checked now and reported after the key and its scope.
    let request = list_request(req.query_string());
    let page = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::EventsRead)?;
            let (query, limit) = request?;
            Ok::<_, ApiError>(services::events::list(
                conn,
                caller.org_id(),
                &query,
                limit,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(page_json(&page)))
}

/// The page, with each stored event spliced in as it is (stored as JSON).
fn page_json(page: &EventPage) -> String {
    let size: usize = page.items.iter().map(|item| item.len() + 1).sum();
    let mut body = String::with_capacity(size + 64);
    body.push_str("{\"items\":[");
    for (index, item) in page.items.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push_str("],\"limit\":");
    body.push_str(&page.limit.to_string());
    body.push_str(",\"nextCursor\":");
    match &page.next_cursor {
        // Base64url: nothing to escape.
        Some(cursor) => {
            body.push('"');
            body.push_str(cursor);
            body.push('"');
        }
        None => body.push_str("null"),
    }
    body.push('}');
    body
}

fn list_request(raw: &str) -> Result<(EventQuery, i64), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| ApiError::bad_request("query", "the query string is not URL-encoded"))?;
    let mut query = EventQuery::default();
    let mut limit = None;
    let mut types = Vec::new();
    let one = |name: &'static str, seen: bool| {
        if seen {
            Err(ApiError::bad_request(
                name,
                format!("{name} may be given once"),
            ))
        } else {
            Ok(())
        }
    };
    for (name, value) in &pairs {
        match name.as_str() {
            "limit" => {
                one("limit", limit.is_some())?;
                limit = params::integer("limit", Some(value))?;
            }
            "after" => {
                one("after", query.before_id.is_some())?;
                query.before_id = Some(services::events::decode_cursor(value.trim()).ok_or_else(
                    || {
                        ApiError::bad_request(
                            "after",
                            "after must be a nextCursor this API answered",
                        )
                    },
                )?);
            }
            "type" => types.push(value.as_str()),
            "since" => {
                one("since", query.since.is_some())?;
                query.since = Some(timestamp("since", value)?);
            }
            "until" => {
                one("until", query.until.is_some())?;
                query.until = Some(timestamp("until", value)?);
            }
            _ => {}
        }
    }
    query.types = EventType::parse_lists(&types).map_err(|e| {
        ApiError::bad_request("type", format!("{e}; known types: {}", EventType::known()))
    })?;
    let limit = limit.unwrap_or(LIMIT_DEFAULT);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            format!("limit must be between 1 and {LIMIT_MAX}, got {limit}"),
        ));
    }
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(ApiError::bad_request(
            "until",
            "until must be later than since",
        ));
    }
    Ok((query, limit))
}

fn timestamp(field: &'static str, raw: &str) -> Result<Millis, ApiError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| Millis(t.timestamp_millis()))
        .map_err(|_| {
            ApiError::bad_request(
                field,
                format!(
                    "{field} must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z, got `{}`",
                    params::clip(raw)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_spliced_into_valid_json() {
        let page = EventPage {
            items: vec![r#"{"id":"a"}"#.into(), r#"{"id":"b"}"#.into()],
            limit: 2,
            next_cursor: Some("ZXYxOjU".into()),
        };
        let parsed: serde_json::Value = serde_json::from_str(&page_json(&page)).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"items": [{"id": "a"}, {"id": "b"}], "limit": 2, "nextCursor": "ZXYxOjU"})
        );
        let empty = EventPage {
            items: vec![],
            limit: 100,
            next_cursor: None,
        };
        assert_eq!(
            page_json(&empty),
            r#"{"items":[],"limit":100,"nextCursor":null}"#
        );
    }

    #[test]
    fn queries_take_repeated_and_listed_types_and_refuse_bad_values() {
        let (query, limit) =
            list_request("type=member.added&type=invitation.created,invitation.expired&limit=5")
                .unwrap();
        assert_eq!(limit, 5);
        assert_eq!(
            query.types,
            vec![
                EventType::InvitationCreated,
                EventType::InvitationExpired,
                EventType::MemberAdded
            ]
        );
        for bad in [
            "type=nope",
            "limit=0",
            "limit=1001",
            "after=xyz",
            "since=yesterday",
            "limit=1&limit=2",
        ] {
            assert!(list_request(bad).is_err(), "{bad}");
        }
    }
}
