//! Search on the admin lists: an exact address (`email`, by its normalised
//! key) and a prefix (`q`) of an address or a name, checked; the keys names
//! are searched by; and where a keyset page continues from.

use super::Email;

/// The longest `q` taken, in characters: longer prefixes name one person
/// already, and a bound keeps the index ranges' keys small.
pub const MAX_PREFIX_CHARS: usize = 100;

/// What a list is narrowed to. Both parts may be given: then a row matches
/// the address and the prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub email: Option<Email>,
    /// Lower-cased, as the keys are.
    prefix: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SearchError {
    #[error("email must be an email address")]
    Email,
    #[error("q must be at most {MAX_PREFIX_CHARS} characters")]
    PrefixTooLong,
}

impl SearchError {
    pub fn field(&self) -> &'static str {
        match self {
            SearchError::Email => "email",
            SearchError::PrefixTooLong => "q",
        }
    }
}

impl Search {
    /// `email` and `q` as the query string sends them. An empty or blank
    /// `q` searches nothing (a search box submitted empty lists everything).
    pub fn parse(email: Option<&str>, q: Option<&str>) -> Result<Self, SearchError> {
        let email = email
            .map(|raw| Email::parse(raw).map_err(|_| SearchError::Email))
            .transpose()?;
        let prefix = match q.map(str::trim) {
            None | Some("") => None,
            Some(text) if text.chars().count() > MAX_PREFIX_CHARS => {
                return Err(SearchError::PrefixTooLong);
            }
            Some(text) => Some(text.to_lowercase()),
        };
        Ok(Self { email, prefix })
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.prefix.is_none()
    }

    /// The key range a prefix covers: `[low, high)` in code-point order
    /// (SQLite's BINARY collation, PostgreSQL's `"C"`, UTF-8's byte order).
    /// No character sorts above U+10FFFF, so every key that starts with the
    /// prefix sorts below `high`.
    pub fn prefix_range(&self) -> Option<(String, String)> {
        self.prefix
            .as_ref()
            .map(|low| (low.clone(), format!("{low}\u{10FFFF}")))
    }

    /// The values a query binds for `search` (none: empty, which the
    /// queries read as "no such condition"): the exact address's key, and
    /// the prefix's `[low, high)` range.
    pub fn bound(search: Option<&Search>) -> (String, String, String) {
        let email_key = search
            .and_then(|s| s.email.as_ref())
            .map(|e| e.key().to_owned())
            .unwrap_or_default();
        let (low, high) = search.and_then(Search::prefix_range).unwrap_or_default();
        (email_key, low, high)
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// What the search asks, in a stable text form, for binding a cursor to it.
    pub fn canonical(&self) -> String {
        format!(
            "email={};q={}",
            self.email.as_ref().map(Email::key).unwrap_or(""),
            self.prefix.as_deref().unwrap_or("")
        )
    }
}

/// The key a person's full name is searched by: "first last", trimmed and
/// lower-cased, so a prefix of the first name, or of both, matches.
pub fn name_key(first_name: &str, last_name: &str) -> String {
    format!("{} {}", first_name.trim(), last_name.trim())
        .trim()
        .to_lowercase()
}

/// The key a last name is searched by on its own.
pub fn last_name_key(last_name: &str) -> String {
    last_name.trim().to_lowercase()
}

/// Where a keyset page continues: after the row with this sort key. The
/// users list orders by id alone (`created_at` is 0 there); invitations by
/// `created_at DESC, id DESC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    pub created_at: i64,
    pub id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds_the_search() {
        let found = Search::parse(Some(" Ann@Example.COM "), Some("  JoS ")).unwrap();
        assert_eq!(
            found.email.as_ref().map(Email::key),
            Some("ann@example.com")
        );
        assert_eq!(found.prefix(), Some("jos"));
        assert_eq!(
            found.prefix_range(),
            Some(("jos".into(), "jos\u{10FFFF}".into()))
        );
        assert!(Search::parse(None, Some("   ")).unwrap().is_empty());
        assert_eq!(
            Search::parse(Some("not-an-address"), None),
            Err(SearchError::Email)
        );
        let long = "a".repeat(MAX_PREFIX_CHARS + 1);
        assert_eq!(
            Search::parse(None, Some(&long)).map_err(|e| e.field()),
            Err("q")
        );
        assert!(Search::parse(None, Some(&"é".repeat(MAX_PREFIX_CHARS))).is_ok());
        assert_ne!(
            Search::parse(None, Some("a")).unwrap().canonical(),
            Search::parse(None, Some("ab")).unwrap().canonical()
        );
    }

    #[test]
    fn name_keys_fold_case_beyond_ascii() {
        assert_eq!(name_key(" Émile ", "Zola"), "émile zola");
        assert_eq!(name_key("", "Müller"), "müller");
        assert_eq!(name_key("Ann", ""), "ann");
        assert_eq!(last_name_key(" ÖZTÜRK "), "öztürk");
    }
}
