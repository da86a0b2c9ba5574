//! SQL for sign-in codes mailed to an inbox: one live code per address,
//! found through the browser that asked for it.

use super::sql::{Conn, Result, Row};
use crate::domain::Millis;

pub struct NewCode<'a> {
    pub browser_sha256: &'a [u8],
    pub email_key: &'a str,
    pub email: &'a str,
    pub code_hmac: &'a [u8],
    pub return_to: Option<&'a str>,
    pub expires_at: Millis,
}

/// Stores a code for the address, replacing the one it had (used or not).
pub fn replace(conn: &Conn, code: &NewCode<'_>, now: Millis) -> Result<()> {
    conn.execute(
        "DELETE FROM email_codes WHERE email_key = ?1",
        &[&code.email_key],
    )?;
    conn.execute(
        "INSERT INTO email_codes (browser_sha256, email_key, email, code_hmac, return_to,
                                  created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &code.browser_sha256,
            &code.email_key,
            &code.email,
            &code.code_hmac,
            &code.return_to,
            &now.0,
            &code.expires_at.0,
        ],
    )?;
    Ok(())
}

/// A code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub email: String,
    pub email_key: String,
    pub code_hmac: Vec<u8>,
    pub return_to: Option<String>,
    pub attempts: i64,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

const COLUMNS: &str = "email, email_key, code_hmac, return_to, attempts, expires_at, used_at";

fn from_row(row: &Row<'_>) -> Result<CodeRow> {
    Ok(CodeRow {
        email: row.get(0)?,
        email_key: row.get(1)?,
        code_hmac: row.get(2)?,
        return_to: row.get(3)?,
        attempts: row.get(4)?,
        expires_at: Millis(row.get(5)?),
        used_at: row.get::<Option<i64>>(6)?.map(Millis),
    })
}

/// The code the browser (the SHA-256 of its cookie) asked for, in any state.
pub fn find(conn: &Conn, browser_sha256: &[u8]) -> Result<Option<CodeRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM email_codes WHERE browser_sha256 = ?1"),
        &[&browser_sha256],
        from_row,
    )
}

/// Counts a try of the browser's code, if it may still be tried (unused,
/// unexpired, fewer than `max_attempts` tries), and answers it as it is now.
/// The count goes up before the code is compared: however many tries
/// arrive at once, no more than `max_attempts` are ever compared.
pub fn count_attempt(
    conn: &Conn,
    browser_sha256: &[u8],
    max_attempts: i64,
    now: Millis,
) -> Result<Option<CodeRow>> {
    conn.query_opt(
        &format!(
            "UPDATE email_codes SET attempts = attempts + 1
             WHERE browser_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2
               AND attempts < ?3
             RETURNING {COLUMNS}"
        ),
        &[&browser_sha256, &now.0, &max_attempts],
        from_row,
    )
}

/// Uses the code up: whoever asks second finds it used.
pub fn mark_used(conn: &Conn, browser_sha256: &[u8], now: Millis) -> Result<bool> {
    let used = conn.execute(
        "UPDATE email_codes SET used_at = ?2 WHERE browser_sha256 = ?1 AND used_at IS NULL",
        &[&browser_sha256, &now.0],
    )?;
    Ok(used == 1)
}

/// Codes that expired before `cutoff` (`email_codes_expiry`).
pub fn delete_expired_before(conn: &Conn, cutoff: Millis) -> Result<usize> {
    conn.execute(
        "DELETE FROM email_codes WHERE expires_at < ?1",
        &[&cutoff.0],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_code(conn: &rusqlite::Connection, browser: &[u8], email_key: &str) {
        let code = NewCode {
            browser_sha256: browser,
            email_key,
            email: email_key,
            code_hmac: &[7; 32],
            return_to: Some("/admin"),
            expires_at: Millis(1000),
        };
        replace(&Conn::sqlite(conn), &code, Millis(0)).unwrap();
    }

    #[test]
    fn tries_stop_at_the_bound_and_a_code_is_used_once() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
        with_code(&conn, b"browser", "ada@x.test");
        let db = Conn::sqlite(&conn);
        for expected in 1..=3 {
            let row = count_attempt(&db, b"browser", 3, Millis(10))
                .unwrap()
                .unwrap();
            assert_eq!(row.attempts, expected);
            assert_eq!(row.return_to.as_deref(), Some("/admin"));
        }
        assert_eq!(count_attempt(&db, b"browser", 3, Millis(10)).unwrap(), None);
        assert_eq!(find(&db, b"browser").unwrap().unwrap().attempts, 3);
        assert!(mark_used(&db, b"browser", Millis(20)).unwrap());
        assert!(!mark_used(&db, b"browser", Millis(21)).unwrap(), "once");
        assert_eq!(count_attempt(&db, b"browser", 9, Millis(22)).unwrap(), None);
    }

    #[test]
    fn a_new_code_replaces_the_addresss_last_and_expiry_ends_tries() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
        with_code(&conn, b"first", "ada@x.test");
        with_code(&conn, b"other", "bob@x.test");
        with_code(&conn, b"second", "ada@x.test");
        let db = Conn::sqlite(&conn);
        assert_eq!(find(&db, b"first").unwrap(), None);
        assert!(find(&db, b"second").unwrap().is_some());
        assert_eq!(
            count_attempt(&db, b"second", 5, Millis(1000)).unwrap(),
            None
        );
        assert_eq!(delete_expired_before(&db, Millis(1001)).unwrap(), 2);
    }
}
