//! HTML pages: templates (askama, escaped by default), security headers,
//! and the CSRF token every form carries.

use crate::auth::secrets;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use subtle::ConstantTimeEq;

pub const STYLESHEET: &str = include_str!("../../assets/enlist.css");
pub const CSRF_COOKIE: &str = "enlist_csrf";
const CSRF_TOKEN_LEN: usize = 32;

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
    match page.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            for (name, value) in security_headers(form_targets) {
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
    let mut form_action = String::from("'self'");
    for target in form_targets {
        form_action.push(' ');
        form_action.push_str(target);
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
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

/// The origin (`scheme://host[:port]`) of a URL, for CSP source lists.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The page's CSRF token: the one in the visitor's cookie when it looks
/// right (so several open tabs keep working), otherwise a new one.
pub fn csrf_token(req: &HttpRequest) -> String {
    req.cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == CSRF_TOKEN_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| secrets::random_base62(CSRF_TOKEN_LEN))
}

/// The cookie half of the double-submit pair: HttpOnly, SameSite=Strict,
/// and Secure when the server is reached over https.
pub fn csrf_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

/// A posted form is genuine only when it carries the token of the page it
/// came from and the browser sends the matching cookie.
pub fn csrf_ok(req: &HttpRequest, posted: Option<&str>) -> bool {
    match (req.cookie(CSRF_COOKIE), posted) {
        (Some(cookie), Some(posted))
            if !posted.is_empty() && cookie.value().len() == CSRF_TOKEN_LEN =>
        {
            cookie.value().as_bytes().ct_eq(posted.as_bytes()).into()
        }
        _ => false,
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// A posted form, read only when it is genuine (it carries its page's CSRF
/// token and the matching cookie); otherwise the page to answer with.
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
    let token = serde_urlencoded::from_bytes::<CsrfField>(body).map_err(|_| unreadable())?;
    if !csrf_ok(req, token.csrf_token.as_deref()) {
        return Err(Box::new(render(
            StatusCode::FORBIDDEN,
            &MessagePage::new(
                "This form has expired",
                "For your security the form must be sent from the page that showed it. Go back, reload the page and try again.",
            ),
            &[],
        )));
    }
    serde_urlencoded::from_bytes(body).map_err(|_| unreadable())
}

/// `GET /assets/enlist.css`
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
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
