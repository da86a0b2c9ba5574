//! The storage seam: the one way the `db::*` modules run SQL, whichever
//! engine is behind it. A [`Conn`] runs a statement with [`Param`]s and hands
//! each result row to a closure as a [`Row`]; nothing above `db` sees an
//! engine's own types. SQL text is written once, with SQLite's numbered
//! parameters (`?1`), in the subset both dialects agree on; a statement that
//! must differ asks [`Conn::dialect`].

use super::StorageError;
use super::after_commit::{Queued, Recorder, Work};
use super::pg::{Bind as PgBind, Session};
use postgres::types::ToSql as PgToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::cell::RefCell;

pub type Result<T> = std::result::Result<T, StorageError>;

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection inside its transaction, as the storage functions take it.
/// Reads and writes get it through [`super::ReadConn`] and
/// [`super::WriteConn`], which dereference to it.
pub struct Conn<'c> {
    backend: Backend<'c>,
    /// Inside a PostgreSQL write transaction (see [`Conn::lock_for_write`]).
    writing: bool,
    /// The work this write queued, for the wake-ups after its commit
    /// (see `after_commit.rs`).
    queued: Recorder,
}

enum Backend<'c> {
    Sqlite(&'c rusqlite::Connection),
    /// A session inside its open transaction. In a `RefCell` because the
    /// client needs `&mut` for every statement while storage functions
    /// share `&Conn`; no borrow outlives one statement.
    Postgres(RefCell<&'c mut Session>),
}

impl<'c> Conn<'c> {
    pub(crate) fn sqlite(conn: &'c rusqlite::Connection) -> Self {
        Self {
            backend: Backend::Sqlite(conn),
            writing: false,
            queued: Recorder::default(),
        }
    }

    /// The SQLite connection behind this one, for the few jobs that are
    /// SQLite's own (the bulk fill's prepared statements).
    pub(crate) fn as_sqlite(&self) -> Option<&'c rusqlite::Connection> {
        match self.backend {
            Backend::Sqlite(conn) => Some(conn),
            Backend::Postgres(_) => None,
        }
    }

    pub(super) fn postgres(session: &'c mut Session, writing: bool) -> Self {
        Self {
            backend: Backend::Postgres(RefCell::new(session)),
            writing,
            queued: Recorder::default(),
        }
    }

    /// `FOR UPDATE` (`OF alias` when the query joins other tables, whose
    /// rows stay unlocked) for a row a write reads to decide what to change,
    /// inside a PostgreSQL write; nothing otherwise. Locked until commit, the
    /// row makes a racing writer wait and then read the winner's outcome, so
    /// two accepts, or an accept and a revoke, cannot both pass their check.
    /// SQLite's single writer already runs writes one at a time.
    pub fn lock_for_write(&self, of: Option<&str>) -> String {
        match (self.writing, of) {
            (false, _) => String::new(),
            (true, None) => " FOR UPDATE".into(),
            (true, Some(alias)) => format!(" FOR UPDATE OF {alias}"),
        }
    }

    /// `FOR NO KEY UPDATE` inside a PostgreSQL write, nothing otherwise: a
    /// row lock like [`Conn::lock_for_write`]'s that still lets other
    /// transactions insert rows whose foreign keys refer to the locked row.
    pub fn lock_row_for_write(&self) -> &'static str {
        if self.writing {
            " FOR NO KEY UPDATE"
        } else {
            ""
        }
    }

    /// `FOR UPDATE SKIP LOCKED` inside a PostgreSQL write, nothing otherwise:
    /// for work queues several nodes take from at once (each row goes to
    /// one of them; the others pass it by instead of waiting).
    pub fn skip_locked(&self) -> &'static str {
        if self.writing {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }

    /// Serialises the writes that decide on one `key` (an organization and
    /// an address, say) until this transaction ends, where no row exists yet
    /// to lock: a PostgreSQL transaction-scoped advisory lock. Nothing on
    /// SQLite, whose writes already run one at a time.
    pub fn lock_key(&self, key: &str) -> Result<()> {
        if self.writing {
            self.query_one(
                "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
                &[&key],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    /// Records that this write queued `work`: its worker is woken once the
    /// write committed (see `after_commit.rs`). Storage functions that
    /// insert queue rows call it; nothing above `db` does.
    pub(super) fn queued(&self, work: Work) {
        self.queued.note(work);
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement on PostgreSQL with `run` (query or execute), the
    /// session marked failed when it fails (see `pg::write`).
    fn on_postgres<T>(
        session: &RefCell<&'c mut Session>,
        sql: &str,
        params: &[&dyn Param],
        run: impl FnOnce(
            &mut postgres::Client,
            &postgres::Statement,
            &[&(dyn PgToSql + Sync)],
        ) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let binds = pg_binds(params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> =
            binds.iter().map(|b| b as &(dyn PgToSql + Sync)).collect();
        let mut session = session.borrow_mut();
        let outcome = session
            .prepare(sql, &binds)
            .and_then(|statement| Ok(run(&mut session.client, &statement, &refs)?));
        session.failed |= outcome.is_err();
        outcome
    }

    /// Runs a statement on PostgreSQL and hands back its rows.
    fn postgres_rows(
        session: &RefCell<&'c mut Session>,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<postgres::Row>> {
        Self::on_postgres(session, sql, params, |client, statement, refs| {
            client.query(statement, refs)
        })
    }

    /// Runs a statement that returns no rows (or whose rows are ignored);
    /// answers how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize> {
        match self.backend {
            Backend::Sqlite(conn) => {
                Ok(conn
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(
                        params.iter().map(|p| Bind(p.value())),
                    ))?)
            }
            Backend::Postgres(ref session) => {
                let changed =
                    Self::on_postgres(session, sql, params, |client, statement, refs| {
                        client.execute(statement, refs)
                    })?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// The first row's value, or `None` when there is no row.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(
                    params.iter().map(|p| Bind(p.value())),
                ))?;
                match rows.next()? {
                    Some(row) => read(&Row::Sqlite(row)).map(Some),
                    None => Ok(None),
                }
            }
            Backend::Postgres(ref session) => {
                let rows = Self::postgres_rows(session, sql, params)?;
                rows.first()
                    .map(|row| read(&Row::Postgres(row)))
                    .transpose()
            }
        }
    }

    /// The first row's value; no row at all is [`StorageError::NoRow`]
    /// (for statements that always return one: `RETURNING`, aggregates).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, read)?
            .ok_or(StorageError::NoRow)
    }

    /// Every row's value, in the order the statement gives them.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut read: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self.backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(
                    params.iter().map(|p| Bind(p.value())),
                ))?;
                let mut values = Vec::new();
                while let Some(row) = rows.next()? {
                    values.push(read(&Row::Sqlite(row))?);
                }
                Ok(values)
            }
            Backend::Postgres(ref session) => Self::postgres_rows(session, sql, params)?
                .iter()
                .map(|row| read(&Row::Postgres(row)))
                .collect(),
        }
    }
}

/// A read transaction, as [`super::Database::read`] hands it out. It
/// dereferences to a [`Conn`] so the `db::*` queries take it, but any
/// statement that would change the database fails (SQLite's connection is
/// `query_only`, PostgreSQL's transaction `READ ONLY`).
pub struct ReadConn<'c>(Conn<'c>);

impl<'c> ReadConn<'c> {
    pub(super) fn new(conn: Conn<'c>) -> Self {
        Self(conn)
    }
}

impl<'c> std::ops::Deref for ReadConn<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.0
    }
}

/// A write inside its transaction (on SQLite: the writer thread's open
/// transaction and the write's own savepoint), as [`super::Database::write`]
/// hands it out.
pub struct WriteConn<'c>(Conn<'c>);

impl<'c> WriteConn<'c> {
    pub(super) fn new(conn: Conn<'c>) -> Self {
        Self(conn)
    }

    /// What this write queued so far, and forget it: read by the code that
    /// commits, once it knows the write's changes stay.
    pub(super) fn take_queued(&self) -> Queued {
        self.0.queued.take()
    }
}

impl<'c> std::ops::Deref for WriteConn<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.0
    }
}

/// The parameters as PostgreSQL binds them; text holding U+0000, which
/// PostgreSQL cannot take, is refused first (SQLite stores it as given).
fn pg_binds<'p>(params: &'p [&'p dyn Param]) -> Result<Vec<PgBind<'p>>> {
    params
        .iter()
        .map(|p| match p.value() {
            Value::Text(text) if text.contains('\0') => Err(StorageError::NulCharacter),
            value => Ok(PgBind(value)),
        })
        .collect()
}

/// One result row; columns are read by position.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    pub fn get<T: Column>(&self, index: usize) -> Result<T> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index),
            Row::Postgres(row) => T::from_postgres(row, index),
        }
    }

    /// A TEXT column holding a value that parses (a UUID, a role, a status).
    pub fn parsed<T>(&self, index: usize) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let text: String = self.get(index)?;
        text.parse().map_err(|e: T::Err| StorageError::Column {
            index,
            detail: e.to_string(),
        })
    }

    /// A nullable TEXT column holding a value that parses.
    pub fn parsed_opt<T>(&self, index: usize) -> Result<Option<T>>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get::<Option<String>>(index)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e: T::Err| StorageError::Column {
                    index,
                    detail: e.to_string(),
                }),
        }
    }
}

/// A Rust value a column can be read as.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self>;
}

/// Types PostgreSQL reads as they are (TEXT, BYTEA).
macro_rules! column_as_is {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self> {
                Ok(row.get(index)?)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self> {
                Ok(row.try_get(index)?)
            }
        }
    )*};
}

column_as_is!(String, Option<String>, Vec<u8>, Option<Vec<u8>>);

/// Integers, whatever width PostgreSQL gives them (and booleans, which
/// SQLite stores as integers).
macro_rules! column_integer {
    ($($t:ty),*) => {$(
        impl Column for Option<$t> {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self> {
                Ok(row.get(index)?)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self> {
                super::pg::int(row, index)?
                    .map(|i| <$t>::try_from(i).map_err(|e| bad_column(index, e)))
                    .transpose()
            }
        }
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self> {
                Ok(row.get(index)?)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self> {
                <Option<$t>>::from_postgres(row, index)?
                    .ok_or_else(|| bad_column(index, "NULL where a value was expected"))
            }
        }
    )*};
}

column_integer!(i64, u32);

impl Column for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self> {
        super::pg::int(row, index)?
            .map(|i| i != 0)
            .ok_or_else(|| bad_column(index, "NULL where a boolean was expected"))
    }
}

/// A value bound to a statement's parameter. NULL keeps the type it would
/// have had, which a strictly typed engine needs to bind it.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null(Kind),
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Blob,
}

impl Value<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null(kind) => *kind,
            Value::Int(_) => Kind::Int,
            Value::Text(_) => Kind::Text,
            Value::Blob(_) => Kind::Blob,
        }
    }
}

/// A Rust value a statement parameter can take.
pub trait Param {
    fn value(&self) -> Value<'_>;
}

/// The type a NULL of this Rust type has.
pub trait Typed {
    const KIND: Kind;
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl Typed for i64 {
    const KIND: Kind = Kind::Int;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(i64::from(*self))
            }
        }
        impl Typed for $t {
            const KIND: Kind = Kind::Int;
        }
    )*};
}

int_param!(i32, u32, u16);

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Typed for bool {
    const KIND: Kind = Kind::Int;
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Typed for str {
    const KIND: Kind = Kind::Text;
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Typed for String {
    const KIND: Kind = Kind::Text;
}

impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl Typed for [u8] {
    const KIND: Kind = Kind::Blob;
}

impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl Typed for Vec<u8> {
    const KIND: Kind = Kind::Blob;
}

impl<const N: usize> Param for [u8; N] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: Typed + ?Sized> Typed for &T {
    const KIND: Kind = T::KIND;
}

impl<T: Param + Typed> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(value) => value.value(),
            None => Value::Null(T::KIND),
        }
    }
}

/// A [`Value`] as rusqlite binds it.
struct Bind<'a>(Value<'a>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null(_) => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A column whose stored text does not parse as its Rust type.
pub fn bad_column(index: usize, error: impl std::fmt::Display) -> StorageError {
    StorageError::Column {
        index,
        detail: error.to_string(),
    }
}

/// The plan of `sql`, one line per step: SQLite's `EXPLAIN QUERY PLAN`
/// details, PostgreSQL's `EXPLAIN` lines.
pub(super) fn explain(conn: &Conn, sql: &str, params: &[&dyn Param]) -> Result<String> {
    let lines = match conn.dialect() {
        Dialect::Sqlite => conn.query_all(&format!("EXPLAIN QUERY PLAN {sql}"), params, |row| {
            row.get::<String>(3)
        })?,
        Dialect::Postgres => conn.query_all(&format!("EXPLAIN {sql}"), params, |row| {
            row.get::<String>(0)
        })?,
    };
    Ok(lines.join("\n"))
}

/// The highest `?N` a statement names: a query assembled from optional
/// parts binds that many of its values (SQLite refuses more than it names).
pub(super) fn placeholders(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    let mut at = 0;
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'?'))
    {
        let digits = bytes
            .get(at + offset + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0_usize, |n, b| n * 10 + usize::from(b - b'0'));
        highest = highest.max(digits);
        at += offset + 1;
    }
    highest
}

#[cfg(test)]
mod placeholder_tests {
    #[test]
    fn finds_the_highest_numbered_placeholder() {
        assert_eq!(super::placeholders("SELECT 1"), 0);
        assert_eq!(super::placeholders("a = ?1 AND b < ?10 OR c = ?2"), 10);
    }
}
