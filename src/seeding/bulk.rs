//! Benchmark data (`enlist dev seed`): the plan (how many organizations,
//! members and invitations, with which mix of statuses and dates), filled
//! through `db::seed`'s prepared inserts in the caller's one transaction,
//! then an API key for the measured organization and OAuth clients for the
//! invitee side, made by the same services the commands use.
//!
//! Rows are generated cheaply: UUIDs from a small fast generator (not the
//! OS CSPRNG: these are test rows), emails from counters, one reused text
//! buffer.

use crate::db::Conn;
use crate::db::seed::{Rows, SeedInvitation};
use crate::domain::{Email, InvitationStatus, Millis, Role, Scope};
use crate::domain::{OrgId, UserId};
use crate::services::{ServiceError, ServiceResult, api_keys, oauth};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
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

impl SeedPlan {
    /// Page cache for the bulk fill: about what the fill writes (a seeded
    /// invitation takes about 0.55 KiB with its index entries), between
    /// 64 MiB and 4 GiB.
    pub fn cache_kib(&self) -> u64 {
        let rows = self.invitations
            + self.other_invitations * u64::from(self.orgs.saturating_sub(1))
            + self.members * u64::from(self.orgs)
            + self.accept_pool;
        (rows * 7 / 10).clamp(64 * 1024, 4 * 1024 * 1024)
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

pub struct SeedOutcome {
    pub seeded: Seeded,
    /// A key with every scope for the first (measured) organization.
    pub api_key: api_keys::IssuedKey,
    /// A confidential client bound to the invitee (pending invitations in
    /// every organization): `(client_id, secret)`.
    pub invitee_client: (String, String),
    /// A confidential client bound to the account the accept pool is
    /// addressed to, when there is a pool.
    pub acceptor_client: Option<(String, String)>,
}

pub fn run(tx: &Conn, plan: &SeedPlan, now: Millis) -> ServiceResult<SeedOutcome> {
    if plan.orgs == 0 {
        return Err(ServiceError::invalid(
            "orgs",
            "seed at least one organization",
        ));
    }
    if !(0.0..=1.0).contains(&plan.expired_fraction) {
        return Err(ServiceError::invalid(
            "expired-fraction",
            "the expired fraction lies between 0 and 1",
        ));
    }
    let seeded = fill(tx, plan, now)?;
    let measured = seeded
        .orgs
        .first()
        .ok_or_else(|| ServiceError::invalid("orgs", "seed at least one organization"))?;
    let api_key = api_keys::create(
        tx,
        &crate::domain::event::Origin::cli(),
        OrgId(measured.id),
        UserId(measured.admin_user_id),
        "bench",
        &Scope::ALL,
        now,
    )?;
    let invitee_client = client_for(tx, "bench invitee", &seeded.invitee_email, now)?;
    let acceptor_client = match seeded.accept_pool_org_id {
        Some(_) => Some(client_for(
            tx,
            "bench acceptor",
            &seeded.acceptor_email,
            now,
        )?),
        None => None,
    };
    Ok(SeedOutcome {
        seeded,
        api_key,
        invitee_client,
        acceptor_client,
    })
}

fn client_for(tx: &Conn, name: &str, email: &str, now: Millis) -> ServiceResult<(String, String)> {
    let email = Email::parse(email).map_err(|e| ServiceError::invalid("user", e.to_string()))?;
    let (client, secret) = oauth::create_client(
        tx,
        &oauth::NewClient {
            name: name.into(),
            redirect_uris: Vec::new(),
            public: false,
            user: Some(email),
            ..Default::default()
        },
        now,
    )?;
    let secret = secret.ok_or(ServiceError::NotFound("client secret"))?;
    Ok((client.client_id, secret))
}

struct Fast(SmallRng);

impl Fast {
    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.0.random()).into_uuid()
    }
}

/// Fills the database inside the caller's transaction.
#[expect(
    clippy::too_many_lines,
    reason = "the fill is one pass over the plan; its steps share the row buffers"
)]
fn fill(conn: &Conn, plan: &SeedPlan, now: Millis) -> crate::db::sql::Result<Seeded> {
    let mut rng = Fast(SmallRng::from_rng(&mut rand::rng()));
    let now = now.0;
    // A run tag keeps emails unique when seeding an already seeded database.
    let tag: u32 = rng.0.random_range(0..1_000_000);
    let mut rows = Rows::prepare(conn)?;
    let mut email = String::with_capacity(64);

    let invitee_email = format!("invitee.{tag}@bench.example.test");
    let invitee_user_id = rows.user(&invitee_email, "Ivy", "Invitee", now - DAY_MS)?;
    let acceptor_email = format!("acceptor.{tag}@bench.example.test");
    let acceptor_user_id = rows.user(&acceptor_email, "Ace", "Acceptor", now - DAY_MS)?;

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
        let org_id = rows.org(uuid, &format!("Bench org {tag}-{o}"), created)?;

        email.clear();
        write!(email, "admin.{tag}.o{o}@bench.example.test").ok(); // writing to a String cannot fail
        let admin = rows.user(&email, "Ada", &format!("Admin {o}"), created)?;
        rows.member(org_id, admin, Role::Admin, created)?;
        for m in 0..plan.members {
            email.clear();
            write!(email, "member.{tag}.o{o}.{m:08}@bench.example.test").ok(); // writing to a String cannot fail
            let at = created + (m as i64 * spread) / plan.members.max(1) as i64;
            let user = rows.user(&email, "Mem", &format!("Ber {m}"), at)?;
            rows.member(org_id, user, Role::Member, at)?;
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
            write!(email, "person.{tag}.o{o}.{i:09}@example.test").ok(); // writing to a String cannot fail
            rows.invitation(&SeedInvitation {
                uuid: rng.uuid(),
                org_id,
                email: &email,
                role,
                status,
                inviter_user_id: admin,
                created_at,
                updated_at,
                expires_at,
            })?;
        }

        // The invitee's own pending invitation here.
        rows.invitation(&SeedInvitation {
            uuid: rng.uuid(),
            org_id,
            email: &invitee_email,
            role: Role::Member,
            status: InvitationStatus::Pending,
            inviter_user_id: admin,
            created_at: now - HOUR_MS,
            updated_at: now - HOUR_MS,
            expires_at: now + plan.lifetime_ms - HOUR_MS,
        })?;

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
        let org_id = rows.org(
            rng.uuid(),
            &format!("Bench accept pool {tag}"),
            now - DAY_MS,
        )?;
        email.clear();
        write!(email, "admin.{tag}.pool@bench.example.test").ok(); // writing to a String cannot fail
        let admin = rows.user(&email, "Pat", "Pool", now - DAY_MS)?;
        rows.member(org_id, admin, Role::Admin, now - DAY_MS)?;
        for i in 0..plan.accept_pool {
            let created_at = now - HOUR_MS + i as i64 % HOUR_MS;
            let uuid = rng.uuid();
            rows.invitation(&SeedInvitation {
                uuid,
                org_id,
                email: &acceptor_email,
                role: Role::Member,
                status: InvitationStatus::Pending,
                inviter_user_id: admin,
                created_at,
                updated_at: created_at,
                expires_at: created_at + plan.lifetime_ms,
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, params};

    #[test]
    fn counters_match_the_rows_after_seeding() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate_for_tests(&mut conn);
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
        let seeded = fill(&crate::db::Conn::sqlite(&tx), &plan, now).unwrap();
        tx.commit().unwrap();

        assert!(
            crate::db::seed::counter_mismatches(&conn)
                .unwrap()
                .is_empty()
        );
        assert_eq!(seeded.orgs.len(), 3);
        assert_eq!(seeded.accept_pool_uuids.len(), 50);
        let count =
            |sql: &str, id: i64| -> i64 { conn.query_row(sql, [id], |r| r.get(0)).unwrap() };
        let first = &seeded.orgs[0];
        let stored_uuid: String = conn
            .query_row(
                "SELECT uuid FROM organizations WHERE id = ?1",
                [first.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            stored_uuid,
            first.uuid.to_string(),
            "the organization's own uuid"
        );
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
}
