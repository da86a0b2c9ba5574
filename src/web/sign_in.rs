//! The sign-in and sign-up forms of every surface that has them (the
//! OAuth2 authorize page, the invitation and join-link pages, the console's
//! front door): what they post, how their answers read, the one function
//! that finishes them ([`finish`]), and the cookies a signed-in (or
//! verifying) browser keeps. The rules are the accounts service's
//! (`services::accounts`).

use crate::services::ServiceError;
use crate::services::accounts::{FormContext, FormOutcome, SignUp};
use crate::services::oauth::Authorization;
use crate::state::AppState;
use crate::web::csrf::FormPage;
use crate::web::error::HtmlError;
use crate::web::render::MessagePage;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use std::time::Duration;

/// Cookie base names; over https each gets the `__Host-` prefix
/// ([`crate::web::render::cookie_name`]).
pub const SESSION_COOKIE: &str = crate::web::render::SESSION_COOKIE;
/// Marks the browser that asked for a mailed link: following a verification
/// link there only confirms (anywhere else the follower chooses a
/// password), and an app's authorization resumes only there.
pub const LINK_COOKIE: &str = "enlist_link";

/// Why a form was refused, as the page will say it.
#[derive(Debug)]
pub struct FormError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl FormError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ServiceError> for FormError {
    fn from(error: ServiceError) -> Self {
        let retry = |secs: u64| Some(Duration::from_secs(secs.max(1)));
        match error {
            ServiceError::Invalid { field, detail } => {
                // The form's own words for the fields the service names.
                let label = match field {
                    "firstName" => "First name",
                    "lastName" => "Last name",
                    other => other,
                };
                FormError::new(StatusCode::BAD_REQUEST, detail.replacen(field, label, 1))
            }
            ServiceError::Unauthorized(detail) => FormError::new(StatusCode::UNAUTHORIZED, detail),
            ServiceError::TooSoon {
                detail,
                retry_after_secs,
            } => FormError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: detail,
                retry_after: retry(retry_after_secs),
            },
            ServiceError::Unavailable {
                detail,
                retry_after_secs,
            } => FormError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: detail,
                retry_after: retry(retry_after_secs),
            },
            ServiceError::Storage(storage) if storage.is_busy() => FormError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "The server is busy; try again in a moment.".into(),
                retry_after: retry(1),
            },
            ServiceError::Gone { detail, .. } => FormError::new(StatusCode::GONE, detail),
            ServiceError::NotFound(_) => FormError::new(
                StatusCode::NOT_FOUND,
                "This link is not valid. Check that you copied the whole link from the message.",
            ),
            ServiceError::Conflict { detail, .. } => FormError::new(StatusCode::CONFLICT, detail),
            ServiceError::Forbidden { detail, .. } => FormError::new(StatusCode::FORBIDDEN, detail),
            other => {
                tracing::error!(error = %other, "a sign-in form failed on our side");
                FormError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    crate::http::problem::INTERNAL_DETAIL,
                )
            }
        }
    }
}

/// The fields of the sign-in and sign-up forms (templates/sign_in_forms.html).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Credentials {
    /// `signin`, `signup` or `passkey`.
    pub intent: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// "Sign in with a passkey": the ceremony the challenge came with, and
    /// the browser's answer (JSON), filled in by the passkey script.
    pub passkey_ceremony: Option<String>,
    pub passkey_response: Option<String>,
}

impl Credentials {
    pub fn email(&self) -> &str {
        self.email.as_deref().unwrap_or("")
    }

    /// The form's intent on a surface without sign-up: a passkey sign-in
    /// stays one, anything else signs in.
    pub fn signing_in(self) -> Self {
        let intent = match self.intent.as_deref() {
            Some("passkey") => "passkey",
            _ => "signin",
        };
        Self {
            intent: Some(intent.into()),
            ..self
        }
    }
}

/// The scripts a page with sign-in forms may run: the passkey script when
/// passkeys are offered.
pub fn page_scripts(state: &AppState) -> crate::web::render::Scripts {
    if state.accounts.passkeys_offered() {
        crate::web::render::Scripts::Passkeys
    } else {
        crate::web::render::Scripts::None
    }
}

/// Signs in or signs up, as the form asked.
pub async fn submit(
    state: &AppState,
    form: &Credentials,
    context: &FormContext,
) -> Result<FormOutcome, FormError> {
    let password = form.password.as_deref().unwrap_or("");
    let outcome = match form.intent.as_deref() {
        Some("signup") => {
            let sign_up = SignUp {
                email: form.email().to_owned(),
                password: password.to_owned(),
                first_name: form.first_name.clone().unwrap_or_default(),
                last_name: form.last_name.clone().unwrap_or_default(),
            };
            state.accounts.sign_up(&sign_up, context).await
        }
        Some("passkey") => {
            state
                .accounts
                .sign_in_with_passkey(
                    form.passkey_ceremony.as_deref().unwrap_or(""),
                    form.passkey_response.as_deref().unwrap_or(""),
                    context,
                )
                .await
        }
        _ => {
            state
                .accounts
                .sign_in(form.email(), password, context)
                .await
        }
    };
    Ok(outcome?)
}

/// Where a browser goes once its sign-in form signed someone in.
pub enum Onward {
    /// A page of ours: the invitation or join link it came from, the console.
    Page(String),
    /// Back to the OAuth2 client that sent the person, with a code.
    App(Box<Authorization>),
}

/// Finishes a sign-in form, on every surface that has one. A browser that
/// signed someone in gets its session (and device) cookies and goes
/// `onward`; an address still to prove gets "Check your inbox" and the
/// cookie that marks the browser that asked; a refusal is the form's page
/// `again`, saying why.
pub async fn finish(
    state: &AppState,
    form: &Credentials,
    context: &FormContext,
    onward: Onward,
    again: impl FnOnce(&FormError) -> FormPage,
) -> Result<HttpResponse, HtmlError> {
    let outcome = submit(state, form, context).await.map_err(|e| again(&e))?;
    finish_outcome(state, outcome, onward).await
}

/// The answer to any sign-in that went through (a form, or a provider's
/// return): signed in, the cookies and on `onward`; an address still to
/// prove, "Check your inbox" and the cookie that marks the browser.
pub async fn finish_outcome(
    state: &AppState,
    outcome: FormOutcome,
    onward: Onward,
) -> Result<HttpResponse, HtmlError> {
    match outcome {
        FormOutcome::SignedIn(person) => {
            let mut response = match onward {
                Onward::Page(page) => crate::web::render::see_other(&page),
                // The person is signed in even when no code could be
                // issued: the cookies go with the page that says so.
                Onward::App(authorization) => crate::web::hosted::authorize::grant_code(
                    state,
                    *authorization,
                    &person.session,
                )
                .await
                .unwrap_or_else(|failure| failure.error_response()),
            };
            add_signed_in_cookies(&mut response, &person, state);
            Ok(response)
        }
        FormOutcome::CheckInbox { email, browser } => {
            let mut response =
                crate::web::render::render(StatusCode::OK, &check_inbox(&email), &[]);
            if let Some(browser) = browser {
                crate::web::render::add_cookie(&mut response, &link_cookie(&browser, state));
            }
            Ok(response)
        }
    }
}

/// A provider a sign-in page offers: a link that starts signing in there
/// and comes back to the page.
#[derive(Debug, Clone)]
pub struct ProviderButton {
    pub href: String,
    pub name: String,
}

/// The configured providers, each as a link back to `return_to` (the page's
/// own path and query).
pub fn provider_buttons(state: &AppState, return_to: &str) -> Vec<ProviderButton> {
    let back = percent_encoding::utf8_percent_encode(return_to, percent_encoding::NON_ALPHANUMERIC);
    state
        .accounts
        .providers()
        .links()
        .into_iter()
        .map(|provider| ProviderButton {
            href: format!("/auth/oidc/{}/start?return_to={back}", provider.id),
            name: provider.name,
        })
        .collect()
}

/// The sentence a page shows when the person came back from a provider
/// without signing in (`?signin_error=`).
pub fn declined_notice(req: &actix_web::HttpRequest) -> Option<String> {
    let declined = req
        .query_string()
        .split('&')
        .any(|pair| pair.starts_with(crate::web::hosted::oidc::DECLINED_PARAM));
    declined.then(|| crate::web::hosted::oidc::DECLINED.to_owned())
}

/// "Check your inbox": the one answer to a sign-up or a sign-in that needs
/// the address proven, whether the address was new or had an account.
pub fn check_inbox(email: &str) -> MessagePage {
    MessagePage::new(
        "Check your inbox",
        format!(
            "We sent a message to {email}. Open the link in it to continue. \
             It can take a minute to arrive; look in the spam folder too."
        ),
    )
}

pub const DEVICE_COOKIE: &str = "enlist_device";

// The forms' callers reach it here too; there is one definition.
pub use crate::http::client_address::client_address;

/// Who is at the other end of a page's request, as far as the request
/// tells: its session and device cookies, its address and the request id.
/// Read once by the extractor instead of at the top of every handler. Not
/// `Debug`: it holds the session token.
pub struct Browser {
    session: Option<String>,
    device: Option<String>,
    address: String,
    request_id: Option<String>,
}

/// The session cookie's token, if the browser sent one.
pub fn session_token(req: &actix_web::HttpRequest, state: &AppState) -> Option<String> {
    cookie_value(req, state, SESSION_COOKIE)
}

fn cookie_value(
    req: &actix_web::HttpRequest,
    state: &AppState,
    name: &'static str,
) -> Option<String> {
    req.cookie(&crate::web::render::cookie_name(name, secure(state)))
        .map(|c| c.value().to_owned())
}

impl Browser {
    pub fn of(req: &actix_web::HttpRequest, state: &AppState) -> Self {
        Self {
            session: session_token(req, state),
            device: cookie_value(req, state, DEVICE_COOKIE),
            address: client_address(req, state),
            request_id: crate::http::request_log::request_id(req),
        }
    }

    /// The client's address, for limits.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// The session cookie's token, if the browser sent one.
    pub fn session_token(&self) -> Option<String> {
        self.session.clone()
    }

    pub fn request_id(&self) -> Option<String> {
        self.request_id.clone()
    }

    /// What a sign-in form's answer depends on besides its fields.
    pub fn form_context(
        &self,
        resume: Option<crate::services::accounts::Resume>,
        invited: Option<crate::domain::Email>,
    ) -> FormContext {
        FormContext {
            address: self.address.clone(),
            device: self.device.clone(),
            resume,
            invited,
        }
    }

    /// The person this browser is signed in as, if its session is live.
    pub async fn signed_in(
        &self,
        state: &AppState,
    ) -> Option<crate::services::sessions::SessionUser> {
        let token = self.session.clone()?;
        let now = state.clock.now();
        state
            .db
            .read(move |conn| crate::services::sessions::find(conn, &token, now))
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "session lookup failed");
                None
            })
    }
}

impl actix_web::FromRequest for Browser {
    type Error = HtmlError;
    type Future = std::future::Ready<Result<Self, HtmlError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            crate::web::app_state(req)
                .map(|state| Browser::of(req, &state))
                .map_err(Into::into),
        )
    }
}

/// Remembers that this browser signed in (OWASP's device cookie): its later
/// attempts are never slowed or refused for what others did to the account.
pub fn device_cookie(value: &str, state: &AppState) -> Cookie<'static> {
    Cookie::build(
        crate::web::render::cookie_name(DEVICE_COOKIE, secure(state)),
        value.to_owned(),
    )
    .path("/")
    .http_only(true)
    .secure(secure(state))
    .same_site(SameSite::Strict)
    .max_age(seconds(state.settings.auth.device_cookie_lifetime.0))
    .finish()
}

/// The cookies a browser gets when someone signed in on it.
pub fn add_signed_in_cookies(
    response: &mut actix_web::HttpResponse,
    person: &crate::services::accounts::SignedIn,
    state: &AppState,
) {
    crate::web::render::add_cookie(response, &session_cookie(&person.session, state));
    if let Some(device) = &person.device {
        crate::web::render::add_cookie(response, &device_cookie(device, state));
    }
}

use crate::web::render::secure;

fn seconds(lifetime: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
}

/// The signed-in browser's cookie. Lax, so following the link in an email
/// arrives signed in.
pub fn session_cookie(token: &str, state: &AppState) -> Cookie<'static> {
    Cookie::build(
        crate::web::render::cookie_name(SESSION_COOKIE, secure(state)),
        token.to_owned(),
    )
    .path("/")
    .http_only(true)
    .secure(secure(state))
    .same_site(SameSite::Lax)
    .max_age(seconds(state.settings.auth.session_lifetime.0))
    .finish()
}

/// The cookie of the browser that asked for a mailed link. Lax, so it
/// comes along when the person opens the link from their mail.
pub fn link_cookie(value: &str, state: &AppState) -> Cookie<'static> {
    Cookie::build(
        crate::web::render::cookie_name(LINK_COOKIE, secure(state)),
        value.to_owned(),
    )
    .path("/")
    .http_only(true)
    .secure(secure(state))
    .same_site(SameSite::Lax)
    .max_age(seconds(state.settings.auth.email_verification_lifetime.0))
    .finish()
}

/// A cookie that tells the browser to forget `cookie`.
pub fn removal(mut cookie: Cookie<'static>) -> Cookie<'static> {
    cookie.make_removal();
    cookie
}
