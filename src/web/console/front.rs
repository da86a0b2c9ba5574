//! The console's front door, `/admin`: sign-in, the organization picker,
//! the page for someone who administers nothing, and sign-out.

use super::Notice;
use crate::services::accounts::{FormOutcome, Resume};
use crate::services::console::{self as gate, Lobby};
use crate::state::AppState;
use crate::web::sign_in::{self, Credentials, FormError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use std::time::Duration;

pub struct PickedOrganization {
    pub href: String,
    pub name: String,
    pub logo_url: Option<String>,
}

pub enum FrontView {
    SignIn {
        email: String,
        error: Option<String>,
        reset_href: String,
    },
    /// Signed in with an address not proven yet.
    Unverified { email: String },
    /// Signed in, administering none.
    NotAdmin { email: String },
    Picker {
        email: String,
        organizations: Vec<PickedOrganization>,
    },
}

#[derive(Template)]
#[template(path = "console/front.html")]
pub struct FrontPage {
    pub view: FrontView,
    pub notice: Option<Notice>,
    pub csrf_token: String,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    view: FrontView,
    notice: Option<Notice>,
    retry_after: Option<Duration>,
) -> HttpResponse {
    let csrf_token = crate::web::csrf::csrf_token(req);
    let page = FrontPage {
        view,
        notice,
        csrf_token,
    };
    crate::web::csrf::form_page(
        status,
        &page,
        &[],
        &page.csrf_token,
        sign_in::secure(state),
        retry_after,
    )
}

fn sign_in_view(email: String, error: Option<String>) -> FrontView {
    FrontView::SignIn {
        email,
        error,
        reset_href: crate::web::hosted::reset_href(Some(&Resume::Console)),
    }
}

/// The front door as this browser's person sees it, with `notice` above
/// it. `status` is the answer's unless the person may not enter (403).
pub async fn front_door(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    notice: Option<Notice>,
) -> HttpResponse {
    let token = super::session_token(req, state);
    let now = state.clock.now();
    let lobby = state
        .db
        .read(move |conn| gate::lobby(conn, token.as_deref(), now))
        .await;
    let lobby = match lobby {
        Ok(lobby) => lobby,
        Err(error) => return super::error_response(req, state, super::ConsoleError::Failed(error)),
    };
    match lobby {
        Lobby::SignedOut => render(
            req,
            state,
            status,
            sign_in_view(String::new(), None),
            notice,
            None,
        ),
        Lobby::Unverified { email } => render(
            req,
            state,
            StatusCode::FORBIDDEN,
            FrontView::Unverified { email },
            notice,
            None,
        ),
        Lobby::SignedIn {
            email,
            organizations,
        } => {
            if organizations.is_empty() {
                return render(
                    req,
                    state,
                    StatusCode::FORBIDDEN,
                    FrontView::NotAdmin { email },
                    notice,
                    None,
                );
            }
            // One organization and nothing to say: straight to it.
            if let [only] = organizations.as_slice()
                && notice.is_none()
                && status == StatusCode::OK
            {
                return crate::web::render::see_other(&format!(
                    "/admin/orgs/{}",
                    only.organization_uuid
                ));
            }
            let organizations = organizations
                .into_iter()
                .map(|membership| PickedOrganization {
                    href: format!("/admin/orgs/{}", membership.organization_uuid),
                    name: membership.organization_name,
                    logo_url: membership.organization_logo_url,
                })
                .collect();
            render(
                req,
                state,
                status,
                FrontView::Picker {
                    email,
                    organizations,
                },
                notice,
                None,
            )
        }
    }
}

/// `GET /admin`
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    front_door(&req, &state, StatusCode::OK, Notice::requested(&req)).await
}

/// `POST /admin`: the sign-in form.
pub async fn sign_in(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: Credentials = match super::read_form(&req, &state, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    // The console has no sign-up: admins are made by their organization.
    let form = Credentials {
        intent: Some("signin".into()),
        ..form
    };
    let context = sign_in::form_context(&req, &state, Some(Resume::Console), None);
    match sign_in::submit(&state, &form, &context).await {
        Ok(FormOutcome::SignedIn(person)) => {
            let mut response = crate::web::render::see_other("/admin");
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
        Err(FormError {
            status,
            message,
            retry_after,
        }) => render(
            &req,
            &state,
            status,
            sign_in_view(form.email().to_owned(), Some(message)),
            None,
            retry_after,
        ),
    }
}

/// `POST /admin/sign-out`: ends the session (on the hosted pages too: it
/// is the same one).
pub async fn sign_out(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    if let Some(token) = super::session_token(&req, &state)
        && let Err(error) = state
            .db
            .write(move |tx| crate::services::sessions::end(tx, &token))
            .await
    {
        return super::error_response(&req, &state, super::ConsoleError::Failed(error));
    }
    let mut response = crate::web::render::see_other("/admin?notice=signed-out");
    let _ = response.add_cookie(&sign_in::removal(sign_in::session_cookie("", &state)));
    response
}
