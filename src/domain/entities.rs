//! The records the services hand to the edges (HTTP, CLI).

use super::{InvitationStatus, Millis, Role, Scope};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    pub logo_url: Option<String>,
    pub member_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// What an admin attached (a JSON object); the admin API's only.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar_url: Option<String>,
    pub has_password: bool,
    /// When the email was proven to be this person's; `None`: not yet.
    pub email_verified_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl User {
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// "First Last", or the email when the person gave no name.
    pub fn display_name(&self) -> String {
        display_name(&self.first_name, &self.last_name, &self.email)
    }
}

pub fn display_name(first: &str, last: &str, email: &str) -> String {
    let name = format!("{first} {last}");
    let name = name.trim();
    if name.is_empty() {
        email.to_owned()
    } else {
        name.to_owned()
    }
}

/// A person as a member of one organization. The timestamps are the
/// membership's: when they joined and when their role last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One organization a person belongs to, as they see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organization_uuid: Uuid,
    pub organization_name: String,
    pub organization_logo_url: Option<String>,
    pub role: Role,
    /// What the role grants there.
    pub permissions: super::role::Permissions,
    pub joined_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: i64,
    pub uuid: Uuid,
    pub org_id: i64,
    pub invitee_email: String,
    pub role: Role,
    /// The effective status at the time of reading (expiry applied).
    pub status: InvitationStatus,
    pub inviter_user_id: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub expires_at: Millis,
    /// The teams accepting puts the person in. Filled by the admin reads
    /// that show it (create, get, list, bulk); the rows read for the
    /// invitee side and for accepting leave it empty, since accepting reads
    /// the teams in its own transaction.
    pub team_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    /// Why the key was revoked, when it was.
    pub revoked_reason: Option<KeyRevocation>,
}

/// Why an API key stopped working. A key dies for good with its owner's
/// admin role: adding the person back never revives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRevocation {
    /// Revoked by hand (`enlist api-key revoke`).
    Revoked,
    /// Its owner was removed from the organization.
    OwnerRemoved,
    /// Its owner stopped being an admin of the organization.
    OwnerDemoted,
    /// Minted in the console by an account whose password was then reset.
    PasswordReset,
    /// Held by an unverified account that the owner of its address took back.
    AccountClaimed,
}

impl KeyRevocation {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRevocation::Revoked => "revoked",
            KeyRevocation::OwnerRemoved => "owner_removed",
            KeyRevocation::OwnerDemoted => "owner_demoted",
            KeyRevocation::PasswordReset => "password_reset",
            KeyRevocation::AccountClaimed => "account_claimed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown revocation reason `{0}`")]
pub struct UnknownRevocation(pub String);

impl std::str::FromStr for KeyRevocation {
    type Err = UnknownRevocation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "revoked" => Ok(KeyRevocation::Revoked),
            "owner_removed" => Ok(KeyRevocation::OwnerRemoved),
            "owner_demoted" => Ok(KeyRevocation::OwnerDemoted),
            "password_reset" => Ok(KeyRevocation::PasswordReset),
            "account_claimed" => Ok(KeyRevocation::AccountClaimed),
            other => Err(UnknownRevocation(other.to_owned())),
        }
    }
}

/// An invitation as its invitee sees it: with the organization and the
/// person who invited them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationDetails {
    pub invitation: Invitation,
    pub organization_uuid: Uuid,
    pub organization_name: String,
    pub organization_logo_url: Option<String>,
    pub organization_member_count: i64,
    /// None when the inviter's account no longer exists.
    pub inviter_name: Option<String>,
    pub inviter_avatar_url: Option<String>,
    /// The admin's personal message, when they wrote one.
    pub message: Option<String>,
    /// The role as the organization names it (a custom role's display name).
    pub role_name: String,
}

/// What an admin added to one invitation, beyond the seed's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitationExtras {
    pub message: Option<String>,
    /// A JSON object enlist stores and returns, never reads.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What a link mailed to an inbox is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Proving that the address is the person's.
    Verify,
    /// Choosing a new password.
    Reset,
}
