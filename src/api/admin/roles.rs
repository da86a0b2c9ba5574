//! `/v1/organization/roles`: the organization's roles (the built-ins ADMIN
//! and MEMBER, read-only, and its own), and `/v1/organization/permissions/check`.

use crate::api::dto::{
    CreateRoleRequest, PageQuery, PermissionCheckBody, PermissionCheckRequest, RoleKeyBody,
    RolePage, UpdateRoleRequest,
};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::params;
use crate::domain::Scope;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::roles::{NewRole, RolePatch};
use crate::state::AppState;
use crate::views::RoleBody;
use actix_web::web;

/// `GET /v1/organization/roles`
#[utoipa::path(
    get, path = "/v1/organization/roles", operation_id = "listRoles", tag = "Roles",
    params(crate::api::openapi::PageParams),
    security(("api_key" = ["roles:read"])),
    responses(
        (status = 200, description = "One page of roles: ADMIN and MEMBER first, then the organization's own by key", body = crate::api::dto::RolePage, example = json!({
            "items": [
                {"key": "ADMIN", "name": "Admin", "description": "Manages the organization: every enlist management permission", "permissions": ["api_keys:manage", "invitations:manage", "join_links:manage", "members:manage", "organization:manage", "roles:manage", "teams:manage", "webhooks:manage"], "builtIn": true, "createdAt": null, "updatedAt": null},
                {"key": "MEMBER", "name": "Member", "description": "Belongs to the organization; no permissions", "permissions": [], "builtIn": true, "createdAt": null, "updatedAt": null},
                {"key": "billing", "name": "Billing", "description": "Sees and pays the invoices", "permissions": ["billing:manage", "invoices:read"], "builtIn": false, "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"}
            ],
            "limit": 100, "offset": 0, "totalCount": 3
        })),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<RolePage>, ApiError> {
    let page = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| params::page(query.limit.as_deref(), query.offset.as_deref()));
    let roles = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::RolesRead)?;
            Ok::<_, ApiError>(services::roles::list(conn, caller.org_id(), page?)?)
        })
        .await?;
    Ok(web::Json(roles.into()))
}

/// `POST /v1/organization/roles`: a custom role.
#[utoipa::path(
    post, path = "/v1/organization/roles", operation_id = "createRole", tag = "Roles",
    request_body = crate::api::dto::CreateRoleRequest,
    security(("api_key" = ["roles:write"])),
    responses(
        (status = 200, description = "The new role", body = crate::views::RoleBody),
        (status = 400, description = "A field breaks a rule (`field` names it: `key` for a malformed or built-in key, `name`, `description`, `permissions`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is taken (`role_exists`), or the organization has `roles.max_per_organization` custom roles (`role_limit`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateRoleRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<RoleBody>, actix_web::Error> {
    caller.require(Scope::RolesWrite)?;
    let body = body?.into_inner();
    let new = NewRole {
        key: services::roles::new_key(&body.key).map_err(ApiError::from)?,
        name: services::roles::name(&body.name).map_err(ApiError::from)?,
        description: services::roles::description(body.description.as_deref())
            .map_err(ApiError::from)?,
        permissions: services::roles::permissions(&body.permissions).map_err(ApiError::from)?,
    };
    let max = state.settings.roles.max_per_organization;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let role = state
        .db
        .write(move |tx| services::roles::create(tx, &origin, org_id, new, max, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(role.into()))
}

/// `GET /v1/organization/roles/{key}`
#[utoipa::path(
    get, path = "/v1/organization/roles/{key}", operation_id = "getRole", tag = "Roles",
    params(("key" = String, Path, description = "`ADMIN`, `MEMBER` or one of the organization's own keys", example = "billing")),
    security(("api_key" = ["roles:read"])),
    responses(
        (status = 200, description = "The role", body = crate::views::RoleBody),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn get(
    key: PresentedKey,
    role_key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<RoleBody>, ApiError> {
    let role_key = role_key.into_inner();
    let role = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::RolesRead)?;
            Ok::<_, ApiError>(services::roles::get(conn, caller.org_id(), &role_key)?)
        })
        .await?;
    Ok(web::Json(role.into()))
}

/// `PATCH /v1/organization/roles/{key}`
#[utoipa::path(
    patch, path = "/v1/organization/roles/{key}", operation_id = "updateRole", tag = "Roles",
    params(("key" = String, Path, description = "One of the organization's own keys", example = "billing")),
    request_body = crate::api::dto::UpdateRoleRequest,
    security(("api_key" = ["roles:write"])),
    responses(
        (status = 200, description = "The role as changed", body = crate::views::RoleBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, description = "ADMIN and MEMBER cannot be changed (`built_in_role`), or taking `members:manage` away would leave no member who can manage members (`last_admin`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn update(
    caller: AdminCaller,
    role_key: web::Path<String>,
    body: Result<web::Json<UpdateRoleRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<RoleBody>, actix_web::Error> {
    caller.require(Scope::RolesWrite)?;
    let body = body?.into_inner();
    let patch = RolePatch {
        name: body
            .name
            .as_deref()
            .map(services::roles::name)
            .transpose()
            .map_err(ApiError::from)?,
        description: body
            .description
            .map(|given| services::roles::description(given.as_deref()))
            .transpose()
            .map_err(ApiError::from)?,
        permissions: body
            .permissions
            .as_deref()
            .map(services::roles::permissions)
            .transpose()
            .map_err(ApiError::from)?,
    };
    let role_key = role_key.into_inner();
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let role = state
        .db
        .write(move |tx| services::roles::update(tx, &origin, org_id, &role_key, patch, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(role.into()))
}

/// `DELETE /v1/organization/roles/{key}`
#[utoipa::path(
    delete, path = "/v1/organization/roles/{key}", operation_id = "deleteRole", tag = "Roles",
    params(("key" = String, Path, description = "One of the organization's own keys", example = "billing")),
    security(("api_key" = ["roles:write"])),
    responses(
        (status = 200, description = "Deleted", body = crate::api::dto::RoleKeyBody),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, description = "ADMIN and MEMBER cannot be deleted (`built_in_role`); a role members, pending invitations or usable join links hold cannot either (`role_in_use`, the detail counts them)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "about:blank", "title": "Conflict", "status": 409, "code": "role_in_use",
            "detail": "role `billing` is held by 2 member(s), 1 pending invitation(s) and 0 usable join link(s); give them another role (or revoke them) first"
        }))
    )
)]
pub async fn delete(
    caller: AdminCaller,
    role_key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<RoleKeyBody>, ApiError> {
    caller.require(Scope::RolesWrite)?;
    let role_key = role_key.into_inner();
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let key = state
        .db
        .write(move |tx| services::roles::delete(tx, &origin, org_id, &role_key, now))
        .await?;
    Ok(web::Json(RoleKeyBody { key }))
}

/// `POST /v1/organization/permissions/check`: whether a member's role
/// grants every permission asked (one read).
#[utoipa::path(
    post, path = "/v1/organization/permissions/check", operation_id = "checkPermissions", tag = "Roles",
    request_body = crate::api::dto::PermissionCheckRequest,
    security(("api_key" = ["users:read"])),
    responses(
        (status = 200, description = "`allowed` when the member holds every permission asked; `missing` names the rest", body = crate::api::dto::PermissionCheckBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, description = "The user is not a member of the organization", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn check_permissions(
    key: PresentedKey,
    body: Result<web::Json<PermissionCheckRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<PermissionCheckBody>, ApiError> {
    // The body is checked now and reported after the key and its scope.
    let asked = body.map_err(ApiError::from_extractor).and_then(|body| {
        let body = body.into_inner();
        let wanted = services::roles::asked(&body.permissions)?;
        Ok((body.user_id, wanted))
    });
    let checked = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::UsersRead)?;
            let (user_id, wanted) = asked?;
            Ok::<_, ApiError>(services::roles::check(
                conn,
                caller.org_id(),
                user_id,
                &wanted,
            )?)
        })
        .await?;
    Ok(web::Json(PermissionCheckBody {
        allowed: checked.allowed,
        missing: checked.missing,
    }))
}
