//! What only the PostgreSQL backend has: moving a SQLite database up with
//! `enlist copy`, a URL that cannot serve, and an outage while serving.
//!
//! Runs with `ENLIST_TEST_BACKEND=postgres` (the README's test command does);
//! the outage test stops and restarts a cluster of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/postgres.rs"]
mod test_postgres;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn enlist(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enlist"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn skipped() -> bool {
    if !test_postgres::enabled() {
        eprintln!("skipped: a PostgreSQL test (ENLIST_TEST_BACKEND=postgres)");
    }
    !test_postgres::enabled()
}

#[test]
fn copy_moves_a_whole_sqlite_database_up_and_refuses_a_target_with_data() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enlist.db");
    let file = file.to_str().unwrap();
    let seeded = json_of(&enlist(
        dir.path(),
        &[
            "--database",
            file,
            "dev",
            "seed",
            "--orgs",
            "3",
            "--invitations",
            "1500",
            "--other-invitations",
            "200",
            "--members",
            "30",
            "--accept-pool",
            "5",
        ],
    ));
    let key = seeded["apiKey"].as_str().unwrap().to_owned();
    let url = test_postgres::fresh_database();

    let copied = json_of(&enlist(
        dir.path(),
        &["--database", file, "copy", "--to", &url],
    ));
    let source = rusqlite::Connection::open(file).unwrap();
    let tables = copied["tables"].as_object().unwrap();
    assert_eq!(tables.len(), 15, "every table: {copied}");
    for (table, rows) in tables {
        let in_file: i64 = source
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows.as_i64(), Some(in_file), "{table}: {copied}");
    }
    assert!(tables["invitations"].as_i64().unwrap() > 1500, "{copied}");

    // The copy answers as the file did: same key, same page, same totals.
    let from_file = first_page(dir.path(), &["--database", file], &key);
    let from_postgres = first_page(dir.path(), &["--database-url", &url], &key);
    assert_eq!(from_file["totalCount"], from_postgres["totalCount"]);
    assert_eq!(from_file["items"], from_postgres["items"]);

    // A second copy into the same database merges nothing.
    let again = enlist(dir.path(), &["--database", file, "copy", "--to", &url]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds"), "{stderr}");
    // And the command needs a SQLite source.
    let wrong_way = enlist(dir.path(), &["--database-url", &url, "copy", "--to", &url]);
    assert!(!wrong_way.status.success());
}

/// `GET /v1/organization/invitations?limit=100` from a server on `database`.
fn first_page(dir: &Path, database: &[&str], key: &str) -> Value {
    let mut args = database.to_vec();
    args.extend(["serve", "--bind", "127.0.0.1:0"]);
    let (server, addr) = serve(dir, &args);
    let (_, page) = get(
        &format!("http://{addr}/v1/organization/invitations?limit=100"),
        Some(key),
    );
    drop(server);
    page
}

/// One GET, answered as (status, JSON body or Null).
fn get(url: &str, key: Option<&str>) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
}

/// A served process, killed when dropped, pass or fail.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, args: &[&str]) -> (Served, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_enlist"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("ENLIST_LOG__FORMAT", "json")
        .env("ENLIST_DATABASE__POOL_TIMEOUT", "1s")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "enlist is serving"
            {
                let _ = sender.send(event["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let child = Served(child);
    let addr = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the server serves");
    (child, addr)
}

#[test]
fn a_url_that_cannot_serve_stops_serve_with_one_line_and_no_password() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("postgres://enlist:s3cret-pw@127.0.0.1:{closed}/enlist"),
        "postgres://enlist:s3cret-pw@[broken/enlist".to_owned(),
        "postgres://enlist:s3cret-pw@localhost/enlist?sslmode=sometimes".to_owned(),
        "mysql://enlist:s3cret-pw@localhost/enlist".to_owned(),
    ] {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_enlist"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("ENLIST_DATABASE__POOL_TIMEOUT", "2s")
            .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(15), "{url}");
        assert!(!stderr.contains("s3cret"), "the password shows: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line for {url}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{stderr}");
    }
}

#[test]
fn an_outage_answers_503_and_readyz_says_so_then_the_server_recovers_by_itself() {
    if skipped() {
        return;
    }
    let cluster = test_postgres::Cluster::start().unwrap();
    let url = cluster.database("outage");
    let dir = tempfile::tempdir().unwrap();
    let org = json_of(&enlist(
        dir.path(),
        &[
            "--database-url",
            &url,
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ],
    ));
    let key = json_of(&enlist(
        dir.path(),
        &[
            "--database-url",
            &url,
            "api-key",
            "create",
            "--org",
            &org["organization"]["id"].to_string(),
            "--user",
            &org["admin"]["id"].to_string(),
            "--scopes",
            "organization:read",
        ],
    ))["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (server, addr) = serve(
        dir.path(),
        &["--database-url", &url, "serve", "--bind", "127.0.0.1:0"],
    );
    let organization = || get(&format!("http://{addr}/v1/organization"), Some(&key));
    let ready = || get(&format!("http://{addr}/readyz"), None).0;
    assert_eq!(organization().0, 200);

    cluster.stop().unwrap();
    for _ in 0..3 {
        let (status, body) = organization();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "unavailable", "{body}");
        assert!(
            !body.to_string().contains("postgres"),
            "no internals: {body}"
        );
    }
    assert_eq!(ready(), 503);

    cluster.resume().unwrap();
    let started = Instant::now();
    loop {
        let (status, body) = organization();
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never recovered: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ready(), 200);
    let (status, body) = organization();
    assert_eq!((status, body["name"].clone()), (200, Value::from("Acme")));
    drop(server);
}
