//! `/v1/organization/join-links`: links many people can use to join.

use crate::api::dto::{CreateJoinLinkRequest, JoinLinkBody, JoinLinkPage, PageQuery};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::idempotency::secret_once;
use crate::api::params;
use crate::domain::{Role, Scope};
use crate::http::problem::ApiError;
use crate::services;
use crate::services::join_links::NewJoinLink;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// `POST /v1/organization/join-links`: the link, with its URL, once.
///
/// An ADMIN link needs `users:write` beside `invitations:write`: an API key
/// without it answers 403 `missing_scope`, naming both scopes.
#[utoipa::path(
    post, path = "/v1/organization/join-links", operation_id = "createJoinLink", tag = "Join links",
    request_body = crate::api::dto::CreateJoinLinkRequest,
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "The new link; `url` holds its token and is shown only here: an idempotent replay answers the link without `url`, with `secretOmitted: true`", body = crate::api::dto::JoinLinkBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 403, description = "The API key lacks `invitations:write`, or the link is ADMIN or a custom role and the key lacks `users:write` too (`missing_scope`)", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateJoinLinkRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    caller.require(Scope::InvitationsWrite)?;
    let body = body?.into_inner();
    let role = match body.role.as_deref() {
        None => Role::Member,
        Some(raw) => raw.parse::<Role>().map_err(|_| {
            ApiError::bad_request(
                "role",
                format!(
                    "role must be ADMIN, MEMBER or one of the organization's role keys, got `{}`",
                    params::clip(raw)
                ),
            )
        })?,
    };
    caller.may_grant(Scope::InvitationsWrite, &role)?;
    let max_lifetime = state.settings.invitations.max_lifetime.0;
    let (org_id, creator) = (caller.org_id(), caller.user_id());
    let now = state.clock.now();
    let team_ids = services::teams::ids(body.team_ids.as_ref()).map_err(ApiError::from)?;
    let mut new = NewJoinLink::parse(
        role,
        body.max_uses,
        body.expires_at.as_deref(),
        body.expires_in.as_ref(),
        body.allowed_email_domains.as_deref().unwrap_or(&[]),
        max_lifetime,
        now,
    )
    .map_err(ApiError::from)?;
    new.team_ids = team_ids;
    let (link, token) = state
        .db
        .write(move |tx| services::join_links::create(tx, org_id, creator, &new, now))
        .await
        .map_err(ApiError::from)?;
    let mut body = JoinLinkBody::from(link);
    body.url = Some(format!(
        "{}/join/{token}",
        state.public_url.trim_end_matches('/')
    ));
    Ok(secret_once(&body)?)
}

/// `GET /v1/organization/join-links`
#[utoipa::path(
    get, path = "/v1/organization/join-links", operation_id = "listJoinLinks", tag = "Join links",
    params(crate::api::openapi::PageParams),
    security(("api_key" = ["invitations:read"])),
    responses(
        (status = 200, description = "One page of join links, newest first (without their URLs)", body = crate::api::dto::JoinLinkPage),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<JoinLinkPage>, actix_web::Error> {
    let page = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| params::page(query.limit.as_deref(), query.offset.as_deref()));
    let now = state.clock.now();
    let links = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::InvitationsRead)?;
            Ok::<_, ApiError>(services::join_links::list(
                conn,
                caller.org_id(),
                page?,
                now,
            )?)
        })
        .await?;
    Ok(web::Json(links.into()))
}

/// `POST /v1/organization/join-links/{id}/revoke`: nobody else joins through it.
#[utoipa::path(
    post, path = "/v1/organization/join-links/{id}/revoke", operation_id = "revokeJoinLink", tag = "Join links",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the join link")),
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "The link, revoked (revoking again is harmless)", body = crate::api::dto::JoinLinkBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn revoke(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<JoinLinkBody>, ApiError> {
    caller.require(Scope::InvitationsWrite)?;
    let id = params::id(&id)?;
    let org_id = caller.org_id();
    let now = state.clock.now();
    let link = state
        .db
        .write(move |tx| services::join_links::revoke(tx, org_id, id, now))
        .await?;
    Ok(web::Json(link.into()))
}
