//! The command line, run as the built binary against a temporary database.

// Helpers are not test functions, so clippy's test allowances miss them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enlist::config::DatabaseSettings;
use enlist::db::Database;
use enlist::domain::Scope;
use enlist::services;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const ALL_SCOPES: &str =
    "organization:read,invitations:read,invitations:write,users:read,users:write";

/// A temporary working directory holding the database the commands use.
struct Cli {
    dir: TempDir,
    db: PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("enlist.db");
        Self { dir, db }
    }

    /// The binary, run in the temporary directory with no enlist settings
    /// inherited from the environment.
    fn bare(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_enlist"));
        command.current_dir(self.dir.path()).env_remove("RUST_LOG");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ENLIST_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// The binary with `--database` pointing at this test's file.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare();
        command.arg("--database").arg(&self.db).args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed and print exactly one JSON object.
    fn json(&self, args: &[&str]) -> Value {
        one_json_object(&self.run(args))
    }

    fn database(&self) -> Database {
        open_database(&self.db)
    }

    fn query_i64(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(&self.db)
            .unwrap()
            .query_row(sql, [], |row| row.get(0))
            .unwrap()
    }

    /// An organization with its admin; answers (organization id, admin id).
    fn org(&self, name: &str, email: &str) -> (i64, i64) {
        let created = self.json(&["org", "create", "--name", name, "--admin-email", email]);
        (
            created["organization"]["id"].as_i64().unwrap(),
            created["admin"]["id"].as_i64().unwrap(),
        )
    }

    fn api_key(&self, org: i64, user: i64, scopes: &str) -> Value {
        self.json(&[
            "api-key",
            "create",
            "--org",
            &org.to_string(),
            "--user",
            &user.to_string(),
            "--scopes",
            scopes,
        ])
    }
}

fn open_database(path: &Path) -> Database {
    Database::open(&DatabaseSettings {
        path: path.to_owned(),
        ..DatabaseSettings::default()
    })
    .unwrap()
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts success and stdout holding exactly one JSON object on one line.
fn one_json_object(output: &Output) -> Value {
    let stdout = stdout_of(output);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        stderr_of(output)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line expected: {stdout}");
    let value: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(value.is_object(), "{value}");
    value
}

/// Asserts a failure: non-zero exit, nothing on stdout, `needle` on stderr.
fn assert_fails_saying(output: &Output, needle: &str) {
    let stderr = stderr_of(output);
    assert!(
        !output.status.success(),
        "should fail; stdout: {}",
        stdout_of(output)
    );
    assert_eq!(stdout_of(output), "", "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "{needle:?} not in stderr: {stderr}"
    );
}

fn authenticate(db: &Database, key: &str) -> Option<enlist::domain::ApiKey> {
    db.read_blocking(|conn| services::api_keys::authenticate(conn, key))
        .unwrap()
}

fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

// ---------------------------------------------------------------- org

#[test]
fn org_create_prints_one_json_object_with_the_organization_and_its_admin() {
    let cli = Cli::new();

    let created = cli.json(&[
        "org",
        "create",
        "--name",
        "  Acme  ",
        "--logo-url",
        "https://cdn.example.com/acme.png",
        "--admin-email",
        " Ada@Acme.test ",
        "--admin-first-name",
        "Ada",
        "--admin-last-name",
        "Lovelace",
    ]);

    assert_eq!(keys_of(&created), ["admin", "organization"]);
    let org = &created["organization"];
    assert_eq!(
        keys_of(org),
        [
            "createdAt",
            "id",
            "logoUrl",
            "memberCount",
            "name",
            "updatedAt",
            "uuid"
        ]
    );
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["logoUrl"], "https://cdn.example.com/acme.png");
    assert_eq!(org["memberCount"], 1);
    assert!(uuid::Uuid::parse_str(org["uuid"].as_str().unwrap()).is_ok());
    let admin = &created["admin"];
    assert_eq!(admin["email"], "Ada@Acme.test");
    assert_eq!(admin["firstName"], "Ada");
    assert_eq!(admin["lastName"], "Lovelace");
    assert_eq!(admin["hasPassword"], false);
    assert!(admin.get("passwordHash").is_none(), "{admin}");
    assert_eq!(
        cli.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {} AND user_id = {} AND role = 'ADMIN'",
            org["id"], admin["id"]
        )),
        1
    );
}

#[test]
fn org_create_reuses_an_existing_account_for_its_admin() {
    let cli = Cli::new();
    let user = cli.json(&["user", "create", "--email", "ada@acme.test"]);

    let first = cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ADA@acme.test",
    ]);
    let second = cli.json(&[
        "org",
        "create",
        "--name",
        "Globex",
        "--admin-email",
        "ada@ACME.test",
    ]);

    assert_eq!(first["admin"]["id"], user["id"]);
    assert_eq!(second["admin"]["id"], user["id"]);
    assert_ne!(first["organization"]["id"], second["organization"]["id"]);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 1);
}

#[test]
fn accounts_the_operator_makes_are_verified() {
    let cli = Cli::new();

    let user = cli.json(&["user", "create", "--email", "grace@example.test"]);
    let org = cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ada@acme.test",
    ]);

    assert_eq!(user["emailVerified"], true, "{user}");
    assert_eq!(org["admin"]["emailVerified"], true, "{org}");
    assert_eq!(
        cli.query_i64("SELECT COUNT(*) FROM users WHERE email_verified_at IS NOT NULL"),
        2
    );
}

#[test]
fn org_create_refuses_an_unverified_account_unless_told_to_claim_it() {
    let cli = Cli::new();
    // Someone signed up with the address on a page and never proved it.
    cli.json(&["user", "create", "--email", "boss@corp.test"]);
    let conn = rusqlite::Connection::open(&cli.db).unwrap();
    conn.execute_batch(
        "UPDATE users SET email_verified_at = NULL, password_hash = 'a stranger''s hash';
         INSERT INTO web_sessions (token_sha256, user_id, created_at, expires_at)
         VALUES (x'00', 1, 0, 9999999999999);",
    )
    .unwrap();

    let refused = cli.run(&[
        "org",
        "create",
        "--name",
        "Corp",
        "--admin-email",
        "boss@corp.test",
    ]);
    assert_fails_saying(&refused, "never verified");
    assert_fails_saying(&refused, "--claim-unverified");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 0);

    let claimed = cli.json(&[
        "org",
        "create",
        "--name",
        "Corp",
        "--admin-email",
        "boss@corp.test",
        "--claim-unverified",
    ]);
    assert_eq!(claimed["admin"]["id"], 1);
    assert_eq!(claimed["admin"]["emailVerified"], true);
    assert_eq!(
        claimed["admin"]["hasPassword"], false,
        "the stranger's password is gone"
    );
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);
}

#[test]
fn org_create_refuses_invalid_input_on_stderr() {
    let cli = Cli::new();

    let bad_email = cli.run(&["org", "create", "--name", "Acme", "--admin-email", "nope"]);
    let blank_name = cli.run(&["org", "create", "--name", "  ", "--admin-email", "a@b.test"]);
    let bad_logo = cli.run(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--logo-url",
        "ftp://x",
        "--admin-email",
        "a@b.test",
    ]);

    assert_fails_saying(&bad_email, "nope");
    assert_fails_saying(&blank_name, "name");
    assert_fails_saying(&bad_logo, "logoUrl");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 0);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 0);
}

// ---------------------------------------------------------------- api-key

#[test]
fn api_key_create_prints_the_key_once_and_the_key_authenticates() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");

    let created = cli.json(&[
        "api-key",
        "create",
        "--org",
        &org.to_string(),
        "--user",
        &admin.to_string(),
        "--scopes",
        "users:read, invitations:read",
        "--name",
        "ci",
    ]);

    assert_eq!(
        keys_of(&created),
        [
            "createdAt",
            "id",
            "key",
            "name",
            "organizationId",
            "revokedAt",
            "revokedReason",
            "scopes",
            "state",
            "userId"
        ]
    );
    assert_eq!(created["state"], "active");
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("enl_"), "{key}");
    assert_eq!(key.len(), 4 + 12 + 1 + 32, "{key}");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["invitations:read", "users:read"])
    );
    assert_eq!(created["name"], "ci");
    assert_eq!(created["organizationId"], org);
    assert_eq!(created["userId"], admin);
    assert!(created["revokedAt"].is_null());

    let found = authenticate(&cli.database(), key).expect("the printed key authenticates");
    assert_eq!(found.id, created["id"].as_i64().unwrap());
    assert_eq!(found.org_id, org);
    assert_eq!(found.user_id, admin);
    assert_eq!(found.scopes, [Scope::InvitationsRead, Scope::UsersRead]);
    // Only a digest of the secret is stored.
    let secret = key.rsplit_once('_').unwrap().1;
    assert_eq!(
        cli.query_i64(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE instr(scopes || name || public_id, '{secret}') > 0 \
             OR instr(CAST(secret_sha256 AS TEXT), '{secret}') > 0"
        )),
        0
    );
    assert_eq!(
        cli.query_i64("SELECT length(secret_sha256) FROM api_keys"),
        32
    );
}

/// Stops the served process it holds when the test ends, pass or fail.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_key_from_the_command_line_works_against_the_served_api() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let key = cli.api_key(org, admin, "organization:read")["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut child = cli
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("ENLIST_LOG__FORMAT", "json")
        .env("ENLIST_SERVER__WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let served = Served(child);
    // The bound address is in the startup log line; keep draining stderr after it.
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
    let addr = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the server logs its address");

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/organization");
    let with_key = client
        .get(&url)
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    let without_scope = client
        .get(format!("http://{addr}/v1/organization/users"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();

    assert_eq!(with_key.status(), 200);
    let body: Value = with_key.json().await.unwrap();
    assert_eq!(body["id"], org);
    assert_eq!(body["name"], "Acme");
    assert_eq!(without_scope.status(), 403);

    // Revoking from the command line while the server runs stops the key at once.
    let revoke = cli.run(&["api-key", "revoke", "1"]);
    assert!(revoke.status.success(), "{}", stderr_of(&revoke));
    let after = client
        .get(&url)
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    drop(served);
}

#[test]
fn api_key_list_shows_every_key_without_its_secret() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let (other_org, other_admin) = cli.org("Globex", "gil@globex.test");
    let first = cli.api_key(org, admin, ALL_SCOPES);
    let second = cli.api_key(org, admin, "users:read");
    let foreign = cli.api_key(other_org, other_admin, ALL_SCOPES);

    let listed = cli.json(&["api-key", "list", "--org", &org.to_string()]);

    let items = listed["items"].as_array().unwrap();
    let ids: Vec<_> = items.iter().map(|k| k["id"].clone()).collect();
    assert_eq!(ids, [first["id"].clone(), second["id"].clone()]);
    for item in items {
        assert!(item.get("key").is_none(), "{item}");
        assert_eq!(item["organizationId"], org);
    }
    assert_eq!(items[1]["scopes"], serde_json::json!(["users:read"]));
    let text = listed.to_string();
    for created in [&first, &second, &foreign] {
        let secret = created["key"].as_str().unwrap().rsplit_once('_').unwrap().1;
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn api_key_list_of_an_unknown_organization_fails() {
    let cli = Cli::new();

    let output = cli.run(&["api-key", "list", "--org", "42"]);

    assert_fails_saying(&output, "organization not found");
}

#[test]
fn api_key_revoke_stops_the_key_and_is_harmless_twice() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let kept = cli.api_key(org, admin, ALL_SCOPES);
    let revoked = cli.api_key(org, admin, ALL_SCOPES);
    let db = cli.database();
    let id = revoked["id"].to_string();
    assert!(authenticate(&db, revoked["key"].as_str().unwrap()).is_some());

    let first = cli.json(&["api-key", "revoke", &id]);
    let second = cli.json(&["api-key", "revoke", &id]);

    assert_eq!(first["id"], revoked["id"]);
    assert!(first.get("key").is_none(), "{first}");
    assert!(first["revokedAt"].is_string(), "{first}");
    assert_eq!(second["revokedAt"], first["revokedAt"], "revoked once");
    assert!(authenticate(&db, revoked["key"].as_str().unwrap()).is_none());
    assert!(authenticate(&db, kept["key"].as_str().unwrap()).is_some());
    let listed = cli.json(&["api-key", "list", "--org", &org.to_string()]);
    assert!(listed["items"][0]["revokedAt"].is_null());
    assert_eq!(listed["items"][1]["revokedAt"], first["revokedAt"]);
}

#[test]
fn api_key_revoke_of_an_unknown_key_fails() {
    let cli = Cli::new();

    let output = cli.run(&["api-key", "revoke", "42"]);

    assert_fails_saying(&output, "API key not found");
}

#[test]
fn api_key_create_refuses_members_unknown_scopes_and_empty_scopes() {
    let cli = Cli::new();
    let (org, _admin) = cli.org("Acme", "ada@acme.test");
    let member = cli.json(&["user", "create", "--email", "bob@acme.test"])["id"]
        .as_i64()
        .unwrap();
    rusqlite::Connection::open(&cli.db)
        .unwrap()
        .execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
             VALUES (?1, ?2, 'MEMBER', 0, 0)",
            [org, member],
        )
        .unwrap();
    let create = |user: i64, scopes: &str| {
        cli.run(&[
            "api-key",
            "create",
            "--org",
            &org.to_string(),
            "--user",
            &user.to_string(),
            "--scopes",
            scopes,
        ])
    };

    assert_fails_saying(&create(member, ALL_SCOPES), "admin");
    assert_fails_saying(&create(1, "users:read,admin"), "unknown scope `admin`");
    assert_fails_saying(&create(1, " , "), "at least one scope");
    assert_fails_saying(&create(999, ALL_SCOPES), "not found");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM api_keys"), 0);
}

// ---------------------------------------------------------------- user

#[test]
fn user_create_with_password_stdin_stores_only_an_argon2id_hash() {
    let cli = Cli::new();
    let password = "correct horse battery";

    let output = cli.run_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "Bob@Example.com",
            "--first-name",
            "Bob",
            "--password-stdin",
        ],
        &format!("{password}\nsecond line is ignored\n"),
    );

    let user = one_json_object(&output);
    assert_eq!(user["email"], "Bob@Example.com");
    assert_eq!(user["firstName"], "Bob");
    assert_eq!(user["hasPassword"], true);
    let printed = format!("{}{}", stdout_of(&output), stderr_of(&output));
    assert!(!printed.contains(password), "{printed}");
    assert!(!printed.contains("argon2"), "{printed}");
    let stored: String = rusqlite::Connection::open(&cli.db)
        .unwrap()
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [user["id"].as_i64().unwrap()],
            |row| row.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(enlist::auth::password::verify(password, &stored));
    assert!(!enlist::auth::password::verify(
        "second line is ignored",
        &stored
    ));
}

#[test]
fn user_create_without_a_password_has_none() {
    let cli = Cli::new();

    let user = cli.json(&["user", "create", "--email", "bob@example.com"]);

    assert_eq!(user["hasPassword"], false);
    assert_eq!(
        cli.query_i64("SELECT COUNT(*) FROM users WHERE password_hash IS NULL"),
        1
    );
}

#[test]
fn user_create_refuses_a_short_or_missing_password() {
    let cli = Cli::new();

    let short = cli.run_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        "seven7\n",
    );
    let empty = cli.run_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        "",
    );

    assert_fails_saying(&short, "at least 8 characters");
    assert!(!stderr_of(&short).contains("seven7"));
    assert_fails_saying(&empty, "no password");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 0);
}

#[test]
fn user_create_refuses_a_taken_email_in_any_case() {
    let cli = Cli::new();
    cli.json(&["user", "create", "--email", "bob@example.com"]);

    let output = cli.run(&["user", "create", "--email", "BOB@example.COM"]);

    assert_fails_saying(&output, "already exists");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 1);
}

// ---------------------------------------------------------------- configuration

#[test]
fn an_unknown_configuration_key_is_an_error_naming_it() {
    let cli = Cli::new();
    let config = cli.dir.path().join("custom.toml");
    std::fs::write(&config, "[server]\nbnid = \"127.0.0.1:1\"\n").unwrap();

    let with_flag = cli
        .command(&[
            "--config",
            config.to_str().unwrap(),
            "user",
            "create",
            "--email",
            "a@b.test",
        ])
        .output()
        .unwrap();
    let with_env = cli
        .command(&["user", "create", "--email", "a@b.test"])
        .env("ENLIST_CONFIG", &config)
        .output()
        .unwrap();

    assert_fails_saying(&with_flag, "bnid");
    assert_fails_saying(&with_env, "bnid");
    assert!(
        !cli.db.exists(),
        "nothing is opened with a bad configuration"
    );
}

#[test]
fn an_unknown_environment_setting_is_an_error_naming_it() {
    let cli = Cli::new();

    let output = cli
        .command(&["user", "create", "--email", "a@b.test"])
        .env("ENLIST_INVITATIONS__LIFETIMEZ", "4s")
        .output()
        .unwrap();

    assert_fails_saying(&output, "lifetimez");
}

#[test]
fn a_missing_configuration_file_is_an_error() {
    let cli = Cli::new();

    let output = cli.run(&[
        "--config",
        "nowhere.toml",
        "user",
        "create",
        "--email",
        "a@b.test",
    ]);

    assert_fails_saying(&output, "nowhere.toml");
}

#[test]
fn the_enlist_database_variable_is_honoured() {
    let cli = Cli::new();
    let path = cli.dir.path().join("from-env.db");

    let output = cli
        .bare()
        .args([
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ])
        .env("ENLIST_DATABASE", &path)
        .output()
        .unwrap();

    one_json_object(&output);
    let db = open_database(&path);
    let names: i64 = db
        .read_blocking(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM organizations WHERE name = 'Acme'",
                [],
                |row| row.get(0),
            )
            .map_err(enlist::db::StorageError::from)
        })
        .unwrap();
    assert_eq!(names, 1);
    assert!(!cli.db.exists());
    assert!(!cli.dir.path().join("data").exists());
}

#[test]
fn the_database_flag_wins_over_the_variable_and_the_configuration_file() {
    let cli = Cli::new();
    let config = cli.dir.path().join("config.toml");
    std::fs::write(&config, "[database]\npath = \"from-config.db\"\n").unwrap();

    let output = cli
        .command(&[
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ])
        .env("ENLIST_DATABASE", cli.dir.path().join("from-env.db"))
        .output()
        .unwrap();

    one_json_object(&output);
    assert!(cli.db.exists());
    assert!(!cli.dir.path().join("from-env.db").exists());
    assert!(!cli.dir.path().join("from-config.db").exists());
}

#[test]
fn without_flags_the_working_directorys_config_and_default_path_are_used() {
    let cli = Cli::new();

    let default = cli
        .bare()
        .args(["user", "create", "--email", "a@b.test"])
        .output()
        .unwrap();
    one_json_object(&default);
    assert!(cli.dir.path().join("data/enlist.db").exists());

    std::fs::write(
        cli.dir.path().join("config.toml"),
        "[database]\npath = \"configured.db\"\n",
    )
    .unwrap();
    let configured = cli
        .bare()
        .args(["user", "create", "--email", "c@d.test"])
        .output()
        .unwrap();
    one_json_object(&configured);
    assert!(cli.dir.path().join("configured.db").exists());
}

#[test]
fn set_password_gives_a_passwordless_admin_a_password() {
    let cli = Cli::new();
    let (_, admin) = cli.org("Acme", "ada@acme.test");
    assert_eq!(
        cli.query_i64(&format!(
            "SELECT password_hash IS NULL FROM users WHERE id = {admin}"
        )),
        1
    );

    let output = cli.run_with_stdin(
        &[
            "user",
            "set-password",
            "--email",
            "ADA@acme.test",
            "--password-stdin",
        ],
        "a brand new password\n",
    );

    let user = one_json_object(&output);
    assert_eq!(user["id"], admin);
    assert_eq!(user["hasPassword"], true);
    assert!(!format!("{}{}", stdout_of(&output), stderr_of(&output)).contains("brand new"));
    let stored: String = rusqlite::Connection::open(&cli.db)
        .unwrap()
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [admin],
            |row| row.get(0),
        )
        .unwrap();
    assert!(enlist::auth::password::verify(
        "a brand new password",
        &stored
    ));

    let unknown = cli.run_with_stdin(
        &[
            "user",
            "set-password",
            "--email",
            "nobody@acme.test",
            "--password-stdin",
        ],
        "a brand new password\n",
    );
    assert!(!unknown.status.success());
    assert!(
        stderr_of(&unknown).contains("not found"),
        "{}",
        stderr_of(&unknown)
    );
}

// ---------------------------------------------------------------- client

#[test]
fn client_create_refuses_http_redirect_uris_except_loopback() {
    let cli = Cli::new();
    cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ada@acme.test",
    ]);

    let refused = cli.run(&[
        "client",
        "create",
        "--name",
        "App",
        "--redirect-uri",
        "http://app.example.com/callback",
    ]);
    assert_fails_saying(&refused, "http://app.example.com/callback");
    assert_fails_saying(&refused, "https://");

    for uri in [
        "http://127.0.0.1:8000/cb",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
        "https://app.example.com/callback",
    ] {
        let created = cli.json(&["client", "create", "--name", "App", "--redirect-uri", uri]);
        assert_eq!(created["redirect_uris"][0], uri, "{created}");
    }
}

// ---------------------------------------------------------------- files

#[test]
fn the_database_and_backups_the_binary_writes_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let cli = Cli::new();
    cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ada@acme.test",
    ]);
    let backup = cli.dir.path().join("backup.db");

    cli.json(&["backup", "--to", backup.to_str().unwrap()]);

    assert_eq!(mode(&cli.db), 0o600);
    assert_eq!(mode(&backup), 0o600);
}

// ---------------------------------------------------------------- keys

/// Serves from the binary on a free port; answers the server and its address.
fn serve(cli: &Cli) -> (Served, String) {
    let mut child = cli
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("ENLIST_LOG__FORMAT", "json")
        .env("ENLIST_SERVER__WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let served = Served(child);
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
    let addr = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the server logs its address");
    (served, addr)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn keys_rotate_switches_the_signing_key_of_a_running_server_and_old_tokens_still_work() {
    let cli = Cli::new();
    let user = cli.run_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        "a long password\n",
    );
    assert!(user.status.success(), "{}", stderr_of(&user));
    let created = cli.json(&[
        "client",
        "create",
        "--name",
        "Script",
        "--user",
        "bob@example.com",
    ]);
    let (id, secret) = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    let (served, addr) = serve(&cli);
    let http = reqwest::Client::new();
    let token = || async {
        let reply: Value = http
            .post(format!("http://{addr}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"].as_str().unwrap().to_owned()
    };
    let before = token().await;

    let rotated = cli.json(&["keys", "rotate"]);
    let after = token().await;

    let new_kid = rotated["kid"].as_str().unwrap();
    assert_ne!(kid_of(&before), new_kid);
    assert_eq!(kid_of(&after), new_kid, "the server signs with the new key");
    assert_eq!(
        rotated["published"],
        serde_json::json!([new_kid, kid_of(&before)])
    );
    for token in [&before, &after] {
        let listed = http
            .get(format!("http://{addr}/invitations"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200, "{}", listed.text().await.unwrap());
    }
    let jwks: Value = http
        .get(format!("http://{addr}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    drop(served);
}

#[test]
fn keys_rotate_refuses_when_the_key_lives_in_a_file() {
    let cli = Cli::new();
    cli.org("Acme", "ada@acme.test");

    let refused = cli
        .command(&["keys", "rotate"])
        .env(
            "ENLIST_AUTH__SIGNING_KEY_FILE",
            "/etc/enlist/signing-key.pem",
        )
        .output()
        .unwrap();

    assert_fails_saying(&refused, "auth.signing_key_file");
    assert_fails_saying(&refused, "/etc/enlist/signing-key.pem");
}

#[test]
fn api_key_list_tells_active_keys_from_revoked_ones_and_why() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let carol = cli.json(&["user", "create", "--email", "carol@acme.test"])["id"]
        .as_i64()
        .unwrap();
    let db = cli.database();
    let now = enlist::domain::Millis::now();
    db.write_blocking(|tx| -> Result<(), services::ServiceError> {
        Ok(enlist::db::members::insert(
            tx,
            org,
            carol,
            enlist::domain::Role::Admin,
            now,
        )?)
    })
    .unwrap();
    let kept = cli.api_key(org, admin, ALL_SCOPES);
    let by_hand = cli.api_key(org, admin, ALL_SCOPES);
    let carols = cli.api_key(org, carol, ALL_SCOPES);
    cli.json(&["api-key", "revoke", &by_hand["id"].to_string()]);
    db.write_blocking(|tx| services::members::remove(tx, org, carol, now))
        .unwrap();

    let listed = cli.json(&["api-key", "list", "--org", &org.to_string()]);

    let items = listed["items"].as_array().unwrap();
    let find = |id: &Value| items.iter().find(|k| &k["id"] == id).unwrap().clone();
    let kept = find(&kept["id"]);
    assert_eq!(kept["state"], "active", "{kept}");
    assert!(kept["revokedAt"].is_null() && kept["revokedReason"].is_null());
    let by_hand = find(&by_hand["id"]);
    assert_eq!(by_hand["state"], "revoked", "{by_hand}");
    assert_eq!(by_hand["revokedReason"], "revoked", "{by_hand}");
    assert!(by_hand["revokedAt"].is_string(), "{by_hand}");
    let carols_listed = find(&carols["id"]);
    assert_eq!(carols_listed["state"], "revoked", "{carols_listed}");
    assert_eq!(carols_listed["revokedReason"], "owner_removed");
    assert!(carols_listed["revokedAt"].is_string(), "{carols_listed}");
    assert!(authenticate(&db, carols["key"].as_str().unwrap()).is_none());
}

#[test]
fn names_with_control_characters_are_refused_naming_the_field() {
    let cli = Cli::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "user",
                "create",
                "--email",
                "a@example.com",
                "--first-name",
                "Ada\nEvil",
            ],
            "invalid firstName",
        ),
        (
            &[
                "user",
                "create",
                "--email",
                "a@example.com",
                "--last-name",
                "L\r",
            ],
            "invalid lastName",
        ),
        (
            &[
                "org",
                "create",
                "--name",
                "Acme\u{1b}[31m",
                "--admin-email",
                "a@example.com",
            ],
            "invalid name",
        ),
        (
            &[
                "org",
                "create",
                "--name",
                "Acme",
                "--admin-email",
                "a@example.com",
                "--admin-first-name",
                "Ada\tX",
            ],
            "invalid adminFirstName",
        ),
    ];
    for (args, needle) in cases {
        let output = cli.run(args);
        assert_fails_saying(&output, needle);
        assert_fails_saying(&output, "control characters");
    }
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 0);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 0);
}

#[test]
fn serve_beyond_loopback_without_a_public_url_refuses_to_start() {
    let cli = Cli::new();

    let output = cli
        .command(&["serve", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    for needle in [
        "0.0.0.0:0",
        "server.public_url",
        "links",
        "issuer",
        "Secure cookies",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}
