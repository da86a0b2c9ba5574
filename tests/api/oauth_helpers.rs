//! Helpers for the invitee API and the OAuth2 authorization server: accounts
//! with passwords, OAuth2 clients, tokens, and a small "browser" that goes
//! through the authorize page the way a person's browser would.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use enlist::auth::keys::Ed25519Key;
use enlist::domain::{Email, Millis};
use enlist::services;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The password every test account gets unless a test says otherwise.
pub const PASSWORD: &str = "correct horse battery staple";
/// Where test clients are sent back to. Nothing listens there: the tests
/// read the `Location` header instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A registered OAuth2 client, with its secret when it is confidential.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl TestApp {
    /// An account with `password` (hashed as the server would), or none.
    pub fn create_user(&self, email: &str, password: Option<&str>) -> i64 {
        let password_hash = password.map(|p| enlist::auth::password::hash(p).unwrap());
        let new = services::users::NewAccount {
            email: Email::parse(email).unwrap(),
            first_name: "Iris".into(),
            last_name: "Invitee".into(),
            password_hash,
            // As `enlist user create` makes it: the operator vouches.
            email_verified: true,
        };
        self.db
            .write_blocking(|tx| services::users::create(tx, &new, Millis::now()))
            .unwrap()
            .id
    }

    /// An account as signing up on a page makes it: its email not proven.
    pub fn create_unverified_user(&self, email: &str, password: Option<&str>) -> i64 {
        let new = services::users::NewAccount {
            email: Email::parse(email).unwrap(),
            first_name: "Sam".into(),
            last_name: "Squatter".into(),
            password_hash: password.map(|p| enlist::auth::password::hash(p).unwrap()),
            email_verified: false,
        };
        self.db
            .write_blocking(|tx| services::users::create(tx, &new, Millis::now()))
            .unwrap()
            .id
    }

    /// Registers a client the way `enlist client create` does.
    pub fn create_client(
        &self,
        name: &str,
        redirect_uris: &[&str],
        public: bool,
        user: Option<&str>,
    ) -> TestClient {
        let new = services::oauth::NewClient {
            name: name.into(),
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            public,
            user: user.map(|email| Email::parse(email).unwrap()),
            ..Default::default()
        };
        let (client, secret) = self
            .db
            .write_blocking(|tx| services::oauth::create_client(tx, &new, Millis::now()))
            .unwrap();
        TestClient {
            client_id: client.client_id,
            secret,
            redirect_uri: redirect_uris.first().copied().unwrap_or("").to_owned(),
        }
    }

    /// A confidential client registered at [`REDIRECT_URI`] and bound to `email`.
    pub fn bound_client(&self, email: &str) -> TestClient {
        self.create_client("Invitee CLI", &[REDIRECT_URI], false, Some(email))
    }

    /// A public client (no secret, PKCE required) registered at [`REDIRECT_URI`].
    pub fn public_client(&self) -> TestClient {
        self.create_client("Invitee SPA", &[REDIRECT_URI], true, None)
    }

    /// `POST /oauth/token` with a form body and, optionally, HTTP Basic
    /// client credentials (form-encoded first, as RFC 6749 2.3.1 says).
    pub async fn token_request(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        self.form_post("/oauth/token", form, basic).await
    }

    /// `POST /oauth/introspect`, like [`TestApp::token_request`].
    pub async fn introspect_request(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        self.form_post("/oauth/introspect", form, basic).await
    }

    /// `POST /oauth/revoke`, like [`TestApp::token_request`].
    pub async fn revoke_request(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        self.form_post("/oauth/revoke", form, basic).await
    }

    async fn form_post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if let Some((id, secret)) = basic {
            request = request.header("Authorization", basic_auth(id, secret));
        }
        reply(request.send().await.expect("request sent")).await
    }

    /// Client credentials with the secret in HTTP Basic: the token response.
    pub async fn client_credentials(&self, client: &TestClient) -> Reply {
        self.token_request(
            &[("grant_type", "client_credentials")],
            Some((&client.client_id, client.secret.as_deref().unwrap())),
        )
        .await
    }

    /// An access token for `client` by client credentials.
    pub async fn client_token(&self, client: &TestClient) -> String {
        let reply = self.client_credentials(client).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A new account (no password needed) and an access token that acts for
    /// it, through a confidential client bound to it.
    pub async fn invitee_token(&self, email: &str) -> String {
        self.create_user(email, None);
        let client = self.bound_client(email);
        self.client_token(&client).await
    }

    /// An invitee API request with `Authorization: Bearer <token>`.
    pub async fn bearer(&self, method: Method, path: &str, token: &str) -> Reply {
        let request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token);
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn invitee_get(&self, path: &str, token: &str) -> Reply {
        self.bearer(Method::GET, path, token).await
    }

    /// `POST /invitations/{uuid}?accept=...`
    pub async fn respond(&self, uuid: &str, accept: &str, token: &str) -> Reply {
        self.bearer(
            Method::POST,
            &format!("/invitations/{uuid}?accept={accept}"),
            token,
        )
        .await
    }

    /// Invites `email` through the admin API: the invitation's numeric id and UUID.
    pub async fn invite_with_uuid(&self, key: &str, email: &str, role: &str) -> (i64, String) {
        let created = self.invite(key, email, role).await;
        assert_eq!(created.status, 200, "{}", created.text);
        let id = created.body["id"].as_i64().unwrap();
        (id, self.invitation_uuid(id))
    }

    /// The UUID the invitee API knows an invitation by.
    /// The status the admin API shows for an invitation.
    pub async fn admin_invitation_status(&self, key: &str, id: i64) -> String {
        let listed = self
            .get(
                "/v1/organization/invitations?limit=100&includeExpired=true",
                key,
            )
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == id)
            .unwrap_or_else(|| panic!("invitation {id} not listed: {}", listed.text))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The organization's members as the admin API lists them.
    pub async fn admin_members(&self, key: &str) -> Vec<Value> {
        let listed = self.get("/v1/organization/users?limit=100", key).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        listed.body["items"].as_array().unwrap().clone()
    }

    /// Runs one SQL query returning a single text value.
    pub fn query_string(&self, sql: &str) -> String {
        self.db
            .read_blocking(|conn| conn.query_one(sql, &[], |row| row.get(0)))
            .unwrap()
    }

    /// Runs one SQL statement, for setting up states the API cannot reach quickly.
    pub fn execute(&self, sql: &str) {
        self.db.write_blocking(|tx| tx.execute(sql, &[])).unwrap();
    }

    /// The key that signs access tokens now, as the server stored it.
    pub fn signing_key(&self) -> Ed25519Key {
        let der: Vec<u8> = self
            .db
            .read_blocking(|conn| {
                conn.query_one(
                    "SELECT private_key FROM signing_keys WHERE retired_at IS NULL",
                    &[],
                    |row| row.get(0),
                )
            })
            .unwrap();
        Ed25519Key::from_pkcs8_der(&der).unwrap()
    }

    /// The public key stored under `kid`.
    pub fn public_key(&self, kid: &str) -> Vec<u8> {
        self.db
            .read_blocking(|conn| {
                conn.query_one(
                    "SELECT public_key FROM signing_keys WHERE kid = ?1",
                    &[&kid],
                    |row| row.get(0),
                )
            })
            .unwrap_or_else(|e| panic!("no key {kid}: {e}"))
    }

    /// The JWK Set the server publishes.
    pub async fn jwks(&self) -> Value {
        let reply = self
            .request(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }

    /// The server's public URL: the issuer of its tokens.
    pub fn issuer(&self) -> String {
        match &self.settings.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => self.address.clone(),
        }
    }
}

pub fn basic_auth(id: &str, secret: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// Asserts an RFC 6749 section 5.2 error: status, `error` code, a
/// description, JSON, and never cached.
pub fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.body["error"], error, "{}", reply.text);
    assert!(
        reply.body["error_description"].is_string(),
        "{}",
        reply.text
    );
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// The claims of an access token, checked with the public key its `kid`
/// names and the validation a careful resource server would use.
pub fn decode_claims(app: &TestApp, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let kid = header.kid.expect("a kid in the header");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["enlist"]);
    validation.set_issuer(&[app.issuer()]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_ed_der(&app.public_key(&kid)),
        &validation,
    )
    .unwrap_or_else(|e| panic!("token does not verify: {e}"))
    .claims
}

/// A token signed by `key` as EdDSA, its `kid` in the header (as the server signs).
pub fn sign_token(claims: &Value, key: &Ed25519Key) -> String {
    sign_token_as(claims, key, Some(key.kid()))
}

/// A token signed by `key` as EdDSA with this `kid` (or none).
pub fn sign_token_as(claims: &Value, key: &Ed25519Key, kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(&key.to_pkcs8_der().unwrap()),
    )
    .unwrap()
}

/// A token signed with an HMAC algorithm keyed with `secret`, with this `kid`.
pub fn sign_hmac(claims: &Value, secret: &[u8], alg: jsonwebtoken::Algorithm, kid: &str) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A PKCE pair: a fresh verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// An authorization request as a client would build it.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub pkce: Option<Pkce>,
    /// More parameters: `scope`, `nonce`, `prompt`, `max_age`, `resource`.
    pub extra: Vec<(String, String)>,
}

impl AuthRequest {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `response_type=code` with PKCE S256 and a random state.
    pub fn for_client(client: &TestClient) -> Self {
        Self {
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            state: uuid::Uuid::new_v4().to_string(),
            pkce: Some(Pkce::new()),
            extra: Vec::new(),
        }
    }

    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("client_id".to_owned(), self.client_id.clone()),
            ("redirect_uri".to_owned(), self.redirect_uri.clone()),
            ("state".to_owned(), self.state.clone()),
        ];
        if let Some(pkce) = &self.pkce {
            params.push(("code_challenge".to_owned(), pkce.challenge.clone()));
            params.push(("code_challenge_method".to_owned(), "S256".to_owned()));
        }
        params.extend(self.extra.iter().cloned());
        params
    }

    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self.params()).unwrap()
    }
}

/// An HTML page (or redirect) from the authorize endpoint.
#[derive(Debug)]
pub struct Page {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the page's `csrf_token` hidden input.
    pub fn csrf_token(&self) -> String {
        hidden_inputs(&self.html, "signin")
            .into_iter()
            .find(|(name, _)| name == "csrf_token")
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("no csrf_token in the page: {}", self.html))
    }

    /// The `enlist_csrf` cookie the page set, if any.
    pub fn csrf_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("enlist_csrf="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    }

    /// The redirect's target, parsed.
    pub fn location(&self) -> url::Url {
        assert_eq!(self.status, 303, "expected a redirect: {}", self.html);
        url::Url::parse(self.header("location").expect("Location header")).unwrap()
    }

    /// The query parameters of the redirect's target.
    pub fn redirect_params(&self) -> std::collections::HashMap<String, String> {
        self.location().query_pairs().into_owned().collect()
    }

    pub fn assert_security_headers(&self) {
        let csp = self
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("no CSP: {:?}", self.headers));
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        let scripts = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .or_else(|| {
                csp.split(';')
                    .map(str::trim)
                    .find(|d| d.starts_with("default-src"))
            })
            .unwrap_or_else(|| panic!("CSP neither restricts scripts nor has a default: {csp}"));
        assert!(!scripts.contains('*'), "{csp}");
        assert_eq!(self.header("x-frame-options"), Some("DENY"));
        assert_eq!(self.header("referrer-policy"), Some("no-referrer"));
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{:?}",
            self.headers
        );
    }
}

/// What the "person" types into a form.
#[derive(Debug, Clone, Copy)]
pub enum Intent<'a> {
    SignIn {
        email: &'a str,
        password: &'a str,
    },
    SignUp {
        email: &'a str,
        password: &'a str,
        first_name: &'a str,
        last_name: &'a str,
    },
}

/// A browser without JavaScript that keeps the one cookie the pages set
/// and never follows redirects (they lead to the client).
pub struct Browser {
    base: String,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    /// `GET /oauth/authorize?{query}`; keeps the CSRF cookie the page sets.
    pub async fn open(&mut self, query: &str) -> Page {
        let mut request = self
            .client
            .get(format!("{}/oauth/authorize?{query}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", format!("enlist_csrf={cookie}"));
        }
        let page = page(request.send().await.unwrap()).await;
        if let Some(cookie) = page.csrf_cookie() {
            self.cookie = Some(cookie);
        }
        page
    }

    /// `POST /oauth/authorize` with exactly these fields (and the cookie, if kept).
    pub async fn post(&mut self, fields: &[(String, String)]) -> Page {
        let mut request = self
            .client
            .post(format!("{}/oauth/authorize", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", format!("enlist_csrf={cookie}"));
        }
        let page = page(request.send().await.unwrap()).await;
        if let Some(cookie) = page.csrf_cookie() {
            self.cookie = Some(cookie);
        }
        page
    }

    /// Fills in and submits the page's sign-in or sign-up form: every
    /// hidden field the page holds, plus what the person types.
    pub async fn submit(&mut self, page: &Page, intent: Intent<'_>) -> Page {
        let fields = form_fields(page, intent);
        self.post(&fields).await
    }
}

/// The fields a browser would post from `page`'s form for `intent`.
pub fn form_fields(page: &Page, intent: Intent<'_>) -> Vec<(String, String)> {
    let (which, typed): (&str, Vec<(&str, &str)>) = match intent {
        Intent::SignIn { email, password } => {
            ("signin", vec![("email", email), ("password", password)])
        }
        Intent::SignUp {
            email,
            password,
            first_name,
            last_name,
        } => (
            "signup",
            vec![
                ("email", email),
                ("first_name", first_name),
                ("last_name", last_name),
                ("password", password),
            ],
        ),
    };
    let mut fields = hidden_inputs(&page.html, which);
    assert!(
        fields
            .iter()
            .any(|(name, value)| name == "intent" && value == which),
        "no {which} form in the page: {}",
        page.html
    );
    fields.extend(
        typed
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    fields
}

async fn page(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    Page {
        status,
        headers,
        html,
    }
}

/// The hidden inputs of the form whose `intent` is `which`, unescaped.
pub fn hidden_inputs(html: &str, which: &str) -> Vec<(String, String)> {
    html.split("<form")
        .skip(1)
        .map(|form| form.split("</form>").next().unwrap_or(""))
        .map(|form| {
            form.split("<input")
                .skip(1)
                .filter(|input| input.contains("type=\"hidden\""))
                .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
                .collect::<Vec<_>>()
        })
        .find(|inputs| {
            inputs
                .iter()
                .any(|(name, value)| name == "intent" && value == which)
        })
        .unwrap_or_default()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// Undoes the HTML escaping templates apply to attribute values.
pub fn unescape(text: &str) -> String {
    text.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A code, through the whole browser part of the flow: open the authorize
/// page, fill in a form, follow nothing. Answers the final page (the redirect).
pub async fn authorize(app: &TestApp, request: &AuthRequest, intent: Intent<'_>) -> Page {
    let mut browser = Browser::new(app);
    let shown = browser.open(&request.query()).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    browser.submit(&shown, intent).await
}

/// The authorization code from a successful authorization, after checking
/// the redirect goes to the registered URI with the request's state. A
/// sign-up is answered "check your inbox": the person then follows the
/// verification link from the message, in the same browser, and that
/// resumes the authorization.
pub async fn authorization_code(
    app: &TestApp,
    request: &AuthRequest,
    intent: Intent<'_>,
) -> String {
    let mut redirect = authorize(app, request, intent).await;
    if let Intent::SignUp { email, .. } = intent {
        assert_eq!(redirect.status, 200, "{}", redirect.html);
        assert!(
            redirect.html.contains("Check your inbox"),
            "{}",
            redirect.html
        );
        let mut jar = crate::account_helpers::Jar::new(app);
        jar.keep(&redirect);
        let link = crate::account_helpers::latest_link(app, "verification", email.trim());
        redirect = jar.follow(&link, None).await;
    }
    assert_eq!(redirect.status, 303, "{}", redirect.html);
    let location = redirect.location();
    assert!(
        location.as_str().starts_with(&request.redirect_uri),
        "{location}"
    );
    let params = redirect.redirect_params();
    assert_eq!(params.get("state"), Some(&request.state), "{location}");
    assert!(!params.contains_key("error"), "{location}");
    params.get("code").expect("code in the redirect").clone()
}

/// Exchanges a code (with the request's verifier) at the token endpoint.
pub async fn exchange_code(
    app: &TestApp,
    client: &TestClient,
    request: &AuthRequest,
    code: &str,
) -> Reply {
    let verifier = request.pkce.as_ref().map(|p| p.verifier.clone());
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", request.redirect_uri.as_str()),
    ];
    if let Some(verifier) = verifier.as_deref() {
        form.push(("code_verifier", verifier));
    }
    match &client.secret {
        Some(secret) => {
            app.token_request(&form, Some((&client.client_id, secret)))
                .await
        }
        None => {
            form.push(("client_id", client.client_id.as_str()));
            app.token_request(&form, None).await
        }
    }
}

/// Signs up a new person through the authorize page of a public client
/// and exchanges the code: the token response.
pub async fn sign_up_and_get_tokens(app: &TestApp, client: &TestClient, email: &str) -> Reply {
    let request = AuthRequest::for_client(client);
    let code = authorization_code(
        app,
        &request,
        Intent::SignUp {
            email,
            password: PASSWORD,
            first_name: "Iris",
            last_name: "Invitee",
        },
    )
    .await;
    let tokens = exchange_code(app, client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    tokens
}

/// Refreshes at the token endpoint as a public client.
pub async fn refresh(app: &TestApp, client: &TestClient, refresh_token: &str) -> Reply {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    match &client.secret {
        Some(secret) => {
            app.token_request(&form, Some((&client.client_id, secret)))
                .await
        }
        None => {
            form.push(("client_id", client.client_id.as_str()));
            app.token_request(&form, None).await
        }
    }
}

/// A code issued for `user_id` by the service itself (no sign-in page), as
/// if that person had just signed in with a password.
pub fn issue_code_directly(app: &TestApp, request: &AuthRequest, user_id: i64) -> String {
    let params = services::oauth::AuthorizeParams::from_query(&request.query()).unwrap();
    app.db
        .write_blocking(|tx| {
            let authorization = services::oauth::check_authorization(tx, &params)
                .unwrap()
                .unwrap();
            services::oauth::issue_code(
                tx,
                &services::oauth::NewCode {
                    authorization: &authorization,
                    user_id,
                    auth_time: Millis::now(),
                    methods: &enlist::domain::AuthMethods::one(
                        enlist::domain::AuthMethod::Password,
                    ),
                },
                Millis::now(),
            )
        })
        .unwrap()
}

/// The app's side once the browser came back to `location`: the request's
/// state and a code, whose tokens open the invitee API.
pub async fn app_signs_in_with(
    app: &TestApp,
    client: &TestClient,
    request: &AuthRequest,
    location: &str,
) {
    let location = url::Url::parse(location).unwrap();
    assert!(
        location.as_str().starts_with(&request.redirect_uri),
        "{location}"
    );
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params.get("state"), Some(&request.state));
    let code = params.get("code").expect("a code for the app");
    let tokens = exchange_code(app, client, request, code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.body["access_token"].as_str().unwrap();
    let listed = app.invitee_get("/invitations", access).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
}
