//! The admin lists' cursors: where the next page starts (the last row's
//! sort key), sealed with an HMAC under a server key so a client can hold
//! it but not forge or alter it. The MAC also covers the list, the
//! organization and the filters the page was asked with: a cursor shown to
//! another organization, another list or other filters does not verify,
//! and answers `invalid_cursor` like a tampered one.
//!
//! Wire form: URL-safe base64 (no padding) of a version byte, the sort key
//! (`created_at`, `id`, big-endian) and the 32-byte HMAC-SHA-256.

use super::ServiceError;
use crate::auth::secrets;
use crate::db::Conn;
use crate::domain::Millis;
use crate::domain::search::After;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;
const MAC_LEN: usize = 32;
const TOKEN_LEN: usize = 1 + 8 + 8 + MAC_LEN;
/// The name of the key in `server_secrets`.
const KEY_NAME: &str = "list_cursor_hmac";

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Users,
    Invitations,
}

impl List {
    fn as_str(self) -> &'static str {
        match self {
            List::Users => "users",
            List::Invitations => "invitations",
        }
    }
}

/// The server key cursors are sealed with: generated on first start, kept
/// in `server_secrets` (so every node of one database agrees).
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    pub fn load(tx: &Conn, now: Millis) -> super::ServiceResult<Self> {
        super::oauth::server_key(tx, KEY_NAME, now).map(Self)
    }

    #[cfg(test)]
    pub(crate) fn fixed(key: &[u8]) -> Self {
        Self(key.to_vec())
    }
}

/// What a cursor is bound to besides its position.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub list: List,
    pub org_id: i64,
    /// The filters in a stable text form.
    pub filters: &'a str,
}

fn message(binding: &Binding<'_>, after: After) -> String {
    format!(
        "enlist list cursor v{VERSION}\n{}\n{}\n{}\n{}\n{}",
        binding.list.as_str(),
        binding.org_id,
        binding.filters,
        after.created_at,
        after.id
    )
}

pub fn seal(key: &CursorKey, binding: &Binding<'_>, after: After) -> String {
    let mut token = Vec::with_capacity(TOKEN_LEN);
    token.push(VERSION);
    token.extend_from_slice(&after.created_at.to_be_bytes());
    token.extend_from_slice(&after.id.to_be_bytes());
    token.extend_from_slice(&secrets::keyed_digest(&key.0, &message(binding, after)));
    URL_SAFE_NO_PAD.encode(token)
}

/// The position a cursor holds, if it is one this server sealed for this
/// list, organization and filters.
pub fn open(key: &CursorKey, binding: &Binding<'_>, cursor: &str) -> Result<After, ServiceError> {
    let refused = || ServiceError::InvalidCursor;
    // A real cursor is 66 characters; anything far longer is not decoded.
    if cursor.len() > 2 * TOKEN_LEN {
        return Err(refused());
    }
    let token = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| refused())?;
    if token.len() != TOKEN_LEN || token.first() != Some(&VERSION) {
        return Err(refused());
    }
    let number = |at: usize| -> Option<i64> {
        let bytes: [u8; 8] = token.get(at..at + 8)?.try_into().ok()?;
        Some(i64::from_be_bytes(bytes))
    };
    let (Some(created_at), Some(id)) = (number(1), number(9)) else {
        return Err(refused());
    };
    let after = After { created_at, id };
    let mac = token.get(17..).ok_or_else(refused)?;
    if secrets::matches_keyed_digest(&key.0, &message(binding, after), mac) {
        Ok(after)
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_where_it_was_sealed() {
        let key = CursorKey::fixed(&[7; 32]);
        let here = Binding {
            list: List::Invitations,
            org_id: 1,
            filters: "status=;email=;q=",
        };
        let after = After {
            created_at: 1_700_000_000_000,
            id: 42,
        };
        let cursor = seal(&key, &here, after);
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(open(&key, &here, &cursor).ok(), Some(after));
        let elsewhere = [
            Binding { org_id: 2, ..here },
            Binding {
                list: List::Users,
                ..here
            },
            Binding {
                filters: "status=PENDING;email=;q=",
                ..here
            },
        ];
        for binding in elsewhere {
            assert!(open(&key, &binding, &cursor).is_err(), "{binding:?}");
        }
        assert!(open(&CursorKey::fixed(&[8; 32]), &here, &cursor).is_err());
        // Every single-character change is refused.
        for at in 0..cursor.len() {
            let mut bytes = cursor.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != cursor {
                assert!(open(&key, &here, &tampered).is_err(), "{tampered}");
            }
        }
        for junk in ["", "x", "!!!!", &"A".repeat(500)] {
            assert!(open(&key, &here, junk).is_err(), "{junk}");
        }
    }
}
