//! The PostgreSQL backend: pooled sessions that keep their prepared
//! statements, how [`Value`]s bind and columns read, transactions, and the
//! schema migration, taken under an advisory lock so several nodes starting
//! at once migrate once.
//!
//! The blocking `postgres` client fits the storage layer's model: every call
//! runs inside a closure on the blocking thread pool, never on the async
//! executor. Reads run in a `REPEATABLE READ READ ONLY` transaction (one
//! snapshot, like SQLite's read transaction); writes in a `READ COMMITTED`
//! transaction each, committed before the caller hears success. Where two
//! writers race, the SQL decides: conditional updates, unique indexes and row
//! locks, never a check in one statement and an act in another.

use super::after_commit::Queued;
use super::sql::{Conn, Kind, Value};
use super::{StorageError, WriteConn};
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use std::collections::HashMap;
use std::time::Duration;

/// Files in `migrations/postgres/`, each named by the schema version it
/// brings the database to (the same numbering as SQLite's `user_version`).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        6,
        include_str!("../../migrations/postgres/0006_baseline.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_outbox_claims.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_events_webhooks.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_inbox_proof.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_identities.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_session_methods.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_openid_provider.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_email_codes.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_second_factors.sql"),
    ),
    (
        15,
        include_str!("../../migrations/postgres/0015_passkeys.sql"),
    ),
    (
        16,
        include_str!("../../migrations/postgres/0016_passkey_confirmations.sql"),
    ),
    (17, include_str!("../../migrations/postgres/0017_roles.sql")),
    (18, include_str!("../../migrations/postgres/0018_teams.sql")),
    (
        19,
        include_str!("../../migrations/postgres/0019_organization_lifecycle.sql"),
    ),
    (
        20,
        include_str!("../../migrations/postgres/0020_domains.sql"),
    ),
    (
        super::migrate::SEARCH_KEYS,
        include_str!("../../migrations/postgres/0021_search.sql"),
    ),
];

/// The schema version this binary writes on PostgreSQL: the same as SQLite's.
pub const SCHEMA_VERSION: i64 = super::SCHEMA_VERSION;

/// Statements a session keeps prepared; past this it starts again (the
/// working set is a few dozen).
const STATEMENT_CACHE: usize = 256;

/// Any fixed key: every enlist node takes the same lock to migrate.
const MIGRATION_LOCK: i64 = 0x656e_6c69_7374; // "enlist"

/// One pooled connection with the statements it has prepared, by the SQL
/// text the storage functions wrote (SQLite's `?N` placeholders).
pub struct Session {
    pub(super) client: Client,
    statements: HashMap<String, postgres::Statement>,
    /// A statement of the open transaction failed. PostgreSQL has then
    /// aborted the transaction (SQLite would have carried on), and `COMMIT`
    /// would quietly roll it back: a write that saw this never reports success.
    pub(super) failed: bool,
}

impl Session {
    /// The statement for `sql`, prepared on first use with the parameter
    /// types the values bound now have (BIGINT, TEXT, BYTEA): PostgreSQL
    /// cannot infer a parameter the text never uses or only tests for NULL,
    /// and each call site binds the same kinds every time.
    pub(super) fn prepare(
        &mut self,
        sql: &str,
        values: &[Bind<'_>],
    ) -> Result<postgres::Statement, StorageError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let types: Vec<Type> = values.iter().map(|bind| bind.0.kind().pg_type()).collect();
        let statement = self
            .client
            .prepare_typed(&dollar_placeholders(sql), &types)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// The blocking client, which is also dropped off the async executor: its
/// `Drop` closes the connection by blocking on the client's own runtime,
/// which panics on a thread that runs async tasks (a pool dropped at
/// shutdown, a test's database handle).
pub struct Client(Option<postgres::Client>);

impl std::ops::Deref for Client {
    type Target = postgres::Client;

    fn deref(&self) -> &postgres::Client {
        match &self.0 {
            Some(client) => client,
            // Emptied only by Drop, after which nothing can reach it.
            None => unreachable!("a PostgreSQL client used after it was dropped"),
        }
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        match &mut self.0 {
            Some(client) => client,
            None => unreachable!("a PostgreSQL client used after it was dropped"),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_async(move || drop(client));
        }
    }
}

/// `?1` → `$1`, outside string literals: the storage functions write SQLite's
/// numbered parameters, PostgreSQL numbers them with `$`.
pub(super) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_string = !in_string;
                out.push(c);
            }
            '?' if !in_string && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// Opens sessions for the r2d2 pool.
pub struct Manager {
    config: postgres::Config,
    tls: super::pg_tls::Tls,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        let client = self.tls.connect(&self.config)?;
        Ok(Session {
            client: Client(Some(client)),
            statements: HashMap::new(),
            failed: false,
        })
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), postgres::Error> {
        session.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.is_closed()
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// The pool for `url`: parsed (a malformed URL fails here, before any
/// connection), then opened with `size` connections at most.
pub(super) fn pool(url: &str, size: u32, wait: Duration) -> Result<Pool, StorageError> {
    let (config, tls) = super::pg_tls::parse(url)?;
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size.min(2)))
        .connection_timeout(wait)
        // A session that died with the server is found by has_broken and
        // replaced; checking on every checkout would cost a round trip.
        .test_on_check_out(false)
        // A failed connection surfaces once, where it matters: the start's
        // one error line, a request's 503, `/readyz`. r2d2 would also log
        // every retry of its background connector.
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(Manager { config, tls })
        .map_err(|e| StorageError::Unavailable(super::pg_tls::masked_error(url, &e.to_string())))
}

/// Brings the schema up to date, once across every node that starts now:
/// the first to take the advisory lock migrates, the others then find the
/// version current. A database newer than this binary is refused.
pub(super) fn migrate(client: &mut postgres::Client) -> Result<(), StorageError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS enlist_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let found: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM enlist_schema", &[])?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO enlist_schema (version) VALUES ($1)",
            &[version],
        )?;
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    tx.commit()?;
    Ok(())
}

thread_local! {
    static ON_BLOCKING_POOL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as one of the blocking pool's for as long as
/// it lives (set by `Database::read` and `write` around their closure).
pub(super) struct OnBlockingPool(bool);

impl OnBlockingPool {
    pub(super) fn enter() -> Self {
        Self(ON_BLOCKING_POOL.with(|on| on.replace(true)))
    }
}

impl Drop for OnBlockingPool {
    fn drop(&mut self) {
        ON_BLOCKING_POOL.with(|on| on.set(self.0));
    }
}

/// Runs `work` where the blocking client may block. The `postgres` client
/// drives its connection with a runtime of its own, which cannot start on a
/// thread that is running async tasks: a blocking call made there (at start
/// up, from a test) hops to a thread of its own; the request path, already
/// on the blocking pool, runs in place.
pub(super) fn off_async<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    let in_place = ON_BLOCKING_POOL.with(std::cell::Cell::get)
        || tokio::runtime::Handle::try_current().is_err();
    if in_place {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Runs `f` in one read-only snapshot (`REPEATABLE READ`), as SQLite's
/// read transaction gives every statement of a closure the same view.
pub(super) fn read<T, E>(
    session: &mut Session,
    f: impl FnOnce(Conn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StorageError>,
{
    session
        .client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .map_err(StorageError::from)?;
    let outcome = f(Conn::postgres(session, false));
    // Ending a read-only transaction cannot lose anything; a failed statement
    // left it aborted, which ROLLBACK ends too.
    if let Err(error) = session.client.batch_execute("ROLLBACK") {
        tracing::warn!(%error, "a read transaction did not end");
    }
    outcome
}

/// Runs `f` in one `READ COMMITTED` transaction and answers only once it
/// committed, with the work `f` queued (for the wake-ups after the commit);
/// an `Err` from `f` rolls everything back.
pub(super) fn write<T, E>(
    session: &mut Session,
    f: impl FnOnce(&WriteConn) -> Result<T, E>,
) -> Result<(T, Queued), E>
where
    E: From<StorageError>,
{
    session
        .client
        .batch_execute("BEGIN")
        .map_err(StorageError::from)?;
    session.failed = false;
    let write = WriteConn::new(Conn::postgres(session, true));
    let outcome = f(&write);
    let queued = write.take_queued();
    match outcome {
        Ok(_) if session.failed => {
            // The error being answered is the one that matters; a failed
            // rollback closes the connection, which rolls back too.
            session.client.batch_execute("ROLLBACK").ok();
            Err(E::from(StorageError::Batch(
                "a statement of this write failed, so PostgreSQL rolled the write back".into(),
            )))
        }
        Ok(value) => {
            session
                .client
                .batch_execute("COMMIT")
                .map_err(StorageError::from)?;
            Ok((value, queued))
        }
        Err(error) => {
            if let Err(rollback) = session.client.batch_execute("ROLLBACK") {
                tracing::warn!(error = %rollback, "a failed write did not roll back");
            }
            Err(error)
        }
    }
}

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Kind::Int => Type::INT8,
            Kind::Text => Type::TEXT,
            Kind::Blob => Type::BYTEA,
        }
    }
}

/// A [`Value`] as PostgreSQL binds it, to whatever type the statement gave
/// the parameter: the storage functions bind integers, text and bytes, and
/// the PostgreSQL schema keeps SQLite's types (BIGINT, TEXT, BYTEA).
#[derive(Debug)]
pub(super) struct Bind<'a>(pub(super) Value<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null(_) => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let fits = match self.0 {
            Value::Null(_) | Value::Int(_) => true,
            Value::Text(_) => <&str as ToSql>::accepts(ty),
            Value::Blob(_) => <&[u8] as ToSql>::accepts(ty),
        };
        if !fits {
            return Err(format!("{:?} cannot be bound as {ty}", self.0).into());
        }
        self.to_sql(ty, out)
    }
}

/// An integer column of any width (or a boolean, as SQLite stores them).
pub(super) fn int(row: &postgres::Row, index: usize) -> Result<Option<i64>, StorageError> {
    let ty = row
        .columns()
        .get(index)
        .map(|c| c.type_().clone())
        .ok_or_else(|| super::sql::bad_column(index, "no such column"))?;
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?,
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(i64::from),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(i64::from),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(i64::from),
        other => {
            return Err(super::sql::bad_column(
                index,
                format!("{other} is not an integer"),
            ));
        }
    })
}

/// SQLSTATEs worth a retry in a moment (503): the server is going away or
/// full, or this transaction lost a deadlock or serialization race.
pub(super) fn is_transient(error: &postgres::Error) -> bool {
    match error.code() {
        None => true, // the connection itself failed
        Some(code) => {
            let code = code.code();
            code.starts_with("08") // connection exception
                || code.starts_with("57P") // operator intervention (shutdown)
                || code == "53300" // too many connections
                || code == "40001" // serialization failure
                || code == "40P01" // deadlock detected
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dollar_placeholders;

    #[test]
    fn numbered_parameters_become_dollars_outside_strings() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, '?2', ?10 FROM t WHERE a = ? AND b = ?2"),
            "SELECT $1, '?2', $10 FROM t WHERE a = ? AND b = $2"
        );
    }
}
