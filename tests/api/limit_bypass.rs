//! The limits that a proxy header or a spelling cannot bypass: the client
//! address comes from the one header the operator chose, and only from a
//! trusted proxy; per-account limits count by the key the account lookup
//! uses, whatever the spelling; the admin API's per-key limit counts a
//! request against a key only once the key authenticated.

use crate::account_helpers::{Jar, hidden_value, messages};
use crate::helpers::{Reply, TestApp, reply, spawn_app_with};
use crate::oauth_helpers::{PASSWORD, Page};
use enlist::config::{ClientAddressHeader, Settings};
use enlist::domain::Scope;
use std::time::Duration;

/// Behind a proxy at 127.0.0.1 that the server trusts.
fn behind_a_proxy(settings: &mut Settings) {
    settings.server.trusted_proxies = vec!["127.0.0.1".into()];
}

/// An invitation page (it carries the sign-in and sign-up forms).
async fn sign_in_page(app: &TestApp) -> String {
    let org = app.create_org("Acme", "admin@acme.test");
    let id = app
        .invite_ok(&org.key, "invitee@example.test", "MEMBER")
        .await;
    format!("/invite/{}", app.invitation_uuid(id))
}

/// A browser whose proxy sends `proxy_header` (what the proxy saw) and
/// which adds its own `spoofed_header` with a different value each time.
fn client(app: &TestApp, proxy_header: (&str, &str), spoofed_header: (&str, String)) -> Jar {
    let mut jar = Jar::new(app);
    jar.headers
        .push((spoofed_header.0.into(), spoofed_header.1));
    jar.headers
        .push((proxy_header.0.into(), proxy_header.1.into()));
    jar
}

async fn sign_up(jar: &mut Jar, page: &str, email: &str) -> Page {
    let shown = jar.get(page).await;
    let csrf = hidden_value(&shown.html, "csrf_token").expect("a sign-up form");
    jar.post(
        page,
        &[
            ("csrf_token", csrf.as_str()),
            ("intent", "signup"),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await
}

/// Failed sign-ins for made-up accounts (spraying) from clients built by
/// `jar_for(n)`: the statuses, in order.
async fn spray(page: &str, jar_for: impl Fn(usize) -> Jar) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..4 {
        let mut jar = jar_for(n);
        let page = jar
            .sign_in(page, &format!("nobody{n}@example.test"), "wrong password")
            .await;
        statuses.push(page.status.as_u16());
    }
    statuses
}

/// Two sign-ups from clients built by `jar_for` go through; the third,
/// refused as one address's, is answered.
async fn third_sign_up(page: &str, jar_for: impl Fn(usize) -> Jar) -> Page {
    for n in 0..2 {
        let shown = sign_up(&mut jar_for(10 + n), page, &format!("bot{n}@example.test")).await;
        assert_eq!(shown.status, 200, "{}", shown.html);
    }
    let third = sign_up(&mut jar_for(12), page, "bot2@example.test").await;
    assert_eq!(third.status, 429, "{}", third.html);
    third
}

#[tokio::test]
async fn behind_an_x_forwarded_for_proxy_a_clients_own_forwarded_header_is_ignored() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.sign_in_failures_per_address = 3;
        s.auth.sign_ups_per_address = 2;
    })
    .await;
    assert_eq!(
        app.settings.server.client_address_header,
        ClientAddressHeader::XForwardedFor,
        "the default"
    );
    let page = sign_in_page(&app).await;
    let attacker = |n: usize| {
        client(
            &app,
            ("X-Forwarded-For", "203.0.113.66"),
            ("Forwarded", format!("for=198.51.100.{n}")),
        )
    };

    // Sign-in failures per address: the fourth is refused, whatever
    // `Forwarded` says.
    let statuses = spray(&page, attacker).await;
    assert_eq!(statuses, [401, 401, 401, 429]);
    let refused = attacker(9)
        .sign_in(&page, "nobody9@example.test", "wrong password")
        .await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.html.contains("Too many failed sign-ins"),
        "{}",
        refused.html
    );
    // The address the proxy names is what counts: another one is not refused.
    let elsewhere = client(
        &app,
        ("X-Forwarded-For", "203.0.113.67"),
        ("Forwarded", "for=198.51.100.1".into()),
    )
    .sign_in(&page, "nobody9@example.test", "wrong password")
    .await;
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.html);

    // Sign-ups per address: the third is refused and creates nothing.
    let third = third_sign_up(&page, attacker).await;
    assert!(third.html.contains("Too many accounts"), "{}", third.html);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email_key = 'bot2@example.test'"),
        0
    );
}

#[tokio::test]
async fn behind_a_forwarded_proxy_a_clients_own_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.server.client_address_header = ClientAddressHeader::Forwarded;
        s.auth.sign_in_failures_per_address = 3;
        s.auth.sign_ups_per_address = 2;
    })
    .await;
    let page = sign_in_page(&app).await;
    let attacker = |n: usize| {
        client(
            &app,
            ("Forwarded", "for=203.0.113.66;proto=https"),
            ("X-Forwarded-For", format!("198.51.100.{n}")),
        )
    };

    let statuses = spray(&page, attacker).await;
    assert_eq!(statuses, [401, 401, 401, 429]);
    let elsewhere = client(
        &app,
        ("Forwarded", "for=\"[2001:db8::7]:4711\""),
        ("X-Forwarded-For", "198.51.100.1".into()),
    )
    .sign_in(&page, "nobody9@example.test", "wrong password")
    .await;
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.html);

    third_sign_up(&page, attacker).await;
}

#[tokio::test]
async fn an_untrusted_peers_forwarding_headers_are_ignored() {
    // No trusted proxy: every request counts against the peer, 127.0.0.1.
    let app = spawn_app_with(|s| {
        s.server.client_address_header = ClientAddressHeader::Forwarded;
        s.auth.sign_in_failures_per_address = 3;
    })
    .await;
    let page = sign_in_page(&app).await;
    let statuses = spray(&page, |n| {
        let mut jar = Jar::new(&app);
        jar.headers
            .push(("Forwarded".into(), format!("for=198.51.100.{n}")));
        jar.headers
            .push(("X-Forwarded-For".into(), format!("203.0.113.{n}")));
        jar
    })
    .await;
    assert_eq!(statuses, [401, 401, 401, 429]);
}

/// Spellings of `ada@acme.test` that the account lookup resolves to her
/// account: case, and fullwidth letters in the domain (IDNA maps them).
const ADA_SPELLINGS: [&str; 4] = [
    "ADA@acme.test",
    "ada@\u{FF41}\u{FF43}\u{FF4D}\u{FF45}.test",
    "Ada@ACME.\u{FF34}\u{FF45}\u{FF53}\u{FF54}",
    "aDa@Acme.Test",
];

#[tokio::test]
async fn spellings_of_one_address_share_the_per_account_failure_block() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.sign_in_failures_per_account_and_client = 3;
        s.auth.sign_in_failures_per_address = 5;
    })
    .await;
    app.create_user("ada@acme.test", Some(PASSWORD));
    let page = sign_in_page(&app).await;
    let mut attacker = Jar::forwarded_for(&app, "203.0.113.66");

    // A spelling the parser refuses (a soft hyphen in the local part, or in
    // the domain) finds no account; it is refused at once and counts
    // nowhere, so rotating such variants earns no fresh limiter key.
    for spelling in [
        "a\u{AD}da@acme.test",
        "ad\u{AD}a@acme.test",
        "ada@ac\u{AD}me.test",
        "ada\u{AD}@acme.test",
    ] {
        let refused = attacker.sign_in(&page, spelling, PASSWORD).await;
        assert_eq!(refused.status, 401, "{spelling:?}: {}", refused.html);
        assert!(
            refused.html.contains("The email or password is incorrect."),
            "{}",
            refused.html
        );
    }
    // A fullwidth local part is another mailbox to the lookup (no account
    // here): even her password does not sign in there.
    let other_mailbox = attacker
        .sign_in(&page, "\u{FF41}\u{FF44}\u{FF41}@acme.test", PASSWORD)
        .await;
    assert_eq!(other_mailbox.status, 401, "{}", other_mailbox.html);

    // Three wrong passwords under three spellings: one account, one client.
    // (Four failures from this address so far: had the refused spellings
    // counted, the address would be refused already.)
    for spelling in &ADA_SPELLINGS[..3] {
        let failed = attacker.sign_in(&page, spelling, "guess!guess").await;
        assert_eq!(failed.status, 401, "{spelling:?}: {}", failed.html);
    }
    for spelling in ["ada@acme.test", ADA_SPELLINGS[3]] {
        let blocked = attacker.sign_in(&page, spelling, PASSWORD).await;
        assert_eq!(blocked.status, 429, "{spelling:?}: {}", blocked.html);
        assert!(
            blocked.html.contains("Too many failed sign-ins"),
            "{}",
            blocked.html
        );
        assert!(blocked.header("retry-after").is_some());
    }
    // Ada, from another client, is not refused.
    let ada = Jar::forwarded_for(&app, "198.51.100.7")
        .sign_in(&page, "Ada@Acme.test", PASSWORD)
        .await;
    assert_eq!(ada.status, 303, "{}", ada.html);
}

async fn ask_reset(browser: &mut Jar, email: &str) -> Page {
    let shown = browser.get("/reset").await;
    let csrf = hidden_value(&shown.html, "csrf_token").expect("a reset form");
    browser
        .post("/reset", &[("csrf_token", csrf.as_str()), ("email", email)])
        .await
}

#[tokio::test]
async fn spellings_of_one_address_share_the_reset_mail_cap() {
    let app = spawn_app_with(|s| s.auth.account_messages_per_email = 3).await;
    app.create_user("ada@acme.test", Some(PASSWORD));
    let mut browser = Jar::new(&app);
    let mut pages = Vec::new();
    for spelling in ADA_SPELLINGS {
        pages.push(ask_reset(&mut browser, spelling).await);
    }
    let refused = ask_reset(&mut browser, "a\u{AD}da@acme.test").await;

    for page in &pages {
        assert_eq!(page.status, 200, "{}", page.html);
    }
    assert_eq!(
        messages(&app, "password_reset", "ada@acme.test"),
        3,
        "four spellings, one address: the fourth message was not sent"
    );
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(
        refused.html.contains("Enter a valid email address."),
        "{}",
        refused.html
    );
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM outbox"),
        3,
        "the refused spelling queued nothing"
    );
}

/// `GET /v1/organization` with `key`, through the proxy, from `address`.
async fn admin_get(app: &TestApp, key: &str, address: &str) -> Reply {
    let response = app
        .client
        .get(format!("{}/v1/organization", app.address))
        .header("X-API-Key", key)
        .header("X-Forwarded-For", address)
        .send()
        .await
        .unwrap();
    reply(response).await
}

/// What `RateLimit` says is left in the bucket the request was counted in.
fn remaining(reply: &Reply) -> u32 {
    let current = reply.header("ratelimit").expect("a RateLimit header");
    current
        .split(';')
        .find_map(|part| part.strip_prefix("r="))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no r= in {current}"))
}

#[tokio::test]
async fn a_forged_key_with_a_real_public_id_cannot_use_up_its_owners_quota() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.limits.admin_per_minute = 3;
    })
    .await;
    let org = app.create_org("Acme", "admin@acme.test");
    let (owner, forger) = ("198.51.100.7", "203.0.113.66");
    let (public_id, secret) = org.key.rsplit_once('_').unwrap();
    let forged = |n: usize| format!("{public_id}_{n:0>width$}", width = secret.len());

    let first = admin_get(&app, &org.key, owner).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(remaining(&first), 2);

    // Wrong secrets under the owner's public id count against the forger's
    // address, which is refused past the same budget.
    for (n, left) in [2, 1, 0].into_iter().enumerate() {
        let refused = admin_get(&app, &forged(n), forger).await;
        refused.assert_problem(401, "invalid_api_key");
        assert_eq!(remaining(&refused), left, "{:?}", refused.headers);
    }
    for attempt in [forged(0), forged(7)] {
        let limited = admin_get(&app, &attempt, forger).await;
        limited.assert_problem(429, "rate_limited");
        let detail = limited.body["detail"].as_str().unwrap();
        assert!(detail.contains("client address"), "{detail}");
        let wait: i64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait));
        assert_eq!(
            limited.header("ratelimit-policy"),
            Some("\"default\";q=3;w=60")
        );
    }

    // The owner's quota is untouched, even from the forger's address: an
    // authenticated key counts only against itself.
    let from_the_forgers_address = admin_get(&app, &org.key, forger).await;
    assert_eq!(from_the_forgers_address.status, 200);
    assert_eq!(remaining(&from_the_forgers_address), 1);
    let again = admin_get(&app, &org.key, owner).await;
    assert_eq!(again.status, 200);
    assert_eq!(remaining(&again), 0);
    // Past its own budget the key is refused as before.
    let own_limit = admin_get(&app, &org.key, owner).await;
    own_limit.assert_problem(429, "rate_limited");
    let detail = own_limit.body["detail"].as_str().unwrap();
    assert!(detail.contains("this API key"), "{detail}");

    // The next window: both buckets are fresh.
    app.clock.advance(Duration::from_secs(60));
    admin_get(&app, &forged(1), forger)
        .await
        .assert_problem(401, "invalid_api_key");
    assert_eq!(admin_get(&app, &org.key, owner).await.status, 200);
}

#[tokio::test]
async fn a_key_refused_after_it_authenticated_counts_against_the_address() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.limits.admin_per_minute = 3;
    })
    .await;
    let org = app.create_org("Acme", "admin@acme.test");
    let second = app.api_key(org.id, org.admin_id, &Scope::ALL);
    let address = "198.51.100.7";
    let used = admin_get(&app, &second, address).await;
    assert_eq!((used.status.as_u16(), remaining(&used)), (200, 2));
    let other = admin_get(&app, &org.key, "192.0.2.1").await;
    assert_eq!((other.status.as_u16(), remaining(&other)), (200, 2));

    let (public_id, _) = second.rsplit_once('_').unwrap();
    let public_id = public_id.strip_prefix("enl_").unwrap();
    app.execute_sql(&format!(
        "UPDATE api_keys SET revoked_at = 1 WHERE public_id = '{public_id}'"
    ));
    // Revoked: refused, and counted against the address (its bucket was
    // empty), not the key; it stays there while the key is refused.
    for left in [2, 1, 0] {
        let refused = admin_get(&app, &second, address).await;
        refused.assert_problem(401, "invalid_api_key");
        assert_eq!(remaining(&refused), left);
    }
    admin_get(&app, &second, address)
        .await
        .assert_problem(429, "rate_limited");
    // The organization's other key, known to be valid, is not held back by
    // that address's bucket.
    let other = admin_get(&app, &org.key, address).await;
    assert_eq!((other.status.as_u16(), remaining(&other)), (200, 1));
}

#[tokio::test]
async fn an_ipv6_client_rotating_addresses_in_its_64_counts_as_one() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.auth.sign_in_failures_per_address = 3;
    })
    .await;
    let page = sign_in_page(&app).await;
    // The proxy names a fresh address of one /64 each time.
    let rotating = |n: usize| {
        let mut jar = Jar::new(&app);
        jar.headers.push((
            "X-Forwarded-For".into(),
            format!("2001:db8:0:7::{:x}", n + 1),
        ));
        jar
    };

    assert_eq!(spray(&page, rotating).await, [401, 401, 401, 429]);
    // Another /64 is another client.
    let mut neighbour = Jar::new(&app);
    neighbour
        .headers
        .push(("X-Forwarded-For".into(), "2001:db8:0:8::1".into()));
    let elsewhere = neighbour
        .sign_in(&page, "nobody9@example.test", "wrong password")
        .await;
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.html);
}
