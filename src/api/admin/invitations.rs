//! Thin handlers for the admin API's invitations: list, create, get, bulk,
//! resend and revoke (an ADMIN invitation needs `users:write` too).

use crate::api::dto::{
    BulkInviteResponse, CreateInvitationRequest, IdBody, InvitationBody, InvitationDetailBody,
    InvitationPage, ListInvitationsQuery,
};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::params;
use crate::config::InvitationSettings;
use crate::domain::invitation::InvitationFilter;
use crate::domain::search::Search;
use crate::domain::{InvitationStatus, Scope, Window};
use crate::http::problem::ApiError;
use crate::services;
use crate::services::ServiceError;
use crate::services::invitations::{BULK_MAX, NewInvitation, SendRules};
use crate::state::AppState;
use actix_web::web;

/// `GET /v1/organization/invitations`
///
/// The query arrives as a `Result` so a key without the scope hears 403
/// before anything about its parameters (as does the body in `create`).
#[utoipa::path(
    get, path = "/v1/organization/invitations", operation_id = "listInvitations", tag = "Invitations",
    params(
        crate::api::openapi::PageParams,
        crate::api::openapi::InvitationFilterParams,
        crate::api::openapi::InvitationSearchParams
    ),
    security(("api_key" = ["invitations:read"])),
    responses(
        (status = 200, description = "One page of invitations, newest first; `nextCursor` continues it (null on the last page)", body = crate::api::dto::InvitationPage, example = json!({
            "items": [{"status": "PENDING", "role": "MEMBER", "id": 41, "createdAt": "2026-01-05T10:00:00.000Z", "updatedAt": "2026-01-05T10:00:00.000Z", "expiresAt": "2026-01-12T10:00:00.000Z", "inviterUserId": 1, "inviteeEmail": "ann@example.com", "organizationId": 1, "teamIds": []}],
            "limit": 1, "offset": 0, "totalCount": 3,
            "nextCursor": "AQAAAZuOBxgAAAAAAAAAACmBGGdn7nC3kCq0Hy6mZ2t7bqSxe1M1v0QF2eRj1k9Jrw"
        })),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<ListInvitationsQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationPage>, actix_web::Error> {
    // Parameters are checked now and reported after the key and its scope.
    let request = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| list_request(&query));
    let now = state.clock.now();
    let cursor_key = state.cursor_key.clone();
    let found = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::InvitationsRead)?;
            let (filter, search, window) = request?;
            Ok::<_, ApiError>(services::invitations::list(
                conn,
                &cursor_key,
                caller.org_id(),
                filter,
                &search,
                &window,
                now,
            )?)
        })
        .await?;
    Ok(web::Json(found.into()))
}

fn list_request(
    query: &ListInvitationsQuery,
) -> Result<(InvitationFilter, Search, Window), ApiError> {
    let window = params::window(
        query.limit.as_deref(),
        query.offset.as_deref(),
        query.after.as_deref(),
    )?;
    let status = query
        .status
        .as_deref()
        .map(|raw| {
            raw.parse::<InvitationStatus>().map_err(|_| {
                ApiError::bad_request(
                    "status",
                    format!(
                        "status must be one of PENDING, ACCEPTED, DECLINED, REVOKED, EXPIRED; got `{}`",
                        params::clip(raw)
                    ),
                )
            })
        })
        .transpose()?;
    let include_expired =
        params::boolean("includeExpired", query.include_expired.as_deref())?.unwrap_or(false);
    let search = params::search(query.email.as_deref(), query.q.as_deref())?;
    Ok((
        InvitationFilter::new(status, include_expired),
        search,
        window,
    ))
}

/// `POST /v1/organization/invitations`
///
/// An ADMIN invitation needs `users:write` beside `invitations:write`: an
/// API key without it answers 403 `missing_scope`, naming both scopes.
#[utoipa::path(
    post, path = "/v1/organization/invitations", operation_id = "inviteUser", tag = "Invitations",
    request_body = crate::api::dto::CreateInvitationRequest,
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "The new PENDING invitation; its message is queued", body = crate::api::dto::InvitationBody),
        (status = 400, description = "A field breaks a rule (`field` names it; a `teamIds` entry that is not one of the organization's teams is `teamIds`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The API key lacks `invitations:write`, or the invitation is ADMIN or a custom role and the key lacks `users:write` too (`missing_scope`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::api::openapi::Conflict),
        (status = 413, description = "Body too large", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many messages to this address or from this organization; see Retry-After", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateInvitationRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationBody>, actix_web::Error> {
    caller.require(Scope::InvitationsWrite)?;
    let new =
        new_invitation(body?.into_inner(), &state.settings.invitations).map_err(ApiError::from)?;
    caller.may_grant(Scope::InvitationsWrite, &new.role)?;
    let (org_id, inviter) = (caller.org_id(), caller.user_id());
    let rules = send_rules(&state.settings.invitations);
    let app = state.clone();
    let now = state.clock.now();
    let origin = caller.origin();
    let invitation = state
        .db
        .write(move |tx| {
            services::invitations::create(
                tx,
                &origin,
                org_id,
                inviter,
                &new,
                rules,
                &app.composer,
                now,
            )
        })
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(invitation.into()))
}

/// `GET /v1/organization/invitations/{id}`: the seed's fields plus the
/// link's uuid, the message and the metadata.
#[utoipa::path(
    get, path = "/v1/organization/invitations/{id}", operation_id = "getAdminInvitation", tag = "Invitations",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the invitation")),
    security(("api_key" = ["invitations:read"])),
    responses(
        (status = 200, description = "The invitation with its message and metadata", body = crate::api::dto::InvitationDetailBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn get(
    key: PresentedKey,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationDetailBody>, ApiError> {
    let id = params::id(&id);
    let now = state.clock.now();
    let found = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::InvitationsRead)?;
            Ok::<_, ApiError>(services::invitations::get(conn, caller.org_id(), id?, now)?)
        })
        .await?;
    Ok(web::Json(found.into()))
}

/// One invitation as a request gave it, checked.
fn new_invitation(
    body: CreateInvitationRequest,
    settings: &InvitationSettings,
) -> Result<NewInvitation, ServiceError> {
    let team_ids = services::teams::ids(body.team_ids.as_ref())?;
    let mut new = NewInvitation::parse(
        &body.invitee_email,
        &body.role,
        body.expires_in.as_ref(),
        body.message.as_deref(),
        body.metadata.as_ref(),
        settings.max_lifetime.0,
    )?;
    new.team_ids = team_ids;
    Ok(new)
}

/// `POST /v1/organization/invitations/bulk`: up to 500 invitations in one
/// transaction; each item answers `created`, `duplicate`, `member` or
/// `invalid`, in input order.
///
/// An ADMIN item needs `users:write` beside `invitations:write`: with an
/// API key without it, that item answers `invalid` with `error.code`
/// `missing_scope` and the others go through.
#[utoipa::path(
    post, path = "/v1/organization/invitations/bulk", operation_id = "bulkInvite", tag = "Invitations",
    request_body = crate::api::dto::BulkInviteRequest,
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "One outcome per item, in input order; the created invitations' messages are queued; an ADMIN or custom-role item without `users:write` is `invalid` (`missing_scope`)", body = crate::api::dto::BulkInviteResponse),
        (status = 400, description = "Invalid body: `items` missing, not an array, or longer than 500", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn bulk(
    caller: AdminCaller,
    body: Result<web::Json<serde_json::Value>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<BulkInviteResponse>, actix_web::Error> {
    caller.require(Scope::InvitationsWrite)?;
    let body = body?.into_inner();
    let items = match body.get("items") {
        Some(serde_json::Value::Array(items)) => items,
        _ => {
            return Err(
                ApiError::bad_request("items", "items must be an array of invitations").into(),
            );
        }
    };
    if items.len() > BULK_MAX {
        return Err(ApiError::bad_request(
            "items",
            format!(
                "items may hold at most {BULK_MAX} invitations, got {}",
                items.len()
            ),
        )
        .into());
    }
    let settings = &state.settings.invitations;
    let parsed: Vec<_> = items
        .iter()
        .map(|item| {
            serde_json::from_value::<CreateInvitationRequest>(item.clone())
                .map_err(|e| ServiceError::invalid("item", e.to_string()))
                .and_then(|body| new_invitation(body, settings))
                .and_then(|new| {
                    caller.check_grant(Scope::InvitationsWrite, &new.role)?;
                    Ok(new)
                })
        })
        .collect();
    let (org_id, inviter) = (caller.org_id(), caller.user_id());
    let rules = send_rules(settings);
    let app = state.clone();
    let now = state.clock.now();
    let origin = caller.origin();
    let outcomes = state
        .db
        .write(move |tx| {
            services::invitations::create_many(
                tx,
                &origin,
                org_id,
                inviter,
                parsed,
                rules,
                &app.composer,
                now,
            )
        })
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(BulkInviteResponse {
        items: outcomes.into_iter().map(Into::into).collect(),
    }))
}

fn send_rules(settings: &InvitationSettings) -> SendRules {
    SendRules::from_settings(settings)
}

/// `POST /v1/organization/invitations/{id}/resend`: sends the invitation
/// again and renews its expiry; at most once a minute per invitation.
///
/// Resending an ADMIN invitation needs `users:write` beside
/// `invitations:write`, as creating one does: a resend gives it a new
/// lifetime.
#[utoipa::path(
    post, path = "/v1/organization/invitations/{id}/resend", operation_id = "resendInvitation", tag = "Invitations",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the invitation to send again")),
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "The invitation, PENDING with a renewed expiry", body = crate::api::dto::InvitationBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 403, description = "The API key lacks `invitations:write`, or the invitation is ADMIN or a custom role and the key lacks `users:write` too (`missing_scope`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict),
        (status = 429, description = "Too soon; see Retry-After", body = crate::api::openapi::Problem, content_type = "application/problem+json")
    )
)]
pub async fn resend(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationBody>, ApiError> {
    caller.require(Scope::InvitationsWrite)?;
    let id = params::id(&id)?;
    let org_id = caller.org_id();
    let rules = send_rules(&state.settings.invitations);
    let app = state.clone();
    let now = state.clock.now();
    let origin = caller.origin();
    let invitation = state
        .db
        .write(move |tx| {
            // A resend renews the expiry (and revives an expired one): a key
            // that may not make admins may not prolong an invitation that does.
            let (current, _) = services::invitations::get(tx, org_id, id, now)?;
            caller.may_grant(Scope::InvitationsWrite, &current.role)?;
            Ok::<_, ApiError>(services::invitations::resend(
                tx,
                &origin,
                org_id,
                id,
                rules,
                &app.composer,
                now,
            )?)
        })
        .await?;
    Ok(web::Json(invitation.into()))
}

/// `POST /v1/organization/invitations/{id}/revoke`
#[utoipa::path(
    post, path = "/v1/organization/invitations/{id}/revoke", operation_id = "revokeInvitation", tag = "Invitations",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the invitation to revoke")),
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 200, description = "Revoked (or already revoked)", body = crate::api::dto::IdBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict)
    )
)]
pub async fn revoke(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::InvitationsWrite)?;
    let id = params::id(&id)?;
    let org_id = caller.org_id();
    let now = state.clock.now();
    let origin = caller.origin();
    let id = state
        .db
        .write(move |tx| services::invitations::revoke(tx, &origin, org_id, id, now))
        .await?;
    Ok(web::Json(IdBody { id }))
}
