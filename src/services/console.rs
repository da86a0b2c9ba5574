//! The admin console's gate: who a browser session belongs to and whether
//! that person administers the organization a console page is about. Every
//! console request asks again, inside the same storage call as what it
//! reads or changes, so an admin removed a moment ago is refused from the
//! next request on.

use super::events::EventQuery;
use super::{ServiceResult, events, invitations, orgs, second_factor, sessions};
use crate::db;
use crate::db::Conn;
use crate::domain::event::{Actor, Origin};
use crate::domain::invitation::InvitationFilter;
use crate::domain::second_factor::{AdminMfa, ConsoleStep};
use crate::domain::{
    Invitation, InvitationStatus, Membership, Millis, Organization, Page, Paged, Role,
};
use uuid::Uuid;

/// An administrator of one organization, signed in on this browser.
#[derive(Debug, Clone)]
pub struct ConsoleAdmin {
    pub user_id: i64,
    pub email: String,
    pub organization: Organization,
}

impl ConsoleAdmin {
    /// The signed-in person as the actor of what this request changes.
    pub fn origin(&self, request_id: Option<String>) -> Origin {
        Origin::new(
            Actor::User {
                user_id: self.user_id,
            },
            request_id,
        )
    }

    pub fn org_id(&self) -> i64 {
        self.organization.id
    }
}

/// Why a console request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The browser sent no session.
    NotSignedIn,
    /// Its session ended or expired.
    SessionEnded,
    /// Signed in with an address not proven yet.
    Unverified,
    /// Signed in, but not an administrator of this organization (or there
    /// is no such organization: the two look the same).
    NotAdminHere {
        /// Whether the person administers any organization at all.
        administers_any: bool,
    },
    /// An administrator here, whom `auth.admin_mfa` asks for a second
    /// factor this session has not proved: the one they have
    /// (`enrolled`), or one to enrol first.
    SecondFactor { enrolled: bool },
}

/// What `auth.admin_mfa` asks of this administrator before the console
/// admits them. Invitees are never asked: only administrators get here.
fn factor_step(
    conn: &Conn,
    policy: AdminMfa,
    user: &sessions::SessionUser,
) -> ServiceResult<ConsoleStep> {
    let multi_factor = user.methods.is_multi_factor();
    if policy == AdminMfa::Off || multi_factor {
        return Ok(ConsoleStep::Admit);
    }
    let enrolled = second_factor::enrolled(conn, user.user_id)?;
    Ok(policy.console_step(enrolled, multi_factor))
}

/// The session's person, if they may use the console for `org_uuid`.
/// `org_uuid` is `None` when the URL's was not a UUID (no organization).
pub fn authorize(
    conn: &Conn,
    session_token: Option<&str>,
    org_uuid: Option<Uuid>,
    policy: AdminMfa,
    now: Millis,
) -> ServiceResult<Result<ConsoleAdmin, Denial>> {
    let Some(token) = session_token else {
        return Ok(Err(Denial::NotSignedIn));
    };
    let Some(user) = sessions::find(conn, token, now)? else {
        return Ok(Err(Denial::SessionEnded));
    };
    if !user.email_verified {
        return Ok(Err(Denial::Unverified));
    }
    let membership = match org_uuid {
        Some(uuid) => db::members::find_by_org_uuid(conn, uuid, user.user_id)?,
        None => None,
    };
    match membership {
        Some((org_id, Role::Admin)) => match factor_step(conn, policy, &user)? {
            ConsoleStep::Admit => Ok(Ok(ConsoleAdmin {
                user_id: user.user_id,
                email: user.email,
                organization: orgs::get(conn, org_id)?,
            })),
            ConsoleStep::Verify => Ok(Err(Denial::SecondFactor { enrolled: true })),
            ConsoleStep::Enrol => Ok(Err(Denial::SecondFactor { enrolled: false })),
        },
        _ => {
            let administers_any = administered(conn, user.user_id)?.next().is_some();
            Ok(Err(Denial::NotAdminHere { administers_any }))
        }
    }
}

/// [`authorize`] for a change: once admitted, the request waits its turn
/// with the organization's role changes and removals, then asks again, so
/// a demotion or removal that committed meanwhile is seen (on PostgreSQL,
/// where nodes write at once; SQLite's one writer already takes turns).
pub fn authorize_change(
    tx: &Conn,
    session_token: Option<&str>,
    org_uuid: Option<Uuid>,
    policy: AdminMfa,
    now: Millis,
) -> ServiceResult<Result<ConsoleAdmin, Denial>> {
    match authorize(tx, session_token, org_uuid, policy, now)? {
        Ok(admin) if tx.dialect() == db::Dialect::Postgres => {
            super::orgs::take_turn(tx, admin.org_id())?;
            authorize(tx, session_token, org_uuid, policy, now)
        }
        other => Ok(other),
    }
}

fn find_session(
    conn: &Conn,
    session_token: Option<&str>,
    now: Millis,
) -> ServiceResult<Option<sessions::SessionUser>> {
    match session_token {
        Some(token) => sessions::find(conn, token, now),
        None => Ok(None),
    }
}

fn administered(conn: &Conn, user_id: i64) -> ServiceResult<impl Iterator<Item = Membership>> {
    Ok(db::members::organizations_of(conn, user_id)?
        .into_iter()
        .filter(|membership| membership.role == Role::Admin))
}

/// The console's front door for a signed-in person.
#[derive(Debug, Clone)]
pub enum Lobby {
    SignedOut,
    Unverified {
        email: String,
    },
    /// Signed in; the organizations they administer, oldest membership
    /// first (none: not an administrator anywhere).
    SignedIn {
        email: String,
        organizations: Vec<Membership>,
    },
    /// An administrator whom `auth.admin_mfa` asks for a second factor
    /// first: the one they have (`enrolled`; `factors` are those usable
    /// here), or one to enrol.
    SecondFactor {
        email: String,
        enrolled: bool,
        factors: second_factor::Factors,
    },
}

/// Where the session's person stands at the console's door;
/// `passkeys_offered` is whether this server offers passkeys.
pub fn lobby(
    conn: &Conn,
    session_token: Option<&str>,
    policy: AdminMfa,
    passkeys_offered: bool,
    now: Millis,
) -> ServiceResult<Lobby> {
    let Some(user) = find_session(conn, session_token, now)? else {
        return Ok(Lobby::SignedOut);
    };
    if !user.email_verified {
        return Ok(Lobby::Unverified { email: user.email });
    }
    let organizations: Vec<Membership> = administered(conn, user.user_id)?.collect();
    if !organizations.is_empty() {
        match factor_step(conn, policy, &user)? {
            ConsoleStep::Admit => {}
            step => {
                return Ok(Lobby::SecondFactor {
                    email: user.email,
                    enrolled: step == ConsoleStep::Verify,
                    factors: second_factor::factors(conn, user.user_id, passkeys_offered)?,
                });
            }
        }
    }
    Ok(Lobby::SignedIn {
        email: user.email,
        organizations,
    })
}

/// How many pending invitations the overview lists.
pub const OVERVIEW_PENDING: i64 = 5;
/// How many events the overview lists.
pub const OVERVIEW_EVENTS: i64 = 10;

/// What the overview page shows besides the organization itself.
pub struct Overview {
    /// The newest pending invitations, and how many there are in all.
    pub pending: Paged<Invitation>,
    /// The newest events, as the audit log gives them (JSON).
    pub recent_events: Vec<String>,
}

pub fn overview(conn: &Conn, admin: &ConsoleAdmin, now: Millis) -> ServiceResult<Overview> {
    let pending = invitations::list(
        conn,
        admin.org_id(),
        InvitationFilter::new(Some(InvitationStatus::Pending), false),
        Page {
            limit: OVERVIEW_PENDING,
            offset: 0,
        },
        now,
    )?;
    let recent_events = events::list(
        conn,
        admin.org_id(),
        &EventQuery::default(),
        OVERVIEW_EVENTS,
    )?
    .items;
    Ok(Overview {
        pending,
        recent_events,
    })
}
