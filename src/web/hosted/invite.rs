//! The hosted invitation page, `/invite/{uuid}`: the link every invitation
//! message carries. It works without JavaScript; accepting and declining go
//! through the same service as the invitee API.

use crate::domain::{Email, InvitationDetails};
use crate::services;
use crate::services::accounts::Resume;
use crate::services::invite_page::{Answer, Closed, LinkProof, PageState, Viewer};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::hosted::SignInForms;
use crate::web::render::{MessagePage, Redirect};
use crate::web::sign_in::{self, Browser, Credentials, FormError, Onward, session_cookie};
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
    role_label: String,
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

impl DecisionForm {
    /// Whether the invitee accepts (or declines); anything else is no answer.
    fn accepts(&self) -> Result<bool, PageError> {
        match self.decision.as_deref() {
            Some("accept") => Ok(true),
            Some("decline") => Ok(false),
            _ => Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Choose an answer",
                "Accept or decline the invitation.",
            )),
        }
    }
}

fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Invitation not found",
        "This invitation link is not valid. Check that you copied the whole link from the message.",
    )
}

/// The page for an invitation that can no longer be answered.
fn closed(details: &InvitationDetails, reason: Closed) -> PageError {
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
    PageError::new(status, heading, text)
}

/// The open invitation behind the link in the path (with its secret, if
/// any), seen by the session whose token is given (none: as signed out,
/// with no session lookup); otherwise the answer for its state.
async fn open_invitation(
    req: &HttpRequest,
    state: &AppState,
    raw: &str,
    link_token: Option<&str>,
    session: Option<String>,
) -> Result<(Box<InvitationDetails>, Viewer, LinkProof), HtmlError> {
    let uuid = Uuid::parse_str(raw).map_err(|_| not_found())?;
    let now = state.clock.now();
    let link = link_token.map(str::to_owned);
    let page = state
        .db
        .read(move |conn| {
            services::invite_page::open(conn, uuid, link.as_deref(), session.as_deref(), now)
        })
        .await
        .map_err(PageError::internal)?;
    match page {
        PageState::Open(details, viewer, proof) => Ok((details, viewer, proof)),
        other => Err(not_open(req, state, other, link_token)),
    }
}

/// The answer for a state in which the invitation cannot be answered now.
fn not_open(
    req: &HttpRequest,
    state: &AppState,
    page: PageState,
    token: Option<&str>,
) -> HtmlError {
    match page {
        PageState::Unknown => not_found().into(),
        PageState::Closed(details, reason) => closed(&details, reason).into(),
        PageState::Open(details, Viewer::SignedOut, proof) => Redirect::to(with_proof(
            format!("/invite/{}", details.invitation.uuid),
            proof,
            token,
        ))
        .into(),
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
        )
        .into(),
    }
}

/// The answer to an accept or decline.
fn answered(
    req: &HttpRequest,
    state: &AppState,
    answer: Answer,
    token: Option<&str>,
) -> Result<HttpResponse, HtmlError> {
    match answer {
        Answer::Accepted(details, joined) => {
            let org = &details.organization_name;
            let welcome = MessagePage::new(
                format!("Welcome to {org}"),
                format!("You accepted the invitation and are now a member of {org}."),
            );
            Ok(crate::web::hosted::joined(state, joined, welcome)?)
        }
        Answer::Declined(details) => {
            let declined = MessagePage::new(
                "Invitation declined",
                format!(
                    "You declined the invitation to join {}. Nothing else will happen.",
                    details.organization_name
                ),
            );
            Ok(crate::web::render::render(StatusCode::OK, &declined, &[]))
        }
        Answer::NotAnswerable(page) => Err(not_open(req, state, page, token)),
        Answer::Unproven(details, user) => Err(render(
            req,
            state,
            &Shown {
                details: &details,
                viewer: &Viewer::Invitee(user),
                proof: LinkProof::Absent,
                token: None,
            },
            StatusCode::FORBIDDEN,
            None,
            Some(UNPROVEN.into()),
        )
        .into()),
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
) -> FormPage {
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
            error: form_error
                .map(|e| e.message.clone())
                .or_else(|| crate::web::sign_in::declined_notice(req)),
            reset_href: crate::web::hosted::reset_href(Some(&Resume::Invitation(
                details.invitation.uuid,
            ))),
            providers: crate::web::sign_in::provider_buttons(
                state,
                &with_proof(page_path.clone(), proof, token),
            ),
            return_to: with_proof(page_path.clone(), proof, token),
            passkeys: state.accounts.passkeys_offered(),
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
        role_label: details.role_name.clone(),
        member_count: details.organization_member_count,
        expires_at_iso: details.invitation.expires_at.to_rfc3339(),
        expires_at_human: details.invitation.expires_at.to_human(),
        view,
        respond_action: with_proof(format!("{page_path}/respond"), proof, token),
        sign_out_action: with_proof(format!("{page_path}/sign-out"), proof, token),
        link_notice: (proof == LinkProof::Wrong).then_some(WRONG_LINK),
        error: action_error,
    };
    FormPage::new(status, &page, &csrf, crate::web::render::secure(state))
        .retry_after(form_error.and_then(|e| e.retry_after))
        .scripts(crate::web::sign_in::page_scripts(state))
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
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let token = link_token(&req);
    let (details, viewer, proof) = open_invitation(
        &req,
        &state,
        &path,
        token.as_deref(),
        browser.session_token(),
    )
    .await?;
    let shown = Shown {
        details: &details,
        viewer: &viewer,
        proof,
        token: token.as_deref(),
    };
    Ok(render(&req, &state, &shown, StatusCode::OK, None, None).response())
}

/// `POST /invite/{uuid}`: the sign-in or sign-up form. Signed in, the
/// browser goes back to the page as it was opened, the link's secret
/// included.
pub async fn sign_in(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    GenuineForm(form): GenuineForm<Credentials>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let token = link_token(&req);
    // The form signs someone in: who is signed in now does not matter.
    let (details, _, proof) = open_invitation(&req, &state, &path, token.as_deref(), None).await?;
    // Only the message's secret lets this form prove the invitee's inbox.
    let invited = proof
        .proves_inbox()
        .then(|| Email::parse(&details.invitation.invitee_email).ok())
        .flatten();
    let resume = Resume::Invitation(details.invitation.uuid);
    let context = browser.form_context(Some(resume), invited);
    let page = format!("/invite/{}", details.invitation.uuid);
    let onward = Onward::Page(with_proof(page, proof, token.as_deref()));
    let shown = Shown {
        details: &details,
        viewer: &Viewer::SignedOut,
        proof,
        token: token.as_deref(),
    };
    let again = |error: &FormError| render(&req, &state, &shown, error.status, Some(error), None);
    sign_in::finish(&state, &form, &context, onward, again).await
}

/// `POST /invite/{uuid}/respond`: accept or decline, as the signed-in invitee.
pub async fn respond(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    GenuineForm(form): GenuineForm<DecisionForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let accept = form.accepts()?;
    let uuid = Uuid::parse_str(&path).map_err(|_| not_found())?;
    let (session, request_id) = (browser.session_token(), browser.request_id());
    let token = link_token(&req);
    let link = token.clone();
    let now = state.clock.now();
    let answer = state
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
        .await
        .map_err(PageError::internal)?;
    answered(&req, &state, answer, token.as_deref())
}

/// `POST /invite/{uuid}/sign-out`
pub async fn sign_out(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    if let Some(token) = browser.session_token() {
        state
            .db
            .write(move |tx| services::sessions::end(tx, &token))
            .await
            .map_err(PageError::internal)?;
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
    crate::web::render::add_cookie(&mut response, &sign_in::removal(session_cookie("", &state)));
    Ok(response)
}
