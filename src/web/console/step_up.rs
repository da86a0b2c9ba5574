//! Asking again before what lasts (minting an API key, adding a webhook,
//! changing a role): the admin's second factor when they have one and
//! last proved it more than a few minutes ago (a code, or a passkey
//! confirmed in place); without one, the password (for keys). The forms
//! carry the answer in `code`, `password`, or `passkey_ceremony` and
//! `passkey_response` (filled in by /assets/passkeys.js).

use super::{FieldError, Visit};
use crate::services::ServiceError;
use crate::services::accounts::{Factors, PasskeyAnswer, StepUp, StepUpAnswer};
use crate::state::AppState;
use crate::web::render::Scripts;
use actix_web::http::StatusCode;
use std::time::Duration;

/// What a step-up form carries, as posted (owned: the forms keep it).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Carried {
    pub password: Option<String>,
    pub code: Option<String>,
    pub passkey_ceremony: Option<String>,
    pub passkey_response: Option<String>,
}

/// Says which answers were carried, never what they were: a password, a
/// code and a passkey's answer are secrets.
impl std::fmt::Debug for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carried")
            .field("password", &self.password.is_some())
            .field("code", &self.code.is_some())
            .field("passkey", &self.answer().passkey.is_some())
            .finish()
    }
}

impl Carried {
    /// Reads one posted field, when it is one of the step-up's; answers
    /// whether it was.
    pub fn take(&mut self, name: &str, value: String) -> bool {
        let slot = match name {
            "password" => &mut self.password,
            "code" => &mut self.code,
            "passkey_ceremony" => &mut self.passkey_ceremony,
            "passkey_response" => &mut self.passkey_response,
            _ => return false,
        };
        *slot = Some(value);
        true
    }

    pub fn answer(&self) -> StepUpAnswer<'_> {
        StepUpAnswer {
            password: self.password.as_deref(),
            code: self.code.as_deref(),
            passkey: PasskeyAnswer::from_form(
                self.passkey_ceremony.as_deref(),
                self.passkey_response.as_deref(),
            ),
        }
    }
}

/// How a form asks again: the password field or the second factors it
/// offers, what it says beside them, the answer's status and how long to
/// wait.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub password: bool,
    pub factors: Factors,
    pub field_error: FieldError,
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
}

impl Asked {
    /// The form as first shown, for `step` (nothing typed yet, nothing said).
    pub fn first(step: StepUp) -> Self {
        Self {
            password: step == StepUp::PasswordNeeded,
            factors: match step {
                StepUp::FactorNeeded(factors) => factors,
                _ => Factors::default(),
            },
            ..Self::default()
        }
    }

    /// The scripts a page asking this may run: the passkey script fetches
    /// its challenge from this server.
    pub fn scripts(&self) -> Scripts {
        if self.factors.passkey {
            Scripts::Passkeys
        } else {
            Scripts::OwnFiles
        }
    }
}

/// The sentence asking for `factors` before `doing` ("create a key").
fn ask_for(factors: Factors, doing: &str) -> FieldError {
    match (factors.code, factors.passkey) {
        (true, true) => FieldError::new(
            "code",
            format!(
                "Enter a code from your authenticator app (or a recovery code), or use a passkey, \
                 to {doing}."
            ),
        ),
        (false, true) => FieldError::new("passkey", format!("Use your passkey to {doing}.")),
        _ => FieldError::new(
            "code",
            format!("Enter a code from your authenticator app (or a recovery code) to {doing}."),
        ),
    }
}

/// The form's question after `step` (the step-up's answer to what the form
/// carried); `doing` ends the sentence ("create a key"). `Err`: a refusal
/// with a page of its own (too many wrong passwords, an ended session).
pub async fn asked(
    visit: &Visit,
    state: &AppState,
    step: Result<StepUp, ServiceError>,
    carried: &Carried,
    doing: &str,
) -> Result<Asked, ServiceError> {
    let bad = StatusCode::BAD_REQUEST;
    let factor_typed = carried.answer().passkey.is_some() || typed(carried.code.as_deref());
    let refused_factor = |field_error, status, retry_after| async move {
        Ok(Asked {
            password: false,
            factors: factors(visit, state).await?,
            field_error,
            status,
            retry_after,
        })
    };
    match step {
        Err(ServiceError::Invalid { field, detail }) if field == "password" => Ok(Asked {
            password: true,
            field_error: FieldError::new(field, detail),
            status: bad,
            ..Asked::default()
        }),
        Err(ServiceError::Invalid { field, detail }) if matches!(field, "code" | "passkey") => {
            refused_factor(FieldError::new(field, detail), bad, None).await
        }
        // The factor check is locked: the form again, saying for how long.
        Err(ServiceError::TooSoon {
            detail,
            retry_after_secs,
        }) if factor_typed => {
            let wait = Some(Duration::from_secs(retry_after_secs));
            refused_factor(
                FieldError::new("code", detail),
                StatusCode::TOO_MANY_REQUESTS,
                wait,
            )
            .await
        }
        Err(error) => Err(error),
        Ok(StepUp::FactorNeeded(factors)) => Ok(Asked {
            password: false,
            factors,
            field_error: ask_for(factors, doing),
            status: bad,
            retry_after: None,
        }),
        Ok(step) => Ok(Asked {
            password: true,
            field_error: FieldError::new("password", format!("Enter your password to {doing}.")),
            status: if step == StepUp::Fresh {
                StatusCode::OK
            } else {
                bad
            },
            ..Asked::default()
        }),
    }
}

/// The signed-in admin's second factors, for a form asking again after a
/// refused answer.
async fn factors(visit: &Visit, state: &AppState) -> Result<Factors, ServiceError> {
    let session = crate::web::sign_in::session_token(visit.request(), state).unwrap_or_default();
    state.accounts.second_factors(&session).await
}

/// The second factor's step-up alone (adding a webhook, changing a role):
/// an admin without a second factor is not asked (their password is asked
/// again only for keys).
pub async fn factor_only(
    visit: &Visit,
    state: &AppState,
    carried: &Carried,
) -> Result<StepUp, ServiceError> {
    let answer = StepUpAnswer {
        password: None,
        ..carried.answer()
    };
    match super::keys::step_up(visit, state, answer).await {
        Ok(StepUp::PasswordNeeded) => Ok(StepUp::Fresh),
        other => other,
    }
}

/// Whether a form carried a code.
fn typed(code: Option<&str>) -> bool {
    code.is_some_and(|c| !c.trim().is_empty())
}
