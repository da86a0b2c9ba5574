//! Rendering a page: askama templates (escaped by default) sent with the
//! headers every page carries (a CSP without inline script, no framing, no
//! referrer, no caching), the plain message page, redirects, and cookie names.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;
use std::borrow::Cow;

/// The session cookie's name over http; `__Host-enlist_session` over https.
pub const SESSION_COOKIE: &str = "enlist_session";

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
    /// The passkey script (/assets/passkeys.js), which fetches its
    /// challenges from this server.
    Passkeys,
}

/// [`render`], with the scripts the page may run.
pub fn render_with(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[&str],
    scripts: Scripts,
) -> HttpResponse {
    rendered(status, page.render(), form_targets, scripts)
}

/// The answer for a page already rendered (or whose template failed):
/// what [`render_with`] sends, for a page kept until it is sent.
pub fn rendered(
    status: StatusCode,
    html: Result<String, impl std::fmt::Display>,
    form_targets: &[&str],
    scripts: Scripts,
) -> HttpResponse {
    match html {
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
                .body(crate::http::problem::INTERNAL_DETAIL)
        }
    }
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
        Scripts::Passkeys => " script-src 'self'; connect-src 'self';",
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
/// Whether the server is reached over https (its `public_url`): cookies
/// are then Secure and carry the `__Host-` prefix.
pub fn secure(state: &crate::state::AppState) -> bool {
    state.public_url.starts_with("https://")
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

/// Sets `Retry-After` (whole seconds, at least 1) when waiting helps.
pub fn set_retry_after(response: &mut HttpResponse, wait: Option<std::time::Duration>) {
    if let Some(wait) = wait
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// A 303 to `location` that no cache keeps.
pub fn see_other(location: &str) -> HttpResponse {
    Redirect::to(location).response()
}

/// A 303 that no cache keeps, as data until it is sent: a failure can be
/// one (back to the OAuth2 client with its `error`, or back to a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    location: String,
    no_referrer: bool,
}

impl Redirect {
    pub fn to(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            no_referrer: false,
        }
    }

    /// With `Referrer-Policy: no-referrer`, for a redirect to another site
    /// (an OAuth2 client): the page it leaves says nothing about itself.
    pub fn without_referrer(mut self) -> Self {
        self.no_referrer = true;
        self
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::SeeOther();
        response
            .insert_header((header::LOCATION, self.location.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.no_referrer {
            response.insert_header((header::REFERRER_POLICY, "no-referrer"));
        }
        response.finish()
    }
}

/// Sets `cookie` on `response`. Our cookies hold base62 tokens and fixed
/// attributes, which always make a valid header; should one ever not, the
/// answer goes out without it and the log says so.
pub fn add_cookie(response: &mut HttpResponse, cookie: &actix_web::cookie::Cookie<'_>) {
    if let Err(error) = response.add_cookie(cookie) {
        tracing::error!(%error, cookie = cookie.name(), "a cookie could not be set");
    }
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
