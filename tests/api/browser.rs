//! The invitation journey in a real browser: headless Chromium driven
//! through chromedriver (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs). An admin invites through the API with the `file`
//! transport; the browser opens the link from the `.eml`, signs up, and
//! accepts (then, for a second invitation, declines); the admin API sees it.
//! Screenshots of every page land in `$CARGO_TARGET_TMPDIR/browser/`.
//! With the shared OpenID provider (tests/oidc-provider), an invitee and
//! an admin sign in there instead, from "Sign in with Local IdP".
//! Without Chromium and chromedriver the journey fails, naming the packages
//! (`apt-get install chromium chromium-driver`), unless
//! `ENLIST_SKIP_BROWSER_TESTS=1` asks to skip it.

use crate::federation::{PROVIDER_NAME, provider_settings};
use crate::helpers;
use crate::oidc_provider::{self, OidcProvider};

use enlist::config::{HumanDuration, TransportKind};
use fantoccini::{Client, ClientBuilder, Locator};
use helpers::{TestApp, spawn_app_with};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's paths; `ENLIST_TEST_CHROMIUM` and `ENLIST_TEST_CHROMEDRIVER`
/// point elsewhere (the test of the missing-browser failure uses them).
fn chromium() -> PathBuf {
    std::env::var_os("ENLIST_TEST_CHROMIUM")
        .map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

fn chromedriver() -> PathBuf {
    std::env::var_os("ENLIST_TEST_CHROMEDRIVER")
        .map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

const JOURNEY: &str = "browser::invitees_accept_and_decline_from_the_emailed_link_in_chromium";

/// What a machine without the browser is told.
fn missing_browser_message() -> String {
    format!(
        "the browser journey needs {} and {}: install them with \
         `sudo apt-get install chromium chromium-driver` (Debian, Ubuntu), or set \
         ENLIST_SKIP_BROWSER_TESTS=1 to skip this test",
        chromium().display(),
        chromedriver().display()
    )
}

/// The journey, run as its own process (this test binary, that one test)
/// on a machine where the browser is not where it looks.
fn journey_without_a_browser(skip: Option<&str>) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", JOURNEY, "--nocapture", "--test-threads=1"])
        .env("ENLIST_TEST_CHROMIUM", "/nonexistent/chromium")
        .env("ENLIST_TEST_CHROMEDRIVER", "/nonexistent/chromedriver")
        .env_remove("ENLIST_SKIP_BROWSER_TESTS");
    if let Some(value) = skip {
        command.env("ENLIST_SKIP_BROWSER_TESTS", value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn without_chromium_the_journey_fails_naming_the_packages_unless_told_to_skip() {
    let (passed, text) = journey_without_a_browser(None);
    assert!(!passed, "it must not pass by skipping: {text}");
    assert!(
        text.contains("sudo apt-get install chromium chromium-driver"),
        "{text}"
    );
    assert!(text.contains("/nonexistent/chromium"), "{text}");
    assert!(text.contains("ENLIST_SKIP_BROWSER_TESTS=1"), "{text}");

    let (passed, text) = journey_without_a_browser(Some("0"));
    assert!(!passed, "only 1 skips: {text}");

    let (passed, text) = journey_without_a_browser(Some("1"));
    assert!(passed, "{text}");
    assert!(
        text.contains("skipping the browser journey: ENLIST_SKIP_BROWSER_TESTS=1"),
        "{text}"
    );
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_browser(profile: &Path) -> Option<(Driver, Client)> {
    let (chromium, chromedriver) = (chromium(), chromedriver());
    if !chromium.exists() || !chromedriver.exists() {
        // A test that skips itself silently passes on the machines that lack
        // the browser; only an explicit choice skips it.
        if std::env::var("ENLIST_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
            eprintln!("skipping the browser journey: ENLIST_SKIP_BROWSER_TESTS=1");
            return None;
        }
        panic!("{}", missing_browser_message());
    }
    let port = free_port();
    let driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let capabilities = &capabilities;
    let client = eventually(Duration::from_secs(20), || async move {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|error| format!("chromedriver did not answer: {error}"))
    })
    .await;
    Some((driver, client))
}

/// Polls `check` until it answers `Ok` (a page loading, a message being
/// written), panicking with its last `Err` once `within` passed.
async fn eventually<T, F: std::future::Future<Output = Result<T, String>>>(
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(why) if Instant::now() >= deadline => panic!("{why}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The `.eml` files in `outbox`, in the order they were written.
fn eml_files(outbox: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(outbox)
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
}

/// The text parts of an `.eml`, decoded (long lines, such as a link with its
/// secret, arrive quoted-printable).
fn decoded_text(path: &Path) -> String {
    let mail = helpers::read_eml(path);
    format!("{}\n{}", mail.text, mail.html)
}

/// Waits for the `.eml` the worker writes for the `nth` message and returns the link it carries.
async fn emailed_link(outbox: &Path, nth: usize) -> String {
    let file = eventually(Duration::from_secs(10), || async move {
        eml_files(outbox)
            .get(nth - 1)
            .cloned()
            .ok_or_else(|| format!("no message {nth} in {}", outbox.display()))
    })
    .await;
    let raw = decoded_text(&file);
    let start = raw.find("http://").expect("the message carries a link");
    let link: String = raw[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    assert!(link.contains("/invite/"), "{link}");
    link
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The page's text once it contains `expected`. A click that submits a form
/// returns before the next page has loaded, so the text is polled (an
/// element from the page being replaced may go stale meanwhile).
async fn page_text(client: &Client, expected: &str) -> String {
    eventually(Duration::from_secs(15), || async move {
        let text = match client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(expected) {
            Ok(text)
        } else {
            Err(format!("the page never said {expected:?}; it says: {text}"))
        }
    })
    .await
}

/// Clicks the button with this label once the page shows it (the previous
/// click's navigation may still be loading).
async fn click_button(client: &Client, label: &str) {
    click(
        client,
        &format!("//button[normalize-space()='{label}']"),
        &format!("{label:?} button"),
    )
    .await;
}

/// Clicks the element at `xpath` once the page shows it; `what` names it
/// when it never appears.
async fn click(client: &Client, xpath: &str, what: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("no {what}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn invite(app: &TestApp, key: &str, email: &str) {
    let reply = app.invite(key, email, "MEMBER").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn sign_up_on_page(client: &Client, first_name: &str, password: &str) {
    client
        .find(Locator::Id("signup-first"))
        .await
        .unwrap()
        .send_keys(first_name)
        .await
        .unwrap();
    client
        .find(Locator::Id("signup-password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_button(client, "Create account").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitees_accept_and_decline_from_the_emailed_link_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    let app = mailing_app(&outbox_dir, |_| {}).await;
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let org = app.create_org("Acme", "ada@acme.test");

    // Accept: sign up from the link, then accept.
    invite(&app, &org.key, "grace@example.com").await;
    let link = emailed_link(&outbox_dir, 1).await;
    client.goto(&link).await.unwrap();
    screenshot(&client, "01-invite-signed-out").await;
    let text = page_text(&client, "Join Acme").await;
    assert!(text.contains("grace@example.com"), "{text}");
    client.set_window_size(390, 844).await.unwrap();
    screenshot(&client, "02-invite-signed-out-phone").await;
    client.set_window_size(1280, 900).await.unwrap();

    sign_up_on_page(&client, "Grace", "correct horse battery").await;
    page_text(&client, "Accept invitation").await;
    screenshot(&client, "03-invite-signed-in").await;
    click_button(&client, "Accept invitation").await;
    page_text(&client, "Welcome to Acme").await;
    screenshot(&client, "04-accepted").await;

    let users = app.get("/v1/organization/users", &org.key).await;
    let grace = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "grace@example.com")
        .unwrap_or_else(|| panic!("grace is a member: {}", users.text));
    assert_eq!(grace["role"], "MEMBER");
    assert_eq!(grace["firstName"], "Grace");

    // The link again: the page now says it was used.
    client.goto(&link).await.unwrap();
    page_text(&client, "already accepted").await;
    screenshot(&client, "05-already-accepted").await;

    // Decline, as another person in a fresh browser session.
    client.delete_all_cookies().await.unwrap();
    invite(&app, &org.key, "linus@example.com").await;
    let link = emailed_link(&outbox_dir, 2).await;
    client.goto(&link).await.unwrap();
    sign_up_on_page(&client, "Linus", "another good password").await;
    click_button(&client, "Decline").await;
    page_text(&client, "Invitation declined").await;
    screenshot(&client, "06-declined").await;

    let declined = app
        .get("/v1/organization/invitations?status=DECLINED", &org.key)
        .await;
    assert_eq!(declined.body["totalCount"], 1, "{}", declined.text);
    assert_eq!(
        declined.body["items"][0]["inviteeEmail"],
        "linus@example.com"
    );
    let users = app.get("/v1/organization/users", &org.key).await;
    assert!(!users.text.contains("linus@example.com"), "{}", users.text);

    client.close().await.unwrap();
}

/// The `nth` `.eml` the worker wrote, once it exists, and the first link in
/// it that contains `marker`.
async fn emailed_link_with(outbox: &Path, nth: usize, marker: &str) -> String {
    let file = eventually(Duration::from_secs(10), || async move {
        eml_files(outbox)
            .get(nth - 1)
            .cloned()
            .ok_or_else(|| format!("no message {nth}"))
    })
    .await;
    let raw = decoded_text(&file);
    let link = raw
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .find(|word| word.starts_with("http://") && word.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {raw}"));
    link.to_owned()
}

/// A stand-in for an app's callback page: a real HTTP server on 127.0.0.1
/// that answers every request with a page saying it received the redirect.
async fn callback_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0_u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let body = "<!doctype html><main><h1>The app received the redirect</h1></main>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/callback")
}

async fn type_into(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits until the browser is at the app's callback and answers the query.
async fn landed_at(client: &Client, callback: &str) -> std::collections::HashMap<String, String> {
    let url = eventually(Duration::from_secs(15), || async move {
        let url = client.current_url().await.unwrap();
        if url.as_str().starts_with(callback) {
            Ok(url)
        } else {
            Err(format!("never reached the app; at {url}"))
        }
    })
    .await;
    page_text(client, "The app received the redirect").await;
    url.query_pairs().into_owned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_sign_up_goes_through_the_verification_email_and_a_reset_in_chromium() {
    use base64::Engine;
    use sha2::Digest;
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    let app = mailing_app(&outbox_dir, |_| {}).await;
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let callback = callback_receiver().await;
    let registered = app
        .db
        .write_blocking(|tx| {
            enlist::services::oauth::create_client(
                tx,
                &enlist::services::oauth::NewClient {
                    name: "Demo App".into(),
                    redirect_uris: vec![callback.clone()],
                    public: true,
                    user: None,
                    ..Default::default()
                },
                enlist::domain::Millis::now(),
            )
        })
        .unwrap()
        .0;
    let verifier = "a-browser-test-verifier-that-is-long-enough-for-rfc-7636";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{}/oauth/authorize?{}",
        app.address,
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", registered.client_id.as_str()),
            ("redirect_uri", callback.as_str()),
            ("state", "state-from-the-app"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );

    // Sign up on the authorize page: the app gets nothing yet.
    client.goto(&authorize).await.unwrap();
    page_text(&client, "Sign in to continue to Demo App").await;
    screenshot(&client, "10-authorize").await;
    type_into(&client, "signup-email", "hedy@example.com").await;
    type_into(&client, "signup-first", "Hedy").await;
    type_into(&client, "signup-password", "frequency hopping").await;
    click_button(&client, "Create account").await;
    page_text(&client, "Check your inbox").await;
    screenshot(&client, "11-check-your-inbox").await;

    // The verification message's link, in the same browser, confirms and
    // lands back at the app with a code for its request.
    let link = emailed_link_with(&outbox_dir, 1, "/verify/").await;
    client.goto(&link).await.unwrap();
    page_text(&client, "Confirm your email address").await;
    screenshot(&client, "12-confirm-address").await;
    click_button(&client, "Confirm my address").await;
    let params = landed_at(&client, &callback).await;
    assert_eq!(params["state"], "state-from-the-app");
    let tokens = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", callback.as_str()),
            ("client_id", registered.client_id.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    let tokens: serde_json::Value = tokens.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let invitations = app
        .client
        .get(format!("{}/invitations", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        invitations.status(),
        200,
        "a verified address sees its invitations"
    );

    // Forgot the password: a reset from the authorize page, by email,
    // returns to the app too.
    client.delete_all_cookies().await.unwrap();
    client.goto(&authorize).await.unwrap();
    page_text(&client, "Sign in to continue to Demo App").await;
    reset_by_email(
        &client,
        &outbox_dir,
        2,
        "hedy@example.com",
        "a brand new secret",
        Some(("13-reset-request", "14-new-password")),
    )
    .await;
    let params = landed_at(&client, &callback).await;
    assert_eq!(params["state"], "state-from-the-app");
    assert!(params.contains_key("code"));

    // The new password signs in; the old one does not.
    client.delete_all_cookies().await.unwrap();
    client.goto(&authorize).await.unwrap();
    type_into(&client, "signin-email", "hedy@example.com").await;
    type_into(&client, "signin-password", "frequency hopping").await;
    click_button(&client, "Sign in").await;
    page_text(&client, "The email or password is incorrect.").await;
    type_into(&client, "signin-email", "hedy@example.com").await;
    type_into(&client, "signin-password", "a brand new secret").await;
    click_button(&client, "Sign in").await;
    landed_at(&client, &callback).await;

    client.close().await.unwrap();
}

/// From a page with "Forgot your password?": asks for the reset, opens the
/// link in the `nth` message and sets `new_password` (with screenshots of
/// the request and the new-password form, when named).
async fn reset_by_email(
    client: &Client,
    outbox: &Path,
    nth: usize,
    email: &str,
    new_password: &str,
    screenshots: Option<(&str, &str)>,
) {
    client
        .find(Locator::Id("forgot-password"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_text(client, "Reset your password").await;
    type_into(client, "reset-email", email).await;
    if let Some((request, _)) = screenshots {
        screenshot(client, request).await;
    }
    click_button(client, "Send the link").await;
    page_text(client, "Check your inbox").await;
    let link = emailed_link_with(outbox, nth, "/reset/").await;
    client.goto(&link).await.unwrap();
    page_text(client, "Choose a new password").await;
    type_into(client, "new-password", new_password).await;
    if let Some((_, form)) = screenshots {
        screenshot(client, form).await;
    }
    click_button(client, "Set the password").await;
}

/// A screenshot at desktop width and another at a phone's.
async fn screenshot_both(client: &Client, name: &str) {
    screenshot(client, name).await;
    client.set_window_size(390, 844).await.unwrap();
    screenshot(client, &format!("{name}-phone")).await;
    client.set_window_size(1280, 900).await.unwrap();
}

/// What the field with this id holds now.
async fn field_value(client: &Client, id: &str) -> String {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Clicks `label` in the table row that mentions `row_text`.
async fn click_in_row(client: &Client, row_text: &str, label: &str) {
    click(
        client,
        &format!("//tr[td[contains(., '{row_text}')]]//button[normalize-space()='{label}']"),
        &format!("{label:?} button in the row of {row_text}"),
    )
    .await;
}

/// Accepts the confirmation the console asks before a lasting change.
async fn confirm(client: &Client) {
    eventually(Duration::from_secs(10), || async move {
        (client.accept_alert().await).map_err(|_| "no confirmation was asked".to_owned())
    })
    .await;
}

async fn follow_link(client: &Client, label: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::LinkText(label))
        .await
        .unwrap_or_else(|e| panic!("no {label:?} link: {e}"))
        .click()
        .await
        .unwrap();
}

/// An app whose messages land as `.eml` files in `outbox_dir` (polled
/// every 100 ms), with `more` settings on top.
async fn mailing_app(
    outbox_dir: &Path,
    more: impl FnOnce(&mut enlist::config::Settings),
) -> TestApp {
    let outbox_dir = outbox_dir.to_owned();
    spawn_app_with(move |s| {
        s.delivery.transport = TransportKind::File;
        s.delivery.file.dir = outbox_dir;
        s.delivery.poll_interval = HumanDuration(Duration::from_millis(100));
        more(s);
    })
    .await
}

/// A server mailing `.eml` files into `outbox_dir` (webhooks to loopback
/// allowed), with Acme and its admin Ada, whose password is "analytical engine".
async fn acme_with_ada(outbox_dir: &Path) -> (TestApp, helpers::TestOrg) {
    let app = mailing_app(outbox_dir, |s| s.webhooks.allow_http_loopback = true).await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.set_password("ada@acme.test", "analytical engine");
    (app, org)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_organization_from_the_console_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    let (app, org) = acme_with_ada(&outbox_dir).await;
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");

    // Sign in.
    client
        .goto(&format!("{}/admin", app.address))
        .await
        .unwrap();
    page_text(&client, "Admin console").await;
    screenshot_both(&client, "20-console-sign-in").await;
    type_into(&client, "signin-email", "ada@acme.test").await;
    type_into(&client, "signin-password", "analytical engine").await;
    click_button(&client, "Sign in").await;
    let text = page_text(&client, "Recent activity").await;
    assert!(text.contains("Acme"), "{text}");
    let members = client.find(Locator::Id("member-count")).await.unwrap();
    assert_eq!(members.text().await.unwrap(), "2");
    screenshot_both(&client, "21-console-overview").await;

    // Invite: a typo first, kept and explained, then the real address.
    follow_link(&client, "Invitations").await;
    page_text(&client, "No invitations match").await;
    follow_link(&client, "Invite someone").await;
    page_text(&client, "Send invitation").await;
    type_into(&client, "invite-email", "grace@example").await;
    type_into(&client, "invite-message", "Welcome aboard!").await;
    click_button(&client, "Send invitation").await;
    let field_error = client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Id("invite-email-error"))
        .await
        .unwrap();
    assert!(!field_error.text().await.unwrap().is_empty());
    let kept = client.find(Locator::Id("invite-message")).await.unwrap();
    assert_eq!(
        kept.prop("value").await.unwrap().as_deref(),
        Some("Welcome aboard!")
    );
    screenshot_both(&client, "22-console-invite-error").await;
    type_into(&client, "invite-email", "grace@example.com").await;
    click_button(&client, "Send invitation").await;
    let text = page_text(&client, "Invitation sent.").await;
    assert!(
        text.contains("grace@example.com") && text.contains("PENDING"),
        "{text}"
    );
    screenshot_both(&client, "23-console-invitations").await;
    let pending = app
        .get("/v1/organization/invitations?status=PENDING", &org.key)
        .await;
    assert_eq!(pending.body["totalCount"], 1, "{}", pending.text);
    assert_eq!(
        pending.body["items"][0]["inviteeEmail"],
        "grace@example.com"
    );
    let invitation_id = pending.body["items"][0]["id"].as_i64().unwrap();
    let grace_link = emailed_link(&outbox_dir, 1).await;
    assert!(grace_link.contains("/invite/"), "{grace_link}");

    // Revoke it.
    click_in_row(&client, "grace@example.com", "Revoke").await;
    confirm(&client).await;
    let text = page_text(&client, "Invitation revoked.").await;
    assert!(text.contains("REVOKED"), "{text}");
    let revoked = app
        .get(
            &format!("/v1/organization/invitations/{invitation_id}"),
            &org.key,
        )
        .await;
    assert_eq!(revoked.body["status"], "REVOKED", "{}", revoked.text);

    // An API key with one scope: shown once, works, then revoked.
    follow_link(&client, "API keys").await;
    follow_link(&client, "Create a key").await;
    type_into(&client, "key-name", "reporting").await;
    client
        .find(Locator::Css("input[value='invitations:read']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&client, "24-console-key-new").await;
    click_button(&client, "Create key").await;
    page_text(&client, "shown only this once").await;
    let secret = field_value(&client, "new-key").await;
    assert!(secret.starts_with("enl_"), "{secret}");
    let copy = client.find(Locator::Id("copy-key")).await.unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the script shows the copy button"
    );
    screenshot_both(&client, "25-console-key-created").await;
    assert_eq!(
        app.get("/v1/organization/invitations", &secret)
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/v1/organization/users", &secret).await.status,
        403,
        "only the chosen scope"
    );
    follow_link(&client, "Done").await;
    click_in_row(&client, "reporting", "Revoke").await;
    confirm(&client).await;
    page_text(&client, "API key revoked.").await;
    screenshot_both(&client, "26-console-keys").await;
    assert_eq!(
        app.get("/v1/organization/invitations", &secret)
            .await
            .status,
        401
    );

    // A join link, its URL shown once.
    follow_link(&client, "Join links").await;
    page_text(&client, "No join links yet.").await;
    follow_link(&client, "Make a join link").await;
    type_into(&client, "link-max-uses", "5").await;
    type_into(&client, "link-domains", "acme.test").await;
    screenshot(&client, "30-console-join-link-new").await;
    click_button(&client, "Make link").await;
    page_text(&client, "Join link made").await;
    let join_url = field_value(&client, "new-link").await;
    assert!(join_url.contains("/join/"), "{join_url}");
    screenshot_both(&client, "31-console-join-link-made").await;
    follow_link(&client, "Done").await;
    let text = page_text(&client, "0 of 5").await;
    assert!(
        text.contains("acme.test") && text.contains("Active"),
        "{text}"
    );
    screenshot_both(&client, "32-console-join-links").await;

    // A webhook endpoint, its signing secret shown once.
    follow_link(&client, "Webhooks").await;
    follow_link(&client, "Add a webhook").await;
    type_into(&client, "webhook-url", "http://127.0.0.1:9/hook").await;
    type_into(&client, "webhook-description", "billing sync").await;
    client
        .find(Locator::Css("input[value='member.removed']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&client, "33-console-webhook-new").await;
    click_button(&client, "Add webhook").await;
    page_text(&client, "Copy the signing secret now").await;
    screenshot(&client, "34-console-webhook-added").await;
    follow_link(&client, "Done").await;
    let text = page_text(&client, "billing sync").await;
    assert!(text.contains("member.removed"), "{text}");
    screenshot_both(&client, "35-console-webhooks").await;

    // Remove a member.
    follow_link(&client, "Members").await;
    page_text(&client, "bob@acme.test").await;
    screenshot_both(&client, "27-console-members").await;
    click_in_row(&client, "bob@acme.test", "Remove").await;
    confirm(&client).await;
    let text = page_text(&client, "Member removed").await;
    assert!(!text.contains("bob@acme.test"), "{text}");
    let users = app.get("/v1/organization/users", &org.key).await;
    assert!(
        !users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == bob),
        "{}",
        users.text
    );

    // Everything above is in the audit log, done by Ada in the browser.
    follow_link(&client, "Activity").await;
    let text = page_text(&client, "member.removed").await;
    for kind in [
        "invitation.created",
        "invitation.revoked",
        "api_key.created",
        "api_key.revoked",
    ] {
        assert!(text.contains(kind), "{kind}: {text}");
    }
    assert!(text.contains(&format!("user #{}", org.admin_id)), "{text}");
    screenshot_both(&client, "28-console-activity").await;

    // Sign out: the console is closed to this browser.
    click_button(&client, "Sign out").await;
    page_text(&client, "You are signed out.").await;
    client
        .goto(&format!("{}/admin/orgs/{}", app.address, org.uuid))
        .await
        .unwrap();
    // The browser forgot its session: the sign-in page, without a message.
    let text = page_text(&client, "Sign in with the account").await;
    assert!(!text.contains("session has ended"), "{text}");
    screenshot(&client, "29-console-signed-out").await;

    client.close().await.unwrap();
}

/// An admin's keys minted in the console end with a password reset: whoever
/// knew the old password could have made them. Minting one asks for the
/// password again once the sign-in is a few minutes old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_revokes_the_keys_an_admin_minted_in_the_console_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    let (app, org) = acme_with_ada(&outbox_dir).await;
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };

    client
        .goto(&format!("{}/admin", app.address))
        .await
        .unwrap();
    type_into(&client, "signin-email", "ada@acme.test").await;
    type_into(&client, "signin-password", "analytical engine").await;
    click_button(&client, "Sign in").await;
    page_text(&client, "Recent activity").await;

    // Just signed in: the key is made without asking again.
    let mint = |name: &'static str| {
        let client = client.clone();
        async move {
            follow_link(&client, "API keys").await;
            follow_link(&client, "Create a key").await;
            type_into(&client, "key-name", name).await;
            client
                .find(Locator::Css("input[value='organization:read']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    mint("deploy").await;
    click_button(&client, "Create key").await;
    page_text(&client, "shown only this once").await;
    let first = field_value(&client, "new-key").await;
    follow_link(&client, "Done").await;

    // Six minutes on, the form asks for the password first.
    app.clock.advance(Duration::from_secs(6 * 60));
    mint("backup").await;
    page_text(&client, "Your password").await;
    type_into(&client, "key-password", "analytical engine").await;
    screenshot(&client, "40-console-key-step-up").await;
    click_button(&client, "Create key").await;
    page_text(&client, "shown only this once").await;
    let second = field_value(&client, "new-key").await;
    for key in [&first, &second, &org.key] {
        assert_eq!(app.get("/v1/organization", key).await.status, 200);
    }

    // "Forgot your password?" from the console's door, by email.
    client.delete_all_cookies().await.unwrap();
    client
        .goto(&format!("{}/admin", app.address))
        .await
        .unwrap();
    reset_by_email(
        &client,
        &outbox_dir,
        1,
        "ada@acme.test",
        "difference engine",
        None,
    )
    .await;
    let text = page_text(&client, "Your password is changed").await;
    assert!(
        text.contains("2 API keys created in the admin console"),
        "{text}"
    );
    screenshot_both(&client, "41-reset-revoked-keys").await;

    // The console's keys are revoked; the operator's stays.
    assert_eq!(app.get("/v1/organization", &first).await.status, 401);
    assert_eq!(app.get("/v1/organization", &second).await.status, 401);
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
    follow_link(&client, "Continue to the admin console").await;
    follow_link(&client, "API keys").await;
    let text = page_text(&client, "password was reset").await;
    assert!(text.contains("deploy") && text.contains("backup"), "{text}");

    client.close().await.unwrap();
}

/// A server mailing `.eml` files into `outbox_dir` that offers the shared
/// OpenID provider (a real `oidc-provider`, tests/oidc-provider) as `local`,
/// "Sign in with Local IdP".
async fn federated_app(outbox_dir: &Path) -> (TestApp, &'static OidcProvider) {
    let provider = oidc_provider::shared();
    let app = mailing_app(outbox_dir, |s| {
        s.auth.oidc_providers = vec![provider_settings(provider, "local")];
    })
    .await;
    (app, provider)
}

/// Clicks the page's "Sign in with Local IdP" link, after checking that it
/// starts the provider's sign-in and comes back to this page.
async fn sign_in_with_the_provider(client: &Client, app: &TestApp) {
    let label = format!("Sign in with {PROVIDER_NAME}");
    let link = client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::LinkText(&label))
        .await
        .unwrap_or_else(|e| panic!("no {label:?} link: {e}"));
    let here = client.current_url().await.unwrap();
    let target = link.prop("href").await.unwrap().unwrap_or_default();
    let target = url::Url::parse(&target).unwrap_or_else(|e| panic!("{target:?}: {e}"));
    assert!(
        target.as_str().starts_with(&app.address) && target.path() == "/auth/oidc/local/start",
        "{target}"
    );
    let return_to = target
        .query_pairs()
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value.into_owned());
    let this_page = match here.query() {
        Some(query) => format!("{}?{query}", here.path()),
        None => here.path().to_owned(),
    };
    assert_eq!(return_to, Some(this_page), "the link comes back here");
    link.click().await.unwrap();
}

/// At the provider's login page (its own, `devInteractions`): waits for
/// it, types `login` and a password (any), screenshots it as `name` and
/// submits. A consent page, should the provider show one, is continued
/// (screenshotted as `{name}-consent`). Returns once the browser is back
/// at `app`, with the URL it came back to.
async fn log_in_at_provider(
    client: &Client,
    provider: &OidcProvider,
    app: &TestApp,
    login: &str,
    name: &str,
) -> url::Url {
    let issuer = provider.issuer();
    let issuer = issuer.as_str();
    let login_field = eventually(Duration::from_secs(15), || async move {
        let url = client.current_url().await.unwrap();
        if !url.as_str().starts_with(issuer) {
            return Err(format!("never reached the provider at {issuer}; at {url}"));
        }
        client
            .find(Locator::Css("input[name='login']"))
            .await
            .map_err(|e| format!("no login field at {url}: {e}"))
    })
    .await;
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/interaction/"), "{url}");
    login_field.clear().await.unwrap();
    login_field.send_keys(login).await.unwrap();
    client
        .find(Locator::Css("input[name='password']"))
        .await
        .unwrap()
        .send_keys("any password at all")
        .await
        .unwrap();
    screenshot(client, name).await;
    click(
        client,
        "//button[normalize-space()='Sign-in']",
        "provider's Sign-in button",
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut consented = false;
    loop {
        let url = client.current_url().await.unwrap();
        if url.as_str().starts_with(&app.address) {
            return url;
        }
        if !consented && url.as_str().starts_with(issuer) {
            let consent = client
                .find(Locator::XPath("//button[normalize-space()='Continue']"))
                .await;
            if let Ok(button) = consent {
                screenshot(client, &format!("{name}-consent")).await;
                button.click().await.unwrap();
                consented = true;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never came back from the provider; at {url}:\n{}",
            client.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_signs_in_at_their_identity_provider_and_accepts_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    // The browser first: a machine that skips it needs no provider either.
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let (app, provider) = federated_app(&outbox_dir).await;
    let org = app.create_org("Acme", "ada@acme.test");

    // The emailed link offers the provider next to the password forms.
    invite(&app, &org.key, "alice@example.test").await;
    let link = emailed_link(&outbox_dir, 1).await;
    client.goto(&link).await.unwrap();
    let text = page_text(&client, "Join Acme").await;
    assert!(
        text.contains("alice@example.test")
            && text.contains(&format!("Sign in with {PROVIDER_NAME}")),
        "{text}"
    );
    screenshot_both(&client, "50-invite-offers-the-provider").await;

    // Off to the provider, as alice (any password), and back.
    sign_in_with_the_provider(&client, &app).await;
    let back = log_in_at_provider(&client, provider, &app, "alice", "51-provider-login").await;
    let text = page_text(&client, "Accept invitation").await;
    let invitation = url::Url::parse(&link).unwrap();
    assert_eq!(
        (back.path(), back.query()),
        (invitation.path(), invitation.query()),
        "back at the invitation, its token kept"
    );
    let now = client.current_url().await.unwrap();
    assert_eq!(now.path(), invitation.path());
    assert!(!text.contains("Create account"), "signed in: {text}");
    screenshot_both(&client, "52-invite-signed-in-by-provider").await;

    click_button(&client, "Accept invitation").await;
    let text = page_text(&client, "Welcome to Acme").await;
    assert!(
        text.contains("You accepted the invitation and are now a member of Acme"),
        "{text}"
    );
    screenshot_both(&client, "53-accepted-by-provider").await;

    let users = app.get("/v1/organization/users", &org.key).await;
    let alice = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "alice@example.test")
        .unwrap_or_else(|| panic!("alice is a member: {}", users.text));
    assert_eq!(alice["role"], "MEMBER");
    // The account came from the identity: no password, one identity (the
    // provider's `alice`), the address verified by the provider.
    let user_id = app.query_i64("SELECT id FROM users WHERE email = 'alice@example.test'");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT password_hash IS NULL FROM users WHERE id = {user_id}"
        )),
        1,
        "no password was ever set"
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT email_verified_at IS NOT NULL FROM users WHERE id = {user_id}"
        )),
        1,
        "the provider vouched for the address"
    );
    assert_eq!(
        app.query_strings(&format!(
            "SELECT issuer || ' ' || subject FROM identities WHERE user_id = {user_id}"
        )),
        [format!("{} alice", provider.issuer())]
    );

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_to_the_console_at_their_identity_provider_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    // The browser first: a machine that skips it needs no provider either.
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let (app, provider) = federated_app(outbox.path()).await;
    let org = app.create_org("Acme", "alice@example.test");

    client
        .goto(&format!("{}/admin", app.address))
        .await
        .unwrap();
    let text = page_text(&client, "Admin console").await;
    assert!(
        text.contains(&format!("Sign in with {PROVIDER_NAME}")),
        "{text}"
    );
    screenshot_both(&client, "54-console-offers-the-provider").await;

    sign_in_with_the_provider(&client, &app).await;
    log_in_at_provider(
        &client,
        provider,
        &app,
        "alice",
        "55-provider-login-console",
    )
    .await;
    // One organization: straight into its console.
    let text = page_text(&client, "Recent activity").await;
    assert!(text.contains("Acme"), "{text}");
    let url = client.current_url().await.unwrap();
    assert!(
        url.path().starts_with(&format!("/admin/orgs/{}", org.uuid)),
        "{url}"
    );
    screenshot_both(&client, "56-console-signed-in-by-provider").await;

    // The member list names the identity the admin signed in with.
    follow_link(&client, "Members").await;
    let text = page_text(&client, &format!("{PROVIDER_NAME}: alice")).await;
    assert!(text.contains("alice@example.test"), "{text}");
    screenshot_both(&client, "57-console-members-identity").await;

    // Her account page: the identity, unlinked once she has a password, and
    // connected again with the page's form (through the provider, where she
    // is still signed in: the form's redirect there is one the page's
    // form-action allows).
    let user_id = app.query_i64("SELECT id FROM users WHERE email = 'alice@example.test'");
    crate::federation::give_password(&app, user_id, "alice's own password");
    client
        .goto(&format!("{}/account", app.address))
        .await
        .unwrap();
    let text = page_text(&client, "Identity providers").await;
    assert!(text.contains("alice"), "{text}");
    click_button(&client, "Unlink").await;
    page_text(&client, "no longer signs you in").await;
    screenshot_both(&client, "58-account-identity-unlinked").await;
    click_button(&client, &format!("Connect {PROVIDER_NAME}")).await;
    let text = page_text(&client, "The identity is linked").await;
    assert!(text.contains("alice"), "{text}");
    screenshot_both(&client, "59-account-identity-connected").await;

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_accepts_signed_in_by_an_emailed_code_in_chromium() {
    let outbox = tempfile::tempdir().unwrap();
    let outbox_dir = outbox.path().to_owned();
    let app = mailing_app(&outbox_dir, |_| {}).await;
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let org = app.create_org("Acme", "ada@acme.test");

    invite(&app, &org.key, "iris@example.test").await;
    let link = emailed_link(&outbox_dir, 1).await;
    client.goto(&link).await.unwrap();
    page_text(&client, "Join Acme").await;
    click_button(&client, "Email me a code").await;
    let text = page_text(&client, "We sent a code to iris@example.test").await;
    assert!(text.contains("Send a new code"), "{text}");
    screenshot_both(&client, "60-code-sent").await;

    // The message's link fills the code in; only the button uses it.
    let code_link = emailed_link_with(&outbox_dir, 2, "/auth/email-code?code=").await;
    let code = code_link.rsplit("code=").next().unwrap().to_owned();
    client.goto(&code_link).await.unwrap();
    page_text(&client, "Check your inbox").await;
    assert_eq!(field_value(&client, "sign-in-code").await, code);
    screenshot_both(&client, "61-code-filled-in").await;
    click_button(&client, "Sign in").await;

    let text = page_text(&client, "Accept invitation").await;
    assert!(!text.contains("Create account"), "signed in: {text}");
    click_button(&client, "Accept invitation").await;
    page_text(&client, "Welcome to Acme").await;
    screenshot_both(&client, "62-accepted-by-code").await;

    let users = app.get("/v1/organization/users", &org.key).await;
    assert!(users.text.contains("iris@example.test"), "{}", users.text);
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM users WHERE email = 'iris@example.test' \
             AND password_hash IS NULL AND email_verified_at IS NOT NULL"
        ),
        1,
        "a proven account without a password"
    );

    client.close().await.unwrap();
}

/// A WebDriver command of the WebAuthn extension (W3C WebAuthn §11): the
/// virtual authenticator that stands in for a security key or a phone.
#[derive(Debug)]
struct WebAuthnCommand {
    method: http::Method,
    /// After `/session/{id}/webauthn/`.
    path: String,
    body: Option<serde_json::Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(serde_json::Value::to_string),
        )
    }
}

async fn webauthn(
    client: &Client,
    method: http::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    client
        .issue_cmd(WebAuthnCommand {
            method,
            path: path.to_owned(),
            body,
        })
        .await
        .unwrap_or_else(|e| panic!("webauthn {path}: {e}"))
}

/// Clicks the button with this id once the passkey script showed it.
async fn click_shown(client: &Client, id: &str) {
    shown(client, id).await.click().await.unwrap();
}

/// The element with this id once it is shown (the passkey script shows
/// its forms).
async fn shown(client: &Client, id: &str) -> fantoccini::elements::Element {
    eventually(Duration::from_secs(15), || async move {
        let found = client
            .find(Locator::Id(id))
            .await
            .map_err(|e| format!("no #{id}: {e}"))?;
        if found.is_displayed().await.unwrap_or(false) {
            Ok(found)
        } else {
            Err(format!("#{id} is never shown"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_with_a_passkey_and_a_cloned_one_is_refused_in_chromium() {
    // WebAuthn needs a domain name: the app is reached as localhost (a
    // secure context over http), never as 127.0.0.1.
    let port = free_port();
    let site = format!("http://localhost:{port}");
    let public_url = site.clone();
    let app = spawn_app_with(move |s| {
        s.server.bind = format!("127.0.0.1:{port}");
        s.server.public_url = Some(public_url);
        s.auth.admin_mfa = enlist::domain::second_factor::AdminMfa::Required;
    })
    .await;
    app.create_org("Acme", "ada@acme.test");
    app.set_password("ada@acme.test", "analytical engine");
    let profile = tempfile::tempdir().unwrap();
    let Some((_driver, client)) = start_browser(profile.path()).await else {
        return;
    };
    let authenticator = webauthn(
        &client,
        http::Method::POST,
        "authenticator",
        Some(json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        })),
    )
    .await;
    let authenticator = authenticator.as_str().unwrap().to_owned();

    // Signed in with the password on the account page, Ada adds a passkey.
    client.goto(&format!("{site}/account")).await.unwrap();
    page_text(&client, "Sign in").await;
    type_into(&client, "signin-email", "ada@acme.test").await;
    type_into(&client, "signin-password", "analytical engine").await;
    click_button(&client, "Sign in").await;
    page_text(&client, "No passkey is registered").await;
    shown(&client, "add-passkey").await;
    type_into(&client, "passkey-name", "Laptop").await;
    click_shown(&client, "add-passkey").await;
    let text = page_text(&client, "The passkey is added").await;
    assert!(text.contains("Laptop"), "{text}");
    screenshot_both(&client, "70-passkey-added").await;
    let stored = webauthn(
        &client,
        http::Method::GET,
        &format!("authenticator/{authenticator}/credentials"),
        None,
    )
    .await;
    let credential = stored[0].clone();
    assert_eq!(credential["isResidentCredential"], true, "{stored}");
    assert_eq!(credential["rpId"], "localhost", "{stored}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkeys"), 1);

    // A password alone no longer opens the console (a passkey is a second
    // factor it now asks for): she confirms with the passkey right there,
    // and the session she holds is admitted.
    client.goto(&format!("{site}/admin")).await.unwrap();
    page_text(&client, "Use your passkey to open the admin console").await;
    screenshot_both(&client, "70a-console-asks-for-the-passkey").await;
    click_shown(&client, "second-factor-passkey").await;
    let text = page_text(&client, "Recent activity").await;
    assert!(text.contains("Acme"), "{text}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 1);

    // Minutes later, a key asks for the passkey again, in place: the form
    // keeps what she typed and the key is made.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    follow_link(&client, "API keys").await;
    follow_link(&client, "Create a key").await;
    page_text(&client, "Create an API key").await;
    type_into(&client, "key-name", "reporting").await;
    client
        .find(Locator::Css("input[value='invitations:read']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot_both(&client, "70b-key-asks-for-the-passkey").await;
    click_shown(&client, "step-up-passkey").await;
    page_text(&client, "shown only this once").await;
    let secret = field_value(&client, "new-key").await;
    assert_eq!(
        app.get("/v1/organization/invitations", &secret)
            .await
            .status,
        200
    );
    click_button(&client, "Sign out").await;
    page_text(&client, "Admin console").await;

    // At the console's front door, the passkey alone (no password) admits her.
    screenshot_both(&client, "71-console-passkey-button").await;
    click_shown(&client, "passkey-sign-in").await;
    let text = page_text(&client, "Recent activity").await;
    assert!(text.contains("Acme"), "{text}");
    screenshot_both(&client, "72-console-by-passkey").await;
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM passkeys WHERE last_used_at IS NOT NULL"),
        1
    );

    // A clone of the authenticator (the same key, an older counter) is refused.
    click_button(&client, "Sign out").await;
    page_text(&client, "Admin console").await;
    webauthn(
        &client,
        http::Method::DELETE,
        &format!("authenticator/{authenticator}/credentials"),
        None,
    )
    .await;
    let mut clone = credential.clone();
    clone["signCount"] = json!(0);
    webauthn(
        &client,
        http::Method::POST,
        &format!("authenticator/{authenticator}/credential"),
        Some(clone),
    )
    .await;
    click_shown(&client, "passkey-sign-in").await;
    let text = page_text(&client, "counter went backwards").await;
    assert!(text.contains("cloned authenticator"), "{text}");
    assert!(!text.contains("Recent activity"), "{text}");
    screenshot_both(&client, "73-cloned-passkey-refused").await;

    client.close().await.unwrap();
}
