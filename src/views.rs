//! The JSON shapes that more than the admin API publishes: an invitation
//! and a member as the API answers them are also what events carry
//! (`data.invitation`, `data.user`), so both take them from here.

use crate::domain::join_link::{JoinLink, JoinLinkState};
use crate::domain::role::RoleDefinition;
use crate::domain::webhook::WebhookEndpoint;
use crate::domain::{
    ApiKey, Invitation, InvitationExtras, InvitationStatus, Member, Millis, Organization, Role,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A role's key: the built-in `ADMIN` or `MEMBER`, or one of the
/// organization's own (lower case, `[a-z][a-z0-9_-]{0,62}`).
#[derive(Serialize, ToSchema)]
#[schema(as = Role, example = "MEMBER", pattern = "^(ADMIN|MEMBER|[a-z][a-z0-9_-]{0,62})$")]
pub struct RoleDoc(String);

/// A role with what it grants (`GET /v1/organization/roles/{key}`; also
/// what the `role.*` events carry as `data.role`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RoleDefinition, example = json!({
    "key": "billing", "name": "Billing", "description": "Sees and pays the invoices",
    "permissions": ["billing:manage", "invoices:read"], "builtIn": false,
    "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"
}))]
pub struct RoleBody {
    /// `ADMIN`, `MEMBER`, or the organization's own lower-case key.
    #[schema(value_type = String)]
    pub key: Role,
    pub name: String,
    pub description: Option<String>,
    /// Sorted, each once.
    pub permissions: Vec<String>,
    /// ADMIN and MEMBER: read-only, the same in every organization.
    pub built_in: bool,
    /// Null for the built-ins.
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub created_at: Option<Millis>,
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub updated_at: Option<Millis>,
}

impl From<RoleDefinition> for RoleBody {
    fn from(role: RoleDefinition) -> Self {
        Self {
            built_in: role.role.is_built_in(),
            permissions: role.permissions.names().map(str::to_owned).collect(),
            key: role.role,
            name: role.name,
            description: role.description,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

/// A team of the organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Team, example = json!({
    "id": 7, "name": "Billing", "description": "Invoices and payments", "memberCount": 2,
    "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:00.000Z"
}))]
pub struct TeamBody {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub updated_at: Millis,
}

impl From<crate::domain::team::Team> for TeamBody {
    fn from(team: crate::domain::team::Team) -> Self {
        Self {
            id: team.id,
            name: team.name,
            description: team.description,
            member_count: team.member_count,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

/// What verifying a domain does for people whose address is at it.
#[derive(Serialize, ToSchema)]
#[schema(as = DomainMode)]
#[serde(rename_all = "snake_case")]
pub enum DomainModeDoc {
    Suggest,
    AutoInvite,
    AutoJoin,
}

/// The DNS record that proves control of a domain: a TXT record named
/// `name` whose value is exactly `value`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DomainVerification, example = json!({
    "type": "dns_txt", "name": "_enlist-challenge.acme.test",
    "value": "enlist-verification=3kQ9dZ0aTt5mVx2bR7cLh1nWp8yE4sJu"
}))]
pub struct VerificationBody {
    /// Always `dns_txt`.
    #[serde(rename = "type")]
    #[schema(example = "dns_txt")]
    pub kind: &'static str,
    pub name: String,
    pub value: String,
}

/// One of the organization's email domains.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Domain, example = json!({
    "id": 3, "domain": "acme.test", "mode": "auto_join", "role": "MEMBER", "teamIds": [7],
    "verified": true, "verifiedAt": "2026-12-01T09:40:00.000Z",
    "verification": {"type": "dns_txt", "name": "_enlist-challenge.acme.test",
                     "value": "enlist-verification=3kQ9dZ0aTt5mVx2bR7cLh1nWp8yE4sJu"},
    "createdAt": "2026-12-01T09:30:00.000Z"
}))]
pub struct DomainBody {
    pub id: i64,
    /// Lower-case ASCII: an internationalised name in its punycode form.
    #[schema(example = "acme.test")]
    pub domain: String,
    #[schema(value_type = DomainModeDoc)]
    pub mode: &'static str,
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    /// Teams the people it brings in join, by id.
    pub team_ids: Vec<i64>,
    pub verified: bool,
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T09:40:00.000Z")]
    pub verified_at: Option<Millis>,
    pub verification: VerificationBody,
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub created_at: Millis,
}

impl From<crate::domain::org_domain::OrgDomain> for DomainBody {
    fn from(domain: crate::domain::org_domain::OrgDomain) -> Self {
        Self {
            id: domain.id,
            verification: VerificationBody {
                kind: "dns_txt",
                name: domain.domain.challenge_name(),
                value: domain.challenge,
            },
            domain: domain.domain.as_str().to_owned(),
            mode: domain.mode.as_str(),
            role: domain.role,
            team_ids: domain.team_ids,
            verified: domain.verified_at.is_some(),
            verified_at: domain.verified_at,
            created_at: domain.created_at,
        }
    }
}

/// An invitation's status. A pending invitation past its expiry reads as EXPIRED.
#[derive(Serialize, ToSchema)]
#[schema(as = InvitationStatus)]
#[allow(clippy::upper_case_acronyms)]
pub enum InvitationStatusDoc {
    PENDING,
    ACCEPTED,
    DECLINED,
    REVOKED,
    EXPIRED,
}

/// One invitation with everything an admin gave it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = InvitationDetail)]
pub struct InvitationDetailBody {
    #[schema(value_type = InvitationStatusDoc)]
    pub status: InvitationStatus,
    #[schema(value_type = RoleDoc)]
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
    /// The public id in the invitation link `/invite/{uuid}`.
    pub uuid: Uuid,
    /// The personal message, or null.
    pub message: Option<String>,
    /// The metadata object, or null.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The teams the person joins on accepting; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false, example = json!([7]))]
    pub team_ids: Vec<i64>,
}

impl From<(Invitation, InvitationExtras)> for InvitationDetailBody {
    fn from((invitation, extras): (Invitation, InvitationExtras)) -> Self {
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
            uuid: invitation.uuid,
            message: extras.message,
            metadata: extras.metadata,
            team_ids: invitation.team_ids,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct MemberBody {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub updated_at: Millis,
}

impl From<Member> for MemberBody {
    fn from(member: Member) -> Self {
        Self {
            id: member.user_id,
            email: member.email,
            first_name: member.first_name,
            last_name: member.last_name,
            role: member.role,
            created_at: member.created_at,
            updated_at: member.updated_at,
        }
    }
}

/// An API key as the command line prints it and `api_key.*` events carry it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyBody {
    pub id: i64,
    /// Present only in the output of `api-key create`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub scopes: Vec<&'static str>,
    pub name: String,
    pub organization_id: i64,
    pub user_id: i64,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    /// `active`, or `revoked` (with when and why).
    pub state: &'static str,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Millis>,
    /// `revoked` (by hand), `owner_removed` or `owner_demoted`.
    pub revoked_reason: Option<&'static str>,
}

impl ApiKeyBody {
    pub fn new(key: ApiKey, plaintext: Option<String>) -> Self {
        Self {
            id: key.id,
            key: plaintext,
            scopes: key.scopes.iter().map(|s| s.as_str()).collect(),
            name: key.name,
            organization_id: key.org_id,
            user_id: key.user_id,
            created_at: key.created_at,
            state: if key.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
            revoked_at: key.revoked_at,
            revoked_reason: key.revoked_reason.map(|reason| reason.as_str()),
        }
    }
}

/// A webhook endpoint, as the admin API answers it and `webhook.*` events
/// carry it (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct WebhookBody {
    pub id: i64,
    pub url: String,
    /// The event types it receives; empty: every type.
    #[schema(example = json!(["invitation.accepted", "member.removed"]))]
    pub events: Vec<&'static str>,
    pub enabled: bool,
    pub description: String,
    /// Why enlist disabled it (its deliveries kept failing), or null.
    pub disabled_reason: Option<String>,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub updated_at: Millis,
}

impl From<WebhookEndpoint> for WebhookBody {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.event_types.iter().map(|t| t.as_str()).collect(),
            enabled: endpoint.enabled,
            description: endpoint.description,
            disabled_reason: endpoint.disabled_reason,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Organization)]
pub struct OrganizationBody {
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    pub logo_url: Option<String>,
    pub member_count: i64,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub updated_at: Millis,
    /// What an admin attached (`PATCH /v1/organization`); absent until then.
    /// The admin API's only: never on the invitee side, pages or tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, required = false, example = json!({"plan": "enterprise", "crmId": "0015g00000ABC"}))]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl From<Organization> for OrganizationBody {
    fn from(org: Organization) -> Self {
        Self {
            id: org.id,
            uuid: org.uuid,
            name: org.name,
            logo_url: org.logo_url,
            member_count: org.member_count,
            created_at: org.created_at,
            updated_at: org.updated_at,
            metadata: org.metadata,
        }
    }
}

/// A join link's state at the time of reading.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JoinLinkState)]
pub enum JoinLinkStateDoc {
    Active,
    Full,
    Expired,
    Revoked,
}

/// A join link. `url` (holding the token) is in the answer of the create call only.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JoinLink)]
pub struct JoinLinkBody {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uri")]
    pub url: Option<String>,
    /// `true` only on an idempotent replay of the create
    /// (`Idempotent-Replayed: true`): `url` is not kept for replays, so this
    /// answer has none; revoke the link and create another if it was lost.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub secret_omitted: bool,
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    pub max_uses: i64,
    pub uses: i64,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub expires_at: Millis,
    #[schema(value_type = JoinLinkStateDoc)]
    pub state: JoinLinkState,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub created_at: Millis,
    /// The teams people join through the link; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false, example = json!([7]))]
    pub team_ids: Vec<i64>,
}

impl From<JoinLink> for JoinLinkBody {
    fn from(link: JoinLink) -> Self {
        Self {
            id: link.id,
            url: None,
            secret_omitted: false,
            role: link.role,
            max_uses: link.max_uses,
            uses: link.uses,
            expires_at: link.expires_at,
            state: link.state,
            created_at: link.created_at,
            team_ids: link.team_ids,
        }
    }
}

/// A team in an organization's export: the team and who is in it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ExportedTeam)]
pub struct ExportedTeamBody {
    #[serde(flatten)]
    pub team: TeamBody,
    /// The user ids of its members, ascending.
    pub member_ids: Vec<i64>,
}

/// How many of each an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ExportCounts)]
pub struct ExportCountsBody {
    pub members: usize,
    pub roles: usize,
    pub teams: usize,
    pub invitations: usize,
    pub join_links: usize,
    pub webhooks: usize,
    pub events: usize,
}

/// Everything an organization holds, as one JSON document (version 1):
/// `GET /v1/organization/export`, `enlist org export --org N`, and the
/// file a deletion writes first. Never a secret: no API keys at all, no
/// webhook secrets, no join-link or invitation-link tokens.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrganizationExport)]
pub struct OrganizationExportBody {
    /// The document's format; a change that breaks readers gets a new one.
    #[schema(example = 1)]
    pub version: u32,
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:30:00.000Z")]
    pub exported_at: Millis,
    /// As `GET /v1/organization` answers it (with `metadata`).
    pub organization: OrganizationBody,
    pub counts: ExportCountsBody,
    /// As `GET /v1/organization/users` lists them, by user id.
    pub members: Vec<MemberBody>,
    /// ADMIN and MEMBER, then the organization's own by key.
    pub roles: Vec<RoleBody>,
    /// Oldest first, each with its members' ids.
    pub teams: Vec<ExportedTeamBody>,
    /// Every invitation, any status, as `GET /v1/organization/invitations/{id}`
    /// answers it, oldest first.
    pub invitations: Vec<InvitationDetailBody>,
    /// Newest first, without their URLs.
    pub join_links: Vec<JoinLinkBody>,
    /// The endpoints without their secrets, oldest first.
    pub webhooks: Vec<WebhookBody>,
    /// The audit log as `GET /v1/organization/events` pages it, newest first
    /// (what `events.retention` kept).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}
