//! `/v1/organization/domains`: the organization's email domains, their DNS
//! challenge and its verification.

use crate::api::dto::{CreateDomainRequest, DomainPage, IdBody, PageQuery};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::params;
use crate::dns::Resolver;
use crate::domain::Scope;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::domains::NewOrgDomain;
use crate::state::AppState;
use crate::views::DomainBody;
use actix_web::web;

/// `GET /v1/organization/domains`
#[utoipa::path(
    get, path = "/v1/organization/domains", operation_id = "listDomains", tag = "Domains",
    params(crate::api::openapi::PageParams),
    security(("api_key" = ["domains:read"])),
    responses(
        (status = 200, description = "One page of the organization's domains, oldest first", body = crate::api::dto::DomainPage, example = json!({
            "items": [
                {"id": 3, "domain": "acme.test", "mode": "auto_join", "role": "MEMBER", "teamIds": [7], "verified": true, "verifiedAt": "2026-12-01T09:40:00.000Z",
                 "verification": {"type": "dns_txt", "name": "_enlist-challenge.acme.test", "value": "enlist-verification=3kQ9dZ0aTt5mVx2bR7cLh1nWp8yE4sJu"},
                 "createdAt": "2026-12-01T09:30:00.000Z"}
            ],
            "limit": 100, "offset": 0, "totalCount": 1
        })),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<DomainPage>, ApiError> {
    // Parameters are checked now and reported after the key and its scope.
    let page = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| params::page(query.limit.as_deref(), query.offset.as_deref()));
    let domains = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::DomainsRead)?;
            Ok::<_, ApiError>(services::domains::list(conn, caller.org_id(), page?)?)
        })
        .await?;
    Ok(web::Json(domains.into()))
}

/// `POST /v1/organization/domains`
#[utoipa::path(
    post, path = "/v1/organization/domains", operation_id = "createDomain", tag = "Domains",
    request_body = crate::api::dto::CreateDomainRequest,
    security(("api_key" = ["domains:write"])),
    responses(
        (status = 200, description = "The new domain, unverified: publish a TXT record named `verification.name` holding `verification.value`, then verify", body = crate::views::DomainBody, example = json!({
            "id": 3, "domain": "acme.test", "mode": "auto_join", "role": "MEMBER", "teamIds": [7], "verified": false, "verifiedAt": null,
            "verification": {"type": "dns_txt", "name": "_enlist-challenge.acme.test", "value": "enlist-verification=3kQ9dZ0aTt5mVx2bR7cLh1nWp8yE4sJu"},
            "createdAt": "2026-12-01T09:30:00.000Z"
        })),
        (status = 400, description = "A field breaks a rule (`field` names it: `domain` for a name that is not a domain, an IP address, a public suffix, a public mail provider's domain or one another organization verified; `mode`, `role`, `teamIds`)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "about:blank", "title": "Bad Request", "status": 400, "code": "validation_failed", "field": "domain",
            "detail": "`co.uk` is a public suffix (anyone can register names under it), not a domain"
        })),
        (status = 403, description = "The API key lacks `domains:write`, or the role is ADMIN or a custom role and the key lacks `users:write` too (`missing_scope`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The organization registered this domain already (`domain_exists`), or has `domains.max_per_organization` domains (`domain_limit`)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "about:blank", "title": "Conflict", "status": 409, "code": "domain_exists",
            "detail": "the organization has registered acme.test already"
        }))
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateDomainRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<DomainBody>, actix_web::Error> {
    caller.require(Scope::DomainsWrite)?;
    let body = body?.into_inner();
    let new = NewOrgDomain::parse(
        &body.domain,
        &body.mode,
        body.role.as_deref(),
        body.team_ids.as_ref(),
    )
    .map_err(ApiError::from)?;
    caller.may_grant(Scope::DomainsWrite, &new.role)?;
    let max = state.settings.domains.max_per_organization;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let domain = state
        .db
        .write(move |tx| services::domains::create(tx, &origin, org_id, &new, max, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(domain.into()))
}

/// `GET /v1/organization/domains/{id}`
#[utoipa::path(
    get, path = "/v1/organization/domains/{id}", operation_id = "getDomain", tag = "Domains",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the domain")),
    security(("api_key" = ["domains:read"])),
    responses(
        (status = 200, description = "The domain", body = crate::views::DomainBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn get(
    key: PresentedKey,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<DomainBody>, ApiError> {
    let id = params::id(&id);
    let domain = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::DomainsRead)?;
            Ok::<_, ApiError>(services::domains::get(conn, caller.org_id(), id?)?)
        })
        .await?;
    Ok(web::Json(domain.into()))
}

/// `DELETE /v1/organization/domains/{id}`
#[utoipa::path(
    delete, path = "/v1/organization/domains/{id}", operation_id = "deleteDomain", tag = "Domains",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the domain")),
    security(("api_key" = ["domains:write"])),
    responses(
        (status = 200, description = "Deleted: nobody joins, is invited or is suggested through it any more; who joined stays", body = crate::api::dto::IdBody, example = json!({"id": 3})),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn delete(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::DomainsWrite)?;
    let id = params::id(&id)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let id = state
        .db
        .write(move |tx| services::domains::delete(tx, &origin, org_id, id, now))
        .await?;
    Ok(web::Json(IdBody { id }))
}

/// `POST /v1/organization/domains/{id}/verify`
#[utoipa::path(
    post, path = "/v1/organization/domains/{id}/verify", operation_id = "verifyDomain", tag = "Domains",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the domain")),
    security(("api_key" = ["domains:write"])),
    responses(
        (status = 200, description = "The domain, verified: a TXT record at `verification.name` is exactly `verification.value` (verifying a verified domain answers it as it is)", body = crate::views::DomainBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, description = "No TXT record at the challenge's name holds its value (`verification_failed`; the detail says what was found), or another organization has verified this domain (`domain_taken`)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "about:blank", "title": "Conflict", "status": 409, "code": "verification_failed",
            "detail": "no TXT record at _enlist-challenge.acme.test holds `enlist-verification=3kQ9dZ0aTt5mVx2bR7cLh1nWp8yE4sJu` (0 other TXT record(s) found); publish it and verify again (DNS changes may take a while to reach every server)"
        })),
        (status = 503, description = "The DNS lookup told nothing (timeout, refusal); nothing was changed (`unavailable`, with `Retry-After`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn verify(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<DomainBody>, ApiError> {
    caller.require(Scope::DomainsWrite)?;
    let id = params::id(&id)?;
    let resolver = Resolver::from_settings(&state.settings.domains);
    let domain = services::domains::verify(
        &state.db,
        &resolver,
        &state.clock,
        caller.origin(),
        caller.org_id(),
        id,
    )
    .await?;
    Ok(web::Json(domain.into()))
}
