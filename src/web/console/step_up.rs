//! Asking again before what lasts (minting an API key, adding a webhook,
//! changing a role): a code of the admin's second factor when they have
//! one and last proved it more than a few minutes ago; without one, the
//! password (for keys). The forms carry the answer in `code` or `password`.

use super::{FieldError, Visit};
use crate::services::ServiceError;
use crate::services::accounts::StepUp;
use crate::services::accounts::StepUpAnswer;
use crate::state::AppState;
use actix_web::http::StatusCode;
use std::time::Duration;

/// How a form asks again: which field, what it says beside it, the
/// answer's status and how long to wait. `Err`: a refusal with a page of
/// its own (too many wrong passwords, an ended session).
pub type Asked = (StepUp, FieldError, StatusCode, Option<Duration>);

/// The form's question for `step` (the step-up's answer to what the form
/// carried, `code_typed` when it carried a code); `doing` ends the sentence
/// ("create a key").
pub fn asked(
    step: Result<StepUp, ServiceError>,
    code_typed: bool,
    doing: &str,
) -> Result<Asked, ServiceError> {
    let bad = StatusCode::BAD_REQUEST;
    match step {
        Err(ServiceError::Invalid { field, detail }) if field == "password" => Ok((
            StepUp::PasswordNeeded,
            FieldError::new(field, detail),
            bad,
            None,
        )),
        Err(ServiceError::Invalid { field, detail }) if field == "code" => Ok((
            StepUp::FactorNeeded,
            FieldError::new(field, detail),
            bad,
            None,
        )),
        // The factor check is locked: the form again, saying for how long.
        Err(ServiceError::TooSoon {
            detail,
            retry_after_secs,
        }) if code_typed => Ok((
            StepUp::FactorNeeded,
            FieldError::new("code", detail),
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(retry_after_secs)),
        )),
        Err(error) => Err(error),
        Ok(StepUp::FactorNeeded) => Ok((
            StepUp::FactorNeeded,
            FieldError::new(
                "code",
                format!(
                    "Enter a code from your authenticator app (or a recovery code) to {doing}."
                ),
            ),
            bad,
            None,
        )),
        Ok(step) => Ok((
            StepUp::PasswordNeeded,
            FieldError::new("password", format!("Enter your password to {doing}.")),
            if step == StepUp::Fresh {
                StatusCode::OK
            } else {
                bad
            },
            None,
        )),
    }
}

/// The second factor's step-up alone (adding a webhook, changing a role):
/// an admin without a second factor is not asked (their password is asked
/// again only for keys). `code` is what the form carried.
pub async fn factor_only(
    visit: &Visit,
    state: &AppState,
    code: Option<&str>,
) -> Result<StepUp, ServiceError> {
    let answer = StepUpAnswer {
        password: None,
        code,
    };
    match super::keys::step_up(visit, state, answer).await {
        Ok(StepUp::PasswordNeeded) => Ok(StepUp::Fresh),
        other => other,
    }
}

/// Whether a form carried a code.
pub fn typed(code: Option<&str>) -> bool {
    code.is_some_and(|c| !c.trim().is_empty())
}
