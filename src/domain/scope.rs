use std::fmt;
use std::str::FromStr;

/// What an API key may do. The names are the ones the admin API documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    OrganizationRead,
    InvitationsRead,
    InvitationsWrite,
    UsersRead,
    UsersWrite,
    EventsRead,
    WebhooksRead,
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::OrganizationRead,
        Scope::InvitationsRead,
        Scope::InvitationsWrite,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::EventsRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrganizationRead => "organization:read",
            Scope::InvitationsRead => "invitations:read",
            Scope::InvitationsWrite => "invitations:write",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::EventsRead => "events:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown scope `{0}` (known: organization:read, invitations:read, invitations:write, users:read, users:write, events:read, webhooks:read, webhooks:write)"
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
    fn rejects_unknown_scopes() {
        assert_eq!(
            Scope::parse_list("users:read,admin"),
            Err(UnknownScope("admin".into()))
        );
    }
}
