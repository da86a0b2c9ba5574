//! Names people and organizations are shown by: in pages, messages, logs
//! and CSV exports, where a line break or a NUL would forge lines or cut
//! text short. Every name passes [`check`] before it is stored.

/// A name holding a control character (CR, LF, NUL, tab, ...: any
/// `char::is_control`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must not contain control characters such as line breaks, tabs or NUL")]
pub struct ControlCharacter {
    /// The input at fault, as the API names it.
    pub field: &'static str,
}

/// Refuses a name (as given, before any trimming) that holds a control character.
pub fn check(field: &'static str, value: &str) -> Result<(), ControlCharacter> {
    if value.chars().any(char::is_control) {
        Err(ControlCharacter { field })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_everything_else_kept() {
        for bad in ["Ada\nEvil", "Ada\r", "\0", "a\tb", "x\u{7f}", "x\u{85}y"] {
            assert_eq!(
                check("firstName", bad),
                Err(ControlCharacter { field: "firstName" }),
                "{bad:?}"
            );
        }
        for good in ["", "Ada", "Zoë O'Brien-Łukasz", "李小龍", "<script>", "a b"] {
            assert_eq!(check("name", good), Ok(()), "{good:?}");
        }
        let message = check("lastName", "x\n").unwrap_err().to_string();
        assert!(message.starts_with("lastName must not"), "{message}");
    }
}
