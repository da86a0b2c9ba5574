//! Second factors: each account's authenticator app (TOTP) and its
//! recovery codes (see migrations/0014_second_factors.sql).

use super::sql::{Conn, Result};
use crate::domain::Millis;
use crate::domain::second_factor::Failures;

/// An account's TOTP factor, confirmed or still being enrolled.
#[derive(Clone)]
pub struct TotpRow {
    pub secret: Vec<u8>,
    /// None until a code from the secret was typed back.
    pub confirmed_at: Option<Millis>,
    pub last_step: Option<i64>,
    pub failures: Failures,
}

pub fn totp_of(conn: &Conn, user_id: i64) -> Result<Option<TotpRow>> {
    conn.query_opt(
        "SELECT secret, confirmed_at, last_step, failures, failures_since, locked_until
         FROM totp_factors WHERE user_id = ?1",
        &[&user_id],
        |row| {
            Ok(TotpRow {
                secret: row.get(0)?,
                confirmed_at: row.get::<Option<i64>>(1)?.map(Millis),
                last_step: row.get(2)?,
                failures: Failures {
                    count: row.get(3)?,
                    since: row.get::<Option<i64>>(4)?.map(Millis),
                    locked_until: row.get::<Option<i64>>(5)?.map(Millis),
                },
            })
        },
    )
}

/// A new secret being enrolled, in place of any unconfirmed one (the
/// count of wrong codes and any lock carry over).
pub fn put_pending(conn: &Conn, user_id: i64, secret: &[u8], now: Millis) -> Result<()> {
    let updated = conn.execute(
        "UPDATE totp_factors SET secret = ?2, created_at = ?3, last_step = NULL
         WHERE user_id = ?1 AND confirmed_at IS NULL",
        &[&user_id, &secret, &now.0],
    )?;
    if updated == 0 {
        conn.execute(
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES (?1, ?2, ?3)",
            &[&user_id, &secret, &now.0],
        )?;
    }
    Ok(())
}

/// A code of `step` was accepted: confirms the factor (if it was not),
/// remembers the step and clears the count of wrong codes.
pub fn accept_step(conn: &Conn, user_id: i64, step: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE totp_factors
         SET last_step = ?2, confirmed_at = COALESCE(confirmed_at, ?3),
             failures = 0, failures_since = NULL
         WHERE user_id = ?1",
        &[&user_id, &step, &now.0],
    )?;
    Ok(())
}

pub fn set_failures(conn: &Conn, user_id: i64, failures: &Failures) -> Result<()> {
    conn.execute(
        "UPDATE totp_factors SET failures = ?2, failures_since = ?3, locked_until = ?4
         WHERE user_id = ?1",
        &[
            &user_id,
            &failures.count,
            &failures.since.map(|m| m.0),
            &failures.locked_until.map(|m| m.0),
        ],
    )?;
    Ok(())
}

/// Removes the account's TOTP factor and recovery codes; answers whether
/// it had a confirmed factor.
pub fn delete_all(conn: &Conn, user_id: i64) -> Result<bool> {
    let confirmed = conn.execute(
        "DELETE FROM totp_factors WHERE user_id = ?1 AND confirmed_at IS NOT NULL",
        &[&user_id],
    )?;
    conn.execute("DELETE FROM totp_factors WHERE user_id = ?1", &[&user_id])?;
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", &[&user_id])?;
    Ok(confirmed > 0)
}

/// Replaces the account's recovery codes with these digests.
pub fn replace_recovery_codes(
    conn: &Conn,
    user_id: i64,
    digests: &[[u8; 32]],
    now: Millis,
) -> Result<()> {
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", &[&user_id])?;
    for digest in digests {
        conn.execute(
            "INSERT INTO recovery_codes (user_id, code_sha256, created_at) VALUES (?1, ?2, ?3)",
            &[&user_id, digest, &now.0],
        )?;
    }
    Ok(())
}

/// The digests of the account's recovery codes not used yet.
pub fn unused_recovery_codes(conn: &Conn, user_id: i64) -> Result<Vec<Vec<u8>>> {
    conn.query_all(
        "SELECT code_sha256 FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        &[&user_id],
        |row| row.get(0),
    )
}

/// Marks one recovery code used; answers whether it was still unused.
pub fn use_recovery_code(conn: &Conn, user_id: i64, digest: &[u8], now: Millis) -> Result<bool> {
    let marked = conn.execute(
        "UPDATE recovery_codes SET used_at = ?3
         WHERE user_id = ?1 AND code_sha256 = ?2 AND used_at IS NULL",
        &[&user_id, &digest, &now.0],
    )?;
    Ok(marked == 1)
}

/// Of these accounts, the ones with a confirmed second factor (one query
/// for a page of members).
pub fn enrolled_among(conn: &Conn, user_ids: &[i64]) -> Result<Vec<i64>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers from our own rows: inlined, as db::identities does.
    let list = user_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    conn.query_all(
        &format!(
            "SELECT user_id FROM totp_factors
             WHERE user_id IN ({list}) AND confirmed_at IS NOT NULL ORDER BY user_id"
        ),
        &[],
        |row| row.get(0),
    )
}
