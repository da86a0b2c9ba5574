//! Operability of the real binary: request logs that never hold a secret,
//! graceful SIGTERM and SIGINT, backups and integrity checks while serving,
//! and what the server answers when SQLite itself stops answering.

use crate::fixture::{self, Server, eventually_ok, one_json_object};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A temporary directory with the database the commands and the server use.
struct Workspace {
    dir: TempDir,
    db: PathBuf,
}

impl Workspace {
    /// A temporary directory with an empty database in it (`enlist init`).
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("enlist.db");
        let workspace = Self { dir, db };
        one_json_object(&workspace.run(&["init"]));
        workspace
    }

    /// The binary in the temporary directory, with no enlist settings
    /// inherited from the environment, on `database`.
    fn command_on(&self, database: &Path, args: &[&str]) -> Command {
        let mut command = fixture::enlist(self.dir.path());
        command.arg("--database").arg(database).args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command_on(&self.db, args).output().unwrap()
    }

    /// Runs a command that must succeed and print one JSON object.
    fn json(&self, args: &[&str]) -> Value {
        one_json_object(&self.run(args))
    }

    fn json_with_stdin(&self, args: &[&str], stdin: &str) -> Value {
        one_json_object(&fixture::output_with_stdin(
            self.command_on(&self.db, args),
            stdin,
        ))
    }

    /// `enlist --database FILE check`.
    fn check(&self, database: &Path) -> Output {
        self.command_on(database, &["check"]).output().unwrap()
    }

    /// An organization, its admin and an all-scopes key: (org id, key).
    fn org_with_key(&self) -> (i64, String) {
        let created = self.json(&[
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ]);
        let org = created["organization"]["id"].as_i64().unwrap();
        let admin = created["admin"]["id"].as_i64().unwrap();
        let key = self.json(&[
            "api-key",
            "create",
            "--org",
            &org.to_string(),
            "--user",
            &admin.to_string(),
            "--scopes",
            "organization:read,invitations:read,invitations:write,users:read,users:write",
        ])["key"]
            .as_str()
            .unwrap()
            .to_owned();
        (org, key)
    }

    /// `enlist serve` on a free port with these extra settings.
    fn serve(&self, env: &[(&str, &str)]) -> Server {
        let mut command = self.command_on(&self.db, &["serve", "--bind", "127.0.0.1:0"]);
        command
            .env("ENLIST_SERVER__WORKERS", "2")
            .envs(env.iter().copied());
        Server::start(command)
    }
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Invites `email` through the admin API: the invitation's id.
async fn invite(client: &reqwest::Client, server: &Server, key: &str, email: &str) -> i64 {
    let response = client
        .post(server.url("/v1/organization/invitations"))
        .header("X-API-Key", key)
        .json(&serde_json::json!({ "inviteeEmail": email, "role": "MEMBER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_i64().unwrap()
}

fn invitation_ids(db: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM invitations ORDER BY id")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_check_ok(workspace: &Workspace, database: &Path) {
    let output = workspace.check(database);
    let report = one_json_object(&output);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["integrity_check"], serde_json::json!(["ok"]));
}

// ---------------------------------------------------------------- shutdown

/// Sends `signal` while an idle keep-alive connection is open, after writes
/// were acknowledged: the process must exit 0 quickly, checkpointed, with
/// every acknowledged write in the file.
async fn stops_gracefully_on(signal: &str) {
    let workspace = Workspace::new();
    let (_, key) = workspace.org_with_key();
    let mut server = workspace.serve(&[
        ("ENLIST_SERVER__SHUTDOWN_GRACE", "5s"),
        ("ENLIST_SERVER__KEEP_ALIVE", "60s"),
    ]);
    let client = client();
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        acknowledged.push(invite(&client, &server, &key, &format!("p{n}@example.com")).await);
    }
    let wal = PathBuf::from(format!("{}-wal", workspace.db.display()));
    assert!(
        std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
        "the writes are in the WAL while serving"
    );
    // An idle keep-alive connection: one complete request answered, socket kept open.
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 12];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    drop(client);

    server.signal(signal);
    let (status, took) = server.wait_for_exit(Duration::from_secs(10));

    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log: {:#?}",
        server.log()
    );
    assert!(
        took < Duration::from_secs(4),
        "an idle keep-alive connection held the exit for {took:?}"
    );
    let log = server.log().join("\n");
    assert!(
        log.contains("stopped; the database is checkpointed"),
        "{log}"
    );
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL is checkpointed into the main file"
    );
    assert_eq!(invitation_ids(&workspace.db), acknowledged);
    assert_check_ok(&workspace, &workspace.db);
    drop(idle);
}

#[tokio::test]
async fn sigterm_stops_gracefully_with_an_idle_keep_alive_connection_open() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    stops_gracefully_on("TERM").await;
}

#[tokio::test]
async fn sigint_stops_gracefully_with_an_idle_keep_alive_connection_open() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    stops_gracefully_on("INT").await;
}

// ---------------------------------------------------------------- backup and check

#[tokio::test]
async fn a_backup_taken_while_serving_and_writing_is_sound_and_complete() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let (_, key) = workspace.org_with_key();
    let server = workspace.serve(&[]);
    let client = client();
    let mut before = Vec::new();
    for n in 0..10 {
        before.push(invite(&client, &server, &key, &format!("b{n}@example.com")).await);
    }
    // Writes keep coming while the backup runs.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writer = {
        let (client, url, key) = (
            client.clone(),
            server.url("/v1/organization/invitations"),
            key.clone(),
        );
        tokio::spawn(async move {
            let mut written = 0;
            while !*stopped.borrow() {
                let response = client
                    .post(&url)
                    .header("X-API-Key", &key)
                    .json(&serde_json::json!({
                        "inviteeEmail": format!("w{written}@example.com"),
                        "role": "MEMBER"
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                written += 1;
            }
            written
        })
    };
    let backup = workspace.dir.path().join("backup.db");

    let output = {
        let mut command = workspace.command_on(&workspace.db, &["backup", "--to"]);
        command.arg(&backup);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    };
    let _ = stop.send(true);
    let written = writer.await.unwrap();

    let report = one_json_object(&output);
    assert_eq!(report["backup"], backup.display().to_string());
    assert_eq!(
        report["bytes"].as_u64(),
        Some(std::fs::metadata(&backup).unwrap().len())
    );
    assert_check_ok(&workspace, &backup);
    let copied = invitation_ids(&backup);
    assert!(
        before.iter().all(|id| copied.contains(id)),
        "acknowledged before the backup: {before:?}, in it: {copied:?}"
    );
    let live = invitation_ids(&workspace.db);
    assert!(
        copied.len() <= live.len() && live.starts_with(&copied),
        "the copy is a snapshot of the live file"
    );
    assert_eq!(live.len(), before.len() + written);
    // The server never stopped answering.
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(
        !workspace.dir.path().join("backup.partial").exists(),
        "no partial file left behind"
    );
}

#[tokio::test]
async fn a_backup_never_overwrites_a_file_without_force() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let (_, key) = workspace.org_with_key();
    let server = workspace.serve(&[]);
    let client = client();
    invite(&client, &server, &key, "first@example.com").await;
    let backup = workspace.dir.path().join("nightly.db");
    let backup_arg = backup.display().to_string();
    one_json_object(&workspace.run(&["backup", "--to", &backup_arg]));
    let original = std::fs::read(&backup).unwrap();
    assert_eq!(invitation_ids(&backup).len(), 1);
    invite(&client, &server, &key, "second@example.com").await;

    let refused = workspace.run(&["backup", "--to", &backup_arg]);

    assert!(!refused.status.success(), "{}", stdout_of(&refused));
    assert_eq!(stdout_of(&refused), "");
    assert!(
        stderr_of(&refused).contains("--force"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(std::fs::read(&backup).unwrap(), original, "unchanged");

    let forced = workspace.run(&["backup", "--to", &backup_arg, "--force"]);
    one_json_object(&forced);
    assert_eq!(invitation_ids(&backup).len(), 2);
    assert_check_ok(&workspace, &backup);
}

#[test]
fn check_reports_damage_and_exits_non_zero() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    workspace.org_with_key();
    assert_check_ok(&workspace, &workspace.db);
    let backup = workspace.dir.path().join("copy.db");
    one_json_object(&workspace.run(&["backup", "--to", &backup.display().to_string()]));
    assert_check_ok(&workspace, &backup);
    let damaged = workspace.dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(bytes.len() >= 3 * page_size, "{} bytes", bytes.len());
    // Garbage over the second page and a part of the third, past the header.
    for (i, byte) in bytes[page_size..page_size * 2 + 512].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&damaged, &bytes).unwrap();

    let output = workspace.check(&damaged);

    assert!(!output.status.success(), "{}", stdout_of(&output));
    let stdout = stdout_of(&output);
    assert!(stdout.contains(r#""ok":false"#), "{stdout}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    let problems = report["integrity_check"].as_array().unwrap();
    assert!(!problems.is_empty() && problems[0] != "ok", "{report}");
    assert!(
        stderr_of(&output).contains("damage"),
        "{}",
        stderr_of(&output)
    );
    // The check changed nothing: no file beside it, the copy itself untouched.
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes);
}

// ---------------------------------------------------------------- a stalled database

/// Holds SQLite's WAL read locks in the `-shm` file from this process, as a
/// stuck process would: the server's reads cannot start until it is dropped.
struct ReadLocks {
    _file: File,
}

impl ReadLocks {
    fn hold(db: &Path) -> Self {
        use nix::fcntl::{FcntlArg, fcntl};
        let shm = PathBuf::from(format!("{}-shm", db.display()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&shm)
            .unwrap();
        // unix VFS: lock bytes start at offset 120; WAL_READ_LOCK(0..5) are 3..8.
        let lock = nix::libc::flock {
            l_type: nix::libc::F_WRLCK as _,
            l_whence: nix::libc::SEEK_SET as _,
            l_start: 123,
            l_len: 5,
            l_pid: 0,
        };
        fixture::wait_for(Duration::from_secs(5), "a lock on the read slots", || {
            fcntl(&file, FcntlArg::F_SETLK(&lock)).ok()
        });
        Self { _file: file }
    }
}

async fn get_timed(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
) -> (u16, HashMap<String, String>, Value, Duration) {
    let started = Instant::now();
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body, started.elapsed())
}

fn assert_unavailable(status: u16, headers: &HashMap<String, String>, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/problem+json")
    );
    assert_eq!(body["status"], 503);
    assert_eq!(body["code"], "unavailable");
    let retry: u64 = headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {headers:?}"))
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// Polls `url` until it answers 200, within `limit`.
async fn await_ok(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    limit: Duration,
) -> Value {
    eventually_ok(limit, &format!("{url} to answer 200"), || async {
        match get_timed(client, url, key).await {
            (200, _, body, _) => Ok(body),
            (status, _, body, _) => Err(format!("{url} still answers {status}: {body}")),
        }
    })
    .await
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_cannot_answer() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let server = workspace.serve(&[("ENLIST_DELIVERY__POLL_INTERVAL", "1h")]);
    let client = client();
    await_ok(
        &client,
        &server.url("/readyz"),
        None,
        Duration::from_secs(5),
    )
    .await;

    let locks = ReadLocks::hold(&workspace.db);
    let (status, headers, body, took) = get_timed(&client, &server.url("/readyz"), None).await;
    let (live, _, live_body, _) = get_timed(&client, &server.url("/healthz"), None).await;
    drop(locks);

    assert_unavailable(status, &headers, &body);
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    // The process itself is alive: only readiness fails.
    assert_eq!(
        (live, live_body),
        (200, serde_json::json!({ "status": "ok" }))
    );
    let ready = await_ok(
        &client,
        &server.url("/readyz"),
        None,
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(ready, serde_json::json!({ "status": "ready" }));
}

#[tokio::test]
async fn a_full_read_pool_answers_503_with_retry_after_instead_of_hanging() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let (org, key) = workspace.org_with_key();
    let server = workspace.serve(&[
        ("ENLIST_DATABASE__POOL_SIZE", "1"),
        ("ENLIST_DATABASE__POOL_TIMEOUT", "200ms"),
        ("ENLIST_DELIVERY__POLL_INTERVAL", "1h"),
    ]);
    let client = client();
    let organization = server.url("/v1/organization");
    await_ok(&client, &organization, Some(&key), Duration::from_secs(5)).await;

    // A read that cannot finish occupies the one read connection: readiness
    // gives up on it after its bound, the read itself stays stuck.
    let locks = ReadLocks::hold(&workspace.db);
    let (ready, ready_headers, ready_body, _) =
        get_timed(&client, &server.url("/readyz"), None).await;
    assert_unavailable(ready, &ready_headers, &ready_body);
    let (status, headers, body, took) = get_timed(&client, &organization, Some(&key)).await;
    drop(locks);

    assert_unavailable(status, &headers, &body);
    assert!(
        body["detail"].as_str().unwrap().contains("busy"),
        "the pool wait timed out, nothing else: {body}"
    );
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "waited {took:?} for a connection"
    );
    let body = await_ok(&client, &organization, Some(&key), Duration::from_secs(15)).await;
    assert_eq!(body["id"], org);
}

// ---------------------------------------------------------------- logs

/// One request made by the logging test: what its log line must say.
struct Sent {
    request_id: String,
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// A client that records the request id and status of every response.
struct Recorder {
    client: reqwest::Client,
    base: String,
    sent: Vec<Sent>,
}

impl Recorder {
    async fn send(
        &mut self,
        method: &'static str,
        route: &'static str,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let response = request.send().await.unwrap();
        let request_id = response
            .headers()
            .get("x-request-id")
            .expect("X-Request-Id on every response")
            .to_str()
            .unwrap()
            .to_owned();
        self.sent.push(Sent {
            request_id,
            method,
            route,
            status: response.status().as_u16(),
        });
        response
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// The hidden inputs of the page's sign-in form.
fn sign_in_fields(html: &str) -> Vec<(String, String)> {
    let form = html
        .split("<form")
        .skip(1)
        .find(|form| form.contains(r#"name="intent" value="signin""#))
        .unwrap_or_else(|| panic!("no sign-in form: {html}"));
    let form = form.split("</form>").next().unwrap();
    form.split("<input")
        .skip(1)
        .filter(|input| input.contains(r#"type="hidden""#))
        .map(|input| {
            let attr = |name: &str| {
                let start = input.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                let end = start + input[start..].find('"').unwrap();
                input[start..end]
                    .replace("&#x2f;", "/")
                    .replace("&#47;", "/")
                    .replace("&#x3d;", "=")
                    .replace("&#61;", "=")
                    .replace("&quot;", "\"")
                    .replace("&#34;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[tokio::test]
async fn request_logs_carry_one_line_per_request_and_never_a_secret() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let (_, key) = workspace.org_with_key();
    let password = "Lumberjack-Okay-7431-Sleep";
    let invitee = workspace.json_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "iris@example.com",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    assert_eq!(invitee["hasPassword"], true);
    let client_of = workspace.json(&[
        "client",
        "create",
        "--name",
        "Invitee app",
        "--redirect-uri",
        REDIRECT_URI,
        "--user",
        "iris@example.com",
    ]);
    let client_id = client_of["client_id"].as_str().unwrap().to_owned();
    let client_secret = client_of["client_secret"].as_str().unwrap().to_owned();
    let mut server = workspace.serve(&[("ENLIST_LOG__LEVEL", "debug")]);
    let mut secrets: Vec<(&str, String)> = vec![
        ("api key", key.clone()),
        ("password", password.to_owned()),
        ("client secret", client_secret.clone()),
        ("basic credentials", basic(&client_id, &client_secret)),
    ];
    let mut http = Recorder {
        client: client(),
        base: server.url(""),
        sent: Vec::new(),
    };

    // The admin API with an API key, a request id kept and one replaced.
    let request = http
        .client
        .get(http.url("/v1/organization"))
        .header("X-API-Key", &key)
        .header("X-Request-Id", "abc-123");
    let kept = http.send("GET", "/v1/organization", request).await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
    let long_id = "z".repeat(200);
    let request = http
        .client
        .get(http.url("/healthz"))
        .header("X-Request-Id", &long_id);
    let replaced = http.send("GET", "/healthz", request).await;
    let replacement = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(replacement, long_id);
    assert!(uuid::Uuid::parse_str(&replacement).is_ok(), "{replacement}");
    let request = http
        .client
        .get(http.url("/healthz"))
        .header("X-Request-Id", "has spaces in it");
    let replaced = http.send("GET", "/healthz", request).await;
    assert_ne!(replaced.headers()["x-request-id"], "has spaces in it");
    let request = http
        .client
        .post(http.url("/v1/organization/invitations"))
        .header("X-API-Key", &key)
        .json(&serde_json::json!({ "inviteeEmail": "iris@example.com", "role": "MEMBER" }));
    let created = http
        .send("POST", "/v1/organization/invitations", request)
        .await;
    assert_eq!(created.status(), 200);
    let invitation_id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let request = http
        .client
        .post(http.url(&format!(
            "/v1/organization/invitations/{invitation_id}/resend"
        )))
        .header("X-API-Key", &key);
    http.send("POST", "/v1/organization/invitations/{id}/resend", request)
        .await;

    // Client credentials, then the invitee API with the bearer token.
    let request = http
        .client
        .post(http.url("/oauth/token"))
        .header("Authorization", basic(&client_id, &client_secret))
        .form(&[("grant_type", "client_credentials")]);
    let issued = http.send("POST", "/oauth/token", request).await;
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    let machine_token = issued["access_token"].as_str().unwrap().to_owned();
    secrets.push(("client-credentials access token", machine_token.clone()));
    let request = http
        .client
        .get(http.url("/invitations"))
        .bearer_auth(&machine_token);
    let listed = http.send("GET", "/invitations", request).await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    let uuid = listed[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the invitation's uuid: {listed}"))
        .to_owned();

    // The authorization-code flow with a password, PKCE, then a refresh.
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    secrets.push(("PKCE verifier", verifier.clone()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("state", "xyzzy-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let request = http
        .client
        .get(http.url(&format!("/oauth/authorize?{query}")));
    let page = http.send("GET", "/oauth/authorize", request).await;
    assert_eq!(page.status(), 200);
    let csrf_cookie = cookie_value(&page, "enlist_csrf").expect("a CSRF cookie");
    secrets.push(("CSRF cookie", csrf_cookie.clone()));
    let mut fields = sign_in_fields(&page.text().await.unwrap());
    fields.push(("email".into(), "iris@example.com".into()));
    fields.push(("password".into(), password.into()));
    let request = http
        .client
        .post(http.url("/oauth/authorize"))
        .header("Cookie", format!("enlist_csrf={csrf_cookie}"))
        .form(&fields);
    let redirect = http.send("POST", "/oauth/authorize", request).await;
    assert_eq!(redirect.status(), 303);
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let params: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let code = params.get("code").expect("a code").clone();
    secrets.push(("authorization code", code.clone()));
    let request = http
        .client
        .post(http.url("/oauth/token"))
        .header("Authorization", basic(&client_id, &client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ]);
    let exchanged = http.send("POST", "/oauth/token", request).await;
    assert_eq!(exchanged.status(), 200);
    let exchanged: Value = exchanged.json().await.unwrap();
    let access = exchanged["access_token"].as_str().unwrap().to_owned();
    let refresh = exchanged["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(("access token", access.clone()));
    secrets.push(("refresh token", refresh.clone()));
    let request = http
        .client
        .post(http.url("/oauth/token"))
        .header("Authorization", basic(&client_id, &client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ]);
    let refreshed = http.send("POST", "/oauth/token", request).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(("rotated refresh token", new_refresh.clone()));
    secrets.push((
        "refreshed access token",
        refreshed["access_token"].as_str().unwrap().to_owned(),
    ));
    // A replayed code and a replayed refresh token are refused, and logged without them.
    let request = http
        .client
        .post(http.url("/oauth/token"))
        .header("Authorization", basic(&client_id, &client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ]);
    let replayed = http.send("POST", "/oauth/token", request).await;
    assert_eq!(replayed.status(), 400);
    let request = http
        .client
        .post(http.url("/oauth/revoke"))
        .header("Authorization", basic(&client_id, &client_secret))
        .form(&[("token", new_refresh.as_str())]);
    let revoked = http.send("POST", "/oauth/revoke", request).await;
    assert_eq!(revoked.status(), 200);

    // The hosted invitation page: sign in with the password, then a session cookie.
    let page_path = format!("/invite/{uuid}");
    let request = http.client.get(http.url(&page_path));
    let page = http.send("GET", "/invite/{uuid}", request).await;
    assert_eq!(page.status(), 200);
    let csrf_cookie = cookie_value(&page, "enlist_csrf").expect("a CSRF cookie");
    secrets.push(("invite page CSRF cookie", csrf_cookie.clone()));
    let mut fields = sign_in_fields(&page.text().await.unwrap());
    fields.push(("email".into(), "iris@example.com".into()));
    fields.push(("password".into(), password.into()));
    let request = http
        .client
        .post(http.url(&page_path))
        .header("Cookie", format!("enlist_csrf={csrf_cookie}"))
        .form(&fields);
    let signed_in = http.send("POST", "/invite/{uuid}", request).await;
    assert_eq!(signed_in.status(), 303);
    let session = cookie_value(&signed_in, "enlist_session").expect("a session cookie");
    secrets.push(("session cookie", session.clone()));
    let request = http.client.get(http.url(&page_path)).header(
        "Cookie",
        format!("enlist_session={session}; enlist_csrf={csrf_cookie}"),
    );
    let signed_in_page = http.send("GET", "/invite/{uuid}", request).await;
    assert_eq!(signed_in_page.status(), 200);
    let html = signed_in_page.text().await.unwrap();
    assert!(html.contains("iris@example.com"), "signed in: {html}");
    // A wrong password, too, is never logged.
    let wrong = "Not-The-Password-9931";
    secrets.push(("wrong password", wrong.to_owned()));
    let request = http
        .client
        .get(http.url(&format!("/oauth/authorize?{query}")));
    let page = http.send("GET", "/oauth/authorize", request).await;
    let csrf_cookie = cookie_value(&page, "enlist_csrf").unwrap();
    let mut fields = sign_in_fields(&page.text().await.unwrap());
    fields.push(("email".into(), "iris@example.com".into()));
    fields.push(("password".into(), wrong.into()));
    let request = http
        .client
        .post(http.url("/oauth/authorize"))
        .header("Cookie", format!("enlist_csrf={csrf_cookie}"))
        .form(&fields);
    let refused = http.send("POST", "/oauth/authorize", request).await;
    assert_eq!(refused.status(), 401);

    server.signal("TERM");
    let (status, _) = server.wait_for_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    let log = server.log();
    let whole = log.join("\n");

    for (what, secret) in &secrets {
        assert!(
            secret.len() >= 8,
            "{what} is too short to search for: {secret:?}"
        );
        assert!(
            !whole.contains(secret.as_str()),
            "the {what} appears in the log:\n{whole}"
        );
    }
    // Every line is JSON; every request has exactly one request line.
    let events: Vec<Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let request_lines: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "request")
        .collect();
    assert_eq!(request_lines.len(), http.sent.len(), "{whole}");
    for sent in &http.sent {
        let matching: Vec<&&Value> = request_lines
            .iter()
            .filter(|line| request_id_of(line) == Some(sent.request_id.as_str()))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "one line for {}: {whole}",
            sent.request_id
        );
        let line = matching[0];
        assert_eq!(line["method"], sent.method, "{line}");
        assert_eq!(line["route"], sent.route, "{line}");
        assert_eq!(line["status"], sent.status, "{line}");
        let latency = match &line["latency_ms"] {
            Value::Number(n) => n.as_f64().unwrap(),
            Value::String(s) => s.parse::<f64>().unwrap(),
            other => panic!("latency_ms: {other}"),
        };
        assert!((0.0..60_000.0).contains(&latency), "{line}");
    }
    assert!(
        request_lines
            .iter()
            .any(|l| request_id_of(l) == Some("abc-123")),
        "the kept id is logged"
    );
    assert!(
        !whole.contains(&long_id) && !whole.contains("has spaces in it"),
        "a refused request id is never logged"
    );
    // Nothing of the raw path that carries a secret-like value leaks as a route.
    assert!(
        !whole.contains("code_challenge="),
        "no query strings in the log"
    );
}

/// The request id of a log line: a field of the line or of its request span.
fn request_id_of(line: &Value) -> Option<&str> {
    line["request_id"]
        .as_str()
        .or_else(|| line["span"]["request_id"].as_str())
}

#[test]
fn the_text_log_format_is_one_line_per_request_too() {
    if fixture::sqlite_suite("lifecycle") {
        return;
    }
    let workspace = Workspace::new();
    let mut command = workspace.command_on(&workspace.db, &["serve", "--bind", "127.0.0.1:0"]);
    command.env("ENLIST_LOG__FORMAT", "text");
    let mut server = Server::start(command);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: text-42\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status = server.stop();
    assert_eq!(status.code(), Some(0));
    let rest = server.log().join("\n");
    let request_line = rest
        .lines()
        .find(|l| l.contains("text-42"))
        .unwrap_or_else(|| panic!("no request line: {rest}"));
    for part in ["GET", "/healthz", "200", "latency_ms", "request"] {
        assert!(request_line.contains(part), "{part} in {request_line}");
    }
    assert!(
        serde_json::from_str::<Value>(request_line).is_err(),
        "text, not JSON"
    );
}
