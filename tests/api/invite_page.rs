//! The hosted invitation page, `/invite/{uuid}`: what it shows in each
//! state, signing in and up there, accepting and declining, sessions,
//! CSRF, and escaping.

use crate::helpers::*;
use crate::page_helpers::*;
use enlist::domain::Millis;

const PASSWORD: &str = "correct horse battery";

/// The path of an invitation's page as its message links it (with the
/// message's secret): what the invitee opens.
fn page_of(app: &TestApp, invitation_id: i64) -> String {
    app.invitation_link_path(invitation_id)
}

/// The page's bare path: what the inviting organization knows, proving nothing.
fn bare_page_of(app: &TestApp, invitation_id: i64) -> String {
    format!("/invite/{}", app.invitation_uuid(invitation_id))
}

async fn members(app: &TestApp, key: &str) -> Vec<serde_json::Value> {
    let reply = app.get("/v1/organization/users", key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

async fn member_role(app: &TestApp, key: &str, email: &str) -> Option<String> {
    members(app, key)
        .await
        .into_iter()
        .find(|m| m["email"] == email)
        .map(|m| m["role"].as_str().unwrap().to_owned())
}

fn escaped(text: &str) -> bool {
    text.contains("&#60;script&#62;") || text.contains("&lt;script&gt;")
}

#[tokio::test]
async fn a_pending_invitation_shows_who_invited_whom_to_what_and_the_sign_in_forms() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "ADMIN").await;
    let path = page_of(&app, id);

    let page = Browser::new(&app).get(&path).await;
    page.assert_html(200);
    let html = &page.text;
    assert!(html.contains("Join Acme"), "{html}");
    assert!(html.contains("Ada Admin"), "the inviter: {html}");
    assert!(html.contains("bob@example.com"), "{html}");
    assert!(html.contains("<dd>Admin</dd>"), "the role: {html}");
    assert!(
        html.contains("src=\"https://cdn.example.com/Acme.png\""),
        "the logo: {html}"
    );
    let expires_at = app.query_i64(&format!(
        "SELECT expires_at FROM invitations WHERE id = {id}"
    ));
    let expiry = chrono::DateTime::from_timestamp_millis(expires_at).unwrap();
    assert!(
        html.contains(&format!("datetime=\"{}\"", Millis(expires_at).to_rfc3339())),
        "{html}"
    );
    assert!(
        html.contains(&expiry.format("%-d %B %Y, %H:%M UTC").to_string()),
        "{html}"
    );
    // Not signed in: both forms, posting back here, with the invited email filled in.
    assert!(page.has_sign_in_forms(), "{html}");
    assert!(!page.has_answer_buttons(), "{html}");
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");
    assert!(html.contains("value=\"bob@example.com\""), "{html}");
    assert_eq!(page.csrf_token().len(), 32);
    let csrf_cookie = page.set_cookie("enlist_csrf").expect("a CSRF cookie");
    assert!(csrf_cookie.contains(&page.csrf_token()), "{csrf_cookie}");
    assert!(csrf_cookie.contains("HttpOnly"), "{csrf_cookie}");
    // The page itself loads no script at all, and its stylesheet is served.
    assert!(!html.contains("<script"), "{html}");
    let css = app
        .client
        .get(format!("{}/assets/enlist.css", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn links_that_lead_nowhere_are_404_pages() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let browser = Browser::new(&app);
    for path in [
        "/invite/not-a-uuid",
        "/invite/123",
        "/invite/00000000-0000-0000-0000-000000000000",
        &format!("/invite/{}", uuid_like()),
    ] {
        let page = browser.get(path).await;
        page.assert_html(404);
        assert!(page.text.contains("Invitation not found"), "{}", page.text);
        assert!(!page.text.contains("Acme"), "{}", page.text);
    }
}

/// A well-formed UUID that no invitation has.
fn uuid_like() -> String {
    "6f1c2b0e-8a4d-4c3b-9e2f-0123456789ab".into()
}

#[tokio::test]
async fn closed_invitations_each_have_a_page_with_the_right_status() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let browser = Browser::new(&app);

    let expired_in_place = app.invite_ok(&org.key, "a@example.com", "MEMBER").await;
    app.expire_in_place(expired_in_place);
    let expired = app.invite_ok(&org.key, "b@example.com", "MEMBER").await;
    app.expire_in_place(expired);
    app.set_stored_status(expired, "EXPIRED");
    let revoked = app.invite_ok(&org.key, "c@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    let accepted = app.invite_ok(&org.key, "d@example.com", "MEMBER").await;
    app.set_stored_status(accepted, "ACCEPTED");
    let declined = app.invite_ok(&org.key, "e@example.com", "MEMBER").await;
    app.set_stored_status(declined, "DECLINED");

    for (id, status, heading) in [
        (expired_in_place, 410, "This invitation has expired"),
        (expired, 410, "This invitation has expired"),
        (revoked, 410, "This invitation was withdrawn"),
        (accepted, 409, "This invitation was already accepted"),
        (declined, 409, "This invitation was declined"),
    ] {
        let page = browser.get(&page_of(&app, id)).await;
        page.assert_html(status);
        assert!(page.text.contains(heading), "{}", page.text);
        assert!(page.text.contains("Acme"), "{}", page.text);
        assert!(!page.has_sign_in_forms(), "{}", page.text);
        assert!(!page.has_answer_buttons(), "{}", page.text);
    }
}

#[tokio::test]
async fn signing_up_from_the_emailed_link_and_accepting_makes_a_member() {
    let app = spawn_app_with(file_transport).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "ADMIN").await;

    // The link, as the invitee gets it.
    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let mail = read_eml(&files[0]);
    let link = mail
        .text
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{}/invite/", app.address)))
        .unwrap_or_else(|| panic!("no link in {}", mail.text))
        .to_owned();
    let path = link.trim_start_matches(&app.address).to_owned();
    assert_eq!(path, page_of(&app, id));

    let browser = Browser::new(&app);
    let signed_up = browser.sign_up(&path, "bob@example.com", PASSWORD).await;
    signed_up.assert_see_other(&path);
    let session = signed_up
        .set_cookie("enlist_session")
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "plain http here: {session}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 1);
    // Only a digest of the token is stored.
    let token = session
        .trim_start_matches("enlist_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM web_sessions WHERE CAST(token_sha256 AS TEXT) = '{token}'"
        )),
        0
    );

    // Signed in as the invitee: Accept and Decline, no forms.
    let page = browser.get(&path).await;
    page.assert_html(200);
    assert!(page.has_answer_buttons(), "{}", page.text);
    assert!(!page.has_sign_in_forms(), "{}", page.text);
    assert!(
        page.text
            .contains(&format!("action=\"{}\"", sub(&path, "respond"))),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("Signed in as bob@example.com"),
        "{}",
        page.text
    );
    assert_eq!(app.stored_status(id), "PENDING");

    let accepted = browser.respond(&path, "accept").await;
    accepted.assert_html(200);
    assert!(
        accepted.text.contains("Welcome to Acme"),
        "{}",
        accepted.text
    );
    // An admin now: the page leads on to the console.
    assert!(
        accepted.text.contains(r#"href="/admin""#),
        "{}",
        accepted.text
    );

    // The admin API sees the new member with the invited role, and the invitation accepted.
    assert_eq!(
        member_role(&app, &org.key, "bob@example.com")
            .await
            .as_deref(),
        Some("ADMIN")
    );
    let member = members(&app, &org.key)
        .await
        .into_iter()
        .find(|m| m["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(member["firstName"], "Bob");
    assert_eq!(member["lastName"], "Builder");
    let list = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(list.body["items"][0]["id"], id);
    assert_eq!(list.body["items"][0]["status"], "ACCEPTED");
    assert_eq!(app.stored_status(id), "ACCEPTED");

    // The link now says it was used; answering again changes nothing.
    let used = browser.get(&path).await;
    used.assert_html(409);
    assert!(!used.has_answer_buttons(), "{}", used.text);
    let csrf = page.csrf_token();
    browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "decline")],
        )
        .await
        .assert_html(409);
    assert_eq!(app.stored_status(id), "ACCEPTED");
    assert_eq!(members(&app, &org.key).await.len(), 2);
}

#[tokio::test]
async fn declining_on_the_page_makes_no_member() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    browser
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);

    let csrf = browser.get(&path).await.csrf_token();
    let declined = browser.respond(&path, "decline").await;
    declined.assert_html(200);
    assert!(
        declined.text.contains("Invitation declined"),
        "{}",
        declined.text
    );
    assert!(declined.text.contains("Acme"), "{}", declined.text);
    assert_eq!(app.stored_status(id), "DECLINED");
    assert_eq!(member_role(&app, &org.key, "bob@example.com").await, None);
    assert_eq!(members(&app, &org.key).await.len(), 1);
    let list = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(list.body["items"][0]["status"], "DECLINED");

    // Accepting afterwards is refused, and still makes no member.
    Browser::new(&app).get(&path).await.assert_html(409);
    let late = browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "accept")],
        )
        .await;
    late.assert_html(409);
    assert_eq!(app.stored_status(id), "DECLINED");
    assert_eq!(member_role(&app, &org.key, "bob@example.com").await, None);
}

#[tokio::test]
async fn accepting_redirects_to_the_configured_url_with_the_organization() {
    let app = spawn_app_with(|s| {
        s.invitations.accept_redirect_url =
            Some("https://app.example.com/welcome?from=enlist".into());
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    browser
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);

    let accepted = browser.respond(&path, "accept").await;
    accepted.assert_see_other(&format!(
        "https://app.example.com/welcome?from=enlist&organization={}",
        org.uuid
    ));
    assert_eq!(app.stored_status(id), "ACCEPTED");
    assert_eq!(
        member_role(&app, &org.key, "bob@example.com")
            .await
            .as_deref(),
        Some("MEMBER")
    );

    // Declining never redirects.
    let other = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let path = page_of(&app, other);
    let carol = Browser::new(&app);
    carol.sign_up(&path, "carol@example.com", PASSWORD).await;
    carol.respond(&path, "decline").await.assert_html(200);
    assert_eq!(app.stored_status(other), "DECLINED");
}

#[tokio::test]
async fn signed_in_as_someone_else_the_page_says_so_and_cannot_answer() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);

    // Carol signs up from Bob's link: that link proves nothing about her
    // inbox, so she confirms her own address from the message she gets,
    // and lands back on the invitation, signed in.
    let carol = Browser::new(&app);
    let signed_up = carol.sign_up(&path, "carol@example.com", PASSWORD).await;
    signed_up.assert_html(200);
    assert!(
        signed_up.text.contains("Check your inbox"),
        "{}",
        signed_up.text
    );
    // Her confirmation leads back to the page itself, without Bob's secret.
    let link = crate::account_helpers::latest_link(&app, "verification", "carol@example.com");
    carol
        .follow_link(&link, None)
        .await
        .assert_see_other(&bare_page_of(&app, id));
    let page = carol.get(&path).await;
    page.assert_html(200);
    assert!(
        page.text
            .contains("You are signed in as <strong>carol@example.com</strong>"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("this invitation is for <strong>bob@example.com</strong>"),
        "{}",
        page.text
    );
    assert!(!page.has_answer_buttons(), "{}", page.text);
    assert!(!page.has_sign_in_forms(), "{}", page.text);
    assert!(
        page.text
            .contains(&format!("action=\"{}\"", sub(&path, "sign-out"))),
        "a way to switch account: {}",
        page.text
    );

    // Forged answers with Carol's session and a valid token do nothing.
    let csrf = page.csrf_token();
    for decision in ["accept", "decline"] {
        let forged = carol
            .post_form(
                &sub(&path, "respond"),
                &[("csrf_token", &csrf), ("decision", decision)],
            )
            .await;
        forged.assert_html(403);
        assert!(
            forged
                .text
                .contains("You are signed in as <strong>carol@example.com</strong>"),
            "{}",
            forged.text
        );
        assert!(!forged.has_answer_buttons(), "{}", forged.text);
        assert_eq!(app.stored_status(id), "PENDING");
    }
    assert_eq!(member_role(&app, &org.key, "carol@example.com").await, None);
    assert_eq!(members(&app, &org.key).await.len(), 1);

    // Switching account: sign out, then Bob signs up and answers.
    let signed_out = carol
        .post_form(&sub(&path, "sign-out"), &[("csrf_token", &csrf)])
        .await;
    signed_out.assert_see_other(&path);
    let page = carol.get(&path).await;
    assert!(page.has_sign_in_forms(), "{}", page.text);
    carol
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);
    carol.respond(&path, "accept").await.assert_html(200);
    assert_eq!(
        member_role(&app, &org.key, "bob@example.com")
            .await
            .as_deref(),
        Some("MEMBER")
    );
    assert_eq!(member_role(&app, &org.key, "carol@example.com").await, None);
}

#[tokio::test]
async fn signing_in_with_a_password_works_and_a_wrong_one_is_refused() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let first = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, first);

    // Bob has an account already (made on this page, then signed out).
    let setup = Browser::new(&app);
    setup.sign_up(&path, "bob@example.com", PASSWORD).await;
    let csrf = setup.get(&path).await.csrf_token();
    setup
        .post_form(&sub(&path, "sign-out"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&path);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);

    let browser = Browser::new(&app);
    let wrong = browser
        .sign_in(&path, "bob@example.com", "not the password")
        .await;
    wrong.assert_html(401);
    assert!(
        wrong.text.contains("The email or password is incorrect."),
        "{}",
        wrong.text
    );
    assert!(wrong.has_sign_in_forms(), "{}", wrong.text);
    assert_eq!(wrong.set_cookie("enlist_session"), None);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);
    // An unknown account answers the same.
    let unknown = browser.sign_in(&path, "nobody@example.com", PASSWORD).await;
    unknown.assert_html(401);

    let signed_in = browser.sign_in(&path, "BOB@example.com", PASSWORD).await;
    signed_in.assert_see_other(&path);
    assert!(signed_in.set_cookie("enlist_session").is_some());
    assert!(browser.get(&path).await.has_answer_buttons());

    // Signing up again with the same (verified) email and another password
    // signs nobody in: "check your inbox", and the owner is told by mail.
    let other = Browser::new(&app);
    let taken = other
        .sign_up(&path, "bob@example.com", "another password")
        .await;
    taken.assert_html(200);
    assert!(taken.text.contains("Check your inbox"), "{}", taken.text);
    assert_eq!(taken.set_cookie("enlist_session"), None);
    assert_eq!(
        crate::account_helpers::messages(&app, "sign_up_attempt", "bob@example.com"),
        1
    );
}

#[tokio::test]
async fn forms_without_the_csrf_pair_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let users = app.query_i64("SELECT COUNT(*) FROM users");

    let browser = Browser::new(&app);
    let csrf = browser.get(&path).await.csrf_token();
    let sign_up = |token: Option<&str>| {
        let mut fields = vec![
            ("intent", "signup".to_owned()),
            ("email", "bob@example.com".to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        if let Some(token) = token {
            fields.push(("csrf_token", token.to_owned()));
        }
        fields
    };
    let post = |client: &reqwest::Client, path: String, fields: Vec<(&'static str, String)>| {
        let request = client.post(format!("{}{path}", app.address)).form(&fields);
        async move { page(request.send().await.unwrap()).await }
    };

    // No field (the cookie is there).
    let refused = post(&browser.client, path.clone(), sign_up(None)).await;
    refused.assert_html(403);
    assert!(
        refused.text.contains("This form has expired"),
        "{}",
        refused.text
    );
    // A field that does not match the cookie.
    let refused = post(
        &browser.client,
        path.clone(),
        sign_up(Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
    )
    .await;
    refused.assert_html(403);
    // The right token but no cookie (another site posting the form).
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let refused = post(&cookieless, path.clone(), sign_up(Some(&csrf))).await;
    refused.assert_html(403);
    assert_eq!(refused.set_cookie("enlist_session"), None);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM users"), users);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);

    // Signed in for real, the answer and sign-out forms need the pair too.
    browser
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);
    for fields in [
        vec![("decision", "accept".to_owned())],
        vec![
            ("decision", "accept".to_owned()),
            ("csrf_token", String::new()),
        ],
        vec![
            ("decision", "accept".to_owned()),
            ("csrf_token", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB".to_owned()),
        ],
    ] {
        post(&browser.client, sub(&path, "respond"), fields)
            .await
            .assert_html(403);
    }
    post(&browser.client, sub(&path, "sign-out"), Vec::new())
        .await
        .assert_html(403);
    assert_eq!(app.stored_status(id), "PENDING");
    assert_eq!(member_role(&app, &org.key, "bob@example.com").await, None);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 1);
    assert!(browser.get(&path).await.has_answer_buttons());
}

#[tokio::test]
async fn answering_without_a_session_goes_back_to_the_page() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    let csrf = browser.get(&path).await.csrf_token();
    let reply = browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "accept")],
        )
        .await;
    reply.assert_see_other(&path);
    assert_eq!(app.stored_status(id), "PENDING");
    // A made-up session cookie is no session either.
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{}", app.address, sub(&path, "respond")))
        .header(
            "Cookie",
            format!(
                "enlist_csrf={csrf}; enlist_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ),
        )
        .form(&[("csrf_token", csrf.as_str()), ("decision", "accept")])
        .send()
        .await
        .unwrap();
    // The token was signed for no session, so the form is refused first.
    assert_eq!(forged.status(), 403);
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_too() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    let signed_up = browser.sign_up(&path, "bob@example.com", PASSWORD).await;
    let token = signed_up
        .set_cookie("enlist_session")
        .unwrap()
        .trim_start_matches("enlist_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = browser.get(&path).await.csrf_token();

    let signed_out = browser
        .post_form(&sub(&path, "sign-out"), &[("csrf_token", &csrf)])
        .await;
    signed_out.assert_see_other(&path);
    let removal = signed_out
        .set_cookie("enlist_session")
        .expect("the session cookie is cleared");
    assert!(
        removal.contains("Max-Age=0") || removal.contains("1970"),
        "{removal}"
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);
    let shown = browser.get(&path).await;
    assert!(shown.has_sign_in_forms(), "{}", shown.text);
    assert!(!shown.has_answer_buttons());

    // The old cookie, replayed, is worth nothing.
    let replay = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .header("Cookie", format!("enlist_session={token}"))
        .send()
        .await
        .unwrap();
    let replay = page(replay).await;
    assert!(replay.has_sign_in_forms(), "{}", replay.text);
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{}", app.address, sub(&path, "respond")))
        .header(
            "Cookie",
            format!("enlist_csrf={csrf}; enlist_session={token}"),
        )
        .form(&[("csrf_token", csrf.as_str()), ("decision", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|s| {
        s.server.public_url = Some("https://join.example.com".into());
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);

    // By hand: a cookie jar would not send Secure cookies over plain http.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let shown = page(
        client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    shown.assert_html(200);
    let csrf = shown.csrf_token();
    // Over https the cookies are `__Host-` prefixed: Secure, Path=/, no Domain.
    let csrf_cookie = shown.set_cookie("__Host-enlist_csrf").unwrap();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    assert!(csrf_cookie.contains("Path=/"), "{csrf_cookie}");
    assert!(!csrf_cookie.contains("Domain"), "{csrf_cookie}");
    assert_eq!(shown.set_cookie("enlist_csrf"), None);
    let signed_up = page(
        client
            .post(format!("{}{path}", app.address))
            .header("Cookie", format!("__Host-enlist_csrf={csrf}"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("intent", "signup"),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    signed_up.assert_see_other(&path);
    let session = signed_up.set_cookie("__Host-enlist_session").unwrap();
    assert!(session.contains("Secure"), "{session}");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Domain"), "{session}");
    // The prefixed session cookie signs the browser in.
    let token = session
        .trim_start_matches("__Host-enlist_session=")
        .split(';')
        .next()
        .unwrap();
    let signed_in = page(
        client
            .get(format!("{}{path}", app.address))
            .header("Cookie", format!("__Host-enlist_session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(signed_in.has_answer_buttons(), "{}", signed_in.text);
}

#[tokio::test]
async fn html_in_names_is_escaped_on_the_page_and_in_the_message() {
    let app = spawn_app_with(file_transport).await;
    let name = "<script>alert(1)</script>";
    let org = app.create_org(name, "ada@acme.test");
    app.execute_sql(&format!(
        "UPDATE users SET first_name = '<script>evil()</script>' WHERE id = {}",
        org.admin_id
    ));
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);

    let browser = Browser::new(&app);
    let page = browser.get(&path).await;
    page.assert_html(200);
    assert!(!page.text.contains("<script"), "{}", page.text);
    assert!(escaped(&page.text), "{}", page.text);
    assert!(page.text.contains("evil()"), "{}", page.text);

    // Signed in, and on the closing pages too.
    browser
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);
    let signed_in = browser.get(&path).await;
    assert!(!signed_in.text.contains("<script"), "{}", signed_in.text);
    let welcome = browser.respond(&path, "accept").await;
    welcome.assert_html(200);
    assert!(!welcome.text.contains("<script"), "{}", welcome.text);
    assert!(escaped(&welcome.text), "{}", welcome.text);
    let used = browser.get(&path).await;
    used.assert_html(409);
    assert!(!used.text.contains("<script"), "{}", used.text);
    assert!(escaped(&used.text), "{}", used.text);

    // The message's HTML part.
    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let mail = read_eml(&files[0]);
    assert!(!mail.html.contains("<script"), "{}", mail.html);
    assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
}

#[tokio::test]
async fn every_page_and_redirect_sends_the_security_headers() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    browser.get(&path).await.assert_html(200);
    browser.get("/invite/nope").await.assert_html(404);
    let bad_form = browser
        .post_form(&sub(&path, "respond"), &[("decision", "maybe")])
        .await;
    bad_form.assert_html(403);
    let csrf = browser.get(&path).await.csrf_token();
    let bad_answer = browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "maybe")],
        )
        .await;
    bad_answer.assert_html(400);
    let redirect = browser.sign_up(&path, "bob@example.com", PASSWORD).await;
    redirect.assert_see_other(&path);
    assert_eq!(redirect.header("cache-control"), Some("no-store"));
    let page = browser.get(&path).await;
    page.assert_html(200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn the_invited_email_matches_the_account_whatever_its_case() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for (invited, account) in [
        ("Bob@Example.COM", "bob@example.com"),
        ("ÉLODIE@example.com", "élodie@example.com"),
    ] {
        let id = app.invite_ok(&org.key, invited, "MEMBER").await;
        let path = page_of(&app, id);
        let browser = Browser::new(&app);
        browser
            .sign_up(&path, account, PASSWORD)
            .await
            .assert_see_other(&path);
        let page = browser.get(&path).await;
        page.assert_html(200);
        assert!(
            page.has_answer_buttons(),
            "{account} is the invited {invited}: {}",
            page.text
        );
        browser.respond(&path, "accept").await.assert_html(200);
        assert_eq!(app.stored_status(id), "ACCEPTED");
        assert_eq!(
            member_role(&app, &org.key, account).await.as_deref(),
            Some("MEMBER")
        );
    }
}

#[tokio::test]
async fn an_expired_session_is_no_session() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = page_of(&app, id);
    let browser = Browser::new(&app);
    let signed_up = browser.sign_up(&path, "bob@example.com", PASSWORD).await;
    let cookie = signed_up.set_cookie("enlist_session").unwrap();
    assert!(cookie.contains("Max-Age=43200"), "12 hours: {cookie}");
    let csrf = browser.get(&path).await.csrf_token();

    // The lifetime passes (on the server's side of things).
    let past = Millis::now().0 - 1;
    app.execute_sql(&format!("UPDATE web_sessions SET expires_at = {past}"));
    let page = browser.get(&path).await;
    assert!(page.has_sign_in_forms(), "{}", page.text);
    assert!(!page.has_answer_buttons(), "{}", page.text);
    browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "accept")],
        )
        .await
        .assert_see_other(&path);
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn answering_an_invitation_closed_meanwhile_shows_why_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let revoked = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let expired = app.invite_ok(&org.key, "bob@example.org", "MEMBER").await;
    let browser = Browser::new(&app);
    let path = page_of(&app, revoked);
    browser
        .sign_up(&path, "bob@example.com", PASSWORD)
        .await
        .assert_see_other(&path);
    let csrf = browser.get(&path).await.csrf_token();

    // Revoked after the page was shown.
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    let answer = browser
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "accept")],
        )
        .await;
    answer.assert_html(410);
    assert!(answer.text.contains("withdrawn"), "{}", answer.text);
    assert_eq!(app.stored_status(revoked), "REVOKED");
    assert_eq!(member_role(&app, &org.key, "bob@example.com").await, None);

    // Expired after the page was shown.
    let path = page_of(&app, expired);
    let other = Browser::new(&app);
    other
        .sign_up(&path, "bob@example.org", PASSWORD)
        .await
        .assert_see_other(&path);
    let csrf = other.get(&path).await.csrf_token();
    app.expire_in_place(expired);
    let answer = other
        .post_form(
            &sub(&path, "respond"),
            &[("csrf_token", &csrf), ("decision", "accept")],
        )
        .await;
    answer.assert_html(410);
    assert!(answer.text.contains("expired"), "{}", answer.text);
    assert_eq!(member_role(&app, &org.key, "bob@example.org").await, None);
}
