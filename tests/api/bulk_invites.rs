//! `POST /v1/organization/invitations/bulk`: one transaction, one outcome
//! per item in input order.

use crate::helpers::*;
use serde_json::{Value, json};

const BULK: &str = "/v1/organization/invitations/bulk";

#[tokio::test]
async fn each_item_answers_created_duplicate_member_or_invalid_in_order() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    app.add_member(org.id, "mel@example.test", "MEMBER");
    app.invite_ok(&org.key, "pending@example.test", "MEMBER")
        .await;
    let reply = app
        .post(
            BULK,
            &org.key,
            &json!({ "items": [
                { "inviteeEmail": "a@example.test", "role": "MEMBER", "message": "Hi", "expiresIn": "2d" },
                { "inviteeEmail": "pending@example.test", "role": "MEMBER" },
                { "inviteeEmail": "mel@example.test", "role": "ADMIN" },
                { "inviteeEmail": "not an email", "role": "MEMBER" },
                { "inviteeEmail": "b@example.test", "role": "OWNER" },
                { "inviteeEmail": "A@example.test", "role": "ADMIN" },
                { "inviteeEmail": "c@example.test", "role": "ADMIN", "metadata": [1] },
                "not an object",
                { "inviteeEmail": "d@example.test", "role": "ADMIN" },
            ] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.body["items"].as_array().unwrap();
    let summary: Vec<(i64, &str)> = items
        .iter()
        .map(|i| (i["index"].as_i64().unwrap(), i["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, "created"),
            (1, "duplicate"),
            (2, "member"),
            (3, "invalid"),
            (4, "invalid"),
            (5, "duplicate"),
            (6, "invalid"),
            (7, "invalid"),
            (8, "created"),
        ]
    );
    let fields: Vec<Value> = items.iter().map(|i| i["error"]["field"].clone()).collect();
    assert_eq!(fields[3], "inviteeEmail");
    assert_eq!(fields[4], "role");
    assert_eq!(fields[6], "metadata");
    assert_eq!(items[1]["error"]["code"], "invitation_pending");
    assert_eq!(items[2]["error"]["code"], "already_member");
    assert_eq!(items[5]["error"]["code"], "duplicate_item");
    // A created item carries the invitation in the seed's shape; others none.
    let created = &items[0]["invitation"];
    assert_eq!(created["inviteeEmail"], "a@example.test");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(
        millis_of(&created["expiresAt"]) - millis_of(&created["createdAt"]),
        2 * 86_400_000
    );
    assert!(items[0].get("error").is_none());
    assert!(items[1].get("invitation").is_none());
    assert_eq!(items[8]["invitation"]["role"], "ADMIN");
    // Exactly the created ones exist, each with one queued message.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 3);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'invitation'"),
        3
    );
    let id = created["id"].as_i64().unwrap();
    let got = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await;
    assert_eq!(got.body["message"], "Hi");
}

#[tokio::test]
async fn a_refused_request_creates_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let many: Vec<Value> = (0..501)
        .map(|n| json!({ "inviteeEmail": format!("p{n}@example.test"), "role": "MEMBER" }))
        .collect();
    for body in [
        json!({ "items": many }),
        json!({ "items": "nope" }),
        json!({}),
        json!([]),
    ] {
        let reply = app.post(BULK, &org.key, &body).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "items", "{}", reply.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    let reader = app.api_key(
        org.id,
        org.admin_id,
        &[enlist::domain::Scope::InvitationsRead],
    );
    app.post(BULK, &reader, &json!({ "items": [] }))
        .await
        .assert_problem(403, "missing_scope");
    let reply = app.post(BULK, &org.key, &json!({ "items": [] })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({ "items": [] }));
}

#[tokio::test]
async fn five_hundred_items_fit_and_mail_caps_apply_per_item() {
    let app = spawn_app_with(|s| s.invitations.messages_per_org_per_hour = 400).await;
    let org = app.create_org("acme", "admin@acme.test");
    let many: Vec<Value> = (0..500)
        .map(|n| json!({ "inviteeEmail": format!("p{n}@example.test"), "role": "MEMBER" }))
        .collect();
    let reply = app.post(BULK, &org.key, &json!({ "items": many })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 500);
    let created = items.iter().filter(|i| i["status"] == "created").count();
    assert_eq!(created, 400);
    assert_eq!(items[399]["status"], "created");
    assert_eq!(items[400]["status"], "invalid");
    assert_eq!(items[400]["error"]["code"], "too_many_requests");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 400);
}

#[tokio::test]
async fn an_admin_item_from_a_key_without_users_write_is_invalid_and_the_others_go_through() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let narrow = app.api_key(
        org.id,
        org.admin_id,
        &[enlist::domain::Scope::InvitationsWrite],
    );

    let reply = app
        .post(
            BULK,
            &narrow,
            &json!({ "items": [
                { "inviteeEmail": "a@example.test", "role": "MEMBER" },
                { "inviteeEmail": "mallory@example.test", "role": "ADMIN" },
                { "inviteeEmail": "not an email", "role": "ADMIN" },
                { "inviteeEmail": "b@example.test", "role": "MEMBER" },
            ] }),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.body["items"].as_array().unwrap();
    let summary: Vec<(&str, Option<&str>)> = items
        .iter()
        .map(|i| (i["status"].as_str().unwrap(), i["error"]["code"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("created", None),
            ("invalid", Some("missing_scope")),
            ("invalid", Some("validation_failed")),
            ("created", None),
        ]
    );
    assert_eq!(items[1]["error"]["field"], "role");
    let detail = items[1]["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`invitations:write`") && detail.contains("`users:write`"),
        "{detail}"
    );
    assert_eq!(
        app.query_strings("SELECT invitee_email FROM invitations ORDER BY id"),
        ["a@example.test", "b@example.test"]
    );
    // With users:write the same ADMIN item is created.
    let full = app
        .post(
            BULK,
            &org.key,
            &json!({ "items": [{ "inviteeEmail": "mallory@example.test", "role": "ADMIN" }] }),
        )
        .await;
    assert_eq!(full.body["items"][0]["status"], "created", "{}", full.text);
}
