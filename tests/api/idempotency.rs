//! `Idempotency-Key` on the admin API's POST, PATCH and DELETE.

use crate::helpers::*;
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
