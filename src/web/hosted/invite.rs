//! The hosted invitation page, `/invite/{uuid}`: the link every invitation
//! message carries. It works without JavaScript; accepting and declining go
//! through the same service as the invitee API.

use crate::domain::{Email, InvitationDetails};
use crate::services;
use crate::services::accounts::{FormOutcome, Resume};
use crate::services::invite_page::{Answer, Closed, LinkProof, PageState, Viewer};
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::hosted::SignInForms;
use crate::web::render::Link;
use crate::web::render::MessagePage;
use crate::web::sign_in::{self, Credentials, FormError, SESSION_COOKIE, session_cookie};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

pub enum InviteView {
    /// Nobody is signed in: the sign-in and sign-up forms.
    SignedOut(SignInForms),
    /// The invited person is signed in: accept or decline (the CSRF token).
    Invitee(String),
    /// Someone else is signed in: their email and the CSRF token.
    SomeoneElse(String, String),
}

#[derive(Template)]
#[template(path = "invite.html")]
pub struct InvitePage {
    organization_name: String,
    organization_logo_url: Option<String>,
    inviter_name: String,
    invitee_email: String,
    /// The admin's personal message (escaped by the template).
    personal_message: Option<String>,
    role_label: &'static str,
    member_count: i64,
    expires_at_iso: String,
    expires_at_human: String,
    view: InviteView,
    /// Where accept and decline post (carrying the link's secret, if it proved the inbox).
    respond_action: String,
    /// Where sign-out posts (back to the page as it was opened).
    sign_out_action: String,
    /// Why the link in the address bar proves nothing, when it carried a wrong secret.
    link_notice: Option<&'static str>,
    error: Option<String>,
}

/// The query of an invitation link: the secret its message carried.
#[derive(Debug, Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

/// The secret in the visited link, if any. Junk in the query is no secret.
fn link_token(req: &HttpRequest) -> Option<String> {
    serde_urlencoded::from_str::<LinkQuery>(req.query_string())
        .ok()
        .and_then(|query| query.token)
        .filter(|token| !token.is_empty())
}

/// `path` with the link's secret, when it proved the inbox: the forms on the
/// page keep that proof for the post.
fn with_proof(path: String, proof: LinkProof, token: Option<&str>) -> String {
    match (proof, token) {
        (LinkProof::Inbox, Some(token)) => format!(
            "{path}?token={}",
            percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
        ),
        _ => path,
    }
}

const WRONG_LINK: &str = "This link does not prove that the invitation reached you. \
     To create an account or confirm your address here, open the link from your email.";

const UNPROVEN: &str = "Your email address is not confirmed yet. Open the invitation link from \
     your email (or the confirmation link we sent you) to answer this invitation.";

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: Option<String>,
}

fn message(status: StatusCode, heading: &str, text: String) -> HttpResponse {
    PageError::new(status, heading, text).response()
}

fn not_found() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "Invitation not found",
        "This invitation link is not valid. Check that you copied the whole link from the message."
            .into(),
    )
}

fn internal(error: impl std::fmt::Display) -> HttpResponse {
    PageError::internal(error).response()
}

/// The page for an invitation that can no longer be answered.
fn closed(details: &InvitationDetails, reason: Closed) -> HttpResponse {
    let org = &details.organization_name;
    let inviter = details.inviter_name.as_deref().unwrap_or("an admin");
    let (status, heading, text) = match reason {
        Closed::Expired => (
            StatusCode::GONE,
            "This invitation has expired",
            format!("The invitation to join {org} has expired. Ask {inviter} to send it again."),
        ),
        Closed::Revoked => (
            StatusCode::GONE,
            "This invitation was withdrawn",
            format!(
                "The invitation to join {org} is no longer valid. Ask {inviter} if you think this is a mistake."
            ),
        ),
        Closed::Accepted => (
            StatusCode::CONFLICT,
            "This invitation was already accepted",
            format!("This invitation to join {org} has already been accepted."),
        ),
        Closed::Declined => (
            StatusCode::CONFLICT,
            "This invitation was declined",
            format!(
                "This invitation to join {org} was declined. Ask {inviter} for a new one if you changed your mind."
            ),
        ),
    };
    message(status, heading, text)
}

fn session_token(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&crate::web::render::cookie_name(
        SESSION_COOKIE,
        sign_in::secure(state),
    ))
    .map(|cookie| cookie.value().to_owned())
}

/// The page's state for the link in the path (with its secret, if any),
/// seen by the session whose token is given (none: as signed out, with no
/// session lookup).
async fn page_state(
    state: &AppState,
    raw: &str,
    link_token: Option<String>,
    session: Option<String>,
) -> Result<PageState, HttpResponse> {
    let uuid = Uuid::parse_str(raw).map_err(|_| not_found())?;
    let now = state.clock.now();
    state
        .db
        .read(move |conn| {
            services::invite_page::open(conn, uuid, link_token.as_deref(), session.as_deref(), now)
        })
        .await
        .map_err(internal)
}

/// The page for a state in which the invitation cannot be answered now.
fn not_open(
    req: &HttpRequest,
    state: &AppState,
    page: PageState,
    token: Option<&str>,
) -> HttpResponse {
    match page {
        PageState::Unknown => not_found(),
        PageState::Closed(details, reason) => closed(&details, reason),
        PageState::Open(details, Viewer::SignedOut, proof) => crate::web::render::see_other(
            &with_proof(format!("/invite/{}", details.invitation.uuid), proof, token),
        ),
        PageState::Open(details, viewer, proof) => render(
            req,
            state,
            &Shown {
                details: &details,
                viewer: &viewer,
                proof,
                token,
            },
            StatusCode::FORBIDDEN,
            None,
            Some("This invitation is for another email address.".into()),
        ),
    }
}

/// An open invitation as one visitor sees it.
struct Shown<'a> {
    details: &'a InvitationDetails,
    viewer: &'a Viewer,
    proof: LinkProof,
    /// The secret of the visited link, carried by the forms when it proved the inbox.
    token: Option<&'a str>,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    shown: &Shown<'_>,
    status: StatusCode,
    form_error: Option<&FormError>,
    action_error: Option<String>,
) -> HttpResponse {
    let Shown {
        details,
        viewer,
        proof,
        token,
    } = *shown;
    let csrf = crate::web::csrf::csrf_token(req);
    let invitee_email = details.invitation.invitee_email.clone();
    let page_path = format!("/invite/{}", details.invitation.uuid);
    let view = match viewer {
        Viewer::SignedOut => InviteView::SignedOut(SignInForms {
            action: with_proof(page_path.clone(), proof, token),
            hidden: Vec::new(),
            csrf_token: csrf.clone(),
            email: invitee_email.clone(),
            error: form_error.map(|e| e.message.clone()),
            reset_href: crate::web::hosted::reset_href(Some(&Resume::Invitation(
                details.invitation.uuid,
            ))),
        }),
        Viewer::Invitee(_) => InviteView::Invitee(csrf.clone()),
        Viewer::SomeoneElse(user) => InviteView::SomeoneElse(user.email.clone(), csrf.clone()),
    };
    let page = InvitePage {
        organization_name: details.organization_name.clone(),
        organization_logo_url: details.organization_logo_url.clone(),
        inviter_name: details
            .inviter_name
            .clone()
            .unwrap_or_else(|| "An admin".into()),
        invitee_email,
        personal_message: details.message.clone(),
        role_label: details.invitation.role.label(),
        member_count: details.organization_member_count,
        expires_at_iso: details.invitation.expires_at.to_rfc3339(),
        expires_at_human: details.invitation.expires_at.to_human(),
        view,
        respond_action: with_proof(format!("{page_path}/respond"), proof, token),
        sign_out_action: with_proof(format!("{page_path}/sign-out"), proof, token),
        link_notice: (proof == LinkProof::Wrong).then_some(WRONG_LINK),
        error: action_error,
    };
    crate::web::csrf::form_page(
        status,
        &page,
        &[],
        &csrf,
        sign_in::secure(state),
        form_error.and_then(|e| e.retry_after),
    )
}

/// `GET /invite/{uuid}`
#[utoipa::path(
    get, path = "/invite/{uuid}", operation_id = "invitationPage", tag = "Pages",
    params(
        ("uuid" = String, Path, description = "The invitation's UUID, from the emailed link"),
        ("token" = Option<String>, Query, description = "The secret the invitation's message carried. Without it (or with a wrong one) the page shows the invitation and proves nothing: signing up there mails a verification link, and accepting needs a verified account")
    ),
    responses(
        (status = 200, description = "The pending invitation, with sign-in or accept/decline", content_type = "text/html"),
        (status = 404, description = "Unknown link", content_type = "text/html"),
        (status = 409, description = "Already accepted or declined", content_type = "text/html"),
        (status = 410, description = "Expired or revoked", content_type = "text/html"),
        (status = 500, response = crate::web::error::ErrorPage)
    )
)]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let token = link_token(&req);
    match page_state(&state, &path, token.clone(), session_token(&req, &state)).await {
        Ok(PageState::Open(details, viewer, proof)) => render(
            &req,
            &state,
            &Shown {
                details: &details,
                viewer: &viewer,
                proof,
                token: token.as_deref(),
            },
            StatusCode::OK,
            None,
            None,
        ),
        Ok(other) => not_open(&req, &state, other, token.as_deref()),
        Err(page) => page,
    }
}

/// `POST /invite/{uuid}`: the sign-in or sign-up form.
pub async fn sign_in(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: Credentials = match crate::web::csrf::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    // The form signs someone in: who is signed in now does not matter.
    let token = link_token(&req);
    let (details, proof) = match page_state(&state, &path, token.clone(), None).await {
        Ok(PageState::Open(details, _, proof)) => (details, proof),
        Ok(other) => return not_open(&req, &state, other, token.as_deref()),
        Err(page) => return page,
    };
    // Only the message's secret lets this form prove the invitee's inbox.
    let invited = proof
        .proves_inbox()
        .then(|| Email::parse(&details.invitation.invitee_email).ok())
        .flatten();
    let context = sign_in::form_context(
        &req,
        &state,
        Some(Resume::Invitation(details.invitation.uuid)),
        invited,
    );
    match sign_in::submit(&state, &form, &context).await {
        Ok(FormOutcome::SignedIn(person)) => {
            // Back to the page as it was opened, the link's secret included.
            let page = with_proof(
                format!("/invite/{}", details.invitation.uuid),
                proof,
                token.as_deref(),
            );
            let mut response = crate::web::render::see_other(&page);
            sign_in::add_signed_in_cookies(&mut response, &person, &state);
            response
        }
        Ok(FormOutcome::CheckInbox { email, browser }) => {
            let mut response = crate::web::render::render(
                StatusCode::OK,
                &crate::web::hosted::check_inbox(&email),
                &[],
            );
            if let Some(browser) = browser {
                let _ = response.add_cookie(&sign_in::link_cookie(&browser, &state));
            }
            response
        }
        Err(error) => render(
            &req,
            &state,
            &Shown {
                details: &details,
                viewer: &Viewer::SignedOut,
                proof,
                token: token.as_deref(),
            },
            error.status,
            Some(&error),
            None,
        ),
    }
}

/// `POST /invite/{uuid}/respond`: accept or decline, as the signed-in invitee.
pub async fn respond(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: DecisionForm = match crate::web::csrf::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let accept = match form.decision.as_deref() {
        Some("accept") => true,
        Some("decline") => false,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Choose an answer",
                "Accept or decline the invitation.".into(),
            );
        }
    };
    let Ok(uuid) = Uuid::parse_str(&path) else {
        return not_found();
    };
    let session = session_token(&req, &state);
    let token = link_token(&req);
    let link = token.clone();
    let now = state.clock.now();
    let request_id = crate::http::request_log::request_id(&req);
    let answered = state
        .db
        .write(move |tx| {
            services::invite_page::answer(
                tx,
                uuid,
                link.as_deref(),
                session.as_deref(),
                accept,
                request_id,
                now,
            )
        })
        .await;
    match answered {
        Ok(Answer::Accepted(details, organization)) => {
            let org = &details.organization_name;
            match &state.settings.invitations.accept_redirect_url {
                Some(target) => match url::Url::parse(target) {
                    Ok(mut url) => {
                        url.query_pairs_mut()
                            .append_pair("organization", &organization.to_string());
                        crate::web::render::see_other(url.as_str())
                    }
                    Err(error) => internal(error),
                },
                None => crate::web::render::render(
                    StatusCode::OK,
                    &MessagePage::new(
                        format!("Welcome to {org}"),
                        format!("You accepted the invitation and are now a member of {org}."),
                    ),
                    &[],
                ),
            }
        }
        Ok(Answer::Declined(details)) => crate::web::render::render(
            StatusCode::OK,
            &MessagePage {
                heading: "Invitation declined".into(),
                message: format!(
                    "You declined the invitation to join {}. Nothing else will happen.",
                    details.organization_name
                ),
                link: None::<Link>,
            },
            &[],
        ),
        Ok(Answer::NotAnswerable(page)) => not_open(&req, &state, page, token.as_deref()),
        Ok(Answer::Unproven(details, user)) => render(
            &req,
            &state,
            &Shown {
                details: &details,
                viewer: &Viewer::Invitee(user),
                proof: LinkProof::Absent,
                token: None,
            },
            StatusCode::FORBIDDEN,
            None,
            Some(UNPROVEN.into()),
        ),
        Err(other) => internal(other),
    }
}

/// `POST /invite/{uuid}/sign-out`
pub async fn sign_out(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = crate::web::csrf::genuine_form::<serde::de::IgnoredAny>(&req, &body) {
        return *page;
    }
    if let Some(cookie) = req.cookie(&crate::web::render::cookie_name(
        SESSION_COOKIE,
        sign_in::secure(&state),
    )) {
        let token = cookie.value().to_owned();
        if let Err(error) = state
            .db
            .write(move |tx| services::sessions::end(tx, &token))
            .await
        {
            return internal(error);
        }
    }
    // Back to the page as it was opened: the secret it carried, if any,
    // is checked again there.
    let target = match (Uuid::parse_str(&path), link_token(&req)) {
        (Ok(uuid), Some(token)) if token.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("/invite/{uuid}?token={token}")
        }
        (Ok(uuid), _) => format!("/invite/{uuid}"),
        (Err(_), _) => "/".to_owned(),
    };
    let mut response = crate::web::render::see_other(&target);
    let _ = response.add_cookie(&sign_in::removal(session_cookie("", &state)));
    response
}
