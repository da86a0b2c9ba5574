//! Roles as data: an organization's own roles through the admin API, handed
//! out wherever a role is taken, asked about with the permission check,
//! and the last-manager rule that now counts them.

use crate::helpers::*;
use enlist::domain::Scope;
use reqwest::Method;
use serde_json::{Value, json};

const ROLES: &str = "/v1/organization/roles";
const CHECK: &str = "/v1/organization/permissions/check";

async fn patch(app: &TestApp, path: &str, key: &str, body: &Value) -> Reply {
    app.request(Method::PATCH, path, Some(key), Some(body))
        .await
}

async fn create_role(app: &TestApp, key: &str, role: &str, permissions: &[&str]) -> Reply {
    app.post(
        ROLES,
        key,
        &json!({ "key": role, "name": format!("The {role}s"), "permissions": permissions }),
    )
    .await
}

fn keys(listed: &Reply) -> Vec<String> {
    listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_custom_role_from_creation_to_an_accepted_invitation_to_a_permission_check() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let created = app
        .post(
            ROLES,
            &org.key,
            &json!({
                "key": "billing", "name": "Billing", "description": "Pays the invoices",
                "permissions": ["invoices:read", "billing.pay", "invoices:read"]
            }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["key"], "billing");
    assert_eq!(created.body["name"], "Billing");
    assert_eq!(created.body["description"], "Pays the invoices");
    assert_eq!(
        created.body["permissions"],
        json!(["billing.pay", "invoices:read"])
    );
    assert_eq!(created.body["builtIn"], false);
    assert_timestamp(&created.body["createdAt"]);
    assert_timestamp(&created.body["updatedAt"]);

    let listed = app.get(ROLES, &org.key).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(keys(&listed), ["ADMIN", "MEMBER", "billing"]);
    assert_eq!(listed.body["totalCount"], 3);
    assert_eq!(listed.body["limit"], 100);
    assert_eq!(listed.body["offset"], 0);
    let admin = &listed.body["items"][0];
    assert_eq!(admin["builtIn"], true);
    assert_eq!(admin["createdAt"], Value::Null);
    assert!(
        admin["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("members:manage")),
        "{admin}"
    );
    assert_eq!(listed.body["items"][1]["permissions"], json!([]));
    let second_page = app
        .get(&format!("{ROLES}?limit=1&offset=2"), &org.key)
        .await;
    assert_eq!(keys(&second_page), ["billing"]);
    assert_eq!(second_page.body["totalCount"], 3);

    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "billing")
        .await;
    let invitation = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await;
    assert_eq!(invitation.body["role"], "billing");
    // What the invitee reads names the role as the organization does.
    let mailed = read_eml(&wait_for_eml(&app.outbox_dir(), 1).await[0]);
    assert!(
        mailed.text.contains("as a member (Billing)"),
        "{}",
        mailed.text
    );
    let page = reqwest::get(format!("{}{}", app.address, app.invitation_link_path(id)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<dd>Billing</dd>"), "{page}");
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 5, "expiresIn": "1d", "role": "billing" }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let page = reqwest::get(link.body["url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<dd>Billing</dd>"), "{page}");
    let token = app.invitee_token("iris@example.test").await;
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);

    let members = app.admin_members(&org.key).await;
    let iris = members
        .iter()
        .find(|m| m["email"] == "iris@example.test")
        .unwrap();
    assert_eq!(iris["role"], "billing");
    let iris_id = iris["id"].as_i64().unwrap();

    let allowed = app
        .post(
            CHECK,
            &org.key,
            &json!({ "userId": iris_id, "permissions": ["invoices:read", "billing.pay"] }),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(allowed.body, json!({ "allowed": true, "missing": [] }));
    let refused = app
        .post(
            CHECK,
            &org.key,
            &json!({ "userId": iris_id, "permissions": ["members:manage", "invoices:read"] }),
        )
        .await;
    assert_eq!(
        refused.body,
        json!({ "allowed": false, "missing": ["members:manage"] })
    );
    let admin_check = app
        .post(
            CHECK,
            &org.key,
            &json!({ "userId": org.admin_id, "permissions": ["roles:manage", "members:manage"] }),
        )
        .await;
    assert_eq!(admin_check.body["allowed"], true);

    // The invitee side names the caller's permissions there.
    let orgs = app.invitee_get("/organizations", &token).await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    assert_eq!(orgs.body[0]["role"], "billing");
    assert_eq!(
        orgs.body[0]["permissions"],
        json!(["billing.pay", "invoices:read"])
    );

    // A change to the role is what the next check and listing see.
    let changed = patch(
        &app,
        &format!("{ROLES}/billing"),
        &org.key,
        &json!({ "permissions": ["invoices:read"], "description": null }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["description"], Value::Null);
    assert_eq!(changed.body["name"], "Billing");
    let orgs = app.invitee_get("/organizations", &token).await;
    assert_eq!(orgs.body[0]["permissions"], json!(["invoices:read"]));

    let events = app
        .get(
            "/v1/organization/events?type=role.created,role.updated",
            &org.key,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text);
    let types: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"role.created") && types.contains(&"role.updated"),
        "{types:?}"
    );
}

#[tokio::test]
async fn a_role_change_names_the_old_and_new_role_and_unknown_roles_are_refused_everywhere() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    assert_eq!(
        create_role(&app, &org.key, "editor", &["docs:edit"])
            .await
            .status,
        200
    );
    let carol = app.add_member(org.id, "carol@acme.test", "MEMBER");

    let changed = patch(
        &app,
        &format!("/v1/organization/users/{carol}"),
        &org.key,
        &json!({ "role": "editor" }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["role"], "editor");
    let events = app
        .get("/v1/organization/events?type=member.role_changed", &org.key)
        .await;
    let data = &events.body["items"][0]["data"];
    assert_eq!(data["previousRole"], "MEMBER");
    assert_eq!(data["role"], "editor");
    assert_eq!(data["user"]["role"], "editor");

    for unknown in ["ghost", "Editor", "admin"] {
        patch(
            &app,
            &format!("/v1/organization/users/{carol}"),
            &org.key,
            &json!({ "role": unknown }),
        )
        .await
        .assert_problem(400, "validation_failed");
        let invited = app.invite(&org.key, "dan@example.com", unknown).await;
        invited.assert_problem(400, "validation_failed");
        assert_eq!(invited.body["field"], "role", "{}", invited.text);
        let link = app
            .post(
                "/v1/organization/join-links",
                &org.key,
                &json!({ "maxUses": 2, "expiresIn": "1d", "role": unknown }),
            )
            .await;
        link.assert_problem(400, "validation_failed");
        assert_eq!(link.body["field"], "role");
    }
    let bulk = app
        .post(
            "/v1/organization/invitations/bulk",
            &org.key,
            &json!({ "items": [
                { "inviteeEmail": "e1@example.com", "role": "editor" },
                { "inviteeEmail": "e2@example.com", "role": "ghost" }
            ] }),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(bulk.body["items"][0]["status"], "created");
    assert_eq!(bulk.body["items"][1]["status"], "invalid");
    assert_eq!(bulk.body["items"][1]["error"]["field"], "role");
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 2, "expiresIn": "1d", "role": "editor" }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    assert_eq!(link.body["role"], "editor");
    let members = app.admin_members(&org.key).await;
    assert!(members.iter().any(|m| m["role"] == "editor"), "{members:?}");
}

#[tokio::test]
async fn deleting_a_role_in_use_is_refused_with_counts_and_a_free_role_goes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    assert_eq!(
        create_role(&app, &org.key, "editor", &["docs:edit"])
            .await
            .status,
        200
    );
    app.add_member(org.id, "carol@acme.test", "editor");
    app.add_member(org.id, "dave@acme.test", "editor");
    app.invite_ok(&org.key, "erin@example.com", "editor").await;

    let refused = app.delete(&format!("{ROLES}/editor"), &org.key).await;
    refused.assert_problem(409, "role_in_use");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 member(s)") && detail.contains("1 pending invitation(s)"),
        "{detail}"
    );
    assert_eq!(
        app.get(&format!("{ROLES}/editor"), &org.key).await.status,
        200
    );

    assert_eq!(create_role(&app, &org.key, "unused", &[]).await.status, 200);
    let deleted = app.delete(&format!("{ROLES}/unused"), &org.key).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body, json!({ "key": "unused" }));
    app.get(&format!("{ROLES}/unused"), &org.key)
        .await
        .assert_problem(404, "not_found");
    let events = app
        .get("/v1/organization/events?type=role.deleted", &org.key)
        .await;
    assert_eq!(events.body["items"][0]["data"]["role"]["key"], "unused");
}

#[tokio::test]
async fn the_built_ins_cannot_be_created_changed_or_deleted() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for built_in in ["ADMIN", "MEMBER"] {
        let created = create_role(&app, &org.key, built_in, &[]).await;
        created.assert_problem(400, "validation_failed");
        assert_eq!(created.body["field"], "key");
        patch(
            &app,
            &format!("{ROLES}/{built_in}"),
            &org.key,
            &json!({ "name": "Boss" }),
        )
        .await
        .assert_problem(409, "built_in_role");
        app.delete(&format!("{ROLES}/{built_in}"), &org.key)
            .await
            .assert_problem(409, "built_in_role");
        let shown = app.get(&format!("{ROLES}/{built_in}"), &org.key).await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert_eq!(shown.body["builtIn"], true);
    }
    assert_eq!(app.get(ROLES, &org.key).await.body["totalCount"], 2);
}

#[tokio::test]
async fn bad_keys_and_permissions_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    assert_eq!(
        create_role(&app, &org.key, "editor", &["docs:edit"])
            .await
            .status,
        200
    );
    let too_many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let long = "p".repeat(101);
    let cases = [
        (
            json!({ "key": "Editor2", "name": "x", "permissions": [] }),
            "key",
        ),
        (
            json!({ "key": "2nd", "name": "x", "permissions": [] }),
            "key",
        ),
        (
            json!({ "key": "a".repeat(64), "name": "x", "permissions": [] }),
            "key",
        ),
        (
            json!({ "key": "ok", "name": "  ", "permissions": [] }),
            "name",
        ),
        (
            json!({ "key": "ok", "name": "x", "permissions": ["Docs:Edit"] }),
            "permissions",
        ),
        (
            json!({ "key": "ok", "name": "x", "permissions": ["a b"] }),
            "permissions",
        ),
        (
            json!({ "key": "ok", "name": "x", "permissions": [long] }),
            "permissions",
        ),
        (
            json!({ "key": "ok", "name": "x", "permissions": [""] }),
            "permissions",
        ),
        (
            json!({ "key": "ok", "name": "x", "permissions": too_many }),
            "permissions",
        ),
    ];
    for (body, field) in &cases {
        let reply = app.post(ROLES, &org.key, body).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], *field, "{body}: {}", reply.text);
    }
    let bad_patch = patch(
        &app,
        &format!("{ROLES}/editor"),
        &org.key,
        &json!({ "name": "Writers", "permissions": ["ok", "NOT OK"] }),
    )
    .await;
    bad_patch.assert_problem(400, "validation_failed");
    assert_eq!(bad_patch.body["field"], "permissions");
    create_role(&app, &org.key, "editor", &[])
        .await
        .assert_problem(409, "role_exists");

    let listed = app.get(ROLES, &org.key).await;
    assert_eq!(keys(&listed), ["ADMIN", "MEMBER", "editor"]);
    let editor = app.get(&format!("{ROLES}/editor"), &org.key).await;
    assert_eq!(editor.body["name"], "The editors");
    assert_eq!(editor.body["permissions"], json!(["docs:edit"]));

    let check = app
        .post(
            CHECK,
            &org.key,
            &json!({ "userId": org.admin_id, "permissions": ["BAD"] }),
        )
        .await;
    check.assert_problem(400, "validation_failed");
    assert_eq!(check.body["field"], "permissions");
    app.post(
        CHECK,
        &org.key,
        &json!({ "userId": 999_999, "permissions": ["x"] }),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn an_organization_holds_at_most_the_configured_number_of_custom_roles() {
    let app = spawn_app_with(|settings| settings.roles.max_per_organization = 2).await;
    let org = app.create_org("Acme", "ada@acme.test");
    assert_eq!(create_role(&app, &org.key, "one", &[]).await.status, 200);
    assert_eq!(create_role(&app, &org.key, "two", &[]).await.status, 200);
    create_role(&app, &org.key, "three", &[])
        .await
        .assert_problem(409, "role_limit");
    assert_eq!(app.get(ROLES, &org.key).await.body["totalCount"], 4);
}

#[tokio::test]
async fn another_organizations_roles_are_unknown_to_every_roles_endpoint() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "gus@globex.test");
    assert_eq!(
        create_role(&app, &acme.key, "secret", &["docs:edit"])
            .await
            .status,
        200
    );
    let acme_member = app.add_member(acme.id, "carol@acme.test", "secret");

    assert_eq!(
        keys(&app.get(ROLES, &globex.key).await),
        ["ADMIN", "MEMBER"]
    );
    app.get(&format!("{ROLES}/secret"), &globex.key)
        .await
        .assert_problem(404, "not_found");
    patch(
        &app,
        &format!("{ROLES}/secret"),
        &globex.key,
        &json!({ "name": "Mine" }),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("{ROLES}/secret"), &globex.key)
        .await
        .assert_problem(404, "not_found");
    app.post(
        CHECK,
        &globex.key,
        &json!({ "userId": acme_member, "permissions": ["docs:edit"] }),
    )
    .await
    .assert_problem(404, "not_found");
    let invited = app.invite(&globex.key, "x@example.com", "secret").await;
    invited.assert_problem(400, "validation_failed");
    assert_eq!(invited.body["field"], "role");
    // Globex may have a role by the same key, its own.
    assert_eq!(
        create_role(&app, &globex.key, "secret", &[]).await.status,
        200
    );
    let acme_role = app.get(&format!("{ROLES}/secret"), &acme.key).await;
    assert_eq!(acme_role.body["permissions"], json!(["docs:edit"]));
}

#[tokio::test]
async fn roles_need_their_scopes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let read_only = app.api_key(org.id, org.admin_id, &[Scope::RolesRead]);
    assert_eq!(app.get(ROLES, &read_only).await.status, 200);
    create_role(&app, &read_only, "x", &[])
        .await
        .assert_problem(403, "missing_scope");
    let no_roles = app.api_key(org.id, org.admin_id, &[Scope::UsersRead]);
    app.get(ROLES, &no_roles)
        .await
        .assert_problem(403, "missing_scope");
    let check = app
        .post(
            CHECK,
            &no_roles,
            &json!({ "userId": org.admin_id, "permissions": ["x"] }),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    // Handing out a custom role takes users:write beside invitations:write.
    assert_eq!(create_role(&app, &org.key, "editor", &[]).await.status, 200);
    let narrow = app.api_key(org.id, org.admin_id, &[Scope::InvitationsWrite]);
    app.invite(&narrow, "dan@example.com", "editor")
        .await
        .assert_problem(403, "missing_scope");
}

#[tokio::test]
async fn a_custom_role_with_members_manage_counts_for_the_last_manager_rule() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = format!("/v1/organization/users/{}", org.admin_id);
    patch(&app, &ada, &org.key, &json!({ "role": "MEMBER" }))
        .await
        .assert_problem(409, "last_admin");
    assert_eq!(
        create_role(&app, &org.key, "people", &["members:manage"])
            .await
            .status,
        200
    );
    let carol = app.add_member(org.id, "carol@acme.test", "people");

    // Carol manages members now, so Ada may step down.
    let demoted = patch(&app, &ada, &org.key, &json!({ "role": "MEMBER" })).await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);

    // With no ADMIN left no API key works; the rule still holds where the
    // role is changed without one (the console, the command line).
    let origin = enlist::domain::event::Origin::cli();
    let emptied = app.db.write_blocking(|tx| {
        enlist::services::roles::update(
            tx,
            &origin,
            org.id,
            "people",
            enlist::services::roles::RolePatch {
                permissions: Some(enlist::domain::role::Permissions::default()),
                ..Default::default()
            },
            enlist::domain::Millis::now(),
        )
    });
    match emptied {
        Err(enlist::services::ServiceError::Conflict { code, .. }) => {
            assert_eq!(code.as_str(), "last_admin");
        }
        other => panic!("expected last_admin, got {other:?}"),
    }
    let removed = app.db.write_blocking(|tx| {
        enlist::services::members::remove(
            tx,
            &origin,
            enlist::domain::OrgId(org.id),
            enlist::domain::UserId(carol),
            enlist::domain::Millis::now(),
        )
    });
    assert!(removed.is_err(), "{removed:?}");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM memberships WHERE role = 'people'"),
        1
    );
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM org_roles WHERE permissions = 'members:manage'"),
        1
    );
}

/// How many times each last-manager race is run.
const RACE_ROUNDS: usize = 200;

/// Ada (ADMIN) and Carol (a custom role with `members:manage`) are the only
/// managers; two changes at once that would each leave the other as the
/// last one: exactly one wins, [`RACE_ROUNDS`] times, each round in a
/// fresh organization of one server (as tests/api/races.rs does).
async fn two_changes_race(
    second: impl Fn(&TestApp, &TestOrg, i64) -> (Method, String, Option<Value>),
) {
    // Hundreds of admin requests: not a test of limits.admin_per_minute.
    let app = spawn_app_with(|s| s.limits.admin_per_minute = 0).await;
    for round in 0..RACE_ROUNDS {
        let org = app.create_org(&format!("Acme{round}"), &format!("ada{round}@acme.test"));
        assert_eq!(
            create_role(&app, &org.key, "people", &["members:manage"])
                .await
                .status,
            200
        );
        let carol = app.add_member(org.id, &format!("carol{round}@acme.test"), "people");
        let (method, path, body) = second(&app, &org, carol);

        let ada = format!("/v1/organization/users/{}", org.admin_id);
        let step_down = json!({ "role": "MEMBER" });
        let (first, other) = tokio::join!(
            patch(&app, &ada, &org.key, &step_down),
            app.request(method, &path, Some(&org.key), body.as_ref()),
        );

        let replies = [&first, &other];
        assert_eq!(
            replies.iter().filter(|r| r.status == 200).count(),
            1,
            "round {round}: {replies:#?}"
        );
        // The loser met the rule, or lost its key with Ada's ADMIN role.
        for reply in replies.iter().filter(|r| r.status != 200) {
            let code = reply.body["code"].as_str().unwrap();
            assert!(
                ["invalid_api_key", "last_admin"].contains(&code),
                "round {round}: {}",
                reply.text
            );
        }
        let managers = app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships m
             WHERE m.org_id = {} AND (m.role = 'ADMIN' OR EXISTS (SELECT 1 FROM org_roles r
                    WHERE r.org_id = m.org_id AND r.key = m.role
                      AND r.permissions LIKE '%members:manage%'))",
            org.id
        ));
        assert_eq!(managers, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_the_custom_manager_while_the_admin_steps_down_leaves_one_manager() {
    two_changes_race(|_, _, carol| {
        (
            Method::DELETE,
            format!("/v1/organization/users/{carol}"),
            None,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emptying_the_managers_role_while_the_admin_steps_down_leaves_one_manager() {
    two_changes_race(|_, _, _| {
        (
            Method::PATCH,
            format!("{ROLES}/people"),
            Some(json!({ "permissions": ["docs:read"] })),
        )
    })
    .await;
}
