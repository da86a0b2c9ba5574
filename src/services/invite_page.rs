//! The hosted invitation page's decisions, `/invite/{uuid}`: what a visitor
//! may do with an invitation, and what became of their answer. The page
//! handler renders these outcomes; it decides nothing itself.

use super::console::Joined;
use super::sessions::{self, SessionUser};
use super::{ServiceError, ServiceResult, invitee};
use crate::auth::secrets;
use crate::db::{self, Conn};
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

/// What the secret in the visited link proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProof {
    /// The link had no secret: the page shows, and proves nothing.
    Absent,
    /// The secret of one of the invitation's messages: the visitor holds
    /// the invitee's inbox.
    Inbox,
    /// A secret that is not one of this invitation's: the page shows, proves
    /// nothing, and says where the right link is.
    Wrong,
}

impl LinkProof {
    pub fn proves_inbox(self) -> bool {
        self == LinkProof::Inbox
    }
}

/// What the page shows for a link.
#[derive(Debug)]
pub enum PageState {
    /// No invitation has this link.
    Unknown,
    Closed(Box<InvitationDetails>, Closed),
    Open(Box<InvitationDetails>, Viewer, LinkProof),
}

/// What became of an answer given on the page.
#[derive(Debug)]
pub enum Answer {
    /// The state the page was in instead: unknown, closed, nobody signed in,
    /// or someone other than the invitee signed in.
    NotAnswerable(PageState),
    /// Accepted: where the person stands now (the organization's UUID is
    /// for `invitations.accept_redirect_url`).
    Accepted(Box<InvitationDetails>, Joined),
    Declined(Box<InvitationDetails>),
    /// The invitee's account has no proven address and the visit carried no
    /// secret from the invitation's messages: nothing was answered.
    Unproven(Box<InvitationDetails>, SessionUser),
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

/// The page for the link `uuid` (with the secret `link_token`, when the
/// visit carries one), seen by whoever holds `session_token`.
pub fn open(
    conn: &Conn,
    uuid: Uuid,
    link_token: Option<&str>,
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
    let proof = match link_token {
        None => LinkProof::Absent,
        Some(token) => {
            if db::invitation_links::belongs_to(
                conn,
                &secrets::sha256(token),
                details.invitation.id,
            )? {
                LinkProof::Inbox
            } else {
                LinkProof::Wrong
            }
        }
    };
    Ok(PageState::Open(Box::new(details), viewer, proof))
}

/// Accepts or declines the invitation behind `uuid` for the invitee signed in
/// with `session_token`, in one transaction with the checks that allow it.
/// The signed-in person is the events' actor; `request_id` is the request's.
pub fn answer(
    tx: &Conn,
    uuid: Uuid,
    link_token: Option<&str>,
    session_token: Option<&str>,
    accept: bool,
    request_id: Option<String>,
    now: Millis,
) -> ServiceResult<Answer> {
    let (details, user, proof) = match open(tx, uuid, link_token, session_token, now)? {
        PageState::Open(details, Viewer::Invitee(user), proof) => (details, user, proof),
        other => return Ok(Answer::NotAnswerable(other)),
    };
    if !user.email_verified && !proof.proves_inbox() {
        return Ok(Answer::Unproven(details, user));
    }
    // Only the secret mailed to the invitee proves the inbox; the uuid alone
    // is known to the inviting organization (and its events and webhooks),
    // so without the secret only an already verified account may answer.
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
        proof.proves_inbox(),
        now,
    )?;
    Ok(match answered {
        Some(organization) => {
            let joined = Joined::read(tx, details.invitation.org_id, user.user_id, organization)?;
            Answer::Accepted(details, joined)
        }
        None => Answer::Declined(details),
    })
}
