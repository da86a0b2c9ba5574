use std::fmt;

/// An email address as enlist stores it: trimmed, syntactically valid, and
/// compared case-insensitively through [`Email::key`].
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid email address")]
pub struct InvalidEmail(pub String);

/// Longer addresses cannot be delivered (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        let valid = trimmed.len() <= MAX_EMAIL_LEN
            // email_address accepts quoted and bracketed forms that mail
            // systems commonly reject; a plain local@domain.tld is what
            // invitations need.
            && email_address::EmailAddress::parse_with_options(
                trimmed,
                email_address::Options::default()
                    .without_display_text()
                    .without_domain_literal(),
            )
            .is_ok()
            && !trimmed.starts_with('"')
            && trimmed
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if !valid {
            return Err(InvalidEmail(raw.chars().take(80).collect()));
        }
        Ok(Self {
            display: trimmed.to_owned(),
            key: trimmed.to_lowercase(),
        })
    }

    /// The address as the person typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-insensitive identity used for lookups and uniqueness.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.display).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keys_case_insensitively() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(email.key(), "ada.lovelace@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@example.",
            "ada lovelace@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
