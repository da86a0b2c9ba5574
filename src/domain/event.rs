//! The event log's vocabulary: what happened ([`EventType`]) and who made
//! it happen ([`Actor`], with the request it came in, [`Origin`]).

use serde::Serialize;
use serde::ser::SerializeMap;
use std::fmt;
use std::str::FromStr;

macro_rules! event_types {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// Every kind of event the log holds, named as the audit API and
        /// webhook payloads name them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $($variant),+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name),+
                }
            }
        }
    };
}

event_types! {
    InvitationCreated => "invitation.created",
    InvitationResent => "invitation.resent",
    InvitationRevoked => "invitation.revoked",
    InvitationAccepted => "invitation.accepted",
    InvitationDeclined => "invitation.declined",
    InvitationExpired => "invitation.expired",
    MemberAdded => "member.added",
    MemberRemoved => "member.removed",
    MemberRoleChanged => "member.role_changed",
    RoleCreated => "role.created",
    RoleUpdated => "role.updated",
    RoleDeleted => "role.deleted",
    TeamCreated => "team.created",
    TeamUpdated => "team.updated",
    TeamDeleted => "team.deleted",
    TeamMemberAdded => "team.member_added",
    TeamMemberRemoved => "team.member_removed",
    OrganizationUpdated => "organization.updated",
    DomainCreated => "domain.created",
    DomainVerified => "domain.verified",
    DomainUnverified => "domain.unverified",
    DomainDeleted => "domain.deleted",
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookDeleted => "webhook.deleted",
    WebhookSecretRotated => "webhook.secret_rotated",
    WebhookDisabled => "webhook.disabled",
    WebhookTest => "webhook.test",
    IdentityLinked => "user.identity_linked",
    IdentityUnlinked => "user.identity_unlinked",
    SignedIn => "user.signed_in",
    MfaEnrolled => "user.mfa_enrolled",
    MfaRemoved => "user.mfa_removed",
    MfaReset => "user.mfa_reset",
}

impl EventType {
    /// Parses a comma-separated list (several lists may be given, as a
    /// repeated query parameter); duplicates collapse, order is canonical.
    pub fn parse_lists<S: AsRef<str>>(lists: &[S]) -> Result<Vec<EventType>, UnknownEventType> {
        let mut types = lists
            .iter()
            .flat_map(|list| list.as_ref().split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<EventType>, _>>()?;
        types.sort();
        types.dedup();
        Ok(types)
    }

    /// The names, comma-separated, for messages.
    pub fn known() -> String {
        EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| UnknownEventType(name.chars().take(64).collect()))
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An admin API key, and the admin who owns it.
    ApiKey { api_key_id: i64, user_id: i64 },
    /// A person signed in on the hosted pages.
    User { user_id: i64 },
    /// A person through an OAuth client's access token (the invitee API).
    Client { client_id: String, user_id: i64 },
    /// enlist itself: the expiry sweep, a failing webhook disabled.
    System,
    /// The operator, on the command line.
    Cli,
    /// An organization's verified domain, acting for the person whose
    /// address is at it (auto-join, auto-invite).
    Domain {
        domain_id: i64,
        domain: String,
        user_id: i64,
    },
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey { .. } => "api_key",
            Actor::User { .. } => "user",
            Actor::Client { .. } => "client",
            Actor::System => "system",
            Actor::Cli => "cli",
            Actor::Domain { .. } => "domain",
        }
    }
}

/// `{"type": "api_key", "apiKeyId": 3, "userId": 1}` and the like: the type
/// and the ids that say who.
impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.kind())?;
        match self {
            Actor::ApiKey {
                api_key_id,
                user_id,
            } => {
                map.serialize_entry("apiKeyId", api_key_id)?;
                map.serialize_entry("userId", user_id)?;
            }
            Actor::User { user_id } => map.serialize_entry("userId", user_id)?,
            Actor::Client { client_id, user_id } => {
                map.serialize_entry("clientId", client_id)?;
                map.serialize_entry("userId", user_id)?;
            }
            Actor::Domain {
                domain_id,
                domain,
                user_id,
            } => {
                map.serialize_entry("domainId", domain_id)?;
                map.serialize_entry("domain", domain)?;
                map.serialize_entry("userId", user_id)?;
            }
            Actor::System | Actor::Cli => {}
        }
        map.end()
    }
}

/// Who made a change, and the request that carried it (its `X-Request-Id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl Origin {
    pub fn new(actor: Actor, request_id: Option<String>) -> Self {
        Self { actor, request_id }
    }

    pub fn system() -> Self {
        Self::new(Actor::System, None)
    }

    /// A person signed in on the hosted pages, outside any API request.
    pub fn user(user_id: i64) -> Self {
        Self::new(Actor::User { user_id }, None)
    }

    pub fn cli() -> Self {
        Self::new(Actor::Cli, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_from_its_own_name() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(*kind));
        }
        assert_eq!(
            EventType::parse_lists(&["member.added, invitation.created", "member.added"]),
            Ok(vec![EventType::InvitationCreated, EventType::MemberAdded])
        );
        assert_eq!(
            EventType::parse_lists(&["invitation.created,nope"]),
            Err(UnknownEventType("nope".into()))
        );
    }

    #[test]
    fn actors_serialize_as_their_type_and_ids() {
        let key = Actor::ApiKey {
            api_key_id: 3,
            user_id: 1,
        };
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            serde_json::json!({"type": "api_key", "apiKeyId": 3, "userId": 1})
        );
        assert_eq!(
            serde_json::to_value(Actor::System).unwrap(),
            serde_json::json!({"type": "system"})
        );
        assert_eq!(
            serde_json::to_value(Actor::Client {
                client_id: "app".into(),
                user_id: 9
            })
            .unwrap(),
            serde_json::json!({"type": "client", "clientId": "app", "userId": 9})
        );
    }
}
