//! API key scopes as the spec spells them, and the rule that granting
//! ADMIN needs `users:write` besides the scope that creates.

use super::Role;
use std::fmt;
use std::str::FromStr;

/// What an API key may do. The names are the ones the admin API documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    OrganizationRead,
    OrganizationWrite,
    InvitationsRead,
    InvitationsWrite,
    UsersRead,
    UsersWrite,
    EventsRead,
    WebhooksRead,
    WebhooksWrite,
    RolesRead,
    RolesWrite,
    TeamsRead,
    TeamsWrite,
    DomainsRead,
    DomainsWrite,
}

impl Scope {
    pub const ALL: [Scope; 15] = [
        Scope::OrganizationRead,
        Scope::OrganizationWrite,
        Scope::InvitationsRead,
        Scope::InvitationsWrite,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::EventsRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::RolesRead,
        Scope::RolesWrite,
        Scope::TeamsRead,
        Scope::TeamsWrite,
        Scope::DomainsRead,
        Scope::DomainsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrganizationRead => "organization:read",
            Scope::OrganizationWrite => "organization:write",
            Scope::InvitationsRead => "invitations:read",
            Scope::InvitationsWrite => "invitations:write",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::EventsRead => "events:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::RolesRead => "roles:read",
            Scope::RolesWrite => "roles:write",
            Scope::TeamsRead => "teams:read",
            Scope::TeamsWrite => "teams:write",
            Scope::DomainsRead => "domains:read",
            Scope::DomainsWrite => "domains:write",
        }
    }

    /// Parses a comma- or space-separated list; duplicates collapse, order is canonical.
    pub fn parse_list(raw: &str) -> Result<Vec<Scope>, UnknownScope> {
        let mut scopes = raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The scope a key needs, beside the one that creates an invitation or a
/// join link (`invitations:write`), to hand out `role` through it. Making
/// admins is a `users:write` power, the scope that changes roles directly:
/// otherwise a narrow integration key could invite its holder as ADMIN.
/// A custom role may hold management permissions (and may gain them after
/// the invitation went out), so handing one out is the same power.
pub fn scope_to_grant(role: &Role) -> Option<Scope> {
    match role {
        Role::Admin | Role::Custom(_) => Some(Scope::UsersWrite),
        Role::Member => None,
    }
}

/// Whether a key holding `held` may hand out `role` through what `base`
/// (the scope the request itself needs) creates or sends.
pub fn check_grant(held: &[Scope], base: Scope, role: &Role) -> Result<(), GrantRefused> {
    match scope_to_grant(role) {
        Some(needed) if !held.contains(&needed) => Err(GrantRefused {
            role: role.clone(),
            base,
            needed,
        }),
        _ => Ok(()),
    }
}

/// A key that may not hand out a role; names every scope it would need.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "making someone {} needs an API key with both the `{base}` and `{needed}` scopes",
    .role.as_str()
)]
pub struct GrantRefused {
    pub role: Role,
    pub base: Scope,
    pub needed: Scope,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown scope `{0}` (known: organization:read, organization:write, invitations:read, invitations:write, users:read, users:write, events:read, webhooks:read, webhooks:write, roles:read, roles:write, teams:read, teams:write, domains:read, domains:write)"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_in_canonical_order() {
        let scopes = Scope::parse_list("users:write, invitations:read users:write").unwrap();
        assert_eq!(scopes, vec![Scope::InvitationsRead, Scope::UsersWrite]);
        assert_eq!(Scope::join(&scopes), "invitations:read users:write");
    }

    #[test]
    fn making_admins_needs_users_write_beside_the_create_scope() {
        let narrow = [Scope::InvitationsRead, Scope::InvitationsWrite];
        assert_eq!(
            check_grant(&narrow, Scope::InvitationsWrite, &Role::Member),
            Ok(())
        );
        let refused = check_grant(&narrow, Scope::InvitationsWrite, &Role::Admin).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "making someone ADMIN needs an API key with both the `invitations:write` and \
             `users:write` scopes"
        );
        let wide = [Scope::InvitationsWrite, Scope::UsersWrite];
        assert_eq!(
            check_grant(&wide, Scope::InvitationsWrite, &Role::Admin),
            Ok(())
        );
    }

    #[test]
    fn rejects_unknown_scopes() {
        assert_eq!(
            Scope::parse_list("users:read,admin"),
            Err(UnknownScope("admin".into()))
        );
    }
}
