#![allow(dead_code)] // each test binary uses its own subset

//! A real OpenID provider for the tests: the certified `oidc-provider` npm
//! package, run by Node.js from `tests/oidc-provider/server.mjs` on a free
//! loopback port (its README.md says what it serves).
//!
//! [`shared`] starts one per test binary, for every test to use; [`start`]
//! a private one (a second issuer), stopped when dropped. `npm ci` installs
//! the package first when `tests/oidc-provider/node_modules` is missing.
//!
//! The provider is the one a person meets: [`OidcProvider::sign_in`] drives
//! its login page with a cookie-keeping client, as a browser would. Its
//! accounts: `alice` (alice@example.test, verified), `bob`
//! (bob@example.test, NOT verified), `carol` (carol@example.test, verified),
//! and any other login `x` (x@example.test, verified).
//! [`OidcProvider::set_account`] changes one at the provider; on the shared
//! provider, a test that changes an account signs in with a login of its own
//! ([`unique_login`]), not one another test may be using.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

/// The confidential client for enlist (client_secret_basic), unless the
/// provider was started with `ENLIST_CLIENT_ID` set.
pub const CLIENT_ID: &str = "enlist";
pub const CLIENT_SECRET: &str = "enlist-secret";
/// The same client authenticating with client_secret_post (same secret).
pub const CLIENT_ID_POST: &str = "enlist-post";
/// The public client (PKCE, no secret) that gets access tokens for a resource.
pub const APP_CLIENT_ID: &str = "app";
/// Its redirect URI (any loopback port is accepted too).
pub const APP_REDIRECT_URI: &str = "http://127.0.0.1/app/callback";
/// The resource indicator (RFC 8707) whose access tokens are for enlist: the
/// `aud` of the JWT access tokens [`OidcProvider::access_token`] returns.
pub const ENLIST_API: &str = "urn:enlist:api";
/// A resource that is not enlist: tokens with the wrong audience.
pub const OTHER_API: &str = "urn:other:api";
/// The scope every resource offers; access tokens for a resource carry it.
pub const RESOURCE_SCOPE: &str = "api";

/// How long the provider may take to say it listens (Node.js starting, keys
/// generated): under 1 s on an idle machine, a few on a loaded one. A
/// failure names the process's state, to tell a starved process from a
/// stuck one (a stuck one was Node.js 20 deadlocking as server.mjs exported
/// its new keys, once in about a hundred starts; server.mjs now avoids it).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// What Linux says of a process that did not answer: its state and where it
/// sleeps.
fn process_state(pid: u32) -> String {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{name}"))
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|e| format!("({e})"))
    };
    let state = read("status")
        .lines()
        .filter(|line| line.starts_with("State:") || line.starts_with("Threads:"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{state}, wchan {}", read("wchan"))
}

/// The Node.js project of the provider.
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// The provider shared by this test binary's tests, started on first use.
pub fn shared() -> &'static OidcProvider {
    static SHARED: OnceLock<OidcProvider> = OnceLock::new();
    // Never dropped: the provider exits once this test process is gone (its
    // stdin closes).
    SHARED.get_or_init(start)
}

/// A provider of its own (another issuer, another set of keys and accounts),
/// stopped when dropped.
pub fn start() -> OidcProvider {
    install();
    OidcProvider::spawn()
}

/// A login no other test uses (an account whose email is `<login>@example.test`).
pub fn unique_login(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A client as a browser: keeps cookies, follows no redirects (the
/// client [`OidcProvider::sign_in`] expects).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// `npm ci` in the provider's project when its packages are missing; once at
/// a time, across test processes too (a file lock).
pub fn install() {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return;
    }
    let dir = project_dir();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".install.lock"))
        .unwrap_or_else(|e| panic!("{}/.install.lock: {e}", dir.display()));
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking {}/.install.lock: {e}", dir.display()));
    if !dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        let output = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}", needs_node(&format!("running npm: {e}"))));
        assert!(
            output.status.success(),
            "`npm ci` in {} failed ({}): {}{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    *installed = true;
}

fn needs_node(what: &str) -> String {
    format!(
        "the OpenID provider fixture needs Node.js (20.18 or later) and npm: {what}. \
         Install them (.ci/run does; see tests/oidc-provider/README.md)"
    )
}

/// A running provider.
pub struct OidcProvider {
    issuer: String,
    child: Mutex<Child>,
    /// Held open for the provider's life: it exits when this closes.
    stdin: Mutex<Option<ChildStdin>>,
    /// What it wrote on stderr.
    log: Arc<Mutex<Vec<u8>>>,
    http: reqwest::Client,
}

impl OidcProvider {
    fn spawn() -> Self {
        let dir = project_dir();
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .args(["--port", "0"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", needs_node(&format!("running node: {e}"))));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");

        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.extend_from_slice(&chunk[..n]);
                // The start of the log and its last 256 KiB are enough.
                if log.len() > 512 * 1024 {
                    let keep_from = log.len() - 256 * 1024;
                    log.drain(64 * 1024..keep_from);
                }
            }
        });
        // The first line says where it listens; the rest (there should be
        // none) is drained so that it never blocks on a full pipe.
        let (ready, first_line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = ready.send(first);
            for _ in lines.map_while(Result::ok) {}
        });

        let line = first_line.recv_timeout(START_TIMEOUT);
        let issuer = match line {
            Ok(Some(line)) if line.starts_with("listening on http://127.0.0.1:") => {
                line.trim_start_matches("listening on ").trim().to_owned()
            }
            other => {
                let state = process_state(child.id());
                let _ = child.kill();
                let _ = child.wait();
                // Let the reader finish the log.
                std::thread::sleep(Duration::from_millis(100));
                let log = String::from_utf8_lossy(&log.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_owned();
                panic!(
                    "the OpenID provider (node {}/server.mjs) did not start: {} (the process: {state})\n{log}",
                    dir.display(),
                    match other {
                        Ok(Some(line)) => format!("it printed {line:?}"),
                        Ok(None) => "it exited".to_owned(),
                        Err(_) => format!("no `listening on` line within {START_TIMEOUT:?}"),
                    }
                )
            }
        };
        Self {
            issuer,
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            log,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                // Each test has its own runtime, and a pooled connection dies
                // with the runtime that opened it: no connection is kept for
                // the next test.
                .pool_max_idle_per_host(0)
                .build()
                .expect("a reqwest client"),
        }
    }

    /// `http://127.0.0.1:PORT`, the `iss` of everything it signs.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &'static str {
        CLIENT_SECRET
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    pub fn authorization_endpoint(&self) -> String {
        format!("{}/auth", self.issuer)
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/me", self.issuer)
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// Its discovery document.
    pub async fn discovery(&self) -> serde_json::Value {
        self.get_json(&self.discovery_url()).await
    }

    /// Its public keys (an RS256 and an ES256 key, made when it started).
    pub async fn jwks(&self) -> serde_json::Value {
        self.get_json(&self.jwks_uri()).await
    }

    async fn get_json(&self, url: &str) -> serde_json::Value {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        response.json().await.expect("a JSON document")
    }

    /// What the provider wrote on stderr so far (its warnings and errors).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Changes an account at the provider (its next ID tokens, userinfo
    /// answers and access tokens carry these), through the fixture's own
    /// control endpoint.
    pub async fn set_account(
        &self,
        sub: &str,
        email: &str,
        email_verified: bool,
        given_name: &str,
        family_name: &str,
    ) {
        self.control(
            reqwest::Method::PUT,
            sub,
            Some(serde_json::json!({
                "email": email,
                "email_verified": email_verified,
                "given_name": given_name,
                "family_name": family_name,
            })),
        )
        .await;
    }

    /// The account's claims, as the provider has them now.
    pub async fn account(&self, sub: &str) -> serde_json::Value {
        self.control(reqwest::Method::GET, sub, None).await
    }

    /// Undoes [`Self::set_account`].
    pub async fn reset_account(&self, sub: &str) {
        self.control(reqwest::Method::DELETE, sub, None).await;
    }

    async fn control(
        &self,
        method: reqwest::Method,
        sub: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut url = url::Url::parse(&self.issuer).expect("the issuer is a URL");
        url.path_segments_mut()
            .expect("a base URL")
            .extend(["_test", "accounts", sub]);
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {url}: {status} {text}");
        serde_json::from_str(&text).expect("a JSON answer")
    }

    /// Signs `login` in at the provider, as a person in a browser would:
    /// from `authorization_url` (the provider's authorization URL a relying
    /// party redirected the browser to), follows the redirects that stay on
    /// the provider, fills its login page (and its consent page, should one
    /// appear) and submits it. Returns the absolute URL of the first redirect
    /// that leaves the provider: the relying party's redirect URI with
    /// `code` and `state` (or `error`).
    ///
    /// `browser` keeps cookies and follows no redirects ([`browser`]). A
    /// browser with a session at the provider already is not asked to log in
    /// again (`login` is then unused), as with a real provider; ask with
    /// `prompt=login` or use a new browser to sign in as someone else.
    ///
    /// Panics when the provider answers with an error page instead (an
    /// authorization request it refuses without redirecting back).
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        authorization_url: &str,
        login: &str,
    ) -> String {
        let origin = url::Url::parse(&self.issuer)
            .expect("the issuer is a URL")
            .origin();
        let mut url = url::Url::parse(authorization_url)
            .unwrap_or_else(|e| panic!("not a URL: {authorization_url}: {e}"));
        assert_eq!(
            url.origin(),
            origin,
            "{authorization_url} is not on the provider ({})",
            self.issuer
        );
        // The next request: a GET, or a form's POST.
        let mut post: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            let request = match post.take() {
                None => browser.get(url.clone()),
                Some(fields) => browser.post(url.clone()).form(&fields),
            };
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("{status} without Location from {url}"));
                let next = url
                    .join(location)
                    .unwrap_or_else(|e| panic!("Location {location:?} from {url}: {e}"));
                if next.origin() != origin {
                    return next.to_string();
                }
                url = next;
                continue;
            }
            let page = response.text().await.unwrap_or_default();
            assert!(
                status.is_success(),
                "the provider answered {status} at {url}:\n{}\nits log:\n{}",
                page_text(&page),
                self.log()
            );
            let form = Form::first_in(&page).unwrap_or_else(|| {
                panic!(
                    "no form on the provider's page at {url}:\n{}",
                    page_text(&page)
                )
            });
            let mut fields = form.fields;
            match field(&fields, "prompt") {
                // Its login page: a login and a password (any).
                Some("login") => {
                    set_field(&mut fields, "login", login);
                    set_field(&mut fields, "password", "any password");
                }
                // Its consent page: "Continue".
                Some("consent") => {}
                other => panic!(
                    "an unexpected form (prompt {other:?}) on the provider's page at {url}:\n{}",
                    page_text(&page)
                ),
            }
            let action = url
                .join(&form.action)
                .unwrap_or_else(|e| panic!("form action {:?} at {url}: {e}", form.action));
            assert_eq!(
                action.origin(),
                origin,
                "the provider's form posts off the provider ({action}): a response_mode=form_post \
                 answer is not followed"
            );
            assert!(
                form.method.eq_ignore_ascii_case("post"),
                "a {} form at {url}",
                form.method
            );
            url = action;
            post = Some(fields);
        }
        panic!("more than 20 steps at the provider from {authorization_url}; last at {url}")
    }

    /// A JWT access token (RS256, `typ` `at+jwt`) for `resource` (an
    /// absolute URI such as [`ENLIST_API`]) issued to `login` through a full
    /// authorization code flow of the `app` client with PKCE: `aud` is the
    /// resource, `sub` the login, with `email`, `email_verified`, `scope`
    /// ([`RESOURCE_SCOPE`]), `client_id` `app`, `iss`, `iat`, `exp`, `jti`.
    pub async fn access_token(&self, login: &str, resource: &str) -> String {
        let tokens = self.app_tokens(login, Some(resource)).await;
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {tokens}"))
            .to_owned()
    }

    /// An ID token for `login` issued to the `app` client (`aud` `app`).
    pub async fn id_token(&self, login: &str) -> String {
        let tokens = self.app_tokens(login, None).await;
        tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {tokens}"))
            .to_owned()
    }

    /// The token endpoint's answer to a code flow of the `app` client for
    /// `login` (scopes `openid email profile api`), with `resource` if given.
    pub async fn app_tokens(&self, login: &str, resource: Option<&str>) -> serde_json::Value {
        let pkce = Pkce::new();
        let state = random_token();
        let mut authorize = url::Url::parse(&self.authorization_endpoint()).expect("a URL");
        {
            let mut query = authorize.query_pairs_mut();
            query
                .append_pair("client_id", APP_CLIENT_ID)
                .append_pair("response_type", "code")
                .append_pair("scope", &format!("openid email profile {RESOURCE_SCOPE}"))
                .append_pair("redirect_uri", APP_REDIRECT_URI)
                .append_pair("state", &state)
                .append_pair("nonce", &random_token())
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = resource {
                query.append_pair("resource", resource);
            }
        }
        let back = self.sign_in(&browser(), authorize.as_str(), login).await;
        let back = url::Url::parse(&back).expect("a URL");
        let param = |name: &str| {
            back.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()), "{back}");
        let code = param("code").unwrap_or_else(|| panic!("no code in {back}"));
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", APP_CLIENT_ID.to_owned()),
            ("code", code),
            ("redirect_uri", APP_REDIRECT_URI.to_owned()),
            ("code_verifier", pkce.verifier),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource.to_owned()));
        }
        let response = self
            .http
            .post(self.token_endpoint())
            .form(&form)
            .send()
            .await
            .expect("the token endpoint answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "token endpoint: {status} {body}");
        body
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        drop(self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take());
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        use base64::Engine;
        use sha2::Digest;
        let verifier = format!("{}{}", random_token(), random_token());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// 32 random bytes, base64url (a state, a nonce).
pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a JWT, unverified (its payload, base64url-decoded).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    jwt_part(jwt, 1)
}

/// The header of a JWT.
pub fn jwt_header(jwt: &str) -> serde_json::Value {
    jwt_part(jwt, 0)
}

fn jwt_part(jwt: &str, index: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("not a JWT: {jwt}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("not base64url: {part}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON: {part}: {e}"))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => field.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

/// A page's text for a failure message (its tags and styles dropped).
fn page_text(page: &str) -> String {
    let without_style = match (page.find("<style"), page.find("</style>")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &page[..start], &page[end + "</style>".len()..])
        }
        _ => page.to_owned(),
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in without_style.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = decode_entities(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An HTML form: where it goes, how, and the fields it submits (its inputs
/// with a name, with their values; buttons without a name add nothing).
struct Form {
    action: String,
    method: String,
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first `<form>` of a page.
    fn first_in(page: &str) -> Option<Self> {
        let lower = page.to_ascii_lowercase();
        let start = lower.find("<form")?;
        let end = lower[start..]
            .find("</form")
            .map_or(page.len(), |end| start + end);
        let form = &page[start..end];
        let (open, _) = tag_at(form, 0)?;
        let form_attributes = attributes(open);
        let mut fields = Vec::new();
        let mut at = "<form".len();
        while let Some(offset) = form[at..].to_ascii_lowercase().find("<input") {
            let Some((tag, next)) = tag_at(form, at + offset) else {
                break;
            };
            at = next;
            let input = attributes(tag);
            let kind = input.get("type").map_or("text", String::as_str);
            if matches!(kind, "submit" | "button" | "image" | "reset" | "file") {
                continue;
            }
            if matches!(kind, "checkbox" | "radio") && !input.contains_key("checked") {
                continue;
            }
            if let Some(name) = input.get("name") {
                let value = input.get("value").cloned().unwrap_or_else(|| {
                    if matches!(kind, "checkbox" | "radio") {
                        "on".to_owned()
                    } else {
                        String::new()
                    }
                });
                fields.push((name.clone(), value));
            }
        }
        Some(Self {
            action: form_attributes.get("action").cloned().unwrap_or_default(),
            method: form_attributes
                .get("method")
                .cloned()
                .unwrap_or_else(|| "get".to_owned()),
            fields,
        })
    }
}

/// The tag starting at `at` (`<name attributes>`) and the offset after it.
fn tag_at(html: &str, at: usize) -> Option<(&str, usize)> {
    let mut quote: Option<char> = None;
    for (i, c) in html[at..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some((&html[at..at + i + 1], at + i + 1)),
            (None, _) => {}
        }
    }
    None
}

/// A tag's attributes, names lowercased, values with entities decoded; a
/// bare attribute (`required`) has an empty value.
fn attributes(tag: &str) -> std::collections::HashMap<String, String> {
    let inner = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    // Skip the tag's name.
    let inner = inner.trim_start_matches(|c: char| !c.is_whitespace());
    let mut found = std::collections::HashMap::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = decode_entities(raw);
            rest = remaining.trim_start();
        } else if name.is_empty() {
            // A stray '/' or the like.
            rest = rest.get(1..).unwrap_or("").trim_start();
            continue;
        }
        if !name.is_empty() {
            found.entry(name).or_insert(value);
        }
    }
    found
}

/// HTML character references: the named ones an escaper writes, and numeric.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let number = entity.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
