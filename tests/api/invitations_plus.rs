//! Invitations beyond the seeds: per-invitation options (lifetime, message,
//! metadata), the admin's view of one invitation, role changes and leaving.

use crate::helpers::*;
use enlist::domain::Scope;
use reqwest::Method;
use serde_json::{Value, json};

const SEED_KEYS: [&str; 9] = [
    "createdAt",
    "expiresAt",
    "id",
    "inviteeEmail",
    "inviterUserId",
    "organizationId",
    "role",
    "status",
    "updatedAt",
];

async fn patch(app: &TestApp, path: &str, key: &str, body: &Value) -> Reply {
    app.request(Method::PATCH, path, Some(key), Some(body))
        .await
}

#[tokio::test]
async fn options_are_stored_returned_to_the_admin_mailed_and_shown_escaped() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let reply = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({
                "inviteeEmail": "bob@example.test",
                "role": "MEMBER",
                "expiresIn": "3d",
                "message": "Welcome <b>Bob</b> & co",
                "metadata": { "team": "blue", "seats": [1, 2] },
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The seed's shape, exactly.
    assert_eq!(keys_of(&reply.body), SEED_KEYS);
    assert_eq!(
        millis_of(&reply.body["expiresAt"]) - millis_of(&reply.body["createdAt"]),
        3 * 86_400_000
    );
    let id = reply.body["id"].as_i64().unwrap();

    let got = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    let mut expected: Vec<String> = SEED_KEYS.iter().map(|k| (*k).to_owned()).collect();
    expected.extend(["message", "metadata", "uuid"].map(String::from));
    expected.sort();
    assert_eq!(keys_of(&got.body), expected);
    for key in SEED_KEYS {
        assert_eq!(got.body[key], reply.body[key], "{key}");
    }
    assert_eq!(got.body["message"], "Welcome <b>Bob</b> & co");
    assert_eq!(
        got.body["metadata"],
        json!({ "team": "blue", "seats": [1, 2] })
    );
    let uuid = got.body["uuid"].as_str().unwrap().to_owned();
    assert_eq!(uuid, app.invitation_uuid(id));

    // Stored as given.
    assert_eq!(
        app.query_strings(&format!("SELECT message FROM invitations WHERE id = {id}")),
        vec!["Welcome <b>Bob</b> & co".to_owned()]
    );
    // In the message: plain in the text part, escaped in the HTML part.
    let mail = read_eml(&wait_for_eml(&app.outbox_dir(), 1).await[0]);
    assert!(
        mail.text.contains("Welcome <b>Bob</b> & co"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("Welcome &lt;b&gt;Bob"), "{}", mail.html);
    assert!(!mail.html.contains("<b>Bob"), "{}", mail.html);

    // On the hosted page, escaped; the metadata never.
    let page = app
        .client
        .get(format!("{}/invite/{uuid}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Welcome &lt;b&gt;Bob&lt;/b&gt; &amp; co")
            || page.contains("Welcome &#60;b&#62;Bob"),
        "{page}"
    );
    assert!(!page.contains("<b>Bob"), "{page}");
    assert!(!page.contains("blue"), "{page}");

    // A resend mails the message again.
    assert_eq!(app.resend(&org.key, id).await.status, 200);
    let files = wait_for_eml(&app.outbox_dir(), 2).await;
    assert_eq!(files.len(), 2);
    assert!(read_eml(&files[1]).text.contains("Welcome <b>Bob</b> & co"));
}

#[tokio::test]
async fn expiry_in_seconds_and_unset_options_read_as_null() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let reply = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "s@example.test", "role": "ADMIN", "expiresIn": 3600,
                     "message": null, "metadata": null }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        millis_of(&reply.body["expiresAt"]) - millis_of(&reply.body["createdAt"]),
        3_600_000
    );
    let plain = app.invite_ok(&org.key, "p@example.test", "MEMBER").await;
    let got = app
        .get(&format!("/v1/organization/invitations/{plain}"), &org.key)
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["message"], Value::Null);
    assert_eq!(got.body["metadata"], Value::Null);
    assert_eq!(
        millis_of(&got.body["expiresAt"]) - millis_of(&got.body["createdAt"]),
        7 * 86_400_000
    );
    // A blank message is no message.
    let reply = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "b@example.test", "role": "MEMBER", "message": "   " }),
        )
        .await;
    let blank = reply.body["id"].as_i64().unwrap();
    let got = app
        .get(&format!("/v1/organization/invitations/{blank}"), &org.key)
        .await;
    assert_eq!(got.body["message"], Value::Null);
}

#[tokio::test]
async fn bad_options_answer_400_naming_the_field_and_create_nothing() {
    let app = spawn_app_with(|s| {
        s.invitations.max_lifetime = enlist::config::HumanDuration::secs(10 * 86_400)
    })
    .await;
    let org = app.create_org("acme", "admin@acme.test");
    let base = || json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" });
    let cases: Vec<(&str, Value)> = vec![
        ("expiresIn", json!("11d")),
        ("expiresIn", json!(0)),
        ("expiresIn", json!(-1)),
        ("expiresIn", json!(1.5)),
        ("expiresIn", json!("soon")),
        ("expiresIn", json!(true)),
        ("message", json!("x".repeat(1001))),
        ("message", json!("bell\u{7}")),
        ("metadata", json!([1, 2])),
        ("metadata", json!("text")),
        ("metadata", json!({ "pad": "x".repeat(4096) })),
    ];
    for (field, value) in cases {
        let mut body = base();
        body[field] = value.clone();
        let reply = app
            .post("/v1/organization/invitations", &org.key, &body)
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(
            reply.body["field"], field,
            "{field}={value}: {}",
            reply.text
        );
    }
    // Wrong JSON types of the string field are body errors.
    let mut body = base();
    body["message"] = json!(5);
    let reply = app
        .post("/v1/organization/invitations", &org.key, &body)
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 0);
    // At the bounds: accepted.
    let mut body = base();
    body["expiresIn"] = json!("10d");
    body["message"] = json!("é".repeat(1000));
    let reply = app
        .post("/v1/organization/invitations", &org.key, &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn one_invitation_is_read_with_its_scope_and_only_in_its_organization() {
    let app = spawn_app().await;
    let acme = app.create_org("acme", "admin@acme.test");
    let other = app.create_org("other", "admin@other.test");
    let id = app.invite_ok(&acme.key, "bob@example.test", "MEMBER").await;
    let path = format!("/v1/organization/invitations/{id}");
    app.get(&path, &other.key)
        .await
        .assert_problem(404, "not_found");
    let writer = app.api_key(acme.id, acme.admin_id, &[Scope::InvitationsWrite]);
    app.get(&path, &writer)
        .await
        .assert_problem(403, "missing_scope");
    let reader = app.api_key(acme.id, acme.admin_id, &[Scope::InvitationsRead]);
    assert_eq!(app.get(&path, &reader).await.status, 200);
    for bad in ["0", "abc", "-1"] {
        app.get(&format!("/v1/organization/invitations/{bad}"), &reader)
            .await
            .assert_problem(400, "validation_failed");
    }
    app.get("/v1/organization/invitations/999999", &reader)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn role_changes_answer_the_user_and_demotion_revokes_the_keys() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let bob = app.add_member(org.id, "bob@example.test", "MEMBER");
    let path = format!("/v1/organization/users/{bob}");

    let reply = patch(&app, &path, &org.key, &json!({ "role": "ADMIN" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        keys_of(&reply.body),
        [
            "createdAt",
            "email",
            "firstName",
            "id",
            "lastName",
            "role",
            "updatedAt"
        ]
    );
    assert_eq!(reply.body["id"], bob);
    assert_eq!(reply.body["role"], "ADMIN");
    assert_eq!(reply.body["email"], "bob@example.test");
    let listed = app.get("/v1/organization/users", &org.key).await;
    let row = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == bob)
        .unwrap()
        .clone();
    assert_eq!(row, reply.body);

    // Bob, now an admin, gets a key; demoting him revokes it.
    let bobs_key = app.api_key(org.id, bob, &[Scope::OrganizationRead]);
    assert_eq!(app.get("/v1/organization", &bobs_key).await.status, 200);
    // The same role again changes nothing and keeps the key.
    let again = patch(&app, &path, &org.key, &json!({ "role": "ADMIN" })).await;
    assert_eq!(again.status, 200);
    assert_eq!(app.get("/v1/organization", &bobs_key).await.status, 200);
    let reply = patch(&app, &path, &org.key, &json!({ "role": "MEMBER" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["role"], "MEMBER");
    assert_eq!(
        app.query_strings(&format!(
            "SELECT revoked_reason FROM api_keys WHERE user_id = {bob}"
        )),
        vec!["owner_demoted".to_owned()]
    );
    assert_eq!(app.get("/v1/organization", &bobs_key).await.status, 401);
    assert_eq!(
        app.query_strings(&format!(
            "SELECT role FROM memberships WHERE user_id = {bob}"
        )),
        vec!["MEMBER".to_owned()]
    );

    // The last admin stays an admin.
    let admin = format!("/v1/organization/users/{}", org.admin_id);
    patch(&app, &admin, &org.key, &json!({ "role": "MEMBER" }))
        .await
        .assert_problem(409, "last_admin");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE role = 'ADMIN' AND org_id = {}",
            org.id
        )),
        1
    );
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);

    // Bad input, other organizations, scopes.
    let reply = patch(&app, &path, &org.key, &json!({ "role": "OWNER" })).await;
    reply.assert_problem(400, "validation_failed");
    assert_eq!(reply.body["field"], "role");
    patch(&app, &path, &org.key, &json!({}))
        .await
        .assert_problem(400, "validation_failed");
    patch(
        &app,
        "/v1/organization/users/abc",
        &org.key,
        &json!({ "role": "ADMIN" }),
    )
    .await
    .assert_problem(400, "validation_failed");
    patch(
        &app,
        "/v1/organization/users/999999",
        &org.key,
        &json!({ "role": "ADMIN" }),
    )
    .await
    .assert_problem(404, "not_found");
    let other = app.create_org("other", "admin@other.test");
    patch(&app, &path, &other.key, &json!({ "role": "ADMIN" }))
        .await
        .assert_problem(404, "not_found");
    let reader = app.api_key(org.id, org.admin_id, &[Scope::UsersRead]);
    patch(&app, &path, &reader, &json!({ "role": "ADMIN" }))
        .await
        .assert_problem(403, "missing_scope");
    assert_eq!(
        app.query_strings(&format!(
            "SELECT role FROM memberships WHERE user_id = {bob}"
        )),
        vec!["MEMBER".to_owned()]
    );
}

#[tokio::test]
async fn a_person_lists_their_organizations_and_leaves_one() {
    let app = spawn_app().await;
    let acme = app.create_org("acme", "admin@acme.test");
    let globex = app.create_org("globex", "admin@globex.test");
    let token = app.invitee_token("iris@example.test").await;
    let iris = app.add_member(acme.id, "iris@example.test", "MEMBER");
    app.add_member(globex.id, "iris@example.test", "ADMIN");
    let iris_key = app.api_key(globex.id, iris, &[Scope::OrganizationRead]);

    let reply = app.invitee_get("/organizations", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        keys_of(&items[0]),
        ["id", "joined_at", "logo_url", "name", "permissions", "role"]
    );
    assert_eq!(items[0]["id"], acme.uuid.as_str());
    assert_eq!(items[0]["name"], "acme");
    assert_eq!(items[0]["logo_url"], "https://cdn.example.com/acme.png");
    assert_eq!(items[0]["role"], "MEMBER");
    assert_timestamp(&items[0]["joined_at"]);
    assert_eq!(items[1]["id"], globex.uuid.as_str());
    assert_eq!(items[1]["role"], "ADMIN");

    // Leaving globex, where Iris is one of two admins: her keys die too.
    let path = format!("/organizations/{}/membership", globex.uuid);
    let reply = app.bearer(Method::DELETE, &path, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({ "id": globex.uuid }));
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {iris}"
        )),
        1
    );
    assert_eq!(app.get("/v1/organization", &iris_key).await.status, 401);
    app.bearer(Method::DELETE, &path, &token)
        .await
        .assert_problem(404, "not_found");
    app.bearer(Method::DELETE, "/organizations/nope/membership", &token)
        .await
        .assert_problem(422, "validation_failed");
    let listed = app.invitee_get("/organizations", &token).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // The last admin cannot leave.
    let admin = app.client_token(&app.bound_client("admin@acme.test")).await;
    let path = format!("/organizations/{}/membership", acme.uuid);
    app.bearer(Method::DELETE, &path, &admin)
        .await
        .assert_problem(409, "last_admin");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {}",
            acme.admin_id
        )),
        1
    );
    // Without a token: 401.
    let anonymous = app
        .client
        .get(format!("{}/organizations", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
