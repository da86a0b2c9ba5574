//! The words of an OpenID Connect authorization request that enlist acts
//! on: the scopes a client may ask for ([`Scopes`]) and what it says of the
//! sign-in (`prompt`, [`Prompt`]). Plain rules; the flow is in
//! `services::oauth` and `services::oidc`.

use super::User;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A scope enlist grants, in the order the granted scope lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScopeName {
    /// An ID token and `userinfo`.
    OpenId,
    /// `email` and `email_verified` claims.
    Email,
    /// `name`, `given_name`, `family_name` claims.
    Profile,
    /// The invitee API.
    Invitations,
    /// The `organizations` claim: the person's memberships with role and
    /// permissions, in the tokens and `userinfo`.
    Organizations,
}

impl ScopeName {
    pub const ALL: [ScopeName; 5] = [
        ScopeName::OpenId,
        ScopeName::Email,
        ScopeName::Profile,
        ScopeName::Invitations,
        ScopeName::Organizations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeName::OpenId => "openid",
            ScopeName::Email => "email",
            ScopeName::Profile => "profile",
            ScopeName::Invitations => "invitations",
            ScopeName::Organizations => "organizations",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == word)
    }

    /// What the consent page says the client will get.
    pub fn describe(self) -> &'static str {
        match self {
            ScopeName::OpenId => "Know who you are on this server (an identifier for your account)",
            ScopeName::Email => "See your email address",
            ScopeName::Profile => "See your name",
            ScopeName::Invitations => "See your invitations and accept or decline them for you",
            ScopeName::Organizations => {
                "See the organizations you belong to, with your role and permissions in each"
            }
        }
    }
}

/// A set of granted scopes. Absent or empty, a request gets `invitations`,
/// as before enlist spoke OpenID Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<ScopeName>);

/// A scope enlist does not grant, named (clipped) for the error description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`; enlist grants openid, email, profile, invitations and organizations")]
pub struct UnknownScope(pub String);

/// Asked for by many relying parties to get a refresh token, which the
/// code flow always gives: accepted and left out of the granted scope.
const OFFLINE_ACCESS: &str = "offline_access";

impl Scopes {
    pub fn parse(requested: Option<&str>) -> Result<Self, UnknownScope> {
        let mut scopes = Vec::new();
        for word in requested.unwrap_or("").split_whitespace() {
            if word == OFFLINE_ACCESS {
                continue;
            }
            let scope = ScopeName::parse(word)
                .ok_or_else(|| UnknownScope(word.chars().take(64).collect()))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            scopes.push(ScopeName::Invitations);
        }
        scopes.sort();
        Ok(Self(scopes))
    }

    /// The stored and granted form: the names, space-separated, in order.
    pub fn as_string(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn contains(&self, scope: ScopeName) -> bool {
        self.0.contains(&scope)
    }

    pub fn names(&self) -> &[ScopeName] {
        &self.0
    }

    /// Every scope of `self` is in `other`.
    pub fn is_within(&self, other: &Scopes) -> bool {
        self.0.iter().all(|scope| other.contains(*scope))
    }

    /// Both sets together, for a consent widened by a new request.
    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut all = self.0.clone();
        for scope in &other.0 {
            if !all.contains(scope) {
                all.push(*scope);
            }
        }
        all.sort();
        Scopes(all)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// The claims about a person the granted scopes allow (OIDC Core 5.1, 5.4).
/// `sub` is the account's id: stable, never the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonClaims {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// With the `organizations` scope: set by whoever read the memberships.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<OrganizationsClaim>,
}

/// One membership as the `organizations` claim tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationClaim {
    /// The organization's numeric id (as the admin API and events name it).
    pub id: i64,
    pub uuid: String,
    pub name: String,
    /// The role's key: `ADMIN`, `MEMBER` or the organization's own.
    pub role: String,
    /// What the role grants there, sorted.
    pub permissions: Vec<String>,
}

/// The `organizations` claim: the person's memberships, oldest first, at
/// most [`OrganizationsClaim::MAX`] of them, so a token stays small enough
/// for a header; `organizations_truncated` says when some were left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OrganizationsClaim {
    pub organizations: Vec<OrganizationClaim>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organizations_truncated: bool,
}

impl OrganizationsClaim {
    /// How many memberships a token or `userinfo` carries at most.
    pub const MAX: usize = 50;

    /// The claim from memberships read oldest first, one more than
    /// [`OrganizationsClaim::MAX`] at most (the extra says there are more).
    pub fn capped(mut organizations: Vec<OrganizationClaim>) -> Self {
        let organizations_truncated = organizations.len() > Self::MAX;
        organizations.truncate(Self::MAX);
        Self {
            organizations,
            organizations_truncated,
        }
    }
}

impl PersonClaims {
    pub fn of(user: &User, scopes: &Scopes) -> Self {
        let email = scopes.contains(ScopeName::Email);
        let profile = scopes.contains(ScopeName::Profile);
        let present = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        let full_name = format!("{} {}", user.first_name.trim(), user.last_name.trim());
        Self {
            sub: user.id.to_string(),
            email: email.then(|| user.email.clone()),
            email_verified: email.then(|| user.email_verified()),
            name: profile.then(|| present(&full_name)).flatten(),
            given_name: profile.then(|| present(&user.first_name)).flatten(),
            family_name: profile.then(|| present(&user.last_name)).flatten(),
            picture: profile.then(|| user.avatar_url.clone()).flatten(),
            organizations: None,
        }
    }
}

/// OIDC Core 3.1.2.1 `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: answer without showing anything, or fail.
    pub none: bool,
    /// `login` (and `select_account`, which enlist, holding one session per
    /// browser, can only offer as a fresh sign-in).
    pub login: bool,
    /// `consent`: ask a third-party client's consent again.
    pub consent: bool,
}

/// Why a `prompt` value is refused (`invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("unknown prompt value `{0}`; enlist knows none, login, consent and select_account")]
    Unknown(String),
    #[error("prompt=none cannot be combined with other values")]
    NoneWithOthers,
}

impl Prompt {
    pub fn parse(value: Option<&str>) -> Result<Self, PromptError> {
        let mut prompt = Prompt::default();
        let mut words = 0;
        for word in value.unwrap_or("").split_whitespace() {
            words += 1;
            match word {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => return Err(PromptError::Unknown(other.chars().take(64).collect())),
            }
        }
        if prompt.none && words > 1 {
            return Err(PromptError::NoneWithOthers);
        }
        Ok(prompt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_invitations_and_keep_a_canonical_order() {
        assert_eq!(Scopes::parse(None).unwrap().as_string(), "invitations");
        assert_eq!(Scopes::parse(Some(" ")).unwrap().as_string(), "invitations");
        assert_eq!(
            Scopes::parse(Some("invitations email openid email offline_access"))
                .unwrap()
                .as_string(),
            "openid email invitations"
        );
        assert_eq!(
            Scopes::parse(Some("openid admin")),
            Err(UnknownScope("admin".into()))
        );
        let narrow = Scopes::parse(Some("openid")).unwrap();
        let wide = Scopes::parse(Some("openid email")).unwrap();
        assert!(narrow.is_within(&wide));
        assert!(!wide.is_within(&narrow));
        assert_eq!(
            narrow
                .union(&Scopes::parse(Some("profile")).unwrap())
                .as_string(),
            "openid profile"
        );
    }

    #[test]
    fn the_organizations_claim_is_capped_and_says_so() {
        let one = |id: i64| OrganizationClaim {
            id,
            uuid: format!("uuid-{id}"),
            name: format!("Org {id}"),
            role: "MEMBER".into(),
            permissions: vec![],
        };
        let all = OrganizationsClaim::capped((1..=3).map(one).collect());
        assert!(!all.organizations_truncated);
        assert_eq!(all.organizations.len(), 3);
        let many = OrganizationsClaim::capped((1..=51).map(one).collect());
        assert!(many.organizations_truncated);
        assert_eq!(many.organizations.len(), OrganizationsClaim::MAX);
        let json = serde_json::to_value(&all).unwrap();
        assert!(json.get("organizations_truncated").is_none(), "{json}");
        assert_eq!(
            Scopes::parse(Some("organizations openid"))
                .unwrap()
                .as_string(),
            "openid organizations"
        );
    }

    #[test]
    fn prompt_values() {
        assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
        let login = Prompt::parse(Some("login consent")).unwrap();
        assert!(login.login && login.consent && !login.none);
        assert!(Prompt::parse(Some("select_account")).unwrap().login);
        assert!(Prompt::parse(Some("none")).unwrap().none);
        assert_eq!(
            Prompt::parse(Some("none login")),
            Err(PromptError::NoneWithOthers)
        );
        assert_eq!(
            Prompt::parse(Some("create")),
            Err(PromptError::Unknown("create".into()))
        );
    }
}
