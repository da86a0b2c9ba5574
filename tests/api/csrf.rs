//! CSRF on the hosted pages: signed double-submit tokens bound to the
//! session, and cross-site posts refused, so an attacker who can plant a
//! cookie still cannot make a signed-in person answer an invitation.

use crate::helpers::*;
use crate::page_helpers::*;

const PASSWORD: &str = "correct horse battery";

struct SignedIn {
    path: String,
    invitation: i64,
    browser: Browser,
    session: String,
}

/// Bob, invited and signed in on his invitation's page in his own browser.
async fn bob_signed_in(app: &TestApp) -> SignedIn {
    let org = app.create_org("Acme", "ada@acme.test");
    let invitation = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = app.invitation_link_path(invitation);
    let browser = Browser::new(app);
    let signed_up = browser.sign_up(&path, "bob@example.com", PASSWORD).await;
    signed_up.assert_see_other(&path);
    let session = cookie_value(&signed_up, "enlist_session");
    SignedIn {
        path,
        invitation,
        browser,
        session,
    }
}

fn cookie_value(page: &Page, name: &str) -> String {
    page.set_cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie: {:?}", page.headers))
        .trim_start_matches(&format!("{name}="))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts a decline with exactly these cookies and this token.
async fn decline_with(app: &TestApp, path: &str, cookies: &str, token: &str) -> Page {
    page(
        bare_client()
            .post(format!("{}{}", app.address, sub(path, "respond")))
            .header("Cookie", cookies)
            .form(&[("csrf_token", token), ("decision", "decline")])
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn assert_expired_form(page: &Page) {
    page.assert_html(403);
    assert!(page.text.contains("This form has expired"), "{}", page.text);
}

#[tokio::test]
async fn a_planted_cookie_and_field_pair_no_longer_declines() {
    let app = spawn_app().await;
    let bob = bob_signed_in(&app).await;
    // What a plain double-submit accepted: any token, as long as cookie and field agree.
    let planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    let answer = decline_with(
        &app,
        &bob.path,
        &format!("enlist_csrf={planted}; enlist_session={}", bob.session),
        planted,
    )
    .await;

    assert_expired_form(&answer);
    assert_eq!(app.stored_status(bob.invitation), "PENDING");
}

#[tokio::test]
async fn the_server_never_adopts_a_token_it_did_not_sign() {
    let app = spawn_app().await;
    let bob = bob_signed_in(&app).await;
    let planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    let shown = page(
        bare_client()
            .get(format!("{}{}", app.address, bob.path))
            .header(
                "Cookie",
                format!("enlist_csrf={planted}; enlist_session={}", bob.session),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;

    shown.assert_html(200);
    assert!(shown.has_answer_buttons(), "{}", shown.text);
    let token = shown.csrf_token();
    assert_ne!(token, planted);
    assert_eq!(cookie_value(&shown, "enlist_csrf"), token);
}

#[tokio::test]
async fn a_token_from_another_session_or_signed_out_is_refused() {
    let app = spawn_app().await;
    let bob = bob_signed_in(&app).await;
    // A token the server really signed, but for a visitor with no session
    // (the attacker's own visit to the page).
    let attacker = Browser::new(&app);
    let signed_out_token = attacker.get(&bob.path).await.csrf_token();
    // And one signed for another session (Carol's, signed in elsewhere).
    let org = app.create_org("Globex", "gil@globex.test");
    let carols = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let carols_path = app.invitation_link_path(carols);
    let carol = Browser::new(&app);
    carol
        .sign_up(&carols_path, "carol@example.com", PASSWORD)
        .await
        .assert_see_other(&carols_path);
    let carols_token = carol.get(&carols_path).await.csrf_token();

    for token in [&signed_out_token, &carols_token] {
        let answer = decline_with(
            &app,
            &bob.path,
            &format!("enlist_csrf={token}; enlist_session={}", bob.session),
            token,
        )
        .await;
        assert_expired_form(&answer);
    }
    assert_eq!(app.stored_status(bob.invitation), "PENDING");

    // Bob's own token, from his own page, works.
    let own = bob.browser.get(&bob.path).await.csrf_token();
    let answer = decline_with(
        &app,
        &bob.path,
        &format!("enlist_csrf={own}; enlist_session={}", bob.session),
        &own,
    )
    .await;
    answer.assert_html(200);
    assert_eq!(app.stored_status(bob.invitation), "DECLINED");
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_a_good_token() {
    let app = spawn_app().await;
    let bob = bob_signed_in(&app).await;
    let token = bob.browser.get(&bob.path).await.csrf_token();
    let fields = [("csrf_token", token.as_str()), ("decision", "decline")];
    let url = format!("{}{}", app.address, sub(&bob.path, "respond"));

    for headers in [
        &[("Origin", "https://evil.example")][..],
        &[
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
    ] {
        let mut request = bob.browser.client.post(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = page(request.form(&fields).send().await.unwrap()).await;
        assert_expired_form(&answer);
    }
    assert_eq!(app.stored_status(bob.invitation), "PENDING");

    // Same origin works: as a browser sends it from the page itself
    // (`Origin: null` under `Referrer-Policy: no-referrer`), or with the origin.
    let answer = page(
        bob.browser
            .client
            .post(&url)
            .header("Origin", "null")
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("csrf_token", token.as_str()), ("decision", "nonsense")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_html(400);
    assert!(answer.text.contains("Choose an answer"), "{}", answer.text);
    let answer = page(
        bob.browser
            .client
            .post(&url)
            .header("Origin", app.address.as_str())
            .header("Sec-Fetch-Site", "same-origin")
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_html(200);
    assert_eq!(app.stored_status(bob.invitation), "DECLINED");
}

#[tokio::test]
async fn cross_site_sign_in_posts_are_refused_on_the_authorize_page_too() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = format!("/invite/{}", app.invitation_uuid(id));
    let token = browser.get(&path).await.csrf_token();

    let answer = page(
        browser
            .client
            .post(format!("{}/oauth/authorize", app.address))
            .header("Origin", "https://evil.example")
            .form(&[("csrf_token", token.as_str()), ("intent", "signin")])
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_expired_form(&answer);
}
