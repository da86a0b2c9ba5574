//! The console's members: the list, role changes and removal.

use super::{Chrome, ConsoleError, ForAdmin, Paging, Visit};
use crate::domain::{Member, Role};
use crate::domain::{OrgId, UserId};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub joined_human: String,
    /// The signed-in admin's own row.
    pub is_you: bool,
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
            role: member.role.as_str(),
            joined_human: member.created_at.to_human(),
            is_you: member.user_id == you,
        }
    }
}

#[derive(Template)]
#[template(path = "console/members.html")]
pub struct MembersPage {
    pub chrome: Chrome,
    pub rows: Vec<MemberRow>,
    pub roles: [(&'static str, &'static str); 2],
    pub page: i64,
    pub pages: i64,
    pub range: String,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct MembersQuery {
    limit: Option<String>,
    page: Option<String>,
}

fn paging(raw: &str) -> Result<Paging, ServiceError> {
    let query: MembersQuery = serde_urlencoded::from_str(raw).map_err(|e| {
        ServiceError::invalid("query", format!("the query string is malformed: {e}"))
    })?;
    Paging::parse(query.limit.as_deref(), query.page.as_deref())
}

/// `GET /admin/orgs/{uuid}/members`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let visit = Visit::new(&req, &state, &path);
    let asked = paging(req.query_string());
    let found = state
        .db
        .read(move |conn| {
            let admin = visit.admit(conn)?;
            let paging = asked.for_admin(&admin)?;
            let found =
                services::members::list(conn, admin.org_id(), paging.window()).for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, paging, found))
        })
        .await;
    let (admin, paging, found) = match found {
        Ok(found) => found,
        Err(error) => return super::failure(&req, &state, "members", error),
    };
    let chrome = Chrome::new(&req, &admin, "members");
    let pages = paging.pages(found.total_count);
    let base = chrome.href("/members");
    let link = |page: i64| format!("{base}?limit={}&page={page}", paging.limit);
    let page = MembersPage {
        rows: found
            .items
            .iter()
            .map(|member| MemberRow::new(member, admin.user_id))
            .collect(),
        roles: [Role::Member, Role::Admin].map(|role| (role.as_str(), role.label())),
        page: paging.page,
        pages,
        range: paging.range(found.items.len(), found.total_count),
        previous_href: (paging.page > 1).then(|| link(paging.page - 1)),
        next_href: (paging.page < pages).then(|| link(paging.page + 1)),
        chrome,
    };
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    pub role: String,
}

enum Change {
    Remove,
    Role(Result<Role, ServiceError>),
}

async fn change(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    change: Change,
) -> HttpResponse {
    let done = super::change_row(
        &req,
        &state,
        path.into_inner(),
        "member",
        move |tx, admin, origin, user_id, now| {
            let org_id = admin.org_id();
            // Whether the member keeps the admin role afterwards.
            let (notice, still_admin) = match change {
                Change::Remove => {
                    services::members::remove(tx, origin, OrgId(org_id), UserId(user_id), now)
                        .map(|_| ("removed", false))
                }
                Change::Role(role) => role.and_then(|role| {
                    services::members::change_role(
                        tx,
                        origin,
                        OrgId(org_id),
                        UserId(user_id),
                        role,
                        now,
                    )
                    .map(|changed| ("role-changed", changed.role == Role::Admin))
                }),
            }?;
            Ok((notice, user_id == admin.user_id && !still_admin))
        },
    )
    .await;
    match done {
        // Removing or demoting yourself ends your console here.
        Ok((_, (notice, true))) => {
            crate::web::render::see_other(&format!("/admin?notice={notice}"))
        }
        Ok((admin, (notice, false))) => crate::web::render::see_other(&format!(
            "/admin/orgs/{}/members?notice={notice}",
            admin.organization.uuid
        )),
        Err(ConsoleError::Refused(
            admin,
            ServiceError::Conflict {
                code: "last_admin", ..
            },
        )) => crate::web::render::see_other(&format!(
            "/admin/orgs/{}/members?notice=last-admin",
            admin.organization.uuid
        )),
        Err(error) => super::failure(&req, &state, "members", error),
    }
}

/// `POST /admin/orgs/{uuid}/members/{user_id}/remove`
pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    change(req, path, state, Change::Remove).await
}

/// `POST /admin/orgs/{uuid}/members/{user_id}/role`
pub async fn set_role(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: RoleForm = match super::read_form(&req, &state, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let role = form.role.parse::<Role>().map_err(|_| {
        let shown: String = form.role.chars().take(64).collect();
        ServiceError::invalid(
            "role",
            format!("role must be ADMIN or MEMBER, got `{shown}`"),
        )
    });
    change(req, path, state, Change::Role(role)).await
}
