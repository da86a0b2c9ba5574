//! Admin requests per API key per minute, with RateLimit headers.

use crate::helpers::*;
use enlist::domain::Scope;
use std::time::Duration;

#[tokio::test]
async fn every_admin_answer_carries_the_policy_and_what_is_left() {
    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let first = app.get("/v1/organization", &org.key).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"default\";q=600;w=60")
    );
    let current = first.header("ratelimit").unwrap();
    assert!(current.starts_with("\"default\";r=599;t="), "{current}");
    let t: i64 = current.rsplit("t=").next().unwrap().parse().unwrap();
    assert!((1..=60).contains(&t), "{current}");
    // Refusals count and carry the headers too.
    let reply = app
        .get("/v1/organization/invitations?limit=0", &org.key)
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .header("ratelimit")
            .unwrap()
            .starts_with("\"default\";r=598;"),
        "{:?}",
        reply.headers
    );
}

#[tokio::test]
async fn over_the_limit_answers_429_until_the_window_ends() {
    let app = spawn_app_with(|s| s.limits.admin_per_minute = 3).await;
    let org = app.create_org("acme", "admin@acme.test");
    let other = app.api_key(org.id, org.admin_id, &Scope::ALL);
    for left in [2, 1, 0] {
        let reply = app.get("/v1/organization", &org.key).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .header("ratelimit")
                .unwrap()
                .starts_with(&format!("\"default\";r={left};")),
            "{:?}",
            reply.headers
        );
    }
    let refused = app.invite(&org.key, "bob@example.test", "MEMBER").await;
    refused.assert_problem(429, "rate_limited");
    let wait: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert!(
        refused
            .header("ratelimit")
            .unwrap()
            .starts_with("\"default\";r=0;")
    );
    // Nothing was done, and another key has its own quota.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    assert_eq!(app.get("/v1/organization", &other).await.status, 200);
    // The next window.
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
}

#[tokio::test]
async fn zero_turns_the_limit_and_its_headers_off() {
    let app = spawn_app_with(|s| s.limits.admin_per_minute = 0).await;
    let org = app.create_org("acme", "admin@acme.test");
    let reply = app.get("/v1/organization", &org.key).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("ratelimit").is_none());
    assert!(reply.header("ratelimit-policy").is_none());
}
