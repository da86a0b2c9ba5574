//! HTML pages: templates (askama, escaped by default), security headers,
//! cookie names, and the CSRF token every form carries (see `auth::csrf`).

use crate::auth::{csrf, secrets};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use std::borrow::Cow;
use subtle::ConstantTimeEq;

pub const STYLESHEET: &str = include_str!("../../assets/enlist.css");
/// The CSRF cookie's name over http; `__Host-enlist_csrf` over https.
pub const CSRF_COOKIE: &str = "enlist_csrf";
/// The session cookie's name over http; `__Host-enlist_session` over https.
pub const SESSION_COOKIE: &str = "enlist_session";

/// The sign-in and sign-up forms, as every page that embeds them needs them.
pub struct SignInForms {
    /// Where the forms post.
    pub action: String,
    /// Hidden fields carried through the post (for example the OAuth2 request).
    pub hidden: Vec<(String, String)>,
    pub csrf_token: String,
    /// Pre-filled email (after a failed attempt, or the invited address).
    pub email: String,
    pub error: Option<String>,
    /// "Forgot your password?", carrying where the person was going.
    pub reset_href: String,
}

/// `/reset`, remembering where to go once the password is chosen.
pub fn reset_href(resume: Option<&crate::services::accounts::Resume>) -> String {
    match resume {
        Some(resume) => format!(
            "/reset?resume={}",
            percent_encoding::utf8_percent_encode(
                &resume.encode(),
                percent_encoding::NON_ALPHANUMERIC
            )
        ),
        None => "/reset".into(),
    }
}

/// The page behind an emailed link (verification or reset).
#[derive(Template)]
#[template(path = "email_link.html")]
pub struct EmailLinkPage {
    pub heading: String,
    pub intro: String,
    pub action: String,
    pub email: String,
    pub choose_password: bool,
    pub button: &'static str,
    pub csrf_token: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_request.html")]
pub struct ResetRequestPage {
    pub email: String,
    pub resume: Option<String>,
    pub csrf_token: String,
    pub error: Option<String>,
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

/// The one answer to a reset request, whether or not the address has an account.
pub fn reset_requested(email: &str) -> MessagePage {
    MessagePage::new(
        "Check your inbox",
        format!(
            "If {email} belongs to an account, a link to choose a new password is on its way \
             to it. It can take a minute to arrive; look in the spam folder too."
        ),
    )
}

#[derive(Template)]
#[template(path = "authorize.html")]
pub struct AuthorizePage {
    pub client_name: String,
    pub forms: SignInForms,
}

pub struct Link {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub heading: String,
    pub message: String,
    pub link: Option<Link>,
}

impl MessagePage {
    pub fn new(heading: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            heading: heading.into(),
            message: message.into(),
            link: None,
        }
    }
}

/// `GET /`: what this server is, and where its API is described.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub version: &'static str,
}

pub async fn home() -> HttpResponse {
    render(
        StatusCode::OK,
        &HomePage {
            version: env!("CARGO_PKG_VERSION"),
        },
        &[],
    )
}

/// An HTML answer with the headers every page sends: a CSP without inline
/// script, no framing, no referrer, no caching. `form_targets` are origins
/// (besides this server) that the page's forms may end up at, such as an
/// OAuth2 client's redirect URI.
pub fn render(status: StatusCode, page: &impl Template, form_targets: &[&str]) -> HttpResponse {
    render_with(status, page, form_targets, Scripts::None)
}

/// Which scripts a page may run. Every page works without any; the admin
/// console loads its one small enhancement script from this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    None,
    OwnFiles,
}

/// [`render`], with the scripts the page may run.
pub fn render_with(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[&str],
    scripts: Scripts,
) -> HttpResponse {
    match page.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            for (name, value) in page_security_headers(form_targets, scripts) {
                response.insert_header((name, value));
            }
            response.content_type("text/html; charset=utf-8").body(body)
        }
        Err(error) => {
            tracing::error!(%error, "page template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body(crate::api::problem::INTERNAL_DETAIL)
        }
    }
}

pub fn security_headers(form_targets: &[&str]) -> Vec<(header::HeaderName, HeaderValue)> {
    page_security_headers(form_targets, Scripts::None)
}

fn page_security_headers(
    form_targets: &[&str],
    scripts: Scripts,
) -> Vec<(header::HeaderName, HeaderValue)> {
    let mut form_action = String::from("'self'");
    for target in form_targets {
        form_action.push(' ');
        form_action.push_str(target);
    }
    let script_src = match scripts {
        Scripts::None => "",
        // Files only: inline script stays refused.
        Scripts::OwnFiles => " script-src 'self';",
    };
    let csp = format!(
        "default-src 'none';{script_src} style-src 'self'; img-src 'self' https: data:; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut headers = vec![
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.push((header::CONTENT_SECURITY_POLICY, value));
    }
    headers
}

/// The headers of `/docs/` (Swagger UI, served from the binary): those of
/// every page, with a CSP that lets Swagger UI run its own scripts and
/// styles from this server and fetch the OpenAPI document, and nothing else
/// (no inline script, no remote source).
pub fn docs_security_headers() -> Vec<(header::HeaderName, HeaderValue)> {
    // The hash is of the one <style> element Swagger UI 5 injects itself.
    let csp = "default-src 'none'; script-src 'self'; \
               style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
               img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
               form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    vec![
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ),
    ]
}

/// Middleware: [`docs_security_headers`] on everything under `/docs`.
pub async fn docs_headers<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut response = next.call(req).await?;
    if docs {
        let headers = response.headers_mut();
        for (name, value) in docs_security_headers() {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// The origin (`scheme://host[:port]`) of a URL, for CSP source lists.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

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

/// A cookie's name: `__Host-` + `base` over https (Secure, Path=/, no
/// Domain: neither a sibling subdomain nor plain http can set it), `base` otherwise.
pub fn cookie_name(base: &'static str, secure: bool) -> Cow<'static, str> {
    if secure {
        Cow::Owned(format!("__Host-{base}"))
    } else {
        Cow::Borrowed(base)
    }
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

/// Sets `Retry-After` (whole seconds, at least 1) when waiting helps.
pub fn set_retry_after(response: &mut HttpResponse, wait: Option<std::time::Duration>) {
    if let Some(wait) = wait
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
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

/// A 303 to `location` that no cache keeps.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The one kind of HTML error page, as [`crate::api::problem::ApiError`]
/// is the one kind of JSON error: a status, a heading, a sentence for the
/// person, and `Retry-After` when waiting helps. A 500 never says more than
/// that something went wrong; its cause goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub heading: String,
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
    /// For a failure on our side: the cause, for the request's log line.
    cause: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, heading: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            heading: heading.into(),
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// Failed on our side: logged with its cause (on the request line),
    /// shown without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            crate::api::problem::INTERNAL_DETAIL,
        );
        error.cause = Some(cause.to_string());
        error
    }

    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = render(
            self.status,
            &MessagePage::new(self.heading.clone(), self.message.clone()),
            &[],
        );
        set_retry_after(&mut response, self.retry_after);
        if let Some(cause) = &self.cause {
            crate::api::request_log::attach_failure(&mut response, cause);
        }
        response
    }
}

impl From<PageError> for HttpResponse {
    fn from(error: PageError) -> Self {
        error.response()
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.heading)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

/// `GET /assets/enlist.css`
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

pub const CONSOLE_SCRIPT: &str = include_str!("../../assets/console.js");

/// `GET /assets/console.js`: the admin console's progressive enhancements.
pub async fn console_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CONSOLE_SCRIPT)
}

/// The logo `enlist demo` gives its organization.
pub async fn demo_logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../assets/demo-logo.svg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_what_people_type() {
        let page = MessagePage::new("<script>x</script>", "a & b");
        let html = page.render().unwrap();
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://app.test:8443/cb?x=1").as_deref(),
            Some("https://app.test:8443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9/cb").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
