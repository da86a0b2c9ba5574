//! The CSRF check every form goes through: a signed double-submit token
//! (see `auth::csrf`) bound to the visitor's session, plus the browser's own
//! word on where a post came from (`Origin`, `Sec-Fetch-Site`).

use super::render::{
    MessagePage, SESSION_COOKIE, Scripts, cookie_name, origin_of, render, render_with,
    set_retry_after,
};
use crate::auth::{csrf, secrets};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use subtle::ConstantTimeEq;

/// The CSRF cookie's name over http; `__Host-enlist_csrf` over https.
pub const CSRF_COOKIE: &str = "enlist_csrf";

/// The application state, when the request reached the app (always, in practice).
fn app_state(req: &HttpRequest) -> Option<&AppState> {
    req.app_data::<web::Data<AppState>>()
        .map(|data| data.get_ref())
}

/// Whether the server is reached over https (its `public_url`): cookies
/// are then Secure and carry the `__Host-` prefix.
fn secure(req: &HttpRequest) -> bool {
    app_state(req).is_some_and(|state| state.public_url.starts_with("https://"))
}

/// The CSRF binding of this request: its session cookie, if any.
fn binding(req: &HttpRequest) -> csrf::Binding {
    let session = req.cookie(&cookie_name(SESSION_COOKIE, secure(req)));
    csrf::Binding::new(session.as_ref().map(|c| c.value()))
}

/// The page's CSRF token: the visitor's cookie token when this server
/// signed it for the visitor's current session (so several open tabs keep
/// working), otherwise a new one. A token the server did not sign is never
/// adopted.
pub fn csrf_token(req: &HttpRequest) -> String {
    let Some(state) = app_state(req) else {
        // Unsigned: no form carrying it will be accepted.
        return secrets::random_base62(csrf::TOKEN_LEN);
    };
    let binding = binding(req);
    match req.cookie(&cookie_name(CSRF_COOKIE, secure(req))) {
        Some(cookie) if csrf::verify(&state.csrf_key, cookie.value(), &binding) => {
            cookie.value().to_owned()
        }
        _ => csrf::mint(&state.csrf_key, &binding),
    }
}

/// The cookie half of the signed double-submit pair: HttpOnly,
/// SameSite=Strict, Path=/, no Domain; Secure and `__Host-` prefixed when
/// the server is reached over https.
pub fn csrf_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(CSRF_COOKIE, secure), token.to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

/// A posted form is genuine only when it carries a token this server
/// signed for the visitor's current session and the browser sends the same
/// token in the cookie.
pub fn csrf_ok(req: &HttpRequest, posted: Option<&str>) -> bool {
    let Some(state) = app_state(req) else {
        return false;
    };
    match (req.cookie(&cookie_name(CSRF_COOKIE, secure(req))), posted) {
        (Some(cookie), Some(posted)) if !posted.is_empty() => {
            bool::from(cookie.value().as_bytes().ct_eq(posted.as_bytes()))
                && csrf::verify(&state.csrf_key, posted, &binding(req))
        }
        _ => false,
    }
}

/// Whether the browser says the post comes from another site: an `Origin`
/// that is not this server's (`server.public_url`), or `Sec-Fetch-Site:
/// cross-site`. `Origin: null` says nothing (browsers send it for every form
/// of a page with `Referrer-Policy: no-referrer`, as ours are), and browsers
/// that send neither header are left to the token.
fn cross_site(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .filter(|o| o.as_bytes() != b"null")
    else {
        return false;
    };
    let ours = app_state(req).and_then(|state| origin_of(&state.public_url));
    match (origin.to_str(), ours) {
        (Ok(origin), Some(ours)) => !origin.eq_ignore_ascii_case(&ours),
        _ => true,
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// Why a posted form was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormRejection {
    /// Sent from another site, or without its page's CSRF token.
    Expired,
    /// Not a form this page sends.
    Unreadable,
}

/// A posted form, read only when it is genuine (same-origin as far as the
/// browser tells, carrying its page's signed CSRF token and the matching
/// cookie).
pub fn read_genuine_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, FormRejection> {
    if cross_site(req) {
        return Err(FormRejection::Expired);
    }
    let token =
        serde_urlencoded::from_bytes::<CsrfField>(body).map_err(|_| FormRejection::Unreadable)?;
    if !csrf_ok(req, token.csrf_token.as_deref()) {
        return Err(FormRejection::Expired);
    }
    serde_urlencoded::from_bytes(body).map_err(|_| FormRejection::Unreadable)
}

/// [`read_genuine_form`], or the page to answer with.
pub fn genuine_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, Box<HttpResponse>> {
    let unreadable = || {
        Box::new(render(
            StatusCode::BAD_REQUEST,
            &MessagePage::new("The form could not be read", "Go back and try again."),
            &[],
        ))
    };
    let expired = || {
        Box::new(render(
            StatusCode::FORBIDDEN,
            &MessagePage::new(
                "This form has expired",
                "For your security the form must be sent from the page that showed it. Go back, reload the page and try again.",
            ),
            &[],
        ))
    };
    read_genuine_form(req, body).map_err(|rejection| match rejection {
        FormRejection::Expired => expired(),
        FormRejection::Unreadable => unreadable(),
    })
}

/// A page with forms: rendered with the security headers, with the CSRF
/// cookie its forms' token pairs with, and `Retry-After` when the person is
/// asked to wait.
pub fn form_page(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[&str],
    csrf: &str,
    secure: bool,
    retry_after: Option<std::time::Duration>,
) -> HttpResponse {
    form_page_with(
        status,
        page,
        form_targets,
        csrf,
        secure,
        retry_after,
        Scripts::None,
    )
}

/// [`form_page`], with the scripts the page may run.
pub fn form_page_with(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[&str],
    csrf: &str,
    secure: bool,
    retry_after: Option<std::time::Duration>,
    scripts: Scripts,
) -> HttpResponse {
    let mut response = render_with(status, page, form_targets, scripts);
    set_retry_after(&mut response, retry_after);
    let _ = response.add_cookie(&csrf_cookie(csrf, secure));
    response
}
