//! Following the links enlist mails (verification, reset) the way a
//! browser would: a cookie jar, GET the page, POST its form with the CSRF
//! token the page carries.

use crate::helpers::TestApp;
use crate::oauth_helpers::Page;
use reqwest::Method;
use std::collections::BTreeMap;

/// The link of the newest message of `kind` to `recipient`, as the
/// recipient gets it (see [`TestApp::mailed_link`]).
pub fn latest_link(app: &TestApp, kind: &str, recipient: &str) -> String {
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    app.mailed_link(
        &format!(
            "kind = {} AND recipient = {}",
            quoted(kind),
            quoted(recipient)
        ),
        &format!("{kind} to {recipient}"),
    )
}

/// How many messages of `kind` went to `recipient`.
pub fn messages(app: &TestApp, kind: &str, recipient: &str) -> i64 {
    app.db
        .read_blocking(|conn| {
            conn.query_one(
                "SELECT COUNT(*) FROM outbox WHERE kind = ?1 AND recipient = ?2",
                &[&kind, &recipient],
                |row| row.get(0),
            )
        })
        .unwrap()
}

/// The value a response sets for cookie `name`, if it sets one.
pub fn set_cookie(page: &Page, name: &str) -> Option<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// The value of the first hidden input `name` in the page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A browser that keeps every cookie it is given and follows no redirect.
pub struct Jar {
    base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Sent with every request (a proxy's `X-Forwarded-For`, say).
    pub headers: Vec<(String, String)>,
}

impl Jar {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// A browser behind a proxy that says it is `address`.
    pub fn forwarded_for(app: &TestApp, address: &str) -> Self {
        let mut jar = Self::new(app);
        jar.headers
            .push(("X-Forwarded-For".into(), address.to_owned()));
        jar
    }

    /// Opens `page` (any page with the sign-in forms) and signs in there.
    pub async fn sign_in(&mut self, page: &str, email: &str, password: &str) -> Page {
        let shown = self.get(page).await;
        let csrf = hidden_value(&shown.html, "csrf_token").expect("a sign-in form");
        self.post(
            page,
            &[
                ("csrf_token", &csrf),
                ("intent", "signin"),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Takes over the cookies a response (seen elsewhere) set.
    pub fn keep(&mut self, page: &Page) {
        for value in page.headers.get_all("set-cookie") {
            let Some((pair, attributes)) = value
                .to_str()
                .ok()
                .map(|v| v.split_once(';').unwrap_or((v, "")))
            else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let removed = attributes.to_ascii_lowercase().contains("max-age=0");
            if removed || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("Cookie", self.cookie_header())
        };
        let response = request.send().await.unwrap();
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.unwrap(),
        };
        self.keep(&page);
        page
    }

    pub async fn get(&mut self, path_or_url: &str) -> Page {
        let request = self.client.get(self.url(path_or_url));
        self.finish(request).await
    }

    pub async fn post(&mut self, path_or_url: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .client
            .post(self.url(path_or_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        self.finish(request).await
    }

    /// Opens an emailed link and sends its form (with `password` when the
    /// page asks for one): the answer to the POST.
    pub async fn follow(&mut self, link: &str, password: Option<&str>) -> Page {
        let shown = self.get(link).await;
        assert_eq!(shown.status, 200, "{}", shown.html);
        let csrf = hidden_value(&shown.html, "csrf_token").expect("a CSRF token in the page");
        let mut fields = vec![("csrf_token", csrf.as_str())];
        if let Some(password) = password {
            fields.push(("password", password));
        }
        self.post(link, &fields).await
    }
}

/// The argon2 work the server has done so far, from `/metrics`.
pub async fn password_work(app: &TestApp) -> i64 {
    let reply = app.request(Method::GET, "/metrics", None, None).await;
    reply
        .text
        .lines()
        .find_map(|line| line.strip_prefix("enlist_password_operations_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no password metric in {}", reply.text))
}
