//! The two built-in roles, `ADMIN` and `MEMBER`, as the APIs spell them.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A member's role in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    /// The role as people read it on pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Member => "Member",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Member => "MEMBER",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ADMIN" => Ok(Role::Admin),
            "MEMBER" => Ok(Role::Member),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}
