//! Signing in at an upstream OpenID provider: `/auth/oidc/{id}/start`
//! sends the browser there, `/auth/oidc/{id}/callback` is where it comes
//! back (the redirect URI registered at the provider). The rules are the
//! accounts service's (`services::accounts::federated`).

use crate::services::ServiceError;
use crate::services::accounts::{Callback, LoginFinished, ReturnTo};
use crate::services::oauth::AuthorizeParams;
use crate::state::AppState;
use crate::web::error::{HtmlError, PageError};
use crate::web::render::Redirect;
use crate::web::sign_in::{self, Browser, Onward};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// Ties a sign-in's return to the browser that began it (login CSRF).
pub const LOGIN_COOKIE: &str = "enlist_oidc";

/// The query a sign-in page's provider link carries.
#[derive(Debug, serde::Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

/// The `?signin_error=` a page is sent back with when the provider
/// answered with an error; pages turn it into [`DECLINED`].
pub const DECLINED_PARAM: &str = "signin_error";
/// What a page says when the person came back from the provider without
/// signing in.
pub const DECLINED: &str = "Signing in with your identity provider did not complete (it was \
     cancelled or refused there). Try again, or sign in with your email and password.";

pub(crate) fn provider_failure(state: &AppState, id: &str, error: &ServiceError) -> PageError {
    let name = state
        .accounts
        .providers()
        .name_of(id)
        .unwrap_or("the identity provider");
    match error {
        ServiceError::NotFound(_) => PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown sign-in method",
            "This sign-in link names no identity provider configured here.",
        ),
        ServiceError::Unavailable {
            retry_after_secs, ..
        } => PageError::new(
            StatusCode::BAD_GATEWAY,
            format!("{name} is not answering"),
            format!(
                "enlist could not reach {name} to sign you in. Try again in a moment, or go \
                 back and sign in with your email and password."
            ),
        )
        .with_retry_after(std::time::Duration::from_secs(*retry_after_secs)),
        ServiceError::TooSoon {
            detail,
            retry_after_secs,
        } => PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            detail.clone(),
        )
        .with_retry_after(std::time::Duration::from_secs(*retry_after_secs)),
        ServiceError::Gone { detail, .. } => PageError::new(
            StatusCode::BAD_REQUEST,
            "Start signing in again",
            detail.clone(),
        ),
        ServiceError::Unauthorized(detail) => PageError::new(
            StatusCode::UNAUTHORIZED,
            format!("{name} did not sign you in"),
            detail.clone(),
        ),
        ServiceError::Invalid { detail, .. } => PageError::new(
            StatusCode::BAD_REQUEST,
            format!("{name} did not sign you in"),
            detail.clone(),
        ),
        ServiceError::Conflict { detail, .. } | ServiceError::Forbidden { detail, .. } => {
            PageError::new(
                StatusCode::CONFLICT,
                format!("{name} could not sign you in here"),
                detail.clone(),
            )
        }
        other => PageError::failed(other),
    }
}

pub(crate) fn login_cookie(value: &str, state: &AppState) -> Cookie<'static> {
    for_the_trip(LOGIN_COOKIE, value, state)
}

/// A cookie for the ten minutes a trip to the provider may take. Lax: the
/// provider's redirect back is a top-level navigation.
fn for_the_trip(name: &'static str, value: &str, state: &AppState) -> Cookie<'static> {
    let secure = crate::web::render::secure(state);
    Cookie::build(
        crate::web::render::cookie_name(name, secure),
        value.to_owned(),
    )
    .path("/")
    .http_only(true)
    .secure(secure)
    .same_site(SameSite::Lax)
    .max_age(time::Duration::minutes(10))
    .finish()
}

/// Keeps an invitation link's secret in the browser that left the page
/// (where its address bar had it anyway), not in the stored login: the
/// person comes back to the page as they opened it.
const INVITE_SECRET_COOKIE: &str = "enlist_oidc_invite";

fn invite_secret(return_to: &str) -> Option<String> {
    let query = return_to.strip_prefix("/invite/")?.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn invite_secret_cookie(value: &str, state: &AppState) -> Cookie<'static> {
    for_the_trip(INVITE_SECRET_COOKIE, value, state)
}

/// The page to go back to: an invitation's with the secret this browser
/// kept for it.
fn back_to(req: &HttpRequest, state: &AppState, return_to: &ReturnTo) -> String {
    let path = return_to.as_str();
    let secure = crate::web::render::secure(state);
    let kept = req
        .cookie(&crate::web::render::cookie_name(
            INVITE_SECRET_COOKIE,
            secure,
        ))
        .map(|c| c.value().to_owned())
        .filter(|token| token.bytes().all(|b| b.is_ascii_alphanumeric()));
    match kept {
        Some(token) if path.starts_with("/invite/") && !path.contains('?') => {
            format!("{path}?token={token}")
        }
        _ => path.to_owned(),
    }
}

pub(crate) fn login_browser(req: &HttpRequest, state: &AppState) -> Option<String> {
    let secure = crate::web::render::secure(state);
    req.cookie(&crate::web::render::cookie_name(LOGIN_COOKIE, secure))
        .map(|c| c.value().to_owned())
}

/// `GET /auth/oidc/{id}/start?return_to=…`: on to the provider.
pub async fn start(
    path: web::Path<String>,
    query: web::Query<StartQuery>,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let id = path.into_inner();
    let return_to = query
        .return_to
        .as_deref()
        .and_then(ReturnTo::parse)
        .ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Start from a sign-in page",
                "This sign-in link does not say which page it came from. Go back to that page \
                 and choose your identity provider there.",
            )
        })?;
    let begun = state
        .accounts
        .begin_federated(&id, &return_to, &browser.address(), None)
        .await
        .map_err(|e| provider_failure(&state, &id, &e))?;
    // The page it leaves may hold an invitation's secret: not for the provider.
    let mut response = Redirect::to(begun.redirect).without_referrer().response();
    crate::web::render::add_cookie(&mut response, &login_cookie(&begun.browser, &state));
    if let Some(secret) = query.return_to.as_deref().and_then(invite_secret) {
        crate::web::render::add_cookie(&mut response, &invite_secret_cookie(&secret, &state));
    }
    Ok(response)
}

/// `GET /auth/oidc/{id}/callback?state=…&code=…`: back from the provider.
pub async fn callback(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let id = path.into_inner();
    // A malformed query is as good as none: the state check refuses it.
    let answer = serde_urlencoded::from_str::<Callback>(req.query_string()).unwrap_or_default();
    let finished = state
        .accounts
        .finish_federated(
            &id,
            &answer,
            login_browser(&req, &state).as_deref(),
            &browser.address(),
            browser.signed_in(&state).await.map(|person| person.user_id),
        )
        .await
        .map_err(|e| provider_failure(&state, &id, &e))?;
    match finished {
        LoginFinished::Connected => Ok(crate::web::render::see_other("/account?connected=1")),
        LoginFinished::Declined { return_to } => {
            let page = back_to(&req, &state, &return_to);
            let separator = if page.contains('?') { '&' } else { '?' };
            Ok(crate::web::render::see_other(&format!(
                "{page}{separator}{DECLINED_PARAM}=declined"
            )))
        }
        LoginFinished::Outcome { outcome, return_to } => {
            let onward = onward(&state, &return_to, back_to(&req, &state, &return_to)).await?;
            sign_in::finish_outcome(&state, outcome, onward).await
        }
    }
}

/// Where the person goes once signed in: back to the OAuth2 client with a
/// code when they came from the authorize page, else the page itself.
pub(crate) async fn onward(
    state: &AppState,
    return_to: &ReturnTo,
    page: String,
) -> Result<Onward, HtmlError> {
    let path = return_to.as_str();
    match path.strip_prefix("/oauth/authorize?") {
        Some(query) => {
            let params = AuthorizeParams::from_query(query).ok_or_else(|| {
                PageError::new(
                    StatusCode::BAD_REQUEST,
                    "Start signing in again",
                    "The app's sign-in request could not be read back.",
                )
            })?;
            let authorization = crate::web::hosted::authorize::validate(state, &params).await?;
            Ok(Onward::App(Box::new(authorization)))
        }
        None => Ok(Onward::Page(page)),
    }
}
