//! What an admin may add to one invitation: its own lifetime, a personal
//! message and opaque metadata. The rules here are the only place the
//! bounds live.

use serde_json::{Map, Value};
use std::time::Duration;

/// The longest personal message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// The largest metadata object, serialized as compact JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;

/// A refused option: the request field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct OptionError {
    pub field: &'static str,
    pub detail: String,
}

fn refuse(field: &'static str, detail: impl Into<String>) -> OptionError {
    OptionError {
        field,
        detail: detail.into(),
    }
}

/// `expiresIn`: a duration string (`"3d"`, `"12h 30m"`) or a whole number
/// of seconds, more than zero and at most `max`.
pub fn lifetime(raw: &Value, max: Duration) -> Result<Duration, OptionError> {
    const FIELD: &str = "expiresIn";
    let lifetime = match raw {
        Value::String(text) => humantime::parse_duration(text.trim()).map_err(|e| {
            refuse(
                FIELD,
                format!(
                    "expiresIn must be a duration like `3d` or `12h`, or seconds as a number ({e})"
                ),
            )
        })?,
        Value::Number(number) => number
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| refuse(FIELD, "expiresIn in seconds must be a whole number above 0"))?,
        _ => {
            return Err(refuse(
                FIELD,
                "expiresIn must be a duration string like `3d` or a number of seconds",
            ));
        }
    };
    if lifetime < Duration::from_secs(1) {
        return Err(refuse(FIELD, "expiresIn must be at least 1 second"));
    }
    if lifetime > max {
        return Err(refuse(
            FIELD,
            format!(
                "expiresIn must be at most {} (invitations.max_lifetime)",
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(lifetime)
}

/// `message`: at most [`MAX_MESSAGE_CHARS`] characters, no control
/// characters but line breaks and tabs. Blank is the same as none.
pub fn message(raw: &str) -> Result<Option<String>, OptionError> {
    const FIELD: &str = "message";
    let count = raw.chars().count();
    if count > MAX_MESSAGE_CHARS {
        return Err(refuse(
            FIELD,
            format!("message must be at most {MAX_MESSAGE_CHARS} characters, got {count}"),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(refuse(
            FIELD,
            "message must not contain control characters other than line breaks and tabs",
        ));
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// `metadata`: a JSON object of at most [`MAX_METADATA_BYTES`] bytes once
/// serialized; enlist never reads it. Returns the serialized form to store.
pub fn metadata(raw: &Value) -> Result<Map<String, Value>, OptionError> {
    const FIELD: &str = "metadata";
    let Value::Object(map) = raw else {
        return Err(refuse(FIELD, "metadata must be a JSON object"));
    };
    let size = serde_json::to_string(map)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(refuse(
            FIELD,
            format!("metadata must be at most {MAX_METADATA_BYTES} bytes as JSON, got {size}"),
        ));
    }
    Ok(map.clone())
}

/// The options of one new invitation, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitationOptions {
    /// None: `invitations.lifetime`.
    pub lifetime: Option<Duration>,
    pub message: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

impl InvitationOptions {
    /// Checks each option as a request gave it (absent and `null` are unset).
    pub fn parse(
        expires_in: Option<&Value>,
        message: Option<&str>,
        metadata: Option<&Value>,
        max_lifetime: Duration,
    ) -> Result<Self, OptionError> {
        Ok(Self {
            lifetime: expires_in
                .filter(|v| !v.is_null())
                .map(|v| lifetime(v, max_lifetime))
                .transpose()?,
            message: message.map(self::message).transpose()?.flatten(),
            metadata: metadata
                .filter(|v| !v.is_null())
                .map(self::metadata)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MONTH: Duration = Duration::from_secs(30 * 86_400);

    #[test]
    fn lifetimes_are_strings_or_seconds_within_the_maximum() {
        assert_eq!(
            lifetime(&json!("3d"), MONTH),
            Ok(Duration::from_secs(3 * 86_400))
        );
        assert_eq!(lifetime(&json!(3600), MONTH), Ok(Duration::from_secs(3600)));
        for bad in [
            json!("31d"),
            json!(0),
            json!(-5),
            json!(1.5),
            json!("soon"),
            json!(true),
        ] {
            let error = lifetime(&bad, MONTH).unwrap_err();
            assert_eq!(error.field, "expiresIn", "{bad}");
        }
    }

    #[test]
    fn messages_are_bounded_and_blank_is_none() {
        assert_eq!(message("  hi\nthere "), Ok(Some("hi\nthere".into())));
        assert_eq!(message("   "), Ok(None));
        assert_eq!(
            message(&"é".repeat(1000)).map(|m| m.map(|m| m.chars().count())),
            Ok(Some(1000))
        );
        assert!(message(&"a".repeat(1001)).is_err());
        assert!(message("bell\u{7}").is_err());
    }

    #[test]
    fn metadata_is_a_small_object() {
        assert!(metadata(&json!({"team": "blue"})).is_ok());
        assert!(metadata(&json!([1])).is_err());
        assert!(metadata(&json!({"pad": "x".repeat(4096)})).is_err());
    }
}
