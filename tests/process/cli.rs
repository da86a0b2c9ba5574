//! The command line, run as the built binary against a temporary database:
//! a SQLite file, or with `ENLIST_TEST_BACKEND=postgres` a fresh PostgreSQL
//! database per test (`--database-url`). Tests of what only the file has
//! (its permissions, its path's resolution, `backup`, the serve lock) skip
//! on PostgreSQL, which has tests of its own behaviour instead.

use crate::fixture::{self, Server, eventually, one_json_object, wait_for};
use crate::test_postgres;

use enlist::config::DatabaseSettings;
use enlist::db::{Database, StorageError, WriteConn};
use enlist::domain::Scope;
use enlist::services;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

const ALL_SCOPES: &str =
    "organization:read,invitations:read,invitations:write,users:read,users:write";

/// A temporary working directory, and the database the commands use: the
/// file `db` in that directory, or on PostgreSQL the database at `url`
/// (`db` then names a file nothing creates).
struct Cli {
    dir: TempDir,
    db: PathBuf,
    url: Option<String>,
}

impl Cli {
    /// A temporary directory with an empty database (`enlist init`) at `db`.
    fn new() -> Self {
        let cli = Self::without_database();
        one_json_object(&cli.run(&["init"]));
        cli
    }

    /// A temporary directory with no database in it (on PostgreSQL, a new
    /// database with no schema yet).
    fn without_database() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("enlist.db");
        let url = test_postgres::enabled().then(test_postgres::fresh_database);
        Self { dir, db, url }
    }

    /// The binary, run in the temporary directory with no enlist settings
    /// inherited from the environment.
    fn bare(&self) -> Command {
        fixture::enlist(self.dir.path())
    }

    /// The binary with `--database` (or `--database-url`) naming this
    /// test's database.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare();
        match &self.url {
            Some(url) => command.arg("--database-url").arg(url),
            None => command.arg("--database").arg(&self.db),
        };
        command.args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        fixture::output_with_stdin(self.command(args), stdin)
    }

    /// Runs a command that must succeed and print exactly one JSON object.
    fn json(&self, args: &[&str]) -> Value {
        one_json_object(&self.run(args))
    }

    fn database(&self) -> Database {
        Database::open(&DatabaseSettings {
            path: self.db.clone(),
            url: self.url.clone(),
            ..DatabaseSettings::default()
        })
        .unwrap()
    }

    /// The database as the commands name it: the file's path, or the URL
    /// with its password masked.
    fn database_name(&self) -> String {
        match &self.url {
            Some(url) => enlist::db::masked_url(url),
            None => self.db.display().to_string(),
        }
    }

    /// One integer through the storage seam, so the SQL (written in what
    /// both dialects share) runs on either backend.
    fn query_i64(&self, sql: &str) -> i64 {
        self.database()
            .read_blocking(|conn| conn.query_one(sql, &[], |row| row.get::<i64>(0)))
            .unwrap()
    }

    /// Plants rows the commands only read, in one write through the seam.
    fn write(&self, f: impl FnOnce(&WriteConn) -> Result<(), StorageError> + Send) {
        self.database().write_blocking(f).unwrap();
    }

    fn password_hash(&self, user: i64) -> String {
        self.database()
            .read_blocking(|conn| {
                conn.query_one(
                    "SELECT password_hash FROM users WHERE id = ?1",
                    &[&user],
                    |row| row.get::<String>(0),
                )
            })
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
    cli.write(|conn| {
        conn.execute(
            "UPDATE users SET email_verified_at = NULL, password_hash = 'a stranger''s hash'",
            &[],
        )?;
        conn.execute(
            "INSERT INTO web_sessions (token_sha256, user_id, created_at, expires_at)
             VALUES (?1, 1, 0, 9999999999999)",
            &[&[0u8; 1]],
        )?;
        Ok(())
    });

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
            "SELECT COUNT(*) FROM api_keys WHERE scopes || name || public_id LIKE '%{secret}%' \
             OR CAST(secret_sha256 AS TEXT) LIKE '%{secret}%'"
        )),
        0
    );
    assert_eq!(
        cli.query_i64("SELECT length(secret_sha256) FROM api_keys"),
        32
    );
}

#[tokio::test]
async fn a_key_from_the_command_line_works_against_the_served_api() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let key = cli.api_key(org, admin, "organization:read")["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let served = serve(&cli);
    let addr = served.addr();

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
    cli.write(|conn| {
        conn.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
             VALUES (?1, ?2, 'MEMBER', 0, 0)",
            &[&org, &member],
        )
        .map(drop)
    });
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
    let stored = cli.password_hash(user["id"].as_i64().unwrap());
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
    let cli = Cli::without_database();
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
    if test_postgres::skip_sqlite_only("ENLIST_DATABASE (the file's path)") {
        return;
    }
    let cli = Cli::without_database();
    let path = cli.dir.path().join("from-env.db");
    let init = cli
        .bare()
        .arg("init")
        .env("ENLIST_DATABASE", &path)
        .output()
        .unwrap();
    one_json_object(&init);

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
            conn.query_one(
                "SELECT COUNT(*) FROM organizations WHERE name = 'Acme'",
                &[],
                |row| row.get(0),
            )
        })
        .unwrap();
    assert_eq!(names, 1);
    assert!(!cli.db.exists());
    assert!(!cli.dir.path().join("data").exists());
}

#[test]
fn the_database_flag_wins_over_the_variable_and_the_configuration_file() {
    if test_postgres::skip_sqlite_only("choosing the file's path") {
        return;
    }
    let cli = Cli::without_database();
    let config = cli.dir.path().join("config.toml");
    std::fs::write(&config, "[database]\npath = \"from-config.db\"\n").unwrap();

    let output = cli
        .command(&["init"])
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
    if test_postgres::skip_sqlite_only("the default file path") {
        return;
    }
    let cli = Cli::without_database();

    one_json_object(&cli.bare().arg("init").output().unwrap());
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
    one_json_object(&cli.bare().arg("init").output().unwrap());
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
    let stored = cli.password_hash(admin);
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

#[test]
fn mfa_reset_removes_a_locked_out_admins_second_factor_and_is_audited() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let (other_org, _) = cli.org("Beta", "bea@beta.test");
    cli.write(|conn| {
        conn.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
             VALUES (?1, ?2, 'MEMBER', 0, 0)",
            &[&other_org, &admin],
        )?;
        conn.execute(
            "INSERT INTO totp_factors (user_id, secret, created_at, confirmed_at)
             VALUES (?1, ?2, 0, 0)",
            &[&admin, &[7u8; 20]],
        )?;
        conn.execute(
            "INSERT INTO recovery_codes (user_id, code_sha256, created_at) VALUES (?1, ?2, 0)",
            &[&admin, &[9u8; 32]],
        )
        .map(drop)
    });

    let output = cli.run(&["user", "mfa", "reset", "--email", "ADA@acme.test"]);
    let reset = one_json_object(&output);
    assert_eq!(reset["userId"], admin);
    assert_eq!(reset["email"], "ada@acme.test");
    assert_eq!(reset["hadSecondFactor"], true);
    assert_eq!(reset["organizations"], 2);
    assert!(
        stderr_of(&output).contains("removed the account's authenticator app"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM totp_factors"), 0);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM recovery_codes"), 0);
    for org in [org, other_org] {
        let events = cli.run(&[
            "events",
            "list",
            "--org",
            &org.to_string(),
            "--type",
            "user.mfa_reset",
        ]);
        let event: Value = serde_json::from_str(stdout_of(&events).trim()).unwrap();
        assert_eq!(event["actor"], serde_json::json!({ "type": "cli" }));
        assert_eq!(event["data"]["user"]["id"], admin);
        assert_eq!(event["data"]["hadSecondFactor"], true);
        assert_eq!(event["data"]["factor"], "all");
    }

    // Again: nothing to remove, said so.
    let again = cli.run(&["user", "mfa", "reset", "--email", "ada@acme.test"]);
    assert_eq!(one_json_object(&again)["hadSecondFactor"], false);
    assert!(stderr_of(&again).contains("had no second factor"));
    let unknown = cli.run(&["user", "mfa", "reset", "--email", "nobody@acme.test"]);
    assert_fails_saying(&unknown, "not found");
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
    if test_postgres::skip_sqlite_only("the database file's and backup's mode") {
        return;
    }
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
    let running = serve(&cli);
    let addr = running.addr().to_owned();
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
    drop(running);
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
            enlist::domain::OrgId(org),
            enlist::domain::UserId(carol),
            &enlist::domain::Role::Admin,
            now,
        )?)
    })
    .unwrap();
    let kept = cli.api_key(org, admin, ALL_SCOPES);
    let by_hand = cli.api_key(org, admin, ALL_SCOPES);
    let carols = cli.api_key(org, carol, ALL_SCOPES);
    cli.json(&["api-key", "revoke", &by_hand["id"].to_string()]);
    db.write_blocking(|tx| {
        services::members::remove(
            tx,
            &enlist::domain::event::Origin::cli(),
            enlist::domain::OrgId(org),
            enlist::domain::UserId(carol),
            now,
        )
    })
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

// ---------------------------------------------------------------- databases

/// Every command but `serve`, `init` and `dev seed`, with its arguments.
const COMMANDS_ON_A_DATABASE: &[&[&str]] = &[
    &[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "a@b.test",
    ],
    &["org", "list"],
    &[
        "api-key",
        "create",
        "--org",
        "1",
        "--user",
        "1",
        "--scopes",
        "users:read",
    ],
    &["api-key", "list", "--org", "1"],
    &["api-key", "revoke", "1"],
    &["user", "create", "--email", "a@b.test"],
    &[
        "client",
        "create",
        "--name",
        "App",
        "--redirect-uri",
        "https://a.test/cb",
    ],
    &["outbox", "list"],
    &["outbox", "link", "--to", "a@b.test"],
    &["backup", "--to", "copy.db"],
    &["check"],
];

#[test]
fn no_command_but_init_serve_and_seed_invents_a_database() {
    if test_postgres::skip_sqlite_only("refusing to invent a database file") {
        return;
    }
    let cli = Cli::without_database();
    let mistyped = cli.dir.path().join("dta/enlist.db");
    for args in COMMANDS_ON_A_DATABASE {
        for database in [None, Some(&mistyped)] {
            let mut command = cli.bare();
            if let Some(path) = database {
                command.arg("--database").arg(path);
            }
            let output = command.args(*args).output().unwrap();
            let expected = database
                .cloned()
                .unwrap_or_else(|| cli.dir.path().join("data/enlist.db"));
            let stderr = stderr_of(&output);
            assert_fails_saying(&output, &format!("no database at {}", expected.display()));
            for hint in [
                "--database",
                "ENLIST_DATABASE",
                "database.path",
                "enlist init",
            ] {
                assert!(stderr.contains(hint), "{args:?}: {hint} not in {stderr}");
            }
            assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        }
    }
    // Nothing was created: no file, no folder.
    let left: Vec<_> = std::fs::read_dir(cli.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn init_creates_the_database_and_its_folder_once() {
    if test_postgres::skip_sqlite_only("init creating the file and its folder") {
        return;
    }
    let cli = Cli::without_database();
    let path = cli.dir.path().join("new/folder/enlist.db");
    let run = || {
        cli.bare()
            .arg("--database")
            .arg(&path)
            .arg("init")
            .output()
            .unwrap()
    };

    let first = one_json_object(&run());
    assert_eq!(first["database"], path.display().to_string());
    assert!(first["schemaVersion"].as_i64().unwrap() >= 1);
    assert!(path.is_file());
    // Again: the same answer, the data kept.
    let created = cli
        .bare()
        .arg("--database")
        .arg(&path)
        .args([
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "a@b.test",
        ])
        .output()
        .unwrap();
    one_json_object(&created);
    assert_eq!(one_json_object(&run()), first);
    assert_eq!(
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM organizations", [], |r| r
                .get::<_, i64>(0))
            .unwrap(),
        1
    );
}

#[test]
fn dev_seed_may_fill_a_new_database() {
    if test_postgres::skip_sqlite_only("dev seed (the bulk fill)") {
        return;
    }
    let cli = Cli::without_database();
    let path = cli.dir.path().join("bench/seed.db");
    let output = cli
        .bare()
        .arg("--database")
        .arg(&path)
        .args(["dev", "seed", "--invitations", "5", "--members", "1"])
        .output()
        .unwrap();
    let seeded = one_json_object(&output);
    assert_eq!(seeded["organizations"].as_array().unwrap().len(), 1);
    assert!(path.is_file());
}

// ---------------------------------------------------------------- org list, names, backup

#[test]
fn events_list_prints_the_audit_log_as_json_lines_and_pages_with_a_cursor() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    cli.api_key(org, admin, ALL_SCOPES);
    let org_arg = org.to_string();
    let lines = |output: &Output| -> Vec<Value> {
        assert!(output.status.success(), "{}", stderr_of(output));
        stdout_of(output)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(&cli.run(&["events", "list", "--org", &org_arg]));
    let types: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["api_key.created", "member.added"]);
    assert_eq!(all[0]["actor"], serde_json::json!({ "type": "cli" }));
    assert_eq!(all[1]["data"]["user"]["id"], admin);

    let only = lines(&cli.run(&[
        "events",
        "list",
        "--org",
        &org_arg,
        "--type",
        "member.added",
    ]));
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["type"], "member.added");

    let first = cli.run(&["events", "list", "--org", &org_arg, "--limit", "1"]);
    assert_eq!(lines(&first), all[..1]);
    let cursor = stderr_of(&first)
        .lines()
        .find_map(|line| line.strip_prefix("next: "))
        .expect("a cursor on stderr")
        .to_owned();
    let rest = cli.run(&["events", "list", "--org", &org_arg, "--after", &cursor]);
    assert_eq!(lines(&rest), all[1..]);
    assert!(!stderr_of(&rest).contains("next:"), "{}", stderr_of(&rest));

    assert_fails_saying(
        &cli.run(&["events", "list", "--org", &org_arg, "--type", "nope"]),
        "unknown event type `nope`",
    );
    assert_fails_saying(
        &cli.run(&["events", "list", "--org", &org_arg, "--after", "junk"]),
        "--after",
    );
    assert_fails_saying(&cli.run(&["events", "list", "--org", "99"]), "not found");
}

#[test]
fn org_list_prints_one_json_line_per_organization_by_id() {
    let cli = Cli::new();
    let empty = cli.run(&["org", "list"]);
    assert!(empty.status.success(), "{}", stderr_of(&empty));
    assert_eq!(stdout_of(&empty), "");

    cli.org("Acme", "ada@acme.test");
    cli.org("Globex", "hank@globex.test");
    let output = cli.run(&["org", "list"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let lines: Vec<Value> = stdout_of(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["name"], "Acme");
    assert_eq!(lines[0]["memberCount"], 1);
    assert_eq!(lines[1]["name"], "Globex");
    assert_eq!(
        keys_of(&lines[1]),
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
}

#[test]
fn org_create_with_a_name_already_taken_succeeds_and_says_so() {
    let cli = Cli::new();
    let first = cli.run(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "a@acme.test",
    ]);
    one_json_object(&first);
    assert_eq!(stderr_of(&first), "");

    let second = cli.run(&[
        "org",
        "create",
        "--name",
        " Acme ",
        "--admin-email",
        "b@acme.test",
    ]);
    let created = one_json_object(&second);
    assert_eq!(created["organization"]["id"], 2);
    let stderr = stderr_of(&second);
    assert!(
        stderr.contains("warning: organization 2 has the same name as organization 1"),
        "{stderr}"
    );
}

#[test]
fn backup_to_a_missing_folder_says_the_folder_is_missing() {
    if test_postgres::skip_sqlite_only("enlist backup") {
        return;
    }
    let cli = Cli::new();
    let target = cli.dir.path().join("backups/enlist.db");
    let output = cli.run(&["backup", "--to", &target.display().to_string()]);
    assert_fails_saying(
        &output,
        &format!(
            "the folder {} does not exist",
            cli.dir.path().join("backups").display()
        ),
    );
    assert!(!cli.dir.path().join("backups").exists());
}

// ---------------------------------------------------------------- outbox

/// Queues a message the way the server does, without a server: the
/// command only reads the table.
fn queue_message(cli: &Cli, to: &str, link: &str, sent: Option<i64>, failed: Option<i64>) {
    let attempts = i64::from(sent.is_some() || failed.is_some());
    cli.write(|conn| {
        conn.execute(
            "INSERT INTO outbox (recipient, link, subject, text_body, html_body, attempts,
                                 next_attempt_at, created_at, sent_at, failed_at, last_error)
             VALUES (?1, ?2, 'You are invited', 'text', '<p>html</p>', ?3, 0, 1000, ?4, ?5,
                     CASE WHEN ?5 IS NULL THEN NULL ELSE 'refused' END)",
            &[&to, &link, &attempts, &sent, &failed],
        )
        .map(drop)
    });
}

#[test]
fn outbox_list_and_link_show_the_newest_message_first() {
    let cli = Cli::new();
    // Twelve messages, so that "10" and "9" would sort wrongly as text.
    for n in 1..=11 {
        let to = if n % 2 == 0 {
            "you@example.com"
        } else {
            "other@example.com"
        };
        queue_message(&cli, to, &format!("http://h/invite/{n}"), Some(2000), None);
    }
    queue_message(&cli, "You@Example.com", "http://h/invite/12", None, None);

    let link = cli.run(&["outbox", "link", "--to", "you@example.com"]);
    assert!(link.status.success(), "{}", stderr_of(&link));
    assert_eq!(stdout_of(&link), "http://h/invite/12\n");

    let list = cli.run(&["outbox", "list", "--to", "YOU@example.com", "--limit", "2"]);
    assert!(list.status.success(), "{}", stderr_of(&list));
    let lines: Vec<Value> = stdout_of(&list)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], 12);
    assert_eq!(lines[0]["to"], "You@Example.com");
    assert_eq!(
        lines[0]["link"],
        Value::Null,
        "only `outbox link` shows a link"
    );
    assert_eq!(lines[0]["status"], "pending");
    assert_eq!(lines[0]["attempts"], 0);
    assert_eq!(lines[0]["sentAt"], Value::Null);
    assert_eq!(lines[1]["id"], 10);
    assert_eq!(lines[1]["status"], "sent");
    assert_eq!(lines[1]["attempts"], 1);
    assert_eq!(
        keys_of(&lines[1]),
        [
            "attempts",
            "createdAt",
            "id",
            "lastError",
            "link",
            "sentAt",
            "status",
            "subject",
            "to"
        ]
    );

    queue_message(
        &cli,
        "gave-up@example.com",
        "http://h/invite/13",
        None,
        Some(3000),
    );
    let all = cli.run(&["outbox", "list"]);
    let first: Value = serde_json::from_str(stdout_of(&all).lines().next().unwrap()).unwrap();
    assert_eq!(first["status"], "failed");
    assert_eq!(first["lastError"], "refused");
    assert_eq!(stdout_of(&all).lines().count(), 13);

    assert_fails_saying(
        &cli.run(&["outbox", "link", "--to", "nobody@example.com"]),
        &format!(
            "no message to nobody@example.com in the outbox of {}",
            cli.database_name()
        ),
    );
    assert_fails_saying(&cli.run(&["outbox", "list", "--limit", "0"]), "--limit");
}

#[test]
fn outbox_link_reads_a_sent_messages_link_from_the_file_transports_copy_or_says_it_is_gone() {
    let cli = Cli::new();
    // Sent: the worker emptied the link and bodies (the secret left with the message).
    queue_message(&cli, "you@example.com", "", Some(2000), None);
    let gone = cli.run(&["outbox", "link", "--to", "you@example.com"]);
    assert_fails_saying(&gone, "was sent at");
    assert!(
        stderr_of(&gone).contains("only the recipient's mail keeps them"),
        "{}",
        stderr_of(&gone)
    );
    let list = cli.run(&["outbox", "list", "--to", "you@example.com"]);
    let line: Value = serde_json::from_str(stdout_of(&list).lines().next().unwrap()).unwrap();
    assert_eq!(line["link"], Value::Null);
    assert_eq!(line["status"], "sent");

    // The `file` transport's copy (the default folder, ./data/outbox) is
    // read back, quoted-printable and all, as a mail client would.
    let link = "http://127.0.0.1:8080/invite/00000000-0000-0000-0000-000000000001?token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";
    let folder = cli.dir.path().join("data").join("outbox");
    std::fs::create_dir_all(&folder).unwrap();
    let encoded = link.replace('=', "=3D");
    let (head, tail) = encoded.split_at(60);
    std::fs::write(
        folder.join("000000000001.eml"),
        format!(
            "To: you@example.com\r\nSubject: You are invited\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             Open this link:\r\n{head}=\r\n{tail}\r\n\r\n--b--\r\n"
        ),
    )
    .unwrap();
    let read_back = cli.run(&["outbox", "link", "--to", "you@example.com"]);
    assert!(read_back.status.success(), "{}", stderr_of(&read_back));
    assert_eq!(stdout_of(&read_back), format!("{link}\n"));
}

#[test]
fn set_password_revokes_the_keys_the_account_minted_in_the_console_only() {
    let cli = Cli::new();
    let created = cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ada@acme.test",
    ]);
    let org = created["organization"]["id"].as_i64().unwrap();
    let admin = created["admin"]["id"].as_i64().unwrap();
    let now = enlist::domain::Millis::now();
    let origins = [
        enlist::domain::event::Origin::cli(),
        enlist::domain::event::Origin::user(admin),
    ];
    for origin in &origins {
        cli.database()
            .write_blocking(|tx| {
                enlist::services::api_keys::create(
                    tx,
                    origin,
                    enlist::domain::OrgId(org),
                    enlist::domain::UserId(admin),
                    "k",
                    &[enlist::domain::Scope::OrganizationRead],
                    now,
                )
            })
            .unwrap();
    }

    let output = cli.run_with_stdin(
        &[
            "user",
            "set-password",
            "--email",
            "ada@acme.test",
            "--password-stdin",
        ],
        "a brand new password\n",
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("revoked 1 API key(s) this account had minted in the console"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        cli.query_i64("SELECT COUNT(*) FROM api_keys WHERE revoked_reason = 'password_reset' AND minted_in_console = 1"),
        1
    );
    assert_eq!(
        cli.query_i64(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND minted_in_console = 0"
        ),
        1,
        "the operator's key stays"
    );
}

// ---------------------------------------------------------------- serve: start log, one per file

/// `enlist serve` on a free port; returns once it logged that it serves.
fn serve(cli: &Cli) -> Server {
    serve_with(cli, &[])
}

/// [`serve`] with more settings in the environment.
fn serve_with(cli: &Cli, env: &[(&str, &str)]) -> Server {
    let mut command = cli.command(&["serve", "--bind", "127.0.0.1:0"]);
    command
        .env("ENLIST_SERVER__WORKERS", "1")
        .envs(env.iter().copied());
    Server::start(command)
}

/// `enlist demo` on `bind`, once it serves, and the JSON object it printed.
fn demo(cli: &Cli, args: &[&str]) -> (Server, Value) {
    let mut command = cli.command(&["demo"]);
    command.args(args).env("ENLIST_SERVER__WORKERS", "1");
    let served = Server::start(command);
    // Printed before it serves; the reader may still be on its way to it.
    let line = wait_for(Duration::from_secs(10), "the demo's JSON line", || {
        served.stdout().first().cloned()
    });
    let demo = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (served, demo)
}

#[test]
fn serve_logs_its_database_transport_and_url_and_how_to_begin_on_an_empty_database() {
    let cli = Cli::without_database();
    let running = serve(&cli);
    let serving = running.event("enlist is serving");
    assert_eq!(serving["database"], cli.database_name());
    assert_eq!(serving["delivery"], "log");
    assert_eq!(serving["public_url"], running.url(""));
    let hint = running
        .messages()
        .into_iter()
        .find(|m| m.starts_with("the database is empty"))
        .expect("an empty database gets a hint");
    assert!(
        hint.contains("enlist org create --name NAME --admin-email EMAIL"),
        "{hint}"
    );
    assert!(
        hint.contains("enlist api-key create --org 1 --user 1 --scopes organization:read,"),
        "{hint}"
    );
    drop(running);

    cli.org("Acme", "ada@acme.test");
    let again = serve(&cli);
    // The hint is logged before "enlist is serving", so it would be here by now.
    assert!(
        !again
            .messages()
            .iter()
            .any(|m| m.starts_with("the database is empty")),
        "{:?}",
        again.messages()
    );
}

#[test]
fn a_second_serve_on_the_same_file_refuses_naming_the_first_ones_pid() {
    if test_postgres::skip_sqlite_only("the serve lock on the file") {
        return;
    }
    let cli = Cli::new();
    let mut first = serve(&cli);
    let pid = first.pid();
    let lock = std::fs::read_to_string(cli.dir.path().join("enlist.db.lock")).unwrap();
    assert_eq!(lock.trim(), pid.to_string());

    let second = cli
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_fails_saying(
        &second,
        &format!("another enlist serve (PID {pid}) is using"),
    );
    assert!(
        stderr_of(&second).contains(&cli.db.display().to_string()),
        "{}",
        stderr_of(&second)
    );

    // The command line keeps working beside the server.
    let (org, _) = cli.org("Acme", "ada@acme.test");
    assert_eq!(org, 1);

    // A crash releases the lock: the kernel drops it with the process.
    first.kill();
    let after = serve(&cli);
    let lock = std::fs::read_to_string(cli.dir.path().join("enlist.db.lock")).unwrap();
    assert_eq!(lock.trim(), after.pid().to_string());
}

#[tokio::test]
async fn the_served_log_names_no_invitee_address_at_info() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let key = cli.api_key(org, admin, ALL_SCOPES)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = serve_with(
        &cli,
        &[
            ("ENLIST_DELIVERY__TRANSPORT", "file"),
            ("ENLIST_DELIVERY__FILE__DIR", "outbox"),
            ("ENLIST_DELIVERY__POLL_INTERVAL", "50ms"),
        ],
    );
    let invited = reqwest::Client::new()
        .post(running.url("/v1/organization/invitations"))
        .header("X-API-Key", &key)
        .json(&serde_json::json!({ "inviteeEmail": "NewHire@Corp.test", "role": "MEMBER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 200);

    // The message is written, and its line says so without the address.
    let written = eventually(Duration::from_secs(10), "the message written", || {
        running
            .events()
            .into_iter()
            .find(|e| e["message"] == "invitation message written")
    })
    .await;
    assert!(written["id"].is_i64(), "{written}");
    for line in &running.events() {
        assert!(
            !line
                .to_string()
                .to_lowercase()
                .contains("newhire@corp.test"),
            "{line}"
        );
    }
    let eml = std::fs::read_dir(cli.dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(eml, 1);
}

#[test]
fn invite_from_a_csv_prints_one_json_line_per_row_and_queues_messages() {
    let cli = Cli::new();
    let (org, _admin) = cli.org("Acme", "ada@acme.test");
    let csv = cli.dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "email,role\nbob@example.com,MEMBER\n\ncarol@example.com,ADMIN\nbob@example.com,MEMBER\nnot-an-email,MEMBER\ndan@example.com,OWNER\nada@acme.test,MEMBER\n",
    )
    .unwrap();
    let output = cli.run(&[
        "invite",
        "--org",
        &org.to_string(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let lines: Vec<Value> = stdout_of(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(i64, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["line"].as_i64().unwrap(),
                l["email"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (2, "bob@example.com", "created"),
            (4, "carol@example.com", "created"),
            (5, "bob@example.com", "duplicate"),
            (6, "not-an-email", "invalid"),
            (7, "dan@example.com", "invalid"),
            (8, "ada@acme.test", "member"),
        ]
    );
    assert_eq!(lines[0]["invitation"]["inviteeEmail"], "bob@example.com");
    assert_eq!(lines[4]["error"]["field"], "role");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM invitations"), 2);
    assert_eq!(
        cli.query_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'invitation'"),
        2
    );

    // An unknown organization fails on stderr and creates nothing.
    let output = cli.run(&["invite", "--org", "999", "--csv", csv.to_str().unwrap()]);
    assert!(!output.status.success());
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM invitations"), 2);
}

#[test]
fn invite_takes_the_organizations_own_role_keys_and_team_names() {
    let cli = Cli::new();
    let (org, _admin) = cli.org("Acme", "ada@acme.test");
    cli.write(|tx| {
        tx.execute(
            "INSERT INTO org_roles (org_id, key, name, description, permissions, created_at,
                                    updated_at)
             VALUES (?1, 'billing', 'Billing', NULL, 'invoices:read', 0, 0)",
            &[&org],
        )?;
        tx.execute(
            "INSERT INTO teams (org_id, name, name_key, description, created_at, updated_at)
             VALUES (?1, 'Finance', 'finance', NULL, 0, 0), (?1, 'Support', 'support', NULL, 0, 0)",
            &[&org],
        )
        .map(|_| ())
    });
    let csv = cli.dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "email,role,teams\nbob@example.com,billing,finance; SUPPORT\ncarol@example.com,ghost\n\
         dan@example.com,MEMBER,Finance;Nope\n",
    )
    .unwrap();
    let output = cli.run(&[
        "invite",
        "--org",
        &org.to_string(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let lines: Vec<Value> = stdout_of(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], "created", "{}", lines[0]);
    assert_eq!(lines[0]["invitation"]["role"], "billing");
    assert_eq!(lines[1]["status"], "invalid", "{}", lines[1]);
    assert_eq!(lines[1]["error"]["field"], "role");
    // The third column names teams, case-insensitively; an unknown one
    // refuses its row alone.
    assert_eq!(
        lines[0]["invitation"]["teamIds"].as_array().unwrap().len(),
        2
    );
    assert_eq!(lines[2]["status"], "invalid", "{}", lines[2]);
    assert_eq!(lines[2]["error"]["field"], "teams");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM invitations"), 1);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM invitation_teams"), 2);
}

#[tokio::test]
async fn demo_fills_an_empty_database_prints_everything_and_serves() {
    let cli = Cli::without_database();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let (served, demo) = demo(&cli, &["--bind", &bind]);
    let base = format!("http://{bind}");
    assert_eq!(demo["organization"]["name"], "Acme Demo");
    let logo = demo["organization"]["logoUrl"].as_str().unwrap().to_owned();
    assert_eq!(logo, format!("{base}/assets/demo-logo.svg"));
    assert_eq!(demo["admin"]["email"], "ada@demo.test");
    assert!(demo["admin"]["password"].as_str().unwrap().len() >= 16);
    assert_eq!(demo["members"].as_array().unwrap().len(), 2);
    let statuses: Vec<&str> = demo["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["PENDING", "ACCEPTED", "DECLINED", "REVOKED", "EXPIRED"]
    );
    assert!(demo["oauthClient"]["client_secret"].is_string());
    assert_eq!(demo["urls"]["docs"], format!("{base}/docs/"));
    let join = demo["joinLink"]["url"].as_str().unwrap().to_owned();
    assert!(join.starts_with(&format!("{base}/join/")), "{join}");

    // The server is up with that data: the key works, the pages open.
    let client = reqwest::Client::new();
    let key = demo["apiKey"]["key"].as_str().unwrap();
    let org = client
        .get(format!("{base}/v1/organization"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("the demo serves");
    assert_eq!(org.status(), 200);
    let users: Value = client
        .get(format!("{base}/v1/organization/users"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["totalCount"], 3);
    for url in [
        join.as_str(),
        demo["urls"]["invitation"].as_str().unwrap(),
        logo.as_str(),
    ] {
        assert_eq!(client.get(url).send().await.unwrap().status(), 200, "{url}");
    }

    // The printed console URL and password sign Ada in to her organization.
    let console = demo["urls"]["console"].as_str().unwrap();
    assert_eq!(console, format!("{base}/admin"));
    assert_eq!(demo["admin"]["console"], console);
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let front = browser
        .get(console)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = front
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a sign-in form: {front}"));
    let overview = browser
        .post(console)
        .form(&[
            ("csrf_token", token),
            ("email", "ada@demo.test"),
            ("password", demo["admin"]["password"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), 200);
    assert!(
        overview.url().path().starts_with("/admin/orgs/"),
        "{}",
        overview.url()
    );
    let page = overview.text().await.unwrap();
    assert!(
        page.contains("Acme Demo") && page.contains("Recent activity"),
        "{page}"
    );
    drop(served);

    // Not on a database that holds data, unless --reset.
    let again = cli.run(&["demo", "--bind", &bind]);
    assert!(!again.status.success());
    // `--reset` deletes the file; PostgreSQL's database is dropped by hand.
    let start_over = if cli.url.is_some() {
        "dropdb"
    } else {
        "--reset"
    };
    assert!(
        stderr_of(&again).contains(start_over),
        "{}",
        stderr_of(&again)
    );
}

#[test]
fn demo_reset_refuses_while_a_server_uses_the_database_and_deletes_nothing() {
    if test_postgres::skip_sqlite_only("the serve lock on the file") {
        return;
    }
    let cli = Cli::new();
    cli.org("Acme", "ada@acme.test");
    let running = serve(&cli);
    let pid = running.pid();

    let reset = cli.run(&["demo", "--reset", "--bind", "127.0.0.1:0"]);

    assert_fails_saying(
        &reset,
        &format!("another enlist serve (PID {pid}) is using"),
    );
    assert!(cli.db.is_file(), "the database is still there");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 1);
    // The server never noticed.
    let mut stream = std::net::TcpStream::connect(running.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(running);
    // Once it stopped, the reset goes ahead (and the demo serves; it is
    // stopped as soon as it printed).
    let (_served, demo) = demo(&cli, &["--reset", "--bind", "127.0.0.1:0"]);
    assert_eq!(demo["organization"]["name"], "Acme Demo");
    assert_eq!(
        cli.query_i64("SELECT COUNT(*) FROM organizations WHERE name = 'Acme'"),
        0
    );
}

#[test]
fn demo_beyond_loopback_without_a_public_url_refuses_before_creating_or_deleting_anything() {
    let fresh = Cli::without_database();

    let refused = fresh.run(&["demo", "--bind", "0.0.0.0:0"]);

    assert_fails_saying(&refused, "server.public_url");
    assert!(stderr_of(&refused).contains("0.0.0.0:0"));
    if fresh.url.is_none() {
        assert_eq!(files_in(fresh.dir.path()), Vec::<String>::new());
    }

    if test_postgres::skip_sqlite_only("demo --reset deleting the file") {
        return;
    }
    let cli = Cli::new();
    cli.org("Acme", "ada@acme.test");
    let refused = cli.run(&["demo", "--reset", "--bind", "0.0.0.0:0"]);
    assert_fails_saying(&refused, "server.public_url");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 1);
}

// ---------------------------------------------------------------- either backend, and PostgreSQL's own

#[test]
fn serve_warns_once_about_a_postgresql_url_to_another_machine_without_sslmode() {
    let cli = Cli::without_database();
    // Nothing answers there: the start fails after the warning.
    let output = cli
        .bare()
        .args([
            "--database-url",
            "postgres://enlist:hunter2@db.invalid:5432/enlist",
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("ENLIST_DATABASE__POOL_TIMEOUT", "1s")
        .env("ENLIST_LOG__FORMAT", "json")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    let warnings: Vec<Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            event["level"] == "WARN" && event["message"].as_str().unwrap_or("").contains("sslmode")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert_eq!(warnings[0]["host"], "db.invalid", "{stderr}");
    assert_eq!(
        warnings[0]["database"],
        "postgres://enlist:***@db.invalid:5432/enlist"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn check_answers_what_each_backend_can_check() {
    let cli = Cli::new();

    let checked = cli.json(&["check"]);

    if cli.url.is_some() {
        assert_eq!(
            checked,
            serde_json::json!({
                "ok": true,
                "engine": "postgresql",
                "schema_version": enlist::db::SCHEMA_VERSION,
            })
        );
    } else {
        assert_eq!(
            checked,
            serde_json::json!({ "ok": true, "integrity_check": ["ok"] })
        );
    }
}

/// True (and says so) on SQLite, for a test of what PostgreSQL does in
/// place of the file's behaviour.
fn postgres_only(what: &str) -> bool {
    if !test_postgres::enabled() {
        eprintln!("skipped on SQLite: {what} is the PostgreSQL backend's");
    }
    !test_postgres::enabled()
}

/// The names in the test's working directory: what a command left there.
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn init_on_postgresql_names_the_url_with_its_password_masked_and_keeps_the_data() {
    if postgres_only("init naming a URL") {
        return;
    }
    let cli = Cli::without_database();
    // The test server trusts loopback, so a password it ignores can be added.
    let mut url = url::Url::parse(cli.url.as_deref().unwrap()).unwrap();
    if url.password().is_none() {
        url.set_password(Some("s3cret-pw")).unwrap();
    }
    let url = url.to_string();
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap()
        .to_owned();
    let init = || {
        cli.bare()
            .args(["--database-url", url.as_str(), "init"])
            .output()
            .unwrap()
    };

    let first = one_json_object(&init());
    assert_eq!(first["database"], enlist::db::masked_url(&url));
    assert!(
        first["database"].as_str().unwrap().contains("***"),
        "{first}"
    );
    assert!(!first.to_string().contains(&password), "{first}");
    assert_eq!(first["schemaVersion"], enlist::db::SCHEMA_VERSION);
    cli.org("Acme", "ada@acme.test");
    assert_eq!(one_json_object(&init()), first);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 1);
    assert_eq!(files_in(cli.dir.path()), Vec::<String>::new());
}

#[test]
fn the_database_url_variable_is_honoured_and_the_flag_wins_over_it_and_the_file() {
    if postgres_only("database.url") {
        return;
    }
    let cli = Cli::new();
    let url = cli.url.clone().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("postgres://postgres@127.0.0.1:{closed}/nowhere");

    let from_env = cli
        .bare()
        .args(["org", "create", "--name", "Acme"])
        .args(["--admin-email", "ada@acme.test"])
        .env("ENLIST_DATABASE__URL", &url)
        .output()
        .unwrap();
    one_json_object(&from_env);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 1);
    assert_eq!(files_in(cli.dir.path()), Vec::<String>::new());

    std::fs::write(
        cli.dir.path().join("config.toml"),
        format!("[database]\nurl = \"{nowhere}\"\n"),
    )
    .unwrap();
    let from_flag = cli
        .bare()
        .args(["--database-url", url.as_str(), "org", "list"])
        .env("ENLIST_DATABASE__URL", &nowhere)
        .output()
        .unwrap();
    assert_eq!(one_json_object(&from_flag)["name"], "Acme");
    // With neither, the file's URL is the one tried, and named.
    let from_file = cli
        .bare()
        .args(["org", "list"])
        .env("ENLIST_DATABASE__POOL_TIMEOUT", "1s")
        .output()
        .unwrap();
    assert_fails_saying(&from_file, &format!("cannot reach PostgreSQL at {nowhere}"));
}

#[test]
fn backup_on_postgresql_points_at_pg_dump_and_writes_nothing() {
    if postgres_only("refusing enlist backup") {
        return;
    }
    let cli = Cli::new();
    cli.org("Acme", "ada@acme.test");

    for target in ["enlist-backup.db", "missing/enlist-backup.db"] {
        let output = cli.run(&["backup", "--to", target]);
        assert_fails_saying(&output, "pg_dump");
        assert_fails_saying(&output, "not enlist backup");
    }
    assert_eq!(files_in(cli.dir.path()), Vec::<String>::new());
}

#[test]
fn demo_reset_and_dev_seed_refuse_on_postgresql_saying_what_to_do() {
    if postgres_only("refusing demo --reset and dev seed") {
        return;
    }
    let cli = Cli::new();

    let reset = cli.run(&["demo", "--reset", "--bind", "127.0.0.1:0"]);
    let seed = cli.run(&["dev", "seed", "--invitations", "5", "--members", "1"]);

    assert_fails_saying(&reset, "dropdb");
    assert_fails_saying(&seed, "SQLite file only");
    assert_fails_saying(&seed, "enlist copy");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 0);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM users"), 0);
}

#[tokio::test]
async fn two_serves_on_one_postgresql_database_both_serve_it_without_a_lock_file() {
    if postgres_only("serving without the file lock") {
        return;
    }
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    let key = cli.api_key(org, admin, "organization:read")["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let first = serve(&cli);
    let second = serve(&cli);

    assert_ne!(first.addr(), second.addr());
    let client = reqwest::Client::new();
    for running in [&first, &second] {
        let reply = client
            .get(running.url("/v1/organization"))
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{}", running.addr());
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["name"], "Acme");
    }
    assert_eq!(files_in(cli.dir.path()), Vec::<String>::new());
    drop((first, second));
}

#[test]
fn user_show_names_the_accounts_identities_and_no_token() {
    let cli = Cli::new();
    let created = cli.json(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--admin-email",
        "ada@acme.test",
    ]);
    let admin = created["admin"]["id"].as_i64().unwrap();
    let now = enlist::domain::Millis::now();
    cli.database()
        .write_blocking(|tx| {
            enlist::db::identities::insert(
                tx,
                &enlist::db::identities::NewIdentity {
                    user_id: admin,
                    issuer: "https://idp.corp.test",
                    subject: "248289761001",
                    provider: Some("corp"),
                    email: Some("ada@corp.test"),
                },
                now,
            )
        })
        .unwrap();

    let shown = cli.json(&["user", "show", "--email", "ADA@acme.test"]);
    assert_eq!(shown["id"], admin);
    assert_eq!(shown["email"], "ada@acme.test");
    assert_eq!(shown["hasPassword"], false);
    let identities = shown["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{shown}");
    assert_eq!(identities[0]["provider"], "corp");
    assert_eq!(identities[0]["issuer"], "https://idp.corp.test");
    assert_eq!(identities[0]["subject"], "248289761001");
    assert_eq!(identities[0]["email"], "ada@corp.test");

    let unknown = cli.run(&["user", "show", "--email", "nobody@acme.test"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn a_port_in_use_names_bind_and_creates_nothing() {
    let cli = Cli::without_database();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for command in [
        &["serve", "--bind", &addr][..],
        &["demo", "--bind", &addr][..],
    ] {
        let output = cli.run(command);
        assert_fails_saying(&output, "--bind");
        assert!(stderr_of(&output).contains(&addr), "{}", stderr_of(&output));
        // Not the database, nor its folder's lock: nothing at all.
        let left: Vec<_> = std::fs::read_dir(cli.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{command:?} left {left:?}");
    }
}

#[test]
fn org_export_prints_the_document_and_org_delete_writes_it_before_deleting() {
    let cli = Cli::new();
    let (org, admin) = cli.org("Acme", "ada@acme.test");
    cli.api_key(org, admin, "organization:read");
    let org_arg = org.to_string();

    let export = cli.json(&["org", "export", "--org", &org_arg]);
    let refused = cli.run(&["org", "delete", "--org", &org_arg, "--confirm", "acme"]);
    let deleted = cli.json(&["org", "delete", "--org", &org_arg, "--confirm", "Acme"]);

    assert_eq!(export["version"], 1);
    assert_eq!(export["organization"]["id"], org);
    assert_eq!(export["counts"]["members"], 1);
    assert_eq!(export["members"][0]["email"], "ada@acme.test");
    // member.added and api_key.created.
    assert_eq!(export["counts"]["events"], 2, "{export}");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("confirm"), "{said}");
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["id"], org);
    let mut written = deleted["export"].clone();
    assert_eq!(written["counts"], export["counts"]);
    let file = cli
        .dir
        .path()
        .join("data/exports")
        .join(deleted["exportFile"].as_str().unwrap());
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(on_disk, written);
    written["exportedAt"] = export["exportedAt"].clone();
    assert_eq!(written, export, "the same document, read again");
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM organizations"), 0);
    assert_eq!(cli.query_i64("SELECT COUNT(*) FROM api_keys"), 0);
    let missing = cli.run(&["org", "export", "--org", &org_arg]);
    assert!(!missing.status.success());
}
