//! Migrations: `schema.sql` is the baseline, `migrations/` the steps after
//! it, `PRAGMA user_version` says where a file stands. Runs once, before
//! the pools open; a database newer than this binary is refused.

use super::StorageError;
use super::sqlite::unique_violation as sqlite_unique_violation;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// `schema.sql` is version 1, the baseline every database starts from; each
/// file in `migrations/` takes it one version further, in order. A new
/// database runs the baseline and then every step, so new and upgraded
/// databases are built by the same statements.
pub(crate) const SCHEMA: &str = include_str!("../../schema.sql");
/// `UPGRADES[n]` takes a database from version n+1 to n+2.
const UPGRADES: &[&str] = &[
    include_str!("../../migrations/0002_credentials_by_account.sql"),
    include_str!("../../migrations/0003_email_ownership.sql"),
    include_str!("../../migrations/0004_hardening_b.sql"),
    include_str!("../../migrations/0005_hardening_a.sql"),
    include_str!("../../migrations/0006_invitations_plus.sql"),
    include_str!("../../migrations/0007_outbox_claims.sql"),
    include_str!("../../migrations/0008_events_webhooks.sql"),
    include_str!("../../migrations/0009_inbox_proof.sql"),
    include_str!("../../migrations/0010_identities.sql"),
    include_str!("../../migrations/0011_session_methods.sql"),
    include_str!("../../migrations/0012_openid_provider.sql"),
    include_str!("../../migrations/0013_email_codes.sql"),
    include_str!("../../migrations/0014_second_factors.sql"),
    include_str!("../../migrations/0015_passkeys.sql"),
    include_str!("../../migrations/0016_passkey_confirmations.sql"),
    include_str!("../../migrations/0017_roles.sql"),
    include_str!("../../migrations/0018_teams.sql"),
    include_str!("../../migrations/0019_organization_lifecycle.sql"),
    include_str!("../../migrations/0020_domains.sql"),
    include_str!("../../migrations/0021_search.sql"),
];
/// The schema this binary writes.
pub const SCHEMA_VERSION: i64 = 1 + UPGRADES.len() as i64;
/// The version from which email keys hold the ASCII form of the domain.
const ASCII_DOMAIN_KEYS: i64 = 3;
/// The version `0021_search.sql` brings: users' name keys and the search
/// indexes (a test pins that it names that file).
pub(crate) const SEARCH_KEYS: i64 = 21;

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // Steps that rebuild a table (SQLite cannot drop a CHECK in place) must
    // not cascade the old table's drop into the rows referring to it: foreign
    // keys are off while migrating (the pragma is a no-op inside a
    // transaction, hence here), checked before the commit, and on again after.
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = upgrade(conn, found);
    conn.pragma_update(None, "foreign_keys", true)?;
    migrated?;
    tracing::info!(
        from = found,
        to = SCHEMA_VERSION,
        "database schema migrated"
    );
    Ok(())
}

fn upgrade(conn: &mut Connection, found: i64) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if found == 0 {
        tx.execute_batch(SCHEMA)?;
    }
    for step in UPGRADES.iter().skip((found.max(1) - 1) as usize) {
        tx.execute_batch(step)?;
    }
    if (1..ASCII_DOMAIN_KEYS).contains(&found) {
        rekey_emails(&tx)?;
    }
    if (1..SEARCH_KEYS).contains(&found) {
        rekey_names(&tx)?;
    }
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(StorageError::Unsupported(format!(
            "the migration left rows in {table} whose foreign keys point nowhere"
        )));
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Recomputes the email keys that hold non-ASCII characters, the only ones
/// whose key can change now that domains compare in their IDNA form. A key
/// that would collide with an existing account is left as it was (and logged).
fn rekey_emails(tx: &Connection) -> Result<(), StorageError> {
    const NON_ASCII: &str = "GLOB '*[^' || char(1) || '-' || char(127) || ']*'";
    for (table, id, email, key) in [
        ("users", "id", "email", "email_key"),
        ("invitations", "id", "invitee_email", "invitee_email_key"),
    ] {
        let rows: Vec<(i64, String, String)> = tx
            .prepare(&format!(
                "SELECT {id}, {email}, {key} FROM {table} WHERE {key} {NON_ASCII}"
            ))?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (row_id, address, old_key) in rows {
            let Ok(parsed) = crate::domain::Email::parse(&address) else {
                continue;
            };
            if parsed.key() == old_key {
                continue;
            }
            let updated = tx.execute(
                &format!("UPDATE {table} SET {key} = ?2 WHERE {id} = ?1"),
                rusqlite::params![row_id, parsed.key()],
            );
            match updated {
                Ok(_) => {}
                Err(error) if sqlite_unique_violation(&error) => {
                    tracing::warn!(
                        table,
                        row_id,
                        "email key left as it was: another row has the new one"
                    );
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}

/// Keys the names holding letters beyond ASCII as the writes do (the
/// step's SQL `lower()` folds ASCII only).
fn rekey_names(tx: &Connection) -> Result<(), StorageError> {
    const NON_ASCII: &str = "GLOB '*[^' || char(1) || '-' || char(127) || ']*'";
    let rows: Vec<(i64, String, String)> = tx
        .prepare(&format!(
            "SELECT id, first_name, last_name FROM users
             WHERE first_name {NON_ASCII} OR last_name {NON_ASCII}"
        ))?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, first, last) in rows {
        tx.execute(
            "UPDATE users SET name_key = ?2, last_name_key = ?3 WHERE id = ?1",
            rusqlite::params![
                id,
                crate::domain::search::name_key(&first, &last),
                crate::domain::search::last_name_key(&last)
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseSettings;

    #[test]
    fn the_search_step_is_the_one_search_keys_names_and_keys_every_name() {
        let step = UPGRADES[(SEARCH_KEYS - 2) as usize];
        assert!(step.contains("CREATE INDEX invitations_org_email"));
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for step in &UPGRADES[..(SEARCH_KEYS - 2) as usize] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", SEARCH_KEYS - 1)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at)
             VALUES (1, 'a@example.com', 'a@example.com', 'Émile', 'ZOLA', 0, 0),
                    (2, 'b@example.com', 'b@example.com', 'Ann', 'Lee', 0, 0),
                    (3, 'c@example.com', 'c@example.com', '', 'Müller', 0, 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let keys: Vec<(String, String)> = conn
            .prepare("SELECT name_key, last_name_key FROM users ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            keys,
            vec![
                ("émile zola".into(), "zola".into()),
                ("ann lee".into(), "lee".into()),
                ("müller".into(), "müller".into()),
            ]
        );
    }
    use crate::db::Database;

    #[test]
    fn a_version_1_database_upgrades_with_proven_accounts_and_ascii_domain_keys() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            path: dir.path().join("old.db"),
            ..DatabaseSettings::default()
        };
        {
            let conn = Connection::open(&settings.path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO organizations (id, uuid, name, created_at, updated_at)
                     VALUES (1, 'u', 'Acme', 0, 0);
                 -- made by org create (no password), a member, a client's
                 -- account, and someone who signed up on a page.
                 INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at) VALUES
                     (1, 'admin@acme.test', 'admin@acme.test', NULL, 0, 5),
                     (2, 'member@acme.test', 'member@acme.test', 'h', 0, 6),
                     (3, 'bot@acme.test', 'bot@acme.test', 'h', 0, 7),
                     (4, 'ada@Bücher.example', 'ada@bücher.example', 'h', 0, 8);
                 INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                     VALUES (1, 2, 'MEMBER', 0, 0);
                 INSERT INTO oauth_clients (client_id, name, redirect_uris, user_id, created_at)
                     VALUES ('c', 'bot', '', 3, 0);
                 INSERT INTO invitations (uuid, org_id, invitee_email, invitee_email_key, role,
                                          status, created_at, updated_at, expires_at)
                     VALUES ('i', 1, 'ada@Bücher.example', 'ada@bücher.example', 'MEMBER',
                             'PENDING', 0, 0, 1);",
            )
            .unwrap();
        }

        let db = Database::open(&settings).unwrap();

        let rows: Vec<(i64, Option<i64>, String)> = db
            .read_blocking(|c| {
                c.query_all(
                    "SELECT id, email_verified_at, email_key FROM users ORDER BY id",
                    &[],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, Some(5), "admin@acme.test".into()),
                (2, Some(6), "member@acme.test".into()),
                (3, Some(7), "bot@acme.test".into()),
                (4, None, "ada@xn--bcher-kva.example".into()),
            ]
        );
        let invitee_key: String = db
            .read_blocking(|c| {
                c.query_one("SELECT invitee_email_key FROM invitations", &[], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(invitee_key, "ada@xn--bcher-kva.example");
    }

    /// A database file at `version` holding `rows`, then opened as the
    /// server opens it (which migrates it to the current version).
    fn upgraded_from(version: usize, rows: &str) -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enlist.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for step in &UPGRADES[..version - 1] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn.execute_batch(rows).unwrap();
        drop(conn);
        let db = Database::open(&DatabaseSettings {
            path,
            ..DatabaseSettings::default()
        })
        .unwrap();
        (dir, db)
    }

    #[test]
    fn the_hardening_step_keeps_refresh_families_and_drops_the_hs256_secret() {
        // A version-2 database with a refresh family of two tokens.
        let (_dir, db) = upgraded_from(
            2,
            "INSERT INTO users (id, email, email_key, created_at, updated_at)
                 VALUES (1, 'a@b.test', 'a@b.test', 0, 0);
             INSERT INTO oauth_clients (id, client_id, name, redirect_uris, created_at)
                 VALUES (1, 'enlc_x', 'x', '', 0);
             INSERT INTO refresh_tokens (token_sha256, family, client_id, user_id, scope, created_at, expires_at)
                 VALUES (x'01', 'f', 1, 1, 'invitations', 100, 1000),
                        (x'02', 'f', 1, 1, 'invitations', 200, 1100);
             INSERT INTO server_secrets (name, value, created_at)
                 VALUES ('access_token_hs256', x'00', 0);",
        );
        let (started, secrets): (Vec<i64>, i64) = db
            .read_blocking(|c| {
                let started =
                    c.query_all("SELECT family_started_at FROM refresh_tokens", &[], |r| {
                        r.get(0)
                    })?;
                let secrets =
                    c.query_one("SELECT count(*) FROM server_secrets", &[], |r| r.get(0))?;
                Ok::<_, StorageError>((started, secrets))
            })
            .unwrap();
        assert_eq!(started, [100, 100], "a family starts with its oldest token");
        assert_eq!(secrets, 0);
    }

    #[test]
    fn the_inbox_proof_step_marks_console_keys_and_forgets_done_messages_and_kept_secrets() {
        // A version-8 database: a key minted in the console (its creation
        // event names a user), one by the operator, a message sent, one
        // given up on, one waiting, and a kept replay holding a webhook secret.
        let (_dir, db) = upgraded_from(
            8,
            r#"INSERT INTO organizations (id, uuid, name, created_at, updated_at)
                 VALUES (1, 'o', 'Acme', 0, 0);
             INSERT INTO users (id, email, email_key, created_at, updated_at)
                 VALUES (1, 'a@b.test', 'a@b.test', 0, 0);
             INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES (1, 1, 'ADMIN', 0, 0);
             INSERT INTO api_keys (id, public_id, secret_sha256, org_id, user_id, scopes, created_at)
                 VALUES (1, 'p1', x'00', 1, 1, 'users:read', 0), (2, 'p2', x'00', 1, 1, 'users:read', 0);
             INSERT INTO events (uuid, org_id, type, occurred_at, body) VALUES
                 ('e1', 1, 'api_key.created', 0, '{"actor":{"type":"user","userId":1},"data":{"apiKey":{"id":1}}}'),
                 ('e2', 1, 'api_key.created', 0, '{"actor":{"type":"cli"},"data":{"apiKey":{"id":2}}}');
             INSERT INTO outbox (id, recipient, link, subject, text_body, html_body, next_attempt_at, created_at, sent_at, failed_at)
                 VALUES (1, 'x@b.test', 'http://h/invite/u', 's', 't', 'h', 0, 0, 5, NULL),
                        (2, 'x@b.test', 'http://h/invite/v', 's', 't', 'h', 0, 0, NULL, 5),
                        (3, 'x@b.test', 'http://h/invite/w', 's', 't', 'h', 0, 0, NULL, NULL);
             INSERT INTO idempotency_keys (api_key_id, key, fingerprint, status, content_type, body, created_at, expires_at)
                 VALUES (2, 'k1', x'00', 200, 'application/json', CAST('{"secret":"whsec_abc"}' AS BLOB), 0, 9),
                        (2, 'k2', x'00', 200, 'application/json', CAST('{"id":1}' AS BLOB), 0, 9);"#,
        );
        let (console, links, replays): (Vec<i64>, Vec<String>, Vec<String>) = db
            .read_blocking(|c| {
                let console = c.query_all(
                    "SELECT id FROM api_keys WHERE minted_in_console = 1",
                    &[],
                    |r| r.get(0),
                )?;
                let links = c.query_all(
                    "SELECT link || text_body || html_body FROM outbox ORDER BY id",
                    &[],
                    |r| r.get(0),
                )?;
                let replays = c.query_all("SELECT key FROM idempotency_keys", &[], |r| r.get(0))?;
                Ok::<_, StorageError>((console, links, replays))
            })
            .unwrap();
        assert_eq!(console, [1]);
        assert_eq!(links, ["", "", "http://h/invite/wth"]);
        assert_eq!(replays, ["k2"]);
    }

    #[test]
    fn migrates_once_and_refuses_newer_databases() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            path: dir.path().join("nested/enlist.db"),
            ..DatabaseSettings::default()
        };
        Database::open(&settings).unwrap();
        // A second open finds the current version and changes nothing.
        let db = Database::open(&settings).unwrap();
        let version: i64 = db
            .read_blocking(|c| c.query_one("PRAGMA user_version", &[], |r| r.get(0)))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = db
            .read_blocking(|c| c.query_one("PRAGMA journal_mode", &[], |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, "wal");

        Connection::open(&settings.path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            Database::open(&settings),
            Err(StorageError::TooNew { .. })
        ));
    }

    /// The roles step rebuilds memberships, invitations and join links to
    /// drop their CHECK: the rows that refer to an invitation stay (foreign
    /// keys are off while it runs), the counters stay, and a custom key fits.
    #[test]
    fn the_roles_step_keeps_every_row_and_takes_custom_role_keys() {
        let (_dir, db) = upgraded_from(
            15,
            "INSERT INTO organizations (id, uuid, name, member_count, created_at, updated_at)
                 VALUES (1, 'u', 'Acme', 0, 0, 0);
             INSERT INTO users (id, email, email_key, created_at, updated_at)
                 VALUES (1, 'a@acme.test', 'a@acme.test', 0, 0);
             INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                 VALUES (1, 1, 'ADMIN', 0, 0);
             INSERT INTO invitations (id, uuid, org_id, invitee_email, invitee_email_key, role,
                                      status, created_at, updated_at, expires_at, message)
                 VALUES (7, 'i', 1, 'b@x.test', 'b@x.test', 'MEMBER', 'PENDING', 0, 0, 9, 'hi');
             INSERT INTO outbox (invitation_id, recipient, link, subject, text_body, html_body,
                                 next_attempt_at, created_at)
                 VALUES (7, 'b@x.test', 'l', 's', 't', 'h', 0, 0);
             INSERT INTO join_links (org_id, token_digest, role, max_uses, expires_at, created_at)
                 VALUES (1, x'01', 'MEMBER', 3, 9, 0);",
        );
        let counted = |sql: &'static str| -> i64 {
            db.read_blocking(|c| c.query_one(sql, &[], |r| r.get(0)))
                .unwrap()
        };
        assert_eq!(
            counted("SELECT COUNT(*) FROM outbox WHERE invitation_id = 7"),
            1
        );
        assert_eq!(
            counted("SELECT COUNT(*) FROM invitations WHERE message = 'hi'"),
            1
        );
        assert_eq!(counted("SELECT member_count FROM organizations"), 1);
        assert_eq!(counted("SELECT COUNT(*) FROM join_links"), 1);
        db.write_blocking(|c| {
            c.execute(
                "INSERT INTO users (id, email, email_key, created_at, updated_at)
                 VALUES (2, 'c@acme.test', 'c@acme.test', 0, 0)",
                &[],
            )?;
            c.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                 VALUES (1, 2, 'billing', 0, 0)",
                &[],
            )
        })
        .unwrap();
        assert_eq!(counted("SELECT member_count FROM organizations"), 2);
        // Foreign keys are back on once the migration is done.
        let orphan = db.write_blocking(|c| {
            c.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                 VALUES (1, 99, 'MEMBER', 0, 0)",
                &[],
            )
        });
        assert!(orphan.is_err());
    }
}
