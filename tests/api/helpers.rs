#![allow(dead_code)] // each test module uses its own subset

use enlist::config::Settings;
use enlist::db::Database;
use enlist::domain::{Clock, Email, Millis, Scope};
use enlist::services;
use enlist::startup::Application;
use enlist::workers::Workers;
use enlist::workers::sweep::SweepReport;
use enlist::workers::webhooks::WebhookPass;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub db_path: PathBuf,
    pub settings: Settings,
    /// The server's clock: tests move it instead of sleeping.
    pub clock: Clock,
    /// The server's background workers: tests run their passes.
    pub workers: Workers,
    _dir: TempDir,
}

/// An organization with an admin and an API key holding every scope.
pub struct TestOrg {
    pub id: i64,
    pub uuid: String,
    pub admin_id: i64,
    pub admin_email: String,
    pub key: String,
}

/// A response as tests read it: status, headers, JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem-details answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problem content type; body: {}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(
            self.body["type"],
            format!("urn:enlist:problem:{code}"),
            "{}",
            self.text
        );
        assert!(self.body["title"].is_string(), "{}", self.text);
        assert!(self.body["detail"].is_string(), "{}", self.text);
        self
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(customize, true).await
}

/// Like [`spawn_app_with`], but no worker loop runs: the test runs each
/// pass itself ([`TestApp::run_outbox_once`], [`TestApp::deliver_webhooks_once`],
/// [`TestApp::sweep_once`]), sees exactly the passes it ran, and asserts on
/// what they did instead of sleeping.
pub async fn spawn_app_without_loops(customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(customize, false).await
}

async fn spawn(customize: impl FnOnce(&mut Settings), loops: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.database.path = dir.path().join("enlist.db");
    settings.organizations.export_dir = dir.path().join("exports");
    if crate::test_postgres::enabled() {
        settings.database.url = Some(crate::test_postgres::fresh_database());
    }
    // Sent messages keep their links only in the transport's copy: tests
    // read them there, as the recipient would.
    file_transport(&mut settings);
    customize(&mut settings);
    let clock = Clock::default();
    let mut app =
        Application::build_with_clock(settings.clone(), clock.clone()).expect("application builds");
    if !loops {
        app = app.without_worker_loops();
    }
    let address = format!("http://{}", app.addr());
    let workers = app.workers();
    let db = Database::open(&settings.database).expect("database opens");
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        db_path: settings.database.path.clone(),
        settings,
        clock,
        workers,
        _dir: dir,
    }
}

impl TestApp {
    /// A session for `user_id`, as a sign-in with `method` starts it (the
    /// cookie's token), lasting `lifetime` from the app's clock.
    pub fn session_for(
        &self,
        user_id: i64,
        method: enlist::domain::AuthMethod,
        lifetime: std::time::Duration,
    ) -> String {
        let now = self.clock.now();
        self.db
            .write_blocking(|tx| {
                enlist::services::sessions::start(tx, user_id, method, lifetime, now)
            })
            .unwrap()
    }

    /// One pass of the outbox worker: how many messages it handled.
    pub async fn run_outbox_once(&self) -> usize {
        self.workers.run_outbox_once().await.expect("outbox pass")
    }

    /// One pass of the webhook worker, its attempts finished and recorded.
    pub async fn deliver_webhooks_once(&self) -> WebhookPass {
        self.workers.deliver_webhooks_once().await
    }

    /// One pass of the maintenance sweep, at the test clock's "now".
    pub async fn sweep_once(&self) -> SweepReport {
        self.workers.sweep_once().await
    }

    /// Creates an organization, its admin, and an all-scopes key, through the
    /// same services the CLI uses.
    pub fn create_org(&self, name: &str, admin_email: &str) -> TestOrg {
        let new = services::orgs::NewOrganization {
            name: name.into(),
            logo_url: Some(format!("https://cdn.example.com/{name}.png")),
            admin_email: Email::parse(admin_email).unwrap(),
            admin_first_name: "Ada".into(),
            admin_last_name: "Admin".into(),
            claim_unverified: false,
        };
        let (org, admin) = self
            .db
            .write_blocking(|tx| services::orgs::create(tx, &new, Millis::now()))
            .unwrap();
        let key = self.api_key(org.id, admin.id, &Scope::ALL);
        TestOrg {
            id: org.id,
            uuid: org.uuid.to_string(),
            admin_id: admin.id,
            admin_email: admin_email.into(),
            key,
        }
    }

    pub fn api_key(&self, org_id: i64, user_id: i64, scopes: &[Scope]) -> String {
        self.db
            .write_blocking(|tx| {
                services::api_keys::create(
                    tx,
                    &enlist::domain::event::Origin::cli(),
                    enlist::domain::OrgId(org_id),
                    enlist::domain::UserId(user_id),
                    "test",
                    scopes,
                    Millis::now(),
                )
            })
            .unwrap()
            .plaintext
    }

    /// Adds an existing or new account to the organization with `role`.
    pub fn add_member(&self, org_id: i64, email: &str, role: &str) -> i64 {
        let email = Email::parse(email).unwrap();
        let now = Millis::now();
        self.db
            .write_blocking(|tx| -> Result<i64, services::ServiceError> {
                let user = match enlist::db::users::find_by_email(tx, &email)? {
                    Some(user) => user,
                    None => services::users::create(
                        tx,
                        &services::users::NewAccount {
                            email: email.clone(),
                            first_name: "Mem".into(),
                            last_name: "Ber".into(),
                            password_hash: None,
                            email_verified: true,
                        },
                        now,
                    )?,
                };
                enlist::db::members::insert(
                    tx,
                    enlist::domain::OrgId(org_id),
                    enlist::domain::UserId(user.id),
                    &role.parse::<enlist::domain::Role>().unwrap(),
                    now,
                )?;
                Ok(user.id)
            })
            .unwrap()
    }

    /// Sets an existing account's password as the operator's
    /// `enlist user set-password` does (which also proves its address).
    pub fn set_password(&self, email: &str, password: &str) {
        let hash = enlist::auth::password::hash(password).unwrap();
        let email = Email::parse(email).unwrap();
        self.db
            .write_blocking(|tx| {
                services::users::set_password(
                    tx,
                    &enlist::domain::event::Origin::cli(),
                    &email,
                    &hash,
                    Millis::now(),
                )
            })
            .unwrap();
    }

    /// Runs one SQL query returning a single integer, for checking database state.
    pub fn query_i64(&self, sql: &str) -> i64 {
        self.db
            .read_blocking(|conn| conn.query_one(sql, &[], |row| row.get(0)))
            .unwrap()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.request(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(key), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.request(Method::DELETE, path, Some(key), None).await
    }

    pub async fn invite(&self, key: &str, email: &str, role: &str) -> Reply {
        self.post(
            "/v1/organization/invitations",
            key,
            &serde_json::json!({ "inviteeEmail": email, "role": role }),
        )
        .await
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Asserts a timestamp is RFC 3339 UTC with milliseconds, as the API documents show.
pub fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp expected, got {value}"));
    assert_eq!(text.len(), 24, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// A random-looking but unknown key in the documented shape
/// (`enl_` + 12-character public id + `_` + 32-character secret).
pub const WELL_FORMED_UNKNOWN_KEY: &str = "enl_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

impl TestApp {
    /// Opens the database file directly, as another process would.
    pub fn raw_connection(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.db_path).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// Runs one SQL statement against the database file and returns the rows changed.
    pub fn execute_sql(&self, sql: &str) -> usize {
        self.db
            .write_blocking(|conn| conn.execute(sql, &[]))
            .unwrap()
    }

    /// Runs one SQL query returning a single text column, for checking database state.
    pub fn query_strings(&self, sql: &str) -> Vec<String> {
        self.db
            .read_blocking(|conn| conn.query_all(sql, &[], |row| row.get(0)))
            .unwrap()
    }

    /// `bytes` as a BLOB literal in this backend's SQL.
    pub fn blob_literal(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.db.dialect() {
            enlist::db::Dialect::Sqlite => format!("x'{hex}'"),
            enlist::db::Dialect::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// From now on every INSERT into `table` fails with `message` (a
    /// trigger, in this backend's dialect): for the paths where storage fails.
    pub fn fail_inserts_into(&self, table: &str, message: &str) {
        match self.db.dialect() {
            enlist::db::Dialect::Sqlite => self.execute_sql(&format!(
                "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )),
            enlist::db::Dialect::Postgres => {
                self.execute_sql(&format!(
                    "CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
                ));
                self.execute_sql(&format!(
                    "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION fail_{table}()"
                ))
            }
        };
    }

    /// Undoes [`TestApp::fail_inserts_into`].
    pub fn allow_inserts_into(&self, table: &str) {
        match self.db.dialect() {
            enlist::db::Dialect::Sqlite => self.execute_sql(&format!("DROP TRIGGER fail_{table}")),
            enlist::db::Dialect::Postgres => {
                self.execute_sql(&format!("DROP TRIGGER fail_{table} ON {table}"))
            }
        };
    }

    /// The stored status of one invitation.
    pub fn stored_status(&self, invitation_id: i64) -> String {
        self.query_strings(&format!(
            "SELECT status FROM invitations WHERE id = {invitation_id}"
        ))
        .pop()
        .unwrap_or_else(|| panic!("invitation {invitation_id} not stored"))
    }

    /// Stores a status directly, for states the API cannot reach (yet).
    pub fn set_stored_status(&self, invitation_id: i64, status: &str) {
        let changed = self
            .db
            .write_blocking(|conn| {
                conn.execute(
                    "UPDATE invitations SET status = ?1 WHERE id = ?2",
                    &[&status, &invitation_id],
                )
            })
            .unwrap();
        assert_eq!(changed, 1, "invitation {invitation_id} not stored");
    }

    /// Moves an invitation's expiry into the past without storing EXPIRED,
    /// as if it had expired since the last sweep.
    pub fn expire_in_place(&self, invitation_id: i64) {
        let past = Millis::now().0 - 60_000;
        let changed = self
            .db
            .write_blocking(|conn| {
                conn.execute(
                    "UPDATE invitations SET expires_at = ?1 WHERE id = ?2",
                    &[&past, &invitation_id],
                )
            })
            .unwrap();
        assert_eq!(changed, 1, "invitation {invitation_id} not stored");
    }

    /// Creates an invitation through the API and returns its id.
    pub async fn invite_ok(&self, key: &str, email: &str, role: &str) -> i64 {
        let reply = self.invite(key, email, role).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["id"].as_i64().unwrap()
    }

    pub async fn revoke(&self, key: &str, invitation_id: impl std::fmt::Display) -> Reply {
        self.request(
            Method::POST,
            &format!("/v1/organization/invitations/{invitation_id}/revoke"),
            Some(key),
            None,
        )
        .await
    }

    pub async fn remove_user(&self, key: &str, user_id: impl std::fmt::Display) -> Reply {
        self.delete(&format!("/v1/organization/users/{user_id}"), key)
            .await
    }

    /// Sends a request with a raw body and any headers, for bodies and
    /// headers `request` cannot express.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.expect("request sent")).await
    }
}

/// The `id`s of a list page's items, in page order.
pub fn item_ids(reply: &Reply) -> Vec<i64> {
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items expected: {}", reply.text))
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

/// The sorted key names of a JSON object.
pub fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("object expected, got {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

impl TestApp {
    /// Writes `request` as is over a new connection and reads until the
    /// server closes it: for framing `reqwest` does not offer (chunked
    /// uploads). Answers the status and the whole response text.
    pub async fn send_raw_http(&self, request: String) -> (u16, String) {
        use std::io::{Read, Write};
        let addr = self.address.trim_start_matches("http://").to_owned();
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            // The server may answer and close before reading everything.
            let _ = stream.write_all(request.as_bytes());
            let mut response = Vec::new();
            let _ = stream.read_to_end(&mut response);
            let text = String::from_utf8_lossy(&response).into_owned();
            let status = text
                .split_whitespace()
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("no status line in {text:?}"));
            (status, text)
        })
        .await
        .unwrap()
    }
}

/// Like [`spawn_app_with`], and also answers where `/metrics` is served on
/// its own address (`Application::metrics_addr`), when `metrics.bind` is set.
pub async fn spawn_app_with_metrics_addr(
    customize: impl FnOnce(&mut Settings),
) -> (TestApp, Option<std::net::SocketAddr>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.database.path = dir.path().join("enlist.db");
    if crate::test_postgres::enabled() {
        settings.database.url = Some(crate::test_postgres::fresh_database());
    }
    // Sent messages keep their links only in the transport's copy: tests
    // read them there, as the recipient would.
    file_transport(&mut settings);
    customize(&mut settings);
    let clock = Clock::default();
    let app =
        Application::build_with_clock(settings.clone(), clock.clone()).expect("application builds");
    let address = format!("http://{}", app.addr());
    let metrics_addr = app.metrics_addr();
    let workers = app.workers();
    let db = Database::open(&settings.database).expect("database opens");
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        db_path: settings.database.path.clone(),
        settings,
        clock,
        workers,
        _dir: dir,
    };
    (app, metrics_addr)
}

/// Polls `check` every 20 ms until it answers `Some`, or panics with
/// `what` once `within` has passed: waiting on background work without
/// fixed sleeps.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

/// The `.eml` files in a folder, sorted by name (partial files excluded).
pub fn eml_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "eml")
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Waits until the folder holds exactly `count` `.eml` files (more fails at once).
pub async fn wait_for_eml(dir: &std::path::Path, count: usize) -> Vec<PathBuf> {
    eventually(
        Duration::from_secs(10),
        &format!("{count} .eml file(s)"),
        || {
            let files = eml_files(dir);
            assert!(
                files.len() <= count,
                "expected {count} .eml file(s), found {files:?}"
            );
            (files.len() == count).then_some(files)
        },
    )
    .await
}

impl TestApp {
    /// The folder of the `file` transport.
    pub fn outbox_dir(&self) -> PathBuf {
        self.settings.delivery.file.dir.clone()
    }

    /// The UUID of an invitation (the one its link carries).
    pub fn invitation_uuid(&self, invitation_id: i64) -> String {
        self.query_strings(&format!(
            "SELECT uuid FROM invitations WHERE id = {invitation_id}"
        ))
        .pop()
        .unwrap_or_else(|| panic!("invitation {invitation_id} not stored"))
    }

    /// The link of the newest outbox message matching `filter`, as its
    /// recipient gets it: from the outbox while the message waits, and from
    /// the `file` transport's copy once it was sent (the outbox forgets sent
    /// links).
    /// `filter` is SQL with its values written in (tests' own values).
    pub fn mailed_link(&self, filter: &str, what: &str) -> String {
        let sql = format!("SELECT id, link FROM outbox WHERE {filter} ORDER BY id DESC LIMIT 1");
        let (id, link): (i64, String) = self
            .db
            .read_blocking(|conn| conn.query_opt(&sql, &[], |row| Ok((row.get(0)?, row.get(1)?))))
            .unwrap()
            .unwrap_or_else(|| panic!("no message: {what}"));
        if !link.is_empty() {
            return link;
        }
        let public_url =
            (self.settings.server.public_url.clone()).unwrap_or_else(|| self.address.clone());
        enlist::delivery::transport::link_in_copy(&self.outbox_dir(), id, &public_url)
            .unwrap_or_else(|| {
                panic!("message {id} ({what}) was sent, and its copy has no link (is the transport `file`?)")
            })
    }

    /// The path (with the secret) of the link the newest message of an
    /// invitation carries: what its invitee opens.
    pub fn invitation_link_path(&self, invitation_id: i64) -> String {
        let link = self.mailed_link(
            &format!("invitation_id = {invitation_id}"),
            &format!("invitation {invitation_id}"),
        );
        let public_url =
            (self.settings.server.public_url.clone()).unwrap_or_else(|| self.address.clone());
        link.strip_prefix(public_url.trim_end_matches('/'))
            .unwrap_or(&link)
            .to_owned()
    }

    /// Outbox rows queued for one invitation.
    pub fn outbox_count_for(&self, invitation_id: i64) -> i64 {
        self.query_i64(&format!(
            "SELECT COUNT(*) FROM outbox WHERE invitation_id = {invitation_id}"
        ))
    }

    /// Resends an invitation through the admin API.
    pub async fn resend(&self, key: &str, invitation_id: impl std::fmt::Display) -> Reply {
        self.request(
            Method::POST,
            &format!("/v1/organization/invitations/{invitation_id}/resend"),
            Some(key),
            None,
        )
        .await
    }
}

/// Settings for the `file` transport writing into `outbox/` beside the
/// test's database, polling often.
pub fn file_transport(settings: &mut Settings) {
    settings.delivery.transport = enlist::config::TransportKind::File;
    settings.delivery.file.dir = settings.database.path.with_file_name("outbox");
    settings.delivery.poll_interval = enlist::config::HumanDuration(Duration::from_millis(50));
}

/// An `.eml` file as the tests read it.
#[derive(Debug)]
pub struct Mail {
    pub raw: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The top-level content type, e.g. `multipart/alternative`.
    pub mimetype: String,
    /// The content types of the parts, in order.
    pub part_types: Vec<String>,
    pub text: String,
    pub html: String,
}

/// Parses an `.eml` file and decodes its parts.
pub fn read_eml(path: &std::path::Path) -> Mail {
    use mailparse::MailHeaderMap;
    let bytes = std::fs::read(path).unwrap();
    let mail = mailparse::parse_mail(&bytes).unwrap();
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    let body_of = |mimetype: &str| {
        mail.subparts
            .iter()
            .find(|part| part.ctype.mimetype == mimetype)
            .map(|part| part.get_body().unwrap())
            .unwrap_or_default()
    };
    Mail {
        raw: String::from_utf8_lossy(&bytes).into_owned(),
        from: header("From"),
        to: header("To"),
        subject: header("Subject"),
        mimetype: mail.ctype.mimetype.clone(),
        part_types: mail
            .subparts
            .iter()
            .map(|part| part.ctype.mimetype.clone())
            .collect(),
        text: body_of("text/plain"),
        html: body_of("text/html"),
    }
}

/// Milliseconds since the epoch of an RFC 3339 timestamp in a JSON body.
pub fn millis_of(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp expected, got {value}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp_millis()
}
