//! Moving up: a whole SQLite database copied into an empty PostgreSQL one.
//!
//! Every table is streamed with `COPY … FROM STDIN` in PostgreSQL's binary
//! format (typed values, so NULLs, bytes and text holding tabs, newlines or
//! backslashes need no escaping), all in one PostgreSQL transaction, parents
//! before children, ids kept (identity sequences moved past them). A text
//! value PostgreSQL cannot store (holding U+0000, or not UTF-8) stops the
//! copy naming its table and column.
//!
//! The counters (`invitation_counts`, `join_link_counts`,
//! `organizations.member_count`, `teams.member_count`) are not copied.
//! Their row triggers are switched off for the copy's transaction and each
//! counter is rebuilt afterwards with one grouped statement: fired once per row, the triggers
//! update the same few counter rows once per copied row, which made them
//! nearly all of the copy's time (220 000 invitations: 73 s with them,
//! 4.5 s without). A role that may not alter the tables (it does not own
//! them) copies with the triggers on: slower, the same result. Either way
//! the copy then compares every table's row count and every counter with
//! the source, and anything that differs rolls the whole copy back (the
//! triggers' switch with it). A target holding any organization, account or
//! client is refused: the copy never merges.

use super::StorageError;
use super::pg::{Bind, Session};
use super::sql::{Kind, Value};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;

/// Tables in an order where every row's parents come first, and whether the
/// table has an identity `id` whose sequence must move past the copied ids.
const TABLES: &[(&str, bool)] = &[
    ("organizations", true),
    ("users", true),
    ("org_roles", false),
    ("memberships", false),
    ("teams", true),
    ("team_members", false),
    ("invitations", true),
    ("invitation_teams", false),
    ("api_keys", true),
    ("server_secrets", false),
    ("oauth_clients", true),
    ("oauth_codes", false),
    ("refresh_tokens", false),
    ("outbox", true),
    ("web_sessions", false),
    ("email_links", false),
    ("signing_keys", true),
    ("join_links", true),
    ("join_link_teams", false),
    ("org_domains", true),
    ("domain_teams", false),
    ("idempotency_keys", false),
    ("events", true),
    ("webhook_endpoints", true),
    ("webhook_deliveries", true),
    ("webhook_attempts", true),
    ("invitation_links", false),
    ("identities", true),
    ("oidc_logins", false),
    ("oauth_consents", false),
    ("email_codes", false),
    ("totp_factors", false),
    ("recovery_codes", false),
    ("passkey_handles", false),
    ("passkeys", false),
    ("passkey_ceremonies", false),
];

/// Columns the target computes from other rows instead of copying.
const REBUILT_COLUMNS: &[&str] = &["member_count"];

/// A counter of the PostgreSQL schema: the table whose inserts the
/// trigger counts, and the statements that rebuild it from all the rows.
struct Counter {
    table: &'static str,
    trigger: &'static str,
    rebuild: &'static str,
}

const COUNTERS: &[Counter] = &[
    Counter {
        table: "memberships",
        trigger: "memberships_counts",
        rebuild: "UPDATE organizations o SET member_count = m.n
                    FROM (SELECT org_id, COUNT(*) AS n FROM memberships GROUP BY org_id) m
                   WHERE o.id = m.org_id",
    },
    Counter {
        table: "invitations",
        trigger: "invitations_counts_insert_delete",
        rebuild: "DELETE FROM invitation_counts;
                  INSERT INTO invitation_counts (org_id, status, n)
                  SELECT org_id, status, COUNT(*) FROM invitations GROUP BY org_id, status",
    },
    Counter {
        table: "join_links",
        trigger: "join_links_counts",
        rebuild: "DELETE FROM join_link_counts;
                  INSERT INTO join_link_counts (org_id, n)
                  SELECT org_id, COUNT(*) FROM join_links GROUP BY org_id",
    },
    Counter {
        table: "team_members",
        trigger: "team_members_counts",
        rebuild: "UPDATE teams t SET member_count = m.n
                    FROM (SELECT team_id, COUNT(*) AS n FROM team_members GROUP BY team_id) m
                   WHERE t.id = m.team_id",
    },
];

/// What a copy moved: rows per table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Copied {
    pub tables: Vec<(String, i64)>,
    pub rows: i64,
}

/// Copies `source` (at this binary's schema) into the empty database behind
/// `target`. Runs on the calling thread: a command, never a request.
pub(super) fn sqlite_to_postgres(
    source: &rusqlite::Connection,
    target: &mut Session,
) -> Result<Copied, StorageError> {
    let client = &mut *target.client;
    let mut tx = client.transaction()?;
    let occupied: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM organizations) OR EXISTS (SELECT 1 FROM users)
                 OR EXISTS (SELECT 1 FROM oauth_clients)",
            &[],
        )?
        .get(0);
    if occupied {
        return Err(StorageError::Unsupported(
            "the target database already holds organizations, accounts or clients; copy \
             into an empty one (createdb) so nothing is merged"
                .into(),
        ));
    }
    // Its secrets and signing key, if a server started on it before.
    tx.batch_execute("DELETE FROM server_secrets; DELETE FROM signing_keys;")?;
    let rebuild = counter_triggers_off(&mut tx)?;
    let mut copied = Vec::with_capacity(TABLES.len());
    let mut total = 0;
    for (table, identity) in TABLES {
        let rows = copy_table(source, &mut tx, table)?;
        if *identity {
            tx.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               COALESCE((SELECT MAX(id) FROM {table}), 1),
                               (SELECT MAX(id) FROM {table}) IS NOT NULL)"
            ))?;
        }
        let counted: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .get(0);
        if counted != rows {
            return Err(StorageError::Unsupported(format!(
                "{table}: {rows} rows read, {counted} in the target; nothing was copied"
            )));
        }
        total += rows;
        copied.push(((*table).to_owned(), rows));
    }
    if rebuild {
        for counter in COUNTERS {
            tx.batch_execute(counter.rebuild)?;
            tx.batch_execute(&format!(
                "ALTER TABLE {} ENABLE TRIGGER {}",
                counter.table, counter.trigger
            ))?;
        }
    }
    for (what, query) in [
        (
            "invitation counters",
            "SELECT org_id || ' ' || status || ' ' || n FROM invitation_counts
             WHERE n <> 0 ORDER BY org_id, status",
        ),
        (
            "join link counters",
            "SELECT org_id || ' ' || n FROM join_link_counts WHERE n <> 0 ORDER BY org_id",
        ),
        (
            "member counts",
            "SELECT id || ' ' || member_count FROM organizations ORDER BY id",
        ),
        (
            "team member counts",
            "SELECT id || ' ' || member_count FROM teams ORDER BY id",
        ),
    ] {
        let from_source: Vec<String> = source
            .prepare(query)?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let in_target: Vec<String> = tx.query(query, &[])?.iter().map(|row| row.get(0)).collect();
        if from_source != in_target {
            return Err(StorageError::Unsupported(format!(
                "the {what} rebuilt in the target differ from the source's; nothing was copied"
            )));
        }
    }
    tx.commit()?;
    Ok(Copied {
        tables: copied,
        rows: total,
    })
}

/// Switches the counters' row triggers off until this transaction ends
/// (a rollback switches them back on); answers whether it could, which
/// takes owning the tables. Without, the triggers count as rows arrive.
fn counter_triggers_off(tx: &mut postgres::Transaction<'_>) -> Result<bool, StorageError> {
    let mut attempt = tx.savepoint("counter_triggers")?;
    for counter in COUNTERS {
        let off = format!(
            "ALTER TABLE {} DISABLE TRIGGER {}",
            counter.table, counter.trigger
        );
        match attempt.batch_execute(&off) {
            Ok(()) => {}
            Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                let reason = error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |db| db.message().to_owned());
                tracing::warn!(
                    %reason,
                    "copying with the counter triggers on, far slower on large tables: this \
                     role does not own the tables; copy as their owner to rebuild the \
                     counters in one pass instead"
                );
                // Dropping the savepoint rolls back what it switched off.
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
    }
    attempt.commit()?;
    Ok(true)
}

/// Streams every row of `table` into the target with one binary `COPY`;
/// answers how many rows went.
fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> Result<i64, StorageError> {
    let mut select = source.prepare(&format!("SELECT * FROM {table}"))?;
    let columns: Vec<(usize, String)> = select
        .column_names()
        .into_iter()
        .enumerate()
        .filter(|(_, name)| !REBUILT_COLUMNS.contains(name))
        .map(|(index, name)| (index, name.to_owned()))
        .collect();
    let list = columns
        .iter()
        .map(|(_, name)| format!("\"{}\"", name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    // The binary format carries each value as its column's type: read the
    // types from the target itself.
    let types: Vec<Type> = tx
        .prepare(&format!("SELECT {list} FROM {table} LIMIT 0"))?
        .columns()
        .iter()
        .map(|column| column.type_().clone())
        .collect();
    let mut writer = BinaryCopyInWriter::new(
        tx.copy_in(&format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"))?,
        &types,
    );
    let mut rows = select.query([])?;
    let mut copied = 0;
    while let Some(row) = rows.next()? {
        let mut binds: Vec<Bind<'_>> = Vec::with_capacity(columns.len());
        for (index, name) in &columns {
            let value = match row.get_ref(*index)? {
                ValueRef::Null => Value::Null(Kind::Int),
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Text(bytes) => Value::Text(text(table, name, bytes)?),
                ValueRef::Blob(bytes) => Value::Blob(bytes),
                ValueRef::Real(_) => {
                    return Err(StorageError::Unsupported(format!(
                        "{table}.{name} holds a floating-point number, which no column of \
                         the schema stores; nothing was copied"
                    )));
                }
            };
            binds.push(Bind(value));
        }
        let values: Vec<&(dyn ToSql + Sync)> = binds
            .iter()
            .map(|bind| bind as &(dyn ToSql + Sync))
            .collect();
        writer.write(&values)?;
        copied += 1;
    }
    let written = writer.finish()?;
    if written != copied {
        return Err(StorageError::Unsupported(format!(
            "{table}: {copied} rows sent, {written} taken by the target; nothing was copied"
        )));
    }
    Ok(i64::try_from(copied).unwrap_or(i64::MAX))
}

/// A SQLite text value as PostgreSQL's text can hold it, or an error naming
/// where it is: SQLite stores any bytes it is given.
fn text<'a>(table: &str, column: &str, bytes: &'a [u8]) -> Result<&'a str, StorageError> {
    let refuse = |what: &str| {
        StorageError::Unsupported(format!(
            "{table}.{column} holds text {what}, which PostgreSQL cannot store; correct that \
             row in the SQLite file and copy again (nothing was copied)"
        ))
    };
    let text = std::str::from_utf8(bytes).map_err(|_| refuse("that is not UTF-8"))?;
    if text.contains('\0') {
        return Err(refuse("with a NUL character (U+0000)"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    /// A table added by a later migration must be added to the copy too
    /// (the counter tables excepted: the copy rebuilds them).
    #[test]
    fn the_copy_names_every_table_of_the_schema() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        tables.retain(|t| t != "invitation_counts" && t != "join_link_counts");
        let mut copied: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
        copied.sort();
        assert_eq!(tables, copied);
    }
}
