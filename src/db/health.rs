//! What operations probes read.

use rusqlite::Connection;

/// Reads the schema: a read transaction on the file, so a database that
/// cannot be read fails (`SELECT 1` would never touch the file).
pub fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })?;
    Ok(())
}
