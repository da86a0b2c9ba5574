//! The hosted join-link page, `/join/{token}`: it shows the organization
//! and lets a signed-in person with a verified email join. Signing in and
//! up use the same forms and accounts service as the invitation page.

use crate::domain::join_link::JoinLinkState;
use crate::services::accounts::FormOutcome;
use crate::services::join_links::OpenLink;
use crate::services::sessions::SessionUser;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::hosted::SignInForms;
use crate::web::render::MessagePage;
use crate::web::sign_in::{self, Credentials, FormError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub enum JoinView {
    SignedOut(SignInForms),
    /// The signed-in person's email and the CSRF token.
    SignedIn(String, String),
}

#[derive(Template)]
#[template(path = "join.html")]
pub struct JoinPage {
    token: String,
    organization_name: String,
    organization_logo_url: Option<String>,
    role_label: &'static str,
    member_count: i64,
    expires_at_iso: String,
    expires_at_human: String,
    view: JoinView,
    error: Option<String>,
}

fn message(status: StatusCode, heading: &str, text: impl Into<String>) -> HttpResponse {
    crate::web::render::render(status, &MessagePage::new(heading, text.into()), &[])
}

fn not_found() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "Link not found",
        "This join link is not valid. Check that you copied the whole link.",
    )
}

fn closed(state: JoinLinkState, org: &str) -> HttpResponse {
    let text = match state {
        JoinLinkState::Full => {
            format!("The link to join {org} has been used as often as it allows.")
        }
        JoinLinkState::Expired => format!("The link to join {org} has expired."),
        _ => format!("The link to join {org} was withdrawn."),
    };
    message(StatusCode::GONE, "This link can no longer be used", text)
}

fn internal(error: impl std::fmt::Display) -> HttpResponse {
    PageError::internal(error).response()
}

/// Tokens are base62; anything else finds nothing without a lookup.
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The link behind a token if it is active; otherwise the page to show.
async fn open_link(state: &AppState, token: &str) -> Result<OpenLink, HttpResponse> {
    if !plausible(token) {
        return Err(not_found());
    }
    let now = state.clock.now();
    let token = token.to_owned();
    let open = state
        .db
        .read(move |conn| services::join_links::open(conn, &token, now))
        .await
        .map_err(|error| match error {
            ServiceError::NotFound(_) => not_found(),
            other => internal(other),
        })?;
    if open.link.state != JoinLinkState::Active {
        return Err(closed(open.link.state, &open.organization.name));
    }
    Ok(open)
}

#[allow(clippy::too_many_arguments)]
fn render(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    open: &OpenLink,
    session: Option<&SessionUser>,
    status: StatusCode,
    form_error: Option<&FormError>,
    action_error: Option<String>,
) -> HttpResponse {
    let csrf = crate::web::csrf::csrf_token(req);
    let view = match session {
        None => JoinView::SignedOut(SignInForms {
            action: format!("/join/{token}"),
            hidden: Vec::new(),
            csrf_token: csrf.clone(),
            email: String::new(),
            error: form_error.map(|e| e.message.clone()),
            reset_href: crate::web::hosted::reset_href(None),
        }),
        Some(user) => JoinView::SignedIn(user.email.clone(), csrf.clone()),
    };
    let page = JoinPage {
        token: token.to_owned(),
        organization_name: open.organization.name.clone(),
        organization_logo_url: open.organization.logo_url.clone(),
        role_label: open.link.role.label(),
        member_count: open.organization.member_count,
        expires_at_iso: open.link.expires_at.to_rfc3339(),
        expires_at_human: open.link.expires_at.to_human(),
        view,
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

/// `GET /join/{token}`
#[utoipa::path(
    get, path = "/join/{token}", operation_id = "joinPage", tag = "Pages",
    params(("token" = String, Path, description = "The join link's token, from its URL")),
    responses(
        (status = 200, description = "The organization, with sign-in or a Join button", content_type = "text/html"),
        (status = 404, description = "Unknown link", content_type = "text/html"),
        (status = 410, description = "Full, expired or revoked", content_type = "text/html"),
        (status = 500, response = crate::web::error::ErrorPage)
    )
)]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let open = match open_link(&state, &path).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    let session = sign_in::current_session(&req, &state).await;
    render(
        &req,
        &state,
        &path,
        &open,
        session.as_ref(),
        StatusCode::OK,
        None,
        None,
    )
}

/// `POST /join/{token}`: the sign-in or sign-up form.
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
    let open = match open_link(&state, &path).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    let context = sign_in::form_context(&req, &state, None, None);
    match sign_in::submit(&state, &form, &context).await {
        Ok(FormOutcome::SignedIn(person)) => {
            let mut response = crate::web::render::see_other(&format!("/join/{}", path.as_str()));
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
            &path,
            &open,
            None,
            error.status,
            Some(&error),
            None,
        ),
    }
}

/// `POST /join/{token}/accept`: the signed-in person joins.
pub async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = crate::web::csrf::genuine_form::<serde::de::IgnoredAny>(&req, &body) {
        return *page;
    }
    if !plausible(&path) {
        return not_found();
    }
    let Some(session) = sign_in::current_session(&req, &state).await else {
        return crate::web::render::see_other(&format!("/join/{}", path.as_str()));
    };
    let token = path.to_string();
    let user_id = session.user_id;
    let now = state.clock.now();
    let request_id = crate::http::request_log::request_id(&req);
    let joined = state
        .db
        .write(move |tx| services::join_links::join(tx, &token, user_id, request_id, now))
        .await;
    match joined {
        Ok(organization) => match &state.settings.invitations.accept_redirect_url {
            Some(target) => match url::Url::parse(target) {
                Ok(mut url) => {
                    url.query_pairs_mut()
                        .append_pair("organization", &organization.to_string());
                    crate::web::render::see_other(url.as_str())
                }
                Err(error) => internal(error),
            },
            None => message(StatusCode::OK, "Welcome", "You joined the organization."),
        },
        Err(ServiceError::NotFound(_)) => not_found(),
        Err(ServiceError::Gone { detail, .. }) => {
            message(StatusCode::GONE, "This link can no longer be used", detail)
        }
        Err(ServiceError::Forbidden { detail, .. }) => match open_link(&state, &path).await {
            Ok(open) => render(
                &req,
                &state,
                &path,
                &open,
                Some(&session),
                StatusCode::FORBIDDEN,
                None,
                Some(detail),
            ),
            Err(page) => page,
        },
        Err(ServiceError::Conflict { detail, .. }) => {
            message(StatusCode::CONFLICT, "You are already a member", detail)
        }
        Err(other) => internal(other),
    }
}
