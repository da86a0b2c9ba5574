//! SQL for the bulk fill of `enlist dev seed`: prepared inserts run in the
//! caller's one transaction, the connection settings for the fill, and the
//! check that counters match rows. What to insert (how many organizations,
//! which mix of statuses) is planned in `seeding::bulk`. The counter
//! triggers stay on, so `invitation_counts` and `organizations.member_count`
//! are kept exact by the same code that keeps them exact in production.

use super::StorageError;
use super::sql::{Conn, Result};
use crate::domain::{InvitationStatus, Role};
use rusqlite::{Connection, Statement, params};
use uuid::Uuid;

/// The fill's prepared statements, parsed once for millions of rows.
pub(crate) struct Rows<'c> {
    conn: &'c Connection,
    org: Statement<'c>,
    user: Statement<'c>,
    member: Statement<'c>,
    invitation: Statement<'c>,
    uuid_buf: [u8; uuid::fmt::Urn::LENGTH],
}

/// One generated invitation.
pub(crate) struct SeedInvitation<'a> {
    pub uuid: Uuid,
    pub org_id: i64,
    pub email: &'a str,
    pub role: Role,
    pub status: InvitationStatus,
    pub inviter_user_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
}

impl<'c> Rows<'c> {
    pub(crate) fn prepare(conn: &Conn<'c>) -> Result<Self> {
        let conn = conn.as_sqlite().ok_or_else(|| {
            StorageError::Unsupported(
                "dev seed fills a SQLite file only: seed one (--database FILE), then move it \
                 with `enlist copy --to URL`"
                    .into(),
            )
        })?;
        Ok(Self {
            conn,
            org: conn.prepare(
                "INSERT INTO organizations (uuid, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?3)",
            )?,
            user: conn.prepare(
                // Seeded accounts are as the operator's own: their addresses count as proven.
                "INSERT INTO users (email, email_key, first_name, last_name, created_at, updated_at,
                                    email_verified_at, name_key, last_name_key)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?4, ?4, ?5, ?6)",
            )?,
            member: conn.prepare(
                "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?,
            invitation: conn.prepare(
                "INSERT INTO invitations (uuid, org_id, invitee_email, invitee_email_key, role, status,
                                          inviter_user_id, created_at, updated_at, expires_at)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?,
            uuid_buf: Uuid::encode_buffer(),
        })
    }

    /// Inserts an organization; answers its id.
    pub(crate) fn org(&mut self, uuid: Uuid, name: &str, created_at: i64) -> Result<i64> {
        let uuid = uuid.hyphenated().encode_lower(&mut self.uuid_buf) as &str;
        self.org.execute(params![uuid, name, created_at])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Inserts an account (its email is its key: seeded emails are
    /// lower-case ASCII); answers its id.
    pub(crate) fn user(
        &mut self,
        email: &str,
        first_name: &str,
        last_name: &str,
        at: i64,
    ) -> Result<i64> {
        self.user.execute(params![
            email,
            first_name,
            last_name,
            at,
            crate::domain::search::name_key(first_name, last_name),
            crate::domain::search::last_name_key(last_name)
        ])?;
        Ok(self.conn.last_insert_rowid())
    }

    pub(crate) fn member(&mut self, org_id: i64, user_id: i64, role: Role, at: i64) -> Result<()> {
        self.member
            .execute(params![org_id, user_id, role.as_str(), at])?;
        Ok(())
    }

    pub(crate) fn invitation(&mut self, row: &SeedInvitation<'_>) -> Result<()> {
        let uuid = row.uuid.hyphenated().encode_lower(&mut self.uuid_buf) as &str;
        self.invitation.execute(params![
            uuid,
            row.org_id,
            row.email,
            row.role.as_str(),
            row.status.as_str(),
            row.inviter_user_id,
            row.created_at,
            row.updated_at,
            row.expires_at
        ])?;
        Ok(())
    }
}

/// Per-connection settings for the duration of a bulk fill: no fsync and a
/// page cache of `cache_kib` (`SeedPlan::cache_kib`) (the fill is one transaction; a crash loses
/// the whole seed, nothing else). A cache that holds every page the fill
/// dirties matters most: once SQLite has to spill dirty pages to the WAL
/// mid-transaction, the randomly ordered UUID index makes it write, read
/// back and rewrite the same pages over and over. Statement journals (every
/// INSERT that fires a trigger inside a transaction keeps one) stay in
/// memory instead of a temporary file: with them in a file, the seed spent
/// more time in `pwrite` than in SQLite. Call
/// [`restore_bulk_settings`] afterwards.
pub(super) fn bulk_settings(conn: &Connection, cache_kib: u64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY;"
    ))
}

/// Back to the settings every connection uses (see `db::configure`), and
/// the WAL folded into the main file so the database is at rest.
pub(super) fn restore_bulk_settings(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2000; PRAGMA temp_store = DEFAULT;",
    )?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

/// `(org_id, status, n)` computed by counting rows, and the stored
/// counters, for checking that the triggers kept up.
#[cfg(test)]
pub(crate) fn counter_mismatches(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT 'invitations', c.org_id, c.status, c.n, COUNT(i.id) FROM invitation_counts c
             LEFT JOIN invitations i ON i.org_id = c.org_id AND i.status = c.status
             GROUP BY c.org_id, c.status HAVING c.n <> COUNT(i.id)
         UNION ALL
         SELECT 'invitations', i.org_id, i.status, 0, COUNT(*) FROM invitations i
             WHERE NOT EXISTS (SELECT 1 FROM invitation_counts c
                               WHERE c.org_id = i.org_id AND c.status = i.status)
             GROUP BY i.org_id, i.status
         UNION ALL
         SELECT 'members', o.id, '', o.member_count,
                (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id)
             FROM organizations o
             WHERE o.member_count <> (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id)",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok(format!(
            "{} org {} {}: stored {}, counted {}",
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, i64>(4)?
        ))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_counter_is_reported() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
        let mut rows = Rows::prepare(&Conn::sqlite(&conn)).unwrap();
        let org = rows.org(Uuid::new_v4(), "Acme", 0).unwrap();
        let admin = rows.user("ada@acme.test", "Ada", "Admin", 0).unwrap();
        rows.member(org, admin, Role::Admin, 0).unwrap();
        for (i, status) in InvitationStatus::ALL.into_iter().enumerate() {
            let email = format!("p{i}@example.test");
            rows.invitation(&SeedInvitation {
                uuid: Uuid::new_v4(),
                org_id: org,
                email: &email,
                role: Role::Member,
                status,
                inviter_user_id: admin,
                created_at: 0,
                updated_at: 0,
                expires_at: 1,
            })
            .unwrap();
        }
        drop(rows);
        assert!(counter_mismatches(&conn).unwrap().is_empty());
        conn.execute_batch("UPDATE organizations SET member_count = 99")
            .unwrap();
        assert!(!counter_mismatches(&conn).unwrap().is_empty());
    }
}
