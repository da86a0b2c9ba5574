//! The console's organization settings: its name, logo and metadata (the
//! service `PATCH /v1/organization` calls), and the danger zone, which
//! deletes the organization after writing its export (the service
//! `DELETE /v1/organization` calls), the name typed out and the second
//! factor asked again.

use super::step_up::{Asked, Carried};
use super::{Chrome, ConsoleForm, ConsolePageError, FieldError, Visit};
use crate::domain::Organization;
use crate::services::accounts::{Factors, StepUp};
use crate::services::console::{ConsoleAdmin, Need};
use crate::services::orgs::OrgPatch;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::render::{Link, MessagePage};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::Value;

/// The settings form as typed (`metadata` as JSON text; blank clears it).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub logo_url: String,
    #[serde(default)]
    pub metadata: String,
}

impl SettingsForm {
    fn of(org: &Organization) -> Self {
        Self {
            name: org.name.clone(),
            logo_url: org.logo_url.clone().unwrap_or_default(),
            metadata: org
                .metadata
                .as_ref()
                .and_then(|m| serde_json::to_string_pretty(m).ok())
                .unwrap_or_default(),
        }
    }

    /// The change, checked as the API checks its fields: every field is
    /// given; a blank logo or metadata clears it.
    fn patch(&self) -> Result<OrgPatch, ServiceError> {
        let name = Value::String(self.name.clone());
        let logo_url = (!self.logo_url.trim().is_empty())
            .then(|| Value::String(self.logo_url.trim().to_owned()));
        let metadata = match self.metadata.trim() {
            "" => None,
            text => Some(serde_json::from_str::<Value>(text).map_err(|_| {
                ServiceError::invalid("metadata", "metadata must be a JSON object")
            })?),
        };
        OrgPatch::parse(
            Some(Some(&name)),
            Some(logo_url.as_ref()),
            Some(metadata.as_ref()),
        )
    }
}

/// The danger zone's form: the name typed out, and the step-up's answer.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct DeleteForm {
    pub confirm: String,
    pub step_up: Carried,
}

impl From<Vec<(String, String)>> for DeleteForm {
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut form = DeleteForm::default();
        for (name, value) in fields {
            if name == "confirm" {
                form.confirm = value;
            } else {
                form.step_up.take(&name, value);
            }
        }
        form
    }
}

#[derive(Template)]
#[template(path = "console/settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub form: SettingsForm,
    /// What the danger zone's field holds (empty until typed).
    pub confirm: String,
    /// Whether the danger zone is shown (the built-in ADMIN only).
    pub may_delete: bool,
    pub field_error: FieldError,
    pub factors: Factors,
}

impl SettingsPage {
    fn new(visit: &Visit, admin: &ConsoleAdmin, form: SettingsForm) -> Self {
        Self {
            chrome: visit.chrome(admin, "settings"),
            form,
            confirm: String::new(),
            may_delete: admin.may(Need::DELETE_ORGANIZATION),
            field_error: FieldError::default(),
            factors: Factors::default(),
        }
    }
}

fn field_of(api_field: &str) -> Option<&'static str> {
    match api_field {
        "name" => Some("name"),
        "logoUrl" => Some("logo_url"),
        "metadata" => Some("metadata"),
        "confirm" => Some("confirm"),
        _ => None,
    }
}

/// `GET /admin/orgs/{uuid}/settings`
pub async fn show(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, org) = visit
        .read(&state, "settings", Need::SETTINGS, |conn, admin, _| {
            services::orgs::get(conn, admin.org_id())
        })
        .await?;
    let step = super::step_up::factor_only(&visit, &state, &Carried::default())
        .await
        .map_err(|error| visit.refused("settings", admin.clone(), error))?;
    let asked = Asked::first(step);
    let mut page = SettingsPage::new(&visit, &admin, SettingsForm::of(&org));
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

/// `POST /admin/orgs/{uuid}/settings`: saves the form, then back to it.
pub async fn update(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<SettingsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let patch = form.patch();
    let saved = visit
        .change(
            &state,
            "settings",
            Need::SETTINGS,
            move |tx, admin, origin, now| {
                services::orgs::update(tx, origin, admin.org_id(), patch?, now).map(|_| ())
            },
        )
        .await;
    match saved {
        Ok(done) => super::after_change(Ok(done), "settings", "org-updated"),
        Err(failure) => failure.or_form(|admin, error| {
            let ServiceError::Invalid { field, detail } = error else {
                return None;
            };
            let mut page = SettingsPage::new(&visit, admin, form.clone());
            page.field_error = FieldError::new(field_of(field)?, detail.clone());
            Some(super::page(
                &state,
                StatusCode::BAD_REQUEST,
                &page,
                &page.chrome,
                None,
            ))
        }),
    }
}

/// `POST /admin/orgs/{uuid}/settings/delete`: the danger zone. Asks the
/// second factor again (an admin who has one), then deletes as the API
/// does and says where the export went.
pub async fn delete(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<DeleteForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(&state, Need::DELETE_ORGANIZATION).await?;
    let step = super::step_up::factor_only(&visit, &state, &form.step_up).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        let asked = super::step_up::asked(
            &visit,
            &state,
            step,
            &form.step_up,
            "delete the organization",
        )
        .await
        .map_err(|error| visit.refused("settings", admin.clone(), error))?;
        let mut page = SettingsPage::new(&visit, &admin, SettingsForm::of(&admin.organization));
        page.confirm = form.confirm.clone();
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
    let dir = state.settings.organizations.export_dir.clone();
    let confirm = form.confirm.clone();
    let deleted = visit
        .change(
            &state,
            "settings",
            Need::DELETE_ORGANIZATION,
            move |tx, admin, origin, now| {
                services::orgs::delete(tx, origin, admin.org_id(), &confirm, &dir, now)
            },
        )
        .await;
    match deleted {
        Ok((_, deleted)) => Ok(gone_page(&deleted)),
        Err(failure) => failure.or_form(|admin, error| {
            let ServiceError::Invalid { field, detail } = error else {
                return None;
            };
            let mut page = SettingsPage::new(&visit, admin, SettingsForm::of(&admin.organization));
            page.confirm = form.confirm.clone();
            page.field_error = FieldError::new(field_of(field)?, detail.clone());
            Some(super::page(
                &state,
                StatusCode::BAD_REQUEST,
                &page,
                &page.chrome,
                None,
            ))
        }),
    }
}

/// The page after a deletion (the organization's console is gone with it):
/// what went and where its export is.
pub fn gone_page(deleted: &services::orgs::Deleted) -> HttpResponse {
    let mut page = MessagePage::new(
        "Organization deleted",
        format!(
            "{} and everything in it is gone: its API keys, links and webhooks stopped working. \
             Its export was written first, to {} in the server's export folder \
             (organizations.export_dir).",
            deleted.organization.name, deleted.export_file
        ),
    );
    page.link = Some(Link {
        href: "/admin".into(),
        label: "Your organizations".into(),
    });
    crate::web::render::render(StatusCode::OK, &page, &[])
}
