//! Roles: the two built-ins, `ADMIN` and `MEMBER`, and an organization's
//! own (custom) roles, each a bag of permission names. A role as members,
//! invitations and join links hold it is its key; what a custom key grants
//! lives in the organization's role rows (`db::roles`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A member's role in one organization. `Role::Admin` always means the
/// built-in ADMIN, whatever custom roles grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Member,
    Custom(RoleKey),
}

impl Role {
    /// The built-ins, in the order lists show them.
    pub const BUILT_IN: [Role; 2] = [Role::Admin, Role::Member];

    /// The role as people read it on pages (a custom role's key: its
    /// display name lives with the organization's roles).
    pub fn label(&self) -> &str {
        match self {
            Role::Admin => "Admin",
            Role::Member => "Member",
            Role::Custom(key) => key.as_str(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "ADMIN",
            Role::Member => "MEMBER",
            Role::Custom(key) => key.as_str(),
        }
    }

    pub fn is_built_in(&self) -> bool {
        !matches!(self, Role::Custom(_))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    /// A built-in's name or a well-formed custom key. Whether the
    /// organization has that custom role is for storage to say.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ADMIN" => Ok(Role::Admin),
            "MEMBER" => Ok(Role::Member),
            other => RoleKey::parse(other)
                .map(Role::Custom)
                .map_err(|_| UnknownRole(other.to_owned())),
        }
    }
}

/// A custom role's key: lower case (`[a-z][a-z0-9_-]{0,62}`), so it never
/// reads as one of the upper-case built-ins.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleKey(String);

/// Why a custom role key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRoleKey {
    #[error("`{0}` is a built-in role: custom role keys are lower case")]
    BuiltIn(String),
    #[error(
        "a role key is 1 to 63 characters: a lower-case letter, then lower-case letters, \
         digits, `_` or `-`"
    )]
    Malformed,
}

impl RoleKey {
    pub const MAX_LEN: usize = 63;

    pub fn parse(raw: &str) -> Result<Self, BadRoleKey> {
        if raw == "ADMIN" || raw == "MEMBER" {
            return Err(BadRoleKey::BuiltIn(raw.to_owned()));
        }
        let mut chars = raw.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_well =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if starts_well && rest_well && raw.len() <= Self::MAX_LEN {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadRoleKey::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A permission name as apps define it: `[a-z0-9_.:-]{1,100}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | ':' | '-')
            });
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The permissions enlist itself gives meaning to. The built-in ADMIN holds
/// all of them; custom roles may hold any. Only `members:manage` decides
/// anything today (the last-manager rule); the others name what the admin
/// surfaces will admit custom-role holders to.
pub const MANAGEMENT_PERMISSIONS: [&str; 8] = [
    "api_keys:manage",
    "invitations:manage",
    "join_links:manage",
    "members:manage",
    "organization:manage",
    "roles:manage",
    "teams:manage",
    "webhooks:manage",
];

/// The permission an organization must always keep one holder of.
pub const MEMBERS_MANAGE: &str = "members:manage";

/// One of enlist's management permissions, as the admin surfaces ask for
/// it (typed, so a page cannot ask for a misspelt one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    ApiKeys,
    Invitations,
    JoinLinks,
    Members,
    Organization,
    Roles,
    Teams,
    Webhooks,
}

impl Management {
    pub fn as_str(self) -> &'static str {
        match self {
            Management::ApiKeys => "api_keys:manage",
            Management::Invitations => "invitations:manage",
            Management::JoinLinks => "join_links:manage",
            Management::Members => MEMBERS_MANAGE,
            Management::Organization => "organization:manage",
            Management::Roles => "roles:manage",
            Management::Teams => "teams:manage",
            Management::Webhooks => "webhooks:manage",
        }
    }
}

/// A role's permissions: sorted, without repeats, at most [`Permissions::MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(Vec<Permission>);

/// Why a permission list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPermissions {
    #[error("a role holds at most {max} permissions, got {got}")]
    TooMany { max: usize, got: usize },
    #[error(
        "permission `{0}` is not 1 to 100 characters of lower-case letters, digits, `_`, `.`, \
         `:` or `-`"
    )]
    Malformed(String),
}

impl Permissions {
    pub const MAX: usize = 100;

    /// Parses what a request sent, refusing the whole list for one bad name.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, BadPermissions> {
        let mut parsed = raw
            .iter()
            .map(|name| {
                Permission::parse(name.as_ref()).ok_or_else(|| {
                    let shown: String = name.as_ref().chars().take(100).collect();
                    BadPermissions::Malformed(shown)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        parsed.dedup();
        if parsed.len() > Self::MAX {
            return Err(BadPermissions::TooMany {
                max: Self::MAX,
                got: parsed.len(),
            });
        }
        Ok(Self(parsed))
    }

    /// What the built-in role holds.
    pub fn of_built_in(role: &Role) -> Self {
        match role {
            Role::Admin => Self(
                MANAGEMENT_PERMISSIONS
                    .iter()
                    .map(|name| Permission((*name).to_owned()))
                    .collect(),
            ),
            Role::Member | Role::Custom(_) => Self::default(),
        }
    }

    /// The stored form: names joined by single spaces (no name holds one).
    pub fn to_stored(&self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored form; names that no longer parse are dropped rather
    /// than failing every read of the role.
    pub fn from_stored(stored: &str) -> Self {
        let mut parsed: Vec<Permission> = stored.split(' ').filter_map(Permission::parse).collect();
        parsed.sort();
        parsed.dedup();
        Self(parsed)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Permission::as_str)
    }

    pub fn holds(&self, name: &str) -> bool {
        self.0
            .binary_search_by(|held| held.as_str().cmp(name))
            .is_ok()
    }

    /// Whether holders may manage members (the last-manager rule).
    pub fn manages_members(&self) -> bool {
        self.holds(MEMBERS_MANAGE)
    }

    /// Whether holders manage anything in enlist (the console admits them).
    pub fn manages_anything(&self) -> bool {
        MANAGEMENT_PERMISSIONS.iter().any(|name| self.holds(name))
    }

    /// The management permissions `other` holds and these do not: what a
    /// holder of these would gain by handing `other` out.
    pub fn management_beyond<'a>(&self, other: &'a Permissions) -> Vec<&'a str> {
        other
            .names()
            .filter(|name| MANAGEMENT_PERMISSIONS.contains(name) && !self.holds(name))
            .collect()
    }

    /// Which of `wanted` these permissions lack, in the order asked, once each.
    pub fn missing<'a>(&self, wanted: &'a [Permission]) -> Vec<&'a str> {
        let mut missing: Vec<&str> = Vec::new();
        for name in wanted.iter().map(Permission::as_str) {
            if !self.holds(name) && !missing.contains(&name) {
                missing.push(name);
            }
        }
        missing
    }
}

/// A role with what it grants, as the roles API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub role: Role,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Permissions,
    /// `None` for the built-ins, which were never created.
    pub created_at: Option<super::Millis>,
    pub updated_at: Option<super::Millis>,
}

impl RoleDefinition {
    /// A built-in role as the roles API lists it.
    pub fn built_in(role: Role) -> Self {
        let (name, description) = match role {
            Role::Admin => (
                "Admin",
                "Manages the organization: every enlist management permission",
            ),
            _ => ("Member", "Belongs to the organization; no permissions"),
        };
        Self {
            permissions: Permissions::of_built_in(&role),
            role,
            name: name.to_owned(),
            description: Some(description.to_owned()),
            created_at: None,
            updated_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_keys_are_lower_case_and_never_built_in() {
        assert_eq!(
            "billing-admin".parse::<Role>().unwrap(),
            Role::Custom(RoleKey::parse("billing-admin").unwrap())
        );
        assert_eq!("ADMIN".parse::<Role>().unwrap(), Role::Admin);
        assert!(RoleKey::parse("ADMIN").is_err());
        for bad in ["", "Billing", "1st", "a b", &"a".repeat(64)] {
            assert!(bad.parse::<Role>().is_err(), "{bad}");
        }
        assert!(RoleKey::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn permissions_parse_sorted_once_each_and_within_bounds() {
        let parsed = Permissions::parse(&["docs:edit", "billing.view", "docs:edit"]).unwrap();
        assert_eq!(parsed.to_stored(), "billing.view docs:edit");
        assert_eq!(Permissions::from_stored(&parsed.to_stored()), parsed);
        assert!(matches!(
            Permissions::parse(&["Docs"]),
            Err(BadPermissions::Malformed(_))
        ));
        assert!(Permissions::parse(&[""]).is_err());
        let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        assert!(matches!(
            Permissions::parse(&many),
            Err(BadPermissions::TooMany { .. })
        ));
    }

    #[test]
    fn admin_holds_every_management_permission_and_member_none() {
        let admin = Permissions::of_built_in(&Role::Admin);
        assert!(MANAGEMENT_PERMISSIONS.iter().all(|name| admin.holds(name)));
        assert!(admin.manages_members());
        assert_eq!(Permissions::of_built_in(&Role::Member).names().count(), 0);
    }

    #[test]
    fn management_names_are_the_listed_ones() {
        let typed = [
            Management::ApiKeys,
            Management::Invitations,
            Management::JoinLinks,
            Management::Members,
            Management::Organization,
            Management::Roles,
            Management::Teams,
            Management::Webhooks,
        ]
        .map(Management::as_str);
        assert_eq!(typed, MANAGEMENT_PERMISSIONS);
    }

    #[test]
    fn management_beyond_names_only_enlist_permissions_not_held() {
        let members = Permissions::parse(&["members:manage", "docs:edit"]).unwrap();
        let wider =
            Permissions::parse(&["members:manage", "roles:manage", "invoices:read"]).unwrap();
        assert!(members.manages_anything());
        assert!(
            !Permissions::parse(&["docs:edit"])
                .unwrap()
                .manages_anything()
        );
        assert_eq!(members.management_beyond(&wider), vec!["roles:manage"]);
        assert!(wider.management_beyond(&members).is_empty());
    }
}
