//! The console's members: the list, role changes and removal.

use super::step_up::Carried;
use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, Paging, Visit};
use crate::domain::search::{Search, SearchError};
use crate::domain::{Member, Role};
use crate::domain::{OrgId, UserId};
use crate::services::accounts::{Factors, StepUp};
use crate::services::console::Need;
use crate::services::error_code::ErrorCode;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined_human: String,
    /// The signed-in admin's own row.
    pub is_you: bool,
    /// Identities at OpenID providers: "provider: subject" each.
    pub identities: Vec<String>,
    /// Whether they set up a second factor.
    pub second_factor: bool,
    /// Whether the signed-in admin may change or remove them (their role
    /// is one the admin may hand out).
    pub changeable: bool,
}

impl MemberRow {
    fn new(member: &Member, you: i64) -> Self {
        let name = format!("{} {}", member.first_name, member.last_name)
            .trim()
            .to_owned();
        Self {
            user_id: member.user_id,
            name,
            email: member.email.clone(),
            role: member.role.as_str().to_owned(),
            joined_human: member.created_at.to_human(),
            is_you: member.user_id == you,
            identities: Vec::new(),
            second_factor: false,
            changeable: false,
        }
    }
}

#[derive(Template)]
#[template(path = "console/members.html")]
pub struct MembersPage {
    pub chrome: Chrome,
    pub rows: Vec<MemberRow>,
    pub roles: Vec<(String, String)>,
    pub page: i64,
    pub pages: i64,
    pub range: String,
    /// The search box as typed.
    pub q: String,
    pub limit: i64,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
}

/// The search box's `q` from the query string (empty when absent or when
/// the query string is malformed: [`Paging::from_query`] reports that).
fn search_box(raw: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Asked {
        q: Option<String>,
    }
    serde_urlencoded::from_str::<Asked>(raw)
        .ok()
        .and_then(|asked| asked.q)
        .unwrap_or_default()
}

fn invalid(error: SearchError) -> ServiceError {
    ServiceError::invalid(error.field(), error.to_string())
}

/// `GET /admin/orgs/{uuid}/members`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let raw = visit.request().query_string();
    let q = search_box(raw);
    let asked = Paging::from_query(raw)
        .and_then(|paging| Ok((paging, Search::parse(None, Some(&q)).map_err(invalid)?)));
    let (admin, (paging, found)) = visit
        .read(&state, "members", Need::MEMBERS, move |conn, admin, _| {
            let (paging, search) = asked?;
            let found = services::members::list(conn, admin.org_id(), &search, paging.window())?;
            let ids: Vec<i64> = found.items.iter().map(|m| m.user_id).collect();
            // One query for the page's identities, not one per member.
            let identities = crate::db::identities::of_users(conn, &ids)?;
            // A passkey counts as a second factor too.
            let mut with_factor = crate::db::second_factors::enrolled_among(conn, &ids)?;
            with_factor.extend(crate::db::passkeys::with_passkey_among(conn, &ids)?);
            let roles = admin.role_choices(conn)?;
            Ok((paging, (found, identities, with_factor, roles)))
        })
        .await?;
    let (found, identities, with_factor, roles) = found;
    let providers = state.accounts.providers();
    let label = |identity: &crate::db::identities::IdentityRow| {
        let provider = identity
            .provider
            .as_deref()
            .and_then(|id| providers.name_of(id))
            .unwrap_or(&identity.issuer);
        format!("{provider}: {}", identity.subject)
    };
    let chrome = visit.chrome(&admin, "members");
    let pages = paging.pages(found.total_count);
    let base = chrome.href("/members");
    let searched = serde_urlencoded::to_string([("q", q.as_str())])
        .ok()
        .filter(|_| !q.trim().is_empty())
        .map(|encoded| format!("&{encoded}"))
        .unwrap_or_default();
    let link = |page: i64| format!("{base}?limit={}&page={page}{searched}", paging.limit);
    let page = MembersPage {
        rows: found
            .items
            .iter()
            .map(|member| MemberRow {
                identities: identities
                    .iter()
                    .filter(|identity| identity.user_id == member.user_id)
                    .map(label)
                    .collect(),
                second_factor: with_factor.contains(&member.user_id),
                changeable: roles.iter().any(|(key, _)| key == member.role.as_str()),
                ..MemberRow::new(member, admin.user_id)
            })
            .collect(),
        roles,
        page: paging.page,
        pages,
        range: paging.range(found.items.len(), found.total_count),
        q,
        limit: paging.limit,
        previous_href: (paging.page > 1).then(|| link(paging.page - 1)),
        next_href: (paging.page < pages).then(|| link(paging.page + 1)),
        chrome,
    };
    super::shown(&state, &page, &page.chrome)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    pub role: String,
    /// The admin's second factor, when asked again (step-up): a code, or
    /// a passkey's answer.
    pub code: Option<String>,
    pub passkey_ceremony: Option<String>,
    pub passkey_response: Option<String>,
}

/// The role change asked again with a code of the admin's second factor.
#[derive(Template)]
#[template(path = "console/role_step_up.html")]
pub struct RoleStepUpPage {
    pub chrome: Chrome,
    pub action: String,
    pub role: String,
    pub factors: Factors,
    pub field_error: super::FieldError,
}

impl RoleForm {
    /// What the form carried for the step-up.
    fn step_up(&self) -> Carried {
        Carried {
            password: None,
            code: self.code.clone(),
            passkey_ceremony: self.passkey_ceremony.clone(),
            passkey_response: self.passkey_response.clone(),
        }
    }

    fn role(&self) -> Result<Role, ServiceError> {
        self.role.parse::<Role>().map_err(|_| {
            let shown: String = self.role.chars().take(64).collect();
            ServiceError::invalid(
                "role",
                format!("role must be ADMIN, MEMBER or one of the organization's role keys, got `{shown}`"),
            )
        })
    }
}

/// The member a URL is about: `/members/{user}/…`.
#[derive(Debug, serde::Deserialize)]
pub struct MemberPath {
    pub user: String,
}

enum Change {
    Remove,
    Role(Result<Role, ServiceError>),
}

async fn change(
    visit: &Visit,
    state: &AppState,
    user: &str,
    change: Change,
) -> Result<HttpResponse, ConsolePageError> {
    let done = super::change_row(
        visit,
        state,
        "members",
        Need::MEMBERS,
        ("member", user),
        move |tx, admin, origin, user_id, now| {
            let org_id = admin.org_id();
            admin.may_touch_member(tx, user_id)?;
            // Whether the member is still admitted to the console afterwards.
            let (notice, still_admin) = match change {
                Change::Remove => {
                    services::members::remove(tx, origin, OrgId(org_id), UserId(user_id), now)
                        .map(|_| ("removed", false))
                }
                Change::Role(role) => role.and_then(|role| {
                    admin.may_hand_out(tx, &role)?;
                    services::members::change_role(
                        tx,
                        origin,
                        OrgId(org_id),
                        UserId(user_id),
                        role,
                        now,
                    )
                    .and_then(|changed| {
                        let admitted = services::console::admits(tx, org_id, &changed.role)?;
                        Ok(("role-changed", admitted))
                    })
                }),
            }?;
            Ok((notice, user_id == admin.user_id && !still_admin))
        },
    )
    .await
    .map(|(admin, changed)| (admin, Some(changed)));
    // The last admin stays one: the list says so, and nothing changed.
    let (admin, changed) = done.or_else(|failure| {
        failure
            .unless_refused_for(|error| {
                matches!(
                    error,
                    ServiceError::Conflict {
                        code: ErrorCode::LastAdmin,
                        ..
                    }
                )
            })
            .map(|admin| (admin, None))
    })?;
    let members = format!("/admin/orgs/{}/members", admin.organization.uuid);
    Ok(crate::web::render::see_other(&match changed {
        // Removing or demoting yourself ends your console here.
        Some((notice, true)) => format!("/admin?notice={notice}"),
        Some((notice, false)) => format!("{members}?notice={notice}"),
        None => format!("{members}?notice=last-admin"),
    }))
}

/// `POST /admin/orgs/{uuid}/members/{user_id}/remove`
pub async fn remove(
    visit: Visit,
    member: web::Path<MemberPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    change(&visit, &state, &member.user, Change::Remove).await
}

/// `POST /admin/orgs/{uuid}/members/{user_id}/role`
pub async fn set_role(
    visit: Visit,
    member: web::Path<MemberPath>,
    ConsoleForm(form): ConsoleForm<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let step = super::step_up::factor_only(&visit, &state, &form.step_up()).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        return role_again(&visit, &state, &member.user, &form, step).await;
    }
    change(&visit, &state, &member.user, Change::Role(form.role())).await
}

/// The role change again, asking for a code of the second factor.
async fn role_again(
    visit: &Visit,
    state: &AppState,
    user: &str,
    form: &RoleForm,
    step: Result<StepUp, ServiceError>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(state, Need::MEMBERS).await?;
    let asked = super::step_up::asked(visit, state, step, &form.step_up(), "change a role")
        .await
        .map_err(|error| visit.refused("members", admin.clone(), error))?;
    let chrome = visit.chrome(&admin, "members");
    let page = RoleStepUpPage {
        action: chrome.href(&format!("/members/{user}/role")),
        chrome,
        role: form.role.chars().take(64).collect(),
        factors: asked.factors,
        field_error: asked.field_error.clone(),
    };
    Ok(super::page_with(
        state,
        asked.status,
        &page,
        &page.chrome,
        asked.retry_after,
        asked.scripts(),
    ))
}
