//! What operations probes read.

use super::sql::{Conn, Dialect, Result};

/// Reads the schema: a read transaction on the file, so a database that
/// cannot be read fails (`SELECT 1` would never touch the file).
pub fn probe(conn: &Conn) -> Result<()> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_schema",
        Dialect::Postgres => "SELECT COUNT(*) FROM enlist_schema",
    };
    conn.query_one(sql, &[], |row| row.get::<i64>(0))?;
    Ok(())
}
