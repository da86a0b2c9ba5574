//! The hosted invitation page, `/invite/{uuid}`: the link every invitation
//! message carries. It works without JavaScript; accepting and declining go
//! through the same service as the invitee API.

use crate::api::pages::{self, Link, MessagePage, PageError, SignInForms};
use crate::api::sign_in::{self, Credentials, FormError, SESSION_COOKIE, session_cookie};
use crate::domain::{Email, InvitationDetails};
use crate::services;
use crate::services::accounts::{FormOutcome, Resume};
use crate::services::invite_page::{Answer, Closed, PageState, Viewer};
use crate::state::AppState;
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
    uuid: Uuid,
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
    error: Option<String>,
}

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
    req.cookie(&pages::cookie_name(SESSION_COOKIE, sign_in::secure(state)))
        .map(|cookie| cookie.value().to_owned())
}

/// The page's state for the link in the path, seen by the session whose
/// token is given (none: as signed out, with no session lookup).
async fn page_state(
    state: &AppState,
    raw: &str,
    token: Option<String>,
) -> Result<PageState, HttpResponse> {
    let uuid = Uuid::parse_str(raw).map_err(|_| not_found())?;
    let now = state.clock.now();
    state
        .db
        .read(move |conn| services::invite_page::open(conn, uuid, token.as_deref(), now))
        .await
        .map_err(internal)
}

/// The page for a state in which the invitation cannot be answered now.
fn not_open(req: &HttpRequest, state: &AppState, page: PageState) -> HttpResponse {
    match page {
        PageState::Unknown => not_found(),
        PageState::Closed(details, reason) => closed(&details, reason),
        PageState::Open(details, Viewer::SignedOut) => {
            pages::see_other(&format!("/invite/{}", details.invitation.uuid))
        }
        PageState::Open(details, viewer) => render(
            req,
            state,
            &details,
            &viewer,
            StatusCode::FORBIDDEN,
            None,
            Some("This invitation is for another email address.".into()),
        ),
    }
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    details: &InvitationDetails,
    viewer: &Viewer,
    status: StatusCode,
    form_error: Option<&FormError>,
    action_error: Option<String>,
) -> HttpResponse {
    let csrf = pages::csrf_token(req);
    let invitee_email = details.invitation.invitee_email.clone();
    let view = match viewer {
        Viewer::SignedOut => InviteView::SignedOut(SignInForms {
            action: format!("/invite/{}", details.invitation.uuid),
            hidden: Vec::new(),
            csrf_token: csrf.clone(),
            email: invitee_email.clone(),
            error: form_error.map(|e| e.message.clone()),
            reset_href: pages::reset_href(Some(&Resume::Invitation(details.invitation.uuid))),
        }),
        Viewer::Invitee(_) => InviteView::Invitee(csrf.clone()),
        Viewer::SomeoneElse(user) => InviteView::SomeoneElse(user.email.clone(), csrf.clone()),
    };
    let page = InvitePage {
        uuid: details.invitation.uuid,
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
        error: action_error,
    };
    pages::form_page(
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
    params(("uuid" = String, Path, description = "The invitation's UUID, from the emailed link")),
    responses(
        (status = 200, description = "The pending invitation, with sign-in or accept/decline", content_type = "text/html"),
        (status = 404, description = "Unknown link", content_type = "text/html"),
        (status = 409, description = "Already accepted or declined", content_type = "text/html"),
        (status = 410, description = "Expired or revoked", content_type = "text/html"),
        (status = 500, response = crate::api::openapi::ErrorPage)
    )
)]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match page_state(&state, &path, session_token(&req, &state)).await {
        Ok(PageState::Open(details, viewer)) => {
            render(&req, &state, &details, &viewer, StatusCode::OK, None, None)
        }
        Ok(other) => not_open(&req, &state, other),
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
    let form: Credentials = match pages::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    // The form signs someone in: who is signed in now does not matter.
    let details = match page_state(&state, &path, None).await {
        Ok(PageState::Open(details, _)) => details,
        Ok(other) => return not_open(&req, &state, other),
        Err(page) => return page,
    };
    let context = sign_in::form_context(
        &req,
        &state,
        Some(Resume::Invitation(details.invitation.uuid)),
        Email::parse(&details.invitation.invitee_email).ok(),
    );
    match sign_in::submit(&state, &form, &context).await {
        Ok(FormOutcome::SignedIn(person)) => {
            let mut response = pages::see_other(&format!("/invite/{}", details.invitation.uuid));
            sign_in::add_signed_in_cookies(&mut response, &person, &state);
            response
        }
        Ok(FormOutcome::CheckInbox { email, browser }) => {
            let mut response = pages::render(StatusCode::OK, &pages::check_inbox(&email), &[]);
            if let Some(browser) = browser {
                let _ = response.add_cookie(&sign_in::link_cookie(&browser, &state));
            }
            response
        }
        Err(error) => render(
            &req,
            &state,
            &details,
            &Viewer::SignedOut,
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
    let form: DecisionForm = match pages::genuine_form(&req, &body) {
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
    let token = session_token(&req, &state);
    let now = state.clock.now();
    let request_id = crate::api::request_log::request_id(&req);
    let answered = state
        .db
        .write(move |tx| {
            services::invite_page::answer(tx, uuid, token.as_deref(), accept, request_id, now)
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
                        pages::see_other(url.as_str())
                    }
                    Err(error) => internal(error),
                },
                None => pages::render(
                    StatusCode::OK,
                    &MessagePage::new(
                        format!("Welcome to {org}"),
                        format!("You accepted the invitation and are now a member of {org}."),
                    ),
                    &[],
                ),
            }
        }
        Ok(Answer::Declined(details)) => pages::render(
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
        Ok(Answer::NotAnswerable(page)) => not_open(&req, &state, page),
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
    if let Err(page) = pages::genuine_form::<serde::de::IgnoredAny>(&req, &body) {
        return *page;
    }
    if let Some(cookie) = req.cookie(&pages::cookie_name(SESSION_COOKIE, sign_in::secure(&state))) {
        let token = cookie.value().to_owned();
        if let Err(error) = state
            .db
            .write(move |tx| services::sessions::end(tx, &token))
            .await
        {
            return internal(error);
        }
    }
    let target = match Uuid::parse_str(&path) {
        Ok(uuid) => format!("/invite/{uuid}"),
        Err(_) => "/".to_owned(),
    };
    let mut response = pages::see_other(&target);
    let _ = response.add_cookie(&sign_in::removal(session_cookie("", &state)));
    response
}
