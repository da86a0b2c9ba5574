//! The console's invitations: the list with the admin API's filters and
//! paging, the invite form, revoke and resend.

use super::{Chrome, ConsoleForm, ConsolePageError, FieldError, Paging, RowId, Visit};
use crate::domain::invitation::InvitationFilter;
use crate::domain::search::Search;
use crate::domain::{Invitation, InvitationStatus, Role};
use crate::services::console::Need;
use crate::services::invitations::{NewInvitation, RESENT_TOO_SOON, SendRules};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use std::time::Duration;

/// One invitation as a row of the console's lists.
pub struct InvitationRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub status: &'static str,
    pub created_human: String,
    pub expires_iso: String,
    pub expires_human: String,
    /// Whether it can still be revoked and sent again.
    pub open: bool,
}

impl From<&Invitation> for InvitationRow {
    fn from(invitation: &Invitation) -> Self {
        Self {
            id: invitation.id,
            email: invitation.invitee_email.clone(),
            role: invitation.role.label().to_owned(),
            status: invitation.status.as_str(),
            created_human: invitation.created_at.to_human(),
            expires_iso: invitation.expires_at.to_rfc3339(),
            expires_human: invitation.expires_at.to_human(),
            open: matches!(
                invitation.status,
                InvitationStatus::Pending | InvitationStatus::Expired
            ),
        }
    }
}

/// The list's query string as the filter form sends it; carried through
/// revoke and resend so the admin comes back to the same view.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        default,
        rename = "includeExpired",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_expired: Option<String>,
    /// The search box: a prefix of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// What a list query asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub status: Option<InvitationStatus>,
    pub include_expired: bool,
    pub search: Search,
    pub paging: Paging,
}

impl ListQuery {
    /// The query string as typed (the defaults when it is malformed) and
    /// what it asks for, checked.
    pub fn asked(raw: &str) -> (Self, Result<ListRequest, ServiceError>) {
        match Self::from_query_string(raw) {
            Ok(query) => {
                let asked = query.check();
                (query, asked)
            }
            Err(error) => (Self::default(), Err(error)),
        }
    }

    pub fn from_query_string(raw: &str) -> Result<Self, ServiceError> {
        serde_urlencoded::from_str(raw).map_err(|e| {
            ServiceError::invalid("query", format!("the query string is malformed: {e}"))
        })
    }

    pub fn check(&self) -> Result<ListRequest, ServiceError> {
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(raw.parse::<InvitationStatus>().map_err(|_| {
                let shown: String = raw.chars().take(64).collect();
                ServiceError::invalid(
                    "status",
                    format!(
                        "status must be one of PENDING, ACCEPTED, DECLINED, REVOKED, EXPIRED; got `{shown}`"
                    ),
                )
            })?),
        };
        let include_expired = match self.include_expired.as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                let shown: String = other.chars().take(64).collect();
                return Err(ServiceError::invalid(
                    "includeExpired",
                    format!("includeExpired must be true or false, got `{shown}`"),
                ));
            }
        };
        let search = Search::parse(None, self.q.as_deref())
            .map_err(|e| ServiceError::invalid(e.field(), e.to_string()))?;
        Ok(ListRequest {
            status,
            include_expired,
            search,
            paging: Paging::parse(self.limit.as_deref(), self.page.as_deref())?,
        })
    }

    /// `?status=…&…`, or nothing for the defaults.
    fn encoded(&self, page: Option<i64>) -> String {
        let mut query = self.clone();
        if let Some(page) = page {
            query.page = Some(page.to_string());
        }
        match serde_urlencoded::to_string(&query) {
            Ok(encoded) if !encoded.is_empty() => format!("?{encoded}"),
            _ => String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/invitations.html")]
pub struct InvitationsPage {
    pub chrome: Chrome,
    pub rows: Vec<InvitationRow>,
    pub statuses: [&'static str; 5],
    pub status: &'static str,
    pub include_expired: bool,
    /// The search box as typed.
    pub q: String,
    pub page_sizes: [i64; 4],
    pub limit: i64,
    pub page: i64,
    pub pages: i64,
    pub range: String,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
    /// The list's query string, carried through the row actions.
    pub back: String,
}

/// `GET /admin/orgs/{uuid}/invitations`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (query, asked) = ListQuery::asked(visit.request().query_string());
    let (admin, (asked, found)) = visit
        .read(
            &state,
            "invitations",
            Need::INVITATIONS,
            move |conn, admin, now| {
                let asked = asked?;
                let filter = InvitationFilter::new(asked.status, asked.include_expired);
                let found = services::invitations::page(
                    conn,
                    admin.org_id(),
                    filter,
                    &asked.search,
                    asked.paging.window(),
                    now,
                )?;
                Ok((asked, found))
            },
        )
        .await?;
    let chrome = visit.chrome(&admin, "invitations");
    let paging = asked.paging;
    let pages = paging.pages(found.total_count);
    let base = chrome.href("/invitations");
    let page = InvitationsPage {
        rows: found.items.iter().map(InvitationRow::from).collect(),
        statuses: InvitationStatus::ALL.map(|status| status.as_str()),
        status: asked.status.map(|s| s.as_str()).unwrap_or(""),
        include_expired: asked.include_expired,
        q: query.q.clone().unwrap_or_default(),
        page_sizes: super::PAGE_SIZES,
        limit: paging.limit,
        page: paging.page,
        pages,
        range: paging.range(found.items.len(), found.total_count),
        previous_href: (paging.page > 1)
            .then(|| format!("{base}{}", query.encoded(Some(paging.page - 1)))),
        next_href: (paging.page < pages)
            .then(|| format!("{base}{}", query.encoded(Some(paging.page + 1)))),
        back: query.encoded(None),
        chrome,
    };
    super::shown(&state, &page, &page.chrome)
}

/// The invite form's fields, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub expires_in: String,
    /// Everything else sent: the teams ticked (`team_{id}`).
    #[serde(flatten)]
    pub rest: std::collections::BTreeMap<String, String>,
}

impl InviteForm {
    fn check(&self, max_lifetime: Duration) -> Result<NewInvitation, ServiceError> {
        let expires_in = Some(self.expires_in.trim())
            .filter(|raw| !raw.is_empty())
            .map(|raw| serde_json::Value::String(raw.to_owned()));
        let message = Some(self.message.as_str()).filter(|m| !m.trim().is_empty());
        let mut new = NewInvitation::parse(
            self.email.trim(),
            &self.role,
            expires_in.as_ref(),
            message,
            None,
            max_lifetime,
        )?;
        new.team_ids = super::teams::ticked(&self.rest)?;
        Ok(new)
    }
}

#[derive(Template)]
#[template(path = "console/invite.html")]
pub struct InvitePage {
    pub chrome: Chrome,
    pub form: InviteForm,
    pub roles: Vec<(String, String)>,
    /// The organization's teams, to tick the ones the person joins.
    pub teams: Vec<super::teams::TeamChoice>,
    /// An error about the whole form.
    pub error: Option<String>,
    /// The field an error is about (`email`, `role`, `message`, `expires_in`) and what is wrong.
    pub field_error: FieldError,
    pub default_lifetime: String,
    pub max_lifetime: String,
}

/// What the form offers: the organization's roles and teams.
type Offered = (Vec<(String, String)>, Vec<(i64, String)>);

/// The roles this admin may hand out, and the organization's teams.
fn offered(
    conn: &crate::db::Conn,
    admin: &services::console::ConsoleAdmin,
) -> Result<Offered, ServiceError> {
    Ok((
        admin.role_choices(conn)?,
        services::teams::choices(conn, admin.org_id())?,
    ))
}

fn invite_page(
    state: &AppState,
    chrome: Chrome,
    form: InviteForm,
    (roles, teams): Offered,
) -> InvitePage {
    let settings = &state.settings.invitations;
    InvitePage {
        chrome,
        teams: super::teams::choices(teams, &form.rest),
        form,
        roles,
        error: None,
        field_error: FieldError::default(),
        default_lifetime: spoken(settings.lifetime.0),
        max_lifetime: spoken(settings.max_lifetime.0),
    }
}

/// "7 days", "12 hours": a lifetime as the form's hint says it.
fn spoken(lifetime: Duration) -> String {
    let seconds = lifetime.as_secs();
    let (count, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// `GET /admin/orgs/{uuid}/invitations/new`
pub async fn new(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, roles) = visit
        .read(
            &state,
            "invitations",
            Need::INVITATIONS,
            |conn, admin, _| offered(conn, admin),
        )
        .await?;
    let form = InviteForm {
        role: Role::Member.as_str().into(),
        ..InviteForm::default()
    };
    let page = invite_page(&state, visit.chrome(&admin, "invitations"), form, roles);
    super::shown(&state, &page, &page.chrome)
}

/// The form field an admin API field's error is about.
fn form_field(api_field: &str) -> Option<&'static str> {
    match api_field {
        "inviteeEmail" => Some("email"),
        "role" => Some("role"),
        "message" => Some("message"),
        "expiresIn" => Some("expires_in"),
        "teamIds" => Some("teams"),
        _ => None,
    }
}

/// `POST /admin/orgs/{uuid}/invitations`: invites, then back to the list.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<InviteForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = form.check(state.settings.invitations.max_lifetime.0);
    let rules = SendRules::from_settings(&state.settings.invitations);
    let app = state.clone();
    let created = visit
        .change(
            &state,
            "invitations",
            Need::INVITATIONS,
            move |tx, admin, origin, now| {
                let new = checked?;
                admin.may_hand_out(tx, &new.role)?;
                services::invitations::create(
                    tx,
                    origin,
                    admin.org_id(),
                    admin.user_id,
                    &new,
                    rules,
                    &app.composer,
                    now,
                )
                .map(|_| ())
            },
        )
        .await;
    match created {
        Ok((admin, ())) => Ok(pages_to(&admin, "/invitations?notice=invited")),
        Err(failure) => {
            // The form comes back with the organization's roles to choose from.
            let roles = visit
                .read(
                    &state,
                    "invitations",
                    Need::INVITATIONS,
                    |conn, admin, _| offered(conn, admin),
                )
                .await
                .map_or_else(
                    |_| (services::roles::built_in_choices(), Vec::new()),
                    |(_, offered)| offered,
                );
            failure.or_form(|admin, error| invite_again(&visit, &state, admin, form, roles, error))
        }
    }
}

/// The form again, as typed, saying what is wrong, when the refusal is
/// about what was typed (or asks to wait).
fn invite_again(
    visit: &Visit,
    state: &AppState,
    admin: &services::console::ConsoleAdmin,
    form: InviteForm,
    roles: Offered,
    error: &ServiceError,
) -> Option<HttpResponse> {
    let mut page = invite_page(state, visit.chrome(admin, "invitations"), form, roles);
    let (status, retry_after) = match error {
        ServiceError::Invalid { field, detail } => {
            match form_field(field) {
                Some(field) => page.field_error = FieldError::new(field, detail.clone()),
                None => page.error = Some(detail.clone()),
            }
            (StatusCode::BAD_REQUEST, None)
        }
        ServiceError::Conflict { detail, .. } => {
            page.field_error = FieldError::new("email", detail.clone());
            (StatusCode::CONFLICT, None)
        }
        ServiceError::TooSoon {
            detail,
            retry_after_secs,
        } => {
            page.error = Some(detail.clone());
            (
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(*retry_after_secs)),
            )
        }
        _ => return None,
    };
    Some(super::page(state, status, &page, &page.chrome, retry_after))
}

fn pages_to(admin: &services::console::ConsoleAdmin, rest: &str) -> HttpResponse {
    crate::web::render::see_other(&format!("/admin/orgs/{}{rest}", admin.organization.uuid))
}

/// A row action's form: the list's query string to come back to.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RowAction {
    #[serde(default)]
    pub back: String,
}

impl RowAction {
    /// `/invitations?…&notice=…`: the list as it was, with the notice. The
    /// carried query is parsed and written again, so only its known
    /// fields come back.
    fn back_to(&self, notice: &str) -> String {
        let query = ListQuery::from_query_string(self.back.trim_start_matches('?'))
            .unwrap_or_default()
            .encoded(None);
        let separator = if query.is_empty() { '?' } else { '&' };
        format!("/invitations{query}{separator}notice={notice}")
    }
}

#[derive(Clone, Copy)]
enum Action {
    Revoke,
    Resend,
}

async fn act(
    visit: Visit,
    invitation: web::Path<RowId>,
    form: RowAction,
    state: web::Data<AppState>,
    action: Action,
) -> Result<HttpResponse, ConsolePageError> {
    let rules = SendRules::from_settings(&state.settings.invitations);
    let app = state.clone();
    let done = super::change_row(
        &visit,
        &state,
        "invitations",
        Need::INVITATIONS,
        ("invitation", &invitation.id),
        move |tx, admin, origin, id, now| match action {
            Action::Revoke => {
                services::invitations::revoke(tx, origin, admin.org_id(), id, now).map(|_| ())
            }
            Action::Resend => {
                // Resending opens an expired invitation again: a hand-out.
                let (invitation, _) = services::invitations::get(tx, admin.org_id(), id, now)?;
                admin.may_hand_out(tx, &invitation.role)?;
                services::invitations::resend(
                    tx,
                    origin,
                    admin.org_id(),
                    id,
                    rules,
                    &app.composer,
                    now,
                )
                .map(|_| ())
            }
        },
    )
    .await
    .map(|(admin, ())| (admin, Some(action)));
    // Once a minute is a rule of resending, not a failure: a message on
    // the list.
    let (admin, acted) = done.or_else(|failure| {
        failure
            .unless_refused_for(|error| {
                matches!(error, ServiceError::TooSoon { detail, .. } if detail == RESENT_TOO_SOON)
            })
            .map(|admin| (admin, None))
    })?;
    let notice = match acted {
        Some(Action::Revoke) => "revoked",
        Some(Action::Resend) => "resent",
        None => "resend-too-soon",
    };
    Ok(pages_to(&admin, &form.back_to(notice)))
}

/// `POST /admin/orgs/{uuid}/invitations/{id}/revoke`
pub async fn revoke(
    visit: Visit,
    invitation: web::Path<RowId>,
    ConsoleForm(form): ConsoleForm<RowAction>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    act(visit, invitation, form, state, Action::Revoke).await
}

/// `POST /admin/orgs/{uuid}/invitations/{id}/resend`
pub async fn resend(
    visit: Visit,
    invitation: web::Path<RowId>,
    ConsoleForm(form): ConsoleForm<RowAction>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    act(visit, invitation, form, state, Action::Resend).await
}
