//! The organization's lifecycle over HTTP: `PATCH /v1/organization`,
//! `GET /v1/organization/export`, `DELETE /v1/organization` and
//! self-serve creation through `POST /organizations`.

use crate::helpers::*;
use enlist::domain::Scope;
use reqwest::Method;
use serde_json::{Value, json};

async fn patch(app: &TestApp, key: &str, body: &Value) -> Reply {
    app.request(Method::PATCH, "/v1/organization", Some(key), Some(body))
        .await
}

async fn delete_org(app: &TestApp, key: &str, confirm: &str) -> Reply {
    app.request(
        Method::DELETE,
        "/v1/organization",
        Some(key),
        Some(&json!({ "confirm": confirm })),
    )
    .await
}

async fn events_of(app: &TestApp, key: &str, kind: &str) -> Vec<Value> {
    let page = app
        .get(
            &format!("/v1/organization/events?type={kind}&limit=100"),
            key,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.body["items"].as_array().unwrap().clone()
}

/// The rows of an organization a refused change must leave as they were.
fn org_row(app: &TestApp, org_id: i64) -> Vec<String> {
    app.query_strings(&format!(
        "SELECT name || ' ' || COALESCE(logo_url, '-') || ' ' || COALESCE(metadata, '-') || ' '
                || updated_at
         FROM organizations WHERE id = {org_id}
         UNION ALL SELECT 'events ' || COUNT(*) FROM events WHERE org_id = {org_id}"
    ))
}

#[tokio::test]
async fn patch_changes_what_is_given_and_one_event_names_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let before = app.get("/v1/organization", &org.key).await.body;
    assert!(before.get("metadata").is_none(), "{before}");
    app.clock.advance(std::time::Duration::from_secs(60));

    let changed = patch(
        &app,
        &org.key,
        &json!({ "name": "  Acme Inc. ", "metadata": { "plan": "pro", "seats": 40 } }),
    )
    .await;

    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["name"], "Acme Inc.");
    assert_eq!(
        changed.body["logoUrl"], before["logoUrl"],
        "absent: unchanged"
    );
    assert_eq!(
        changed.body["metadata"],
        json!({ "plan": "pro", "seats": 40 })
    );
    assert_ne!(changed.body["updatedAt"], before["updatedAt"]);
    let read = app.get("/v1/organization", &org.key).await;
    assert_eq!(read.body, changed.body);
    let events = events_of(&app, &org.key, "organization.updated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["changed"], json!(["name", "metadata"]));
    assert_eq!(events[0]["data"]["organization"], changed.body);
    assert_eq!(events[0]["actor"]["type"], "api_key");

    // null clears the logo and the metadata; the same values again change nothing.
    let cleared = patch(
        &app,
        &org.key,
        &json!({ "logoUrl": null, "metadata": null }),
    )
    .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.body["logoUrl"], Value::Null);
    assert!(cleared.body.get("metadata").is_none(), "{}", cleared.text);
    let same = patch(&app, &org.key, &json!({ "name": "Acme Inc." })).await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.body, cleared.body);
    let events = events_of(&app, &org.key, "organization.updated").await;
    assert_eq!(events.len(), 2, "an unchanged PATCH records nothing");
    assert_eq!(events[0]["data"]["changed"], json!(["logoUrl", "metadata"]));
}

#[tokio::test]
async fn patch_refuses_bad_input_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let before = org_row(&app, org.id);

    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "Ac\nme" }), "name"),
        (json!({ "name": "x".repeat(201) }), "name"),
        (json!({ "name": null }), "name"),
        (json!({ "name": 7 }), "name"),
        (json!({ "logoUrl": "javascript:alert(1)" }), "logoUrl"),
        (
            json!({ "logoUrl": "https://cdn.example.com/a b.png" }),
            "logoUrl",
        ),
        (json!({ "logoUrl": 3 }), "logoUrl"),
        (json!({ "metadata": [1, 2] }), "metadata"),
        (json!({ "metadata": "plan=pro" }), "metadata"),
        (
            json!({ "metadata": { "pad": "x".repeat(8200) } }),
            "metadata",
        ),
        // A good field beside a bad one changes nothing either.
        (json!({ "name": "Globex", "metadata": 1 }), "metadata"),
    ] {
        let reply = patch(&app, &org.key, &body).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.text);
    }
    assert_eq!(org_row(&app, org.id), before);

    // Exactly 8 KiB is allowed.
    let pad = "x".repeat(8192 - r#"{"pad":""}"#.len());
    let at_bound = patch(&app, &org.key, &json!({ "metadata": { "pad": pad } })).await;
    assert_eq!(at_bound.status, 200, "{}", at_bound.text);
}

#[tokio::test]
async fn metadata_stays_on_the_admin_side() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let set = patch(
        &app,
        &org.key,
        &json!({ "metadata": { "crm": "secret-ish" } }),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let token = app.invitee_token("iris@example.test").await;
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;

    let invitation = app
        .invitee_get(&format!("/invitations/{uuid}"), &token)
        .await;
    let accepted = app.respond(&uuid, "true", &token).await;
    let memberships = app.invitee_get("/organizations", &token).await;
    let page = app
        .client
        .get(format!("{}/invite/{uuid}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(invitation.status, 200, "{}", invitation.text);
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(memberships.status, 200, "{}", memberships.text);
    for shown in [&invitation.text, &accepted.text, &memberships.text, &page] {
        assert!(!shown.contains("secret-ish"), "{shown}");
    }
}

/// Totals as the admin API reports them.
async fn totals(app: &TestApp, key: &str) -> Value {
    let total = |path: &'static str| async move {
        let page = app.get(path, key).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        page.body["totalCount"].as_i64().unwrap()
    };
    let mut events = 0;
    let mut after = String::new();
    loop {
        let page = app
            .get(&format!("/v1/organization/events?limit=1000{after}"), key)
            .await;
        events += page.body["items"].as_array().unwrap().len();
        match page.body["nextCursor"].as_str() {
            Some(cursor) => after = format!("&after={cursor}"),
            None => break,
        }
    }
    json!({
        "members": total("/v1/organization/users").await,
        "roles": total("/v1/organization/roles").await,
        "teams": total("/v1/organization/teams").await,
        "invitations": total("/v1/organization/invitations?includeExpired=true").await,
        "joinLinks": total("/v1/organization/join-links").await,
        "webhooks": total("/v1/organization/webhooks").await,
        "events": events,
    })
}

/// An organization with something of everything: members, a custom role,
/// a team with a member, invitations (pending, revoked), a join link, a
/// webhook endpoint and a second key. Answers (invitation id, join link
/// token, second key).
async fn populate(app: &TestApp, org: &TestOrg) -> (i64, String, String) {
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let role = json!({ "key": "billing", "name": "Billing", "permissions": ["invoices:read"] });
    assert_eq!(
        app.post("/v1/organization/roles", &org.key, &role)
            .await
            .status,
        200
    );
    let team = app
        .post(
            "/v1/organization/teams",
            &org.key,
            &json!({ "name": "Ops" }),
        )
        .await;
    assert_eq!(team.status, 200, "{}", team.text);
    let team = team.body["id"].as_i64().unwrap();
    let put = app
        .request(
            Method::PUT,
            &format!("/v1/organization/teams/{team}/members/{bob}"),
            Some(&org.key),
            None,
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let pending = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "carol@example.com", "role": "MEMBER", "teamIds": [team] }),
        )
        .await;
    assert_eq!(pending.status, 200, "{}", pending.text);
    let pending = pending.body["id"].as_i64().unwrap();
    let revoked = app.invite_ok(&org.key, "dan@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 5, "expiresIn": "1d", "teamIds": [team] }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let token = link.body["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let hook = app
        .post(
            "/v1/organization/webhooks",
            &org.key,
            &json!({ "url": "https://93.184.216.34/in" }),
        )
        .await;
    assert_eq!(hook.status, 200, "{}", hook.text);
    let second = app.api_key(org.id, org.admin_id, &[Scope::OrganizationRead]);
    (pending, token, second)
}

#[tokio::test]
async fn export_holds_everything_and_no_secret() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, join_token, second_key) = populate(&app, &org).await;
    let expected = totals(&app, &org.key).await;

    let export = app.get("/v1/organization/export", &org.key).await;

    assert_eq!(export.status, 200, "{}", export.text);
    let body = &export.body;
    assert_eq!(body["version"], 1);
    assert_timestamp(&body["exportedAt"]);
    assert_eq!(body["organization"]["id"], org.id);
    assert_eq!(body["counts"], expected, "{}", export.text);
    for (part, count) in expected.as_object().unwrap() {
        assert_eq!(
            body[part].as_array().unwrap().len() as i64,
            count.as_i64().unwrap(),
            "{part}"
        );
    }
    assert_eq!(body["teams"][0]["name"], "Ops");
    assert_eq!(body["teams"][0]["memberIds"].as_array().unwrap().len(), 1);
    assert!(body["joinLinks"][0].get("url").is_none());
    // The teams they put people in, as the admin API shows them.
    let team = &body["teams"][0]["id"];
    assert_eq!(body["joinLinks"][0]["teamIds"], json!([team]));
    let carol = body["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["inviteeEmail"] == "carol@example.com")
        .unwrap();
    assert_eq!(carol["teamIds"], json!([team]));
    assert!(body["webhooks"][0].get("secret").is_none());
    assert!(!export.text.contains("whsec_"), "no webhook secret");
    assert!(!export.text.contains(&join_token), "no join-link token");
    assert!(!export.text.contains(&second_key));
    assert!(!export.text.contains(&org.key));
}

#[tokio::test]
async fn delete_refuses_a_confirm_that_is_not_the_name_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    populate(&app, &org).await;
    let before = totals(&app, &org.key).await;

    for body in [
        json!({ "confirm": "acme" }),
        json!({ "confirm": "Acme " }),
        json!({ "confirm": "" }),
        json!({ "confirm": 1 }),
        json!({}),
    ] {
        let reply = app
            .request(
                Method::DELETE,
                "/v1/organization",
                Some(&org.key),
                Some(&body),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "confirm", "{body}");
    }

    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
    assert_eq!(totals(&app, &org.key).await, before);
    let exports = app.settings.organizations.export_dir.clone();
    assert!(!exports.exists() || std::fs::read_dir(exports).unwrap().next().is_none());
}

#[tokio::test]
async fn delete_writes_the_export_then_nothing_of_the_organization_works() {
    let app = spawn_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Globex", "gil@globex.test");
    let (invitation, join_token, second_key) = populate(&app, &org).await;
    let invitation_path = app.invitation_link_path(invitation);
    let uuid = app.invitation_uuid(invitation);
    let token = app.invitee_token("carol@example.com").await;
    let expected = totals(&app, &org.key).await;
    let other_before = app.get("/v1/organization/export", &other.key).await.body;

    let deleted = delete_org(&app, &org.key, "Acme").await;

    // The answer says what went and carries the export, which a file holds too.
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["id"], org.id);
    assert_eq!(deleted.body["uuid"], org.uuid);
    assert_eq!(deleted.body["deleted"], true);
    let export = &deleted.body["export"];
    assert_eq!(export["counts"], expected, "{}", deleted.text);
    let file = app
        .settings
        .organizations
        .export_dir
        .join(deleted.body["exportFile"].as_str().unwrap());
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(&written, export);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the export is the owner's only");
    }

    // Every key answers 401; links and the invitation are gone.
    for key in [&org.key, &second_key] {
        app.get("/v1/organization", key)
            .await
            .assert_problem(401, "invalid_api_key");
    }
    for path in [invitation_path.as_str(), &format!("/join/{join_token}")] {
        let page = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 404, "{path}");
    }
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 404, "{}", accepted.text);
    assert_eq!(
        app.invitee_get("/invitations", &token).await.body,
        json!([])
    );
    // Nothing of it is left to deliver or to count.
    let pass = app.deliver_webhooks_once().await;
    assert_eq!(pass.attempted, 0);
    for table in [
        "api_keys",
        "webhook_endpoints",
        "join_links",
        "invitations",
        "invitation_counts",
        "outbox",
        "memberships",
        "events",
        "teams",
        "org_roles",
    ] {
        assert_eq!(
            app.query_i64(&format!(
                "SELECT COUNT(*) FROM {table} WHERE org_id = {}",
                org.id
            )),
            0,
            "{table}"
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM webhook_deliveries"), 0);
    // The people keep their accounts; the other organization is untouched.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email = 'bob@acme.test'"),
        1
    );
    let mut other_after = app.get("/v1/organization/export", &other.key).await.body;
    other_after["exportedAt"] = other_before["exportedAt"].clone();
    assert_eq!(other_after, other_before);
}

#[tokio::test]
async fn self_serve_is_off_by_default() {
    let app = spawn_app().await;
    let token = app.invitee_token("ivy@example.test").await;

    let reply = app
        .client
        .post(format!("{}/organizations", app.address))
        .bearer_auth(&token)
        .json(&json!({ "name": "Ivy's" }))
        .send()
        .await
        .unwrap();

    let reply = crate::helpers::reply(reply).await;
    reply.assert_problem(403, "self_serve_disabled");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 0);
}

async fn create_own(app: &TestApp, token: &str, body: &Value) -> Reply {
    let reply = app
        .client
        .post(format!("{}/organizations", app.address))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    crate::helpers::reply(reply).await
}

#[tokio::test]
async fn self_serve_creates_up_to_the_per_user_limit() {
    let app = spawn_app_with(|settings| {
        settings.organizations.self_serve = true;
        settings.organizations.per_user_limit = 2;
    })
    .await;
    let token = app.invitee_token("ivy@example.test").await;

    let first = create_own(&app, &token, &json!({ "name": "Ivy Labs" })).await;
    let second = create_own(&app, &token, &json!({ "name": "Ivy Two" })).await;
    let third = create_own(&app, &token, &json!({ "name": "Ivy Three" })).await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(second.status, 200, "{}", second.text);
    for key in ["id", "name", "logo_url", "role", "joined_at"] {
        assert!(first.body.get(key).is_some(), "{key}: {}", first.text);
    }
    uuid::Uuid::parse_str(first.body["id"].as_str().unwrap()).unwrap();
    assert_eq!(first.body["name"], "Ivy Labs");
    assert_eq!(first.body["role"], "ADMIN");
    assert_eq!(first.body["logo_url"], Value::Null);
    assert_timestamp(&first.body["joined_at"]);
    third.assert_problem(409, "organization_limit");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 2);
    let mine = app.invitee_get("/organizations", &token).await;
    let names: Vec<&str> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ivy Labs", "Ivy Two"]);
    // The new admin's membership is in the organization's log.
    let org_id = app.query_i64("SELECT MIN(id) FROM organizations");
    let admin = app.query_i64("SELECT id FROM users WHERE email = 'ivy@example.test'");
    let key = app.api_key(org_id, admin, &[Scope::EventsRead, Scope::UsersRead]);
    let added = events_of(&app, &key, "member.added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["actor"]["type"], "client");

    // A bad name answers 400 naming it and makes nothing.
    for body in [
        json!({ "name": " " }),
        json!({}),
        json!({ "name": "a\u{0}b" }),
    ] {
        let reply = create_own(&app, &token, &body).await;
        assert_eq!(reply.body["field"], "name", "{}", reply.text);
    }
    // Being a MEMBER elsewhere does not count; the limit still holds.
    let other = app.create_org("Other", "otto@example.test");
    app.add_member(other.id, "ivy@example.test", "MEMBER");
    let still = create_own(&app, &token, &json!({ "name": "Ivy Three" })).await;
    still.assert_problem(409, "organization_limit");
}

#[tokio::test]
async fn self_serve_refuses_an_unverified_account() {
    let app = spawn_app_with(|settings| settings.organizations.self_serve = true).await;
    app.create_unverified_user("sam@example.test", None);
    let client = app.bound_client("sam@example.test");
    let issued = app.client_credentials(&client).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let token = issued.body["access_token"].as_str().unwrap();

    let reply = create_own(&app, token, &json!({ "name": "Sam's" })).await;

    reply.assert_problem(403, "email_unverified");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 0);
}

#[tokio::test]
async fn each_key_reaches_only_its_own_organization() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "gil@globex.test");
    populate(&app, &globex).await;
    let globex_before = app.get("/v1/organization/export", &globex.key).await.body;

    // Acme's key, whatever the body or query names, touches Acme only.
    let patched = patch(
        &app,
        &acme.key,
        &json!({ "name": "Acme 2", "id": globex.id, "uuid": globex.uuid }),
    )
    .await;
    let exported = app
        .get(
            &format!("/v1/organization/export?id={}", globex.id),
            &acme.key,
        )
        .await;
    let refused = delete_org(&app, &acme.key, "Globex").await;
    let deleted = delete_org(&app, &acme.key, "Acme 2").await;

    assert_eq!(patched.body["id"], acme.id, "{}", patched.text);
    assert_eq!(exported.body["organization"]["id"], acme.id);
    assert_eq!(exported.body["counts"]["members"], 1);
    assert_eq!(exported.body["counts"]["webhooks"], 0);
    assert!(!exported.text.contains("globex"), "{}", exported.text);
    assert_eq!(refused.body["field"], "confirm", "{}", refused.text);
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["id"], acme.id);
    let mut globex_after = app.get("/v1/organization/export", &globex.key).await.body;
    globex_after["exportedAt"] = globex_before["exportedAt"].clone();
    assert_eq!(globex_after, globex_before);
}

#[tokio::test]
async fn the_api_answers_the_document_the_command_line_prints() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    populate(&app, &org).await;

    let answered = app.get("/v1/organization/export", &org.key).await;
    // `enlist org export` prints this service call's answer.
    let now = app.clock.now();
    let printed = app
        .db
        .read_blocking(|conn| enlist::services::org_export::of(conn, org.id, now))
        .unwrap();

    let mut printed = serde_json::to_value(&printed).unwrap();
    printed["exportedAt"] = answered.body["exportedAt"].clone();
    assert_eq!(printed, answered.body);
}
