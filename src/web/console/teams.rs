//! The console's teams: the list, making one, renaming, describing or
//! deleting one, and putting members in and taking them out. The same
//! services as `/v1/organization/teams`.

use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, Paging, Visit};
use crate::domain::Member;
use crate::domain::team::Team;
use crate::services::console::Need;
use crate::services::teams::{NewTeam, TeamPatch};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use std::collections::BTreeMap;

// Every page and action here needs `teams:manage` (`Need::TEAMS`), checked
// in the storage call that admits.

pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_count: i64,
}

impl From<&Team> for TeamRow {
    fn from(team: &Team) -> Self {
        Self {
            id: team.id,
            name: team.name.clone(),
            description: team.description.clone().unwrap_or_default(),
            member_count: team.member_count,
        }
    }
}

pub struct TeamMemberRow {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
}

impl From<&Member> for TeamMemberRow {
    fn from(member: &Member) -> Self {
        Self {
            user_id: member.user_id,
            name: format!("{} {}", member.first_name, member.last_name)
                .trim()
                .to_owned(),
            email: member.email.clone(),
            role: member.role.as_str().to_owned(),
        }
    }
}

/// The team form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

impl TeamForm {
    fn new_team(&self) -> Result<NewTeam, ServiceError> {
        Ok(NewTeam {
            name: services::teams::name(&self.name)?,
            description: services::teams::description(Some(&self.description))?,
        })
    }

    fn patch(&self) -> Result<TeamPatch, ServiceError> {
        Ok(TeamPatch {
            name: Some(services::teams::name(&self.name)?),
            description: Some(services::teams::description(Some(&self.description))?),
        })
    }
}

/// The add-a-member form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    pub email: String,
}

/// A team a form offers to tick (the invitation and join-link forms).
pub struct TeamChoice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

/// The form field prefix of a team's checkbox: `team_7` for team 7 (each
/// box its own name, as the forms are read into structs).
const TICKED: &str = "team_";

/// The organization's teams as checkboxes, ticked as the form was sent.
pub fn choices(teams: Vec<(i64, String)>, sent: &BTreeMap<String, String>) -> Vec<TeamChoice> {
    teams
        .into_iter()
        .map(|(id, name)| TeamChoice {
            checked: sent.contains_key(&format!("{TICKED}{id}")),
            id,
            name,
        })
        .collect()
}

/// The team ids a form ticked, checked as the API checks `teamIds`.
pub fn ticked(sent: &BTreeMap<String, String>) -> Result<Vec<i64>, ServiceError> {
    let ids: Vec<serde_json::Value> = sent
        .keys()
        .filter_map(|name| name.strip_prefix(TICKED))
        .map(|id| {
            id.parse::<i64>()
                .map_or_else(|_| serde_json::Value::from(id), serde_json::Value::from)
        })
        .collect();
    services::teams::ids(Some(&serde_json::Value::Array(ids)))
}

/// A pager's links and range line.
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub range: String,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
}

impl Pager {
    pub(super) fn new(paging: Paging, shown: usize, total: i64, base: &str) -> Self {
        let pages = paging.pages(total);
        let link = |page: i64| format!("{base}?limit={}&page={page}", paging.limit);
        Self {
            page: paging.page,
            pages,
            range: paging.range(shown, total),
            previous_href: (paging.page > 1).then(|| link(paging.page - 1)),
            next_href: (paging.page < pages).then(|| link(paging.page + 1)),
        }
    }
}

#[derive(Template)]
#[template(path = "console/teams.html")]
pub struct TeamsPage {
    pub chrome: Chrome,
    pub rows: Vec<TeamRow>,
    pub pager: Pager,
    pub form: TeamForm,
    pub field_error: FieldError,
}

#[derive(Template)]
#[template(path = "console/team.html")]
pub struct TeamPage {
    pub chrome: Chrome,
    pub id: i64,
    pub member_count: i64,
    pub form: TeamForm,
    pub field_error: FieldError,
    pub members: Vec<TeamMemberRow>,
    pub pager: Pager,
    pub member_form: MemberForm,
    pub member_error: FieldError,
}

fn field_of(api_field: &str) -> Option<&'static str> {
    match api_field {
        "name" => Some("name"),
        "description" => Some("description"),
        "email" => Some("email"),
        _ => None,
    }
}

/// One page of teams and the new-team form.
fn teams_page(
    visit: &Visit,
    admin: &crate::services::console::ConsoleAdmin,
    paging: Paging,
    found: &crate::domain::Paged<Team>,
    form: TeamForm,
) -> TeamsPage {
    let chrome = visit.chrome(admin, "teams");
    let pager = Pager::new(
        paging,
        found.items.len(),
        found.total_count,
        &chrome.href("/teams"),
    );
    TeamsPage {
        rows: found.items.iter().map(TeamRow::from).collect(),
        pager,
        form,
        field_error: FieldError::default(),
        chrome,
    }
}

/// `GET /admin/orgs/{uuid}/teams`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let asked = Paging::from_query(visit.request().query_string());
    let (admin, (paging, found)) = visit
        .read(&state, "teams", Need::TEAMS, move |conn, admin, _| {
            let paging = asked?;
            Ok((
                paging,
                services::teams::list(conn, admin.org_id(), paging.window())?,
            ))
        })
        .await?;
    let page = teams_page(&visit, &admin, paging, &found, TeamForm::default());
    super::shown(&state, &page, &page.chrome)
}

/// The first page of a list, for a form sent back.
const FIRST_PAGE: Paging = Paging {
    page: 1,
    limit: super::DEFAULT_PAGE_SIZE,
};

/// The field a refused form shows its error on, and the error.
fn form_error(error: &ServiceError) -> Option<(&'static str, String)> {
    match error {
        ServiceError::Invalid { field, detail } => Some((field_of(field)?, detail.clone())),
        // A name taken by another team, or the organization's team limit.
        ServiceError::Conflict { detail, .. } => Some(("name", detail.clone())),
        _ => None,
    }
}

/// `POST /admin/orgs/{uuid}/teams`: a new team, then back to the list.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<TeamForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = form.new_team();
    let max = state.settings.teams.max_per_organization;
    let created = visit
        .change(
            &state,
            "teams",
            Need::TEAMS,
            move |tx, admin, origin, now| {
                services::teams::create(tx, origin, admin.org_id(), checked?, max, now).map(|_| ())
            },
        )
        .await;
    let failure = match created {
        Ok(done) => return super::after_change(Ok(done), "teams", "team-created"),
        Err(failure) => failure,
    };
    // The list and the form again, as typed, saying what is wrong.
    let found = visit
        .read(&state, "teams", Need::TEAMS, move |conn, admin, _| {
            services::teams::list(conn, admin.org_id(), FIRST_PAGE.window())
        })
        .await
        .map_or_else(
            |_| FIRST_PAGE.window().of(Vec::new(), 0),
            |(_, found)| found,
        );
    failure.or_form(|admin, error| {
        let (field, detail) = form_error(error)?;
        let mut page = teams_page(&visit, admin, FIRST_PAGE, &found, form);
        page.field_error = FieldError::new(field, detail);
        Some(super::page(
            &state,
            StatusCode::BAD_REQUEST,
            &page,
            &page.chrome,
            None,
        ))
    })
}

#[derive(Debug, serde::Deserialize)]
pub struct TeamPath {
    pub id: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct TeamMemberPath {
    pub id: String,
    pub user: String,
}

/// The team, one page of its members and the forms.
async fn team_page(
    visit: &Visit,
    state: &AppState,
    raw_id: &str,
    paging: Result<Paging, ServiceError>,
) -> Result<TeamPage, ConsolePageError> {
    let id = super::path_id(raw_id);
    let (admin, (paging, team, members)) = visit
        .read(state, "teams", Need::TEAMS, move |conn, admin, _| {
            let id = id.ok_or(ServiceError::NotFound("team"))?;
            let paging = paging?;
            let team = services::teams::get(conn, admin.org_id(), id)?;
            let members = services::teams::members(conn, admin.org_id(), id, paging.window())?;
            Ok((paging, team, members))
        })
        .await?;
    let chrome = visit.chrome(&admin, "teams");
    let base = chrome.href(&format!("/teams/{}", team.id));
    Ok(TeamPage {
        id: team.id,
        member_count: team.member_count,
        form: TeamForm {
            name: team.name.clone(),
            description: team.description.clone().unwrap_or_default(),
        },
        field_error: FieldError::default(),
        members: members.items.iter().map(TeamMemberRow::from).collect(),
        pager: Pager::new(paging, members.items.len(), members.total_count, &base),
        member_form: MemberForm::default(),
        member_error: FieldError::default(),
        chrome,
    })
}

/// `GET /admin/orgs/{uuid}/teams/{id}`
pub async fn show(
    visit: Visit,
    path: web::Path<TeamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let paging = Paging::from_query(visit.request().query_string());
    let page = team_page(&visit, &state, &path.id, paging).await?;
    super::shown(&state, &page, &page.chrome)
}

/// Back to the team's page with `notice`.
fn to_team(
    done: Result<(crate::services::console::ConsoleAdmin, i64), ConsolePageError>,
    notice: &str,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, id) = done?;
    Ok(crate::web::render::see_other(&format!(
        "/admin/orgs/{}/teams/{id}?notice={notice}",
        admin.organization.uuid
    )))
}

/// After a change on a team's page: back to it saying `notice`; refused
/// for what was typed, the page again with `typed` as it was.
async fn after_team_change(
    visit: &Visit,
    state: &AppState,
    raw_id: &str,
    done: Result<(crate::services::console::ConsoleAdmin, i64), ConsolePageError>,
    notice: &str,
    typed: Result<TeamForm, MemberForm>,
) -> Result<HttpResponse, ConsolePageError> {
    match done {
        Ok(done) => to_team(Ok(done), notice),
        Err(failure) => {
            let page = team_page(visit, state, raw_id, Ok(FIRST_PAGE)).await.ok();
            failure.or_form(|_, error| sent_back(state, page, error, typed))
        }
    }
}

/// The team's page again after a refused form, showing the error on its
/// field (the other form as it was).
fn sent_back(
    state: &AppState,
    page: Option<TeamPage>,
    error: &ServiceError,
    typed: Result<TeamForm, MemberForm>,
) -> Option<HttpResponse> {
    let mut page = page?;
    let (field, detail) = form_error(error)?;
    match typed {
        Ok(form) => {
            page.form = form;
            page.field_error = FieldError::new(field, detail);
        }
        Err(form) => {
            page.member_form = form;
            page.member_error = FieldError::new("email", detail);
        }
    }
    Some(super::page(
        state,
        StatusCode::BAD_REQUEST,
        &page,
        &page.chrome,
        None,
    ))
}

/// `POST /admin/orgs/{uuid}/teams/{id}`: renamed or described anew.
pub async fn update(
    visit: Visit,
    path: web::Path<TeamPath>,
    ConsoleForm(form): ConsoleForm<TeamForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = form.patch();
    let changed = super::change_row(
        &visit,
        &state,
        "teams",
        Need::TEAMS,
        ("team", &path.id),
        move |tx, admin, origin, id, now| {
            services::teams::update(tx, origin, admin.org_id(), id, checked?, now).map(|t| t.id)
        },
    )
    .await;
    after_team_change(&visit, &state, &path.id, changed, "team-updated", Ok(form)).await
}

/// `POST /admin/orgs/{uuid}/teams/{id}/delete`
pub async fn delete(
    visit: Visit,
    path: web::Path<TeamPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let done = super::change_row(
        &visit,
        &state,
        "teams",
        Need::TEAMS,
        ("team", &path.id),
        |tx, admin, origin, id, now| services::teams::delete(tx, origin, admin.org_id(), id, now),
    )
    .await;
    super::after_change(done, "teams", "team-deleted")
}

/// `POST /admin/orgs/{uuid}/teams/{id}/members`: a member (by email) put in.
pub async fn add_member(
    visit: Visit,
    path: web::Path<TeamPath>,
    ConsoleForm(form): ConsoleForm<MemberForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let email = form.email.clone();
    let added = super::change_row(
        &visit,
        &state,
        "teams",
        Need::TEAMS,
        ("team", &path.id),
        move |tx, admin, origin, id, now| {
            services::teams::add_member_by_email(tx, origin, admin.org_id(), id, &email, now)
                .map(|_| id)
        },
    )
    .await;
    after_team_change(
        &visit,
        &state,
        &path.id,
        added,
        "team-member-added",
        Err(form),
    )
    .await
}

/// `POST /admin/orgs/{uuid}/teams/{id}/members/{user}/remove`
pub async fn remove_member(
    visit: Visit,
    path: web::Path<TeamMemberPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let user = super::path_id(&path.user);
    let done = super::change_row(
        &visit,
        &state,
        "teams",
        Need::TEAMS,
        ("team", &path.id),
        move |tx, admin, origin, id, now| {
            let user = user.ok_or(ServiceError::NotFound("user"))?;
            services::teams::remove_member(tx, origin, admin.org_id(), id, user, now).map(|_| id)
        },
    )
    .await;
    to_team(done, "team-member-removed")
}
