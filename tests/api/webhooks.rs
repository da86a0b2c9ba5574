//! Webhooks end to end: endpoints over the admin API, deliveries to a real
//! HTTP receiver, signatures checked with the Standard Webhooks library.

use crate::helpers::*;
use crate::webhook_helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const INVITATIONS: &[&str] = &["invitation.created"];

/// The event of the log with this id.
async fn logged_event(app: &TestApp, key: &str, id: &str) -> Value {
    let page = app.get("/v1/organization/events?limit=1000", key).await;
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("event {id} not in the log: {}", page.text))
}

#[tokio::test]
async fn deliveries_are_signed_events_exactly_as_the_log_holds_them() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    let (endpoint, secret) = create_endpoint(&app, &org.key, &receiver.url, &[]).await;

    let invitation = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    // One delivery per endpoint in flight: one pass each, in order.
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    let got = receiver.received();
    assert_eq!(receiver.types(), ["webhook.created", "invitation.created"]);
    for delivery in &got {
        delivery
            .verify(&secret)
            .unwrap_or_else(|e| panic!("signature: {e}"));
        let event = delivery.json();
        assert_eq!(delivery.header("webhook-id"), event["id"]);
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(delivery.path, "/hook");
        // The body is the logged event, byte for byte as JSON.
        assert_eq!(
            logged_event(&app, &org.key, event["id"].as_str().unwrap()).await,
            event
        );
    }
    let created = got[1].json();
    assert_eq!(created["organizationId"], org.id);
    assert_eq!(created["data"]["invitation"]["id"], invitation);
    assert_eq!(created["data"]["invitation"]["status"], "PENDING");
    assert_eq!(created["actor"]["type"], "api_key");
    // Someone else's secret does not verify it.
    let other = enlist::auth::webhook_signing::new_secret();
    assert!(got[1].verify(&other).is_err());

    let attempts = attempts(&app, &org.key, endpoint).await;
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|a| a["status"] == "delivered" && a["responseStatus"] == 200),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_webhook_id_until_it_answers_2xx() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![Answer::Status(500), Answer::Status(503)]);
    let (endpoint, secret) = create_endpoint(&app, &org.key, &receiver.url, INVITATIONS).await;
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    assert_eq!(receiver.received().len(), 1);
    let after_first = attempts(&app, &org.key, endpoint).await;
    assert_eq!(after_first[0]["status"], "retrying", "{after_first:?}");
    assert_eq!(after_first[0]["responseStatus"], 500);
    assert!(after_first[0]["nextAttemptAt"].is_string());
    // Nothing more until the wait (1 s doubled, ±20 %) has passed.
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    assert_eq!(receiver.received().len(), 1);
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    app.clock.advance(Duration::from_secs(3));
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 3);

    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for delivery in &got {
        delivery.verify(&secret).unwrap();
    }
    let attempts = attempts(&app, &org.key, endpoint).await;
    let summary: Vec<(Value, Value, Value)> = attempts
        .iter()
        .map(|a| {
            (
                a["attempt"].clone(),
                a["status"].clone(),
                a["responseStatus"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(3), json!("delivered"), json!(200)),
            (json!(2), json!("retrying"), json!(503)),
            (json!(1), json!("retrying"), json!(500)),
        ]
    );
    // Delivered: no more attempts whatever the clock says.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn one_endpoint_receives_its_events_in_order_even_while_it_fails() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![Answer::Status(500)]);
    create_endpoint(&app, &org.key, &receiver.url, INVITATIONS).await;
    for n in 0..3 {
        app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
            .await;
    }
    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    // The first failed: the later ones wait behind it.
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    assert_eq!(receiver.received().len(), 1);
    app.clock.advance(Duration::from_secs(5));
    for _ in 0..3 {
        assert_eq!(
            app.deliver_webhooks_once().await.delivered,
            1,
            "one at a time"
        );
    }
    let got = receiver.received();
    let invitees: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["invitation"]["inviteeEmail"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        invitees,
        [
            "p0@example.com",
            "p0@example.com",
            "p1@example.com",
            "p2@example.com"
        ]
    );
}

#[tokio::test]
async fn a_hanging_receiver_blocks_neither_other_endpoints_nor_the_api() {
    let app = spawn_webhook_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let hanging = Receiver::start(vec![Answer::Hang]);
    let healthy = Receiver::start(vec![]);
    let (stuck, _) = create_endpoint(&app, &org.key, &hanging.url, INVITATIONS).await;
    create_endpoint(&app, &org.key, &healthy.url, INVITATIONS).await;

    let started = std::time::Instant::now();
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    healthy.wait_for(1).await;
    hanging.wait_for(1).await;
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    healthy.wait_for(2).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the healthy endpoint waited for the hanging one"
    );
    let attempts = wait_for_attempts(&app, &org.key, stuck, 1).await;
    assert_eq!(attempts[0]["status"], "retrying");
    assert_eq!(attempts[0]["responseStatus"], Value::Null);
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 2s"),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_huge_answers_are_not_read() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let elsewhere = Receiver::start(vec![]);
    let redirecting = Receiver::start(vec![Answer::Redirect(elsewhere.url.clone())]);
    let huge = Receiver::start(vec![Answer::Huge(10 * 1024 * 1024)]);
    let (redirected, _) = create_endpoint(&app, &org.key, &redirecting.url, INVITATIONS).await;
    let (big, _) = create_endpoint(&app, &org.key, &huge.url, INVITATIONS).await;
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let pass = app.deliver_webhooks_once().await;
    assert_eq!((pass.delivered, pass.failed), (1, 1), "{pass:?}");
    let attempts = crate::webhook_helpers::attempts(&app, &org.key, redirected).await;
    assert_eq!(attempts[0]["status"], "retrying");
    assert_eq!(attempts[0]["responseStatus"], 302);
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
    let attempts = crate::webhook_helpers::attempts(&app, &org.key, big).await;
    assert_eq!(attempts[0]["status"], "delivered", "{attempts:?}");
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn nothing_is_sent_for_a_change_that_rolled_back() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    create_endpoint(&app, &org.key, &receiver.url, INVITATIONS).await;
    // The invitation and its event are written, then queuing its message fails.
    app.fail_inserts_into("outbox", "the outbox is broken");
    let failed = app.invite(&org.key, "bob@example.com", "MEMBER").await;
    assert!(failed.status.is_server_error(), "{}", failed.text);
    app.allow_inserts_into("outbox");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM events WHERE type = 'invitation.created'"),
        0
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM webhook_deliveries"), 0);

    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["data"]["invitation"]["inviteeEmail"],
        "carol@example.com"
    );
}

#[tokio::test]
async fn invitation_expired_is_sent_once_by_the_sweep() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    create_endpoint(&app, &org.key, &receiver.url, &["invitation.expired"]).await;
    let invitation = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "bob@example.com", "role": "MEMBER", "expiresIn": "1h" }),
        )
        .await;
    let id = invitation.body["id"].as_i64().unwrap();
    app.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(app.sweep_once().await.invitations_expired, 1);
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    // Another sweep later, still once.
    assert_eq!(app.sweep_once().await.invitations_expired, 0);
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let event = got[0].json();
    assert_eq!(event["actor"], json!({ "type": "system" }));
    assert_eq!(event["requestId"], Value::Null);
    assert_eq!(event["data"]["invitation"]["id"], id);
    assert_eq!(event["data"]["invitation"]["status"], "EXPIRED");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM events WHERE type = 'invitation.expired'"),
        1
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    let (endpoint, old) = create_endpoint(&app, &org.key, &receiver.url, INVITATIONS).await;
    let rotated = app
        .post(
            &format!("/v1/organization/webhooks/{endpoint}/rotate-secret"),
            &org.key,
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    let got = receiver.received();
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    got[0].verify(&new).unwrap();
    got[0].verify(&old).unwrap();

    assert_eq!(attempts(&app, &org.key, endpoint).await.len(), 1);
    app.clock.advance(Duration::from_secs(25 * 3600));
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    let got = receiver.received();
    assert_eq!(
        got[1].json()["data"]["invitation"]["inviteeEmail"],
        "carol@example.com"
    );
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    got[1].verify(&new).unwrap();
    assert!(got[1].verify(&old).is_err());
}

#[tokio::test]
async fn an_endpoint_failing_for_disable_after_is_disabled_with_an_event() {
    let app = spawn_webhook_app_without_loops(|settings| {
        settings.webhooks.disable_after = enlist::config::HumanDuration(Duration::from_secs(3600));
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let failing = Receiver::start(vec![Answer::Status(500); 10]);
    let watcher = Receiver::start(vec![]);
    let (endpoint, _) = create_endpoint(&app, &org.key, &failing.url, INVITATIONS).await;
    create_endpoint(&app, &org.key, &watcher.url, &["webhook.disabled"]).await;
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    app.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    assert_eq!(failing.received().len(), 2);
    // The second failure disabled it, and queued the event that says so.
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);

    let disabled = watcher.received()[0].json();
    assert_eq!(disabled["type"], "webhook.disabled");
    assert_eq!(disabled["actor"]["type"], "system");
    assert_eq!(disabled["data"]["webhook"]["id"], endpoint);
    let shown = app
        .get(&format!("/v1/organization/webhooks/{endpoint}"), &org.key)
        .await;
    assert_eq!(shown.body["enabled"], false, "{}", shown.text);
    assert!(
        shown.body["disabledReason"]
            .as_str()
            .unwrap()
            .contains("answered 500")
    );
    // Disabled: nothing more is sent, new events are not queued for it.
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.deliver_webhooks_once().await.attempted, 0);
    assert_eq!(failing.received().len(), 2);

    // Enabled again: a fresh start.
    let enabled = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/organization/webhooks/{endpoint}"),
            Some(&org.key),
            Some(&json!({ "enabled": true })),
        )
        .await;
    assert_eq!(enabled.body["enabled"], true, "{}", enabled.text);
    assert_eq!(enabled.body["disabledReason"], Value::Null);
    app.invite_ok(&org.key, "dan@example.com", "MEMBER").await;
    assert_eq!(app.deliver_webhooks_once().await.failed, 1);
    let got = failing.received();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[2].json()["data"]["invitation"]["inviteeEmail"],
        "dan@example.com"
    );
}

#[tokio::test]
async fn the_test_event_goes_to_that_endpoint_alone() {
    let app = spawn_webhook_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let target = Receiver::start(vec![]);
    let bystander = Receiver::start(vec![]);
    let (endpoint, secret) = create_endpoint(&app, &org.key, &target.url, INVITATIONS).await;
    create_endpoint(&app, &org.key, &bystander.url, &[]).await;
    // Its own webhook.created.
    assert_eq!(app.deliver_webhooks_once().await.delivered, 1);
    let sent = app
        .post(
            &format!("/v1/organization/webhooks/{endpoint}/test"),
            &org.key,
            &json!({}),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", sent.text);
    assert_eq!(
        app.deliver_webhooks_once().await.delivered,
        1,
        "to the target alone"
    );
    let got = target.received();
    got[0].verify(&secret).unwrap();
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert_eq!(got[0].header("webhook-id"), sent.body["eventId"]);
    assert_eq!(bystander.types(), ["webhook.created"]);
}

#[tokio::test]
async fn endpoint_urls_that_would_reach_inside_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let long = format!("https://hooks.example.com/{}", "a".repeat(2100));
    // What is wrong with the text itself is said.
    for (url, says) in [
        ("http://hooks.example.com/in", "https://"),
        ("http://127.0.0.1:9/in", "https://"),
        ("https://user:pw@93.184.216.34/in", "user name or password"),
        ("ftp://93.184.216.34/in", "https://"),
        ("not a url", "absolute URL"),
        (long.as_str(), "2048"),
    ] {
        let reply = app
            .post(
                "/v1/organization/webhooks",
                &org.key,
                &json!({ "url": url }),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "url", "{url}: {}", reply.text);
        assert!(
            reply.body["detail"].as_str().unwrap().contains(says),
            "{url}: {}",
            reply.text
        );
    }
    // Where it leads is not: every refused address, written or resolved,
    // and a name that does not resolve, read the same, so the API cannot
    // map the network or its DNS.
    let mut details = std::collections::BTreeSet::new();
    for url in [
        "https://127.0.0.1:9/in",
        "https://localhost/in",
        "https://10.1.2.3/in",
        "https://192.168.0.10/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/in",
        "https://[::ffff:10.0.0.1]/in",
        "https://0.0.0.0/in",
        "https://no-such-host.invalid/in",
    ] {
        let reply = app
            .post(
                "/v1/organization/webhooks",
                &org.key,
                &json!({ "url": url }),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "url", "{url}: {}", reply.text);
        let detail = reply.body["detail"].as_str().unwrap().to_owned();
        for leak in [
            "127.0.0.1",
            "::1",
            "10.",
            "192.168",
            "169.254",
            "invalid",
            "resolves to ",
        ] {
            assert!(!detail.contains(leak), "{url}: {detail}");
        }
        details.insert(detail);
    }
    assert_eq!(details.len(), 1, "{details:#?}");
    assert!(
        details.iter().all(|d| d.contains("webhooks.allowed_hosts")),
        "{details:?}"
    );
    let unknown = app
        .post(
            "/v1/organization/webhooks",
            &org.key,
            &json!({ "url": "https://93.184.216.34/in", "events": ["invitation.created", "nope"] }),
        )
        .await;
    unknown.assert_problem(400, "validation_failed");
    assert_eq!(unknown.body["field"], "events");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM webhook_endpoints"), 0);

    // A public address is fine; listed hosts are exempt.
    let ok = app
        .post(
            "/v1/organization/webhooks",
            &org.key,
            &json!({ "url": "https://93.184.216.34/in", "enabled": false }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(ok.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let exempt = spawn_app_with(|settings| {
        settings.webhooks.allowed_hosts = vec!["10.1.2.3".into()];
    })
    .await;
    let exempt_org = exempt.create_org("Acme", "ada@acme.test");
    let allowed = exempt
        .post(
            "/v1/organization/webhooks",
            &exempt_org.key,
            &json!({ "url": "https://10.1.2.3/in", "enabled": false }),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
}

#[tokio::test]
async fn endpoints_are_listed_changed_and_deleted_within_their_organization() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "oz@other.test");
    let created = app
        .post(
            "/v1/organization/webhooks",
            &org.key,
            &json!({ "url": "https://93.184.216.34/in", "events": ["member.added"], "enabled": false }),
        )
        .await;
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        keys_of(&created.body),
        [
            "createdAt",
            "description",
            "disabledReason",
            "enabled",
            "events",
            "id",
            "secret",
            "updatedAt",
            "url"
        ]
    );
    let listed = app.get("/v1/organization/webhooks", &org.key).await;
    assert_eq!(listed.body["totalCount"], 1);
    assert_eq!(listed.body["items"][0]["id"], id);
    assert!(listed.body["items"][0].get("secret").is_none());
    assert_eq!(
        app.get("/v1/organization/webhooks", &other.key).await.body["totalCount"],
        0
    );

    let patched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/organization/webhooks/{id}"),
            Some(&org.key),
            Some(&json!({ "events": [], "description": "everything" })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["events"], json!([]));
    assert_eq!(patched.body["description"], "everything");
    assert_eq!(patched.body["url"], "https://93.184.216.34/in");

    // Another organization's endpoint is not found, whatever the verb.
    let path = format!("/v1/organization/webhooks/{id}");
    for (method, path) in [
        (reqwest::Method::GET, path.clone()),
        (reqwest::Method::PATCH, path.clone()),
        (reqwest::Method::DELETE, path.clone()),
        (reqwest::Method::POST, format!("{path}/rotate-secret")),
        (reqwest::Method::POST, format!("{path}/test")),
        (reqwest::Method::GET, format!("{path}/deliveries")),
    ] {
        let body = (method == reqwest::Method::PATCH).then(|| json!({ "enabled": true }));
        let reply = app
            .request(method.clone(), &path, Some(&other.key), body.as_ref())
            .await;
        reply.assert_problem(404, "not_found");
    }
    let disabled_test = app
        .post(&format!("{path}/test"), &org.key, &json!({}))
        .await;
    disabled_test.assert_problem(409, "webhook_disabled");

    let deleted = app.delete(&path, &org.key).await;
    assert_eq!(deleted.body, json!({ "id": id }));
    app.get(&path, &org.key)
        .await
        .assert_problem(404, "not_found");
    let types =
        app.query_strings("SELECT type FROM events WHERE type LIKE 'webhook.%' ORDER BY id");
    assert_eq!(
        types,
        ["webhook.created", "webhook.updated", "webhook.deleted"]
    );
}

#[tokio::test]
async fn an_organization_whose_endpoints_all_hang_leaves_room_for_the_others() {
    // Two slots in all, one per organization: without that cap, two of
    // Acme's hanging endpoints would hold both for the whole timeout.
    let app = spawn_webhook_app_with(|settings| settings.webhooks.concurrency = 2).await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "oz@other.test");
    let hanging = Receiver::start(vec![Answer::Hang; 6]);
    for _ in 0..3 {
        create_endpoint(&app, &acme.key, &hanging.url, INVITATIONS).await;
    }
    let healthy = Receiver::start(vec![]);
    create_endpoint(&app, &other.key, &healthy.url, INVITATIONS).await;

    app.invite_ok(&acme.key, "bob@example.com", "MEMBER").await;
    hanging.wait_for(1).await;
    let started = std::time::Instant::now();
    app.invite_ok(&other.key, "carol@example.com", "MEMBER")
        .await;
    healthy.wait_for(1).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the other organization waited {:?} behind Acme's hanging endpoints",
        started.elapsed()
    );
    assert_eq!(hanging.received().len(), 1, "one of Acme's at a time");
}
