use super::{ServiceError, ServiceResult};
use crate::db;
use crate::domain::invitation::{InvitationFilter, Revocation};
use crate::domain::{Email, Invitation, InvitationStatus, Millis, Page, Paged, Role};
use rusqlite::Connection;
use std::time::Duration;
use uuid::Uuid;

pub struct NewInvitation {
    pub invitee: Email,
    pub role: Role,
}

/// Invites `invitee` to the organization on behalf of `inviter_user_id`.
pub fn create(
    tx: &Connection,
    org_id: i64,
    inviter_user_id: i64,
    new: &NewInvitation,
    lifetime: Duration,
    now: Millis,
) -> ServiceResult<Invitation> {
    if db::members::is_member_by_email(tx, org_id, &new.invitee)? {
        return Err(ServiceError::conflict(
            "already_member",
            format!("{} is already a member of this organization", new.invitee),
        ));
    }
    if db::invitations::has_open(tx, org_id, &new.invitee, now)? {
        return Err(ServiceError::conflict(
            "invitation_pending",
            format!(
                "{} already has a pending invitation to this organization",
                new.invitee
            ),
        ));
    }
    Ok(db::invitations::insert(
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
    )?)
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
    Ok(Paged {
        items,
        limit: page.limit,
        offset: page.offset,
        total_count,
    })
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
