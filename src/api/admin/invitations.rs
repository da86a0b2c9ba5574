use crate::api::dto::{
    CreateInvitationRequest, IdBody, InvitationBody, InvitationPage, ListInvitationsQuery,
};
use crate::api::params;
use crate::api::problem::ApiError;
use crate::auth::api_key::AdminCaller;
use crate::domain::invitation::InvitationFilter;
use crate::domain::{Email, InvitationStatus, Millis, Role, Scope};
use crate::services;
use crate::services::invitations::NewInvitation;
use crate::startup::AppState;
use actix_web::web;

/// `GET /v1/organization/invitations`
///
/// The query arrives as a `Result` so a key without the scope hears 403
/// before anything about its parameters (as does the body in `create`).
pub async fn list(
    caller: AdminCaller,
    query: Result<web::Query<ListInvitationsQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationPage>, actix_web::Error> {
    caller.require(Scope::InvitationsRead)?;
    let query = query?;
    let page = params::page(query.limit.as_deref(), query.offset.as_deref())?;
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
    let filter = InvitationFilter::new(status, include_expired);
    let org_id = caller.org_id();
    let found = state
        .db
        .read(move |conn| services::invitations::list(conn, org_id, filter, page, Millis::now()))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(found.map(InvitationBody::from)))
}

/// `POST /v1/organization/invitations`
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateInvitationRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationBody>, actix_web::Error> {
    caller.require(Scope::InvitationsWrite)?;
    let body = body?.into_inner();
    let new = NewInvitation {
        invitee: Email::parse(&body.invitee_email)
            .map_err(|e| ApiError::bad_request("inviteeEmail", e.to_string()))?,
        role: body.role.parse::<Role>().map_err(|_| {
            ApiError::bad_request(
                "role",
                format!(
                    "role must be ADMIN or MEMBER, got `{}`",
                    params::clip(&body.role)
                ),
            )
        })?,
    };
    let (org_id, inviter) = (caller.org_id(), caller.user_id());
    let lifetime = state.settings.invitations.lifetime.0;
    let app = state.clone();
    let invitation = state
        .db
        .write(move |tx| {
            services::invitations::create(
                tx,
                org_id,
                inviter,
                &new,
                lifetime,
                &app.composer,
                Millis::now(),
            )
        })
        .await
        .map_err(ApiError::from)?;
    state.outbox_wake.notify_one();
    Ok(web::Json(invitation.into()))
}

/// `POST /v1/organization/invitations/{id}/resend`: sends the invitation
/// again and renews its expiry; at most once a minute per invitation.
pub async fn resend(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<InvitationBody>, ApiError> {
    caller.require(Scope::InvitationsWrite)?;
    let id = params::id(&id)?;
    let org_id = caller.org_id();
    let lifetime = state.settings.invitations.lifetime.0;
    let app = state.clone();
    let invitation = state
        .db
        .write(move |tx| {
            services::invitations::resend(tx, org_id, id, lifetime, &app.composer, Millis::now())
        })
        .await?;
    state.outbox_wake.notify_one();
    Ok(web::Json(invitation.into()))
}

/// `POST /v1/organization/invitations/{id}/revoke`
pub async fn revoke(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::InvitationsWrite)?;
    let id = params::id(&id)?;
    let org_id = caller.org_id();
    let id = state
        .db
        .write(move |tx| services::invitations::revoke(tx, org_id, id, Millis::now()))
        .await?;
    Ok(web::Json(IdBody { id }))
}
