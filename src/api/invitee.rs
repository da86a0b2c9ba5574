//! The invitee API, called with access tokens enlist issued.

use crate::api::extract::bearer::InviteeCaller;
use crate::domain::{InvitationDetails, Membership, Millis, Role};
use crate::http::problem::ApiError;
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

/// One of the caller's organizations (snake_case, as the invitee API).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = InviteeOrganization)]
pub struct InviteeOrganizationBody {
    /// The organization's UUID.
    pub id: Uuid,
    pub name: String,
    pub logo_url: Option<String>,
    #[schema(value_type = crate::api::openapi::RoleDoc)]
    pub role: Role,
    /// What the caller's role permits in this organization (sorted).
    #[schema(example = json!(["billing:manage", "invoices:read"]))]
    pub permissions: Vec<String>,
    #[schema(value_type = String, format = DateTime, example = "2025-11-14T19:01:28.796Z")]
    pub joined_at: Millis,
}

impl From<Membership> for InviteeOrganizationBody {
    fn from(membership: Membership) -> Self {
        Self {
            id: membership.organization_uuid,
            name: membership.organization_name,
            logo_url: membership.organization_logo_url,
            role: membership.role,
            permissions: membership.permissions.names().map(str::to_owned).collect(),
            joined_at: membership.joined_at,
        }
    }
}

/// The organization a person left.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LeftOrganization)]
pub struct LeftBody {
    /// The organization's UUID.
    pub id: Uuid,
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
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
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
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict),
        (status = 410, description = "Expired", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or query value", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
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
        (status = 400, description = "Malformed query string (a repeated parameter)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict),
        (status = 410, description = "Expired", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or query value", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
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
            services::invitee::respond(
                tx,
                &caller.origin(),
                caller.user_id,
                &caller.email,
                uuid,
                accept,
                false,
                now,
            )
        })
        .await?;
    Ok(web::Json(organization))
}

/// `GET /organizations`: the organizations the caller belongs to.
#[utoipa::path(
    get, path = "/organizations", operation_id = "listMyOrganizations", tag = "Invitee",
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "The caller's memberships, oldest first", body = Vec<InviteeOrganizationBody>),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn memberships(
    caller: InviteeCaller,
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<InviteeOrganizationBody>>, ApiError> {
    let found = state
        .db
        .read(move |conn| services::members::memberships(conn, caller.user_id))
        .await?;
    Ok(web::Json(found.into_iter().map(Into::into).collect()))
}

/// `POST /organizations`: the caller creates an organization of their own.
#[utoipa::path(
    post, path = "/organizations", operation_id = "createMyOrganization", tag = "Invitee",
    request_body = crate::api::dto::CreateOwnOrganizationRequest,
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "Created, with the caller as its first admin (`organizations.self_serve`)", body = InviteeOrganizationBody, example = json!({
            "id": "0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10", "name": "Acme", "logo_url": null,
            "role": "ADMIN", "permissions": ["api_keys:manage", "invitations:manage", "join_links:manage", "members:manage", "organization:manage", "roles:manage", "teams:manage", "webhooks:manage"],
            "joined_at": "2026-12-01T09:30:00.000Z"
        })),
        (status = 400, description = "`name` is missing, blank, longer than 200 characters or holds control characters", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, description = "Self-serve creation is off (`self_serve_disabled`), or the account's email is not verified (`email_unverified`)", body = crate::api::openapi::Problem, content_type = "application/problem+json", example = json!({
            "type": "urn:enlist:problem:self_serve_disabled", "title": "Forbidden", "status": 403,
            "code": "self_serve_disabled",
            "detail": "creating organizations yourself is turned off on this server (organizations.self_serve)"
        })),
        (status = 409, description = "The caller is ADMIN of `organizations.per_user_limit` organizations already (`organization_limit`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn create_organization(
    caller: InviteeCaller,
    body: Result<web::Json<crate::api::dto::CreateOwnOrganizationRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<InviteeOrganizationBody>, actix_web::Error> {
    let body = body?.into_inner();
    let name = services::orgs::text_field("name", body.name.as_ref()).map_err(ApiError::from)?;
    let rules = services::orgs::SelfServe {
        enabled: state.settings.organizations.self_serve,
        per_user_limit: state.settings.organizations.per_user_limit,
    };
    let now = state.clock.now();
    let created = state
        .db
        .write(move |tx| {
            services::orgs::create_for_self(tx, &caller.origin(), caller.user_id, &name, rules, now)
        })
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(created.into()))
}

/// `DELETE /organizations/{organization_id}/membership`: the caller leaves.
#[utoipa::path(
    delete, path = "/organizations/{organization_id}/membership", operation_id = "leaveOrganization", tag = "Invitee",
    params(("organization_id" = uuid::Uuid, Path, description = "The organization's UUID")),
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "Left; the caller's API keys in the organization are revoked", body = LeftBody),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 404, description = "The caller is not a member of this organization", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller is the organization's last admin (`last_admin`)", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path value", body = crate::api::openapi::Problem, content_type = "application/problem+json"),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn leave(
    caller: InviteeCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<LeftBody>, ApiError> {
    let uuid = Uuid::parse_str(&path).map_err(|_| {
        ApiError::unprocessable(
            "organization_id",
            format!(
                "organization_id must be a UUID, got `{}`",
                crate::api::params::clip(&path)
            ),
        )
    })?;
    let now = state.clock.now();
    let id = state
        .db
        .write(move |tx| services::members::leave(tx, &caller.origin(), caller.user_id, uuid, now))
        .await?;
    Ok(web::Json(LeftBody { id }))
}

/// An organization the caller's verified address may ask to join.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SuggestedOrganization, example = json!({
    "id": "0b6f4c1e-93a4-4e57-9a53-5d1c2b1f2a10", "name": "Acme", "logo_url": null, "domain": "acme.test"
}))]
pub struct SuggestedOrganizationBody {
    /// The organization's UUID.
    pub id: Uuid,
    pub name: String,
    pub logo_url: Option<String>,
    /// The verified domain the caller's address is at.
    pub domain: String,
}

/// `GET /organizations/suggested`: organizations whose verified `suggest`
/// domain is exactly the caller's address's domain, and of which the
/// caller is not a member. Empty for an unverified address.
#[utoipa::path(
    get, path = "/organizations/suggested", operation_id = "listSuggestedOrganizations", tag = "Invitee",
    security(("oauth2" = ["invitations"])),
    responses(
        (status = 200, description = "Organizations the caller may ask to join (see docs/domains.md)", body = Vec<SuggestedOrganizationBody>),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::EmailUnverified),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn suggested(
    caller: InviteeCaller,
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<SuggestedOrganizationBody>>, ApiError> {
    let found = state
        .db
        .read(move |conn| services::domains::suggestions(conn, caller.user_id))
        .await?;
    Ok(web::Json(
        found
            .into_iter()
            .map(|s| SuggestedOrganizationBody {
                id: s.org_uuid,
                name: s.name,
                logo_url: s.logo_url,
                domain: s.domain,
            })
            .collect(),
    ))
}

/// The invitee API's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::http::routes::{self, Endpoint};
    routes::register(
        cfg,
        [
            Endpoint::at("/invitations").get(list),
            Endpoint::at("/invitations/{invitation_id}")
                .get(get)
                .post(respond),
            Endpoint::at("/organizations")
                .get(memberships)
                .post(create_organization),
            Endpoint::at("/organizations/{organization_id}/membership").delete(leave),
            Endpoint::at("/organizations/suggested").get(suggested),
        ],
    );
}
