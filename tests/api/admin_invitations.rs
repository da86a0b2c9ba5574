use crate::helpers::*;
use enlist::config::{HumanDuration, HumanSize};
use enlist::domain::Millis;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const INVITATIONS: &str = "/v1/organization/invitations";

fn millis_of(value: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn invite_list_and_revoke() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let created = app.invite(&org.key, "  Bob@Example.COM ", "MEMBER").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let invitation = &created.body;
    assert_eq!(invitation["status"], "PENDING");
    assert_eq!(invitation["role"], "MEMBER");
    assert_eq!(invitation["inviteeEmail"], "Bob@Example.COM");
    assert_eq!(invitation["inviterUserId"], org.admin_id);
    assert_eq!(invitation["organizationId"], org.id);
    for field in ["createdAt", "updatedAt", "expiresAt"] {
        assert_timestamp(&invitation[field]);
    }
    let id = invitation["id"].as_i64().unwrap();

    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["totalCount"], 1);
    assert_eq!(listed.body["limit"], 100);
    assert_eq!(listed.body["offset"], 0);
    assert_eq!(listed.body["items"][0], *invitation);

    let revoked = app
        .post(
            &format!("/v1/organization/invitations/{id}/revoke"),
            &org.key,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.body, json!({ "id": id }));

    let listed = app
        .get("/v1/organization/invitations?status=REVOKED", &org.key)
        .await;
    assert_eq!(listed.body["items"][0]["status"], "REVOKED");
    assert_eq!(listed.body["totalCount"], 1);
}

#[tokio::test]
async fn create_answers_exactly_the_documented_fields_and_stores_the_trimmed_email_as_typed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let reply = app
        .invite(&org.key, "\t Carol.Smith@Example.ORG  ", "ADMIN")
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        keys_of(&reply.body),
        [
            "createdAt",
            "expiresAt",
            "id",
            "inviteeEmail",
            "inviterUserId",
            "organizationId",
            "role",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(reply.body["inviteeEmail"], "Carol.Smith@Example.ORG");
    assert_eq!(reply.body["role"], "ADMIN");
    assert_eq!(reply.body["createdAt"], reply.body["updatedAt"]);
    let lifetime = millis_of(&reply.body["expiresAt"]) - millis_of(&reply.body["createdAt"]);
    assert_eq!(lifetime, 7 * 24 * 3600 * 1000, "default lifetime is 7 days");
    let id = reply.body["id"].as_i64().unwrap();
    assert_eq!(
        app.query_strings(&format!(
            "SELECT invitee_email || '|' || invitee_email_key || '|' || status FROM invitations WHERE id = {id}"
        )),
        ["Carol.Smith@Example.ORG|carol.smith@example.org|PENDING"]
    );
}

#[tokio::test]
async fn create_uses_the_configured_lifetime() {
    let app = spawn_app_with(|s| s.invitations.lifetime = HumanDuration::secs(90)).await;
    let org = app.create_org("Acme", "ada@acme.test");

    let reply = app.invite(&org.key, "bob@example.com", "MEMBER").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let lifetime = millis_of(&reply.body["expiresAt"]) - millis_of(&reply.body["createdAt"]);
    assert_eq!(lifetime, 90_000);
}

#[tokio::test]
async fn create_refuses_a_case_insensitive_duplicate_of_a_pending_invitation() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let first = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    for duplicate in ["bob@example.com", "BOB@Example.Com", "  bob@EXAMPLE.com "] {
        let reply = app.invite(&org.key, duplicate, "ADMIN").await;

        reply.assert_problem(409, "invitation_pending");
        assert!(
            reply.body["detail"].as_str().unwrap().contains("pending"),
            "{}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
    let listed = app.get(INVITATIONS, &org.key).await;
    assert_eq!(item_ids(&listed), [first]);
    assert_eq!(listed.body["totalCount"], 1);
}

#[tokio::test]
async fn create_allows_a_new_invitation_once_the_previous_one_is_revoked() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let first = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, first).await.status, 200);

    let second = app.invite(&org.key, "Bob@example.com", "MEMBER").await;

    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(second.body["id"], first);
    assert_eq!(second.body["status"], "PENDING");
}

#[tokio::test]
async fn create_refuses_the_email_of_an_existing_member_in_any_case() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@acme.test", "MEMBER");

    for email in [
        "ada@acme.test",
        "ADA@Acme.Test",
        "bob@acme.test",
        " Bob@ACME.test ",
    ] {
        let reply = app.invite(&org.key, email, "MEMBER").await;

        reply.assert_problem(409, "already_member");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("already a member"),
            "{}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn create_rejects_invalid_emails_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let too_long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(too_long.len(), 255);

    for email in [
        "",
        "   ",
        "not-an-email",
        "@example.com",
        "bob@",
        "bob@localhost",
        "bob@example.",
        "bob smith@example.com",
        "Bob <bob@example.com>",
        "bob@[127.0.0.1]",
        "a@b@example.com",
        too_long.as_str(),
    ] {
        let reply = app.invite(&org.key, email, "MEMBER").await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(
            reply.body["field"], "inviteeEmail",
            "{email:?}: {}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn create_accepts_an_email_of_exactly_254_characters() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    // 64-character labels keep the address valid while reaching the limit.
    let local = "a".repeat(64);
    let domain = format!(
        "{}.{}.{}.com",
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    let email = format!("{local}@{domain}");
    assert_eq!(email.len(), 254);

    let reply = app.invite(&org.key, &email, "MEMBER").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["inviteeEmail"], email);
}

#[tokio::test]
async fn create_rejects_roles_other_than_admin_and_member() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for role in ["", "member", "Admin", "OWNER", " MEMBER"] {
        let reply = app.invite(&org.key, "bob@example.com", role).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "role", "{role:?}: {}", reply.text);
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("ADMIN, MEMBER")
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn create_rejects_missing_fields_and_wrong_types() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (body, mentioned) in [
        (json!({ "inviteeEmail": "bob@example.com" }), "role"),
        (json!({ "role": "MEMBER" }), "inviteeEmail"),
        (json!({}), "inviteeEmail"),
        (json!({ "inviteeEmail": 42, "role": "MEMBER" }), "integer"),
        (
            json!({ "inviteeEmail": "bob@example.com", "role": null }),
            "null",
        ),
    ] {
        let reply = app.post(INVITATIONS, &org.key, &body).await;

        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        reply.assert_problem(400, "validation_failed");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(mentioned),
            "{body}: {}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn create_ignores_unknown_json_fields() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let reply = app
        .post(
            INVITATIONS,
            &org.key,
            &json!({
                "inviteeEmail": "bob@example.com",
                "role": "MEMBER",
                "organizationId": 999,
                "status": "ACCEPTED"
            }),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["organizationId"], org.id);
    assert_eq!(reply.body["status"], "PENDING");
}

#[tokio::test]
async fn create_rejects_malformed_json() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for body in [
        "",
        "{",
        "not json",
        "{\"inviteeEmail\": \"bob@example.com\", \"role\": \"MEMBER\"",
        "{\"inviteeEmail\": \"bob@example.com\", \"role\": \"MEMBER\"} trailing",
        "{'inviteeEmail': 'bob@example.com'}",
    ] {
        let reply = app
            .send_raw(
                Method::POST,
                INVITATIONS,
                &[
                    ("X-API-Key", &org.key),
                    ("Content-Type", "application/json"),
                ],
                body,
            )
            .await;

        reply.assert_problem(400, "malformed_json");
        assert!(reply.body.get("field").is_none(), "{}", reply.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn create_requires_a_json_content_type() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let body = r#"{"inviteeEmail": "bob@example.com", "role": "MEMBER"}"#;

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut headers = vec![("X-API-Key", org.key.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type));
        }

        let reply = app
            .send_raw(Method::POST, INVITATIONS, &headers, body)
            .await;

        reply.assert_problem(415, "unsupported_media_type");
        assert_eq!(reply.body["title"], "Unsupported Media Type");
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);

    let reply = app
        .send_raw(
            Method::POST,
            INVITATIONS,
            &[
                ("X-API-Key", &org.key),
                ("Content-Type", "application/json; charset=utf-8"),
            ],
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn create_rejects_bodies_larger_than_the_configured_limit() {
    let app = spawn_app_with(|s| s.server.json_body_limit = HumanSize(256)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let padded = |len: usize| {
        let body =
            json!({ "inviteeEmail": "bob@example.com", "role": "MEMBER", "pad": "" }).to_string();
        let pad = "x".repeat(len - body.len());
        json!({ "inviteeEmail": "bob@example.com", "role": "MEMBER", "pad": pad }).to_string()
    };
    let headers = [
        ("X-API-Key", org.key.as_str()),
        ("Content-Type", "application/json"),
    ];

    let too_large = app
        .send_raw(Method::POST, INVITATIONS, &headers, padded(257))
        .await;
    let at_limit = app
        .send_raw(Method::POST, INVITATIONS, &headers, padded(256))
        .await;

    too_large.assert_problem(413, "payload_too_large");
    assert!(
        too_large.body["detail"].as_str().unwrap().contains("256"),
        "{}",
        too_large.text
    );
    assert_eq!(at_limit.status, 200, "{}", at_limit.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
}

#[tokio::test]
async fn create_rejects_a_chunked_body_larger_than_the_limit() {
    let app = spawn_app_with(|s| s.server.json_body_limit = HumanSize(256)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let body = format!(
        r#"{{"inviteeEmail": "bob@example.com", "role": "MEMBER", "pad": "{}"}}"#,
        "x".repeat(4096)
    );
    // No Content-Length: the limit must hold while the body streams in.
    let mut chunked = String::new();
    for chunk in body.as_bytes().chunks(512) {
        chunked.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        ));
    }
    chunked.push_str("0\r\n\r\n");
    let request = format!(
        "POST {INVITATIONS} HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{chunked}",
        org.key
    );

    let (status, response) = app.send_raw_http(request).await;

    assert_eq!(status, 413, "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn an_expired_invitation_no_longer_blocks_inviting_the_same_email() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let first = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.invite(&org.key, "BOB@example.com", "MEMBER")
        .await
        .assert_problem(409, "invitation_pending");

    app.clock
        .advance(app.settings.invitations.lifetime.0 + Duration::from_secs(1));
    let second = app.invite(&org.key, "BOB@example.com", "ADMIN").await;

    assert_eq!(second.status, 200, "{}", second.text);
    let second_id = second.body["id"].as_i64().unwrap();
    assert_ne!(second_id, first);
    assert_eq!(second.body["inviteeEmail"], "BOB@example.com");
    let all = app
        .get(&format!("{INVITATIONS}?includeExpired=true"), &org.key)
        .await;
    assert_eq!(item_ids(&all), [second_id, first]);
    let statuses: Vec<_> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses[1], "EXPIRED");
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_answers_an_empty_page_with_the_defaults() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let reply = app.get(INVITATIONS, &org.key).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({ "items": [], "limit": 100, "offset": 0, "totalCount": 0, "nextCursor": null })
    );
}

#[tokio::test]
async fn list_refuses_out_of_range_or_non_integer_paging_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=2.0", "offset"),
        ("limit=10&offset=-5", "offset"),
    ] {
        let reply = app.get(&format!("{INVITATIONS}?{query}"), &org.key).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.text);
        assert!(
            reply.body["detail"].as_str().unwrap().contains(field),
            "{query}: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn list_accepts_the_extreme_paging_values() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let max = app
        .get(&format!("{INVITATIONS}?limit=1000"), &org.key)
        .await;
    let one = app
        .get(&format!("{INVITATIONS}?limit=1&offset=0"), &org.key)
        .await;
    let far = app
        .get(&format!("{INVITATIONS}?offset=1000000"), &org.key)
        .await;

    assert_eq!(max.status, 200, "{}", max.text);
    assert_eq!(max.body["limit"], 1000);
    assert_eq!(max.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(one.body["limit"], 1);
    assert_eq!(one.body["totalCount"], 1);
    assert_eq!(far.status, 200, "{}", far.text);
    assert_eq!(far.body["items"], json!([]));
    assert_eq!(far.body["offset"], 1_000_000);
    assert_eq!(far.body["totalCount"], 1);
}

#[tokio::test]
async fn list_pages_through_every_invitation_with_an_exact_total() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let mut created = Vec::new();
    for n in 0..7 {
        created.push(
            app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
                .await,
        );
    }

    let mut seen = Vec::new();
    for offset in [0, 3, 6, 9] {
        let page = app
            .get(&format!("{INVITATIONS}?limit=3&offset={offset}"), &org.key)
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["totalCount"], 7, "offset {offset}");
        assert_eq!(page.body["limit"], 3);
        assert_eq!(page.body["offset"], offset);
        let ids = item_ids(&page);
        let expected_len = (7_usize.saturating_sub(offset)).min(3);
        assert_eq!(ids.len(), expected_len, "offset {offset}");
        seen.extend(ids);
    }

    created.reverse();
    assert_eq!(
        seen, created,
        "pages are disjoint and cover everything, newest first"
    );
}

#[tokio::test]
async fn list_orders_newest_first_and_breaks_ties_by_id_descending() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
                .await,
        );
    }
    // ids[0] and ids[3] newest and tied; ids[1], ids[2], ids[4] older and tied.
    let now = Millis::now().0;
    app.execute_sql(&format!(
        "UPDATE invitations SET created_at = CASE WHEN id IN ({}, {}) THEN {now} ELSE {} END",
        ids[0],
        ids[3],
        now - 5_000
    ));

    let all = app.get(INVITATIONS, &org.key).await;
    let paged_one = app
        .get(&format!("{INVITATIONS}?limit=2&offset=1"), &org.key)
        .await;

    let expected = vec![ids[3], ids[0], ids[4], ids[2], ids[1]];
    assert_eq!(item_ids(&all), expected);
    assert_eq!(item_ids(&paged_one), expected[1..3]);
}

/// One invitation in each of the five statuses; returns their ids in the
/// order PENDING, ACCEPTED, DECLINED, REVOKED, EXPIRED.
async fn one_of_each_status(app: &TestApp, org: &TestOrg) -> [i64; 5] {
    let pending = app
        .invite_ok(&org.key, "pending@example.com", "MEMBER")
        .await;
    let accepted = app
        .invite_ok(&org.key, "accepted@example.com", "MEMBER")
        .await;
    let declined = app
        .invite_ok(&org.key, "declined@example.com", "ADMIN")
        .await;
    let revoked = app
        .invite_ok(&org.key, "revoked@example.com", "MEMBER")
        .await;
    let expired = app
        .invite_ok(&org.key, "expired@example.com", "MEMBER")
        .await;
    app.set_stored_status(accepted, "ACCEPTED");
    app.set_stored_status(declined, "DECLINED");
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    app.expire_in_place(expired);
    [pending, accepted, declined, revoked, expired]
}

#[tokio::test]
async fn list_filters_by_each_of_the_five_statuses() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ids = one_of_each_status(&app, &org).await;

    for (status, id) in ["PENDING", "ACCEPTED", "DECLINED", "REVOKED", "EXPIRED"]
        .into_iter()
        .zip(ids)
    {
        for extra in ["", "&includeExpired=false", "&includeExpired=true"] {
            let reply = app
                .get(&format!("{INVITATIONS}?status={status}{extra}"), &org.key)
                .await;

            assert_eq!(reply.status, 200, "{status}{extra}: {}", reply.text);
            assert_eq!(item_ids(&reply), [id], "{status}{extra}");
            assert_eq!(reply.body["items"][0]["status"], status);
            assert_eq!(reply.body["totalCount"], 1, "{status}{extra}");
        }
    }
}

#[tokio::test]
async fn list_leaves_out_expired_invitations_unless_asked() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let [pending, accepted, declined, revoked, expired] = one_of_each_status(&app, &org).await;
    // Also one stored as EXPIRED already, as the sweep leaves it.
    let swept = app.invite_ok(&org.key, "swept@example.com", "MEMBER").await;
    app.expire_in_place(swept);
    app.set_stored_status(swept, "EXPIRED");

    let default = app.get(INVITATIONS, &org.key).await;
    let explicit_false = app
        .get(&format!("{INVITATIONS}?includeExpired=false"), &org.key)
        .await;
    let included = app
        .get(&format!("{INVITATIONS}?includeExpired=true"), &org.key)
        .await;

    let live = vec![revoked, declined, accepted, pending];
    assert_eq!(item_ids(&default), live);
    assert_eq!(default.body["totalCount"], 4);
    assert_eq!(item_ids(&explicit_false), live);
    assert_eq!(explicit_false.body["totalCount"], 4);
    assert_eq!(
        item_ids(&included),
        [swept, expired, revoked, declined, accepted, pending]
    );
    assert_eq!(included.body["totalCount"], 6);
    assert_eq!(included.body["items"][0]["status"], "EXPIRED");
    assert_eq!(included.body["items"][1]["status"], "EXPIRED");
    let expired_only = app
        .get(&format!("{INVITATIONS}?status=EXPIRED"), &org.key)
        .await;
    assert_eq!(item_ids(&expired_only), [swept, expired]);
    assert_eq!(expired_only.body["totalCount"], 2);
}

#[tokio::test]
async fn list_refuses_unknown_statuses_and_include_expired_values() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (query, field) in [
        ("status=pending", "status"),
        ("status=CANCELLED", "status"),
        ("status=", "status"),
        ("status=PENDING,EXPIRED", "status"),
        ("includeExpired=yes", "includeExpired"),
        ("includeExpired=1", "includeExpired"),
        ("includeExpired=TRUE", "includeExpired"),
        ("includeExpired=", "includeExpired"),
    ] {
        let reply = app.get(&format!("{INVITATIONS}?{query}"), &org.key).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.text);
    }
}

#[tokio::test]
async fn list_ignores_unknown_query_parameters() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let reply = app
        .get(&format!("{INVITATIONS}?sort=email&page=3"), &org.key)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(item_ids(&reply), [id]);
}

#[tokio::test]
async fn a_pending_invitation_reads_as_expired_once_its_lifetime_passes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let before = app
        .get(&format!("{INVITATIONS}?status=PENDING"), &org.key)
        .await;
    assert_eq!(item_ids(&before), [id]);

    app.clock
        .advance(app.settings.invitations.lifetime.0 + Duration::from_secs(1));

    let pending = app
        .get(&format!("{INVITATIONS}?status=PENDING"), &org.key)
        .await;
    let pending_incl = app
        .get(
            &format!("{INVITATIONS}?status=PENDING&includeExpired=true"),
            &org.key,
        )
        .await;
    let default = app.get(INVITATIONS, &org.key).await;
    let included = app
        .get(&format!("{INVITATIONS}?includeExpired=true"), &org.key)
        .await;
    let expired = app
        .get(&format!("{INVITATIONS}?status=EXPIRED"), &org.key)
        .await;

    for (name, reply) in [
        ("PENDING", &pending),
        ("PENDING+incl", &pending_incl),
        ("default", &default),
    ] {
        assert_eq!(reply.body["items"], json!([]), "{name}");
        assert_eq!(reply.body["totalCount"], 0, "{name}");
    }
    for reply in [&included, &expired] {
        assert_eq!(item_ids(reply), [id]);
        assert_eq!(reply.body["totalCount"], 1);
        assert_eq!(reply.body["items"][0]["status"], "EXPIRED");
        // Nobody acted on it: updatedAt is still the creation time.
        assert_eq!(
            reply.body["items"][0]["updatedAt"],
            before.body["items"][0]["updatedAt"]
        );
    }
    // Read-time expiry: the default sweep (every 10 s) has not stored it yet.
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn the_background_sweep_stores_expiry_without_changing_any_answer() {
    // The sweep runs 2 s after the server starts, then every 2 s of real time;
    // expiry itself follows the server's clock, which the test moves.
    let app = spawn_app_with(|s| {
        s.invitations.expiry_sweep_interval = HumanDuration::secs(2);
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let expiring = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let accepted = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.set_stored_status(accepted, "ACCEPTED");
    let queries = [
        INVITATIONS.to_owned(),
        format!("{INVITATIONS}?includeExpired=true"),
        format!("{INVITATIONS}?status=EXPIRED"),
        format!("{INVITATIONS}?status=PENDING"),
        format!("{INVITATIONS}?status=ACCEPTED"),
        format!("{INVITATIONS}?includeExpired=true&limit=1&offset=1"),
    ];
    app.clock
        .advance(app.settings.invitations.lifetime.0 + Duration::from_secs(1));
    assert_eq!(app.stored_status(expiring), "PENDING", "not swept yet");
    let mut before = Vec::new();
    for query in &queries {
        before.push(app.get(query, &org.key).await.body);
    }
    assert_eq!(app.stored_status(expiring), "PENDING", "not swept yet");

    eventually(Duration::from_secs(5), "the sweep", || {
        (app.stored_status(expiring) == "EXPIRED").then_some(())
    })
    .await;

    assert_eq!(app.stored_status(accepted), "ACCEPTED");
    for (query, before) in queries.iter().zip(before) {
        let after = app.get(query, &org.key).await;
        assert_eq!(after.body, before, "{query}");
    }
}

// ---------------------------------------------------------------- revoke

#[tokio::test]
async fn revoke_turns_a_pending_invitation_revoked() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let created = app.invite(&org.key, "bob@example.com", "MEMBER").await;
    let id = created.body["id"].as_i64().unwrap();

    let reply = app.revoke(&org.key, id).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({ "id": id }));
    assert_eq!(app.stored_status(id), "REVOKED");
    let listed = app.get(INVITATIONS, &org.key).await;
    let item = &listed.body["items"][0];
    assert_eq!(item["status"], "REVOKED");
    assert_eq!(item["createdAt"], created.body["createdAt"]);
    assert_eq!(item["expiresAt"], created.body["expiresAt"]);
    assert!(millis_of(&item["updatedAt"]) >= millis_of(&created.body["updatedAt"]));
    let pending = app
        .get(&format!("{INVITATIONS}?status=PENDING"), &org.key)
        .await;
    assert_eq!(pending.body["totalCount"], 0);
}

#[tokio::test]
async fn revoke_accepts_an_expired_invitation_swept_or_not() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let unswept = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let swept = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.expire_in_place(unswept);
    app.expire_in_place(swept);
    app.set_stored_status(swept, "EXPIRED");

    for id in [unswept, swept] {
        let reply = app.revoke(&org.key, id).await;

        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body, json!({ "id": id }));
        assert_eq!(app.stored_status(id), "REVOKED");
    }
    let revoked = app
        .get(&format!("{INVITATIONS}?status=REVOKED"), &org.key)
        .await;
    assert_eq!(item_ids(&revoked), [swept, unswept]);
    assert_eq!(revoked.body["totalCount"], 2);
    let expired = app
        .get(&format!("{INVITATIONS}?status=EXPIRED"), &org.key)
        .await;
    assert_eq!(expired.body["totalCount"], 0);
    assert_eq!(expired.body["items"], json!([]));
}

#[tokio::test]
async fn revoking_twice_answers_the_same_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let first = app.revoke(&org.key, id).await;
    let after_first = app.get(INVITATIONS, &org.key).await;
    app.clock.advance(Duration::from_secs(1));

    let second = app.revoke(&org.key, id).await;

    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body, first.body);
    assert_eq!(second.body, json!({ "id": id }));
    let after_second = app.get(INVITATIONS, &org.key).await;
    assert_eq!(after_second.body, after_first.body, "updatedAt is kept");
    assert_eq!(
        app.get(&format!("{INVITATIONS}?status=REVOKED"), &org.key)
            .await
            .body["totalCount"],
        1
    );
}

#[tokio::test]
async fn revoke_refuses_accepted_and_declined_invitations() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for status in ["ACCEPTED", "DECLINED"] {
        let id = app
            .invite_ok(
                &org.key,
                &format!("{}@example.com", status.to_lowercase()),
                "MEMBER",
            )
            .await;
        app.set_stored_status(id, status);
        let before = app
            .get(&format!("{INVITATIONS}?status={status}"), &org.key)
            .await;

        let reply = app.revoke(&org.key, id).await;

        reply.assert_problem(409, "invitation_not_revocable");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(status),
            "{}",
            reply.text
        );
        assert_eq!(app.stored_status(id), status);
        let after = app
            .get(&format!("{INVITATIONS}?status={status}"), &org.key)
            .await;
        assert_eq!(after.body, before.body);
    }
}

#[tokio::test]
async fn revoke_answers_404_for_an_unknown_invitation() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    for unknown in [id + 1, 999_999, i64::MAX] {
        let reply = app.revoke(&org.key, unknown).await;

        reply.assert_problem(404, "not_found");
        assert_eq!(reply.body["detail"], "invitation not found");
    }
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn revoke_refuses_ids_that_are_not_positive_integers() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    for bad in [
        "0",
        "-3",
        "abc",
        "1.5",
        "1e3",
        "99999999999999999999",
        "%20",
    ] {
        let reply = app.revoke(&org.key, bad).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "id", "{bad}: {}", reply.text);
    }
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM invitations WHERE status = 'PENDING'"),
        1
    );
}

#[tokio::test]
async fn concurrent_invitations_of_one_email_create_exactly_one() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let (a, b, c, d, e, f) = tokio::join!(
        app.invite(&org.key, "bob@example.com", "MEMBER"),
        app.invite(&org.key, "BOB@example.com", "MEMBER"),
        app.invite(&org.key, "bob@EXAMPLE.com", "ADMIN"),
        app.invite(&org.key, "Bob@example.com", "MEMBER"),
        app.invite(&org.key, " bob@example.com", "ADMIN"),
        app.invite(&org.key, "bob@example.COM", "MEMBER"),
    );

    let replies = [a, b, c, d, e, f];
    let created = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(created, 1, "{replies:#?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        reply.assert_problem(409, "invitation_pending");
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
    let listed = app.get(INVITATIONS, &org.key).await;
    assert_eq!(listed.body["totalCount"], 1);
}

// ---------------------------------------------------------------- who may make admins

/// An `invitations:write` key without `users:write` (an integration that
/// sends invitations) cannot invite anyone, itself included, as ADMIN.
#[tokio::test]
async fn an_admin_invitation_needs_users_write_beside_invitations_write() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let narrow = app.api_key(
        org.id,
        org.admin_id,
        &[
            enlist::domain::Scope::InvitationsRead,
            enlist::domain::Scope::InvitationsWrite,
        ],
    );

    let refused = app.invite(&narrow, "mallory@example.com", "ADMIN").await;

    refused.assert_problem(403, "missing_scope");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`invitations:write`") && detail.contains("`users:write`"),
        "{detail}"
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 0);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM events WHERE type LIKE 'invitation.%'"),
        0
    );
    // A MEMBER invitation is what the key is for; with users:write, ADMIN too.
    let member = app.invite(&narrow, "bob@example.com", "MEMBER").await;
    assert_eq!(member.status, 200, "{}", member.text);
    let admin = app.invite(&org.key, "carol@example.com", "ADMIN").await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    assert_eq!(admin.body["role"], "ADMIN");
}

/// A resend renews an invitation's expiry (and revives an expired one), so
/// it is held to the same rule as the create; revoking takes power away
/// and needs `invitations:write` only.
#[tokio::test]
async fn resending_an_admin_invitation_needs_users_write_too() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let narrow = app.api_key(
        org.id,
        org.admin_id,
        &[enlist::domain::Scope::InvitationsWrite],
    );
    let admin_invitation = app.invite_ok(&org.key, "carol@example.com", "ADMIN").await;
    let member_invitation = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.expire_in_place(admin_invitation);
    let expiry = format!("SELECT expires_at FROM invitations WHERE id = {admin_invitation}");
    let expired_at = app.query_i64(&expiry);

    let refused = app.resend(&narrow, admin_invitation).await;

    refused.assert_problem(403, "missing_scope");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("`users:write`"),
        "{}",
        refused.text
    );
    assert_eq!(app.outbox_count_for(admin_invitation), 1);
    assert_eq!(app.query_i64(&expiry), expired_at, "not revived");
    let member = app.resend(&narrow, member_invitation).await;
    assert_eq!(member.status, 200, "{}", member.text);
    // The refusal started no minute: the full key resends at once.
    let resent = app.resend(&org.key, admin_invitation).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert_eq!(resent.body["status"], "PENDING");
    assert_eq!(app.outbox_count_for(admin_invitation), 2);
    let revoked = app.revoke(&narrow, admin_invitation).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
}
