//! The console's domains: the list with each domain's TXT record to
//! publish, registering one, verifying and deleting. The same services as
//! `/v1/organization/domains`. Every page and action needs
//! `organization:manage` (`Need::DOMAINS`): a verified domain decides who
//! joins the organization.

use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, Visit};
use crate::dns::Resolver;
use crate::domain::org_domain::OrgDomain;
use crate::services::console::Need;
use crate::services::domains::NewOrgDomain;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct DomainRow {
    pub id: i64,
    pub domain: String,
    pub mode: &'static str,
    pub role: String,
    pub verified: bool,
    pub record_name: String,
    pub record_value: String,
}

impl From<&OrgDomain> for DomainRow {
    fn from(domain: &OrgDomain) -> Self {
        Self {
            id: domain.id,
            domain: domain.domain.as_str().to_owned(),
            mode: domain.mode.as_str(),
            role: domain.role.as_str().to_owned(),
            verified: domain.is_verified(),
            record_name: domain.domain.challenge_name(),
            record_value: domain.challenge.clone(),
        }
    }
}

/// The new-domain form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub mode: String,
}

#[derive(Template)]
#[template(path = "console/domains.html")]
pub struct DomainsPage {
    pub chrome: Chrome,
    pub rows: Vec<DomainRow>,
    pub form: DomainForm,
    pub field_error: FieldError,
}

#[derive(Debug, serde::Deserialize)]
pub struct DomainPath {
    pub id: String,
}

/// The organization's domains (at most `domains.max_per_organization`).
const ALL: crate::domain::Page = crate::domain::Page {
    limit: crate::domain::page::MAX_LIMIT,
    offset: 0,
};

fn domains_page(
    visit: &Visit,
    admin: &crate::services::console::ConsoleAdmin,
    found: &[OrgDomain],
    form: DomainForm,
) -> DomainsPage {
    DomainsPage {
        chrome: visit.chrome(admin, "domains"),
        rows: found.iter().map(DomainRow::from).collect(),
        form,
        field_error: FieldError::default(),
    }
}

/// `GET /admin/orgs/{uuid}/domains`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, found) = visit
        .read(&state, "domains", Need::DOMAINS, |conn, admin, _| {
            services::domains::list(conn, admin.org_id(), ALL)
        })
        .await?;
    let page = domains_page(&visit, &admin, &found.items, DomainForm::default());
    super::shown(&state, &page, &page.chrome)
}

/// `POST /admin/orgs/{uuid}/domains`: a new domain (as MEMBER, no teams),
/// then back to the list, which shows its record.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<DomainForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = NewOrgDomain::parse(&form.domain, &form.mode, None, None);
    let max = state.settings.domains.max_per_organization;
    let created = visit
        .change(
            &state,
            "domains",
            Need::DOMAINS,
            move |tx, admin, origin, now| {
                services::domains::create(tx, origin, admin.org_id(), &checked?, max, now)
                    .map(|_| ())
            },
        )
        .await;
    let failure = match created {
        Ok(done) => return super::after_change(Ok(done), "domains", "domain-created"),
        Err(failure) => failure,
    };
    let found = visit
        .read(&state, "domains", Need::DOMAINS, |conn, admin, _| {
            services::domains::list(conn, admin.org_id(), ALL)
        })
        .await
        .map_or_else(|_| Vec::new(), |(_, found)| found.items);
    failure.or_form(|admin, error| {
        let (field, detail) = match error {
            ServiceError::Invalid { field, detail } if *field == "mode" => ("mode", detail),
            ServiceError::Invalid { detail, .. } | ServiceError::Conflict { detail, .. } => {
                ("domain", detail)
            }
            _ => return None,
        };
        let mut page = domains_page(&visit, admin, &found, form);
        page.field_error = FieldError::new(field, detail.clone());
        Some(super::page(
            &state,
            StatusCode::BAD_REQUEST,
            &page,
            &page.chrome,
            None,
        ))
    })
}

/// `POST /admin/orgs/{uuid}/domains/{id}/verify`: the TXT record looked up
/// (after the admission, outside any transaction), then back to the list.
pub async fn verify(
    visit: Visit,
    path: web::Path<DomainPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(&state, Need::DOMAINS).await?;
    let id = super::path_id(&path.id).ok_or(ServiceError::NotFound("domain"));
    let resolver = Resolver::from_settings(&state.settings.domains);
    let verified = match id {
        Ok(id) => {
            services::domains::verify(
                &state.db,
                &resolver,
                &state.clock,
                visit.origin(&admin),
                admin.org_id(),
                id,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match verified {
        Ok(_) => super::after_change(Ok((admin, ())), "domains", "domain-verified"),
        Err(error) => Err(visit.refused("domains", admin, error)),
    }
}

/// `POST /admin/orgs/{uuid}/domains/{id}/delete`
pub async fn delete(
    visit: Visit,
    path: web::Path<DomainPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let done = super::change_row(
        &visit,
        &state,
        "domains",
        Need::DOMAINS,
        ("domain", &path.id),
        |tx, admin, origin, id, now| services::domains::delete(tx, origin, admin.org_id(), id, now),
    )
    .await;
    super::after_change(done, "domains", "domain-deleted")
}
