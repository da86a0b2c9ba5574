//! An invitation's status and the moves between them (pending → accepted,
//! declined, revoked or expired), and the filters its lists take.

use super::Millis;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// An invitation's status as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub const ALL: [InvitationStatus; 5] = [
        InvitationStatus::Pending,
        InvitationStatus::Accepted,
        InvitationStatus::Declined,
        InvitationStatus::Revoked,
        InvitationStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "PENDING",
            InvitationStatus::Accepted => "ACCEPTED",
            InvitationStatus::Declined => "DECLINED",
            InvitationStatus::Revoked => "REVOKED",
            InvitationStatus::Expired => "EXPIRED",
        }
    }

    /// A stored PENDING invitation whose expiry has passed reads as EXPIRED,
    /// whether or not the background sweep has stored that yet.
    pub fn effective(stored: InvitationStatus, expires_at: Millis, now: Millis) -> Self {
        if stored == InvitationStatus::Pending && is_expired(expires_at, now) {
            InvitationStatus::Expired
        } else {
            stored
        }
    }

    /// Whether an admin may revoke an invitation in this (effective) status,
    /// and whether doing so changes anything.
    pub fn revocation(self) -> Revocation {
        match self {
            InvitationStatus::Pending | InvitationStatus::Expired => Revocation::Revoke,
            InvitationStatus::Revoked => Revocation::AlreadyRevoked,
            InvitationStatus::Accepted | InvitationStatus::Declined => Revocation::Refused,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoke,
    AlreadyRevoked,
    Refused,
}

/// The one definition of "expired": the expiry instant itself is already past.
pub fn is_expired(expires_at: Millis, now: Millis) -> bool {
    expires_at <= now
}

#[derive(Debug, thiserror::Error)]
#[error("unknown invitation status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for InvitationStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvitationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Which invitations an admin list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationFilter {
    /// Every status; expired ones only when asked for.
    Any { include_expired: bool },
    /// One effective status. `includeExpired` changes nothing here: PENDING
    /// never includes expired invitations and EXPIRED is nothing but them.
    Status(InvitationStatus),
}

impl InvitationFilter {
    pub fn new(status: Option<InvitationStatus>, include_expired: bool) -> Self {
        match status {
            Some(status) => InvitationFilter::Status(status),
            None => InvitationFilter::Any { include_expired },
        }
    }

    /// The filter in a stable text form, for binding a cursor to it.
    pub fn canonical(self) -> String {
        match self {
            InvitationFilter::Any { include_expired } => {
                format!("status=;includeExpired={include_expired}")
            }
            InvitationFilter::Status(status) => format!("status={}", status.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InvitationStatus::*;

    #[test]
    fn pending_past_expiry_reads_as_expired() {
        let now = Millis(1_000);
        assert_eq!(
            InvitationStatus::effective(Pending, Millis(1_001), now),
            Pending
        );
        assert_eq!(
            InvitationStatus::effective(Pending, Millis(1_000), now),
            Expired
        );
        assert_eq!(
            InvitationStatus::effective(Accepted, Millis(10), now),
            Accepted
        );
        assert_eq!(
            InvitationStatus::effective(Revoked, Millis(10), now),
            Revoked
        );
    }

    #[test]
    fn revocation_rules() {
        assert_eq!(Pending.revocation(), Revocation::Revoke);
        assert_eq!(Expired.revocation(), Revocation::Revoke);
        assert_eq!(Revoked.revocation(), Revocation::AlreadyRevoked);
        assert_eq!(Accepted.revocation(), Revocation::Refused);
        assert_eq!(Declined.revocation(), Revocation::Refused);
    }

    #[test]
    fn statuses_round_trip() {
        for status in InvitationStatus::ALL {
            assert_eq!(status.as_str().parse::<InvitationStatus>().unwrap(), status);
        }
        assert!("pending".parse::<InvitationStatus>().is_err());
    }
}
