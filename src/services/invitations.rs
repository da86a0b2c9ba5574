use super::{ServiceError, ServiceResult};
use crate::db;
use crate::delivery::{Composer, InvitationEmail};
use crate::domain::invitation::{InvitationFilter, Revocation};
use crate::domain::{Email, Invitation, InvitationStatus, Millis, Page, Paged, Role};
use rusqlite::Connection;
use std::time::Duration;
use uuid::Uuid;

pub struct NewInvitation {
    pub invitee: Email,
    pub role: Role,
}

/// Invites `invitee` to the organization on behalf of `inviter_user_id`,
/// and queues the invitation message in the same transaction.
pub fn create(
    tx: &Connection,
    org_id: i64,
    inviter_user_id: i64,
    new: &NewInvitation,
    lifetime: Duration,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Invitation> {
    ensure_invitable(tx, org_id, &new.invitee, None, now)?;
    let invitation = db::invitations::insert(
        tx,
        &db::invitations::NewInvitation {
            uuid: Uuid::new_v4(),
            org_id,
            invitee: &new.invitee,
            role: new.role,
            inviter_user_id,
            expires_at: now.plus(lifetime),
        },
        now,
    )?;
    enqueue_message(tx, &invitation, composer, now)?;
    Ok(invitation)
}

/// A person can be invited when they are not a member yet and have no
/// other pending invitation to the organization.
fn ensure_invitable(
    tx: &Connection,
    org_id: i64,
    invitee: &Email,
    except: Option<i64>,
    now: Millis,
) -> ServiceResult<()> {
    if db::members::is_member_by_email(tx, org_id, invitee)? {
        return Err(ServiceError::conflict(
            "already_member",
            format!("{invitee} is already a member of this organization"),
        ));
    }
    if db::invitations::has_open(tx, org_id, invitee, except, now)? {
        return Err(ServiceError::conflict(
            "invitation_pending",
            format!("{invitee} already has a pending invitation to this organization"),
        ));
    }
    Ok(())
}

/// Resends are limited to one a minute per invitation (the message sent at
/// creation does not count).
pub const RESEND_INTERVAL_MS: i64 = 60_000;

/// Sends a pending or expired invitation again with a renewed expiry.
pub fn resend(
    tx: &Connection,
    org_id: i64,
    id: i64,
    lifetime: Duration,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Invitation> {
    let invitation = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    match invitation.status {
        InvitationStatus::Pending | InvitationStatus::Expired => {}
        other => {
            return Err(ServiceError::conflict(
                "invitation_not_resendable",
                format!(
                    "the invitation is {} and cannot be sent again",
                    other.as_str()
                ),
            ));
        }
    }
    if let Some(last) = db::invitations::last_resent_at(tx, id)? {
        let wait_ms = RESEND_INTERVAL_MS - (now.0 - last.0);
        if wait_ms > 0 {
            let retry_after_secs = u64::try_from((wait_ms + 999) / 1000)
                .unwrap_or(60)
                .clamp(1, 60);
            return Err(ServiceError::TooSoon {
                detail: "this invitation was sent less than a minute ago; try again later".into(),
                retry_after_secs,
            });
        }
    }
    if invitation.status == InvitationStatus::Expired {
        let invitee = Email::parse(&invitation.invitee_email)
            .map_err(|e| ServiceError::invalid("inviteeEmail", e.to_string()))?;
        ensure_invitable(tx, org_id, &invitee, Some(id), now)?;
    }
    db::invitations::renew(tx, id, now.plus(lifetime), now)?;
    let renewed = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    enqueue_message(tx, &renewed, composer, now)?;
    Ok(renewed)
}

fn enqueue_message(
    tx: &Connection,
    invitation: &Invitation,
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
    let link = composer.invitation_link(invitation.uuid);
    let message = composer.invitation(&InvitationEmail {
        invitee_email: invitation.invitee_email.clone(),
        organization_name: org.name,
        organization_logo_url: org.logo_url,
        inviter_name,
        role: invitation.role,
        expires_at: invitation.expires_at,
        link: link.clone(),
    })?;
    db::outbox::insert(
        tx,
        &db::outbox::NewMessage {
            kind: "invitation",
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
/// read in one snapshot so they agree.
pub fn list(
    conn: &Connection,
    org_id: i64,
    filter: InvitationFilter,
    page: Page,
    now: Millis,
) -> ServiceResult<Paged<Invitation>> {
    let snapshot = conn.unchecked_transaction()?;
    let total_count = db::invitations::count(&snapshot, org_id, filter, now)?;
    let items = db::invitations::list(&snapshot, org_id, filter, page, now)?;
    snapshot.finish()?;
    Ok(page.of(items, total_count))
}

/// Revokes a pending or expired invitation; revoking twice is harmless.
pub fn revoke(tx: &Connection, org_id: i64, id: i64, now: Millis) -> ServiceResult<i64> {
    let invitation = db::invitations::get_in_org(tx, org_id, id, now)?
        .ok_or(ServiceError::NotFound("invitation"))?;
    match invitation.status.revocation() {
        Revocation::Revoke => {
            db::invitations::set_status(tx, id, InvitationStatus::Revoked, now)?;
            Ok(id)
        }
        Revocation::AlreadyRevoked => Ok(id),
        Revocation::Refused => Err(ServiceError::conflict(
            "invitation_not_revocable",
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

/// Stores EXPIRED on up to [`SWEEP_BATCH`] pending invitations past their expiry.
pub fn sweep_expired(tx: &Connection, now: Millis) -> ServiceResult<usize> {
    Ok(db::invitations::sweep_expired(tx, now, SWEEP_BATCH as i64)?)
}
