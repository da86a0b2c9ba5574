//! The console's join-links page over real HTTP: making a link (its URL
//! shown once, and it works), refused input kept and explained, revoking,
//! and another organization's links out of reach.

use crate::helpers::*;
use crate::page_helpers::*;

const PASSWORD: &str = "correct horse battery staple";

/// A browser signed in to the console as the organization's admin, and
/// the CSRF token its pages carry.
pub async fn signed_in(app: &TestApp, org: &TestOrg) -> (Browser, String) {
    app.set_password(&org.admin_email, PASSWORD);
    let browser = Browser::new(app);
    let csrf = browser.get("/admin").await.csrf_token();
    browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &csrf),
                ("email", &org.admin_email),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_see_other("/admin");
    let csrf = browser
        .get(&format!("/admin/orgs/{}/join-links", org.uuid))
        .await
        .csrf_token();
    (browser, csrf)
}

/// The `value` of the input with this id.
pub fn input_value(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let tag_end = html[start..].find('>').unwrap() + start;
    let tag = &html[start..tag_end];
    let value = tag.split("value=\"").nth(1).unwrap_or("");
    value.split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_makes_a_join_link_sees_its_url_once_and_revokes_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (browser, csrf) = signed_in(&app, &org).await;
    let links = format!("/admin/orgs/{}/join-links", org.uuid);
    let empty = browser.get(&links).await;
    empty.assert_html(200);
    assert!(empty.text.contains("No join links yet."), "{}", empty.text);
    let form = browser.get(&format!("{links}/new")).await;
    form.assert_html(200);

    let made = browser
        .post_form(
            &links,
            &[
                ("csrf_token", &csrf),
                ("role", "MEMBER"),
                ("max_uses", "3"),
                ("expires_in", "2d"),
                ("domains", "acme.test, example.com"),
            ],
        )
        .await;
    made.assert_html(201);
    let url = input_value(&made.text, "new-link");
    assert!(url.starts_with(&format!("{}/join/", app.address)), "{url}");
    assert!(made.text.contains("0 of 3 used"), "{}", made.text);
    assert!(
        made.text.contains("acme.test, example.com"),
        "{}",
        made.text
    );

    // The link works: its page names the organization.
    let page = Browser::new(&app)
        .get(url.strip_prefix(&app.address).unwrap())
        .await;
    page.assert_html(200);
    assert!(page.text.contains("Join Acme"), "{}", page.text);

    // The API sees the same link; the list never shows its URL again.
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(listed.body["totalCount"], 1, "{}", listed.text);
    let id = listed.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(listed.body["items"][0]["maxUses"], 3);
    let list = browser.get(&links).await;
    assert!(list.text.contains("Active"), "{}", list.text);
    let token = url.rsplit('/').next().unwrap();
    assert!(!list.text.contains(token), "the URL is shown once");

    let revoked = browser
        .post_form(&format!("{links}/{id}/revoke"), &[("csrf_token", &csrf)])
        .await;
    revoked.assert_see_other(&format!("{links}?notice=link-revoked"));
    let list = browser.get(&format!("{links}?notice=link-revoked")).await;
    assert!(list.text.contains("Join link revoked."), "{}", list.text);
    assert!(list.text.contains("Revoked"), "{}", list.text);
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(
        listed.body["items"][0]["state"], "revoked",
        "{}",
        listed.text
    );
    let closed = Browser::new(&app)
        .get(url.strip_prefix(&app.address).unwrap())
        .await;
    assert_eq!(closed.status, 410);
}

#[tokio::test]
async fn a_refused_join_link_form_keeps_what_was_typed_and_names_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (browser, csrf) = signed_in(&app, &org).await;
    let links = format!("/admin/orgs/{}/join-links", org.uuid);
    for (max_uses, expires_in, domains, field, says) in [
        ("many", "7d", "", "link-max-uses-error", "whole number"),
        ("0", "7d", "", "link-max-uses-error", "between 1 and"),
        ("5", "soon", "", "link-expires-error", "expiresIn"),
        ("5", "400d", "", "link-expires-error", "at most"),
        ("5", "", "", "link-expires-error", "expires"),
        ("5", "7d", "not a domain!", "link-domains-error", ""),
    ] {
        let refused = browser
            .post_form(
                &links,
                &[
                    ("csrf_token", &csrf),
                    ("role", "MEMBER"),
                    ("max_uses", max_uses),
                    ("expires_in", expires_in),
                    ("domains", domains),
                ],
            )
            .await;
        refused.assert_html(400);
        let at = refused
            .text
            .find(&format!("id=\"{field}\""))
            .unwrap_or_else(|| {
                panic!(
                    "{max_uses}/{expires_in}/{domains}: no {field}: {}",
                    refused.text
                )
            });
        let message = &refused.text[at..at + 200.min(refused.text.len() - at)];
        assert!(message.contains(says), "{message}");
        assert_eq!(input_value(&refused.text, "link-max-uses"), max_uses);
        assert_eq!(input_value(&refused.text, "link-expires"), expires_in);
    }
    let bad_role = browser
        .post_form(
            &links,
            &[
                ("csrf_token", &csrf),
                ("role", "OWNER"),
                ("max_uses", "5"),
                ("expires_in", "7d"),
            ],
        )
        .await;
    bad_role.assert_html(400);
    assert!(
        bad_role.text.contains("id=\"link-role-error\""),
        "{}",
        bad_role.text
    );
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(
        listed.body["totalCount"], 0,
        "nothing was made: {}",
        listed.text
    );

    // Without the form's token nothing is made either.
    let forged = browser
        .post_form(
            &links,
            &[("role", "MEMBER"), ("max_uses", "5"), ("expires_in", "7d")],
        )
        .await;
    forged.assert_html(403);
    assert!(
        forged.text.contains("That form had expired"),
        "{}",
        forged.text
    );
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(listed.body["totalCount"], 0, "{}", listed.text);
}

#[tokio::test]
async fn another_organizations_join_links_are_out_of_reach() {
    let app = spawn_app().await;
    let ours = app.create_org("Acme", "ada@acme.test");
    let theirs = app.create_org("Globex", "hank@globex.test");
    let made = app
        .post(
            "/v1/organization/join-links",
            &theirs.key,
            &serde_json::json!({"maxUses": 5, "expiresIn": "7d"}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let id = made.body["id"].as_i64().unwrap();
    let (browser, csrf) = signed_in(&app, &ours).await;

    let page = browser
        .get(&format!("/admin/orgs/{}/join-links", theirs.uuid))
        .await;
    page.assert_html(404);
    let revoke_there = browser
        .post_form(
            &format!("/admin/orgs/{}/join-links/{id}/revoke", theirs.uuid),
            &[("csrf_token", &csrf)],
        )
        .await;
    revoke_there.assert_html(404);
    // Their link's id under our organization's URL is not found either.
    let revoke_here = browser
        .post_form(
            &format!("/admin/orgs/{}/join-links/{id}/revoke", ours.uuid),
            &[("csrf_token", &csrf)],
        )
        .await;
    revoke_here.assert_html(404);
    assert!(
        revoke_here.text.contains("Join link not found"),
        "{}",
        revoke_here.text
    );
    let listed = app.get("/v1/organization/join-links", &theirs.key).await;
    assert_eq!(
        listed.body["items"][0]["state"], "active",
        "{}",
        listed.text
    );
}
