//! The admin console's gate: who a browser session belongs to, whether
//! that person manages anything in the organization a console page is
//! about (the built-in ADMIN, or a role holding any of enlist's management
//! permissions), and whether they may use that page ([`Need`]). Every
//! console request asks again, inside the same storage call as what it
//! reads or changes, so an admin removed or demoted a moment ago is
//! refused from the next request on.

use super::events::EventQuery;
use super::{ServiceResult, events, invitations, orgs, second_factor, sessions};
use crate::db;
use crate::db::Conn;
use crate::domain::event::{Actor, Origin};
use crate::domain::invitation::InvitationFilter;
use crate::domain::role::{Management, Permissions};
use crate::domain::search::Search;
use crate::domain::second_factor::{AdminMfa, ConsoleStep};
use crate::domain::{
    Invitation, InvitationStatus, Membership, Millis, OrgId, Organization, Page, Paged, Role,
    UserId,
};
use crate::services::error_code::ErrorCode;
use uuid::Uuid;

/// Someone who manages (some of) one organization, signed in on this
/// browser: the built-in ADMIN, or a member whose role holds at least one
/// of enlist's management permissions.
#[derive(Debug, Clone)]
pub struct ConsoleAdmin {
    pub user_id: i64,
    pub email: String,
    pub organization: Organization,
    /// Their role here, and what it grants, as read when they were admitted.
    pub role: Role,
    pub permissions: Permissions,
}

/// What a console page or action needs of the person it admits. Every
/// page and action states one; the console checks it in the storage call
/// that admits the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone the console admits.
    Admitted,
    /// A holder of this management permission (ADMIN holds every one).
    Manage(Management),
    /// The built-in ADMIN only: API keys stay ADMIN's (docs/roles.md).
    BuiltInAdmin,
}

impl Need {
    /// The overview: anyone admitted (what it shows follows the sections').
    pub const OVERVIEW: Need = Need::Admitted;
    pub const INVITATIONS: Need = Need::Manage(Management::Invitations);
    pub const MEMBERS: Need = Need::Manage(Management::Members);
    pub const JOIN_LINKS: Need = Need::Manage(Management::JoinLinks);
    pub const ROLES: Need = Need::Manage(Management::Roles);
    pub const TEAMS: Need = Need::Manage(Management::Teams);
    /// A verified domain decides who joins the organization: the power
    /// over the organization itself.
    pub const DOMAINS: Need = Need::Manage(Management::Organization);
    pub const WEBHOOKS: Need = Need::Manage(Management::Webhooks);
    /// API keys may be minted with any scope, so they stay ADMIN's.
    pub const API_KEYS: Need = Need::BuiltInAdmin;
    /// The audit log spans every part of the organization (keys, webhooks,
    /// roles, members), so it goes with the power over the organization.
    pub const ACTIVITY: Need = Need::Manage(Management::Organization);
    /// The organization's own name, logo and metadata.
    pub const SETTINGS: Need = Need::Manage(Management::Organization);
    /// Deleting the organization ends every API key, which stay ADMIN's,
    /// and everything else in it: the built-in ADMIN only.
    pub const DELETE_ORGANIZATION: Need = Need::BuiltInAdmin;
}

impl ConsoleAdmin {
    /// Whether this person may use what needs `need`.
    pub fn may(&self, need: Need) -> bool {
        match need {
            Need::Admitted => true,
            Need::Manage(permission) => self.permissions.holds(permission.as_str()),
            Need::BuiltInAdmin => self.role == Role::Admin,
        }
    }

    /// `Ok` when this person may use what needs `need`; a 403 refusal
    /// (`missing_permission`) naming what is missing otherwise.
    pub fn require(&self, need: Need) -> ServiceResult<()> {
        if self.may(need) {
            return Ok(());
        }
        let detail = match need {
            Need::Manage(permission) => format!(
                "your role in {} does not hold `{}`",
                self.organization.name,
                permission.as_str()
            ),
            Need::Admitted | Need::BuiltInAdmin => format!(
                "only the organization's admins (the built-in ADMIN role) may do this in {}",
                self.organization.name
            ),
        };
        Err(super::ServiceError::Forbidden {
            code: ErrorCode::MissingPermission,
            detail,
        })
    }

    /// `Ok` when handing out `role` (to a member, an invitation or a join
    /// link) gives nobody a management permission this person lacks: only
    /// ADMIN hands out ADMIN, and a custom-role manager hands out roles
    /// within their own powers.
    pub fn may_hand_out(&self, conn: &Conn, role: &Role) -> ServiceResult<()> {
        self.not_admin_unless_admin(role)?;
        let granted = db::roles::of_role(conn, self.org_id(), role)?;
        self.within_powers(&granted, &format!("the role {role}"))
    }

    /// ADMIN also owns API keys, which no management permission grants: a
    /// custom role holding every one still does not make, demote or remove
    /// an ADMIN.
    fn not_admin_unless_admin(&self, role: &Role) -> ServiceResult<()> {
        if *role == Role::Admin && self.role != Role::Admin {
            return Err(super::ServiceError::Forbidden {
                code: ErrorCode::MissingPermission,
                detail: "only an ADMIN makes, demotes or removes an ADMIN".into(),
            });
        }
        Ok(())
    }

    /// `Ok` when changing or removing `user_id`'s membership touches nobody
    /// with a management permission this person lacks (a custom-role
    /// manager does not demote or remove an ADMIN). Not a member: `Ok`, so
    /// the change itself answers "not found".
    pub fn may_touch_member(&self, conn: &Conn, user_id: i64) -> ServiceResult<()> {
        match db::roles::of_member(conn, self.org_id(), user_id)? {
            Some((role, granted)) => {
                self.not_admin_unless_admin(&role)?;
                self.within_powers(&granted, "that member")
            }
            None => Ok(()),
        }
    }

    /// The roles this person may hand out, as the console's forms offer
    /// them (see [`ConsoleAdmin::may_hand_out`]).
    pub fn role_choices(&self, conn: &Conn) -> ServiceResult<Vec<(String, String)>> {
        super::roles::choices_where(conn, self.org_id(), |role, granted| {
            self.role == Role::Admin
                || (*role != Role::Admin && self.permissions.management_beyond(granted).is_empty())
        })
    }

    /// `Ok` when `granted` holds no management permission beyond this
    /// person's (`what` names whose they are, for the refusal).
    pub fn within_powers(&self, granted: &Permissions, what: &str) -> ServiceResult<()> {
        if self.role == Role::Admin {
            return Ok(());
        }
        let beyond = self.permissions.management_beyond(granted);
        if beyond.is_empty() {
            return Ok(());
        }
        Err(super::ServiceError::Forbidden {
            code: ErrorCode::MissingPermission,
            detail: format!(
                "{what} holds {}, which your role does not",
                beyond
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

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
    /// Signed in, but manages nothing in this organization (or there is
    /// no such organization: the two look the same).
    NotAdminHere {
        /// Whether the person manages anything in any organization.
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
        Some(uuid) => db::roles::of_member_by_org_uuid(conn, uuid, user.user_id)?,
        None => None,
    };
    match membership {
        Some((org_id, role, permissions)) if permissions.manages_anything() => {
            match factor_step(conn, policy, &user)? {
                ConsoleStep::Admit => Ok(Ok(ConsoleAdmin {
                    user_id: user.user_id,
                    email: user.email,
                    organization: orgs::get(conn, org_id)?,
                    role,
                    permissions,
                })),
                ConsoleStep::Verify => Ok(Err(Denial::SecondFactor { enrolled: true })),
                ConsoleStep::Enrol => Ok(Err(Denial::SecondFactor { enrolled: false })),
            }
        }
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

/// Someone who just became a member, and whether the console admits them
/// there (the page after joining leads on to it, or says they are done).
#[derive(Debug, Clone, Copy)]
pub struct Joined {
    pub organization: Uuid,
    pub opens_console: bool,
}

impl Joined {
    /// Reads the role the person holds now (accepting keeps an existing
    /// member's role).
    pub fn read(conn: &Conn, org_id: i64, user_id: i64, organization: Uuid) -> ServiceResult<Self> {
        let opens_console = match db::members::role(conn, OrgId(org_id), UserId(user_id))? {
            Some(role) => admits(conn, org_id, &role)?,
            None => false,
        };
        Ok(Self {
            organization,
            opens_console,
        })
    }
}

/// Whether the console admits holders of `role` in the organization.
pub fn admits(conn: &Conn, org_id: i64, role: &Role) -> ServiceResult<bool> {
    Ok(db::roles::of_role(conn, org_id, role)?.manages_anything())
}

/// The organizations the person manages anything in (the console admits
/// them there).
fn administered(conn: &Conn, user_id: i64) -> ServiceResult<impl Iterator<Item = Membership>> {
    Ok(db::members::organizations_of(conn, user_id)?
        .into_iter()
        .filter(|membership| membership.permissions.manages_anything()))
}

/// Someone the operators' page admits: signed in on this browser with a
/// proven address that `console.operators` lists, past `auth.admin_mfa`
/// as an organization's admin would be.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_id: i64,
    pub email: String,
}

impl Operator {
    /// The operator as the actor of what this request changes.
    pub fn origin(&self, request_id: Option<String>) -> Origin {
        Origin::new(
            Actor::User {
                user_id: self.user_id,
            },
            request_id,
        )
    }
}

/// Whether `email` is one of `operators` (compared by their email keys).
pub fn is_operator(operators: &[String], email: &str) -> bool {
    let Ok(email) = crate::domain::Email::parse(email) else {
        return false;
    };
    operators.iter().any(|listed| {
        crate::domain::Email::parse(listed).is_ok_and(|listed| listed.key() == email.key())
    })
}

/// The operator this browser's session belongs to, or why not (someone
/// signed in who is not listed is `NotAdminHere`: the page does not exist
/// for them). Asked inside the storage call that reads or changes.
pub fn operator(
    conn: &Conn,
    session_token: Option<&str>,
    operators: &[String],
    policy: AdminMfa,
    now: Millis,
) -> ServiceResult<Result<Operator, Denial>> {
    let Some(user) = find_session(conn, session_token, now)? else {
        return Ok(Err(Denial::NotSignedIn));
    };
    if !user.email_verified {
        return Ok(Err(Denial::Unverified));
    }
    if !is_operator(operators, &user.email) {
        return Ok(Err(Denial::NotAdminHere {
            administers_any: true,
        }));
    }
    match factor_step(conn, policy, &user)? {
        ConsoleStep::Admit => Ok(Ok(Operator {
            user_id: user.user_id,
            email: user.email,
        })),
        step => Ok(Err(Denial::SecondFactor {
            enrolled: step == ConsoleStep::Verify,
        })),
    }
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

/// What the overview page shows besides the organization itself: each
/// part only to those who may use its section (`None` otherwise).
pub struct Overview {
    /// The newest pending invitations, and how many there are in all.
    pub pending: Option<Paged<Invitation>>,
    /// The newest events, as the audit log gives them (JSON).
    pub recent_events: Option<Vec<String>>,
}

pub fn overview(conn: &Conn, admin: &ConsoleAdmin, now: Millis) -> ServiceResult<Overview> {
    let pending = if admin.may(Need::INVITATIONS) {
        Some(pending_invitations(conn, admin, now)?)
    } else {
        None
    };
    let recent_events = if admin.may(Need::ACTIVITY) {
        Some(
            events::list(
                conn,
                admin.org_id(),
                &EventQuery::default(),
                OVERVIEW_EVENTS,
            )?
            .items,
        )
    } else {
        None
    };
    Ok(Overview {
        pending,
        recent_events,
    })
}

fn pending_invitations(
    conn: &Conn,
    admin: &ConsoleAdmin,
    now: Millis,
) -> ServiceResult<Paged<Invitation>> {
    invitations::page(
        conn,
        admin.org_id(),
        InvitationFilter::new(Some(InvitationStatus::Pending), false),
        &Search::default(),
        Page {
            limit: OVERVIEW_PENDING,
            offset: 0,
        },
        now,
    )
}
