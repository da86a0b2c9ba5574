//! Only the inbox proves the inbox: an invitation's uuid is known to the
//! inviting organization (its admin API, events and webhooks carry it), so
//! a visit with the bare uuid proves nothing. Only the secret each message
//! carries (`/invite/{uuid}?token=…`) does.
//!
//! The first test is the attack from the review, step by step, with two
//! organizations on one server; the others are the legitimate paths.

use crate::helpers::*;
use crate::oauth_helpers::{AuthRequest, Intent, authorize};
use crate::page_helpers::*;
use serde_json::json;

const NEWHIRE: &str = "newhire@corp.test";
const ATTACKER_PASSWORD: &str = "attacker's own password";
const OWNER_PASSWORD: &str = "the new hire's password";

fn verified(app: &TestApp, email: &str) -> bool {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM users WHERE email_key = '{email}' AND email_verified_at IS NOT NULL"
    )) == 1
}

fn password_hash(app: &TestApp, email: &str) -> String {
    app.query_strings(&format!(
        "SELECT password_hash FROM users WHERE email_key = '{email}'"
    ))
    .pop()
    .unwrap_or_default()
}

/// The secret of a mailed invitation link.
fn secret_of(link: &str) -> String {
    link.split_once("?token=")
        .map(|(_, token)| token.to_owned())
        .unwrap_or_else(|| panic!("no secret in {link}"))
}

fn is_check_inbox(page: &Page) -> bool {
    page.status == 200
        && page.text.contains("Check your inbox")
        && page.set_cookie("enlist_session").is_none()
}

#[tokio::test]
async fn another_organizations_admin_cannot_prove_an_inbox_with_an_invitation_uuid() {
    let app = spawn_app().await;
    let attacker_org = app.create_org("Attacker", "eve@attacker.test");
    let victim_org = app.create_org("VictimCorp", "boss@corp.test");
    let (b_invitation, b_uuid) = app
        .invite_with_uuid(&victim_org.key, NEWHIRE, "ADMIN")
        .await;
    let domain_link = app
        .post(
            "/v1/organization/join-links",
            &victim_org.key,
            &json!({"role": "MEMBER", "maxUses": 5, "expiresIn": "1d", "allowedEmailDomains": ["corp.test"]}),
        )
        .await;
    assert_eq!(domain_link.status, 200, "{}", domain_link.text);
    let join_path = domain_link.body["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.address)
        .unwrap()
        .to_owned();

    // Step 1: the attacker invites the same address and reads the uuid the
    // admin API answers (it is in events and webhook payloads too).
    let a_invitation = app.invite_ok(&attacker_org.key, NEWHIRE, "MEMBER").await;
    let shown = app
        .get(
            &format!("/v1/organization/invitations/{a_invitation}"),
            &attacker_org.key,
        )
        .await;
    let a_uuid = shown.body["uuid"].as_str().unwrap().to_owned();
    // The admin API never shows the message's secret.
    let mailed = app.invitation_link_path(a_invitation);
    assert!(!shown.text.contains(&secret_of(&mailed)), "{}", shown.text);
    let events = app
        .get("/v1/organization/events?limit=100", &attacker_org.key)
        .await;
    assert!(
        !events.text.contains(&secret_of(&mailed)),
        "{}",
        events.text
    );

    // Step 2: the bare page shows the invitation, and signing up there as
    // the invitee makes no verified account and signs nobody in.
    let attacker = Browser::new(&app);
    let bare = format!("/invite/{a_uuid}");
    attacker.get(&bare).await.assert_html(200);
    let signed_up = attacker.sign_up(&bare, NEWHIRE, ATTACKER_PASSWORD).await;
    assert!(is_check_inbox(&signed_up), "{}", signed_up.text);
    assert!(!verified(&app, NEWHIRE));
    assert_eq!(
        crate::account_helpers::messages(&app, "verification", NEWHIRE),
        1,
        "the ordinary verification message went to the inbox"
    );
    app.revoke(&attacker_org.key, a_invitation).await;

    // Step 3: signing in with that account proves nothing either: not on
    // B's invitation page, not at an app's authorize page, not in B's console.
    let b_page = format!("/invite/{b_uuid}");
    let on_b = attacker.sign_in(&b_page, NEWHIRE, ATTACKER_PASSWORD).await;
    assert!(is_check_inbox(&on_b), "{}", on_b.text);
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let authorized = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: NEWHIRE,
            password: ATTACKER_PASSWORD,
        },
    )
    .await;
    assert_eq!(authorized.status, 200, "{}", authorized.html);
    assert!(authorized.html.contains("Check your inbox"));
    assert!(authorized.header("location").is_none(), "no code");
    let console = attacker.sign_in("/admin", NEWHIRE, ATTACKER_PASSWORD).await;
    assert!(is_check_inbox(&console), "{}", console.text);

    // Step 4: a session the account can get (a join page signs in an
    // unproven address) cannot join B's domain-restricted link.
    attacker
        .sign_in(&join_path, NEWHIRE, ATTACKER_PASSWORD)
        .await
        .assert_see_other(&join_path);
    let join_form = attacker.get(&join_path).await;
    let joined = attacker
        .post_form(
            &format!("{join_path}/accept"),
            &[("csrf_token", &join_form.csrf_token())],
        )
        .await;
    joined.assert_html(403);
    // Nor answer B's invitation on its bare page.
    let answered = attacker.respond(&b_page, "accept").await;
    answered.assert_html(403);
    assert!(
        answered.text.contains("Open the invitation link from"),
        "{}",
        answered.text
    );

    // Nothing of B changed: one member (its admin), the invitation pending.
    assert_eq!(app.admin_members(&victim_org.key).await.len(), 1);
    assert_eq!(app.stored_status(b_invitation), "PENDING");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE u.email_key = '{NEWHIRE}'"
        )),
        0
    );

    // The real new hire follows B's mailed link, chooses a password, and
    // the account is theirs: the attacker's password and session are gone.
    let owner = Browser::new(&app);
    let b_link = app.invitation_link_path(b_invitation);
    owner
        .sign_up(&b_link, NEWHIRE, OWNER_PASSWORD)
        .await
        .assert_see_other(&b_link);
    assert!(verified(&app, NEWHIRE));
    assert!(
        !attacker.get(&join_path).await.text.contains("Signed in as"),
        "the attacker's session ended"
    );
    Browser::new(&app)
        .sign_in(&b_page, NEWHIRE, ATTACKER_PASSWORD)
        .await
        .assert_html(401);
    owner.respond(&b_link, "accept").await.assert_html(200);
    let members = app.admin_members(&victim_org.key).await;
    assert!(
        members
            .iter()
            .any(|m| m["email"] == NEWHIRE && m["role"] == "ADMIN"),
        "{members:?}"
    );
}

#[tokio::test]
async fn the_bare_uuid_cannot_take_over_an_unverified_account_or_change_a_verified_one() {
    let app = spawn_app().await;
    let attacker_org = app.create_org("Attacker", "eve@attacker.test");
    // Someone signed up for the address and has not confirmed it yet.
    app.create_unverified_user("pending@corp.test", Some(OWNER_PASSWORD));
    let unverified_hash = password_hash(&app, "pending@corp.test");
    app.create_user("known@corp.test", Some(OWNER_PASSWORD));
    let verified_hash = password_hash(&app, "known@corp.test");

    for email in ["pending@corp.test", "known@corp.test"] {
        let (_, uuid) = app
            .invite_with_uuid(&attacker_org.key, email, "MEMBER")
            .await;
        let attacker = Browser::new(&app);
        let page = format!("/invite/{uuid}");
        let answer = attacker.sign_up(&page, email, ATTACKER_PASSWORD).await;
        assert!(is_check_inbox(&answer), "{email}: {}", answer.text);
        // A wrong secret is no better than none.
        let wrong = format!("{page}?token={}", "x".repeat(43));
        let shown = attacker.get(&wrong).await;
        shown.assert_html(200);
        assert!(
            shown.text.contains("open the link from your email"),
            "{}",
            shown.text
        );
        let answer = attacker.sign_up(&wrong, email, ATTACKER_PASSWORD).await;
        assert!(is_check_inbox(&answer), "{email}: {}", answer.text);
    }

    assert_eq!(password_hash(&app, "pending@corp.test"), unverified_hash);
    assert!(!verified(&app, "pending@corp.test"));
    assert_eq!(password_hash(&app, "known@corp.test"), verified_hash);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);
}

#[tokio::test]
async fn a_verified_invitation_link_never_replaces_a_verified_accounts_password() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.create_user("bob@example.com", Some(OWNER_PASSWORD));
    let hash = password_hash(&app, "bob@example.com");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let link = app.invitation_link_path(id);

    let someone = Browser::new(&app);
    let answer = someone
        .sign_up(&link, "bob@example.com", ATTACKER_PASSWORD)
        .await;
    assert!(is_check_inbox(&answer), "{}", answer.text);
    assert_eq!(password_hash(&app, "bob@example.com"), hash);
    assert_eq!(
        crate::account_helpers::messages(&app, "sign_up_attempt", "bob@example.com"),
        1,
        "the owner is told instead"
    );
}

#[tokio::test]
async fn the_mailed_link_signs_the_invitee_up_verified_and_a_resends_link_works_too() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let first = app.invitation_link_path(id);
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(app.resend(&org.key, id).await.status, 200);
    let second = app.invitation_link_path(id);
    assert_ne!(first, second, "a resend mints a new secret");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitation_links WHERE invitation_id = {id}"
        )),
        2
    );

    // The older link still proves the inbox until the invitation is answered.
    let page = Browser::new(&app).get(&first).await;
    page.assert_html(200);
    assert!(!page.text.contains("link-notice"), "{}", page.text);

    let bob = Browser::new(&app);
    bob.sign_up(&second, "bob@example.com", OWNER_PASSWORD)
        .await
        .assert_see_other(&second);
    assert!(verified(&app, "bob@example.com"));
    assert_eq!(
        crate::account_helpers::messages(&app, "verification", "bob@example.com"),
        0
    );
    bob.respond(&second, "accept").await.assert_html(200);
    assert_eq!(app.stored_status(id), "ACCEPTED");
    // Answered, its links open the closed page: they prove nothing any more.
    Browser::new(&app).get(&first).await.assert_html(409);
}

#[tokio::test]
async fn an_unverified_invitee_signed_in_accepts_only_through_the_mailed_link() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let user = app.create_unverified_user("carol@example.com", Some(OWNER_PASSWORD));
    let id = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let session = app.session_for(
        user,
        enlist::domain::AuthMethod::EmailCode,
        std::time::Duration::from_secs(3600),
    );
    let carol = Browser::with_session(&app, &session);

    let bare = format!("/invite/{}", app.invitation_uuid(id));
    let refused = carol.respond(&bare, "accept").await;
    refused.assert_html(403);
    assert!(
        refused
            .text
            .contains("Open the invitation link from your email"),
        "{}",
        refused.text
    );
    assert_eq!(app.stored_status(id), "PENDING");
    assert!(!verified(&app, "carol@example.com"));

    let link = app.invitation_link_path(id);
    carol.respond(&link, "accept").await.assert_html(200);
    assert_eq!(app.stored_status(id), "ACCEPTED");
    assert!(verified(&app, "carol@example.com"));
}

#[tokio::test]
async fn the_owner_taking_an_unverified_account_back_ends_every_key_and_client_it_held() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    // Whoever registered the address first was made an admin by hand, and
    // holds an operator's key and a bound client.
    let squatter = app.create_unverified_user("bob@example.com", Some(ATTACKER_PASSWORD));
    app.add_member(org.id, "bob@example.com", "ADMIN");
    let key = app.api_key(org.id, squatter, &enlist::domain::Scope::ALL);
    app.bound_client("bob@example.com");
    assert_eq!(app.get("/v1/organization", &key).await.status, 200);
    let other = app.create_org("Globex", "gil@globex.test");
    let id = app.invite_ok(&other.key, "bob@example.com", "MEMBER").await;

    // The inbox's owner signs up from the mailed link.
    let owner = Browser::new(&app);
    let link = app.invitation_link_path(id);
    owner
        .sign_up(&link, "bob@example.com", OWNER_PASSWORD)
        .await
        .assert_see_other(&link);

    assert_eq!(app.get("/v1/organization", &key).await.status, 401);
    assert_eq!(
        app.query_strings(&format!(
            "SELECT revoked_reason FROM api_keys WHERE user_id = {squatter}"
        )),
        ["account_claimed"]
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM oauth_clients WHERE user_id = {squatter}"
        )),
        0
    );
    assert!(verified(&app, "bob@example.com"));
}
