//! The event log: every change writes one event, and the audit API pages it.

use crate::helpers::*;
use enlist::domain::Scope;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The organization's events, newest first (up to 1000).
async fn events(app: &TestApp, key: &str) -> Vec<Value> {
    let page = app.get("/v1/organization/events?limit=1000", key).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.body["items"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_change_writes_one_event_naming_its_actor_and_request() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let key_id = app.query_i64("SELECT MAX(id) FROM api_keys");
    // Made on the command line: the admin joined, the key was created.
    assert_eq!(
        types(&events(&app, &org.key).await),
        ["api_key.created", "member.added"]
    );

    let created = app
        .client
        .post(format!("{}/v1/organization/invitations", app.address))
        .header("X-API-Key", &org.key)
        .header("X-Request-Id", "req-create-1")
        .json(&json!({ "inviteeEmail": "bob@example.com", "role": "MEMBER", "message": "Hi" }))
        .send()
        .await
        .unwrap();
    let created = reply(created).await;
    let bob = created.body["id"].as_i64().unwrap();
    let log = events(&app, &org.key).await;
    let event = &log[0];
    assert_eq!(event["type"], "invitation.created");
    assert_eq!(
        keys_of(event),
        [
            "actor",
            "data",
            "id",
            "occurredAt",
            "organizationId",
            "requestId",
            "type"
        ]
    );
    assert_eq!(
        event["actor"],
        json!({ "type": "api_key", "apiKeyId": key_id, "userId": org.admin_id })
    );
    assert_eq!(event["requestId"], "req-create-1");
    assert_eq!(event["organizationId"], org.id);
    assert_timestamp(&event["occurredAt"]);
    assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
    // The invitation as the admin API shows it.
    let shown = app
        .get(&format!("/v1/organization/invitations/{bob}"), &org.key)
        .await;
    assert_eq!(event["data"]["invitation"], shown.body);

    app.resend(&org.key, bob).await;
    app.revoke(&org.key, bob).await;
    app.revoke(&org.key, bob).await; // harmless, and no second event
    let log = events(&app, &org.key).await;
    assert_eq!(
        types(&log[..3]),
        [
            "invitation.revoked",
            "invitation.resent",
            "invitation.created"
        ]
    );
    assert_eq!(log[0]["data"]["invitation"]["status"], "REVOKED");

    // The invitee answers through an OAuth client: the client is the actor.
    let (carol, carols_uuid) = app
        .invite_with_uuid(&org.key, "carol@example.com", "MEMBER")
        .await;
    let (_, dans_uuid) = app
        .invite_with_uuid(&org.key, "dan@example.com", "MEMBER")
        .await;
    let carols_token = app.invitee_token("carol@example.com");
    let carols_token = carols_token.await;
    assert_eq!(
        app.respond(&carols_uuid, "true", &carols_token)
            .await
            .status,
        200
    );
    let dans_token = app.invitee_token("dan@example.com").await;
    assert_eq!(
        app.respond(&dans_uuid, "false", &dans_token).await.status,
        200
    );
    let log = events(&app, &org.key).await;
    assert_eq!(
        types(&log[..3]),
        ["invitation.declined", "member.added", "invitation.accepted"]
    );
    let carol_user = log[1]["data"]["user"]["id"].as_i64().unwrap();
    assert_eq!(log[1]["actor"]["type"], "client");
    assert_eq!(log[1]["actor"]["userId"], carol_user);
    assert!(log[1]["actor"]["clientId"].is_string());
    assert_eq!(log[1]["data"]["invitationId"], carol);
    assert_eq!(log[1]["data"]["user"]["email"], "carol@example.com");
    assert_eq!(log[2]["data"]["invitation"]["status"], "ACCEPTED");

    // Role changes and removal, with the keys the removal revokes.
    let promoted = app
        .request(
            Method::PATCH,
            &format!("/v1/organization/users/{carol_user}"),
            Some(&org.key),
            Some(&json!({ "role": "ADMIN" })),
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    app.api_key(org.id, carol_user, &[Scope::OrganizationRead]);
    assert_eq!(app.remove_user(&org.key, carol_user).await.status, 200);
    let log = events(&app, &org.key).await;
    assert_eq!(
        types(&log[..4]),
        [
            "member.removed",
            "api_key.revoked",
            "api_key.created",
            "member.role_changed"
        ]
    );
    assert_eq!(log[3]["data"]["previousRole"], "MEMBER");
    assert_eq!(log[3]["data"]["user"]["role"], "ADMIN");
    assert_eq!(log[1]["data"]["apiKey"]["revokedReason"], "owner_removed");
    assert!(
        log[1]["data"]["apiKey"].get("key").is_none(),
        "no secret in events"
    );
    assert_eq!(log[0]["data"]["user"]["id"], carol_user);
    // Every event has its own id.
    let mut ids: Vec<&str> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), log.len());
}

#[tokio::test]
async fn the_cursor_pages_the_log_stably_while_new_events_arrive() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for n in 0..23 {
        app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
            .await;
    }
    let everything: Vec<String> = events(&app, &org.key)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(everything.len(), 25);

    let mut seen = Vec::new();
    let mut path = "/v1/organization/events?limit=10".to_owned();
    loop {
        let page = app.get(&path, &org.key).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["limit"], 10);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        // New events arrive between pages: they are newer than the first
        // page, so the pages still hold exactly the events of the start.
        app.invite_ok(
            &org.key,
            &format!("new{}@example.com", seen.len()),
            "MEMBER",
        )
        .await;
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/organization/events?limit=10&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, everything);
}

/// The types of the events a query lists, newest first.
async fn only(app: &TestApp, key: &str, query: &str) -> Vec<String> {
    let page = app
        .get(&format!("/v1/organization/events?{query}"), key)
        .await;
    assert_eq!(page.status, 200, "{query}: {}", page.text);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_log_filters_by_type_and_time() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(3600));
    let middle = app.clock.now();
    app.revoke(&org.key, bob).await;
    app.clock.advance(Duration::from_secs(3600));
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;

    assert_eq!(
        only(&app, &org.key, "type=invitation.revoked").await,
        ["invitation.revoked"]
    );
    assert_eq!(
        only(&app, &org.key, "type=invitation.revoked&type=member.added").await,
        ["invitation.revoked", "member.added"]
    );
    assert_eq!(
        only(&app, &org.key, "type=invitation.revoked,member.added").await,
        ["invitation.revoked", "member.added"]
    );
    let since = middle.to_rfc3339();
    assert_eq!(
        only(&app, &org.key, &format!("since={since}")).await,
        ["invitation.created", "invitation.revoked"]
    );
    let until = middle.plus(Duration::from_secs(60)).to_rfc3339();
    assert_eq!(
        only(&app, &org.key, &format!("since={since}&until={until}")).await,
        ["invitation.revoked"]
    );
    assert_eq!(
        only(&app, &org.key, "type=webhook.test").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn bad_log_queries_answer_400_naming_the_parameter() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=not-a-cursor", "after"),
        ("type=invitation.nope", "type"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        (
            "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
    ] {
        let reply = app
            .get(&format!("/v1/organization/events?{query}"), &org.key)
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.text);
    }
    // A key without the scope hears 403 first, whatever the parameters.
    let reader = app.api_key(org.id, org.admin_id, &[Scope::InvitationsRead]);
    app.get("/v1/organization/events?limit=0", &reader)
        .await
        .assert_problem(403, "missing_scope");
}

#[tokio::test]
async fn an_organization_sees_only_its_own_events() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "oz@other.test");
    app.invite_ok(&acme.key, "bob@example.com", "MEMBER").await;
    let theirs = events(&app, &other.key).await;
    assert_eq!(types(&theirs), ["api_key.created", "member.added"]);
    assert!(theirs.iter().all(|e| e["organizationId"] == other.id));
}

#[tokio::test]
async fn events_past_their_retention_are_pruned_in_the_background() {
    let app = spawn_app_with(|settings| {
        settings.events.retention = enlist::config::HumanDuration(Duration::from_secs(3600));
        settings.invitations.expiry_sweep_interval =
            enlist::config::HumanDuration(Duration::from_millis(50));
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    eventually(Duration::from_secs(10), "old events pruned", || {
        (app.query_i64("SELECT COUNT(*) FROM events") == 1).then_some(())
    })
    .await;
    let left = events(&app, &org.key).await;
    assert_eq!(
        left[0]["data"]["invitation"]["inviteeEmail"],
        "carol@example.com"
    );
}

#[tokio::test]
async fn a_sign_in_writes_user_signed_in_with_its_method_and_amr_and_no_secret() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let password = "correct horse battery staple";
    app.set_password("ada@acme.test", password);

    let mut browser = crate::account_helpers::Jar::new(&app);
    let signed_in = browser.sign_in("/admin", "ada@acme.test", password).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);

    let log = events(&app, &org.key).await;
    let event = &log[0];
    assert_eq!(event["type"], "user.signed_in");
    assert_eq!(
        event["actor"],
        json!({ "type": "user", "userId": org.admin_id })
    );
    assert_eq!(
        event["data"],
        json!({
            "user": { "id": org.admin_id, "email": "ada@acme.test" },
            "method": "password",
            "amr": ["pwd"],
        })
    );
    assert!(!event.to_string().contains(password));
    // A wrong password signs nobody in and writes nothing.
    let mut other = crate::account_helpers::Jar::new(&app);
    other.sign_in("/admin", "ada@acme.test", "wrong").await;
    assert_eq!(events(&app, &org.key).await.len(), log.len());
}
