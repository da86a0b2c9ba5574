//! The console's organization lifecycle over real HTTP: the settings page
//! and its danger zone, self-serve creation on the front door, and the
//! operators' page.

use crate::console_join_links::signed_in;
use crate::helpers::*;
use crate::page_helpers::Browser;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A person signed in on the console's front door (administering nothing,
/// perhaps), and the CSRF token of its forms.
async fn signed_in_person(app: &TestApp, email: &str) -> (Browser, String) {
    signed_in_at(app, email, "/admin").await
}

/// [`signed_in_person`], the CSRF token read from the page at `path`.
async fn signed_in_at(app: &TestApp, email: &str, path: &str) -> (Browser, String) {
    app.set_password(email, PASSWORD);
    let browser = Browser::new(app);
    let csrf = browser.get("/admin").await.csrf_token();
    browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &csrf),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_see_other("/admin");
    let csrf = browser.get(path).await.csrf_token();
    (browser, csrf)
}

#[tokio::test]
async fn an_admin_changes_the_settings_then_deletes_the_organization() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (browser, csrf) = signed_in(&app, &org).await;
    let settings = format!("/admin/orgs/{}/settings", org.uuid);

    let shown = browser.get(&settings).await;
    shown.assert_html(200);
    assert!(shown.text.contains("Danger zone"), "{}", shown.text);
    browser
        .post_form(
            &settings,
            &[
                ("csrf_token", &csrf),
                ("name", "Acme Inc."),
                ("logo_url", ""),
                ("metadata", r#"{"plan": "pro"}"#),
            ],
        )
        .await
        .assert_see_other(&format!("{settings}?notice=org-updated"));
    let api = app.get("/v1/organization", &org.key).await;
    assert_eq!(api.body["name"], "Acme Inc.");
    assert_eq!(api.body["logoUrl"], serde_json::Value::Null);
    assert_eq!(api.body["metadata"], json!({ "plan": "pro" }));
    let bad = browser
        .post_form(
            &settings,
            &[
                ("csrf_token", &csrf),
                ("name", "Acme Inc."),
                ("metadata", "[1]"),
            ],
        )
        .await;
    bad.assert_html(400);
    assert!(bad.text.contains("org-metadata-error"), "{}", bad.text);

    // The danger zone: a name that is not the organization's deletes nothing.
    let delete = format!("{settings}/delete");
    let wrong = browser
        .post_form(&delete, &[("csrf_token", &csrf), ("confirm", "Acme")])
        .await;
    wrong.assert_html(400);
    assert!(wrong.text.contains("org-confirm-error"), "{}", wrong.text);
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);

    let gone = browser
        .post_form(&delete, &[("csrf_token", &csrf), ("confirm", "Acme Inc.")])
        .await;

    gone.assert_html(200);
    assert!(gone.text.contains("Organization deleted"), "{}", gone.text);
    app.get("/v1/organization", &org.key)
        .await
        .assert_problem(401, "invalid_api_key");
    let exports: Vec<_> = std::fs::read_dir(&app.settings.organizations.export_dir)
        .unwrap()
        .collect();
    assert_eq!(exports.len(), 1);
    assert_ne!(browser.get(&settings).await.status, 200);
}

#[tokio::test]
async fn a_custom_role_with_organization_manage_sees_settings_but_no_danger_zone() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let role = json!({ "key": "owner", "name": "Owner", "permissions": ["organization:manage"] });
    assert_eq!(
        app.post("/v1/organization/roles", &org.key, &role)
            .await
            .status,
        200
    );
    app.add_member(org.id, "olga@acme.test", "owner");
    let settings = format!("/admin/orgs/{}/settings", org.uuid);
    let (browser, csrf) = signed_in_at(&app, "olga@acme.test", &settings).await;

    let shown = browser.get(&settings).await;
    let refused = browser
        .post_form(
            &format!("{settings}/delete"),
            &[("csrf_token", &csrf), ("confirm", "Acme")],
        )
        .await;

    shown.assert_html(200);
    assert!(!shown.text.contains("Danger zone"), "{}", shown.text);
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
}

#[tokio::test]
async fn a_verified_person_creates_organizations_on_the_front_door_up_to_the_limit() {
    let app = spawn_app_with(|settings| {
        settings.organizations.self_serve = true;
        settings.organizations.per_user_limit = 1;
    })
    .await;
    let other = app.create_org("Other", "otto@example.test");
    app.add_member(other.id, "ivy@example.test", "MEMBER");
    let (browser, csrf) = signed_in_person(&app, "ivy@example.test").await;

    let front = browser.get("/admin").await;
    let created = browser
        .post_form(
            "/admin/organizations",
            &[("csrf_token", &csrf), ("name", "Ivy Labs")],
        )
        .await;
    let again = browser
        .post_form(
            "/admin/organizations",
            &[("csrf_token", &csrf), ("name", "Ivy Two")],
        )
        .await;

    assert!(
        front.text.contains("create-own-organization"),
        "{}",
        front.text
    );
    let uuid = app.query_strings("SELECT uuid FROM organizations WHERE name = 'Ivy Labs'");
    assert_eq!(uuid.len(), 1);
    created.assert_see_other(&format!("/admin/orgs/{}", uuid[0]));
    again.assert_see_other("/admin?notice=org-limit");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 2);
    browser
        .get(&format!("/admin/orgs/{}", uuid[0]))
        .await
        .assert_html(200);
}

#[tokio::test]
async fn self_serve_off_offers_no_form_and_refuses_the_post() {
    let app = spawn_app().await;
    let other = app.create_org("Other", "otto@example.test");
    app.add_member(other.id, "ivy@example.test", "MEMBER");
    let (browser, csrf) = signed_in_person(&app, "ivy@example.test").await;

    let front = browser.get("/admin").await;
    let refused = browser
        .post_form(
            "/admin/organizations",
            &[("csrf_token", &csrf), ("name", "Ivy Labs")],
        )
        .await;

    assert!(
        !front.text.contains("create-own-organization"),
        "{}",
        front.text
    );
    refused.assert_see_other("/admin?notice=self-serve-off");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 1);
}

#[tokio::test]
async fn an_operator_lists_creates_and_deletes_organizations() {
    let app = spawn_app_with(|settings| {
        settings.console.operators = vec!["Ops@Example.test".into()];
    })
    .await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let host = app.create_org("Host", "ops@example.test");
    let (browser, csrf) = signed_in_person(&app, "ops@example.test").await;

    let front = browser.get("/admin").await;
    let listed = browser.get("/admin/operator").await;
    let created = browser
        .post_form(
            "/admin/operator",
            &[
                ("csrf_token", &csrf),
                ("name", "Globex"),
                ("admin_email", "gil@globex.test"),
            ],
        )
        .await;
    let bad = browser
        .post_form(
            "/admin/operator",
            &[
                ("csrf_token", &csrf),
                ("name", "X"),
                ("admin_email", "nope"),
            ],
        )
        .await;
    let delete = format!("/admin/operator/{}/delete", acme.id);
    let wrong = browser
        .post_form(&delete, &[("csrf_token", &csrf), ("confirm", "acme")])
        .await;
    let deleted = browser
        .post_form(&delete, &[("csrf_token", &csrf), ("confirm", "Acme")])
        .await;

    assert!(front.text.contains("/admin/operator"), "{}", front.text);
    listed.assert_html(200);
    for org in [&acme, &host] {
        assert!(
            listed.text.contains(&format!("id=\"org-{}\"", org.id)),
            "{}",
            listed.text
        );
    }
    created.assert_see_other("/admin/operator?notice=created");
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
             JOIN organizations o ON o.id = m.org_id
             WHERE o.name = 'Globex' AND u.email = 'gil@globex.test' AND m.role = 'ADMIN'"
        ),
        1
    );
    bad.assert_html(400);
    assert!(bad.text.contains("new-org-admin-error"), "{}", bad.text);
    wrong.assert_html(400);
    assert!(wrong.text.contains("confirm-error"), "{}", wrong.text);
    deleted.assert_see_other("/admin/operator?notice=deleted");
    app.get("/v1/organization", &acme.key)
        .await
        .assert_problem(401, "invalid_api_key");
    assert_eq!(app.get("/v1/organization", &host.key).await.status, 200);
    assert_eq!(
        std::fs::read_dir(&app.settings.organizations.export_dir)
            .unwrap()
            .count(),
        1
    );
}

#[tokio::test]
async fn the_operators_page_does_not_exist_for_anyone_else() {
    let app = spawn_app_with(|settings| {
        settings.console.operators = vec!["ops@example.test".into()];
    })
    .await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let (admin, csrf) = signed_in(&app, &acme).await;
    let anonymous = Browser::new(&app);

    let listed = admin.get("/admin/operator").await;
    let deleted = admin
        .post_form(
            &format!("/admin/operator/{}/delete", acme.id),
            &[("csrf_token", &csrf), ("confirm", "Acme")],
        )
        .await;
    let created = admin
        .post_form(
            "/admin/operator",
            &[
                ("csrf_token", &csrf),
                ("name", "Mine"),
                ("admin_email", "ada@acme.test"),
            ],
        )
        .await;

    assert_eq!(listed.status, 404, "{}", listed.text);
    assert_eq!(deleted.status, 404, "{}", deleted.text);
    assert_eq!(created.status, 404, "{}", created.text);
    anonymous
        .get("/admin/operator")
        .await
        .assert_see_other("/admin");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 1);
    assert_eq!(app.get("/v1/organization", &acme.key).await.status, 200);
}
