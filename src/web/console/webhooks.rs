//! The console's webhooks: the organization's endpoints with their state,
//! adding one (its signing secret shown once), turning one off and on,
//! sending it a test event, rotating its secret and deleting it.

use super::{Chrome, ConsoleError, FieldError, ForAdmin, Visit};
use crate::domain::Page;
use crate::domain::event::EventType;
use crate::domain::webhook::WebhookEndpoint;
use crate::services::webhooks::{EndpointPatch, NewEndpoint, WithSecret};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub state: String,
    pub created_human: String,
}

impl From<&WebhookEndpoint> for EndpointRow {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        let state = match (
            &endpoint.disabled_reason,
            endpoint.enabled,
            endpoint.failing_since,
        ) {
            (_, true, Some(since)) => format!("Failing since {}", since.to_human()),
            (_, true, None) => "Active".into(),
            (Some(reason), false, _) => format!("Turned off by enlist: {reason}"),
            (None, false, _) => "Turned off".into(),
        };
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: if endpoint.event_types.is_empty() {
                "every event".into()
            } else {
                endpoint
                    .event_types
                    .iter()
                    .map(|kind| kind.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            enabled: endpoint.enabled,
            state,
            created_human: endpoint.created_at.to_human(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
pub struct WebhooksPage {
    pub chrome: Chrome,
    pub rows: Vec<EndpointRow>,
}

/// An organization has at most this many endpoints, so one page holds them.
const LISTED: i64 = 100;

/// `GET /admin/orgs/{uuid}/webhooks`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let visit = Visit::new(&req, &state, &path);
    let found = state
        .db
        .read(move |conn| {
            let admin = visit.admit(conn)?;
            let page = Page {
                limit: LISTED,
                offset: 0,
            };
            let found = services::webhooks::list(conn, admin.org_id(), page).for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, found))
        })
        .await;
    let (admin, found) = match found {
        Ok(found) => found,
        Err(error) => return super::error_response(&req, &state, error),
    };
    let chrome = Chrome::new(&req, &admin, "webhooks");
    let page = WebhooksPage {
        rows: found.items.iter().map(EndpointRow::from).collect(),
        chrome,
    };
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

/// One event type's checkbox.
pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// The new-endpoint form as typed (`event` repeats, one per box ticked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
}

impl EndpointForm {
    fn from_body(body: &[u8]) -> Self {
        let mut form = EndpointForm::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "url" => form.url = value.into_owned(),
                "description" => form.description = value.into_owned(),
                "event" => form.events.push(value.into_owned()),
                _ => {}
            }
        }
        form
    }

    fn choices(&self) -> Vec<EventChoice> {
        EventType::ALL
            .iter()
            .map(|kind| EventChoice {
                name: kind.as_str(),
                checked: self.events.iter().any(|chosen| chosen == kind.as_str()),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "console/webhook_new.html")]
pub struct NewEndpointPage {
    pub chrome: Chrome,
    pub url: String,
    pub description: String,
    pub events: Vec<EventChoice>,
    /// The field an error is about (`url`, `description`, `events`) and what is wrong.
    pub field_error: FieldError,
    /// An error about the whole form.
    pub error: Option<String>,
}

impl NewEndpointPage {
    fn new(chrome: Chrome, form: &EndpointForm) -> Self {
        Self {
            chrome,
            url: form.url.clone(),
            description: form.description.clone(),
            events: form.choices(),
            field_error: FieldError::default(),
            error: None,
        }
    }
}

/// The page that shows an endpoint's signing secret, once.
#[derive(Template)]
#[template(path = "console/webhook_secret.html")]
pub struct SecretPage {
    pub chrome: Chrome,
    pub heading: &'static str,
    pub row: EndpointRow,
    pub secret: String,
}

/// `GET /admin/orgs/{uuid}/webhooks/new`
pub async fn new(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match super::admit(&req, &state, &path).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let page = NewEndpointPage::new(
        Chrome::new(&req, &admin, "webhooks"),
        &EndpointForm::default(),
    );
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

/// `POST /admin/orgs/{uuid}/webhooks`: adds the endpoint and shows its secret.
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    let form = EndpointForm::from_body(&body);
    let visit = Visit::new(&req, &state, &path);
    // Only an admin's URL is looked up (DNS): whoever asks is admitted
    // first, then again inside the write.
    if let Err(page) = super::admit(&req, &state, &path).await {
        return page;
    }
    let checked = match crate::webhooks::vet_url(&state.webhook_policy, &form.url).await {
        Ok(url) => services::webhooks::event_types(&form.events).and_then(|event_types| {
            Ok(NewEndpoint {
                url,
                event_types,
                enabled: true,
                description: services::webhooks::description(&form.description)?,
            })
        }),
        Err(why) => Err(ServiceError::invalid("url", why.to_string())),
    };
    let created = state
        .db
        .write(move |tx| {
            let admin = visit.admit_change(tx)?;
            let new = checked.for_admin(&admin)?;
            let created = services::webhooks::create(
                tx,
                &visit.origin(&admin),
                admin.org_id(),
                &new,
                visit.now,
            )
            .for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, created))
        })
        .await;
    match created {
        Ok((admin, created)) => secret_page(
            &req,
            &state,
            &admin,
            (StatusCode::CREATED, "Webhook added"),
            created,
        ),
        Err(ConsoleError::Refused(admin, error)) => {
            let mut page = NewEndpointPage::new(Chrome::new(&req, &admin, "webhooks"), &form);
            let status = match error {
                ServiceError::Invalid { field, detail }
                    if matches!(field, "url" | "description" | "events") =>
                {
                    page.field_error = FieldError::new(field, detail);
                    StatusCode::BAD_REQUEST
                }
                ServiceError::Conflict { detail, .. } => {
                    page.error = Some(detail);
                    StatusCode::CONFLICT
                }
                other => return super::refused(&req, &state, &admin, "webhooks", other),
            };
            super::page(&state, status, &page, &page.chrome, None)
        }
        Err(error) => super::error_response(&req, &state, error),
    }
}

fn secret_page(
    req: &HttpRequest,
    state: &AppState,
    admin: &services::console::ConsoleAdmin,
    (status, heading): (StatusCode, &'static str),
    created: WithSecret,
) -> HttpResponse {
    let page = SecretPage {
        chrome: Chrome::new(req, admin, "webhooks"),
        heading,
        row: EndpointRow::from(&created.endpoint),
        secret: created.secret,
    };
    super::page(state, status, &page, &page.chrome, None)
}

/// What a row's button does.
#[derive(Debug, Clone, Copy)]
pub enum EndpointAction {
    Enable,
    Disable,
    Test,
    Delete,
    RotateSecret,
}

/// `POST /admin/orgs/{uuid}/webhooks/{id}/{action}`
pub async fn act(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    let (org, id, action) = path.into_inner();
    let action = match action.as_str() {
        "enable" => Some(EndpointAction::Enable),
        "disable" => Some(EndpointAction::Disable),
        "test" => Some(EndpointAction::Test),
        "delete" => Some(EndpointAction::Delete),
        "rotate-secret" => Some(EndpointAction::RotateSecret),
        _ => None,
    };
    let done = super::change_row(
        &req,
        &state,
        (org, id),
        "webhook",
        move |tx, admin, origin, id, now| {
            let org_id = admin.org_id();
            let switch = |enabled| EndpointPatch {
                enabled: Some(enabled),
                ..EndpointPatch::default()
            };
            match action.ok_or(ServiceError::NotFound("webhook"))? {
                EndpointAction::Enable => {
                    services::webhooks::update(tx, origin, org_id, id, switch(true), now)
                        .map(|_| Done::Notice("webhook-enabled"))
                }
                EndpointAction::Disable => {
                    services::webhooks::update(tx, origin, org_id, id, switch(false), now)
                        .map(|_| Done::Notice("webhook-disabled"))
                }
                EndpointAction::Test => services::webhooks::send_test(tx, origin, org_id, id, now)
                    .map(|_| Done::Notice("webhook-test")),
                EndpointAction::Delete => services::webhooks::delete(tx, origin, org_id, id, now)
                    .map(|_| Done::Notice("webhook-deleted")),
                EndpointAction::RotateSecret => {
                    services::webhooks::rotate_secret(tx, origin, org_id, id, now)
                        .map(|rotated| Done::Secret(Box::new(rotated)))
                }
            }
        },
    )
    .await;
    match done {
        Ok((admin, Done::Notice(notice))) => crate::web::render::see_other(&format!(
            "/admin/orgs/{}/webhooks?notice={notice}",
            admin.organization.uuid
        )),
        Ok((admin, Done::Secret(rotated))) => secret_page(
            &req,
            &state,
            &admin,
            (StatusCode::OK, "Webhook secret rotated"),
            *rotated,
        ),
        Err(error) => super::failure(&req, &state, "webhooks", error),
    }
}

enum Done {
    Notice(&'static str),
    Secret(Box<WithSecret>),
}
