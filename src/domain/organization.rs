//! What an organization may be given over HTTP (its name, logo and
//! metadata) and the rules for deleting one. The bounds live here only.

use serde_json::{Map, Value};

/// The longest organization name, in characters once trimmed.
pub const NAME_MAX: usize = 200;
/// The largest metadata object, serialized as compact JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// The longest logo URL, in bytes.
pub const LOGO_URL_MAX: usize = 2048;

/// A refused input: the request field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refused {
    pub field: &'static str,
    pub detail: String,
}

fn refuse(field: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        field,
        detail: detail.into(),
    }
}

/// An organization's name: no control characters, 1 to [`NAME_MAX`]
/// characters once trimmed; answers it trimmed.
pub fn name(raw: &str) -> Result<String, Refused> {
    crate::domain::name::check("name", raw).map_err(|e| refuse("name", e.to_string()))?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > NAME_MAX {
        return Err(refuse(
            "name",
            format!("an organization's name is 1 to {NAME_MAX} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A logo (or any shown) URL: `http(s)://`, at most [`LOGO_URL_MAX`]
/// bytes, no whitespace or control characters (it lands in `src`
/// attributes and mail).
pub fn url(field: &'static str, raw: &str) -> Result<(), Refused> {
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && raw.len() <= LOGO_URL_MAX
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(refuse(field, format!("{field} must be an http(s) URL")))
    }
}

/// `metadata`: a JSON object of at most [`MAX_METADATA_BYTES`] bytes once
/// serialized; enlist stores and returns it, never reads it.
pub fn metadata(raw: &Value) -> Result<Map<String, Value>, Refused> {
    let Value::Object(map) = raw else {
        return Err(refuse("metadata", "metadata must be a JSON object"));
    };
    let size = serde_json::to_string(map)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(refuse(
            "metadata",
            format!("metadata must be at most {MAX_METADATA_BYTES} bytes as JSON, got {size}"),
        ));
    }
    Ok(map.clone())
}

/// Deleting an organization needs its name typed out (`confirm`), exactly
/// as it is stored: a key or a slip of the hand must not delete the wrong one.
pub fn confirm_deletion(name: &str, confirm: &str) -> Result<(), Refused> {
    if confirm == name {
        Ok(())
    } else {
        Err(refuse(
            "confirm",
            "confirm must be the organization's name, exactly as it is",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(name("  Acme ").unwrap(), "Acme");
        for bad in ["", "   ", "Ac\nme", &"x".repeat(NAME_MAX + 1)] {
            assert_eq!(name(bad).unwrap_err().field, "name", "{bad:?}");
        }
        assert!(name(&"é".repeat(NAME_MAX)).is_ok());
    }

    #[test]
    fn urls_are_http_and_plain() {
        assert!(url("logoUrl", "https://cdn.example.com/a.png").is_ok());
        for bad in [
            "ftp://x",
            "javascript:alert(1)",
            "https://a b",
            "https://x\n",
        ] {
            assert_eq!(url("logoUrl", bad).unwrap_err().field, "logoUrl", "{bad:?}");
        }
    }

    #[test]
    fn metadata_is_an_object_of_at_most_8_kib() {
        assert!(metadata(&json!({"plan": "pro"})).is_ok());
        assert!(metadata(&json!({"pad": "x".repeat(8000)})).is_ok());
        for bad in [
            json!([1]),
            json!("x"),
            json!(3),
            json!({"pad": "x".repeat(8192)}),
        ] {
            assert_eq!(metadata(&bad).unwrap_err().field, "metadata", "{bad}");
        }
    }

    #[test]
    fn deletion_needs_the_exact_name() {
        assert!(confirm_deletion("Acme", "Acme").is_ok());
        for bad in ["acme", "Acme ", "", "Globex"] {
            assert_eq!(confirm_deletion("Acme", bad).unwrap_err().field, "confirm");
        }
    }
}
