//! The CSRF check every form goes through: a signed double-submit token
//! (see `auth::csrf`) bound to the visitor's session, plus the browser's own
//! word on where a post came from (`Origin`, `Sec-Fetch-Site`).

use super::render::{
    MessagePage, SESSION_COOKIE, Scripts, cookie_name, origin_of, render, rendered, set_retry_after,
};
use crate::auth::{csrf, secrets};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
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
    app_state(req).is_some_and(crate::web::render::secure)
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

/// The header a page's script sends its CSRF token in, for the JSON
/// endpoints it calls (the passkey challenges).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether a script's request is genuine: same-origin as far as the
/// browser tells, with its page's signed CSRF token in [`CSRF_HEADER`]
/// and the matching cookie.
pub fn header_genuine(req: &HttpRequest) -> bool {
    let posted = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    !cross_site(req) && csrf_ok(req, posted)
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

impl std::fmt::Display for FormRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FormRejection::Expired => "the form was sent from elsewhere or has expired",
            FormRejection::Unreadable => "the form could not be read",
        })
    }
}

/// The pages a refused form gets, wherever a surface has no page of its own for it.
impl ResponseError for FormRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            FormRejection::Expired => StatusCode::FORBIDDEN,
            FormRejection::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let page = match self {
            FormRejection::Expired => MessagePage::new(
                "This form has expired",
                "For your security the form must be sent from the page that showed it. Go back, reload the page and try again.",
            ),
            FormRejection::Unreadable => {
                MessagePage::new("The form could not be read", "Go back and try again.")
            }
        };
        render(self.status_code(), &page, &[])
    }
}

/// A posted form that is genuine ([`read_genuine_form`]); any other is
/// answered with [`FormRejection`]'s pages before the handler runs.
pub struct GenuineForm<T>(pub T);

/// Forms carry passwords: never printed.
impl<T> std::fmt::Debug for GenuineForm<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GenuineForm(..)")
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for GenuineForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = read_posted_form(req, payload, |_, rejection| async move { rejection.into() });
        Box::pin(async move { form.await.map(GenuineForm) })
    }
}

/// Reads a posted form for an extractor: the body as a `web::Bytes`
/// argument reads it (so the app's `PayloadConfig` limit and the body
/// deadline's 408 apply as before), then only if it is genuine
/// ([`read_genuine_form`]). A surface with its own answer to a refused
/// form gives it as `refuse`.
pub fn read_posted_form<T, Refuse, Refused>(
    req: &HttpRequest,
    payload: &mut Payload,
    refuse: Refuse,
) -> LocalBoxFuture<'static, Result<T, actix_web::Error>>
where
    T: serde::de::DeserializeOwned + 'static,
    Refuse: FnOnce(HttpRequest, FormRejection) -> Refused + 'static,
    Refused: std::future::Future<Output = actix_web::Error> + 'static,
{
    let body = web::Bytes::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let body = body.await?;
        match read_genuine_form(&req, &body) {
            Ok(form) => Ok(form),
            Err(rejection) => Err(refuse(req, rejection).await),
        }
    })
}

/// A page with forms: rendered with the security headers and the scripts it
/// may run, with the CSRF cookie its forms' token pairs with, and
/// `Retry-After` when the person is asked to wait.
pub fn form_page_with(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[&str],
    csrf: &str,
    secure: bool,
    retry_after: Option<std::time::Duration>,
    scripts: Scripts,
) -> HttpResponse {
    FormPage::new(status, page, csrf, secure)
        .form_targets(form_targets)
        .retry_after(retry_after)
        .scripts(scripts)
        .response()
}

/// A page with forms, rendered and kept until it is sent as
/// [`form_page_with`] sends it: a failure can carry one (the form shown
/// again, saying what went wrong) and render itself.
#[derive(Clone)]
pub struct FormPage {
    status: StatusCode,
    /// The page, or why its template failed (answered as a 500).
    html: Result<String, String>,
    /// Origins besides this server that the page's forms may lead to.
    form_targets: Vec<String>,
    csrf: String,
    secure: bool,
    retry_after: Option<std::time::Duration>,
    scripts: Scripts,
}

/// The CSRF token and the page (which may echo what was typed) stay out of logs.
impl std::fmt::Debug for FormPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormPage")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl FormPage {
    /// `page` rendered with the CSRF token `csrf` (the one its forms carry).
    pub fn new(status: StatusCode, page: &impl Template, csrf: &str, secure: bool) -> Self {
        Self {
            status,
            html: page.render().map_err(|error| error.to_string()),
            form_targets: Vec::new(),
            csrf: csrf.to_owned(),
            secure,
            retry_after: None,
            scripts: Scripts::None,
        }
    }

    pub fn form_targets(mut self, targets: &[&str]) -> Self {
        self.form_targets = targets.iter().map(|target| (*target).to_owned()).collect();
        self
    }

    pub fn retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    pub fn scripts(mut self, scripts: Scripts) -> Self {
        self.scripts = scripts;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn response(&self) -> HttpResponse {
        let targets: Vec<&str> = self.form_targets.iter().map(String::as_str).collect();
        let mut response = rendered(self.status, self.html.clone(), &targets, self.scripts);
        set_retry_after(&mut response, self.retry_after);
        crate::web::render::add_cookie(&mut response, &csrf_cookie(&self.csrf, self.secure));
        response
    }
}
