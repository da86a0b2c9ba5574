//! Throttling that cannot lock people out: a hard block only per (account,
//! client), a slow-down per account, a remembered browser always let in,
//! forwarded addresses only from trusted proxies, sign-ups limited per
//! address before any hashing, and a per-address share of the password queue.

use crate::account_helpers::{Jar, password_work, set_cookie};
use crate::helpers::{TestApp, spawn_app_with};
use crate::oauth_helpers::PASSWORD;
use enlist::config::{HumanDuration, Settings};
use std::time::Duration;

/// Behind a proxy at 127.0.0.1 that the server trusts, with a short slow-down.
fn behind_a_proxy(settings: &mut Settings) {
    settings.server.trusted_proxies = vec!["127.0.0.1".into()];
    settings.auth.sign_in_slowdown_max = HumanDuration(Duration::from_millis(50));
}

async fn invitation_page(app: &TestApp, email: &str) -> String {
    let org = app.create_org("Acme", &format!("admin.{email}"));
    let id = app.invite_ok(&org.key, email, "MEMBER").await;
    format!("/invite/{}", app.invitation_uuid(id))
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out() {
    let app = spawn_app_with(behind_a_proxy).await;
    app.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&app, "ada@example.test").await;
    let mut attacker = Jar::forwarded_for(&app, "203.0.113.66");

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            attacker
                .sign_in(&page, "ada@example.test", "guess!guess")
                .await
                .status,
        );
    }
    let with_the_right_password = attacker.sign_in(&page, "ada@example.test", PASSWORD).await;
    let mut owner = Jar::forwarded_for(&app, "198.51.100.7");
    let owner_signs_in = owner.sign_in(&page, "ada@example.test", PASSWORD).await;

    assert_eq!(&statuses[..5], [401; 5]);
    assert_eq!(&statuses[5..], [429; 3], "the attacking pair is refused");
    assert_eq!(
        with_the_right_password.status, 429,
        "even with the password, from there"
    );
    assert!(with_the_right_password.headers.get("retry-after").is_some());
    assert_eq!(owner_signs_in.status, 303, "{}", owner_signs_in.html);
    assert!(set_cookie(&owner_signs_in, "enlist_session").is_some());
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_never_refused() {
    let app = spawn_app_with(behind_a_proxy).await;
    app.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&app, "ada@example.test").await;
    // Ada signed in from the café's address once; her browser remembers it.
    let mut ada = Jar::forwarded_for(&app, "192.0.2.10");
    let first = ada.sign_in(&page, "ada@example.test", PASSWORD).await;
    assert_eq!(first.status, 303, "{}", first.html);
    assert!(set_cookie(&first, "enlist_device").is_some());
    ada.cookies.remove("enlist_session");

    // Someone at the same café guesses until that address is refused.
    let mut stranger = Jar::forwarded_for(&app, "192.0.2.10");
    for _ in 0..6 {
        stranger
            .sign_in(&page, "ada@example.test", "not her password")
            .await;
    }
    let stranger_again = stranger.sign_in(&page, "ada@example.test", PASSWORD).await;
    let ada_again = ada.sign_in(&page, "ada@example.test", PASSWORD).await;

    assert_eq!(stranger_again.status, 429);
    assert_eq!(ada_again.status, 303, "{}", ada_again.html);
    // A forged or other account's device cookie counts for nothing.
    let mut forger = Jar::forwarded_for(&app, "192.0.2.10");
    forger
        .cookies
        .insert("enlist_device".into(), "forged.c2lnbmF0dXJl".into());
    assert_eq!(
        forger
            .sign_in(&page, "ada@example.test", PASSWORD)
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn a_browser_remembered_for_an_old_password_is_a_stranger_after_a_new_one() {
    let app = spawn_app_with(behind_a_proxy).await;
    app.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&app, "ada@example.test").await;
    // Someone who knew the old password signed in once and keeps the cookie.
    let mut former = Jar::forwarded_for(&app, "192.0.2.10");
    let first = former.sign_in(&page, "ada@example.test", PASSWORD).await;
    assert_eq!(first.status, 303, "{}", first.html);
    assert!(set_cookie(&first, "enlist_device").is_some());
    former.cookies.remove("enlist_session");

    // The owner sets a new password (a reset, a claim, `set-password`).
    app.set_password("ada@example.test", "the owner's new password");
    let mut neighbour = Jar::forwarded_for(&app, "192.0.2.10");
    for _ in 0..6 {
        neighbour
            .sign_in(&page, "ada@example.test", "not her password")
            .await;
    }

    // The old cookie no longer sets that browser apart: refused like the address.
    let guessed = former
        .sign_in(&page, "ada@example.test", "another guess")
        .await;
    assert_eq!(guessed.status, 429, "{}", guessed.html);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // No trusted proxy: the header is whatever a client wrote, so every
    // request counts against the peer (127.0.0.1), header or not.
    let untrusting = spawn_app_with(|s| {
        s.auth.sign_in_failures_per_account_and_client = 2;
    })
    .await;
    untrusting.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&untrusting, "ada@example.test").await;
    for address in ["203.0.113.1", "203.0.113.2"] {
        Jar::forwarded_for(&untrusting, address)
            .sign_in(&page, "ada@example.test", "wrong password")
            .await;
    }
    let spoofed = Jar::forwarded_for(&untrusting, "203.0.113.3")
        .sign_in(&page, "ada@example.test", PASSWORD)
        .await;
    assert_eq!(spoofed.status, 429, "a spoofed header changes nothing");

    // Trusted: X-Forwarded-For (the default `server.client_address_header`)
    // names the client.
    let trusting = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.sign_in_failures_per_account_and_client = 2;
    })
    .await;
    trusting.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&trusting, "ada@example.test").await;
    let mut blocked = Jar::forwarded_for(&trusting, "198.51.100.1");
    blocked
        .sign_in(&page, "ada@example.test", "wrong password")
        .await;
    blocked
        .sign_in(&page, "ada@example.test", "wrong password")
        .await;
    assert_eq!(
        blocked
            .sign_in(&page, "ada@example.test", PASSWORD)
            .await
            .status,
        429
    );
    let elsewhere = Jar::forwarded_for(&trusting, "198.51.100.2")
        .sign_in(&page, "ada@example.test", PASSWORD)
        .await;
    assert_eq!(elsewhere.status, 303, "{}", elsewhere.html);
    // What the client put left of the proxy's entry does not count.
    let mut chained = Jar::forwarded_for(&trusting, "6.6.6.6, 198.51.100.1");
    assert_eq!(
        chained
            .sign_in(&page, "ada@example.test", PASSWORD)
            .await
            .status,
        429,
        "the proxy saw 198.51.100.1"
    );
}

#[tokio::test]
async fn sign_ups_are_limited_per_address_before_any_hashing() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.sign_ups_per_address = 3;
    })
    .await;
    let page = invitation_page(&app, "someone@example.test").await;
    let sign_up = |jar: Jar, email: String| {
        let page = page.clone();
        async move {
            let mut jar = jar;
            let shown = jar.get(&page).await;
            let csrf = crate::account_helpers::hidden_value(&shown.html, "csrf_token").unwrap();
            jar.post(
                &page,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("intent", "signup"),
                    ("email", email.as_str()),
                    ("password", PASSWORD),
                ],
            )
            .await
        }
    };

    for n in 0..3 {
        let page = sign_up(
            Jar::forwarded_for(&app, "203.0.113.5"),
            format!("bot{n}@example.test"),
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.html);
    }
    let work = password_work(&app).await;
    let refused = sign_up(
        Jar::forwarded_for(&app, "203.0.113.5"),
        "bot9@example.test".into(),
    )
    .await;
    let other = sign_up(
        Jar::forwarded_for(&app, "203.0.113.6"),
        "person@example.test".into(),
    )
    .await;

    assert_eq!(refused.status, 429, "{}", refused.html);
    assert!(
        refused.html.contains("Too many accounts"),
        "{}",
        refused.html
    );
    assert!(refused.headers.get("retry-after").is_some());
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email_key = 'bot9@example.test'"),
        0
    );
    assert_eq!(other.status, 200);
    assert_eq!(
        password_work(&app).await - work,
        1,
        "only the other address hashed"
    );
}

#[tokio::test]
async fn one_address_cannot_take_the_whole_password_queue() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.password_jobs_per_address = 2;
        s.auth.sign_in_failures_per_address = 10_000;
    })
    .await;
    app.create_user("ada@example.test", Some(PASSWORD));
    let page = invitation_page(&app, "ada@example.test").await;

    // A burst of sign-ins for made-up accounts from one address...
    let mut burst = Vec::new();
    for n in 0..24 {
        let page = page.clone();
        let mut jar = Jar::forwarded_for(&app, "203.0.113.77");
        burst.push(tokio::spawn(async move {
            jar.sign_in(&page, &format!("nobody{n}@example.test"), "whatever1")
                .await
                .status
        }));
    }
    // ...while Ada signs in from elsewhere.
    let ada = Jar::forwarded_for(&app, "198.51.100.9")
        .sign_in(&page, "ada@example.test", PASSWORD)
        .await;
    let mut statuses = Vec::new();
    for task in burst {
        statuses.push(task.await.unwrap().as_u16());
    }

    assert_eq!(ada.status, 303, "{}", ada.html);
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "past its share the address is told to wait: {statuses:?}"
    );
}
