//! Join links: one URL many people can use to join an organization.

use super::{Millis, Role};
use serde::Serialize;

/// The most people one link can let in.
pub const MAX_USES: i64 = 10_000;
/// How many domains one link may allow.
pub const MAX_DOMAINS: usize = 100;

/// A link's state as admins and the hosted page see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinLinkState {
    Active,
    Full,
    Expired,
    Revoked,
}

impl JoinLinkState {
    /// Revoked wins over expired, which wins over full.
    pub fn of(uses: i64, max_uses: i64, expires_at: Millis, revoked: bool, now: Millis) -> Self {
        if revoked {
            JoinLinkState::Revoked
        } else if expires_at.0 <= now.0 {
            JoinLinkState::Expired
        } else if uses >= max_uses {
            JoinLinkState::Full
        } else {
            JoinLinkState::Active
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    pub id: i64,
    pub org_id: i64,
    pub role: Role,
    pub max_uses: i64,
    pub uses: i64,
    pub expires_at: Millis,
    /// Lower-case domains; empty: any.
    pub allowed_email_domains: Vec<String>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    /// At the time of reading.
    pub state: JoinLinkState,
    /// The teams joining puts the person in. Filled by the admin reads that
    /// show it (create, list, revoke); joining reads the teams in its own
    /// transaction.
    pub team_ids: Vec<i64>,
}

impl JoinLink {
    /// Whether an address (its lower-case key) may join through this link.
    pub fn allows(&self, email_key: &str) -> bool {
        if self.allowed_email_domains.is_empty() {
            return true;
        }
        let Some((_, domain)) = email_key.rsplit_once('@') else {
            return false;
        };
        self.allowed_email_domains.iter().any(|d| d == domain)
    }
}

/// Checks `allowedEmailDomains`: plain domain names, lower-cased.
pub fn parse_domains(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.len() > MAX_DOMAINS {
        return Err(format!(
            "allowedEmailDomains may list at most {MAX_DOMAINS} domains"
        ));
    }
    let mut domains = Vec::with_capacity(raw.len());
    for entry in raw {
        let domain = entry.trim().trim_start_matches('@').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            return Err(format!(
                "allowedEmailDomains must hold domain names like `example.com`, got `{}`",
                entry.chars().take(64).collect::<String>()
            ));
        }
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_revocation_expiry_and_uses() {
        let now = Millis(1_000);
        assert_eq!(
            JoinLinkState::of(0, 1, Millis(2_000), false, now),
            JoinLinkState::Active
        );
        assert_eq!(
            JoinLinkState::of(1, 1, Millis(2_000), false, now),
            JoinLinkState::Full
        );
        assert_eq!(
            JoinLinkState::of(1, 1, Millis(1_000), false, now),
            JoinLinkState::Expired
        );
        assert_eq!(
            JoinLinkState::of(1, 1, Millis(1_000), true, now),
            JoinLinkState::Revoked
        );
    }

    #[test]
    fn domains_are_checked_and_lower_cased() {
        assert_eq!(
            parse_domains(&["Example.COM".into(), "@b.org".into(), "example.com".into()]),
            Ok(vec!["example.com".to_owned(), "b.org".to_owned()])
        );
        assert!(parse_domains(&["nodot".into()]).is_err());
        assert!(parse_domains(&["a b.com".into()]).is_err());
    }
}
