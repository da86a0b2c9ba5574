//! Moving up: a whole SQLite database copied into an empty PostgreSQL one.
//!
//! Every table is copied row by row in one PostgreSQL transaction, parents
//! before children, ids kept (identity sequences moved past them). The
//! counters (`invitation_counts`, `join_link_counts`,
//! `organizations.member_count`) are not copied: PostgreSQL's triggers
//! rebuild them from the rows as they arrive, and the copy then compares
//! them, with every table's row count, against the source. Anything that
//! differs rolls the whole copy back. A target holding any organization,
//! account or client is refused: the copy never merges.

use super::StorageError;
use super::pg::{Bind, Session};
use super::sql::Value;
use postgres::types::ToSql;
use rusqlite::types::ValueRef;

/// Tables in an order where every row's parents come first, and whether the
/// table has an identity `id` whose sequence must move past the copied ids.
const TABLES: &[(&str, bool)] = &[
    ("organizations", true),
    ("users", true),
    ("memberships", false),
    ("invitations", true),
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
    ("idempotency_keys", false),
    ("events", true),
    ("webhook_endpoints", true),
    ("webhook_deliveries", true),
    ("webhook_attempts", true),
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

fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> Result<i64, StorageError> {
    let mut select = source.prepare(&format!("SELECT * FROM {table}"))?;
    let columns: Vec<String> = select
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Counters are rebuilt by the target's triggers as memberships arrive:
    // an organization starts at 0 members.
    let rebuilt = |column: &str| column == "member_count";
    let mut next = 0;
    let values: Vec<String> = columns
        .iter()
        .map(|column| {
            if rebuilt(column) {
                "0".to_owned()
            } else {
                next += 1;
                format!("${next}")
            }
        })
        .collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
        columns.join(", "),
        values.join(", ")
    ))?;
    let mut rows = select.query([])?;
    let mut copied = 0;
    while let Some(row) = rows.next()? {
        let mut owned: Vec<Owned> = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            owned.push(match row.get_ref(index)? {
                ValueRef::Null => Owned::Null,
                ValueRef::Integer(i) => Owned::Int(i),
                ValueRef::Real(f) => Owned::Text(f.to_string()),
                ValueRef::Text(t) => Owned::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Owned::Blob(b.to_vec()),
            });
        }
        let binds: Vec<Bind<'_>> = owned.iter().map(Owned::bind).collect();
        let params: Vec<&(dyn ToSql + Sync)> = binds
            .iter()
            .zip(&columns)
            .filter(|(_, column)| !rebuilt(column))
            .map(|(bind, _)| bind as &(dyn ToSql + Sync))
            .collect();
        tx.execute(&insert, &params)?;
        copied += 1;
    }
    Ok(copied)
}

enum Owned {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Owned {
    fn bind(&self) -> Bind<'_> {
        Bind(match self {
            Owned::Null => Value::Null(super::sql::Kind::Int),
            Owned::Int(i) => Value::Int(*i),
            Owned::Text(s) => Value::Text(s),
            Owned::Blob(b) => Value::Blob(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    /// A table added by a later migration must be added to the copy too
    /// (the counter tables excepted: the target's triggers rebuild them).
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
