//! The hosted invitation page's decisions, `/invite/{uuid}`: what a visitor
//! may do with an invitation, and what became of their answer. The page
//! handler renders these outcomes; it decides nothing itself.

use super::sessions::{self, SessionUser};
use super::{ServiceError, ServiceResult, invitee};
use crate::db::Conn;
use crate::domain::event::{Actor, Origin};
use crate::domain::{Email, InvitationDetails, InvitationStatus, Millis};
use uuid::Uuid;

/// Why an invitation can no longer be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Expired,
    Revoked,
    Accepted,
    Declined,
}

/// Who is looking at a pending invitation.
#[derive(Debug, Clone)]
pub enum Viewer {
    SignedOut,
    /// Signed in with the invited address: may accept or decline.
    Invitee(SessionUser),
    /// Signed in with another address: may only sign out.
    SomeoneElse(SessionUser),
}

/// What the page shows for a link.
#[derive(Debug)]
pub enum PageState {
    /// No invitation has this link.
    Unknown,
    Closed(Box<InvitationDetails>, Closed),
    Open(Box<InvitationDetails>, Viewer),
}

/// What became of an answer given on the page.
#[derive(Debug)]
pub enum Answer {
    /// The state the page was in instead: unknown, closed, nobody signed in,
    /// or someone other than the invitee signed in.
    NotAnswerable(PageState),
    /// Accepted: the organization's UUID (for `invitations.accept_redirect_url`).
    Accepted(Box<InvitationDetails>, Uuid),
    Declined(Box<InvitationDetails>),
}

fn closed_reason(status: InvitationStatus) -> Option<Closed> {
    match status {
        InvitationStatus::Pending => None,
        InvitationStatus::Expired => Some(Closed::Expired),
        InvitationStatus::Revoked => Some(Closed::Revoked),
        InvitationStatus::Accepted => Some(Closed::Accepted),
        InvitationStatus::Declined => Some(Closed::Declined),
    }
}

/// Whether two stored addresses are one person's, compared as every lookup
/// compares them (the case-insensitive key, beyond ASCII too).
fn same_address(a: &str, b: &str) -> bool {
    match (Email::parse(a), Email::parse(b)) {
        (Ok(a), Ok(b)) => a.key() == b.key(),
        _ => false,
    }
}

/// The page for the link `uuid`, seen by whoever holds `session_token`.
pub fn open(
    conn: &Conn,
    uuid: Uuid,
    session_token: Option<&str>,
    now: Millis,
) -> ServiceResult<PageState> {
    let details = match invitee::by_link(conn, uuid, now) {
        Ok(details) => details,
        Err(ServiceError::NotFound(_)) => return Ok(PageState::Unknown),
        Err(other) => return Err(other),
    };
    if let Some(reason) = closed_reason(details.invitation.status) {
        return Ok(PageState::Closed(Box::new(details), reason));
    }
    let session = match session_token {
        Some(token) => sessions::find(conn, token, now)?,
        None => None,
    };
    let viewer = match session {
        None => Viewer::SignedOut,
        Some(user) if same_address(&user.email, &details.invitation.invitee_email) => {
            Viewer::Invitee(user)
        }
        Some(user) => Viewer::SomeoneElse(user),
    };
    Ok(PageState::Open(Box::new(details), viewer))
}

/// Accepts or declines the invitation behind `uuid` for the invitee signed in
/// with `session_token`, in one transaction with the checks that allow it.
/// The signed-in person is the events' actor; `request_id` is the request's.
pub fn answer(
    tx: &Conn,
    uuid: Uuid,
    session_token: Option<&str>,
    accept: bool,
    request_id: Option<String>,
    now: Millis,
) -> ServiceResult<Answer> {
    let (details, user) = match open(tx, uuid, session_token, now)? {
        PageState::Open(details, Viewer::Invitee(user)) => (details, user),
        other => return Ok(Answer::NotAnswerable(other)),
    };
    // Reaching this page took the link mailed to the invitee: for the
    // invitee's own account, that proves the inbox.
    let origin = Origin::new(
        Actor::User {
            user_id: user.user_id,
        },
        request_id,
    );
    let answered = invitee::respond(
        tx,
        &origin,
        user.user_id,
        &user.email,
        uuid,
        accept,
        true,
        now,
    )?;
    Ok(match answered {
        Some(organization) => Answer::Accepted(details, organization),
        None => Answer::Declined(details),
    })
}
