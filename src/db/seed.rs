//! Bulk fill for benchmarks (`enlist dev seed`): organizations, members and
//! invitations inserted through prepared statements in the caller's one
//! transaction. The counter triggers stay on, so `invitation_counts` and
//! `organizations.member_count` are kept exact by the same code that keeps
//! them exact in production.
//!
//! Rows are generated cheaply: UUIDs from a small fast generator (not the
//! OS CSPRNG: these are test rows), emails from counters, one reused text
//! buffer per column.

use crate::domain::{InvitationStatus, Millis, Role};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, params};
use std::fmt::Write as _;
use uuid::Uuid;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// What to create.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub orgs: u32,
    /// Invitations of the first organization (the measured one).
    pub invitations: u64,
    /// Invitations of every other organization.
    pub other_invitations: u64,
    /// Members (besides the admin) of every organization.
    pub members: u64,
    /// Share of invitations that have expired (most already swept to
    /// EXPIRED, a few still PENDING past their expiry).
    pub expired_fraction: f64,
    /// Invitation lifetime, for `expires_at` of answered rows.
    pub lifetime_ms: i64,
    /// Created dates spread over this many days before now.
    pub spread_days: i64,
    /// Pending invitations addressed to one dedicated account in an
    /// organization of their own, for accept benchmarks.
    pub accept_pool: u64,
}

impl Default for SeedPlan {
    fn default() -> Self {
        Self {
            orgs: 1,
            invitations: 0,
            other_invitations: 0,
            members: 0,
            expired_fraction: 0.1,
            lifetime_ms: 7 * DAY_MS,
            spread_days: 180,
            accept_pool: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededOrg {
    pub id: i64,
    pub uuid: Uuid,
    pub admin_user_id: i64,
    pub invitations: u64,
    pub members: u64,
}

/// What was created, for the caller to build on (keys, clients).
#[derive(Debug, Clone)]
pub struct Seeded {
    pub orgs: Vec<SeededOrg>,
    /// An account with one pending invitation in every organization.
    pub invitee_user_id: i64,
    pub invitee_email: String,
    /// The account the accept pool is addressed to, and the pool itself.
    pub acceptor_user_id: i64,
    pub acceptor_email: String,
    pub accept_pool_org_id: Option<i64>,
    pub accept_pool_uuids: Vec<Uuid>,
}

/// Per-connection settings for the duration of a bulk fill: no fsync and a
/// page cache of `cache_kib` (the fill is one transaction; a crash loses
/// the whole seed, nothing else). A cache that holds every page the fill
/// dirties matters most: once SQLite has to spill dirty pages to the WAL
/// mid-transaction, the randomly ordered UUID index makes it write, read
/// back and rewrite the same pages over and over. Statement journals (every
/// INSERT that fires a trigger inside a transaction keeps one) stay in
/// memory instead of a temporary file: with them in a file, the seed spent
/// more time in `pwrite` than in SQLite. Call
/// [`restore_bulk_settings`] afterwards.
pub fn bulk_settings(conn: &Connection, cache_kib: u64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY;"
    ))
}

impl SeedPlan {
    /// Page cache for [`bulk_settings`]: about what the fill writes (a
    /// seeded invitation takes about 0.55 KiB with its index entries),
    /// between 64 MiB and 4 GiB.
    pub fn cache_kib(&self) -> u64 {
        let rows = self.invitations
            + self.other_invitations * u64::from(self.orgs.saturating_sub(1))
            + self.members * u64::from(self.orgs)
            + self.accept_pool;
        (rows * 7 / 10).clamp(64 * 1024, 4 * 1024 * 1024)
    }
}

/// Back to the settings every connection uses (see `db::configure`), and
/// the WAL folded into the main file so the database is at rest.
pub fn restore_bulk_settings(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2000; PRAGMA temp_store = DEFAULT;",
    )?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

struct Fast(SmallRng);

impl Fast {
    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.0.random()).into_uuid()
    }
}

/// Fills the database inside the caller's transaction.
pub fn fill(conn: &Connection, plan: &SeedPlan, now: Millis) -> rusqlite::Result<Seeded> {
    let mut rng = Fast(SmallRng::from_rng(&mut rand::rng()));
    let now = now.0;
    // A run tag keeps emails unique when seeding an already seeded database.
    let tag: u32 = rng.0.random_range(0..1_000_000);

    let mut insert_org = conn.prepare(
        "INSERT INTO organizations (uuid, name, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3)",
    )?;
    let mut insert_user = conn.prepare(
        "INSERT INTO users (email, email_key, first_name, last_name, created_at, updated_at)
         VALUES (?1, ?1, ?2, ?3, ?4, ?4)",
    )?;
    let mut insert_member = conn.prepare(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?;
    let mut insert_invitation = conn.prepare(
        "INSERT INTO invitations (uuid, org_id, invitee_email, invitee_email_key, role, status,
                                  inviter_user_id, created_at, updated_at, expires_at)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;

    let mut email = String::with_capacity(64);
    let mut uuid_buf = Uuid::encode_buffer();
    let mut add_user = |email: &str, first: &str, last: &str, at: i64| -> rusqlite::Result<i64> {
        insert_user.execute(params![email, first, last, at])?;
        Ok(conn.last_insert_rowid())
    };

    let invitee_email = format!("invitee.{tag}@bench.example.test");
    let invitee_user_id = add_user(&invitee_email, "Ivy", "Invitee", now - DAY_MS)?;
    let acceptor_email = format!("acceptor.{tag}@bench.example.test");
    let acceptor_user_id = add_user(&acceptor_email, "Ace", "Acceptor", now - DAY_MS)?;

    let spread = plan.spread_days.max(1) * DAY_MS;
    let mut orgs = Vec::with_capacity(plan.orgs as usize);
    for o in 0..plan.orgs {
        let invitations = if o == 0 {
            plan.invitations
        } else {
            plan.other_invitations
        };
        let created = now - spread - DAY_MS;
        let uuid = rng.uuid();
        insert_org.execute(params![
            uuid.hyphenated().encode_lower(&mut uuid_buf) as &str,
            format!("Bench org {tag}-{o}"),
            created
        ])?;
        let org_id = conn.last_insert_rowid();

        email.clear();
        let _ = write!(email, "admin.{tag}.o{o}@bench.example.test");
        let admin = add_user(&email, "Ada", &format!("Admin {o}"), created)?;
        insert_member.execute(params![org_id, admin, Role::Admin.as_str(), created])?;
        for m in 0..plan.members {
            email.clear();
            let _ = write!(email, "member.{tag}.o{o}.{m:08}@bench.example.test");
            let at = created + (m as i64 * spread) / plan.members.max(1) as i64;
            let user = add_user(&email, "Mem", &format!("Ber {m}"), at)?;
            insert_member.execute(params![org_id, user, Role::Member.as_str(), at])?;
        }

        for i in 0..invitations {
            // Oldest first, so the created_at indexes grow at one end.
            let created_at = now - spread + (i as i64 * spread) / invitations as i64;
            let roll: f64 = rng.0.random();
            let (status, updated_at, expires_at) =
                invitation_shape(&mut rng.0, plan, roll, created_at, now);
            let role = if rng.0.random_ratio(1, 10) {
                Role::Admin
            } else {
                Role::Member
            };
            email.clear();
            let _ = write!(email, "person.{tag}.o{o}.{i:09}@example.test");
            let uuid = rng.uuid();
            insert_invitation.execute(params![
                uuid.hyphenated().encode_lower(&mut uuid_buf) as &str,
                org_id,
                &email,
                role.as_str(),
                status.as_str(),
                admin,
                created_at,
                updated_at,
                expires_at
            ])?;
        }

        // The invitee's own pending invitation here.
        let uuid = rng.uuid();
        insert_invitation.execute(params![
            uuid.hyphenated().encode_lower(&mut uuid_buf) as &str,
            org_id,
            &invitee_email,
            Role::Member.as_str(),
            InvitationStatus::Pending.as_str(),
            admin,
            now - HOUR_MS,
            now - HOUR_MS,
            now + plan.lifetime_ms - HOUR_MS
        ])?;

        orgs.push(SeededOrg {
            id: org_id,
            uuid,
            admin_user_id: admin,
            invitations,
            members: plan.members,
        });
    }

    let mut accept_pool_org_id = None;
    let mut accept_pool_uuids = Vec::with_capacity(plan.accept_pool as usize);
    if plan.accept_pool > 0 {
        let uuid = rng.uuid();
        insert_org.execute(params![
            uuid.hyphenated().encode_lower(&mut uuid_buf) as &str,
            format!("Bench accept pool {tag}"),
            now - DAY_MS
        ])?;
        let org_id = conn.last_insert_rowid();
        email.clear();
        let _ = write!(email, "admin.{tag}.pool@bench.example.test");
        let admin = add_user(&email, "Pat", "Pool", now - DAY_MS)?;
        insert_member.execute(params![org_id, admin, Role::Admin.as_str(), now - DAY_MS])?;
        for i in 0..plan.accept_pool {
            let created_at = now - HOUR_MS + i as i64 % HOUR_MS;
            let uuid = rng.uuid();
            insert_invitation.execute(params![
                uuid.hyphenated().encode_lower(&mut uuid_buf) as &str,
                org_id,
                &acceptor_email,
                Role::Member.as_str(),
                InvitationStatus::Pending.as_str(),
                admin,
                created_at,
                created_at,
                created_at + plan.lifetime_ms
            ])?;
            accept_pool_uuids.push(uuid);
        }
        accept_pool_org_id = Some(org_id);
    }

    Ok(Seeded {
        orgs,
        invitee_user_id,
        invitee_email,
        acceptor_user_id,
        acceptor_email,
        accept_pool_org_id,
        accept_pool_uuids,
    })
}

/// Status, updated_at and expires_at of one generated invitation, coherent
/// with its creation time: answered rows were answered within their
/// lifetime; pending rows are unexpired (resent when older than a
/// lifetime); expired rows are mostly swept already, a few not yet.
fn invitation_shape(
    rng: &mut SmallRng,
    plan: &SeedPlan,
    roll: f64,
    created_at: i64,
    now: i64,
) -> (InvitationStatus, i64, i64) {
    use InvitationStatus::*;
    let lifetime = plan.lifetime_ms;
    let natural_expiry = created_at + lifetime;
    let expired = plan.expired_fraction.clamp(0.0, 1.0);
    if roll < expired {
        let expires_at = natural_expiry.min(now - rng.random_range(1..HOUR_MS));
        // One in a hundred expired rows is still stored as PENDING: the
        // sweep has not reached it.
        let status = if rng.random_ratio(1, 100) {
            Pending
        } else {
            Expired
        };
        return (status, created_at, expires_at);
    }
    let rest = (roll - expired) / (1.0 - expired).max(f64::EPSILON);
    let status = match rest {
        r if r < 0.45 => Pending,
        r if r < 0.80 => Accepted,
        r if r < 0.90 => Declined,
        _ => Revoked,
    };
    if status == Pending {
        let expires_at = if natural_expiry > now {
            natural_expiry
        } else {
            now + rng.random_range(HOUR_MS..lifetime.max(HOUR_MS + 1))
        };
        return (status, created_at, expires_at);
    }
    let answered = (created_at + rng.random_range(0..lifetime.max(1))).min(now);
    (status, answered, natural_expiry)
}

/// `(org_id, status, n)` computed by counting rows, and the stored
/// counters, for checking that the triggers kept up.
pub fn counter_mismatches(conn: &Connection) -> rusqlite::Result<Vec<String>> {
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
    fn counters_match_the_rows_after_seeding() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::SCHEMA).unwrap();
        let plan = SeedPlan {
            orgs: 3,
            invitations: 2_000,
            other_invitations: 300,
            members: 25,
            expired_fraction: 0.2,
            accept_pool: 50,
            ..SeedPlan::default()
        };
        let now = Millis::now();
        let tx = conn.transaction().unwrap();
        let seeded = fill(&tx, &plan, now).unwrap();
        tx.commit().unwrap();

        assert!(counter_mismatches(&conn).unwrap().is_empty());
        assert_eq!(seeded.orgs.len(), 3);
        assert_eq!(seeded.accept_pool_uuids.len(), 50);
        let count =
            |sql: &str, id: i64| -> i64 { conn.query_row(sql, [id], |r| r.get(0)).unwrap() };
        let first = &seeded.orgs[0];
        // The measured organization's invitations, plus the invitee's one.
        assert_eq!(
            count(
                "SELECT COUNT(*) FROM invitations WHERE org_id = ?1",
                first.id
            ),
            2_001
        );
        assert_eq!(
            count(
                "SELECT SUM(n) FROM invitation_counts WHERE org_id = ?1",
                first.id
            ),
            2_001
        );
        assert_eq!(
            count(
                "SELECT member_count FROM organizations WHERE id = ?1",
                first.id
            ),
            26
        );
        let admin_role: String = conn
            .query_row(
                "SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2",
                [first.id, first.admin_user_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(admin_role, "ADMIN");
        // Every status occurs, and roughly the expired share has expired.
        let now = now.0;
        for status in InvitationStatus::ALL {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM invitations WHERE org_id = ?1 AND status = ?2",
                    params![first.id, status.as_str()],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(n > 0, "{status:?}");
        }
        let expired: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM invitations WHERE org_id = ?1
                 AND (status = 'EXPIRED' OR (status = 'PENDING' AND expires_at <= ?2))",
                params![first.id, now],
                |r| r.get(0),
            )
            .unwrap();
        assert!((250..=550).contains(&expired), "{expired}");
        // The invitee has one pending invitation per organization.
        let invitee: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM invitations WHERE invitee_email_key = ?1
                 AND status = 'PENDING' AND expires_at > ?2",
                params![seeded.invitee_email, now],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(invitee, 3);
    }

    #[test]
    fn a_broken_counter_is_reported() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::SCHEMA).unwrap();
        fill(
            &conn,
            &SeedPlan {
                invitations: 10,
                members: 2,
                ..SeedPlan::default()
            },
            Millis::now(),
        )
        .unwrap();
        assert!(counter_mismatches(&conn).unwrap().is_empty());
        conn.execute_batch("UPDATE organizations SET member_count = 99")
            .unwrap();
        assert!(!counter_mismatches(&conn).unwrap().is_empty());
    }
}
