//! A small browser for the hosted pages: a cookie jar, no redirects
//! followed, forms posted url-encoded.

use crate::helpers::TestApp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

/// A page as the tests read it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` header for one cookie name.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the page's CSRF field (every form carries the same one).
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self
            .text
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on the page: {}", self.text))
            + marker.len();
        let end = self.text[start..].find('"').unwrap() + start;
        self.text[start..end].to_owned()
    }

    /// Asserts an HTML page with this status and the headers every page sends.
    pub fn assert_html(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{}",
            self.text
        );
        assert!(self.text.starts_with("<!doctype html>"), "{}", self.text);
        assert_eq!(self.location(), None, "a page, not a redirect");
        assert_security_headers(&self.headers);
        self
    }

    /// Asserts a 303 to `target`.
    pub fn assert_see_other(&self, target: &str) -> &Self {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.text);
        assert_eq!(self.location(), Some(target));
        self
    }

    /// Whether the sign-in and sign-up forms are on the page.
    pub fn has_sign_in_forms(&self) -> bool {
        self.text.contains("name=\"intent\" value=\"signin\"")
            && self.text.contains("name=\"intent\" value=\"signup\"")
    }

    /// Whether the Accept and Decline buttons are on the page.
    pub fn has_answer_buttons(&self) -> bool {
        self.text.contains("name=\"decision\" value=\"accept\"")
            && self.text.contains("name=\"decision\" value=\"decline\"")
    }
}

/// CSP without inline script, no framing, no referrer.
pub fn assert_security_headers(headers: &HeaderMap) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let csp = header("content-security-policy").expect("a Content-Security-Policy");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let script_sources = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .or_else(|| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with("default-src "))
        })
        .unwrap_or_else(|| panic!("no script-src nor default-src: {csp}"));
    assert!(
        !script_sources.contains('*') && !script_sources.contains("data:"),
        "{csp}"
    );
    let frames_denied = header("x-frame-options").is_some_and(|v| v.eq_ignore_ascii_case("DENY"))
        || csp.contains("frame-ancestors 'none'");
    assert!(frames_denied, "framing allowed: {headers:?}");
    assert_eq!(header("referrer-policy"), Some("no-referrer"));
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    /// A browser holding the session cookie `token` (a session started
    /// through the services, as an older server could have granted it).
    pub fn with_session(app: &TestApp, token: &str) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let url: url::Url = app.address.parse().unwrap();
        jar.add_cookie_str(&format!("enlist_session={token}; Path=/"), &url);
        Self {
            client: reqwest::Client::builder()
                .cookie_provider(jar)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        page(
            self.client
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens an invitation page and signs up there; answers the redirect.
    pub async fn sign_up(&self, page_path: &str, email: &str, password: &str) -> Page {
        let csrf = self.get(page_path).await.csrf_token();
        self.post_form(
            page_path,
            &[
                ("csrf_token", &csrf),
                ("intent", "signup"),
                ("email", email),
                ("first_name", "Bob"),
                ("last_name", "Builder"),
                ("password", password),
            ],
        )
        .await
    }

    /// Opens an invitation page and signs in there; answers the redirect.
    pub async fn sign_in(&self, page_path: &str, email: &str, password: &str) -> Page {
        let csrf = self.get(page_path).await.csrf_token();
        self.post_form(
            page_path,
            &[
                ("csrf_token", &csrf),
                ("intent", "signin"),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Opens a link enlist mailed (verification or reset: a URL or a path)
    /// and sends its form, with `password` when one is to be chosen.
    pub async fn follow_link(&self, link: &str, password: Option<&str>) -> Page {
        let path = link.strip_prefix(&self.base).unwrap_or(link);
        let shown = self.get(path).await;
        shown.assert_html(200);
        let csrf = shown.csrf_token();
        let mut fields = vec![("csrf_token", csrf.as_str())];
        if let Some(password) = password {
            fields.push(("password", password));
        }
        self.post_form(path, &fields).await
    }

    /// Answers the invitation from its page (as a signed-in browser).
    pub async fn respond(&self, page_path: &str, decision: &str) -> Page {
        let csrf = self.get(page_path).await.csrf_token();
        self.post_form(
            &sub(page_path, "respond"),
            &[("csrf_token", &csrf), ("decision", decision)],
        )
        .await
    }
}

/// The path of the page's `action` form, for a page opened at `page_path`
/// (an emailed link's query stays on it: `/invite/u?token=t` → `/invite/u/respond?token=t`).
pub fn sub(page_path: &str, action: &str) -> String {
    match page_path.split_once('?') {
        Some((path, query)) => format!("{path}/{action}?{query}"),
        None => format!("{page_path}/{action}"),
    }
}

pub async fn page(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Page {
        status,
        headers,
        text,
    }
}
