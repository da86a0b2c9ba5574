//! `/v1/organization`: the API key's organization: reading it, changing
//! it, exporting it, deleting it.

use crate::api::dto::{
    DeleteOrganizationRequest, DeletedOrganizationBody, OrganizationBody, UpdateOrganizationRequest,
};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::domain::Scope;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::orgs::OrgPatch;
use crate::state::AppState;
use crate::views::OrganizationExportBody;
use actix_web::web;

/// `GET /v1/organization`
#[utoipa::path(
    get, path = "/v1/organization", operation_id = "getOrganization", tag = "Organization",
    security(("api_key" = ["organization:read"])),
    responses(
        (status = 200, description = "The API key's organization (`metadata` once an admin set it)", body = crate::api::dto::OrganizationBody, example = json!({
            "id": 1, "uuid": "0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10", "name": "Acme",
            "logoUrl": "https://cdn.example.com/acme.png", "memberCount": 12,
            "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-02T10:00:00.000Z",
            "metadata": {"plan": "enterprise"}
        }))
    )
)]
pub async fn get(
    key: PresentedKey,
    state: web::Data<AppState>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let org = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::OrganizationRead)?;
            Ok::<_, ApiError>(services::orgs::get(conn, caller.org_id())?)
        })
        .await?;
    Ok(web::Json(org.into()))
}

/// `PATCH /v1/organization`
#[utoipa::path(
    patch, path = "/v1/organization", operation_id = "updateOrganization", tag = "Organization",
    request_body = crate::api::dto::UpdateOrganizationRequest,
    security(("api_key" = ["organization:write"])),
    responses(
        (status = 200, description = "The organization as changed; an `organization.updated` event names the fields whose value changed", body = crate::api::dto::OrganizationBody, example = json!({
            "id": 1, "uuid": "0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10", "name": "Acme Inc.",
            "logoUrl": "https://cdn.example.com/acme.png", "memberCount": 12,
            "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-03T08:15:00.000Z",
            "metadata": {"plan": "enterprise", "crmId": "0015g00000ABC"}
        })),
        (status = 400, description = "A field breaks a rule (`field` names it: `name`, `logoUrl`, `metadata`); nothing changed", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "urn:enlist:problem:validation_failed", "title": "Bad Request", "status": 400,
            "code": "validation_failed", "field": "metadata",
            "detail": "metadata must be at most 8192 bytes as JSON, got 9000"
        }))
    )
)]
pub async fn update(
    caller: AdminCaller,
    body: Result<web::Json<UpdateOrganizationRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<OrganizationBody>, actix_web::Error> {
    caller.require(Scope::OrganizationWrite)?;
    let body = body?.into_inner();
    let patch = OrgPatch::parse(
        body.name.as_ref().map(Option::as_ref),
        body.logo_url.as_ref().map(Option::as_ref),
        body.metadata.as_ref().map(Option::as_ref),
    )
    .map_err(ApiError::from)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let org = state
        .db
        .write(move |tx| services::orgs::update(tx, &origin, org_id, patch, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(org.into()))
}

/// `DELETE /v1/organization`
#[utoipa::path(
    delete, path = "/v1/organization", operation_id = "deleteOrganization", tag = "Organization",
    request_body = crate::api::dto::DeleteOrganizationRequest,
    security(("api_key" = ["organization:write"])),
    responses(
        (status = 200, description = "Deleted, after its export was written to `organizations.export_dir`: every API key of it (this one included) answers 401 from now on, its join and invitation links 404, its webhooks receive nothing more", body = crate::api::dto::DeletedOrganizationBody, example = json!({
            "id": 1, "uuid": "0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10", "name": "Acme", "deleted": true,
            "exportFile": "org-1-0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10-1764581400000.json",
            "export": {"version": 1, "exportedAt": "2026-12-01T09:30:00.000Z", "organization": {"id": 1, "name": "Acme"}, "counts": {"members": 12, "roles": 2, "teams": 0, "invitations": 3, "joinLinks": 0, "webhooks": 1, "events": 40}, "members": [], "roles": [], "teams": [], "invitations": [], "joinLinks": [], "webhooks": [], "events": []}
        })),
        (status = 400, description = "`confirm` is not the organization's name (`field`: `confirm`); nothing changed", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "urn:enlist:problem:validation_failed", "title": "Bad Request", "status": 400,
            "code": "validation_failed", "field": "confirm",
            "detail": "confirm must be the organization's name, exactly as it is"
        }))
    )
)]
pub async fn delete(
    caller: AdminCaller,
    body: Result<web::Json<DeleteOrganizationRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<DeletedOrganizationBody>, actix_web::Error> {
    caller.require(Scope::OrganizationWrite)?;
    let body = body?.into_inner();
    let confirm =
        services::orgs::text_field("confirm", body.confirm.as_ref()).map_err(ApiError::from)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let dir = state.settings.organizations.export_dir.clone();
    let deleted = state
        .db
        .write(move |tx| services::orgs::delete(tx, &origin, org_id, &confirm, &dir, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(deleted.into()))
}

/// `GET /v1/organization/export`
#[utoipa::path(
    get, path = "/v1/organization/export", operation_id = "exportOrganization", tag = "Organization",
    security(("api_key" = ["organization:read"])),
    responses(
        (status = 200, description = "Everything the organization holds, as one document (version 1, docs/organizations.md); never a secret", body = crate::views::OrganizationExportBody, example = json!({
            "version": 1, "exportedAt": "2026-12-01T09:30:00.000Z",
            "organization": {"id": 1, "uuid": "0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10", "name": "Acme", "logoUrl": null, "memberCount": 1, "createdAt": "2026-11-01T09:30:00.000Z", "updatedAt": "2026-11-01T09:30:00.000Z"},
            "counts": {"members": 1, "roles": 2, "teams": 1, "invitations": 1, "joinLinks": 0, "webhooks": 0, "events": 2},
            "members": [{"id": 42, "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "role": "ADMIN", "createdAt": "2026-11-01T09:30:00.000Z", "updatedAt": "2026-11-01T09:30:00.000Z"}],
            "roles": [{"key": "ADMIN", "name": "Admin", "description": null, "permissions": [], "builtIn": true, "createdAt": null, "updatedAt": null}, {"key": "MEMBER", "name": "Member", "description": null, "permissions": [], "builtIn": true, "createdAt": null, "updatedAt": null}],
            "teams": [{"id": 7, "name": "Billing", "description": null, "memberCount": 1, "createdAt": "2026-11-02T09:30:00.000Z", "updatedAt": "2026-11-02T09:30:00.000Z", "memberIds": [42]}],
            "invitations": [{"id": 3, "uuid": "5f1d7c8e-3a2b-4c1d-9e8f-7a6b5c4d3e2f", "status": "PENDING", "role": "MEMBER", "inviteeEmail": "bob@example.com", "inviterUserId": 42, "organizationId": 1, "message": null, "metadata": null, "createdAt": "2026-11-03T09:30:00.000Z", "updatedAt": "2026-11-03T09:30:00.000Z", "expiresAt": "2026-11-10T09:30:00.000Z"}],
            "joinLinks": [], "webhooks": [],
            "events": [{"id": "2d8e0c52-6a1f-4f53-a0a4-5b3e7c9d1e20", "type": "invitation.created", "occurredAt": "2026-11-03T09:30:00.000Z", "organizationId": 1, "actor": {"type": "api_key", "apiKeyId": 5, "userId": 42}, "requestId": null, "data": {}}]
        }))
    )
)]
pub async fn export(
    key: PresentedKey,
    state: web::Data<AppState>,
) -> Result<web::Json<OrganizationExportBody>, ApiError> {
    let now = state.clock.now();
    let export = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::OrganizationRead)?;
            Ok::<_, ApiError>(services::org_export::of(conn, caller.org_id(), now)?)
        })
        .await?;
    Ok(web::Json(export))
}
