//! Email addresses: parsed once, kept as typed, compared by a normalised
//! key (lower-cased local part, IDNA ASCII domain) that every lookup and
//! limit uses.

use std::fmt;

/// An email address as enlist stores it: trimmed, syntactically valid, and
/// compared through [`Email::key`]: the local part lower-cased, the domain
/// in its ASCII (IDNA) form, lower-cased. A local part with a non-ASCII
/// character whose case mapping contains ASCII (KELVIN SIGN `K` lower-cases
/// to `k`, `İ` to `i̇`) is refused: it is another mailbox to mail systems but
/// would share a key with an ASCII address. Other look-alike characters
/// stay distinct addresses with distinct keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid email address")]
pub struct InvalidEmail(pub String);

/// A non-ASCII character that case mapping turns into ASCII: two different
/// mailboxes would look like one account.
fn folds_into_ascii(c: char) -> bool {
    !c.is_ascii()
        && (c.to_lowercase().any(|m| m.is_ascii()) || c.to_uppercase().any(|m| m.is_ascii()))
}

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
        let invalid = || InvalidEmail(raw.chars().take(80).collect());
        if !valid {
            return Err(invalid());
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        if local.chars().any(folds_into_ascii) {
            return Err(invalid());
        }
        let domain = idna::domain_to_ascii(domain).map_err(|_| invalid())?;
        Ok(Self {
            display: trimmed.to_owned(),
            key: format!("{}@{}", local.to_lowercase(), domain.to_ascii_lowercase()),
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
    fn case_mapping_cannot_make_two_mailboxes_one_account() {
        // KELVIN SIGN lower-cases to an ASCII k: refused, not merged with kim@.
        assert!(Email::parse("\u{212A}im@corp.test").is_err());
        // Dotted capital I lower-cases to i + combining dot.
        assert!(Email::parse("\u{130}van@corp.test").is_err());
        // Look-alikes that stay non-ASCII are other addresses with other keys.
        let cyrillic = Email::parse("\u{43a}im@corp.test").unwrap();
        assert_ne!(cyrillic.key(), Email::parse("kim@corp.test").unwrap().key());
        let fullwidth = Email::parse("\u{FF2B}im@corp.test").unwrap();
        assert_ne!(fullwidth.key(), "kim@corp.test");
        // Non-ASCII letters that case-map among themselves still match.
        assert_eq!(
            Email::parse("ÉLODIE@corp.test").unwrap().key(),
            Email::parse("élodie@corp.test").unwrap().key()
        );
    }

    #[test]
    fn domains_compare_in_their_ascii_form() {
        let unicode = Email::parse("ada@Bücher.example").unwrap();
        let ascii = Email::parse("ada@xn--bcher-kva.example").unwrap();
        assert_eq!(unicode.key(), ascii.key());
        assert_eq!(unicode.key(), "ada@xn--bcher-kva.example");
        assert_eq!(unicode.as_str(), "ada@Bücher.example");
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
