//! Passkeys on the hosted pages (docs/passkeys.md). The JSON endpoints
//! the passkey script calls for a challenge (`POST /auth/passkey/challenge`
//! for a sign-in, `POST /account/passkeys/challenge` for a registration,
//! `POST /account/passkeys/confirm` for a signed-in person confirming it
//! is them; the page's CSRF token in `X-CSRF-Token`), and the account
//! page's forms that register and remove one. Signing in with a passkey is a sign-in
//! form's `intent=passkey` (`web::sign_in::submit`), so every sign-in
//! surface goes on as it does after a password.

use crate::http::problem::ApiError;
use crate::services::ServiceError;
use crate::services::accounts::{PasskeyAnswer, PasskeyChallenge};
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use crate::web::csrf::{GenuineForm, header_genuine};
use crate::web::error::HtmlError;
use crate::web::sign_in::{Browser, FormError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

/// What a challenge endpoint answers. Not `Debug`: the id is a bearer of
/// the ceremony.
#[derive(Serialize)]
struct ChallengeBody {
    ceremony: String,
    options: serde_json::Value,
}

impl From<PasskeyChallenge> for ChallengeBody {
    fn from(challenge: PasskeyChallenge) -> Self {
        Self {
            ceremony: challenge.ceremony,
            options: challenge.options,
        }
    }
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Unauthorized,
        "The request was sent from elsewhere or without its page's CSRF token. Reload the page \
         and try again.",
    )
}

fn challenge_answer(challenge: PasskeyChallenge) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ChallengeBody::from(challenge))
}

/// `POST /auth/passkey/challenge`: a discoverable sign-in challenge, for
/// any sign-in form's "Sign in with a passkey".
pub async fn sign_in_challenge(
    req: HttpRequest,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !header_genuine(&req) {
        return Err(forbidden());
    }
    let challenge = state
        .accounts
        .start_passkey_sign_in(&browser.address())
        .await?;
    Ok(challenge_answer(challenge))
}

/// `POST /account/passkeys/confirm`: a challenge only the signed-in
/// account's passkeys answer, for a form that asks for the second factor
/// again (the console's door and step-up, removing a passkey). The form
/// posts the answer with what it does; it is checked there.
pub async fn confirmation_challenge(
    req: HttpRequest,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !header_genuine(&req) {
        return Err(forbidden());
    }
    let Some(session) = browser.session_token() else {
        return Err(ServiceError::Unauthorized("Sign in first.".into()).into());
    };
    let challenge = state
        .accounts
        .start_passkey_confirmation(&session, &browser.address())
        .await?;
    Ok(challenge_answer(challenge))
}

/// The registration challenge's body: the name the passkey will have.
#[derive(Debug, Default, Deserialize)]
pub struct NameBody {
    #[serde(default)]
    name: String,
}

/// `POST /account/passkeys/challenge`: a registration challenge for the
/// signed-in account ("Add a passkey").
pub async fn registration_challenge(
    req: HttpRequest,
    browser: Browser,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !header_genuine(&req) {
        return Err(forbidden());
    }
    let Some(session) = browser.session_token() else {
        return Err(ServiceError::Unauthorized("Sign in first.".into()).into());
    };
    let body: NameBody = if body.is_empty() {
        NameBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::bad_request("name", "The body must be a JSON object with a name.")
        })?
    };
    let challenge = state
        .accounts
        .start_passkey_registration(&session, &body.name, &browser.address())
        .await?;
    Ok(challenge_answer(challenge))
}

/// The "Add a passkey" form, once the script filled in the browser's answer.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    passkey_ceremony: String,
    #[serde(default)]
    passkey_response: String,
}

/// The account page, with `error` (or a 401 page when signed out).
async fn account_page_saying(
    req: &HttpRequest,
    state: &AppState,
    browser: &Browser,
    error: ServiceError,
) -> Result<HttpResponse, HtmlError> {
    let FormError {
        status, message, ..
    } = FormError::from(error);
    Ok(
        super::profile::page(req, state, browser, status, Some(message))
            .await?
            .response(),
    )
}

/// The account page, saying that the form needs a session.
async fn signed_out(
    req: &HttpRequest,
    state: &AppState,
    browser: &Browser,
) -> Result<HttpResponse, HtmlError> {
    let error = ServiceError::Unauthorized("Sign in first.".into());
    account_page_saying(req, state, browser, error).await
}

/// `POST /account/passkeys`: stores the passkey the browser just made.
pub async fn register(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<RegisterForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let Some(session) = browser.session_token() else {
        return signed_out(&req, &state, &browser).await;
    };
    if form.passkey_ceremony.is_empty() || form.passkey_response.is_empty() {
        let error = ServiceError::invalid(
            "passkey",
            "Adding a passkey needs JavaScript and a browser that supports passkeys.",
        );
        return account_page_saying(&req, &state, &browser, error).await;
    }
    let registered = state
        .accounts
        .finish_passkey_registration(&session, &form.passkey_ceremony, &form.passkey_response)
        .await;
    match registered {
        Ok(()) => Ok(crate::web::render::see_other(
            "/account?passkey_added=1#passkeys",
        )),
        Err(error) => account_page_saying(&req, &state, &browser, error).await,
    }
}

/// A passkey's remove form.
#[derive(Debug, Default, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    id: String,
    /// A code of the authenticator app, or a passkey's answer, when no
    /// second factor is recent.
    code: Option<String>,
    passkey_ceremony: Option<String>,
    passkey_response: Option<String>,
}

/// `POST /account/passkeys/remove`.
pub async fn remove(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<RemoveForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let Some(session) = browser.session_token() else {
        return signed_out(&req, &state, &browser).await;
    };
    let removed = state
        .accounts
        .remove_passkey(
            &session,
            &form.id,
            form.code.as_deref(),
            PasskeyAnswer::from_form(
                form.passkey_ceremony.as_deref(),
                form.passkey_response.as_deref(),
            ),
        )
        .await;
    match removed {
        Ok(()) => Ok(crate::web::render::see_other(
            "/account?passkey_removed=1#passkeys",
        )),
        Err(ServiceError::NotFound(_)) => {
            let error = ServiceError::invalid("passkey", "Your account has no such passkey.");
            account_page_saying(&req, &state, &browser, error).await
        }
        Err(error) => account_page_saying(&req, &state, &browser, error).await,
    }
}
