//! What only the PostgreSQL backend has: moving a SQLite database up with
//! `enlist copy`, a URL that cannot serve, and an outage while serving.
//!
//! Runs with `ENLIST_TEST_BACKEND=postgres` (the README's test command does);
//! the outage test stops and restarts a cluster of its own.

use crate::fixture::{self, Server, wait_for};
use crate::test_postgres;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

fn enlist(dir: &Path, args: &[&str]) -> Output {
    fixture::enlist(dir).args(args).output().unwrap()
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
    // A webhook endpoint with a delivery and its attempt, an invitation
    // message's secret and an identity, so the event, link and identity
    // tables move too (and a second factor with a recovery code).
    rusqlite::Connection::open(file)
        .unwrap()
        .execute_batch(
            "INSERT INTO webhook_endpoints (org_id, url, event_types, enabled, secret, created_at, updated_at)
             VALUES (1, 'https://93.184.216.34/in', ',api_key.created,', 1, 'whsec_x', 0, 0);
             INSERT INTO webhook_deliveries (endpoint_id, event_id, state, attempts, next_attempt_at, created_at)
             SELECT 1, MIN(id), 'pending', 1, 0, 0 FROM events;
             INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, outcome, duration_ms)
             VALUES (1, 1, 1, 0, 'retrying', 5);
             INSERT INTO invitation_links (token_sha256, invitation_id, created_at)
             SELECT randomblob(32), MIN(id), 0 FROM invitations;
             INSERT INTO identities (user_id, issuer, subject, provider, email, created_at, last_used_at)
             SELECT MIN(id), 'https://idp.corp.test', '248289761001', 'corp', NULL, 0, 0 FROM users;
             INSERT INTO totp_factors (user_id, secret, created_at, confirmed_at, last_step)
             SELECT MIN(id), randomblob(20), 0, 0, 7 FROM users;
             INSERT INTO recovery_codes (user_id, code_sha256, created_at)
             SELECT MIN(id), randomblob(32), 0 FROM users;
             INSERT INTO passkey_handles (user_id, handle)
             SELECT MIN(id), '0b6f3c1e-4a7d-4a8e-9a55-3f0f5b1f2c11' FROM users;
             INSERT INTO passkeys (credential_id, user_id, name, passkey, created_at, last_used_at)
             SELECT randomblob(16), MIN(id), 'Laptop', '{}', 0, 1 FROM users;
             INSERT INTO passkey_ceremonies (id_sha256, user_id, name, state, created_at, expires_at)
             VALUES (randomblob(32), NULL, NULL, '{}', 0, 0);
             INSERT INTO email_codes (browser_sha256, email_key, email, code_hmac, return_to,
                                      attempts, created_at, expires_at)
             VALUES (randomblob(32), 'ada@x.test', 'Ada@x.test', randomblob(32), '/admin', 2, 0, 0);
             INSERT INTO teams (org_id, name, name_key, created_at, updated_at)
             VALUES (1, 'Ops', 'ops', 0, 0);
             INSERT INTO team_members (team_id, user_id, org_id, created_at)
             SELECT 1, user_id, org_id, 0 FROM memberships WHERE org_id = 1 LIMIT 3;
             INSERT INTO invitation_teams (invitation_id, team_id)
             SELECT MIN(id), 1 FROM invitations WHERE org_id = 1;
             INSERT INTO org_domains (org_id, domain, mode, role, challenge, verified_at,
                                      checked_at, created_at)
             VALUES (1, 'acme.test', 'auto_join', 'MEMBER', 'enlist-verification=x', 1, 1, 0);
             INSERT INTO domain_teams (domain_id, team_id) VALUES (1, 1);",
        )
        .unwrap();

    let copied = json_of(&enlist(
        dir.path(),
        &["--database", file, "copy", "--to", &url],
    ));
    let source = rusqlite::Connection::open(file).unwrap();
    let tables = copied["tables"].as_object().unwrap();
    assert_eq!(tables.len(), 36, "every table: {copied}");
    for (table, rows) in tables {
        let in_file: i64 = source
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows.as_i64(), Some(in_file), "{table}: {copied}");
    }
    assert!(tables["invitations"].as_i64().unwrap() > 1500, "{copied}");
    for table in [
        "events",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_attempts",
        "email_codes",
        "teams",
        "team_members",
        "invitation_teams",
    ] {
        assert!(tables[table].as_i64().unwrap() >= 1, "{table}: {copied}");
    }

    // The copy answers as the file did: same key, same page, same totals.
    let from_file = first_page(dir.path(), &["--database", file], &key);
    let from_postgres = first_page(dir.path(), &["--database-url", &url], &key);
    assert_eq!(from_file["totalCount"], from_postgres["totalCount"]);
    assert_eq!(from_file["items"], from_postgres["items"]);

    // The counters' triggers, switched off for the copy, count again.
    let mut target = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let team_members: i64 = target
        .query_one("SELECT member_count FROM teams WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(team_members, tables["team_members"].as_i64().unwrap());
    assert_eq!(disabled_triggers(&mut target), Vec::<String>::new());

    // A second copy into the same database merges nothing.
    let again = enlist(dir.path(), &["--database", file, "copy", "--to", &url]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds"), "{stderr}");
    // And the command needs a SQLite source.
    let wrong_way = enlist(dir.path(), &["--database-url", &url, "copy", "--to", &url]);
    assert!(!wrong_way.status.success());
}

/// The user triggers of the target that are not enabled.
fn disabled_triggers(target: &mut postgres::Client) -> Vec<String> {
    target
        .query(
            "SELECT tgname::TEXT FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'O'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn copy_keeps_awkward_text_bytes_and_nulls_and_refuses_a_nul_character_naming_where() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enlist.db");
    let file = file.to_str().unwrap();
    json_of(&enlist(dir.path(), &["--database", file, "init"]));
    json_of(&enlist(
        dir.path(),
        &[
            "--database",
            file,
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ],
    ));
    // What COPY's text format would have to escape, and bytes that are no text.
    let awkward = "tab\there, new\nline, back\\slash \\N \\., 'single' \"double\", \r, ünï ✓";
    let token: &[u8] = &[0, 9, 10, 92, 78, 255, 0];
    let source = rusqlite::Connection::open(file).unwrap();
    source
        .execute(
            "UPDATE users SET first_name = ?1, last_name = '', avatar_url = NULL",
            [awkward],
        )
        .unwrap();
    source
        .execute(
            "INSERT INTO web_sessions (token_sha256, user_id, created_at, expires_at)
             VALUES (?1, 1, 0, 9999999999999)",
            [token],
        )
        .unwrap();
    let url = test_postgres::fresh_database();

    json_of(&enlist(
        dir.path(),
        &["--database", file, "copy", "--to", &url],
    ));

    let mut target = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let user = target
        .query_one(
            "SELECT first_name, last_name, avatar_url FROM users WHERE id = 1",
            &[],
        )
        .unwrap();
    assert_eq!(user.get::<_, String>(0), awkward);
    assert_eq!(user.get::<_, String>(1), "");
    assert_eq!(user.get::<_, Option<String>>(2), None);
    let stored: Vec<u8> = target
        .query_one("SELECT token_sha256 FROM web_sessions", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, token);

    // PostgreSQL's text cannot hold U+0000, which SQLite's can.
    source
        .execute(
            "UPDATE organizations SET name = 'Ac' || char(0) || 'me'",
            [],
        )
        .unwrap();
    let empty = test_postgres::fresh_database();
    let refused = enlist(dir.path(), &["--database", file, "copy", "--to", &empty]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("organizations.name") && stderr.contains("U+0000"),
        "{stderr}"
    );
    let mut target = postgres::Client::connect(&empty, postgres::NoTls).unwrap();
    let left: i64 = target
        .query_one(
            "SELECT (SELECT COUNT(*) FROM organizations) + (SELECT COUNT(*) FROM users)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "nothing was copied");
    assert_eq!(disabled_triggers(&mut target), Vec::<String>::new());
}

#[test]
fn a_role_that_does_not_own_the_tables_copies_with_the_counter_triggers_on() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enlist.db");
    let file = file.to_str().unwrap();
    json_of(&enlist(
        dir.path(),
        &[
            "--database",
            file,
            "dev",
            "seed",
            "--orgs",
            "2",
            "--invitations",
            "300",
            "--members",
            "5",
        ],
    ));
    // Migrated by its owner; the copying role may read and write every
    // table, not alter them.
    let url = test_postgres::fresh_database();
    json_of(&enlist(dir.path(), &["--database-url", &url, "init"]));
    let mut copier = url::Url::parse(&url).unwrap();
    let role = format!("{}_copier", copier.path().trim_start_matches('/'));
    let mut owner = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let granted = owner.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT USAGE, CREATE ON SCHEMA public TO {role};
         GRANT ALL ON ALL TABLES IN SCHEMA public TO {role};
         GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role};"
    ));
    if let Err(error) = &granted
        && error.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    {
        eprintln!("skipped: the test server's role may not create roles ({error:?})");
        return;
    }
    granted.unwrap();
    copier.set_username(&role).unwrap();

    let output = enlist(
        dir.path(),
        &["--database", file, "copy", "--to", copier.as_str()],
    );

    let copied = json_of(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("counter triggers on"), "{stderr}");
    let source = rusqlite::Connection::open(file).unwrap();
    let invitations: i64 = source
        .query_row("SELECT COUNT(*) FROM invitations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(copied["tables"]["invitations"], invitations);
    let counted: i64 = owner
        .query_one("SELECT SUM(n)::BIGINT FROM invitation_counts", &[])
        .unwrap()
        .get(0);
    assert_eq!(counted, invitations);
    assert_eq!(disabled_triggers(&mut owner), Vec::<String>::new());
}

/// `GET /v1/organization/invitations?limit=100` from a server on `database`.
fn first_page(dir: &Path, database: &[&str], key: &str) -> Value {
    let mut args = database.to_vec();
    args.extend(["serve", "--bind", "127.0.0.1:0"]);
    let server = serve(dir, &args);
    let (_, page) = get(
        &server.url("/v1/organization/invitations?limit=100"),
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

/// `enlist ARGS` (a `serve`), once it serves.
fn serve(dir: &Path, args: &[&str]) -> Server {
    let mut command = fixture::enlist(dir);
    command
        .env("ENLIST_DATABASE__POOL_TIMEOUT", "1s")
        .args(args);
    Server::start(command)
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
        let output = fixture::enlist(dir.path())
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
    let server = serve(
        dir.path(),
        &["--database-url", &url, "serve", "--bind", "127.0.0.1:0"],
    );
    let organization = || get(&server.url("/v1/organization"), Some(&key));
    let ready = || get(&server.url("/readyz"), None).0;
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
    wait_for(Duration::from_secs(20), "the server to recover", || {
        (organization().0 == 200).then_some(())
    });
    assert_eq!(ready(), 200);
    let (status, body) = organization();
    assert_eq!((status, body["name"].clone()), (200, Value::from("Acme")));
    drop(server);
}
