//! The display name and description things an organization names itself
//! carry (a role, a team): the same rules for each, in one place.

use super::{ServiceError, ServiceResult};

/// A display name: no control characters, 1 to `max` characters once
/// trimmed. `what` is whose it is in the refusal ("a role").
pub fn name(what: &str, raw: &str, max: usize) -> ServiceResult<String> {
    crate::domain::name::check("name", raw)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(ServiceError::invalid(
            "name",
            format!("{what}'s name is 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A description: blank is none; at most `max` characters once trimmed;
/// line breaks allowed, other control characters not.
pub fn description(what: &str, raw: Option<&str>, max: usize) -> ServiceResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > max => Err(ServiceError::invalid(
            "description",
            format!("{what}'s description is at most {max} characters"),
        )),
        Some(text) if text.chars().any(|c| c.is_control() && c != '\n') => Err(
            ServiceError::invalid("description", "the description holds control characters"),
        ),
        Some(text) => Ok(Some(text.to_owned())),
    }
}
