//! The outbox across restarts of the real binary: unsent messages are
//! picked up again, and a message sent before a clean stop is not sent a
//! second time.

use crate::fixture::{self, Server, eventually};
use crate::webhook_receiver;

use enlist::config::{DatabaseSettings, TemplateFiles};
use enlist::db::Database;
use enlist::delivery::Composer;
use enlist::domain::{Email, Millis, Role, Scope};
use enlist::services;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

const PUBLIC_URL: &str = "https://join.example.com";

/// A temporary folder with the database and the `file` transport's outbox.
struct Workspace {
    dir: TempDir,
    db: PathBuf,
    outbox: PathBuf,
    org_id: i64,
    admin_id: i64,
    key: String,
}

impl Workspace {
    /// A database holding an organization, its admin and an all-scopes key.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("enlist.db");
        let outbox = dir.path().join("outbox");
        let database = open(&db);
        let (org_id, admin_id, key) = database
            .write_blocking(|tx| -> Result<_, services::ServiceError> {
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
                let key = services::api_keys::create(
                    tx,
                    &enlist::domain::event::Origin::cli(),
                    enlist::domain::OrgId(org.id),
                    enlist::domain::UserId(admin.id),
                    "test",
                    &Scope::ALL,
                    now,
                )?;
                Ok((org.id, admin.id, key.plaintext))
            })
            .unwrap();
        Self {
            dir,
            db,
            outbox,
            org_id,
            admin_id,
            key,
        }
    }

    /// Starts `enlist serve` on a free port with these extra settings.
    fn serve(&self, env: &[(&str, String)]) -> Server {
        let mut command = fixture::enlist(self.dir.path());
        command
            .arg("--database")
            .arg(&self.db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("ENLIST_SERVER__WORKERS", "1")
            .env("ENLIST_SERVER__PUBLIC_URL", PUBLIC_URL)
            .env("ENLIST_SERVER__SHUTDOWN_GRACE", "5s")
            .env("ENLIST_DELIVERY__POLL_INTERVAL", "50ms")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        Server::start(command)
    }

    /// Settings for the `file` transport into this workspace's outbox.
    fn file_transport(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ENLIST_DELIVERY__TRANSPORT", "file".into()),
            (
                "ENLIST_DELIVERY__FILE__DIR",
                self.outbox.display().to_string(),
            ),
        ]
    }

    fn query_i64(&self, sql: &str) -> Option<i64> {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn eml_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "eml")
                    && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            })
            .collect();
        files.sort();
        files
    }
}

fn open(path: &Path) -> Database {
    Database::open(&DatabaseSettings {
        path: path.to_owned(),
        ..DatabaseSettings::default()
    })
    .unwrap()
}

/// Invites `email` through the admin API of `server`: the invitation's id.
async fn invite(server: &Server, key: &str, email: &str) -> i64 {
    let response = reqwest::Client::new()
        .post(server.url("/v1/organization/invitations"))
        .header("X-API-Key", key)
        .json(&json!({ "inviteeEmail": email, "role": "MEMBER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn unsent_messages_are_sent_after_a_restart() {
    if fixture::sqlite_suite("delivery_restart") {
        return;
    }
    let ws = Workspace::new();
    // Nothing listens on this port: every attempt fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut failing = ws.serve(&[
        ("ENLIST_DELIVERY__TRANSPORT", "smtp".into()),
        ("ENLIST_DELIVERY__SMTP__HOST", "127.0.0.1".into()),
        ("ENLIST_DELIVERY__SMTP__PORT", closed.to_string()),
        ("ENLIST_DELIVERY__SMTP__TLS", "none".into()),
        ("ENLIST_DELIVERY__RETRY_INITIAL", "300ms".into()),
    ]);
    let bob = invite(&failing, &ws.key, "bob@example.com").await;
    let bob_outbox = ws
        .query_i64(&format!(
            "SELECT id FROM outbox WHERE invitation_id = {bob}"
        ))
        .unwrap();
    eventually(Duration::from_secs(10), "a failed attempt", || {
        (ws.query_i64(&format!(
            "SELECT attempts FROM outbox WHERE id = {bob_outbox}"
        )) >= Some(1))
        .then_some(())
    })
    .await;
    let status = failing.stop();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT COUNT(*) FROM outbox WHERE id = {bob_outbox} AND sent_at IS NULL AND failed_at IS NULL"
        )),
        Some(1)
    );
    let attempts_before = ws
        .query_i64(&format!(
            "SELECT attempts FROM outbox WHERE id = {bob_outbox}"
        ))
        .unwrap();

    // While it is stopped, another process queues a message (as the CLI could).
    let uuid_of = |id: i64| {
        rusqlite::Connection::open(&ws.db)
            .unwrap()
            .query_row("SELECT uuid FROM invitations WHERE id = ?1", [id], |row| {
                row.get::<_, String>(0)
            })
            .unwrap()
    };
    let composer = Composer::new(&TemplateFiles::default(), PUBLIC_URL).unwrap();
    let carol = open(&ws.db)
        .write_blocking(|tx| {
            services::invitations::create(
                tx,
                &enlist::domain::event::Origin::cli(),
                ws.org_id,
                ws.admin_id,
                &services::invitations::NewInvitation {
                    invitee: Email::parse("carol@example.com").unwrap(),
                    role: Role::Member,
                    options: Default::default(),
                    team_ids: Vec::new(),
                },
                services::invitations::SendRules::with_lifetime(Duration::from_secs(3600)),
                &composer,
                Millis::now(),
            )
        })
        .unwrap()
        .id;
    assert!(ws.eml_files().is_empty());

    // Restarted with a working transport, both go out, once each.
    let mut working = ws.serve(&ws.file_transport());
    let files = eventually(Duration::from_secs(15), "two .eml files", || {
        let files = ws.eml_files();
        assert!(files.len() <= 2, "{files:?}");
        (files.len() == 2).then_some(files)
    })
    .await;
    eventually(Duration::from_secs(10), "both marked sent", || {
        (ws.query_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL") == Some(2))
            .then_some(())
    })
    .await;
    let contents: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for (id, email) in [(bob, "bob@example.com"), (carol, "carol@example.com")] {
        let link = format!("{PUBLIC_URL}/invite/{}", uuid_of(id));
        assert!(
            contents
                .iter()
                .any(|mail| mail.contains(email) && mail.contains(&link)),
            "no message to {email} with {link}: {contents:?}"
        );
    }
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT attempts FROM outbox WHERE id = {bob_outbox}"
        )),
        Some(attempts_before + 1)
    );
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT COUNT(*) FROM outbox WHERE id = {bob_outbox} AND last_error IS NULL"
        )),
        Some(1)
    );
    let status = working.stop();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(ws.eml_files().len(), 2);
}

#[tokio::test]
async fn a_message_sent_before_a_clean_restart_is_not_sent_again() {
    if fixture::sqlite_suite("delivery_restart") {
        return;
    }
    let ws = Workspace::new();
    let mut first = ws.serve(&ws.file_transport());
    let bob = invite(&first, &ws.key, "bob@example.com").await;
    let files = eventually(Duration::from_secs(10), "the .eml file", || {
        let files = ws.eml_files();
        (files.len() == 1).then_some(files)
    })
    .await;
    let sent_at = eventually(Duration::from_secs(10), "the message marked sent", || {
        ws.query_i64(&format!(
            "SELECT sent_at FROM outbox WHERE invitation_id = {bob}"
        ))
    })
    .await;
    let written = std::fs::read(&files[0]).unwrap();
    let status = first.stop();
    assert!(status.success(), "exit status {status:?}");

    // Restarted: a new invitation proves the worker runs, and the old
    // message stays sent once.
    let mut second = ws.serve(&ws.file_transport());
    let carol = invite(&second, &ws.key, "carol@example.com").await;
    let carol_outbox = ws
        .query_i64(&format!(
            "SELECT id FROM outbox WHERE invitation_id = {carol}"
        ))
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "carol's message marked sent",
        || {
            ws.query_i64(&format!(
                "SELECT sent_at FROM outbox WHERE id = {carol_outbox}"
            ))
        },
    )
    .await;
    let status = second.stop();
    assert!(status.success(), "exit status {status:?}");

    let files = ws.eml_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), written);
    assert!(
        files[1]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("{carol_outbox:012}")),
        "{files:?}"
    );
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT sent_at FROM outbox WHERE invitation_id = {bob}"
        )),
        Some(sent_at)
    );
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT attempts FROM outbox WHERE invitation_id = {bob}"
        )),
        Some(1)
    );
    assert_eq!(ws.query_i64("SELECT COUNT(*) FROM outbox"), Some(2));
}

/// A minimal SMTP server on a free local port: it records each message and
/// waits `hold` before accepting it (so a stop can arrive mid-send), telling
/// the test when a message's data has arrived.
struct FakeSmtp {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    data_received: std::sync::mpsc::Receiver<()>,
}

impl FakeSmtp {
    fn start(hold: Duration) -> Self {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (notify, data_received) = std::sync::mpsc::channel();
        let recorded = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let recorded = recorded.clone();
                let notify = notify.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut say = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes());
                    if say("220 fake.test ESMTP").is_err() {
                        return;
                    }
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let command = line.trim_end().to_ascii_uppercase();
                        let answer = if command.starts_with("EHLO") || command.starts_with("HELO") {
                            "250 fake.test"
                        } else if command == "DATA" {
                            if say("354 end with <CRLF>.<CRLF>").is_err() {
                                return;
                            }
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                data.push_str(&line);
                            }
                            recorded.lock().unwrap().push(data);
                            let _ = notify.send(());
                            std::thread::sleep(hold);
                            "250 queued"
                        } else if command == "QUIT" {
                            let _ = say("221 bye");
                            return;
                        } else {
                            "250 OK"
                        };
                        if say(answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            messages,
            data_received,
        }
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ENLIST_DELIVERY__TRANSPORT", "smtp".into()),
            ("ENLIST_DELIVERY__SMTP__HOST", "127.0.0.1".into()),
            ("ENLIST_DELIVERY__SMTP__PORT", self.port.to_string()),
            ("ENLIST_DELIVERY__SMTP__TLS", "none".into()),
        ]
    }

    fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_stop_during_a_send_finishes_it_and_the_restart_does_not_send_it_again() {
    if fixture::sqlite_suite("delivery_restart") {
        return;
    }
    let ws = Workspace::new();
    let smtp = FakeSmtp::start(Duration::from_millis(1500));
    let mut server = ws.serve(&smtp.settings());
    let bob = invite(&server, &ws.key, "bob@example.com").await;
    let received = tokio::task::spawn_blocking(move || {
        smtp.data_received
            .recv_timeout(Duration::from_secs(15))
            .map(|()| smtp)
    })
    .await
    .unwrap();
    let smtp = received.expect("the message reaches the SMTP server");

    // Stopped while the server holds the message: the worker waits for the
    // answer and records it before the process exits.
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");
    let sent_at = ws.query_i64(&format!(
        "SELECT sent_at FROM outbox WHERE invitation_id = {bob}"
    ));
    assert!(sent_at.is_some(), "the message in hand was marked sent");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let uuid: String = rusqlite::Connection::open(&ws.db)
        .unwrap()
        .query_row("SELECT uuid FROM invitations WHERE id = ?1", [bob], |row| {
            row.get(0)
        })
        .unwrap();
    assert!(messages[0].contains("bob@example.com"), "{}", messages[0]);
    assert!(
        messages[0].contains(&format!("{PUBLIC_URL}/invite/{uuid}")),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("multipart/alternative"),
        "{}",
        messages[0]
    );

    // After the restart, only the new invitation's message goes out.
    let mut server = ws.serve(&smtp.settings());
    let carol = invite(&server, &ws.key, "carol@example.com").await;
    eventually(
        Duration::from_secs(15),
        "carol's message marked sent",
        || {
            ws.query_i64(&format!(
                "SELECT sent_at FROM outbox WHERE invitation_id = {carol}"
            ))
        },
    )
    .await;
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].contains("carol@example.com"));
    assert_eq!(
        ws.query_i64(&format!(
            "SELECT sent_at FROM outbox WHERE invitation_id = {bob}"
        )),
        sent_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_delivered_before_or_during_a_clean_stop_are_not_sent_again() {
    if fixture::sqlite_suite("delivery_restart") {
        return;
    }
    use webhook_receiver::{Answer, Receiver};
    let ws = Workspace::new();
    let receiver = Receiver::start(vec![
        Answer::Status(200),
        Answer::Slow(Duration::from_millis(1500)),
    ]);
    let settings = || {
        vec![
            ("ENLIST_WEBHOOKS__ALLOW_HTTP_LOOPBACK", "true".to_owned()),
            ("ENLIST_WEBHOOKS__POLL_INTERVAL", "50ms".to_owned()),
        ]
    };
    let mut server = ws.serve(&settings());
    let created = reqwest::Client::new()
        .post(server.url("/v1/organization/webhooks"))
        .header("X-API-Key", &ws.key)
        .json(&json!({ "url": receiver.url, "events": ["invitation.created"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    invite(&server, &ws.key, "bob@example.com").await;
    receiver.wait_for(1).await;
    eventually(Duration::from_secs(15), "bob's delivery recorded", || {
        ws.query_i64("SELECT COUNT(*) FROM webhook_attempts")
            .filter(|n| *n == 1)
    })
    .await;
    // Stopped while the receiver takes its time over carol's: the worker
    // waits for the answer and records it before the process exits.
    invite(&server, &ws.key, "carol@example.com").await;
    receiver.wait_for(2).await;
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        ws.query_i64("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'"),
        Some(2)
    );

    let mut server = ws.serve(&settings());
    invite(&server, &ws.key, "dan@example.com").await;
    let got = receiver.wait_for(3).await;
    // Dan's delivery recorded: the worker is past it, and anything it
    // would send again would have been sent by now.
    eventually(Duration::from_secs(15), "dan's delivery recorded", || {
        ws.query_i64("SELECT COUNT(*) FROM webhook_attempts")
            .filter(|n| *n >= 3)
    })
    .await;
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(receiver.received().len(), 3, "nothing was sent twice");
    let invitees: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["invitation"]["inviteeEmail"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        invitees,
        ["bob@example.com", "carol@example.com", "dan@example.com"]
    );
}

#[tokio::test]
async fn the_log_transport_logs_the_recipient_and_link_and_no_secret_is_logged() {
    if fixture::sqlite_suite("delivery_restart") {
        return;
    }
    let ws = Workspace::new();
    let mut server = ws.serve(&[]);
    let bob = invite(&server, &ws.key, "bob@example.com").await;
    let uuid: String = rusqlite::Connection::open(&ws.db)
        .unwrap()
        .query_row("SELECT uuid FROM invitations WHERE id = ?1", [bob], |row| {
            row.get(0)
        })
        .unwrap();
    let link = format!("{PUBLIC_URL}/invite/{uuid}");
    let line = eventually(Duration::from_secs(10), "the log line", || {
        server.log().into_iter().find(|line| line.contains(&link))
    })
    .await;
    assert!(line.contains("bob@example.com"), "{line}");
    // The logged link is the mailed one, with the message's secret.
    let start = line.find(&link).unwrap();
    let mailed: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    let secret_of_link = mailed
        .split_once("?token=")
        .map(|(_, token)| token.to_owned())
        .unwrap_or_else(|| panic!("no secret in {mailed}"));
    eventually(Duration::from_secs(10), "the message marked sent", || {
        ws.query_i64(&format!(
            "SELECT sent_at FROM outbox WHERE invitation_id = {bob}"
        ))
    })
    .await;
    // Sign up on the page, so a password, a CSRF token and a session
    // cookie pass through the server too.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page_url = server.url(&format!("/invite/{uuid}?token={secret_of_link}"));
    let shown = client.get(&page_url).send().await.unwrap();
    let html = shown.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..start + 32].to_owned();
    let password = "a-very-secret-passphrase";
    let signed_up = client
        .post(&page_url)
        // The public URL is https: the cookies carry the `__Host-` prefix.
        .header("Cookie", format!("__Host-enlist_csrf={csrf}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("intent", "signup"),
            ("email", "bob@example.com"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 303);
    let session = signed_up
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-enlist_session="))
        .unwrap();
    let token = session
        .trim_start_matches("__Host-enlist_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");

    let log = server.log().join("\n");
    let secret = ws.key.rsplit('_').next().unwrap();
    assert!(!log.contains(secret), "the API key's secret was logged");
    for (what, value) in [
        ("password", password),
        ("session token", token.as_str()),
        ("CSRF token", csrf.as_str()),
    ] {
        assert!(!log.contains(value), "the {what} was logged: {log}");
    }
    assert!(
        log.contains("/invite/{uuid}"),
        "requests are logged by route: {log}"
    );
    assert_eq!(
        log.lines()
            .filter(|line| line.contains(&secret_of_link))
            .count(),
        1,
        "only the log transport's line holds the link's secret: {log}"
    );
    assert!(ws.eml_files().is_empty());
}
