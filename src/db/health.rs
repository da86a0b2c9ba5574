//! What operations probes read.

use super::sql::{Conn, Result};

/// Reads the schema: a read transaction on the file, so a database that
/// cannot be read fails (`SELECT 1` would never touch the file).
pub fn probe(conn: &Conn) -> Result<()> {
    conn.query_one("SELECT COUNT(*) FROM sqlite_schema", &[], |row| {
        row.get::<i64>(0)
    })?;
    Ok(())
}
