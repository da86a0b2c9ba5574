//! The console's webhooks: the organization's endpoints with their state,
//! adding one (its signing secret shown once), turning one off and on,
//! sending it a test event, rotating its secret and deleting it.

use super::step_up::{Asked, Carried};
use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, Visit};
use crate::domain::Page;
use crate::domain::event::EventType;
use crate::domain::webhook::WebhookEndpoint;
use crate::services::accounts::{Factors, StepUp};
use crate::services::console::Need;
use crate::services::webhooks::{EndpointPatch, NewEndpoint, WithSecret};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
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
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let every = Page {
        limit: LISTED,
        offset: 0,
    };
    let (admin, found) = visit
        .read(&state, "", Need::WEBHOOKS, move |conn, admin, _| {
            services::webhooks::list(conn, admin.org_id(), every)
        })
        .await?;
    let page = WebhooksPage {
        rows: found.items.iter().map(EndpointRow::from).collect(),
        chrome: visit.chrome(&admin, "webhooks"),
    };
    super::shown(&state, &page, &page.chrome)
}

/// One event type's checkbox.
pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// The new-endpoint form as typed (`event` repeats, one per box ticked).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    /// The admin's second factor, when asked again (step-up).
    pub step_up: Carried,
}

impl From<Vec<(String, String)>> for EndpointForm {
    /// The fields of a posted form, in the order sent.
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut form = EndpointForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "url" => form.url = value,
                "description" => form.description = value,
                "event" => form.events.push(value),
                other => {
                    form.step_up.take(other, value);
                }
            }
        }
        form
    }
}

impl EndpointForm {
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
    /// The second factors the form asks for (step-up; none: not asked).
    pub factors: Factors,
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
            factors: Factors::default(),
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
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(&state, Need::WEBHOOKS).await?;
    let step = super::step_up::factor_only(&visit, &state, &Carried::default())
        .await
        .map_err(|error| visit.refused("webhooks", admin.clone(), error))?;
    let asked = Asked::first(step);
    let mut page = NewEndpointPage::new(visit.chrome(&admin, "webhooks"), &EndpointForm::default());
    page.factors = asked.factors;
    Ok(super::page_with(
        &state,
        StatusCode::OK,
        &page,
        &page.chrome,
        None,
        asked.scripts(),
    ))
}

/// `POST /admin/orgs/{uuid}/webhooks`: adds the endpoint and shows its secret.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<EndpointForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    // Only an admin's URL is looked up (DNS): whoever asks is admitted
    // first, then again inside the write.
    let admin = visit.admitted(&state, Need::WEBHOOKS).await?;
    // A lasting way out for the organization's events: asked again.
    let step = super::step_up::factor_only(&visit, &state, &form.step_up).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        let asked = super::step_up::asked(&visit, &state, step, &form.step_up, "add a webhook")
            .await
            .map_err(|error| visit.refused("webhooks", admin.clone(), error))?;
        let mut page = NewEndpointPage::new(visit.chrome(&admin, "webhooks"), &form);
        page.factors = asked.factors;
        page.field_error = asked.field_error.clone();
        return Ok(super::page_with(
            &state,
            asked.status,
            &page,
            &page.chrome,
            asked.retry_after,
            asked.scripts(),
        ));
    }
    let checked = vet(&state, &form).await;
    let created = visit
        .change(
            &state,
            "webhooks",
            Need::WEBHOOKS,
            move |tx, admin, origin, now| {
                let new = checked?;
                services::webhooks::create(tx, origin, admin.org_id(), &new, now)
            },
        )
        .await;
    match created {
        Ok((admin, created)) => Ok(secret_page(
            &visit,
            &state,
            &admin,
            (StatusCode::CREATED, "Webhook added"),
            created,
        )),
        Err(failure) => {
            failure.or_form(|admin, error| form_again(&visit, &state, admin, &form, error))
        }
    }
}

/// The form again, as typed, saying what is wrong, when the refusal is
/// about what was typed.
fn form_again(
    visit: &Visit,
    state: &AppState,
    admin: &services::console::ConsoleAdmin,
    form: &EndpointForm,
    error: &ServiceError,
) -> Option<HttpResponse> {
    let (status, field_error, whole_form) = match error {
        ServiceError::Invalid { field, detail }
            if matches!(*field, "url" | "description" | "events") =>
        {
            let field_error = FieldError::new(field, detail.clone());
            (StatusCode::BAD_REQUEST, field_error, None)
        }
        ServiceError::Conflict { detail, .. } => (
            StatusCode::CONFLICT,
            FieldError::default(),
            Some(detail.clone()),
        ),
        _ => return None,
    };
    let mut page = NewEndpointPage::new(visit.chrome(admin, "webhooks"), form);
    page.field_error = field_error;
    page.error = whole_form;
    Some(super::page(state, status, &page, &page.chrome, None))
}

/// The endpoint the form asks for, checked: its URL vetted (looked up),
/// its events and description as the admin API checks them.
async fn vet(state: &AppState, form: &EndpointForm) -> Result<NewEndpoint, ServiceError> {
    let url = crate::webhooks::vet_url(&state.webhook_policy, &form.url)
        .await
        .map_err(|why| ServiceError::invalid("url", why.to_string()))?;
    Ok(NewEndpoint {
        url,
        event_types: services::webhooks::event_types(&form.events)?,
        enabled: true,
        description: services::webhooks::description(&form.description)?,
    })
}

fn secret_page(
    visit: &Visit,
    state: &AppState,
    admin: &services::console::ConsoleAdmin,
    (status, heading): (StatusCode, &'static str),
    created: WithSecret,
) -> HttpResponse {
    let page = SecretPage {
        chrome: visit.chrome(admin, "webhooks"),
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

impl EndpointAction {
    /// The action a URL's last segment names, if any.
    fn named(action: &str) -> Option<Self> {
        match action {
            "enable" => Some(EndpointAction::Enable),
            "disable" => Some(EndpointAction::Disable),
            "test" => Some(EndpointAction::Test),
            "delete" => Some(EndpointAction::Delete),
            "rotate-secret" => Some(EndpointAction::RotateSecret),
            _ => None,
        }
    }
}

/// The endpoint and action a row's button posts to: `/webhooks/{id}/{action}`.
#[derive(Debug, serde::Deserialize)]
pub struct ActionPath {
    pub id: String,
    pub action: String,
}

/// `POST /admin/orgs/{uuid}/webhooks/{id}/{action}`
pub async fn act(
    visit: Visit,
    path: web::Path<ActionPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let action = EndpointAction::named(&path.action);
    let (admin, done) = super::change_row(
        &visit,
        &state,
        "webhooks",
        Need::WEBHOOKS,
        ("webhook", &path.id),
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
    .await?;
    Ok(match done {
        Done::Notice(notice) => crate::web::render::see_other(&format!(
            "/admin/orgs/{}/webhooks?notice={notice}",
            admin.organization.uuid
        )),
        Done::Secret(rotated) => secret_page(
            &visit,
            &state,
            &admin,
            (StatusCode::OK, "Webhook secret rotated"),
            *rotated,
        ),
    })
}

enum Done {
    Notice(&'static str),
    Secret(Box<WithSecret>),
}
