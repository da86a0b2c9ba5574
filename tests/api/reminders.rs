//! Expiry reminders: one message, `invitations.reminder_before` ahead of
//! expiry, through the outbox; none once the invitation moved on.

use crate::helpers::*;
use enlist::config::HumanDuration;
use serde_json::json;
use std::time::Duration;

const DAY: u64 = 24 * 3600;

/// Reminders a day ahead; no worker loop runs, the tests sweep themselves.
async fn spawn_reminding_app() -> TestApp {
    spawn_app_without_loops(|settings| {
        settings.invitations.reminder_before = Some(HumanDuration(Duration::from_secs(DAY)));
    })
    .await
}

fn reminders_for(app: &TestApp, invitation: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM outbox WHERE invitation_id = {invitation} AND kind = 'reminder'"
    ))
}

#[tokio::test]
async fn a_pending_invitation_gets_one_reminder_a_day_before_it_expires() {
    let app = spawn_reminding_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(5 * DAY));
    assert_eq!(app.sweep_once().await.reminders_queued, 0, "not due yet");
    assert_eq!(reminders_for(&app, bob), 0);

    app.clock.advance(Duration::from_secs(DAY + 3600));
    assert_eq!(app.sweep_once().await.reminders_queued, 1);
    assert_eq!(app.sweep_once().await.reminders_queued, 0, "once");
    assert_eq!(reminders_for(&app, bob), 1);
    let subject = app.query_strings(&format!(
        "SELECT subject FROM outbox WHERE invitation_id = {bob} AND kind = 'reminder'"
    ));
    assert_eq!(subject, ["Reminder: your invitation to Acme expires soon"]);
    // The reminder carries the page with a secret of its own.
    let reminder = app.mailed_link(
        &format!("invitation_id = {bob} AND kind = 'reminder'"),
        "the reminder",
    );
    let invitation = app.mailed_link(
        &format!("invitation_id = {bob} AND kind = 'invitation'"),
        "the invitation",
    );
    let page = format!("/invite/{}?token=", app.invitation_uuid(bob));
    assert!(reminder.contains(&page), "{reminder}");
    assert!(invitation.contains(&page), "{invitation}");
    assert_ne!(reminder, invitation, "one secret per message");

    // A resend arms it again, for the new expiry.
    assert_eq!(app.resend(&org.key, bob).await.status, 200);
    app.clock.advance(Duration::from_secs(6 * DAY + 3600));
    assert_eq!(app.sweep_once().await.reminders_queued, 1);
    assert_eq!(reminders_for(&app, bob), 2);
}

#[tokio::test]
async fn no_reminder_once_the_invitation_moved_on_or_when_it_lives_shorter_than_the_lead() {
    let app = spawn_reminding_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let revoked = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.revoke(&org.key, revoked).await;
    let accepted = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.set_stored_status(accepted, "ACCEPTED");
    let short = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "dan@example.com", "role": "MEMBER", "expiresIn": "12h" }),
        )
        .await;
    let short = short.body["id"].as_i64().unwrap();
    let pending = app.invite_ok(&org.key, "erin@example.com", "MEMBER").await;

    app.clock.advance(Duration::from_secs(6 * DAY + 3600));
    assert_eq!(
        app.sweep_once().await.reminders_queued,
        1,
        "the pending one's"
    );
    assert_eq!(app.sweep_once().await.reminders_queued, 0);
    assert_eq!(reminders_for(&app, pending), 1);
    for (id, what) in [
        (revoked, "revoked"),
        (accepted, "accepted"),
        (short, "short-lived"),
    ] {
        assert_eq!(reminders_for(&app, id), 0, "{what}");
    }
}

#[tokio::test]
async fn a_reminder_still_queued_is_withdrawn_when_the_invitation_is_revoked() {
    // The file transport into a folder replaced by a file keeps the
    // reminder queued (retrying) while the invitation is revoked.
    let folder = tempfile::tempdir().unwrap();
    let outbox = folder.path().join("outbox");
    let configured = outbox.clone();
    let app = spawn_app_without_loops(move |settings| {
        settings.invitations.reminder_before = Some(HumanDuration(Duration::from_secs(DAY)));
        settings.delivery.transport = enlist::config::TransportKind::File;
        settings.delivery.file.dir = configured;
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.run_outbox_once().await, 1);
    assert_eq!(eml_files(&outbox).len(), 1);
    std::fs::remove_dir_all(&outbox).unwrap();
    std::fs::write(&outbox, "not a folder").unwrap();
    app.clock.advance(Duration::from_secs(6 * DAY + 3600));
    assert_eq!(app.sweep_once().await.reminders_queued, 1);
    assert_eq!(app.run_outbox_once().await, 1, "an attempt at the reminder");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM outbox WHERE invitation_id = {bob} AND kind = 'reminder'
             AND attempts > 0 AND sent_at IS NULL"
        )),
        1,
        "the attempt failed"
    );
    app.revoke(&org.key, bob).await;
    let state = app.query_strings(&format!(
        "SELECT COALESCE(CAST(sent_at AS TEXT), '-') || ' ' || COALESCE(last_error, '-')
         FROM outbox WHERE invitation_id = {bob} AND kind = 'reminder'"
    ));
    assert_eq!(state, ["- withdrawn: the invitation moved on"]);
}
