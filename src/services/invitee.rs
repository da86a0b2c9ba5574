//! The invitee's side: their pending invitations, and answering one.

use super::{ServiceError, ServiceResult, events};
use crate::db;
use crate::db::Conn;
use crate::db::teams::Holder;
use crate::domain::event::{EventType, Origin};
use crate::domain::{Email, Invitation, InvitationDetails, InvitationStatus, Millis};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use uuid::Uuid;

/// The caller's pending, unexpired invitations.
pub fn list(conn: &Conn, email: &str, now: Millis) -> ServiceResult<Vec<InvitationDetails>> {
    match Email::parse(email) {
        Ok(email) => Ok(db::invitations::list_for_invitee(conn, &email, now)?),
        Err(_) => Ok(Vec::new()),
    }
}

/// One invitation addressed to the caller, if it can still be answered.
pub fn get(conn: &Conn, email: &str, uuid: Uuid, now: Millis) -> ServiceResult<InvitationDetails> {
    let details = find(conn, email, uuid, now)?;
    ensure_answerable(details.invitation.status)?;
    Ok(details)
}

/// Accepts (the caller becomes a member with the invitation's role, or
/// keeps the role they have) or declines. Answers the organization's UUID
/// when accepted. Runs in one write transaction, so an accept racing a
/// revoke or another answer sees the winner's status and gets a 409.
/// `link_proves_inbox`: the caller came through the link mailed to the
/// invitee (the hosted page), so their address counts as proven; without
/// it the caller's address must be proven already. The answer is an
/// event (`invitation.accepted` or `.declined`, and `member.added` when
/// the person joined), by `origin`.
#[allow(clippy::too_many_arguments)]
pub fn respond(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    email: &str,
    uuid: Uuid,
    accept: bool,
    link_proves_inbox: bool,
    now: Millis,
) -> ServiceResult<Option<Uuid>> {
    let details = find(tx, email, uuid, now)?;
    let invitation = &details.invitation;
    ensure_answerable(invitation.status)?;
    let account = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    if !account.email_verified() {
        if !link_proves_inbox {
            return Err(ServiceError::Forbidden {
                code: ErrorCode::EmailUnverified,
                detail: "this account's email address is not verified yet".into(),
            });
        }
        super::users::mark_verified(tx, user_id, now)?;
    }
    let answered = |status| Invitation {
        status,
        updated_at: now,
        ..invitation.clone()
    };
    db::outbox::withdraw_reminders(tx, invitation.id, now)?;
    if !accept {
        db::invitations::set_status(tx, invitation.id, InvitationStatus::Declined, now)?;
        let declined = answered(InvitationStatus::Declined);
        events::invitation(
            tx,
            origin,
            EventType::InvitationDeclined,
            &declined,
            None,
            now,
        )?;
        return Ok(None);
    }
    // A member already keeps the role they have.
    let joined = db::members::insert_new(
        tx,
        OrgId(invitation.org_id),
        UserId(user_id),
        &invitation.role,
        now,
    )?;
    db::invitations::set_status(tx, invitation.id, InvitationStatus::Accepted, now)?;
    let accepted = answered(InvitationStatus::Accepted);
    events::invitation(
        tx,
        origin,
        EventType::InvitationAccepted,
        &accepted,
        None,
        now,
    )?;
    if joined {
        let mut more = serde_json::Map::new();
        more.insert("invitationId".into(), invitation.id.into());
        events::member_added(
            tx,
            origin,
            OrgId(invitation.org_id),
            UserId(user_id),
            more,
            now,
        )?;
    }
    // A member already keeps their role but still joins the named teams.
    super::teams::join_named(
        tx,
        origin,
        invitation.org_id,
        Holder::Invitation(invitation.id),
        user_id,
        now,
    )?;
    Ok(Some(details.organization_uuid))
}

/// An invitation by its link, for the hosted page.
pub fn by_link(conn: &Conn, uuid: Uuid, now: Millis) -> ServiceResult<InvitationDetails> {
    db::invitations::find_details(conn, uuid, now)?.ok_or(ServiceError::NotFound("invitation"))
}

fn find(conn: &Conn, email: &str, uuid: Uuid, now: Millis) -> ServiceResult<InvitationDetails> {
    let email = Email::parse(email).map_err(|_| ServiceError::NotFound("invitation"))?;
    db::invitations::find_for_invitee(conn, uuid, &email, now)?
        .ok_or(ServiceError::NotFound("invitation"))
}

fn ensure_answerable(status: InvitationStatus) -> ServiceResult<()> {
    match status {
        InvitationStatus::Pending => Ok(()),
        InvitationStatus::Expired => Err(ServiceError::Gone {
            code: ErrorCode::InvitationExpired,
            detail: "the invitation has expired; ask for a new one".into(),
        }),
        answered => Err(ServiceError::conflict(
            ErrorCode::InvitationNotPending,
            format!(
                "the invitation is {} and can no longer be answered",
                answered.as_str()
            ),
        )),
    }
}
