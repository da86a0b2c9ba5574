//! The invitee API, called with access tokens enlist issued.

use crate::api::extract::bearer::InviteeCaller;
use crate::api::problem::ApiError;
use crate::domain::{InvitationDetails, Millis};
use crate::services;
use crate::state::AppState;
use actix_web::web;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An invitation as the invitee API documents it (snake_case).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = InviteeInvitation)]
pub struct InviteeInvitationBody {
    pub id: Uuid,
    pub organization_name: String,
    pub organization_logo_url: Option<String>,
    pub organization_member_count: i64,
    pub inviting_user_name: Option<String>,
    pub inviting_user_avatar_url: Option<String>,
    #[schema(value_type = String, format = DateTime, example = "2025-11-14T19:01:28.796Z")]
    pub expiration_date: Millis,
}

impl From<InvitationDetails> for InviteeInvitationBody {
    fn from(details: InvitationDetails) -> Self {
        Self {
            id: details.invitation.uuid,
            organization_name: details.organization_name,
            organization_logo_url: details.organization_logo_url,
            organization_member_count: details.organization_member_count,
            inviting_user_name: details.inviter_name,
            inviting_user_avatar_url: details.inviter_avatar_url,
            expiration_date: details.invitation.expires_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RespondQuery {
    accept: Option<String>,
}

/// Not a UUID: 422, as the framework behind the invitee API documents answers.
fn invitation_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::unprocessable(
            "invitation_id",
            format!(
                "invitation_id must be a UUID, got `{}`",
                crate::api::params::clip(raw)
            ),
        )
    })
}

/// Booleans as the invitee API's framework reads them.
fn accept_flag(raw: Option<&str>) -> Result<bool, ApiError> {
    let raw = raw.ok_or_else(|| {
        ApiError::unprocessable("accept", "the accept query parameter is required")
    })?;
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::unprocessable(
            "accept",
            format!(
                "accept must be true or false, got `{}`",
                crate::api::params::clip(raw)
            ),
        )),
    }
}

/// `GET /invitations`
#[utoipa::path(
    get, path = "/invitations", operation_id = "listPendingInvitations", tag = "Invitee",
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "The caller's pending invitations", body = Vec<InviteeInvitationBody>),
        (status = 401, description = "Missing or unknown credentials", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The account's email is not verified (`email_unverified`)", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 500, description = "An unknown error occurred, trying again might help.", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Busy; see Retry-After", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn list(
    caller: InviteeCaller,
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<InviteeInvitationBody>>, ApiError> {
    let now = state.clock.now();
    let invitations = state
        .db
        .read(move |conn| services::invitee::list(conn, &caller.email, now))
        .await?;
    Ok(web::Json(invitations.into_iter().map(Into::into).collect()))
}

/// `GET /invitations/{invitation_id}`
#[utoipa::path(
    get, path = "/invitations/{invitation_id}", operation_id = "getInvitation", tag = "Invitee",
    params(("invitation_id" = uuid::Uuid, Path)),
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "The pending invitation", body = InviteeInvitationBody),
        (status = 401, description = "Missing or unknown credentials", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The account's email is not verified (`email_unverified`)", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not found in this organization", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or query value", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 500, description = "An unknown error occurred, trying again might help.", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Busy; see Retry-After", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn get(
    caller: InviteeCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<InviteeInvitationBody>, ApiError> {
    let uuid = invitation_id(&path)?;
    let now = state.clock.now();
    let details = state
        .db
        .read(move |conn| services::invitee::get(conn, &caller.email, uuid, now))
        .await?;
    Ok(web::Json(details.into()))
}

/// `POST /invitations/{invitation_id}?accept=true|false`: the organization's
/// UUID when accepted, `null` when declined.
#[utoipa::path(
    post, path = "/invitations/{invitation_id}", operation_id = "respondToInvitation", tag = "Invitee",
    params(("invitation_id" = uuid::Uuid, Path), ("accept" = bool, Query, description = "Whether to accept the invitation")),
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "The organization's UUID when accepted, null when declined", body = Option<uuid::Uuid>),
        (status = 400, description = "Malformed query string (a repeated parameter)", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown credentials", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The account's email is not verified (`email_unverified`)", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not found in this organization", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or query value", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 500, description = "An unknown error occurred, trying again might help.", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Busy; see Retry-After", body = crate::api::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn respond(
    caller: InviteeCaller,
    path: web::Path<String>,
    query: web::Query<RespondQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<Option<Uuid>>, ApiError> {
    let uuid = invitation_id(&path)?;
    let accept = accept_flag(query.accept.as_deref())?;
    let now = state.clock.now();
    let organization = state
        .db
        .write(move |tx| {
            services::invitee::respond(tx, caller.user_id, &caller.email, uuid, accept, false, now)
        })
        .await?;
    Ok(web::Json(organization))
}
