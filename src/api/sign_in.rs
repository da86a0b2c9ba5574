//! Signing in and signing up from the HTML forms, shared by the OAuth2
//! authorize page and the hosted invitation page. Password work runs on
//! the dedicated argon2 pool, never on the executor or inside a write.

use crate::auth::password::{self, PoolError};
use crate::domain::Email;
use crate::services::{self, ServiceError};
use crate::startup::AppState;
use actix_web::http::StatusCode;
use std::time::Duration;

/// A person who proved who they are.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: i64,
    pub email: String,
}

/// Why a form was refused, as the page will say it.
#[derive(Debug)]
pub struct FormError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl FormError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "sign-in failed on our side");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::api::problem::INTERNAL_DETAIL,
        )
    }
}

impl From<PoolError> for FormError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Busy => FormError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "Too many people are signing in right now; try again in a moment.".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            PoolError::Stopped => FormError::internal(error),
        }
    }
}

const WRONG_CREDENTIALS: &str = "The email or password is incorrect.";

/// Checks an email and password. Unknown accounts, accounts without a
/// password and wrong passwords answer alike, in the same time; failures
/// count against the account and the client address.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    address: &str,
) -> Result<SignedIn, FormError> {
    if let Some(wait) = state.sign_in_failures.blocked(email, address) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Err(FormError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("Too many failed sign-ins. Try again in {minutes} minute(s)."),
            retry_after: Some(wait),
        });
    }
    let account = match Email::parse(email) {
        Ok(parsed) => {
            let key = parsed.clone();
            state
                .db
                .read(move |conn| {
                    Ok::<_, ServiceError>(crate::db::users::password_hash(conn, &key)?)
                })
                .await
                .map_err(FormError::internal)?
                .map(|(id, hash)| (id, parsed, hash))
        }
        Err(_) => None,
    };
    let stored = account.as_ref().and_then(|(_, _, hash)| hash.clone());
    let verified = state.passwords.verify(password.to_owned(), stored).await?;
    match account {
        Some((user_id, email, Some(_))) if verified => Ok(SignedIn {
            user_id,
            email: email.as_str().to_owned(),
        }),
        _ => {
            state.sign_in_failures.record_failure(email, address);
            Err(FormError::new(StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS))
        }
    }
}

/// The fields of the sign-in and sign-up forms (templates/sign_in_forms.html).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Credentials {
    /// `signin` or `signup`.
    pub intent: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl Credentials {
    pub fn email(&self) -> &str {
        self.email.as_deref().unwrap_or("")
    }
}

/// Signs in or signs up, as the form asked; `address` is the client's, for throttling.
pub async fn submit(
    state: &AppState,
    form: &Credentials,
    address: &str,
) -> Result<SignedIn, FormError> {
    let password = form.password.as_deref().unwrap_or("");
    match form.intent.as_deref() {
        Some("signup") => {
            let sign_up = SignUp {
                email: form.email(),
                password,
                first_name: form.first_name.as_deref().unwrap_or(""),
                last_name: form.last_name.as_deref().unwrap_or(""),
            };
            self::sign_up(state, &sign_up, address).await
        }
        _ => sign_in(state, form.email(), password, address).await,
    }
}

/// The client's address as the connection shows it (a reverse proxy's, behind one).
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

pub struct SignUp<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// Creates an account with a password. When the email is taken and the
/// password is that account's, the owner is simply signed in; anyone else
/// learns only that they should sign in or use another email.
pub async fn sign_up(
    state: &AppState,
    form: &SignUp<'_>,
    address: &str,
) -> Result<SignedIn, FormError> {
    let email = Email::parse(form.email)
        .map_err(|_| FormError::new(StatusCode::BAD_REQUEST, "Enter a valid email address."))?;
    password::validate(form.password)
        .map_err(|e| FormError::new(StatusCode::BAD_REQUEST, capitalize(&e.to_string())))?;
    let hash = state
        .passwords
        .hash(form.password.to_owned())
        .await?
        .map_err(FormError::internal)?;
    let new = services::users::NewAccount {
        email: email.clone(),
        first_name: form.first_name.to_owned(),
        last_name: form.last_name.to_owned(),
        password_hash: Some(hash),
    };
    let now = state.clock.now();
    let created = state
        .db
        .write(move |tx| services::users::create(tx, &new, now))
        .await;
    match created {
        Ok(user) => Ok(SignedIn {
            user_id: user.id,
            email: user.email,
        }),
        Err(ServiceError::Conflict { .. }) => {
            match sign_in(state, form.email, form.password, address).await {
                Ok(signed_in) => Ok(signed_in),
                Err(error) if error.status == StatusCode::UNAUTHORIZED => Err(FormError::new(
                    StatusCode::CONFLICT,
                    "We could not create an account with this email. If you already have one, sign in instead; \
                 otherwise use another email.",
                )),
                Err(error) => Err(error),
            }
        }
        Err(ServiceError::Invalid { field, detail }) => {
            // The form's own words for the fields the service names.
            let label = match field {
                "firstName" => "First name",
                "lastName" => "Last name",
                other => other,
            };
            let detail = detail.replacen(field, label, 1);
            Err(FormError::new(StatusCode::BAD_REQUEST, capitalize(&detail)))
        }
        Err(other) => Err(FormError::internal(other)),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}
