#![allow(dead_code)] // each test module uses its own subset

//! The app settings that let deliveries reach a loopback receiver
//! (`tests/support/webhook_receiver.rs`), and the webhook API calls tests share.

use crate::helpers::*;
pub use crate::webhook_receiver::{Answer, Receiver};
use serde_json::{Value, json};
use std::time::Duration;

/// An app whose deliveries may reach loopback receivers, polling often and
/// retrying after a second (tests move the clock past the waits).
pub async fn spawn_webhook_app() -> TestApp {
    spawn_webhook_app_with(|_| {}).await
}

pub async fn spawn_webhook_app_with(
    customize: impl FnOnce(&mut enlist::config::Settings),
) -> TestApp {
    spawn_app_with(|settings| {
        webhook_settings(settings);
        customize(settings);
    })
    .await
}

/// The same app without worker loops: the test delivers with
/// [`TestApp::deliver_webhooks_once`] (and sweeps with
/// [`TestApp::sweep_once`]), and asserts on what each pass did.
pub async fn spawn_webhook_app_without_loops(
    customize: impl FnOnce(&mut enlist::config::Settings),
) -> TestApp {
    spawn_app_without_loops(|settings| {
        webhook_settings(settings);
        customize(settings);
    })
    .await
}

fn webhook_settings(settings: &mut enlist::config::Settings) {
    settings.webhooks.allow_http_loopback = true;
    settings.webhooks.poll_interval = enlist::config::HumanDuration(Duration::from_millis(40));
    settings.webhooks.retry_initial = enlist::config::HumanDuration(Duration::from_secs(1));
    settings.webhooks.timeout = enlist::config::HumanDuration(Duration::from_secs(2));
}

/// Creates an endpoint; answers its id and secret.
pub async fn create_endpoint(
    app: &TestApp,
    key: &str,
    url: &str,
    events: &[&str],
) -> (i64, String) {
    let reply = app
        .post(
            "/v1/organization/webhooks",
            key,
            &json!({ "url": url, "events": events, "description": "test receiver" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (
        reply.body["id"].as_i64().unwrap(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// The endpoint's attempts, newest first, as the API lists them.
pub async fn attempts(app: &TestApp, key: &str, endpoint: i64) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/organization/webhooks/{endpoint}/deliveries"),
            key,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint has `n` attempts recorded.
pub async fn wait_for_attempts(app: &TestApp, key: &str, endpoint: i64, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = attempts(app, key, endpoint).await;
        if found.len() >= n {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited for {n} attempts, have {found:?}"
        );
        sleep(Duration::from_millis(30)).await;
    }
}
