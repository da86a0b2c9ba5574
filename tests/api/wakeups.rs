//! The running workers are woken by what a write queued, once it committed:
//! with their timers set to an hour, an invitation's message and its
//! webhook delivery still leave at once. (Every other test drives one pass
//! by hand or polls often; these prove the loops listen.)

use crate::helpers::*;
use crate::webhook_helpers::{Receiver, create_endpoint, spawn_webhook_app_with};
use enlist::config::HumanDuration;
use std::time::Duration;

const AN_HOUR: HumanDuration = HumanDuration(Duration::from_secs(3600));

#[tokio::test]
async fn a_committed_invitation_wakes_the_mail_worker() {
    let app = spawn_app_with(|s| {
        file_transport(s);
        s.delivery.poll_interval = AN_HOUR;
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    // The worker's first pass ran at start with nothing to send; from here
    // on only a wake-up (or the hour) makes it look again.
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let mail = read_eml(&files[0]);
    assert!(mail.to.contains("bob@example.com"), "{}", mail.to);
    assert!(
        mail.text.contains(&app.invitation_uuid(id)),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn a_committed_event_wakes_the_webhook_worker() {
    let app = spawn_webhook_app_with(|s| s.webhooks.poll_interval = AN_HOUR).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    create_endpoint(&app, &org.key, &receiver.url, &["invitation.created"]).await;

    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(receiver.types(), ["invitation.created"]);
    assert_eq!(
        got[0].json()["data"]["invitation"]["inviteeEmail"],
        "bob@example.com"
    );
}
