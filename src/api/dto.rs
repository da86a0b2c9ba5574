//! Request and response bodies, named and shaped as the API documents show.

use crate::domain::join_link::JoinLink;
use crate::domain::webhook::WebhookEndpoint;
use crate::domain::{Invitation, InvitationStatus, Listed, Member, Millis, Paged, Role, User};
pub use crate::views::{
    InvitationDetailBody, JoinLinkBody, MemberBody, OrganizationBody, WebhookBody,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Invitation)]
pub struct InvitationBody {
    #[schema(value_type = crate::api::openapi::InvitationStatusDoc)]
    pub status: InvitationStatus,
    #[schema(value_type = crate::api::openapi::RoleDoc)]
    pub role: Role,
    pub id: i64,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub updated_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub expires_at: Millis,
    pub inviter_user_id: Option<i64>,
    pub invitee_email: String,
    pub organization_id: i64,
    /// The teams the person joins on accepting; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false, example = json!([7]))]
    pub team_ids: Vec<i64>,
}

impl From<Invitation> for InvitationBody {
    fn from(invitation: Invitation) -> Self {
        Self {
            status: invitation.status,
            role: invitation.role,
            id: invitation.id,
            created_at: invitation.created_at,
            updated_at: invitation.updated_at,
            expires_at: invitation.expires_at,
            inviter_user_id: invitation.inviter_user_id,
            invitee_email: invitation.invitee_email,
            organization_id: invitation.org_id,
            team_ids: invitation.team_ids,
        }
    }
}

/// One page of invitations, with the exact number of matches.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationPage {
    pub items: Vec<InvitationBody>,
    pub limit: i64,
    /// The `offset` asked for; 0 on a page asked for by cursor (`after`).
    pub offset: i64,
    pub total_count: i64,
    /// Pass as `after` for the next page; null on the last page. Opaque,
    /// bound to this organization, this list and these filters.
    #[schema(example = "AQAAAZRzQd0AAAAAAAAAAGSa3vB7X3Qq0m9oL2sJc1yJ5c2y0p4rRr1fKz8qv5D0")]
    pub next_cursor: Option<String>,
}

impl From<Listed<Invitation>> for InvitationPage {
    fn from(listed: Listed<Invitation>) -> Self {
        let page = listed.paged;
        Self {
            items: page.items.into_iter().map(InvitationBody::from).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
            next_cursor: listed.next_cursor,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateInvitation)]
pub struct CreateInvitationRequest {
    /// The email of the person to invite.
    #[schema(format = Email, example = "name@example.com")]
    pub invitee_email: String,
    /// The role the person gets on accepting: ADMIN, MEMBER or one of the organization's own keys; ADMIN and custom roles need `users:write` too.
    #[schema(value_type = crate::api::openapi::RoleDoc)]
    pub role: String,
    /// How long this invitation stays open: a duration such as `"3d"` or
    /// `"12h"`, or seconds as a number; at most `invitations.max_lifetime`
    /// (default 30 days). Absent: `invitations.lifetime`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::openapi::ExpiresInDoc>)]
    pub expires_in: Option<serde_json::Value>,
    /// A personal message (at most 1,000 characters) shown in the email and
    /// on the hosted invitation page.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub message: Option<String>,
    /// A JSON object (at most 4 KiB serialized) returned to admins, never
    /// shown to the invitee.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Teams of the organization the person joins on accepting (at most
    /// 100 ids). A team deleted before the answer is passed over.
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>, max_items = 100, example = json!([7]))]
    pub team_ids: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct ListInvitationsQuery {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub after: Option<String>,
    pub email: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
    #[serde(rename = "includeExpired")]
    pub include_expired: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// `GET /v1/organization/users`: a page, and optionally one team's members.
#[derive(Debug, Deserialize)]
pub struct ListUsersQuery {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub after: Option<String>,
    pub email: Option<String>,
    pub q: Option<String>,
    #[serde(rename = "teamId")]
    pub team_id: Option<String>,
}

/// The users page lists its fields in the order the API documents show.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserPage)]
#[serde(rename_all = "camelCase")]
pub struct MemberPage {
    pub items: Vec<MemberBody>,
    pub total_count: i64,
    /// The `offset` asked for; 0 on a page asked for by cursor (`after`).
    pub offset: i64,
    pub limit: i64,
    /// `GET /v1/organization/users` only: pass as `after` for the next
    /// page; null on the last page. Opaque, bound to this organization,
    /// this list and these filters. (A team's members list, which pages by
    /// offset only, leaves it out.)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "AQAAAAAAAAAAAAAAAAAAAGTq3pJ7mX0a9Vw2cKxT1e0r8Yb3Jm4hQfN6sLzP0uDc")]
    pub next_cursor: Option<Option<String>>,
}

/// A team's members: offset pages only.
impl From<Paged<Member>> for MemberPage {
    fn from(page: Paged<Member>) -> Self {
        Self {
            items: page.items.into_iter().map(MemberBody::from).collect(),
            total_count: page.total_count,
            offset: page.offset,
            limit: page.limit,
            next_cursor: None,
        }
    }
}

/// The users list: offset or cursor pages, with `nextCursor` always shown.
impl From<Listed<Member>> for MemberPage {
    fn from(listed: Listed<Member>) -> Self {
        Self {
            next_cursor: Some(listed.next_cursor),
            ..listed.paged.into()
        }
    }
}

/// `PATCH /v1/organization/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UpdateUser)]
pub struct UpdateMemberRequest {
    /// The member's new role.
    #[schema(value_type = crate::api::openapi::RoleDoc)]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Id)]
pub struct IdBody {
    pub id: i64,
}

/// An account, as the command line prints it. The password hash never leaves storage.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountBody {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar_url: Option<String>,
    pub has_password: bool,
    pub email_verified: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<User> for AccountBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            avatar_url: user.avatar_url,
            has_password: user.has_password,
            email_verified: user.email_verified_at.is_some(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// `POST /v1/organization/join-links`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateJoinLink)]
pub struct CreateJoinLinkRequest {
    /// The role people get by joining (ADMIN, MEMBER or one of the organization's own keys); ADMIN and custom roles need `users:write` too. Default MEMBER.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::openapi::RoleDoc>)]
    pub role: Option<String>,
    /// How many people may join through the link.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_uses: Option<i64>,
    /// When the link stops working (RFC 3339); or give `expiresIn`.
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-12-31T00:00:00.000Z")]
    pub expires_at: Option<String>,
    /// How long the link works: `"3d"` or seconds; at most `invitations.max_lifetime`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::openapi::ExpiresInDoc>)]
    pub expires_in: Option<serde_json::Value>,
    /// Only addresses at these domains may join; absent or empty: any.
    #[serde(default)]
    pub allowed_email_domains: Option<Vec<String>>,
    /// Teams of the organization people join through the link (at most
    /// 100 ids). A team deleted meanwhile is passed over.
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>, max_items = 100, example = json!([7]))]
    pub team_ids: Option<serde_json::Value>,
}

/// An answer that shows a secret once: a join link's `url`, a webhook's
/// `secret`. An idempotent replay answers [`ShownOnce::without_secret`]
/// instead, the only form stored, so the secret never rests in the
/// idempotency store (see `api::idempotency::secret_once`).
pub trait ShownOnce: Serialize {
    /// The same resource without its secret, saying so (`secretOmitted`).
    fn without_secret(&self) -> Self;
}

impl ShownOnce for JoinLinkBody {
    fn without_secret(&self) -> Self {
        Self {
            url: None,
            secret_omitted: true,
            ..self.clone()
        }
    }
}

/// One page of join links, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JoinLinkPage)]
pub struct JoinLinkPage {
    pub items: Vec<JoinLinkBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<JoinLink>> for JoinLinkPage {
    fn from(page: Paged<JoinLink>) -> Self {
        Self {
            items: page.items.into_iter().map(JoinLinkBody::from).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}

/// `POST /v1/organization/invitations/bulk`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = BulkInvite)]
pub struct BulkInviteRequest {
    /// Up to 500 invitations, each as `POST /v1/organization/invitations` takes it.
    #[schema(value_type = Vec<CreateInvitationRequest>, max_items = 500)]
    pub items: serde_json::Value,
}

/// Why one item was not created.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BulkItemError)]
pub struct BulkItemErrorBody {
    /// `validation_failed`, `duplicate_item`, `invitation_pending`,
    /// `already_member`, `too_many_requests` or `missing_scope` (an ADMIN
    /// item from an API key without `users:write`).
    pub code: &'static str,
    /// The item's field at fault, when one is.
    pub field: Option<&'static str>,
    pub detail: String,
}

/// One item's outcome.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BulkItem)]
pub struct BulkItemBody {
    /// The item's position in the request, from 0.
    pub index: usize,
    #[schema(value_type = crate::api::openapi::BulkStatusDoc)]
    pub status: &'static str,
    /// The new invitation, when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BulkItemErrorBody>,
}

/// Every item's outcome, in input order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BulkInviteResult)]
pub struct BulkInviteResponse {
    pub items: Vec<BulkItemBody>,
}

impl From<crate::services::invitations::BulkOutcome> for BulkItemBody {
    fn from(outcome: crate::services::invitations::BulkOutcome) -> Self {
        Self {
            index: outcome.index,
            status: outcome.status.as_str(),
            invitation: outcome.invitation.map(InvitationBody::from),
            error: outcome.error.map(|e| BulkItemErrorBody {
                code: e.code.as_str(),
                field: e.field,
                detail: e.detail,
            }),
        }
    }
}

/// `POST /v1/organization/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateWebhook)]
pub struct CreateWebhookRequest {
    /// Where deliveries go: `https://` (plain `http://` only to a loopback
    /// address, with `webhooks.allow_http_loopback`), at most 2 KiB, never
    /// a private, loopback or link-local address unless the host is listed
    /// in `webhooks.allowed_hosts` (every such refusal, and a host that does
    /// not resolve, answers the same detail).
    #[schema(example = "https://app.example.com/hooks/enlist")]
    pub url: String,
    /// The event types to receive; absent or empty: every type.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// `PATCH /v1/organization/webhooks/{id}`: the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UpdateWebhook)]
pub struct UpdateWebhookRequest {
    #[serde(default)]
    pub url: Option<String>,
    /// An empty list: every type.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Enabling an endpoint enlist disabled gives it a fresh start.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// An endpoint with its signing secret, shown only at creation and rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookWithSecret)]
pub struct WebhookWithSecretBody {
    pub id: i64,
    pub url: String,
    /// The event types it receives; empty: every type.
    pub events: Vec<&'static str>,
    pub enabled: bool,
    pub description: String,
    pub disabled_reason: Option<String>,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub updated_at: Millis,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks). Absent
    /// only from an idempotent replay (`secretOmitted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: Option<String>,
    /// `true` only on an idempotent replay (`Idempotent-Replayed: true`):
    /// the secret is not kept for replays, so this answer has none; rotate
    /// the secret (with a new `Idempotency-Key`) if it was lost.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub secret_omitted: bool,
}

impl ShownOnce for WebhookWithSecretBody {
    fn without_secret(&self) -> Self {
        Self {
            secret: None,
            secret_omitted: true,
            ..self.clone()
        }
    }
}

impl From<crate::services::webhooks::WithSecret> for WebhookWithSecretBody {
    fn from(with: crate::services::webhooks::WithSecret) -> Self {
        let endpoint = WebhookBody::from(with.endpoint);
        Self {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            enabled: endpoint.enabled,
            description: endpoint.description,
            disabled_reason: endpoint.disabled_reason,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
            secret: Some(with.secret),
            secret_omitted: false,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookPage)]
pub struct WebhookPage {
    pub items: Vec<WebhookBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<WebhookEndpoint>> for WebhookPage {
    fn from(page: Paged<WebhookEndpoint>) -> Self {
        Self {
            items: page.items.into_iter().map(WebhookBody::from).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}

/// `POST /v1/organization/webhooks/{id}/test`: the queued event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTestBody {
    /// The `webhook.test` event's id (its deliveries' `webhook-id`).
    pub event_id: Uuid,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttempt)]
pub struct WebhookAttemptBody {
    pub id: i64,
    /// The event's id (the `webhook-id` header).
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub attempted_at: Millis,
    /// `delivered` (a 2xx), `retrying` (at `nextAttemptAt`) or `failed` (given up).
    #[schema(example = "retrying")]
    pub status: String,
    /// The receiver's HTTP status, or null when it did not answer.
    pub response_status: Option<u32>,
    pub duration_ms: i64,
    /// Why it failed, or null.
    pub error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime, example = "2025-05-31T02:49:16.773Z")]
    pub next_attempt_at: Option<Millis>,
}

impl From<crate::services::webhooks::AttemptRecord> for WebhookAttemptBody {
    fn from(record: crate::services::webhooks::AttemptRecord) -> Self {
        Self {
            id: record.id,
            event_id: record.event_uuid,
            event_type: record.event_type,
            attempt: record.attempt,
            attempted_at: record.attempted_at,
            status: record.outcome,
            response_status: record.response_status,
            duration_ms: record.duration_ms,
            error: record.error,
            next_attempt_at: record.next_attempt_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttemptPage)]
pub struct WebhookAttemptPage {
    pub items: Vec<WebhookAttemptBody>,
    pub limit: i64,
    pub offset: i64,
    /// Counted up to the 1,000 most recent attempts, the ones listed.
    pub total_count: i64,
}

impl From<Paged<crate::services::webhooks::AttemptRecord>> for WebhookAttemptPage {
    fn from(page: Paged<crate::services::webhooks::AttemptRecord>) -> Self {
        Self {
            items: page
                .items
                .into_iter()
                .map(WebhookAttemptBody::from)
                .collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}

/// `POST /v1/organization/roles`: a custom role.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateRole, example = json!({
    "key": "billing", "name": "Billing", "description": "Sees and pays the invoices",
    "permissions": ["billing:manage", "invoices:read"]
}))]
pub struct CreateRoleRequest {
    /// Lower case, `[a-z][a-z0-9_-]{0,62}` (the upper-case keys are the built-ins').
    #[schema(pattern = "^[a-z][a-z0-9_-]{0,62}$")]
    pub key: String,
    #[schema(max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Names your app defines (`[a-z0-9_.:-]{1,100}`), at most 100, and
    /// enlist's own management permissions (docs/roles.md).
    pub permissions: Vec<String>,
}

/// `PATCH /v1/organization/roles/{key}`: the fields given change (a
/// `description` of null clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UpdateRole, example = json!({"permissions": ["billing:manage"]}))]
pub struct UpdateRoleRequest {
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// A field that was sent, even as null (`Some(None)`), apart from one that
/// was left out (`None`, through `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RolePage)]
pub struct RolePage {
    /// ADMIN and MEMBER first, then the organization's own by key.
    pub items: Vec<crate::views::RoleBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<crate::domain::role::RoleDefinition>> for RolePage {
    fn from(page: Paged<crate::domain::role::RoleDefinition>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}

/// `DELETE /v1/organization/roles/{key}`: the deleted role's key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedRole, example = json!({"key": "billing"}))]
pub struct RoleKeyBody {
    pub key: String,
}

/// `POST /v1/organization/permissions/check`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PermissionCheckRequest, example = json!({"userId": 42, "permissions": ["invoices:read", "billing:manage"]}))]
pub struct PermissionCheckRequest {
    /// A member of the API key's organization.
    pub user_id: i64,
    /// At most 100 names (`[a-z0-9_.:-]{1,100}`).
    pub permissions: Vec<String>,
}

/// Whether the member holds every permission asked, and which they lack.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PermissionCheck, example = json!({"allowed": false, "missing": ["billing:manage"]}))]
pub struct PermissionCheckBody {
    pub allowed: bool,
    /// The names asked that the member's role does not grant, in the order asked.
    pub missing: Vec<String>,
}

/// `POST /v1/organization/teams`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateTeam, example = json!({"name": "Billing", "description": "Invoices and payments"}))]
pub struct CreateTeamRequest {
    /// Unique in the organization, ignoring case and outer spaces.
    #[schema(max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// `PATCH /v1/organization/teams/{id}`: the fields given change (a
/// `description` of null clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UpdateTeam, example = json!({"name": "Payments"}))]
pub struct UpdateTeamRequest {
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TeamPage)]
pub struct TeamPage {
    /// Oldest first.
    pub items: Vec<crate::views::TeamBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<crate::domain::team::Team>> for TeamPage {
    fn from(page: Paged<crate::domain::team::Team>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}

/// `PATCH /v1/organization`: the fields given change (`logoUrl` or
/// `metadata` of null clears it; absent leaves it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UpdateOrganization, example = json!({
    "name": "Acme Inc.", "logoUrl": "https://cdn.example.com/acme.png",
    "metadata": {"plan": "enterprise", "crmId": "0015g00000ABC"}
}))]
pub struct UpdateOrganizationRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub name: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub logo_url: Option<Option<serde_json::Value>>,
    /// A JSON object of at most 8 KiB as compact JSON; replaces the one stored.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
}

/// `DELETE /v1/organization`: the organization's name, typed out.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = DeleteOrganization, example = json!({"confirm": "Acme"}))]
pub struct DeleteOrganizationRequest {
    /// The organization's name exactly as `GET /v1/organization` answers it.
    #[serde(default)]
    #[schema(value_type = String)]
    pub confirm: Option<serde_json::Value>,
}

/// The answer to `DELETE /v1/organization`: what went, and its export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeletedOrganization)]
pub struct DeletedOrganizationBody {
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    /// Always true.
    pub deleted: bool,
    /// The file the export was written to before anything was deleted, in
    /// the server's `organizations.export_dir`.
    #[schema(example = "org-1-0b0f3d4e-8d0c-4b1e-9c55-3c1f0c9e2a10-1764581400000.json")]
    pub export_file: String,
    /// The same document as `GET /v1/organization/export` answered just before.
    pub export: crate::views::OrganizationExportBody,
}

impl From<crate::services::orgs::Deleted> for DeletedOrganizationBody {
    fn from(deleted: crate::services::orgs::Deleted) -> Self {
        Self {
            id: deleted.organization.id,
            uuid: deleted.organization.uuid,
            name: deleted.organization.name,
            deleted: true,
            export_file: deleted.export_file,
            export: deleted.export,
        }
    }
}

/// `POST /organizations`: a new organization of the caller's own.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateOwnOrganization, example = json!({"name": "Acme"}))]
pub struct CreateOwnOrganizationRequest {
    #[serde(default)]
    #[schema(value_type = String, max_length = 200)]
    pub name: Option<serde_json::Value>,
}
/// `POST /v1/organization/domains`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateDomain, example = json!({"domain": "acme.test", "mode": "auto_join", "role": "MEMBER", "teamIds": [7]}))]
pub struct CreateDomainRequest {
    /// A domain name (an internationalised one is stored in its punycode
    /// form); not an IP address, a public suffix or a public mail
    /// provider's domain.
    #[schema(max_length = 253, example = "acme.test")]
    pub domain: String,
    #[schema(value_type = crate::views::DomainModeDoc)]
    pub mode: String,
    /// What people it admits or invites become (default `MEMBER`). ADMIN
    /// or a custom role needs `users:write` beside `domains:write`.
    #[serde(default)]
    #[schema(value_type = Option<crate::views::RoleDoc>)]
    pub role: Option<String>,
    /// Teams of the organization the people it brings in join (at most 100 ids).
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>, max_items = 100, example = json!([7]))]
    pub team_ids: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DomainPage)]
pub struct DomainPage {
    /// Oldest first.
    pub items: Vec<crate::views::DomainBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<crate::domain::org_domain::OrgDomain>> for DomainPage {
    fn from(page: Paged<crate::domain::org_domain::OrgDomain>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
        }
    }
}
