//! A second factor for administrators over real HTTP: enrolling an
//! authenticator app on the account page (codes computed here from the key
//! the page shows, with this file's own RFC 6238), the console's admission
//! under each `auth.admin_mfa`, recovery codes used once, replayed and
//! wrong codes, the lock on the factor check (never on the password), a
//! demoted admin, the step-up before lasting changes, removal, and the
//! sign-in events.

use crate::helpers::*;
use crate::page_helpers::*;
use enlist::config::Settings;
use enlist::domain::Millis;
use enlist::domain::second_factor::AdminMfa;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";
const WRONG_CODE: &str = "That code is not right";
const REPLAYED: &str = "That code was already used.";
const LOCKED: &str = "Too many wrong codes.";

fn required(settings: &mut Settings) {
    settings.auth.admin_mfa = AdminMfa::Required;
}

/// RFC 6238 (HMAC-SHA-1, six digits, 30-second steps): the test's own,
/// from the key as the page shows it.
fn totp_code(shown_key: &str, at: Millis) -> String {
    use hmac::{Hmac, Mac};
    let key = data_encoding::BASE32_NOPAD
        .decode(shown_key.replace(' ', "").as_bytes())
        .unwrap();
    let step = at.0.div_euclid(30_000) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let word = u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

/// Six digits that are none of the codes the server would take now.
fn wrong_code(key: &str, app: &TestApp) -> String {
    let now = app.clock.now();
    let taken: Vec<String> = [-30_000, 0, 30_000]
        .iter()
        .map(|offset| totp_code(key, Millis(now.0 + offset)))
        .collect();
    (0..10)
        .map(|d| d.to_string().repeat(6))
        .find(|candidate| !taken.contains(candidate))
        .unwrap()
}

/// The text between `start` and the next `end`.
fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].to_owned()
}

fn console_path(org: &TestOrg, rest: &str) -> String {
    format!("/admin/orgs/{}{rest}", org.uuid)
}

/// Signs in at `/admin` with the password (the account is given it).
async fn password_sign_in(app: &TestApp, email: &str) -> Browser {
    app.set_password(email, PASSWORD);
    let browser = Browser::new(app);
    let door = browser.get("/admin").await;
    browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &door.csrf_token()),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_see_other("/admin");
    browser
}

/// Posts a second-factor code at the console's front door.
async fn submit_code(browser: &Browser, code: &str) -> Page {
    let door = browser.get("/admin").await;
    browser
        .post_form(
            "/admin/second-factor",
            &[("csrf_token", &door.csrf_token()), ("code", code)],
        )
        .await
}

async fn sign_out(browser: &Browser) {
    let csrf = browser.get("/account").await.csrf_token();
    browser
        .post_form("/admin/sign-out", &[("csrf_token", &csrf)])
        .await
        .assert_see_other("/admin?notice=signed-out");
}

/// The console opens for this browser: the front door leads into the
/// organization, whose overview answers 200.
async fn assert_admitted(browser: &Browser, org: &TestOrg) {
    browser
        .get("/admin")
        .await
        .assert_see_other(&console_path(org, ""));
    browser.get(&console_path(org, "")).await.assert_html(200);
}

/// The console is closed to this browser: every page leads back to the
/// front door, which asks for the factor (`true`) or to enrol one.
async fn assert_asked_for_factor(browser: &Browser, org: &TestOrg, enrolled: bool) {
    for rest in ["", "/members", "/api-keys/new"] {
        browser
            .get(&console_path(org, rest))
            .await
            .assert_see_other("/admin");
    }
    let door = browser.get("/admin").await;
    if enrolled {
        door.assert_html(200);
        assert!(
            door.text.contains("action=\"/admin/second-factor\""),
            "{}",
            door.text
        );
    } else {
        door.assert_html(403);
        assert!(door.text.contains("id=\"enrol-first\""), "{}", door.text);
        assert!(door.text.contains("href=\"/account#second-factor\""));
    }
}

/// What enrolment showed, once.
struct Enrolled {
    key: String,
    /// The code typed back to confirm it.
    confirming_code: String,
    recovery_codes: Vec<String>,
}

/// Sets up an authenticator app on the account page, typing back a code
/// computed from the key the page shows.
async fn enrol(app: &TestApp, browser: &Browser) -> Enrolled {
    let account = browser.get("/account").await;
    account.assert_html(200);
    assert!(
        account.text.contains("id=\"enrol-totp\""),
        "{}",
        account.text
    );
    let shown = browser
        .post_form(
            "/account/second-factor/totp",
            &[("csrf_token", &account.csrf_token())],
        )
        .await;
    shown.assert_html(200);
    let key = between(&shown.text, "<code id=\"totp-secret\">", "</code>");
    assert_eq!(key.replace(' ', "").len(), 32, "160 bits in base32: {key}");
    assert!(
        shown.text.contains("<img src=\"data:image/svg+xml;base64,"),
        "the QR code is an image drawn by the server: {}",
        shown.text
    );
    assert!(
        shown.text.contains("otpauth://totp/enlist:"),
        "{}",
        shown.text
    );
    let csp = shown.header("content-security-policy").unwrap();
    assert!(
        csp.split(';')
            .any(|directive| directive.trim().starts_with("img-src") && directive.contains("data:")),
        "the QR code's data: image is allowed: {csp}"
    );
    assert_eq!(
        shown.header("cache-control"),
        Some("no-store"),
        "the key is not cached"
    );
    let confirming_code = totp_code(&key, app.clock.now());
    let done = browser
        .post_form(
            "/account/second-factor/totp/confirm",
            &[
                ("csrf_token", &shown.csrf_token()),
                ("code", &confirming_code),
            ],
        )
        .await;
    done.assert_html(200);
    let list = between(
        &done.text,
        "<ul class=\"recovery-codes\" id=\"recovery-codes\">",
        "</ul>",
    );
    let recovery_codes: Vec<String> = list
        .split("<code>")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10, "{}", done.text);
    // Shown once: the account page says it is set up, and shows neither
    // the key nor the codes again.
    let after = browser.get("/account").await;
    assert!(
        after.text.contains("An authenticator app is set up"),
        "{}",
        after.text
    );
    assert!(!after.text.contains(&key));
    assert!(!after.text.contains(&recovery_codes[0]));
    Enrolled {
        key,
        confirming_code,
        recovery_codes,
    }
}

async fn events_of(app: &TestApp, org: &TestOrg, kind: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/organization/events?type={kind}&limit=100"),
            &org.key,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------------

#[tokio::test]
async fn required_keeps_an_admin_out_until_they_enrol_then_admits_them_with_a_code() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;

    // A password alone does not open the console: enrol first.
    assert_asked_for_factor(&ada, &org, false).await;
    let code_without_factor = submit_code(&ada, "123456").await;
    code_without_factor.assert_html(400);

    // Enrolling proves the app in this session: the console opens.
    let enrolled = enrol(&app, &ada).await;
    assert_admitted(&ada, &org).await;

    // A new sign-in is asked for a code; the one used to enrol (same
    // step) is a replay, a wrong one is wrong.
    sign_out(&ada).await;
    let ada = password_sign_in(&app, "ada@acme.test").await;
    assert_asked_for_factor(&ada, &org, true).await;
    let replayed = submit_code(&ada, &enrolled.confirming_code).await;
    replayed.assert_html(400);
    assert!(replayed.text.contains(REPLAYED), "{}", replayed.text);
    let wrong = submit_code(&ada, &wrong_code(&enrolled.key, &app)).await;
    wrong.assert_html(400);
    assert!(wrong.text.contains(WRONG_CODE), "{}", wrong.text);
    assert_asked_for_factor(&ada, &org, true).await;

    // The next step's code opens it.
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&enrolled.key, app.clock.now());
    submit_code(&ada, &code).await.assert_see_other("/admin");
    assert_admitted(&ada, &org).await;
    // That code, once more in another session, is a replay.
    sign_out(&ada).await;
    let again = password_sign_in(&app, "ada@acme.test").await;
    let replay = submit_code(&again, &code).await;
    assert!(replay.text.contains(REPLAYED), "{}", replay.text);

    // The sign-in events say how: the password, then the app, with `mfa`.
    let events = events_of(&app, &org, "user.signed_in").await;
    let totp = events
        .iter()
        .find(|event| event["data"]["method"] == "totp")
        .unwrap_or_else(|| panic!("no totp sign-in in {events:?}"));
    assert_eq!(totp["data"]["amr"], json!(["pwd", "otp", "mfa"]), "{totp}");
    assert_eq!(totp["actor"]["type"], "user");
    assert!(!totp.to_string().contains(&code), "no secret in {totp}");
    assert!(events.iter().any(
        |event| event["data"]["method"] == "password" && event["data"]["amr"] == json!(["pwd"])
    ));
    assert_eq!(events_of(&app, &org, "user.mfa_enrolled").await.len(), 1);
}

#[tokio::test]
async fn a_recovery_code_admits_once() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    let enrolled = enrol(&app, &ada).await;
    sign_out(&ada).await;

    let ada = password_sign_in(&app, "ada@acme.test").await;
    let code = &enrolled.recovery_codes[3];
    // Typed in capitals, as people copy it: the same code.
    submit_code(&ada, &code.to_uppercase())
        .await
        .assert_see_other("/admin");
    assert_admitted(&ada, &org).await;
    let account = ada.get("/account").await;
    assert!(
        account
            .text
            .contains("<strong id=\"recovery-codes-left\">9</strong>"),
        "{}",
        account.text
    );
    sign_out(&ada).await;

    let ada = password_sign_in(&app, "ada@acme.test").await;
    let reused = submit_code(&ada, code).await;
    reused.assert_html(400);
    assert!(reused.text.contains(WRONG_CODE), "{}", reused.text);
    assert_asked_for_factor(&ada, &org, true).await;
    // Another one works.
    submit_code(&ada, &enrolled.recovery_codes[4])
        .await
        .assert_see_other("/admin");
    assert_admitted(&ada, &org).await;

    let events = events_of(&app, &org, "user.signed_in").await;
    let recovery: Vec<&Value> = events
        .iter()
        .filter(|event| event["data"]["method"] == "recovery_code")
        .collect();
    assert_eq!(recovery.len(), 2, "{events:?}");
    assert_eq!(recovery[0]["data"]["amr"], json!(["pwd", "otp", "mfa"]));
    // Only digests are stored.
    let stored = app.query_i64("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL");
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn wrong_codes_lock_the_factor_check_but_never_the_password() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    let enrolled = enrol(&app, &ada).await;
    sign_out(&ada).await;

    let ada = password_sign_in(&app, "ada@acme.test").await;
    let wrong = wrong_code(&enrolled.key, &app);
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(submit_code(&ada, &wrong).await);
    }
    for answer in &answers[..4] {
        answer.assert_html(400);
        assert!(answer.text.contains(WRONG_CODE), "{}", answer.text);
    }
    for answer in &answers[4..] {
        answer.assert_html(429);
        assert!(answer.text.contains(LOCKED), "{}", answer.text);
        assert!(answer.text.contains("15 minutes"), "{}", answer.text);
        assert!(answer.header("retry-after").is_some());
    }
    // Locked: even the right code is not checked.
    let right = submit_code(&ada, &totp_code(&enrolled.key, app.clock.now())).await;
    right.assert_html(429);
    assert!(right.text.contains(LOCKED), "{}", right.text);
    assert_asked_for_factor(&ada, &org, true).await;

    // The password still signs Ada in elsewhere: an invitation's page.
    let other = app.create_org("Beta", "bea@beta.test");
    let invitation = app.invite_ok(&other.key, "ada@acme.test", "MEMBER").await;
    let path = app.invitation_link_path(invitation);
    let elsewhere = Browser::new(&app);
    let signed_in = elsewhere.sign_in(&path, "ada@acme.test", PASSWORD).await;
    signed_in.assert_see_other(&path);
    assert!(elsewhere.get(&path).await.has_answer_buttons());

    // Fifteen minutes later the check is open again.
    app.clock.advance(Duration::from_secs(15 * 60));
    submit_code(&ada, &totp_code(&enrolled.key, app.clock.now()))
        .await
        .assert_see_other("/admin");
    assert_admitted(&ada, &org).await;
}

#[tokio::test]
async fn a_demoted_admin_keeps_the_factor_but_loses_the_console() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let xavier = app.add_member(org.id, "xavier@acme.test", "ADMIN");
    let x = password_sign_in(&app, "xavier@acme.test").await;
    enrol(&app, &x).await;
    assert_admitted(&x, &org).await;

    let demoted = app
        .request(
            Method::PATCH,
            &format!("/v1/organization/users/{xavier}"),
            Some(&org.key),
            Some(&json!({ "role": "MEMBER" })),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);

    x.get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin?notice=not-admin");
    let door = x.get("/admin").await;
    door.assert_html(403);
    assert!(
        door.text
            .contains("You are not an administrator of any organization"),
        "{}",
        door.text
    );
    let account = x.get("/account").await;
    assert!(account.text.contains("An authenticator app is set up"));
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM totp_factors WHERE user_id = {xavier} AND confirmed_at IS NOT NULL"
        )),
        1
    );
}

#[tokio::test]
async fn lasting_changes_ask_for_the_code_again_when_the_last_one_is_old() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    let enrolled = enrol(&app, &ada).await;
    let csrf = ada.get(&console_path(&org, "/api-keys")).await.csrf_token();
    let mint = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("csrf_token", csrf.clone()),
            ("name", "sync".to_owned()),
            ("scope", "organization:read".to_owned()),
        ];
        all.extend(fields);
        all
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let ada = &ada;
        async move {
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ada.post_form(&path, &borrowed).await
        }
    };
    let keys = console_path(&org, "/api-keys");

    // The factor was just proved: nothing is asked.
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert!(!form.text.contains("name=\"code\""), "{}", form.text);
    post(keys.clone(), mint(vec![])).await.assert_html(201);

    // Five minutes on, a code is asked, not the password.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert!(form.text.contains("name=\"code\""), "{}", form.text);
    assert!(!form.text.contains("name=\"password\""), "{}", form.text);
    let asked = post(keys.clone(), mint(vec![("password", PASSWORD.into())])).await;
    asked.assert_html(400);
    assert!(
        asked
            .text
            .contains("Enter a code from your authenticator app"),
        "{}",
        asked.text
    );
    let wrong = post(
        keys.clone(),
        mint(vec![("code", wrong_code(&enrolled.key, &app))]),
    )
    .await;
    wrong.assert_html(400);
    assert!(wrong.text.contains(WRONG_CODE), "{}", wrong.text);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM api_keys WHERE minted_in_console = 1"),
        1
    );

    // Adding a webhook and changing a role ask too, and change nothing.
    let hooks_form = ada.get(&console_path(&org, "/webhooks/new")).await;
    assert!(
        hooks_form.text.contains("name=\"code\""),
        "{}",
        hooks_form.text
    );
    let hook = post(
        console_path(&org, "/webhooks"),
        vec![
            ("csrf_token", csrf.clone()),
            ("url", "https://hooks.example.com/enlist".into()),
        ],
    )
    .await;
    hook.assert_html(400);
    assert!(hook.text.contains("to add a webhook"), "{}", hook.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM webhook_endpoints"), 0);
    let role_path = console_path(&org, &format!("/members/{bob}/role"));
    let role = post(
        role_path.clone(),
        vec![("csrf_token", csrf.clone()), ("role", "ADMIN".into())],
    )
    .await;
    role.assert_html(400);
    assert!(role.text.contains("to change a role"), "{}", role.text);
    assert!(
        role.text.contains("name=\"role\" value=\"ADMIN\""),
        "{}",
        role.text
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {bob} AND role = 'ADMIN'"
        )),
        0
    );

    // A code (the next step's) lets the role change through, and the
    // next few minutes ask nothing.
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&enrolled.key, app.clock.now());
    let changed = post(
        role_path,
        vec![
            ("csrf_token", csrf.clone()),
            ("role", "ADMIN".into()),
            ("code", code),
        ],
    )
    .await;
    changed.assert_see_other(&format!(
        "{}?notice=role-changed",
        console_path(&org, "/members")
    ));
    post(keys, mint(vec![])).await.assert_html(201);
}

#[tokio::test]
async fn an_admin_without_a_factor_is_still_asked_for_the_password_before_a_key() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert!(form.text.contains("name=\"password\""), "{}", form.text);
    assert!(!form.text.contains("name=\"code\""), "{}", form.text);
    // Webhooks and roles ask nothing of an admin without a factor.
    let hooks_form = ada.get(&console_path(&org, "/webhooks/new")).await;
    assert!(
        !hooks_form.text.contains("name=\"code\""),
        "{}",
        hooks_form.text
    );
}

#[tokio::test]
async fn removing_the_factor_or_renewing_its_codes_needs_a_code() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    let enrolled = enrol(&app, &ada).await;
    let csrf = ada.get("/account").await.csrf_token();
    let confirmed =
        || app.query_i64("SELECT COUNT(*) FROM totp_factors WHERE confirmed_at IS NOT NULL");

    for (code, sentence) in [
        ("", "Enter the 6-digit code"),
        ("not a code", "Enter the 6-digit code"),
        (wrong_code(&enrolled.key, &app).as_str(), WRONG_CODE),
        (enrolled.confirming_code.as_str(), REPLAYED),
    ] {
        for action in ["remove", "recovery-codes"] {
            let refused = ada
                .post_form(
                    &format!("/account/second-factor/{action}"),
                    &[("csrf_token", &csrf), ("code", code)],
                )
                .await;
            refused.assert_html(400);
            assert!(
                refused.text.contains(sentence),
                "{action} {code}: {}",
                refused.text
            );
            assert!(refused.text.contains("An authenticator app is set up"));
        }
    }
    assert_eq!(confirmed(), 1);
    // Too many wrong codes by now: wait for the lock to pass.
    app.clock.advance(Duration::from_secs(15 * 60));

    // New recovery codes with one of the old ones: the old ones are gone.
    let renewed = ada
        .post_form(
            "/account/second-factor/recovery-codes",
            &[("csrf_token", &csrf), ("code", &enrolled.recovery_codes[0])],
        )
        .await;
    renewed.assert_html(200);
    assert!(
        renewed.text.contains("the old ones no longer work"),
        "{}",
        renewed.text
    );
    let new_code = between(&renewed.text, "<li><code>", "</code>");
    let old = ada
        .post_form(
            "/account/second-factor/remove",
            &[("csrf_token", &csrf), ("code", &enrolled.recovery_codes[1])],
        )
        .await;
    old.assert_html(400);
    assert_eq!(confirmed(), 1);

    ada.post_form(
        "/account/second-factor/remove",
        &[("csrf_token", &csrf), ("code", &new_code)],
    )
    .await
    .assert_see_other("/account?factor_removed=1");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM totp_factors"), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM recovery_codes"), 0);
    let account = ada.get("/account?factor_removed=1").await;
    assert!(
        account.text.contains("No second factor is set up"),
        "{}",
        account.text
    );
    assert!(account.text.contains("were removed"), "{}", account.text);
    assert_eq!(events_of(&app, &org, "user.mfa_removed").await.len(), 1);
}

#[tokio::test]
async fn optional_asks_only_the_admins_who_enrolled_and_off_asks_nobody() {
    // optional (the default): no factor, admitted as before.
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    assert_admitted(&ada, &org).await;
    let enrolled = enrol(&app, &ada).await;
    sign_out(&ada).await;
    // Enrolled: asked for it.
    let ada = password_sign_in(&app, "ada@acme.test").await;
    assert_asked_for_factor(&ada, &org, true).await;
    app.clock.advance(Duration::from_secs(30));
    submit_code(&ada, &totp_code(&enrolled.key, app.clock.now()))
        .await
        .assert_see_other("/admin");
    assert_admitted(&ada, &org).await;

    // off: enrolled or not, the password is enough.
    let off = spawn_app_with(|s| s.auth.admin_mfa = AdminMfa::Off).await;
    let org = off.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&off, "ada@acme.test").await;
    enrol(&off, &ada).await;
    sign_out(&ada).await;
    let ada = password_sign_in(&off, "ada@acme.test").await;
    assert_admitted(&ada, &org).await;
}

#[tokio::test]
async fn members_are_never_asked_and_the_members_page_shows_who_has_a_factor() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    // Bob, a member, sets up an app: the console still says he is no admin,
    // never asks him for a code.
    let b = password_sign_in(&app, "bob@acme.test").await;
    enrol(&app, &b).await;
    sign_out(&b).await;
    let b = password_sign_in(&app, "bob@acme.test").await;
    let door = b.get("/admin").await;
    door.assert_html(403);
    assert!(!door.text.contains("second-factor"), "{}", door.text);

    let ada = password_sign_in(&app, "ada@acme.test").await;
    enrol(&app, &ada).await;
    let members = ada.get(&console_path(&org, "/members")).await;
    members.assert_html(200);
    let row = |id: i64| between(&members.text, &format!("<tr id=\"member-{id}\">"), "</tr>");
    assert!(row(bob).contains("Authenticator app"), "{}", row(bob));
    let carol = app.add_member(org.id, "carol@acme.test", "MEMBER");
    let members = ada.get(&console_path(&org, "/members")).await;
    let row = between(
        &members.text,
        &format!("<tr id=\"member-{carol}\">"),
        "</tr>",
    );
    assert!(row.contains(">None<"), "{row}");
}

#[tokio::test]
async fn every_second_factor_form_refuses_a_post_without_its_csrf_token() {
    let app = spawn_app_with(required).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = password_sign_in(&app, "ada@acme.test").await;
    let begun = ada.post_form("/account/second-factor/totp", &[]).await;
    assert_eq!(begun.status, 403, "{}", begun.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM totp_factors"), 0);
    let enrolled = enrol(&app, &ada).await;
    sign_out(&ada).await;

    let ada = password_sign_in(&app, "ada@acme.test").await;
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&enrolled.key, app.clock.now());
    for path in [
        "/admin/second-factor",
        "/account/second-factor/totp/confirm",
        "/account/second-factor/recovery-codes",
        "/account/second-factor/remove",
    ] {
        let refused = ada.post_form(path, &[("code", &code)]).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
    }
    // Nothing was checked nor changed: the code is still unused.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL"),
        10
    );
    assert_asked_for_factor(&ada, &org, true).await;
    submit_code(&ada, &code).await.assert_see_other("/admin");
}

#[tokio::test]
async fn an_id_token_issued_after_the_second_factor_says_mfa() {
    use crate::account_helpers::{Jar, hidden_value};
    use crate::oauth_helpers::{AuthRequest, exchange_code};
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(crate::oauth_helpers::PASSWORD));
    let client = app.public_client();
    let mut jar = Jar::new(&app);
    jar.sign_in(
        "/account",
        "iris@example.test",
        crate::oauth_helpers::PASSWORD,
    )
    .await;
    let account = jar.get("/account").await;
    let csrf = hidden_value(&account.html, "csrf_token").unwrap();
    let shown = jar
        .post("/account/second-factor/totp", &[("csrf_token", &csrf)])
        .await;
    let key = between(&shown.html, "<code id=\"totp-secret\">", "</code>");
    let code = totp_code(&key, app.clock.now());
    let csrf = hidden_value(&shown.html, "csrf_token").unwrap();
    let confirmed = jar
        .post(
            "/account/second-factor/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.html);

    // The signed-in browser gets a code at once; its ID token tells how
    // the person signed in.
    let request = AuthRequest::for_client(&client).with("scope", "openid");
    let redirect = jar
        .get(&format!("/oauth/authorize?{}", request.query()))
        .await;
    assert_eq!(redirect.status, 303, "{}", redirect.html);
    let authorization = redirect.redirect_params()["code"].clone();
    let tokens = exchange_code(&app, &client, &request, &authorization).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let id_token = tokens.body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
}
