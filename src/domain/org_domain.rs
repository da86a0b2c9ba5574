//! An organization's email domain: the name (normalised, and refused when
//! no single organization can own it), what verifying it does for people
//! whose address is there ([`DomainMode`]), and the DNS TXT challenge that
//! proves control.

use super::Millis;
use super::role::Role;
use std::fmt;
use std::str::FromStr;

/// The TXT record's name is this label before the domain.
pub const CHALLENGE_LABEL: &str = "_enlist-challenge";
/// The TXT record's value starts with this.
pub const CHALLENGE_PREFIX: &str = "enlist-verification=";

/// Mail providers where anyone may get an address: verifying one would
/// hand strangers to the organization. Their subdomains are refused too.
pub const CONSUMER_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "live.com",
    "live.co.uk",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.de",
    "ymail.com",
    "rocketmail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "mail.com",
    "email.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "tuta.io",
    "hushmail.com",
    "inbox.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "t-online.de",
    "libero.it",
    "naver.com",
    "rediffmail.com",
];

/// What verifying a domain does for people whose address is at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainMode {
    /// They may see the organization and ask to join.
    Suggest,
    /// A pending invitation is made for them when their address is verified.
    AutoInvite,
    /// They become members when their address is verified.
    AutoJoin,
}

impl DomainMode {
    pub const ALL: [DomainMode; 3] = [
        DomainMode::Suggest,
        DomainMode::AutoInvite,
        DomainMode::AutoJoin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DomainMode::Suggest => "suggest",
            DomainMode::AutoInvite => "auto_invite",
            DomainMode::AutoJoin => "auto_join",
        }
    }
}

impl fmt::Display for DomainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mode must be suggest, auto_invite or auto_join")]
pub struct UnknownMode;

impl FromStr for DomainMode {
    type Err = UnknownMode;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        DomainMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == raw)
            .ok_or(UnknownMode)
    }
}

/// Why a domain name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDomain {
    #[error("`{0}` is not a domain name")]
    NotADomain(String),
    #[error("`{0}` is an IP address; give a domain name")]
    IpLiteral(String),
    #[error("`{0}` is a public suffix (anyone can register names under it), not a domain")]
    PublicSuffix(String),
    #[error("`{0}` is a public mail provider's domain: anyone can have an address there")]
    Consumer(String),
}

/// A domain name in its ASCII form, lower-cased, without a trailing dot
/// (`Bücher.Example.` is `xn--bcher-kva.example`), as the domain part of
/// an [`super::Email`] key has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(raw: &str) -> Result<Self, BadDomain> {
        let shown: String = raw.trim().chars().take(80).collect();
        let not_a_domain = || BadDomain::NotADomain(shown.clone());
        let trimmed = raw.trim();
        let bare = trimmed.strip_suffix('.').unwrap_or(trimmed);
        let unbracketed = bare.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<std::net::IpAddr>().is_ok() {
            return Err(BadDomain::IpLiteral(shown));
        }
        if bare.is_empty() || bare.len() > 253 || bare.contains(['@', '/', ':', ' ']) {
            return Err(not_a_domain());
        }
        let ascii = idna::domain_to_ascii_strict(bare)
            .map_err(|_| not_a_domain())?
            .to_ascii_lowercase();
        let labels: Vec<&str> = ascii.split('.').collect();
        let label_ok = |label: &&str| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let top_is_name = labels
            .last()
            .is_some_and(|top| top.bytes().any(|b| !b.is_ascii_digit()));
        if ascii.len() > 253 || !labels.iter().all(label_ok) || !top_is_name {
            return Err(not_a_domain());
        }
        // A listed suffix is named as one (`com`, `co.uk`, `github.io`); an
        // unlisted single label (`localhost`) is simply not a domain.
        let suffix = psl::suffix(ascii.as_bytes());
        if suffix.is_some_and(|s| s.as_bytes() == ascii.as_bytes())
            && (labels.len() > 1 || suffix.is_some_and(|s| s.is_known()))
        {
            return Err(BadDomain::PublicSuffix(ascii));
        }
        if labels.len() < 2 {
            return Err(not_a_domain());
        }
        if CONSUMER_DOMAINS
            .iter()
            .any(|consumer| ascii == *consumer || ascii.ends_with(&format!(".{consumer}")))
        {
            return Err(BadDomain::Consumer(ascii));
        }
        Ok(Self(ascii))
    }

    /// A name read back from storage, checked when it was stored.
    pub fn stored(ascii: String) -> Self {
        Self(ascii)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the challenge's TXT record lives.
    pub fn challenge_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The domain of an email key (`ada@acme.test` → `acme.test`).
pub fn of_email_key(email_key: &str) -> Option<&str> {
    email_key.rsplit_once('@').map(|(_, domain)| domain)
}

/// One organization's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgDomain {
    pub id: i64,
    pub org_id: i64,
    pub domain: DomainName,
    pub mode: DomainMode,
    pub role: Role,
    /// The whole TXT value to publish (`enlist-verification=…`).
    pub challenge: String,
    pub verified_at: Option<Millis>,
    pub created_at: Millis,
    /// Teams the people it brings in join (filled by the service).
    pub team_ids: Vec<i64>,
}

impl OrgDomain {
    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }

    /// Whether the TXT records found at the challenge name prove control:
    /// one of them is exactly the challenge.
    pub fn proven_by(&self, records: &[String]) -> bool {
        records.iter().any(|record| record == &self.challenge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_to_lowercase_ascii() {
        assert_eq!(
            DomainName::parse(" Acme.Test. ").unwrap().as_str(),
            "acme.test"
        );
        assert_eq!(
            DomainName::parse("Bücher.example").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            DomainName::parse("acme.test").unwrap().challenge_name(),
            "_enlist-challenge.acme.test"
        );
    }

    #[test]
    fn refuses_what_no_organization_can_own() {
        for raw in [
            "",
            "acme",
            "acme..test",
            "-acme.test",
            "a b.test",
            "ada@acme.test",
            "acme.123",
        ] {
            assert!(
                matches!(DomainName::parse(raw), Err(BadDomain::NotADomain(_))),
                "{raw}"
            );
        }
        for raw in ["10.0.0.1", "[::1]", "::1"] {
            assert!(
                matches!(DomainName::parse(raw), Err(BadDomain::IpLiteral(_))),
                "{raw}"
            );
        }
        for raw in ["co.uk", "com", "github.io"] {
            assert!(
                matches!(DomainName::parse(raw), Err(BadDomain::PublicSuffix(_))),
                "{raw}"
            );
        }
        for raw in ["gmail.com", "Outlook.COM", "eu.gmail.com"] {
            assert!(
                matches!(DomainName::parse(raw), Err(BadDomain::Consumer(_))),
                "{raw}"
            );
        }
        assert!(DomainName::parse("acme.co.uk").is_ok());
    }

    #[test]
    fn modes_read_as_written() {
        for mode in DomainMode::ALL {
            assert_eq!(mode.as_str().parse::<DomainMode>(), Ok(mode));
        }
        assert!("AUTO_JOIN".parse::<DomainMode>().is_err());
    }
}
