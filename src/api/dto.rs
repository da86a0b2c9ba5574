//! Request and response bodies, named and shaped as the API documents show.

use crate::domain::{
    Invitation, InvitationStatus, Member, Millis, Organization, Paged, Role, User,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
        }
    }
}

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
        }
    }
}

/// One page of invitations, with the exact number of matches.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationPage {
    pub items: Vec<InvitationBody>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl From<Paged<Invitation>> for InvitationPage {
    fn from(page: Paged<Invitation>) -> Self {
        Self {
            items: page.items.into_iter().map(InvitationBody::from).collect(),
            limit: page.limit,
            offset: page.offset,
            total_count: page.total_count,
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
    /// The role the person gets on accepting.
    #[schema(value_type = crate::api::openapi::RoleDoc)]
    pub role: String,
}

#[derive(Debug, Deserialize)]
pub struct ListInvitationsQuery {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub status: Option<String>,
    #[serde(rename = "includeExpired")]
    pub include_expired: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub offset: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct MemberBody {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(value_type = crate::api::openapi::RoleDoc)]
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

/// The users page lists its fields in the order the API documents show.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserPage)]
#[serde(rename_all = "camelCase")]
pub struct MemberPage {
    pub items: Vec<MemberBody>,
    pub total_count: i64,
    pub offset: i64,
    pub limit: i64,
}

impl From<Paged<Member>> for MemberPage {
    fn from(page: Paged<Member>) -> Self {
        Self {
            items: page.items.into_iter().map(MemberBody::from).collect(),
            total_count: page.total_count,
            offset: page.offset,
            limit: page.limit,
        }
    }
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
