//! Join links: an admin makes a URL that lets up to `maxUses` people with a
//! verified email join with one role, until it expires or is revoked.

use super::console::Joined;
use super::{ServiceError, ServiceResult, events};
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::db::teams::Holder;
use crate::domain::event::{Actor, Origin};
use crate::domain::join_link::{JoinLink, JoinLinkState, MAX_USES};
use crate::domain::{Email, Millis, Organization, Page, Paged, Role};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use std::time::Duration;

/// 32 base62 characters: about 190 random bits.
const TOKEN_LEN: usize = 32;

/// A link as asked for, its parts checked by the caller except the bounds here.
pub struct NewJoinLink {
    pub role: Role,
    pub max_uses: i64,
    pub expires_at: Millis,
    pub allowed_email_domains: Vec<String>,
    /// Teams people join through the link (parsed with
    /// `services::teams::ids`; checked to be the organization's in [`create`]).
    pub team_ids: Vec<i64>,
}

impl NewJoinLink {
    /// A link as a request or a form gave it (the role already read),
    /// checked; errors name the admin API's fields (`maxUses`,
    /// `expiresAt`, `expiresIn`, `allowedEmailDomains`).
    pub fn parse(
        role: Role,
        max_uses: Option<i64>,
        expires_at: Option<&str>,
        expires_in: Option<&serde_json::Value>,
        allowed_email_domains: &[String],
        max_lifetime: Duration,
        now: Millis,
    ) -> ServiceResult<Self> {
        let max_uses = max_uses
            .ok_or_else(|| ServiceError::invalid("maxUses", "maxUses is required (1 to 10000)"))?;
        let expires_at = expires_at
            .map(|raw| {
                chrono::DateTime::parse_from_rfc3339(raw.trim())
                    .map(|t| Millis(t.timestamp_millis()))
                    .map_err(|_| {
                        let shown: String = raw.chars().take(64).collect();
                        ServiceError::invalid(
                            "expiresAt",
                            format!("expiresAt must be an RFC 3339 timestamp, got `{shown}`"),
                        )
                    })
            })
            .transpose()?;
        let expires_in = expires_in
            .filter(|v| !v.is_null())
            .map(|raw| crate::domain::invitation_options::lifetime(raw, max_lifetime))
            .transpose()
            .map_err(|e| ServiceError::invalid(e.field, e.detail))?;
        let allowed_email_domains = crate::domain::join_link::parse_domains(allowed_email_domains)
            .map_err(|e| ServiceError::invalid("allowedEmailDomains", e))?;
        Ok(NewJoinLink {
            role,
            max_uses,
            expires_at: expiry(expires_at, expires_in, max_lifetime, now)?,
            allowed_email_domains,
            team_ids: Vec::new(),
        })
    }
}

/// When a new link expires: `expiresAt`, or now plus `expiresIn`, within
/// (0, `max_lifetime`].
pub fn expiry(
    expires_at: Option<Millis>,
    expires_in: Option<Duration>,
    max_lifetime: Duration,
    now: Millis,
) -> ServiceResult<Millis> {
    let at = match (expires_at, expires_in) {
        (Some(_), Some(_)) => {
            return Err(ServiceError::invalid(
                "expiresAt",
                "give expiresAt or expiresIn, not both",
            ));
        }
        (Some(at), None) => at,
        (None, Some(lifetime)) => now.plus(lifetime),
        (None, None) => {
            return Err(ServiceError::invalid(
                "expiresAt",
                "give expiresAt (a timestamp) or expiresIn (a duration)",
            ));
        }
    };
    if at.0 <= now.0 {
        return Err(ServiceError::invalid(
            "expiresAt",
            "expiresAt must be in the future",
        ));
    }
    if at.0 > now.plus(max_lifetime).0 {
        return Err(ServiceError::invalid(
            "expiresAt",
            format!(
                "the link may live at most {} (invitations.max_lifetime)",
                humantime::format_duration(max_lifetime)
            ),
        ));
    }
    Ok(at)
}

/// Makes a link; answers it and its token (shown once, only its digest stored).
pub fn create(
    tx: &Conn,
    org_id: i64,
    creator: i64,
    new: &NewJoinLink,
    now: Millis,
) -> ServiceResult<(JoinLink, String)> {
    if !(1..=MAX_USES).contains(&new.max_uses) {
        return Err(ServiceError::invalid(
            "maxUses",
            format!(
                "maxUses must be between 1 and {MAX_USES}, got {}",
                new.max_uses
            ),
        ));
    }
    super::roles::resolve(tx, org_id, new.role.as_str())?;
    super::teams::check_ids(tx, org_id, &new.team_ids)?;
    let token = secrets::random_base62(TOKEN_LEN);
    let link = db::join_links::insert(
        tx,
        &db::join_links::NewJoinLink {
            org_id,
            token_digest: &secrets::sha256(&token),
            role: new.role.clone(),
            max_uses: new.max_uses,
            expires_at: new.expires_at,
            allowed_email_domains: &new.allowed_email_domains,
            created_by: creator,
        },
        now,
    )?;
    super::teams::attach(tx, Holder::JoinLink(link.id), &new.team_ids)?;
    let link = JoinLink {
        team_ids: new.team_ids.clone(),
        ..link
    };
    Ok((link, token))
}

pub fn list(conn: &Conn, org_id: i64, page: Page, now: Millis) -> ServiceResult<Paged<JoinLink>> {
    // Every read runs in one snapshot (`Database::read`): the two agree.
    let total = db::join_links::count(conn, org_id)?;
    let mut items = db::join_links::list(conn, org_id, page, now)?;
    fill_teams(conn, org_id, &mut items)?;
    Ok(page.of(items, total))
}

/// Fills in each link's teams with one read for all of them.
fn fill_teams(conn: &Conn, org_id: i64, links: &mut [JoinLink]) -> ServiceResult<()> {
    super::teams::fill(
        conn,
        org_id,
        Holder::JoinLink,
        links,
        |l| l.id,
        |l| &mut l.team_ids,
    )
}

/// Revokes a link (revoking twice is harmless); answers it.
pub fn revoke(tx: &Conn, org_id: i64, id: i64, now: Millis) -> ServiceResult<JoinLink> {
    db::join_links::get_in_org(tx, org_id, id, now)?.ok_or(ServiceError::NotFound("join link"))?;
    db::join_links::revoke(tx, id, now)?;
    let revoked = db::join_links::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("join link"))?;
    let mut one = [revoked];
    fill_teams(tx, org_id, &mut one)?;
    let [revoked] = one;
    Ok(revoked)
}

/// A link and its organization, as the hosted page shows them.
pub struct OpenLink {
    pub link: JoinLink,
    pub organization: Organization,
    /// The link's role as the organization names it.
    pub role_name: String,
    /// Whether the person looking at it is a member already (false when
    /// nobody is signed in).
    pub viewer_is_member: bool,
}

fn gone(state: JoinLinkState) -> ServiceError {
    let detail = match state {
        JoinLinkState::Full => "This link has been used as many times as it allows.",
        JoinLinkState::Expired => "This link has expired.",
        JoinLinkState::Revoked => "This link was withdrawn.",
        JoinLinkState::Active => "This link can no longer be used.",
    };
    ServiceError::Gone {
        code: ErrorCode::JoinLinkClosed,
        detail: detail.into(),
    }
}

/// The link behind a token, whatever its state; unknown: NotFound.
pub fn open(conn: &Conn, token: &str, now: Millis) -> ServiceResult<OpenLink> {
    let link = db::join_links::find_by_digest(conn, &secrets::sha256(token), now)?
        .ok_or(ServiceError::NotFound("join link"))?;
    let organization =
        db::orgs::get(conn, link.org_id)?.ok_or(ServiceError::NotFound("join link"))?;
    let role_name = super::roles::shown_name(conn, link.org_id, &link.role)?;
    Ok(OpenLink {
        link,
        organization,
        role_name,
        viewer_is_member: false,
    })
}

/// [`open`], as `viewer` (signed in, or nobody) sees it: a member is told
/// so instead of being offered to join.
pub fn open_for(
    conn: &Conn,
    token: &str,
    viewer: Option<i64>,
    now: Millis,
) -> ServiceResult<OpenLink> {
    let mut open = open(conn, token, now)?;
    if let Some(user_id) = viewer {
        open.viewer_is_member =
            db::members::get(conn, OrgId(open.link.org_id), UserId(user_id))?.is_some();
    }
    Ok(open)
}

/// The signed-in person joins through the link: their email must be
/// verified and allowed; a closed link (full, expired, revoked) is Gone.
/// The use is taken by a conditional UPDATE in the same transaction as the
/// membership insert, so the cap holds under concurrent joins. Someone
/// already a member is told so and uses nothing. Answers where they stand now.
/// The join is a `member.added` event with the person as its actor.
pub fn join(
    tx: &Conn,
    token: &str,
    user_id: i64,
    request_id: Option<String>,
    now: Millis,
) -> ServiceResult<Joined> {
    let OpenLink {
        link, organization, ..
    } = open(tx, token, now)?;
    if link.state != JoinLinkState::Active {
        return Err(gone(link.state));
    }
    let account = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    if !account.email_verified() {
        return Err(ServiceError::Forbidden {
            code: ErrorCode::EmailUnverified,
            detail: "Confirm your email address first: open the link we sent you.".into(),
        });
    }
    let email =
        Email::parse(&account.email).map_err(|e| ServiceError::invalid("email", e.to_string()))?;
    if !link.allows(email.key()) {
        return Err(ServiceError::Forbidden {
            code: ErrorCode::EmailDomainNotAllowed,
            detail: format!(
                "This link is for addresses at {}.",
                link.allowed_email_domains.join(", ")
            ),
        });
    }
    if db::members::role(tx, OrgId(link.org_id), UserId(user_id))?.is_some() {
        return Err(ServiceError::conflict(
            ErrorCode::AlreadyMember,
            format!("You are already a member of {}.", organization.name),
        ));
    }
    if !db::join_links::take_use(tx, link.id, now)? {
        return Err(gone(JoinLinkState::Full));
    }
    if !db::members::insert_new(tx, OrgId(link.org_id), UserId(user_id), &link.role, now)? {
        // Joined meanwhile by the same person (a second tab): the use taken
        // above goes back with this transaction.
        return Err(ServiceError::conflict(
            ErrorCode::AlreadyMember,
            format!("You are already a member of {}.", organization.name),
        ));
    }
    let origin = Origin::new(Actor::User { user_id }, request_id);
    let mut more = serde_json::Map::new();
    more.insert("joinLinkId".into(), link.id.into());
    events::member_added(tx, &origin, OrgId(link.org_id), UserId(user_id), more, now)?;
    super::teams::join_named(
        tx,
        &origin,
        link.org_id,
        Holder::JoinLink(link.id),
        user_id,
        now,
    )?;
    Joined::read(tx, link.org_id, user_id, organization.uuid)
}
