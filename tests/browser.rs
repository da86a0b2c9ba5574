//! The invitation journey in a real browser: headless Chromium driven
//! through chromedriver (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs). An admin invites through the API with the `file`
//! transport; the browser opens the link from the `.eml`, signs up, and
//! accepts (then, for a second invitation, declines); the admin API sees it.
//! Screenshots of every page land in `$CARGO_TARGET_TMPDIR/browser/`.
//! Without Chromium and chromedriver the journey fails, naming the packages
//! (`apt-get install chromium chromium-driver`), unless
//! `ENLIST_SKIP_BROWSER_TESTS=1` asks to skip it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;

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

const JOURNEY: &str = "invitees_accept_and_decline_from_the_emailed_link_in_chromium";

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
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Some((driver, client)),
            Err(error) if Instant::now() > deadline => {
                panic!("chromedriver did not answer: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Waits for the `.eml` the worker writes for the `nth` message and returns the link it carries.
async fn emailed_link(outbox: &Path, nth: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(outbox)
            .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        if files.len() >= nth {
            let raw = std::fs::read_to_string(&files[nth - 1]).unwrap();
            let start = raw.find("http://").expect("the message carries a link");
            let link: String = raw[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
                .collect();
            assert!(link.contains("/invite/"), "{link}");
            return link;
        }
        assert!(
            Instant::now() < deadline,
            "no message {nth} in {}",
            outbox.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(expected) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the page never said {expected:?}; it says: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the button with this label once the page shows it (the previous
/// click's navigation may still be loading).
async fn click_button(client: &Client, label: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {label:?} button: {e}"))
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
    let app = spawn_app_with(|s| {
        s.delivery.transport = TransportKind::File;
        s.delivery.file.dir = outbox_dir.clone();
        s.delivery.poll_interval = HumanDuration(Duration::from_millis(100));
    })
    .await;
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
