//! Thin handlers for the admin API's members: list, change a role, remove.

use crate::api::dto::{IdBody, ListUsersQuery, MemberBody, MemberPage, UpdateMemberRequest};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::params;
use crate::domain::{OrgId, UserId};
use crate::domain::{Role, Scope};
use crate::http::problem::ApiError;
use crate::services;
use crate::state::AppState;
use actix_web::web;

/// `GET /v1/organization/users`
///
/// The query arrives as a `Result` so a key without the scope hears 403
/// before anything about its parameters.
#[utoipa::path(
    get, path = "/v1/organization/users", operation_id = "listUsers", tag = "Users",
    params(
        crate::api::openapi::PageParams,
        ("teamId" = Option<i64>, Query, minimum = 1, description = "Only the members of this team of the organization (another organization's team is not found)", example = 7),
        crate::api::openapi::UserSearchParams
    ),
    security(("api_key" = ["users:read"])),
    responses(
        (status = 200, description = "One page of members, ordered by id; `nextCursor` continues it (null on the last page)", body = crate::api::dto::MemberPage, example = json!({
            "items": [{"id": 12, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "role": "MEMBER", "createdAt": "2026-01-05T10:00:00.000Z", "updatedAt": "2026-01-05T10:00:00.000Z"}],
            "totalCount": 1, "offset": 0, "limit": 100, "nextCursor": null
        })),
        (status = 404, description = "`teamId` is not a team of the organization", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<ListUsersQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<MemberPage>, actix_web::Error> {
    // Parameters are checked now and reported after the key and its scope.
    let asked = query.map_err(ApiError::from_extractor).and_then(|query| {
        let window = params::window(
            query.limit.as_deref(),
            query.offset.as_deref(),
            query.after.as_deref(),
        )?;
        let team_id = query.team_id.as_deref().map(team_id).transpose()?;
        let search = params::search(query.email.as_deref(), query.q.as_deref())?;
        Ok((window, team_id, search))
    });
    let cursor_key = state.cursor_key.clone();
    let members = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::UsersRead)?;
            let (window, team_id, search) = asked?;
            Ok::<_, ApiError>(services::members::find(
                conn,
                &cursor_key,
                caller.org_id(),
                team_id,
                &search,
                &window,
            )?)
        })
        .await?;
    Ok(web::Json(members.into()))
}

/// The `teamId` filter: a positive integer.
fn team_id(raw: &str) -> Result<i64, ApiError> {
    params::id(raw).map_err(|_| {
        ApiError::bad_request(
            "teamId",
            format!(
                "teamId must be a positive integer, got `{}`",
                params::clip(raw)
            ),
        )
    })
}

/// `DELETE /v1/organization/users/{id}`
#[utoipa::path(
    delete, path = "/v1/organization/users/{id}", operation_id = "removeUser", tag = "Users",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the user to remove")),
    security(("api_key" = ["users:write"])),
    responses(
        (status = 200, description = "Removed from the organization (the account stays)", body = crate::api::dto::IdBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict)
    )
)]
pub async fn remove(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let user_id = params::id(&id)?;
    let org_id = caller.org_id();
    let now = state.clock.now();
    let origin = caller.origin();
    let id = state
        .db
        .write(move |tx| {
            services::members::remove(tx, &origin, OrgId(org_id), UserId(user_id), now)
        })
        .await?;
    Ok(web::Json(IdBody { id }))
}

/// `PATCH /v1/organization/users/{id}`: another role for a member.
#[utoipa::path(
    patch, path = "/v1/organization/users/{id}", operation_id = "updateUser", tag = "Users",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the user")),
    request_body = crate::api::dto::UpdateMemberRequest,
    security(("api_key" = ["users:write"])),
    responses(
        (status = 200, description = "The member with their new role; a demoted admin's API keys are revoked", body = crate::api::dto::MemberBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, description = "It would leave the organization without an admin (`last_admin`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn update(
    caller: AdminCaller,
    id: web::Path<String>,
    body: Result<web::Json<UpdateMemberRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<MemberBody>, actix_web::Error> {
    caller.require(Scope::UsersWrite)?;
    let user_id = params::id(&id)?;
    let body = body?.into_inner();
    let role = body.role.parse::<Role>().map_err(|_| {
        ApiError::bad_request(
            "role",
            format!(
                "role must be ADMIN, MEMBER or one of the organization's role keys, got `{}`",
                params::clip(&body.role)
            ),
        )
    })?;
    let org_id = caller.org_id();
    let now = state.clock.now();
    let origin = caller.origin();
    let member = state
        .db
        .write(move |tx| {
            services::members::change_role(tx, &origin, OrgId(org_id), UserId(user_id), role, now)
        })
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(member.into()))
}
