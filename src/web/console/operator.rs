//! The operators' page, `/admin/operator`, for the accounts listed in
//! `console.operators`: every organization (paged), making one with its
//! first admin (as `enlist org create` does), and deleting one (its name
//! typed out, the second factor asked again; the service
//! `DELETE /v1/organization` calls).

use super::step_up::Asked;
use super::teams::Pager;
use super::{ConsoleForm, FieldError, Paging, Visit};
use crate::domain::{Email, Organization, Paged};
use crate::services::accounts::{Factors, StepUp};
use crate::services::console::{self as gate, Denial, Operator};
use crate::services::orgs::NewOrganization;
use crate::services::{self, Conn, ServiceError};
use crate::state::AppState;
use crate::web::csrf::FormPage;
use crate::web::error::PageError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub struct OrgRow {
    pub id: i64,
    pub name: String,
    pub member_count: i64,
    pub created_at: String,
}

impl From<&Organization> for OrgRow {
    fn from(org: &Organization) -> Self {
        Self {
            id: org.id,
            name: org.name.clone(),
            member_count: org.member_count,
            created_at: org.created_at.to_rfc3339(),
        }
    }
}

/// The new-organization form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub admin_email: String,
}

/// A row's delete form: the name typed out, and the step-up's answer.
pub type DeleteForm = super::settings::DeleteForm;

#[derive(Template)]
#[template(path = "console/operator.html")]
pub struct OperatorPage {
    pub email: String,
    pub csrf_token: String,
    pub rows: Vec<OrgRow>,
    pub pager: Pager,
    pub form: CreateForm,
    /// The row whose delete form is sent back, and what it held.
    pub deleting: Option<(i64, String)>,
    pub field_error: FieldError,
    pub factors: Factors,
    pub notice: Option<&'static str>,
}

/// Admits the operator and runs `work`, in one storage call (a write when
/// `write`).
async fn as_operator<T: Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    write: bool,
    work: impl FnOnce(&Conn, &Operator, crate::domain::Millis) -> Result<T, ServiceError>
    + Send
    + 'static,
) -> Result<Result<(Operator, T), ServiceError>, HttpResponse> {
    let token = crate::web::sign_in::session_token(req, state);
    let operators = state.settings.console.operators.clone();
    let policy = state.settings.auth.admin_mfa;
    let now = state.clock.now();
    // A refusal of the work is an error, so the write rolls back; a denial
    // at the door wrote nothing.
    let run = move |conn: &Conn| -> Result<Result<(Operator, T), Denial>, ServiceError> {
        match gate::operator(conn, token.as_deref(), &operators, policy, now)? {
            Ok(operator) => {
                let done = work(conn, &operator, now)?;
                Ok(Ok((operator, done)))
            }
            Err(denial) => Ok(Err(denial)),
        }
    };
    let answer = if write {
        state.db.write(move |tx| run(tx)).await
    } else {
        state.db.read(move |conn| run(conn)).await
    };
    match answer {
        Ok(Ok(done)) => Ok(Ok(done)),
        // Signed in, not an operator: the page does not exist for them.
        Ok(Err(Denial::NotAdminHere { .. })) => Err(super::not_found().await),
        Ok(Err(_)) => Err(crate::web::render::see_other("/admin")),
        Err(error) => Ok(Err(error)),
    }
}

fn render(state: &AppState, status: StatusCode, page: &OperatorPage) -> HttpResponse {
    let scripts = if page.factors.passkey {
        crate::web::render::Scripts::Passkeys
    } else {
        crate::web::render::Scripts::OwnFiles
    };
    FormPage::new(
        status,
        page,
        &page.csrf_token,
        crate::web::render::secure(state),
    )
    .scripts(scripts)
    .response()
}

fn page_of(
    req: &HttpRequest,
    operator: &Operator,
    paging: Paging,
    found: &Paged<Organization>,
) -> OperatorPage {
    OperatorPage {
        email: operator.email.clone(),
        csrf_token: crate::web::csrf::csrf_token(req),
        rows: found.items.iter().map(OrgRow::from).collect(),
        pager: Pager::new(
            paging,
            found.items.len(),
            found.total_count,
            "/admin/operator",
        ),
        form: CreateForm::default(),
        deleting: None,
        field_error: FieldError::default(),
        factors: Factors::default(),
        notice: None,
    }
}

const FIRST_PAGE: Paging = Paging {
    page: 1,
    limit: super::DEFAULT_PAGE_SIZE,
};

/// The first page again, for a form sent back (`Err`: the page to answer).
async fn first_page(req: &HttpRequest, state: &AppState) -> Result<OperatorPage, HttpResponse> {
    match as_operator(req, state, false, |conn, _, _| {
        services::orgs::page(conn, FIRST_PAGE.window())
    })
    .await?
    {
        Ok((operator, found)) => Ok(page_of(req, &operator, FIRST_PAGE, &found)),
        Err(error) => Err(PageError::failed(&error).response()),
    }
}

/// `GET /admin/operator`
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let asked = Paging::from_query(req.query_string());
    let listed = as_operator(&req, &state, false, move |conn, _, _| {
        let paging = asked?;
        Ok((paging, services::orgs::page(conn, paging.window())?))
    })
    .await;
    let (operator, (paging, found)) = match listed {
        Ok(Ok(done)) => done,
        Ok(Err(error)) => return PageError::failed(&error).response(),
        Err(page) => return page,
    };
    let mut page = page_of(&req, &operator, paging, &found);
    page.notice = match req.query_string() {
        "notice=created" => Some("Organization created."),
        "notice=deleted" => {
            Some("Organization deleted; its export is in the server's export folder.")
        }
        _ => None,
    };
    render(&state, StatusCode::OK, &page)
}

/// `POST /admin/operator`: a new organization with its first admin.
pub async fn create(
    req: HttpRequest,
    ConsoleForm(form): ConsoleForm<CreateForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = crate::http::request_log::request_id(&req);
    let typed = form.clone();
    let created = as_operator(&req, &state, true, move |tx, operator, now| {
        let admin_email = Email::parse(&typed.admin_email)
            .map_err(|e| ServiceError::invalid("adminEmail", e.to_string()))?;
        let new = NewOrganization {
            name: typed.name.clone(),
            logo_url: None,
            admin_email,
            admin_first_name: String::new(),
            admin_last_name: String::new(),
            claim_unverified: false,
        };
        services::orgs::create_as(tx, &operator.origin(request_id), &new, now)
    })
    .await;
    match created {
        Ok(Ok(_)) => crate::web::render::see_other("/admin/operator?notice=created"),
        Ok(Err(error)) => {
            let field = match &error {
                ServiceError::Invalid { field, .. } if *field == "adminEmail" => "admin_email",
                ServiceError::Invalid { .. } => "name",
                ServiceError::Conflict { .. } => "admin_email",
                _ => return PageError::failed(&error).response(),
            };
            match first_page(&req, &state).await {
                Ok(mut page) => {
                    page.form = form;
                    page.field_error = FieldError::new(field, error.to_string());
                    render(&state, StatusCode::BAD_REQUEST, &page)
                }
                Err(page) => page,
            }
        }
        Err(page) => page,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct OrgPath {
    pub id: String,
}

/// `POST /admin/operator/{id}/delete`
pub async fn delete(
    req: HttpRequest,
    visit: Visit,
    path: web::Path<OrgPath>,
    ConsoleForm(form): ConsoleForm<DeleteForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(id) = super::path_id(&path.id) else {
        return super::not_found().await;
    };
    // Admitted first (a stranger learns nothing from the step-up), then
    // again inside the deletion's own write.
    let mut page = match first_page(&req, &state).await {
        Ok(page) => page,
        Err(page) => return page,
    };
    let step = super::step_up::factor_only(&visit, &state, &form.step_up).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        return match super::step_up::asked(&visit, &state, step, &form.step_up, "delete it").await {
            Ok(Asked {
                factors,
                field_error,
                status,
                ..
            }) => {
                page.deleting = Some((id, form.confirm.clone()));
                page.factors = factors;
                page.field_error = field_error;
                render(&state, status, &page)
            }
            Err(error) => PageError::failed(&error).response(),
        };
    }
    let request_id = crate::http::request_log::request_id(&req);
    let dir = state.settings.organizations.export_dir.clone();
    let confirm = form.confirm.clone();
    let deleted = as_operator(&req, &state, true, move |tx, operator, now| {
        services::orgs::delete(tx, &operator.origin(request_id), id, &confirm, &dir, now)
    })
    .await;
    match deleted {
        Ok(Ok(_)) => crate::web::render::see_other("/admin/operator?notice=deleted"),
        Ok(Err(ServiceError::Invalid { detail, .. })) => {
            page.deleting = Some((id, form.confirm.clone()));
            page.field_error = FieldError::new("confirm", detail);
            render(&state, StatusCode::BAD_REQUEST, &page)
        }
        Ok(Err(ServiceError::NotFound(_))) => super::not_found().await,
        Ok(Err(error)) => PageError::failed(&error).response(),
        Err(page) => page,
    }
}
