//! Signing in with a code mailed to the inbox ("Email me a code"), from
//! every sign-in page: the code read back from the `file` transport's
//! `.eml` as its recipient reads it, then typed (or filled in by the
//! mailed link) in the browser that asked for it.

use crate::helpers::*;
use crate::oauth_helpers::{AuthRequest, app_signs_in_with};
use crate::page_helpers::*;
use serde_json::json;
use std::time::Duration;

const SUBJECT: &str = "Your sign-in code";

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#x3f;", "?")
        .replace("&#63;", "?")
}

/// The value of the hidden field `name` of the "Email me a code" form.
fn code_form_field(page: &Page, name: &str) -> String {
    let form = page
        .text
        .split("action=\"/auth/email-code/send\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no \"Email me a code\" form: {}", page.text));
    let marker = format!("name=\"{name}\" value=\"");
    let start = form
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in the code form: {form}"))
        + marker.len();
    let end = form[start..].find('"').unwrap() + start;
    unescape(&form[start..end])
}

/// Posts the page's "Email me a code" form for `email`: the answer.
async fn ask_for_code(browser: &Browser, page: &Page, email: &str) -> Page {
    browser
        .post_form(
            "/auth/email-code/send",
            &[
                ("csrf_token", &page.csrf_token()),
                ("return_to", &code_form_field(page, "return_to")),
                ("email", email),
            ],
        )
        .await
}

/// Opens `path` and asks for a code there; asserts the code page.
async fn ask_on(browser: &Browser, path: &str, email: &str) -> Page {
    let page = browser.get(path).await;
    page.assert_html(200);
    let asked = ask_for_code(browser, &page, email).await;
    asked.assert_html(200);
    assert!(
        asked.text.contains(&format!("We sent a code to {email}")),
        "{}",
        asked.text
    );
    asked
}

/// The code messages to `to`, once the outbox has written exactly `count`
/// of them as `.eml` files, oldest first.
async fn code_mails(app: &TestApp, to: &str, count: usize) -> Vec<Mail> {
    let dir = app.outbox_dir();
    eventually(
        Duration::from_secs(10),
        &format!("{count} code message(s) to {to}"),
        || {
            let mails: Vec<Mail> = eml_files(&dir)
                .iter()
                .map(|path| read_eml(path))
                .filter(|mail| mail.to == to && mail.subject == SUBJECT)
                .collect();
            assert!(mails.len() <= count, "more code messages than {count}");
            (mails.len() == count).then_some(mails)
        },
    )
    .await
}

/// A code message's code (its digits) and its link, as the recipient reads them.
fn code_in(mail: &Mail) -> (String, String) {
    let link = mail
        .text
        .split_whitespace()
        .find(|word| word.contains("/auth/email-code?code="))
        .unwrap_or_else(|| panic!("no code link in {}", mail.text))
        .to_owned();
    let code = link.rsplit("code=").next().unwrap().to_owned();
    assert_eq!(code.len(), 8, "{link}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{link}");
    let grouped = format!("{} {}", &code[..4], &code[4..]);
    assert!(mail.text.contains(&grouped), "{}", mail.text);
    assert!(
        mail.html.contains(&grouped) && mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    (code, link)
}

/// The newest of `count` codes mailed to `to`.
async fn newest_code(app: &TestApp, to: &str, count: usize) -> (String, String) {
    code_in(code_mails(app, to, count).await.last().unwrap())
}

/// Types `code` on the code page of `browser`.
async fn type_code(browser: &Browser, code: &str) -> Page {
    let shown = browser.get("/auth/email-code").await;
    let csrf = shown.csrf_token();
    browser
        .post_form(
            "/auth/email-code",
            &[("csrf_token", csrf.as_str()), ("code", code)],
        )
        .await
}

fn account(app: &TestApp, email: &str) -> (i64, bool, bool) {
    let rows = app.query_strings(&format!(
        "SELECT id || ' ' || (email_verified_at IS NOT NULL) || ' ' || (password_hash IS NOT NULL) \
         FROM users WHERE email_key = '{email}'"
    ));
    let row = rows.first().unwrap_or_else(|| panic!("no account {email}"));
    let parts: Vec<&str> = row.split(' ').collect();
    let flag = |text: &str| matches!(text, "1" | "true" | "t");
    (parts[0].parse().unwrap(), flag(parts[1]), flag(parts[2]))
}

fn accounts_of(app: &TestApp, email: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM users WHERE email_key = '{email}'"
    ))
}

fn sessions_of(app: &TestApp, user_id: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM web_sessions WHERE user_id = {user_id}"
    ))
}

fn sent_codes(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'sign_in_code'")
}

/// The code page's error sentence.
fn error_of(page: &Page) -> String {
    let start = page
        .text
        .find("id=\"form-error\">")
        .unwrap_or_else(|| panic!("no error on the page: {}", page.text))
        + "id=\"form-error\">".len();
    let end = page.text[start..].find('<').unwrap() + start;
    page.text[start..end].to_owned()
}

#[tokio::test]
async fn an_invitee_accepts_an_invitation_signed_in_by_a_code_alone() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let invitation = app.invite_ok(&org.key, "ivy@example.test", "MEMBER").await;
    let path = app.invitation_link_path(invitation);
    let browser = Browser::new(&app);

    let page = browser.get(&path).await;
    page.assert_html(200);
    let form = page
        .text
        .split("action=\"/auth/email-code/send\"")
        .nth(1)
        .unwrap();
    assert!(
        form.contains("value=\"ivy@example.test\""),
        "the invited address, filled in: {form}"
    );
    let asked = ask_for_code(&browser, &page, "ivy@example.test").await;
    asked.assert_html(200);
    assert!(asked.text.contains("We sent a code to ivy@example.test"));
    assert!(asked.set_cookie("enlist_code").is_some());

    let mails = code_mails(&app, "ivy@example.test", 1).await;
    let (code, _) = code_in(&mails[0]);
    let signed_in = type_code(&browser, &code).await;
    // Back to the invitation; its secret stays out of the stored code.
    let (uuid_path, _) = path.split_once('?').unwrap();
    signed_in.assert_see_other(uuid_path);
    assert!(signed_in.set_cookie("enlist_session").is_some());

    let shown = browser.get(uuid_path).await;
    assert!(shown.has_answer_buttons(), "{}", shown.text);
    let answered = browser.respond(uuid_path, "accept").await;
    assert!(
        answered.status == 200 || answered.status == 303,
        "{}",
        answered.text
    );
    let (_, verified, has_password) = account(&app, "ivy@example.test");
    assert!(verified, "the code proved the inbox");
    assert!(!has_password, "no password was ever set");
    let members = app.get("/v1/organization/users", &org.key).await;
    assert!(
        members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == "ivy@example.test"),
        "{}",
        members.text
    );
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM email_codes WHERE used_at IS NULL"),
        0,
        "the code is used up"
    );
}

#[tokio::test]
async fn every_sign_in_page_offers_a_code_that_comes_back_to_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let invitation = app.invite_ok(&org.key, "ivy@example.test", "MEMBER").await;
    let uuid = app.invitation_uuid(invitation);
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({"role": "MEMBER", "maxUses": 10, "expiresIn": "1d"}),
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
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let authorize = format!("/oauth/authorize?{}", request.query());
    for (page_path, return_to) in [
        (format!("/invite/{uuid}"), format!("/invite/{uuid}")),
        (format!("/join/{token}"), format!("/join/{token}")),
        (authorize.clone(), authorize.clone()),
        ("/admin".to_owned(), "/admin".to_owned()),
        ("/account".to_owned(), "/account".to_owned()),
    ] {
        let page = Browser::new(&app).get(&page_path).await;
        page.assert_html(200);
        assert!(
            page.text.contains("Email me a code"),
            "{page_path}: {}",
            page.text
        );
        assert_eq!(code_form_field(&page, "return_to"), return_to);
    }

    // From the join page, back to it signed in.
    let browser = Browser::new(&app);
    ask_on(&browser, &format!("/join/{token}"), "jo@example.test").await;
    let (code, _) = newest_code(&app, "jo@example.test", 1).await;
    type_code(&browser, &code)
        .await
        .assert_see_other(&format!("/join/{token}"));
    let joined = browser.get(&format!("/join/{token}")).await;
    assert!(joined.text.contains("jo@example.test"), "{}", joined.text);
}

#[tokio::test]
async fn six_wrong_tries_end_a_code_and_a_new_code_works() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "wes@example.test").await;
    let (code, _) = newest_code(&app, "wes@example.test", 1).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };

    for try_number in 1..=4 {
        let answer = type_code(&browser, wrong).await;
        answer.assert_html(401);
        assert_eq!(
            error_of(&answer),
            if try_number == 4 {
                "That code is not right. You can try once more.".to_owned()
            } else {
                format!(
                    "That code is not right. You can try {} more times.",
                    5 - try_number
                )
            }
        );
    }
    let fifth = type_code(&browser, wrong).await;
    fifth.assert_html(410);
    assert!(
        error_of(&fifth).contains("Ask for a new code"),
        "{}",
        fifth.text
    );
    let sixth = type_code(&browser, wrong).await;
    sixth.assert_html(410);
    assert!(error_of(&sixth).contains("tried too many times"));
    // Even the right code is refused now.
    let right = type_code(&browser, &code).await;
    right.assert_html(410);
    assert!(error_of(&right).contains("Ask for a new code"));
    assert!(right.set_cookie("enlist_session").is_none());
    assert_eq!(accounts_of(&app, "wes@example.test"), 0, "nothing made");

    // A new code, asked from the same page, works.
    let page = browser.get("/auth/email-code").await;
    assert!(page.text.contains("Send a new code"), "{}", page.text);
    let asked = ask_for_code(&browser, &page, "wes@example.test").await;
    asked.assert_html(200);
    let (second, _) = newest_code(&app, "wes@example.test", 2).await;
    type_code(&browser, &second)
        .await
        .assert_see_other("/account");
    let (_, verified, has_password) = account(&app, "wes@example.test");
    assert!(verified && !has_password);
}

#[tokio::test]
async fn an_expired_code_and_a_used_code_are_refused_with_a_sentence() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "eve@example.test").await;
    let (code, _) = newest_code(&app, "eve@example.test", 1).await;
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let late = type_code(&browser, &code).await;
    late.assert_html(410);
    assert_eq!(
        error_of(&late),
        "This code has expired. Ask for a new code."
    );
    assert_eq!(accounts_of(&app, "eve@example.test"), 0);

    let fresh = browser.get("/auth/email-code").await;
    ask_for_code(&browser, &fresh, "eve@example.test")
        .await
        .assert_html(200);
    let (code, _) = newest_code(&app, "eve@example.test", 2).await;
    app.clock.advance(Duration::from_secs(9 * 60));
    type_code(&browser, &code)
        .await
        .assert_see_other("/account");
    let again = type_code(&browser, &code).await;
    again.assert_html(410);
    assert_eq!(
        error_of(&again),
        "This code was already used. Ask for a new code to sign in again."
    );
    let (user_id, ..) = account(&app, "eve@example.test");
    assert_eq!(sessions_of(&app, user_id), 1, "one sign-in, one session");
}

#[tokio::test]
async fn a_scanners_get_of_the_mailed_link_changes_nothing() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "sam@example.test").await;
    let (code, link) = newest_code(&app, "sam@example.test", 1).await;
    let path = link.strip_prefix(&app.address).unwrap().to_owned();
    let before = app.query_strings("SELECT attempts || ' ' || (used_at IS NULL) FROM email_codes");

    // A mail scanner: no cookie of the browser that asked, any number of times.
    for _ in 0..3 {
        let scanned = Browser::new(&app).get(&path).await;
        scanned.assert_html(400);
        assert!(!scanned.text.contains(&code), "{}", scanned.text);
    }
    // The person, in the browser that asked: the code is filled in, unused.
    let opened = browser.get(&path).await;
    opened.assert_html(200);
    assert!(
        opened.text.contains(&format!("value=\"{code}\"")),
        "{}",
        opened.text
    );
    assert!(opened.set_cookie("enlist_session").is_none());
    assert_eq!(
        app.query_strings("SELECT attempts || ' ' || (used_at IS NULL) FROM email_codes"),
        before,
        "nothing counted, nothing used"
    );
    assert_eq!(accounts_of(&app, "sam@example.test"), 0);

    let csrf = opened.csrf_token();
    browser
        .post_form(
            "/auth/email-code",
            &[("csrf_token", csrf.as_str()), ("code", code.as_str())],
        )
        .await
        .assert_see_other("/account");
}

#[tokio::test]
async fn a_code_typed_in_another_browser_is_refused() {
    let app = spawn_app().await;
    let asking = Browser::new(&app);
    ask_on(&asking, "/account", "pat@example.test").await;
    let (code, _) = newest_code(&app, "pat@example.test", 1).await;

    let other = Browser::new(&app);
    let shown = other.get("/auth/email-code").await;
    shown.assert_html(400);
    let refused = other
        .post_form(
            "/auth/email-code",
            &[("csrf_token", &shown.csrf_token()), ("code", &code)],
        )
        .await;
    refused.assert_html(400);
    assert!(
        error_of(&refused).contains("asked for in another browser"),
        "{}",
        refused.text
    );
    assert!(refused.set_cookie("enlist_session").is_none());
    assert_eq!(accounts_of(&app, "pat@example.test"), 0);
    assert_eq!(
        app.query_i64("SELECT attempts FROM email_codes"),
        0,
        "nothing counted"
    );
    // Where it was asked for, it still works.
    type_code(&asking, &code).await.assert_see_other("/account");
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_the_same_message() {
    let app = spawn_app().await;
    app.create_user("known@example.test", Some("a password of hers"));

    let mut answers = Vec::new();
    for email in ["known@example.test", "unknown@example.test"] {
        let browser = Browser::new(&app);
        let page = browser.get("/account").await;
        let asked = ask_for_code(&browser, &page, email).await;
        asked.assert_html(200);
        answers.push(
            asked
                .text
                .replace(email, "ADDRESS")
                .replace(&asked.csrf_token(), "CSRF"),
        );
    }
    assert_eq!(answers[0], answers[1], "the same page either way");
    let known = code_mails(&app, "known@example.test", 1).await;
    let unknown = code_mails(&app, "unknown@example.test", 1).await;
    let shape = |mail: &Mail, email: &str| {
        let (code, link) = code_in(mail);
        let grouped = format!("{} {}", &code[..4], &code[4..]);
        (
            mail.subject.clone(),
            mail.text
                .replace(&link, "LINK")
                .replace(&grouped, "CODE")
                .replace(email, "ADDRESS"),
        )
    };
    assert_eq!(
        shape(&known[0], "known@example.test"),
        shape(&unknown[0], "unknown@example.test"),
        "the same message either way"
    );
    assert_eq!(
        accounts_of(&app, "unknown@example.test"),
        0,
        "nothing made yet"
    );
}

#[tokio::test]
async fn a_new_account_is_made_only_when_the_code_is_used() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "Nia@Example.test").await;
    let (code, _) = newest_code(&app, "Nia@Example.test", 1).await;
    assert_eq!(accounts_of(&app, "nia@example.test"), 0);
    type_code(&browser, code.replace("", " ").trim())
        .await
        .assert_see_other("/account");
    let (user_id, verified, has_password) = account(&app, "nia@example.test");
    assert!(verified && !has_password);
    assert_eq!(sessions_of(&app, user_id), 1);
    let mine = browser.get("/account").await;
    assert!(mine.text.contains("Nia@Example.test"), "{}", mine.text);
}

#[tokio::test]
async fn a_code_claims_an_unproven_account_from_its_earlier_holder() {
    let app = spawn_app().await;
    let squatter = app.create_unverified_user("cleo@example.test", Some("squatter password"));
    let session = app.session_for(
        squatter,
        enlist::domain::AuthMethod::Password,
        Duration::from_secs(3600),
    );
    let squatter_browser = Browser::with_session(&app, &session);
    let before = squatter_browser.get("/account").await;
    assert!(
        before.text.contains("id=\"account-email\""),
        "{}",
        before.text
    );

    let owner = Browser::new(&app);
    ask_on(&owner, "/account", "cleo@example.test").await;
    let (code, _) = newest_code(&app, "cleo@example.test", 1).await;
    type_code(&owner, &code).await.assert_see_other("/account");

    let (user_id, verified, has_password) = account(&app, "cleo@example.test");
    assert_eq!(user_id, squatter, "the same account, taken back");
    assert!(verified, "proven now");
    assert!(!has_password, "the squatter's password is gone");
    let after = squatter_browser.get("/account").await;
    assert!(
        !after.text.contains("id=\"account-email\""),
        "the squatter's session ended: {}",
        after.text
    );
    assert_eq!(sessions_of(&app, user_id), 1, "only the owner's");
    let mine = owner.get("/account").await;
    assert!(mine.text.contains("cleo@example.test"), "{}", mine.text);
}

#[tokio::test]
async fn an_apps_authorization_returns_to_the_app_with_a_code() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let browser = Browser::new(&app);
    let page = ask_on(
        &browser,
        &format!("/oauth/authorize?{}", request.query()),
        "ana@example.test",
    )
    .await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("form-action 'self' http://127.0.0.1"), "{csp}");
    let (code, _) = newest_code(&app, "ana@example.test", 1).await;

    let back = type_code(&browser, &code).await;
    assert_eq!(back.status, 303, "{}", back.text);
    app_signs_in_with(&app, &client, &request, back.location().unwrap()).await;
}

#[tokio::test]
async fn a_console_sign_in_by_code_is_audited_with_its_method_and_amr() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let browser = Browser::new(&app);
    ask_on(&browser, "/admin", "ada@acme.test").await;
    let (code, _) = newest_code(&app, "ada@acme.test", 1).await;
    type_code(&browser, &code).await.assert_see_other("/admin");
    let console = browser.get("/admin").await;
    assert_eq!(console.status, 303, "one organization: straight to it");
    assert!(console.location().unwrap().contains(&org.uuid));

    let events = app
        .get("/v1/organization/events?type=user.signed_in", &org.key)
        .await;
    assert_eq!(events.status, 200, "{}", events.text);
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.text);
    let data = &items[0]["data"];
    assert_eq!(data["method"], "email_code");
    assert_eq!(data["amr"], json!(["otp"]));
    assert_eq!(data["user"]["email"], "ada@acme.test");
    assert!(
        !events.text.contains(&code),
        "no secret in the event: {}",
        events.text
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("enlist_sign_ins_total{method=\"email_code\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn asking_again_replaces_the_previous_code() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "rio@example.test").await;
    let (first, _) = newest_code(&app, "rio@example.test", 1).await;
    ask_on(&browser, "/account", "rio@example.test").await;
    let (second, _) = newest_code(&app, "rio@example.test", 2).await;
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM email_codes"), 1);
    if first != second {
        let old = type_code(&browser, &first).await;
        old.assert_html(401);
    }
    type_code(&browser, &second)
        .await
        .assert_see_other("/account");
}

#[tokio::test]
async fn wrong_codes_are_bounded_per_address_and_never_lock_the_password() {
    let app = spawn_app().await;
    app.create_user("lou@example.test", Some("lou's own password"));
    // Someone else asks for codes for Lou's address and guesses.
    let guesser = Browser::new(&app);
    for round in 1..=2 {
        ask_on(&guesser, "/account", "lou@example.test").await;
        let (code, _) = newest_code(&app, "lou@example.test", round).await;
        let wrong = if code == "00000000" {
            "11111111"
        } else {
            "00000000"
        };
        for _ in 0..5 {
            let answer = type_code(&guesser, wrong).await;
            assert!(
                answer.status == 401 || answer.status == 410,
                "{}",
                answer.text
            );
        }
    }
    // Ten wrong codes for the address: its next code is refused even right.
    ask_on(&guesser, "/account", "lou@example.test").await;
    let (code, _) = newest_code(&app, "lou@example.test", 3).await;
    let refused = type_code(&guesser, &code).await;
    refused.assert_html(429);
    assert!(refused.header("retry-after").is_some());
    assert!(
        error_of(&refused).contains("Too many wrong codes"),
        "{}",
        refused.text
    );
    // Three messages an hour per address: the fourth is refused, none sent.
    let page = guesser.get("/account").await;
    let fourth = ask_for_code(&guesser, &page, "lou@example.test").await;
    fourth.assert_html(429);
    assert_eq!(sent_codes(&app), 3);
    // Lou's password still signs her in, from anywhere.
    let lou = Browser::new(&app);
    let csrf = lou.get("/account").await.csrf_token();
    lou.post_form(
        "/account",
        &[
            ("csrf_token", csrf.as_str()),
            ("email", "lou@example.test"),
            ("password", "lou's own password"),
        ],
    )
    .await
    .assert_see_other("/account");
    // And the bound passes with its hour.
    app.clock.advance(Duration::from_secs(3600));
    ask_on(&guesser, "/account", "lou@example.test").await;
    let (code, _) = newest_code(&app, "lou@example.test", 4).await;
    type_code(&guesser, &code)
        .await
        .assert_see_other("/account");
}

#[tokio::test]
async fn bad_input_answers_a_page_and_changes_nothing() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "bea@example.test").await;
    let (code, _) = newest_code(&app, "bea@example.test", 1).await;
    let state =
        || app.query_strings("SELECT attempts || ' ' || (used_at IS NULL) FROM email_codes");
    let before = state();

    for (typed, sentence) in [
        ("", "Enter the 8-digit code from the message."),
        ("abcdefgh", "The code is 8 digits (0 to 9), nothing else."),
        ("1234567a", "The code is 8 digits (0 to 9), nothing else."),
        (
            "123456789",
            "The code is exactly 8 digits; check that you copied all of it.",
        ),
        (
            &"9".repeat(200),
            "The code is exactly 8 digits; check that you copied all of it.",
        ),
    ] {
        let answer = type_code(&browser, typed).await;
        answer.assert_html(400);
        assert_eq!(error_of(&answer), sentence, "{typed:?}");
    }
    // Without the CSRF token, or with another one.
    for token in [None, Some("forged")] {
        let mut fields = vec![("code", code.as_str())];
        if let Some(token) = token {
            fields.push(("csrf_token", token));
        }
        let answer = browser.post_form("/auth/email-code", &fields).await;
        answer.assert_html(403);
        assert!(answer.set_cookie("enlist_session").is_none());
    }
    let page = browser.get("/account").await;
    let no_token = browser
        .post_form(
            "/auth/email-code/send",
            &[("email", "bea@example.test"), ("return_to", "/account")],
        )
        .await;
    no_token.assert_html(403);
    // Asking with a bad address, or for a way back to another site.
    for (email, return_to, status) in [
        ("", "/account", 400),
        ("not an address", "/account", 400),
        ("bea@example.test", "https://evil.example/", 400),
        ("bea@example.test", "//evil.example/", 400),
    ] {
        let answer = browser
            .post_form(
                "/auth/email-code/send",
                &[
                    ("csrf_token", page.csrf_token().as_str()),
                    ("email", email),
                    ("return_to", return_to),
                ],
            )
            .await;
        answer.assert_html(status);
    }
    assert_eq!(state(), before, "no try counted, nothing used");
    assert_eq!(sent_codes(&app), 1, "nothing more sent");
    assert_eq!(accounts_of(&app, "bea@example.test"), 0);
    // The code still works.
    type_code(&browser, &code)
        .await
        .assert_see_other("/account");
}

#[tokio::test]
async fn a_code_sent_many_times_at_once_signs_in_once_and_wrong_ones_stop_at_five() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    ask_on(&browser, "/account", "ray@example.test").await;
    let (code, _) = newest_code(&app, "ray@example.test", 1).await;
    let csrf = browser.get("/auth/email-code").await.csrf_token();
    let post = |typed: String, csrf: String| {
        let browser = &browser;
        async move {
            browser
                .post_form(
                    "/auth/email-code",
                    &[("csrf_token", csrf.as_str()), ("code", typed.as_str())],
                )
                .await
                .status
                .as_u16()
        }
    };
    let answers =
        futures_util::future::join_all((0..12).map(|_| post(code.clone(), csrf.clone()))).await;
    assert_eq!(
        answers.iter().filter(|s| **s == 303).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|s| *s == 303 || *s == 410),
        "{answers:?}"
    );
    let (user_id, ..) = account(&app, "ray@example.test");
    assert_eq!(sessions_of(&app, user_id), 1);

    // Wrong guesses at once: never more than five compared.
    let fresh = browser.get("/auth/email-code").await;
    ask_for_code(&browser, &fresh, "ray@example.test")
        .await
        .assert_html(200);
    let (code, _) = newest_code(&app, "ray@example.test", 2).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    // Signed in now: the forms carry the new session's token.
    let csrf = browser.get("/auth/email-code").await.csrf_token();
    let answers =
        futures_util::future::join_all((0..12).map(|_| post(wrong.to_owned(), csrf.clone()))).await;
    assert_eq!(
        answers.iter().filter(|s| **s == 401).count(),
        4,
        "{answers:?}"
    );
    assert_eq!(
        app.query_i64("SELECT attempts FROM email_codes"),
        5,
        "{answers:?}"
    );
}
