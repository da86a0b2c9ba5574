//! Invitation messages are capped per (organization, address) and per
//! organization, across creates and resends, so revoking and inviting again
//! cannot be used to flood someone's mailbox.

use crate::helpers::*;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn outbox_total(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM outbox")
}

fn invitations_total(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM invitations")
}

#[tokio::test]
async fn revoking_and_inviting_again_cannot_pass_the_per_address_cap() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for _ in 0..2 {
        let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
        assert_eq!(app.revoke(&org.key, id).await.status, 200);
        app.clock.advance(Duration::from_secs(60));
    }
    let third = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, third).await.status, 200);
    let (outbox, invitations) = (outbox_total(&app), invitations_total(&app));
    assert_eq!(outbox, 3);

    // The fourth message within 24 hours: refused, nothing created or queued.
    let fourth = app.invite(&org.key, "BOB@example.com", "MEMBER").await;
    fourth.assert_problem(429, "too_many_requests");
    let wait: u64 = fourth.header("retry-after").unwrap().parse().unwrap();
    // The oldest message was queued two minutes ago: it leaves the window
    // in 24 hours less those two minutes.
    let expected = DAY.as_secs() - 120;
    assert!(
        (expected - 5..=expected).contains(&wait),
        "Retry-After {wait}, expected about {expected}"
    );
    assert_eq!(outbox_total(&app), outbox);
    assert_eq!(invitations_total(&app), invitations);
    // Another address is not affected.
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;

    // Once the oldest message has left the window, one more may go.
    app.clock.advance(Duration::from_secs(wait));
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.outbox_count_for(id), 1);
    // And the day after, the address is fresh again.
    app.clock.advance(DAY);
    assert_eq!(app.resend(&org.key, id).await.status, 200);
}

#[tokio::test]
async fn resends_count_towards_the_per_address_cap() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.resend(&org.key, id).await.status, 200);
    }
    app.clock.advance(Duration::from_secs(61));
    let expires = app.query_i64(&format!(
        "SELECT expires_at FROM invitations WHERE id = {id}"
    ));

    let refused = app.resend(&org.key, id).await;

    refused.assert_problem(429, "too_many_requests");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(app.outbox_count_for(id), 3);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT expires_at FROM invitations WHERE id = {id}"
        )),
        expires,
        "the refused resend renewed nothing"
    );
}

#[tokio::test]
async fn an_organization_has_an_hourly_cap_across_addresses() {
    let app = spawn_app_with(|s| s.invitations.messages_per_org_per_hour = 2).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Globex", "gil@globex.test");
    app.invite_ok(&org.key, "a@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(600));
    app.invite_ok(&org.key, "b@example.com", "MEMBER").await;
    let outbox = outbox_total(&app);

    let refused = app.invite(&org.key, "c@example.com", "MEMBER").await;

    refused.assert_problem(429, "too_many_requests");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((3000 - 5..=3000).contains(&wait), "Retry-After {wait}");
    assert_eq!(outbox_total(&app), outbox);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM invitations WHERE invitee_email = 'c@example.com'"),
        0
    );
    // Other organizations have their own cap.
    app.invite_ok(&other.key, "c@example.com", "MEMBER").await;
    // An hour after the first message, there is room for one more.
    app.clock.advance(Duration::from_secs(wait));
    app.invite_ok(&org.key, "c@example.com", "MEMBER").await;
}

#[tokio::test]
async fn the_caps_count_through_indexes() {
    if crate::test_postgres::skip_sqlite_only("EXPLAIN QUERY PLAN") {
        return;
    }
    let app = spawn_app().await;
    let conn = app.raw_connection();
    for sql in [
        "SELECT created_at FROM outbox WHERE org_id = 1 AND recipient_key = 'a' \
         AND created_at > 0 ORDER BY created_at DESC LIMIT 1 OFFSET 2",
        "SELECT created_at FROM outbox WHERE org_id = 1 AND created_at > 0 \
         ORDER BY created_at DESC LIMIT 1 OFFSET 2",
    ] {
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(plan.contains("USING COVERING INDEX outbox_org"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
