//! An invitation reaches only the person who owns its inbox: verified
//! emails, the owner claiming an address a stranger registered first,
//! password reset, and the links behind them.

use crate::account_helpers::{Jar, hidden_value, latest_link, messages, password_work, set_cookie};
use crate::helpers::{
    TestApp, eventually, file_transport, read_eml, spawn_app, spawn_app_with, wait_for_eml,
};
use crate::oauth_helpers::{
    AuthRequest, Browser as AuthorizeBrowser, Intent, PASSWORD, assert_oauth_error,
    authorization_code, decode_claims, exchange_code, refresh,
};
use crate::page_helpers::Browser;
use enlist::domain::{Email, Millis};
use enlist::services;
use serde_json::json;
use std::time::Duration;

const VICTIM: &str = "victim@corp.test";
const SQUATTER_PASSWORD: &str = "the squatter's password";
const OWNER_PASSWORD: &str = "the owner's own password";

fn verified_at(app: &TestApp, email: &str) -> Option<i64> {
    app.db
        .read_blocking(|conn| {
            conn.query_one(
                "SELECT email_verified_at FROM users WHERE email_key = ?1",
                &[&email.to_lowercase()],
                |row| row.get(0),
            )
        })
        .unwrap()
}

fn user_id(app: &TestApp, email: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT id FROM users WHERE email_key = '{}'",
        email.to_lowercase()
    ))
}

/// Signs up on the authorize page of a public client; answers the page.
async fn sign_up_on_authorize(
    app: &TestApp,
    request: &AuthRequest,
    email: &str,
    password: &str,
) -> crate::oauth_helpers::Page {
    let mut browser = AuthorizeBrowser::new(app);
    let shown = browser.open(&request.query()).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    browser
        .submit(
            &shown,
            Intent::SignUp {
                email,
                password,
                first_name: "Sam",
                last_name: "Squatter",
            },
        )
        .await
}

/// A code issued for `user_id` as codes were before verification existed,
/// exchanged at the token endpoint: (access token, refresh token).
async fn grant_from_before_verification(
    app: &TestApp,
    client: &crate::oauth_helpers::TestClient,
    user_id: i64,
) -> (String, String) {
    let request = AuthRequest::for_client(client);
    let code = crate::oauth_helpers::issue_code_directly(app, &request, user_id);
    let tokens = exchange_code(app, client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    (
        tokens.body["access_token"].as_str().unwrap().to_owned(),
        tokens.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_squatter_who_registers_an_address_first_gets_nothing_and_the_owner_takes_it_back() {
    // Arrange: a stranger signs up as the victim on the authorize page
    // (client ids are public; nothing of the victim's inbox is needed).
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let page = sign_up_on_authorize(&app, &request, VICTIM, SQUATTER_PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Check your inbox"), "{}", page.html);
    assert!(
        page.header("location").is_none(),
        "no code for an unproven address"
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oauth_codes"), 0);
    assert_eq!(verified_at(&app, VICTIM), None);
    let squatter = user_id(&app, VICTIM);
    // The squatter also holds what an older server could have granted: a
    // refresh token and a browser session.
    let (access, refresh_token) = grant_from_before_verification(&app, &client, squatter).await;
    let org = app.create_org("Corp", "admin@corp.test");
    let other = app.invite_ok(&org.key, "someone@corp.test", "MEMBER").await;
    let squatter_browser = Browser::new(&app);
    let other_page = format!("/invite/{}", app.invitation_uuid(other));
    // An invitation page signs in no unproven address: the inbox first.
    let refused = squatter_browser
        .sign_in(&other_page, VICTIM, SQUATTER_PASSWORD)
        .await;
    refused.assert_html(200);
    assert!(
        refused.text.contains("Check your inbox"),
        "{}",
        refused.text
    );
    assert_eq!(refused.set_cookie("enlist_session"), None);
    // A join page does (joining needs a proven address too).
    let join_page = join_page(&app, &org.key).await;
    squatter_browser
        .sign_in(&join_page, VICTIM, SQUATTER_PASSWORD)
        .await
        .assert_see_other(&join_page);
    let (_, invitation) = app.invite_with_uuid(&org.key, VICTIM, "ADMIN").await;

    // Act 1: the squatter tries the invitee API.
    let listed = app.invitee_get("/invitations", &access).await;
    let fetched = app
        .invitee_get(&format!("/invitations/{invitation}"), &access)
        .await;
    let accepted = app.respond(&invitation, "true", &access).await;

    // Assert 1: refused, nothing changed.
    for reply in [&listed, &fetched, &accepted] {
        reply.assert_problem(403, "email_unverified");
        assert!(
            reply.body["detail"].as_str().unwrap().contains("verif"),
            "{}",
            reply.text
        );
    }
    assert_eq!(decode_claims(&app, &access)["email_verified"], false);
    assert_eq!(app.admin_members(&org.key).await.len(), 1);

    // Act 2: the owner opens the verification link the squatter's sign-up
    // mailed to their inbox, in their own browser, and chooses a password.
    let owner = Browser::new(&app);
    let link = latest_link(&app, "verification", VICTIM);
    let shown = owner.get(link.strip_prefix(&app.address).unwrap()).await;
    shown.assert_html(200);
    assert!(shown.text.contains("name=\"password\""), "{}", shown.text);
    let claimed = owner.follow_link(&link, Some(OWNER_PASSWORD)).await;

    // Assert 2: the address is the owner's; the squatter's grants are gone.
    // (The newest link is the one the squatter's try on the invitation page
    // mailed: it leads back to that page.)
    claimed.assert_see_other(&other_page);
    assert!(claimed.set_cookie("enlist_session").is_some());
    assert!(verified_at(&app, VICTIM).is_some());
    assert_eq!(
        user_id(&app, VICTIM),
        squatter,
        "the same account, new holder"
    );
    assert_oauth_error(
        &refresh(&app, &client, &refresh_token).await,
        400,
        "invalid_grant",
    );
    assert!(
        squatter_browser
            .get(&join_page)
            .await
            .text
            .contains("Sign in"),
        "the squatter's session ended"
    );
    squatter_browser
        .sign_in(&other_page, VICTIM, SQUATTER_PASSWORD)
        .await
        .assert_html(401);

    // Act 3: the owner signs in to the app and answers the invitation.
    let request = AuthRequest::for_client(&client);
    let code = authorization_code(
        &app,
        &request,
        Intent::SignIn {
            email: VICTIM,
            password: OWNER_PASSWORD,
        },
    )
    .await;
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let token = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(decode_claims(&app, token)["email_verified"], true);
    let listed = app.invitee_get("/invitations", token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], invitation);
    let accepted = app.respond(&invitation, "true", token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(app.admin_members(&org.key).await.len(), 2);
}

#[tokio::test]
async fn an_invitation_link_proves_the_invitees_inbox() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = app.invitation_link_path(id);

    let bob = Browser::new(&app);
    bob.sign_up(&path, "Bob@Example.com", PASSWORD)
        .await
        .assert_see_other(&path);

    assert!(verified_at(&app, "bob@example.com").is_some());
    assert_eq!(messages(&app, "verification", "Bob@Example.com"), 0);
    bob.respond(&path, "accept").await.assert_html(200);
    assert_eq!(app.admin_members(&org.key).await.len(), 2);
}

#[tokio::test]
async fn an_invitation_link_lets_the_owner_claim_an_unverified_account() {
    let app = spawn_app().await;
    let squatter = app.create_unverified_user("bob@example.com", Some(SQUATTER_PASSWORD));
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "ADMIN").await;
    let path = app.invitation_link_path(id);
    let squatter_session = Browser::new(&app);
    squatter_session
        .sign_in(&path, "bob@example.com", SQUATTER_PASSWORD)
        .await;
    // (Signing in through Bob's link proved the inbox to whoever held the
    // link; here the squatter should not have had it, so undo that.)
    app.execute_sql("UPDATE users SET email_verified_at = NULL");
    let sessions_before = app.query_i64("SELECT COUNT(*) FROM web_sessions");

    // The owner signs up from the link with their own password.
    let owner = Browser::new(&app);
    owner
        .sign_up(&path, "bob@example.com", OWNER_PASSWORD)
        .await
        .assert_see_other(&path);

    assert_eq!(sessions_before, 1);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM web_sessions"),
        1,
        "only the owner's session is left"
    );
    assert_eq!(user_id(&app, "bob@example.com"), squatter);
    assert!(verified_at(&app, "bob@example.com").is_some());
    assert!(squatter_session.get(&path).await.has_sign_in_forms());
    let other = app
        .invite_ok(&org.key, "someone@example.com", "MEMBER")
        .await;
    let other_path = format!("/invite/{}", app.invitation_uuid(other));
    Browser::new(&app)
        .sign_in(&other_path, "bob@example.com", SQUATTER_PASSWORD)
        .await
        .assert_html(401);
    owner.respond(&path, "accept").await.assert_html(200);
}

#[tokio::test]
async fn a_verification_link_in_the_browser_that_signed_up_only_confirms() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let signed_up = sign_up_on_authorize(&app, &request, "iris@example.test", PASSWORD).await;
    let mut jar = Jar::new(&app);
    jar.keep(&signed_up);
    assert!(set_cookie(&signed_up, "enlist_link").is_some());
    let link = latest_link(&app, "verification", "iris@example.test");

    let shown = jar.get(&link).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    assert!(!shown.html.contains("name=\"password\""), "{}", shown.html);
    assert!(shown.html.contains("Confirm my address"), "{}", shown.html);
    let csrf = hidden_value(&shown.html, "csrf_token").unwrap();
    let resumed = jar.post(&link, &[("csrf_token", &csrf)]).await;

    // Back at the client with a code for the request it sent, state intact.
    assert_eq!(resumed.status, 303, "{}", resumed.html);
    let params = resumed.redirect_params();
    assert_eq!(params.get("state"), Some(&request.state));
    assert!(
        resumed
            .location()
            .as_str()
            .starts_with(&request.redirect_uri)
    );
    let tokens = exchange_code(&app, &client, &request, &params["code"]).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let claims = decode_claims(&app, tokens.body["access_token"].as_str().unwrap());
    assert_eq!(claims["email_verified"], true);
    assert!(verified_at(&app, "iris@example.test").is_some());
    // The password chosen at sign-up is the account's.
    let again = AuthRequest::for_client(&client);
    authorization_code(
        &app,
        &again,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;
}

#[tokio::test]
async fn a_verification_link_elsewhere_asks_for_a_password_and_hands_no_code_to_that_browser() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    sign_up_on_authorize(&app, &request, "iris@example.test", PASSWORD).await;
    let link = latest_link(&app, "verification", "iris@example.test");
    let mut phone = Jar::new(&app);

    let shown = phone.get(&link).await;
    assert!(shown.html.contains("name=\"password\""), "{}", shown.html);
    let csrf = hidden_value(&shown.html, "csrf_token").unwrap();
    let too_short = phone
        .post(&link, &[("csrf_token", &csrf), ("password", "short")])
        .await;
    assert_eq!(too_short.status, 400, "{}", too_short.html);
    assert!(too_short.html.contains("at least 8"), "{}", too_short.html);
    assert_eq!(
        verified_at(&app, "iris@example.test"),
        None,
        "nothing changed"
    );
    let csrf = hidden_value(&too_short.html, "csrf_token").unwrap();
    let resumed = phone
        .post(
            &link,
            &[("csrf_token", &csrf), ("password", "a phone password")],
        )
        .await;

    // Signed in and verified, told to go back to the app; no code comes
    // to a browser the app never saw.
    assert_eq!(resumed.status, 200, "{}", resumed.html);
    assert!(resumed.html.contains("You are all set"), "{}", resumed.html);
    assert!(set_cookie(&resumed, "enlist_session").is_some());
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oauth_codes"), 0);
    assert!(verified_at(&app, "iris@example.test").is_some());
    let again = AuthRequest::for_client(&client);
    authorization_code(
        &app,
        &again,
        Intent::SignIn {
            email: "iris@example.test",
            password: "a phone password",
        },
    )
    .await;
}

#[tokio::test]
async fn signing_up_with_a_taken_email_answers_exactly_as_a_new_sign_up() {
    let app = spawn_app().await;
    let owner = app.create_user("owner@example.test", Some(PASSWORD));
    app.create_unverified_user("pending@example.test", Some(PASSWORD));
    let hash_before = app.query_strings("SELECT password_hash FROM users ORDER BY id");
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let mut pages = Vec::new();
    for email in [
        "fresh@example.test",
        "owner@example.test",
        "pending@example.test",
    ] {
        let work_before = password_work(&app).await;
        let page = sign_up_on_authorize(&app, &request, email, "another password").await;
        let work = password_work(&app).await - work_before;
        pages.push((email, page, work));
    }

    let (_, fresh, fresh_work) = &pages[0];
    for (email, page, work) in &pages {
        assert_eq!(page.status, fresh.status, "{email}");
        assert_eq!(
            page.html.replace(email, "EMAIL"),
            fresh.html.replace("fresh@example.test", "EMAIL"),
            "{email}: the same page"
        );
        assert_eq!(work, fresh_work, "{email}: the same argon2 work");
        assert_eq!(*work, 1, "{email}: one hash");
        assert!(set_cookie(page, "enlist_link").is_some(), "{email}");
        assert!(set_cookie(page, "enlist_session").is_none(), "{email}");
        let mut names: Vec<_> = page.headers.keys().map(|k| k.as_str().to_owned()).collect();
        let mut fresh_names: Vec<_> = fresh
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        names.sort();
        fresh_names.sort();
        assert_eq!(names, fresh_names, "{email}: the same headers");
    }
    // Nothing about the existing accounts changed; their owners were mailed.
    assert_eq!(
        app.query_strings(
            "SELECT password_hash FROM users WHERE email_key <> 'fresh@example.test' ORDER BY id"
        ),
        hash_before
    );
    assert_eq!(user_id(&app, "owner@example.test"), owner);
    assert_eq!(messages(&app, "sign_up_attempt", "owner@example.test"), 1);
    assert_eq!(messages(&app, "verification", "pending@example.test"), 1);
    assert_eq!(messages(&app, "verification", "fresh@example.test"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oauth_codes"), 0);
}

#[tokio::test]
async fn the_owner_of_a_taken_address_resets_from_the_sign_up_attempt_message() {
    let app = spawn_app().await;
    app.create_user("owner@example.test", Some(PASSWORD));
    let client = app.public_client();
    sign_up_on_authorize(
        &app,
        &AuthRequest::for_client(&client),
        "owner@example.test",
        "a stranger's guess",
    )
    .await;

    let link = latest_link(&app, "sign_up_attempt", "owner@example.test");
    assert!(link.contains("/reset/"), "{link}");
    let browser = Browser::new(&app);
    let reset = browser
        .follow_link(&link, Some("a brand new password"))
        .await;

    // The attempt's authorization was started by whoever tried: it does not
    // resume in the owner's browser.
    reset.assert_html(200);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oauth_codes"), 0);
    let again = AuthRequest::for_client(&client);
    authorization_code(
        &app,
        &again,
        Intent::SignIn {
            email: "owner@example.test",
            password: "a brand new password",
        },
    )
    .await;
}

#[tokio::test]
async fn a_password_reset_works_end_to_end_through_the_file_transport() {
    // Arrange: Iris is signed in to a browser and an app.
    let app = spawn_app_with(file_transport).await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    app.create_user("iris@example.test", Some(PASSWORD));
    let code = authorization_code(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;
    let tokens = exchange_code(&app, &client, &request, &code).await;
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "iris@example.test", "MEMBER").await;
    let path = format!("/invite/{}", app.invitation_uuid(id));
    let old_browser = Browser::new(&app);
    old_browser
        .sign_in(&path, "iris@example.test", PASSWORD)
        .await
        .assert_see_other(&path);
    wait_for_eml(&app.outbox_dir(), 1).await;

    // Act: "Forgot your password?" on the invitation page.
    let browser = Browser::new(&app);
    let shown = browser.get(&path).await;
    let reset_href = {
        let marker = "id=\"forgot-password\"";
        assert!(shown.text.contains(marker), "{}", shown.text);
        let start = shown.text.find("href=\"/reset").unwrap() + "href=\"".len();
        let end = shown.text[start..].find('"').unwrap() + start;
        shown.text[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    };
    let form = browser.get(&reset_href).await;
    form.assert_html(200);
    let csrf = form.csrf_token();
    let resume = hidden_value(&form.text, "resume").expect("the page to come back to");
    let requested = browser
        .post_form(
            "/reset",
            &[
                ("csrf_token", &csrf),
                ("email", "Iris@Example.test"),
                ("resume", &resume),
            ],
        )
        .await;
    let unknown = browser
        .post_form(
            "/reset",
            &[
                ("csrf_token", &csrf),
                ("email", "nobody@example.test"),
                ("resume", &resume),
            ],
        )
        .await;

    // Assert: one answer for both; the message carries the link in both parts.
    requested.assert_html(200);
    unknown.assert_html(200);
    assert_eq!(
        requested.text.replace("Iris@Example.test", "EMAIL"),
        unknown.text.replace("nobody@example.test", "EMAIL")
    );
    let files = wait_for_eml(&app.outbox_dir(), 2).await;
    let mail = read_eml(&files[1]);
    assert_eq!(mail.to, "iris@example.test");
    assert!(mail.subject.contains("Reset"), "{}", mail.subject);
    let link = mail
        .text
        .split_whitespace()
        .find(|word| word.contains("/reset/"))
        .expect("a reset link in the text part")
        .to_owned();
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    let done = browser.follow_link(&link, Some("a new password!")).await;

    // Back on the invitation, signed in; every old credential ended.
    done.assert_see_other(&path);
    assert!(browser.get(&path).await.has_answer_buttons());
    assert!(old_browser.get(&path).await.has_sign_in_forms());
    assert_oauth_error(
        &refresh(&app, &client, &refresh_token).await,
        400,
        "invalid_grant",
    );
    Browser::new(&app)
        .sign_in(&path, "iris@example.test", PASSWORD)
        .await
        .assert_html(401);
    Browser::new(&app)
        .sign_in(&path, "iris@example.test", "a new password!")
        .await
        .assert_see_other(&path);
    assert!(verified_at(&app, "iris@example.test").is_some());
}

#[tokio::test]
async fn a_reset_started_on_the_authorize_page_returns_to_the_app_in_that_browser() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut jar = Jar::new(&app);
    let shown = jar
        .get(&format!("/oauth/authorize?{}", request.query()))
        .await;
    let start = shown
        .html
        .find("href=\"/reset?")
        .expect("a forgot-password link")
        + 6;
    let end = shown.html[start..].find('"').unwrap() + start;
    let reset_href = shown.html[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");

    let form = jar.get(&reset_href).await;
    let csrf = hidden_value(&form.html, "csrf_token").unwrap();
    let resume = hidden_value(&form.html, "resume")
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let asked = jar
        .post(
            "/reset",
            &[
                ("csrf_token", &csrf),
                ("email", "iris@example.test"),
                ("resume", &resume),
            ],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.html);
    let link = latest_link(&app, "password_reset", "iris@example.test");
    let back = jar.follow(&link, Some("a fresh password")).await;

    assert_eq!(back.status, 303, "{}", back.html);
    assert_eq!(back.redirect_params().get("state"), Some(&request.state));
    let tokens = exchange_code(&app, &client, &request, &back.redirect_params()["code"]).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_without_saying_so() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let browser = Browser::new(&app);
    let csrf = browser.get("/reset").await.csrf_token();

    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.push(
            browser
                .post_form(
                    "/reset",
                    &[("csrf_token", &csrf), ("email", "iris@example.test")],
                )
                .await,
        );
    }

    for page in &pages {
        page.assert_html(200);
        assert_eq!(page.text, pages[0].text);
    }
    assert_eq!(messages(&app, "password_reset", "iris@example.test"), 3);
}

#[tokio::test]
async fn emailed_links_work_once_and_expire() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let browser = Browser::new(&app);
    let csrf = browser.get("/reset").await.csrf_token();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("email", "iris@example.test"),
    ];
    browser.post_form("/reset", &fields).await.assert_html(200);
    let first = latest_link(&app, "password_reset", "iris@example.test");
    let path = first.strip_prefix(&app.address).unwrap().to_owned();

    // Unknown and tampered links are 404 pages; a used one is 410.
    Browser::new(&app)
        .get("/reset/unknown")
        .await
        .assert_html(404);
    let mut tampered = path.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    Browser::new(&app).get(&tampered).await.assert_html(404);
    Browser::new(&app)
        .get("/verify/unknown")
        .await
        .assert_html(404);
    browser
        .follow_link(&first, Some("password number two"))
        .await
        .assert_html(200);
    let used = Browser::new(&app).get(&path).await;
    used.assert_html(410);
    let fresh_csrf = browser.get("/reset").await.csrf_token();
    let replay = browser
        .post_form(
            &path,
            &[
                ("csrf_token", &fresh_csrf),
                ("password", "a third password"),
            ],
        )
        .await;
    replay.assert_html(410);

    // A reset link lives an hour; a verification link a day. (Following
    // the link signed the browser in: its forms carry a new token.)
    let csrf = browser.get("/reset").await.csrf_token();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("email", "iris@example.test"),
    ];
    browser.post_form("/reset", &fields).await.assert_html(200);
    let second = latest_link(&app, "password_reset", "iris@example.test");
    app.clock.advance(Duration::from_secs(61 * 60));
    Browser::new(&app)
        .get(second.strip_prefix(&app.address).unwrap())
        .await
        .assert_html(410);

    let client = app.public_client();
    sign_up_on_authorize(
        &app,
        &AuthRequest::for_client(&client),
        "new@example.test",
        PASSWORD,
    )
    .await;
    let verification = latest_link(&app, "verification", "new@example.test");
    let verification_path = verification.strip_prefix(&app.address).unwrap().to_owned();
    Browser::new(&app)
        .get(&verification_path)
        .await
        .assert_html(200);
    app.clock.advance(Duration::from_secs(24 * 3600));
    let expired = Browser::new(&app).get(&verification_path).await;
    expired.assert_html(410);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    assert_eq!(verified_at(&app, "new@example.test"), None);
}

#[tokio::test]
async fn new_forms_refuse_posts_without_their_csrf_token_and_change_nothing() {
    let app = spawn_app().await;
    let client = app.public_client();
    sign_up_on_authorize(
        &app,
        &AuthRequest::for_client(&client),
        "new@example.test",
        PASSWORD,
    )
    .await;
    let link = latest_link(&app, "verification", "new@example.test");
    let path = link.strip_prefix(&app.address).unwrap().to_owned();
    let browser = Browser::new(&app);

    let verify = browser
        .post_form(&path, &[("password", "whatever123")])
        .await;
    let reset = browser
        .post_form("/reset", &[("email", "new@example.test")])
        .await;

    verify.assert_html(403);
    reset.assert_html(403);
    assert_eq!(verified_at(&app, "new@example.test"), None);
    assert_eq!(messages(&app, "password_reset", "new@example.test"), 0);
    browser
        .follow_link(&link, Some("now for real"))
        .await
        .assert_html(200);
    assert!(verified_at(&app, "new@example.test").is_some());
}

#[tokio::test]
async fn a_link_followed_while_signed_in_as_someone_else_verifies_only_its_own_account() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let invite_path = format!("/invite/{}", app.invitation_uuid(id));
    app.create_unverified_user("mallory@example.com", Some(PASSWORD));
    let client = app.public_client();
    sign_up_on_authorize(
        &app,
        &AuthRequest::for_client(&client),
        "carol@example.com",
        PASSWORD,
    )
    .await;
    // Carol's browser is signed in as Mallory (say, a shared computer; a
    // join page signs in an unproven address).
    let browser = Browser::new(&app);
    let join_page = join_page(&app, &org.key).await;
    browser
        .sign_in(&join_page, "mallory@example.com", PASSWORD)
        .await
        .assert_see_other(&join_page);

    let link = latest_link(&app, "verification", "carol@example.com");
    browser.follow_link(&link, Some("carol's password")).await;

    assert!(verified_at(&app, "carol@example.com").is_some());
    assert_eq!(verified_at(&app, "mallory@example.com"), None);
    let page = browser.get(&invite_path).await;
    assert!(
        page.has_answer_buttons(),
        "signed in as Carol now: {}",
        page.text
    );
}

#[tokio::test]
async fn the_hosted_page_answers_only_for_a_proven_or_just_proven_address() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.create_unverified_user("dave@example.com", Some(PASSWORD));
    let id = app.invite_ok(&org.key, "dave@example.com", "MEMBER").await;
    let path = app.invitation_link_path(id);

    // Signing in through the link mailed to Dave proves Dave's inbox.
    let browser = Browser::new(&app);
    browser
        .sign_in(&path, "dave@example.com", PASSWORD)
        .await
        .assert_see_other(&path);

    assert!(verified_at(&app, "dave@example.com").is_some());
    browser.respond(&path, "accept").await.assert_html(200);
}

#[tokio::test]
async fn org_create_never_hands_an_organization_to_an_unverified_account() {
    let app = spawn_app().await;
    let squatter = app.create_unverified_user("boss@corp.test", Some(SQUATTER_PASSWORD));
    let new = |claim| services::orgs::NewOrganization {
        name: "Corp".into(),
        logo_url: None,
        admin_email: Email::parse("boss@corp.test").unwrap(),
        admin_first_name: "Boss".into(),
        admin_last_name: String::new(),
        claim_unverified: claim,
    };

    let refused = app
        .db
        .write_blocking(|tx| services::orgs::create(tx, &new(false), Millis::now()));
    assert!(
        matches!(
            &refused,
            Err(services::ServiceError::Conflict {
                code: services::ErrorCode::UnverifiedAccount,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM organizations"), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM memberships"), 0);

    let (_, admin) = app
        .db
        .write_blocking(|tx| services::orgs::create(tx, &new(true), Millis::now()))
        .unwrap();
    assert_eq!(admin.id, squatter);
    assert!(admin.email_verified());
    assert!(!admin.has_password, "the squatter's password is gone");
}

#[tokio::test]
async fn a_kelvin_sign_cannot_pass_for_an_ascii_k() {
    let app = spawn_app().await;
    let org = app.create_org("Corp", "admin@corp.test");
    app.create_user("kim@corp.test", Some(PASSWORD));

    let invite = app.invite(&org.key, "\u{212A}im@corp.test", "MEMBER").await;
    invite.assert_problem(400, "validation_failed");
    assert_eq!(invite.body["field"], "inviteeEmail");
    let client = app.public_client();
    let page = sign_up_on_authorize(
        &app,
        &AuthRequest::for_client(&client),
        "\u{212A}im@corp.test",
        PASSWORD,
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email_key LIKE '%im@corp.test'"),
        1
    );
    assert_eq!(messages(&app, "sign_up_attempt", "kim@corp.test"), 0);
    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.body["totalCount"], json!(0));
}

#[tokio::test]
async fn accounts_never_verified_are_deleted_after_their_lifetime() {
    let app = spawn_app_with(|s| {
        s.invitations.expiry_sweep_interval =
            enlist::config::HumanDuration(Duration::from_millis(50));
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.create_unverified_user("gone@example.test", Some(PASSWORD));
    app.create_unverified_user("member@example.test", Some(PASSWORD));
    app.add_member(org.id, "member@example.test", "MEMBER");
    app.execute_sql(
        "UPDATE users SET email_verified_at = NULL WHERE email_key = 'member@example.test'",
    );
    app.create_user("kept@example.test", Some(PASSWORD));

    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 60));

    eventually(
        Duration::from_secs(10),
        "the unverified account to go",
        || {
            (app.query_i64("SELECT COUNT(*) FROM users WHERE email_key = 'gone@example.test'") == 0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        app.query_strings("SELECT email_key FROM users ORDER BY email_key"),
        ["ada@acme.test", "kept@example.test", "member@example.test"]
    );
}

/// The path of a new join link's page of the organization.
async fn join_page(app: &TestApp, key: &str) -> String {
    let reply = app
        .post(
            "/v1/organization/join-links",
            key,
            &serde_json::json!({"role": "MEMBER", "maxUses": 10, "expiresIn": "1d"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let url = reply.body["url"].as_str().unwrap();
    url.strip_prefix(&app.address).unwrap().to_owned()
}
