//! `/v1/organization/teams`: the organization's teams and who is in them.

use crate::api::dto::{
    CreateTeamRequest, IdBody, MemberBody, MemberPage, PageQuery, TeamPage, UpdateTeamRequest,
};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::params;
use crate::domain::Scope;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::teams::{NewTeam, TeamPatch};
use crate::state::AppState;
use crate::views::TeamBody;
use actix_web::web;

/// The `{userId}` of a members path: a positive integer.
fn user_id(raw: &str) -> Result<i64, ApiError> {
    params::id(raw).map_err(|_| {
        ApiError::bad_request(
            "userId",
            format!(
                "userId must be a positive integer, got `{}`",
                params::clip(raw)
            ),
        )
    })
}

/// `GET /v1/organization/teams`
#[utoipa::path(
    get, path = "/v1/organization/teams", operation_id = "listTeams", tag = "Teams",
    params(crate::api::openapi::PageParams),
    security(("api_key" = ["teams:read"])),
    responses(
        (status = 200, description = "One page of the organization's teams, oldest first", body = crate::api::dto::TeamPage, example = json!({
            "items": [
                {"id": 7, "name": "Billing", "description": "Invoices and payments", "memberCount": 2, "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"},
                {"id": 8, "name": "Support", "description": null, "memberCount": 0, "createdAt": "2026-12-02T10:00:00.000Z", "updatedAt": "2026-12-02T10:00:00.000Z"}
            ],
            "limit": 100, "offset": 0, "totalCount": 2
        })),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<TeamPage>, ApiError> {
    // Parameters are checked now and reported after the key and its scope.
    let page = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| params::page(query.limit.as_deref(), query.offset.as_deref()));
    let teams = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::TeamsRead)?;
            Ok::<_, ApiError>(services::teams::list(conn, caller.org_id(), page?)?)
        })
        .await?;
    Ok(web::Json(teams.into()))
}

/// `POST /v1/organization/teams`
#[utoipa::path(
    post, path = "/v1/organization/teams", operation_id = "createTeam", tag = "Teams",
    request_body = crate::api::dto::CreateTeamRequest,
    security(("api_key" = ["teams:write"])),
    responses(
        (status = 200, description = "The new team", body = crate::views::TeamBody),
        (status = 400, description = "A field breaks a rule (`field` names it: `name`, `description`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The organization has a team of this name (`team_name_taken`; names differing only in case are one name), or `teams.max_per_organization` teams (`team_limit`)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "about:blank", "title": "Conflict", "status": 409, "code": "team_name_taken",
            "detail": "the organization has a team named `Billing` already"
        }))
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateTeamRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<TeamBody>, actix_web::Error> {
    caller.require(Scope::TeamsWrite)?;
    let body = body?.into_inner();
    let new = NewTeam {
        name: services::teams::name(&body.name).map_err(ApiError::from)?,
        description: services::teams::description(body.description.as_deref())
            .map_err(ApiError::from)?,
    };
    let max = state.settings.teams.max_per_organization;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let team = state
        .db
        .write(move |tx| services::teams::create(tx, &origin, org_id, new, max, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(team.into()))
}

/// `GET /v1/organization/teams/{id}`
#[utoipa::path(
    get, path = "/v1/organization/teams/{id}", operation_id = "getTeam", tag = "Teams",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the team")),
    security(("api_key" = ["teams:read"])),
    responses(
        (status = 200, description = "The team", body = crate::views::TeamBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn get(
    key: PresentedKey,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<TeamBody>, ApiError> {
    let id = params::id(&id);
    let team = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::TeamsRead)?;
            Ok::<_, ApiError>(services::teams::get(conn, caller.org_id(), id?)?)
        })
        .await?;
    Ok(web::Json(team.into()))
}

/// `PATCH /v1/organization/teams/{id}`
#[utoipa::path(
    patch, path = "/v1/organization/teams/{id}", operation_id = "updateTeam", tag = "Teams",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the team")),
    request_body = crate::api::dto::UpdateTeamRequest,
    security(("api_key" = ["teams:write"])),
    responses(
        (status = 200, description = "The team as changed", body = crate::views::TeamBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, description = "Another team of the organization has this name (`team_name_taken`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn update(
    caller: AdminCaller,
    id: web::Path<String>,
    body: Result<web::Json<UpdateTeamRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<TeamBody>, actix_web::Error> {
    caller.require(Scope::TeamsWrite)?;
    let id = params::id(&id)?;
    let body = body?.into_inner();
    let patch = TeamPatch {
        name: body
            .name
            .as_deref()
            .map(services::teams::name)
            .transpose()
            .map_err(ApiError::from)?,
        description: body
            .description
            .map(|given| services::teams::description(given.as_deref()))
            .transpose()
            .map_err(ApiError::from)?,
    };
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let team = state
        .db
        .write(move |tx| services::teams::update(tx, &origin, org_id, id, patch, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(team.into()))
}

/// `DELETE /v1/organization/teams/{id}`
#[utoipa::path(
    delete, path = "/v1/organization/teams/{id}", operation_id = "deleteTeam", tag = "Teams",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the team")),
    security(("api_key" = ["teams:write"])),
    responses(
        (status = 200, description = "Deleted: its members stay in the organization; invitations and join links naming it no longer put anyone in it", body = crate::api::dto::IdBody, example = json!({"id": 7})),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn delete(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::TeamsWrite)?;
    let id = params::id(&id)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let id = state
        .db
        .write(move |tx| services::teams::delete(tx, &origin, org_id, id, now))
        .await?;
    Ok(web::Json(IdBody { id }))
}

/// `GET /v1/organization/teams/{id}/members`
#[utoipa::path(
    get, path = "/v1/organization/teams/{id}/members", operation_id = "listTeamMembers", tag = "Teams",
    params(
        ("id" = i64, Path, minimum = 1, description = "The ID of the team"),
        crate::api::openapi::PageParams
    ),
    security(("api_key" = ["teams:read"])),
    responses(
        (status = 200, description = "One page of the team's members, ordered by id, as `GET /v1/organization/users` lists them", body = crate::api::dto::MemberPage, example = json!({
            "items": [
                {"id": 42, "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "role": "MEMBER", "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"}
            ],
            "totalCount": 1, "offset": 0, "limit": 100
        })),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn members(
    key: PresentedKey,
    id: web::Path<String>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<MemberPage>, ApiError> {
    let asked = params::id(&id).and_then(|id| {
        let query = query.map_err(ApiError::from_extractor)?;
        Ok((
            id,
            params::page(query.limit.as_deref(), query.offset.as_deref())?,
        ))
    });
    let members = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::TeamsRead)?;
            let (id, page) = asked?;
            Ok::<_, ApiError>(services::teams::members(conn, caller.org_id(), id, page)?)
        })
        .await?;
    Ok(web::Json(members.into()))
}

/// `PUT /v1/organization/teams/{id}/members/{userId}`
#[utoipa::path(
    put, path = "/v1/organization/teams/{id}/members/{userId}", operation_id = "addTeamMember", tag = "Teams",
    params(
        ("id" = i64, Path, minimum = 1, description = "The ID of the team"),
        ("userId" = i64, Path, minimum = 1, description = "A member of the organization")
    ),
    security(("api_key" = ["teams:write"])),
    responses(
        (status = 200, description = "The member, as `GET /v1/organization/users` lists them; putting someone already in the team changes nothing", body = crate::api::dto::MemberBody, example = json!({
            "id": 42, "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "role": "MEMBER", "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"
        })),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, description = "No such team, or the user is not a member of the organization", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn add_member(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<web::Json<MemberBody>, ApiError> {
    caller.require(Scope::TeamsWrite)?;
    let (raw_team, raw_user) = path.into_inner();
    let (team_id, user_id) = (params::id(&raw_team)?, user_id(&raw_user)?);
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let member = state
        .db
        .write(move |tx| services::teams::add_member(tx, &origin, org_id, team_id, user_id, now))
        .await?;
    Ok(web::Json(member.into()))
}

/// `DELETE /v1/organization/teams/{id}/members/{userId}`
#[utoipa::path(
    delete, path = "/v1/organization/teams/{id}/members/{userId}", operation_id = "removeTeamMember", tag = "Teams",
    params(
        ("id" = i64, Path, minimum = 1, description = "The ID of the team"),
        ("userId" = i64, Path, minimum = 1, description = "A member of the team")
    ),
    security(("api_key" = ["teams:write"])),
    responses(
        (status = 200, description = "Taken out of the team (they stay in the organization)", body = crate::api::dto::IdBody, example = json!({"id": 42})),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, description = "No such team, or the user is not in it", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn remove_member(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::TeamsWrite)?;
    let (raw_team, raw_user) = path.into_inner();
    let (team_id, user_id) = (params::id(&raw_team)?, user_id(&raw_user)?);
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let id = state
        .db
        .write(move |tx| services::teams::remove_member(tx, &origin, org_id, team_id, user_id, now))
        .await?;
    Ok(web::Json(IdBody { id }))
}
