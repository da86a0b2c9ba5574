//! Join links: the admin API, the hosted `/join/{token}` page, and the cap
//! holding under concurrent joins.

use crate::helpers::*;
use crate::page_helpers::{Browser, Page, page};
use enlist::domain::{Millis, Scope};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Creates a link through the API; answers its id and token.
async fn create_link(app: &TestApp, key: &str, body: Value) -> (i64, String) {
    let reply = app.post("/v1/organization/join-links", key, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let url = reply.body["url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap().to_owned();
    (reply.body["id"].as_i64().unwrap(), token)
}

/// A client whose cookie jar holds a fresh session of `user_id`.
fn signed_in(app: &TestApp, user_id: i64) -> reqwest::Client {
    let token = app.session_for(
        user_id,
        enlist::domain::AuthMethod::EmailCode,
        Duration::from_secs(3600),
    );
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let url: url::Url = app.address.parse().unwrap();
    jar.add_cookie_str(&format!("enlist_session={token}; Path=/"), &url);
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_page(client: &reqwest::Client, app: &TestApp, path: &str) -> Page {
    page(
        client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Opens the join page and presses Join, as the signed-in browser.
async fn join(client: &reqwest::Client, app: &TestApp, token: &str) -> Page {
    let shown = get_page(client, app, &format!("/join/{token}")).await;
    if shown.status != 200 {
        return shown;
    }
    let csrf = shown.csrf_token();
    page(
        client
            .post(format!("{}/join/{token}/accept", app.address))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn links_are_created_once_with_their_url_listed_and_revoked() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let reply = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 10, "expiresIn": "2d", "allowedEmailDomains": ["Example.COM"] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        keys_of(&reply.body),
        [
            "createdAt",
            "expiresAt",
            "id",
            "maxUses",
            "role",
            "state",
            "url",
            "uses"
        ]
    );
    assert_eq!(reply.body["role"], "MEMBER");
    assert_eq!(reply.body["maxUses"], 10);
    assert_eq!(reply.body["uses"], 0);
    assert_eq!(reply.body["state"], "active");
    assert_eq!(
        millis_of(&reply.body["expiresAt"]) - millis_of(&reply.body["createdAt"]),
        2 * 86_400_000
    );
    let url = reply.body["url"].as_str().unwrap();
    let (base, token) = url.rsplit_once("/join/").unwrap();
    assert_eq!(base, app.issuer());
    assert!(
        token.len() >= 22 && token.chars().all(|c| c.is_ascii_alphanumeric()),
        "{token}"
    );
    // Only the token's SHA-256 is stored.
    let stored: Vec<Vec<u8>> = app
        .db
        .read_blocking(|conn| {
            conn.query_all("SELECT token_digest FROM join_links", &[], |row| row.get(0))
        })
        .unwrap();
    assert_eq!(stored, vec![enlist::auth::secrets::sha256(token).to_vec()]);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM join_links WHERE CAST(token_digest AS TEXT) = '{token}'
             OR allowed_email_domains LIKE '%{token}%'"
        )),
        0
    );
    let id = reply.body["id"].as_i64().unwrap();

    // ADMIN links need users:write too.
    let writer = app.api_key(org.id, org.admin_id, &[Scope::InvitationsWrite]);
    let admin_link = json!({ "role": "ADMIN", "maxUses": 1, "expiresIn": 60 });
    let refused = app
        .post("/v1/organization/join-links", &writer, &admin_link)
        .await;
    refused.assert_problem(403, "missing_scope");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`invitations:write`") && detail.contains("`users:write`"),
        "{detail}"
    );
    let reply = app
        .post("/v1/organization/join-links", &org.key, &admin_link)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["role"], "ADMIN");
    let at = "2030-01-01T00:00:00.000Z";
    let far = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 1, "expiresAt": at }),
        )
        .await;
    far.assert_problem(400, "validation_failed");
    assert_eq!(far.body["field"], "expiresAt");

    // The list: newest first, no URLs, exact total.
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["totalCount"], 2);
    assert_eq!(listed.body["limit"], 100);
    assert_eq!(listed.body["offset"], 0);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], id);
    assert!(
        items.iter().all(|i| i.get("url").is_none()),
        "{}",
        listed.text
    );
    let second = app
        .get("/v1/organization/join-links?limit=1&offset=1", &org.key)
        .await;
    assert_eq!(item_ids(&second), vec![id]);

    // Revoke: twice is harmless; another organization's id is 404.
    let revoke = format!("/v1/organization/join-links/{id}/revoke");
    for _ in 0..2 {
        let reply = app
            .request(Method::POST, &revoke, Some(&org.key), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["state"], "revoked");
        assert!(reply.body.get("url").is_none());
    }
    let other = app.create_org("other", "admin@other.test");
    app.request(Method::POST, &revoke, Some(&other.key), None)
        .await
        .assert_problem(404, "not_found");
    let others = app.get("/v1/organization/join-links", &other.key).await;
    assert_eq!(others.body["totalCount"], 0);
    assert_eq!(others.body["items"], json!([]));

    // Expiry shows in the state.
    app.clock.advance(Duration::from_secs(61));
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    let states: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["expired", "revoked"]);
}

#[tokio::test]
async fn bad_link_requests_answer_400_naming_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let past = Millis(app.clock.now().0 - 1000).to_rfc3339();
    for (body, field) in [
        (json!({ "maxUses": 0, "expiresIn": "1d" }), "maxUses"),
        (json!({ "maxUses": 10001, "expiresIn": "1d" }), "maxUses"),
        (json!({ "expiresIn": "1d" }), "maxUses"),
        (json!({ "maxUses": 1 }), "expiresAt"),
        (json!({ "maxUses": 1, "expiresIn": "31d" }), "expiresIn"),
        (json!({ "maxUses": 1, "expiresIn": "soon" }), "expiresIn"),
        (json!({ "maxUses": 1, "expiresAt": past }), "expiresAt"),
        (
            json!({ "maxUses": 1, "expiresAt": "tomorrow" }),
            "expiresAt",
        ),
        (
            json!({ "maxUses": 1, "expiresIn": "1d", "expiresAt": "2030-01-01T00:00:00Z" }),
            "expiresAt",
        ),
        (
            json!({ "maxUses": 1, "expiresIn": "1d", "role": "OWNER" }),
            "role",
        ),
        (
            json!({ "maxUses": 1, "expiresIn": "1d", "allowedEmailDomains": ["nodot"] }),
            "allowedEmailDomains",
        ),
    ] {
        let reply = app
            .post("/v1/organization/join-links", &org.key, &body)
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM join_links"), 0);
}

#[tokio::test]
async fn a_verified_person_joins_and_closed_links_join_nobody() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let (id, token) = create_link(
        &app,
        &org.key,
        json!({ "maxUses": 1, "expiresIn": "1d", "allowedEmailDomains": ["example.test"] }),
    )
    .await;

    // Signed out: the organization and the sign-in forms.
    let anonymous = Browser::new(&app);
    let shown = anonymous.get(&format!("/join/{token}")).await;
    shown.assert_html(200);
    assert!(shown.text.contains("Join acme"), "{}", shown.text);
    assert!(shown.has_sign_in_forms());

    // An unverified account, and one at another domain, are refused.
    let unverified = app.create_unverified_user("sam@example.test", None);
    let reply = join(&signed_in(&app, unverified), &app, &token).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(reply.text.contains("Confirm your email"), "{}", reply.text);
    let outsider = app.create_user("eve@elsewhere.test", None);
    let reply = join(&signed_in(&app, outsider), &app, &token).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {}",
            org.id
        )),
        1
    );

    // A verified person at the domain joins, with the link's role.
    let bob = app.create_user("bob@example.test", None);
    let reply = join(&signed_in(&app, bob), &app, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // A plain member: nothing more to do, and nothing that leads to the console.
    assert!(
        reply.text.contains("you can close this page"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains(r#"href="/account""#), "{}", reply.text);
    assert!(!reply.text.contains(r#"href="/admin""#), "{}", reply.text);
    assert_eq!(
        app.query_strings(&format!(
            "SELECT role FROM memberships WHERE org_id = {} AND user_id = {bob}",
            org.id
        )),
        vec!["MEMBER".to_owned()]
    );
    let link = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(link.body["items"][0]["uses"], 1);
    assert_eq!(link.body["items"][0]["state"], "full");

    // A member opening another link is told so, and offered nothing to press.
    let (_, another) =
        create_link(&app, &org.key, json!({ "maxUses": 5, "expiresIn": "1d" })).await;
    let shown = get_page(&signed_in(&app, bob), &app, &format!("/join/{another}")).await;
    shown.assert_html(200);
    assert!(
        shown.text.contains(r#"id="already-member""#),
        "{}",
        shown.text
    );
    assert!(!shown.text.contains("/accept"), "{}", shown.text);

    // Full: 410, nobody else joins.
    let carol = app.create_user("carol@example.test", None);
    let reply = join(&signed_in(&app, carol), &app, &token).await;
    reply.assert_html(410);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {carol}"
        )),
        0
    );

    // Revoked and expired links: 410; unknown: 404.
    let (revoked, revoked_token) =
        create_link(&app, &org.key, json!({ "maxUses": 5, "expiresIn": "1d" })).await;
    app.request(
        Method::POST,
        &format!("/v1/organization/join-links/{revoked}/revoke"),
        Some(&org.key),
        None,
    )
    .await;
    let (_, expiring) =
        create_link(&app, &org.key, json!({ "maxUses": 5, "expiresIn": "1h" })).await;
    app.clock.advance(Duration::from_secs(3601));
    for closed in [&token, &revoked_token, &expiring] {
        anonymous
            .get(&format!("/join/{closed}"))
            .await
            .assert_html(410);
        let reply = page(
            signed_in(&app, carol)
                .post(format!("{}/join/{closed}/accept", app.address))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(reply.status == 403 || reply.status == 410, "{}", reply.text);
    }
    anonymous.get("/join/doesnotexist").await.assert_html(404);
    anonymous.get("/join/not-a-token!").await.assert_html(404);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {carol}"
        )),
        0
    );
    let _ = id;
}

#[tokio::test]
async fn fifty_concurrent_joins_fill_a_ten_use_link_exactly() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let (_, token) = create_link(&app, &org.key, json!({ "maxUses": 10, "expiresIn": "1d" })).await;
    let mut browsers = Vec::new();
    for n in 0..50 {
        let user = app.create_user(&format!("p{n}@example.test"), None);
        let client = signed_in(&app, user);
        let shown = get_page(&client, &app, &format!("/join/{token}")).await;
        shown.assert_html(200);
        browsers.push((client, shown.csrf_token()));
    }
    let url = format!("{}/join/{token}/accept", app.address);
    let joins: Vec<_> = browsers
        .into_iter()
        .map(|(client, csrf)| {
            let url = url.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .form(&[("csrf_token", csrf.as_str())])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for join in joins {
        statuses.push(join.await.unwrap());
    }
    let joined = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 410).count();
    assert_eq!((joined, refused), (10, 40), "{statuses:?}");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {}",
            org.id
        )),
        11
    );
    assert_eq!(app.query_i64("SELECT uses FROM join_links"), 10);
    let org_body = app.get("/v1/organization", &org.key).await;
    assert_eq!(org_body.body["memberCount"], 11);
}

#[tokio::test]
async fn the_page_signs_people_in_and_sends_new_accounts_to_verify_first() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let (_, token) = create_link(&app, &org.key, json!({ "maxUses": 5, "expiresIn": "1d" })).await;
    let path = format!("/join/{token}");

    // A new account: the accounts service mails a verification link; no join yet.
    let newcomer = Browser::new(&app);
    let reply = newcomer
        .sign_up(&path, "new@example.test", "correct horse battery staple")
        .await;
    reply.assert_html(200);
    assert!(reply.text.contains("Check your inbox"), "{}", reply.text);
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'verification' AND recipient = 'new@example.test'"
        ),
        1
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {}",
            org.id
        )),
        1
    );

    // A verified account with a password signs in on the page, then joins.
    app.create_user("ann@example.test", Some("correct horse battery staple"));
    let ann = Browser::new(&app);
    ann.sign_in(&path, "ann@example.test", "correct horse battery staple")
        .await
        .assert_see_other(&path);
    let shown = ann.get(&path).await;
    shown.assert_html(200);
    assert!(
        shown.text.contains("Signed in as ann@example.test"),
        "{}",
        shown.text
    );
    let csrf = shown.csrf_token();
    let joined = ann
        .post_form(&format!("{path}/accept"), &[("csrf_token", &csrf)])
        .await;
    joined.assert_html(200);
    let again = ann
        .post_form(&format!("{path}/accept"), &[("csrf_token", &csrf)])
        .await;
    again.assert_html(409);
    assert_eq!(app.query_i64("SELECT uses FROM join_links"), 1);
    // Without the CSRF token nothing happens.
    let forged = ann.post_form(&format!("{path}/accept"), &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
}
