//! Invitations on the admin side: create (one or in bulk), list, get,
//! resend and revoke, the mail caps that keep them from flooding an inbox,
//! and the sweeps that expire them and send the one reminder. Each message
//! is queued in the change's own transaction with a secret of its own.

use super::{ServiceError, ServiceResult, events};
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::db::teams::Holder;
use crate::delivery::{Composer, InvitationEmail};
use crate::domain::event::{EventType, Origin};
use crate::domain::invitation::{InvitationFilter, Revocation};
use crate::domain::invitation_options::InvitationOptions;
use crate::domain::search::{After, Search};
use crate::domain::{
    Email, Invitation, InvitationExtras, InvitationStatus, Millis, Page, Paged, Role,
};
use crate::domain::{Listed, Window};
use crate::services::error_code::ErrorCode;
use crate::services::list_cursor::{self, Binding, CursorKey, List};
use std::time::Duration;
use uuid::Uuid;

pub struct NewInvitation {
    pub invitee: Email,
    pub role: Role,
    /// Its own lifetime, message and metadata (checked by the caller with
    /// [`InvitationOptions::parse`]).
    pub options: InvitationOptions,
    /// Teams the person joins on accepting (parsed with
    /// `services::teams::ids`; checked to be the organization's in [`create`]).
    pub team_ids: Vec<i64>,
}

impl NewInvitation {
    /// One invitation as a request or a form gave it, checked. Errors name
    /// the admin API's fields (`inviteeEmail`, `role`, `expiresIn`, …).
    pub fn parse(
        invitee_email: &str,
        role: &str,
        expires_in: Option<&serde_json::Value>,
        message: Option<&str>,
        metadata: Option<&serde_json::Value>,
        max_lifetime: Duration,
    ) -> ServiceResult<Self> {
        let options = InvitationOptions::parse(expires_in, message, metadata, max_lifetime)
            .map_err(|e| ServiceError::invalid(e.field, e.detail))?;
        Ok(NewInvitation {
            invitee: Email::parse(invitee_email)
                .map_err(|e| ServiceError::invalid("inviteeEmail", e.to_string()))?,
            role: role.parse::<Role>().map_err(|_| {
                let shown: String = role.chars().take(64).collect();
                ServiceError::invalid(
                    "role",
                    format!(
                        "role must be ADMIN, MEMBER or one of the organization's role keys, \
                         got `{shown}`"
                    ),
                )
            })?,
            options,
            team_ids: Vec::new(),
        })
    }
}

/// Caps on invitation messages, over sliding windows counted from the
/// outbox, across creates and resends (revoking and inviting again counts
/// too). 0 turns a cap off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailLimits {
    /// Messages to one address from one organization per 24 hours.
    pub per_address_per_day: u32,
    /// Messages from one organization per hour.
    pub per_org_per_hour: u32,
}

impl Default for MailLimits {
    fn default() -> Self {
        Self {
            per_address_per_day: 3,
            per_org_per_hour: 500,
        }
    }
}

/// What every new or resent invitation follows: its lifetime and the mail caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRules {
    pub lifetime: Duration,
    pub limits: MailLimits,
    /// How long before expiry the one reminder goes out; `None`: never.
    pub reminder_before: Option<Duration>,
}

impl SendRules {
    /// The rules the settings give.
    pub fn from_settings(settings: &crate::config::InvitationSettings) -> Self {
        Self {
            lifetime: settings.lifetime.0,
            limits: MailLimits {
                per_address_per_day: settings.messages_per_address_per_day,
                per_org_per_hour: settings.messages_per_org_per_hour,
            },
            reminder_before: settings.reminder_before.map(|d| d.0),
        }
    }

    /// `lifetime` with the default caps.
    pub fn with_lifetime(lifetime: Duration) -> Self {
        Self {
            lifetime,
            limits: MailLimits::default(),
            reminder_before: None,
        }
    }

    /// When an invitation sent at `now` and expiring at `expires_at` gets
    /// its reminder: `reminder_before` ahead of expiry, if that is still
    /// ahead (an invitation shorter-lived than the lead gets none).
    pub fn reminder_at(&self, now: Millis, expires_at: Millis) -> Option<Millis> {
        let lead = i64::try_from(self.reminder_before?.as_millis()).ok()?;
        let at = Millis(expires_at.0.saturating_sub(lead));
        (at > now).then_some(at)
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Invites `invitee` to the organization on behalf of `inviter_user_id`,
/// and records the event and queues the invitation message in the same
/// transaction.
#[allow(clippy::too_many_arguments)]
pub fn create(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    inviter_user_id: i64,
    new: &NewInvitation,
    rules: SendRules,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Invitation> {
    super::roles::resolve(tx, org_id, new.role.as_str())?;
    super::teams::check_ids(tx, org_id, &new.team_ids)?;
    ensure_invitable(tx, org_id, &new.invitee, None, now)?;
    ensure_mail_allowed(tx, org_id, &new.invitee, rules.limits, now)?;
    let expires_at = now.plus(new.options.lifetime.unwrap_or(rules.lifetime));
    let metadata = new
        .options
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ServiceError::Internal(format!("metadata: {e}")))?;
    let invitation = db::invitations::insert(
        tx,
        &db::invitations::NewInvitation {
            uuid: Uuid::new_v4(),
            org_id,
            invitee: &new.invitee,
            role: new.role.clone(),
            inviter_user_id,
            expires_at,
            message: new.options.message.as_deref(),
            metadata: metadata.as_deref(),
            remind_at: rules.reminder_at(now, expires_at),
        },
        now,
    )?;
    super::teams::attach(tx, Holder::Invitation(invitation.id), &new.team_ids)?;
    let invitation = Invitation {
        team_ids: new.team_ids.clone(),
        ..invitation
    };
    let extras = InvitationExtras {
        message: new.options.message.clone(),
        metadata: new.options.metadata.clone(),
    };
    events::invitation(
        tx,
        origin,
        EventType::InvitationCreated,
        &invitation,
        Some(extras),
        now,
    )?;
    enqueue_message(tx, &invitation, new.options.message.clone(), composer, now)?;
    Ok(invitation)
}

/// The most invitations one bulk request may hold.
pub const BULK_MAX: usize = 500;

/// What became of one item of a bulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkStatus {
    Created,
    /// Already invited (pending), or listed earlier in the same request.
    Duplicate,
    /// Already a member.
    Member,
    /// Refused: bad input, or over a mail cap.
    Invalid,
}

impl BulkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkStatus::Created => "created",
            BulkStatus::Duplicate => "duplicate",
            BulkStatus::Member => "member",
            BulkStatus::Invalid => "invalid",
        }
    }
}

/// Why an item was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkError {
    pub code: ErrorCode,
    pub field: Option<&'static str>,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct BulkOutcome {
    pub index: usize,
    pub status: BulkStatus,
    pub invitation: Option<Invitation>,
    pub error: Option<BulkError>,
}

/// Creates many invitations in one transaction, each as [`create`] would
/// (mail caps included); answers one outcome per item, in input order.
/// `items` holds each item as the caller parsed and admitted it (a refusal
/// is `ServiceError::Invalid`, or `ServiceError::Forbidden` for a role the
/// caller may not hand out). Only a storage failure fails the whole request.
#[allow(clippy::too_many_arguments)]
pub fn create_many(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    inviter_user_id: i64,
    items: Vec<Result<NewInvitation, ServiceError>>,
    rules: SendRules,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Vec<BulkOutcome>> {
    let mut seen = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let refused = |status, code, field, detail: String| BulkOutcome {
            index,
            status,
            invitation: None,
            error: Some(BulkError {
                code,
                field,
                detail,
            }),
        };
        let new = match item {
            Ok(new) => new,
            Err(ServiceError::Invalid { field, detail }) => {
                outcomes.push(refused(
                    BulkStatus::Invalid,
                    ErrorCode::ValidationFailed,
                    Some(field),
                    detail,
                ));
                continue;
            }
            // The key may not hand out the item's role (`missing_scope`).
            Err(ServiceError::Forbidden { code, detail }) => {
                outcomes.push(refused(BulkStatus::Invalid, code, Some("role"), detail));
                continue;
            }
            Err(other) => return Err(other),
        };
        if !seen.insert(new.invitee.key().to_owned()) {
            outcomes.push(refused(
                BulkStatus::Duplicate,
                ErrorCode::DuplicateItem,
                Some("inviteeEmail"),
                format!("{} is listed earlier in this request", new.invitee),
            ));
            continue;
        }
        outcomes.push(
            match create(
                tx,
                origin,
                org_id,
                inviter_user_id,
                &new,
                rules,
                composer,
                now,
            ) {
                Ok(invitation) => BulkOutcome {
                    index,
                    status: BulkStatus::Created,
                    invitation: Some(invitation),
                    error: None,
                },
                Err(ServiceError::Conflict { code, detail }) => {
                    let status = if code == ErrorCode::AlreadyMember {
                        BulkStatus::Member
                    } else {
                        BulkStatus::Duplicate
                    };
                    refused(status, code, Some("inviteeEmail"), detail)
                }
                // A role the organization does not have.
                Err(ServiceError::Invalid { field, detail }) => refused(
                    BulkStatus::Invalid,
                    ErrorCode::ValidationFailed,
                    Some(field),
                    detail,
                ),
                Err(ServiceError::TooSoon { detail, .. }) => refused(
                    BulkStatus::Invalid,
                    ErrorCode::TooManyRequests,
                    None,
                    detail,
                ),
                Err(other) => return Err(other),
            },
        );
    }
    Ok(outcomes)
}

/// One invitation of the organization with its message and metadata.
pub fn get(
    conn: &Conn,
    org_id: i64,
    id: i64,
    now: Millis,
) -> ServiceResult<(Invitation, InvitationExtras)> {
    let invitation = db::invitations::get_in_org(conn, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    let extras = db::invitations::extras(conn, id)?;
    Ok((with_teams(conn, invitation)?, extras))
}

/// The invitation with the teams accepting puts the person in.
fn with_teams(conn: &Conn, invitation: Invitation) -> ServiceResult<Invitation> {
    let org_id = invitation.org_id;
    let mut one = [invitation];
    fill_teams(conn, org_id, &mut one)?;
    let [invitation] = one;
    Ok(invitation)
}

/// Fills in each invitation's teams with one read for all of them.
fn fill_teams(conn: &Conn, org_id: i64, invitations: &mut [Invitation]) -> ServiceResult<()> {
    super::teams::fill(
        conn,
        org_id,
        Holder::Invitation,
        invitations,
        |i| i.id,
        |i| &mut i.team_ids,
    )
}

/// A person can be invited when they are not a member yet and have no
/// other pending invitation to the organization.
fn ensure_invitable(
    tx: &Conn,
    org_id: i64,
    invitee: &Email,
    except: Option<i64>,
    now: Millis,
) -> ServiceResult<()> {
    // Two requests inviting one address at once: the second waits here
    // until the first has committed, then finds its invitation.
    tx.lock_key(&format!("invitee/{org_id}/{}", invitee.key()))?;
    if db::members::is_member_by_email(tx, org_id, invitee)? {
        return Err(ServiceError::conflict(
            ErrorCode::AlreadyMember,
            format!("{invitee} is already a member of this organization"),
        ));
    }
    if db::invitations::has_open(tx, org_id, invitee, except, now)? {
        return Err(ServiceError::conflict(
            ErrorCode::InvitationPending,
            format!("{invitee} already has a pending invitation to this organization"),
        ));
    }
    Ok(())
}

/// Refuses (429, with the wait until the oldest counted message leaves its
/// window) a message that would go over a cap. Runs inside the create or
/// resend transaction, so a refusal leaves nothing created or queued.
fn ensure_mail_allowed(
    tx: &Conn,
    org_id: i64,
    invitee: &Email,
    limits: MailLimits,
    now: Millis,
) -> ServiceResult<()> {
    if limits.per_address_per_day > 0
        && let Some(oldest) = db::outbox::nth_newest_to(
            tx,
            org_id,
            invitee.key(),
            Millis(now.0 - DAY_MS),
            limits.per_address_per_day - 1,
        )?
    {
        return Err(ServiceError::TooSoon {
            detail: format!(
                "{invitee} was sent {} invitation messages from this organization in the last 24 hours; try again later",
                limits.per_address_per_day
            ),
            retry_after_secs: seconds_until(oldest.0 + DAY_MS, now),
        });
    }
    if limits.per_org_per_hour > 0
        && let Some(oldest) = db::outbox::nth_newest_of_org(
            tx,
            org_id,
            Millis(now.0 - HOUR_MS),
            limits.per_org_per_hour - 1,
        )?
    {
        return Err(ServiceError::TooSoon {
            detail: format!(
                "this organization sent {} invitation messages in the last hour; try again later",
                limits.per_org_per_hour
            ),
            retry_after_secs: seconds_until(oldest.0 + HOUR_MS, now),
        });
    }
    Ok(())
}

/// Whole seconds from `now` until `at`, at least 1.
fn seconds_until(at: i64, now: Millis) -> u64 {
    u64::try_from((at - now.0 + 999) / 1000).unwrap_or(1).max(1)
}

/// Resends are limited to one a minute per invitation (the message sent at
/// creation does not count).
pub const RESEND_INTERVAL_MS: i64 = 60_000;

/// The refusal of a resend within [`RESEND_INTERVAL_MS`] of the last one
/// (the console shows it as a message, not an error).
pub const RESENT_TOO_SOON: &str =
    "this invitation was sent less than a minute ago; try again later";

/// Sends a pending or expired invitation again with a renewed expiry (and
/// its reminder armed again).
pub fn resend(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    rules: SendRules,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Invitation> {
    let invitation = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    match invitation.status {
        InvitationStatus::Pending | InvitationStatus::Expired => {}
        other => {
            return Err(ServiceError::conflict(
                ErrorCode::InvitationNotResendable,
                format!(
                    "the invitation is {} and cannot be sent again",
                    other.as_str()
                ),
            ));
        }
    }
    // An expired invitation comes back to life: only with a role that still exists.
    super::roles::resolve(tx, org_id, invitation.role.as_str())?;
    if let Some(last) = db::invitations::last_resent_at(tx, id)? {
        let wait_ms = RESEND_INTERVAL_MS - (now.0 - last.0);
        if wait_ms > 0 {
            let retry_after_secs = u64::try_from((wait_ms + 999) / 1000)
                .unwrap_or(60)
                .clamp(1, 60);
            return Err(ServiceError::TooSoon {
                detail: RESENT_TOO_SOON.into(),
                retry_after_secs,
            });
        }
    }
    let invitee = Email::parse(&invitation.invitee_email)
        .map_err(|e| ServiceError::invalid("inviteeEmail", e.to_string()))?;
    if invitation.status == InvitationStatus::Expired {
        ensure_invitable(tx, org_id, &invitee, Some(id), now)?;
    }
    ensure_mail_allowed(tx, org_id, &invitee, rules.limits, now)?;
    let expires_at = now.plus(rules.lifetime);
    db::invitations::renew(tx, id, expires_at, rules.reminder_at(now, expires_at), now)?;
    db::outbox::withdraw_reminders(tx, id, now)?;
    let renewed = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    let extras = db::invitations::extras(tx, id)?;
    let message = extras.message.clone();
    events::invitation(
        tx,
        origin,
        EventType::InvitationResent,
        &renewed,
        Some(extras),
        now,
    )?;
    enqueue_message(tx, &renewed, message, composer, now)?;
    with_teams(tx, renewed)
}

fn enqueue_message(
    tx: &Conn,
    invitation: &Invitation,
    personal_message: Option<String>,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<()> {
    queue_message(
        tx,
        invitation,
        personal_message,
        MessageKind::Invitation,
        composer,
        now,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    Invitation,
    /// The invitation is about to expire.
    Reminder,
}

fn queue_message(
    tx: &Conn,
    invitation: &Invitation,
    personal_message: Option<String>,
    kind: MessageKind,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<()> {
    let org =
        db::orgs::get(tx, invitation.org_id)?.ok_or(ServiceError::NotFound("organization"))?;
    let inviter_name = match invitation.inviter_user_id {
        Some(id) => db::users::get(tx, id)?.map(|user| user.display_name()),
        None => None,
    }
    .unwrap_or_else(|| format!("An admin of {}", org.name));
    // The message's own secret: only the inbox that receives it can prove
    // itself with it (the uuid in the link is an identifier, nothing more).
    let token = secrets::random_base62(43);
    db::invitation_links::insert(tx, &secrets::sha256(&token), invitation.id, now)?;
    let link = composer.invitation_link(invitation.uuid, &token);
    let email = InvitationEmail {
        invitee_email: invitation.invitee_email.clone(),
        organization_name: org.name,
        organization_logo_url: org.logo_url,
        inviter_name,
        role: invitation.role.clone(),
        role_name: super::roles::shown_name(tx, invitation.org_id, &invitation.role)?,
        expires_at: invitation.expires_at,
        link: link.clone(),
        message: personal_message,
    };
    let (message, kind) = match kind {
        MessageKind::Invitation => (composer.invitation(&email)?, "invitation"),
        MessageKind::Reminder => (composer.reminder(&email)?, "reminder"),
    };
    db::outbox::insert(
        tx,
        &db::outbox::NewMessage {
            kind,
            invitation_id: Some(invitation.id),
            recipient: &invitation.invitee_email,
            link: &link,
            subject: &message.subject,
            text_body: &message.text,
            html_body: &message.html,
        },
        now,
    )?;
    Ok(())
}

/// One page of the organization's invitations and the exact total, both
/// read in one snapshot so they agree (every read runs in one, `Database::read`).
/// The total is the counters' without a search, and a count over the
/// search's index range with one (bounded by the matches). `nextCursor`
/// is given whenever another page follows, by offset or by cursor.
pub fn list(
    conn: &Conn,
    key: &CursorKey,
    org_id: i64,
    filter: InvitationFilter,
    search: &Search,
    window: &Window,
    now: Millis,
) -> ServiceResult<Listed<Invitation>> {
    let filters = format!("{};{}", filter.canonical(), search.canonical());
    let binding = Binding {
        list: List::Invitations,
        org_id,
        filters: &filters,
    };
    let after = window
        .after
        .as_deref()
        .map(|cursor| list_cursor::open(key, &binding, cursor))
        .transpose()?;
    let (mut items, total_count) =
        matching(conn, org_id, filter, search, after, window.probe(), now)?;
    let more = window.cut(&mut items);
    let next_cursor = items.last().filter(|_| more).map(|last| {
        list_cursor::seal(
            key,
            &binding,
            After {
                created_at: last.created_at.0,
                id: last.id,
            },
        )
    });
    fill_teams(conn, org_id, &mut items)?;
    Ok(Listed {
        paged: window.shown().of(items, total_count),
        next_cursor,
    })
}

/// One offset page, narrowed by `search` (the console's lists and overview).
pub fn page(
    conn: &Conn,
    org_id: i64,
    filter: InvitationFilter,
    search: &Search,
    page: Page,
    now: Millis,
) -> ServiceResult<Paged<Invitation>> {
    let (mut items, total_count) = matching(conn, org_id, filter, search, None, page, now)?;
    fill_teams(conn, org_id, &mut items)?;
    Ok(page.of(items, total_count))
}

/// The rows of one page and the total they are counted against.
fn matching(
    conn: &Conn,
    org_id: i64,
    filter: InvitationFilter,
    search: &Search,
    after: Option<After>,
    page: Page,
    now: Millis,
) -> ServiceResult<(Vec<Invitation>, i64)> {
    let searching = (!search.is_empty()).then_some(search);
    let total_count = match searching {
        None => db::invitations::count(conn, org_id, filter, now)?,
        Some(search) => db::invitations::count_found(conn, org_id, filter, search, now)?,
    };
    let narrowing = db::invitations::Narrowing {
        search: searching,
        after,
    };
    let items = db::invitations::list(conn, org_id, filter, narrowing, page, now)?;
    Ok((items, total_count))
}

/// Revokes a pending or expired invitation; revoking twice is harmless
/// (and records one event).
pub fn revoke(tx: &Conn, origin: &Origin, org_id: i64, id: i64, now: Millis) -> ServiceResult<i64> {
    let invitation = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    match invitation.status.revocation() {
        Revocation::Revoke => {
            db::invitations::set_status(tx, id, InvitationStatus::Revoked, now)?;
            db::outbox::withdraw_reminders(tx, id, now)?;
            let revoked = Invitation {
                status: InvitationStatus::Revoked,
                updated_at: now,
                ..invitation
            };
            events::invitation(
                tx,
                origin,
                EventType::InvitationRevoked,
                &revoked,
                None,
                now,
            )?;
            Ok(id)
        }
        Revocation::AlreadyRevoked => Ok(id),
        Revocation::Refused => Err(ServiceError::conflict(
            ErrorCode::InvitationNotRevocable,
            format!(
                "the invitation is {} and can no longer be revoked",
                invitation.status.as_str()
            ),
        )),
    }
}

/// How many invitations one sweep transaction changes at most, so the sweep
/// never holds the write lock for long.
pub const SWEEP_BATCH: usize = 1000;

/// Stores EXPIRED on up to [`SWEEP_BATCH`] pending invitations past their
/// expiry, each with its one `invitation.expired` event (a row is stored
/// EXPIRED once, so its event is written once).
pub fn sweep_expired(tx: &Conn, now: Millis) -> ServiceResult<usize> {
    let expired = db::invitations::sweep_expired(tx, now, SWEEP_BATCH as i64)?;
    let origin = Origin::system();
    for (invitation, extras) in &expired {
        events::invitation(
            tx,
            &origin,
            EventType::InvitationExpired,
            invitation,
            Some(extras.clone()),
            now,
        )?;
    }
    Ok(expired.len())
}

/// Queues the reminder of up to [`SWEEP_BATCH`] pending invitations whose
/// reminder is due (`invitations.reminder_before` ahead of expiry), once:
/// each is disarmed in the same transaction.
pub fn send_reminders(tx: &Conn, composer: &Composer, now: Millis) -> ServiceResult<usize> {
    let due = db::invitations::take_due_reminders(tx, now, SWEEP_BATCH as i64)?;
    for (invitation, extras) in &due {
        let message = extras.message.clone();
        queue_message(
            tx,
            invitation,
            message,
            MessageKind::Reminder,
            composer,
            now,
        )?;
    }
    Ok(due.len())
}
