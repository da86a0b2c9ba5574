//! The hosted join-link page, `/join/{token}`: it shows the organization
//! and lets a signed-in person with a verified email join. Signing in and
//! up use the same forms and accounts service as the invitation page.

use crate::domain::join_link::JoinLinkState;
use crate::services::join_links::OpenLink;
use crate::services::sessions::SessionUser;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::hosted::SignInForms;
use crate::web::render::{MessagePage, Redirect};
use crate::web::sign_in::{self, Browser, Credentials, FormError, Onward};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub enum JoinView {
    SignedOut(SignInForms),
    /// The signed-in person's email and the CSRF token.
    SignedIn(String, String),
    /// Signed in as someone who is a member already: their email.
    AlreadyMember(String),
}

#[derive(Template)]
#[template(path = "join.html")]
pub struct JoinPage {
    token: String,
    organization_name: String,
    organization_logo_url: Option<String>,
    role_label: String,
    member_count: i64,
    expires_at_iso: String,
    expires_at_human: String,
    view: JoinView,
    error: Option<String>,
}

fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Link not found",
        "This join link is not valid. Check that you copied the whole link.",
    )
}

fn closed(state: JoinLinkState, org: &str) -> PageError {
    let text = match state {
        JoinLinkState::Full => {
            format!("The link to join {org} has been used as often as it allows.")
        }
        JoinLinkState::Expired => format!("The link to join {org} has expired."),
        _ => format!("The link to join {org} was withdrawn."),
    };
    PageError::new(StatusCode::GONE, "This link can no longer be used", text)
}

/// Tokens are base62; anything else finds nothing without a lookup.
fn plausible(token: &str) -> Result<&str, PageError> {
    let plausible =
        !token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric());
    plausible.then_some(token).ok_or_else(not_found)
}

/// The link behind a token if it is active, as `viewer` sees it; otherwise
/// the page to show.
async fn open_link(
    state: &AppState,
    token: &str,
    viewer: Option<&SessionUser>,
) -> Result<OpenLink, PageError> {
    let token = plausible(token)?.to_owned();
    let now = state.clock.now();
    let viewer = viewer.map(|user| user.user_id);
    let open = state
        .db
        .read(move |conn| services::join_links::open_for(conn, &token, viewer, now))
        .await
        .map_err(|error| match error {
            ServiceError::NotFound(_) => not_found(),
            other => PageError::internal(other),
        })?;
    if open.link.state != JoinLinkState::Active {
        return Err(closed(open.link.state, &open.organization.name));
    }
    Ok(open)
}

/// The answer to joining through the link.
async fn joined(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    session: &SessionUser,
    joined: Result<services::console::Joined, ServiceError>,
) -> Result<HttpResponse, HtmlError> {
    let message = |status, heading: &str, text: String| PageError::new(status, heading, text);
    match joined {
        Ok(now_member) => {
            let welcome = MessagePage::new("Welcome", "You joined the organization.");
            Ok(crate::web::hosted::joined(state, now_member, welcome)?)
        }
        Err(ServiceError::NotFound(_)) => Err(not_found().into()),
        Err(ServiceError::Gone { detail, .. }) => {
            Err(message(StatusCode::GONE, "This link can no longer be used", detail).into())
        }
        // Not allowed to join (an address not proven yet): the page again, saying why.
        Err(ServiceError::Forbidden { detail, .. }) => {
            let open = open_link(state, token, Some(session)).await?;
            let status = StatusCode::FORBIDDEN;
            Err(render(
                req,
                state,
                token,
                &open,
                Some(session),
                status,
                None,
                Some(detail),
            )
            .into())
        }
        Err(ServiceError::Conflict { detail, .. }) => {
            Err(message(StatusCode::CONFLICT, "You are already a member", detail).into())
        }
        Err(other) => Err(PageError::internal(other).into()),
    }
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
) -> FormPage {
    let csrf = crate::web::csrf::csrf_token(req);
    let view = match session {
        None => JoinView::SignedOut(SignInForms {
            action: format!("/join/{token}"),
            hidden: Vec::new(),
            csrf_token: csrf.clone(),
            email: String::new(),
            error: form_error
                .map(|e| e.message.clone())
                .or_else(|| crate::web::sign_in::declined_notice(req)),
            reset_href: crate::web::hosted::reset_href(None),
            providers: crate::web::sign_in::provider_buttons(state, &format!("/join/{token}")),
            return_to: format!("/join/{token}"),
            passkeys: state.accounts.passkeys_offered(),
        }),
        Some(user) if open.viewer_is_member => JoinView::AlreadyMember(user.email.clone()),
        Some(user) => JoinView::SignedIn(user.email.clone(), csrf.clone()),
    };
    let page = JoinPage {
        token: token.to_owned(),
        organization_name: open.organization.name.clone(),
        organization_logo_url: open.organization.logo_url.clone(),
        role_label: open.role_name.clone(),
        member_count: open.organization.member_count,
        expires_at_iso: open.link.expires_at.to_rfc3339(),
        expires_at_human: open.link.expires_at.to_human(),
        view,
        error: action_error,
    };
    FormPage::new(status, &page, &csrf, crate::web::render::secure(state))
        .retry_after(form_error.and_then(|e| e.retry_after))
        .scripts(crate::web::sign_in::page_scripts(state))
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
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let session = browser.signed_in(&state).await;
    let open = open_link(&state, &path, session.as_ref()).await?;
    let page = render(
        &req,
        &state,
        &path,
        &open,
        session.as_ref(),
        StatusCode::OK,
        None,
        None,
    );
    Ok(page.response())
}

/// `POST /join/{token}`: the sign-in or sign-up form. Signed in, the
/// browser goes back to the link's page to join.
pub async fn sign_in(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    GenuineForm(form): GenuineForm<Credentials>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let open = open_link(&state, &path, None).await?;
    let context = browser.form_context(None, None);
    let onward = Onward::Page(format!("/join/{}", path.as_str()));
    let again = |error: &FormError| {
        render(
            &req,
            &state,
            &path,
            &open,
            None,
            error.status,
            Some(error),
            None,
        )
    };
    sign_in::finish(&state, &form, &context, onward, again).await
}

/// `POST /join/{token}/accept`: the signed-in person joins. Signed out,
/// the browser goes back to the link's page to sign in.
pub async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let token = plausible(&path)?.to_owned();
    let session = browser
        .signed_in(&state)
        .await
        .ok_or_else(|| Redirect::to(format!("/join/{token}")))?;
    let user_id = session.user_id;
    let now = state.clock.now();
    let request_id = browser.request_id();
    let link = token.clone();
    let answer = state
        .db
        .write(move |tx| services::join_links::join(tx, &link, user_id, request_id, now))
        .await;
    joined(&req, &state, &token, &session, answer).await
}
