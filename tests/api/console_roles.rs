//! The console for custom-role holders over real HTTP: a role holding a
//! management permission gets in, sees and uses only what that permission
//! allows, and hands out nothing beyond it; a role holding none
//! administers nothing.

use crate::helpers::*;
use crate::page_helpers::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";
const NOT_ALLOWED: &str = "Not allowed";

/// A browser signed in to the console as `email`, on the page `/admin`
/// leads to, and the CSRF token its forms carry.
async fn signed_in(app: &TestApp, email: &str) -> (Browser, Page) {
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
    let mut shown = browser.get("/admin").await;
    if let Some(next) = shown.location().map(str::to_owned) {
        shown = browser.get(&next).await;
    }
    (browser, shown)
}

async fn make_role(app: &TestApp, org: &TestOrg, key: &str, permissions: &[&str]) {
    let made = app
        .post(
            "/v1/organization/roles",
            &org.key,
            &json!({"key": key, "name": key, "permissions": permissions}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
}

/// What the organization holds that a console action could change.
fn state_of(app: &TestApp, org_id: i64) -> Vec<String> {
    let mut rows = app.query_strings(&format!(
        "SELECT CAST(user_id AS TEXT) || ':' || role FROM memberships \
         WHERE org_id = {org_id} ORDER BY user_id"
    ));
    for table in [
        "invitations",
        "api_keys",
        "org_roles",
        "webhook_endpoints",
        "join_links",
        "events",
    ] {
        let count = app.query_i64(&format!(
            "SELECT COUNT(*) FROM {table} WHERE org_id = {org_id}"
        ));
        rows.push(format!("{table}: {count}"));
    }
    rows
}

async fn role_of(app: &TestApp, org: &TestOrg, user_id: i64) -> String {
    app.query_strings(&format!(
        "SELECT role FROM memberships WHERE org_id = {} AND user_id = {user_id}",
        org.id
    ))
    .concat()
}

fn assert_not_allowed(page: &Page, what: &str) {
    assert_eq!(page.status, 403, "{what}: {}", page.text);
    page.assert_html(403);
    assert!(page.text.contains(NOT_ALLOWED), "{what}: {}", page.text);
}

#[tokio::test]
async fn the_console_admits_a_members_manage_role_and_hides_what_it_may_not_do() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    make_role(&app, &org, "people", &["members:manage", "docs:edit"]).await;
    let carol = app.add_member(org.id, "carol@acme.test", "people");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let console = |rest: &str| format!("/admin/orgs/{}{rest}", org.uuid);

    // One organization managed: straight to its overview, with only the
    // Members section in the nav and on the page.
    let (carol_browser, overview) = signed_in(&app, "carol@acme.test").await;
    overview.assert_html(200);
    assert!(overview.text.contains("Acme"), "{}", overview.text);
    assert!(
        overview
            .text
            .contains(&format!("href=\"{}\"", console("/members"))),
        "{}",
        overview.text
    );
    for hidden in [
        "/invitations",
        "/join-links",
        "/roles",
        "/api-keys",
        "/webhooks",
        "/activity",
    ] {
        assert!(
            !overview.text.contains(&console(hidden)),
            "{hidden} shown: {}",
            overview.text
        );
    }
    assert!(!overview.text.contains("id=\"pending-count\""));
    assert!(!overview.text.contains("Recent activity"));
    let csrf = overview.csrf_token();

    let members = carol_browser.get(&console("/members")).await;
    members.assert_html(200);
    assert!(members.text.contains("bob@acme.test"), "{}", members.text);
    // Only what it may do: Bob's role and removal, never the ADMIN's, and
    // no ADMIN to give.
    assert!(
        members.text.contains(&format!("/members/{bob}/role\"")),
        "{}",
        members.text
    );
    assert!(members.text.contains(&format!("/members/{bob}/remove\"")));
    assert!(
        !members
            .text
            .contains(&format!("/members/{}/", org.admin_id))
    );
    assert!(
        !members.text.contains("<option value=\"ADMIN\""),
        "{}",
        members.text
    );
    assert!(members.text.contains("<option value=\"people\""));
    assert!(!members.text.contains(&console("/invitations/new")));

    // Every other page answers the console's 403, inside the console,
    // leading back to the overview.
    for rest in [
        "/invitations",
        "/invitations/new",
        "/join-links",
        "/join-links/new",
        "/roles",
        "/roles/people",
        "/api-keys",
        "/api-keys/new",
        "/webhooks",
        "/webhooks/new",
        "/activity",
    ] {
        let refused = carol_browser.get(&console(rest)).await;
        assert_not_allowed(&refused, rest);
        assert!(
            !refused.text.contains(&console("/api-keys")),
            "{rest}: {}",
            refused.text
        );
    }

    // Every action outside members, and every hand-out beyond its own
    // powers, is refused with nothing changed.
    let before = state_of(&app, org.id);
    let ada_key = app.query_i64(&format!(
        "SELECT MIN(id) FROM api_keys WHERE org_id = {}",
        org.id
    ));
    let refused_actions: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            console("/invitations"),
            vec![
                ("email", "newcomer@example.com".into()),
                ("role", "MEMBER".into()),
                ("expires_in", "3d".into()),
            ],
        ),
        (
            console("/join-links"),
            vec![("role", "MEMBER".into()), ("expires_in", "2d".into())],
        ),
        (
            console("/roles"),
            vec![
                ("key", "sneaky".into()),
                ("name", "Sneaky".into()),
                ("permissions", "members:manage".into()),
            ],
        ),
        (
            console("/roles/people"),
            vec![
                ("name", "People".into()),
                ("permissions", "members:manage roles:manage".into()),
            ],
        ),
        (console("/roles/people/delete"), vec![]),
        (
            console("/api-keys"),
            vec![("name", "sneaky".into()), ("scope", "users:write".into())],
        ),
        (console(&format!("/api-keys/{ada_key}/revoke")), vec![]),
        (
            console("/webhooks"),
            vec![
                ("url", "https://hooks.example.com/in".into()),
                ("events", "member.added".into()),
            ],
        ),
        // Beyond its powers: making someone ADMIN, touching the ADMIN.
        (
            console(&format!("/members/{bob}/role")),
            vec![("role", "ADMIN".into())],
        ),
        (
            console(&format!("/members/{}/role", org.admin_id)),
            vec![("role", "MEMBER".into())],
        ),
        (
            console(&format!("/members/{}/remove", org.admin_id)),
            vec![],
        ),
    ];
    for (path, fields) in &refused_actions {
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend(fields.iter().map(|(name, value)| (*name, value.as_str())));
        let refused = carol_browser.post_form(path, &form).await;
        assert_not_allowed(&refused, path);
        assert_eq!(state_of(&app, org.id), before, "{path}");
    }
    assert_eq!(role_of(&app, &org, bob).await, "MEMBER");
    assert_eq!(role_of(&app, &org, org.admin_id).await, "ADMIN");

    // What members:manage allows: giving Bob a role within its powers.
    let changed = carol_browser
        .post_form(
            &console(&format!("/members/{bob}/role")),
            &[("csrf_token", &csrf), ("role", "people")],
        )
        .await;
    changed.assert_see_other(&console("/members?notice=role-changed"));
    assert_eq!(role_of(&app, &org, bob).await, "people");
    let log = app.get("/v1/organization/events?limit=10", &org.key).await;
    let event = &log.body["items"][0];
    assert_eq!(event["type"], "member.role_changed", "{}", log.text);
    assert_eq!(event["actor"]["userId"], carol);
}

#[tokio::test]
async fn a_role_without_management_permissions_administers_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    make_role(&app, &org, "billing", &["invoices:read"]).await;
    app.add_member(org.id, "dave@acme.test", "billing");

    let (dave, front) = signed_in(&app, "dave@acme.test").await;
    front.assert_html(403);
    assert!(
        front
            .text
            .contains("You are not an administrator of any organization"),
        "{}",
        front.text
    );
    let before = state_of(&app, org.id);
    for rest in ["", "/members", "/roles", "/api-keys", "/activity"] {
        dave.get(&format!("/admin/orgs/{}{rest}", org.uuid))
            .await
            .assert_see_other("/admin?notice=not-admin");
    }
    let csrf = front.csrf_token();
    dave.post_form(
        &format!("/admin/orgs/{}/members/{}/remove", org.uuid, org.admin_id),
        &[("csrf_token", &csrf)],
    )
    .await
    .assert_see_other("/admin?notice=not-admin");
    assert_eq!(state_of(&app, org.id), before);
}

#[tokio::test]
async fn a_manager_of_one_organization_gets_not_found_for_another() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "gus@globex.test");
    make_role(&app, &acme, "people", &["members:manage"]).await;
    app.add_member(acme.id, "carol@acme.test", "people");
    app.add_member(globex.id, "carol@acme.test", "MEMBER");

    let (carol, _) = signed_in(&app, "carol@acme.test").await;
    for rest in ["", "/members"] {
        let refused = carol
            .get(&format!("/admin/orgs/{}{rest}", globex.uuid))
            .await;
        assert_eq!(refused.status, 404, "{rest}: {}", refused.text);
        assert!(refused.text.contains("Organization not found"));
    }
}

#[tokio::test]
async fn an_invitations_manage_role_invites_with_roles_within_its_powers_only() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    make_role(&app, &org, "recruiter", &["invitations:manage"]).await;
    app.add_member(org.id, "rita@acme.test", "recruiter");
    let admin_invitation = app.invite_ok(&org.key, "boss@example.com", "ADMIN").await;
    let console = |rest: &str| format!("/admin/orgs/{}{rest}", org.uuid);

    let (rita, overview) = signed_in(&app, "rita@acme.test").await;
    overview.assert_html(200);
    assert!(overview.text.contains(&console("/invitations")));
    assert!(!overview.text.contains(&console("/members")));
    let csrf = overview.csrf_token();
    let form = rita.get(&console("/invitations/new")).await;
    form.assert_html(200);
    assert!(
        !form.text.contains("<option value=\"ADMIN\""),
        "{}",
        form.text
    );
    assert!(form.text.contains("<option value=\"MEMBER\""));

    let before = state_of(&app, org.id);
    let invite = |role: &'static str| {
        let rita = &rita;
        let csrf = csrf.clone();
        let path = console("/invitations");
        async move {
            rita.post_form(
                &path,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("email", "newcomer@example.com"),
                    ("role", role),
                    ("expires_in", "3d"),
                ],
            )
            .await
        }
    };
    assert_not_allowed(&invite("ADMIN").await, "invite as ADMIN");
    let resend = rita
        .post_form(
            &console(&format!("/invitations/{admin_invitation}/resend")),
            &[("csrf_token", &csrf), ("back", "")],
        )
        .await;
    assert_not_allowed(&resend, "resend an ADMIN invitation");
    assert_eq!(state_of(&app, org.id), before);

    invite("MEMBER")
        .await
        .assert_see_other(&console("/invitations?notice=invited"));
    let role = app.query_strings(&format!(
        "SELECT role FROM invitations WHERE org_id = {} AND invitee_email = 'newcomer@example.com'",
        org.id
    ));
    assert_eq!(role, ["MEMBER"]);
}

#[tokio::test]
async fn a_role_with_every_management_permission_still_neither_mints_keys_nor_makes_admins() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    make_role(
        &app,
        &org,
        "deputy",
        &enlist::domain::role::MANAGEMENT_PERMISSIONS,
    )
    .await;
    app.add_member(org.id, "dina@acme.test", "deputy");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let console = |rest: &str| format!("/admin/orgs/{}{rest}", org.uuid);

    let (dina, overview) = signed_in(&app, "dina@acme.test").await;
    overview.assert_html(200);
    for shown in [
        "/invitations",
        "/members",
        "/join-links",
        "/roles",
        "/webhooks",
        "/activity",
    ] {
        assert!(overview.text.contains(&console(shown)), "{shown}");
    }
    assert!(overview.text.contains("Recent activity"));
    assert!(!overview.text.contains(&console("/api-keys")));
    assert_not_allowed(&dina.get(&console("/api-keys")).await, "api keys");
    let csrf = overview.csrf_token();

    let before = state_of(&app, org.id);
    for (path, fields) in [
        (
            console(&format!("/members/{bob}/role")),
            vec![("role", "ADMIN")],
        ),
        (
            console(&format!("/members/{}/role", org.admin_id)),
            vec![("role", "deputy")],
        ),
        (
            console(&format!("/members/{}/remove", org.admin_id)),
            vec![],
        ),
        (
            console("/invitations"),
            vec![
                ("email", "boss@example.com"),
                ("role", "ADMIN"),
                ("expires_in", "3d"),
            ],
        ),
    ] {
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend(fields);
        assert_not_allowed(&dina.post_form(&path, &form).await, &path);
    }
    assert_eq!(state_of(&app, org.id), before);
    // Its own kind it may hand out.
    dina.post_form(
        &console(&format!("/members/{bob}/role")),
        &[("csrf_token", &csrf), ("role", "deputy")],
    )
    .await
    .assert_see_other(&console("/members?notice=role-changed"));
}
