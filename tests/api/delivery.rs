//! Invitation delivery: the transactional outbox, the `file` transport's
//! messages, retries with backoff against a failing transport, and the
//! resend endpoint's rules.

use crate::helpers::*;
use enlist::config::{HumanDuration, SmtpTls, TransportKind};
use enlist::domain::{Millis, Scope};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const INVITATIONS: &str = "/v1/organization/invitations";

/// A local port nothing listens on: connecting to it is refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// SMTP to `port` on this machine, without TLS, retrying quickly.
fn smtp_to(settings: &mut enlist::config::Settings, port: u16) {
    settings.delivery.transport = TransportKind::Smtp;
    settings.delivery.smtp.host = "127.0.0.1".into();
    settings.delivery.smtp.port = Some(port);
    settings.delivery.smtp.tls = SmtpTls::None;
    settings.delivery.poll_interval = HumanDuration(Duration::from_millis(50));
}

fn ms(millis: u64) -> HumanDuration {
    HumanDuration(Duration::from_millis(millis))
}

/// One outbox row's delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OutboxRow {
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
    created_at: i64,
}

fn outbox_row(app: &TestApp, id: i64) -> OutboxRow {
    app.db
        .read_blocking(|conn| {
            conn.query_one(
                "SELECT attempts, next_attempt_at, last_error, sent_at, failed_at, created_at
                 FROM outbox WHERE id = ?1",
                &[&id],
                |row| {
                    Ok(OutboxRow {
                        attempts: row.get(0)?,
                        next_attempt_at: row.get(1)?,
                        last_error: row.get(2)?,
                        sent_at: row.get(3)?,
                        failed_at: row.get(4)?,
                        created_at: row.get(5)?,
                    })
                },
            )
        })
        .unwrap()
}

fn outbox_id_of(app: &TestApp, invitation_id: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT MAX(id) FROM outbox WHERE invitation_id = {invitation_id}"
    ))
}

async fn wait_until_sent(app: &TestApp, outbox_id: i64) -> OutboxRow {
    eventually(Duration::from_secs(10), "the message marked sent", || {
        let row = outbox_row(app, outbox_id);
        row.sent_at.is_some().then_some(row)
    })
    .await
}

// ---------------------------------------------------------------------------
// The message

#[tokio::test]
async fn the_file_transport_writes_one_multipart_message_with_the_link() {
    let app = spawn_app_with(file_transport).await;
    let org = app.create_org("Rocketworks", "ada@acme.test");

    let reply = app.invite(&org.key, "bob@example.com", "ADMIN").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.body["id"].as_i64().unwrap();
    let uuid = app.invitation_uuid(id);

    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let row = wait_until_sent(&app, outbox_id_of(&app, id)).await;
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error, None);
    assert_eq!(
        files[0].file_name().unwrap().to_string_lossy(),
        format!("{:012}.eml", outbox_id_of(&app, id)),
        "zero-padded, so that names sort in creation order"
    );

    let mail = read_eml(&files[0]);
    // The page's address and the message's own secret (256 bits of base62).
    let page_link = format!("{}/invite/{uuid}?token=", app.address);
    let link = mail
        .text
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&page_link))
        .unwrap_or_else(|| panic!("no link in {}", mail.text))
        .to_owned();
    let secret = &link[page_link.len()..];
    assert_eq!(secret.len(), 43, "{link}");
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()), "{link}");
    assert_eq!(mail.mimetype, "multipart/alternative", "{}", mail.raw);
    assert_eq!(mail.part_types, ["text/plain", "text/html"], "{}", mail.raw);
    assert!(mail.to.contains("bob@example.com"), "To: {}", mail.to);
    assert!(
        mail.from.contains("noreply@localhost"),
        "From: {}",
        mail.from
    );
    assert!(mail.subject.contains("Rocketworks"), "{}", mail.subject);
    assert!(mail.subject.contains("Ada Admin"), "{}", mail.subject);
    for part in [&mail.text, &mail.html] {
        assert!(part.contains("Rocketworks"), "{part}");
        assert!(part.contains("Ada Admin"), "{part}");
        assert!(part.contains("an admin"), "the role: {part}");
        assert!(part.contains(" UTC"), "the expiry: {part}");
    }
    assert!(
        mail.text.lines().any(|line| line.trim() == link),
        "the link on a line of its own: {}",
        mail.text
    );
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    // Sent, the outbox row no longer holds the link nor the bodies: the
    // secret is only in the message (and its digest in the database).
    assert_eq!(
        app.query_strings(&format!(
            "SELECT link || text_body || html_body FROM outbox WHERE invitation_id = {id}"
        )),
        [""]
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitation_links WHERE invitation_id = {id}"
        )),
        1
    );

    // The link is the invitation's page.
    let page = app
        .client
        .get(format!("{}/invite/{uuid}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    // A second invitation is a second file; the first is left alone.
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let files = wait_for_eml(&app.outbox_dir(), 2).await;
    let second = read_eml(&files[1]);
    assert!(second.to.contains("carol@example.com"), "{}", second.to);
    assert!(second.text.contains("a member"), "{}", second.text);
    assert_eq!(read_eml(&files[0]).raw, mail.raw);
}

#[tokio::test]
async fn the_public_url_is_the_base_of_the_link() {
    let app = spawn_app_with(|s| {
        file_transport(s);
        s.server.public_url = Some("https://join.example.com/".into());
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let uuid = app.invitation_uuid(id);

    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let mail = read_eml(&files[0]);
    let link = format!("https://join.example.com/invite/{uuid}?token=");
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(
        mail.html.contains(&format!("href=\"{link}")),
        "{}",
        mail.html
    );
}

#[tokio::test]
async fn the_html_part_escapes_the_organization_name() {
    let app = spawn_app_with(file_transport).await;
    let name = "<script>alert(1)</script>";
    let org = app.create_org(name, "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let mail = read_eml(&files[0]);
    assert!(!mail.html.contains("<script"), "{}", mail.html);
    assert!(
        mail.html
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        mail.html
    );
    // Plain text needs no escaping: it shows the name as typed.
    assert!(mail.text.contains(name), "{}", mail.text);
    assert!(mail.subject.contains(name), "{}", mail.subject);
}

// ---------------------------------------------------------------------------
// The transactional outbox

#[tokio::test]
async fn refused_creations_queue_nothing_and_each_invitation_queues_one_message() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let read_only = app.api_key(org.id, org.admin_id, &[Scope::InvitationsRead]);

    let first = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 1);

    app.invite(&org.key, "bob@example.com", "ADMIN")
        .await
        .assert_problem(409, "invitation_pending");
    app.invite(&org.key, "BOB@example.com", "MEMBER")
        .await
        .assert_problem(409, "invitation_pending");
    app.invite(&org.key, &org.admin_email, "MEMBER")
        .await
        .assert_problem(409, "already_member");
    app.invite(&org.key, "not an email", "MEMBER")
        .await
        .assert_problem(400, "validation_failed");
    app.invite(&org.key, "carol@example.com", "OWNER")
        .await
        .assert_problem(400, "validation_failed");
    app.invite(&read_only, "carol@example.com", "MEMBER")
        .await
        .assert_problem(403, "missing_scope");
    let malformed = app
        .send_raw(
            reqwest::Method::POST,
            INVITATIONS,
            &[
                ("X-API-Key", &org.key),
                ("Content-Type", "application/json"),
            ],
            "{\"inviteeEmail\": ",
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);

    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);

    let second = app.invite_ok(&org.key, "carol@example.com", "ADMIN").await;
    let third = app.invite_ok(&org.key, "dave@example.com", "MEMBER").await;
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 3);
    for (id, email) in [
        (first, "bob@example.com"),
        (second, "carol@example.com"),
        (third, "dave@example.com"),
    ] {
        assert_eq!(app.outbox_count_for(id), 1, "invitation {id}");
        assert_eq!(
            app.query_strings(&format!(
                "SELECT recipient FROM outbox WHERE invitation_id = {id}"
            )),
            [email]
        );
    }
}

#[tokio::test]
async fn the_message_is_queued_with_the_invitation_while_the_smtp_server_hangs() {
    // A server that takes connections but never says a word: each attempt
    // waits for the SMTP timeout. The API must not wait with it.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let app = spawn_app_with(|s| {
        smtp_to(s, port);
        s.delivery.smtp.timeout = HumanDuration::secs(30);
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (n, email) in ["bob@example.com", "carol@example.com", "dave@example.com"]
        .into_iter()
        .enumerate()
    {
        let started = Instant::now();
        let reply = app.invite(&org.key, email, "MEMBER").await;
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(took < Duration::from_secs(5), "create took {took:?}");
        // The row is there as soon as the answer is.
        let id = reply.body["id"].as_i64().unwrap();
        assert_eq!(app.outbox_count_for(id), 1);
        assert_eq!(
            app.query_i64("SELECT COUNT(*) FROM outbox"),
            i64::try_from(n).unwrap() + 1
        );
        let row = outbox_row(&app, outbox_id_of(&app, id));
        assert_eq!(row.sent_at, None);
        assert_eq!(row.failed_at, None);
    }

    let id = app.query_i64("SELECT MIN(id) FROM invitations");
    let started = Instant::now();
    let resent = app.resend(&org.key, id).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.outbox_count_for(id), 2);
    drop(black_hole);
}

#[tokio::test]
async fn a_failing_smtp_server_is_retried_with_growing_backoff_then_given_up() {
    let port = closed_port();
    let app = spawn_app_with(|s| {
        smtp_to(s, port);
        s.delivery.retry_initial = ms(300);
        s.delivery.retry_max = HumanDuration::secs(2);
        s.delivery.max_attempts = 4;
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");

    let started = Instant::now();
    let reply = app.invite(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(started.elapsed() < Duration::from_secs(5));
    let id = reply.body["id"].as_i64().unwrap();
    let outbox_id = outbox_id_of(&app, id);

    // Sample the row until the worker gives up, keeping the next attempt
    // time recorded after each failed attempt.
    let mut next_after: BTreeMap<i64, i64> = BTreeMap::new();
    let given_up = eventually(Duration::from_secs(20), "the worker to give up", || {
        let row = outbox_row(&app, outbox_id);
        assert_eq!(row.sent_at, None, "nothing listens: {row:?}");
        if row.failed_at.is_none() && row.attempts > 0 {
            let previous = next_after.insert(row.attempts, row.next_attempt_at);
            assert!(
                previous.is_none_or(|at| at == row.next_attempt_at),
                "next attempt time moved without an attempt: {row:?}"
            );
            let error = row.last_error.as_deref().unwrap_or_default();
            assert!(error.starts_with("smtp"), "last_error: {row:?}");
        }
        row.failed_at.is_some().then_some(row)
    })
    .await;

    assert_eq!(given_up.attempts, 4, "{given_up:?}");
    assert!(
        given_up
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("smtp")),
        "{given_up:?}"
    );
    assert_eq!(
        next_after.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3],
        "every retry was scheduled: {next_after:?}"
    );
    // The nth retry is due initial * 2^(n-1), ±20 %, after the failure
    // before it, which itself came no earlier than it was due. So each gap
    // between scheduled times is at least the lower end of its delay, and
    // (the gaps' lower ends exceeding the previous delays' upper ends) the
    // waits grew: 240..360 ms, then 480..720 ms, then 960..1440 ms.
    let schedule = [
        given_up.created_at,
        next_after[&1],
        next_after[&2],
        next_after[&3],
    ];
    for (n, (earlier, later)) in schedule.iter().zip(&schedule[1..]).enumerate() {
        let base = 300 * (1_i64 << n);
        let gap = later - earlier;
        assert!(
            gap >= base * 8 / 10,
            "retry {} came after {gap} ms, before its backoff of {base} ms ±20 %: {schedule:?}",
            n + 1
        );
        assert!(
            gap <= base * 12 / 10 + 3_000,
            "retry {} waited {gap} ms for a backoff of {base} ms: {schedule:?}",
            n + 1
        );
    }
    // Giving up keeps the last schedule and stamps the time.
    assert_eq!(given_up.next_attempt_at, next_after[&3]);
    assert!(given_up.failed_at.unwrap() >= next_after[&3]);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"),
        0
    );

    // Nothing more happens to it, even once it would be "due": a later
    // message's first attempt proves the worker made another pass.
    app.execute_sql(&format!(
        "UPDATE outbox SET next_attempt_at = 0 WHERE id = {outbox_id}"
    ));
    let later = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let later_outbox = outbox_id_of(&app, later);
    eventually(
        Duration::from_secs(10),
        "the later message's attempt",
        || (outbox_row(&app, later_outbox).attempts > 0).then_some(()),
    )
    .await;
    let after = outbox_row(&app, outbox_id);
    assert_eq!(after.attempts, 4, "{after:?}");
    assert_eq!(after.failed_at, given_up.failed_at);
    assert_eq!(after.last_error, given_up.last_error);
}

// ---------------------------------------------------------------------------
// The worker on its own, with a transport of the test's making

mod worker {
    use enlist::config::{DatabaseSettings, TemplateFiles};
    use enlist::db::Database;
    use enlist::db::outbox::QueuedMessage;
    use enlist::delivery::{Composer, DeliveryError};
    use enlist::domain::{Email, Millis, Role};
    use enlist::services;
    use enlist::workers::outbox::{Deliver, OutboxWorker, RetryPolicy};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::watch;

    /// Fails its first `failures` deliveries, then succeeds; remembers each call.
    #[derive(Clone, Default)]
    struct Flaky {
        failures: Arc<AtomicU32>,
        calls: Arc<Mutex<Vec<QueuedMessage>>>,
    }

    impl Flaky {
        fn failing(times: u32) -> Self {
            let flaky = Self::default();
            flaky.failures.store(times, Ordering::SeqCst);
            flaky
        }

        fn calls(&self) -> Vec<QueuedMessage> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Deliver for Flaky {
        fn deliver(
            &self,
            message: &QueuedMessage,
        ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
            self.calls.lock().unwrap().push(message.clone());
            let failed = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            std::future::ready(if failed {
                Err(DeliveryError::Smtp("451 try again later".into()))
            } else {
                Ok(())
            })
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        db: Database,
        outbox_id: i64,
    }

    /// A database holding one invitation and its queued message, and no server.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enlist.db");
        let db = Database::open(&DatabaseSettings {
            path: path.clone(),
            url: crate::test_postgres::enabled().then(crate::test_postgres::fresh_database),
            ..DatabaseSettings::default()
        })
        .unwrap();
        let composer = Composer::new(&TemplateFiles::default(), "http://enlist.test").unwrap();
        db.write_blocking(|tx| -> Result<(), services::ServiceError> {
            let now = Millis::now();
            let (org, admin) = services::orgs::create(
                tx,
                &services::orgs::NewOrganization {
                    name: "Acme".into(),
                    logo_url: None,
                    admin_email: Email::parse("ada@acme.test").unwrap(),
                    admin_first_name: "Ada".into(),
                    admin_last_name: "Admin".into(),
                    claim_unverified: false,
                },
                now,
            )?;
            services::invitations::create(
                tx,
                &enlist::domain::event::Origin::cli(),
                org.id,
                admin.id,
                &services::invitations::NewInvitation {
                    invitee: Email::parse("bob@example.com").unwrap(),
                    role: Role::Member,
                    options: Default::default(),
                    team_ids: Vec::new(),
                },
                services::invitations::SendRules::with_lifetime(Duration::from_secs(3600)),
                &composer,
                now,
            )?;
            Ok(())
        })
        .unwrap();
        let outbox_id = query(&db, "SELECT id FROM outbox");
        Setup {
            _dir: dir,
            db,
            outbox_id,
        }
    }

    fn query(db: &Database, sql: &str) -> i64 {
        db.read_blocking(|conn| conn.query_one(sql, &[], |row| row.get::<Option<i64>>(0)))
            .unwrap()
            .unwrap_or(-1)
    }

    fn worker(setup: &Setup, transport: Flaky, max_attempts: u32) -> OutboxWorker<Flaky> {
        OutboxWorker::new(
            setup.db.clone(),
            transport,
            RetryPolicy {
                max_attempts,
                initial: Duration::from_secs(60),
                max: Duration::from_secs(3600),
            },
            Duration::from_secs(3600),
        )
    }

    /// Makes the message due now, as if its backoff had passed.
    fn time_travel(setup: &Setup) {
        setup
            .db
            .write_blocking(|conn| conn.execute("UPDATE outbox SET next_attempt_at = 0", &[]))
            .unwrap();
    }

    fn column(setup: &Setup, column: &str) -> i64 {
        query(
            &setup.db,
            &format!("SELECT {column} FROM outbox WHERE id = {}", setup.outbox_id),
        )
    }

    #[tokio::test]
    async fn a_message_is_retried_after_its_backoff_until_the_transport_takes_it() {
        let setup = setup();
        let transport = Flaky::failing(2);
        let worker = worker(&setup, transport.clone(), 5);

        // First attempt: fails, and the retry waits 60 s ±20 %.
        let before = Millis::now().0;
        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(column(&setup, "attempts"), 1);
        assert_eq!(column(&setup, "sent_at"), -1);
        assert_eq!(column(&setup, "failed_at"), -1);
        let wait = column(&setup, "next_attempt_at") - before;
        assert!((48_000..=73_000).contains(&wait), "first backoff {wait} ms");
        let error: String = setup
            .db
            .read_blocking(|conn| {
                conn.query_one("SELECT last_error FROM outbox", &[], |row| row.get(0))
            })
            .unwrap();
        assert!(error.contains("451 try again later"), "{error}");

        // Not due yet: nothing is attempted.
        assert_eq!(worker.run_once().await.unwrap(), 0);
        assert_eq!(transport.calls().len(), 1);

        // Second attempt: fails again, and the wait doubles.
        time_travel(&setup);
        let before = Millis::now().0;
        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(column(&setup, "attempts"), 2);
        let wait = column(&setup, "next_attempt_at") - before;
        assert!(
            (96_000..=145_000).contains(&wait),
            "second backoff {wait} ms"
        );

        // Third attempt: delivered, and marked so.
        time_travel(&setup);
        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(column(&setup, "attempts"), 3);
        assert!(column(&setup, "sent_at") >= before);
        assert_eq!(column(&setup, "failed_at"), -1);
        assert_eq!(
            query(
                &setup.db,
                "SELECT COUNT(*) FROM outbox WHERE last_error IS NOT NULL"
            ),
            0
        );

        // Every attempt carried the same message; a sent one is never sent again.
        time_travel(&setup);
        assert_eq!(worker.run_once().await.unwrap(), 0);
        let calls = transport.calls();
        assert_eq!(calls.len(), 3);
        assert!(calls.iter().all(|m| m.id == setup.outbox_id));
        assert!(calls.iter().all(|m| m.recipient == "bob@example.com"));
        assert!(calls.iter().all(|m| m.link == calls[0].link
            && m.subject == calls[0].subject
            && m.text_body == calls[0].text_body
            && m.html_body == calls[0].html_body));
        assert_eq!(
            calls.iter().map(|m| m.attempts).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(calls[0].link.starts_with("http://enlist.test/invite/"));
    }

    #[tokio::test]
    async fn the_worker_gives_up_after_the_last_attempt() {
        let setup = setup();
        let transport = Flaky::failing(u32::MAX);
        let worker = worker(&setup, transport.clone(), 2);

        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(column(&setup, "failed_at"), -1);
        time_travel(&setup);
        let before = Millis::now().0;
        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(column(&setup, "attempts"), 2);
        assert!(column(&setup, "failed_at") >= before);
        assert_eq!(column(&setup, "sent_at"), -1);

        time_travel(&setup);
        assert_eq!(worker.run_once().await.unwrap(), 0);
        assert_eq!(transport.calls().len(), 2);
    }

    #[tokio::test]
    async fn a_stopped_worker_sends_nothing_more_and_run_returns() {
        let setup = setup();
        let transport = Flaky::default();
        let worker = worker(&setup, transport.clone(), 5);
        let (stop, stopped) = watch::channel(true);

        assert_eq!(worker.send_due(&stopped).await.unwrap(), 0);
        assert!(transport.calls().is_empty());
        tokio::time::timeout(Duration::from_secs(10), worker.run(stopped))
            .await
            .expect("a stopped worker returns");
        assert!(transport.calls().is_empty());
        assert_eq!(column(&setup, "attempts"), 0);
        drop(stop);
    }

    #[tokio::test]
    async fn a_running_worker_sends_what_is_due_and_stops_on_request() {
        let setup = setup();
        let transport = Flaky::failing(1);
        let worker = OutboxWorker::new(
            setup.db.clone(),
            transport.clone(),
            RetryPolicy {
                max_attempts: 3,
                initial: Duration::from_millis(50),
                max: Duration::from_millis(100),
            },
            Duration::from_millis(20),
        );
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(async move { worker.run(stopped).await });
        crate::helpers::eventually(Duration::from_secs(10), "delivery", || {
            (column(&setup, "sent_at") > 0).then_some(())
        })
        .await;
        assert_eq!(column(&setup, "attempts"), 2);
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("the worker stops")
            .unwrap();
        assert_eq!(transport.calls().len(), 2);
    }
}

// ---------------------------------------------------------------------------
// Resend

#[tokio::test]
async fn resend_renews_the_expiry_and_queues_a_second_message() {
    let app = spawn_app_with(file_transport).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let created = app.invite(&org.key, "bob@example.com", "ADMIN").await;
    let id = created.body["id"].as_i64().unwrap();
    wait_for_eml(&app.outbox_dir(), 1).await;
    // Pretend it was created long ago, expiring in an hour.
    let soon = Millis::now().0 + 3_600_000;
    app.execute_sql(&format!(
        "UPDATE invitations SET expires_at = {soon} WHERE id = {id}"
    ));

    // The creation message does not count: a resend right away works.
    let before = Millis::now().0;
    let reply = app.resend(&org.key, id).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["id"], id);
    assert_eq!(reply.body["status"], "PENDING");
    assert_eq!(reply.body["role"], "ADMIN");
    assert_eq!(reply.body["inviteeEmail"], "bob@example.com");
    assert_eq!(reply.body["organizationId"], org.id);
    assert_eq!(keys_of(&reply.body), keys_of(&created.body));
    let week = 7 * 24 * 3_600_000;
    let expires = millis_of(&reply.body["expiresAt"]);
    assert!(
        expires >= before + week && expires <= Millis::now().0 + week,
        "expiresAt {} is not a week from now",
        reply.body["expiresAt"]
    );
    assert!(millis_of(&reply.body["updatedAt"]) >= before);
    assert_eq!(reply.body["createdAt"], created.body["createdAt"]);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT expires_at FROM invitations WHERE id = {id}"
        )),
        expires
    );

    // A second message, to the same person with the same link and the new expiry.
    assert_eq!(app.outbox_count_for(id), 2);
    let files = wait_for_eml(&app.outbox_dir(), 2).await;
    let (first, second) = (read_eml(&files[0]), read_eml(&files[1]));
    let link = format!("{}/invite/{}", app.address, app.invitation_uuid(id));
    for mail in [&first, &second] {
        assert!(mail.to.contains("bob@example.com"), "{}", mail.to);
        assert!(mail.text.contains(&link), "{}", mail.text);
    }
    let new_expiry = chrono::DateTime::from_timestamp_millis(expires)
        .unwrap()
        .format("%-d %B %Y, %H:%M UTC")
        .to_string();
    assert!(second.text.contains(&new_expiry), "{}", second.text);

    // It shows in the list as renewed.
    let list = app.get(INVITATIONS, &org.key).await;
    assert_eq!(list.body["items"][0]["expiresAt"], reply.body["expiresAt"]);
}

#[tokio::test]
async fn a_second_resend_within_a_minute_answers_429_with_retry_after() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let first = app.resend(&org.key, id).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let expires = app.query_i64(&format!(
        "SELECT expires_at FROM invitations WHERE id = {id}"
    ));

    let again = app.resend(&org.key, id).await;
    again.assert_problem(429, "too_many_requests");
    let wait: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert!(wait >= 55, "almost the whole minute is left: {wait}");
    // Nothing was queued or renewed.
    assert_eq!(app.outbox_count_for(id), 2);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT expires_at FROM invitations WHERE id = {id}"
        )),
        expires
    );

    // Half a second before the minute ends: wait one second.
    let last = Millis::now().0 - 59_500;
    app.execute_sql(&format!(
        "UPDATE invitations SET last_resent_at = {last} WHERE id = {id}"
    ));
    let almost = app.resend(&org.key, id).await;
    almost.assert_problem(429, "too_many_requests");
    assert_eq!(almost.header("retry-after"), Some("1"));

    // Once the minute has passed, it goes again (the 429s did not restart it).
    let last = Millis::now().0 - 60_001;
    app.execute_sql(&format!(
        "UPDATE invitations SET last_resent_at = {last} WHERE id = {id}"
    ));
    let later = app.resend(&org.key, id).await;
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(app.outbox_count_for(id), 3);
    app.resend(&org.key, id)
        .await
        .assert_problem(429, "too_many_requests");

    // The limit is per invitation.
    let other = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(app.resend(&org.key, other).await.status, 200);
}

#[tokio::test]
async fn answered_and_revoked_invitations_are_not_resendable() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for status in ["ACCEPTED", "DECLINED", "REVOKED"] {
        let email = format!("{}@example.com", status.to_lowercase());
        let id = app.invite_ok(&org.key, &email, "MEMBER").await;
        app.set_stored_status(id, status);
        let expires = app.query_i64(&format!(
            "SELECT expires_at FROM invitations WHERE id = {id}"
        ));

        let reply = app.resend(&org.key, id).await;
        reply.assert_problem(409, "invitation_not_resendable");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(status),
            "{}",
            reply.text
        );
        assert_eq!(app.stored_status(id), status);
        assert_eq!(app.outbox_count_for(id), 1, "{status}");
        assert_eq!(
            app.query_i64(&format!(
                "SELECT expires_at FROM invitations WHERE id = {id}"
            )),
            expires
        );
    }
    // Revoked through the API, too.
    let id = app.invite_ok(&org.key, "erin@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, id).await.status, 200);
    app.resend(&org.key, id)
        .await
        .assert_problem(409, "invitation_not_resendable");
    assert_eq!(app.outbox_count_for(id), 1);
}

#[tokio::test]
async fn an_expired_invitation_is_pending_again_after_a_resend() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    // Stored EXPIRED (swept), and expired in place (not swept yet).
    let swept = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.expire_in_place(swept);
    app.set_stored_status(swept, "EXPIRED");
    let unswept = app.invite_ok(&org.key, "carol@example.com", "ADMIN").await;
    app.expire_in_place(unswept);

    for id in [swept, unswept] {
        let listed = app
            .get(&format!("{INVITATIONS}?status=EXPIRED"), &org.key)
            .await;
        assert!(item_ids(&listed).contains(&id), "{}", listed.text);

        let before = Millis::now().0;
        let reply = app.resend(&org.key, id).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["status"], "PENDING");
        assert!(millis_of(&reply.body["expiresAt"]) >= before + 7 * 24 * 3_600_000);
        assert_eq!(app.stored_status(id), "PENDING");
        assert_eq!(app.outbox_count_for(id), 2);

        let listed = app
            .get(&format!("{INVITATIONS}?status=PENDING"), &org.key)
            .await;
        assert!(item_ids(&listed).contains(&id), "{}", listed.text);
    }
}

#[tokio::test]
async fn refused_resends_do_not_start_the_minute() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let read_only = app.api_key(org.id, org.admin_id, &[Scope::InvitationsRead]);
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    // 403: the key may not write invitations.
    app.resend(&read_only, id)
        .await
        .assert_problem(403, "missing_scope");
    // 404: unknown invitations.
    app.resend(&org.key, 999_999)
        .await
        .assert_problem(404, "not_found");
    // 409: not resendable in its current state.
    app.set_stored_status(id, "DECLINED");
    app.resend(&org.key, id)
        .await
        .assert_problem(409, "invitation_not_resendable");
    app.set_stored_status(id, "PENDING");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE id = {id} AND last_resent_at IS NOT NULL"
        )),
        0
    );
    assert_eq!(app.outbox_count_for(id), 1);

    // None of them counted.
    let reply = app.resend(&org.key, id).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.outbox_count_for(id), 2);

    // A 409 found after the status check (an expired invitation whose
    // invitee has a newer pending one) is rolled back whole.
    let old = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.expire_in_place(old);
    let newer = app.invite_ok(&org.key, "carol@example.com", "ADMIN").await;
    app.resend(&org.key, old)
        .await
        .assert_problem(409, "invitation_pending");
    assert_eq!(app.stored_status(old), "PENDING");
    assert_eq!(app.outbox_count_for(old), 1);
    assert_eq!(app.revoke(&org.key, newer).await.status, 200);
    let reply = app.resend(&org.key, old).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "PENDING");
    assert_eq!(app.outbox_count_for(old), 2);
}

#[tokio::test]
async fn another_organizations_invitation_cannot_be_resent() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "hank@globex.test");
    let theirs = app
        .invite_ok(&globex.key, "bob@example.com", "MEMBER")
        .await;

    let reply = app.resend(&acme.key, theirs).await;
    reply.assert_problem(404, "not_found");
    assert_eq!(app.outbox_count_for(theirs), 1);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE id = {theirs} AND last_resent_at IS NULL"
        )),
        1
    );
    // And the owner's own resend is not held up by it.
    assert_eq!(app.resend(&globex.key, theirs).await.status, 200);
    assert_eq!(app.outbox_count_for(theirs), 2);

    // Ids that are not ids.
    let reply = app.resend(&acme.key, "abc").await;
    assert!(matches!(reply.status.as_u16(), 400 | 404), "{}", reply.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 2);
}

#[tokio::test]
async fn resend_without_a_key_is_401_and_queues_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let reply = app
        .request(
            reqwest::Method::POST,
            &format!("{INVITATIONS}/{id}/resend"),
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(app.outbox_count_for(id), 1);
    assert_eq!(app.resend(&org.key, id).await.status, 200);
}

#[tokio::test]
async fn when_the_message_cannot_be_queued_nothing_is_created_or_renewed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let before = app.query_strings(&format!(
        "SELECT expires_at || ' ' || updated_at || ' ' || COALESCE(CAST(last_resent_at AS TEXT), '-')
         FROM invitations WHERE id = {id}"
    ));
    // From now on every outbox insert fails.
    app.fail_inserts_into("outbox", "outbox full");

    let reply = app.invite(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert!(!reply.text.contains("outbox full"), "{}", reply.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);

    let reply = app.resend(&org.key, id).await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert_eq!(
        app.query_strings(&format!(
            "SELECT expires_at || ' ' || updated_at || ' ' || COALESCE(CAST(last_resent_at AS TEXT), '-')
             FROM invitations WHERE id = {id}"
        )),
        before
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 1);

    // Once the outbox works again, both go through (the failed resend did not start the minute).
    app.allow_inserts_into("outbox");
    assert_eq!(app.resend(&org.key, id).await.status, 200);
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 3);
}

#[tokio::test]
async fn an_internationalized_address_gets_its_message() {
    let app = spawn_app_with(file_transport).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app
        .invite_ok(&org.key, "élodie@exämple.com", "MEMBER")
        .await;
    let files = wait_for_eml(&app.outbox_dir(), 1).await;
    let row = wait_until_sent(&app, outbox_id_of(&app, id)).await;
    assert_eq!(row.attempts, 1);
    let mail = read_eml(&files[0]);
    assert!(mail.to.contains("élodie@"), "{}", mail.raw);
}
