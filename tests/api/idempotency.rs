//! `Idempotency-Key` on the admin API's POST, PATCH and DELETE.

use crate::helpers::*;
use crate::webhook_helpers::{Receiver, spawn_webhook_app};
use enlist::domain::Scope;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    idempotency_key: &str,
    body: Option<&Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .header("X-API-Key", key)
        .header("Idempotency-Key", idempotency_key);
    if let Some(body) = body {
        request = request.json(body);
    }
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_first_answer_is_replayed_for_the_same_request_and_only_that() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let body = json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" });
    let path = "/v1/organization/invitations";
    let first = send(&app, Method::POST, path, &org.key, "k-1", Some(&body)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.header("idempotent-replayed").is_none());
    let again = send(&app, Method::POST, path, &org.key, "k-1", Some(&body)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("content-type"), first.header("content-type"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 1);

    // The same key with another body, path or method: 422, nothing done.
    let other = json!({ "inviteeEmail": "carol@example.test", "role": "MEMBER" });
    send(&app, Method::POST, path, &org.key, "k-1", Some(&other))
        .await
        .assert_problem(422, "idempotency_key_reused");
    let id = first.body["id"].as_i64().unwrap();
    send(
        &app,
        Method::POST,
        &format!("{path}/{id}/revoke"),
        &org.key,
        "k-1",
        None,
    )
    .await
    .assert_problem(422, "idempotency_key_reused");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
    assert_eq!(app.stored_status(id), "PENDING");

    // A refusal is an answer too: replayed, not re-run.
    let conflict = send(&app, Method::POST, path, &org.key, "k-2", Some(&body)).await;
    conflict.assert_problem(409, "invitation_pending");
    let replayed = send(&app, Method::POST, path, &org.key, "k-2", Some(&body)).await;
    replayed.assert_problem(409, "invitation_pending");
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));

    // Keys are per API key: another key's same string is its own.
    let second_key = app.api_key(org.id, org.admin_id, &Scope::ALL);
    let mine = send(&app, Method::POST, path, &second_key, "k-1", Some(&other)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(mine.header("idempotent-replayed").is_none());

    // PATCH and DELETE too.
    let member = app.add_member(org.id, "mel@example.test", "MEMBER");
    let user = format!("/v1/organization/users/{member}");
    for _ in 0..2 {
        let reply = send(&app, Method::DELETE, &user, &org.key, "del-1", None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let promote = json!({ "role": "ADMIN" });
    let first = send(
        &app,
        Method::PATCH,
        &user,
        &org.key,
        "patch-1",
        Some(&promote),
    )
    .await;
    first.assert_problem(404, "not_found");
    assert_eq!(
        send(
            &app,
            Method::PATCH,
            &user,
            &org.key,
            "patch-1",
            Some(&promote)
        )
        .await
        .header("idempotent-replayed"),
        Some("true")
    );

    // Stored in the database, and forgotten after idempotency.ttl.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM idempotency_keys"), 5);
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let later = json!({ "inviteeEmail": "dan@example.test", "role": "MEMBER" });
    let fresh = send(&app, Method::POST, path, &org.key, "k-1", Some(&later)).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert!(fresh.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn bad_keys_are_refused_and_reads_ignore_keys() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let body = json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" });
    for bad in ["x".repeat(256), "tab\there".to_owned(), String::new()] {
        let reply = send(
            &app,
            Method::POST,
            "/v1/organization/invitations",
            &org.key,
            &bad,
            Some(&body),
        )
        .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "Idempotency-Key");
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    let ok = send(
        &app,
        Method::POST,
        "/v1/organization/invitations",
        &org.key,
        &"k".repeat(255),
        Some(&body),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    for _ in 0..2 {
        let reply = send(
            &app,
            Method::GET,
            "/v1/organization",
            &org.key,
            "read",
            None,
        )
        .await;
        assert_eq!(reply.status, 200);
        assert!(reply.header("idempotent-replayed").is_none());
    }
    // An unknown API key: 401 and nothing stored.
    let reply = send(
        &app,
        Method::POST,
        "/v1/organization/invitations",
        WELL_FORMED_UNKNOWN_KEY,
        "k-9",
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM idempotency_keys"), 1);
}

#[tokio::test]
async fn a_second_request_while_the_first_runs_answers_409() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let key_id = app.query_i64("SELECT MAX(id) FROM api_keys");
    let body = json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" });
    // What a first request still running leaves: an entry without an answer.
    let digest_of_other = app.blob_literal(&[0]);
    app.execute_sql(&format!(
        "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, created_at, expires_at)
         VALUES ({key_id}, 'running', {digest_of_other}, {now}, {later})",
        now = app.clock.now().0,
        later = app.clock.now().0 + 86_400_000
    ));
    // The fingerprint differs, so it is a mismatch; make it match by running
    // the same request under another key first and copying its fingerprint.
    let first = send(
        &app,
        Method::POST,
        "/v1/organization/invitations",
        &org.key,
        "probe",
        Some(&body),
    )
    .await;
    assert_eq!(first.status, 200);
    app.execute_sql(
        "UPDATE idempotency_keys SET fingerprint = (SELECT fingerprint FROM idempotency_keys
         WHERE key = 'probe') WHERE key = 'running'",
    );
    let reply = send(
        &app,
        Method::POST,
        "/v1/organization/invitations",
        &org.key,
        "running",
        Some(&body),
    )
    .await;
    reply.assert_problem(409, "idempotency_key_in_use");
    // Abandoned after five minutes: the key runs again.
    app.clock.advance(Duration::from_secs(301));
    let reply = send(
        &app,
        Method::POST,
        "/v1/organization/invitations",
        &org.key,
        "running",
        Some(&body),
    )
    .await;
    reply.assert_problem(409, "invitation_pending");
    assert!(reply.header("idempotent-replayed").is_none());
}

/// Every stored answer's body, as text (as an operator reading the table sees it).
fn stored_answers(app: &TestApp) -> Vec<String> {
    app.db
        .read_blocking(|conn| {
            conn.query_all(
                "SELECT body FROM idempotency_keys WHERE body IS NOT NULL",
                &[],
                |row| row.get::<Vec<u8>>(0),
            )
        })
        .unwrap()
        .into_iter()
        .map(|body| String::from_utf8(body).unwrap())
        .collect()
}

/// `shown` without `field`, with `secretOmitted: true`: what a replay answers.
fn without(shown: &Value, field: &str) -> Value {
    let mut replay = shown.clone();
    let object = replay.as_object_mut().unwrap();
    assert!(object.remove(field).is_some(), "{field} shown: {shown}");
    object.insert("secretOmitted".into(), Value::Bool(true));
    replay
}

#[tokio::test]
async fn secrets_shown_once_are_neither_stored_nor_replayed() {
    let app = spawn_webhook_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let receiver = Receiver::start(vec![]);
    let post = |path: String, idempotency_key: &'static str, body: Value| {
        let (app, key) = (&app, &org.key);
        async move { send(app, Method::POST, &path, key, idempotency_key, Some(&body)).await }
    };

    // A join link: its URL (the token) once; the replay answers the link
    // without it, says so, and creates nothing.
    let link = json!({ "maxUses": 5, "expiresIn": "1d" });
    let path = "/v1/organization/join-links".to_owned();
    let created = post(path.clone(), "link-1", link.clone()).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(
        created.body.get("secretOmitted").is_none(),
        "{}",
        created.text
    );
    let url = created.body["url"].as_str().unwrap().to_owned();
    let token = url.rsplit_once("/join/").unwrap().1.to_owned();
    let replay = post(path, "link-1", link).await;
    assert_eq!(replay.status, 200, "{}", replay.text);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, without(&created.body, "url"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM join_links"), 1);

    // A webhook endpoint: its signing secret once.
    let hook = json!({ "url": receiver.url, "events": ["member.added"] });
    let path = "/v1/organization/webhooks".to_owned();
    let created = post(path.clone(), "hook-1", hook.clone()).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let replay = post(path, "hook-1", hook).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, without(&created.body, "secret"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM webhook_endpoints"), 1);

    // Its rotation: the new secret once, and rotated once.
    let id = created.body["id"].as_i64().unwrap();
    let path = format!("/v1/organization/webhooks/{id}/rotate-secret");
    let rotated = post(path.clone(), "rotate-1", json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let replay = post(path, "rotate-1", json!({})).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, without(&rotated.body, "secret"));
    assert_eq!(
        app.query_strings("SELECT secret FROM webhook_endpoints"),
        std::slice::from_ref(&new_secret)
    );

    // The table holds the three answers, none with a secret in it.
    let stored = stored_answers(&app);
    assert_eq!(stored.len(), 3, "{stored:?}");
    for answer in &stored {
        for shown in [&url, &token, &secret, &new_secret] {
            assert!(!answer.contains(shown.as_str()), "{answer} holds {shown}");
        }
        assert!(!answer.contains("whsec_"), "{answer}");
        assert!(answer.contains("\"secretOmitted\":true"), "{answer}");
    }
}
