//! An organization's email domains: registered by admins with a DNS TXT
//! challenge, verified by looking the record up, rechecked by the sweep,
//! and, once verified, applied to every address proven at the domain
//! ([`on_email_verified`]): a suggestion, a pending invitation, or the
//! membership itself.
//!
//! Every place an address becomes proven (a mailed link or code, an
//! invitation's secret, a provider's `email_verified`, the operator) goes
//! through `services::users` ([`super::users::create`] of a proven account,
//! [`super::users::mark_verified`]), which calls [`on_email_verified`] in
//! the same transaction: no path can prove an address and skip its domain.

use super::{ServiceError, ServiceResult, events};
use crate::db::domains::NewDomain;
pub use crate::db::domains::Suggestion;
use crate::db::teams::Holder;
use crate::db::{self, Conn, Database};
use crate::dns::{Resolver, TxtAnswer};
use crate::domain::event::{Actor, EventType, Origin};
use crate::domain::org_domain::{BadDomain, CHALLENGE_PREFIX, DomainMode, DomainName, OrgDomain};
use crate::domain::{Clock, Email, InvitationExtras, Millis, OrgId, Page, Paged, Role, UserId};
use crate::services::error_code::ErrorCode;
use std::time::Duration;
use uuid::Uuid;

/// A domain as a request gave it, checked (whether its role and teams are
/// the organization's is checked in the write, [`create`]).
#[derive(Debug, Clone)]
pub struct NewOrgDomain {
    pub domain: DomainName,
    pub mode: DomainMode,
    pub role: Role,
    pub team_ids: Vec<i64>,
}

/// An automatic invitation is not mailed (the person is proving their
/// address at that moment, and apps list it through `GET /invitations`),
/// so no message's lifetime applies: it stays open this long.
pub const AUTO_INVITATION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many verified domains one sweep pass looks up again.
pub const RECHECK_BATCH: i64 = 100;

impl NewOrgDomain {
    /// Errors name the API's fields (`domain`, `mode`, `role`, `teamIds`).
    pub fn parse(
        domain: &str,
        mode: &str,
        role: Option<&str>,
        team_ids: Option<&serde_json::Value>,
    ) -> ServiceResult<Self> {
        let domain = DomainName::parse(domain)
            .map_err(|e: BadDomain| ServiceError::invalid("domain", e.to_string()))?;
        let mode = mode.parse::<DomainMode>().map_err(|e| {
            let shown: String = mode.chars().take(64).collect();
            ServiceError::invalid("mode", format!("{e}, got `{shown}`"))
        })?;
        let role = match role {
            None => Role::Member,
            Some(raw) => raw.parse::<Role>().map_err(|_| {
                let shown: String = raw.chars().take(64).collect();
                ServiceError::invalid(
                    "role",
                    format!(
                        "role must be ADMIN, MEMBER or one of the organization's role keys, \
                         got `{shown}`"
                    ),
                )
            })?,
        };
        Ok(Self {
            domain,
            mode,
            role,
            team_ids: super::teams::ids(team_ids)?,
        })
    }
}

fn with_teams(conn: &Conn, mut domain: OrgDomain) -> ServiceResult<OrgDomain> {
    domain.team_ids = super::teams::ids_of(conn, Holder::Domain(domain.id))?;
    Ok(domain)
}

fn taken(domain: &DomainName) -> ServiceError {
    ServiceError::conflict(
        ErrorCode::DomainTaken,
        format!("{domain} is verified by another organization"),
    )
}

/// Registers a domain, unverified, with a fresh challenge. Refused: a
/// domain another organization verified (400 naming `domain`: no
/// organization can verify it while that holds), one the organization
/// registered already (409 `domain_exists`), one past
/// `domains.max_per_organization` (409 `domain_limit`).
pub fn create(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    new: &NewOrgDomain,
    max_per_organization: u32,
    now: Millis,
) -> ServiceResult<OrgDomain> {
    // Two creates at once must not both pass the cap or take one name.
    tx.lock_key(&format!("domains/{org_id}"))?;
    super::roles::resolve(tx, org_id, new.role.as_str())?;
    super::teams::check_ids(tx, org_id, &new.team_ids)?;
    if db::domains::verified(tx, new.domain.as_str())?.is_some_and(|d| d.org_id != org_id) {
        return Err(ServiceError::invalid(
            "domain",
            format!("{} is verified by another organization", new.domain),
        ));
    }
    if db::domains::registered(tx, org_id, &new.domain)? {
        return Err(ServiceError::conflict(
            ErrorCode::DomainExists,
            format!("the organization has registered {} already", new.domain),
        ));
    }
    if db::domains::count(tx, org_id)? >= i64::from(max_per_organization) {
        return Err(ServiceError::conflict(
            ErrorCode::DomainLimit,
            format!("an organization has at most {max_per_organization} domains"),
        ));
    }
    let challenge = format!(
        "{CHALLENGE_PREFIX}{}",
        crate::auth::secrets::random_base62(32)
    );
    let domain = db::domains::insert(
        tx,
        org_id,
        &NewDomain {
            domain: &new.domain,
            mode: new.mode,
            role: &new.role,
            challenge: &challenge,
        },
        now,
    )?;
    super::teams::attach(tx, Holder::Domain(domain.id), &new.team_ids)?;
    let domain = with_teams(tx, domain)?;
    events::domain(tx, origin, EventType::DomainCreated, &domain, now)?;
    Ok(domain)
}

pub fn get(conn: &Conn, org_id: i64, id: i64) -> ServiceResult<OrgDomain> {
    let domain = db::domains::get(conn, org_id, id)?.ok_or(ServiceError::NotFound("domain"))?;
    with_teams(conn, domain)
}

/// One page of the organization's domains, oldest first.
pub fn list(conn: &Conn, org_id: i64, page: Page) -> ServiceResult<Paged<OrgDomain>> {
    let mut items = db::domains::list(conn, org_id, page)?;
    super::teams::fill(
        conn,
        org_id,
        Holder::Domain,
        &mut items,
        |domain| domain.id,
        |domain| &mut domain.team_ids,
    )?;
    let total_count = db::domains::count(conn, org_id)?;
    Ok(page.of(items, total_count))
}

/// Deletes the domain (verified or not): nobody joins through it any more;
/// who joined stays. Answers its id.
pub fn delete(tx: &Conn, origin: &Origin, org_id: i64, id: i64, now: Millis) -> ServiceResult<i64> {
    let domain = get(tx, org_id, id)?;
    db::domains::delete(tx, org_id, id)?;
    events::domain(tx, origin, EventType::DomainDeleted, &domain, now)?;
    Ok(id)
}

/// Looks the challenge up and, when one TXT record at its name is exactly
/// the challenge, marks the domain verified (a `domain.verified` event).
/// Verifying a verified domain answers it as it is. Refused: the record is
/// not there (409 `verification_failed`), another organization verified
/// the name meanwhile (409 `domain_taken`), the lookup told nothing (503).
pub async fn verify(
    db: &Database,
    resolver: &Resolver,
    clock: &Clock,
    origin: Origin,
    org_id: i64,
    id: i64,
) -> ServiceResult<OrgDomain> {
    let domain = db.read(move |conn| get(conn, org_id, id)).await?;
    if domain.is_verified() {
        return Ok(domain);
    }
    let name = domain.domain.challenge_name();
    let answer = resolver.txt(&name).await.map_err(|e| {
        tracing::info!(error = %e, "a domain's TXT lookup failed");
        ServiceError::Unavailable {
            detail: format!(
                "The DNS lookup of {name} failed ({}); nothing was changed, try again.",
                e.reason
            ),
            retry_after_secs: 30,
        }
    })?;
    let records = match answer {
        TxtAnswer::Records(records) => records,
        TxtAnswer::None => Vec::new(),
    };
    if !domain.proven_by(&records) {
        return Err(ServiceError::conflict(
            ErrorCode::VerificationFailed,
            format!(
                "no TXT record at {name} holds `{}` ({} other TXT record(s) found); publish it \
                 and verify again (DNS changes may take a while to reach every server)",
                domain.challenge,
                records.len()
            ),
        ));
    }
    let now = clock.now();
    db.write(move |tx| {
        let domain = get(tx, org_id, id)?;
        if domain.is_verified() {
            return Ok(domain);
        }
        // Verifies of one name in several organizations take turns.
        tx.lock_key(&format!("domain {}", domain.domain))?;
        if db::domains::verified(tx, domain.domain.as_str())?.is_some() {
            return Err(taken(&domain.domain));
        }
        let verified = match db::domains::mark_verified(tx, org_id, id, now) {
            Ok(found) => found.ok_or(ServiceError::NotFound("domain"))?,
            Err(e) if db::is_unique_violation(&e) => return Err(taken(&domain.domain)),
            Err(e) => return Err(e.into()),
        };
        let verified = with_teams(tx, verified)?;
        events::domain(tx, &origin, EventType::DomainVerified, &verified, now)?;
        Ok(verified)
    })
    .await
}

/// One recheck pass: every verified domain not looked up for `every` is
/// looked up again. A record still there renews the check; an
/// authoritative "no such record" (the name or the value gone) moves the
/// domain back to unverified (`domain.unverified`), which stops what it
/// did for new addresses; a lookup that tells nothing (timeout, refusal)
/// changes nothing and is tried next pass. Answers how many went back.
pub async fn recheck(
    db: &Database,
    resolver: &Resolver,
    clock: &Clock,
    every: Duration,
) -> ServiceResult<usize> {
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let cutoff = Millis(clock.now().0.saturating_sub(every_ms));
    let due = db
        .read(move |conn| {
            Ok::<_, ServiceError>(db::domains::due_for_recheck(conn, cutoff, RECHECK_BATCH)?)
        })
        .await?;
    let mut unverified = 0;
    for domain in due {
        let name = domain.domain.challenge_name();
        let still = match resolver.txt(&name).await {
            Ok(TxtAnswer::Records(records)) => domain.proven_by(&records),
            Ok(TxtAnswer::None) => false,
            Err(error) => {
                tracing::warn!(%error, "a verified domain's recheck told nothing; trying next pass");
                continue;
            }
        };
        let now = clock.now();
        let id = domain.id;
        let went_back = db
            .write(move |tx| -> ServiceResult<bool> {
                if still {
                    db::domains::mark_checked(tx, id, now)?;
                    return Ok(false);
                }
                let Some(now_unverified) = db::domains::unverify(tx, id, now)? else {
                    return Ok(false);
                };
                let domain = with_teams(tx, now_unverified)?;
                events::domain(
                    tx,
                    &Origin::system(),
                    EventType::DomainUnverified,
                    &domain,
                    now,
                )?;
                Ok(true)
            })
            .await?;
        if went_back {
            tracing::info!(domain = %domain.domain, "a verified domain's TXT record is gone: unverified");
            unverified += 1;
        }
    }
    Ok(unverified)
}

/// What an address proven at a verified domain gets from it, run in the
/// transaction that proved it. `auto_join`: the membership with the
/// domain's role and teams (`member.added`, actor `domain`); `auto_invite`:
/// a pending invitation (`invitation.created`, actor `domain`), not
/// mailed; `suggest`: nothing stored (the suggestion is read when asked).
/// Someone already a member, or already holding a pending invitation, is
/// left alone. Only the exact domain counts: `ada@eu.acme.test` is not at
/// `acme.test`.
pub fn on_email_verified(tx: &Conn, user_id: i64, now: Millis) -> ServiceResult<()> {
    let Some(user) = db::users::get(tx, user_id)? else {
        return Ok(());
    };
    if !user.email_verified() {
        return Ok(());
    }
    let Ok(email) = Email::parse(&user.email) else {
        return Ok(());
    };
    let Some(at) = crate::domain::org_domain::of_email_key(email.key()) else {
        return Ok(());
    };
    let Some(domain) = db::domains::verified(tx, at)? else {
        return Ok(());
    };
    let origin = Origin::new(
        Actor::Domain {
            domain_id: domain.id,
            domain: domain.domain.as_str().to_owned(),
            user_id,
        },
        None,
    );
    let org = OrgId(domain.org_id);
    if db::members::role(tx, org, UserId(user_id))?.is_some() {
        return Ok(());
    }
    match domain.mode {
        DomainMode::Suggest => Ok(()),
        DomainMode::AutoJoin => {
            if db::members::insert_new(tx, org, UserId(user_id), &domain.role, now)? {
                let mut more = serde_json::Map::new();
                more.insert("domainId".into(), domain.id.into());
                events::member_added(tx, &origin, org, UserId(user_id), more, now)?;
                super::teams::join_named(
                    tx,
                    &origin,
                    domain.org_id,
                    Holder::Domain(domain.id),
                    user_id,
                    now,
                )?;
            }
            Ok(())
        }
        DomainMode::AutoInvite => auto_invite(tx, &origin, &domain, &email, now),
    }
}

fn auto_invite(
    tx: &Conn,
    origin: &Origin,
    domain: &OrgDomain,
    email: &Email,
    now: Millis,
) -> ServiceResult<()> {
    if db::invitations::has_open(tx, domain.org_id, email, None, now)? {
        return Ok(());
    }
    // The organization's first admin stands as the inviter the invitee sees.
    let Some(inviter) = db::members::first_admin(tx, domain.org_id)? else {
        return Ok(());
    };
    let invitation = db::invitations::insert(
        tx,
        &db::invitations::NewInvitation {
            uuid: Uuid::new_v4(),
            org_id: domain.org_id,
            invitee: email,
            role: domain.role.clone(),
            inviter_user_id: inviter,
            expires_at: now.plus(AUTO_INVITATION_LIFETIME),
            message: None,
            metadata: None,
            remind_at: None,
        },
        now,
    )?;
    let teams = super::teams::ids_of(tx, Holder::Domain(domain.id))?;
    super::teams::attach(tx, Holder::Invitation(invitation.id), &teams)?;
    events::invitation(
        tx,
        origin,
        EventType::InvitationCreated,
        &invitation,
        Some(InvitationExtras {
            message: None,
            metadata: None,
        }),
        now,
    )
}

/// The organizations the account's proven address may ask to join: those
/// whose verified `suggest` domain is exactly the address's domain, and of
/// which it is not a member. An unproven address gets none.
pub fn suggestions(conn: &Conn, user_id: i64) -> ServiceResult<Vec<Suggestion>> {
    let Some(user) = db::users::get(conn, user_id)? else {
        return Ok(Vec::new());
    };
    if !user.email_verified() {
        return Ok(Vec::new());
    }
    let Ok(email) = Email::parse(&user.email) else {
        return Ok(Vec::new());
    };
    match crate::domain::org_domain::of_email_key(email.key()) {
        Some(at) => Ok(db::domains::suggestions(conn, at, user_id)?),
        None => Ok(Vec::new()),
    }
}
